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

# Callback load against a running gateway: durable store vs verify-only in one invocation,
# for WeChat Pay APIv3 (120,000 orders registered, 60,000 paid by callbacks) and for Alipay;
# APIv3 durable at a fixed open-loop rate; then the store alone (buffered vs SQLite's own WAL
# writes).
BENCH_ARGS ?= --callbacks 60000 --rounds 3
OPEN_LOOP_ARGS ?= --callbacks 60000 --rounds 2 --rate 6000
# Delivery beside the load changes the callback figures less than the machine drifts between
# rounds, so that comparison takes more rounds and reports the median of same-round pairs.
WEBHOOK_BENCH_ARGS ?= --callbacks 60000 --rounds 4
bench: build
	$(BUILD_DIR)/bench/paygate_bench --binary $(BUILD_DIR)/paygate $(BENCH_ARGS) --orders 120000 \
	  --provider wechatpay-v3 --json $(BUILD_DIR)/bench-wechatpay-v3.json
	$(BUILD_DIR)/bench/paygate_bench --binary $(BUILD_DIR)/paygate $(OPEN_LOOP_ARGS) \
	  --only durable --provider wechatpay-v3
	$(BUILD_DIR)/bench/paygate_bench --binary $(BUILD_DIR)/paygate $(BENCH_ARGS) \
	  --provider alipay --json $(BUILD_DIR)/bench-alipay.json
	$(BUILD_DIR)/bench/paygate_bench --binary $(BUILD_DIR)/paygate $(WEBHOOK_BENCH_ARGS) \
	  --provider wechatpay-v3 --webhooks --json $(BUILD_DIR)/bench-webhooks.json
	$(BUILD_DIR)/bench/paygate_store_bench --callbacks 40000 --rounds 2

clean:
	rm -rf $(BUILD_DIR)
