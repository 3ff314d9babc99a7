#!/usr/bin/env bash
# A ClickHouse cluster of two shards (one replica each) with ZooKeeper, on loopback: the cluster
# tests (API.md §11). Debian's packages: clickhouse-server 18.16 and zookeeper (installed as root
# if missing). The default server of scripts/services.sh (8123) is left alone.
#
#   bash scripts/clickhouse-cluster.sh start    starts what is not running; idempotent
#   bash scripts/clickhouse-cluster.sh stop     stops what this script started (by its pid files)
#
# ZooKeeper on 127.0.0.1:2182 (not 2181: a system one may be there). Shard 1: HTTP 8124, native 9001,
# interserver 9011; shard 2: HTTP 8125, native 9002, interserver 9012. Both servers know the cluster
# `sluice_cluster` (remote_servers), the ZooKeeper, and their own macros {shard} and {replica}.
# Everything lives under SLUICE_CLICKHOUSE_CLUSTER_DIR (default /tmp/sluice-clickhouse-cluster), owned
# by the user clickhouse, which the servers run as (root when that user does not exist).
# Current ClickHouse needs no ZooKeeper: its built-in Keeper (<keeper_server>) serves the same
# <zookeeper> section; the rest of this config is the same there.
set -uo pipefail

DIR="${SLUICE_CLICKHOUSE_CLUSTER_DIR:-/tmp/sluice-clickhouse-cluster}"
ZK_PORT=2182
CLUSTER=sluice_cluster
SHARDS=(1 2)
http_port() { echo $((8123 + $1)); }
tcp_port() { echo $((9000 + $1)); }
interserver_port() { echo $((9010 + $1)); }

say() { printf 'clickhouse-cluster: %s\n' "$*"; }
warn() { printf 'clickhouse-cluster: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

wait_until() {
  local deadline=$((SECONDS + $2))
  until "${@:3}"; do
    [ "$SECONDS" -ge "$deadline" ] && { warn "$1 not met in $2 s"; return 1; }
    sleep 0.3
  done
}

zk_up() { [ "$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$ZK_PORT && printf ruok >&3 && head -c 4 <&3" 2>/dev/null)" = imok ]; }
# Without curl (a fresh machine), bash's /dev/tcp.
ch_up() {
  local port
  port="$(http_port "$1")"
  if have curl; then
    curl -sf --max-time 2 "http://127.0.0.1:$port/ping" >/dev/null 2>&1
    return
  fi
  timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET /ping HTTP/1.0\r\n\r\n' >&3 && IFS= read -r status <&3 && [[ \$status == *' 200 '* ]]" 2>/dev/null
}
# A pid file's process, if it is still the one we started (`what` is in its command line).
running() { [ -f "$1" ] && tr '\0' ' ' <"/proc/$(cat "$1")/cmdline" 2>/dev/null | grep -q "$2"; }

install_missing() {
  local missing=()
  [ -x /usr/share/zookeeper/bin/zkServer.sh ] || missing+=(zookeeper)
  [ -x /usr/sbin/clickhouse-server ] || missing+=(clickhouse-server clickhouse-client)
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! have apt-get; then
    warn "missing ${missing[*]}: run as root, or apt-get install -y ${missing[*]}"
    return 1
  fi
  say "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_zookeeper() {
  zk_up && return 0
  mkdir -p "$DIR/zookeeper/data" "$DIR/zookeeper/conf"
  cat >"$DIR/zookeeper/conf/zoo.cfg" <<EOF
tickTime=500
initLimit=10
syncLimit=5
dataDir=$DIR/zookeeper/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
4lw.commands.whitelist=ruok,stat
admin.enableServer=false
EOF
  cp /etc/zookeeper/conf/log4j.properties "$DIR/zookeeper/conf/" 2>/dev/null
  # Debian's classpath: the jar and its dependencies in /usr/share/java.
  local classpath="$DIR/zookeeper/conf:$(ls /usr/share/java/*.jar | tr '\n' ':')"
  say "starting ZooKeeper on 127.0.0.1:$ZK_PORT"
  setsid nohup java -Xmx256m -Dzookeeper.log.dir="$DIR/zookeeper" -cp "$classpath" \
    org.apache.zookeeper.server.ZooKeeperServerMain "$DIR/zookeeper/conf/zoo.cfg" \
    >"$DIR/zookeeper/zookeeper.log" 2>&1 </dev/null &
  echo $! >"$DIR/zookeeper/pid"
  wait_until "ZooKeeper answering on $ZK_PORT" 60 zk_up || { tail -n 20 "$DIR/zookeeper/zookeeper.log" >&2; return 1; }
}

config_of() {
  local shard=$1 dir="$DIR/shard$1"
  cat <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <http_port>$(http_port "$shard")</http_port>
    <tcp_port>$(tcp_port "$shard")</tcp_port>
    <interserver_http_port>$(interserver_port "$shard")</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>64</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>$dir/data/</path>
    <tmp_path>$dir/data/tmp/</tmp_path>
    <user_files_path>$dir/data/user_files/</user_files_path>
    <format_schema_path>$dir/data/format_schemas/</format_schema_path>
    <users_config>$DIR/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mlock_executable>false</mlock_executable>
    <remote_servers>
        <$CLUSTER>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>$(tcp_port 1)</port></replica>
            </shard>
            <shard>
                <internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>$(tcp_port 2)</port></replica>
            </shard>
        </$CLUSTER>
    </remote_servers>
    <zookeeper>
        <node><host>127.0.0.1</host><port>$ZK_PORT</port></node>
        <session_timeout_ms>10000</session_timeout_ms>
    </zookeeper>
    <macros>
        <shard>$shard</shard>
        <replica>127.0.0.1-$(tcp_port "$shard")</replica>
    </macros>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
</yandex>
EOF
}

users_xml() {
  cat <<'EOF'
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>1000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

start_shard() {
  local shard=$1 dir="$DIR/shard$1"
  ch_up "$shard" && return 0
  mkdir -p "$dir/log" "$dir/data"
  config_of "$shard" >"$dir/config.xml"
  local as=root
  id clickhouse >/dev/null 2>&1 && as=clickhouse
  chown -R "$as" "$DIR" 2>/dev/null
  say "starting clickhouse-server shard $shard (HTTP $(http_port "$shard"), native $(tcp_port "$shard")) as $as"
  if [ "$as" = root ] || [ "$(id -un)" = "$as" ]; then
    setsid nohup /usr/sbin/clickhouse-server --config-file="$dir/config.xml" >>"$dir/stdout.log" 2>&1 </dev/null &
  else
    setsid nohup su -s /bin/sh "$as" -c "exec /usr/sbin/clickhouse-server --config-file=$dir/config.xml" \
      >>"$dir/stdout.log" 2>&1 </dev/null &
  fi
  echo $! >"$dir/pid" # su's pid when run as clickhouse: exec makes it the server's
}

start() {
  install_missing || return 1
  mkdir -p "$DIR"
  users_xml >"$DIR/users.xml"
  start_zookeeper || return 1
  for shard in "${SHARDS[@]}"; do start_shard "$shard"; done
  for shard in "${SHARDS[@]}"; do
    wait_until "shard $shard answering" 90 ch_up "$shard" ||
      { tail -n 20 "$DIR/shard$shard/log/clickhouse-server.err.log" >&2; return 1; }
  done
  say "up: ZooKeeper :$ZK_PORT, shards on HTTP $(http_port 1) and $(http_port 2), cluster $CLUSTER"
}

stop() {
  for shard in "${SHARDS[@]}"; do
    local pidfile="$DIR/shard$shard/pid" pid
    running "$pidfile" clickhouse-server || continue
    pid="$(cat "$pidfile")"
    # Started through su, the pid is su's; the server is its child (su does not pass SIGTERM on).
    kill $(pgrep -P "$pid") "$pid" 2>/dev/null
  done
  running "$DIR/zookeeper/pid" ZooKeeperServerMain && kill "$(cat "$DIR/zookeeper/pid")"
  # The servers flush and exit within a few seconds; their files go after them.
  local deadline=$((SECONDS + 20))
  while pgrep -f -- "--config-file=$DIR/" >/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.3; done
  rm -rf "$DIR"
  say "stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *)
    warn "usage: $0 start|stop"
    exit 2
    ;;
esac
