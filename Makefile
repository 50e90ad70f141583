# paygate: `make run` starts the gateway on the embedded store, `make test` runs every test.
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: deps configure build test run bench clean

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 --timeout 900

run: build
	@bash scripts/run.sh $(BUILD_DIR)/paygate

# Callback load against a running gateway: durable store vs verify-only in one invocation.
BENCH_ARGS ?= --callbacks 60000 --rounds 2 --json $(BUILD_DIR)/bench-callbacks.json
bench: build
	$(BUILD_DIR)/bench/paygate_bench --binary $(BUILD_DIR)/paygate $(BENCH_ARGS)

clean:
	rm -rf $(BUILD_DIR)
