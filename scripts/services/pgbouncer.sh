#!/usr/bin/env bash
# Start PgBouncer on loopback in transaction pooling mode in front of the local
# PostgreSQL (127.0.0.1:5432), for the @entelix/postgres PgBouncer suite, and record
# its URL in .services/env as PGBOUNCER_URL. Idempotent: installs Debian's pgbouncer
# only if missing, and starts it only if nothing answers on its port.
#
# Databases behind the bouncer (both the `test` database on 5432):
#   test                 default_pool_size server connections per user, so clients
#                        share a few server connections
#   test_single_server   exactly one server connection per user, so every client's
#                        transactions run one after another on the same backend
set -euo pipefail
cd "$(dirname "$0")/../.."

PORT=${PGBOUNCER_PORT:-6432}
DIR="$PWD/.services/pgbouncer"
RUN_AS=postgres
URL="postgres://entelix_app_test@127.0.0.1:$PORT/test"

# shellcheck source=lib.sh
source "scripts/services/lib.sh"

bouncer_up() {
  # Any answer from the bouncer's admin console proves it accepts connections.
  psql -h 127.0.0.1 -p "$PORT" -U pgbouncer -d pgbouncer -Atc 'SHOW VERSION' >/dev/null 2>&1
}

if ! command -v pgbouncer >/dev/null 2>&1 && [[ ! -x /usr/sbin/pgbouncer ]]; then
  echo "installing pgbouncer"
  apt-get update -qq
  apt-get install -y -qq pgbouncer >/dev/null
fi
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)

if ! bouncer_up; then
  mkdir -p "$DIR"
  # Trust on loopback, as the PostgreSQL behind it: the auth file only names the
  # roles the bouncer lets through, with no passwords.
  cat > "$DIR/userlist.txt" <<'EOF'
"entelix_app_test" ""
"root" ""
"pgbouncer" ""
EOF
  cat > "$DIR/pgbouncer.ini" <<EOF
[databases]
test = host=127.0.0.1 port=5432 dbname=test
test_single_server = host=127.0.0.1 port=5432 dbname=test pool_size=1

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
auth_type = trust
auth_file = $DIR/userlist.txt
admin_users = pgbouncer
pool_mode = transaction
max_client_conn = 200
default_pool_size = 2
reserve_pool_size = 0
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
EOF
  # PgBouncer refuses to run as root: run it as the PostgreSQL system user.
  chown -R "$RUN_AS" "$DIR"
  rm -f "$DIR/pgbouncer.pid"
  echo "starting PgBouncer on 127.0.0.1:$PORT (transaction pooling)"
  if [[ $(id -u) -eq 0 ]]; then
    "$PGBOUNCER" -d -u "$RUN_AS" "$DIR/pgbouncer.ini"
  else
    "$PGBOUNCER" -d "$DIR/pgbouncer.ini"
  fi
  wait_for "PgBouncer" bouncer_up
fi

record_env PGBOUNCER_URL "$URL"
echo "services: PgBouncer is up on 127.0.0.1:$PORT"
