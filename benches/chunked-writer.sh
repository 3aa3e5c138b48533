#!/usr/bin/env bash
# Benchmark: the zstd:chunked writer alone (no copy engine, no gzip decoding, no digests of
# the blob): compresses one uncompressed layer tar with the chunk-tar example at upstream's
# level and prints wall clock, CPU (user + system) and max RSS. Not run by the tests.
# For the whole copy, see FORMAT=zstd:chunked benches/copy-zstd.sh.
# Usage: benches/chunked-writer.sh [SIZE_MIB] [RUNS]   (CARGO_TARGET_DIR is honoured)
set -euo pipefail
cd "$(dirname "$0")/.."

size_mib=${1:-64}
runs=${2:-3}
target=${CARGO_TARGET_DIR:-target}

if [ ! -x /usr/bin/time ]; then
    echo "chunked-writer.sh: /usr/bin/time is missing (apt-get install time)" >&2
    exit 1
fi

cargo build --release -p skopos-chunked --example chunk-tar
cargo build --release -p skopos-testimage --bin mkimage

work=$(mktemp -d "${TMPDIR:-/tmp}/skopos-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$target/release/mkimage" "$work/img" big 1 "$size_mib" --seed 1 --compression none >/dev/null
# The one layer is the largest blob.
mv "$(ls -S "$work/img/blobs/sha256/"* | head -1)" "$work/layer.tar"

echo "chunk-tar, one ${size_mib} MiB layer, ${runs} runs"
printf '%10s %10s %14s %12s\n' "wall (s)" "CPU (s)" "max RSS (MiB)" "blob (MiB)"
for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" \
        "$target/release/examples/chunk-tar" <"$work/layer.tar" >"$work/layer.zst" 2>/dev/null
    read -r wall user sys rss_kib <"$work/time"
    printf '%10s %10s %14s %12s\n' "$wall" \
        "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" \
        "$((rss_kib / 1024))" "$(($(stat -c %s "$work/layer.zst") / 1048576))"
done
