#!/usr/bin/env bash
# Dashboard end to end: a real kanade-backend with auth on (bootstrap admin,
# broker token) and two real kanade-agent processes, driven by Playwright in
# Debian's Chromium. Called by .ci/run; runnable by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/kanade-backend" ./cmd/kanade-backend
go build -o "$tmp/kanade-agent" ./cmd/kanade-agent
go build -o "$tmp/fakefleet" ./e2e/fakefleet

free_port() { # a port nothing listens on
  while :; do
    p=$(shuf -i 20000-45000 -n 1)
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
hp=$(free_port); np=$(free_port)
url="http://127.0.0.1:$hp"
first_pw="e2e-first-$RANDOM-pass"; pw="e2e-$RANDOM-$RANDOM-pass"

KANADE_BOOTSTRAP_ADMIN_PASSWORD="$first_pw" KANADE_NATS_TOKEN=e2e-broker-token \
  "$tmp/kanade-backend" --data-dir "$tmp/backend" --http-addr "127.0.0.1:$hp" --nats-addr "127.0.0.1:$np" \
  --log-level warn >"$tmp/backend.log" 2>&1 &
pids+=($!)
for i in 1 2; do
  KANADE_NATS_TOKEN=e2e-broker-token "$tmp/kanade-agent" --id "e2e-pc-$i" --nats-url "nats://127.0.0.1:$np" \
    --data-dir "$tmp/agent$i" --log-level warn >"$tmp/agent$i.log" 2>&1 &
  pids+=($!)
done

up=""
for _ in $(seq 1 120); do curl -fsS "$url/health" >/dev/null 2>&1 && { up=1; break; }; sleep 0.5; done
if [ -z "$up" ]; then echo "backend did not start"; cat "$tmp/backend.log"; exit 1; fi
# Heartbeat-only PCs in every self-update state, for tests/rollout.test.mjs.
"$tmp/fakefleet" -nats "nats://127.0.0.1:$np" -token e2e-broker-token -n 12 -prefix e2e-fake -update-states -inventory \
  -offline 0 -every 20s >"$tmp/fakefleet.log" 2>&1 &
pids+=($!)
# The bootstrap admin must change its password before anything else.
tok=$(curl -fsS "$url/api/auth/login" -H 'Content-Type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$first_pw\"}" | sed -E 's/.*"token":"([^"]+)".*/\1/')
curl -fsS "$url/api/auth/change-password" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
  -d "{\"old_password\":\"$first_pw\",\"new_password\":\"$pw\"}" >/dev/null
tok=$(curl -fsS "$url/api/auth/login" -H 'Content-Type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$pw\"}" | sed -E 's/.*"token":"([^"]+)".*/\1/')
online=0
for _ in $(seq 1 120); do
  online=$(curl -fsS -D - -o /dev/null "$url/api/agents?status=online" -H "Authorization: Bearer $tok" \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="x-total-count"{print $2}')
  [ "${online:-0}" -ge 2 ] && break
  sleep 0.5
done
if [ "${online:-0}" -lt 2 ]; then
  echo "agents did not come online"; tail -20 "$tmp"/*.log; exit 1
fi

cd "$root/e2e"
npm ci --no-audit --no-fund --loglevel=error
if ! KANADE_URL="$url" KANADE_USER=admin KANADE_PASSWORD="$pw" KANADE_E2E_PC=e2e-pc-1 npm test; then
  echo "--- backend log"; tail -40 "$tmp/backend.log"
  exit 1
fi
