#!/usr/bin/env bash
# `make run`: first run creates a sandbox merchant in ./data, then serves on the embedded store.
set -euo pipefail
bin=${1:-build/paygate}
data=${PAYGATE_DATA:-data}
listen=${PAYGATE_LISTEN:-127.0.0.1:8080}
if [ ! -f "$data/paygate.toml" ]; then
  "$bin" sim init --dir "$data" --listen "$listen"
fi
url="http://$listen"
cat <<MSG

paygate is starting with $data/paygate.toml (store: $data/paygate.db). In another shell:

  # register an order (the bearer token is in $data/keys/api_token)
  curl -s -X POST $url/v1/orders -H "Authorization: Bearer \$(cat $data/keys/api_token)" \\
       -d '{"merchant":"sandbox","out_trade_no":"ORDER-1","amount":100,"description":"demo"}'
  # pay it: the simulator sends a signed, encrypted TRANSACTION.SUCCESS callback
  $bin sim pay --dir $data --out-trade-no ORDER-1 --amount 100
  # see it PAID, and in the metrics
  curl -s $url/v1/orders/sandbox/ORDER-1 -H "Authorization: Bearer \$(cat $data/keys/api_token)"
  curl -s $url/metrics | grep paygate_orders
  # explain a captured callback offline
  $bin verify wechatpay-v3 --help
  # merchant webhooks: start a receiver, uncomment the webhook lines at the end of
  # $data/paygate.toml and restart paygate; every event is then signed and delivered to it
  $bin sim receiver --secret-file $data/keys/webhook_secret --listen 127.0.0.1:8081

Stop with Ctrl-C (drains in-flight requests, closes the store).
MSG
exec "$bin" serve --config "$data/paygate.toml"
