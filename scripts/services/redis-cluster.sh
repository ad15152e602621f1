#!/usr/bin/env bash
# Start a 3-node Redis Cluster on loopback (ports 7000-7002, no replicas, no
# persistence) for the @entelix/redis Cluster suite, and record its nodes in
# .services/env as REDIS_CLUSTER_NODES. Idempotent: starts only the nodes that are
# down and creates the cluster only if it does not exist yet.
set -euo pipefail
cd "$(dirname "$0")/../.."

PORTS=(7000 7001 7002)
BASE_DIR="$PWD/.services/redis-cluster"
NODE_LIST=()
for port in "${PORTS[@]}"; do NODE_LIST+=("127.0.0.1:$port"); done
NODES=$(IFS=,; echo "${NODE_LIST[*]}")

# shellcheck source=lib.sh
source "scripts/services/lib.sh"

cluster_ok() {
  redis-cli -h 127.0.0.1 -p "${PORTS[0]}" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}

for port in "${PORTS[@]}"; do
  if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then continue; fi
  dir="$BASE_DIR/$port"
  mkdir -p "$dir"
  # Without persistence a restarted node has no data, so its old cluster config must
  # go too, or it would claim slots whose keys it no longer has.
  rm -f "$dir/nodes.conf"
  echo "starting Redis Cluster node on 127.0.0.1:$port"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
    --save '' --appendonly no --daemonize yes --logfile "$dir/redis.log"
  wait_for "Redis Cluster node $port" redis-cli -h 127.0.0.1 -p "$port" ping
done

if ! cluster_ok; then
  known=$(redis-cli -h 127.0.0.1 -p "${PORTS[0]}" cluster info | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')
  if [[ "$known" != "${#PORTS[@]}" ]]; then
    # A partly formed cluster (some nodes restarted) cannot be repaired by `create`:
    # wipe every node and form it afresh. The nodes hold test data only.
    for port in "${PORTS[@]}"; do
      redis-cli -h 127.0.0.1 -p "$port" flushall >/dev/null
      redis-cli -h 127.0.0.1 -p "$port" cluster reset hard >/dev/null
    done
    echo "creating Redis Cluster on $NODES"
    redis-cli --cluster create "${NODE_LIST[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
  fi
  wait_for "Redis Cluster state ok" cluster_ok
fi

record_env REDIS_CLUSTER_NODES "$NODES"
echo "services: Redis Cluster is up on $NODES"
