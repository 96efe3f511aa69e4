#!/usr/bin/env python3
"""The GitOps examples keep secrets and root away from merge requests.

Anyone who can open a merge request (pull request) can make the pipeline run
for it. So no job that can run for a merge request, or for a push to a branch
other than the protected default one, may see the key passphrase, run on the
privileged runner on the web server, or run ecertctl plan/apply there: it
runs `ecertctl validate` (no secret, reads only the manifest) on an
unprivileged runner, or nothing. plan (with the passphrase) and apply run only
for the protected default branch, on the web server's runner.

The job conditions are evaluated, not matched as text: a small evaluator for
GitLab `rules: if:` and GitHub `if:` expressions (==, !=, &&, ||, !,
parentheses, variables, string literals) runs them in the contexts below.
"""
from __future__ import annotations

import re
import unittest
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "gitops"
PRIVILEGED_TAG = "ecert-web1"
SECRET = "ECERT_KEY_PASSPHRASE"
PRIVILEGED_COMMANDS = re.compile(r"(ecert-plan\.sh|ecertctl)\s+(plan|apply)\b")

# Variables of pipelines an untrusted contributor can cause.
GITLAB_UNTRUSTED = {
    "merge request": {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_DEFAULT_BRANCH": "main",
                      "CI_MERGE_REQUEST_IID": "7", "CI_COMMIT_REF_NAME": "feature",
                      "CI_COMMIT_REF_PROTECTED": "false"},
    "push to a feature branch": {"CI_PIPELINE_SOURCE": "push", "CI_DEFAULT_BRANCH": "main",
                                 "CI_COMMIT_BRANCH": "feature", "CI_COMMIT_REF_NAME": "feature",
                                 "CI_COMMIT_REF_PROTECTED": "false"},
}
GITLAB_DEFAULT_BRANCH = {"CI_PIPELINE_SOURCE": "push", "CI_DEFAULT_BRANCH": "main", "CI_COMMIT_BRANCH": "main",
                         "CI_COMMIT_REF_NAME": "main", "CI_COMMIT_REF_PROTECTED": "true"}
GITHUB_UNTRUSTED = {
    "pull request": {"github.event_name": "pull_request", "github.ref": "refs/pull/7/merge",
                     "github.base_ref": "main", "github.head_ref": "feature"},
    "push to a feature branch": {"github.event_name": "push", "github.ref": "refs/heads/feature"},
}
GITHUB_DEFAULT_BRANCH = {"github.event_name": "push", "github.ref": "refs/heads/main"}

TOKEN = re.compile(r"\s*(?:(==|!=|&&|\|\||!|\(|\))|'((?:[^']|'')*)'|\"([^\"]*)\"|(\$?[A-Za-z_][\w.\-]*))")


def evaluate(expr: str, variables: dict[str, str]):
    """Value of a GitLab rules/GitHub if expression: a string, None (unset) or a bool."""
    expr = expr.strip()
    if expr.startswith("${{") and expr.endswith("}}"):
        expr = expr[3:-2]
    tokens, pos = [], 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read the expression {expr!r} at {expr[pos:]!r}")
        op, single, double, name = m.groups()
        if op:
            tokens.append(("op", op))
        elif single is not None:
            tokens.append(("str", single.replace("''", "'")))
        elif double is not None:
            tokens.append(("str", double))
        elif name in ("true", "false"):
            tokens.append(("bool", name == "true"))
        else:
            tokens.append(("var", variables.get(name.lstrip("$"))))
        pos = m.end()
        while pos < len(expr) and expr[pos].isspace():
            pos += 1

    def truthy(v) -> bool:
        return bool(v)

    def primary(i):
        if i >= len(tokens):
            raise ValueError(f"the expression {expr!r} ends too early")
        kind, value = tokens[i]
        if (kind, value) == ("op", "!"):
            v, i = primary(i + 1)
            return not truthy(v), i
        if (kind, value) == ("op", "("):
            v, i = disjunction(i + 1)
            if tokens[i] != ("op", ")"):
                raise ValueError(f"unbalanced parentheses in {expr!r}")
            return v, i + 1
        if kind == "op":
            raise ValueError(f"unexpected {value!r} in {expr!r}")
        return value, i + 1

    def comparison(i):
        left, i = primary(i)
        if i < len(tokens) and tokens[i] in (("op", "=="), ("op", "!=")):
            op = tokens[i][1]
            right, i = primary(i + 1)
            return (left == right) == (op == "=="), i
        return left, i

    def conjunction(i):
        v, i = comparison(i)
        while i < len(tokens) and tokens[i] == ("op", "&&"):
            w, i = comparison(i + 1)
            v = truthy(v) and truthy(w)
        return v, i

    def disjunction(i):
        v, i = conjunction(i)
        while i < len(tokens) and tokens[i] == ("op", "||"):
            w, i = conjunction(i + 1)
            v = truthy(v) or truthy(w)
        return v, i

    value, end = disjunction(0)
    if end != len(tokens):
        raise ValueError(f"cannot read the expression {expr!r}")
    return value


def gitlab_job_runs(job: dict, variables: dict[str, str]) -> bool:
    """Whether GitLab creates the job in a pipeline with these variables.
    A job without rules runs in branch pipelines (not merge request ones);
    `only`/`except` are not used by the example and are refused."""
    if "only" in job or "except" in job:
        raise AssertionError("use rules:, which this test evaluates, not only:/except:")
    rules = job.get("rules")
    if rules is None:
        return variables.get("CI_PIPELINE_SOURCE") != "merge_request_event"
    for rule in rules:
        if "if" not in rule or evaluate(rule["if"], variables):
            return rule.get("when", "on_success") != "never"
    return False


def gitlab_jobs(doc: dict) -> dict[str, dict]:
    reserved = {"stages", "variables", "workflow", "default", "include", "image", "services", "cache",
                "before_script", "after_script"}
    return {name: job for name, job in doc.items()
            if name not in reserved and not name.startswith(".") and isinstance(job, dict)}


def github_job_runs(doc: dict, name: str, variables: dict[str, str]) -> bool:
    triggers = doc.get("on") if "on" in doc else doc.get(True)  # PyYAML reads a bare `on` as True
    event = variables["github.event_name"]
    if isinstance(triggers, dict):
        triggered = event in triggers
    else:
        triggered = event in ([triggers] if isinstance(triggers, str) else triggers)
    if not triggered:
        return False
    job = doc["jobs"][name]
    needs = job.get("needs", [])
    for needed in [needs] if isinstance(needs, str) else needs:
        if not github_job_runs(doc, needed, variables):
            return False
    return "if" not in job or bool(evaluate(str(job["if"]), variables))


def load(name: str) -> tuple[dict, str]:
    text = (EXAMPLES / name).read_text()
    return yaml.safe_load(text), text


class ExpressionTest(unittest.TestCase):
    def test_evaluator(self):
        v = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_DEFAULT_BRANCH": "main",
             "github.ref": "refs/heads/main"}
        self.assertTrue(evaluate('$CI_PIPELINE_SOURCE == "merge_request_event"', v))
        self.assertFalse(evaluate("$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", v))  # unset in a merge request pipeline
        self.assertFalse(evaluate('$CI_COMMIT_BRANCH == "main" || ($CI_PIPELINE_SOURCE != "merge_request_event")', v))
        self.assertTrue(evaluate('$CI_COMMIT_BRANCH == "main" || !$CI_COMMIT_BRANCH', v))
        self.assertTrue(evaluate("${{ github.ref == 'refs/heads/main' && !github.head_ref }}", v))
        self.assertFalse(evaluate("github.event_name == 'push' && github.ref == 'refs/heads/main'", v))
        with self.assertRaises(ValueError):
            evaluate("github.ref ==", v)


class GitOpsExamplesTest(unittest.TestCase):
    def assert_unprivileged(self, where: str, job_text: str, tags) -> None:
        self.assertNotIn(SECRET, job_text, f"{where}: the passphrase secret is exposed")
        self.assertNotIn("secrets.", job_text, f"{where}: a secret is exposed")
        self.assertNotIn(PRIVILEGED_TAG, tags, f"{where}: runs on the privileged runner on the web server")
        self.assertIsNone(PRIVILEGED_COMMANDS.search(job_text), f"{where}: runs ecertctl plan/apply")

    def test_gitlab_merge_requests_only_validate_without_secrets(self):
        doc, _ = load(".gitlab-ci.yml")
        jobs = gitlab_jobs(doc)
        self.assertNotIn(SECRET, yaml.safe_dump(doc.get("variables", {})), "a pipeline-wide variable holds the secret")
        for context, variables in GITLAB_UNTRUSTED.items():
            running = [name for name, job in jobs.items() if gitlab_job_runs(job, variables)]
            for name in running:
                job = jobs[name]
                self.assert_unprivileged(f"{context}: job {name}", yaml.safe_dump(job), job.get("tags", []))
            if context == "merge request":
                self.assertTrue(any("validate" in yaml.safe_dump(jobs[n]["script"]) for n in running),
                                "no validate job on a merge request")
        # plan and apply run on the server, only for the protected default branch.
        privileged = [n for n, job in jobs.items() if PRIVILEGED_TAG in job.get("tags", [])]
        self.assertTrue(privileged)
        for name in privileged:
            self.assertTrue(gitlab_job_runs(jobs[name], GITLAB_DEFAULT_BRANCH), name)
            unprotected = dict(GITLAB_DEFAULT_BRANCH, CI_COMMIT_REF_PROTECTED="false")
            self.assertFalse(gitlab_job_runs(jobs[name], unprotected), f"{name} runs on an unprotected default branch")

    def test_github_pull_requests_only_validate_without_secrets(self):
        doc, _ = load("github-actions.yml")
        for context, variables in GITHUB_UNTRUSTED.items():
            running = [name for name in doc["jobs"] if github_job_runs(doc, name, variables)]
            for name in running:
                job = doc["jobs"][name]
                runs_on = job.get("runs-on", [])
                self.assert_unprivileged(f"{context}: job {name}", yaml.safe_dump(job),
                                         [runs_on] if isinstance(runs_on, str) else runs_on)
            if context == "pull request":
                self.assertTrue(any("validate" in yaml.safe_dump(doc["jobs"][n]["steps"]) for n in running),
                                "no validate job on a pull request")
        self.assertNotIn(SECRET, yaml.safe_dump(doc.get("env", {})), "a workflow-wide variable holds the secret")
        privileged = [n for n, job in doc["jobs"].items() if PRIVILEGED_TAG in job.get("runs-on", [])]
        self.assertTrue(privileged)
        for name in privileged:
            self.assertTrue(github_job_runs(doc, name, GITHUB_DEFAULT_BRANCH), name)
            # The secret lives in an environment whose deployment branch rule admits only the default branch.
            self.assertIn("environment", doc["jobs"][name], f"{name}: its secret must be an environment secret")
        triggers = doc.get("on") if "on" in doc else doc.get(True)
        self.assertNotIn("pull_request_target", triggers, "pull_request_target runs untrusted code with secrets")


if __name__ == "__main__":
    unittest.main()
