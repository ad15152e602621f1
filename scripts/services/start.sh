#!/usr/bin/env bash
# Make sure every service the integration suites need is running, on loopback only.
# Safe to run repeatedly: it starts only what is down. Extra services record their
# connection settings in .services/env for .ci/run and local runs to source.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .services
: > .services/env

# shellcheck source=lib.sh
source "scripts/services/lib.sh"

if ! command -v pg_ctlcluster >/dev/null || ! command -v redis-server >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq postgresql-15 redis-server >/dev/null
fi

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
echo "PostgreSQL and Redis are up"

# Optional extra services, each started by its own script when present.
for extra in pgbouncer.sh redis-cluster.sh; do
  if [[ -x "scripts/services/$extra" ]]; then
    "scripts/services/$extra"
  fi
done
