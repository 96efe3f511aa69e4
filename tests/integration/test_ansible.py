"""The Ansible integration (integrations/ansible) driven by the real
ansible-playbook over an inventory of three local hosts, each with its own
sandbox root, Apache and manifest: first run creates keys and CSRs, the run
after the CA issued serves the certificates (restart by ecertctl on two hosts,
by the role's handler on the third), the next run changes nothing, --check
writes nothing, --check --diff shows the vhost edit, and a bad manifest fails
the task with its file:line:column message. While the plays that create keys
and install certificates run, the command line of every process on the
machine is sampled: the passphrase, given as ecert_passphrases, is on none
(the task's environment: keyword would have put it on /bin/sh -c's), and the
role refuses a passphrase in ecert_environment."""

from __future__ import annotations

import json
import os
import re
import shutil
import unittest
from pathlib import Path

import harness as h
from e2e import PASSPHRASE, E2ECase
from test_security import ArgvSampler

ANSIBLE_DIR = h.REPO_ROOT / "integrations" / "ansible"
PLAYBOOK = ANSIBLE_DIR / "playbook.yml"

RECAP_RE = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)", re.M)


def parse_recap(stdout: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP lines -> {host: {ok, changed, unreachable, failed}}."""
    _, _, recap = stdout.rpartition("PLAY RECAP")
    return {m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
            for m in RECAP_RE.finditer(recap)}


def ansible_env(tmp: Path) -> dict[str, str]:
    """An environment for ansible-playbook that reads no configuration of the
    machine's and finds the collection and role of this repository."""
    home = tmp / "ansible-home"
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_CONFIG": str(tmp / "no-ansible.cfg"),  # ignore any ansible.cfg around
        "ANSIBLE_COLLECTIONS_PATH": str(ANSIBLE_DIR / "collections"),
        "ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles"),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_REMOTE_TEMP": str(home / "tmp"),
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_GALAXY_SERVER_LIST": "",
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
    }


@unittest.skipUnless(shutil.which("ansible-doc"), "ansible-doc not installed (apt-get install ansible)")
class ModuleDocumentationTest(h.IntegrationTestCase, unittest.TestCase):
    def test_ansible_doc_renders_the_module_and_its_passphrases_option(self):
        cp = h.run(["ansible-doc", "-t", "module", "hkpost.ecert.ecert"], env=ansible_env(self.tmp), timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        text = " ".join(cp.stdout.split())
        self.assertIn("passphrases", text)
        self.assertIn("Never through the task's `environment' keyword", text)


@unittest.skipUnless(shutil.which("ansible-playbook"), "ansible-playbook not installed (apt-get install ansible)")
class AnsiblePlaybookTest(E2ECase, unittest.TestCase):
    HOSTS = (
        # name, layout, restart by ecertctl?, passphrase source
        ("web1", "simple", True, "env"),
        ("web2", "debian", False, "env"),
        ("web3", "simple", True, "file"),
    )

    def setUp(self):
        super().setUp()
        self.hosts = {}
        inventory_hosts = {}
        for name, layout, restart, pass_src in self.HOSTS:
            root = self.tmp / name
            sb = h.ApacheSandbox(root / "apache", layout=layout)
            self.addCleanup(sb.stop)
            sb.set_passphrase(PASSPHRASE)
            server = f"www.{name}.test"
            sb.add_vhost(server)
            sb.start()
            mdir = root / "ecert"
            site = {
                "name": server, "feature": "standard",
                "key": "ssl.key/site.key", "csr": "ssl.csr/site.csr",
                "certificate": "ssl.crt/site.cer", "chain": "ssl.crt/hkpostca.crt",
                "vhost": {"port": sb.port, "verify": f"127.0.0.1:{sb.port}"},
            }
            if pass_src == "file":
                passfile = root / "secrets" / "ecert-pass"
                passfile.parent.mkdir(parents=True)
                passfile.write_text(PASSPHRASE + "\n")
                os.chmod(passfile, 0o600)
                passphrase = {"file": str(passfile)}
            else:
                passphrase = {"env": "ECERT_KEY_PASSPHRASE"}
            manifest = h.write_manifest(mdir / "ecert.yaml", {
                "version": 1,
                "apache": sb.manifest_apache(),
                "defaults": {
                    "organization": "My Organization",
                    "key": {"passphrase": passphrase},
                    "ca": {"sub": str(self.pki.ssl_sub_path), "cross": str(self.pki.cross_path),
                           "trust": str(self.pki.trust_path)},
                },
                "sites": [site],
            })
            env = {"ECERTCTL_STATE_DIR": str(root / "state")}
            passphrases = {"ECERT_KEY_PASSPHRASE": PASSPHRASE} if pass_src == "env" else {}
            if layout == "debian":
                env.update({k: v for k, v in sb.env({}).items()})
            inventory_hosts[name] = {
                "ansible_connection": "local",
                "ansible_python_interpreter": "/usr/bin/python3",
                "ecert_become": False,
                "ecert_manifest": str(manifest),
                "ecert_ecertctl": h.ecertctl_path(),
                "ecert_restart": restart,
                "ecert_restart_commands": sb.restart_argv_list(),
                "ecert_environment": env,
                "ecert_passphrases": passphrases,
            }
            self.hosts[name] = dict(sb=sb, server=server, root=root, mdir=mdir, site=site,
                                    manifest=manifest, restart=restart)
        self.inventory = self.tmp / "inventory.json"
        self.inventory.write_text(json.dumps({"ecert_servers": {"hosts": inventory_hosts}}, indent=2))
        self.ansible_env = ansible_env(self.tmp)

    def playbook(self, *args, expect_rc=0) -> str:
        cp = h.run(["ansible-playbook", "-i", self.inventory, PLAYBOOK, *args],
                   env=self.ansible_env, timeout=120)
        out = cp.stdout + cp.stderr
        if expect_rc is not None:
            self.assertEqual(cp.returncode, expect_rc, f"ansible-playbook {args}: rc {cp.returncode}\n{out}")
        self.assertNotIn(PASSPHRASE, out, "the passphrase leaked into ansible output")
        return cp.stdout

    def assert_recap(self, stdout: str, changed: bool | None = None, **exact):
        recap = parse_recap(stdout)
        self.assertEqual(set(recap), {n for n, *_ in self.HOSTS}, stdout)
        for host, stats in recap.items():
            self.assertEqual(stats["unreachable"], 0, stdout)
            for k, v in exact.items():
                self.assertEqual(stats[k], v, f"{host} {k}\n{stdout}")
            if changed is True:
                self.assertGreater(stats["changed"], 0, f"{host}\n{stdout}")
            elif changed is False:
                self.assertEqual(stats["changed"], 0, f"{host}\n{stdout}")
        return recap

    def snapshot_all(self) -> dict:
        return self.snapshot(*(v["root"] for v in self.hosts.values()))

    def assert_no_passphrase_in_any_argv(self, sampler: ArgvSampler, ecertctl_ran: bool = True) -> None:
        secret = PASSPHRASE.encode()
        leaks = [a.replace(b"\0", b" ")[:200] for a in sampler.seen if secret in a]
        self.assertEqual(leaks, [], "the passphrase was on a command line")
        # The sampler saw the processes that used to carry it: the module's
        # /bin/sh -c line, and ecertctl itself.
        self.assertTrue(any(b"/bin/sh\0-c\0" in a and b"AnsiballZ_ecert.py" in a for a in sampler.seen))
        if ecertctl_ran:
            self.assertTrue(any(a.startswith(h.ecertctl_path().encode() + b"\0apply\0") for a in sampler.seen))

    def test_fleet_converges_idempotent_check_diff_and_bad_manifest(self):
        pids = {n: v["sb"].pid() for n, v in self.hosts.items()}

        # 1. Nothing yet: keys and CSRs created on every host; pending is not a failure.
        with ArgvSampler() as sampler:
            out = self.playbook()
        self.assert_recap(out, changed=True, failed=0)
        self.assert_no_passphrase_in_any_argv(sampler)
        self.assertNotIn("RUNNING HANDLER", out, "no restart while only keys/CSRs were created")
        for n, v in self.hosts.items():
            key = v["mdir"] / "ssl.key/site.key"
            self.assertEqual(key.stat().st_mode & 0o777, 0o600, n)
            self.assertEqual(h.csr_common_name(v["mdir"] / "ssl.csr/site.csr"), v["server"])
            self.assertEqual(v["sb"].pid(), pids[n], f"{n}: Apache restarted for a key/CSR")

        # Pending only: a second run and a check run change nothing.
        out = self.playbook()
        self.assert_recap(out, changed=False, failed=0)

        # 2. The CA issues every host's certificate.
        for v in self.hosts.values():
            self.pki.issue(v["mdir"] / "ssl.csr/site.csr", v["mdir"] / "ssl.crt/site.cer")

        # --check writes nothing at all, on any host, and reports the change.
        before = self.snapshot_all()
        out = self.playbook("--check")
        self.assert_recap(out, changed=True, failed=0)
        self.assertEqual(self.snapshot_all(), before, "--check wrote something")

        # --check --diff shows the predicted vhost and chain files; never a key.
        out = self.playbook("--check", "--diff")
        self.assertEqual(self.snapshot_all(), before, "--check --diff wrote something")
        for n, v in self.hosts.items():
            cert = v["mdir"] / "ssl.crt/site.cer"
            self.assertRegex(out, rf"\+\s*SSLCertificateFile {re.escape(str(cert))}", n)
            self.assertIn(str(v["mdir"] / "ssl.crt/hkpostca.crt"), out)
        self.assertNotIn("PRIVATE KEY", out)

        # 3. The real run serves the certificates: ecertctl restarts web1/web3,
        #    the role's handler restarts web2.
        with ArgvSampler() as sampler:
            out = self.playbook("--diff")
        self.assert_recap(out, changed=True, failed=0)
        self.assert_no_passphrase_in_any_argv(sampler)
        self.assertIn("RUNNING HANDLER [ecert : restart apache]", out)
        handler_hosts = set(re.findall(r"changed: \[(\w+)\] => \(item=", out))
        self.assertEqual(handler_hosts, {"web2"}, out)
        for n, v in self.hosts.items():
            self.assert_serves(v["sb"], v["server"], v["mdir"] / "ssl.crt/site.cer", "standard")

        # 4. Converged: changed=0 everywhere, nothing rewritten, no restart.
        before = self.snapshot_all()
        pids = {n: v["sb"].pid() for n, v in self.hosts.items()}
        out = self.playbook()
        self.assert_recap(out, changed=False, failed=0)
        self.assertNotIn("RUNNING HANDLER", out)
        after = self.snapshot_all()
        # Apache's own logs may grow; nothing else may change.
        def stable(snap):
            return {k: v for k, v in snap.items() if "/logs/" not in k and "/var/log/" not in k
                    and "/run/" not in k and "ssl_scache" not in k}
        self.assertEqual(stable(after), stable(before))
        self.assertEqual({n: v["sb"].pid() for n, v in self.hosts.items()}, pids)

        # 5. A bad manifest on one host fails that task with file:line:col; a
        #    passphrase in ecert_environment (where Ansible would put it on a
        #    command line) fails another before anything runs; the third is fine.
        bad = self.hosts["web3"]["mdir"] / "bad.yaml"
        good_text = self.hosts["web3"]["manifest"].read_text()
        bad.write_text(good_text.replace('feature: "standard"', 'feature: "gold"'))
        line = next(i for i, l in enumerate(bad.read_text().splitlines(), 1) if '"gold"' in l)
        inv = json.loads(self.inventory.read_text())
        inv["ecert_servers"]["hosts"]["web3"]["ecert_manifest"] = str(bad)
        web1 = inv["ecert_servers"]["hosts"]["web1"]
        web1["ecert_environment"].update(web1.pop("ecert_passphrases"))
        self.inventory.write_text(json.dumps(inv))
        with ArgvSampler() as sampler:
            out = self.playbook(expect_rc=2)
        recap = parse_recap(out)
        self.assertEqual(recap["web3"]["failed"], 1, out)
        self.assertEqual(recap["web1"]["failed"], 1, out)
        self.assertEqual(recap["web2"]["failed"], 0, out)
        self.assertRegex(out, r"fatal: \[web1\]: FAILED!.*ecert_environment names ECERT_KEY_PASSPHRASE.*"
                              r"Move it to ecert_passphrases")
        self.assert_no_passphrase_in_any_argv(sampler, ecertctl_ran=False)
        self.assertRegex(out, rf"fatal: \[web3\]: FAILED!.*{re.escape(str(bad))}:{line}:\d+: error: 'feature' must be")

    def test_module_options_sites_and_restart_false_report_restart_needed(self):
        """Ad-hoc module call: sites limits the run; restart=false leaves Apache
        alone and returns restart_needed; unknown _ansible_* args are accepted."""
        v = self.hosts["web1"]
        env = dict(self.ansible_env, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                   ECERT_KEY_PASSPHRASE=PASSPHRASE)

        def call(args: dict, *extra):
            cp = h.run(["ansible", "-i", self.inventory, "web1", "-m", "hkpost.ecert.ecert",
                        "-a", json.dumps(args), *extra], env=env, timeout=120)
            data = json.loads(cp.stdout)
            return cp.returncode, data["plays"][0]["tasks"][0]["hosts"]["web1"]

        base = {"manifest": str(v["manifest"]), "ecertctl": h.ecertctl_path(),
                "state_dir": str(v["root"] / "state")}
        # a site not in the manifest is an error that names it
        rc, res = call(dict(base, sites=["www.nosuch.test"]))
        self.assertNotEqual(rc, 0)
        self.assertTrue(res.get("failed"), res)
        self.assertIn("www.nosuch.test", res["msg"])
        rc, res = call(dict(base, sites=[v["server"]]))
        self.assertEqual(rc, 0, res)
        self.assertTrue(res["changed"])
        self.assertEqual([s["name"] for s in res["sites"]], [v["server"]])
        self.pki.issue(v["mdir"] / "ssl.csr/site.csr", v["mdir"] / "ssl.crt/site.cer")
        pid = v["sb"].pid()
        rc, res = call(dict(base, restart=False), "--diff")
        self.assertEqual(rc, 0, res)
        self.assertTrue(res["changed"])
        self.assertTrue(res["restart_needed"], res)
        self.assertFalse(res["restarted"], res)
        self.assertEqual(v["sb"].pid(), pid)
        headers = [d["after_header"] for d in res["diff"]]
        self.assertIn(str(v["mdir"] / "ssl.crt/hkpostca.crt"), headers)
        self.assertFalse(any(".key" in hdr for hdr in headers), headers)


if __name__ == "__main__":
    unittest.main()
