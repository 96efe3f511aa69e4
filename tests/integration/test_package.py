"""The Debian package as scripts/package builds it, taken apart: its control
data (shlibs Depends, conffile, state directory mode, changelog version), the
packaged binary run on the packaged manifest (at the default path, through a
mount namespace that shows the package's /etc), the man pages rendered with
warnings as failures, the bash completion loaded and driven in bash, the
systemd units checked by systemd-analyze, lintian reporting no errors, and
the Ansible role installing it (in check mode).

Registered for normal builds only (tests/integration/CMakeLists.txt):
scripts/package refuses to package a sanitizer build."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import harness as h
from test_ansible import PLAYBOOK, ansible_env

REPO = h.REPO_ROOT
COMPLETION = "usr/share/bash-completion/completions/ecertctl"
UNITS = ("ecertctl.service", "ecertctl.timer", "ecertctl-status.service", "ecertctl-status.timer",
         "ecertctl@.service", "ecertctl@.timer")
# The instance units as systemd loads them for an instance named "shop".
INSTANCE_UNITS = ("ecertctl@shop.service", "ecertctl@shop.timer")
SUBCOMMANDS = ("validate", "plan", "apply", "status", "csr", "rotate")


def project_version() -> str:
    m = re.search(r"project\(ecertctl VERSION (\S+)", (REPO / "CMakeLists.txt").read_text())
    return m.group(1)


def setUpModule():
    global WORK, DEB, ROOT, CONTROL
    WORK = Path(tempfile.mkdtemp(prefix="ecert-package-"))
    DEB = h.build_package(WORK)
    ROOT, CONTROL = WORK / "root", WORK / "control"
    h.run(["dpkg-deb", "-x", DEB, ROOT], check=True)
    h.run(["dpkg-deb", "-e", DEB, CONTROL], check=True)


def tearDownModule():
    shutil.rmtree(WORK, ignore_errors=True)


class PackageTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="ecert-package-test-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def field(self, name: str) -> str:
        return h.run(["dpkg-deb", "-f", DEB, name], check=True).stdout.strip()

    def ecertctl(self, *args, overlays=None, env=None) -> subprocess.CompletedProcess:
        argv = [ROOT / "usr/bin/ecertctl", *args]
        if overlays:
            argv = h.in_mount_namespace(argv, self.tmp / "ns", overlays=overlays)
        return h.run(argv, env={**os.environ, "LANG": "C.UTF-8", **(env or {})})

    def test_control_data(self):
        arch = h.run(["dpkg", "--print-architecture"], check=True).stdout.strip()
        self.assertEqual(DEB.name, f"ecertctl_{project_version()}_{arch}.deb")
        self.assertEqual(self.field("Version"), project_version())
        # Runtime libraries from dpkg-shlibdeps, one per library the binary links.
        depends = {d.split()[0] for d in self.field("Depends").split(", ")}
        for lib in ("libc6", "libssl3", "libyaml-cpp0.7", "libidn2-0", "libboost-filesystem1.74.0", "ca-certificates"):
            self.assertIn(lib, depends)
        self.assertEqual(self.field("Recommends"), "apache2, bash-completion")
        self.assertEqual((CONTROL / "conffiles").read_text().split(), ["/etc/ecertctl/ecert.yaml"])
        self.assertEqual((ROOT / "var/lib/ecertctl").stat().st_mode & 0o7777, 0o700)
        listing = h.run(["dpkg-deb", "-c", DEB], check=True).stdout
        self.assertRegex(listing, r"(?m)^drwx------ root/root .* \./var/lib/ecertctl/$")
        self.assertNotRegex(listing, r"(?m)^\S+ (?!root/root)")  # every file is root's
        changelog = gzip.decompress((ROOT / "usr/share/doc/ecertctl/changelog.gz").read_bytes()).decode()
        self.assertTrue(changelog.startswith(f"ecertctl ({project_version()}) "), changelog[:80])
        self.assertTrue((ROOT / "usr/share/doc/ecertctl/copyright").is_file())
        # The packaged manifest is the one in packaging/, and the binary stripped.
        self.assertEqual((ROOT / "etc/ecertctl/ecert.yaml").read_text(), (REPO / "packaging/ecert.yaml").read_text())
        self.assertNotIn("debug_info", h.run(["objdump", "-h", ROOT / "usr/bin/ecertctl"], check=True).stdout)

    def test_cmake_install_follows_the_prefix_and_keeps_an_edited_manifest(self):
        build_dir = Path(h.ecertctl_path()).resolve().parents[2]
        dest = self.tmp / "dest"

        def install():
            cp = h.run(["cmake", "--install", build_dir, "--prefix", "/usr/local"],
                       env={**os.environ, "DESTDIR": str(dest)})
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            return cp.stdout

        install()
        for path in ("usr/local/bin/ecertctl", "usr/local/share/man/man1/ecertctl.1.gz",
                     "usr/local/share/man/man5/ecertctl-manifest.5.gz",
                     "usr/local/share/bash-completion/completions/ecertctl", "etc/ecertctl/ecert.yaml"):
            self.assertTrue((dest / path).is_file(), path)
        self.assertEqual((dest / "var/lib/ecertctl").stat().st_mode & 0o777, 0o700)
        unit = (dest / "usr/local/lib/systemd/system/ecertctl.service").read_text()
        self.assertIn("\nExecStart=/usr/local/bin/ecertctl apply -f /etc/ecertctl/ecert.yaml\n", unit)
        manifest = dest / "etc/ecertctl/ecert.yaml"
        manifest.write_text(manifest.read_text().replace("My Organization", "Edited Limited"))
        out = install()
        self.assertIn("Edited Limited", manifest.read_text())
        self.assertIn(f"Kept: {manifest}", out)

    def test_lintian_reports_no_errors(self):
        cp = h.run(["lintian", "--fail-on", "error", DEB], timeout=300)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertNotRegex(cp.stdout, r"(?m)^E: ", cp.stdout)

    def etc_with_passphrase_and_vhost(self) -> Path:
        """The package's /etc plus what an operator adds before the first run:
        the passphrase file and a <VirtualHost *:443> for the example site
        (Debian's apache2.conf includes sites-enabled/*.conf)."""
        etc = self.tmp / "etc"
        shutil.copytree(ROOT / "etc", etc, symlinks=True)
        secret = etc / "ecertctl/key-passphrase"
        secret.write_text("a passphrase for the package test\n")
        secret.chmod(0o600)
        vhost = etc / "apache2/sites-enabled/www.myserver.com.conf"
        vhost.parent.mkdir(parents=True)
        vhost.write_text("<VirtualHost *:443>\n    ServerName www.myserver.com\n    SSLEngine on\n</VirtualHost>\n")
        return etc

    def test_packaged_binary_on_packaged_manifest(self):
        manifest = ROOT / "etc/ecertctl/ecert.yaml"
        cp = self.ecertctl("validate", "-f", manifest)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout, f"{manifest}: valid (1 site)\n")

        # At its real path, read by default, on this Debian's own Apache config.
        etc = self.etc_with_passphrase_and_vhost()
        cp = self.ecertctl("validate", overlays={"/etc": etc})
        self.assertEqual((cp.returncode, cp.stdout), (0, "/etc/ecertctl/ecert.yaml: valid (1 site)\n"), cp.stderr)
        state = self.tmp / "state"
        cp = self.ecertctl("plan", "--state-dir", state, "--format", "json", "--detailed-exitcode",
                           overlays={"/etc": etc})
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        report = json.loads(cp.stdout)
        (site,) = report["sites"]
        actions = {r["type"]: (r["action"], r["path"]) for r in site["resources"]}
        self.assertEqual(actions["key"], ("create", "/etc/ssl/private/www.myserver.com.key"))
        self.assertEqual(actions["csr"], ("create", "/etc/ecertctl/csr/www.myserver.com.csr"))
        self.assertEqual(actions["certificate"][0], "pending")
        self.assertEqual(actions["vhost"][0], "pending")
        self.assertFalse(state.exists(), "plan wrote its state directory")

    def test_man_pages_render_without_warnings(self):
        pages = {"man1/ecertctl.1.gz": ("EXIT STATUS", "SYSTEM LOG", "/etc/ecertctl/ecert.yaml", "journalctl -t ecertctl"),
                 "man5/ecertctl-manifest.5.gz": ("RULES", "renewal", "notify", "fullchain", "environment")}
        for page, phrases in pages.items():
            path = ROOT / "usr/share/man" / page
            with self.subTest(page=page):
                cp = h.run(["man", "--warnings", "-l", path],
                           env={**os.environ, "MANWIDTH": "80", "LANG": "C.UTF-8", "MAN_KEEP_FORMATTING": "0"})
                self.assertEqual((cp.returncode, cp.stderr), (0, ""))
                text = re.sub(".\b", "", cp.stdout)  # grotty's overstrike bold and underline
                for phrase in phrases:
                    self.assertIn(phrase, text)
                roff = gzip.decompress(path.read_bytes())
                cp = subprocess.run(["groff", "-k", "-man", "-Tutf8", "-ww", "-z"], input=roff, capture_output=True)
                self.assertEqual((cp.returncode, cp.stderr), (0, b""))

    def test_manifest_man_page_documents_every_schema_key(self):
        text = h.run(["man", "-l", ROOT / "usr/share/man/man5/ecertctl-manifest.5.gz"],
                     env={**os.environ, "MANWIDTH": "200", "LANG": "C.UTF-8"}).stdout
        text = re.sub(".\b", "", text)
        schema = json.loads((REPO / "schemas/manifest.schema.json").read_text())
        keys = set()

        def walk(node):
            if isinstance(node, dict):
                keys.update(k for k in node.get("properties", {}) if not k.startswith("$"))
                for v in node.values():
                    walk(v)
            elif isinstance(node, list):
                for v in node:
                    walk(v)
        walk(schema)
        self.assertGreater(len(keys), 20)
        for key in sorted(keys):
            self.assertRegex(text, rf"(?<![\w.-]){re.escape(key)}(?![\w-])", f"ecertctl-manifest(5) does not name {key}")

    def test_systemd_units(self):
        unit_dir = ROOT / "lib/systemd/system"
        self.assertEqual(sorted(p.name for p in unit_dir.iterdir()), sorted(UNITS))
        # ExecStart names /usr/bin/ecertctl: the host sees the package's /usr.
        units = [u for u in UNITS if "@." not in u] + list(INSTANCE_UNITS)
        cp = h.run(h.in_mount_namespace(["systemd-analyze", "verify", *(unit_dir / u for u in units)],
                                        self.tmp / "ns", overlays={"/usr": ROOT / "usr"}))
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertNotIn("ecertctl", cp.stdout + cp.stderr)

        def settings(unit: str) -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for line in (unit_dir / unit).read_text().splitlines():
                if "=" in line and not line.startswith("#"):
                    k, v = line.split("=", 1)
                    out.setdefault(k, []).append(v)
            return out

        apply, timer = settings("ecertctl.service"), settings("ecertctl.timer")
        self.assertEqual(apply["Type"], ["oneshot"])
        self.assertEqual(apply["ExecStart"], ["/usr/bin/ecertctl apply -f /etc/ecertctl/ecert.yaml"])
        self.assertEqual(apply["ProtectSystem"], ["strict"])
        self.assertEqual(set(apply["ReadWritePaths"][0].split()), {"-/etc/ssl", "-/etc/pki/tls", "-/etc/ecertctl",
                                                                   "-/etc/apache2", "-/etc/httpd"})
        self.assertEqual((apply["StateDirectory"], apply["StateDirectoryMode"]), (["ecertctl"], ["0700"]))
        for key in ("PrivateTmp", "NoNewPrivileges", "PrivateDevices"):
            self.assertEqual(apply[key], ["yes"], key)
        self.assertEqual(apply["ProtectHome"], ["read-only"])
        # The report goes to the journal apart from the lines ecertctl logs as "ecertctl".
        self.assertEqual(apply["SyslogIdentifier"], ["ecertctl-output"])
        self.assertEqual(timer["OnCalendar"], ["*-*-* 00,12:00:00"])
        self.assertEqual(timer["Persistent"], ["true"])
        self.assertIn("RandomizedDelaySec", timer)
        # One Apache instance of several: its own manifest, state directory and passphrase file.
        instance, instance_timer = settings("ecertctl@.service"), settings("ecertctl@.timer")
        self.assertEqual(instance["ExecStart"],
                         ["/usr/bin/ecertctl apply -f /etc/ecertctl/%i.yaml --state-dir /var/lib/ecertctl/%i"])
        self.assertEqual((instance["StateDirectory"], instance["StateDirectoryMode"]), (["ecertctl/%i"], ["0700"]))
        self.assertEqual(instance["EnvironmentFile"], ["-/etc/default/ecertctl-%i"])
        self.assertEqual(instance["ConditionPathExists"], ["/etc/ecertctl/%i.yaml"])
        self.assertLessEqual(set(apply["ReadWritePaths"][0].split()), set(instance["ReadWritePaths"][0].split()))
        hardening = ("ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "NoNewPrivileges",
                     "SystemCallFilter", "CapabilityBoundingSet", "RestrictAddressFamilies")
        self.assertEqual({k: instance[k] for k in hardening}, {k: apply[k] for k in hardening})
        self.assertEqual({k: instance_timer[k] for k in ("OnCalendar", "Persistent", "RandomizedDelaySec")},
                         {k: timer[k] for k in ("OnCalendar", "Persistent", "RandomizedDelaySec")})
        status, status_timer = settings("ecertctl-status.service"), settings("ecertctl-status.timer")
        self.assertEqual(status["ExecStart"], ["/usr/bin/ecertctl status -f /etc/ecertctl/ecert.yaml "
                                               "--textfile-dir /var/lib/prometheus/node-exporter"])
        self.assertEqual(status["ReadWritePaths"], ["/var/lib/prometheus/node-exporter"])
        self.assertEqual(status_timer["OnCalendar"], ["*:0/15"])
        # Every 15 minutes, twice a day: as systemd reads the calendar specs.
        cp = h.run(["systemd-analyze", "calendar", "--iterations=3", "*:0/15", "*-*-* 00,12:00:00"], check=True)
        nexts = re.findall(r"(?:Next elapse|Iter\. #\d): \w+ \S+ (\d\d:\d\d):\d\d", cp.stdout)
        self.assertEqual(len(nexts), 6, cp.stdout)
        quarter, twice = nexts[:3], nexts[3:]
        self.assertTrue(all(t[3:] in ("00", "15", "30", "45") for t in quarter), quarter)
        self.assertTrue(all(t in ("00:00", "12:00") for t in twice), twice)

    def complete(self, *words: str, cword: int = -1, overlays=None, default_manifest: str | None = None) -> list[str]:
        """What the packaged completion offers for words[cword] (default: the last)."""
        cword = cword % len(words)
        script = [f"source {ROOT / COMPLETION}",
                  "complete -p ecertctl >/dev/null",
                  f'COMP_WORDS=("$@"); COMP_CWORD={cword}; COMPREPLY=()',
                  "_ecertctl", 'printf "%s\\n" "${COMPREPLY[@]}"']
        if default_manifest:
            script.insert(1, f"_ecertctl_default_manifest={default_manifest}")
        argv = ["bash", "--norc", "--noprofile", "-c", "\n".join(script), "bash", *words]
        if overlays:
            argv = h.in_mount_namespace(argv, self.tmp / "ns", overlays=overlays)
        env = {**os.environ, "PATH": f"{ROOT / 'usr/bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        cp = h.run(argv, env=env)
        self.assertEqual((cp.returncode, cp.stderr), (0, ""), words)
        return [w for w in cp.stdout.split("\n") if w]

    def help_of(self, *args) -> str:
        return self.ecertctl(*args, "--help").stdout

    def test_bash_completion_follows_the_cli(self):
        # Subcommands and top-level options as ecertctl --help lists them.
        top = self.help_of()
        self.assertEqual(self.complete("ecertctl", ""),
                         re.findall(r"(?m)^  (\w+) {2,}", top.split("Subcommands:")[1]))
        self.assertEqual(list(SUBCOMMANDS), self.complete("ecertctl", ""))
        self.assertEqual(set(self.complete("ecertctl", "--")), {"--help", "--version"})
        for sub in SUBCOMMANDS:
            with self.subTest(sub=sub):
                text = self.help_of(sub)
                options = set(re.findall(r"(?m)^\s+(?:(-\w),)?(--[\w-]+)", text.split("Options:")[1]))
                offered = set(self.complete("ecertctl", sub, "-"))
                self.assertEqual(offered, {o for pair in options for o in pair if o})
                formats = re.search(r"--format TEXT:\{([^}]*)\}", text).group(1).split(",")
                self.assertEqual(self.complete("ecertctl", sub, "--format", ""), formats)
                # --format=VALUE: bash splits the words at "=" (COMP_WORDBREAKS).
                self.assertEqual(self.complete("ecertctl", sub, "--format", "=", ""), formats)

    def test_bash_completion_offers_the_manifests_site_names(self):
        exe = str(ROOT / "usr/bin/ecertctl")
        example = str(REPO / "examples/ecert.yaml")
        self.assertEqual(self.complete(exe, "csr", "-f", example, "--site", ""),
                         ["www.myserver.com", "secure.myserver.com", r"\*.myserver.com", "www.myshop.com",
                          "www.mybank.com", "www.xn--3pqw8o2pk43espw.com"])
        self.assertEqual(self.complete(exe, "status", "--site", "www.mysh", "--file", "=", example, cword=3),
                         ["www.myshop.com"])
        self.assertEqual(self.complete("ecertctl", "plan", "--site", "www.my", "-f", example, cword=3),
                         ["www.myserver.com", "www.myshop.com", "www.mybank.com"])
        # Without -f: the default manifest, /etc/ecertctl/ecert.yaml, here the package's.
        self.assertEqual(self.complete("ecertctl", "rotate", "--site", "", overlays={"/etc": ROOT / "etc"}),
                         ["www.myserver.com"])
        # A manifest that does not validate, or is not there, offers nothing and prints nothing.
        bad = self.tmp / "bad.yaml"
        bad.write_text("version: 1\nsites: [\n")
        self.assertEqual(self.complete(exe, "csr", "-f", str(bad), "--site", ""), [])
        self.assertEqual(self.complete(exe, "csr", "--site", "", default_manifest=str(self.tmp / "missing.yaml")), [])


@unittest.skipUnless(shutil.which("ansible-playbook"), "ansible-playbook not installed (apt-get install ansible)")
class AnsiblePackageTest(h.IntegrationTestCase, unittest.TestCase):
    """The role installs the package built by scripts/package (ecert_package),
    run here in check mode only: the test never installs anything on the
    machine it runs on."""

    def tasks(self, *args) -> dict[str, dict]:
        """ansible-playbook --tags ecert_package over one local host: each
        task's result, by task name."""
        env = dict(ansible_env(self.tmp), ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
        cp = h.run(["ansible-playbook", "-i", self.inventory, PLAYBOOK, "--tags", "ecert_package", *args],
                   env=env, timeout=300)
        self.assertEqual(cp.returncode, 0, cp.stdout[-3000:] + cp.stderr[-3000:])
        play = json.loads(cp.stdout)["plays"][0]
        return {t["task"]["name"].removeprefix("ecert : "): t["hosts"]["web1"] for t in play["tasks"]}

    def test_role_copies_and_installs_the_package_with_apt(self):
        deb = DEB
        cache = self.tmp / "host-package-cache"
        self.inventory = self.tmp / "inventory.json"
        self.inventory.write_text(json.dumps({"ecert_servers": {"hosts": {"web1": {
            "ansible_connection": "local", "ecert_become": False,
            "ecert_package": str(deb), "ecert_package_dir": str(cache)}}}}))
        installed = h.run(["dpkg-query", "-W", "-f", "${Version}", "ecertctl"]).stdout
        version = h.run(["dpkg-deb", "-f", deb, "Version"], check=True).stdout.strip()

        # A first check run: it would make the directory and copy the package, and
        # cannot look inside a package that is not there yet.
        first = self.tasks("--check")
        self.assertTrue(first["ecertctl package directory"]["changed"])
        self.assertTrue(first["ecertctl package copied to the host"]["changed"])
        self.assertTrue(first["ecertctl package installed with apt"].get("skipped"), first)
        self.assertFalse(cache.exists(), "--check wrote something")

        # Once a run has copied it, check mode asks apt whether it would install it.
        cache.mkdir()
        shutil.copy(deb, cache / deb.name)
        second = self.tasks("--check")
        self.assertFalse(second["ecertctl package copied to the host"]["changed"], second)
        apt = second["ecertctl package installed with apt"]
        self.assertNotIn("skipped", apt)
        self.assertFalse(apt.get("failed"), apt)
        self.assertEqual(apt["changed"], installed != version, apt)
        self.assertEqual(h.run(["dpkg-query", "-W", "-f", "${Version}", "ecertctl"]).stdout, installed,
                         "check mode installed the package")



if __name__ == "__main__":
    unittest.main()
