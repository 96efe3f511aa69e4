"""ecertctl as a system service sees the machine: what apply sends to the
system log, and the default manifest path /etc/ecertctl/ecert.yaml.

The binary under test has no switch for either: each run happens in a private
mount namespace (harness.in_mount_namespace) whose /dev/log is this test's
own datagram socket, and whose /etc shows this test's manifest."""

from __future__ import annotations

import json
import os
import unittest

import harness as h
from e2e import PASSPHRASE, E2ECase

OTHER_PASSPHRASE = "wrong horse battery staple 8"


class SystemLogTest(E2ECase, unittest.TestCase):
    def logged(self, *args, sb: h.ApacheSandbox, expect_rc: int = 0, **env) -> list[h.SyslogMessage]:
        """Runs ecertctl ARGS and returns what it sent to /dev/log."""
        with h.SyslogSocket(self.tmp / "log.sock") as log:
            cp = h.run(h.in_mount_namespace([h.ecertctl_path(), *args], self.tmp / "ns", dev_log=log.path),
                       env=self.env(sb, **env), timeout=120)
        self.assertEqual(cp.returncode, expect_rc, f"{args}: rc {cp.returncode}\n{cp.stdout}\n{cp.stderr}")
        for m in log.messages:
            self.assertEqual((m.facility, m.ident), (h.LOG_DAEMON, "ecertctl"), m)
            self.assertIsNotNone(m.pid, m)
            self.assertNotIn("\n", m.text)
            for secret in (PASSPHRASE, OTHER_PASSPHRASE):
                self.assertNotIn(secret, m.text)
        return log.messages

    def lines(self, messages, severity: int) -> list[str]:
        return [m.text for m in messages if m.severity == severity]

    def test_apply_logs_each_change_and_error_and_apache_outcome(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.log.test")
        sb.start()
        site = self.site(sb, "www.log.test")
        m = str(self.manifest(sb, [site]))
        key, csr = site["key"], str(self.path_in_manifest(site["csr"]))

        # plan and --dry-run tell the system log nothing.
        self.assertEqual(self.logged("plan", "-f", m, sb=sb), [])
        self.assertEqual(self.logged("apply", "-f", m, "--dry-run", sb=sb), [])

        # First run: one line per created resource; the pending certificate is no news.
        first = self.logged("apply", "-f", m, sb=sb)
        self.assertEqual([x.severity for x in first], [h.LOG_NOTICE, h.LOG_NOTICE])
        self.assertTrue(first[0].text.startswith(f"www.log.test: key created: {key}: "), first[0])
        self.assertTrue(first[1].text.startswith(f"www.log.test: csr created: {csr}: "), first[1])
        self.assertEqual(self.logged("apply", "-f", m, sb=sb), [])  # nothing changed, nothing failed

        # A wrong passphrase: an error line, and neither passphrase anywhere.
        wrong = self.logged("apply", "-f", m, sb=sb, expect_rc=1, ECERT_KEY_PASSPHRASE=OTHER_PASSPHRASE)
        self.assertTrue(wrong, "a failed run logs its errors")
        self.assertEqual({x.severity for x in wrong}, {h.LOG_ERR})
        self.assertTrue(all(t.startswith("www.log.test: ") for t in self.lines(wrong, h.LOG_ERR)), wrong)

        # The certificate arrives but configtest fails: the errors and the rollback, nothing "created".
        self.issue(site)
        broken = str(self.manifest(sb, [site], configtest=["false"]))
        failed = self.logged("apply", "-f", broken, sb=sb, expect_rc=1)
        self.assertEqual({x.severity for x in failed}, {h.LOG_ERR}, failed)
        apache = [t for t in self.lines(failed, h.LOG_ERR) if t.startswith("Apache: ")]
        self.assertEqual(len(apache), 1, failed)
        self.assertIn("restored", apache[0])
        self.assertIn("www.log.test: vhost error: ", "\n".join(self.lines(failed, h.LOG_ERR)))

        # Fixed: chain and vhost written, Apache restarted once; then a converged run says nothing.
        m = str(self.manifest(sb, [site]))
        done = self.logged("apply", "-f", m, sb=sb)
        self.assertEqual({x.severity for x in done}, {h.LOG_NOTICE}, done)
        texts = [x.text for x in done]
        self.assertTrue(any(t.startswith("www.log.test: chain created: ") for t in texts), texts)
        self.assertTrue(any(t.startswith("www.log.test: vhost updated: ") for t in texts), texts)
        self.assertEqual(len([t for t in texts if t.startswith("Apache restarted: ")]), 1, texts)
        self.assertEqual(self.logged("apply", "-f", m, sb=sb), [])

    def test_refused_runs_are_logged_too(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.log.test")
        m = self.manifest(sb, [self.site(sb, "www.log.test")])
        text = m.read_text()

        # A manifest error: its file:line:column message.
        m.write_text(text.replace("version: 1", "version: 7", 1))
        bad = self.logged("apply", "-f", str(m), sb=sb, expect_rc=1)
        self.assertEqual(len(bad), 1, bad)
        self.assertEqual(bad[0].severity, h.LOG_ERR)
        self.assertRegex(bad[0].text, rf"^{m}:1:\d+: error: ")
        self.assertEqual(self.logged("validate", "-f", str(m), sb=sb, expect_rc=1), [])  # only apply logs
        m.write_text(text)
        unknown = self.logged("apply", "-f", str(m), "--site", "www.nosuch.test", sb=sb, expect_rc=1)
        self.assertEqual([x.text for x in unknown],
                         [f"{m}: error: no site named 'www.nosuch.test' (sites: www.log.test)"])

        # A saved plan made stale by an edit of the manifest.
        m.write_text(text)
        plan = self.tmp / "saved.plan"
        self.assertEqual(self.logged("plan", "-f", str(m), "--out", str(plan), sb=sb), [])
        m.write_text(text + "\n# edited\n")
        stale = self.logged("apply", str(plan), sb=sb, expect_rc=1)
        self.assertEqual([x.text[:32] for x in stale], ["error: the saved plan is stale: "])


class DefaultManifestTest(E2ECase, unittest.TestCase):
    def test_without_f_every_command_reads_etc_ecertctl_ecert_yaml(self):
        sb = self.sandbox("simple")
        sb.add_vhost("www.default.test")
        etc = self.tmp / "etc"
        self.manifest_dir = etc / "ecertctl"
        self.manifest_dir.mkdir(parents=True)
        self.manifest(sb, [self.site(sb, "www.default.test")])

        def run(*args):
            return h.run(h.in_mount_namespace([h.ecertctl_path(), *args], self.tmp / "ns", overlays={"/etc": etc}),
                         env=self.env(sb), timeout=120)

        cp = run("validate")
        self.assertEqual((cp.returncode, cp.stdout), (0, "/etc/ecertctl/ecert.yaml: valid (1 site)\n"), cp.stderr)
        cp = run("validate", "--format", "json")
        self.assertEqual(json.loads(cp.stdout)["sites"], ["www.default.test"], cp.stderr)
        cp = run("plan", "--format", "json")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        report = json.loads(cp.stdout)
        self.assertEqual(report["manifest"], "/etc/ecertctl/ecert.yaml")
        self.assertEqual(self.resources(report, "www.default.test")["key"]["action"], "create")
        cp = run("status")
        self.assertIn("www.default.test", cp.stdout, cp.stderr)
        cp = run("csr", "--site", "www.default.test")  # no CSR yet: the advice names the default manifest
        self.assertEqual(cp.returncode, 1)
        self.assertIn("ecertctl apply -f /etc/ecertctl/ecert.yaml", cp.stderr)
        self.assertFalse(os.path.exists(self.path_in_manifest("ssl.csr")), "plan/status/csr wrote nothing")


if __name__ == "__main__":
    unittest.main()
