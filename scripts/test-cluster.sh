#!/usr/bin/env bash
# npm run test:cluster: the suites of test/cluster on real clusters, all on loopback (API.md §11):
# a Redis Cluster of 3 primaries and 3 replicas (scripts/redis-cluster.sh), ZooKeeper and two
# ClickHouse 18.16 shards (scripts/clickhouse-cluster.sh), HAProxy in front of three Sluice
# processes (started by the test itself), beside the Redis and ClickHouse server of npm test
# (scripts/services.sh). As root it installs what is missing from Debian's packages (zookeeper,
# haproxy). The clusters are stopped at the end unless SLUICE_KEEP_CLUSTERS=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/services.sh
if ! command -v haproxy >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test:cluster: installing haproxy"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; }
  else
    echo "test:cluster: haproxy is needed (apt-get install -y haproxy)" >&2
    exit 1
  fi
fi
bash scripts/redis-cluster.sh start
bash scripts/clickhouse-cluster.sh start
if [ "${SLUICE_KEEP_CLUSTERS:-}" != 1 ]; then
  trap 'bash scripts/redis-cluster.sh stop; bash scripts/clickhouse-cluster.sh stop' EXIT
fi
npx vitest run --config test/cluster/vitest.config.ts "$@"
