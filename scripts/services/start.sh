#!/usr/bin/env bash
# Make sure the local services the integration suites need are running, on loopback
# only. Safe to run repeatedly; starts only what is down.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .services
: > .services/env

wait_for() {
  local what=$1; shift
  for _ in $(seq 1 50); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "error: $what did not come up" >&2
  return 1
}

if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  echo "starting PostgreSQL 15"
  pg_ctlcluster --skip-systemctl-redirect 15 main start
  wait_for "PostgreSQL" pg_isready -h 127.0.0.1 -p 5432 -q
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis 7"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_for "Redis" redis-cli -h 127.0.0.1 -p 6379 ping
fi

echo "services: PostgreSQL and Redis are up"
