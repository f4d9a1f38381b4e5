#!/usr/bin/env bash
# Sells one item: read the stock, take a payment (a short pause), write the stock back,
# and record the sale in the ledger. A classic read-modify-write: safe only under a lock.
# Exit 3 when sold out.
#   FENCE=1: the write goes through `dlock fence file` (DLOCK is the dlock binary), so
#            that the stock file itself refuses a holder whose token is stale (exit 77).
#   PAUSE=F: after reading the stock, wait until a line can be read from the FIFO F
#            (the demo's holder that stalls past its TTL); F.reached says it got there,
#            F.done that it ended.
set -eu
stock_file="$SHOP/stock"
n=$(cat "$stock_file")
if (( n <= 0 )); then exit 3; fi
if [[ -n "${PAUSE:-}" ]]; then
  trap ': > "$PAUSE.done"' EXIT
  : > "$PAUSE.reached"
  read -r _ < "$PAUSE"
fi
sleep 0.005                       # the payment provider takes a moment
if [[ "${FENCE:-}" == 1 ]]; then
  "$DLOCK" fence file "$stock_file" -- echo $((n - 1)) 2>/dev/null
else
  echo $((n - 1)) > "$stock_file"
fi
echo "$WORKER ${DLOCK_FENCING_TOKEN:--}" >> "$SHOP/ledger"
