#!/usr/bin/env bash
# Benchmark: peak memory of reading a big docker-archive. Builds a LAYERS x SIZE_MIB MiB
# (default 8 x 256 = 2 GiB) uncompressed `docker save` tar with skopos's own writer, then
# copies it to oci: (which gzips every layer) with skopos under /usr/bin/time -v, and
# prints wall time and peak RSS (the goal is < 100 MiB whatever the archive size).
# Not run by the tests. Usage: benches/docker-archive-rss.sh [LAYERS] [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."

layers=${1:-8}
size_mib=${2:-256}

if [ ! -x /usr/bin/time ]; then
    echo "docker-archive-rss.sh: /usr/bin/time is missing (apt-get install time)" >&2
    exit 1
fi

cargo build --release --bin skopos
cargo build --release -p skopos-testimage --bin mkimage

work=$(mktemp -d "${TMPDIR:-/var/tmp}/skopos-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home"
# A private HOME so that nothing touches the machine's caches or configuration.
export HOME="$work/home" XDG_DATA_HOME="$work/home/data"

echo "generating ${layers} x ${size_mib} MiB layers in $work/src ..."
./target/release/mkimage "$work/src" big "$layers" "$size_mib" --seed 1 >/dev/null
echo "writing $work/big.tar ..."
./target/release/skopos --insecure-policy --tmpdir "$work" copy -q \
    "oci:$work/src:big" "docker-archive:$work/big.tar:bench/big:v1"
rm -rf "$work/src"
archive_mib=$(( $(stat -c %s "$work/big.tar") / 1024 / 1024 ))

echo "copying the ${archive_mib} MiB archive to oci: ..."
/usr/bin/time -v -o "$work/time" ./target/release/skopos --insecure-policy --tmpdir "$work" \
    copy -q "docker-archive:$work/big.tar" "oci:$work/out:big"
if [ ! -s "$work/out/index.json" ]; then
    echo "docker-archive-rss.sh: skopos wrote no $work/out/index.json" >&2
    exit 1
fi
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time")
rss_kib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time")
printf 'docker-archive (%d MiB) -> oci: wall %s, peak RSS %d MiB\n' \
    "$archive_mib" "$wall" $((rss_kib / 1024))
