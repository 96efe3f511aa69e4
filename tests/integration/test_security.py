"""Security: secrets never leak (output, child argv, files readable by
others), restrictive modes, untrusted passphrase files and planted symlinks
are refused. Real Apache sandbox, test CA."""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import stat
import subprocess
import textwrap
import threading
import time
import unittest
from pathlib import Path

import harness as h
from e2e import PASSPHRASE, E2ECase

TMP_MARK = ".ecertctl-tmp."


def key_needles(key: Path) -> list[bytes]:
    """Distinctive pieces of a PEM key: its base64 body lines."""
    lines = [l for l in key.read_bytes().splitlines() if l and not l.startswith(b"-----")]
    return [l for l in lines if len(l) >= 40]


class ArgvSampler(threading.Thread):
    """Samples every process's argv while a command runs."""

    def __init__(self):
        super().__init__(daemon=True)
        self.seen: set[bytes] = set()
        self.stop_flag = threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            for p in os.listdir("/proc"):
                if p.isdigit():
                    try:
                        with open(f"/proc/{p}/cmdline", "rb") as f:
                            self.seen.add(f.read())
                    except OSError:
                        pass
            time.sleep(0.002)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.join()


class SecretsTest(E2ECase, unittest.TestCase):
    def _argv_logger(self, name: str, real: list[str]) -> list[str]:
        log = self.tmp / "argv.log"
        p = self.tmp / "bin" / name
        p.parent.mkdir(exist_ok=True)
        p.write_text("#!/bin/sh\n" f'printf "%s\\n" "$0 $*" >> "{log}"\n' + "exec " + " ".join(f"'{a}'" for a in real) + ' "$@"\n')
        p.chmod(0o755)
        return [str(p)]

    def test_passphrase_and_key_bytes_never_leak(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.a.test")
        sb.add_vhost("www.b.test")
        sb.start()
        a = self.site(sb, "www.a.test", stem="a", key=str(self.tmp / "keys" / "new" / "a.key"))
        b = self.site(sb, "www.b.test", stem="b")
        m = self.manifest(sb, [a, b], configtest=self._argv_logger("configtest", sb.configtest_argv()),
                          restart=[self._argv_logger("restart", sb.restart_argv_list()[0])])
        outputs: list[str] = []
        with ArgvSampler() as sampler:
            for args in (("apply", "-f", m), ("plan", "-f", m)):
                cp = self.ecertctl(*args, env=self.env(sb))
                self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
                outputs.append(cp.stdout + cp.stderr)
            self.issue(a)
            self.issue(b)
            for args in (("plan", "-f", m, "--format", "json"), ("apply", "-f", m, "--format", "json"),
                         ("apply", "-f", m), ("status", "-f", m), ("status", "-f", m, "--format", "prometheus"),
                         ("csr", "-f", m, "--site", "www.a.test"), ("rotate", "-f", m, "--site", "www.b.test"),
                         ("apply", "-f", m, "--format", "ansible"), ("validate", "-f", m)):
                cp = self.ecertctl(*args, env=self.env(sb))
                self.assertIn(cp.returncode, (0,), f"{args}\n{cp.stdout}{cp.stderr}")
                outputs.append(cp.stdout + cp.stderr)
        self.assertTrue((self.tmp / "argv.log").read_text().count("restart") >= 1, "restart was never run")

        keys = [Path(a["key"]), Path(b["key"]), Path(b["key"] + ".new")]
        needles = [PASSPHRASE.encode()] + [n for k in keys for n in key_needles(k)]
        self.assertGreater(len(needles), 30)
        # 1. No output.
        for out in outputs:
            for n in needles:
                self.assertNotIn(n.decode(), out)
        # 2. No child argv (sampled every few ms during every run, and logged by the wrappers).
        argvs = b"\n".join(sampler.seen) + (self.tmp / "argv.log").read_bytes()
        for n in needles:
            self.assertNotIn(n, argvs, "a secret appeared in a process's argv")
        # 3. No file readable by others: every file holding a secret is 0600, not a temp.
        holders = []
        for dirpath, dirnames, filenames in os.walk(self.tmp):
            for name in filenames:
                p = Path(dirpath) / name
                if p.is_symlink() or p == sb.passphrase_file:
                    continue
                data = p.read_bytes()
                if any(n in data for n in needles):
                    holders.append(p)
                    self.assertNotIn(TMP_MARK, name, f"temp file with a secret left behind: {p}")
                    self.assertEqual(p.stat().st_mode & 0o777, 0o600, f"{p} holds a secret with mode {oct(p.stat().st_mode)}")
        self.assertIn(keys[0], holders)
        # Key files 0600; the key directories ecertctl created, 0700.
        for k in keys:
            self.assertEqual(k.stat().st_mode & 0o777, 0o600, k)
        for d in (self.tmp / "keys", self.tmp / "keys" / "new"):
            self.assertEqual(d.stat().st_mode & 0o777, 0o700, f"{d} created with {oct(d.stat().st_mode & 0o777)}")

    def test_passphrase_file_readable_by_others_is_refused(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.a.test")
        a = self.site(sb, "www.a.test", stem="a")
        m = self.manifest(sb, [a])
        text = m.read_text().replace('passphrase:\n      env: "ECERT_KEY_PASSPHRASE"', "")
        pf = self.tmp / "secret" / "pass"
        pf.parent.mkdir()
        pf.write_text(PASSPHRASE + "\n")
        doc = {"file": str(pf)}
        import re as _re
        text = _re.sub(r'passphrase:\n(\s+)env: "ECERT_KEY_PASSPHRASE"', lambda mm: f'passphrase:\n{mm.group(1)}file: "{pf}"', m.read_text())
        self.assertIn(str(pf), text)
        m.write_text(text)
        for mode in (0o640, 0o604, 0o644, 0o660):
            with self.subTest(mode=oct(mode)):
                pf.chmod(mode)
                cp = self.ecertctl("apply", "-f", m, env=self.env(sb))
                out = cp.stdout + cp.stderr
                self.assertEqual(cp.returncode, 1, out)
                self.assertIn(str(pf), out)
                self.assertNotIn(PASSPHRASE, out)
                self.assertFalse(Path(a["key"]).exists(), "a key was written with an untrusted passphrase file")
        pf.chmod(0o600)
        cp = self.ecertctl("apply", "-f", m, env=self.env(sb))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertTrue(Path(a["key"]).exists())

    def test_symlink_planted_in_a_world_writable_directory_is_refused(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.a.test")
        sb.start()
        pub = self.tmp / "pub"
        pub.mkdir()
        pub.chmod(0o1777)
        victim = self.tmp / "etc-victim"
        victim.write_text("root:x:0:0:do not touch\n")
        chain = pub / "hkpostca.crt"
        os.symlink(victim, chain)
        a = self.site(sb, "www.a.test", stem="a", chain=str(chain))
        m = self.manifest(sb, [a])
        cp = self.ecertctl("apply", "-f", m, env=self.env(sb))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.issue(a)
        before_conf = sb.ssl_conf_path.read_bytes()
        cp = self.ecertctl("apply", "-f", m, env=self.env(sb))
        out = cp.stdout + cp.stderr
        self.assertEqual(cp.returncode, 1, out)
        self.assertIn(str(chain), out)
        self.assertIn("symlink", out)
        self.assertEqual(victim.read_text(), "root:x:0:0:do not touch\n", "written through the planted symlink")
        self.assertTrue(chain.is_symlink())
        self.assertEqual(sb.ssl_conf_path.read_bytes(), before_conf)
        self.assertEqual([p.name for p in pub.iterdir()], ["hkpostca.crt"])
        self.assertEqual([p for p in self.tmp.rglob(f"*{TMP_MARK}*")], [])


class ChildEnvironmentTest(E2ECase, unittest.TestCase):
    """Commands ecertctl runs get PATH, LANG and LC_* only, and the passphrase
    variable is gone from ecertctl's own environment once the manifest is read."""

    CANARY = "canary-8d1f0c"

    def _env_dumper(self, name: str, real: list[str]) -> list[str]:
        """A wrapper that records its own environment and its parent's
        (ecertctl's /proc/<pid>/environ), then runs the real command."""
        p = self.tmp / "bin" / name
        p.parent.mkdir(exist_ok=True)
        p.write_text("#!/bin/sh\n"
                     f'env > "{self.tmp}/{name}.env"\n'
                     f'cat /proc/$PPID/environ > "{self.tmp}/{name}.parent-environ"\n'
                     "exec " + " ".join(f"'{a}'" for a in real) + ' "$@"\n')
        p.chmod(0o755)
        return [str(p)]

    def test_configtest_and_restart_see_neither_the_passphrase_nor_other_variables(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.a.test")
        sb.start()
        a = self.site(sb, "www.a.test", stem="a")
        m = self.manifest(sb, [a], configtest=self._env_dumper("configtest", sb.configtest_argv()),
                          restart=[self._env_dumper("restart", sb.restart_argv_list()[0])])
        env = self.env(sb, ECERT_TEST_CANARY=self.CANARY, LANG="C.UTF-8", LC_ALL="C.UTF-8")
        cp = self.ecertctl("apply", "-f", m, env=env)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.issue(a)
        cp = self.ecertctl("apply", "-f", m, env=env)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assert_serves(sb, "www.a.test", self.path_in_manifest(a["certificate"]), "standard")
        for name in ("configtest", "restart"):
            with self.subTest(command=name):
                child = (self.tmp / f"{name}.env").read_text()
                names = {line.split("=", 1)[0] for line in child.splitlines() if "=" in line}
                self.assertIn("PATH", names)
                self.assertIn("LANG=C.UTF-8", child)
                self.assertIn("LC_ALL=C.UTF-8", child)
                self.assertNotIn(PASSPHRASE, child)
                self.assertNotIn("ECERT_KEY_PASSPHRASE", child)
                self.assertNotIn(self.CANARY, child)
                self.assertNotIn("ECERTCTL_STATE_DIR", names)
                # ecertctl's own environment block no longer holds the passphrase either.
                parent = (self.tmp / f"{name}.parent-environ").read_bytes()
                self.assertIn(self.CANARY.encode(), parent, "not ecertctl's environment")
                self.assertNotIn(PASSPHRASE.encode(), parent)

    def test_apache_config_cannot_expand_the_passphrase_variable(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.a.test")
        with open(sb.config_path, "a") as f:
            f.write("\nIncludeOptional /nonexistent/${ECERT_KEY_PASSPHRASE}/*.conf\n"
                    "Include /nonexistent/${ECERT_KEY_PASSPHRASE}.conf\n")
        a = self.site(sb, "www.a.test", stem="a")
        m = self.manifest(sb, [a])
        # Unresolved, as for Apache without the variable: the include is skipped.
        cp = self.ecertctl("plan", "-f", m, env=self.env(sb))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        for args in (("plan", "-f", m), ("plan", "-f", m, "--format", "json"), ("status", "-f", m),
                     ("apply", "-f", m)):
            with self.subTest(args=args):
                cp = self.ecertctl(*args, env=self.env(sb))
                self.assertNotIn(PASSPHRASE, cp.stdout + cp.stderr)


class NonRegularFileTest(E2ECase, unittest.TestCase):
    def test_fifo_at_a_certificate_path_is_an_error_on_that_site_not_a_hang(self):
        sb, a, b, m = self.two_sites()
        cp = self.ecertctl("apply", "-f", m, env=self.env(sb))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.issue(b)
        fifo = self.path_in_manifest(a["certificate"])
        os.mkfifo(fifo)
        for args in (("apply", "-f", m), ("plan", "-f", m), ("status", "-f", m)):
            with self.subTest(args=args):
                start = time.monotonic()
                # Before the fix this waited for a writer forever (holding the lock).
                cp = self.ecertctl(*args, env=self.env(sb), timeout=60)
                out = cp.stdout + cp.stderr
                self.assertLess(time.monotonic() - start, 30)
                self.assertEqual(cp.returncode, 1, out)
                line = next((l for l in out.splitlines() if str(fifo) in l and "FIFO" in l), None)
                self.assertIsNotNone(line, f"no line names {fifo} as a FIFO:\n{out}")
        # The other site converged all the same.
        self.assert_serves(sb, "www.b.test", self.path_in_manifest(b["certificate"]), "standard")
        self.assertTrue(stat.S_ISFIFO(os.lstat(fifo).st_mode))


class KeyModeTest(E2ECase, unittest.TestCase):
    def test_a_key_others_can_read_is_an_error_naming_the_chmod_and_is_left_as_it_is(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.a.test")
        a = self.site(sb, "www.a.test", stem="a")
        m = self.manifest(sb, [a])
        self.assertEqual(self.ecertctl("apply", "-f", m, env=self.env(sb)).returncode, 0)
        key = Path(a["key"]) if Path(a["key"]).is_absolute() else self.path_in_manifest(a["key"])
        before = key.read_bytes()
        key.chmod(0o644)
        cp = self.ecertctl("plan", "-f", m, env=self.env(sb))
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn(f"run: chmod 600 {key}", cp.stdout)
        cp = self.ecertctl("apply", "-f", m, env=self.env(sb))
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertEqual(key.read_bytes(), before)
        self.assertEqual(key.stat().st_mode & 0o777, 0o644)  # never fixed behind the operator's back
        key.chmod(0o640)  # Debian's ssl-cert group convention
        self.assertEqual(self.ecertctl("plan", "-f", m, env=self.env(sb)).returncode, 0)


class NoFaultSwitchTest(E2ECase, unittest.TestCase):
    def test_the_shipped_binary_ignores_the_fault_injection_variables(self):
        # Only the test build (tests/faults/) numbers its write steps; the
        # shipped binary once killed itself at ECERTCTL_FAULT_AT.
        sb = self.sandbox("simple")
        sb.add_vhost("www.a.test")
        a = self.site(sb, "www.a.test", stem="a")
        m = self.manifest(sb, [a])
        trace = self.tmp / "trace"
        cp = self.ecertctl("apply", "-f", m, env=self.env(sb, ECERTCTL_FAULT_AT="1", ECERTCTL_FAULT="kill",
                                                          ECERTCTL_FAULT_TRACE=str(trace)))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertTrue(Path(a["key"]).exists() or self.path_in_manifest(a["key"]).exists())
        self.assertFalse(trace.exists())
        # The test build does honour them: its first write step kills it.
        faulty = h.run([h.ecertctl_faults_path(), "apply", "-f", m],
                       env=self.env(sb, ECERTCTL_FAULT_AT="1", ECERTCTL_FAULT="kill"), timeout=120)
        self.assertEqual(faulty.returncode, -9, faulty.stdout + faulty.stderr)


class ServedChainTest(E2ECase, unittest.TestCase):
    def test_expired_cross_certificate_is_refused_although_the_bundle_holds_hongkong_post_root_ca_3(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.a.test")
        sb.start()
        expired = self.tmp / "ca" / "root_ca_3_x_gsca_r3_pem.crt"
        expired.parent.mkdir()
        # The test CA's own cross certificate request, signed again: valid 400 to 370 days ago.
        self.pki._sign_csr(self.pki.private_dir / "hk_root_cross.csr", self.pki.gs_root, expired, "cross_ca",
                           days=30, not_before_offset_days=-400)
        a = self.site(sb, "www.a.test", stem="a", ca={"sub": str(self.pki.ssl_sub_path), "cross": str(expired),
                                                       "trust": str(self.pki.trust_both_path)})
        m = self.manifest(sb, [a])
        self.assertEqual(self.ecertctl("apply", "-f", m, env=self.env(sb)).returncode, 0)
        self.issue(a)
        served_before = h.served_chain(sb.port, "www.a.test")
        report = self.run_json("apply", "-f", str(m), sb=sb, expect_rc=1)
        chain = self.resources(report, "www.a.test")["chain"]
        self.assertEqual(chain["action"], "error", chain)
        self.assertRegex(chain["reason"], r"^the cross certificate 'Hongkong Post Root CA 3' expired on "
                                          r"\d{4}-\d\d-\d\d; download the current one from Hongkong Post$")
        self.assertFalse(self.path_in_manifest(a["chain"]).exists(), "a chain file was written")
        self.assertEqual([h.cert_fingerprint(c) for c in h.served_chain(sb.port, "www.a.test")],
                         [h.cert_fingerprint(c) for c in served_before])


NOBODY = 65534


class StateDirectoryTest(E2ECase, unittest.TestCase):
    """The state directory is used only when it is the running user's and
    nobody else may write it; its records (facts.jsonl, installed.json) are
    read only when they are that user's own regular files (engine/state_dir.h)."""

    def _fix_command(self, out: str) -> str:
        line = next((l for l in out.splitlines() if "fix it with: " in l), None)
        self.assertIsNotNone(line, out)
        return line.split("fix it with: ", 1)[1]

    def test_a_state_directory_others_could_write_is_refused_with_the_fix_and_nothing_is_written(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.a.test")
        a = self.site(sb, "www.a.test", stem="a")
        m = self.manifest(sb, [a])
        state = self.state_dir
        commands = (("apply", "-f", m), ("apply", "-f", m, "--dry-run"), ("plan", "-f", m),
                    ("status", "-f", m), ("rotate", "-f", m, "--site", "www.a.test"),
                    ("apply", "-f", m, "--format", "json"))
        variants = (("owned by nobody", NOBODY, 0o700, f"fix it with: chown root {state}"),
                    ("mode 0777", 0, 0o777, f"fix it with: chmod go-w {state}"),
                    ("group-writable", 0, 0o770, f"fix it with: chmod go-w {state}"))
        for name, owner, mode, fix in variants:
            with self.subTest(variant=name):
                state.mkdir(exist_ok=True)
                os.chown(state, owner, owner)
                state.chmod(mode)
                before = self.snapshot(self.tmp)
                for args in commands:
                    cp = self.ecertctl(*args, env=self.env(sb))
                    out = cp.stdout + cp.stderr
                    self.assertEqual(cp.returncode, 1, f"{args}\n{out}")
                    self.assertIn(f"error: refusing to use the state directory {state}: ", cp.stderr)
                    self.assertTrue(cp.stderr.rstrip().endswith(fix), f"{args}\n{cp.stderr}")
                self.assertEqual(self.snapshot(self.tmp), before, "a refused run wrote something")
                self.assertEqual(list(state.iterdir()), [])
                self.assertFalse(Path(a["key"]).exists() or self.path_in_manifest(a["key"]).exists())
                # validate never reads the state directory.
                self.assertEqual(self.ecertctl("validate", "-f", m, env=self.env(sb)).returncode, 0)
                # The command in the message is exactly what makes it usable.
                subprocess.run(self._fix_command(cp.stderr), shell=True, check=True)
                cp = self.ecertctl("plan", "-f", m, env=self.env(sb))
                self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
                state.rmdir()
        # A symlinked state directory: refused, naming the real one, which works.
        real = self.tmp / "real-state"
        real.mkdir(mode=0o700)
        state.symlink_to(real)
        cp = self.ecertctl("apply", "-f", m, env=self.env(sb))
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn(f"it is reached through a symbolic link (its real path is {real})", cp.stderr)
        self.assertEqual(list(real.iterdir()), [])
        cp = self.ecertctl("apply", "-f", m, env=self.env(sb, ECERTCTL_STATE_DIR=str(real)))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertTrue((real / "lock").exists())

    def test_a_planted_facts_cache_does_not_make_a_bad_certificate_pass(self):
        sb, a, b, m = self.two_sites()
        self.assertEqual(self.ecertctl("apply", "-f", m, env=self.env(sb)).returncode, 0)
        self.issue(a)
        b_cert = self.issue(b)
        self.assertEqual(self.ecertctl("apply", "-f", m, env=self.env(sb)).returncode, 0)
        cache = self.state_dir / "facts.jsonl"
        honest = cache.read_text()
        good = hashlib.sha256(b_cert.read_bytes()).hexdigest()
        self.assertIn(good, honest)
        # b's certificate replaced by one for a's key: a certificate that must be refused.
        self.pki.issue(self.path_in_manifest(a["csr"]), b_cert, "standard")
        bad = hashlib.sha256(b_cert.read_bytes()).hexdigest()
        # The planted cache says of the bad certificate all that was proved of the good one.
        poison = honest.replace(good, bad)

        def b_certificate(expect_rc: int) -> tuple[dict, str]:
            cp = self.ecertctl("plan", "-f", m, "--format", "json", env=self.env(sb))
            self.assertEqual(cp.returncode, expect_rc, cp.stdout + cp.stderr)
            return self.resources(json.loads(cp.stdout), "www.b.test")["certificate"], cp.stderr

        self.assertEqual(b_certificate(1)[0]["action"], "error")
        # Written by ecertctl's own user, 0600, the poison works (the certificate passes every check and
        # is only to be reloaded, as changed since the restart): this is what must never be planted.
        cache.write_text(poison)
        cache.chmod(0o600)
        cert, _ = b_certificate(0)
        self.assertEqual(cert["action"], "update", cert)
        self.assertIn("changed on disk since Apache was last restarted", cert["reason"])

        planted = self.tmp / "planted.jsonl"
        planted.write_text(poison)
        planted.chmod(0o600)
        for name in ("owned by nobody", "a symlink"):
            with self.subTest(cache=name):
                cache.unlink()
                if name == "a symlink":
                    cache.symlink_to(planted)
                else:
                    cache.write_text(poison)
                    cache.chmod(0o600)
                    os.chown(cache, NOBODY, NOBODY)
                cert, err = b_certificate(1)
                self.assertEqual(cert["action"], "error", cert)
                self.assertIn(f"warning: ignoring {cache}: it is ", err)
                served_before = h.served_chain(sb.port, "www.b.test")
                cp = self.ecertctl("apply", "-f", m, env=self.env(sb))
                self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
                self.assertEqual([h.cert_fingerprint(c) for c in h.served_chain(sb.port, "www.b.test")],
                                 [h.cert_fingerprint(c) for c in served_before])
                # apply put its own record in its place: a new regular file, root's, 0600.
                st = os.lstat(cache)
                self.assertTrue(stat.S_ISREG(st.st_mode))
                self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o600))
                self.assertEqual(planted.read_text(), poison, "written through the planted symlink")

    def test_a_certificate_whose_dns_name_is_not_utf8_is_an_error_not_a_crash(self):
        """Recording the facts cache once threw (JSON cannot hold bytes that are
        not UTF-8, and an IA5String DNS name can): apply aborted on SIGABRT."""
        sb = self.sandbox("simple")
        sb.add_vhost("www.a.test")
        a = self.site(sb, "www.a.test", stem="a")
        m = self.manifest(sb, [a])
        self.assertEqual(self.ecertctl("apply", "-f", m, env=self.env(sb)).returncode, 0)
        cert = self.path_in_manifest(a["certificate"])
        cert.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.tmp / "odd.key",
                        "-out", cert, "-days", "2", "-subj", "/CN=www.a.test",
                        "-addext", b"subjectAltName=DNS:www.a.test,DNS:odd\xff.a.test"], check=True, capture_output=True)
        self.assertIn(b"odd\xff", cert.read_bytes() + subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-ext",
                      "subjectAltName"], capture_output=True).stdout)
        cp = self.ecertctl("apply", "-f", m, env=self.env(sb))
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertRegex(cp.stdout, r"www\.a\.test \(standard\): error")
        self.assertIn("certificate", cp.stdout)
        # The facts it could write were written.
        cache = (self.state_dir / "facts.jsonl").read_text()
        self.assertGreater(len(cache.splitlines()), 1)


def allow_core_files() -> None:
    """Starts a child with core files allowed, so that a limit of 0 is ecertctl's own doing."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard if hard != resource.RLIM_INFINITY else 1 << 30, hard))


class CoreDumpTest(E2ECase, unittest.TestCase):
    def test_a_running_ecertctl_dumps_no_core_and_its_memory_is_not_readable_by_its_user(self):
        """ecertctl runs as nobody and waits for the run lock the test holds;
        meanwhile its limits and dumpability are inspected. A process that is
        not dumpable has its /proc/<pid>/ files owned by root, so another
        process of the same user cannot read its environ (or memory)."""
        self.tmp.chmod(0o755)  # nobody must reach the manifest
        sb = self.sandbox("simple")
        sb.add_vhost("www.a.test")
        m = self.manifest(sb, [self.site(sb, "www.a.test", stem="a")])
        self.state_dir.mkdir(mode=0o700)
        lock = self.state_dir / "lock"
        lock.touch(mode=0o600)
        for p in (self.state_dir, lock):
            os.chown(p, NOBODY, NOBODY)
        env = {"PATH": os.environ["PATH"], "ECERT_KEY_PASSPHRASE": PASSPHRASE,
               "ECERTCTL_STATE_DIR": str(self.state_dir)}
        with open(lock) as held:
            import fcntl
            fcntl.flock(held, fcntl.LOCK_EX)
            proc = subprocess.Popen([h.ecertctl_path(), "apply", "-f", str(m), "--lock-wait", "60"], env=env,
                                    user=NOBODY, group=NOBODY, extra_groups=[], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    preexec_fn=allow_core_files)
            self.addCleanup(proc.wait)
            self.addCleanup(proc.kill)
            self.wait_for_open(proc.pid, lock)
            status = Path(f"/proc/{proc.pid}/status").read_text()
            self.assertRegex(status, rf"\nUid:\t{NOBODY}\t")
            limits = Path(f"/proc/{proc.pid}/limits").read_text()
            core = next(l for l in limits.splitlines() if l.startswith("Max core file size"))
            self.assertEqual(core.split()[4], "0", core)  # the soft limit, the one the kernel applies
            self.assertEqual(os.stat(f"/proc/{proc.pid}/environ").st_uid, 0)
            peek = subprocess.run(["cat", f"/proc/{proc.pid}/environ"], user=NOBODY, group=NOBODY, extra_groups=[],
                                  capture_output=True, timeout=10)
            self.assertNotEqual(peek.returncode, 0, "another process of ecertctl's user read its environment")
            self.assertIn(b"Permission denied", peek.stderr)

    def wait_for_open(self, pid: int, path: Path, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd")):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.fail(f"ecertctl (pid {pid}) never opened {path}")


if __name__ == "__main__":
    unittest.main()
