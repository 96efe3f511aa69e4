#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Ansible module hkpost.ecert.ecert: apply an ecertctl manifest on the managed host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ecert
short_description: Apply Hongkong Post e-Cert server certificates to Apache with ecertctl
description:
  - >-
    Runs C(ecertctl apply -f MANIFEST --format ansible) on the managed host and reports
    what it did: keys and CSRs created, certificates picked up, chain files and
    C(<VirtualHost>) directives written, Apache restarted.
  - In check mode runs C(ecertctl plan --format ansible) instead, which writes nothing
    at all (no file, directory, lock or backup).
  - In diff mode returns the before/after of the chain and vhost files that change
    (predicted in check mode). Key material is never part of a diff.
  - A site waiting for the CA (I(pending)) is neither a change nor a failure.
  - >-
    Give the key passphrase with I(passphrases) (the variable the manifest names, from
    Ansible Vault), or use C(passphrase: {file: ...}) in the manifest. Never through the
    task's C(environment) keyword, which Ansible writes into the C(/bin/sh -c) command
    line of the module's process, where every user of the host can read it in /proc.
version_added: "1.0.0"
author: ecertctl maintainers
requirements:
  - ecertctl on the managed host
options:
  manifest:
    description: Path of the ecertctl manifest (YAML) on the managed host.
    type: path
    required: true
  sites:
    description: Limit the run to these sites (C(--site) for each). Empty means all sites.
    type: list
    elements: str
    default: []
  restart:
    description:
      - When true, ecertctl restarts Apache itself (once, after configtest) if a file Apache
        reads changed.
      - When false, ecertctl runs configtest but leaves the restart to you
        (C(apply --no-restart)); the result's C(restart_needed) says whether a handler
        should restart Apache.
    type: bool
    default: true
  state_dir:
    description: Where ecertctl keeps its lock and backups (C(--state-dir)). Default is ecertctl's own (/var/lib/ecertctl or $ECERTCTL_STATE_DIR).
    type: path
  ecertctl:
    description: The ecertctl executable, a name looked up on PATH or an absolute path.
    type: str
    default: ecertctl
  passphrases:
    description:
      - >-
        Environment variables for ecertctl alone, by name: the passphrase variables the manifest
        names (C(passphrase: {env: NAME})), e.g.
        C({ECERT_KEY_PASSPHRASE: "{{ vault_ecert_key_passphrase }}"}).
      - >-
        The module puts them into the environment of the ecertctl process it starts, never on a
        command line; their values are masked in every result and log (no_log). ecertctl in turn
        keeps them from the commands it runs (configtest, restart).
      - Ansible hands module arguments to the module in a file of its private temporary directory
        (or on stdin with pipelining), not on a command line.
    type: dict
    default: {}
notes:
  - Supports check mode and diff mode.
  - >-
    Exit status 1 of ecertctl (a bad manifest, or a site with an error) fails the task;
    the other sites still converge and are reported in C(sites).
"""

EXAMPLES = r"""
- name: Apply the e-Cert manifest
  hkpost.ecert.ecert:
    manifest: /etc/ecertctl/ecert.yaml
    passphrases:
      ECERT_KEY_PASSPHRASE: "{{ vault_ecert_key_passphrase }}"

- name: Apply two sites, restart from a handler
  hkpost.ecert.ecert:
    manifest: /etc/ecertctl/ecert.yaml
    sites: [www.example.hk, shop.example.hk]
    restart: false
  register: ecert
  notify: restart apache   # fires on any change; see the role for a restart_needed-only handler
"""

RETURN = r"""
changed:
  description: Whether anything was (or, in check mode, would be) created or updated.
  type: bool
  returned: always
msg:
  description: One-line summary from ecertctl, or the error (for a bad manifest, every file:line:column message).
  type: str
  returned: always
sites:
  description: Per-site results, each with name, feature, state and resources (type, action, path, reason) and warnings.
  type: list
  elements: dict
  returned: when ecertctl got as far as reading the manifest
restart_needed:
  description: Whether Apache must be restarted to serve what changed (with restart=false, your handler's job).
  type: bool
  returned: always
restarted:
  description: Whether ecertctl restarted Apache in this run.
  type: bool
  returned: always
apache:
  description: ecertctl's Apache section (configtest result, restart, reason).
  type: dict
  returned: when available
diff:
  description: In diff mode, a list of before/after dicts of the chain and vhost files (never keys).
  type: list
  returned: in diff mode
command:
  description: The ecertctl argv that ran (no secrets are ever in it).
  type: list
  returned: always
"""

import json
import os
import re

from ansible.module_utils.basic import AnsibleModule

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def build_argv(exe, params, check_mode):
    argv = [exe]
    if check_mode:
        argv += ["plan", "-f", params["manifest"]]
    else:
        argv += ["apply", "-f", params["manifest"]]
        if not params["restart"]:
            argv.append("--no-restart")
    argv += ["--format", "ansible"]
    for site in params["sites"] or []:
        argv += ["--site", site]
    if params.get("state_dir"):
        argv += ["--state-dir", params["state_dir"]]
    return argv


def main():
    module = AnsibleModule(
        argument_spec=dict(
            manifest=dict(type="path", required=True),
            sites=dict(type="list", elements="str", default=[]),
            restart=dict(type="bool", default=True),
            state_dir=dict(type="path"),
            ecertctl=dict(type="str", default="ecertctl"),
            passphrases=dict(type="dict", default={}, no_log=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    passphrases = params["passphrases"] or {}
    for name, value in passphrases.items():
        if not ENV_NAME.match(name) or not isinstance(value, str):
            module.fail_json(msg="passphrases: %r must be an environment variable name with a string value" % name,
                             changed=False)

    exe = params["ecertctl"]
    if os.sep in exe:
        if not os.access(exe, os.X_OK):
            module.fail_json(msg="ecertctl not found or not executable at %s" % exe, changed=False)
    else:
        exe = module.get_bin_path(exe, required=True)

    argv = build_argv(exe, params, module.check_mode)
    # The passphrases go into ecertctl's environment only (subprocess's env),
    # never into argv.
    rc, stdout, stderr = module.run_command(argv, check_rc=False, environ_update=passphrases)

    result = dict(changed=False, command=argv, rc=rc, restart_needed=False, restarted=False)
    try:
        data = json.loads(stdout)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError:
        module.fail_json(
            msg="ecertctl did not print its ansible JSON (exit %d): %s"
            % (rc, (stderr or stdout).strip() or "no output"),
            stdout=stdout, stderr=stderr, **result
        )

    result["changed"] = bool(data.get("changed", False))
    result["msg"] = data.get("msg", "")
    result["restart_needed"] = bool(data.get("restart_needed", False))
    result["restarted"] = bool(data.get("restarted", False))
    for key in ("sites", "apache", "format_version"):
        if key in data:
            result[key] = data[key]
    if module._diff and data.get("diff"):
        result["diff"] = data["diff"]

    for site in data.get("sites") or []:
        for warning in site.get("warnings") or []:
            module.warn("%s: %s" % (site.get("name", "?"), warning))

    if data.get("failed") or rc != 0:
        if stderr.strip() and stderr.strip() not in result["msg"]:
            result["stderr"] = stderr
        if not result["msg"]:
            result["msg"] = stderr.strip() or "ecertctl exited with %d" % rc
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
