# A thin wrapper around CMake.  The real build is CMakeLists.txt.
#   make run    install what is missing, build, run examples/quickstart.lua
#   make test   install what is missing, build, run every C test and spec
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build deps run test test-asan clean format

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
	rm -rf $(BUILD) build-asan

format:
	clang-format -i core/include/*.h core/src/*.[ch] core/test/*.[ch] lua/*.[ch]
