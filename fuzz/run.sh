#!/bin/sh
# Run every fuzz target for $1 seconds (default 60), one after another, keeping what each
# finds in corpus/<target>/. Stops at the first crash (libFuzzer leaves the input in
# artifacts/<target>/).
set -eu
cd "$(dirname "$0")"
seconds=${1:-60}
for target in $(cargo +nightly fuzz list); do
  mkdir -p "corpus/$target"
  echo "== $target ($seconds s)"
  cargo +nightly fuzz run -O "$target" "corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10
done
