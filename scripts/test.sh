#!/bin/sh
# Build and run every C test (ctest) and every spec (busted), once in a
# normal -Werror build and once under AddressSanitizer + UndefinedBehavior-
# Sanitizer, then the specs again under Lua 5.1, 5.2, 5.3 and LuaJIT (one
# build-<ver> each, the module only), then print the totals as the last
# line: "N passed, M failed".
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
  # Every setting that matters is given, so that a cache left by another
  # configure of the same directory cannot change what is tested.
  if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCASKDB_WERROR=ON \
       -DCASKDB_FUZZ_REPLAY=ON -DCASKDB_BUILD_TESTS=ON -DCASKDB_BUILD_LUA=ON \
       -DLUA_VERSION=5.4 -DCASKDB_SANITIZE= "$@" >"$LOG/cmake.out" 2>&1 ||
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

# The spec files for interpreter $1: all of them, except under a Lua
# without integers (5.1, 5.2, LuaJIT) the specs of the pure-Lua tools in
# lua/caskdb/ (format reader, CLI, JSON, MessagePack), which are written for
# Lua 5.3+ (string.pack, integer operators).  Listed as skipped.
spec_files() {
  case $1 in
    lua5.3|lua5.4) ls spec/*_spec.lua ;;
    *)
      for f in spec/*_spec.lua; do
        if grep -Eq 'require[ (]*"(caskdb\.(format|json|cli|msgpack)|spec\.support\.(format_util|cli_run))"' "$f"; then
          echo "== $1: skipped $f (tests the pure-Lua 5.3+ tools)" >&2
        else
          echo "$f"
        fi
      done ;;
  esac
}

# specs DIR LUA [env...]: run the busted specs under interpreter LUA
# against the module in DIR/lua.
specs() {
  dir=$1; lua=$2; shift 2
  [ -d spec ] || return 0
  if ! command -v "$lua" >/dev/null 2>&1; then
    echo "== $lua missing: run scripts/deps.sh"
    add 0 1
    return
  fi
  start=$(date +%s)
  # shellcheck disable=SC2046
  env "$@" CASKDB_BUILD="$ROOT/$dir" "$lua" /usr/bin/busted -o TAP \
    --cpath="$ROOT/$dir/lua/?.so" $(spec_files "$lua") >"$LOG/busted.out" 2>&1
  cat "$LOG/busted.out"
  # A pending spec ("ok N - # SKIP ...") is neither passed nor failed.
  ok=$(grep '^ok ' "$LOG/busted.out" | grep -vc '# SKIP')
  skipped=$(grep '^ok ' "$LOG/busted.out" | grep -c '# SKIP')
  notok=$(grep -c '^not ok ' "$LOG/busted.out")
  [ $((ok + notok)) -eq 0 ] && notok=1
  add "$ok" "$notok"
  echo "== specs $dir under $lua: $ok passed, $notok failed, $skipped skipped in $(($(date +%s) - start)) s"
}

if build build; then
  ctests build
  specs build lua5.4
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
  for t in fuzz_record fuzz_header fuzz_scan fuzz_get fuzz_hint fuzz_dir fuzz_msgpack; do
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

# format_check: the C sources follow .clang-format (one test).
format_check() {
  if ! command -v clang-format >/dev/null 2>&1; then
    echo "clang-format missing: the format check cannot run"
    add 0 1
    return
  fi
  if clang-format --dry-run --Werror core/src/*.[ch] core/include/*.h \
       core/test/*.[ch] lua/*.[ch] bench/*.[ch] bench/kv/*.[ch] bench/cache/*.[ch] fuzz/*.[ch] \
       >"$LOG/format.out" 2>&1; then
    echo "clang-format: ok"
    add 1 0
  else
    head -n 40 "$LOG/format.out"
    echo "clang-format: FAILED (run make format)"
    add 0 1
  fi
}

format_check

if build build-asan -DCASKDB_SANITIZE=address,undefined; then
  ctests build-asan
  specs build-asan lua5.4 LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1
fi

# The other interpreters: the same sources built against their headers
# (lua/compat.h), the module only, and the whole spec suite under each.
for v in 5.1 5.2 5.3 luajit; do
  case $v in luajit) lua=luajit ;; *) lua=lua$v ;; esac
  if build "build-$v" -DLUA_VERSION="$v" -DCASKDB_BUILD_TESTS=OFF \
       -DCASKDB_FUZZ_REPLAY=OFF; then
    specs "build-$v" "$lua"
  fi
done

rm -rf "$LOG"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
