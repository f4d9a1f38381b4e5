#!/usr/bin/env bash
# The long run of issue 9, for a developer machine (root: the partition fault makes a
# network namespace): libFuzzer on every parser for FUZZ_SECONDS each (scripts/fuzz.sh),
# then 50 forced failovers in a row on Redis Sentinel and on Redis Cluster (4 clients, one
# lock name and one fenced register each, the whole token history checked; about 12
# minutes), then the fault suite with random faults on every backend for DURATION. Exits
# non-zero if the fuzzers found something or a fault check failed.
#   scripts/soak.sh [DURATION [FUZZ_SECONDS]]     default: 30m 60
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-30m}
fuzz_seconds=${2:-60}
scripts/fuzz.sh "$fuzz_seconds"
echo "== build build/test"
cmake -S . -B build/test -DDLOCK_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/test -j"$(nproc)" --target dlock_cli >/dev/null
echo "== 50 failovers in a row (redis-sentinel, redis-cluster)"
DLOCK_BIN=build/test/cli/dlock python3 tests/fault/fault_suite.py --failovers 50 \
  --clients 4 --backends redis-sentinel,redis-cluster
echo "== fault soak ($duration)"
DLOCK_BIN=build/test/cli/dlock python3 tests/fault/fault_suite.py --duration "$duration"
