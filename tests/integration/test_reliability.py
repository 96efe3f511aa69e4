"""Reliability: a killed, faulted, raced or misconfigured apply loses nothing.

Every write step of ecertctl is a numbered fault point (src/util/fs.cc):
ECERTCTL_FAULT_TRACE=FILE lists them ("N step path"), ECERTCTL_FAULT_AT=N with
ECERTCTL_FAULT=kill|ENOSPC|EACCES|EIO kills the process there (SIGKILL) or
fails that step with the errno. The scenario is a 3-site apply against a real
Apache sandbox: www.a.test has nothing yet (key + CSR get created, then it is
pending); www.b.test and www.c.test have their certificates, so the shared
chain file and the vhost file get written, and Apache is restarted.

Set RELIABILITY_COUNTS=FILE to have the tests append JSON lines with what they
tried (scripts/reliability-report reads them).
"""

from __future__ import annotations

import json
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

    def final_tree(self) -> dict[str, object]:
        """The tree after one clean apply from the pristine state."""
        self.restore()
        cp = self.apply()
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

    def assert_old_or_new(self, final: dict, ctx: str, allow_tmp: bool) -> None:
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
            allowed = [v for v in (self.pristine.get(rel), final.get(rel)) if v is not None]
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
                self.assertIn(path, out, f"{ctx}: the message does not name the file\n{out}")
                self.assertIn(ERRNO_TEXT[err], out, f"{ctx}: no clear reason\n{out}")
                self.assertNotIn(PASSPHRASE, out)
                self.assert_keys_kept(ctx)
                self.assert_new_key_whole(ctx)
                self.assert_old_or_new(final, ctx, allow_tmp=False)
                if path in private:
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


if __name__ == "__main__":
    unittest.main()
