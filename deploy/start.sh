#!/usr/bin/env bash
# The quick start: environment, embedded PostgreSQL + Redis (unless DATABASE_URL / REDIS_URL are set),
# migrations, the demo clinic, then the API on http://127.0.0.1:8000/graphql with one worker.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/setup.sh
.venv/bin/ensemble demo
exec .venv/bin/ensemble serve "$@"
