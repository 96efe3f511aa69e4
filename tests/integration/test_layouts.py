"""Real servers beyond one Debian Apache, each against a real Apache and a
real TLS handshake:
- sections Apache skips: stale vhosts for the site inside <IfDefine STAGING>
  and <IfModule mod_gnutls.c> stay byte for byte while the live one (inside
  an <IfVersion>, decided by what `apache2 -v` says) is edited and served;
  a -D STAGING in the configtest argv makes the staging vhost the site's;
- Red Hat's /etc/httpd tree, with examples/rhel.yaml as the manifest: from
  nothing to a served site, the <VirtualHost _default_:443> of ssl.conf
  untouched;
- Debian's default-ssl.conf on a one-site server: a <VirtualHost
  _default_:443> without ServerName answers to the main server's ServerName,
  as Apache names it, and is the site's vhost;
- two Apache instances on one host, one manifest and one state directory
  each: an apply for one never restarts, locks or edits the other, and both
  can run at the same time."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import unittest
from pathlib import Path

import yaml

import harness as h
from e2e import PASSPHRASE, E2ECase

RHEL_EXAMPLE = h.REPO_ROOT / "examples" / "rhel.yaml"

STALE_BLOCKS = """
# A staging copy: Apache reads it only when started with -D STAGING.
<IfDefine STAGING>
<VirtualHost *:{port}>
    ServerName {name}
    SSLEngine on
    SSLCertificateFile "{stale_cert}"
    SSLCertificateKeyFile "{stale_key}"
</VirtualHost>
</IfDefine>

# Left from the days of mod_gnutls, which this server no longer loads.
<IfModule mod_gnutls.c>
<VirtualHost *:{port}>
    ServerName {name}
    GnuTLSEnable on
    GnuTLSCertificateFile /etc/ssl/old/{name}.crt
    GnuTLSKeyFile /etc/ssl/old/{name}.key
</VirtualHost>
</IfModule>
"""


def vhost_block(port: int, name: str, key: Path, cert: Path, docroot: Path) -> str:
    return (f"<VirtualHost *:{port}>\n    ServerName {name}\n    DocumentRoot \"{docroot}\"\n    SSLEngine on\n"
            f"    SSLCertificateFile \"{cert}\"\n    SSLCertificateKeyFile \"{key}\"\n</VirtualHost>\n")


def line_of(path: Path, text: str) -> int:
    return next(i for i, l in enumerate(path.read_text().splitlines(), 1) if l == text)


class SectionsTest(E2ECase, unittest.TestCase):
    def converge(self, sb: h.ApacheSandbox, m: Path, site: dict) -> dict:
        """apply (key, CSR), the CA issues, apply again; the second report."""
        self.run_json("apply", "-f", str(m), sb=sb)
        cert = self.issue(site)
        report = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertTrue(report["apache"]["restart"], report)
        self.assert_serves(sb, site["name"], cert, "standard")
        return report

    def test_skipped_duplicates_stay_byte_for_byte_and_the_live_vhost_is_served(self):
        sb = self.sandbox("simple")
        name = "www.sections.test"
        stale_key, stale_cert = sb.placeholder_cert("stale.sections.test")
        key, cert = sb.placeholder_cert(name)
        with open(sb.ssl_conf_path, "a") as f:
            f.write(STALE_BLOCKS.format(port=sb.port, name=name, stale_key=stale_key, stale_cert=stale_cert))
            # The live block, read from Apache 2.4.8 on: ecertctl learns the version from `apache2 -v`.
            f.write("\n<IfVersion >= 2.4.8>\n" + vhost_block(sb.port, name, key, cert, sb.docroot) + "</IfVersion>\n")
        sb.start()
        conf = sb.ssl_conf_path
        live_line = conf.read_text().splitlines().index("<IfVersion >= 2.4.8>") + 2
        before = conf.read_text()
        inactive = before[:before.index("<IfVersion >= 2.4.8>")]
        site = self.site(sb, name, stem="sections")
        m = self.manifest(sb, [site])

        report = self.converge(sb, m, site)
        self.assertEqual(self.resources(report, name)["vhost"]["path"], f"{conf}:{live_line}")
        after = conf.read_text()
        self.assertTrue(after.startswith(inactive), "a block Apache skips was edited")
        live = after[len(inactive):]
        self.assertIn(f"SSLCertificateFile {self.path_in_manifest(site['certificate'])}", live)
        self.assertIn(f"SSLCertificateChainFile {self.path_in_manifest(site['chain'])}", live)
        self.assertEqual(after.count("SSLCertificateChainFile"), 1)

        # Behind a wrapper the binary cannot be asked: the warning says so, the
        # version stays unknown, and the live block is no longer certain.
        wrapper = self.tmp / "bin" / "configtest"
        wrapper.parent.mkdir()
        wrapper.write_text("#!/bin/sh\nexec " + " ".join(sb.configtest_argv()) + "\n")
        wrapper.chmod(0o755)
        m = self.manifest(sb, [site], configtest=[str(wrapper)])
        cp = self.ecertctl("plan", "-f", m, "--format", "json", env=self.env(sb))
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        report = json.loads(cp.stdout)
        self.assertTrue(any(w.startswith(f"apache.configtest ({wrapper}) runs neither apache2, httpd, apache2ctl nor "
                                         "apachectl") for w in report["warnings"]), report["warnings"])
        vhost = self.resources(report, name)["vhost"]
        self.assertEqual(vhost["action"], "error")
        self.assertIn("<IfVersion >= 2.4.8>", vhost["reason"])
        self.assertEqual(conf.read_text(), after)

    def test_a_define_in_the_configtest_argv_makes_the_staging_vhost_the_sites(self):
        sb = self.sandbox("simple")
        name = "www.staging.test"
        key, cert = sb.placeholder_cert(name)
        with open(sb.ssl_conf_path, "a") as f:
            for condition in ("!STAGING", "STAGING"):
                f.write(f"<IfDefine {condition}>\n" + vhost_block(sb.port, name, key, cert, sb.docroot) + "</IfDefine>\n")
        conf = sb.ssl_conf_path
        staging_line = line_of(conf, "<IfDefine STAGING>") + 1
        production = conf.read_text()[:conf.read_text().index("<IfDefine STAGING>")]
        # Apache runs with -D STAGING, and so do the manifest's commands.
        httpd = [h.APACHE_BIN, "-f", str(sb.config_path), "-D", "STAGING"]
        h.run([*httpd, "-k", "start"], check=True)
        sb.wait_ready()
        site = self.site(sb, name, stem="staging")
        m = self.manifest(sb, [site], configtest=[*httpd, "-t"], restart=[[*httpd, "-k", "graceful"]])

        report = self.converge(sb, m, site)
        self.assertEqual(self.resources(report, name)["vhost"]["path"], f"{conf}:{staging_line}")
        self.assertTrue(conf.read_text().startswith(production), "the block Apache skips under -D STAGING changed")


class DebianProbeTest(E2ECase, unittest.TestCase):
    def test_plan_asks_apache2_beside_apache2ctl_and_writes_nothing(self):
        """configtest is `env APACHE_CONFDIR=... apache2ctl configtest`: plan
        asks /usr/sbin/apache2 (-l, -v), never apache2ctl, which would create
        its lock directory; the version it learns decides an <IfVersion>."""
        sb = self.sandbox("debian")
        name = "www.debian.test"
        key, cert = sb.placeholder_cert(name)
        site_file = sb.vhost_file_path(None, name)
        site_file.write_text("<IfVersion >= 2.4.8>\n" + vhost_block(sb.port, name, key, cert, sb.docroot) +
                             "</IfVersion>\n")
        (sb.conf_dir / "sites-enabled" / site_file.name).symlink_to(f"../sites-available/{site_file.name}")
        self.assertIn("apache2ctl", " ".join(sb.manifest_apache()["configtest"]))
        site = self.site(sb, name, stem="debian")
        site["key"], site["csr"] = "ssl.key/debian.key", "ssl.csr/debian.csr"
        self.path_in_manifest("ssl.key").mkdir()
        h.gen_key(self.path_in_manifest(site["key"]), passphrase=PASSPHRASE)
        h.make_csr(self.path_in_manifest(site["key"]), self.path_in_manifest(site["csr"]), name,
                   organization="My Organization", passphrase=PASSPHRASE)
        self.issue(site)
        m = self.manifest(sb, [site])
        before = self.snapshot(sb.root, self.manifest_dir)
        cp = self.ecertctl("plan", "-f", m, "--format", "json", env=self.env(sb))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(cp.stderr, "")
        self.assertEqual(self.resources(json.loads(cp.stdout), name)["vhost"]["action"], "update")
        self.assertEqual(self.snapshot(sb.root, self.manifest_dir), before)
        self.assertFalse(sb.lock_dir.exists(), "apache2ctl ran: it created its lock directory")
        self.assertFalse(self.state_dir.exists())


class DefaultSslTest(E2ECase, unittest.TestCase):
    def test_the_block_without_servername_is_the_main_servers_name_and_is_served(self):
        name = "www.onesite.test"
        sb = self.make_sandbox("debian", server_name=name)  # conf-enabled/servername.conf: ServerName <name>
        sb.set_passphrase(PASSPHRASE)
        default_ssl = sb.add_vhost(name, file="sites-available/default-ssl.conf", address="_default_",
                                   server_name_directive=False)
        self.assertNotIn("ServerName", default_ssl.read_text())
        enabled = sb.conf_dir / "sites-enabled"  # where Apache reads them: the paths reports name
        sb.start()
        site = self.site(sb, name, stem="onesite")
        m = self.manifest(sb, [site])
        self.run_json("apply", "-f", str(m), sb=sb)
        cert = self.issue(site)
        applied = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertEqual(self.resources(applied, name)["vhost"]["path"], f"{enabled / default_ssl.name}:1", applied)
        self.assertTrue(applied["sites"][0]["verify"]["ok"], applied)
        self.assert_serves(sb, name, cert, "standard")
        self.assertIn(f"SSLCertificateChainFile {self.path_in_manifest(site['chain'])}", default_ssl.read_text())

        # A block with the site's own ServerName read after it: Apache still
        # serves the name from default-ssl.conf (the first block that answers
        # to it), so ecertctl will not edit the other one and says why.
        kept = default_ssl.read_bytes()
        other_key, other_cert = sb.placeholder_cert("other.onesite.test")
        own = sb.add_vhost(name, file="sites-available/onesite.conf", ssl_files=(other_key, other_cert, None))
        sb.stop()
        sb.start()
        self.assert_serves(sb, name, cert, "standard")
        planned = self.run_json("plan", "-f", str(m), sb=sb, expect_rc=1)
        vhost = self.resources(planned, name)["vhost"]
        self.assertEqual(vhost["action"], "error", planned)
        self.assertIn(f"from {enabled / default_ssl.name}:1 (_default_:{sb.port}, no ServerName: the main server's, "
                      f"{name}), the first block that answers to it, not from {enabled / own.name}:1", vhost["reason"])
        self.assertEqual(default_ssl.read_bytes(), kept)


class RedHatLayoutTest(E2ECase, unittest.TestCase):
    def rhel_manifest(self, sb: h.ApacheSandbox) -> tuple[Path, dict]:
        """examples/rhel.yaml on the sandbox: its first site, every /etc path
        under the sandbox's root, Debian's apache2 standing in for httpd and
        apachectl, the test PKI's files where the example expects the CA's."""
        example = yaml.safe_load(RHEL_EXAMPLE.read_text())

        def inside(path: str) -> str:
            self.assertTrue(path.startswith("/etc/"), path)
            return str(sb.root / path.lstrip("/"))

        site = example["sites"][0]
        for k in ("key", "csr", "certificate", "chain"):
            site[k] = inside(site[k])
        site["vhost"] = {"file": inside(site["vhost"]["file"]), "port": sb.port, "verify": f"127.0.0.1:{sb.port}"}
        ca = example["defaults"]["ca"]
        for k, ours in (("sub", self.pki.ssl_sub_path), ("cross", self.pki.cross_path), ("trust", self.pki.trust_path)):
            ca[k] = inside(ca[k])
            Path(ca[k]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ours, ca[k])
        source = example["defaults"]["key"]["passphrase"]
        source["file"] = inside(source["file"])
        passphrase = Path(source["file"])
        passphrase.write_text(PASSPHRASE + "\n")
        passphrase.chmod(0o600)
        apache = example["apache"]
        self.assertEqual((apache["configtest"], apache["restart"]), (["httpd", "-t"], [["apachectl", "graceful"]]))
        apache.update(config=inside(apache["config"]), configtest=sb.configtest_argv(),
                      restart=sb.restart_argv_list())
        example["sites"] = [site]
        return h.write_manifest(self.manifest_dir / "rhel.yaml", example), site

    def test_from_nothing_to_a_served_site_with_the_default_vhost_untouched(self):
        sb = self.sandbox("redhat")
        m, site = self.rhel_manifest(sb)
        name = site["name"]
        vhost_file = sb.add_vhost(name)
        self.assertEqual(str(vhost_file), site["vhost"]["file"])
        sb.start()
        ssl_conf = sb.ssl_conf_path.read_bytes()
        modules = {p.name: p.read_bytes() for p in (sb.server_root / "conf.modules.d").iterdir()}

        first = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertEqual(self.resources(first, name)["certificate"]["action"], "pending", first)
        self.assertEqual(Path(site["key"]).stat().st_mode & 0o777, 0o600)
        self.pki.issue(site["csr"], site["certificate"])
        second = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertTrue(second["apache"]["restart"], second)
        self.assertEqual(self.resources(second, name)["vhost"]["path"], f"{vhost_file}:1")
        self.assertTrue(second["sites"][0]["verify"]["ok"], second)
        self.assert_serves(sb, name, Path(site["certificate"]), "standard")
        self.assertIn(f"SSLCertificateChainFile {site['chain']}", vhost_file.read_text())

        # mod_ssl's own file is as the package left it, and still serves its
        # localhost certificate to every other name.
        self.assertEqual(sb.ssl_conf_path.read_bytes(), ssl_conf)
        self.assertEqual({p.name: p.read_bytes() for p in (sb.server_root / "conf.modules.d").iterdir()}, modules)
        other = h.served_chain(sb.port, "unknown.rhel.test")
        self.assertEqual(h.cert_fingerprint(other[0]), h.cert_fingerprint(sb.default_cert))
        again = self.run_json("apply", "-f", str(m), sb=sb)
        self.assertFalse(again["changed"], again)


class SeveralInstancesTest(E2ECase, unittest.TestCase):
    NAMES = ("shop", "blog")

    def setUp(self):
        super().setUp()
        self.inst = {}
        for n in self.NAMES:
            sb = self.make_sandbox("redhat", name=f"apache-{n}")
            sb.set_passphrase(PASSPHRASE)
            server = f"www.{n}.test"
            sb.add_vhost(server)
            sb.start()
            site = {"name": server, "feature": "standard", "key": str(sb.key_dir / f"{server}.key"),
                    "csr": str(sb.csr_dir / f"{server}.csr"), "certificate": str(sb.cert_dir / f"{server}.crt"),
                    "chain": str(sb.cert_dir / "hkpostca.crt"),
                    "vhost": {"port": sb.port, "verify": f"127.0.0.1:{sb.port}"}}
            manifest = h.write_manifest(self.tmp / n / "ecert.yaml", {
                "version": 1, "apache": sb.manifest_apache(),
                "defaults": {"organization": "My Organization",
                             "key": {"passphrase": {"env": "ECERT_KEY_PASSPHRASE"}},
                             "ca": {"sub": str(self.pki.ssl_sub_path), "cross": str(self.pki.cross_path),
                                    "trust": str(self.pki.trust_path)}},
                "sites": [site]})
            self.inst[n] = dict(sb=sb, site=site, manifest=manifest, state=self.tmp / n / "state")

    def start_apply(self, n: str, *extra: str) -> subprocess.Popen:
        """ecertctl apply for instance n: shop's state directory by
        --state-dir, blog's by ECERTCTL_STATE_DIR (the timer unit's way)."""
        i = self.inst[n]
        env = {k: v for k, v in os.environ.items() if k != "ECERTCTL_STATE_DIR"}
        env["ECERT_KEY_PASSPHRASE"] = PASSPHRASE
        argv = [self.ecertctl_binary(), "apply", "-f", str(i["manifest"]), "--format", "json", *extra]
        if n == "shop":
            argv += ["--state-dir", str(i["state"])]
        else:
            env["ECERTCTL_STATE_DIR"] = str(i["state"])
        return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def finish(self, p: subprocess.Popen) -> tuple[int, dict | None, str]:
        out, err = p.communicate(timeout=120)
        self.assertNotIn(PASSPHRASE, out + err)
        return p.returncode, (json.loads(out) if out.strip().startswith("{") else None), err

    def apply_all_at_once(self) -> dict[str, dict]:
        running = {n: self.start_apply(n) for n in self.NAMES}
        reports = {}
        for n, p in running.items():
            rc, report, err = self.finish(p)
            self.assertEqual(rc, 0, f"{n}: {report}\n{err}")
            reports[n] = report
        return reports

    def restarts(self, n: str) -> int:
        return self.inst[n]["sb"].error_log().count("Doing graceful restart")

    def test_an_apply_for_one_instance_never_restarts_locks_or_edits_the_other(self):
        # Both at once: keys and CSRs, then (once issued) chain, vhost and a restart each.
        for n, report in self.apply_all_at_once().items():
            self.assertEqual(self.resources(report, f"www.{n}.test")["certificate"]["action"], "pending", report)
        for i in self.inst.values():
            self.pki.issue(i["site"]["csr"], i["site"]["certificate"])
        for n, report in self.apply_all_at_once().items():
            self.assertTrue(report["apache"]["restart"], report)
            self.assertEqual(self.restarts(n), 1, n)
        for i in self.inst.values():
            self.assert_serves(i["sb"], i["site"]["name"], Path(i["site"]["certificate"]), "standard")
        for n, i in self.inst.items():
            self.assertEqual(sorted(p.name for p in i["state"].iterdir() if p.name == "lock"), ["lock"], n)

        # The CA reissues shop's certificate; blog's lock is held all the while.
        shop, blog = self.inst["shop"], self.inst["blog"]
        new_cert = self.pki.issue(shop["site"]["csr"], shop["site"]["certificate"])
        blog_pid = blog["sb"].pid()
        blog_files = self.snapshot(blog["sb"].root / "etc", blog["state"])
        blog_served = h.cert_fingerprint(h.served_chain(blog["sb"].port, blog["site"]["name"])[0])
        fd = os.open(blog["state"] / "lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            rc, report, err = self.finish(self.start_apply("blog", "--lock-wait", "0"))
            self.assertEqual(rc, 1, err)
            self.assertIn("lock", (json.dumps(report) if report else "") + err)
            rc, report, err = self.finish(self.start_apply("shop", "--lock-wait", "0"))
            self.assertEqual(rc, 0, f"{report}\n{err}")
        finally:
            os.close(fd)
        self.assertTrue(report["apache"]["restart"], report)
        self.assert_serves(shop["sb"], shop["site"]["name"], new_cert, "standard")
        self.assertEqual(self.restarts("shop"), 2)

        self.assertEqual(self.restarts("blog"), 1, "blog's Apache was restarted")
        self.assertEqual(blog["sb"].pid(), blog_pid)
        self.assertEqual(self.snapshot(blog["sb"].root / "etc", blog["state"]), blog_files)
        self.assertEqual(h.cert_fingerprint(h.served_chain(blog["sb"].port, blog["site"]["name"])[0]), blog_served)


if __name__ == "__main__":
    unittest.main()
