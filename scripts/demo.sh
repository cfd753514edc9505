#!/usr/bin/env bash
# npm run demo: the demo AI gateway (examples/ai-gateway) under vigil, with traffic.
#
# Installs and starts what it needs (scripts/setup.sh: PostgreSQL, Redis), builds
# with tsc -b, then runs
#   node --require @vigil/node/register examples/ai-gateway/build/src/main.js --traffic --chaos
# until Ctrl-C (SIGINT / SIGTERM stop the traffic, close the gateway and let
# vigil flush), or for a fixed time:
#
#   npm run demo                          # until Ctrl-C
#   npm run demo -- --duration 60         # 60 seconds (or DEMO_DURATION=60)
#   npm run demo -- --rate 30             # traffic scenarios per second (default 12)
#   npm run demo -- --no-traffic          # the gateway alone; drive it yourself
#   npm run demo -- --no-chaos            # no channel is made to fail now and then
#
# Settings from the environment: PORT (3000), OTEL_EXPORTER_PROMETHEUS_PORT (9464),
# PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE, REDIS_URL, SITE_ID, ADMIN_TOKEN and
# every OTEL_* / VIGIL_* variable of @vigil/node.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

duration=${DEMO_DURATION:-}
rate=${DEMO_RATE:-}
traffic=1
chaos=1
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=${2:?--duration needs a number of seconds}; shift 2 ;;
    --duration=*) duration=${1#*=}; shift ;;
    --rate) rate=${2:?--rate needs a number}; shift 2 ;;
    --rate=*) rate=${1#*=}; shift ;;
    --no-traffic) traffic=0; shift ;;
    --no-chaos) chaos=0; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "demo: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $duration in ''|*[!0-9]*) [ -z "$duration" ] || { echo "demo: --duration must be a whole number of seconds" >&2; exit 2; } ;; esac

bash scripts/setup.sh
echo "demo: building (tsc -b examples/ai-gateway)"
tsc -b examples/ai-gateway

export OTEL_SERVICE_NAME=${OTEL_SERVICE_NAME:-ai-gateway}
export PORT=${PORT:-3000}
export OTEL_EXPORTER_PROMETHEUS_PORT=${OTEL_EXPORTER_PROMETHEUS_PORT:-9464}
export SITE_ID=${SITE_ID:-demo}

args=()
[ "$traffic" = 1 ] && args+=(--traffic)
[ "$traffic" = 1 ] && [ "$chaos" = 1 ] && args+=(--chaos)
[ -n "$rate" ] && args+=(--rate "$rate")
[ -n "$duration" ] && args+=(--duration "$duration")

cat <<INFO
demo: starting the AI gateway on :$PORT under vigil${duration:+ for $duration s}; stop it with Ctrl-C.
demo: scrape it:  curl -s localhost:$OTEL_EXPORTER_PROMETHEUS_PORT/metrics | grep -E '^(http|new_api|db|cache|ai|credits)_' | head
INFO
# exec: the gateway receives Ctrl-C / SIGTERM itself, stops its traffic and
# mock upstreams, closes PostgreSQL and Redis, and vigil flushes; nothing is left behind.
exec node --require @vigil/node/register examples/ai-gateway/build/src/main.js "${args[@]}"
