"""Reliability: a killed, faulted, raced or misconfigured apply loses nothing.

These tests run the test build of ecertctl (tests/faults/main.cc), whose
write steps are numbered (src/util/fault_fs.h, EnvWriteSteps):
ECERTCTL_FAULT_TRACE=FILE lists them ("N step path"), ECERTCTL_FAULT_AT=N with
ECERTCTL_FAULT=kill|ENOSPC|EACCES|EIO kills the process there (SIGKILL) or
fails that step with the errno. The shipped binary has no such switch. The scenario is a 3-site apply against a real
Apache sandbox: www.a.test has nothing yet (key + CSR get created, then it is
pending); www.b.test and www.c.test have their certificates, so the shared
chain file and the vhost file get written, and Apache is restarted.

Set RELIABILITY_COUNTS=FILE to have the tests append JSON lines with what they
tried (scripts/reliability-report reads them).
"""

from __future__ import annotations

import json
import re
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import threading
import time
import unittest
from pathlib import Path

import harness as h
from e2e import PASSPHRASE, E2ECase

TMP_MARK = ".ecertctl-tmp."
ERRNO_TEXT = {"ENOSPC": "No space left on device", "EACCES": "Permission denied", "EIO": "Input/output error"}


def count(kind: str, **data) -> None:
    path = os.environ.get("RELIABILITY_COUNTS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"kind": kind, **data}) + "\n")


def tree(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, object]:
    """Relative path -> bytes (regular files) or ("link", target)."""
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        dirnames[:] = [n for n in dirnames if d / n not in skip]
        for n in filenames + [n for n in dirnames if (d / n).is_symlink()]:
            p = d / n
            rel = str(p.relative_to(root))
            out[rel] = ("link", os.readlink(p)) if p.is_symlink() else p.read_bytes()
    return out


class Scenario(E2ECase):
    """Builds the 3-site scenario once per test; restore() puts it back."""

    def ecertctl_binary(self) -> str:
        return h.ecertctl_faults_path()

    def build(self, restart_style: str = "graceful", verify: bool = False, **apache) -> None:
        sb = self.sb = self.sandbox("simple")
        for n in ("www.a.test", "www.b.test", "www.c.test"):
            sb.add_vhost(n)
        self.sites = [self.site(sb, n, stem=n.split(".")[1]) for n in ("www.a.test", "www.b.test", "www.c.test")]
        for s in self.sites:
            if not verify:
                s["vhost"].pop("verify")
        self.m = self.manifest(sb, self.sites, restart=sb.restart_argv_list(restart_style), **apache)
        # b and c: key + CSR now, certificates from the CA; a: nothing yet.
        cp = self.ecertctl("apply", "-f", self.m, "--site", "www.b.test", "--site", "www.c.test", env=self.env(sb))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.issue(self.sites[1])
        self.issue(self.sites[2])
        self.keys = [Path(s["key"]) for s in self.sites]
        self.csrs = [self.path_in_manifest(s["csr"]) for s in self.sites]
        self.apache_files = [sb.ssl_conf_path, sb.config_path, self.path_in_manifest(self.sites[1]["chain"])] + [
            self.path_in_manifest(s["certificate"]) for s in self.sites] + self.keys[1:]
        self.skip = (sb.log_dir,)
        self.pristine_dir = Path(tempfile.mkdtemp(prefix="ecert-pristine-"))
        self.addCleanup(shutil.rmtree, self.pristine_dir, True)
        self.pristine_root = self.pristine_dir / "t"
        shutil.copytree(self.tmp, self.pristine_root, symlinks=True)
        self.pristine = tree(self.tmp, self.skip)

    def restore(self) -> None:
        self.sb.stop()
        shutil.rmtree(self.tmp)
        shutil.copytree(self.pristine_root, self.tmp, symlinks=True)

    def apply(self, *extra, timeout: float = 120, **env) -> subprocess.CompletedProcess:
        return self.ecertctl("apply", "-f", self.m, *extra, env=self.env(self.sb, **env), timeout=timeout)

    def final_tree(self, *args) -> dict[str, object]:
        """The tree after one clean apply from the pristine state."""
        self.restore()
        cp = self.apply(*args)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        final = tree(self.tmp, self.skip)
        self.restore()
        return final

    def trace(self) -> list[tuple[int, str, str]]:
        self.restore()
        t = self.tmp.parent / f"{self.tmp.name}.trace"
        self.addCleanup(lambda: t.unlink(missing_ok=True))
        cp = self.apply(ECERTCTL_FAULT_TRACE=str(t))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        points = []
        for line in t.read_text().splitlines():
            n, step, path = line.split(" ", 2)
            points.append((int(n), step, path))
        self.assertGreater(len(points), 10, points)
        self.restore()
        return points

    def rel(self, path: Path | str) -> str:
        return str(Path(path).relative_to(self.tmp))

    # checks ----------------------------------------------------------------

    def assert_keys_kept(self, ctx: str) -> None:
        for k in self.keys[1:]:
            self.assertEqual(k.read_bytes(), self.pristine[self.rel(k)], f"{ctx}: existing key {k} changed or vanished")
        for rel, data in self.pristine.items():
            if rel.endswith(".key"):
                p = self.tmp / rel
                self.assertTrue(p.exists(), f"{ctx}: key {rel} vanished")
                self.assertEqual(p.read_bytes(), data, f"{ctx}: key {rel} changed")

    def assert_new_key_whole(self, ctx: str) -> None:
        """www.a.test's key and CSR are random: if present they must be whole."""
        key, csr = self.keys[0], self.csrs[0]
        if key.exists():
            self.assertEqual(key.stat().st_mode & 0o777, 0o600, ctx)
            cp = h.run(["openssl", "pkey", "-in", key, "-passin", "env:P", "-noout"],
                       env={**os.environ, "P": PASSPHRASE})
            self.assertEqual(cp.returncode, 0, f"{ctx}: {key} is not a whole key: {cp.stderr}")
        if csr.exists():
            cp = h.run(["openssl", "req", "-in", csr, "-verify", "-noout"])
            self.assertEqual(cp.returncode, 0, f"{ctx}: {csr} is not a whole CSR: {cp.stderr}")

    def assert_old_or_new(self, final: dict, ctx: str, allow_tmp: bool, partial: dict | None = None) -> None:
        now = tree(self.tmp, self.skip)
        random_files = {self.rel(self.keys[0]), self.rel(self.csrs[0])}
        for rel, data in now.items():
            name = Path(rel).name
            if TMP_MARK in name:
                self.assertTrue(allow_tmp, f"{ctx}: temp file left behind: {rel}")
                if b"PRIVATE KEY" in data:
                    self.assertEqual((self.tmp / rel).stat().st_mode & 0o077, 0, f"{ctx}: temp {rel} readable by others")
                continue
            if rel in random_files:
                continue
            parts = Path(rel).parts
            if parts[:2] == ("state", "backups") and len(parts) > 3:
                original = "/" + str(Path(*parts[3:]))
                self.assertIn(Path(original).is_relative_to(self.tmp), (True,), rel)
                self.assertEqual(data, self.pristine.get(self.rel(original)), f"{ctx}: backup {rel} is not the original")
                continue
            if rel == "state/lock":
                continue
            allowed = [v for v in (self.pristine.get(rel), final.get(rel), (partial or {}).get(rel)) if v is not None]
            if rel == "state/installed.json":  # holds the digest of www.a.test's random key
                data, allowed = self._no_a(data), [self._no_a(v) for v in allowed]
            self.assertTrue(allowed, f"{ctx}: unexpected file {rel}")
            self.assertIn(data, allowed, f"{ctx}: {rel} is neither its old nor its new content")

    @staticmethod
    def _no_a(data: bytes) -> object:
        doc = json.loads(data)
        doc.get("sites", {}).pop("www.a.test", None)
        return doc

    def assert_configtest(self, ctx: str) -> None:
        cp = self.sb.configtest()
        self.assertEqual(cp.returncode, 0, f"{ctx}: configtest fails after the run\n{cp.stdout}{cp.stderr}")

    def assert_converges(self, ctx: str) -> None:
        cp = self.apply()
        self.assertEqual(cp.returncode, 0, f"{ctx}: next apply did not converge\n{cp.stdout}{cp.stderr}")
        cp = self.apply("--format", "json")
        self.assertEqual(cp.returncode, 0, f"{ctx}: apply after convergence\n{cp.stdout}{cp.stderr}")
        report = json.loads(cp.stdout)
        self.assertFalse(report["changed"], f"{ctx}: second apply changed something: {cp.stdout}")
        for s in report["sites"]:
            for r in s["resources"]:
                self.assertIn(r["action"], ("no-op", "pending"), f"{ctx}: {s['name']} {r}")
        leftovers = [str(p) for p in self.tmp.rglob(f"*{TMP_MARK}*")]
        self.assertEqual(leftovers, [], f"{ctx}: temp files left after convergence")
        self.assert_keys_kept(ctx)


class CrashSafetyTest(Scenario, unittest.TestCase):
    def test_kill_at_every_write_step(self):
        self.build()
        points = self.trace()
        final = self.final_tree()
        for n, step, path in points:
            ctx = f"kill at point {n} ({step} {path})"
            with self.subTest(point=n, step=step, path=path):
                self.restore()
                cp = self.apply(ECERTCTL_FAULT_AT=str(n), ECERTCTL_FAULT="kill")
                self.assertEqual(cp.returncode, -signal.SIGKILL, f"{ctx}: {cp.returncode}\n{cp.stdout}{cp.stderr}")
                self.assert_keys_kept(ctx)
                self.assert_new_key_whole(ctx)
                self.assert_old_or_new(final, ctx, allow_tmp=True)
                self.assert_configtest(ctx)
                self.assert_converges(ctx)
            count("kill", point=n, step=step)
        self.sb.stop()


class IOFaultTest(Scenario, unittest.TestCase):
    def test_enospc_eacces_eio_at_write_steps(self):
        self.build()
        points = self.trace()
        final = self.final_tree()
        # The shared chain's fault point is one-shot: www.b.test fails to write
        # it, www.c.test then writes it and converges alone. That state
        # (only a and c applied) is a legitimate outcome too.
        partial = self.final_tree("--site", "www.a.test", "--site", "www.c.test")
        chain = str(self.path_in_manifest(self.sites[1]["chain"]))
        private = {str(self.keys[0]), str(self.csrs[0])}
        runs = [(n, step, path, "ENOSPC") for n, step, path in points]
        for k, (n, step, path) in enumerate(points):  # a spread for the others
            if k % 3 == 0:
                runs.append((n, step, path, "EACCES"))
            if k % 3 == 1 or step == "rename":
                runs.append((n, step, path, "EIO"))
        for n, step, path, err in runs:
            ctx = f"{err} at point {n} ({step} {path})"
            with self.subTest(point=n, step=step, err=err):
                self.restore()
                cp = self.apply(ECERTCTL_FAULT_AT=str(n), ECERTCTL_FAULT=err)
                out = cp.stdout + cp.stderr
                self.assertEqual(cp.returncode, 1, f"{ctx}: rc {cp.returncode}\n{out}")
                # Backup paths carry the run's UTC stamp (and a suffix when a run in the
                # same second took it), which differ from the trace run's.
                self.assertRegex(out, re.sub(r"/backups/\d{8}T\d{6}Z(\\-\d+)?", r"/backups/\\d{8}T\\d{6}Z(?:-\\d+)?",
                                             re.escape(path)),
                                 f"{ctx}: the message does not name the file\n{out}")
                self.assertIn(ERRNO_TEXT[err], out, f"{ctx}: no clear reason\n{out}")
                self.assertNotIn(PASSPHRASE, out)
                self.assert_keys_kept(ctx)
                self.assert_new_key_whole(ctx)
                self.assert_old_or_new(final, ctx, allow_tmp=False, partial=partial if path == chain else None)
                if path == chain:
                    for f in self.apache_files:
                        self.assertEqual(tree(f.parent).get(f.name), partial.get(self.rel(f)), f"{ctx}: {f}")
                elif path in private:
                    # One site's failure does not stop the others.
                    for f in self.apache_files:
                        self.assertEqual(tree(f.parent).get(f.name), final.get(self.rel(f)), f"{ctx}: {f}")
                elif "/state/installed" not in path and not path.endswith("installed.json"):
                    # A failed write of a file Apache reads: all of them as before.
                    for f in self.apache_files:
                        self.assertEqual(tree(f.parent).get(f.name), self.pristine.get(self.rel(f)),
                                         f"{ctx}: {f} is not as before the run\n{out}")
                self.assert_configtest(ctx)
                self.assert_converges(ctx)
            count("fault", point=n, step=step, errno=err)
        self.sb.stop()



def script(path: Path, body: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    path.chmod(0o755)
    return str(path)


class ApacheFaultTest(Scenario, unittest.TestCase):
    """configtest or restart failing or hanging, verify seeing the wrong
    certificate: exit 1, the command's output in the message, and every file
    Apache reads byte-identical to before."""

    def assert_rolled_back(self, cp, ctx: str, *needles: str) -> None:
        out = cp.stdout + cp.stderr
        self.assertEqual(cp.returncode, 1, f"{ctx}: rc {cp.returncode}\n{out}")
        for n in needles:
            self.assertIn(n, out, f"{ctx}: {n!r} not in the output\n{out}")
        self.assertNotIn(PASSPHRASE, out)
        for f in self.apache_files:
            self.assertEqual(tree(f.parent).get(f.name), self.pristine.get(self.rel(f)),
                             f"{ctx}: {f} is not as before the run\n{out}")
        self.assert_keys_kept(ctx)
        self.assertEqual([str(p) for p in self.tmp.rglob(f"*{TMP_MARK}*")], [], ctx)
        count("apache_fault", case=ctx)

    def test_configtest_failing(self):
        bad = script(self.tmp / "bin" / "configtest-fails",
                     'echo "AH00526: Syntax error on line 7: simulated by the test" >&2\nexit 1\n')
        self.build(configtest=[bad])
        cp = self.apply()
        self.assert_rolled_back(cp, "configtest failing", "configtest", "AH00526: Syntax error on line 7: simulated")

    def test_restart_failing(self):
        bad = script(self.tmp / "bin" / "restart-fails", 'echo "restart refused: simulated by the test"\nexit 1\n')
        self.build()
        self.m = self.manifest(self.sb, self.sites, restart=[[bad]])
        cp = self.apply()
        self.assert_rolled_back(cp, "restart failing", "restart", "restart refused: simulated by the test")

    def test_restart_hanging_is_bounded(self):
        hang = script(self.tmp / "bin" / "restart-hangs", 'echo "about to hang"\nexec sleep 600\n')
        self.build()
        self.m = self.manifest(self.sb, self.sites, restart=[[hang]], timeout=2)
        t0 = time.monotonic()
        cp = self.apply(timeout=60)
        took = time.monotonic() - t0
        self.assertLess(took, 12, f"apply took {took:.1f}s with a 2s timeout")
        self.assert_rolled_back(cp, "restart hanging", "did not finish within 2s", "about to hang")
        # No sleep 600 left behind by the killed restart command.
        stray = [p for p in os.listdir("/proc") if p.isdigit() and self._cmdline(p).startswith("sleep\x00600")]
        self.assertEqual(stray, [], "the hanging restart command was not killed")

    @staticmethod
    def _cmdline(pid: str) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
        except OSError:
            return ""

    def test_encrypted_key_with_builtin_passphrase_prompt_is_bounded(self):
        # Stock mod_ssl: SSLPassPhraseDialog builtin, no exec: helper. Apache
        # asks for the passphrase of the new (encrypted) key at start.
        self.build(restart_style="stop-start", timeout=3)
        conf = self.sb.ssl_conf_path
        conf.write_text("\n".join("SSLPassPhraseDialog builtin" if l.startswith("SSLPassPhraseDialog") else l
                                  for l in conf.read_text().split("\n")))
        self.sb.start()  # placeholders are unencrypted: it starts
        self.pristine_root = self.pristine_dir / "t2"
        self.sb.stop()
        shutil.copytree(self.tmp, self.pristine_root, symlinks=True)
        self.pristine = tree(self.tmp, self.skip)
        self.sb.start()
        t0 = time.monotonic()
        cp = self.apply(timeout=120)
        took = time.monotonic() - t0
        self.assertLess(took, 40, f"apply took {took:.1f}s with a 3s timeout per command")
        self.assert_rolled_back(cp, "builtin passphrase prompt", "restart")
        self.assertTrue("did not finish within 3s" in cp.stdout or "failed with exit code" in cp.stdout, cp.stdout)

    def test_verify_sees_another_certificate(self):
        other = self.make_sandbox("simple", name="other")
        other.add_vhost("www.b.test")
        other.add_vhost("www.c.test")
        other.start()
        self.build(verify=True)
        for s in self.sites:
            s["vhost"]["verify"] = f"127.0.0.1:{other.port}"
        self.m = self.manifest(self.sb, self.sites, restart=self.sb.restart_argv_list("graceful"))
        self.sb.start()
        cp = self.apply(timeout=180)
        self.assert_rolled_back(cp, "verify sees another certificate", "verify failed", f"127.0.0.1:{other.port}")


class ConcurrencyTest(Scenario, unittest.TestCase):
    def test_second_apply_waits_or_names_the_holder_and_plan_status_take_no_lock(self):
        started = self.tmp.parent / f"{self.tmp.name}.started"
        self.addCleanup(lambda: started.unlink(missing_ok=True))
        self.build()
        slow = script(self.tmp / "bin" / "slow-configtest",
                      f'touch "{started}"\nsleep 4\nexec {" ".join(self.sb.configtest_argv())}\n')
        self.m = self.manifest(self.sb, self.sites, configtest=[slow])
        self.pristine_root = self.pristine_dir / "t2"
        shutil.copytree(self.tmp, self.pristine_root, symlinks=True)
        first = subprocess.Popen([self.ecertctl_binary(), "apply", "-f", str(self.m)], env=self.env(self.sb),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while not started.exists():
                self.assertIsNone(first.poll(), "first apply ended before its configtest")
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)
            held = tree(self.tmp, self.skip)
            trace = self.tmp.parent / f"{self.tmp.name}.trace2"
            self.addCleanup(lambda: trace.unlink(missing_ok=True))
            # A second apply that will not wait: refused, naming the holder, writing nothing.
            t0 = time.monotonic()
            cp = self.apply("--lock-wait", "0", ECERTCTL_FAULT_TRACE=str(trace))
            self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
            self.assertIn(f"pid {first.pid}", cp.stdout + cp.stderr)
            self.assertLess(time.monotonic() - t0, 3)
            self.assertFalse(trace.exists() and trace.read_text(), f"the refused apply wrote: {trace.read_text() if trace.exists() else ''}")
            # plan and status: immediate, no lock, nothing written.
            for cmd in ("plan", "status"):
                t0 = time.monotonic()
                cp = self.ecertctl(cmd, "-f", self.m, env=self.env(self.sb, ECERTCTL_FAULT_TRACE=str(trace)))
                self.assertIn(cp.returncode, (0, 1, 2), cp.stdout + cp.stderr)
                self.assertNotIn("lock", (cp.stdout + cp.stderr).lower())
                self.assertLess(time.monotonic() - t0, 3.5, f"{cmd} waited")
                self.assertFalse(trace.exists(), f"{cmd} hit a write step")
            self.assertEqual(tree(self.tmp, self.skip), held, "plan/status/refused apply changed the tree")
            self.assertIsNone(first.poll(), "the first apply finished too early for this test to mean anything")
            # A third apply that waits: it gets the lock after the first and finds nothing to do.
            cp = self.apply("--lock-wait", "60", "--format", "json")
            out1, _ = first.communicate(timeout=60)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
        self.assertEqual(first.returncode, 0, out1)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertFalse(json.loads(cp.stdout)["changed"], cp.stdout)
        count("concurrency", case="apply/apply, plan, status under a held lock")


if __name__ == "__main__":
    unittest.main()
