#!/usr/bin/env bash
# npm test: brings up the real Redis and ClickHouse server the suites use (scripts/services.sh),
# type-checks, then runs every test (unit and marble, adapters against real servers and embedded
# chDB, REST, end to end). In CI (CI=true) a service that cannot be brought up fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! bash scripts/services.sh; then
  echo "npm test: Redis and a ClickHouse server are needed (see the messages above)." >&2
  echo "npm test: as root, scripts/services.sh installs Debian's packages and starts them; or point REDIS_URL / CLICKHOUSE_URL at running servers." >&2
  exit 1
fi

# The Swagger UI test (test/e2e) drives Debian's Chromium headless.
bash scripts/browser.sh || { echo "npm test: Chromium (/usr/bin/chromium) is needed by test/e2e (see the messages above)." >&2; exit 1; }

npx tsc -p tsconfig.json
exec npx vitest run "$@"
