#!/usr/bin/env bash
# ABI gate: struct sizes, alignments, offsets and constant values seen through our
# headers equal those seen through Debian's stock headers (c-tests/abi/layout.c).
# Rust const asserts in src/ffi/*.rs pin the same numbers on the Rust side.
set -euo pipefail
stock=$(scripts/stock-headers.sh)
work=${CARGO_TARGET_DIR:-target}/abi; mkdir -p "$work"
cc=${CC:-gcc}
have=()
for h in include/qb/*.h; do
	name=$(basename "$h" .h | tr '[:lower:]' '[:upper:]')
	have+=("-DQB_HAVE_${name}_H")
done
$cc -std=gnu11 -Wall -Wextra -Werror "${have[@]}" -Iinclude c-tests/abi/layout.c -o "$work/layout-ours"
$cc -std=gnu11 -Wall -Wextra -Werror "${have[@]}" -I"$stock" c-tests/abi/layout.c -o "$work/layout-stock"
"$work/layout-ours" > "$work/layout-ours.txt"
"$work/layout-stock" > "$work/layout-stock.txt"
if ! diff -u "$work/layout-stock.txt" "$work/layout-ours.txt"; then
	echo "abi-layout: FAIL: layouts or constants differ from stock (diff above: - stock, + ours)"
	exit 1
fi
echo "abi-layout: PASS ($(wc -l < "$work/layout-ours.txt") sizes, offsets and constants match stock)"
