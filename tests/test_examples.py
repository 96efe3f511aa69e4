#!/usr/bin/env python3
"""Every example manifest (examples/*.yaml, and the one the package installs,
packaging/ecert.yaml) passes `ecertctl validate` without a warning and is
valid under schemas/manifest.schema.json.

ECERTCTL names the binary (ctest passes the one it built)."""
from __future__ import annotations

import json
import os
import subprocess
import unittest
from pathlib import Path

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml")) + [REPO / "packaging" / "ecert.yaml"]


class ExamplesTest(unittest.TestCase):
    def test_every_example_manifest_validates(self):
        names = {p.name for p in EXAMPLES}
        self.assertLessEqual({"ecert.yaml", "rhel.yaml"}, names)
        schema = json.loads((REPO / "schemas" / "manifest.schema.json").read_text())
        validator = jsonschema.Draft202012Validator(schema)
        for path in EXAMPLES:
            with self.subTest(example=str(path.relative_to(REPO))):
                cp = subprocess.run([os.environ["ECERTCTL"], "validate", "-f", path], capture_output=True, text=True,
                                    stdin=subprocess.DEVNULL, timeout=30)
                self.assertEqual((cp.returncode, cp.stderr), (0, ""), cp.stdout)
                errors = [f"{'/'.join(map(str, e.path))}: {e.message}"
                          for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
                self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main()
