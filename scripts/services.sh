#!/usr/bin/env bash
# Makes sure the services the tests use are up: Redis on 127.0.0.1:6379 and a ClickHouse server
# (HTTP) on 127.0.0.1:8123. Idempotent: a service that answers is left alone.
#
# How a missing service is brought up, in order:
#   1. installed but stopped: start it (Redis daemonized; ClickHouse in the background as its own
#      user — there is no systemd in CI containers);
#   2. not installed, root with apt: install Debian's package (ClickHouse 18.16 on Debian 12), start it;
#   3. otherwise, a working Docker engine: `docker compose up -d <service>` (docker-compose.yml);
#   4. otherwise: print what to run, and fail.
# Exits non-zero, naming the service, when one cannot be brought up.
#
# Overrides, for testing this script against a second instance (not needed otherwise):
#   SLUICE_REDIS_PORT, SLUICE_CLICKHOUSE_PORT, SLUICE_CLICKHOUSE_CONFIG, SLUICE_SERVICES_LOG_DIR
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REDIS_PORT="${SLUICE_REDIS_PORT:-6379}"
CLICKHOUSE_PORT="${SLUICE_CLICKHOUSE_PORT:-8123}"
CLICKHOUSE_CONFIG="${SLUICE_CLICKHOUSE_CONFIG:-/etc/clickhouse-server/config.xml}"
CLICKHOUSE_SERVER=/usr/sbin/clickhouse-server
LOG_DIR="${SLUICE_SERVICES_LOG_DIR:-/tmp/sluice-services}"
CLICKHOUSE_WAIT_SECONDS=60
REDIS_WAIT_SECONDS=15

say() { printf 'services: %s\n' "$*"; }
warn() { printf 'services: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
apt_usable() { is_root && have apt-get; }
docker_usable() { have docker && docker info >/dev/null 2>&1; }

# A fresh machine may have neither redis-cli nor curl: fall back to bash's /dev/tcp.
redis_up() {
  if have redis-cli; then
    [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
    return
  fi
  timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT && printf 'PING\r\n' >&3 && IFS= read -r reply <&3 && [[ \$reply == +PONG* ]]" 2>/dev/null
}

clickhouse_up() {
  if have curl; then
    curl -sf --max-time 3 "http://127.0.0.1:$CLICKHOUSE_PORT/ping" >/dev/null
    return
  fi
  timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$CLICKHOUSE_PORT && printf 'GET /ping HTTP/1.0\r\n\r\n' >&3 && IFS= read -r status <&3 && [[ \$status == *' 200 '* ]]" 2>/dev/null
}

# wait_for <check> <seconds> [pid]: gives up early when the process we started has already exited.
wait_for() {
  local deadline=$((SECONDS + $2)) pid="${3:-}"
  until "$1"; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      "$1" && return 0
      warn "the server process exited"
      return 1
    fi
    sleep 0.5
  done
}

APT_UPDATED=
apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    say "apt-get update"
    apt-get update -qq || return 1
    APT_UPDATED=1
  fi
  say "installing $*"
  # The postinst scripts try to start the service; policy-rc.d (containers) refuses, which is fine:
  # only whether the binaries are there afterwards counts.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" || warn "apt-get install $* reported an error; checking what got installed"
}

compose_up() {
  if [ ! -f "$ROOT/docker-compose.yml" ] && [ ! -f "$ROOT/compose.yaml" ]; then
    warn "no docker-compose.yml in $ROOT to start $1 from"
    return 1
  fi
  say "docker compose up -d $1"
  (cd "$ROOT" && docker compose up -d "$1")
}

ensure_redis() {
  if redis_up; then
    say "Redis is up on 127.0.0.1:$REDIS_PORT"
    return 0
  fi
  if ! have redis-server; then
    if apt_usable; then
      apt_install redis-server
    elif docker_usable; then
      compose_up redis && wait_for redis_up "$REDIS_WAIT_SECONDS" && { say "Redis is up on 127.0.0.1:$REDIS_PORT (docker)"; return 0; }
      warn "Redis: docker compose did not bring it up"
      return 1
    fi
    if ! have redis-server; then
      warn "Redis is not running and redis-server is not installed. Run one of:"
      warn "  sudo apt-get update && sudo apt-get install -y redis-server && bash scripts/services.sh"
      warn "  docker compose up -d redis"
      return 1
    fi
    # the package may have started it (a machine with an init system)
    redis_up && { say "Redis is up on 127.0.0.1:$REDIS_PORT"; return 0; }
  fi
  mkdir -p "$LOG_DIR"
  say "starting redis-server on 127.0.0.1:$REDIS_PORT (log: $LOG_DIR/redis-server.log)"
  # In-memory only: test data need not survive, and no dump file is left in the working directory.
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --logfile "$LOG_DIR/redis-server.log" --pidfile "$LOG_DIR/redis-server-$REDIS_PORT.pid" >/dev/null
  if wait_for redis_up "$REDIS_WAIT_SECONDS"; then
    say "Redis is up on 127.0.0.1:$REDIS_PORT"
    return 0
  fi
  warn "Redis is not answering on 127.0.0.1:$REDIS_PORT; last log lines:"
  tail -n 20 "$LOG_DIR/redis-server.log" >&2 2>/dev/null
  return 1
}

# A server started a moment ago (by an earlier run) is still loading: wait instead of starting a second.
clickhouse_starting() {
  have pgrep && pgrep -f "clickhouse-server --config=$CLICKHOUSE_CONFIG" >/dev/null 2>&1
}

ensure_clickhouse() {
  if clickhouse_up; then
    say "ClickHouse is up on 127.0.0.1:$CLICKHOUSE_PORT"
    return 0
  fi
  if [ ! -x "$CLICKHOUSE_SERVER" ]; then
    if apt_usable; then
      apt_install clickhouse-server clickhouse-client
    elif docker_usable; then
      compose_up clickhouse && wait_for clickhouse_up "$CLICKHOUSE_WAIT_SECONDS" && { say "ClickHouse is up on 127.0.0.1:$CLICKHOUSE_PORT (docker)"; return 0; }
      warn "ClickHouse: docker compose did not bring it up"
      return 1
    fi
    if [ ! -x "$CLICKHOUSE_SERVER" ]; then
      warn "ClickHouse is not running and $CLICKHOUSE_SERVER is not installed. Run one of:"
      warn "  sudo bash scripts/services.sh        (installs Debian's clickhouse-server and starts it)"
      warn "  docker compose up -d clickhouse"
      return 1
    fi
  fi
  local pid=
  if clickhouse_starting; then
    say "clickhouse-server is already starting; waiting"
  elif ! is_root; then
    if docker_usable && compose_up clickhouse && wait_for clickhouse_up "$CLICKHOUSE_WAIT_SECONDS"; then
      say "ClickHouse is up on 127.0.0.1:$CLICKHOUSE_PORT (docker)"
      return 0
    fi
    warn "ClickHouse is installed but not running, and starting it as user clickhouse needs root. Run:"
    warn "  sudo bash scripts/services.sh"
    return 1
  else
    if ! id clickhouse >/dev/null 2>&1; then
      warn "ClickHouse: the user 'clickhouse' is missing (reinstall clickhouse-server)"
      return 1
    fi
    mkdir -p "$LOG_DIR"
    say "starting clickhouse-server as user clickhouse (log: $LOG_DIR/clickhouse-server.log)"
    # No systemd here: run it detached (own session, so it outlives this shell and its terminal).
    setsid nohup su -s /bin/sh clickhouse -c "$CLICKHOUSE_SERVER --config=$CLICKHOUSE_CONFIG" \
      >>"$LOG_DIR/clickhouse-server.log" 2>&1 </dev/null &
    pid=$! # su's: it waits for the server, so it lives as long as the server does
  fi
  if wait_for clickhouse_up "$CLICKHOUSE_WAIT_SECONDS" "$pid"; then
    say "ClickHouse is up on 127.0.0.1:$CLICKHOUSE_PORT"
    return 0
  fi
  warn "ClickHouse is not answering on 127.0.0.1:$CLICKHOUSE_PORT; last log lines:"
  tail -n 20 "$LOG_DIR/clickhouse-server.log" >&2 2>/dev/null
  tail -n 20 /var/log/clickhouse-server/clickhouse-server.err.log >&2 2>/dev/null
  return 1
}

failed=()
ensure_redis || failed+=(Redis)
ensure_clickhouse || failed+=(ClickHouse)
if [ "${#failed[@]}" -gt 0 ]; then
  warn "FAILED: could not bring up ${failed[*]} (see the messages above)"
  exit 1
fi
