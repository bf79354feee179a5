#!/usr/bin/env bash
# Gate: a build with panic = "unwind" must be refused at compile time (src/lib.rs),
# so no configuration can let a Rust panic unwind into C callers.
set -uo pipefail
out=$(cargo check --profile unwind-probe --lib --locked 2>&1)
if [ $? -eq 0 ]; then
	echo "panic-guard: FAIL: a panic = \"unwind\" build compiled"
	exit 1
fi
if ! grep -q 'must be built with panic = \\"abort\\"' <<<"$out"; then
	echo "$out" | tail -20
	echo "panic-guard: FAIL: the unwind build failed for another reason"
	exit 1
fi
echo "panic-guard: PASS (panic = \"unwind\" is refused at compile time)"
