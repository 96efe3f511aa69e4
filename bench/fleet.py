"""Benchmark fleets for ecertctl: N sites of mixed features, a sandbox Apache
(the CA guide's "simple" layout from tests/integration/harness.py) whose N
<VirtualHost *:443> blocks are spread over files of 100 vhosts each under
conf/vhosts/, pulled in by `IncludeOptional conf/vhosts/*.conf`.

make_fleet(dir, n, ...) writes:
  pki/                 the harness TestPKI (test CA shaped like Hongkong Post's)
  apache/              ApacheSandbox(layout="simple"); vhosts in conf/vhosts/vhosts-NNN.conf
  manifest/ecert.yaml  the manifest (paths relative to manifest/)
  manifest/k|r|c/<stem>  keys, CSRs, certificates (c/s and c/e: the two chains)
  manifest/s.crt, e.crt  the standard and EV sub CA certificates
  restarts             one line per Apache restart ecertctl ran (the manifest's
                       restart command is bench/restart-counter <this file>)
  state/               ECERTCTL_STATE_DIR (lock, backups)

Keys: "ecertctl" leaves them to `ecertctl apply`; "pool" has bench/fleetgen
generate a pool of RSA-2048 keys (written round-robin, one file per site) and
each site's CSR in one process. certs=True then issues every certificate with
the test CA (bench/fleetgen issue).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
import harness as h  # noqa: E402

PASSPHRASE = "bench passphrase 0123456789"
FEATURES = ("standard", "ev", "wildcard", "multi-domain", "ev-multi-domain")
# One cycle of ten sites: 6 standard, 1 EV, 1 wildcard, 1 multi-domain, 1 EV multi-domain.
# (At N = 10,000 the manifest must stay under ecertctl's 1 MiB limit, and
# YAML aliases cannot help: the loader bounds the expanded document at
# 100,000 nodes, which a 10,000-site manifest exceeds.)
MIX = ("standard", "ev", "standard", "wildcard", "standard", "multi-domain", "standard", "standard",
       "standard", "ev-multi-domain")
VHOSTS_PER_FILE = 100
ORG = "Bench Organization"


def site_spec(i: int) -> dict:
    """Site i: feature by rotation, short names unique per i (the manifest
    must stay under ecertctl's 1 MiB limit at N = 10,000: ~100 bytes a site).
    Half the multi-domain sites list an additional name."""
    feature = MIX[i % len(MIX)]
    stem = f"{i}"
    if feature == "wildcard":
        name, server_name = f"*.w{i}.hk", f"x.w{i}.hk"
    else:
        name = server_name = f"s{i}.hk"
    extra = [f"a{i}.hk"] if "multi-domain" in feature else []
    return {"i": i, "feature": feature, "stem": stem, "name": name, "server_name": server_name,
            "additional_names": extra, "key": f"k/{stem}", "csr": f"r/{stem}", "cert": f"c/{stem}",
            "chain": "c/e" if feature.startswith("ev") else "c/s"}


def site_yaml(s: dict) -> str:
    """One site as a YAML flow mapping (compact: the manifest size limit)."""
    name = f"'{s['name']}'" if s["name"].startswith("*") else s["name"]
    parts = [f"name: {name}"] + ([f"feature: {s['feature']}"] if s["feature"] != "standard" else []) + [f"key: {s['key']}", f"csr: {s['csr']}",
             f"certificate: {s['cert']}", f"chain: {s['chain']}"]
    if s["feature"].startswith("ev"):
        parts.append("ca: {sub: e.crt}")
    if s["server_name"] != s["name"]:
        parts.append(f"vhost: {{server_name: {s['server_name']}}}")
    if s["additional_names"]:
        parts.append(f"additional_names: [{','.join(s['additional_names'])}]")
    return "- {" + ",".join(parts) + "}\n"


def make_fleet(d: Path, n: int, fleetgen: str, keys: str = "pool", certs: bool = True,
               cipher: str = "aes-256-cbc", pool: int = 64, placeholder: bool = True) -> dict:
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    pki = h.TestPKI(d / "pki")
    sb = h.ApacheSandbox(d / "apache", layout="simple", port=44300)
    sb.set_passphrase(PASSPHRASE)
    ph_key, ph_cert = sb.placeholder_cert("placeholder.bench.test")
    vdir = sb.conf_dir / "vhosts"
    vdir.mkdir(exist_ok=True)
    with open(sb.ssl_conf_path, "a") as f:
        f.write("IncludeOptional conf/vhosts/*.conf\n")
    specs = [site_spec(i) for i in range(n)]
    for start in range(0, n, VHOSTS_PER_FILE):
        blocks = []
        for s in specs[start:start + VHOSTS_PER_FILE]:
            blocks.append(
                f"<VirtualHost *:443>\n"
                f"    ServerName {s['server_name']}\n"
                + (f"    ServerAlias {' '.join(s['additional_names'])}\n" if s["additional_names"] else "")
                + f'    DocumentRoot "{sb.docroot}"\n'
                + "    SSLEngine on\n"
                + (f'    SSLCertificateFile "{ph_cert}"\n'
                   f'    SSLCertificateKeyFile "{ph_key}"\n' if placeholder else "")
                + "</VirtualHost>\n")
        (vdir / f"vhosts-{start // VHOSTS_PER_FILE:03d}.conf").write_text("\n".join(blocks))
        for s in specs[start:start + VHOSTS_PER_FILE]:
            s["vhost_file"] = str(vdir / f"vhosts-{start // VHOSTS_PER_FILE:03d}.conf")

    mdir = d / "manifest"
    for sub in ("k", "r", "c"):
        (mdir / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(mdir / "k", 0o700)
    shutil.copy(pki.ssl_sub_path, mdir / "s.crt")
    shutil.copy(pki.ev_sub_path, mdir / "e.crt")
    restart_log = d / "restarts"
    restart_log.write_text("")
    key_defaults = {"cipher": cipher}
    if cipher != "none":
        key_defaults["passphrase"] = {"env": "ECERT_KEY_PASSPHRASE"}
    head = {
        "version": 1,
        "apache": {
            "config": str(sb.config_path),
            "configtest": sb.configtest_argv(),
            "restart": [[str(BENCH / "restart-counter"), str(restart_log)]],
            "timeout": 120,
        },
        "defaults": {
            "organization": ORG,
            "feature": "standard",
            "key": key_defaults,
            "ca": {"sub": "s.crt", "cross": str(pki.cross_path), "trust": str(pki.trust_path)},
            "vhost": {"port": 443},
        },
    }
    manifest_path = mdir / "ecert.yaml"
    manifest_path.write_text(h.to_yaml(head) + "sites:\n" + "".join(site_yaml(s) for s in specs))
    fleet = {"dir": d, "n": n, "manifest": manifest_path, "pki": pki, "sandbox": sb,
             "specs": specs, "restart_log": restart_log, "state": d / "state", "cipher": cipher}
    if keys == "pool":
        rows = "".join(f"{mdir}/{s['key']}\t{mdir}/{s['csr']}\t{s['name']}\t{ORG}\n"
                       for s in specs)
        subprocess.run([fleetgen, "keys-csrs", str(min(pool, n)), cipher], input=rows, text=True,
                       check=True, env=env(fleet))
    if certs:
        issue_all(fleet, fleetgen)
    return fleet


def issue_all(fleet: dict, fleetgen: str) -> None:
    mdir = fleet["manifest"].parent
    rows = "".join(f"{mdir}/{s['csr']}\t{mdir}/{s['cert']}\t{s['feature']}\t"
                   f"{','.join(s['additional_names'])}\n" for s in fleet["specs"])
    subprocess.run([fleetgen, "issue", str(fleet["pki"].dir)], input=rows, text=True, check=True)


def env(fleet: dict) -> dict:
    e = dict(os.environ)
    e["ECERT_KEY_PASSPHRASE"] = PASSPHRASE
    e["ECERTCTL_STATE_DIR"] = str(fleet["state"])
    return e


def restarts(fleet: dict) -> int:
    return len(fleet["restart_log"].read_text().splitlines())


def input_files(fleet: dict) -> list[str]:
    """Every file a converged run reads: manifest, keys, CSRs, certificates,
    chains, CA files, trust bundle, every Apache config file."""
    d = fleet["dir"]
    mdir = fleet["manifest"].parent
    files = [str(fleet["manifest"])]
    for s in fleet["specs"]:
        files += [f"{mdir}/{s['key']}", f"{mdir}/{s['csr']}", f"{mdir}/{s['cert']}"]
    files += [str(mdir / "c" / "s"), str(mdir / "c" / "e"), str(mdir / "s.crt"), str(mdir / "e.crt")]
    pki = fleet["pki"]
    files += [str(pki.cross_path), str(pki.trust_path)]
    sb = fleet["sandbox"]
    files += [str(sb.config_path), str(sb.ssl_conf_path)]
    files += sorted(str(p) for p in (sb.conf_dir / "vhosts").glob("*.conf"))
    return [f for f in files if os.path.exists(f)]
