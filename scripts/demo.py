#!/usr/bin/env python3
"""Runs ecertctl's main job on examples/ecert.yaml inside a sandbox: its own
Debian-style Apache ServerRoot on a loopback port, a test CA shaped like
Hongkong Post's standing in for the real one. Nothing outside the sandbox
directory is touched, and Apache is stopped at the end (unless --keep)."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import harness as h  # noqa: E402


def banner(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dir", default=os.environ.get("ECERT_DEMO_DIR", str(REPO / "sandbox")))
    ap.add_argument("--keep", action="store_true", help="leave Apache running")
    args = ap.parse_args()

    root = Path(args.dir).resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    os.chmod(root, 0o700)
    exe = h.ecertctl_path()
    passphrase = secrets.token_urlsafe(18)
    env = {**os.environ, "ECERT_KEY_PASSPHRASE": passphrase, "ECERTCTL_STATE_DIR": str(root / "state")}

    banner(f"sandbox in {root}")
    pki = h.TestPKI(root / "test-ca")
    mdir = root / "manifest"
    (mdir / "ca").mkdir(parents=True)
    for src in (pki.ssl_sub_path, pki.ev_sub_path, pki.cross_path):
        shutil.copy(src, mdir / "ca" / src.name)

    sb = h.ApacheSandbox(root / "apache", layout="debian")
    sb.set_passphrase(passphrase)
    manifest = yaml.safe_load((REPO / "examples" / "ecert.yaml").read_text())
    manifest["apache"] = sb.manifest_apache()
    manifest["defaults"]["ca"]["trust"] = str(pki.trust_path)
    for site in manifest["sites"]:
        ascii_name = site["name"].encode("idna").decode() if not site["name"].startswith("*") else site["name"]
        vhost = site.setdefault("vhost", {})
        served_name = vhost.get("server_name", ascii_name)
        vhost["port"] = sb.port
        vhost["verify"] = f"127.0.0.1:{sb.port}"
        stem = Path(site["csr"]).stem
        sb.add_vhost(served_name, aliases=site.get("additional_names", []), file=f"sites-available/{stem}.conf")
    mfile = mdir / "ecert.yaml"
    mfile.write_text(yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False))
    sb.start()
    env.update(sb.env())

    def ecertctl(*a: str, ok=(0,)) -> subprocess.CompletedProcess:
        print(f"\n$ ecertctl {' '.join(a)}", flush=True)
        cp = subprocess.run([exe, *a], env=env, stdin=subprocess.DEVNULL, text=True, capture_output=True)
        sys.stdout.write(cp.stdout)
        sys.stderr.write(cp.stderr)
        if cp.returncode not in ok:
            raise SystemExit(f"ecertctl {a[0]} exited {cp.returncode}")
        return cp

    try:
        banner("1. plan and apply: keys and CSRs are generated, certificates are pending")
        ecertctl("validate", "-f", str(mfile))
        ecertctl("plan", "-f", str(mfile), "--detailed-exitcode", ok=(2,))
        ecertctl("apply", "-f", str(mfile))
        ecertctl("csr", "-f", str(mfile), "--site", "www.myserver.com")

        banner("2. the (test) CA issues every certificate; the operator drops them in place")
        for site in manifest["sites"]:
            csr, cert = mdir / site["csr"], mdir / site["certificate"]
            pki.issue(csr, cert, site["feature"], names=site.get("additional_names", []))
            print(f"issued {cert.relative_to(root)}")

        banner("3. apply: chains written, vhosts patched, Apache restarted once and verified")
        ecertctl("apply", "-f", str(mfile))
        ecertctl("status", "-f", str(mfile))

        banner("4. an independent TLS handshake per site, trusting only the test root")
        failures = 0
        for site in manifest["sites"]:
            sni = site["vhost"].get("server_name") or site["name"].encode("idna").decode()
            ok, out = h.verify_handshake(sb.port, sni, pki.trust_path)
            print(f"{sni:32} {'verified' if ok else 'FAILED'}")
            failures += not ok

        banner("5. apply again: converged, nothing changes, no restart")
        ecertctl("apply", "-f", str(mfile))
        return 1 if failures else 0
    finally:
        if args.keep:
            print(f"\nApache left running on 127.0.0.1:{sb.port} (stop: APACHE_CONFDIR={sb.conf_dir} apache2ctl stop)")
        else:
            sb.stop()


if __name__ == "__main__":
    sys.exit(main())
