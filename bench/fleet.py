"""Benchmark fleets for ecertctl: N sites of mixed features, a sandbox Apache
(the CA guide's "simple" layout from tests/integration/harness.py) whose N
<VirtualHost *:443> blocks are spread over files of 100 vhosts each under
conf/vhosts/, pulled in by `IncludeOptional conf/vhosts/*.conf`.

make_fleet(dir, n, ...) writes:
  pki/                 the harness TestPKI (test CA shaped like Hongkong Post's)
  apache/              ApacheSandbox(layout="simple"); vhosts in conf/vhosts/vhosts-NNN.conf
  manifest/ecert.yaml  the manifest (paths relative to manifest/)
  manifest/ssl.key|ssl.csr|ssl.crt/<stem>...
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
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
import harness as h  # noqa: E402

PASSPHRASE = "bench passphrase 0123456789"
FEATURES = ("standard", "ev", "wildcard", "multi-domain", "ev-multi-domain")
VHOSTS_PER_FILE = 100
ORG = "Bench Organization"


def site_spec(i: int) -> dict:
    """Site i: feature by rotation, names unique per i."""
    feature = FEATURES[i % len(FEATURES)]
    stem = f"s{i:05d}"
    if feature == "wildcard":
        name, server_name = f"*.w{i}.bench.test", f"www.w{i}.bench.test"
    else:
        name = server_name = f"www.{stem}.bench.test"
    extra = [f"alt{j}.{stem}.bench.test" for j in (1, 2)] if "multi-domain" in feature else []
    return {"i": i, "feature": feature, "stem": stem, "name": name, "server_name": server_name,
            "additional_names": extra}


def make_fleet(d: Path, n: int, fleetgen: str, keys: str = "pool", certs: bool = True,
               cipher: str = "aes-256-cbc", pool: int = 64) -> dict:
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
                f"    SSLEngine on\n"
                f'    SSLCertificateFile "{ph_cert}"\n'
                f'    SSLCertificateKeyFile "{ph_key}"\n'
                f"</VirtualHost>\n")
        (vdir / f"vhosts-{start // VHOSTS_PER_FILE:03d}.conf").write_text("\n".join(blocks))

    mdir = d / "manifest"
    for sub in ("ssl.key", "ssl.csr", "ssl.crt"):
        (mdir / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(mdir / "ssl.key", 0o700)
    restart_log = d / "restarts"
    restart_log.write_text("")
    sites = []
    for s in specs:
        ev = s["feature"].startswith("ev")
        site = {
            "name": s["name"],
            "feature": s["feature"],
            "key": f"ssl.key/{s['stem']}.key",
            "csr": f"ssl.csr/{s['stem']}.csr",
            "certificate": f"ssl.crt/{s['stem']}.cer",
            "chain": f"ssl.crt/hkpostca{'-ev' if ev else ''}.crt",
            "ca": {"sub": str(pki.ev_sub_path if ev else pki.ssl_sub_path)},
            "vhost": {"server_name": s["server_name"], "port": 443},
        }
        if s["additional_names"]:
            site["additional_names"] = s["additional_names"]
        sites.append(site)
    key_defaults = {"cipher": cipher}
    if cipher != "none":
        key_defaults["passphrase"] = {"env": "ECERT_KEY_PASSPHRASE"}
    manifest = {
        "version": 1,
        "apache": {
            "config": str(sb.config_path),
            "configtest": sb.configtest_argv(),
            "restart": [[str(BENCH / "restart-counter"), str(restart_log)]],
            "timeout": 120,
        },
        "defaults": {
            "organization": ORG,
            "key": key_defaults,
            "ca": {"cross": str(pki.cross_path), "trust": str(pki.trust_path)},
        },
        "sites": sites,
    }
    manifest_path = h.write_manifest(mdir / "ecert.yaml", manifest)
    fleet = {"dir": d, "n": n, "manifest": manifest_path, "pki": pki, "sandbox": sb,
             "specs": specs, "restart_log": restart_log, "state": d / "state", "cipher": cipher}
    if keys == "pool":
        rows = "".join(f"{mdir}/ssl.key/{s['stem']}.key\t{mdir}/ssl.csr/{s['stem']}.csr\t{s['name']}\t{ORG}\n"
                       for s in specs)
        subprocess.run([fleetgen, "keys-csrs", str(min(pool, n)), cipher], input=rows, text=True,
                       check=True, env=env(fleet))
    if certs:
        issue_all(fleet, fleetgen)
    return fleet


def issue_all(fleet: dict, fleetgen: str) -> None:
    mdir = fleet["manifest"].parent
    rows = "".join(f"{mdir}/ssl.csr/{s['stem']}.csr\t{mdir}/ssl.crt/{s['stem']}.cer\t{s['feature']}\t"
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
        files += [f"{mdir}/ssl.key/{s['stem']}.key", f"{mdir}/ssl.csr/{s['stem']}.csr",
                  f"{mdir}/ssl.crt/{s['stem']}.cer"]
    files += [str(mdir / "ssl.crt" / "hkpostca.crt"), str(mdir / "ssl.crt" / "hkpostca-ev.crt")]
    pki = fleet["pki"]
    files += [str(pki.ssl_sub_path), str(pki.ev_sub_path), str(pki.cross_path), str(pki.trust_path)]
    sb = fleet["sandbox"]
    files += [str(sb.config_path), str(sb.ssl_conf_path)]
    files += sorted(str(p) for p in (sb.conf_dir / "vhosts").glob("*.conf"))
    return [f for f in files if os.path.exists(f)]
