#!/usr/bin/env bash
# Prints the closing line of `make check` from the logs of its steps:
# Rust tests ("test result: ok. N passed; F failed"), Check programs
# ("Checks: N, Failures: F, Errors: E") and the gates ("abi-...: PASS", "panic-guard: PASS").
set -euo pipefail
logs=${1:-target/check-logs}
passed=0 failed=0
while read -r p f; do passed=$((passed + p)); failed=$((failed + f)); done < <(
	cat "$logs"/*.log | sed -n 's/.*test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p'
)
while read -r n f e; do
	passed=$((passed + n - f - e)); failed=$((failed + f + e))
done < <(cat "$logs"/*.log | sed -n 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p')
gates=$(cat "$logs"/*.log | grep -c -E '^(abi-[a-z]+|panic-guard): PASS' || true)
passed=$((passed + gates))
echo "make check: $passed passed, $failed failed"
