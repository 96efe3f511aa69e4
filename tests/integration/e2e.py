"""Shared scaffolding for ecertctl's end-to-end tests: a sandbox Apache, the
test PKI, and a manifest whose sites point into the sandbox."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import harness as h

PASSPHRASE = "correct horse battery staple 7"


# The log files Apache writes itself (ErrorLog, CustomLog) in the sandboxes' layouts.
APACHE_LOG = re.compile(r"(ssl_)?(error|access)[._]log|other_vhosts_access\.log")


class E2ECase(h.IntegrationTestCase):
    """Per test: self.pki, and helpers to build sandboxes and manifests."""

    def setUp(self):
        super().setUp()
        self.pki = self.make_pki()
        self.state_dir = self.tmp / "state"
        self.manifest_dir = self.tmp / "manifest"
        self.manifest_dir.mkdir()

    def env(self, sb: h.ApacheSandbox | None = None, **extra) -> dict:
        e = sb.env() if sb else dict(os.environ)
        e["ECERT_KEY_PASSPHRASE"] = PASSPHRASE
        e["ECERTCTL_STATE_DIR"] = str(self.state_dir)
        e.update(extra)
        return e

    def sandbox(self, layout: str = "simple") -> h.ApacheSandbox:
        sb = self.make_sandbox(layout)
        sb.set_passphrase(PASSPHRASE)
        return sb

    def site(self, sb: h.ApacheSandbox, name: str, feature: str = "standard", stem: str | None = None,
             **extra) -> dict:
        stem = stem or name.replace("*", "wild").replace(".", "_")
        ev = feature in h.EV_FEATURES
        site = {
            "name": name,
            "feature": feature,
            "key": str(sb.key_dir / f"{stem}.key") if hasattr(sb, "key_dir") else f"ssl.key/{stem}.key",
            "csr": f"ssl.csr/{stem}.csr",
            "certificate": f"ssl.crt/{stem}.cer",
            "chain": f"ssl.crt/hkpostca{'-ev' if ev else ''}.crt",
            "ca": {"sub": str(self.pki.ev_sub_path if ev else self.pki.ssl_sub_path)},
            "vhost": {"port": sb.port, "verify": f"127.0.0.1:{sb.port}"},
        }
        site["vhost"].update(extra.pop("vhost", {}))
        site.update(extra)
        return site

    def two_sites(self) -> tuple[h.ApacheSandbox, dict, dict, Path]:
        """A started sandbox with www.a.test and www.b.test, and a manifest naming both."""
        sb = self.sandbox("simple")
        sb.add_vhost("www.a.test")
        sb.add_vhost("www.b.test")
        sb.start()
        a = self.site(sb, "www.a.test", stem="a")
        b = self.site(sb, "www.b.test", stem="b")
        return sb, a, b, self.manifest(sb, [a, b])

    def manifest(self, sb: h.ApacheSandbox, sites: list[dict], **apache) -> Path:
        m = {
            "version": 1,
            "apache": {**sb.manifest_apache(), **apache},
            "defaults": {
                "organization": "My Organization",
                "key": {"passphrase": {"env": "ECERT_KEY_PASSPHRASE"}},
                "ca": {"cross": str(self.pki.cross_path), "trust": str(self.pki.trust_path)},
            },
            "sites": sites,
        }
        return h.write_manifest(self.manifest_dir / "ecert.yaml", m)

    def run_json(self, *args, sb=None, expect_rc=0, **kw) -> dict:
        cp = self.ecertctl(*args, "--format", "json", env=self.env(sb, **kw))
        self.assertEqual(cp.returncode, expect_rc, f"{args}: rc {cp.returncode}\n{cp.stdout}\n{cp.stderr}")
        self.assertNotIn(PASSPHRASE, cp.stdout + cp.stderr)
        return json.loads(cp.stdout)

    @staticmethod
    def resources(report: dict, site: str) -> dict:
        for s in report["sites"]:
            if s["name"] == site:
                return {r["type"]: r for r in s["resources"]}
        raise AssertionError(f"no site {site} in report")

    def path_in_manifest(self, rel: str) -> Path:
        return self.manifest_dir / rel

    def issue(self, site: dict, feature: str | None = None, names=(), **kw) -> Path:
        csr = self.path_in_manifest(site["csr"])
        cert = self.path_in_manifest(site["certificate"])
        return self.pki.issue(csr, cert, feature or site["feature"], names=names, **kw)

    @staticmethod
    def snapshot(*roots: Path) -> dict:
        """Every regular file under roots: path -> (bytes, mtime_ns, mode); symlinks -> target.

        Apache's own logs and pid files are left out: Apache writes them itself,
        at its own pace (a notice of the last restart can land seconds later)."""
        out = {}
        for root in roots:
            for dirpath, dirnames, filenames in os.walk(root):
                for n in filenames + dirnames:
                    p = Path(dirpath) / n
                    if n.endswith(".pid") or APACHE_LOG.fullmatch(n):
                        continue
                    if p.is_symlink():
                        out[str(p)] = ("link", os.readlink(p))
                    elif p.is_file():
                        st = p.stat()
                        out[str(p)] = (p.read_bytes(), st.st_mtime_ns, st.st_mode)
        return out

    def assert_serves(self, sb: h.ApacheSandbox, sni: str, cert: Path, feature: str) -> None:
        chain = h.wait_for_served(sb.port, sni, cert)
        self.assertEqual(len(chain), 3, f"{sni}: served {len(chain)} certificates")
        self.assertEqual(h.cert_fingerprint(chain[1]), h.cert_fingerprint(self.pki.sub_for(feature).cert))
        self.assertEqual(h.cert_fingerprint(chain[2]), h.cert_fingerprint(self.pki.cross_path))
        ok, out = h.verify_handshake(sb.port, sni, self.pki.trust_path)
        self.assertTrue(ok, f"{sni}: handshake did not verify against the test root only\n{out[-3000:]}")
