# The two commands a fresh machine needs: `make run` and `make test`.
# Everything else here is a step of those two, or a developer convenience.

BUILD      ?= build
JOBS       ?= $(shell nproc)
REGISTRY   ?= examples/registry
DATA       ?= var
LISTEN     ?= 127.0.0.1:8080

.PHONY: all deps build run test test-unit test-asan test-fuzz bench bench-langpacks bench-agent \
        bench-cluster bench-compare bench-tls format \
        format-check clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# quiet unless a step fails (scripts/run-prepare); ends with where it runs
run:
	@scripts/run-prepare $(BUILD) $(JOBS) $(LISTEN) $(REGISTRY) $(DATA)
	$(BUILD)/reestr serve --insecure-local --dev --registry $(REGISTRY) --data $(DATA) --listen $(LISTEN)

# The whole suite; ends with "N passed, N failed" and exits non-zero on any
# failure. Stages: scripts/test-all.
test: deps
	@scripts/test-all

bench: deps
	@scripts/bench-all

# only the agent part of `make bench` (producers, PHP through the socket)
bench-agent: build
	@scripts/bench-agent

# issue 9's before/after comparison of the collector (against 4451c83;
# BENCH_COMPARE=1 make bench includes it)
bench-compare: deps
	@scripts/bench-compare

# only the Kafka and ClickHouse part of `make bench` (its own local cluster:
# collector -> Kafka beside ProducerPerformance, loader -> ClickHouse, lag)
bench-cluster: deps
	@scripts/bench-cluster

# only the start/reload part of `make bench` (registries of 1,000 and
# 10,000 versions: first start, restart, one-event edit)
bench-start: build
	@scripts/bench-start

# the collector over https against http (docs/performance.md, "TLS")
bench-tls: deps
	@scripts/bench-tls

# only the langpack part of `make bench` (generation time, send cost)
bench-langpacks: build
	@scripts/bench-langpacks

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-bench
