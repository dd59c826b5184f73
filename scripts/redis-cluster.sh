#!/usr/bin/env bash
# Starts or stops a throw-away three-master Redis Cluster on loopback, for the
# redisstore cluster tests:
#
#   scripts/redis-cluster.sh start <dir>   # prints the node addresses, comma-separated
#   scripts/redis-cluster.sh stop <dir>
#
# <dir> holds each node's config, pid file, log and working directory; stop
# kills exactly the processes whose pid files are in <dir>. The ports come
# from REDIS_CLUSTER_PORTS (default "7001 7002 7003"); each node also uses its
# port + 10000 for the cluster bus. Nothing is persisted (no RDB, no AOF).
# Needs redis-server and redis-cli 6.2 or newer. Used by redisstore's
# TestCluster, which starts and stops its own cluster in a temporary directory.
#
# If REDIS_CLUSTER_OWNER_PID is set, start also leaves a watchdog that stops
# the nodes as soon as that process exits, so that a test run killed before
# its clean-up (go test -timeout, ^C) leaves no servers behind.
set -euo pipefail

usage() { echo "usage: $0 start|stop <dir>" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1 dir=$2
ports=${REDIS_CLUSTER_PORTS:-"7001 7002 7003"}
log() { echo "redis-cluster: $*" >&2; }

stop() {
  local pids=()
  for f in "$dir"/node-*/redis.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  # Wait up to 5 s for them to exit, then force.
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -f "$dir"/node-*/redis.pid
}

start() {
  command -v redis-server >/dev/null || { log "redis-server not found"; exit 1; }
  command -v redis-cli >/dev/null || { log "redis-cli not found"; exit 1; }
  mkdir -p "$dir"
  addrs=()
  for port in $ports; do
    node="$dir/node-$port"
    mkdir -p "$node"
    rm -f "$node/nodes.conf"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
      --cluster-enabled yes --cluster-config-file "$node/nodes.conf" \
      --cluster-node-timeout 2000 \
      --dir "$node" --pidfile "$node/redis.pid" --logfile "$node/redis.log" \
      --save "" --appendonly no
    addrs+=("127.0.0.1:$port")
  done
  for a in "${addrs[@]}"; do
    port=${a##*:}
    ok=0
    for _ in $(seq 1 100); do
      if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then ok=1; break; fi
      sleep 0.05
    done
    [ $ok = 1 ] || { log "node $a did not start (see $dir/node-$port/redis.log)"; stop; exit 1; }
  done
  if ! redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1; then
    log "redis-cli --cluster create failed:"; cat "$dir/create.log" >&2; stop; exit 1
  fi
  for a in "${addrs[@]}"; do
    port=${a##*:}
    ok=0
    for _ in $(seq 1 200); do
      if redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then ok=1; break; fi
      sleep 0.05
    done
    [ $ok = 1 ] || { log "node $a never reported cluster_state:ok"; stop; exit 1; }
  done
  if [ -n "${REDIS_CLUSTER_OWNER_PID:-}" ]; then
    owner=$REDIS_CLUSTER_OWNER_PID
    nohup setsid bash -c '
      while kill -0 "$1" 2>/dev/null && ls "$2"/node-*/redis.pid >/dev/null 2>&1; do sleep 1; done
      exec "$3" stop "$2"' _ "$owner" "$dir" "$(readlink -f "$0")" </dev/null >/dev/null 2>&1 &
  fi
  (IFS=,; echo "${addrs[*]}")
}

case $cmd in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
