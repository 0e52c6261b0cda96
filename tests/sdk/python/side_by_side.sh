#!/usr/bin/env bash
# The "side by side" benchmark in one run (docs/benchmarks-side-by-side.md):
#   1. starts `herald emulator` (default org, default rate limit 300 requests/min per token),
#   2. opens N web messaging conversations with `herald guests` and connects an agent to each (control API),
#   3. the official-SDK script puts one message into each conversation (get conversation, find the agent's
#      communication, post; naive retry on 429),
#   4. `herald serve` (webmessaging integration on the same emulator, its own OAuth client) does the same job from
#      N POST /v1/notifications, measured until every one is delivered,
#   5. prints both as a table.
#
# Usage: tests/sdk/python/side_by_side.sh [N]   (default 200; needs target/release/herald and setup.sh's venv)
# Env: HERALD_BIN (default target/release/herald), SDK_PYTHON (default target/sdk-venv/bin/python).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
n="${1:-200}"
herald="${HERALD_BIN:-$target/release/herald}"
python="${SDK_PYTHON:-$target/sdk-venv/bin/python}"
deployment="c5d6e7f8-1a2b-4c3d-8e9f-0a1b2c3d4e50"
queue="4d0e5f3a-2b1c-4e8d-9f7a-6c5b4a3e2d10"
key="side-by-side-key-0123456789"

[ -x "$herald" ] || { echo "missing $herald: cargo build --release --locked" >&2; exit 2; }
[ -x "$python" ] || { echo "missing $python: tests/sdk/python/setup.sh" >&2; exit 2; }

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Polls a URL until it answers 2xx (and, with a second argument, its body contains that text), 30 s at most.
wait_for() {
    local url="$1" want="${2:-}" deadline=$((SECONDS + 30))
    while [ $SECONDS -lt $deadline ]; do
        if body="$(curl -fsS "$url" 2>/dev/null)" && { [ -z "$want" ] || [[ "$body" == *"$want"* ]]; }; then
            return 0
        fi
        sleep 0.1
    done
    echo "no answer from $url" >&2
    return 1
}

emu_port="$(free_port)"
emu="http://127.0.0.1:$emu_port"
HERALD_LOG=warn "$herald" emulator --listen "127.0.0.1:$emu_port" >"$work/emulator.log" 2>&1 &
pids+=($!)
wait_for "$emu/emulator/v1/clock"

echo "== $n web messaging guests open their conversations (herald guests)"
"$herald" guests --base-url "$emu" --deployment "$deployment" --count "$n" --rate 0 --duration 3s | tail -n 6
"$python" "$here/side_by_side.py" setup "$emu"

echo "== official SDK script"
"$python" "$here/side_by_side.py" sdk "$emu" | tee "$work/sdk.json"

echo "== herald serve"
herald_port="$(free_port)"
cat >"$work/herald.toml" <<EOF
[service]
listen = "127.0.0.1:$herald_port"
api_keys = ["$key"]

[store]
path = "$work/herald.sled"

[[integration]]
name = "web"
kind = "webmessaging"
closed_policy = "fail"
[integration.settings]
base_url = "$emu"
client_id = "herald-demo"
client_secret = "herald-demo-secret"
deployment_id = "$deployment"
queue_ids = ["$queue"]
EOF
HERALD_LOG=warn "$herald" serve --config "$work/herald.toml" >"$work/herald.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$herald_port/healthz" '"healthy"'
"$python" "$here/side_by_side.py" herald "$emu" "http://127.0.0.1:$herald_port" "$key" | tee "$work/herald.json"

echo
echo "N = $n, emulator rate limit 300 requests/min per token (default), $(nproc) CPUs"
echo
"$python" "$here/side_by_side.py" table "$work/sdk.json" "$work/herald.json"
