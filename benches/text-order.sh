#!/usr/bin/env bash
# Writes crates/skopos/text-order.txt: the functions BIN runs in the jobs users run most (push,
# pull, registry-to-registry copy, inspect, zstd recompression, docker-archive, sync,
# containers-storage, list-tags, dir:), as the linker names them, most shared first. The release
# build lays these out side by side at the start of the code (crates/skopos/build.rs), so that a
# run touches a few hundred contiguous pages of the binary instead of pages all over it: the
# kernel maps a file's pages in 64 KiB blocks around each one touched, and those count in the
# process's memory (peak RSS; issue 13).
# Functions are found with valgrind's callgrind (every function executed, not a sample), on
# small images so that it takes a few minutes. Rerun after changes that move the data path;
# names that no longer exist are ignored by the linker, new ones are laid out as before.
# Needs valgrind and the registries and images of the shared bench's world.sh. Not run by the
# tests. BIN must come from `cargo build --release` of the whole workspace: a one-package build
# (`-p skopos`) unifies other dependency features, so its functions have other names.
#   usage: [ACC=/tmp/acc] [WORLD=path/to/world.sh] benches/text-order.sh BIN
set -euo pipefail
BIN=$(realpath "${1:?usage: benches/text-order.sh BIN}")
ACC=${ACC:-/tmp/acc}
HERE=$(cd "$(dirname "$0")" && pwd)
WORLD=${WORLD:-$HERE/../../shared/bench/world.sh}
OUT=$HERE/../crates/skopos/text-order.txt
R=127.0.0.1:5000
D=127.0.0.1:5001
command -v valgrind >/dev/null || { echo "text-order.sh: valgrind is needed" >&2; exit 1; }
"$WORLD" >/dev/null
W=$(mktemp -d /tmp/text-order.XXXXXX)
export HOME=$W/home
mkdir -p "$HOME"
trap 'umount "$W/cs/root/overlay" 2>/dev/null || true; rm -rf "$W"' EXIT

n=0
run() { # JOB ARGS...: BIN ARGS under callgrind, its functions into $W/JOB.fns
  n=$((n + 1))
  valgrind --tool=callgrind --callgrind-out-file="$W/$n.out" --compress-strings=no \
    --compress-pos=no --demangle=no "$BIN" --insecure-policy "$@" >/dev/null 2>"$W/$n.err" \
    || { echo "text-order.sh: failed: $*" >&2; tail -5 "$W/$n.err" >&2; exit 1; }
  # Each function that ran has a `fn=NAME` line, after an `ob=OBJECT` line naming its file.
  awk -v bin="$BIN" '/^ob=/ { ob = substr($0, 4) } /^fn=/ && ob == bin { print substr($0, 4) }' \
    "$W/$n.out" | sort -u > "$W/$n.fns"
  echo "$(wc -l < "$W/$n.fns") functions: $*" >&2
}
no_tls=(--src-tls-verify=false --dest-tls-verify=false)
run copy -q "${no_tls[@]}" "oci:$ACC/img:small" "docker://$D/order/push:v1"
run copy -q "${no_tls[@]}" "docker://$R/acc/synth:small" "oci:$W/pull:small"
run copy -q "${no_tls[@]}" "docker://$R/acc/synth:small" "docker://$D/order/copy:v1"
run copy -q "${no_tls[@]}" "docker://$R/acc/synth:small" "docker://$D/order/copy:v1"
run inspect --tls-verify=false "docker://$R/acc/synth:small"
run inspect --tls-verify=false --config "docker://$R/acc/synth:small"
run inspect --format '{{.Digest}} {{.Created}} {{json .Labels}}' "oci:$ACC/img:small"
run list-tags --tls-verify=false "docker://$R/acc/many"
run copy -q --dest-compress-format zstd "oci:$ACC/img:small" "oci:$W/zstd:small"
run copy -q "oci:$ACC/img:small" "docker-archive:$W/small.tar:order/small:v1"
run copy -q "${no_tls[@]}" "docker-archive:$W/small.tar" "docker://$D/order/fromtar:v1"
run copy -q "oci:$ACC/img:small" "dir:$W/dir"
run sync --src docker --dest docker "${no_tls[@]}" "$R/acc/many" "$D/order"
run sync --src docker --dest docker "${no_tls[@]}" "$R/acc/many" "$D/order"
if [ "$(id -u)" -eq 0 ]; then
  cs="containers-storage:[overlay@$W/cs/root+$W/cs/run]localhost/order/small:v1"
  run copy -q "oci:$ACC/img:small" "$cs"
  run copy -q "$cs" "oci:$W/fromcs:small"
fi

# Most shared first: functions every job runs (start-up, the command line, the runtime) are
# next to each other, then those of fewer jobs.
cat "$W"/*.fns | sort | uniq -c | sort -k1,1nr -k2 | awk '{print $2}' \
  | grep -v '^0x\|^(' > "$OUT"
echo "$(wc -l < "$OUT") functions in $OUT" >&2
