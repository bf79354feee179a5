#!/usr/bin/env bash
# Short fuzzing run of every cargo-fuzz target in fuzz/ (a CI smoke test):
# each target runs FUZZ_SECONDS (default 20) on a scratch copy of its
# committed corpus (fuzz/corpus/<target>/, which is never modified). Any
# crash, failed assertion or timeout fails the script; the input that did it
# is kept under the artifacts directory and named in the summary line.
#
# Installs nothing: needs cargo-fuzz (`cargo install cargo-fuzz --locked`).
# On a stable toolchain RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its
# sanitizer flags.
#
# Environment: FUZZ_SECONDS, FUZZ_TARGETS (space-separated subset),
# CARGO_TARGET_DIR (the fuzz build goes to $CARGO_TARGET_DIR/fuzz, default
# target/fuzz), FUZZ_ARTIFACTS (default $CARGO_TARGET_DIR/fuzz-artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

secs=${FUZZ_SECONDS:-20}
targets=${FUZZ_TARGETS:-"ipc_handshake rb_chunks blackbox_reader log_serializer"}
case $secs in '' | *[!0-9]*) echo "fuzz-smoke: FUZZ_SECONDS must be a number" >&2; exit 2 ;; esac

if ! cargo fuzz --version >/dev/null 2>&1; then
	echo "fuzz-smoke: FAILED: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)" >&2
	exit 1
fi

base=${CARGO_TARGET_DIR:-target}
case $base in /*) ;; *) base=$root/$base ;; esac
export CARGO_TARGET_DIR=$base/fuzz
artifacts=${FUZZ_ARTIFACTS:-$base/fuzz-artifacts}
export RUSTC_BOOTSTRAP=1

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cd "$root/fuzz"
if ! cargo fuzz build >"$scratch/build.log" 2>&1; then
	tail -n 30 "$scratch/build.log" >&2
	echo "fuzz-smoke: FAILED: cargo fuzz build"
	exit 1
fi

summary=() failed=()
for t in $targets; do
	if [ ! -d "corpus/$t" ]; then
		echo "fuzz-smoke: FAILED: no corpus/$t" >&2
		exit 1
	fi
	mkdir -p "$scratch/$t" "$artifacts/$t"
	cp corpus/"$t"/* "$scratch/$t/"
	log=$scratch/$t.log
	status=0
	cargo fuzz run "$t" "$scratch/$t" -- -max_total_time="$secs" -timeout=20 \
		-artifact_prefix="$artifacts/$t/" -print_final_stats=1 >"$log" 2>&1 || status=$?
	# A crashed run cannot clean up the rings it created (named after us).
	rm -f /dev/shm/qb-qbfuzz-* 2>/dev/null || true
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ "$status" != 0 ]; then
		grep -E "panicked at|ERROR: libFuzzer|SUMMARY|^Test unit written" "$log" | head -n 8 >&2 || true
		input=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
		failed+=("$t${input:+ ($input)}")
	else
		summary+=("$t=${runs:-?}")
	fi
done

if [ ${#failed[@]} -ne 0 ]; then
	echo "fuzz-smoke: FAILED: ${failed[*]}; passed: ${summary[*]:-none}"
	exit 1
fi
echo "fuzz-smoke: ok, ${secs}s per target, no crash: ${summary[*]} (executions)"
