# Two entry points (see README.md):
#   make run    install what is missing, build, start ticketbridge with a btsim demo
#   make test   install what is missing, build, run every test (normal + ASan/UBSan build)
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build run test test-fast test-asan bench clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	@scripts/demo.sh

# Normal build first, then the whole suite again under AddressSanitizer + UBSan.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@$(MAKE) --no-print-directory test-asan

test-fast: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DTB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=32 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

bench: build
	@scripts/deps.sh bench
	@bench/intake.sh
	@bench/parser.sh
	@bench/import_drain.sh
	@bench/import.sh
	@bench/approval.sh
	@bench/epm_webhook.sh
	@bench/facade.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
