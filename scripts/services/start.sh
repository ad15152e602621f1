#!/usr/bin/env bash
# Make sure every service the integration suites need is running, on loopback only.
# Safe to run repeatedly: it starts only what is down. Every service records its
# connection setting in .services/env, which scripts/services/test.sh reads.
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

# A cluster that Debian's package just created knows only the `postgres` role and
# peer authentication: give it what the test URL expects (trust on loopback, a `root`
# superuser, the `test` database). A server that already lets root into `test` is
# left exactly as it is.
prepare_test_database() {
  if psql -h 127.0.0.1 -p 5432 -U root -d test -Atqc 'SELECT 1' >/dev/null 2>&1; then return 0; fi
  echo "preparing PostgreSQL for the tests (root role, test database, loopback trust)"
  local hba
  hba=$(runuser -u postgres -- psql -Atqc 'SHOW hba_file')
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    # First match wins in pg_hba.conf, so the loopback lines go on top.
    printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' | cat - "$hba" > "$hba.new"
    chown postgres: "$hba.new"
    mv "$hba.new" "$hba"
    runuser -u postgres -- psql -Atqc 'SELECT pg_reload_conf()' >/dev/null
  fi
  runuser -u postgres -- psql -v ON_ERROR_STOP=1 -Atq <<'SQL'
SELECT 'CREATE ROLE root LOGIN SUPERUSER' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'root') \gexec
SELECT format('CREATE DATABASE %I OWNER root', name) FROM unnest(ARRAY['test', 'root']) AS name
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = name) \gexec
SQL
  wait_for "PostgreSQL test database" psql -h 127.0.0.1 -p 5432 -U root -d test -Atqc 'SELECT 1'
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
prepare_test_database
record_env DATABASE_URL "postgres://root@127.0.0.1:5432/test"
record_env REDIS_URL "redis://127.0.0.1:6379"
echo "PostgreSQL and Redis are up"

# Optional extra services, each started by its own script when present.
for extra in pgbouncer.sh redis-cluster.sh; do
  if [[ -x "scripts/services/$extra" ]]; then
    "scripts/services/$extra"
  fi
done
