#!/usr/bin/env bash
# One shop server: sells until sold out, with or without the lock.
#   worker.sh plain            read-modify-write with no lock
#   worker.sh locked DLOCK     each sale under `dlock run shop/stock`
set -u
here="$(cd "$(dirname "$0")" && pwd)"
while true; do
  if [[ "$1" == locked ]]; then
    "$2" run shop/stock --wait 30s -- "$here/sell_one.sh"
  else
    "$here/sell_one.sh"
  fi
  status=$?
  if (( status == 3 )); then exit 0; fi
  if (( status != 0 )); then echo "worker $WORKER: sale failed with $status" >&2; exit 1; fi
done
