"""Salt, GitOps and monitoring integrations against a real Apache sandbox.

- Salt (not packaged for Debian 12): `--format salt` output is fed through a
  transcription of the code Salt runs for `cmd.run` with `stateful: True`.
- GitOps: `plan --out` / `apply PLAN`, stale-plan refusal, --detailed-exitcode,
  and the example script examples/gitops/ecert-plan.sh.
- Monitoring: `status --format prometheus` checked by a strict text-format
  parser; `--textfile-dir` for node_exporter's textfile collector.
"""

from __future__ import annotations

import calendar
import json
import math
import os
import re
import shlex
import time
import unittest
from pathlib import Path

import harness as h
from e2e import PASSPHRASE, E2ECase


# --------------------------------------------------------------------------
# Salt's contract for stateful commands.
#
# Transcribed from saltstack/salt, salt/states/cmd.py: _reinterpreted_state(),
# _failout(), _is_true(), and the end of run():
#     ret["changes"] = cmd_all; ret["result"] = not bool(cmd_all["retcode"])
#     if stateful: ret = _reinterpreted_state(ret)
# The whole stdout is tried as JSON first (it must then be an object); only if
# that fails is the last line parsed as shell-quoted key=value pairs.
# "changed" decides whether the state has changes (what watch/onchanges
# react to); "comment" becomes the state's comment.


def _salt_is_true(val) -> bool:
    if val and str(val).lower() in ("true", "yes", "1"):
        return True
    elif str(val).lower() in ("false", "no", "0"):
        return False
    raise ValueError(f"Failed parsing boolean value: {val}")


def _salt_failout(state: dict, msg: str) -> dict:
    state["comment"] = msg
    state["result"] = False
    return state


def salt_reinterpreted_state(state: dict) -> dict:
    ret = state["changes"]
    state["changes"] = {}
    state["comment"] = ""

    out = ret.get("stdout")
    if not out:
        if ret.get("stderr"):
            state["comment"] = ret["stderr"]
        return state

    is_json = False
    idx = -1
    try:
        data = json.loads(out)
        if not isinstance(data, dict):
            return _salt_failout(state, "script JSON output must be a JSON object (e.g., {})!")
        is_json = True
    except ValueError:
        idx = out.rstrip().rfind("\n")
        if idx != -1:
            out = out[idx + 1:]
        data = {}
        try:
            for item in shlex.split(out):
                key, val = item.split("=")
                data[key] = val
        except ValueError:
            state = _salt_failout(
                state, "Failed parsing script output! Stdout must be JSON or a line of name=value pairs.")
            state["changes"].update(ret)
            return state

    changed = _salt_is_true(data.get("changed", "no"))
    if "comment" in data:
        state["comment"] = data["comment"]
        del data["comment"]
    if changed:
        for key in ret:
            data.setdefault(key, ret[key])
        data["stdout"] = "" if is_json else data.get("stdout", "")[:idx]
        state["changes"] = data
    return state


def salt_cmd_run_stateful(cp) -> dict:
    """What Salt's cmd.run state returns for a finished command (cmd_all as
    cmdmod.run_all returns it: stdout/stderr with the trailing newline stripped)."""
    cmd_all = {"pid": 0, "retcode": cp.returncode, "stdout": cp.stdout.rstrip("\n"),
               "stderr": cp.stderr.rstrip("\n")}
    ret = {"name": "ecertctl", "changes": cmd_all, "result": not bool(cmd_all["retcode"]),
           "comment": 'Command "ecertctl" run'}
    return salt_reinterpreted_state(ret)


# --------------------------------------------------------------------------
# A strict parser for Prometheus' text exposition format (version 0.0.4).

_METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
_SAMPLE_RE = re.compile(rf"^({_METRIC_NAME})(\{{.*\}})? (\S+)( -?\d+)?$")
_LABEL_RE = re.compile(rf'({_LABEL_NAME})="((?:[^"\\\n]|\\[\\"n])*)"')
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class PromFormatError(AssertionError):
    pass


def parse_prometheus(text: str) -> dict:
    """{family: {"help": str, "type": str, "samples": {frozenset(labels.items()): value}}}.
    Raises PromFormatError on anything the format does not allow: bad names,
    label syntax, values, duplicate HELP/TYPE/series, TYPE after samples,
    non-contiguous families, missing final newline."""
    if text and not text.endswith("\n"):
        raise PromFormatError("does not end with a newline")
    families: dict[str, dict] = {}
    closed: set[str] = set()
    current = None
    for n, line in enumerate(text.split("\n")[:-1] if text else [], 1):
        where = f"line {n}: {line!r}"
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not re.fullmatch(_METRIC_NAME, name):
                    raise PromFormatError(f"bad metric name, {where}")
                fam = families.setdefault(name, {"help": None, "type": None, "samples": {}})
                if name in closed or (current not in (None, name) and fam["samples"]):
                    raise PromFormatError(f"family {name} is not contiguous, {where}")
                if current != name and current is not None:
                    closed.add(current)
                current = name
                if parts[1] == "HELP":
                    if fam["help"] is not None:
                        raise PromFormatError(f"second HELP, {where}")
                    fam["help"] = parts[3] if len(parts) > 3 else ""
                else:
                    if fam["type"] is not None or fam["samples"]:
                        raise PromFormatError(f"TYPE repeated or after samples, {where}")
                    if len(parts) != 4 or parts[3] not in _TYPES:
                        raise PromFormatError(f"bad TYPE, {where}")
                    fam["type"] = parts[3]
            continue  # other comments are allowed
        m = _SAMPLE_RE.match(line)
        if not m:
            raise PromFormatError(f"not a sample line, {where}")
        name, labels_text, value = m.group(1), m.group(2), m.group(3)
        labels = {}
        if labels_text:
            inner = labels_text[1:-1]
            pos = 0
            while pos < len(inner):
                lm = _LABEL_RE.match(inner, pos)
                if not lm:
                    raise PromFormatError(f"bad label syntax at {inner[pos:]!r}, {where}")
                if lm.group(1) in labels:
                    raise PromFormatError(f"duplicate label {lm.group(1)}, {where}")
                labels[lm.group(1)] = (lm.group(2).replace("\\n", "\n").replace('\\"', '"')
                                       .replace("\\\\", "\\"))
                pos = lm.end()
                if pos < len(inner):
                    if inner[pos] != ",":
                        raise PromFormatError(f"expected ',' in labels, {where}")
                    pos += 1
        if value in ("+Inf", "-Inf", "NaN"):
            v = float(value.replace("Inf", "inf").replace("NaN", "nan"))
        else:
            try:
                v = float(value)
            except ValueError:
                raise PromFormatError(f"bad value {value!r}, {where}") from None
            if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", value):
                raise PromFormatError(f"bad value {value!r}, {where}")
        fam = families.get(name)
        if fam is None or name in closed or current != name:
            raise PromFormatError(f"sample of {name} outside its HELP/TYPE block, {where}")
        key = frozenset(labels.items())
        if key in fam["samples"]:
            raise PromFormatError(f"duplicate series, {where}")
        fam["samples"][key] = v
    for name, fam in families.items():
        if fam["type"] is None:
            raise PromFormatError(f"{name}: no TYPE")
    return families


def sample(families: dict, name: str, **labels) -> float:
    """The one sample of name whose labels include labels."""
    hits = [v for k, v in families[name]["samples"].items() if set(labels.items()) <= set(k)]
    if len(hits) != 1:
        raise AssertionError(f"{name}{labels}: {len(hits)} samples in {families[name]['samples']}")
    return hits[0]


def not_after_epoch(cert: Path) -> int:
    out = h.run(["openssl", "x509", "-noout", "-enddate", "-in", cert], check=True).stdout
    stamp = out.strip().split("=", 1)[1]  # e.g. "Dec  5 18:42:04 2026 GMT"
    return calendar.timegm(time.strptime(stamp, "%b %d %H:%M:%S %Y %Z"))


class ParserSelfTest(unittest.TestCase):
    """The strict parser rejects what Prometheus would."""

    GOOD = ('# HELP a_b x\n# TYPE a_b gauge\na_b{s="q\\"x",t="1"} 1\na_b{s="r"} 1.5e+09\n'
            '# TYPE c counter\nc 3\n')

    def test_good(self):
        fams = parse_prometheus(self.GOOD)
        self.assertEqual(sample(fams, "a_b", s='q"x'), 1)
        self.assertEqual(sample(fams, "c"), 3)

    def test_rejects(self):
        for bad in ("a 1\n",                                        # no TYPE
                    "# TYPE a gauge\na{b=\"1\"} x\n",               # bad value
                    "# TYPE a gauge\na{b=1} 1\n",                   # unquoted label
                    "# TYPE a gauge\na 1\na 2\n",                   # duplicate series
                    "# TYPE a gauge\na 1",                          # no final newline
                    "# TYPE a gauge\n# TYPE b gauge\nb 1\na 1\n",   # not contiguous
                    "# TYPE a gauge\na 1\n# TYPE a gauge\n",        # TYPE twice
                    "# TYPE a wibble\na 1\n",                       # bad type
                    "# TYPE 1a gauge\n"):                           # bad name
            with self.assertRaises(PromFormatError, msg=bad):
                parse_prometheus(bad)


# --------------------------------------------------------------------------


class PipelineCase(E2ECase):
    def setup_one(self, names=("www.one.test",)):
        sb = self.sandbox("simple")
        for n in names:
            sb.add_vhost(n)
        sb.start()
        sites = [self.site(sb, n) for n in names]
        m = self.manifest(sb, sites)
        return sb, sites, m

    def run_cli(self, *args, sb=None):
        cp = self.ecertctl(*args, env=self.env(sb))
        self.assertNotIn(PASSPHRASE, cp.stdout + cp.stderr)
        return cp


class SaltTest(PipelineCase, unittest.TestCase):
    def test_stateful_cmd_run_contract(self):
        sb, sites, m = self.setup_one()

        def salt(*args):
            cp = self.run_cli(*args, "--format", "salt", sb=sb)
            lines = cp.stdout.splitlines()
            self.assertEqual(len(lines), 1, f"salt format must be one line:\n{cp.stdout}")
            obj = json.loads(lines[-1])
            self.assertEqual(set(obj), {"changed", "comment"}, obj)
            self.assertIsInstance(obj["changed"], bool)
            return cp, salt_cmd_run_stateful(cp)

        # test=True runs test_name (plan): would change, writes nothing.
        before = self.snapshot(self.manifest_dir, sb.root / "conf")
        cp, state = salt("plan", "-f", str(m))
        self.assertTrue(state["result"], state)
        self.assertTrue(state["changes"], state)
        self.assertIn("to create", state["comment"])
        self.assertEqual(self.snapshot(self.manifest_dir, sb.root / "conf"), before)

        # First apply: key + CSR created -> changes (onchanges would fire).
        cp, state = salt("apply", "-f", str(m))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertTrue(state["result"], state)
        self.assertIs(state["changes"]["changed"], True)
        self.assertEqual(state["changes"]["stdout"], "", "JSON stdout is not repeated in changes")
        self.assertIn("created", state["comment"])

        # Second apply, only pending: no changes -> watch/onchanges trigger nothing.
        cp, state = salt("apply", "-f", str(m))
        self.assertTrue(state["result"], state)
        self.assertEqual(state["changes"], {}, state)
        self.assertIn("pending", state["comment"])

        # The CA issues: changes again (chain + vhost, Apache restarted), then none.
        self.issue(sites[0])
        pid = sb.pid()
        cp, state = salt("apply", "-f", str(m))
        self.assertTrue(state["result"], state)
        self.assertTrue(state["changes"], state)
        self.assert_serves(sb, "www.one.test", self.path_in_manifest(sites[0]["certificate"]), "standard")
        cp, state = salt("apply", "-f", str(m))
        self.assertEqual(state["changes"], {}, state)
        self.assertTrue(state["result"])

        # --no-restart (the example state: Salt reloads on changes) reports no change when converged.
        cp, state = salt("apply", "-f", str(m), "--no-restart")
        self.assertEqual(state["changes"], {}, state)
        self.assertNotEqual(sb.pid(), None)

        # A bad manifest: the state fails, the comment names file:line:col.
        bad = self.manifest_dir / "bad.yaml"
        bad.write_text(m.read_text().replace('feature: "standard"', 'feature: "gold"'))
        line = next(i for i, l in enumerate(bad.read_text().splitlines(), 1) if '"gold"' in l)
        cp, state = salt("apply", "-f", str(bad))
        self.assertEqual(cp.returncode, 1)
        self.assertFalse(state["result"], state)
        self.assertEqual(state["changes"], {})
        self.assertRegex(state["comment"], rf"{re.escape(str(bad))}:{line}:\d+: error: 'feature'")

    def test_example_state_file(self):
        sls = (h.REPO_ROOT / "integrations" / "salt" / "ecert.sls").read_text()
        self.assertRegex(sls, r"ecertctl apply -f .+? (--no-restart )?--format salt")
        self.assertRegex(sls, r"- stateful:\s*\n\s*- test_name: ecertctl plan -f .+? --format salt")
        self.assertRegex(sls, r"- onchanges:\s*\n\s*- cmd: ecert-apply")
        self.assertNotRegex(sls, r"passphrase:\s*['\"]?[A-Za-z0-9]{6,}", "no literal passphrase in the example")


class GitOpsTest(PipelineCase, unittest.TestCase):
    def converge_to_pending(self, sb, m):
        cp = self.run_cli("apply", "-f", m, sb=sb)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)

    def test_detailed_exitcodes(self):
        sb, sites, m = self.setup_one()
        cp = self.run_cli("plan", "-f", m, "--detailed-exitcode", sb=sb)
        self.assertEqual(cp.returncode, 2, "keys/CSRs to create are changes")
        self.converge_to_pending(sb, m)
        cp = self.run_cli("plan", "-f", m, "--detailed-exitcode", sb=sb)
        self.assertEqual(cp.returncode, 0, "pending only is not a change")
        cp = self.run_cli("plan", "-f", m, sb=sb)
        self.assertEqual(cp.returncode, 0, "without --detailed-exitcode, changes exit 0")
        self.issue(sites[0])
        cp = self.run_cli("plan", "-f", m, "--detailed-exitcode", sb=sb)
        self.assertEqual(cp.returncode, 2)
        bad = self.manifest_dir / "bad.yaml"
        bad.write_text(m.read_text() + "bogus: 1\n")
        cp = self.run_cli("plan", "-f", bad, "--detailed-exitcode", sb=sb)
        self.assertEqual(cp.returncode, 1)
        self.assertIn(f"{bad}:", cp.stdout + cp.stderr)

    def test_saved_plan_is_applied(self):
        sb, sites, m = self.setup_one()
        self.converge_to_pending(sb, m)
        self.issue(sites[0])
        plan = self.tmp / "artifacts" / "ecert.plan"
        plan.parent.mkdir()
        before = self.snapshot(self.manifest_dir, sb.root / "conf")
        cp = self.run_cli("plan", "-f", m, "--out", plan, "--detailed-exitcode", sb=sb)
        self.assertEqual(cp.returncode, 2, cp.stdout + cp.stderr)
        self.assertEqual(self.snapshot(self.manifest_dir, sb.root / "conf"), before, "plan --out wrote beside the manifest")
        saved = json.loads(plan.read_text())
        self.assertEqual(saved["kind"], "ecertctl-plan")
        self.assertEqual(Path(saved["manifest_path"]), m)
        self.assertRegex(saved["manifest_sha256"], r"^[0-9a-f]{64}$")
        cert = self.path_in_manifest(sites[0]["certificate"])
        self.assertRegex(saved["inputs"][str(cert)], r"^[0-9a-f]{64}$")
        self.assertEqual(saved["inputs"][str(self.path_in_manifest(sites[0]["chain"]))], "absent")
        self.assertNotIn(PASSPHRASE, plan.read_text())
        self.assertNotIn("PRIVATE KEY", plan.read_text())

        pid = sb.pid()
        cp = self.run_cli("apply", plan, "--format", "json", sb=sb)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        report = json.loads(cp.stdout)
        self.assertTrue(report["changed"])
        self.assertTrue(report["apache"]["restart"])
        self.assertEqual(self.resources(report, "www.one.test")["chain"]["action"], "create")
        self.assertEqual(self.resources(report, "www.one.test")["vhost"]["action"], "update")
        self.assert_serves(sb, "www.one.test", cert, "standard")
        self.assertNotEqual(sb.pid(), None)
        cp = self.run_cli("plan", "-f", m, "--detailed-exitcode", sb=sb)
        self.assertEqual(cp.returncode, 0, cp.stdout)

    def assert_stale_refused(self, sb, plan, expect_path, before):
        pid = sb.pid()
        cp = self.run_cli("apply", plan, sb=sb)
        self.assertEqual(cp.returncode, 1, cp.stdout + cp.stderr)
        out = cp.stdout + cp.stderr
        self.assertIn("the saved plan is stale", out)
        self.assertIn(str(expect_path), out)
        self.assertEqual(self.snapshot(self.manifest_dir, sb.root / "conf"), before, "a stale plan changed files")
        self.assertEqual(sb.pid(), pid, "a stale plan restarted Apache")
        self.assertFalse(self.state_dir.exists() and any(self.state_dir.rglob("*.bak*")))

    def test_stale_plan_is_refused_and_changes_nothing(self):
        sb, sites, m = self.setup_one()
        self.converge_to_pending(sb, m)
        cert = self.path_in_manifest(sites[0]["certificate"])

        # 1. planned while pending; then the certificate is dropped in.
        plan1 = self.tmp / "plan1.json"
        self.assertEqual(self.run_cli("plan", "-f", m, "--out", plan1, sb=sb).returncode, 0)
        self.issue(sites[0])
        self.assert_stale_refused(sb, plan1, cert, self.snapshot(self.manifest_dir, sb.root / "conf"))

        # 2. planned with the certificate; then someone edits the vhost file by hand.
        plan2 = self.tmp / "plan2.json"
        self.assertEqual(self.run_cli("plan", "-f", m, "--out", plan2, "--detailed-exitcode", sb=sb).returncode, 2)
        with open(sb.ssl_conf_path, "a") as f:
            f.write("# edited by hand after the plan\n")
        self.assert_stale_refused(sb, plan2, sb.ssl_conf_path, self.snapshot(self.manifest_dir, sb.root / "conf"))

        # 3. planned; then the manifest changes.
        plan3 = self.tmp / "plan3.json"
        self.assertEqual(self.run_cli("plan", "-f", m, "--out", plan3, sb=sb).returncode, 0)
        m.write_text(m.read_text() + "# reviewed\n")
        self.assert_stale_refused(sb, plan3, m, self.snapshot(self.manifest_dir, sb.root / "conf"))

        # A fresh plan applies.
        plan4 = self.tmp / "plan4.json"
        self.run_cli("plan", "-f", m, "--out", plan4, sb=sb)
        cp = self.run_cli("apply", plan4, sb=sb)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assert_serves(sb, "www.one.test", cert, "standard")

    def test_example_pipeline_script(self):
        script = h.REPO_ROOT / "examples" / "gitops" / "ecert-plan.sh"
        sb, sites, m = self.setup_one()
        self.converge_to_pending(sb, m)
        env = self.env(sb, ECERTCTL=h.ecertctl_path())
        # What a merge request runs: no passphrase anywhere.
        no_secret = {k: v for k, v in env.items() if k != "ECERT_KEY_PASSPHRASE"}
        cp = h.run(["sh", script, "validate", m], env=no_secret)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn("valid (1 site)", cp.stdout)
        plan = self.tmp / "ecert.plan"
        cp = h.run(["sh", script, "plan", m, plan], env=env)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn("no changes", cp.stdout)
        self.issue(sites[0])
        cp = h.run(["sh", script, "plan", m, plan], env=env)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn("changes to review", cp.stdout)
        self.assertIn("vhost", Path(f"{plan}.txt").read_text())
        cp = h.run(["sh", script, "apply", plan], env=env)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assert_serves(sb, "www.one.test", self.path_in_manifest(sites[0]["certificate"]), "standard")
        for f in ("github-actions.yml", ".gitlab-ci.yml"):
            text = (script.parent / f).read_text()
            self.assertIn("ecert-plan.sh validate ecert.yaml", text)
            self.assertIn("ecert-plan.sh plan", text)
            self.assertIn("ecert-plan.sh apply ecert.plan", text)


class MonitoringTest(PipelineCase, unittest.TestCase):
    def prom(self, m, sb, *extra) -> tuple[str, dict]:
        cp = self.run_cli("status", "-f", m, "--format", "prometheus", *extra, sb=sb)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        return cp.stdout, parse_prometheus(cp.stdout)

    def test_prometheus_metrics_and_textfile(self):
        sb, sites, m = self.setup_one(("www.short.test", "www.long.test"))
        short, long_ = sites
        self.assertEqual(self.run_cli("apply", "-f", m, sb=sb).returncode, 0)

        # Pending: pending=1, ready False, no expiry sample yet.
        _, fams = self.prom(m, sb)
        for fam in ("ecertctl_certificate_expiration_timestamp_seconds", "ecertctl_certificate_ready_status",
                    "ecertctl_certificate_pending", "ecertctl_site_error", "ecertctl_certificate_expiring",
                    "ecertctl_served_matches"):
            self.assertIn(fam, fams)
            self.assertEqual(fams[fam]["type"], "gauge")
            self.assertTrue(fams[fam]["help"])
        for s in ("www.short.test", "www.long.test"):
            self.assertEqual(sample(fams, "ecertctl_certificate_pending", site=s), 1)
            self.assertEqual(sample(fams, "ecertctl_certificate_ready_status", site=s, condition="True"), 0)
            # ecertctl's choice: pending (or changes due) is Unknown; False is reserved for errors.
            self.assertEqual(sample(fams, "ecertctl_certificate_ready_status", site=s, condition="Unknown"), 1)
            self.assertEqual(sample(fams, "ecertctl_certificate_ready_status", site=s, condition="False"), 0)
            self.assertEqual(sample(fams, "ecertctl_site_error", site=s), 0)
        self.assertFalse([k for k in fams["ecertctl_certificate_expiration_timestamp_seconds"]["samples"]])

        # Issued (one for 10 days), applied: ready, not pending, expiry == notAfter, expiring only the short one.
        self.issue(short, days=10)
        self.issue(long_, days=365)
        cp = self.run_cli("apply", "-f", m, sb=sb)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertRegex(cp.stdout, r"warning: certificate expires in (9|10) days")
        text, fams = self.prom(m, sb)
        for site, expiring in ((short, 1), (long_, 0)):
            name = site["name"]
            cert = self.path_in_manifest(site["certificate"])
            serial = h.run(["openssl", "x509", "-noout", "-serial", "-in", cert], check=True).stdout.split("=")[1].strip()
            ts = sample(fams, "ecertctl_certificate_expiration_timestamp_seconds", site=name,
                        feature="standard", issuer="Hongkong Post e-Cert SSL CA 3 - 17")
            self.assertEqual(ts, not_after_epoch(cert), name)
            self.assertEqual(sample(fams, "ecertctl_certificate_expiration_timestamp_seconds", site=name,
                                    serial=serial), ts)
            self.assertEqual(sample(fams, "ecertctl_certificate_ready_status", site=name, condition="True"), 1)
            self.assertEqual(sample(fams, "ecertctl_certificate_ready_status", site=name, condition="False"), 0)
            self.assertEqual(sample(fams, "ecertctl_certificate_ready_status", site=name, condition="Unknown"), 0)
            self.assertEqual(sample(fams, "ecertctl_certificate_pending", site=name), 0)
            self.assertEqual(sample(fams, "ecertctl_certificate_expiring", site=name), expiring)
            self.assertEqual(sample(fams, "ecertctl_served_matches", site=name), 1)

        # The expiry warning is in every format.
        st_text = self.run_cli("status", "-f", m, sb=sb).stdout
        self.assertRegex(st_text, r"www\.short\.test[\s\S]*expires in (9|10) days")
        st_json = json.loads(self.run_cli("status", "-f", m, "--format", "json", sb=sb).stdout)
        warn = {s["name"]: " ".join(s.get("warnings", [])) for s in st_json["sites"]}
        self.assertRegex(warn["www.short.test"], r"expires in (9|10) days")
        self.assertNotIn("expires", warn["www.long.test"])
        plan_json = json.loads(self.run_cli("plan", "-f", m, "--format", "json", sb=sb).stdout)
        self.assertTrue(any("expires" in w for s in plan_json["sites"] for w in s["warnings"]))
        ans = json.loads(self.run_cli("plan", "-f", m, "--format", "ansible", sb=sb).stdout)
        self.assertTrue(any("expires" in w for s in ans["sites"] for w in s["warnings"]))
        self.assertRegex(ans["msg"], r"warning: www\.short\.test: certificate expires in (9|10) days")
        salt = json.loads(self.run_cli("plan", "-f", m, "--format", "salt", sb=sb).stdout.strip().splitlines()[-1])
        self.assertRegex(salt["comment"], r"warning: www\.short\.test: certificate expires in (9|10) days")

        # node_exporter textfile collector: same content, atomically, no temp file left.
        tdir = self.tmp / "textfile"
        tdir.mkdir()
        cp = self.run_cli("status", "-f", m, "--textfile-dir", tdir, sb=sb)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(sorted(os.listdir(tdir)), ["ecertctl.prom"])
        written = (tdir / "ecertctl.prom").read_text()
        parse_prometheus(written)
        self.assertEqual(written, text)
        # Rewriting keeps it a single, complete file.
        cp = self.run_cli("status", "-f", m, "--textfile-dir", tdir, "--format", "prometheus", sb=sb)
        self.assertEqual(sorted(os.listdir(tdir)), ["ecertctl.prom"])
        self.assertEqual((tdir / "ecertctl.prom").read_text(), text)


if __name__ == "__main__":
    unittest.main()
