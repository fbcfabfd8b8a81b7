# A thin wrapper around CMake.  The real build is CMakeLists.txt.
#   make run    install what is missing, build, run examples/quickstart.lua
#   make test   install what is missing, build, run every C test and spec
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build deps run test clean format bench bench-cache

all: build

deps:
	@sh scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	cd $(BUILD) && lua5.4 -e 'package.cpath="$(CURDIR)/$(BUILD)/lua/?.so;"..package.cpath; package.path="$(CURDIR)/lua/?.lua;"..package.path' $(CURDIR)/examples/quickstart.lua

test: deps
	@sh scripts/test.sh

clean:
	rm -rf $(BUILD) build-asan build-5.1 build-5.2 build-5.3 build-luajit build-fuzz $(BENCH_BUILD) $(BENCH_BUILD)-luajit

# make bench: CaskDB against LMDB, LevelDB, RocksDB and SQLite in one run,
# and the Lua binding against a plain table and luasql (docs/BENCHMARKS.md).
BENCH_BUILD ?= build-bench
BENCH_N ?= 1000000

bench: deps
	@sh scripts/deps.sh bench
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCASKDB_BUILD_BENCH=ON -DCASKDB_BUILD_TESTS=OFF >/dev/null
	cmake --build $(BENCH_BUILD) -j $(JOBS) --target bench_kv bench_cache caskdb_lua startup
	$(BENCH_BUILD)/bench/bench_kv -n $(BENCH_N) -v 100 -D 2000
	$(BENCH_BUILD)/bench/bench_kv -n $$(($(BENCH_N) / 10)) -v 4096 -D 1000 -H
	$(BENCH_BUILD)/bench/startup $${TMPDIR:-/tmp}/caskdb-startup-$$$$ $(BENCH_N) 1024
	CASKDB_LUA_DIR=$(CURDIR)/$(BENCH_BUILD)/lua lua5.4 bench/lua/bench.lua $(BENCH_N)
	cmake -S . -B $(BENCH_BUILD)-luajit -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLUA_VERSION=luajit -DCASKDB_BUILD_TESTS=OFF >/dev/null
	cmake --build $(BENCH_BUILD)-luajit -j $(JOBS) --target caskdb_lua
	CASKDB_LUA_DIR=$(CURDIR)/$(BENCH_BUILD)-luajit/lua luajit bench/lua/bench.lua $(BENCH_N)
	$(BENCH_BUILD)/bench/bench_cache

# make bench-cache: the value cache alone (LRU vs SIEVE, under a minute).
bench-cache:
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCASKDB_BUILD_BENCH=ON -DCASKDB_BUILD_TESTS=OFF >/dev/null
	cmake --build $(BENCH_BUILD) -j $(JOBS) --target bench_cache
	$(BENCH_BUILD)/bench/bench_cache

format:
	clang-format -i core/include/*.h core/src/*.[ch] core/test/*.[ch] lua/*.[ch] bench/*.[ch] bench/kv/*.[ch] bench/cache/*.[ch] fuzz/*.[ch]
