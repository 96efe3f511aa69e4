"""Integration-test harness for ecertctl.

Python 3 standard library plus the ``openssl`` command-line tool only. Every
key is generated at test time into a temporary directory and never committed.

Main pieces
-----------
TestPKI(dir)
    A CA hierarchy shaped like Hongkong Post's (GlobalSign-like root, Hongkong
    Post Root CA 3 self-signed and cross-signed, the standard and EV sub CAs),
    able to sign a CSR the way the CA would (``issue``). CA keys are EC P-256
    (fast); leaf keys are whatever the CSR carries.

ApacheSandbox(root_dir, layout="simple"|"debian"|"redhat")
    A private Apache httpd instance listening on 127.0.0.1:<free port>,
    shaped like the CA guide's /usr/local/apache ("simple"), like Debian's
    /etc/apache2 driven through the real apache2ctl ("debian"), or like Red
    Hat's /etc/httpd ("redhat").

served_chain(), verify_handshake(), wait_for_served()
    Look at what a running sandbox serves, through ``openssl s_client``.

run(), ecertctl_path(), free_port(), gen_key(), make_csr()
    Small helpers.

SyslogSocket(path), in_mount_namespace(argv, scratch, dev_log=..., overlays=...)
    What a program sends to the system log, read back without a test switch
    in the program: it runs in a private mount namespace whose /dev/log is the
    test's own datagram socket (and whose /etc or /usr may show the test's
    files over the host's).

build_package(out_dir)
    scripts/package on the build tree under test.

Encrypted keys in the sandbox
-----------------------------
Apache cannot prompt for a passphrase here (no terminal, and a prompt would
hang any automation). The sandbox therefore configures, server-wide,

    SSLPassPhraseDialog exec:<root>/bin/passphrase-helper

where passphrase-helper (mode 0700) prints the content of a 0600 file inside
the sandbox (``<root>/secrets/key-passphrase``, set with
``sandbox.set_passphrase(...)``). mod_ssl runs the helper as root at startup,
once per encrypted key, with two arguments (``servername:port`` and the key
type). This is what an operator has to do on a real server whose key is
passphrase-protected (Debian ships the same directive pointing at
/usr/share/apache2/ask-for-passphrase, which needs a tty or systemd).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import datetime as _dt
import os
import re
import shutil
import shlex
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterable, Mapping, Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]

APACHE_BIN = "/usr/sbin/apache2"
APACHE2CTL = "/usr/sbin/apache2ctl"
APACHE_MODULES_DIR = "/usr/lib/apache2/modules"
APACHE_RUN_USER = "www-data"
APACHE_RUN_GROUP = "www-data"

# Modules every sandbox loads (name -> shared object); unixd, log_config etc.
# are compiled into Debian's apache2. Order matters only for mpm (first).
SANDBOX_MODULES = [
    ("mpm_event", "mod_mpm_event.so"),
    ("authz_core", "mod_authz_core.so"),
    ("authz_host", "mod_authz_host.so"),
    ("setenvif", "mod_setenvif.so"),
    ("mime", "mod_mime.so"),
    ("dir", "mod_dir.so"),
    ("socache_shmcb", "mod_socache_shmcb.so"),
    ("ssl", "mod_ssl.so"),
]

PEM_CERT_RE = re.compile(
    r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.S
)

FEATURES = ("standard", "ev", "wildcard", "multi-domain", "ev-multi-domain")
EV_FEATURES = ("ev", "ev-multi-domain")
MULTI_DOMAIN_FEATURES = ("multi-domain", "ev-multi-domain")

OID_EV = "2.23.140.1.1"  # CA/B Forum EV guidelines
OID_OV = "2.23.140.1.2.2"  # CA/B Forum organization validated


# --------------------------------------------------------------------------
# small helpers


def run(
    argv: Sequence[str | os.PathLike],
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    check: bool = False,
    input: str | bytes | None = None,
    cwd: str | os.PathLike | None = None,
) -> subprocess.CompletedProcess:
    """Run argv without a shell; stdin closed (/dev/null) unless input is
    given; stdout/stderr captured as text. Returns the CompletedProcess.

    env, when given, is the complete environment (see ApacheSandbox.env()).
    check=True raises AssertionError with both streams on a non-zero exit.
    """
    argv = [os.fspath(a) for a in argv]
    kwargs = dict(
        env=dict(env) if env is not None else None,
        timeout=timeout,
        capture_output=True,
        cwd=cwd,
    )
    if input is None:
        kwargs["stdin"] = subprocess.DEVNULL
    else:
        kwargs["input"] = input
    if isinstance(input, bytes):
        cp = subprocess.run(argv, **kwargs)
    else:
        cp = subprocess.run(argv, text=True, errors="replace", **kwargs)
    if check and cp.returncode != 0:
        raise AssertionError(
            f"command failed ({cp.returncode}): {' '.join(argv)}\n"
            f"--- stdout\n{cp.stdout}\n--- stderr\n{cp.stderr}"
        )
    return cp


def ecertctl_path() -> str:
    """The ecertctl binary under test: $ECERTCTL, else <repo>/build/src/cli/ecertctl."""
    return os.environ.get("ECERTCTL") or str(REPO_ROOT / "build" / "src" / "cli" / "ecertctl")


def ecertctl_faults_path() -> str:
    """The test build of ecertctl whose write steps can be faulted or traced
    (tests/faults/main.cc): $ECERTCTL_FAULTS, else <repo>/build/tests/ecertctl-faults.
    The shipped binary never reads the ECERTCTL_FAULT* variables."""
    return os.environ.get("ECERTCTL_FAULTS") or str(REPO_ROOT / "build" / "tests" / "ecertctl-faults")


def build_package(out_dir: str | os.PathLike) -> Path:
    """scripts/package run on the build tree of the ecertctl under test (no
    rebuild when it is up to date); returns the one .deb it made in out_dir."""
    build_dir = Path(ecertctl_path()).resolve().parents[2]  # <build>/src/cli/ecertctl
    env = {**os.environ, "BUILD_DIR": str(build_dir), "OUT_DIR": str(out_dir)}
    cp = run([REPO_ROOT / "scripts" / "package"], env=env, timeout=600)
    if cp.returncode != 0:
        raise AssertionError(f"scripts/package failed ({cp.returncode})\n{cp.stdout[-3000:]}\n{cp.stderr[-3000:]}")
    debs = list(Path(out_dir).glob("*.deb"))
    if len(debs) != 1 or cp.stdout.strip().splitlines()[-1] != str(debs[0]):
        raise AssertionError(f"expected one .deb in {out_dir}, printed last: {debs}\n{cp.stdout[-1000:]}")
    return debs[0]


def _ephemeral_ports() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A TCP port on 127.0.0.1 for a test server, free now and kept from the
    other test processes of this machine until this one ends.

    Chosen below the kernel's ephemeral range: the client sockets of other
    tests take their ports there, and a server stopped for a restart
    (apachectl stop; apachectl start) could find its port taken by one.
    Reserved in a registry under the temp directory (pid per port, entries
    of dead processes dropped), so tests run in parallel never share one."""
    import fcntl
    import random

    low = 20000
    high = min(_ephemeral_ports()[0] - 1, 32767)
    registry = Path(tempfile.gettempdir()) / "ecert-test-ports"
    with open(registry, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        taken = {}
        for line in f.read().splitlines():
            port, _, pid = line.partition(" ")
            if port.isdigit() and pid.isdigit() and _pid_alive(int(pid)):
                taken[int(port)] = int(pid)
        for _ in range(2000):
            port = random.randint(low, high)
            if port in taken:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            taken[port] = os.getpid()
            f.seek(0)
            f.truncate()
            f.write("".join(f"{p} {pid}\n" for p, pid in taken.items()))
            return port
    raise RuntimeError(f"no free port in {low}-{high}")


def _openssl(*args, timeout: float = 60, input=None) -> subprocess.CompletedProcess:
    return run(["openssl", *args], timeout=timeout, check=True, input=input)


def _write(path: Path, text: str, mode: int | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        os.chmod(path, mode)
    return path


def _append(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(text)


def read_pems(path_or_text: str | os.PathLike) -> list[str]:
    """The PEM certificates in a file (path) or a string, in order."""
    if isinstance(path_or_text, os.PathLike) or (
        isinstance(path_or_text, str) and "-----BEGIN" not in path_or_text
    ):
        text = Path(path_or_text).read_text()
    else:
        text = path_or_text
    return [m.group(0).replace("\r\n", "\n") + "\n" for m in PEM_CERT_RE.finditer(text)]


def cert_subject(cert: str | os.PathLike) -> str:
    """Subject of a PEM certificate (path or PEM text), RFC 2253 form."""
    return _cert_field(cert, "-subject")


def cert_issuer(cert: str | os.PathLike) -> str:
    return _cert_field(cert, "-issuer")


def cert_fingerprint(cert: str | os.PathLike) -> str:
    """SHA-256 fingerprint (hex, upper case, no colons) of a PEM or DER cert."""
    out = _cert_field(cert, "-fingerprint", "-sha256")
    return out.split("=", 1)[1].replace(":", "").strip()


def _cert_field(cert, *flags) -> str:
    if isinstance(cert, str) and "-----BEGIN" in cert:
        cp = _openssl("x509", "-noout", *flags, "-nameopt", "RFC2253", input=cert)
    else:
        p = os.fspath(cert)
        form = "DER" if Path(p).read_bytes()[:1] == b"\x30" else "PEM"
        cp = _openssl("x509", "-noout", *flags, "-nameopt", "RFC2253", "-inform", form, "-in", p)
    out = cp.stdout.strip()
    for prefix in ("subject=", "issuer="):
        if out.startswith(prefix):
            return out[len(prefix):].strip()
    return out


def gen_key(
    path: str | os.PathLike,
    bits: int = 2048,
    passphrase: str | None = None,
    cipher: str = "aes-256-cbc",
    kind: str = "rsa",
) -> Path:
    """Generate a private key (PKCS#8 PEM, mode 0600). kind "rsa" or "ec"
    (P-256). With a passphrase, encrypted with cipher (aes-256-cbc,
    des-ede3-cbc, ...); the passphrase travels through an environment
    variable, never argv."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    argv = ["openssl", "genpkey", "-out", str(path)]
    if kind == "rsa":
        argv += ["-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}"]
    elif kind == "ec":
        argv += ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    else:
        raise ValueError(kind)
    env = dict(os.environ)
    if passphrase is not None:
        argv += [f"-{cipher}", "-pass", "env:HARNESS_KEY_PASS"]
        env["HARNESS_KEY_PASS"] = passphrase
    old = os.umask(0o077)
    try:
        run(argv, env=env, check=True)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return path


def make_csr(
    key: str | os.PathLike,
    out: str | os.PathLike,
    cn: str,
    organization: str = "Test Organization",
    passphrase: str | None = None,
) -> Path:
    """A CSR the way the CA's guide makes one: C=HK, ST=Hong Kong,
    L=Hong Kong, O=organization, CN=cn, no extensions."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    subj = "/C=HK/ST=Hong Kong/L=Hong Kong/O={}/CN={}".format(
        _subj_escape(organization), _subj_escape(cn)
    )
    argv = ["openssl", "req", "-new", "-utf8", "-key", str(key), "-out", str(out), "-subj", subj,
            "-config", _minimal_req_config()]
    env = dict(os.environ)
    if passphrase is not None:
        argv += ["-passin", "env:HARNESS_KEY_PASS"]
        env["HARNESS_KEY_PASS"] = passphrase
    run(argv, env=env, check=True)
    return out


def _subj_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("/", "\\/").replace("+", "\\+").replace("=", "\\=")


_MINIMAL_REQ_CONFIG: str | None = None


def _minimal_req_config() -> str:
    """A tiny openssl config so the system openssl.cnf adds nothing."""
    global _MINIMAL_REQ_CONFIG
    if _MINIMAL_REQ_CONFIG is None or not os.path.exists(_MINIMAL_REQ_CONFIG):
        fd, p = tempfile.mkstemp(prefix="harness-req-", suffix=".cnf")
        with os.fdopen(fd, "w") as f:
            f.write("[ req ]\ndistinguished_name = dn\nprompt = no\nstring_mask = utf8only\n[ dn ]\n")
        atexit.register(lambda: os.path.exists(p) and os.unlink(p))
        _MINIMAL_REQ_CONFIG = p
    return _MINIMAL_REQ_CONFIG


# --------------------------------------------------------------------------
# PKI


@dataclasses.dataclass(frozen=True)
class CA:
    """One CA certificate and its key. subject is the openssl -subj form."""

    name: str
    cert: Path
    key: Path
    subject: str


_CA_EXT = """\
[ root_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ cross_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ sub_ca ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, digitalSignature, keyCertSign, cRLSign
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
certificatePolicies = 2.5.29.32.0
"""

GLOBALSIGN_SUBJECT = "/OU=GlobalSign Root CA - R3/O=GlobalSign/CN=GlobalSign"
HK_ROOT_SUBJECT = "/C=HK/ST=Hong Kong/L=Hong Kong/O=Hongkong Post/CN=Hongkong Post Root CA 3"
SSL_SUB_SUBJECT = "/C=HK/ST=Hong Kong/L=Hong Kong/O=Hongkong Post/CN=Hongkong Post e-Cert SSL CA 3 - 17"
EV_SUB_SUBJECT = "/C=HK/ST=Hong Kong/L=Hong Kong/O=Hongkong Post/CN=Hongkong Post e-Cert EV SSL CA 3 - 17"


class TestPKI:
    """A test CA hierarchy shaped like Hongkong Post's, under ``dir``.

    Files (all PEM) under ``dir``; the CA files carry the CA's download names:
      ca/ecert_ssl_ca_3-17_pem.crt      sub CA for standard/wildcard/multi-domain  (ssl_sub_path)
      ca/ecert_ev_ssl_ca_3-17_pem.crt   sub CA for ev/ev-multi-domain             (ev_sub_path)
      ca/root_ca_3_x_gsca_r3_pem.crt    cross cert: HK Root CA 3 issued by the GlobalSign-like root (cross_path)
      ca/hongkong_post_root_ca_3.crt    HK Root CA 3, self-signed                 (hk_root_path)
      ca/globalsign_root_ca_r3.crt      GlobalSign-like root, self-signed         (gs_root_path)
      trust.pem                         ONLY the GlobalSign-like root             (trust_path)
      trust-both.pem                    GlobalSign-like root + HK root (like Debian's bundle) (trust_both_path)
      private/*.key                     CA keys (0600)

    Attributes gs_root, hk_root, ssl_sub, ev_sub are CA objects; hk_cross is
    the cross certificate's path. impostor_sub() and reissued_sub() make more
    CAs with a sub CA's name on demand.

    __test__ = False keeps unittest/pytest from collecting this class.
    """

    __test__ = False

    def __init__(self, dir: str | os.PathLike):
        self.dir = Path(dir)
        self.ca_dir = self.dir / "ca"
        self.private_dir = self.dir / "private"
        self.ca_dir.mkdir(parents=True, exist_ok=True)
        self.private_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.private_dir, 0o700)
        self._ext_file = _write(self.dir / "ca-ext.cnf", _CA_EXT)
        self._impostors: dict[str, CA] = {}
        self._reissued: dict[str, tuple[CA, int]] = {}

        self.gs_root = self._self_signed(
            "globalsign_root_ca_r3", GLOBALSIGN_SUBJECT, self.ca_dir / "globalsign_root_ca_r3.crt"
        )
        self.hk_root = self._self_signed(
            "hongkong_post_root_ca_3", HK_ROOT_SUBJECT, self.ca_dir / "hongkong_post_root_ca_3.crt"
        )
        # Same subject and key as hk_root, issued by the GlobalSign-like root.
        self.hk_cross = self.ca_dir / "root_ca_3_x_gsca_r3_pem.crt"
        self._sign_csr(
            self._csr_for(self.hk_root.key, HK_ROOT_SUBJECT, "hk_root_cross"),
            self.gs_root, self.hk_cross, "cross_ca", days=3650,
        )
        self.ssl_sub = self._sub_ca(
            "ecert_ssl_ca_3-17", SSL_SUB_SUBJECT, self.ca_dir / "ecert_ssl_ca_3-17_pem.crt", self.hk_root
        )
        self.ev_sub = self._sub_ca(
            "ecert_ev_ssl_ca_3-17", EV_SUB_SUBJECT, self.ca_dir / "ecert_ev_ssl_ca_3-17_pem.crt", self.hk_root
        )
        self.trust_path = _write(self.dir / "trust.pem", self.gs_root.cert.read_text())
        self.trust_both_path = _write(
            self.dir / "trust-both.pem", self.gs_root.cert.read_text() + self.hk_root.cert.read_text()
        )

    # paths with the CA's file names
    @property
    def ssl_sub_path(self) -> Path:
        return self.ssl_sub.cert

    @property
    def ev_sub_path(self) -> Path:
        return self.ev_sub.cert

    @property
    def cross_path(self) -> Path:
        return self.hk_cross

    @property
    def hk_root_path(self) -> Path:
        return self.hk_root.cert

    @property
    def gs_root_path(self) -> Path:
        return self.gs_root.cert

    def sub_for(self, feature: str) -> CA:
        """The sub CA that issues certificates of this feature."""
        if feature not in FEATURES:
            raise ValueError(f"unknown feature {feature!r}")
        return self.ev_sub if feature in EV_FEATURES else self.ssl_sub

    def chain_pem(self, feature: str) -> str:
        """Sub CA then cross certificate: what ecertctl writes as the chain."""
        return self.sub_for(feature).cert.read_text() + self.hk_cross.read_text()

    def write_chain(self, feature: str, path: str | os.PathLike) -> Path:
        """`cat sub.crt cross.crt > path`."""
        return _write(Path(path), self.chain_pem(feature))

    def impostor_sub(self, feature: str = "standard") -> CA:
        """A CA with the same subject as the real sub CA of this feature but its
        own key, issued by its own root ("Impostor Root CA", not in any trust
        file). Certificates it issues carry the right issuer name but fail
        signature checks against the real sub CA."""
        real = self.sub_for(feature)
        if real.name in self._impostors:
            return self._impostors[real.name]
        root = self._self_signed(
            "impostor_root", "/C=HK/O=Impostor/CN=Impostor Root CA", self.ca_dir / "impostor_root.crt"
        )
        imp = self._sub_ca(
            f"impostor-{real.name}", real.subject, self.ca_dir / f"impostor-{real.cert.name}", root
        )
        self._impostors[real.name] = imp
        return imp

    def reissued_sub(self, feature: str = "standard", days: int = 3650, label: str = "reissued") -> CA:
        """The sub CA of this feature as the CA reissues it (Hongkong Post did
        in 2025): the same subject, a new key, issued by the same Hongkong
        Post Root CA 3, so certificates it issues verify to the trust roots
        (unlike impostor_sub()) but not with the old sub CA's key. Written to
        ca/<label>-<the real file's name>; valid for `days` days from now (a
        `days` shorter than a leaf's makes a sub CA that ends before the leaf
        does). One CA per (feature, label): a label asked for again with other
        days raises ValueError."""
        real = self.sub_for(feature)
        key = f"{label}-{real.name}"
        if key in self._reissued:
            ca, made_days = self._reissued[key]
            if made_days != days:
                raise ValueError(f"{key} was made for {made_days} days, not {days}: use another label")
            return ca
        ca = self._sub_ca(key, real.subject, self.ca_dir / f"{label}-{real.cert.name}", self.hk_root, days=days)
        self._reissued[key] = (ca, days)
        return ca

    def issue(
        self,
        csr_path: str | os.PathLike,
        out_path: str | os.PathLike,
        feature: str = "standard",
        names: Iterable[str] = (),
        days: int = 365,
        der: bool = False,
        sub: CA | None = None,
        not_before_offset_days: float = 0,
    ) -> Path:
        """Sign a CSR as the CA would and write the certificate to out_path.

        - subject: the CSR's subject (C=HK, ST, L, O, CN); CN must be present.
        - SAN: DNS:<CN> (a wildcard CN goes in as is), plus each of names
          (multi-domain); duplicates dropped.
        - certificatePolicies: 2.23.140.1.1 (EV) for ev/ev-multi-domain,
          2.23.140.1.2.2 (OV) otherwise.
        - issuer: sub (a CA, e.g. impostor_sub()) or the feature's sub CA.
        - validity: from now + not_before_offset_days (negative = in the past)
          for `days` days: (-400, days=30) is expired, (+10) not yet valid.
        - der=True writes DER (like a downloaded .cer), else PEM.
        """
        if feature not in FEATURES:
            raise ValueError(f"unknown feature {feature!r}")
        cn = csr_common_name(csr_path)
        if not cn:
            raise ValueError(f"{csr_path}: CSR has no CN")
        sans: list[str] = []
        for n in [cn, *names]:
            if n not in sans:
                sans.append(n)
        policy = OID_EV if feature in EV_FEATURES else OID_OV
        ext = (
            "[ leaf ]\n"
            "basicConstraints = critical, CA:FALSE\n"
            "keyUsage = critical, digitalSignature, keyEncipherment\n"
            "extendedKeyUsage = serverAuth, clientAuth\n"
            "subjectKeyIdentifier = hash\n"
            "authorityKeyIdentifier = keyid:always\n"
            f"certificatePolicies = {policy}\n"
            "subjectAltName = " + ", ".join(f"DNS:{n}" for n in sans) + "\n"
        )
        issuer = sub if sub is not None else self.sub_for(feature)
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="issue-", dir=self.dir) as tmp:
            ext_file = _write(Path(tmp) / "leaf.cnf", ext)
            pem = Path(tmp) / "leaf.pem"
            self._sign_csr(
                Path(csr_path), issuer, pem, "leaf", days=days,
                not_before_offset_days=not_before_offset_days, ext_file=ext_file,
            )
            if der:
                _openssl("x509", "-in", str(pem), "-outform", "DER", "-out", str(out_path))
            else:
                shutil.copyfile(pem, out_path)
        return out_path

    # internals -------------------------------------------------------------

    def _new_ca_key(self, name: str) -> Path:
        return gen_key(self.private_dir / f"{name}.key", kind="ec")

    def _csr_for(self, key: Path, subject: str, name: str) -> Path:
        csr = self.private_dir / f"{name}.csr"
        _openssl("req", "-new", "-utf8", "-key", str(key), "-subj", subject, "-out", str(csr),
                 "-config", _minimal_req_config())
        return csr

    def _self_signed(self, name: str, subject: str, cert: Path) -> CA:
        key = self._new_ca_key(name)
        self._sign_csr(self._csr_for(key, subject, name), None, cert, "root_ca", days=3650,
                       self_key=key)
        return CA(name, cert, key, subject)

    def _sub_ca(self, name: str, subject: str, cert: Path, issuer: CA, days: int = 3650) -> CA:
        key = self._new_ca_key(name)
        self._sign_csr(self._csr_for(key, subject, name), issuer, cert, "sub_ca", days=days)
        return CA(name, cert, key, subject)

    def _sign_csr(
        self,
        csr: Path,
        issuer: CA | None,
        out: Path,
        ext_section: str,
        days: int,
        not_before_offset_days: float = 0,
        ext_file: Path | None = None,
        self_key: Path | None = None,
    ) -> None:
        """`openssl ca` with a throw-away database, so notBefore can be set
        (openssl 3.0's `x509 -req` cannot). issuer None = self-signed."""
        now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
        start = now + _dt.timedelta(days=not_before_offset_days)
        if not_before_offset_days == 0:
            start -= _dt.timedelta(minutes=5)  # tolerate small clock skew
        end = start + _dt.timedelta(days=days)
        if not_before_offset_days == 0:
            end += _dt.timedelta(minutes=5)
        fmt = "%Y%m%d%H%M%SZ"
        with tempfile.TemporaryDirectory(prefix="ca-", dir=self.dir) as tmp:
            tmp = Path(tmp)
            (tmp / "index.txt").write_text("")
            cnf = _write(
                tmp / "ca.cnf",
                "[ ca ]\ndefault_ca = harness\n"
                "[ harness ]\n"
                f"database = {tmp}/index.txt\n"
                f"new_certs_dir = {tmp}\n"
                "default_md = sha256\n"
                "policy = policy_any\n"
                "unique_subject = no\n"
                "copy_extensions = none\n"
                "email_in_dn = no\n"
                "rand_serial = yes\n"
                "[ policy_any ]\n"
                "countryName = optional\nstateOrProvinceName = optional\n"
                "localityName = optional\norganizationName = optional\n"
                "organizationalUnitName = optional\ncommonName = optional\n",
            )
            argv = [
                "ca", "-batch", "-config", str(cnf), "-notext", "-utf8", "-preserveDN",
                "-in", str(csr), "-out", str(out),
                "-startdate", start.strftime(fmt), "-enddate", end.strftime(fmt),
                "-extfile", str(ext_file or self._ext_file), "-extensions", ext_section,
            ]
            if issuer is None:
                argv += ["-selfsign", "-keyfile", str(self_key)]
            else:
                argv += ["-cert", str(issuer.cert), "-keyfile", str(issuer.key)]
            _openssl(*argv)
        # `openssl ca -notext` output is just the PEM; normalise anyway.
        pems = read_pems(out)
        if len(pems) != 1:
            raise RuntimeError(f"openssl ca wrote {len(pems)} certificates to {out}")
        out.write_text(pems[0])


def csr_common_name(csr_path: str | os.PathLike) -> str | None:
    """The CN in a CSR's subject (PEM or DER), or None."""
    p = os.fspath(csr_path)
    form = "DER" if Path(p).read_bytes()[:1] == b"\x30" else "PEM"
    cp = _openssl("req", "-in", p, "-inform", form, "-noout", "-subject",
                  "-nameopt", "sep_multiline,lname,utf8,-esc_msb")
    for line in cp.stdout.splitlines():
        line = line.strip()
        if line.startswith("commonName="):
            return line.split("=", 1)[1]
    return None


# --------------------------------------------------------------------------
# TLS client side


def _s_client(port: int, sni: str, extra: Sequence[str], timeout: float, host: str = "127.0.0.1"):
    argv = ["openssl", "s_client", "-connect", f"{host}:{port}", "-servername", sni, *extra]
    try:
        return run(argv, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return subprocess.CompletedProcess(argv, 124, out, f"timed out after {timeout}s")


def served_chain(port: int, sni: str, timeout: float = 10, host: str = "127.0.0.1") -> list[str]:
    """The certificates (PEM strings, leaf first) the server on host:port
    sends for this SNI name. Empty list when no handshake happened."""
    cp = _s_client(port, sni, ["-showcerts"], timeout, host)
    return read_pems(cp.stdout) if "-----BEGIN CERTIFICATE-----" in cp.stdout else []


def verify_handshake(
    port: int,
    sni: str,
    trust_file: str | os.PathLike,
    timeout: float = 10,
    check_hostname: bool = True,
    host: str = "127.0.0.1",
) -> tuple[bool, str]:
    """A TLS handshake to host:port with SNI, verifying the served chain
    against trust_file only (-verify_return_error -CAfile trust; the system
    store is not used). With check_hostname, the leaf must also match sni.
    Returns (ok, s_client stdout+stderr); ok needs exit 0 and
    "Verify return code: 0 (ok)"."""
    extra = ["-verify_return_error", "-CAfile", os.fspath(trust_file), "-no-CApath", "-no-CAstore"]
    if check_hostname:
        extra += ["-verify_hostname", sni]
    cp = _s_client(port, sni, extra, timeout, host)
    out = (cp.stdout or "") + (cp.stderr or "")
    ok = cp.returncode == 0 and "Verify return code: 0 (ok)" in out
    return ok, out


def wait_for_served(
    port: int,
    sni: str,
    expected_leaf: str | os.PathLike,
    timeout: float = 15,
    host: str = "127.0.0.1",
) -> list[str]:
    """Poll until the leaf served for sni is expected_leaf (PEM/DER path or
    PEM text); returns the served chain. A graceful restart returns before
    Apache serves the new configuration, so tests wait with this. Raises
    AssertionError with what was served on timeout."""
    want = cert_fingerprint(expected_leaf)
    deadline = time.monotonic() + timeout
    chain: list[str] = []
    while True:
        chain = served_chain(port, sni, host=host)
        if chain and cert_fingerprint(chain[0]) == want:
            return chain
        if time.monotonic() > deadline:
            got = cert_subject(chain[0]) if chain else "nothing"
            raise AssertionError(f"{host}:{port} ({sni}) did not serve the expected leaf within {timeout}s; serves {got}")
        time.sleep(0.2)


# --------------------------------------------------------------------------
# Apache sandbox


def _pid_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # state is the field after the parenthesised comm
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError):
        with socket.create_connection((host, port), timeout=0.5):
            return True
    return False


class ApacheSandbox:
    """A private Apache httpd under root_dir on 127.0.0.1:<port>.

    layout="simple" (the CA guide's /usr/local/apache):
        <root>/conf/httpd.conf            ServerRoot "<root>", LoadModule..., Include conf/extra/httpd-ssl.conf
        <root>/conf/extra/httpd-ssl.conf  Listen, SSLPassPhraseDialog, SSLSessionCache, then the vhosts
        <root>/conf/ssl.key, conf/ssl.crt, conf/ssl.csr
        <root>/htdocs/index.html, <root>/logs/{error_log,httpd.pid}
        <root>/bin/apachectl              wrapper: apache2 -f conf/httpd.conf -k <cmd>;
                                          configtest = -t; stop waits until the server is gone
      Apache is driven as `/usr/sbin/apache2 -f <root>/conf/httpd.conf ...`; no environment needed.

    layout="debian" (Debian's /etc/apache2, driven through the real apache2ctl):
        <root>/etc/apache2/apache2.conf   Debian's shape: ${APACHE_*} variables, IncludeOptional
                                          mods-enabled/*.load + *.conf, Include ports.conf,
                                          IncludeOptional conf-enabled/*.conf, IncludeOptional sites-enabled/*.conf
                                          (no ServerRoot line, as on Debian: apache2ctl passes -d <confdir>)
        <root>/etc/apache2/envvars        APACHE_RUN_USER/GROUP=www-data; PID file, run, lock, log dirs in the sandbox
        <root>/etc/apache2/ports.conf     Listen 127.0.0.1:<port> inside <IfModule ssl_module>
        mods-available/*.load|ssl.conf + mods-enabled/ symlinks, conf-available/ + conf-enabled/,
        sites-available/<file>.conf + sites-enabled/<file>.conf -> ../sites-available/<file>.conf
        <root>/var/www/html/index.html, <root>/var/log/apache2, <root>/run/apache2, <root>/lock/apache2
      Apache is driven as `apache2ctl ...` with APACHE_CONFDIR=<root>/etc/apache2 in the environment
      (apache2ctl sources $APACHE_CONFDIR/envvars and adds -d $APACHE_CONFDIR); pass env() to ecertctl.

    layout="redhat" (RHEL/Rocky/Alma's /etc/httpd, as the httpd and mod_ssl packages install it):
        <root>/etc/httpd/conf/httpd.conf  ServerRoot "<root>/etc/httpd", Include conf.modules.d/*.conf,
                                          IncludeOptional conf.d/*.conf (no plain-HTTP Listen)
        <root>/etc/httpd/conf.modules.d/  00-base.conf, 00-mpm.conf (LoadModule lines), 00-ssl.conf (mod_ssl)
        <root>/etc/httpd/conf.d/ssl.conf  Listen 127.0.0.1:<port> https, SSLPassPhraseDialog, SSLSessionCache,
                                          and <VirtualHost _default_:<port>> with the default SSL directives
                                          (localhost.crt / localhost.key, self-signed)
        <root>/etc/httpd/conf.d/<site>.conf  add_vhost's default: each site in its own file
        <root>/etc/httpd/logs -> ../../var/log/httpd, run -> ../../run/httpd (links, as on Red Hat)
        <root>/etc/pki/tls/private, certs, csr; <root>/var/www/html/index.html
      Apache is driven as `/usr/sbin/apache2 -d <root>/etc/httpd -f conf/httpd.conf ...` (Debian's
      binary with Red Hat's tree; `httpd -t` and `apachectl graceful` on a real Red Hat server).

    Both run as User/Group www-data (the parent stays root, as on a real server;
    keys are read by the root parent). Encrypted keys: see set_passphrase().
    """

    def __init__(
        self,
        root_dir: str | os.PathLike,
        layout: str = "simple",
        port: int | None = None,
        server_name: str = "localhost",
    ):
        if layout not in ("simple", "debian", "redhat"):
            raise ValueError(f"layout must be 'simple', 'debian' or 'redhat', not {layout!r}")
        self.root = Path(root_dir).resolve()
        self.layout = layout
        self.port = port or free_port()
        self.ports = {self.port}
        self._seen_pids: set[int] = set()
        self.root.mkdir(parents=True, exist_ok=True)
        self.bin_dir = self.root / "bin"
        self.secrets_dir = self.root / "secrets"
        self.passphrase_file = self.secrets_dir / "key-passphrase"
        self.passphrase_helper = self.bin_dir / "passphrase-helper"
        self._write_passphrase_helper()
        if layout == "simple":
            self._init_simple(server_name)
        elif layout == "redhat":
            self._init_redhat(server_name)
        else:
            self._init_debian(server_name)

    # layout construction -----------------------------------------------------

    def _write_passphrase_helper(self) -> None:
        self.secrets_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.secrets_dir, 0o700)
        if not self.passphrase_file.exists():
            _write(self.passphrase_file, "", 0o600)
        _write(
            self.passphrase_helper,
            "#!/bin/sh\n"
            "# SSLPassPhraseDialog exec: helper. mod_ssl runs it as root with\n"
            "# <servername:port> <keytype>; it must print only the passphrase.\n"
            f"exec cat '{self.passphrase_file}'\n",
            0o700,
        )

    def set_passphrase(self, passphrase: str) -> None:
        """The passphrase Apache uses for encrypted keys: written to
        <root>/secrets/key-passphrase (0600), printed by the
        SSLPassPhraseDialog exec: helper. Takes effect at the next (re)start."""
        _write(self.passphrase_file, passphrase + "\n", 0o600)

    def _mod_lines(self) -> str:
        return "".join(f"LoadModule {n}_module {APACHE_MODULES_DIR}/{so}\n" for n, so in SANDBOX_MODULES)

    def _init_simple(self, server_name: str) -> None:
        r = self.root
        self.conf_dir = r / "conf"
        self.config_path = self.conf_dir / "httpd.conf"
        self.ssl_conf_path = self.conf_dir / "extra" / "httpd-ssl.conf"
        self.key_dir = self.conf_dir / "ssl.key"
        self.cert_dir = self.conf_dir / "ssl.crt"
        self.csr_dir = self.conf_dir / "ssl.csr"
        self.docroot = r / "htdocs"
        self.log_dir = r / "logs"
        self.pid_file = self.log_dir / "httpd.pid"
        self.error_log_path = self.log_dir / "error_log"
        self.ports_file = self.ssl_conf_path
        self.default_vhost_file = self.ssl_conf_path
        for d in (self.key_dir, self.cert_dir, self.csr_dir, self.docroot, self.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.key_dir, 0o700)
        _write(self.docroot / "index.html", "<html><body>ecertctl sandbox</body></html>\n")
        _write(
            self.config_path,
            "# Apache httpd.conf for an ecertctl test sandbox (shaped like /usr/local/apache)\n"
            f'ServerRoot "{r}"\n'
            "\n"
            + self._mod_lines()
            + "\n"
            f"User {APACHE_RUN_USER}\n"
            f"Group {APACHE_RUN_GROUP}\n"
            f"ServerName {server_name}\n"
            "ServerAdmin you@example.com\n"
            "DefaultRuntimeDir logs\n"
            "PidFile logs/httpd.pid\n"
            "ErrorLog logs/error_log\n"
            "LogLevel warn\n"
            "TypesConfig /etc/mime.types\n"
            "StartServers 1\n"
            "ServerLimit 2\n"
            "ThreadsPerChild 4\n"
            "MaxRequestWorkers 8\n"
            "GracefulShutdownTimeout 3\n"
            "\n"
            f'DocumentRoot "{self.docroot}"\n'
            "<Directory />\n    AllowOverride None\n    Require all denied\n</Directory>\n"
            f'<Directory "{self.docroot}">\n    Require all granted\n</Directory>\n'
            "DirectoryIndex index.html\n"
            "\n"
            "# Secure (SSL/TLS) connections\n"
            "Include conf/extra/httpd-ssl.conf\n",
        )
        _write(
            self.ssl_conf_path,
            "# httpd-ssl.conf: SSL/TLS virtual hosts\n"
            f"Listen 127.0.0.1:{self.port}\n"
            "\n"
            f"SSLPassPhraseDialog exec:{self.passphrase_helper}\n"
            f'SSLSessionCache "shmcb:{self.log_dir}/ssl_scache(512000)"\n'
            "SSLSessionCacheTimeout 300\n"
            "SSLProtocol all -SSLv3\n"
            "\n",
        )
        _write(
            self.bin_dir / "apachectl",
            "#!/bin/sh\n"
            "# apachectl for the sandbox: apache2 -f conf/httpd.conf -k <cmd>.\n"
            "# Unlike the stock apachectl, 'stop' waits (10 s) until the server is gone,\n"
            "# so 'apachectl stop; apachectl start' is reliable.\n"
            f"CONF='{self.config_path}'\n"
            f"PIDFILE='{self.pid_file}'\n"
            f"HTTPD='{APACHE_BIN}'\n"
            'case "$1" in\n'
            '  configtest) exec "$HTTPD" -f "$CONF" -t ;;\n'
            "  stop|graceful-stop)\n"
            '    pid=$(cat "$PIDFILE" 2>/dev/null)\n'
            '    "$HTTPD" -f "$CONF" -k "$1" || exit $?\n'
            '    if [ -n "$pid" ]; then\n'
            "      i=0\n"
            '      while [ $i -lt 100 ] && [ -d /proc/$pid ] && ! grep -q "^State:.*Z" /proc/$pid/status 2>/dev/null; do\n'
            "        sleep 0.1; i=$((i+1))\n"
            "      done\n"
            "    fi\n"
            "    exit 0 ;;\n"
            '  start|restart|graceful) exec "$HTTPD" -f "$CONF" -k "$1" ;;\n'
            '  *) exec "$HTTPD" -f "$CONF" "$@" ;;\n'
            "esac\n",
            0o755,
        )
        self.apachectl = self.bin_dir / "apachectl"

    def _init_debian(self, server_name: str) -> None:
        r = self.root
        self.conf_dir = r / "etc" / "apache2"
        self.config_path = self.conf_dir / "apache2.conf"
        self.ports_file = self.conf_dir / "ports.conf"
        self.key_dir = r / "etc" / "ssl" / "private"
        self.cert_dir = r / "etc" / "ssl" / "certs"
        self.csr_dir = r / "etc" / "ssl" / "csr"
        self.docroot = r / "var" / "www" / "html"
        self.log_dir = r / "var" / "log" / "apache2"
        self.run_dir = r / "run" / "apache2"
        self.lock_dir = r / "lock" / "apache2"
        self.pid_file = self.run_dir / "apache2.pid"
        self.error_log_path = self.log_dir / "error.log"
        self.default_vhost_file = None
        self.apachectl = Path(APACHE2CTL)
        c = self.conf_dir
        for d in ("mods-available", "mods-enabled", "conf-available", "conf-enabled",
                  "sites-available", "sites-enabled"):
            (c / d).mkdir(parents=True, exist_ok=True)
        # lock/ exists like /var/lock; apache2ctl creates lock/apache2 owned by www-data
        for d in (self.key_dir, self.cert_dir, self.csr_dir, self.docroot, self.log_dir, self.run_dir,
                  self.lock_dir.parent):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.key_dir, 0o700)
        _write(self.docroot / "index.html", "<html><body>ecertctl sandbox</body></html>\n")
        _write(
            c / "envvars",
            "# envvars - default environment variables for apache2ctl (ecertctl sandbox)\n"
            "unset HOME\n"
            f"export APACHE_RUN_USER={APACHE_RUN_USER}\n"
            f"export APACHE_RUN_GROUP={APACHE_RUN_GROUP}\n"
            f"export APACHE_PID_FILE={self.pid_file}\n"
            f"export APACHE_RUN_DIR={self.run_dir}\n"
            f"export APACHE_LOCK_DIR={self.lock_dir}\n"
            f"export APACHE_LOG_DIR={self.log_dir}\n"
            "export LANG=C\n"
            "export LANG\n",
        )
        _write(
            self.config_path,
            "# This is the main Apache server configuration file (Debian layout, ecertctl sandbox).\n"
            "# Global configuration\n"
            '#ServerRoot "/etc/apache2"\n'
            "Mutex file:${APACHE_LOCK_DIR} default\n"
            "DefaultRuntimeDir ${APACHE_RUN_DIR}\n"
            "PidFile ${APACHE_PID_FILE}\n"
            "Timeout 300\n"
            "KeepAlive On\n"
            "User ${APACHE_RUN_USER}\n"
            "Group ${APACHE_RUN_GROUP}\n"
            "HostnameLookups Off\n"
            "ErrorLog ${APACHE_LOG_DIR}/error.log\n"
            "LogLevel warn\n"
            "\n"
            "# Include module configuration:\n"
            "IncludeOptional mods-enabled/*.load\n"
            "IncludeOptional mods-enabled/*.conf\n"
            "\n"
            "# Include list of ports to listen on\n"
            "Include ports.conf\n"
            "\n"
            "<Directory />\n\tOptions FollowSymLinks\n\tAllowOverride None\n\tRequire all denied\n</Directory>\n"
            f"<Directory {r}/var/www/>\n\tOptions Indexes FollowSymLinks\n\tAllowOverride None\n\tRequire all granted\n</Directory>\n"
            "\n"
            "AccessFileName .htaccess\n"
            "\n"
            "# Include generic snippets of statements\n"
            "IncludeOptional conf-enabled/*.conf\n"
            "\n"
            "# Include the virtual host configurations:\n"
            "IncludeOptional sites-enabled/*.conf\n",
        )
        _write(
            self.ports_file,
            "# If you just change the port or add more ports here, you will likely also\n"
            "# have to change the VirtualHost statement in\n"
            "# /etc/apache2/sites-enabled/000-default.conf\n"
            "\n"
            "<IfModule ssl_module>\n"
            f"\tListen 127.0.0.1:{self.port}\n"
            "</IfModule>\n",
        )
        for name, so in SANDBOX_MODULES:
            _write(c / "mods-available" / f"{name}.load", f"LoadModule {name}_module {APACHE_MODULES_DIR}/{so}\n")
            self._enable(c / "mods-enabled" / f"{name}.load", f"../mods-available/{name}.load")
        _write(
            c / "mods-available" / "mpm_event.conf",
            "<IfModule mpm_event_module>\n\tStartServers 1\n\tServerLimit 2\n\tThreadsPerChild 4\n"
            "\tMaxRequestWorkers 8\n</IfModule>\nGracefulShutdownTimeout 3\n",
        )
        self._enable(c / "mods-enabled" / "mpm_event.conf", "../mods-available/mpm_event.conf")
        _write(c / "mods-available" / "mime.conf", "<IfModule mod_mime.c>\n\tTypesConfig /etc/mime.types\n</IfModule>\n")
        self._enable(c / "mods-enabled" / "mime.conf", "../mods-available/mime.conf")
        _write(c / "mods-available" / "dir.conf", "<IfModule mod_dir.c>\n\tDirectoryIndex index.html\n</IfModule>\n")
        self._enable(c / "mods-enabled" / "dir.conf", "../mods-available/dir.conf")
        _write(
            c / "mods-available" / "ssl.conf",
            "<IfModule mod_ssl.c>\n"
            "\tAddType application/x-x509-ca-cert .crt\n"
            "\tAddType application/x-pkcs7-crl .crl\n"
            "\t# Debian ships exec:/usr/share/apache2/ask-for-passphrase (needs a tty or systemd);\n"
            "\t# the sandbox's helper prints the passphrase from a 0600 file instead.\n"
            f"\tSSLPassPhraseDialog  exec:{self.passphrase_helper}\n"
            "\tSSLSessionCache\t\tshmcb:${APACHE_RUN_DIR}/ssl_scache(512000)\n"
            "\tSSLSessionCacheTimeout  300\n"
            "\tSSLCipherSuite HIGH:!aNULL\n"
            "\tSSLProtocol all -SSLv3\n"
            "\tSSLSessionTickets off\n"
            "</IfModule>\n",
        )
        self._enable(c / "mods-enabled" / "ssl.conf", "../mods-available/ssl.conf")
        _write(c / "conf-available" / "servername.conf", f"ServerName {server_name}\n")
        self._enable(c / "conf-enabled" / "servername.conf", "../conf-available/servername.conf")

    def _init_redhat(self, server_name: str) -> None:
        r = self.root
        self.server_root = r / "etc" / "httpd"
        self.conf_dir = self.server_root
        self.config_path = self.server_root / "conf" / "httpd.conf"
        self.ssl_conf_path = self.server_root / "conf.d" / "ssl.conf"
        self.ports_file = self.ssl_conf_path
        self.default_vhost_file = self.ssl_conf_path
        self.key_dir = r / "etc" / "pki" / "tls" / "private"
        self.cert_dir = r / "etc" / "pki" / "tls" / "certs"
        self.csr_dir = r / "etc" / "pki" / "tls" / "csr"
        self.docroot = r / "var" / "www" / "html"
        self.log_dir = r / "var" / "log" / "httpd"
        self.run_dir = r / "run" / "httpd"
        self.pid_file = self.run_dir / "httpd.pid"
        self.error_log_path = self.log_dir / "error_log"
        self.apachectl = None
        for d in (self.key_dir, self.cert_dir, self.csr_dir, self.docroot, self.log_dir, self.run_dir,
                  self.server_root / "conf.modules.d", self.server_root / "conf.d"):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.key_dir, 0o700)
        self._enable(self.server_root / "logs", "../../var/log/httpd")
        self._enable(self.server_root / "run", "../../run/httpd")
        _write(self.docroot / "index.html", "<html><body>ecertctl sandbox</body></html>\n")
        _write(
            self.config_path,
            "# This is the main Apache HTTP server configuration file (Red Hat layout, ecertctl sandbox).\n"
            f'ServerRoot "{self.server_root}"\n'
            "# Listen 80 is left out: the sandbox serves TLS only (conf.d/ssl.conf).\n"
            "Include conf.modules.d/*.conf\n"
            f"User {APACHE_RUN_USER}\n"
            f"Group {APACHE_RUN_GROUP}\n"
            "ServerAdmin root@localhost\n"
            f"ServerName {server_name}\n"
            "DefaultRuntimeDir run\n"
            "PidFile run/httpd.pid\n"
            "<Directory />\n    AllowOverride none\n    Require all denied\n</Directory>\n"
            f'DocumentRoot "{self.docroot}"\n'
            f'<Directory "{self.docroot}">\n    Options Indexes FollowSymLinks\n    AllowOverride None\n'
            "    Require all granted\n</Directory>\n"
            "<IfModule dir_module>\n    DirectoryIndex index.html\n</IfModule>\n"
            'ErrorLog "logs/error_log"\n'
            "LogLevel warn\n"
            "<IfModule mime_module>\n    TypesConfig /etc/mime.types\n</IfModule>\n"
            "AddDefaultCharset UTF-8\n"
            "GracefulShutdownTimeout 3\n"
            "\n"
            "# Load config files in the \"/etc/httpd/conf.d\" directory, if any.\n"
            "IncludeOptional conf.d/*.conf\n",
        )
        mods = self.server_root / "conf.modules.d"
        base = [(n, so) for n, so in SANDBOX_MODULES if n not in ("mpm_event", "ssl")]
        _write(mods / "00-base.conf",
               "# This file loads most of the modules included with the Apache HTTP Server itself.\n"
               + "".join(f"LoadModule {n}_module {APACHE_MODULES_DIR}/{so}\n" for n, so in base))
        _write(mods / "00-mpm.conf",
               f"LoadModule mpm_event_module {APACHE_MODULES_DIR}/mod_mpm_event.so\n"
               "<IfModule mpm_event_module>\n    StartServers 1\n    ServerLimit 2\n    ThreadsPerChild 4\n"
               "    MaxRequestWorkers 8\n</IfModule>\n")
        _write(mods / "00-ssl.conf", f"LoadModule ssl_module {APACHE_MODULES_DIR}/mod_ssl.so\n")
        key, cert = self.key_dir / "localhost.key", self.cert_dir / "localhost.crt"
        gen_key(key, kind="ec")
        _openssl("req", "-new", "-x509", "-key", str(key), "-out", str(cert), "-days", "30",
                 "-subj", "/CN=localhost", "-config", _minimal_req_config(), "-addext", "subjectAltName=DNS:localhost")
        self.default_cert = cert
        _write(
            self.ssl_conf_path,
            "#\n# When we also provide SSL we have to listen to the\n# standard HTTP port (see above) and to the HTTPS port\n#\n"
            f"Listen 127.0.0.1:{self.port} https\n"
            "\n"
            "##\n##  SSL Global Context\n##\n"
            "# Red Hat ships exec:/usr/libexec/httpd-ssl-pass-dialog; the sandbox's helper prints the\n"
            "# passphrase from a 0600 file instead.\n"
            f"SSLPassPhraseDialog exec:{self.passphrase_helper}\n"
            "SSLSessionCache         shmcb:run/sslcache(512000)\n"
            "SSLSessionCacheTimeout  300\n"
            "SSLCryptoDevice builtin\n"
            "\n"
            "##\n## SSL Virtual Host Context\n##\n"
            f"<VirtualHost _default_:{self.port}>\n"
            "\n"
            "# Use separate log files for the SSL virtual host; note that LogLevel\n"
            "# is not inherited from httpd.conf.\n"
            "ErrorLog logs/ssl_error_log\n"
            "LogLevel warn\n"
            "\n"
            "SSLEngine on\n"
            "SSLHonorCipherOrder on\n"
            "SSLCipherSuite HIGH:!aNULL\n"
            "SSLProxyCipherSuite HIGH:!aNULL\n"
            "\n"
            "#   Server Certificate:\n"
            f"SSLCertificateFile {cert}\n"
            "\n"
            "#   Server Private Key:\n"
            f"SSLCertificateKeyFile {key}\n"
            "\n"
            "#   Server Certificate Chain:\n"
            f"#SSLCertificateChainFile {self.cert_dir}/server-chain.crt\n"
            "\n"
            '<FilesMatch "\\.(cgi|shtml|phtml|php)$">\n'
            "    SSLOptions +StdEnvVars\n"
            "</FilesMatch>\n"
            'BrowserMatch "MSIE [2-5]" \\\n'
            "         nokeepalive ssl-unclean-shutdown \\\n"
            "         downgrade-1.0 force-response-1.0\n"
            "\n"
            "</VirtualHost>\n",
        )

    @staticmethod
    def _enable(link: Path, target: str) -> None:
        if not link.is_symlink():
            os.symlink(target, link)

    # vhosts -------------------------------------------------------------------

    def add_listen(self, port: int) -> None:
        """Make Apache also listen on 127.0.0.1:port (appended to the ports file)."""
        if port in self.ports:
            return
        self.ports.add(port)
        if self.layout == "simple":
            _append(self.ports_file, f"Listen 127.0.0.1:{port}\n")
        elif self.layout == "redhat":
            _append(self.ports_file, f"Listen 127.0.0.1:{port} https\n")
        else:
            _append(self.ports_file, f"<IfModule ssl_module>\n\tListen 127.0.0.1:{port}\n</IfModule>\n")

    def vhost_file_path(self, file: str | os.PathLike | None, server_name: str) -> Path:
        """Where add_vhost writes: simple: conf/extra/httpd-ssl.conf by default,
        relative names under conf/; debian: sites-available/<server_name>.conf
        by default, relative names under etc/apache2/; redhat:
        conf.d/<server_name>.conf by default, relative names under etc/httpd/."""
        if file is None:
            if self.layout == "simple":
                return self.ssl_conf_path
            safe = server_name.replace("*", "_wildcard_")
            if self.layout == "redhat":
                return self.conf_dir / "conf.d" / f"{safe}.conf"
            return self.conf_dir / "sites-available" / f"{safe}.conf"
        p = Path(file)
        return p if p.is_absolute() else self.conf_dir / p

    def placeholder_cert(self, server_name: str) -> tuple[Path, Path]:
        """A self-signed (key, cert) for server_name in the sandbox's key/cert
        dirs, so Apache can start before ecertctl installs the real one."""
        safe = server_name.replace("*", "_wildcard_")
        key = self.key_dir / f"placeholder-{safe}.key"
        cert = self.cert_dir / f"placeholder-{safe}.crt"
        if not cert.exists():
            gen_key(key, kind="ec")
            _openssl("req", "-new", "-x509", "-key", str(key), "-out", str(cert), "-days", "30",
                     "-subj", f"/CN={server_name}", "-config", _minimal_req_config(),
                     "-addext", f"subjectAltName=DNS:{server_name}")
        return key, cert

    def add_vhost(
        self,
        server_name: str,
        aliases: Iterable[str] = (),
        port: int | None = None,
        file: str | os.PathLike | None = None,
        ssl_files: tuple | None | bool = None,
        extra_lines: Iterable[str] = (),
        address: str = "*",
        enable: bool = True,
        server_name_directive: bool = True,
    ) -> Path:
        """Append a TLS <VirtualHost address:port> block and return its file.

        ssl_files: (key, cert, chain) paths (chain may be None: no
          SSLCertificateChainFile line); None: a self-signed placeholder
          key+cert so Apache starts; False: no SSLCertificate* lines at all
          (Apache will not start until someone adds them).
        file: see vhost_file_path(); several vhosts may share one file.
          debian: files under sites-available/ get a sites-enabled/ symlink
          unless enable=False.
        port: default the sandbox's port; another port gets its own Listen.
        """
        port = port or self.port
        self.add_listen(port)
        path = self.vhost_file_path(file, server_name)
        lines = [f"<VirtualHost {address}:{port}>"]
        if server_name_directive:
            lines.append(f"    ServerName {server_name}")
        aliases = list(aliases)
        if aliases:
            lines.append("    ServerAlias " + " ".join(aliases))
        lines.append(f'    DocumentRoot "{self.docroot}"')
        lines.append("    SSLEngine on")
        if ssl_files is None:
            key, cert = self.placeholder_cert(server_name)
            lines.append(f'    SSLCertificateFile "{cert}"')
            lines.append(f'    SSLCertificateKeyFile "{key}"')
        elif ssl_files is not False:
            key, cert, chain = ssl_files
            lines.append(f'    SSLCertificateFile "{cert}"')
            lines.append(f'    SSLCertificateKeyFile "{key}"')
            if chain is not None:
                lines.append(f'    SSLCertificateChainFile "{chain}"')
        lines.extend(f"    {l}" for l in extra_lines)
        lines.append("</VirtualHost>")
        text = "\n".join(lines) + "\n"
        if path.exists() and path.read_text() and not path.read_text().endswith("\n\n"):
            text = "\n" + text
        _append(path, text)
        if (
            self.layout == "debian"
            and enable
            and path.parent == self.conf_dir / "sites-available"
        ):
            self._enable(self.conf_dir / "sites-enabled" / path.name, f"../sites-available/{path.name}")
        return path

    # commands -----------------------------------------------------------------

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The complete environment to run Apache commands (and ecertctl) with:
        base (default os.environ) plus, for debian, APACHE_CONFDIR (and
        APACHE_STARTED_BY_SYSTEMD, see below)."""
        e = dict(os.environ if base is None else base)
        if self.layout == "debian":
            e["APACHE_CONFDIR"] = str(self.conf_dir)
            # On a host whose PID 1 is systemd, `apache2ctl start` would hand
            # over to `systemctl start apache2@<confdir>`; this makes it run
            # apache2 itself (apache2ctl unsets it before starting apache2).
            e["APACHE_STARTED_BY_SYSTEMD"] = "true"
        return e

    def _httpd_argv(self) -> list[str]:
        """The Apache binary with the options that choose this sandbox's config."""
        if self.layout == "redhat":
            return [APACHE_BIN, "-d", str(self.server_root), "-f", "conf/httpd.conf"]
        return [APACHE_BIN, "-f", str(self.config_path)]

    def configtest_argv(self) -> list[str]:
        """apache.configtest for a manifest driving this sandbox."""
        if self.layout == "debian":
            return [APACHE2CTL, "configtest"]  # needs env()
        return [*self._httpd_argv(), "-t"]

    def restart_argv_list(self, style: str = "graceful") -> list[list[str]]:
        """apache.restart for a manifest driving this sandbox. style
        "graceful" (starts Apache if it is not running) or "stop-start" (the
        CA guide's apachectl stop; apachectl start). For debian, apache2ctl
        needs env(); note its stop does not wait for the old server to exit."""
        if style not in ("graceful", "stop-start"):
            raise ValueError(style)
        if self.layout == "debian":
            if style == "graceful":
                return [[APACHE2CTL, "graceful"]]
            return [[APACHE2CTL, "stop"], [APACHE2CTL, "start"]]
        if style == "graceful":
            return [[*self._httpd_argv(), "-k", "graceful"]]
        if self.layout == "redhat":
            raise ValueError("the redhat sandbox restarts gracefully only (apachectl graceful on Red Hat)")
        return [[str(self.apachectl), "stop"], [str(self.apachectl), "start"]]

    def manifest_apache(self, style: str = "graceful", timeout: int = 30) -> dict:
        """The manifest's `apache:` mapping for this sandbox (dump with json/yaml)."""
        return {
            "config": str(self.config_path),
            "configtest": self.manifest_argv(self.configtest_argv()),
            "restart": [self.manifest_argv(a) for a in self.restart_argv_list(style)],
            "timeout": timeout,
        }

    def manifest_argv(self, argv: Sequence[str]) -> list[str]:
        """argv as a manifest gives it to ecertctl, which runs commands with
        PATH, LANG and LC_* only: for debian, the variables of env() that
        apache2ctl needs go along through env(1)."""
        if self.layout != "debian":
            return list(argv)
        extra = self.env({})
        return ["/usr/bin/env", *(f"{k}={extra[k]}" for k in sorted(extra)), *argv]

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run the layout's control command: apache2ctl <args> (debian, with
        env()), apache2 -f <conf> <args> (simple) or apache2 -d <server root>
        -f conf/httpd.conf <args> (redhat)."""
        if self.layout == "debian":
            return run([APACHE2CTL, *args], env=self.env(), timeout=timeout)
        return run([*self._httpd_argv(), *args], timeout=timeout)

    def configtest(self) -> subprocess.CompletedProcess:
        return self.ctl("configtest") if self.layout == "debian" else self.ctl("-t")

    def pid(self) -> int | None:
        """The main Apache pid from the PidFile, if that process is alive."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _pid_alive(pid):
            self._seen_pids.add(pid)
            return pid
        return None

    def is_running(self) -> bool:
        return self.pid() is not None

    def error_log(self) -> str:
        try:
            return self.error_log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout: float = 15) -> int:
        """Wait until the main process is alive and every port accepts TCP
        connections; returns the pid. Raises RuntimeError with the error log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.pid()
            if pid and all(_port_open(p) for p in self.ports):
                return pid
            time.sleep(0.05)
        raise RuntimeError(
            f"Apache ({self.layout}) at {self.root} not ready on ports {sorted(self.ports)} "
            f"after {timeout}s\n--- error log (tail)\n{self.error_log()[-4000:]}"
        )

    def start(self, timeout: float = 15) -> int:
        """Start Apache (apache2ctl start / apache2 -k start) and wait until it
        listens; returns the main pid. Raises RuntimeError on failure."""
        if self.is_running():
            raise RuntimeError(f"Apache already running (pid {self.pid()})")
        cp = self.ctl("start", timeout=timeout) if self.layout == "debian" else self.ctl("-k", "start", timeout=timeout)
        if cp.returncode != 0:
            raise RuntimeError(
                f"Apache start failed ({cp.returncode})\n{cp.stdout}{cp.stderr}\n"
                f"--- error log (tail)\n{self.error_log()[-4000:]}"
            )
        return self.wait_ready(timeout)

    def _own_pids(self) -> set[int]:
        """Pids of apache2 processes started on this sandbox's config (matched
        on the unique sandbox path in their command line: `-f <conf>` or
        `-d <confdir>`), in case the PidFile is gone."""
        marker = str(self.config_path) if self.layout == "simple" else str(self.conf_dir)
        found: set[int] = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            argv = [a.decode(errors="replace") for a in args if a]
            if argv and os.path.basename(argv[0]) in ("apache2", "httpd") and marker in argv:
                found.add(int(entry))
        return found

    def stop(self, timeout: float = 10) -> None:
        """Stop Apache and wait until its processes are gone; SIGKILL to the
        process group as a fallback. Safe to call when not running (always
        call it from tearDown/addCleanup)."""
        pid = self.pid()
        pids = set(self._seen_pids) | self._own_pids()
        if pid:
            with contextlib.suppress(Exception):
                if self.layout == "debian":
                    self.ctl("stop", timeout=timeout)
                else:
                    self.ctl("-k", "stop", timeout=timeout)
        else:
            for p in pids:  # no PidFile: SIGTERM the sandbox's own processes
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(p, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
            time.sleep(0.05)
        for p in pids:
            if _pid_alive(p):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    # Apache's main process leads its own process group (setsid).
                    if os.getpgid(p) == p:
                        os.killpg(p, signal.SIGKILL)
                    else:
                        os.kill(p, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
            time.sleep(0.05)
        self._seen_pids = {p for p in pids if _pid_alive(p)}

    def __enter__(self) -> "ApacheSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------
# the system log and private mount namespaces

SYSLOG_RE = re.compile(r"<(?P<pri>\d+)>(?P<stamp>\w{3} [ \d]\d \d\d:\d\d:\d\d) (?P<ident>[^\[:]+)(?:\[(?P<pid>\d+)\])?: (?P<text>.*)",
                       re.S)
LOG_DAEMON = 3
LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO = 3, 4, 5, 6


@dataclasses.dataclass
class SyslogMessage:
    facility: int
    severity: int
    ident: str
    pid: int | None
    text: str


class SyslogSocket:
    """An AF_UNIX datagram socket bound at `path`, standing in for /dev/log.
    A thread reads it while the program runs: the kernel queues only
    net.unix.max_dgram_qlen datagrams (10 by default) before a sender blocks.
    Use as a context manager; `messages` then holds every datagram, parsed
    (a datagram that is not syslog(3)'s format fails the test that reads it)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.unlink(missing_ok=True)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self._sock.settimeout(0.05)
        self._raw: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self.messages: list[SyslogMessage] = []

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self._raw.append(self._sock.recv(65536))
            except socket.timeout:
                pass

    def __enter__(self) -> "SyslogSocket":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                self._raw.append(self._sock.recv(65536))
        self._sock.close()
        self.path.unlink(missing_ok=True)
        for raw in self._raw:
            m = SYSLOG_RE.fullmatch(raw.decode("utf-8"))
            if not m:
                raise AssertionError(f"not a syslog(3) message: {raw!r}")
            pri = int(m["pri"])
            self.messages.append(SyslogMessage(pri >> 3, pri & 7, m["ident"], int(m["pid"]) if m["pid"] else None,
                                               m["text"]))


def in_mount_namespace(argv: Sequence[str | os.PathLike], scratch: str | os.PathLike,
                       dev_log: str | os.PathLike | None = None,
                       overlays: Mapping[str, str | os.PathLike] | None = None) -> list[str]:
    """argv wrapped to run (as root) in a private mount namespace
    (unshare --mount; nothing propagates back to the host) where
      - /dev/log is the socket `dev_log`: /dev is an overlay whose upper layer
        is under `scratch`, so the host's /dev is never written, whether or
        not it has a /dev/log (a symlink into journald's directory on systemd
        machines, absent in many containers);
      - each directory of the host named in `overlays` (e.g. "/etc") shows the
        files of the given directory over its own, read-only.
    `scratch` is a directory the test owns (created if missing)."""
    scratch = Path(scratch)
    q = shlex.quote
    script = ["set -e"]
    if dev_log is not None:
        (scratch / "dev-upper").mkdir(parents=True, exist_ok=True)
        (scratch / "dev-work").mkdir(parents=True, exist_ok=True)
        script += [
            f"mount -t overlay ecertctl-test -o lowerdir=/dev,upperdir={q(str(scratch / 'dev-upper'))},"
            f"workdir={q(str(scratch / 'dev-work'))} /dev",
            "rm -f /dev/log", "touch /dev/log", f"mount --bind {q(os.fspath(dev_log))} /dev/log"]
    for target, shown in (overlays or {}).items():
        script.append(f"mount -t overlay ecertctl-test -o lowerdir={q(os.fspath(shown))}:{q(target)} {q(target)}")
    script.append('exec "$@"')
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(script), "sh",
            *map(os.fspath, argv)]


# --------------------------------------------------------------------------
# manifests and a base class for ecertctl integration tests


def _yaml_scalar(v) -> str:
    import json

    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, os.PathLike):
        v = os.fspath(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar
    raise TypeError(f"cannot render {type(v).__name__} as YAML")


def to_yaml(obj, indent: int = 0) -> str:
    """Block-style YAML for dicts/lists/scalars (strings always double-quoted),
    stdlib only. Empty lists/dicts render as [] / {}."""
    pad = " " * indent
    out: list[str] = []
    if isinstance(obj, dict):
        if not obj:
            return pad + "{}\n"
        for k, v in obj.items():
            key = str(k)
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{key}:\n{to_yaml(v, indent + 2)}")
            elif isinstance(v, (dict, list)):
                out.append(f"{pad}{key}: {'{}' if isinstance(v, dict) else '[]'}\n")
            else:
                out.append(f"{pad}{key}: {_yaml_scalar(v)}\n")
        return "".join(out)
    if isinstance(obj, list):
        if not obj:
            return pad + "[]\n"
        for v in obj:
            if isinstance(v, list) and v and all(not isinstance(x, (dict, list)) for x in v):
                out.append(f"{pad}- [{', '.join(_yaml_scalar(x) for x in v)}]\n")
            elif isinstance(v, (dict, list)) and v:
                inner = to_yaml(v, indent + 2)
                out.append(f"{pad}- {inner[indent + 2:]}")
            else:
                out.append(f"{pad}- {_yaml_scalar(v) if not isinstance(v, (dict, list)) else ('{}' if isinstance(v, dict) else '[]')}\n")
        return "".join(out)
    return pad + _yaml_scalar(obj) + "\n"


def write_manifest(path: str | os.PathLike, manifest: dict) -> Path:
    """Write a manifest dict as block YAML (see to_yaml)."""
    return _write(Path(path), to_yaml(manifest))


class IntegrationTestCase:
    """Mixin for ecertctl integration tests:

        class ApplyTest(h.IntegrationTestCase, unittest.TestCase):
            def test_x(self):
                pki = self.make_pki()
                sb = self.make_sandbox("debian")      # stopped in cleanup
                cp = self.ecertctl("apply", "-f", m, env=sb.env())

    self.tmp is a fresh directory per test, removed afterwards unless
    KEEP_TMP=1 is set (then its path is printed)."""

    def setUp(self):
        super().setUp()
        self.tmp = Path(tempfile.mkdtemp(prefix=f"ecert-{type(self).__name__}-"))

        def _rm():
            if os.environ.get("KEEP_TMP"):
                print(f"\nkept {self.tmp}")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

        self.addCleanup(_rm)

    def make_pki(self, name: str = "pki") -> TestPKI:
        return TestPKI(self.tmp / name)

    def make_sandbox(self, layout: str = "simple", name: str | None = None, **kw) -> ApacheSandbox:
        sb = ApacheSandbox(self.tmp / (name or f"apache-{layout}"), layout=layout, **kw)
        self.addCleanup(sb.stop)  # cleanups run LIFO: Apache stops before tmp is removed
        return sb

    def ecertctl_binary(self) -> str:
        """The binary ecertctl() runs; the reliability tests run the test build."""
        return ecertctl_path()

    def ecertctl(self, *args, env: Mapping[str, str] | None = None, timeout: float = 120,
                 cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
        """Run the ecertctl under test (stdin closed); fails the test clearly
        if the binary is missing."""
        exe = self.ecertctl_binary()
        if not os.access(exe, os.X_OK):
            self.fail(f"ecertctl binary not found at {exe} (build it, or set ECERTCTL)")
        return run([exe, *args], env=env, timeout=timeout, cwd=cwd)
