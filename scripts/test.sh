#!/usr/bin/env bash
# The README's second command, and all that CI runs: installs what the tests need
# (Debian 12, idempotent), checks formatting, builds with warnings as errors and runs
# every test (unit, conformance, integration), and runs the unit tests and the library
# integration tests (the concurrent client code) again under AddressSanitizer+UBSan and
# under ThreadSanitizer; last, the smallest configuration with clang (-Wthread-safety).
#   scripts/test.sh           everything
#   scripts/test.sh --quick   the normal build only, no sanitizer builds
# Then the fault suite's smoke run: every fault once on every backend.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
jobs=$(nproc)
# Known leaks in third-party libraries (each explained in the file).
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"

echo "== clang-format"
mapfile -t sources < <(git ls-files '*.h' '*.cc' 2>/dev/null || find include src cli tests -name '*.h' -o -name '*.cc')
clang-format --dry-run --Werror "${sources[@]}"

run_suite() {  # run_suite DIR "CTEST-SELECTION" CMAKE-ARGS...
  local dir=$1 selection=$2
  shift 2
  echo "== build $dir $*"
  cmake -S . -B "$dir" -DDLOCK_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
  echo "== test $dir ($selection)"
  # shellcheck disable=SC2086  # the selection is several ctest arguments
  (cd "$dir" && ctest $selection -j"$jobs" --output-on-failure --timeout 300)
}

# Unit tests, and the integration tests of the libraries (concurrent client code); the
# CLI's tests run in the normal build only.
sanitized='-L unit|integration -E ^cli\.'
# Under TSan, no etcd backend: gRPC and its absl are not instrumented, so TSan cannot see
# their locks; it reports races inside them and slows them down tenfold.
export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp"

if [[ "${1:-}" != "--quick" ]]; then
  run_suite build/asan "$sanitized" -DDLOCK_SANITIZE=address -DCMAKE_BUILD_TYPE=Debug
  run_suite build/tsan "$sanitized" -DDLOCK_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug \
    -DDLOCK_WITH_ETCD=OFF
fi
run_suite build/test "-L unit|integration" -DCMAKE_BUILD_TYPE=RelWithDebInfo

# The smallest build, with clang: every optional backend, the PostgreSQL guard and
# Prometheus left out (each documented option builds), and the locking annotations
# checked (-Wthread-safety, an error with DLOCK_WERROR). Its unit tests run too.
CXX=clang++ run_suite build/minimal "-L unit" -DCMAKE_BUILD_TYPE=Debug \
  -DDLOCK_WITH_REDIS=OFF -DDLOCK_WITH_ETCD=OFF -DDLOCK_WITH_ZOOKEEPER=OFF \
  -DDLOCK_WITH_POSTGRES=OFF -DDLOCK_WITH_PROMETHEUS=OFF

# Installing: cmake --install and examples/consumer (CMake, pkg-config, FetchContent), a
# shared build's exports, and the Debian packages installed, used and removed
# (docs/install.md). It installs and purges the packages with apt-get (through sudo
# unless root).
echo "== install and packages"
scripts/check-install.sh build/test build/minimal

# Faults on real stores, each once per backend (tests/fault/; fault_suite.py --duration
# 30m is the soak run). Alone, after the suites: its checks involve timing bounds.
# As root: the partition fault makes a network namespace and nft rules.
echo "== fault smoke"
as_root=()
if [[ "$(id -u)" -ne 0 ]]; then as_root=(sudo -E); fi
"${as_root[@]}" env DLOCK_BIN=build/test/cli/dlock python3 tests/fault/fault_suite.py --smoke
