#!/usr/bin/env bash
# `make run`: first run creates a sandbox merchant in ./data, then serves on the embedded store,
# with the simulated WeChat Pay API (sim provider) beside it for payments out.
set -euo pipefail
bin=${1:-build/paygate}
data=${PAYGATE_DATA:-data}
listen=${PAYGATE_LISTEN:-127.0.0.1:8080}
provider_listen=${PAYGATE_PROVIDER_LISTEN:-127.0.0.1:8090}
if [ ! -f "$data/paygate.toml" ]; then
  "$bin" sim init --dir "$data" --listen "$listen" --provider-listen "$provider_listen"
fi
provider_pid=
if grep -q '^merchant_private_key_file' "$data/paygate.toml"; then
  "$bin" sim provider --dir "$data" >"$data/sim-provider.log" 2>&1 &
  provider_pid=$!
  trap '[ -n "$provider_pid" ] && kill "$provider_pid" 2>/dev/null || true' EXIT
fi
url="http://$listen"
auth="Authorization: Bearer \$(cat $data/keys/api_token)"
cat <<MSG

paygate is starting with $data/paygate.toml (store: $data/paygate.db); the simulated WeChat Pay
API runs beside it (log: $data/sim-provider.log). In another shell:

  # create a payment (Native: a QR code URL) through the simulated WeChat Pay
  curl -s -X POST $url/v1/payments -H "$auth" -H "Idempotency-Key: demo-1" \\
       -d '{"provider":"wechatpay_v3","method":"native","out_trade_no":"ORDER-0001","amount":100,"description":"demo"}'
  # the buyer pays; WeChat Pay (simulated) sends the signed callback; the order is PAID
  $bin sim pay --dir $data --out-trade-no ORDER-0001 --amount 100 --at-provider
  curl -s $url/v1/payments/ORDER-0001 -H "$auth"
  # refund part of it; the refund callback completes it (PARTIALLY_REFUNDED)
  curl -s -X POST $url/v1/refunds -H "$auth" \\
       -d '{"out_trade_no":"ORDER-0001","out_refund_no":"ORDER-0001-R1","amount":30}'
  curl -s $url/v1/refunds/ORDER-0001-R1 -H "$auth"
  # callbacks alone: register an order, have the simulator pay it with a callback
  curl -s -X POST $url/v1/orders -H "$auth" \\
       -d '{"merchant":"sandbox","out_trade_no":"ORDER-2","amount":100,"description":"demo"}'
  $bin sim pay --dir $data --out-trade-no ORDER-2 --amount 100
  curl -s $url/metrics | grep -E 'paygate_orders|paygate_provider_calls'
  # explain a captured callback offline
  $bin verify wechatpay-v3 --help
  # merchant webhooks: start a receiver, uncomment the webhook lines at the end of
  # $data/paygate.toml and restart paygate; every event is then signed and delivered to it
  $bin sim receiver --secret-file $data/keys/webhook_secret --listen 127.0.0.1:8081

Stop with Ctrl-C (drains in-flight requests, closes the store).
MSG
"$bin" serve --config "$data/paygate.toml"
