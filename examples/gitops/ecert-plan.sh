#!/bin/sh
# GitOps helper for ecertctl: validate a merge request, plan on the protected
# default branch, apply the reviewed plan.
#
#   examples/gitops/ecert-plan.sh validate MANIFEST         # merge requests: no secret, unprivileged runner
#   examples/gitops/ecert-plan.sh plan  MANIFEST PLANFILE   # writes PLANFILE (+ PLANFILE.txt for review)
#   examples/gitops/ecert-plan.sh apply PLANFILE            # applies exactly that plan, or refuses if stale
#
# validate reads only the manifest and needs no passphrase: it is the one
# mode for jobs that anyone who can open a merge request can cause. plan and
# apply open the keys and run as root on the web server: protected default
# branch only (see the trust model in .gitlab-ci.yml and README.md).
#
# plan exit codes: 0 nothing to do (pending sites only), 2 changes to review,
# 1 error (bad manifest, a site in error). apply exits 1 and does nothing when
# anything the plan observed (any input file, or the manifest) changed since.
# The key passphrase comes from the CI's protected secret ECERT_KEY_PASSPHRASE
# (or a passphrase file on the runner); it is never in the plan.
set -u
ECERTCTL=${ECERTCTL:-ecertctl}

case "${1:-}" in
validate)
    exec "$ECERTCTL" validate -f "$2"
    ;;
plan)
    manifest=$2 planfile=$3
    "$ECERTCTL" plan -f "$manifest" --out "$planfile" --detailed-exitcode >"$planfile.txt"
    rc=$?
    cat "$planfile.txt"
    case $rc in
        0) echo "ecert: no changes (pending sites wait for the CA)";;
        2) echo "ecert: changes to review; the saved plan is $planfile";;
        *) echo "ecert: plan failed ($rc)" >&2; exit "$rc";;
    esac
    # Succeed for both 0 and 2 so the artifact is uploaded; the summary says which.
    exit 0
    ;;
apply)
    planfile=$2
    exec "$ECERTCTL" apply "$planfile"
    ;;
*)
    echo "usage: $0 validate MANIFEST | plan MANIFEST PLANFILE | apply PLANFILE" >&2
    exit 64
    ;;
esac
