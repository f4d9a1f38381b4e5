#!/usr/bin/env bash
# Side-by-side benchmark: dlock against the peer libraries and the store's own limit,
# on redis-servers this script starts on free loopback ports (and stops by PID).
# Prints one table and writes BENCHMARKS.md. Not part of the tests: it takes minutes.
#   bench/compare.sh [--secs 5] [--rounds 3]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=5
rounds=3
while (($#)); do
  case "$1" in
    --secs) secs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: bench/compare.sh [--secs S] [--rounds N]" >&2; exit 64 ;;
  esac
done

# Build dependencies, plus what the peers need.
scripts/install-deps.sh --test
missing=()
for p in nodejs npm python3-redis redis-tools python3-etcd3 python3-matplotlib; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})) && ! command -v node >/dev/null; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif ((${#missing[@]})); then
  for p in python3-redis redis-tools python3-etcd3 python3-matplotlib; do
    [[ " ${missing[*]} " == *" $p "* ]] && apt-get install -y -qq "$p" >/dev/null
  done
fi
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DDLOCK_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
dlock=build/release/cli/dlock
peers=bench/peers
# The python peers run on Debian's interpreter, the one python3-redis is installed for.
mkdir -p build/peers
[[ -x build/peers/hiredis_pairs && build/peers/hiredis_pairs -nt $peers/raw/hiredis_pairs.c ]] ||
  cc -O2 -o build/peers/hiredis_pairs $peers/raw/hiredis_pairs.c -lhiredis
[[ -d $peers/node/node_modules ]] || (cd $peers/node && npm ci --no-audit --no-fund --silent)

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ports=()
for i in 0 1 2 3 4; do
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    --logfile "$work/redis-$i.log" --dbfilename "dump-$i.rdb" &
  pids+=($!)
  ports+=("$port")
done
for port in "${ports[@]}"; do
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.05; done
done
# etcd and ZooKeeper, for dlock beside python-etcd3's and kazoo's locks.
/usr/bin/python3 bench/coord_stores.py "$work/coord" &
pids+=($!)
until [[ -s $work/coord ]]; do
  kill -0 "${pids[-1]}" 2>/dev/null || { echo "compare: etcd or ZooKeeper did not start" >&2; exit 69; }
  sleep 0.1
done
read -r etcd_port zk_port <"$work/coord"
E="etcd://127.0.0.1:$etcd_port"
Z="zk://127.0.0.1:$zk_port"
P=${ports[0]}
R3="redlock://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
R5="$R3,127.0.0.1:${ports[3]},127.0.0.1:${ports[4]}"
results=build/bench-results.jsonl  # kept, so that bench/report.py can be run again
: >"$results"
flush() { for port in "${ports[@]}"; do redis-cli -p "$port" flushall >/dev/null; done; }

# tag the JSON line a command prints with the workload it measured
run() {  # run WORKLOAD CMD...
  local workload=$1
  shift
  flush
  local line
  if line=$("$@" 2>"$work/err"); then
    python3 -c 'import json,sys; d=json.loads(sys.argv[2]); d["workload"]=sys.argv[1]; print(json.dumps(d))' \
      "$workload" "$(tail -n 1 <<<"$line")" >>"$results"
  else
    echo "compare: $workload failed: $(tail -n 1 "$work/err")" >&2
  fi
}

rb() {  # redis-benchmark rate of one command, as a JSON line
  local name=$1 clients=$2 pipeline=$3
  shift 3
  local rate
  rate=$(redis-benchmark -p "$P" -q -n 200000 -r 1000000 -c "$clients" -P "$pipeline" "$@" |
    grep -oE '[0-9.]+ requests per second' | head -1 | cut -d' ' -f1)
  echo "{\"peer\":\"redis-benchmark $name -c $clients -P $pipeline\",\"ops_per_s\":$rate}"
}

cad_sha=$(redis-cli -p "$P" script load "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end")
for round in $(seq 1 "$rounds"); do
  echo "compare: round $round of $rounds" >&2
  run seq $dlock --backend "redis://127.0.0.1:$P" bench --mode seq --duration "${secs}s" --json
  run seq build/peers/hiredis_pairs --secs "$secs" --port "$P"
  run seq node $peers/node/raw_ioredis_bench.js --secs "$secs" --port "$P" --mode seq
  run seq node $peers/node/redlock_bench.js --secs "$secs" --port "$P" --mode seq
  run seq node $peers/node/semaphore_bench.js --secs "$secs" --port "$P" --mode seq
  run seq /usr/bin/python3 $peers/python/redispy_bench.py --secs "$secs" --port "$P" --mode seq
  run conc256 $dlock --backend "redis://127.0.0.1:$P" bench --mode conc --concurrency 256 --duration "${secs}s" --json
  run conc256 node $peers/node/redlock_bench.js --secs "$secs" --port "$P" --mode conc --conc 256
  run conc256 node $peers/node/semaphore_bench.js --secs "$secs" --port "$P" --mode conc --conc 256
  run conc256 node $peers/node/raw_ioredis_bench.js --secs "$secs" --port "$P" --mode conc --conc 256
  run conc256 /usr/bin/python3 $peers/python/redispy_bench.py --secs "$secs" --port "$P" --mode conc --conc 256
  run contended8 $dlock --backend "redis://127.0.0.1:$P" bench --mode contended --workers 8 --hold 1ms --duration "${secs}s" --json
  run contended8 node $peers/node/redlock_bench.js --secs "$secs" --port "$P" --mode contended --workers 8 --hold 1
  run contended8 node $peers/node/semaphore_bench.js --secs "$secs" --port "$P" --mode contended --workers 8 --hold 1
  run contended8 /usr/bin/python3 $peers/python/redispy_bench.py --secs "$secs" --port "$P" --mode contended --workers 8 --hold 1
  run redlock3 $dlock --backend "$R3" bench --mode seq --duration "${secs}s" --json
  run redlock3 node $peers/node/redlock_bench.js --secs "$secs" --mode redlock --ports "${ports[0]},${ports[1]},${ports[2]}"
  run redlock3-conc256 $dlock --backend "$R3" bench --mode conc --concurrency 256 --duration "${secs}s" --json
  run redlock3-conc256 node $peers/node/redlock_bench.js --secs "$secs" --mode conc --conc 256 --ports "${ports[0]},${ports[1]},${ports[2]}"
  run redlock5 $dlock --backend "$R5" bench --mode seq --duration "${secs}s" --json
  run redlock5 node $peers/node/redlock_bench.js --secs "$secs" --mode redlock --ports "$(IFS=,; echo "${ports[*]}")"
  for store in etcd zk; do
    if [[ $store == etcd ]]; then uri=$E peer=etcd3 ep=127.0.0.1:$etcd_port; else uri=$Z peer=kazoo ep=127.0.0.1:$zk_port; fi
    run "$store-seq" $dlock --backend "$uri" bench --mode seq --duration "${secs}s" --json
    run "$store-seq" /usr/bin/python3 $peers/python/coord_bench.py --peer $peer --endpoint "$ep" --secs "$secs"
    run "$store-contended8" $dlock --backend "$uri" bench --mode contended --workers 8 --processes --hold 1ms --duration "${secs}s" --json
    run "$store-contended8" /usr/bin/python3 $peers/python/coord_bench.py --peer $peer --endpoint "$ep" --secs "$secs" --mode contended --workers 8 --hold 1
    run "$store-hold10k" $dlock --backend "$uri" bench --mode hold --locks 10000 --ttl 10s --duration "$((secs * 4))s" --json
  done
  run hold10k $dlock --backend "redis://127.0.0.1:$P" bench --mode hold --locks 10000 --ttl 10s --duration "$((secs * 4))s" --json
  run limit rb "SET NX PX" 1 1 SET "k:__rand_int__" v NX PX 10000
  run limit rb "EVALSHA" 1 1 EVALSHA "$cad_sha" 1 "k:__rand_int__" v
  run limit rb "SET NX PX" 50 16 SET "k:__rand_int__" v NX PX 10000
  run limit rb "EVALSHA" 50 16 EVALSHA "$cad_sha" 1 "k:__rand_int__" v
done
# Debian's interpreter: the one python3-matplotlib is installed for (the charts).
/usr/bin/python3 bench/report.py "$results" "$secs" "$rounds" \
  "$(redis-server --version | cut -d' ' -f3)" "$(node --version)" --charts bench/charts > BENCHMARKS.md
cat BENCHMARKS.md
