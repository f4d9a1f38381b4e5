#!/usr/bin/env bash
# Fuzzes dlock's parsers with libFuzzer (clang from Debian): URIs, durations, lock names,
# lock files, Redis replies, ZooKeeper child names. Each target runs for SECONDS (default
# 60) from the corpus in tests/fuzz/corpus/<target>; new inputs go to build/fuzz/new/,
# findings (crash-*, leak-*, timeout-*) to build/fuzz/findings/. Exits 1 on a finding.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
scripts/install-deps.sh --test
if ! command -v clang++ >/dev/null; then
  apt-get install -y -qq --no-install-recommends clang >/dev/null
fi
targets=(uri duration name record resp zk_recipe)
CXX=clang++ cmake -S . -B build/fuzz -DDLOCK_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDLOCK_WITH_ETCD=OFF -DDLOCK_WITH_PROMETHEUS=OFF >/dev/null
cmake --build build/fuzz -j"$(nproc)" --target "${targets[@]/%/_fuzzer}" >/dev/null
mkdir -p build/fuzz/findings
status=0
for t in "${targets[@]}"; do
  mkdir -p "build/fuzz/new/$t"
  echo "== $t (${seconds}s)"
  if ! (cd build/fuzz/findings &&
        "../tests/fuzz/${t}_fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
          "../new/$t" "../../../tests/fuzz/corpus/$t" 2>&1 |
          grep -E "^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY)"); then
    :
  fi
  if compgen -G "build/fuzz/findings/*" >/dev/null; then status=1; fi
done
if ((status)); then echo "findings in build/fuzz/findings/"; fi
exit $status
