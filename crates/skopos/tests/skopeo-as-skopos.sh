#!/bin/sh
# Stand-in for skopos that runs the reference skopeo, to check the tests' own expectations:
#   SKOPOS_UNDER_TEST=$PWD/crates/skopos/tests/skopeo-as-skopos.sh cargo test -p skopos --tests
# Every interop test should pass; the few that check where skopos deliberately differs from
# skopeo 1.9.3 (its version string, exit 2 for a missing oci image, an untouched destination
# after a failed copy) fail. As root, a user namespace keeps skopeo's blob-info cache out of
# /var/lib/containers (the harness also points XDG_DATA_HOME into the test's temp dir).
if [ "$(id -u)" -eq 0 ] && unshare --user --map-user=1000 --map-group=1000 true 2>/dev/null; then
    exec unshare --user --map-user=1000 --map-group=1000 skopeo "$@"
fi
exec skopeo "$@"
