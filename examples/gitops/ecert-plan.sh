#!/bin/sh
# GitOps helper for ecertctl: plan on a merge request, apply the reviewed plan.
#
#   examples/gitops/ecert-plan.sh plan  MANIFEST PLANFILE   # writes PLANFILE (+ PLANFILE.txt for review)
#   examples/gitops/ecert-plan.sh apply PLANFILE            # applies exactly that plan, or refuses if stale
#
# plan exit codes: 0 nothing to do (pending sites only), 2 changes to review,
# 1 error (bad manifest, a site in error). apply exits 1 and does nothing when
# anything the plan observed (any input file, or the manifest) changed since.
# The key passphrase comes from the CI's secret variable ECERT_KEY_PASSPHRASE
# (or a passphrase file on the runner); it is never in the plan.
set -u
ECERTCTL=${ECERTCTL:-ecertctl}

case "${1:-}" in
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
    echo "usage: $0 plan MANIFEST PLANFILE | apply PLANFILE" >&2
    exit 64
    ;;
esac
