#!/usr/bin/env bash
# Benchmark: `sync` of a repository of 20 small tags between two loopback registries, into an
# empty destination ("sync") and again onto the finished mirror ("no-op re-sync", which should
# cost one tags/list and one manifest HEAD per tag), by BIN and by a reference skopeo,
# alternated in one run. Prints each side's median wall time, CPU time (user + system) and
# peak RSS (/usr/bin/time), and BIN's ratio to the reference (issue 13's goals: sync wall
# <= 0.25x skopeo 1.9.3's, no-op re-sync wall <= 0.1x). Also the CPU time the two registries
# spent serving each side (their /proc/PID/stat), median per run: on a machine of few cores
# the registries' work, not the client's, sets how fast a sync can be: the last column, "floor",
# is the wall time no client could beat on this machine, the CPU time of BIN and of the
# registries serving it spread over every core, and "goal" issue 13's target for it.
# The registries and the 20 tags (acc/many:t1..t20 on 127.0.0.1:5000) are those world.sh of
# the shared bench directory brings up. With DELAY_MS set, both registries are reached through
# delay-proxy.py (each byte delayed DELAY_MS each way, as across a network of that latency):
# there a no-op re-sync is a row of round trips, and the floor column (CPU only) does not apply.
# Not run by the tests.
#   usage: [REF=skopeo] [RUNS=5] [DELAY_MS=10] [WORLD=path/to/world.sh] benches/sync.sh BIN
set -euo pipefail
BIN=${1:?usage: benches/sync.sh BIN}
REF=${REF:-skopeo}
RUNS=${RUNS:-5}
ACC=${ACC:-/tmp/acc}
WORLD=${WORLD:-$(cd "$(dirname "$0")" && pwd)/../../shared/bench/world.sh}
R=127.0.0.1:5000
D=127.0.0.1:5001

if [ ! -x /usr/bin/time ]; then
    echo "sync.sh: /usr/bin/time is missing (apt-get install time)" >&2
    exit 1
fi
"$WORLD" >/dev/null
work=$(mktemp -d /tmp/sync-bench.XXXXXX)
proxies=()
trap 'rm -rf "$work"; [ ${#proxies[@]} -eq 0 ] || kill "${proxies[@]}" 2>/dev/null' EXIT
if [ -n "${DELAY_MS:-}" ]; then
    free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
    delayed=()
    for upstream in "$R" "$D"; do
        port=$(free_port)
        python3 "$(dirname "$0")/delay-proxy.py" "$port" "$upstream" "$DELAY_MS" &
        proxies+=($!)
        delayed+=("127.0.0.1:$port")
    done
    R=${delayed[0]} D=${delayed[1]}
    for address in "$R" "$D"; do
        until curl -s -o /dev/null "http://$address/v2/"; do sleep 0.1; done
    done
fi

sync_line() { # binary -> the sync command line
    echo "$1 --insecure-policy sync --src docker --dest docker --src-tls-verify=false --dest-tls-verify=false $R/acc/many $D/bench"
}
empty_destination() { rm -rf "$ACC/dest/data/docker"; }
measure() { # binary -> "wall cpu rss registries-cpu" of one sync
    local out before after
    before=$(registries_cpu)
    out=$(/usr/bin/time -f '%e %U %S %M' bash -c "$(sync_line "$1") >/dev/null 2>>$work/err" 2>&1 | tail -1)
    after=$(registries_cpu)
    read -r wall user sys rss <<< "$out"
    echo "$wall $(echo "$user + $sys" | bc) $rss $(echo "$after - $before" | bc)"
}
# CPU seconds (user + system) the registries on ports 5000 and 5001 have used so far.
registries_cpu() {
    local total=0 port pid ticks
    for port in 5000 5001; do
        pid=$(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
        [ -n "$pid" ] || { echo "sync.sh: no registry on port $port" >&2; exit 1; }
        ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
        total=$((total + ticks))
    done
    echo "scale=2; $total / $(getconf CLK_TCK)" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
column() { cut -d' ' -f"$2" "$1" | median; }

cores=$(nproc)
printf '%-15s %9s %9s %6s %7s | %8s %8s %6s %7s | %9s %9s %9s | %7s %6s\n' case "wall s" "cpu s" MiB \
    "reg cpu" "ref wall" "ref cpu" MiB "reg cpu" "wall x" "cpu x" "rss x" "floor s" goal
for case in sync no-op-re-sync; do
    : > "$work/bin"; : > "$work/ref"
    for _ in $(seq "$RUNS"); do
        for side in bin ref; do
            binary=$BIN; [ "$side" = ref ] && binary=$REF
            empty_destination
            if [ "$case" = no-op-re-sync ]; then
                # The mirror is made by the binary measured, then synced again.
                bash -c "$(sync_line "$binary") >/dev/null 2>>$work/err"
            fi
            measure "$binary" >> "$work/$side"
        done
    done
    bw=$(column "$work/bin" 1); bc_=$(column "$work/bin" 2); bm=$(column "$work/bin" 3)
    rw=$(column "$work/ref" 1); rc=$(column "$work/ref" 2); rm_=$(column "$work/ref" 3)
    bg=$(column "$work/bin" 4); rg=$(column "$work/ref" 4)
    goal=0.25; [ "$case" = no-op-re-sync ] && goal=0.1
    awk -v c="$case" -v bw="$bw" -v bc="$bc_" -v bm="$bm" -v rw="$rw" -v rc="$rc" -v rm="$rm_" \
        -v bg="$bg" -v rg="$rg" -v cores="$cores" -v goal="$goal" 'BEGIN {
        printf "%-15s %9.2f %9.2f %6d %7.2f | %8.2f %8.2f %6d %7.2f | %9.2f %9.2f %9.2f | %7.3f %6.3f\n",
            c, bw, bc, bm / 1024, bg, rw, rc, rm / 1024, rg, bw / rw, (rc > 0 ? bc / rc : 0), bm / rm,
            (bc + bg) / cores, goal * rw }'
done
empty_destination
errors=$(grep -iE 'level=(error|fatal)|^Error' "$work/err" | tail -3 || true)
[ -z "$errors" ] || { echo "errors (last 3):"; echo "$errors"; }
