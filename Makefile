# Two entry points (see README.md):
#   make run    install what is missing, build, start ticketbridge with a btsim demo
#   make test   install what is missing, build, run every test (normal + ASan/UBSan build)
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# End-to-end tests wait on sockets and polls more than they compute: one more
# test than cores keeps both busy.
TEST_JOBS  ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 2) + 1 )))
ASAN_ENV   = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=32 \
             UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all deps build asan-build run test test-fast test-asan test-asan-full bench clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	@scripts/demo.sh

# Normal build first, then the suite again under AddressSanitizer + UBSan.
# The ASan pass leaves out the second-store reruns of the flow suites (label
# servicenow: the same suites against a ServiceNow instance, run in the
# normal pass); the remote-store code itself runs under ASan in
# test_servicenow_backend and test_remote_store_faults. test-asan-full runs
# everything.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(TEST_JOBS)
	@$(MAKE) --no-print-directory test-asan

test-fast: build
	@cd $(BUILD) && ctest --output-on-failure -j$(TEST_JOBS)

asan-build: deps
	@cmake -S . -B $(ASAN_BUILD) -DTB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

test-asan: asan-build
	@cd $(ASAN_BUILD) && $(ASAN_ENV) ctest --output-on-failure -j$(TEST_JOBS) -LE servicenow

test-asan-full: asan-build
	@cd $(ASAN_BUILD) && $(ASAN_ENV) ctest --output-on-failure -j$(TEST_JOBS)

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
