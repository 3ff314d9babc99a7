#!/usr/bin/env bash
# A Redis Cluster of 3 primaries and 3 replicas on loopback (the cluster tests, API.md §11).
#
#   bash scripts/redis-cluster.sh start    starts what is not running, creates the cluster once, waits for cluster_state:ok
#   bash scripts/redis-cluster.sh stop     stops the six servers this script started (by their pid files)
#   bash scripts/redis-cluster.sh status   prints CLUSTER INFO's state and the primaries
#
# Idempotent: a node that answers is left alone, a cluster already formed is not formed again.
# Ports SLUICE_REDIS_CLUSTER_PORT..+5 (default 7000-7005); data, logs and pid files under
# SLUICE_REDIS_CLUSTER_DIR (default /tmp/sluice-redis-cluster). In memory only (no RDB, no AOF):
# a killed node restarts empty and rejoins as a replica.
# cluster-node-timeout is short (SLUICE_REDIS_CLUSTER_NODE_TIMEOUT, default 2000 ms) so a killed
# primary's replica takes over within seconds.
set -uo pipefail

BASE="${SLUICE_REDIS_CLUSTER_PORT:-7000}"
DIR="${SLUICE_REDIS_CLUSTER_DIR:-/tmp/sluice-redis-cluster}"
NODE_TIMEOUT="${SLUICE_REDIS_CLUSTER_NODE_TIMEOUT:-2000}"
PORTS=()
for i in 0 1 2 3 4 5; do PORTS+=($((BASE + i))); done

say() { printf 'redis-cluster: %s\n' "$*"; }
warn() { printf 'redis-cluster: %s\n' "$*" >&2; }
cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}" 2>/dev/null; }
up() { [ "$(cli "$1" ping)" = PONG ]; }
state_ok() { cli "$1" cluster info | grep -q '^cluster_state:ok'; }

start_node() {
  local port=$1 dir="$DIR/$1"
  if up "$port"; then return 0; fi
  mkdir -p "$dir"
  # A node that died keeps its nodes.conf: it rejoins the cluster it knew.
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
    --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
    --cluster-node-timeout "$NODE_TIMEOUT" --cluster-replica-validity-factor 0 \
    --save '' --appendonly no --dir "$dir" \
    --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" >/dev/null
}

wait_until() {
  local deadline=$((SECONDS + $2))
  until "${@:3}"; do
    [ "$SECONDS" -ge "$deadline" ] && { warn "$1 not met in $2 s"; return 1; }
    sleep 0.2
  done
}

all_up() { for p in "${PORTS[@]}"; do up "$p" || return 1; done; }
all_ok() { for p in "${PORTS[@]}"; do state_ok "$p" || return 1; done; }
# Every replica linked to its primary and done syncing: a node that rejoined after a kill is a
# replica that needs a full sync first, and WAIT (route outbox appends) counts only synced replicas.
synced() {
  local p info
  for p in "${PORTS[@]}"; do
    info="$(cli "$p" info replication)"
    grep -q '^role:slave' <<<"$info" || continue
    grep -q '^master_link_status:up' <<<"$info" || return 1
    grep -q '^master_sync_in_progress:0' <<<"$info" || return 1
  done
}
formed() { [ "$(cli "$BASE" cluster info | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')" -ge 6 ]; }

start() {
  command -v redis-server >/dev/null || { warn "redis-server is not installed (apt-get install -y redis-server)"; return 1; }
  for p in "${PORTS[@]}"; do start_node "$p"; done
  wait_until "six nodes answering" 15 all_up || return 1
  if ! formed; then
    say "creating the cluster on ${PORTS[*]}"
    local hosts=()
    for p in "${PORTS[@]}"; do hosts+=("127.0.0.1:$p"); done
    redis-cli --cluster create "${hosts[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/create.log" 2>&1 ||
      { warn "redis-cli --cluster create failed:"; tail -n 20 "$DIR/create.log" >&2; return 1; }
  fi
  wait_until "cluster_state:ok on every node" 30 all_ok || return 1
  wait_until "every replica in sync" 30 synced || return 1
  say "up on 127.0.0.1:${PORTS[0]}-${PORTS[5]} (cluster_state:ok)"
}

stop() {
  for p in "${PORTS[@]}"; do
    local pidfile="$DIR/$p/redis.pid"
    [ -f "$pidfile" ] || continue
    local pid
    pid="$(cat "$pidfile")"
    # Only the redis-server we started on this port: the pid file may be stale.
    if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "redis-server.*:$p"; then
      kill "$pid" 2>/dev/null
    fi
    rm -f "$pidfile"
  done
  rm -rf "$DIR"
  say "stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status)
    cli "$BASE" cluster info | grep '^cluster_state'
    cli "$BASE" cluster nodes | grep master
    ;;
  *)
    warn "usage: $0 start|stop|status"
    exit 2
    ;;
esac
