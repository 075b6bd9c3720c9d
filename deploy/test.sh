#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest on real PostgreSQL and Redis
# (embedded by default; DATABASE_URL / REDIS_URL point at real servers).
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/setup.sh
.venv/bin/ruff check backend tests
.venv/bin/ruff format --check backend tests
.venv/bin/mypy
ENSEMBLE_ENV=test .venv/bin/pytest "$@"
