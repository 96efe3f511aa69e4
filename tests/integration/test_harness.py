"""Tests of the integration harness itself (TestPKI, ApacheSandbox, TLS helpers).

Run: cd tests/integration && python3 -m unittest -v test_harness
"""

import os
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import harness as h


def openssl_verify(trust, untrusted, leaf):
    argv = ["openssl", "verify", "-no-CApath", "-no-CAstore", "-CAfile", str(trust)]
    if untrusted:
        argv += ["-untrusted", str(untrusted)]
    return h.run(argv + [str(leaf)])


def cert_text(path_or_pem):
    if isinstance(path_or_pem, str) and "-----BEGIN" in path_or_pem:
        return h.run(["openssl", "x509", "-noout", "-text"], input=path_or_pem, check=True).stdout
    return h.run(["openssl", "x509", "-noout", "-text", "-in", str(path_or_pem)], check=True).stdout


def pubkey(path):
    return h.run(["openssl", "x509", "-noout", "-pubkey", "-in", str(path)], check=True).stdout


class PKITest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="harness-pki-"))
        cls.pki = h.TestPKI(cls.tmp / "pki")
        cls.key = h.gen_key(cls.tmp / "leaf.key")
        cls.csr = h.make_csr(cls.key, cls.tmp / "leaf.csr", "www.example.com", "My Organization")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_hierarchy_shape(self):
        p = self.pki
        self.assertEqual(p.ssl_sub_path.name, "ecert_ssl_ca_3-17_pem.crt")
        self.assertEqual(p.ev_sub_path.name, "ecert_ev_ssl_ca_3-17_pem.crt")
        self.assertEqual(p.cross_path.name, "root_ca_3_x_gsca_r3_pem.crt")
        self.assertEqual(h.cert_subject(p.gs_root_path), "CN=GlobalSign,O=GlobalSign,OU=GlobalSign Root CA - R3")
        hk = "CN=Hongkong Post Root CA 3,O=Hongkong Post,L=Hong Kong,ST=Hong Kong,C=HK"
        self.assertEqual(h.cert_subject(p.hk_root_path), hk)
        self.assertEqual(h.cert_issuer(p.hk_root_path), hk)
        # cross certificate: same subject and key as the HK root, issued by GlobalSign
        self.assertEqual(h.cert_subject(p.cross_path), hk)
        self.assertEqual(h.cert_issuer(p.cross_path), h.cert_subject(p.gs_root_path))
        self.assertEqual(pubkey(p.cross_path), pubkey(p.hk_root_path))
        for sub, cn in ((p.ssl_sub_path, "Hongkong Post e-Cert SSL CA 3 - 17"),
                        (p.ev_sub_path, "Hongkong Post e-Cert EV SSL CA 3 - 17")):
            self.assertTrue(h.cert_subject(sub).startswith(f"CN={cn},O=Hongkong Post"))
            self.assertEqual(h.cert_issuer(sub), hk)
            text = cert_text(sub)
            self.assertIn("CA:TRUE", text)
            self.assertIn("Certificate Sign, CRL Sign", text)
            self.assertIn("X509v3 Subject Key Identifier", text)
            self.assertIn("X509v3 Authority Key Identifier", text)
            # sub CA -> cross -> GlobalSign-like root
            self.assertEqual(openssl_verify(p.trust_path, p.cross_path, sub).returncode, 0)
        # the trust bundle holds only the GlobalSign-like root
        trust = h.read_pems(p.trust_path)
        self.assertEqual(len(trust), 1)
        self.assertEqual(h.cert_fingerprint(trust[0]), h.cert_fingerprint(p.gs_root_path))
        self.assertEqual(len(h.read_pems(p.trust_both_path)), 2)
        self.assertEqual(h.read_pems(p.chain_pem("ev")),
                         h.read_pems(p.ev_sub_path) + h.read_pems(p.cross_path))

    def test_issue_standard_and_ev_verify(self):
        for feature, sub in (("standard", self.pki.ssl_sub_path), ("ev", self.pki.ev_sub_path)):
            with self.subTest(feature=feature):
                leaf = self.pki.issue(self.csr, self.tmp / f"{feature}.crt", feature)
                chain = self.pki.write_chain(feature, self.tmp / f"{feature}-chain.crt")
                self.assertEqual(h.cert_issuer(leaf), h.cert_subject(sub))
                cp = openssl_verify(self.pki.trust_path, chain, leaf)
                self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
                # without the cross certificate the chain does not reach the trust bundle
                cp = openssl_verify(self.pki.trust_path, sub, leaf)
                self.assertNotEqual(cp.returncode, 0)
                text = cert_text(leaf)
                self.assertIn("DNS:www.example.com", text)
                self.assertIn("CA:FALSE", text)
                self.assertIn(h.OID_EV if feature == "ev" else h.OID_OV, text)
                if feature == "standard":
                    self.assertNotIn(h.OID_EV, text)
        # an EV leaf does not verify through the standard sub CA
        cp = openssl_verify(self.pki.trust_path, self.pki.write_chain("standard", self.tmp / "c.crt"),
                            self.tmp / "ev.crt")
        self.assertNotEqual(cp.returncode, 0)

    def test_impostor_fails(self):
        imp = self.pki.impostor_sub()
        self.assertEqual(h.cert_subject(imp.cert), h.cert_subject(self.pki.ssl_sub_path))
        self.assertNotEqual(pubkey(imp.cert), pubkey(self.pki.ssl_sub_path))
        self.assertIs(self.pki.impostor_sub(), imp)
        leaf = self.pki.issue(self.csr, self.tmp / "impostor.crt", "standard", sub=imp)
        self.assertEqual(h.cert_issuer(leaf), h.cert_subject(self.pki.ssl_sub_path))
        chain = self.pki.write_chain("standard", self.tmp / "imp-chain.crt")
        cp = openssl_verify(self.pki.trust_path, chain, leaf)
        self.assertNotEqual(cp.returncode, 0, cp.stdout)
        # nor with the impostor's own chain (its root is not trusted)
        both = self.tmp / "imp-untrusted.crt"
        both.write_text(imp.cert.read_text() + self.pki.cross_path.read_text())
        self.assertNotEqual(openssl_verify(self.pki.trust_path, both, leaf).returncode, 0)

    def test_reissued_sub_verifies_to_the_root_but_not_with_the_old_key(self):
        old = self.pki.ssl_sub
        new = self.pki.reissued_sub()
        self.assertIs(self.pki.reissued_sub(), new)
        self.assertEqual(new.cert.name, "reissued-ecert_ssl_ca_3-17_pem.crt")
        self.assertEqual(h.cert_subject(new.cert), h.cert_subject(old.cert))
        self.assertEqual(h.cert_issuer(new.cert), h.cert_subject(self.pki.hk_root_path))
        self.assertNotEqual(pubkey(new.cert), pubkey(old.cert))
        leaf = self.pki.issue(self.csr, self.tmp / "reissued.crt", "standard", sub=new)
        self.assertEqual(h.cert_issuer(leaf), h.cert_subject(old.cert))
        new_chain = self.tmp / "reissued-chain.crt"
        new_chain.write_text(new.cert.read_text() + self.pki.cross_path.read_text())
        cp = openssl_verify(self.pki.trust_path, new_chain, leaf)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        old_chain = self.pki.write_chain("standard", self.tmp / "old-chain.crt")
        self.assertNotEqual(openssl_verify(self.pki.trust_path, old_chain, leaf).returncode, 0)
        # a short-lived one ends when asked; a label is one CA
        short = self.pki.reissued_sub(days=30, label="short")
        self.assertNotEqual(pubkey(short.cert), pubkey(new.cert))
        cp = h.run(["openssl", "x509", "-in", str(short.cert), "-noout", "-checkend", str(31 * 86400)])
        self.assertNotEqual(cp.returncode, 0)  # ends within 31 days
        with self.assertRaises(ValueError):
            self.pki.reissued_sub(days=60, label="short")

    def test_issue_variants(self):
        wkey = h.gen_key(self.tmp / "w.key", kind="ec")
        wcsr = h.make_csr(wkey, self.tmp / "w.csr", "*.example.com")
        self.assertEqual(h.csr_common_name(wcsr), "*.example.com")
        w = self.pki.issue(wcsr, self.tmp / "w.crt", "wildcard")
        self.assertIn("DNS:*.example.com", cert_text(w))

        md = self.pki.issue(self.csr, self.tmp / "md.crt", "ev-multi-domain",
                            names=("www.example.com", "shop.example.com", "xn--3pqw8o2pk43espw.com"))
        text = cert_text(md)
        self.assertIn("DNS:www.example.com, DNS:shop.example.com, DNS:xn--3pqw8o2pk43espw.com", text)
        self.assertIn(h.OID_EV, text)

        der = self.pki.issue(self.csr, self.tmp / "cert0000812104.cer", "standard", der=True)
        self.assertEqual(der.read_bytes()[:1], b"\x30")
        self.assertNotIn(b"BEGIN", der.read_bytes())
        self.assertEqual(h.cert_subject(der), h.cert_subject(self.tmp / "standard.crt")
                         if (self.tmp / "standard.crt").exists() else h.cert_subject(der))

        expired = self.pki.issue(self.csr, self.tmp / "expired.crt", "standard",
                                 days=30, not_before_offset_days=-400)
        cp = openssl_verify(self.pki.trust_path, self.pki.write_chain("standard", self.tmp / "c2.crt"), expired)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn("expired", cp.stdout + cp.stderr)

        future = self.pki.issue(self.csr, self.tmp / "future.crt", "standard", not_before_offset_days=10)
        cp = openssl_verify(self.pki.trust_path, self.tmp / "c2.crt", future)
        self.assertIn("not yet valid", cp.stdout + cp.stderr)

        soon = self.pki.issue(self.csr, self.tmp / "soon.crt", "standard", days=20)
        cp = h.run(["openssl", "x509", "-in", str(soon), "-noout", "-checkend", str(30 * 86400)])
        self.assertNotEqual(cp.returncode, 0)  # expires within 30 days

    def test_encrypted_key_helpers(self):
        key = h.gen_key(self.tmp / "enc.key", passphrase="s3cret pass", cipher="des-ede3-cbc")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        self.assertIn("ENCRYPTED", key.read_text())
        csr = h.make_csr(key, self.tmp / "enc.csr", "enc.example.com", passphrase="s3cret pass")
        self.assertEqual(h.csr_common_name(csr), "enc.example.com")


class SandboxTests:
    """Mixin: the same tests for both layouts (not collected on its own)."""

    layout = "simple"

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix=f"harness-{cls.layout}-"))
        cls.pki = h.TestPKI(cls.tmp / "pki")
        cls.key = h.gen_key(cls.tmp / "site.key")
        csr = h.make_csr(cls.key, cls.tmp / "site.csr", "www.example.com")
        cls.leaf = cls.pki.issue(csr, cls.tmp / "site.crt", "standard", names=("example.com",))
        cls.chain = cls.pki.write_chain("standard", cls.tmp / "hkpostca.crt")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def make_sandbox(self, name):
        sb = h.ApacheSandbox(self.tmp / name, layout=self.layout)
        self.addCleanup(sb.stop)
        return sb

    def assert_serves_leaf_chain(self, sb, sni="www.example.com", leaf=None):
        ok, out = h.verify_handshake(sb.port, sni, self.pki.trust_path)
        self.assertTrue(ok, out)
        served = h.served_chain(sb.port, sni)
        expected = h.read_pems(leaf or self.leaf) + h.read_pems(self.chain)
        self.assertEqual([h.cert_fingerprint(c) for c in served],
                         [h.cert_fingerprint(c) for c in expected])

    def assert_stopped(self, sb, pid):
        sb.stop()
        self.assertIsNone(sb.pid())
        self.assertFalse(h._pid_alive(pid))
        self.assertFalse(h._port_open(sb.port))

    def test_serves_chain_and_stops(self):
        sb = self.make_sandbox("serve")
        sb.add_vhost("www.example.com", aliases=("example.com",),
                     ssl_files=(self.key, self.leaf, self.chain))
        sb.add_vhost("other.example.com")  # placeholder cert, same file / port
        cp = h.run(sb.configtest_argv(), env=sb.env())
        self.assertEqual(cp.returncode, 0, cp.stderr)
        pid = sb.start()
        self.assertEqual(sb.pid(), pid)
        self.assert_serves_leaf_chain(sb)
        self.assert_serves_leaf_chain(sb, sni="example.com")
        # the placeholder is served for the other name and does not verify
        other = h.served_chain(sb.port, "other.example.com")
        self.assertEqual(len(other), 1)
        self.assertIn("CN=other.example.com", h.cert_subject(other[0]))
        ok, _ = h.verify_handshake(sb.port, "other.example.com", self.pki.trust_path)
        self.assertFalse(ok)
        # the wrong trust anchor fails verification
        imp = self.pki.impostor_sub()
        ok, out = h.verify_handshake(sb.port, "www.example.com", imp.cert)
        self.assertFalse(ok, out)
        self.assert_stopped(sb, pid)
        self.assertEqual(h.served_chain(sb.port, "www.example.com", timeout=5), [])

    def test_restart_argv_starts_and_swaps_certificate(self):
        """What ecertctl does: configtest, then the restart argv list, with env()."""
        sb = self.make_sandbox("restart")
        vhost = sb.add_vhost("www.example.com")  # placeholder
        pid = sb.start()
        self.assertNotEqual(h.cert_fingerprint(h.served_chain(sb.port, "www.example.com")[0]),
                            h.cert_fingerprint(self.leaf))
        text = vhost.read_text()
        pk, pc = sb.placeholder_cert("www.example.com")
        text = text.replace(str(pc), str(self.leaf)).replace(str(pk), str(self.key))
        text = text.replace("</VirtualHost>", f'    SSLCertificateChainFile "{self.chain}"\n</VirtualHost>')
        vhost.write_text(text)
        self.assertEqual(h.run(sb.configtest_argv(), env=sb.env()).returncode, 0)
        for argv in sb.restart_argv_list("graceful"):
            cp = h.run(argv, env=sb.env(), timeout=30)
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        h.wait_for_served(sb.port, "www.example.com", self.leaf)
        self.assertEqual(sb.pid(), pid)  # graceful keeps the main process
        self.assert_serves_leaf_chain(sb)
        # graceful on a stopped server starts it
        self.assert_stopped(sb, pid)
        for argv in sb.restart_argv_list("graceful"):
            self.assertEqual(h.run(argv, env=sb.env(), timeout=30).returncode, 0)
        pid2 = sb.wait_ready()
        self.assert_serves_leaf_chain(sb)
        self.assert_stopped(sb, pid2)

    def test_encrypted_key_via_passphrase_helper(self):
        key = h.gen_key(self.tmp / "enc.key", passphrase="correct horse", cipher="des-ede3-cbc")
        csr = h.make_csr(key, self.tmp / "enc.csr", "www.example.com", passphrase="correct horse")
        leaf = self.pki.issue(csr, self.tmp / "enc.crt", "standard")
        sb = self.make_sandbox("enc")
        sb.add_vhost("www.example.com", ssl_files=(key, leaf, self.chain))
        self.assertEqual(os.stat(sb.passphrase_file).st_mode & 0o777, 0o600)
        # no passphrase: Apache fails fast instead of waiting for a prompt
        t = time.monotonic()
        with self.assertRaises(RuntimeError):
            sb.start(timeout=10)
        self.assertLess(time.monotonic() - t, 10)
        sb.stop()
        sb.set_passphrase("correct horse")
        pid = sb.start()
        self.assert_serves_leaf_chain(sb, leaf=leaf)
        self.assert_stopped(sb, pid)

    def test_manifest_apache_mapping(self):
        sb = self.make_sandbox("manifest")
        m = sb.manifest_apache(style="stop-start")
        self.assertEqual(m["config"], str(sb.config_path))
        self.assertTrue(sb.config_path.is_file())
        self.assertEqual(len(m["restart"]), 2)
        self.assertTrue(all(isinstance(a, list) and all(isinstance(x, str) for x in a) for a in m["restart"]))
        # ecertctl gives commands PATH, LANG and LC_* only: the mapping's argvs work with that alone.
        sb.add_vhost("www.example.com")
        minimal = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        cp = h.run(sb.manifest_apache()["configtest"], env=minimal)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        for argv in sb.manifest_apache()["restart"]:
            cp = h.run(argv, env=minimal, timeout=30)
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        pid = sb.wait_ready()
        self.assert_stopped(sb, pid)


class SimpleSandboxTest(SandboxTests, unittest.TestCase):
    layout = "simple"

    def test_layout(self):
        sb = self.make_sandbox("layout")
        self.assertEqual(sb.config_path, sb.root / "conf" / "httpd.conf")
        conf = sb.config_path.read_text()
        self.assertIn(f'ServerRoot "{sb.root}"', conf)
        self.assertIn("Include conf/extra/httpd-ssl.conf", conf)
        self.assertTrue((sb.root / "conf" / "ssl.key").is_dir())
        self.assertTrue((sb.root / "conf" / "ssl.crt").is_dir())
        self.assertEqual(sb.configtest_argv(), ["/usr/sbin/apache2", "-f", str(sb.config_path), "-t"])
        self.assertNotIn("APACHE_CONFDIR", sb.env({}))

    def test_stop_start_style(self):
        """The CA guide's `apachectl stop; apachectl start` through the sandbox's apachectl."""
        sb = self.make_sandbox("stopstart")
        sb.add_vhost("www.example.com", ssl_files=(self.key, self.leaf, self.chain))
        pid = sb.start()
        for argv in sb.restart_argv_list("stop-start"):
            cp = h.run(argv, timeout=30)
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        pid2 = sb.wait_ready()
        self.assertNotEqual(pid, pid2)
        self.assertFalse(h._pid_alive(pid))
        self.assert_serves_leaf_chain(sb)
        self.assert_stopped(sb, pid2)


class DebianSandboxTest(SandboxTests, unittest.TestCase):
    layout = "debian"

    def test_layout(self):
        sb = self.make_sandbox("layout")
        c = sb.root / "etc" / "apache2"
        self.assertEqual(sb.config_path, c / "apache2.conf")
        conf = sb.config_path.read_text()
        for line in ("IncludeOptional mods-enabled/*.load", "Include ports.conf",
                     "IncludeOptional sites-enabled/*.conf", "PidFile ${APACHE_PID_FILE}"):
            self.assertIn(line, conf)
        self.assertIn(f"Listen 127.0.0.1:{sb.port}", (c / "ports.conf").read_text())
        self.assertTrue((c / "mods-enabled" / "ssl.load").is_symlink())
        f = sb.add_vhost("www.example.com", file="sites-available/example.conf")
        sb.add_vhost("shop.example.com", file="sites-available/example.conf")
        self.assertEqual(f, c / "sites-available" / "example.conf")
        link = c / "sites-enabled" / "example.conf"
        self.assertTrue(link.is_symlink())
        self.assertEqual(os.readlink(link), "../sites-available/example.conf")
        self.assertEqual(f.read_text().count("<VirtualHost *:"), 2)
        self.assertEqual(sb.configtest_argv(), ["/usr/sbin/apache2ctl", "configtest"])
        self.assertEqual(sb.env({})["APACHE_CONFDIR"], str(c))
        # without APACHE_CONFDIR apache2ctl would look at the system's /etc/apache2
        cp = h.run(sb.configtest_argv(), env=sb.env())
        self.assertEqual(cp.returncode, 0, cp.stderr)

    def test_second_port(self):
        sb = self.make_sandbox("ports")
        port2 = h.free_port()
        sb.add_vhost("www.example.com", ssl_files=(self.key, self.leaf, self.chain))
        sb.add_vhost("www.example.com", port=port2)  # placeholder on the second port
        pid = sb.start()
        self.assert_serves_leaf_chain(sb)
        served = h.served_chain(port2, "www.example.com")
        self.assertEqual(len(served), 1)
        self.assertNotEqual(h.cert_fingerprint(served[0]), h.cert_fingerprint(self.leaf))
        self.assert_stopped(sb, pid)
        self.assertFalse(h._port_open(port2))


class HelpersTest(unittest.TestCase):
    def test_free_port_and_paths(self):
        p = h.free_port()
        self.assertTrue(1024 < p < 65536)
        self.assertTrue(h.ecertctl_path().endswith("ecertctl"))

    def test_run_closes_stdin_and_times_out(self):
        cp = h.run(["cat"], timeout=5)
        self.assertEqual(cp.returncode, 0)
        self.assertEqual(cp.stdout, "")
        with self.assertRaises(subprocess.TimeoutExpired):
            h.run(["sleep", "5"], timeout=0.5)

    def test_to_yaml(self):
        m = {"version": 1, "apache": {"config": Path("/x/apache2.conf"), "configtest": ["apache2ctl", "configtest"],
                                      "restart": [["apache2ctl", "graceful"]], "timeout": 30},
             "sites": [{"name": "www.我的伺服器.com", "additional_names": [], "key": {"path": "k", "bits": 2048},
                        "vhost": {"port": 443}}]}
        text = h.to_yaml(m)
        self.assertIn('restart:\n    - ["apache2ctl", "graceful"]\n', text)
        self.assertIn('  - name: "www.我的伺服器.com"\n    additional_names: []\n    key:\n      path: "k"\n', text)
        try:
            import yaml
        except ImportError:
            self.skipTest("python3-yaml not installed")
        loaded = yaml.safe_load(text)
        m["apache"]["config"] = "/x/apache2.conf"
        self.assertEqual(loaded, m)


class IntegrationTestCaseTest(h.IntegrationTestCase, unittest.TestCase):
    def test_sandbox_cleanup(self):
        sb = self.make_sandbox("debian")
        sb.add_vhost("www.example.com")
        pid = sb.start()
        self.assertTrue(str(sb.root).startswith(str(self.tmp)))
        self.doCleanups()  # what unittest does after the test: stop Apache, remove tmp
        self.assertFalse(h._pid_alive(pid))
        self.assertFalse(self.tmp.exists())


if __name__ == "__main__":
    unittest.main()
