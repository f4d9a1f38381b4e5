#!/usr/bin/env bash
# The problem dlock solves, in one command: WORKERS processes sell from one stock of
# ITEMS items. Without a lock they oversell; under `dlock run` they sell exactly ITEMS,
# and each sale carries a strictly increasing fencing token. Then a holder stalls past
# its TTL (its dlock stopped with SIGSTOP while it is in the middle of a sale) and
# writes after the next holders did, before its dlock wakes up to the loss: with the lock only, its late write gets through;
# with the lock and `dlock fence file`, the stock file itself refuses it.
#   examples/stock/demo.sh path/to/dlock [ITEMS] [WORKERS]
set -euo pipefail
dlock="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
items="${2:-20}"
workers="${3:-4}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
stalled=""
cleanup() {
  if [[ -n "$stalled" ]]; then kill -CONT "$stalled" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export DLOCK_BACKEND="file://$work/locks" DLOCK="$dlock"

# open_shop MODE: a fresh stock of $items and an empty ledger in $work/MODE.
open_shop() {
  export SHOP="$work/$1"
  mkdir -p "$SHOP"
  echo "$items" > "$SHOP/stock"
  : > "$SHOP/ledger"
}

# sell_out MODE: the workers sell until the stock is gone.
sell_out() {
  local pids=()
  for w in $(seq 1 "$workers"); do
    WORKER=$w "$here/worker.sh" "$1" "$dlock" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
}

# report: prints "sold final_stock tokens_increasing" for $SHOP.
report() {
  local sold increasing="-"
  sold=$(wc -l < "$SHOP/ledger")
  if [[ "$1" != plain ]]; then
    if awk '{ if (NR > 1 && $2 <= last) bad = 1; last = $2 } END { exit bad }' "$SHOP/ledger"; then
      increasing=yes
    else
      increasing=NO
    fi
  fi
  echo "$sold $(cat "$SHOP/stock") $increasing"
}

run_shop() {
  open_shop "$1"
  sell_out "$1"
  report "$1"
}

# run_stalled MODE (stalled or fenced): one sale stalls past its TTL in the middle; the
# workers sell out meanwhile; then the stalled sale goes on and writes. Prints what
# report prints, and "1" if its late write got into the stock file, else "0".
run_stalled() {
  local mode=$1 fifo
  open_shop "$mode"
  fifo="$SHOP/stall"
  mkfifo "$fifo"
  [[ "$mode" == fenced ]] && export FENCE=1
  WORKER=stalled PAUSE="$fifo" "$dlock" run shop/stock --ttl 1s -- "$here/sell_one.sh" \
    >/dev/null 2>&1 &
  stalled=$!
  until [[ -e "$fifo.reached" ]]; do sleep 0.01; done
  kill -STOP "$stalled"  # renews nothing from now on: its lease runs out in 1 s
  sell_out locked        # the next holders wait for that, then sell everything
  local before
  before=$(cat "$SHOP/stock")
  # The stalled sale goes on with its old token, its write already under way when its
  # dlock wakes up (as after a pause of the whole process, or a delayed request).
  echo go > "$fifo"
  until [[ -e "$fifo.done" ]]; do sleep 0.01; done
  kill -CONT "$stalled"
  wait "$stalled" || true
  stalled=""
  unset FENCE
  local late=0
  [[ "$(cat "$SHOP/stock")" != "$before" ]] && late=1
  echo "$(report "$mode") $late"
}

echo "dlock demo: $workers worker processes sell from one stock of $items items"
echo
read -r plain_sold plain_stock _ < <(run_shop plain)
read -r locked_sold locked_stock locked_tokens < <(run_shop locked)
read -r stalled_sold stalled_stock stalled_tokens stalled_late < <(run_stalled stalled)
read -r fenced_sold fenced_stock fenced_tokens fenced_late < <(run_stalled fenced)

row() { printf '%-26s %16s %16s %16s %16s\n' "$@"; }
row "" "" "" "a holder stalls:" "a holder stalls:"
row "" "without a lock" "with dlock run" "lock only" "lock + fence"
row "items sold" "$plain_sold" "$locked_sold" "$stalled_sold" "$fenced_sold"
row "oversold" "$((plain_sold - items))" "$((locked_sold - items))" \
  "$((stalled_sold - items))" "$((fenced_sold - items))"
row "stock left in the file" "$plain_stock" "$locked_stock" "$stalled_stock" "$fenced_stock"
row "fencing tokens increasing" "-" "$locked_tokens" "$stalled_tokens" "$fenced_tokens"
row "late writes let through" "-" "-" "$stalled_late" "$fenced_late"
echo
if (( locked_sold != items )) || [[ "$locked_tokens" != yes ]]; then
  echo "FAIL: under dlock run the shop must sell exactly $items items with increasing tokens" >&2
  exit 1
fi
if (( fenced_sold != items || fenced_stock != 0 || fenced_late != 0 )) ||
  [[ "$fenced_tokens" != yes ]]; then
  echo "FAIL: with dlock fence the stalled holder's late write must be refused" >&2
  exit 1
fi
if (( plain_sold > items )); then
  echo "Without a lock, read-modify-write races sold $((plain_sold - items)) items that did not exist."
else
  echo "Without a lock the race did not show this time (it usually does); run it again."
fi
echo "Under 'dlock run shop/stock -- ./sell_one.sh' every sale saw the true stock: exactly $items sold."
echo "A holder stalled past its TTL wrote after the others: with the lock only, its late write"
echo "put $stalled_stock items back into a sold-out stock; 'dlock fence file' refused it."
