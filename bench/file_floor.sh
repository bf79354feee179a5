#!/bin/sh
# Compares the cost of one logged file line with the cost of the bare
# write(2) that carries it, for our build and for stock libqb.
# Usage: bench/file_floor.sh OUR_PREFIX STOCK_PREFIX [DIR] [ROUNDS]
# (prefixes as made by `make install PREFIX=...`; DIR defaults to /tmp).
# Prints per round: ns per bare write, ns per line on each library, and
# stock / ours (the perf harness's log.file ratio) next to the best ratio
# any logger making one write per line could reach (stock / bare write).
set -eu
ours=$1
stock=$2
dir=${3:-/tmp}
rounds=${4:-5}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
src=$(dirname "$0")/file_floor.c
cc -O2 -Wall -Wextra -Werror -I"$ours/include" "$src" -L"$ours/lib" -lqb \
	-o "$bin/ours"
cc -O2 -I"$stock/include" "$src" -L"$stock/lib" -lqb -o "$bin/stock"
i=0
while [ "$i" -lt "$rounds" ]; do
	LD_LIBRARY_PATH="$ours/lib" "$bin/ours" "$dir" >"$bin/a"
	LD_LIBRARY_PATH="$stock/lib" "$bin/stock" "$dir" >"$bin/b"
	awk 'FNR == NR { a[$1] = $2; next } { b[$1] = $2 }
	     END { printf "write %.0f ns  ours %.0f ns  stock %.0f ns  " \
	           "stock/ours %.2f  stock/write %.2f\n", (a["write"] + b["write"]) / 2,
	           a["qb_log"], b["qb_log"], b["qb_log"] / a["qb_log"],
	           b["qb_log"] / ((a["write"] + b["write"]) / 2) }' "$bin/a" "$bin/b"
	i=$((i + 1))
done
