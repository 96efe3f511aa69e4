"""Acceptance tests of ecertctl's core commands (validate, plan, apply,
--dry-run, status, csr, --site) and exit codes, checked with the real openssl
CLI. No Apache runs here: the manifest's apache.config is a small httpd.conf
with one <VirtualHost *:443> per site, and configtest/restart are harmless
commands (they only run once a certificate arrives, and then only record what
they see).

Every check here is something that could fail: exact subjects, bit sizes,
ciphers, file modes, bytes and mtimes, exit codes and messages."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import tempfile
import threading
import time
import unittest
from pathlib import Path

import harness as h

# Distinctive, so a substring search cannot match by accident.
PASSPHRASE = "Qz7-ecert-core-pass-5b1e0d"
ENV_VAR = "ECERT_KEY_PASSPHRASE"
EXPECTED_SUBJECT = "subject=C = HK, ST = Hong Kong, L = Hong Kong, O = My Organization, CN = {cn}"
TRUE = shutil.which("true") or "/bin/true"

_PKI: h.TestPKI | None = None
_PKI_DIR: Path | None = None


def setUpModule():
    global _PKI, _PKI_DIR
    _PKI_DIR = Path(tempfile.mkdtemp(prefix="ecert-core-pki-"))
    _PKI = h.TestPKI(_PKI_DIR)


def tearDownModule():
    if _PKI_DIR and not os.environ.get("KEEP_TMP"):
        shutil.rmtree(_PKI_DIR, ignore_errors=True)


def openssl(*args, env=None, check=True):
    e = dict(os.environ)
    if env:
        e.update(env)
    return h.run(["openssl", *args], env=e, check=check)


def tree_snapshot(*roots: Path) -> dict:
    """Every entry under roots (roots included): path -> (kind, mode, mtime_ns, bytes|target).
    Directories are included, so a file created and removed again (temp
    file, lock) still shows as a changed directory mtime."""
    out = {}
    for root in roots:
        if not os.path.lexists(root):
            continue
        entries = [Path(root)]
        for dirpath, dirnames, filenames in os.walk(root):
            entries += [Path(dirpath) / n for n in dirnames + filenames]
        for p in entries:
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[str(p)] = ("link", st.st_mode, st.st_mtime_ns, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[str(p)] = ("dir", st.st_mode, st.st_mtime_ns, None)
            else:
                out[str(p)] = ("file", st.st_mode, st.st_mtime_ns, p.read_bytes())
    return out


def diff_snapshots(before: dict, after: dict) -> list[str]:
    lines = []
    for k in sorted(set(before) | set(after)):
        if k not in before:
            lines.append(f"created: {k}")
        elif k not in after:
            lines.append(f"removed: {k}")
        elif before[k] != after[k]:
            what = [n for n, a, b in zip(("kind", "mode", "mtime", "content"), before[k], after[k]) if a != b]
            lines.append(f"changed ({', '.join(what)}): {k}")
    return lines


class ArgvSampler:
    """Samples /proc/*/cmdline of every process in a background thread while
    active, so a secret passed on any child's command line (even briefly)
    has a good chance of being seen."""

    def __init__(self):
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        self.seen.add(f.read().replace(b"\0", b" ").decode(errors="replace"))
                except OSError:
                    pass
            time.sleep(0.002)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class CoreCase(h.IntegrationTestCase):
    """Per test: tmp/manifest (manifest and relative site files),
    tmp/apache/httpd.conf (vhosts only, never run), tmp/state (ECERTCTL_STATE_DIR)."""

    maxDiff = None

    def setUp(self):
        super().setUp()
        self.pki = _PKI
        self.mdir = self.tmp / "manifest"
        self.mdir.mkdir()
        self.apache_dir = self.tmp / "apache"
        self.apache_dir.mkdir()
        self.conf = self.apache_dir / "httpd.conf"
        self.state = self.tmp / "state"
        self.mpath = self.mdir / "ecert.yaml"

    # -- building blocks ------------------------------------------------------

    def write_conf(self, vhosts: list[tuple[str, list[str]]]) -> None:
        text = f"ServerRoot {self.apache_dir}\n"
        for name, aliases in vhosts:
            text += f"\n<VirtualHost *:443>\n    ServerName {name}\n"
            if aliases:
                text += "    ServerAlias " + " ".join(aliases) + "\n"
            text += "</VirtualHost>\n"
        self.conf.write_text(text)

    @staticmethod
    def site(name: str, stem: str, feature: str = "standard", **extra) -> dict:
        s = {
            "name": name,
            "feature": feature,
            "key": f"ssl.key/{stem}.key",
            "csr": f"ssl.csr/{stem}.csr",
            "certificate": f"ssl.crt/{stem}.cer",
            "chain": "ssl.crt/hkpostca.crt",
        }
        s.update(extra)
        return s

    def manifest(self, sites: list[dict], organization: str = "My Organization",
                 passphrase: dict | None | bool = True, vhosts: list | None = None, **apache) -> Path:
        """Write the manifest (and, unless vhosts is False, an httpd.conf with
        one vhost per site: the site's vhost.server_name or name, plus its
        additional_names as aliases)."""
        if vhosts is None:
            vhosts = [((s.get("vhost") or {}).get("server_name", s["name"]), s.get("additional_names", []))
                      for s in sites]
        if vhosts is not False:
            self.write_conf(vhosts)
        key = {}
        if passphrase is True:
            key["passphrase"] = {"env": ENV_VAR}
        elif passphrase:
            key["passphrase"] = passphrase
        defaults = {
            "organization": organization,
            "ca": {"sub": str(self.pki.ssl_sub_path), "cross": str(self.pki.cross_path),
                   "trust": str(self.pki.trust_path)},
        }
        if key:
            defaults["key"] = key
        m = {
            "version": 1,
            "apache": {"config": str(self.conf), "configtest": [TRUE], "restart": [[TRUE]], "timeout": 10,
                       **apache},
            "defaults": defaults,
            "sites": sites,
        }
        return h.write_manifest(self.mpath, m)

    def p(self, rel: str) -> Path:
        return self.mdir / rel

    def env(self, **extra) -> dict:
        e = dict(os.environ)
        e[ENV_VAR] = PASSPHRASE
        e["ECERTCTL_STATE_DIR"] = str(self.state)
        e.update(extra)
        return e

    def cli(self, *args, rc: int | None = 0, env: dict | None = None):
        cp = self.ecertctl(*[os.fspath(a) for a in args], env=env or self.env())
        if rc is not None:
            self.assertEqual(cp.returncode, rc, f"ecertctl {' '.join(map(str, args))}: exit {cp.returncode}\n"
                                                f"--- stdout\n{cp.stdout}\n--- stderr\n{cp.stderr}")
        self.assertNotIn(PASSPHRASE, cp.stdout + cp.stderr, f"passphrase printed by {args}")
        return cp

    def cli_json(self, *args, rc: int | None = 0, env: dict | None = None) -> dict:
        cp = self.cli(*args, "--format", "json", rc=rc, env=env)
        try:
            return json.loads(cp.stdout)
        except json.JSONDecodeError as e:
            self.fail(f"{args}: stdout is not JSON ({e})\n{cp.stdout}\n--- stderr\n{cp.stderr}")

    @staticmethod
    def resources(report: dict, site: str) -> dict:
        for s in report["sites"]:
            if s["name"] == site:
                return {r["type"]: r for r in s["resources"]}
        raise AssertionError(f"no site {site} in {[s['name'] for s in report['sites']]}")

    # -- openssl checks -------------------------------------------------------

    def assert_key(self, key: Path, bits: int = 2048, cipher: str | None = "aes-256-cbc") -> None:
        st = key.stat()
        self.assertEqual(st.st_mode & 0o777, 0o600, f"{key} mode {oct(st.st_mode & 0o777)}")
        first = key.read_text().splitlines()[0]
        if cipher is None:
            self.assertEqual(first, "-----BEGIN " "PRIVATE KEY-----", key)
            openssl("pkey", "-in", key, "-noout")
            text = openssl("pkey", "-in", key, "-text", "-noout").stdout
        else:
            self.assertEqual(first, "-----BEGIN ENCRYPTED " "PRIVATE KEY-----", key)
            env = {"CORE_KEY_PASS": PASSPHRASE}
            openssl("pkey", "-in", key, "-passin", "env:CORE_KEY_PASS", "-noout", env=env)
            text = openssl("pkey", "-in", key, "-passin", "env:CORE_KEY_PASS", "-text", "-noout", env=env).stdout
            wrong = openssl("pkey", "-in", key, "-passin", "pass:not-the-passphrase", "-noout", check=False)
            self.assertNotEqual(wrong.returncode, 0, f"{key} opens with a wrong passphrase")
            # PBES2 names the symmetric cipher in the encryption parameters.
            asn = openssl("asn1parse", "-in", key).stdout
            self.assertRegex(asn, rf"OBJECT\s+:{re.escape(cipher)}\s*$|OBJECT\s+:{re.escape(cipher)}\n",
                             f"{key} is not encrypted with {cipher}:\n{asn}")
        self.assertRegex(text, rf"Private-Key: \({bits} bit", f"{key}: not {bits} bits")

    def assert_csr(self, csr: Path, cn: str, organization: str = "My Organization") -> None:
        openssl("req", "-in", csr, "-verify", "-noout")
        subj = openssl("req", "-in", csr, "-noout", "-subject").stdout.strip()
        self.assertEqual(subj, EXPECTED_SUBJECT.format(cn=cn).replace("My Organization", organization))
        rfc = openssl("req", "-in", csr, "-noout", "-subject", "-nameopt", "RFC2253").stdout.strip()
        self.assertEqual(rfc, f"subject=CN={cn},O={organization},L=Hong Kong,ST=Hong Kong,C=HK")

    def assert_csr_matches_key(self, csr: Path, key: Path, cipher: str | None = "aes-256-cbc") -> None:
        csr_pub = openssl("req", "-in", csr, "-noout", "-pubkey").stdout
        args = ["pkey", "-in", key, "-pubout"]
        if cipher:
            args += ["-passin", "env:CORE_KEY_PASS"]
        key_pub = openssl(*args, env={"CORE_KEY_PASS": PASSPHRASE}).stdout
        self.assertEqual(csr_pub, key_pub, f"{csr} is not for {key}")

    def pubkey(self, key: Path) -> str:
        return openssl("pkey", "-in", key, "-pubout", "-passin", "env:CORE_KEY_PASS",
                       env={"CORE_KEY_PASS": PASSPHRASE}).stdout


# ------------------------------------------------------------------------------
# 1. openssl accepts every output


class OpensslAcceptsOutputsTest(CoreCase, unittest.TestCase):
    def test_each_cipher_key_and_csr(self):
        sites = [
            self.site("www.example.com", "aes"),  # default cipher
            self.site("www.des.example.com", "des", key={"path": "ssl.key/des.key", "cipher": "des-ede3-cbc",
                                                         "passphrase": {"env": ENV_VAR}}),
            self.site("www.none.example.com", "none", key={"path": "ssl.key/none.key", "cipher": "none"}),
        ]
        sites[0]["key"] = {"path": "ssl.key/aes.key", "passphrase": {"env": ENV_VAR}}
        m = self.manifest(sites, passphrase=False)
        self.assertFalse(self.p("ssl.key").exists())
        report = self.cli_json("apply", "-f", m)
        for s in sites:
            r = self.resources(report, s["name"])
            self.assertEqual((r["key"]["action"], r["csr"]["action"], r["certificate"]["action"]),
                             ("create", "create", "pending"), s["name"])
        self.assert_key(self.p("ssl.key/aes.key"), 2048, "aes-256-cbc")
        self.assert_key(self.p("ssl.key/des.key"), 2048, "des-ede3-cbc")
        self.assert_key(self.p("ssl.key/none.key"), 2048, None)
        self.assertEqual(self.p("ssl.key").stat().st_mode & 0o777, 0o700, "key directory created by ecertctl")
        for stem, s, cipher in (("aes", sites[0], "aes-256-cbc"), ("des", sites[1], "des-ede3-cbc"),
                                ("none", sites[2], None)):
            csr = self.p(f"ssl.csr/{stem}.csr")
            self.assert_csr(csr, s["name"])
            self.assert_csr_matches_key(csr, self.p(f"ssl.key/{stem}.key"), cipher)

    def test_3072_bits_with_warning_and_4096_warns(self):
        site = self.site("www.example.com", "big", key={"path": "ssl.key/big.key", "bits": 3072})
        m = self.manifest([site])
        cp = self.cli("validate", "-f", m)
        self.assertRegex(cp.stderr, r"ecert\.yaml:\d+:\d+: warning: .*3072", cp.stderr)
        self.cli("apply", "-f", m)
        self.assert_key(self.p("ssl.key/big.key"), 3072)
        self.assert_csr(self.p("ssl.csr/big.csr"), "www.example.com")
        # 4096: validate only (no keygen needed to see the warning)
        site4 = self.site("www.example.com", "big4", key={"path": "ssl.key/big4.key", "bits": 4096})
        m = self.manifest([site4])
        cp = self.cli("validate", "-f", m)
        self.assertRegex(cp.stderr, r"ecert\.yaml:\d+:\d+: warning: .*4096", cp.stderr)
        # 2048 is what the guide uses: no warning.
        m = self.manifest([self.site("www.example.com", "std")])
        cp = self.cli("validate", "-f", m)
        self.assertNotIn("warning", cp.stderr)

    def test_idn_wildcard_and_multi_domain_subjects(self):
        sites = [
            self.site("www.我的伺服器.com", "idn"),
            self.site("*.example.com", "wild", "wildcard", vhost={"server_name": "shop.example.com"}),
            self.site("www.example.com", "multi", "multi-domain",
                      additional_names=["shop.example.com", "www.example.org"]),
        ]
        m = self.manifest(sites, vhosts=[("www.xn--3pqw8o2pk43espw.com", []), ("shop.example.com", []),
                                         ("www.example.com", ["www.example.org"])])
        self.cli("apply", "-f", m)
        self.assert_csr(self.p("ssl.csr/idn.csr"), "www.xn--3pqw8o2pk43espw.com")
        self.assert_csr(self.p("ssl.csr/wild.csr"), "*.example.com")
        multi = self.p("ssl.csr/multi.csr")
        self.assert_csr(multi, "www.example.com")
        for stem in ("idn", "wild", "multi"):
            csr = self.p(f"ssl.csr/{stem}.csr")
            text = openssl("req", "-in", csr, "-text", "-noout").stdout
            self.assertNotIn("Subject Alternative Name", text, stem)
            self.assertNotIn("X509v3", text, f"{stem}: the CSR carries extensions:\n{text}")
            self.assertRegex(text, r"Attributes:\n\s+\(none\)", stem)
            # The attributes field is present and empty: [0] with length 0 (a0 00).
            asn = openssl("asn1parse", "-in", csr).stdout
            conts = [l for l in asn.splitlines() if "cont [ 0 ]" in l]
            self.assertEqual(len(conts), 1, asn)
            self.assertIn("l=   0", conts[0], f"{stem}: CSR attributes not empty:\n{asn}")
            self.assertIn(b"\xa0\x00", openssl_der(csr))


def openssl_der(csr: Path) -> bytes:
    import subprocess
    return subprocess.run(["openssl", "req", "-in", str(csr), "-outform", "DER"], capture_output=True,
                          check=True, stdin=subprocess.DEVNULL).stdout


# ------------------------------------------------------------------------------
# 2. the passphrase never appears


PS_SCRIPT = """#!/bin/sh
# records every process's argv while ecertctl waits for this child
ps -eww -o args > "{out}.$$"
tr '\\0' '\\n' < /proc/$$/environ | grep -c '^{var}=' > "{out}.env.$$" || true
exit 0
"""


class SecretsTest(CoreCase, unittest.TestCase):
    def _ps_script(self) -> tuple[Path, Path]:
        out_dir = self.tmp / "ps-out"
        out_dir.mkdir()
        script = self.tmp / "bin" / "record-ps"
        script.parent.mkdir()
        script.write_text(PS_SCRIPT.format(out=out_dir / "ps", var=ENV_VAR))
        script.chmod(0o755)
        return script, out_dir

    def _lifecycle(self, env: dict, passphrase_file: Path | None) -> None:
        script, ps_dir = self._ps_script()
        sites = [self.site("www.example.com", "a"), self.site("www.b.example.com", "b")]
        m = self.manifest(sites, passphrase={"file": str(passphrase_file)} if passphrase_file else True,
                          configtest=[str(script)], restart=[[str(script)]])
        commands = [
            ("validate", "-f", m), ("plan", "-f", m), ("plan", "-f", m, "--format", "json"),
            ("apply", "-f", m, "--dry-run"), ("apply", "-f", m, "--dry-run", "--format", "json"),
            ("apply", "-f", m), ("status", "-f", m), ("status", "-f", m, "--format", "json"),
            ("csr", "-f", m, "--site", "www.example.com"),
            ("csr", "-f", m, "--site", "www.example.com", "--format", "json"),
            ("plan", "-f", m), ("apply", "-f", m, "--format", "json"),
        ]
        with ArgvSampler() as sampler:
            for args in commands:
                self.cli(*args, rc=None, env=env)
            self.pki.issue(self.p("ssl.csr/a.csr"), self.p("ssl.crt/a.cer"), "standard")
            for args in [("plan", "-f", m, "--format", "json"), ("apply", "-f", m, "--dry-run"),
                         ("apply", "-f", m), ("status", "-f", m, "--format", "json"), ("apply", "-f", m)]:
                self.cli(*args, rc=None, env=env)
        # The last applies really ran the configtest/restart children.
        dumps = sorted(ps_dir.glob("ps.[0-9]*"))
        self.assertGreaterEqual(len(dumps), 2, "configtest and restart scripts were not run")
        self.assertIn("SSLCertificateFile", self.conf.read_text())
        for d in dumps:
            text = d.read_text()
            self.assertIn(f"ecertctl apply -f {m}", text, f"{d}: ps did not see the parent's whole argv")
            self.assertNotIn(PASSPHRASE, text, f"passphrase in a process argv (ps during {d.name})")
        self.assertTrue(any("ecertctl" in a for a in sampler.seen), "argv sampler saw nothing")
        leaked = [a for a in sampler.seen if PASSPHRASE in a]
        self.assertEqual(leaked, [], "passphrase on a command line")
        # Not in any file ecertctl or its children wrote.
        allowed = {passphrase_file} if passphrase_file else set()
        for root in (self.tmp, _PKI_DIR):
            for dirpath, _, files in os.walk(root):
                for n in files:
                    f = Path(dirpath) / n
                    if f in allowed or f.is_symlink():
                        continue
                    self.assertNotIn(PASSPHRASE.encode(), f.read_bytes(), f"passphrase written to {f}")
        self.assert_key(self.p("ssl.key/a.key"))
        # For the report only (not a design rule): does the passphrase variable
        # reach Apache's commands through the environment?
        env_counts = [d.read_text().strip() for d in ps_dir.glob("ps.env.*")]
        self._env_inherited = env_counts

    def test_env_passphrase_never_printed_written_or_in_argv(self):
        self._lifecycle(self.env(), None)

    def test_file_passphrase_never_printed_written_or_in_argv(self):
        secret = self.tmp / "operator" / "ecert-pass"
        secret.parent.mkdir()
        secret.write_text(PASSPHRASE + "\n")
        secret.chmod(0o600)
        env = self.env()
        env.pop(ENV_VAR)
        self._lifecycle(env, secret)
        self.assertEqual(secret.stat().st_mode & 0o777, 0o600)
        self.assertEqual(secret.read_text(), PASSPHRASE + "\n")

    def test_group_readable_passphrase_file_refused(self):
        secret = self.tmp / "operator" / "ecert-pass"
        secret.parent.mkdir()
        secret.write_text(PASSPHRASE + "\n")
        secret.chmod(0o644)
        m = self.manifest([self.site("www.example.com", "a")], passphrase={"file": str(secret)})
        for args in (("plan", "-f", m), ("apply", "-f", m)):
            cp = self.cli(*args, rc=1)
            out = cp.stdout + cp.stderr
            self.assertIn("chmod 600", out)
            self.assertIn(str(secret), out)
        self.assertFalse(self.p("ssl.key/a.key").exists(), "a key was made with a passphrase from a 0644 file")
        self.assertFalse(self.p("ssl.csr/a.csr").exists())


# ------------------------------------------------------------------------------
# 3. read-only commands write nothing


class WriteNothingTest(CoreCase, unittest.TestCase):
    def _readonly_commands(self, m: Path):
        return [
            ("validate", "-f", m), ("validate", "-f", m, "--format", "json"),
            ("plan", "-f", m), ("plan", "-f", m, "--format", "json"), ("plan", "-f", m, "--detailed-exitcode"),
            ("apply", "-f", m, "--dry-run"), ("apply", "-f", m, "--dry-run", "--format", "json"),
            ("status", "-f", m), ("status", "-f", m, "--format", "json"),
            ("csr", "-f", m, "--site", "www.example.com"),
            ("csr", "-f", m, "--site", "www.example.com", "--format", "json"),
        ]

    def _assert_writes_nothing(self, m: Path, phase: str):
        roots = (self.tmp, _PKI_DIR)
        for args in self._readonly_commands(m):
            before = tree_snapshot(*roots)
            time.sleep(0.01)  # so a rewrite with the same bytes shows in mtime_ns
            cp = self.cli(*args, rc=None)
            self.assertIn(cp.returncode, (0, 1, 2), f"{args}: {cp.stderr}")
            self.assertEqual(diff_snapshots(before, tree_snapshot(*roots)), [],
                             f"{phase}: `ecertctl {' '.join(map(str, args[:1] + args[2:]))}` wrote")

    def test_validate_plan_dry_run_status_csr_write_nothing(self):
        sites = [self.site("www.example.com", "a"), self.site("www.b.example.com", "b")]
        m = self.manifest(sites)
        # Fresh: nothing exists yet, not even the state dir or the key dir.
        self._assert_writes_nothing(m, "fresh")
        self.assertFalse(self.state.exists(), "a read-only command created the state dir")
        self.assertFalse(self.p("ssl.key").exists())
        # Keys and CSRs exist, certificates pending.
        self.cli("apply", "-f", m)
        self.assertTrue(self.state.exists())
        self._assert_writes_nothing(m, "pending")
        # A certificate arrived (chain and vhost due) and the CSR of the other site must be regenerated.
        self.pki.issue(self.p("ssl.csr/a.csr"), self.p("ssl.crt/a.cer"), "standard")
        m = self.manifest(sites, organization="New Org Ltd", vhosts=False)
        plan = self.cli_json("plan", "-f", m)
        self.assertEqual(self.resources(plan, "www.example.com")["chain"]["action"], "create")
        self.assertEqual(self.resources(plan, "www.b.example.com")["csr"]["action"], "update")
        self._assert_writes_nothing(m, "changes due")

    def test_state_dir_not_created_by_dry_run_with_changes(self):
        m = self.manifest([self.site("www.example.com", "a")])
        before = tree_snapshot(self.tmp)
        dry = self.cli_json("apply", "-f", m, "--dry-run")
        self.assertEqual(self.resources(dry, "www.example.com")["key"]["action"], "create")
        self.assertEqual(diff_snapshots(before, tree_snapshot(self.tmp)), [])
        self.assertFalse(self.state.exists())


# ------------------------------------------------------------------------------
# 4. idempotence


class IdempotenceTest(CoreCase, unittest.TestCase):
    def test_second_apply_changes_nothing(self):
        sites = [self.site("www.example.com", "a"), self.site("*.example.org", "w", "wildcard",
                                                              vhost={"server_name": "shop.example.org"})]
        m = self.manifest(sites)
        cp = self.cli("apply", "-f", m)
        # Not a terminal: no progress line.
        self.assertNotIn("generating keys", cp.stderr + cp.stdout)
        roots = (self.mdir, self.apache_dir, _PKI_DIR)
        before = tree_snapshot(*roots)
        time.sleep(0.01)
        second = self.cli_json("apply", "-f", m)
        self.assertFalse(second["changed"], second)
        self.assertFalse(second["apache"]["restart"])
        for s in second["sites"]:
            for r in s["resources"]:
                self.assertIn(r["action"], ("no-op", "pending"), (s["name"], r))
            res = {r["type"]: r["action"] for r in s["resources"]}
            self.assertEqual((res["key"], res["csr"], res["certificate"]), ("no-op", "no-op", "pending"))
        self.assertEqual(diff_snapshots(before, tree_snapshot(*roots)), [])
        cp = self.cli("apply", "-f", m)
        self.assertEqual(diff_snapshots(before, tree_snapshot(*roots)), [])
        self.assertRegex(cp.stdout, r"0 created, 0 updated")


class FactsCacheTest(CoreCase, unittest.TestCase):
    """$STATE/facts.jsonl remembers what verifying unchanged files proved; it
    must never hide a change (engine/facts_cache.h)."""

    def test_cache_never_hides_a_change(self):
        sites = [self.site("www.example.com", "a"), self.site("www.b.example.com", "b")]
        m = self.manifest(sites)
        self.cli("apply", "-f", m)
        for stem, name in (("a", "www.example.com"), ("b", "www.b.example.com")):
            self.pki.issue(self.p(f"ssl.csr/{stem}.csr"), self.p(f"ssl.crt/{stem}.cer"), "standard")
        self.cli("apply", "-f", m)
        cache = self.state / "facts.jsonl"
        self.assertTrue(cache.exists(), "a converging apply recorded no facts")
        self.assertEqual(cache.stat().st_mode & 0o777, 0o600)
        text = cache.read_text()
        self.assertNotIn(PASSPHRASE, text)
        self.assertNotIn("PRIVATE", text)
        kinds = sorted({json.loads(line)["kind"] for line in text.splitlines()[1:]})
        self.assertEqual(kinds, ["cert", "chain", "csr", "key", "signature"])
        # A converged no-op leaves the cache as it is (bytes and mtime).
        before = (cache.read_bytes(), cache.stat().st_mtime_ns)
        time.sleep(0.01)
        self.assertFalse(self.cli_json("apply", "-f", m)["changed"])
        self.assertEqual((cache.read_bytes(), cache.stat().st_mtime_ns), before)

        # Another passphrase in the environment: every key is an error again.
        plan = self.cli_json("plan", "-f", m, rc=1, env=self.env(**{ENV_VAR: "some other passphrase"}))
        for name in ("www.example.com", "www.b.example.com"):
            key = self.resources(plan, name)["key"]
            self.assertEqual(key["action"], "error", key)
            self.assertIn("cannot open the key", key["reason"])

        # A certificate replaced by one for another key: caught, not answered from the cache.
        self.pki.issue(self.p("ssl.csr/a.csr"), self.p("ssl.crt/b.cer"), "standard")
        plan = self.cli_json("plan", "-f", m, rc=1)
        cert = self.resources(plan, "www.b.example.com")["certificate"]
        self.assertEqual(cert["action"], "error", cert)
        self.assertEqual(self.resources(plan, "www.example.com")["certificate"]["action"], "no-op")

        # A cache others may write is not trusted (and a foreign one is ignored): same answers.
        cache.chmod(0o666)
        plan2 = self.cli_json("plan", "-f", m, rc=1)
        self.assertEqual(self.resources(plan2, "www.b.example.com")["certificate"]["action"], "error")
        cache.chmod(0o600)
        cache.write_text("not a cache\n")
        plan3 = self.cli_json("plan", "-f", m, rc=1)
        self.assertEqual(self.resources(plan3, "www.example.com")["certificate"]["action"], "no-op")


# ------------------------------------------------------------------------------
# 5. exit codes


BAD_MANIFEST = """\
version: 1
apache:
  config: {conf}
defaults:
  ca:
    sub: ca/sub.crt
    cross: ca/cross.crt
sites:
  - name: www.example.com
    feature: premium
    key: ssl.key/a.key
    csr: ssl.csr/a.csr
    certificate: ssl.crt/a.cer
    chain: ssl.crt/hkpostca.crt
"""


class ExitCodesTest(CoreCase, unittest.TestCase):
    def test_bad_manifest_is_exit_1_with_file_line_col(self):
        self.mpath.write_text(BAD_MANIFEST.format(conf=self.conf))
        for cmd in ("validate", "plan", "apply", "status"):
            cp = self.cli(cmd, "-f", self.mpath, rc=1)
            self.assertRegex(cp.stderr, r"(^|\n)\S*ecert\.yaml:10:14: error: ", f"{cmd}: {cp.stderr}")
            self.assertIn("premium", cp.stderr)
        self.assertFalse(self.state.exists())
        self.assertFalse(self.p("ssl.key").exists())

    def test_detailed_exitcode(self):
        m = self.manifest([self.site("www.example.com", "a")])
        cp = self.cli("plan", "-f", m, "--detailed-exitcode", rc=2)
        self.assertIn("create", cp.stdout)
        self.cli("plan", "-f", m, rc=0)  # without the flag, changes are exit 0
        self.cli("apply", "-f", m)
        cp = self.cli("plan", "-f", m, "--detailed-exitcode", rc=0)
        self.assertIn("pending", cp.stdout)
        # The CSR must change: a change again.
        m = self.manifest([self.site("www.example.com", "a")], organization="New Org Ltd", vhosts=False)
        self.cli("plan", "-f", m, "--detailed-exitcode", rc=2)

    def test_bad_site_fails_run_good_site_converges_key_untouched(self):
        good = self.site("www.good.example.com", "good")
        bad = self.site("www.bad.example.com", "bad")
        bad_key = h.gen_key(self.p("ssl.key/bad.key"), bits=3072, passphrase=PASSPHRASE)
        key_before = (bad_key.read_bytes(), bad_key.stat().st_mtime_ns, bad_key.stat().st_mode)
        m = self.manifest([good, bad])
        mtext = str(m)
        cp = self.cli("apply", "-f", mtext, rc=1)
        self.assertIn(f"ecertctl rotate -f {mtext} --site www.bad.example.com", cp.stdout + cp.stderr)
        self.assertIn("3072", cp.stdout + cp.stderr)
        report = self.cli_json("apply", "-f", mtext, rc=1)
        self.assertTrue(report["failed"])
        r = self.resources(report, "www.bad.example.com")
        self.assertEqual(r["key"]["action"], "error")
        self.assertIn(f"ecertctl rotate -f {mtext} --site www.bad.example.com", r["key"]["reason"])
        g = self.resources(report, "www.good.example.com")
        self.assertEqual((g["key"]["action"], g["csr"]["action"]), ("no-op", "no-op"))
        # The good site converged in the first run.
        self.assert_key(self.p("ssl.key/good.key"))
        self.assert_csr(self.p("ssl.csr/good.csr"), "www.good.example.com")
        self.assert_csr_matches_key(self.p("ssl.csr/good.csr"), self.p("ssl.key/good.key"))
        # The bad key was never rewritten, and no CSR was made from it.
        self.assertEqual((bad_key.read_bytes(), bad_key.stat().st_mtime_ns, bad_key.stat().st_mode), key_before)
        self.assertFalse(self.p("ssl.csr/bad.csr").exists())
        self.assertEqual(sorted(os.listdir(self.p("ssl.key"))), ["bad.key", "good.key"], "stray files")
        # plan says the same, exit 1 even with --detailed-exitcode
        self.cli("plan", "-f", mtext, "--detailed-exitcode", rc=1)


# ------------------------------------------------------------------------------
# 6. CSR regeneration on a subject change


class CsrRegenerationTest(CoreCase, unittest.TestCase):
    def test_organization_change_rewrites_csr_keeps_key(self):
        sites = [self.site("www.example.com", "a")]
        m = self.manifest(sites)
        self.cli("apply", "-f", m)
        key = self.p("ssl.key/a.key")
        csr = self.p("ssl.csr/a.csr")
        key_before = (key.read_bytes(), key.stat().st_mtime_ns)
        csr_before = csr.read_bytes()
        m = self.manifest(sites, organization="New Org Ltd", vhosts=False)
        plan = self.cli_json("plan", "-f", m)
        r = self.resources(plan, "www.example.com")
        self.assertEqual(r["key"]["action"], "no-op")
        self.assertEqual(r["csr"]["action"], "update")
        self.assertIn("CSR subject O differs: 'My Organization' -> 'New Org Ltd'", r["csr"]["reason"])
        text = self.cli("plan", "-f", m).stdout
        self.assertIn("CSR subject O differs: 'My Organization' -> 'New Org Ltd'", text)
        report = self.cli_json("apply", "-f", m)
        self.assertEqual(self.resources(report, "www.example.com")["csr"]["action"], "update")
        self.assertNotEqual(csr.read_bytes(), csr_before)
        self.assert_csr(csr, "www.example.com", organization="New Org Ltd")
        self.assert_csr_matches_key(csr, key)
        self.assertEqual((key.read_bytes(), key.stat().st_mtime_ns), key_before, "the key changed")
        again = self.cli_json("plan", "-f", m)
        self.assertEqual(self.resources(again, "www.example.com")["csr"]["action"], "no-op")


# ------------------------------------------------------------------------------
# 7. csr command and --site


class CsrCommandAndSiteTest(CoreCase, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.sites = [self.site("www.example.com", "a"), self.site("www.other.example.net", "b")]
        self.m = self.manifest(self.sites)

    def test_csr_prints_pem_and_steps(self):
        self.cli("apply", "-f", self.m)
        pem = self.p("ssl.csr/a.csr").read_text()
        self.assertTrue(pem.startswith("-----BEGIN CERTIFICATE REQUEST-----\n"))
        self.assertTrue(pem.endswith("-----END CERTIFICATE REQUEST-----\n"))
        out = self.cli("csr", "-f", self.m, "--site", "www.example.com").stdout
        self.assertIn(pem, out)
        self.assertNotIn(self.p("ssl.csr/b.csr").read_text(), out)
        self.assertIn("9-digit reference number", out)
        self.assertIn("16-digit e-Cert PIN", out)
        steps = out[out.index(pem) + len(pem):]
        self.assertIn("www.example.com", steps)
        j = self.cli_json("csr", "-f", self.m, "--site", "www.example.com")
        self.assertEqual(j["csr_pem"], pem)
        self.assertIsInstance(j["steps"], list)
        joined = "\n".join(j["steps"])
        self.assertIn("www.example.com", joined)
        self.assertIn("9-digit reference number", joined)
        self.assertIn("16-digit e-Cert PIN", joined)
        self.assertEqual(j["format_version"], "1")

    def test_unknown_site_lists_sites(self):
        for cmd in ("csr", "plan", "apply"):
            cp = self.cli(cmd, "-f", self.m, "--site", "www.nope.example.com", rc=1)
            err = cp.stdout + cp.stderr
            self.assertIn("www.nope.example.com", err, cmd)
            self.assertIn("www.example.com", err, cmd)
            self.assertIn("www.other.example.net", err, cmd)
        self.assertFalse(self.p("ssl.key").exists())

    def test_site_limits_plan_and_apply(self):
        plan = self.cli_json("plan", "-f", self.m, "--site", "www.other.example.net")
        self.assertEqual([s["name"] for s in plan["sites"]], ["www.other.example.net"])
        both = self.cli_json("plan", "-f", self.m, "--site", "www.other.example.net", "--site", "www.example.com")
        self.assertEqual(sorted(s["name"] for s in both["sites"]), ["www.example.com", "www.other.example.net"])
        report = self.cli_json("apply", "-f", self.m, "--site", "www.other.example.net")
        self.assertEqual([s["name"] for s in report["sites"]], ["www.other.example.net"])
        self.assert_key(self.p("ssl.key/b.key"))
        self.assertFalse(self.p("ssl.key/a.key").exists(), "--site did not limit apply")
        self.assertFalse(self.p("ssl.csr/a.csr").exists())
        # The rest is still due.
        self.cli("plan", "-f", self.m, "--detailed-exitcode", rc=2)
        self.cli("plan", "-f", self.m, "--detailed-exitcode", "--site", "www.other.example.net", rc=0)


# ------------------------------------------------------------------------------
# 8. many keys in one run; progress on a terminal only


class ManySitesTest(CoreCase, unittest.TestCase):
    N = 8

    def _eight(self, sub: str) -> Path:
        self.mdir = self.tmp / sub
        self.mdir.mkdir()
        self.mpath = self.mdir / "ecert.yaml"
        self.conf = self.apache_dir / f"{sub}.conf"
        sites = [self.site(f"www{i}.example.com", f"s{i}") for i in range(self.N)]
        return self.manifest(sites)

    def _script(self, command: str) -> tuple[int, str]:
        if not shutil.which("script"):
            self.skipTest("util-linux script not installed")
        cp = h.run(["script", "-qec", command, "/dev/null"], env=self.env(), timeout=120)
        self.assertNotIn(PASSPHRASE, cp.stdout + cp.stderr)
        return cp.returncode, cp.stdout + cp.stderr

    def test_eight_keys_one_run_progress_on_terminal_only(self):
        exe = shlex.quote(h.ecertctl_path())
        m = self._eight("text")
        rc, out = self._script(f"{exe} apply -f {shlex.quote(str(m))}")
        self.assertEqual(rc, 0, out)
        self.assertIn("generating keys: 8/8", out)
        pubs = set()
        for i in range(self.N):
            key = self.p(f"ssl.key/s{i}.key")
            self.assert_key(key)
            self.assert_csr(self.p(f"ssl.csr/s{i}.csr"), f"www{i}.example.com")
            pubs.add(self.pubkey(key))
        self.assertEqual(len(pubs), self.N, "keys are not distinct")

        # JSON on a terminal: stdout is pure JSON, no progress anywhere.
        m = self._eight("json")
        out_file = self.tmp / "apply.json"
        rc, tty = self._script(f"{exe} apply -f {shlex.quote(str(m))} --format json > {shlex.quote(str(out_file))}")
        self.assertEqual(rc, 0, tty)
        raw = out_file.read_text()
        report = json.loads(raw)
        self.assertEqual(len(report["sites"]), self.N)
        self.assertNotIn("generating keys", raw + tty)
        for i in range(self.N):
            self.assertEqual(self.resources(report, f"www{i}.example.com")["key"]["action"], "create")
            self.assertTrue(self.p(f"ssl.key/s{i}.key").exists())


# ------------------------------------------------------------------------------
# 9. JSON shape


class JsonShapeTest(CoreCase, unittest.TestCase):
    TYPES = ["key", "csr", "certificate", "chain", "vhost"]
    ACTIONS = {"create", "update", "no-op", "pending", "error"}

    def _check(self, doc: dict):
        self.assertEqual(doc["format_version"], "1")
        self.assertIsInstance(doc["apache"]["restart"], bool)
        self.assertIsInstance(doc["sites"], list)
        self.assertGreater(len(doc["sites"]), 0)
        for s in doc["sites"]:
            self.assertIsInstance(s["name"], str)
            self.assertEqual([r["type"] for r in s["resources"]], self.TYPES, s)
            for r in s["resources"]:
                self.assertIn(r["action"], self.ACTIONS, r)
                self.assertIsInstance(r["reason"], str)
                self.assertTrue(r["reason"], r)

    def test_plan_and_apply_json_shape(self):
        m = self.manifest([self.site("www.example.com", "a")])
        plan = self.cli_json("plan", "-f", m)
        self._check(plan)
        self.assertFalse(plan["apache"]["restart"])
        self.assertEqual(self.resources(plan, "www.example.com")["key"]["action"], "create")
        self._check(self.cli_json("apply", "-f", m, "--dry-run"))
        self._check(self.cli_json("apply", "-f", m))
        # A certificate arrives: the plan says Apache would restart.
        self.pki.issue(self.p("ssl.csr/a.csr"), self.p("ssl.crt/a.cer"), "standard")
        plan = self.cli_json("plan", "-f", m)
        self._check(plan)
        self.assertTrue(plan["apache"]["restart"], plan["apache"])


if __name__ == "__main__":
    unittest.main()
