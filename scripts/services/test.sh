#!/usr/bin/env bash
# Run every test suite against the services scripts/services/start.sh brought up,
# with REQUIRE_SERVICES=1 so that a suite whose service is missing fails instead of
# skipping. Extra arguments go to `npm test` (e.g. `npm run test:services -- packages/redis`).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ ! -f .services/env ]]; then
  echo "error: no .services/env: run \`npm run services\` first" >&2
  exit 1
fi
set -a
# shellcheck disable=SC1091
source .services/env
set +a
export REQUIRE_SERVICES=1
exec npm test -- "$@"
