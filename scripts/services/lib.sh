# Helpers shared by the service scripts (sourced, not run).

# wait_for WHAT COMMAND...: retry COMMAND for up to 20 s until it succeeds.
wait_for() {
  local what=$1; shift
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "error: $what did not come up" >&2
  return 1
}

# record_env NAME VALUE: set NAME=VALUE in .services/env, replacing an earlier value,
# for the test runner and .ci/run to source.
record_env() {
  mkdir -p .services
  touch .services/env
  grep -v "^$1=" .services/env > .services/env.tmp || true
  echo "$1=$2" >> .services/env.tmp
  mv .services/env.tmp .services/env
}
