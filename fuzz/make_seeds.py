#!/usr/bin/env python3
"""Regenerate the seed corpora in fuzz/corpus/ (run from anywhere).

fuzz_manifest:      every manifest of tests/manifests (good and bad) plus a few
                    hostile ones (alias bomb, deep nesting, NUL, invalid UTF-8).
fuzz_apache_config: small Apache configs (Debian and /usr/local shapes, CRLF,
                    continuation lines, quoting, nested sections, broken ones).
fuzz_pem:           certificates (PEM and DER), a bundle, CSRs, made with a
                    throw-away CA by the openssl CLI; the private keys used
                    are never written here. Key-reader seeds (deliberately
                    NOT keys: PKCS#8 / EncryptedPrivateKeyInfo framing around
                    random bytes, truncated PEM text) go only to the directory
                    in $ECERT_KEY_SEEDS_DIR when set (scripts/fuzz sets it to
                    a build directory), never into the repository.
fuzz_facts_cache:   facts caches (engine/facts_cache.h) as apply writes them for
                    two sites, and damaged ones: an older version, a cut line,
                    mistyped and missing fields, unknown kinds, huge numbers.
fuzz_installed:     installed-state records (engine/installed.h) as apply writes
                    them, with unknown fields, other shapes and cut short.
fuzz_saved_plan:    saved plans (`plan --out`, engine/saved_plan.h) of the
                    shapes ecertctl writes (no-op, create, pending, error,
                    config writes), and ones that are not plans.
Deterministic where it matters (names); certificates differ per run.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS = HERE / "corpus"
KEY_SEEDS_DIR = Path(os.environ["ECERT_KEY_SEEDS_DIR"]) if os.environ.get("ECERT_KEY_SEEDS_DIR") else None
if KEY_SEEDS_DIR:
    KEY_SEEDS_DIR.mkdir(parents=True, exist_ok=True)


def put(target: str, name: str, data: bytes | str) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data.encode() if isinstance(data, str) else data)


def manifests() -> None:
    for kind in ("good", "bad"):
        for p in sorted((REPO / "tests" / "manifests" / kind).rglob("*.yaml")):
            put("fuzz_manifest", f"{kind}-{p.stem}.yaml", p.read_bytes())
    bomb = "version: 1\na: &a [x, x, x, x, x, x, x, x, x]\n"
    prev = "a"
    for i in range(8):
        bomb += f"{chr(98 + i)}: &{chr(98 + i)} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        prev = chr(98 + i)
    put("fuzz_manifest", "hostile-alias-bomb.yaml", bomb)
    put("fuzz_manifest", "hostile-deep-flow.yaml", "version: 1\napache: " + "[" * 5000 + "]" * 5000 + "\n")
    put("fuzz_manifest", "hostile-deep-block.yaml",
        "version: 1\n" + "".join(" " * i + f"k{i}:\n" for i in range(300)) + " " * 300 + "v\n")
    put("fuzz_manifest", "hostile-nul.yaml", b"version: 1\napache:\n  config: /etc/apa\x00che2/apache2.conf\n")
    put("fuzz_manifest", "hostile-bad-utf8.yaml", b"version: 1\ndefaults:\n  organization: \xff\xfe\xc3\x28\n")
    put("fuzz_manifest", "hostile-binary.yaml", bytes(range(256)) * 4)
    put("fuzz_manifest", "hostile-tags.yaml", "version: !!binary AAAA\napache: !custom {config: /x}\n")
    put("fuzz_manifest", "hostile-merge-key.yaml", "version: 1\nbase: &b {config: /x}\napache:\n  <<: *b\n")


APACHE = {
    "debian.conf": (
        "# main\nServerRoot /srv/apache\nInclude inc/extra.conf\nIncludeOptional sites/*.conf\n"
        "<IfModule ssl_module>\n\tListen 443\n</IfModule>\n"
        "<VirtualHost *:80>\n\tServerName www.example.com\n</VirtualHost>\n"
        "<IfModule mod_ssl.c>\n\t<VirtualHost _default_:443>\n\t\tServerName www.example.com\n"
        "\t\tServerAlias example.com *.example.org\n\t\tSSLEngine on\n"
        "\t\tSSLCertificateFile\t/etc/ssl/certs/ssl-cert-snakeoil.pem\n"
        "\t\tSSLCertificateKeyFile /etc/ssl/private/ssl-cert-snakeoil.key\n\t</VirtualHost>\n</IfModule>\n"
    ),
    "crlf.conf": "<VirtualHost *:443>\r\n  ServerName a.example.com\r\n  SSLCertificateFile \"/a b/c.crt\" # note\r\n</VirtualHost>\r\n",
    "continuation.conf": (
        "<VirtualHost 10.0.0.1:443 [::]:443>\n    ServerName b.example.com\n"
        "    SSLCertificateChainFile \\\n        /etc/old-chain.crt\n    # comment \\\n    Header set X y\n</VirtualHost>\n"
    ),
    "quoted.conf": (
        "Define SSLDIR /etc/ssl\n<VirtualHost *:443>\nServerName ${SERVER}\n"
        "SSLCertificateFile '${SSLDIR}/x.crt'\nSSLCertificateKeyFile \"${SSLDIR}/my key.key\"\n"
        "<Directory \"/var/www\">\nRequire all granted\n</Directory>\n</VirtualHost>\n"
    ),
    "two-vhosts.conf": (
        "<VirtualHost *:443>\nServerName one.example.com\n</VirtualHost>\n"
        "<VirtualHost *:443>\n\tServerName two.example.com\n\tSSLCertificateFile x\n"
        "\tSSLCertificateFile y\n</VirtualHost>\n<VirtualHost *>\nServerAlias *\n</VirtualHost>"
    ),
    "broken-unclosed.conf": "<VirtualHost *:443>\nServerName x.example.com\n<IfModule x>\n",
    "broken-stray-close.conf": "</VirtualHost>\n<VirtualHost *:443>\n</Directory>\n",
    "broken-include-loop.conf": "Include /srv/apache/httpd.conf\n<VirtualHost *:443>\n</VirtualHost>\n",
    "include-glob.conf": "IncludeOptional /srv/apache/inc/*.conf\nInclude /srv/apache/in?/extra.conf\n",
    "nul-and-binary.conf": b"<VirtualHost *:443>\nServerName \x00x.example.com\n\xff\xfe\n</VirtualHost>\n",
    "empty.conf": "",
    "no-newline.conf": "<VirtualHost *:443>\nServerName z.example.com\nSSLCertificateFile /z</VirtualHost>",
    # Conditional sections (the target reads with -D FUZZ).
    "sections-stale-duplicates.conf": (
        "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n"
        "<IfDefine STAGING>\n<VirtualHost *:443>\n  ServerName www.example.com\n"
        "  SSLCertificateFile /etc/ssl/staging.pem\n</VirtualHost>\n</IfDefine>\n"
        "<IfModule mod_gnutls.c>\n<VirtualHost *:443>\n  ServerName www.example.com\n"
        "  GnuTLSCertificateFile /etc/ssl/gnutls.pem\n</VirtualHost>\n</IfModule>\n"
        "<IfModule mod_ssl.c>\n<IfDefine FUZZ>\n<VirtualHost *:443>\n  ServerName www.example.com\n"
        "  SSLCertificateFile /etc/ssl/live.pem\n</VirtualHost>\n</IfDefine>\n</IfModule>\n"
    ),
    "sections-inside-vhost.conf": (
        "<VirtualHost *:443>\r\n  ServerName www.example.com\r\n  SSLCertificateFile /live.pem\r\n"
        "  <IfDefine !FUZZ>\r\n    SSLCertificateChainFile /old-chain.pem\r\n    SSLCertificateKeyFile \\\r\n"
        "      /old.key\r\n  </IfDefine>\r\n  <IfModule version_module>\r\n    SSLCertificateKeyFile /live.key\r\n"
        "  </IfModule>\r\n</VirtualHost>\r\n"
    ),
    "sections-define-order.conf": (
        "<IfDefine LATER>\nInclude /srv/apache/missing.conf\n</IfDefine>\nDefine LATER\n"
        "Define ADDRS \"*:443 [::]:443\"\nDefine NAMES \"a.example.com b.example.com\"\n"
        "<IfDefine ${LATER}>\n</IfDefine>\n<IfDefine LATER>\n<VirtualHost ${ADDRS}>\n  ServerAlias ${NAMES}\n"
        "</VirtualHost>\n</IfDefine>\nUnDefine LATER\n<IfDefine LATER>\n<VirtualHost *:443>\n</VirtualHost>\n"
        "</IfDefine>\n"
    ),
    "sections-modules-files.conf": (
        "ServerRoot /srv/apache\nLoadModule headers_module modules/mod_headers.so\n"
        "<IfDirective RequestHeader>\n<IfSection !Proxy>\n<IfFile inc/extra.conf>\n<IfVersion >= 2.4>\n"
        "<VirtualHost *:443>\nServerName m.example.com\n</VirtualHost>\n</IfVersion>\n</IfFile>\n"
        "</IfSection>\n</IfDirective>\n<IfFile !/srv/apache/inc/extra.conf>\nInclude inc/extra.conf\n</IfFile>\n"
        "<IfVersion ~ ^2\\.4>\n</IfVersion>\n<IfVersion = /^2/>\n</IfVersion>\n"
    ),
    "sections-unknown.conf": (
        "LoadModule php_module /usr/lib/apache2/modules/libphp8.2.so\n<IfDirective PHPIniDir>\n"
        "Define PHP\nInclude /srv/apache/inc/extra.conf\n</IfDirective>\n<IfDefine PHP>\n"
        "<VirtualHost *:443>\nServerName php.example.com\n</VirtualHost>\n</IfDefine>\n"
    ),
    "sections-broken.conf": (
        "<IfModule>\n</IfModule>\n<IfVersion => 2>\n</IfVersion>\n<IfDefine NEVER>\n<VirtualHost *:443>\n"
        "</IfDefine>\n<Macro Site $n>\n<VirtualHost *:443>\nServerName $n\n</VirtualHost>\n</Macro>\n"
    ),
}


def apache() -> None:
    for name, text in APACHE.items():
        put("fuzz_apache_config", name, text)


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def pem_seeds() -> None:
    with tempfile.TemporaryDirectory(prefix="ecert-seeds-") as tmp:
        t = Path(tmp)
        (t / "req.cnf").write_text("[ req ]\ndistinguished_name = dn\nprompt = no\n[ dn ]\n"
                                   "[ leaf ]\nsubjectAltName = DNS:www.example.com, DNS:shop.example.com\n"
                                   "certificatePolicies = 2.23.140.1.2.2\nbasicConstraints = critical, CA:FALSE\n")
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key", cwd=t)
        openssl("req", "-new", "-x509", "-key", "ca.key", "-out", "ca.crt", "-days", "3650", "-config", "req.cnf",
                "-subj", "/C=HK/O=Hongkong Post/CN=Hongkong Post e-Cert SSL CA 3 - 17", cwd=t)
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "leaf.key", cwd=t)
        openssl("req", "-new", "-key", "leaf.key", "-out", "leaf.csr", "-config", "req.cnf",
                "-subj", "/C=HK/ST=Hong Kong/L=Hong Kong/O=My Organization/CN=www.example.com", cwd=t)
        openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "leaf.crt", "-days", "365", "-extfile", "req.cnf", "-extensions", "leaf", cwd=t)
        openssl("x509", "-in", "leaf.crt", "-outform", "DER", "-out", "leaf.der", cwd=t)
        openssl("req", "-in", "leaf.csr", "-outform", "DER", "-out", "leaf.csr.der", cwd=t)
        # An encrypted key's framing with its ciphertext replaced by random bytes: not a key.
        openssl("pkcs8", "-topk8", "-in", "leaf.key", "-v2", "aes-256-cbc", "-passout", "pass:throwaway",
                "-outform", "DER", "-out", "leaf.p8.der", cwd=t)
        enc = bytearray((t / "leaf.p8.der").read_bytes())
        n = len(enc) - 200
        enc[-n:] = os.urandom(n)
        enc_pem = "-----BEGIN ENCRYPTED " "PRIVATE KEY-----\n" + "\n".join(
            base64.b64encode(bytes(enc)).decode()[i:i + 64] for i in range(0, len(base64.b64encode(bytes(enc))), 64)
        ) + "\n-----END ENCRYPTED " "PRIVATE KEY-----\n"
        for name in ("ca.crt", "leaf.crt", "leaf.csr"):
            put("fuzz_pem", name.replace(".", "-") + ".pem", (t / name).read_bytes())
        put("fuzz_pem", "leaf-crt.der", (t / "leaf.der").read_bytes())
        put("fuzz_pem", "leaf-csr.der", (t / "leaf.csr.der").read_bytes())
        put("fuzz_pem", "bundle.pem", "junk before\n" + (t / "leaf.crt").read_text() + (t / "ca.crt").read_text())
        put("fuzz_pem", "crlf-bundle.pem", ((t / "ca.crt").read_text()).replace("\n", "\r\n"))
    # Key-shaped seeds (framing around random bytes, not keys) are written
    # only on request, outside the repository: committed files never look
    # like private keys.
    if KEY_SEEDS_DIR:
        (KEY_SEEDS_DIR / "not-a-key-encrypted.pem").write_text(enc_pem)
    # PKCS#8 PrivateKeyInfo header for RSA followed by random bytes: not a key.
    head = bytes.fromhex("308204bd020100300d06092a864886f70d0101010500048204a7")
    fake = head + os.urandom(0x4a7)
    b64 = base64.b64encode(fake).decode()
    if KEY_SEEDS_DIR:
        begin, end = "-----BEGIN " "PRIVATE KEY-----", "-----END " "PRIVATE KEY-----"
        (KEY_SEEDS_DIR / "not-a-key-pkcs8.pem").write_text(begin + "\n" + "\n".join(
            b64[i:i + 64] for i in range(0, len(b64), 64)) + "\n" + end + "\n")
        (KEY_SEEDS_DIR / "truncated-rsa-key.pem").write_text(
            "-----BEGIN RSA " "PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
            "DEK-Info: DES-EDE3-CBC,0011223344556677\n\nMIIEowIBAAKCAQEA\n")
    put("fuzz_pem", "empty-cert.pem", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    put("fuzz_pem", "bad-base64.pem", "-----BEGIN CERTIFICATE-----\n!!!!not base64@@@@\n-----END CERTIFICATE-----\n")
    put("fuzz_pem", "der-garbage.der", bytes.fromhex("3082ffff") + b"\x00" * 16)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def compact(obj) -> str:
    """As nlohmann::json::dump() writes it: keys sorted, no spaces."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


FACTS_HEADER = '{"format":"ecertctl facts","version":3}\n'


def facts_lines(site: str) -> list[str]:
    key, csr, cert, sub, cross, trust = (digest(site + part) for part in ("key", "csr", "cert", "sub", "cross", "trust"))
    spki = digest(site + "spki")
    subject = [["C", "HK"], ["ST", "Hong Kong"], ["L", "Hong Kong"], ["O", "My Organization"], ["CN", site]]
    return [
        compact({"kind": "key", "id": key, "witness": digest("witness"), "is_rsa": True, "bits": 2048,
                 "public_key_id": spki}),
        compact({"kind": "csr", "id": csr, "version": 0, "subject": subject, "public_key_id": spki,
                 "signature_valid": True, "attribute_count": 0, "signature_digest": "SHA256"}),
        compact({"kind": "cert", "id": cert, "common_name": site, "dns_names": [site, "shop." + site[4:]],
                 "issuer_cn": "Hongkong Post e-Cert SSL CA 3 - 17", "serial": "194003C74C1D6BBF780F6C0CF9BBABB5",
                 "not_before": 1764460800, "not_after": 1781654400, "public_key_id": spki}),
        compact({"kind": "signature", "id": f"{cert} {sub}"}),
        compact({"kind": "chain", "id": f"{cert} {sub} {cross} {trust}", "valid_from": 1764460800,
                 "valid_until": 1781654400}),
    ]


def facts_cache() -> None:
    good = FACTS_HEADER + "".join(l + "\n" for site in ("www.a.example", "www.b.example") for l in facts_lines(site))
    put("fuzz_facts_cache", "two-sites.jsonl", good)
    put("fuzz_facts_cache", "header-only.jsonl", FACTS_HEADER)
    put("fuzz_facts_cache", "empty.jsonl", "")
    put("fuzz_facts_cache", "bad-older-version.jsonl", good.replace('"version":3', '"version":2'))
    put("fuzz_facts_cache", "broken-cut-short.jsonl", good[:-40])
    put("fuzz_facts_cache", "bad-crlf.jsonl", good.replace("\n", "\r\n"))
    lines = facts_lines("www.c.example")
    damaged = [
        lines[0].replace('"bits":2048', '"bits":"2048"'),            # mistyped
        lines[1].replace('"signature_valid":true,', ""),             # missing field
        lines[2].replace('"not_after":1781654400', '"not_after":1e300'),
        lines[2].replace('"not_before":1764460800', '"not_before":-9223372036854775809'),
        lines[4].replace('"valid_until":1781654400', '"valid_until":18446744073709551615'),
        lines[0].replace('"bits":2048', '"bits":4294967297'),
        lines[0].replace('"kind":"key"', '"kind":"notification"'),  # a newer kind
        '{"kind":"signature"}',                                      # no id
        '["kind","key"]',
        "not json at all",
        '{"kind":"cert","id":"x","common_name":"\\u00e9\\ud83d\\ude00","dns_names":[],"issuer_cn":"",'
        '"serial":"","not_before":0,"not_after":0,"public_key_id":""}',
        lines[3],
        lines[3],                                                    # a duplicate
    ]
    put("fuzz_facts_cache", "bad-damaged-lines.jsonl", FACTS_HEADER + "".join(l + "\n" for l in damaged))
    put("fuzz_facts_cache", "one-line.jsonl", FACTS_HEADER + '{"kind":"chain","id":"a","valid_from":1,"valid_until":2}\n')


def installed_json(sites: dict) -> str:
    """As render_installed writes it (json dump(2), keys sorted)."""
    return json.dumps({"format_version": "1", "sites": sites}, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def installed() -> None:
    record = lambda site: {"key": digest(site + "key"), "certificate": digest(site + "cert"),
                           "chain": digest("chain")}
    good = installed_json({s: record(s) for s in ("www.a.example", "*.b.example", "www.xn--3pqw8o2pk43espw.com")})
    put("fuzz_installed", "three-sites.json", good)
    put("fuzz_installed", "no-sites.json", installed_json({}))
    put("fuzz_installed", "broken-cut-short.json", good[: len(good) // 2])
    put("fuzz_installed", "not-a-record.json", "installed\n")
    put("fuzz_installed", "extra-fields.json", json.dumps(
        {"extra": {"key": "x"}, "sites": {"a": {"key": "k", "note": [1, "s", {"key": "inner"}], "chain": "ch"},
                                           "b": 5, "c": None, "d": {"key": 7, "certificate": ["c"]}},
         "format_version": 1}))
    put("fuzz_installed", "escapes.json", '{"sites": {"we\\"ird\\\\name\\u00e9": {"key": "\\u0000k"}}}')
    put("fuzz_installed", "duplicates.json",
        '{"sites": {"a": {"key": "1", "key": "2"}, "a": {"chain": "3"}}, "sites": {"b": {"key": "4"}}}')
    put("fuzz_installed", "bad-top-level-array.json", '[{"sites": {"a": {"key": "k"}}}]')
    put("fuzz_installed", "small.json", '{"sites":{"a":{"key":"k","certificate":"c","chain":"h"}}}')


def plan_resource(type_: str, action: str, path: str, reason: str, payload=None) -> dict:
    return {"type": type_, "action": action, "path": path, "reason": reason, "payload": payload}


def saved_plan(sites: list, config_writes: list | None = None) -> str:
    doc = {
        "kind": "ecertctl-plan", "format_version": "1",
        "manifest_path": "/etc/ecertctl/ecert.yaml", "manifest_sha256": digest("manifest"),
        "selected_sites": [],
        "inputs": {"/etc/apache2/apache2.conf": digest("apache2.conf"), "/etc/ssl/private/c.key": "absent",
                   "/var/lib/ecertctl/installed.json": digest("installed")},
        "restart": bool(config_writes), "restart_reason": "nothing Apache reads changes",
        "sites": sites, "config_writes": config_writes or [],
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def plans() -> None:
    noop = {"name": "www.a.example", "feature": "standard", "state": "ok", "warnings": [], "resources": [
        plan_resource("key", "no-op", "/etc/ssl/private/a.key", "RSA 2048, opens with the passphrase"),
        plan_resource("csr", "no-op", "/etc/ssl/a.csr", "C=HK, ST=Hong Kong, L=Hong Kong, O=My Organization, CN=www.a.example"),
        plan_resource("certificate", "no-op", "/etc/ssl/a.cer", "issued by 'Hongkong Post e-Cert SSL CA 3 - 17'"),
        plan_resource("chain", "update", "/etc/ssl/hkpostca.crt", "rewrite",
                      {"kind": "write-file", "sha256": digest("chain"), "sources": ["/ca/sub.crt", "/ca/cross.crt"]}),
        plan_resource("vhost", "update", "/etc/apache2/sites-available/a.conf:3", "SSL directives",
                      {"kind": "edit-config", "writes": [{"path": "/etc/apache2/sites-available/a.conf",
                                                          "after_sha256": digest("a.conf")}]}),
    ]}
    new = {"name": "www.c.example", "feature": "standard", "state": "pending", "warnings": ["a warning"], "resources": [
        plan_resource("key", "create", "/etc/ssl/private/c.key", "generate RSA 2048 (aes-256-cbc), mode 0600",
                      {"kind": "new-key", "bits": 2048, "cipher": "aes-256-cbc"}),
        plan_resource("csr", "create", "/etc/ssl/c.csr", "for the new key",
                      {"kind": "new-csr", "key": "new", "subject": "C=HK, ST=Hong Kong, L=Hong Kong, O=My Organization, CN=www.c.example"}),
        plan_resource("certificate", "pending", "/etc/ssl/c.cer", "waiting for the CA"),
        plan_resource("chain", "pending", "/etc/ssl/hkpostca.crt", "waiting for the certificate"),
        plan_resource("vhost", "error", "", "no <VirtualHost> on port 443 serves www.c.example"),
    ]}
    renewal = {"name": "www.d.example", "feature": "ev", "state": "changes", "warnings": [], "resources": [
        plan_resource("key", "update", "/etc/ssl/private/d.key", "promote", {"kind": "promote-key", "staged": "/etc/ssl/private/d.key.new"}),
        plan_resource("csr", "update", "/etc/ssl/d.csr", "move", {"kind": "move-staged-csr", "staged": "/etc/ssl/d.csr.new"}),
        plan_resource("certificate", "update", "/etc/ssl/d.cer", "reload", {"kind": "reload"}),
    ]}
    writes = [{"path": "/etc/apache2/sites-available/a.conf", "before_sha256": digest("before"), "after_sha256": digest("a.conf")}]
    put("fuzz_saved_plan", "changes.plan", saved_plan([noop, new, renewal], writes))
    put("fuzz_saved_plan", "converged.plan", saved_plan([noop]))
    put("fuzz_saved_plan", "no-sites.plan", saved_plan([]))
    put("fuzz_saved_plan", "not-a-plan-another-kind.plan", saved_plan([noop]).replace("ecertctl-plan", "terraform-plan"))
    put("fuzz_saved_plan", "not-a-plan-format-2.plan", saved_plan([]).replace('"format_version": "1"', '"format_version": "2"'))
    put("fuzz_saved_plan", "not-a-plan-sites-not-a-list.plan", saved_plan([]).replace('"sites": []', '"sites": {"a": 1}'))
    put("fuzz_saved_plan", "broken-cut-short.plan", saved_plan([noop])[:700])
    put("fuzz_saved_plan", "not-a-plan-text.plan", "plan\n")
    put("fuzz_saved_plan", "small.plan", '{"kind":"ecertctl-plan","format_version":"1","manifest_path":"/m",'
        '"manifest_sha256":"d","selected_sites":[],"inputs":{"/a":"absent"},'
        '"sites":[{"name":"s","resources":[{"type":"key","action":"create","payload":{"kind":"new-key"}}]}]}')


if __name__ == "__main__":
    targets = ("fuzz_manifest", "fuzz_apache_config", "fuzz_pem", "fuzz_facts_cache", "fuzz_installed",
               "fuzz_saved_plan")
    # Inputs the fuzzers found (regression-*) are kept: they are not made here.
    for d in targets:
        for f in (CORPUS / d).glob("*") if (CORPUS / d).is_dir() else ():
            if not f.name.startswith("regression-"):
                f.unlink()
    manifests()
    apache()
    pem_seeds()
    facts_cache()
    installed()
    plans()
    for d in sorted(CORPUS.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")
