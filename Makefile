# The two commands a new user needs (README.md): `make demo` and `make test`.
# Both install dependencies first (scripts/install-deps.sh, idempotent; uses sudo when not root).
PRESET ?= release
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test demo asan fuzz bench clean

all: build

deps:
	bash scripts/install-deps.sh

configure: deps
	cmake --preset $(PRESET)

build: configure
	cmake --build --preset $(PRESET) -j $(JOBS)

test: build
	ctest --preset $(PRESET) -j 2 --timeout 600

demo: build
	bash scripts/demo.sh build/$(PRESET)

# The soft-RoCE lab tests run in `make test` (release): under ASan the guests add minutes and test the same scripts.
asan: deps
	cmake --preset asan-ubsan && cmake --build --preset asan-ubsan -j $(JOBS) && ctest --preset asan-ubsan -j 2 --timeout 900 -LE softroce

fuzz: deps
	cmake --preset fuzz && cmake --build --preset fuzz -j $(JOBS) --target rfab_fuzzers && ctest --preset fuzz -L fuzz

bench: build
	build/$(PRESET)/bench/bench_wire

clean:
	rm -rf build
