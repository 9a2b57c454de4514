# Convenience entry points. The build itself is meson+ninja; this file only
# strings the steps together:
#   make run    install deps, build, run clove-demo on 127.0.0.1:5900 (ARGS=...)
#   make check  normal build + all meson tests, then clang ASan+UBSan build + tests
#   make fuzz   clang -Dfuzzing=true build, each fuzz target for FUZZ_SECONDS
#   make bench  all benchmarks: first frame and wire (ours vs Debian's
#               libspice-server) and codecs (BENCH_ARGS=--write-doc: update docs)
#   make clean  remove the build directories made here
# WERROR=1 adds -Dwerror=true to every setup (CI uses it).

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
ARGS ?=
WERROR ?=

MESON_OPTS := $(if $(filter 1 yes true,$(WERROR)),-Dwerror=true,-Dwerror=false)
ASAN_OPTS  := -Db_sanitize=address,undefined -Db_lundef=false
FUZZ_OPTS  := -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false

export ASAN_OPTIONS  ?= detect_leaks=1
export UBSAN_OPTIONS ?= halt_on_error=1:print_stacktrace=1

DEMO = $(BUILD)/apps/clove-demo/clove-demo

.PHONY: all deps build run check check-build check-asan fuzz bench clean

all: build

deps:
	@./scripts/install-deps.sh

# $(call setup,DIR,EXTRA OPTS,ENV): configure DIR once, and reconfigure it
# when it already exists so that WERROR changes take effect.
define setup
	@if [ -f $(1)/build.ninja ]; then \
		meson configure $(1) $(MESON_OPTS) $(2) >/dev/null; \
	else \
		$(3) meson setup $(1) $(MESON_OPTS) $(2); \
	fi
endef

build: deps
	$(call setup,$(BUILD),,)
	ninja -C $(BUILD)

run: build
	@echo
	@echo "clove-demo is starting on 127.0.0.1:5900 (Ctrl-C to stop). Connect with:"
	@echo "    remote-viewer spice://127.0.0.1:5900"
	@echo "    spicy -h 127.0.0.1 -p 5900"
	@echo "    spicy-screenshot -h 127.0.0.1 -p 5900 -o shot.ppm"
	@echo "(if you pass --port/--password in ARGS, adjust the commands accordingly)"
	@echo
	$(DEMO) --addr 127.0.0.1 --port 5900 $(ARGS)

# $(call mtest,DIR): meson test in DIR; on failure, point at the log.
define mtest
	@meson test -C $(1) --print-errorlogs || { \
		echo "make: meson test failed in $(1); full log: $(1)/meson-logs/testlog.txt" >&2; \
		exit 1; }
endef

check-build: build
	$(call mtest,$(BUILD))

check-asan: deps
	$(call setup,$(ASAN_BUILD),$(ASAN_OPTS),CC=clang)
	ninja -C $(ASAN_BUILD)
	$(call mtest,$(ASAN_BUILD))

check: check-build check-asan
	@echo "make check: all suites passed (normal and ASan+UBSan builds)"

fuzz: deps
	$(call setup,$(FUZZ_BUILD),$(FUZZ_OPTS),CC=clang)
	ninja -C $(FUZZ_BUILD)
	@set -e; found=0; \
	for corpus in tests/fuzz/corpus/*/; do \
		name=$$(basename "$$corpus"); \
		bin=$(FUZZ_BUILD)/tests/fuzz/$$name; \
		[ -x "$$bin" ] || { echo "fuzz: no target for corpus $$name, skipped"; continue; }; \
		found=1; work=$$(mktemp -d); \
		echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
		"$$bin" -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=tests/fuzz/crash-$$name- "$$work" "$$corpus" \
			|| { rm -rf "$$work"; echo "fuzz: $$name FAILED (see tests/fuzz/crash-$$name-*)" >&2; exit 1; }; \
		rm -rf "$$work"; \
	done; \
	[ $$found = 1 ] || echo "fuzz: no fuzz targets found"

# Every benchmark, in turn: first frame, wire (bytes/CPU/time per compression
# mode), codecs, then the recorded X traces replayed (bench_traces.py).
# BENCH_ARGS goes to the Python benchmarks (--write-doc updates their blocks
# in docs/benchmarks.md, and then the codec table's block too);
# BENCH_CODEC_ARGS goes to bench_codecs (e.g. --reps 3).
BENCH_ARGS ?=
BENCH_CODEC_ARGS ?=
BENCH_CODEC_TABLE = $(BUILD)/codec-bench-table.md
bench: build
	/usr/bin/python3 tests/bench/bench_first_frame.py \
		--demo $(DEMO) --server-libdir $(BUILD)/src/server $(BENCH_ARGS)
	/usr/bin/python3 tests/bench/bench_wire.py \
		--demo $(DEMO) --server-libdir $(BUILD)/src/server $(BENCH_ARGS)
	$(BUILD)/tests/bench/bench_codecs --images ../shared/reference/images \
		--write-doc $(BENCH_CODEC_TABLE) $(BENCH_CODEC_ARGS)
	$(if $(findstring --write-doc,$(BENCH_ARGS)),/usr/bin/python3 tests/bench/bench_wire.py \
		--splice-doc bench_codecs $(BENCH_CODEC_TABLE))
	/usr/bin/python3 tests/bench/bench_traces.py \
		--replay $(BUILD)/apps/clove-replay/clove-replay \
		--gate $(BUILD)/tests/bench/replay_gate.so \
		--server-libdir $(BUILD)/src/server $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
