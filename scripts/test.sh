#!/bin/sh
# Build and run every C test (ctest) and every spec (busted), once in a
# normal -Werror build and once under AddressSanitizer + UndefinedBehavior-
# Sanitizer, then print the totals as the last line: "N passed, M failed".
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
JOBS=$(nproc 2>/dev/null || echo 2)
PASSED=0
FAILED=0
LOG=$(mktemp -d)

add() { PASSED=$((PASSED + $1)); FAILED=$((FAILED + $2)); }

# build DIR [cmake args...]: configure and build; a failed build counts as a
# failed test so that it can never look green.
build() {
  dir=$1; shift
  echo "== build $dir $*"
  if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCASKDB_WERROR=ON -DCASKDB_FUZZ_REPLAY=ON "$@" >"$LOG/cmake.out" 2>&1 ||
     ! cmake --build "$dir" -j "$JOBS" >>"$LOG/cmake.out" 2>&1; then
    cat "$LOG/cmake.out"
    echo "== build $dir FAILED"
    add 0 1
    return 1
  fi
}

# ctests DIR: run the C tests, count passed and failed.
ctests() {
  (cd "$1" && ctest --output-on-failure -j "$JOBS") >"$LOG/ctest.out" 2>&1
  cat "$LOG/ctest.out"
  total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$LOG/ctest.out" | tail -n 1)
  bad=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$LOG/ctest.out" | tail -n 1)
  total=${total:-0}; bad=${bad:-0}
  [ "$total" -eq 0 ] && bad=1
  add $((total - bad)) "$bad"
}

# specs DIR [env...]: run every busted spec against the module in DIR/lua.
specs() {
  dir=$1; shift
  [ -d spec ] || return 0
  env "$@" CASKDB_BUILD="$ROOT/$dir" lua5.4 /usr/bin/busted -o TAP \
    --cpath="$ROOT/$dir/lua/?.so" >"$LOG/busted.out" 2>&1
  cat "$LOG/busted.out"
  ok=$(grep -c '^ok ' "$LOG/busted.out")
  notok=$(grep -c '^not ok ' "$LOG/busted.out")
  [ $((ok + notok)) -eq 0 ] && notok=1
  add "$ok" "$notok"
}

if build build; then
  ctests build
  specs build
fi

# valgrind TEST CMD...: one memcheck run, counted as one test.
valgrind_run() {
  name=$1; shift
  if valgrind -q --error-exitcode=99 --leak-check=full \
       --errors-for-leak-kinds=definite,indirect "$@" >"$LOG/vg.out" 2>&1; then
    echo "valgrind $name: ok"
    add 1 0
  else
    cat "$LOG/vg.out"
    echo "valgrind $name: FAILED"
    add 0 1
  fi
}

# Memcheck over the C tests that run quickly under it (smaller settings),
# and over one spec file through the Lua module.
valgrind_stage() {
  command -v valgrind >/dev/null 2>&1 || { echo "valgrind missing"; add 0 1; return; }
  for t in test_crc32c test_iter test_batch test_lock test_recovery; do
    valgrind_run "$t" "build/$t"
  done
  valgrind_run test_db env CASKDB_TEST_SMALL=1 build/test_db
  valgrind_run test_keydir env CDB_TEST_SCALE=0.1 build/test_keydir
  valgrind_run "spec/02-crud_spec.lua" lua5.4 /usr/bin/busted \
    --cpath="$ROOT/build/lua/?.so" spec/02-crud_spec.lua
}

if [ -x build/test_db ]; then
  valgrind_stage
fi

# fuzz_stage SECONDS: build the libFuzzer targets with clang and run each for
# SECONDS on a scratch copy of its seed corpus; each run counts as a test.
fuzz_stage() {
  if ! command -v clang >/dev/null 2>&1; then
    echo "clang missing: the fuzz stage cannot run"
    add 0 1
    return
  fi
  for t in fuzz_record fuzz_header fuzz_scan fuzz_get fuzz_hint fuzz_msgpack; do
    if CASKDB_FUZZ_BUILD="$ROOT/build-fuzz" CASKDB_FUZZ_WORK="$LOG/fuzz" \
         sh fuzz/run.sh "$t" "$1" >"$LOG/fuzz.out" 2>&1; then
      echo "fuzz $t ($1 s): ok, $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$LOG/fuzz.out" | grep -o '[0-9]*$') runs"
      add 1 0
    else
      tail -n 40 "$LOG/fuzz.out"
      echo "fuzz $t: FAILED"
      add 0 1
    fi
  done
}

fuzz_stage "${CASKDB_FUZZ_SECONDS:-15}"

if build build-asan -DCASKDB_SANITIZE=address,undefined; then
  ctests build-asan
  specs build-asan LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1
fi

rm -rf "$LOG"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
