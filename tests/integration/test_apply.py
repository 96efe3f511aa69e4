"""From nothing to a verified TLS chain in a real Apache, and the ways it must
refuse or roll back. Each test runs its own Apache on 127.0.0.1."""

from __future__ import annotations

import os
import unittest
from pathlib import Path

import harness as h
from e2e import PASSPHRASE, E2ECase


class FourFeaturesTest(E2ECase, unittest.TestCase):
    def test_nothing_to_pending_to_serving_then_idempotent(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.std.test")
        sb.add_vhost("www.ev.test")
        sb.add_vhost("shop.wild.test")
        sb.add_vhost("www.multi.test", aliases=["shop.multi.test"])
        sb.start()
        sites = [
            self.site(sb, "www.std.test", "standard"),
            self.site(sb, "www.ev.test", "ev"),
            self.site(sb, "*.wild.test", "wildcard", vhost={"server_name": "shop.wild.test"}),
            self.site(sb, "www.multi.test", "multi-domain", additional_names=["shop.multi.test"]),
        ]
        m = self.manifest(sb, sites)
        pid = sb.pid()

        # 1. Nothing yet: keys and CSRs are created, every site is pending.
        first = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertFalse(first["apache"]["restart"])
        for s in sites:
            name = s["name"]
            r = self.resources(first, name)
            self.assertEqual(r["key"]["action"], "create", name)
            self.assertEqual(r["csr"]["action"], "create", name)
            self.assertEqual(r["certificate"]["action"], "pending", name)
            key = Path(s["key"])
            self.assertEqual(key.stat().st_mode & 0o777, 0o600)
            h.run(["openssl", "pkey", "-in", key, "-passin", "env:P", "-noout"],
                  env={**os.environ, "P": PASSPHRASE}, check=True)
            h.run(["openssl", "req", "-in", self.path_in_manifest(s["csr"]), "-verify", "-noout"], check=True)
        self.assertEqual(sb.pid(), pid)

        # Pending alone is not a change.
        cp = self.ecertctl("plan", "-f", m, "--detailed-exitcode", env=self.env(sb))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn("pending", cp.stdout)

        # 2. The CA issues; the multi-domain certificate arrives as DER.
        self.issue(sites[0])
        self.issue(sites[1])
        self.issue(sites[2])
        self.issue(sites[3], names=["shop.multi.test"], der=True)
        cp = self.ecertctl("plan", "-f", m, "--detailed-exitcode", env=self.env(sb))
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)

        second = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertTrue(second["apache"]["restart"], second)
        self.assertEqual(second["apache"]["configtest"], "ok")
        for s in second["sites"]:
            self.assertEqual(s["state"], "changed", s)
            self.assertTrue(s["verify"]["ok"], s["verify"])
        self.assertEqual(self.resources(second, "www.multi.test")["certificate"]["action"], "update")
        self.assertTrue(self.path_in_manifest(sites[3]["certificate"]).read_text().startswith("-----BEGIN CERTIFICATE-----"))
        self.assert_serves(sb, "www.std.test", self.path_in_manifest(sites[0]["certificate"]), "standard")
        self.assert_serves(sb, "www.ev.test", self.path_in_manifest(sites[1]["certificate"]), "ev")
        self.assert_serves(sb, "shop.wild.test", self.path_in_manifest(sites[2]["certificate"]), "wildcard")
        self.assert_serves(sb, "shop.multi.test", self.path_in_manifest(sites[3]["certificate"]), "multi-domain")

        # 3. Converged: nothing changes, not even an mtime, and Apache keeps its process.
        pid = sb.pid()
        before = self.snapshot(sb.root / "conf", self.manifest_dir)
        third = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertFalse(third["changed"])
        self.assertFalse(third["apache"]["restart"])
        for s in third["sites"]:
            for r in s["resources"]:
                self.assertEqual(r["action"], "no-op", (s["name"], r))
        self.assertEqual(self.snapshot(sb.root / "conf", self.manifest_dir), before)
        self.assertEqual(sb.pid(), pid)
        status = self.run_json("status", "-f", str(m), sb=sb)
        for s in status["sites"]:
            self.assertEqual(s["state"], "ok", s)
            self.assertTrue(s["served"]["matches"], s["served"])
            self.assertGreater(s["certificate"]["days_left"], 300)


class LayoutsTest(E2ECase, unittest.TestCase):
    def test_debian_layout_symlinks_and_shared_file(self):
        sb = self.sandbox("debian")
        # Two TLS vhosts in one file plus a :80 vhost with the same name.
        shared = sb.add_vhost("www.one.test", file="sites-available/shop.conf")
        sb.add_vhost("www.two.test", file="sites-available/shop.conf")
        port80 = h.free_port()
        with open(shared, "a") as f:
            f.write(f"\n# plain HTTP twin\n<VirtualHost *:{port80}>\n    ServerName www.one.test\n</VirtualHost>\n")
        sb.start()
        link = sb.conf_dir / "sites-enabled" / "shop.conf"
        self.assertTrue(link.is_symlink())
        sites = [self.site(sb, "www.one.test", stem="one", key=f"ssl.key/one.key"),
                 self.site(sb, "www.two.test", stem="two", key=f"ssl.key/two.key")]
        m = self.manifest(sb, sites)
        self.run_json("apply", "-f", str(m), sb=sb)
        for s in sites:
            self.issue(s)
        original = shared.read_text()
        report = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertTrue(report["apache"]["restart"])
        for s in sites:
            self.assertEqual(self.resources(report, s["name"])["vhost"]["action"], "update")
        self.assertTrue(link.is_symlink(), "sites-enabled entry must stay a link")
        edited = shared.read_text()
        # Only SSLCertificate* lines differ.
        changed = [l for l in set(edited.splitlines()) ^ set(original.splitlines())
                   if not l.strip().startswith("SSLCertificate")]
        self.assertEqual(changed, [], "bytes outside the SSL directives changed")
        self.assertIn(f'SSLCertificateKeyFile {self.manifest_dir / "ssl.key/one.key"}', edited)
        self.assertIn(f"<VirtualHost *:{port80}>\n    ServerName www.one.test\n</VirtualHost>", edited)
        self.assert_serves(sb, "www.one.test", self.path_in_manifest(sites[0]["certificate"]), "standard")
        self.assert_serves(sb, "www.two.test", self.path_in_manifest(sites[1]["certificate"]), "standard")

    def test_usr_local_apache_layout_with_stop_start(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.myserver.com")
        sb.start()
        site = self.site(sb, "www.myserver.com", key="ssl.key/myserver.key", csr="ssl.csr/myserver.csr",
                         certificate="ssl.crt/cert0000812104.cer", chain="ssl.crt/hkpostca.crt")
        site["key"] = str(sb.key_dir / "myserver.key")
        site["csr"] = str(sb.csr_dir / "myserver.csr")
        site["certificate"] = str(sb.cert_dir / "cert0000812104.cer")
        site["chain"] = str(sb.cert_dir / "hkpostca.crt")
        m = self.manifest(sb, [site], restart=sb.restart_argv_list("stop-start"))
        self.run_json("apply", "-f", str(m), sb=sb)
        self.pki.issue(site["csr"], site["certificate"], "standard")
        report = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertTrue(report["apache"]["restart"])
        self.assert_serves(sb, "www.myserver.com", Path(site["certificate"]), "standard")
        conf = sb.ssl_conf_path.read_text()
        self.assertIn(f"SSLCertificateChainFile {sb.cert_dir / 'hkpostca.crt'}", conf)


class RefusalsTest(E2ECase, unittest.TestCase):
    def _converged_plus_pending(self):
        sb, a, b, m = self.two_sites()
        self.run_json("apply", "-f", str(m), sb=sb)
        self.issue(a)
        self.run_json("apply", "-f", str(m), sb=sb)
        self.assert_serves(sb, "www.a.test", self.path_in_manifest(a["certificate"]), "standard")
        return sb, m, a, b

    def test_configtest_failure_rolls_back_every_byte(self):
        sb, m, a, b = self._converged_plus_pending()
        self.issue(b)
        # Someone left a broken file that Apache would read at its next start.
        with open(sb.ssl_conf_path, "a") as f:
            f.write("\nIncludeOptional conf/broken/*.conf\n")
        (sb.conf_dir / "broken").mkdir()
        (sb.conf_dir / "broken" / "oops.conf").write_text("ThisIsNotADirective on\n")
        pid = sb.pid()
        served_before = h.served_chain(sb.port, "www.b.test")
        before = self.snapshot(sb.root / "conf", self.manifest_dir)
        cp = self.ecertctl("apply", "-f", m, env=self.env(sb))
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        self.assertIn("configtest", cp.stdout)
        self.assertIn("ThisIsNotADirective", cp.stdout)
        after = self.snapshot(sb.root / "conf", self.manifest_dir)
        self.assertEqual({k: v[0] if v[0] != "link" else v for k, v in after.items()},
                         {k: v[0] if v[0] != "link" else v for k, v in before.items()})
        self.assertEqual(sb.pid(), pid)
        self.assertEqual(h.cert_fingerprint(h.served_chain(sb.port, "www.b.test")[0]),
                         h.cert_fingerprint(served_before[0]))
        self.assert_serves(sb, "www.a.test", self.path_in_manifest(a["certificate"]), "standard")

    def test_impostor_ca_with_the_same_name_is_refused(self):
        sb, m, a, b = self._converged_plus_pending()
        self.issue(b, sub=self.pki.impostor_sub("standard"))
        before = self.snapshot(sb.root / "conf")
        report = self.run_json("apply", "-f", str(m), sb=sb, expect_rc=1)
        cert = self.resources(report, "www.b.test")["certificate"]
        self.assertEqual(cert["action"], "error")
        self.assertIn("not issued by the sub CA", cert["reason"])
        self.assertFalse(report["apache"]["restart"])
        self.assertEqual(self.snapshot(sb.root / "conf"), before)
        self.assertFalse(self.path_in_manifest(b["chain"]).exists() and
                         self.resources(report, "www.b.test")["chain"]["action"] != "error")
        # The other site is untouched and still served.
        self.assertEqual(self.resources(report, "www.a.test")["vhost"]["action"], "no-op")

    def test_ev_certificate_from_the_standard_sub_ca_names_both(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.ev.test")
        sb.add_vhost("www.std.test")
        sb.start()
        ev = self.site(sb, "www.ev.test", "ev", stem="ev")
        std = self.site(sb, "www.std.test", "standard", stem="std")
        m = self.manifest(sb, [ev, std])
        self.run_json("apply", "-f", str(m), sb=sb)
        self.issue(ev, feature="standard")
        report = self.run_json("apply", "-f", str(m), sb=sb, expect_rc=1)
        reason = self.resources(report, "www.ev.test")["certificate"]["reason"]
        self.assertIn("Hongkong Post e-Cert SSL CA 3 - 17", reason)
        self.assertIn("Hongkong Post e-Cert EV SSL CA 3 - 17", reason)


class RenewalTest(E2ECase, unittest.TestCase):
    def test_rotate_then_promote(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.renew.test")
        sb.start()
        s = self.site(sb, "www.renew.test", stem="renew")
        m = self.manifest(sb, [s])
        self.run_json("apply", "-f", str(m), sb=sb)
        old_cert = self.issue(s)
        self.run_json("apply", "-f", str(m), sb=sb)
        self.assert_serves(sb, "www.renew.test", old_cert, "standard")
        key = Path(s["key"])
        old_key = key.read_bytes()

        rot = self.run_json("rotate", "-f", str(m), "--site", "www.renew.test", sb=sb)
        self.assertTrue(rot["created"])
        staged_key = Path(str(key) + ".new")
        staged_csr = Path(str(self.path_in_manifest(s["csr"])) + ".new")
        self.assertEqual(staged_key.stat().st_mode & 0o777, 0o600)
        self.assertIn("BEGIN CERTIFICATE REQUEST", rot["csr_pem"])
        self.assertEqual(key.read_bytes(), old_key)

        # Waiting for the CA: pending, nothing written, no restart.
        pid = sb.pid()
        before = self.snapshot(sb.root / "conf", self.manifest_dir)
        waiting = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertEqual(waiting["sites"][0]["state"], "pending")
        self.assertFalse(waiting["apache"]["restart"])
        self.assertEqual(self.snapshot(sb.root / "conf", self.manifest_dir), before)
        self.assertEqual(sb.pid(), pid)
        csr_out = self.ecertctl("csr", "-f", m, "--site", "www.renew.test", env=self.env(sb))
        self.assertEqual(csr_out.returncode, 0, csr_out.stderr)
        self.assertIn(staged_csr.read_text().strip(), csr_out.stdout)

        # The new certificate arrives for the staged key.
        new_cert = self.pki.issue(staged_csr, self.path_in_manifest(s["certificate"]), "standard")
        done = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertEqual(self.resources(done, "www.renew.test")["key"]["action"], "update")
        self.assertTrue(done["apache"]["restart"])
        self.assertFalse(staged_key.exists())
        backups = list(key.parent.glob(key.name + ".old-*"))
        self.assertEqual(len(backups), 1)
        self.assertEqual(backups[0].read_bytes(), old_key)
        self.assertEqual(backups[0].stat().st_mode & 0o777, 0o600)
        self.assert_serves(sb, "www.renew.test", new_cert, "standard")
        again = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertFalse(again["changed"])

    def test_reissued_certificate_dropped_in_place_is_reloaded(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.reissue.test")
        sb.start()
        s = self.site(sb, "www.reissue.test", stem="reissue")
        m = self.manifest(sb, [s])
        self.run_json("apply", "-f", str(m), sb=sb)
        first = self.issue(s)
        self.run_json("apply", "-f", str(m), sb=sb)
        self.assert_serves(sb, "www.reissue.test", first, "standard")
        first_serial = h.served_chain(sb.port, "www.reissue.test")[0]

        # The CA re-issues for the same CSR; the operator drops it over the old file.
        self.issue(s)
        plan = self.run_json("plan", "-f", str(m), sb=sb)
        cert = self.resources(plan, "www.reissue.test")["certificate"]
        self.assertEqual(cert["action"], "update", cert)
        self.assertIn("since Apache was last restarted", cert["reason"])
        self.assertTrue(plan["apache"]["restart"])
        done = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertTrue(done["apache"]["restart"])
        served = self.assert_serves(sb, "www.reissue.test", self.path_in_manifest(s["certificate"]), "standard")
        self.assertNotEqual(h.cert_fingerprint(h.served_chain(sb.port, "www.reissue.test")[0]),
                            h.cert_fingerprint(first_serial))
        pid = sb.pid()
        again = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertFalse(again["changed"])
        self.assertFalse(again["apache"]["restart"])
        self.assertEqual(sb.pid(), pid)


if __name__ == "__main__":
    unittest.main()
