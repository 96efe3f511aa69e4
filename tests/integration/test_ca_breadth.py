"""Chain breadth against a real Apache and real TLS handshakes:
- fullchain: Apache serves leaf, sub CA and cross certificate from the one
  SSLCertificateFile (no SSLCertificateChainFile), verified to the test trust
  root only; a site moves from its chain file to a fullchain and back with one
  restart each way, and its vhost returns byte for byte;
- CA rollover: a certificate from the reissued sub CA (same name, new key) is
  refused while only the old file is listed, with the message that says what
  to do, and served with the reissued sub CA once both are listed (chosen by
  signature, whatever the list's order); status names the file; a renewal
  across the rollover moves chain and fullchain to the reissued sub CA; a sub
  CA that ends before the certificate is a warning; two sites whose
  certificates need different sub CAs cannot share a chain file;
- OCSP stapling: SSLUseStapling and a server-level SSLStaplingCache pass the
  real configtest, Apache restarts on them and serves; turning stapling off
  returns every configuration file byte for byte, and an operator's own
  SSLStaplingCache is used, never duplicated.

The fullchain and rollover classes each share one PKI and one running
Debian-layout sandbox (sites of its own per test, one vhost file each) to keep
the module fast; each stapling test has an Apache of its own."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import unittest
from pathlib import Path

import harness as h
from e2e import PASSPHRASE, E2ECase

RESUMED = "configured -- resuming normal operations"  # Apache logs it after each (re)start
GRACEFUL = "Doing graceful restart"


class ChainCase(E2ECase):
    """Helpers for tests that drive one Apache sandbox, self.sb."""

    def new_site(self, name: str, stem: str, **extra) -> tuple[dict, Path]:
        """A vhost for name with a placeholder certificate, where add_vhost
        puts it (Debian: a sites-available file of its own), and the
        manifest's site for it, with a chain file of its own unless extra
        says otherwise; (site, vhost file)."""
        vhost_file = self.sb.add_vhost(name)
        extra.setdefault("chain", f"ssl.crt/{stem}-chain.crt")
        return self.site(self.sb, name, stem=stem, **extra), vhost_file

    def apply(self, m: Path, expect_rc: int = 0) -> dict:
        return self.run_json("apply", "-f", str(m), sb=self.sb, expect_rc=expect_rc)

    def restarts(self) -> int:
        return self.sb.error_log().count(GRACEFUL)

    def assert_restarted_once(self, before: int) -> None:
        """Exactly one graceful restart since there were `before`, and Apache
        has finished it. REQUIRES: Apache was started once and since then only
        restarted gracefully (it logs RESUMED at the start and after each
        restart)."""
        deadline = time.monotonic() + 10
        while self.sb.error_log().count(RESUMED) < before + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.restarts(), before + 1, self.sb.error_log()[-3000:])
        self.assertEqual(self.sb.error_log().count(RESUMED), before + 2, self.sb.error_log()[-3000:])

    def assert_serves_chain(self, name: str, leaf: Path, sub: Path) -> None:
        """The handshake for name shows leaf, sub and the cross certificate, in
        that order and nothing else, and verifies to the test trust root
        alone (the GlobalSign-like root; the Hongkong Post root is not in it)."""
        chain = h.wait_for_served(self.sb.port, name, leaf)
        self.assertEqual([h.cert_fingerprint(c) for c in chain],
                         [h.cert_fingerprint(p) for p in (leaf, sub, self.pki.cross_path)],
                         f"{name}: served {[h.cert_subject(c) for c in chain]}")
        ok, out = h.verify_handshake(self.sb.port, name, self.pki.trust_path)
        self.assertTrue(ok, f"{name}: the handshake did not verify to the test root alone\n{out[-3000:]}")

    def converge(self, site: dict, m: Path, sub: h.CA | None = None) -> Path:
        """apply (key and CSR), the CA issues (from `sub`, default the real
        sub CA), apply again; returns the certificate."""
        first = self.apply(m)
        self.assertEqual(self.resources(first, site["name"])["certificate"]["action"], "pending", first)
        cert = self.issue(site, sub=sub)
        report = self.apply(m)
        self.assertTrue(report["apache"]["restart"], report)
        return cert

    def assert_second_apply_changes_nothing(self, m: Path, *files: Path) -> None:
        """apply again: every resource a no-op, no restart, no file touched."""
        stat = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}
        restarts = self.restarts()
        again = self.apply(m)
        self.assertFalse(again["changed"], again)
        self.assertFalse(again["apache"]["restart"], again)
        for s in again["sites"]:
            self.assertEqual({r["type"]: r["action"] for r in s["resources"] if r["action"] != "no-op"}, {}, s)
        self.assertEqual({p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files}, stat)
        self.assertEqual(self.restarts(), restarts)

    def status_json(self, m: Path) -> dict:
        return self.run_json("status", "-f", str(m), sb=self.sb)


class SharedSandboxCase(ChainCase):
    """One PKI, manifest directory, state directory and running Debian-layout
    Apache (self.sb) per class; each test adds sites of its own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.class_tmp = Path(tempfile.mkdtemp(prefix=f"ecert-{cls.__name__}-"))
        cls.addClassCleanup(cls._remove_class_tmp)
        cls.pki = h.TestPKI(cls.class_tmp / "pki")
        cls.state_dir = cls.class_tmp / "state"
        cls.manifest_dir = cls.class_tmp / "manifest"
        cls.manifest_dir.mkdir()
        cls.sb = h.ApacheSandbox(cls.class_tmp / "apache", layout="debian")
        cls.addClassCleanup(cls.sb.stop)
        cls.sb.set_passphrase(PASSPHRASE)
        cls.sb.start()

    @classmethod
    def _remove_class_tmp(cls):
        if os.environ.get("KEEP_TMP"):
            print(f"\nkept {cls.class_tmp}")
        else:
            shutil.rmtree(cls.class_tmp, ignore_errors=True)

    def setUp(self):
        # The per-test scratch directory only: PKI, sandbox and manifest
        # directory are the class's (E2ECase.setUp would make new ones).
        h.IntegrationTestCase.setUp(self)


def site_status(status: dict, name: str) -> dict:
    return next(s for s in status["sites"] if s["name"] == name)


class FullchainTest(SharedSandboxCase, unittest.TestCase):
    def test_a_new_site_with_a_fullchain_serves_leaf_sub_and_cross_from_one_file(self):
        name = "www.full.test"
        site, vhost_file = self.new_site(name, "full", fullchain="ssl.crt/full-fullchain.crt")
        m = self.manifest(self.sb, [site])
        fullchain = self.path_in_manifest(site["fullchain"])

        first = self.apply(m)
        pending = self.resources(first, name)
        self.assertEqual((pending["certificate"]["action"], pending["fullchain"]["action"]), ("pending", "pending"))
        self.assertFalse(fullchain.exists())
        cert = self.issue(site, der=True)  # as the CA's site hands it out
        issued = shutil.copy(cert, self.tmp / "issued.cer")
        restarts = self.restarts()
        report = self.apply(m)
        res = self.resources(report, name)
        self.assertEqual((res["certificate"]["action"], res["fullchain"]["action"]), ("update", "create"), res)
        self.assertIn("DER file rewritten as PEM in place", res["certificate"]["reason"])
        self.assertTrue(cert.read_text().startswith("-----BEGIN CERTIFICATE-----"))
        self.assertEqual(h.cert_fingerprint(cert), h.cert_fingerprint(issued))
        self.assertTrue(report["sites"][0]["verify"]["ok"], report)
        self.assert_restarted_once(restarts)

        self.assertEqual(fullchain.read_text(), cert.read_text() + self.pki.chain_pem("standard"))
        text = vhost_file.read_text()
        self.assertIn(f"    SSLCertificateFile {fullchain}\n", text)
        self.assertIn(f"    SSLCertificateKeyFile {site['key']}\n", text)
        self.assertNotIn("SSLCertificateChainFile", text)
        self.assertTrue((self.sb.conf_dir / "sites-enabled" / vhost_file.name).is_symlink())
        self.assert_serves_chain(name, cert, self.pki.ssl_sub_path)
        self.assert_second_apply_changes_nothing(m, vhost_file, fullchain, self.path_in_manifest(site["chain"]))

    def test_chain_file_to_fullchain_and_back_is_one_clean_update_each_way(self):
        name = "www.roundtrip.test"
        site, vhost_file = self.new_site(name, "roundtrip")
        cert = self.converge(site, self.manifest(self.sb, [site]))
        chain = self.path_in_manifest(site["chain"])
        chain_form = vhost_file.read_bytes()
        cert_line = f"    SSLCertificateFile {cert}\n"
        chain_line = f"    SSLCertificateChainFile {chain}\n"
        self.assertIn(cert_line.encode(), chain_form)
        self.assertIn(chain_line.encode(), chain_form)
        self.assert_serves_chain(name, cert, self.pki.ssl_sub_path)

        # To the fullchain: SSLCertificateFile changes, SSLCertificateChainFile
        # goes, no other byte moves; one restart; the same chain is served.
        site["fullchain"] = "ssl.crt/roundtrip-fullchain.crt"
        fullchain = self.path_in_manifest(site["fullchain"])
        m = self.manifest(self.sb, [site])
        restarts = self.restarts()
        report = self.apply(m)
        res = self.resources(report, name)
        self.assertEqual({k: r["action"] for k, r in res.items()},
                         {"key": "no-op", "csr": "no-op", "certificate": "no-op", "chain": "no-op",
                          "fullchain": "create", "vhost": "update"})
        self.assertIn(f"remove SSLCertificateChainFile {chain}", res["vhost"]["reason"])
        self.assert_restarted_once(restarts)
        expected = chain_form.decode().replace(cert_line, f"    SSLCertificateFile {fullchain}\n").replace(chain_line, "")
        self.assertEqual(vhost_file.read_text(), expected)
        self.assertEqual(fullchain.read_text(), cert.read_text() + chain.read_text())
        self.assert_serves_chain(name, cert, self.pki.ssl_sub_path)
        self.assert_second_apply_changes_nothing(m, vhost_file, fullchain, chain)

        # And back: the vhost is its chain-file self again, byte for byte.
        del site["fullchain"]
        m = self.manifest(self.sb, [site])
        restarts = self.restarts()
        report = self.apply(m)
        res = self.resources(report, name)
        self.assertNotIn("fullchain", res)
        self.assertEqual(res["vhost"]["action"], "update", res)
        self.assert_restarted_once(restarts)
        self.assertEqual(vhost_file.read_bytes(), chain_form)
        self.assert_serves_chain(name, cert, self.pki.ssl_sub_path)
        self.assert_second_apply_changes_nothing(m, vhost_file, chain)


class RolloverTest(SharedSandboxCase, unittest.TestCase):
    """Hongkong Post reissued its sub CAs in 2025: same names, new keys."""

    ISSUER = "Hongkong Post e-Cert SSL CA 3 - 17"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.old = cls.pki.ssl_sub
        cls.new = cls.pki.reissued_sub()

    def test_reissued_sub_ca_is_refused_until_listed_then_chosen_and_served(self):
        name = "www.rollover.test"
        site, vhost_file = self.new_site(name, "rollover")  # ca.sub: the old file only
        self.assertEqual(site["ca"]["sub"], str(self.old.cert))
        m = self.manifest(self.sb, [site])
        self.apply(m)
        cert = self.issue(site, sub=self.new)
        vhost_before = vhost_file.read_bytes()
        served_before = h.served_chain(self.sb.port, name)[0]
        restarts = self.restarts()

        refused = self.apply(m, expect_rc=1)
        res = self.resources(refused, name)
        self.assertEqual(res["certificate"]["action"], "error", res)
        reason = res["certificate"]["reason"]
        self.assertIn(f"certificate was not issued by the sub CA in {self.old.cert}: its issuer name "
                      f"'{self.ISSUER}' matches that CA's, but that CA's key did not sign it", reason)
        self.assertIn(f"download the reissued file from the CA's site and list it in ca.sub beside {self.old.cert}",
                      reason)
        self.assertEqual((res["chain"]["action"], res["vhost"]["action"]), ("error", "error"), res)
        self.assertFalse(refused["apache"]["restart"], refused)
        self.assertFalse(self.path_in_manifest(site["chain"]).exists())
        self.assertEqual(vhost_file.read_bytes(), vhost_before)
        self.assertEqual(self.restarts(), restarts)
        self.assertEqual(h.served_chain(self.sb.port, name)[0], served_before)

        # Both files listed: the one whose key signed the certificate is chosen.
        site["ca"]["sub"] = [str(self.old.cert), str(self.new.cert)]
        m = self.manifest(self.sb, [site])
        report = self.apply(m)
        self.assertEqual(report["sites"][0]["warnings"], [])
        self.assertEqual(self.path_in_manifest(site["chain"]).read_text(),
                         self.new.cert.read_text() + self.pki.cross_path.read_text())
        self.assert_restarted_once(restarts)
        self.assert_serves_chain(name, cert, self.new.cert)
        status = site_status(self.status_json(m), name)
        self.assertEqual(status["chain"]["sub_ca"], str(self.new.cert), status)
        self.assertEqual(status["state"], "ok", status)

    def test_text_status_names_the_chosen_sub_ca_file(self):
        """`status` in text names the sub CA's file, not only its CN, which
        the old and the reissued file share (JSON has chain.sub_ca)."""
        name = "www.textstatus.test"
        site, _ = self.new_site(name, "textstatus")
        site["ca"]["sub"] = [str(self.old.cert), str(self.new.cert)]
        m = self.manifest(self.sb, [site])
        self.converge(site, m, sub=self.new)
        cp = self.ecertctl("status", "-f", m, env=self.env(self.sb))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn(str(self.new.cert), cp.stdout)

    def test_renewal_across_the_rollover_moves_chain_and_fullchain_to_the_reissued_sub_ca(self):
        name = "www.renewed.test"
        site, vhost_file = self.new_site(name, "renewed", fullchain="ssl.crt/renewed-fullchain.crt")
        site["ca"]["sub"] = [str(self.old.cert), str(self.new.cert)]
        m = self.manifest(self.sb, [site])
        old_cert = self.converge(site, m, sub=self.old)
        fullchain = self.path_in_manifest(site["fullchain"])
        chain = self.path_in_manifest(site["chain"])
        self.assert_serves_chain(name, old_cert, self.old.cert)
        self.assertEqual(site_status(self.status_json(m), name)["chain"]["sub_ca"], str(self.old.cert))
        old_fullchain = fullchain.read_bytes()

        rotated = self.run_json("rotate", "-f", str(m), "--site", name, sb=self.sb)
        self.assertTrue(rotated["created"], rotated)
        staged_csr = Path(str(self.path_in_manifest(site["csr"])) + ".new")
        renewed = self.pki.issue(staged_csr, Path(str(self.path_in_manifest(site["certificate"])) + ".new"),
                                 sub=self.new).read_text()
        restarts = self.restarts()
        report = self.apply(m)
        res = self.resources(report, name)
        self.assertEqual({k: res[k]["action"] for k in ("key", "certificate", "chain", "fullchain")},
                         {"key": "update", "certificate": "update", "chain": "update", "fullchain": "update"}, res)
        self.assert_restarted_once(restarts)
        self.assertEqual(chain.read_text(), self.new.cert.read_text() + self.pki.cross_path.read_text())
        self.assertEqual(self.path_in_manifest(site["certificate"]).read_text(), renewed)
        self.assertEqual(fullchain.read_text(), renewed + chain.read_text())
        kept = list(fullchain.parent.glob(fullchain.name + ".old-*"))
        self.assertEqual([p.read_bytes() for p in kept], [old_fullchain])
        self.assertNotIn("SSLCertificateChainFile", vhost_file.read_text())
        self.assert_serves_chain(name, self.path_in_manifest(site["certificate"]), self.new.cert)
        self.assertEqual(site_status(self.status_json(m), name)["chain"]["sub_ca"], str(self.new.cert))

    def test_a_sub_ca_that_ends_before_the_certificate_is_a_warning(self):
        name = "www.shortlived.test"
        short = self.pki.reissued_sub(days=100, label="short-lived")
        site, _ = self.new_site(name, "shortlived")
        site["ca"]["sub"] = [str(self.old.cert), str(short.cert)]
        m = self.manifest(self.sb, [site])
        self.apply(m)
        cert = self.issue(site, sub=short, days=365)
        report = self.apply(m)
        warnings = report["sites"][0]["warnings"]
        self.assertEqual(len(warnings), 1, warnings)
        self.assertTrue(warnings[0].startswith(f"the sub CA '{self.ISSUER}' in {short.cert} expires on "), warnings)
        self.assertIn(", before the certificate does (", warnings[0])
        self.assertIn("get its successor from the CA's site and list it", warnings[0])
        self.assertFalse(report["failed"], report)
        self.assert_serves_chain(name, cert, short.cert)
        status = site_status(self.status_json(m), name)
        self.assertEqual(status["warnings"], warnings)
        self.assertEqual(status["chain"]["sub_ca"], str(short.cert))

    def test_sites_whose_certificates_need_different_sub_cas_cannot_share_a_chain_file(self):
        first, second = "www.before.test", "www.after.test"
        sites = []
        for name, stem in ((first, "before"), (second, "after")):
            site, _ = self.new_site(name, stem, chain="ssl.crt/shared-chain.crt")
            # The reissued file first: the choice is by signature, not by order.
            site["ca"]["sub"] = [str(self.new.cert), str(self.old.cert)]
            sites.append(site)
        m = self.manifest(self.sb, sites)
        self.apply(m)
        first_cert = self.issue(sites[0], sub=self.old)
        self.issue(sites[1], sub=self.new)
        after_vhost = self.sb.vhost_file_path(None, second).read_bytes()

        report = self.apply(m, expect_rc=1)
        chain = self.resources(report, second)["chain"]
        self.assertEqual(chain["action"], "error", chain)
        self.assertIn(f"{self.path_in_manifest('ssl.crt/shared-chain.crt')} is shared with {first}, whose "
                      f"certificate chains to the sub CA in {self.old.cert}, while this one's chains to "
                      f"{self.new.cert}; give this site a chain file of its own", chain["reason"])
        self.assertEqual(self.resources(report, second)["vhost"]["action"], "error")
        self.assertEqual(self.sb.vhost_file_path(None, second).read_bytes(), after_vhost)
        self.assert_serves_chain(first, first_cert, self.old.cert)
        self.assertEqual(self.path_in_manifest("ssl.crt/shared-chain.crt").read_text(),
                         self.old.cert.read_text() + self.pki.cross_path.read_text())


class StaplingTest(ChainCase, unittest.TestCase):
    """Stapling changes the server's configuration and what Apache's process
    keeps across restarts (mod_ssl's module-wide settings): each test has an
    Apache of its own."""

    MARKED_LINE = "    # ecertctl: vhost.stapling\n    SSLUseStapling on\n"
    CACHE_BLOCK = ("# ecertctl: OCSP stapling cache for vhost.stapling\n<IfModule mod_ssl.c>\n"
                   "    SSLStaplingCache shmcb:ssl_stapling(65536)\n</IfModule>\n")

    def start(self, layout: str, *names: str, before_start=None) -> list[tuple[dict, Path]]:
        """A running sandbox (self.sb) with a vhost per name; `before_start`
        may edit its configuration first. The sites, as new_site makes them."""
        self.sb = self.sandbox(layout)
        sites = [self.new_site(n, n.split(".")[1]) for n in names]
        if before_start:
            before_start()
        self.sb.start()
        return sites

    def config_files(self) -> dict[Path, bytes]:
        """Every configuration file of the sandbox (symlinks aside), by path."""
        return {p: p.read_bytes() for p in sorted(self.sb.conf_dir.rglob("*"))
                if p.is_file() and not p.is_symlink() and p.parent.name not in ("ssl.key", "ssl.crt", "ssl.csr")}

    def changed_since(self, before: dict[Path, bytes]) -> set[Path]:
        return {p for p, b in self.config_files().items() if before.get(p) != b}

    def set_stapling(self, site: dict, on: bool | None) -> None:
        """vhost.stapling as given; None leaves the key out."""
        site["vhost"].pop("stapling", None)
        if on is not None:
            site["vhost"]["stapling"] = on

    def assert_configtest_passes(self) -> None:
        """The sandbox's own configtest: apache2 -t, through apache2ctl for Debian."""
        cp = self.sb.configtest()
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn("Syntax OK", cp.stdout + cp.stderr)

    def assert_stapling_configured(self, name: str) -> None:
        """mod_ssl read SSLUseStapling for the site's certificate: it found the
        issuer in the chain, then no OCSP URI to ask (the test PKI runs no
        responder), which it logs and serves on without a staple."""
        self.assertIn("AH02218: ssl_stapling_init_cert: no OCSP URI in certificate and no SSLStaplingForceURL "
                      f"set [subject: CN={name},", self.sb.error_log())

    def wait_restart_outcome(self, restarts: int) -> None:
        """After a graceful restart was sent: until Apache either finished it
        (RESUMED once more than restarts) or gave up (AH00020), at most 10 s."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            log = self.sb.error_log()
            if log.count(RESUMED) >= restarts + 2:
                return
            if "AH00020: Configuration Failed" in log:
                while self.sb.is_running() and time.monotonic() < deadline:
                    time.sleep(0.05)
                return
            time.sleep(0.05)

    def test_on_then_off_with_the_guides_stop_start_restart(self):
        """The CA guide's layout and restart (apachectl stop; apachectl
        start): SSLUseStapling in the vhost and the cache in httpd.conf pass
        `apache2 -t`, Apache starts on them and serves; off, the vhost is as
        it was and the server's cache stays."""
        (site, vhost_file), = self.start("simple", "www.staple.test")
        name = site["name"]
        m = self.manifest(self.sb, [site], restart=self.sb.manifest_apache("stop-start")["restart"])
        cert = self.converge(site, m)
        before = self.config_files()
        vhost_text, root_text = vhost_file.read_text(), self.sb.config_path.read_text()
        for directive in ("SSLUseStapling", "SSLStaplingCache"):
            self.assertNotIn(directive, "".join(b.decode() for b in before.values()))

        pid = self.sb.pid()
        self.set_stapling(site, True)
        m = self.manifest(self.sb, [site], restart=self.sb.manifest_apache("stop-start")["restart"])
        reason = self.resources(self.apply(m), name)["vhost"]["reason"]
        self.assertIn("set SSLUseStapling on", reason)
        self.assertIn(f"add an SSLStaplingCache at server level (end of {self.sb.config_path})", reason)
        self.assertEqual(vhost_file.read_text(),
                         vhost_text.replace("</VirtualHost>", self.MARKED_LINE + "</VirtualHost>"))
        self.assertEqual(self.sb.config_path.read_text(), root_text + self.CACHE_BLOCK)
        self.assertEqual(self.changed_since(before), {vhost_file, self.sb.config_path})
        self.assert_configtest_passes()
        self.assertNotEqual(self.sb.pid(), pid, "Apache was not restarted")
        self.assert_serves_chain(name, cert, self.pki.ssl_sub_path)
        self.assert_stapling_configured(name)
        self.assert_second_apply_changes_nothing(m, vhost_file, self.sb.config_path)

        pid = self.sb.pid()
        self.set_stapling(site, None)
        m = self.manifest(self.sb, [site], restart=self.sb.manifest_apache("stop-start")["restart"])
        reason = self.resources(self.apply(m), name)["vhost"]["reason"]
        self.assertIn("remove the SSLUseStapling ecertctl added", reason)
        self.assertNotIn("SSLStaplingCache", reason)
        # The vhost is as it was; the server's cache stays (mod_ssl keeps it
        # across a graceful restart, and Apache exits on one without it).
        self.assertEqual(self.changed_since(before), {self.sb.config_path})
        self.assertEqual(self.sb.config_path.read_text(), root_text + self.CACHE_BLOCK)
        self.assert_configtest_passes()
        self.assertNotEqual(self.sb.pid(), pid, "Apache was not restarted")
        self.assert_serves_chain(name, cert, self.pki.ssl_sub_path)

    def test_an_operators_own_stapling_cache_is_used_and_kept(self):
        """Debian with a cache in mods-available/ssl.conf: only the vhost
        changes, one graceful restart each way, and `stapling: false` takes
        back just the vhost's line."""
        ssl_conf = []

        def own_cache():
            ssl_conf.append(self.sb.conf_dir / "mods-available" / "ssl.conf")
            ssl_conf[0].write_text(ssl_conf[0].read_text().replace(
                "</IfModule>", "\tSSLStaplingCache shmcb:${APACHE_RUN_DIR}/ocsp_stapling(32768)\n</IfModule>"))

        (site, vhost_file), = self.start("debian", "www.owncache.test", before_start=own_cache)
        name = site["name"]
        cert = self.converge(site, self.manifest(self.sb, [site]))
        before = self.config_files()

        restarts = self.restarts()
        self.set_stapling(site, True)
        report = self.apply(self.manifest(self.sb, [site]))
        self.assertNotIn("SSLStaplingCache", self.resources(report, name)["vhost"]["reason"])
        self.assertEqual(self.changed_since(before), {vhost_file})
        self.assertIn(self.MARKED_LINE + "</VirtualHost>", vhost_file.read_text())
        self.assert_restarted_once(restarts)
        self.assert_configtest_passes()
        self.assert_serves_chain(name, cert, self.pki.ssl_sub_path)
        self.assert_stapling_configured(name)

        restarts = self.restarts()
        self.set_stapling(site, False)
        self.apply(self.manifest(self.sb, [site]))
        self.assertEqual(self.config_files(), before)
        self.assert_restarted_once(restarts)
        self.assert_serves_chain(name, cert, self.pki.ssl_sub_path)

    def test_off_over_an_operators_own_stapling_line_leaves_a_server_that_starts(self):
        """Over the operator's `SSLUseStapling off`, on puts a marked `on` in
        its place, so off takes the vhost back to Apache's default (off, no
        line); the cache stays, and Apache starts and serves throughout (it
        once refused: "AH01958: SSLStapling: no stapling cache available")."""
        (site, vhost_file), = self.start("simple", "www.ownline.test")
        vhost_file.write_text(vhost_file.read_text().replace("</VirtualHost>", "    SSLUseStapling off\n</VirtualHost>"))
        restart = self.sb.manifest_apache("stop-start")["restart"]
        cert = self.converge(site, self.manifest(self.sb, [site], restart=restart))
        before = self.config_files()
        self.set_stapling(site, True)
        self.apply(self.manifest(self.sb, [site], restart=restart))
        self.assertIn("    SSLUseStapling on\n", vhost_file.read_text())
        self.assert_serves_chain(site["name"], cert, self.pki.ssl_sub_path)

        self.set_stapling(site, False)
        self.apply(self.manifest(self.sb, [site], restart=restart))
        self.assert_serves_chain(site["name"], cert, self.pki.ssl_sub_path)
        self.assertNotIn("SSLUseStapling", vhost_file.read_text())
        self.assertEqual(vhost_file.read_text(), before[vhost_file].decode().replace("    SSLUseStapling off\n", ""))
        self.assertTrue(self.sb.config_path.read_text().endswith(self.CACHE_BLOCK))

    def test_off_with_a_graceful_restart_keeps_apache_up(self):
        """Debian's default restart is graceful. mod_ssl keeps its module-wide
        SSLStaplingCache across a graceful restart, so one into a
        configuration without it ends Apache ("AH01872: Could not initialize
        stapling cache. Exiting.", AH00020): turning stapling off removes the
        vhost's line and keeps the cache, and Apache stays up."""
        (site, vhost_file), = self.start("debian", "www.graceful.test")
        del site["vhost"]["verify"]
        name = site["name"]
        cert = self.converge(site, self.manifest(self.sb, [site]))
        before = self.config_files()
        self.set_stapling(site, True)
        self.apply(self.manifest(self.sb, [site]))
        self.assert_serves_chain(name, cert, self.pki.ssl_sub_path)
        self.assert_stapling_configured(name)

        restarts = self.restarts()
        self.set_stapling(site, None)
        self.apply(self.manifest(self.sb, [site]))
        self.assertEqual(self.changed_since(before), {self.sb.config_path})  # the cache, kept
        self.assertEqual(vhost_file.read_bytes(), before[vhost_file])
        self.wait_restart_outcome(restarts)
        self.assertTrue(self.sb.is_running(), [l for l in self.sb.error_log().splitlines() if ":emerg]" in l])
        self.assert_serves_chain(name, cert, self.pki.ssl_sub_path)

    def test_apply_for_one_site_keeps_the_cache_another_site_staples_with(self):
        """`apply --site A` once planned with the manifest narrowed to A, so
        when A stopped stapling the cache went while B's vhost still had
        SSLUseStapling on (apache2 -t does not notice; the restart ends
        Apache). The cache stays now."""
        (a, a_file), (b, b_file) = self.start("debian", "www.first.test", "www.second.test")
        for site in (a, b):
            del site["vhost"]["verify"]
            self.set_stapling(site, True)
        m = self.manifest(self.sb, [a, b])
        self.apply(m)
        certs = [self.issue(a), self.issue(b)]
        self.apply(m)
        for site, cert in zip((a, b), certs):
            self.assert_serves_chain(site["name"], cert, self.pki.ssl_sub_path)
        root, b_vhost = self.sb.config_path.read_text(), b_file.read_bytes()
        self.assertTrue(root.endswith(self.CACHE_BLOCK))

        restarts = self.restarts()
        self.set_stapling(a, False)
        m = self.manifest(self.sb, [a, b])
        self.run_json("apply", "-f", str(m), "--site", a["name"], sb=self.sb)
        self.assertNotIn("SSLUseStapling", a_file.read_text())
        self.assertEqual(b_file.read_bytes(), b_vhost)
        self.assertEqual(self.sb.config_path.read_text(), root, "the cache that www.second.test staples with went")
        self.wait_restart_outcome(restarts)
        for site, cert in zip((a, b), certs):
            self.assert_serves_chain(site["name"], cert, self.pki.ssl_sub_path)


if __name__ == "__main__":
    unittest.main()
