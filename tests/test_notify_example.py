#!/usr/bin/env python3
"""examples/notify/ecert-notify, run as ecertctl runs a notify command (a
minimal environment, the JSON document on stdin) with a fake sendmail first
on PATH that keeps every mail it is given: who gets which mail, what it says,
the CSR inline and attached, and the exit status ecertctl acts on.
tests/integration/test_renewal.py runs it from a real apply."""
from __future__ import annotations

import email
import email.policy
import json
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "examples" / "notify" / "ecert-notify"

# Keeps each mail as <dir>/<n>.eml and its argv as <dir>/<n>.argv; exits 75
# (EX_TEMPFAIL, as a full queue would) when <dir>/fail exists.
FAKE_SENDMAIL = """#!/bin/sh
dir='{dir}'
[ -e "$dir/fail" ] && {{ echo "sendmail: cannot queue: No space left on device" >&2; exit 75; }}
n=$(ls "$dir" | grep -c '\\.eml$')
printf '%s\\n' "$@" > "$dir/$n.argv"
cat > "$dir/$n.eml"
"""

CSR_PEM = ("-----BEGIN CERTIFICATE REQUEST-----\nMIICqTCCAZECAQAwZDELMAkGA1UEBhMCSEsx\n"
           "-----END CERTIFICATE REQUEST-----\n")


class NotifyExampleTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="ecert-notify-example-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.mail_dir = self.tmp / "mail"
        self.mail_dir.mkdir()
        bin_dir = self.tmp / "bin"
        bin_dir.mkdir()
        fake = bin_dir / "sendmail"
        fake.write_text(FAKE_SENDMAIL.format(dir=self.mail_dir))
        fake.chmod(0o755)
        self.path = f"{bin_dir}:/usr/bin:/bin"
        self.csr = self.tmp / "www.csr.new"
        self.csr.write_text(CSR_PEM)
        self.recipients = self.tmp / "notify-recipients"

    def run_script(self, doc, **env) -> subprocess.CompletedProcess:
        # What ecertctl passes: PATH, LANG and the names in apache.environment.
        base = {"PATH": self.path, "LANG": "C.UTF-8", "ECERT_NOTIFY_RECIPIENTS": str(self.recipients)}
        stdin = doc if isinstance(doc, str) else json.dumps(doc)
        return subprocess.run([SCRIPT], input=stdin, capture_output=True, text=True, timeout=30,
                              env={**base, **env})

    def mails(self) -> list[tuple[list[str], email.message.EmailMessage]]:
        out = []
        for n in range(len(list(self.mail_dir.glob("*.eml")))):
            argv = (self.mail_dir / f"{n}.argv").read_text().split()
            msg = email.message_from_bytes((self.mail_dir / f"{n}.eml").read_bytes(), policy=email.policy.default)
            out.append((argv, msg))
        return out

    def document(self, *events) -> dict:
        return {"format_version": "1", "host": "web1.example.com", "events": list(events)}

    def renewal_due(self, site="www.myserver.com") -> dict:
        return {"site": site, "event": "renewal-due", "csr": str(self.csr),
                "message": f"{site}: renewal due: submit the CSR {self.csr} to the CA and place the certificate "
                           "it issues at /etc/ecertctl/www.cer.new",
                "not_after": "2027-01-28T14:03:20Z", "days_left": 58}

    def test_renewal_due_mails_the_csr_to_the_sites_representative(self):
        self.recipients.write_text("# site            recipients\n"
                                   "www.myserver.com  alice@myserver.com, bob@myserver.com  # the representative\n"
                                   "*                 webmaster@myserver.com\n")
        cp = self.run_script(self.document(self.renewal_due()), ECERT_NOTIFY_FROM="ecert@web1.example.com")
        self.assertEqual((cp.returncode, cp.stderr), (0, ""))
        [(argv, msg)] = self.mails()
        self.assertEqual(argv, ["-t", "-oi"])
        self.assertEqual(msg["From"], "ecert@web1.example.com")
        self.assertEqual(msg["To"], "alice@myserver.com, bob@myserver.com")
        self.assertEqual(msg["Subject"], "[ecertctl] www.myserver.com: e-Cert renewal due, submit the CSR")
        self.assertEqual(msg["Auto-Submitted"], "auto-generated")
        self.assertTrue(msg["Message-ID"].endswith("@web1.example.com>"), msg["Message-ID"])
        self.assertTrue(msg["Date"])
        body = msg.get_body(("plain",)).get_content()
        self.assertIn(CSR_PEM.strip(), body)
        self.assertIn("expires on 2027-01-28 (58 days left)", body)
        self.assertIn("server name www.myserver.com", body)
        self.assertIn("9-digit reference number", body)
        self.assertIn("16-digit e-Cert PIN", body)
        self.assertIn("place the certificate it issues at /etc/ecertctl/www.cer.new", body)
        [attachment] = list(msg.iter_attachments())
        self.assertEqual(attachment.get_content_type(), "application/pkcs10")
        self.assertEqual(attachment.get_filename(), "www.myserver.com.csr")
        self.assertEqual(attachment.get_content(), CSR_PEM.encode())

    def test_every_event_is_a_mail_to_the_wildcard_line_or_ecert_notify_to(self):
        self.recipients.write_text("*  webmaster@myserver.com\n")
        expiring = {"site": "shop.myserver.com", "event": "expiring", "days_left": 9,
                    "not_after": "2026-12-09T14:05:59Z",
                    "message": "shop.myserver.com: the certificate expires soon and its renewal is not installed"}
        installed = {"site": "www.myserver.com", "event": "installed",
                     "message": "www.myserver.com: a new certificate is served"}
        self.assertEqual(self.run_script(self.document(expiring, installed)).returncode, 0)
        self.recipients.unlink()
        error = {"site": "api.myserver.com", "event": "error", "message": "api.myserver.com: certificate expired"}
        cp = self.run_script(self.document(error), ECERT_NOTIFY_TO="ops@myserver.com")
        self.assertEqual((cp.returncode, cp.stderr), (0, ""))
        mails = [msg for _, msg in self.mails()]
        self.assertEqual([(m["To"], m["Subject"]) for m in mails], [
            ("webmaster@myserver.com", "[ecertctl] shop.myserver.com: certificate expires in 9 days and its "
                                       "renewal is not installed"),
            ("webmaster@myserver.com", "[ecertctl] www.myserver.com: renewed certificate installed"),
            ("ops@myserver.com", "[ecertctl] api.myserver.com: ecertctl error"),
        ])
        self.assertEqual(mails[0]["From"], "ecertctl@web1.example.com")
        self.assertIn("its renewal is not installed", mails[0].get_content())
        self.assertFalse(any(m.is_multipart() for m in mails))

    def test_a_site_without_a_recipient_fails_the_run_after_mailing_the_others(self):
        self.recipients.write_text("www.myserver.com  alice@myserver.com\n")
        cp = self.run_script(self.document(self.renewal_due("shop.myserver.com"), self.renewal_due()))
        self.assertEqual(cp.returncode, 1)
        self.assertIn(f"shop.myserver.com renewal-due: no recipient for shop.myserver.com: add a line for it to "
                      f"{self.recipients} or set ECERT_NOTIFY_TO", cp.stderr)
        self.assertEqual([m["To"] for _, m in self.mails()], ["alice@myserver.com"])

    def test_a_sendmail_failure_is_exit_1_for_ecertctl_to_send_again(self):
        self.recipients.write_text("*  webmaster@myserver.com\n")
        (self.mail_dir / "fail").touch()
        cp = self.run_script(self.document(self.renewal_due()))
        self.assertEqual(cp.returncode, 1)
        self.assertIn("exited with 75: sendmail: cannot queue", cp.stderr)

    def test_a_csr_it_cannot_read_is_named_not_attached(self):
        self.recipients.write_text("*  webmaster@myserver.com\n")
        self.csr.unlink()
        cp = self.run_script(self.document(self.renewal_due()))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        [(_, msg)] = self.mails()
        self.assertFalse(msg.is_multipart())
        self.assertIn(f"The CSR is not attached: {self.csr} could not be read (No such file or directory).",
                      msg.get_content())
        self.assertIn("`ecertctl csr --site www.myserver.com` prints it", msg.get_content())

    def test_bad_input_and_a_bad_recipients_line(self):
        for doc in ("not json", json.dumps({"format_version": "2", "events": []})):
            cp = self.run_script(doc)
            self.assertEqual(cp.returncode, 2, doc)
            self.assertTrue(cp.stderr.startswith("ecert-notify: stdin is not"), cp.stderr)
        self.recipients.write_text("# recipients\nwww.myserver.com\n")
        cp = self.run_script(self.document(self.renewal_due()))
        self.assertEqual(cp.returncode, 1)
        self.assertIn(f"{self.recipients}:2: no recipient after 'www.myserver.com'", cp.stderr)
        self.assertEqual(self.mails(), [])


if __name__ == "__main__":
    unittest.main()
