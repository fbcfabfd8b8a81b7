#!/bin/sh
# run.sh TARGET SECONDS [libFuzzer flags...] -- fuzz one target.
#
# Builds the fuzz targets with clang into build-fuzz/ (or $CASKDB_FUZZ_BUILD)
# if needed, then runs TARGET for SECONDS seconds on a working corpus in
# $CASKDB_FUZZ_WORK/TARGET (default build-fuzz/work/TARGET), seeded from
# fuzz/corpus/TARGET.  Crashes land in $CASKDB_FUZZ_WORK/artifacts/.
# Example, for a night:  fuzz/run.sh fuzz_scan 28800 -jobs=2 -workers=2
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 TARGET SECONDS [libFuzzer flags...]" >&2
  exit 2
fi
target=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
build=${CASKDB_FUZZ_BUILD:-$here/../build-fuzz}
work=${CASKDB_FUZZ_WORK:-$build/work}
if [ ! -x "$build/$target" ]; then
  cmake -S "$here" -B "$build" -DCMAKE_C_COMPILER=clang >/dev/null
  cmake --build "$build" --target "$target" -j2 >/dev/null
fi
mkdir -p "$work/$target" "$work/artifacts"
exec "$build/$target" "$work/$target" "$here/corpus/$target" \
  -max_total_time="$seconds" -artifact_prefix="$work/artifacts/$target-" \
  -print_final_stats=1 "$@"
