#!/usr/bin/env bash
# The README's first command: installs the build dependencies (Debian 12, idempotent),
# builds the library and the dlock CLI, and runs the stock demo on the embedded file
# backend: oversold without a lock, exactly right under `dlock run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/demo -DDLOCK_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/demo -j"$(nproc)" >/dev/null
echo "built build/demo/cli/dlock"
echo
examples/stock/demo.sh build/demo/cli/dlock "$@"
