#!/usr/bin/env bash
# Run every benchmark in tests/bench (each prints its figures). Not part of the test suite.
# Usage: deploy/bench.sh [name ...]   e.g. deploy/bench.sh bench_tenants
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/setup.sh
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/bench/bench_*.py; do names+=("$(basename "$f" .py)"); done
fi
for name in "${names[@]}"; do
  echo "== $name"
  .venv/bin/python -m "tests.bench.$name"
done
