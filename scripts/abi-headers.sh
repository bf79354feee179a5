#!/usr/bin/env bash
# ABI gate for the headers.
#  1. Prototype equivalence: one C translation unit includes Debian's stock headers
#     and then every prototype our headers declare (the cbindgen regions and the
#     hand-written prototype blocks). C rejects a conflicting redeclaration, so it
#     compiles only if every signature matches libqb's.
#  2. Our headers compile as C99, C11, gnu11 and C++ with -Wall -Wextra -pedantic.
set -euo pipefail
stock=$(scripts/stock-headers.sh)
work=${CARGO_TARGET_DIR:-target}/abi; mkdir -p "$work"
cc=${CC:-gcc} cxx=${CXX:-g++}

# Prototype blocks only: struct/enum bodies in generated regions are skipped here
# (their layout is checked by abi-layout.sh).
{
	for h in include/qb/*.h; do
		awk '
			/@generated-begin|@prototypes-begin/ { inblock = 1; next }
			/@generated-end|@prototypes-end/ { inblock = 0; next }
			!inblock { next }
			/^(extern )?(const )?(typedef )?(struct|enum|union)[^;]*\{[[:space:]]*$/ {
				body = 1; head = $0; sub(/[[:space:]]*\{.*/, "", head); next
			}
			body {
				if ($0 ~ /^}.*;[[:space:]]*$/) {
					body = 0
					# "extern const struct x { ... } var;" keeps its declaration.
					decl = $0; sub(/^}[[:space:]]*/, "", decl)
					if (head ~ /^extern/ && decl != ";") print head " " decl
				}
				next
			}
			{ print }
		' "$h"
	done
} > "$work/ours-prototypes.h"

{
	for h in "$stock"/qb/*.h; do echo "#include <qb/$(basename "$h")>"; done
	# The atomic get/set macros would expand inside our prototypes.
	for m in qb_atomic_int_get qb_atomic_int_set qb_atomic_pointer_get qb_atomic_pointer_set; do
		echo "#undef $m"
	done
	echo '#include "ours-prototypes.h"'
} > "$work/prototypes.c"
$cc -std=gnu11 -Wall -Wextra -Werror -I"$stock" -I"$work" -c "$work/prototypes.c" -o "$work/prototypes.o"
echo "abi-headers: $(grep -c '(' "$work/ours-prototypes.h") prototype lines match the stock headers"

{
	for h in include/qb/*.h; do echo "#include <qb/$(basename "$h")>"; done
	echo 'int main(void) { return 0; }'
} > "$work/all-headers.c"
for std in c99 c11 gnu11; do
	$cc -std=$std -pedantic -Wall -Wextra -Werror -Iinclude -c "$work/all-headers.c" -o /dev/null
done
cp "$work/all-headers.c" "$work/all-headers.cc"
$cxx -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -c "$work/all-headers.cc" -o /dev/null
echo "abi-headers: PASS (headers compile as c99, c11, gnu11, c++11)"
