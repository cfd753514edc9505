#!/usr/bin/env bash
# Installs and starts what the test suite needs on a Debian machine:
# Prometheus, Alertmanager and docker-compose from Debian's packages, and a
# running PostgreSQL and Redis. Fails with a clear message when one cannot be had.
set -euo pipefail

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
PGDATABASE=${PGDATABASE:-test}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}

fail() { echo "setup: $*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }

# Debian packages: binary -> package
missing=()
for pair in promtool:prometheus prometheus:prometheus prometheus-alertmanager:prometheus-alertmanager amtool:prometheus-alertmanager docker-compose:docker-compose; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  echo "setup: installing Debian packages: $pkgs"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs >/dev/null \
    || fail "could not install $pkgs (needs root or sudo and Debian's package archive)"
fi

pg_ready() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null || (exec 3<>"/dev/tcp/$PGHOST/$PGPORT") 2>/dev/null; }
redis_ready() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
wait_for() { local i; for i in $(seq 1 60); do "$@" && return 0; sleep 0.5; done; return 1; }

if ! pg_ready; then
  if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql/ >/dev/null 2>&1; then
    echo "setup: starting PostgreSQL"
    for v in $(ls /etc/postgresql); do as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start || true; done
  fi
  wait_for pg_ready || fail "PostgreSQL is not reachable at $PGHOST:$PGPORT and could not be started (install the Debian package postgresql, or set PGHOST/PGPORT)"
fi
if command -v psql >/dev/null; then
  psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$PGDATABASE'" | grep -q 1 \
    || psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qc "CREATE DATABASE \"$PGDATABASE\"" \
    || fail "could not create database $PGDATABASE"
fi

if ! redis_ready; then
  if command -v redis-server >/dev/null; then
    echo "setup: starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  wait_for redis_ready || fail "Redis is not reachable at $REDIS_HOST:$REDIS_PORT and could not be started (install the Debian package redis-server, or set REDIS_HOST/REDIS_PORT)"
fi
echo "setup: PostgreSQL $PGHOST:$PGPORT, Redis $REDIS_HOST:$REDIS_PORT, $(promtool --version 2>&1 | head -1)"
