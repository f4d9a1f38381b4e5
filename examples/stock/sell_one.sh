#!/usr/bin/env bash
# Sells one item: read the stock, take a payment (a short pause), write the stock back,
# and record the sale in the ledger. A classic read-modify-write: safe only under a lock.
# Exit 3 when sold out.
set -eu
stock_file="$SHOP/stock"
n=$(cat "$stock_file")
if (( n <= 0 )); then exit 3; fi
sleep 0.005                       # the payment provider takes a moment
echo $((n - 1)) > "$stock_file"
echo "$WORKER ${DLOCK_FENCING_TOKEN:--}" >> "$SHOP/ledger"
