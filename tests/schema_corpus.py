#!/usr/bin/env python3
"""Keeps the manifest loader and the JSON Schema in agreement on one corpus.

usage: schema_corpus.py DRIVER MANIFESTS_DIR SCHEMA

DRIVER is manifest_check (or anything that takes a manifest path, prints the
loader's diagnostics to stderr and exits 1 on errors). It is run from the
manifest's own directory with the bare file name, so expected messages do not
depend on where the repository is checked out.

  good/NAME.yaml  the loader accepts it (stderr empty, or equal to NAME.expected
                  when that exists, e.g. for warnings) and the schema accepts it.
  bad/NAME.yaml   the loader rejects it with exactly the lines of NAME.expected;
                  its first line says what the schema must do:
                  "# schema: invalid" or "# schema: valid (semantic: why)".

A document PyYAML cannot load, or whose alias expansion is over the loader's
bound, counts as rejected by the schema: no schema validator can accept it.
"""
import json
import pathlib
import subprocess
import sys

import jsonschema
import yaml

MAX_NODES = 100000
MAX_DEPTH = 100
DRIVER_TIMEOUT = 10


def expansion_ok(doc):
    """Walks the document as a validator would, within the loader's bounds.
    Shared (aliased) objects are counted once per use, as validation visits them."""
    stack = [(doc, 0)]
    nodes = 0
    while stack:
        obj, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES or depth > MAX_DEPTH:
            return False
        if isinstance(obj, dict):
            for k, v in obj.items():
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif isinstance(obj, list):
            stack.extend((v, depth + 1) for v in obj)
    return True


def schema_verdict(validator, path):
    """(accepted, reason)."""
    try:
        doc = yaml.safe_load(path.read_bytes())
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as e:
        return False, "not loadable as YAML: " + str(e).splitlines()[0]
    if not expansion_ok(doc):
        return False, "alias expansion too large"
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        return False, "/".join(str(p) for p in e.path) + ": " + e.message[:200]
    return True, "valid"


def run_driver(driver, path):
    try:
        proc = subprocess.run([driver, path.name], cwd=path.parent, capture_output=True,
                              timeout=DRIVER_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "timed out after %ds" % DRIVER_TIMEOUT
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


def expected_text(path):
    exp = path.with_suffix(".expected")
    return exp.read_text(encoding="utf-8") if exp.exists() else None


def check_good(driver, validator, path):
    problems = []
    rc, err = run_driver(driver, path)
    want = expected_text(path) or ""
    if rc != 0:
        problems.append("loader rejected it (exit %s):\n%s" % (rc, err))
    elif err != want:
        problems.append("loader output differs:\n--- expected\n%s--- got\n%s" % (want, err))
    ok, why = schema_verdict(validator, path)
    if not ok:
        problems.append("schema rejected it: " + why)
    return problems


def check_bad(driver, validator, path):
    problems = []
    header = path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    if header.startswith("# schema: invalid"):
        schema_should_accept = False
    elif header.startswith("# schema: valid"):
        schema_should_accept = True
    else:
        return ["first line must be '# schema: invalid' or '# schema: valid (...)'"]
    want = expected_text(path)
    if want is None:
        return ["no %s" % path.with_suffix(".expected").name]
    rc, err = run_driver(driver, path)
    if rc != 1:
        problems.append("loader exit %s, expected 1:\n%s" % (rc, err))
    if err != want:
        problems.append("loader output differs:\n--- expected\n%s--- got\n%s" % (want, err))
    ok, why = schema_verdict(validator, path)
    if ok != schema_should_accept:
        problems.append("schema %s it (%s) but the header says '%s'" %
                        ("accepted" if ok else "rejected", why, header))
    return problems


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    driver = str(pathlib.Path(argv[1]).resolve())
    root = pathlib.Path(argv[2])
    schema = json.loads(pathlib.Path(argv[3]).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)

    cases = [(p, check_good) for p in sorted((root / "good").glob("*.yaml"))]
    cases += [(p, check_bad) for p in sorted((root / "bad").glob("*.yaml"))]
    for exp in sorted((root / "bad").glob("*.expected")):
        if not exp.with_suffix(".yaml").exists():
            cases.append((exp, lambda d, v, p: ["expected file without a manifest"]))
    failed = []
    for path, check in cases:
        problems = check(driver, validator, path)
        if problems:
            failed.append((path, problems))
    for path, problems in failed:
        print("FAIL %s/%s" % (path.parent.name, path.name))
        for p in problems:
            print("  " + p.replace("\n", "\n  "))
    print("%d passed, %d failed" % (len(cases) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
