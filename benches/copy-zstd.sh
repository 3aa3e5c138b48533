#!/usr/bin/env bash
# Benchmark: recompress an 8 x 64 MiB gzip-layer OCI image to zstd with skopos (and skopeo, if
# installed), timing each with /usr/bin/time: wall clock, CPU (user + system) and max RSS.
# Not run by the tests. Usage: [FORMAT=zstd:chunked] [SKOPEO=skopeo-1.22.2] [SKOPOS=binary] \
#   benches/copy-zstd.sh [LAYERS] [SIZE_MIB]
# SKOPOS names a skopos binary already built (a profiling build, say) instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."

layers=${1:-8}
size_mib=${2:-64}
format=${FORMAT:-zstd}
skopeo=${SKOPEO:-skopeo}
skopos=${SKOPOS:-./target/release/skopos}

if [ ! -x /usr/bin/time ]; then
    echo "copy-zstd.sh: /usr/bin/time is missing (apt-get install time)" >&2
    exit 1
fi

[ -n "${SKOPOS:-}" ] || cargo build --release --bin skopos
cargo build --release -p skopos-testimage --bin mkimage

work=$(mktemp -d "${TMPDIR:-/tmp}/skopos-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "generating ${layers} x ${size_mib} MiB layers in $work/src ..."
./target/release/mkimage "$work/src" big "$layers" "$size_mib" --seed 1 >/dev/null

# Each run gets a private HOME so no tool touches the machine's caches or configuration.
run() {
    local name=$1
    shift
    local dest="$work/dst-$name"
    rm -rf "$dest" "$work/home-$name"
    mkdir -p "$work/home-$name"
    HOME="$work/home-$name" XDG_DATA_HOME="$work/home-$name/data" \
        /usr/bin/time -f "%e %U %S %M" -o "$work/time-$name" \
        "$@" --insecure-policy copy -q --dest-compress-format "$format" \
        "oci:$work/src:big" "oci:$dest:big"
    if [ ! -s "$dest/index.json" ]; then
        echo "copy-zstd.sh: $name wrote no $dest/index.json" >&2
        exit 1
    fi
    read -r wall user sys rss_kib <"$work/time-$name"
    printf '%-8s %10s %10s %12s\n' "$name" "$wall" \
        "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" \
        "$((rss_kib / 1024))" >>"$work/rows"
}

: >"$work/rows"
run skopos "$skopos"
if command -v "$skopeo" >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && unshare --user --map-user=1000 --map-group=1000 true 2>/dev/null; then
        # As root skopeo would write its blob-info cache under /var/lib/containers; as a mapped
        # ordinary user it uses the private XDG_DATA_HOME instead.
        run skopeo unshare --user --map-user=1000 --map-group=1000 "$skopeo"
    else
        run skopeo "$skopeo"
    fi
else
    echo "(skopeo is not installed: only skopos is timed)" >&2
fi

echo
echo "copy -q --dest-compress-format $format, ${layers} x ${size_mib} MiB layers"
printf '%-8s %10s %10s %12s\n' tool "wall (s)" "CPU (s)" "max RSS (MiB)"
cat "$work/rows"
