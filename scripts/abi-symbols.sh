#!/usr/bin/env bash
# ABI gate: the dynamic symbols of the built library.
#   - SONAME is libqb.so.100;
#   - every exported symbol is one of libqb's public names (abi/public-symbols.tsv),
#     none of the internal names stock libqb leaks, nothing Rust-internal;
#   - every public symbol of a header listed in abi/complete-headers.txt is exported
#     and declared in our include/qb/<header>;
#   - the data objects keep their ABI sizes (qb_ver 16 bytes, qb_ver_str 8 bytes).
# Prints the public symbols not implemented yet, per header.
set -euo pipefail
so=$1 public=$2 internal=$3
complete=abi/complete-headers.txt
fail=0
err() { echo "abi-symbols: FAIL: $*"; fail=1; }

soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libqb.so.100 ] || err "SONAME is '$soname', want libqb.so.100"

exported=$(nm -D --defined-only "$so" | awk '{print $3}' | sort -u)
public_names=$(cut -f1 "$public" | sort -u)

extra=$(comm -23 <(echo "$exported") <(echo "$public_names"))
[ -z "$extra" ] || err "exported but not libqb public API: $(echo $extra)"
leaked=$(comm -12 <(echo "$exported") <(sort -u "$internal"))
[ -z "$leaked" ] || err "exports stock libqb's internal names: $(echo $leaked)"

while read -r header; do
	[ -n "$header" ] || continue
	[ -f "include/qb/$header" ] || { err "include/qb/$header missing"; continue; }
	for sym in $(awk -F'\t' -v h="$header" '$2 == h {print $1}' "$public"); do
		grep -qx "$sym" <<<"$exported" || err "$header: $sym not exported"
		grep -qw "$sym" "include/qb/$header" || err "$header: $sym not declared in include/qb/$header"
	done
done < "$complete"

dynsym_size() { readelf -W --dyn-syms "$so" | awk -v s="$1" '$8 == s {print $3}'; }
[ "$(dynsym_size qb_ver)" = 16 ] || err "qb_ver size $(dynsym_size qb_ver), want 16"
[ "$(dynsym_size qb_ver_str)" = 8 ] || err "qb_ver_str size $(dynsym_size qb_ver_str), want 8"

have=$(comm -12 <(echo "$exported") <(echo "$public_names") | wc -l)
total=$(echo "$public_names" | wc -l)
echo "abi-symbols: $have of $total public libqb symbols exported"
missing=$(comm -13 <(echo "$exported") <(echo "$public_names"))
if [ -n "$missing" ]; then
	echo "abi-symbols: not implemented yet, per header:"
	for sym in $missing; do awk -F'\t' -v s="$sym" '$1 == s {print $2}' "$public"; done |
		sort | uniq -c | awk '{printf "  %-16s %3d missing\n", $2, $1}'
fi
[ $fail = 0 ] && echo "abi-symbols: PASS"
exit $fail
