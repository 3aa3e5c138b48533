#!/usr/bin/env bash
# Benchmark: copy an 8 x 64 MiB gzip-layer OCI image into a fresh overlay containers-storage
# store and back out to oci: with skopos (and skopeo, if installed), timing each round trip
# with /usr/bin/time: wall clock, CPU (user + system) and max RSS. Runs as root, as the
# store's tests do. Not run by the tests. Usage: [SKOPEO=skopeo-1.22.2] \
#   benches/storage.sh [LAYERS] [SIZE_MIB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."

layers=${1:-8}
size_mib=${2:-64}
runs=${3:-3}
skopeo=${SKOPEO:-skopeo}

if [ ! -x /usr/bin/time ]; then
    echo "storage.sh: /usr/bin/time is missing (apt-get install time)" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "storage.sh: run it as root (an ordinary user's store is another code path)" >&2
    exit 1
fi

cargo build --release --bin skopos
cargo build --release -p skopos-testimage --bin mkimage

work=$(mktemp -d "${TMPDIR:-/var/tmp}/skopos-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "generating ${layers} x ${size_mib} MiB layers in $work/src ..."
./target/release/mkimage "$work/src" big "$layers" "$size_mib" --seed 1 >/dev/null

# Each run has a private HOME and a private mount namespace with an empty /var/lib, so that no
# tool touches the machine's caches, and the overlay mount c/storage leaves behind goes away
# with the namespace.
run() {
    local name=$1 binary=$2
    local store="$work/cs-$name" out="$work/out-$name"
    rm -rf "$store" "$out" "$work/home-$name" "$work/var-lib"
    mkdir -p "$work/home-$name" "$work/var-lib"
    local cs="containers-storage:[overlay@$store/root+$store/run]localhost/bench/big:v1"
    HOME="$work/home-$name" XDG_DATA_HOME="$work/home-$name/data" \
        /usr/bin/time -f "%e %U %S %M" -o "$work/time-$name" \
        unshare --mount sh -c 'mount --bind "$0" /var/lib &&
            "$1" --insecure-policy copy -q "$2" "$3" &&
            exec "$1" --insecure-policy copy -q "$3" "$4"' \
        "$work/var-lib" "$binary" "oci:$work/src:big" "$cs" "oci:$out:big"
    if [ ! -s "$out/index.json" ]; then
        echo "storage.sh: $name wrote no $out/index.json" >&2
        exit 1
    fi
    read -r wall user sys rss_kib <"$work/time-$name"
    printf '%-8s %10s %10s %12s\n' "$name" "$wall" \
        "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" \
        "$((rss_kib / 1024))" >>"$work/rows"
}

: >"$work/rows"
have_skopeo=$(command -v "$skopeo" || true)
[ -n "$have_skopeo" ] || echo "(skopeo is not installed: only skopos is timed)" >&2
for _ in $(seq "$runs"); do
    run skopos ./target/release/skopos
    [ -z "$have_skopeo" ] || run skopeo "$have_skopeo"
done

echo
echo "oci: -> containers-storage:[overlay@…] -> oci:, ${layers} x ${size_mib} MiB layers, ${runs} runs"
printf '%-8s %10s %10s %12s\n' tool "wall (s)" "CPU (s)" "max RSS (MiB)"
cat "$work/rows"
