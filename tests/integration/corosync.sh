#!/usr/bin/env bash
# Integration suite: Debian's unchanged corosync 3.1.7 on libqb-rs.
#
# corosync talks to its tools (cmap, cfg, cpg, quorum, votequorum) only through
# libqb IPC. A one-node cluster on loopback runs in each setup below; the daemon
# and the tools get libqb-rs through LD_LIBRARY_PATH, or Debian's stock libqb.
# /proc/PID/maps (daemon, long-lived tool) and ldd (tools) show which libqb each
# process loaded, and a setup stops if it is not the intended one.
#
#   tests/integration/corosync.sh [LIBDIR]
#     LIBDIR       directory holding our libqb.so.100 (default: target/release)
#     CS_SETUPS    daemon:tools pairs to run, default "ours:ours ours:stock stock:ours";
#                  "stock:stock" checks the suite itself against stock libqb only.
#
# Needs root (corosync locks memory, binds its IPC names) and corosync installed;
# otherwise it says why and exits 0. Ends with "integration: N passed, N failed".
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
STOCK_LIB=/usr/lib/x86_64-linux-gnu/libqb.so.100
SETUPS=${CS_SETUPS:-ours:ours ours:stock stock:ours}
TOOL_TIMEOUT=30   # seconds; only stops a hung tool from hanging the suite
POLL_TRIES=300    # bounded polling: tries x 0.1 s

if [ "$(id -u)" != 0 ]; then
	echo "integration: skipped (corosync needs root)"
	exit 0
fi
if ! command -v corosync >/dev/null || ! command -v corosync-cmapctl >/dev/null; then
	echo "integration: skipped (corosync is not installed)"
	exit 0
fi
if pidof corosync >/dev/null; then
	echo "integration: another corosync is running (pid $(pidof corosync)); refusing to start" >&2
	echo "integration: 0 passed, 1 failed"
	exit 1
fi

ours_dir=$(cd "${1:-$root/target/release}" 2>/dev/null && pwd) || {
	echo "integration: no library directory ${1:-$root/target/release}" >&2
	echo "integration: 0 passed, 1 failed"
	exit 1
}
ours_lib=$(readlink -f "$ours_dir/libqb.so.100")
stock_lib=$(readlink -f "$STOCK_LIB")
if [ ! -f "$ours_lib" ] || [ ! -f "$stock_lib" ] || [ "$ours_lib" = "$stock_lib" ]; then
	echo "integration: need our $ours_dir/libqb.so.100 and stock $STOCK_LIB, distinct" >&2
	echo "integration: 0 passed, 1 failed"
	exit 1
fi

work=$(mktemp -d /tmp/qb-integration.XXXXXX)
passed=0
failed=0
daemon_pid=
tracker_pid=
started_pids=()

cleanup() {
	local pid
	if [ -n "$tracker_pid" ]; then kill -KILL "$tracker_pid" 2>/dev/null; fi
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		kill -TERM "$daemon_pid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$daemon_pid" 2>/dev/null
	fi
	wait 2>/dev/null
	# connection directories of the daemons we ran (a killed daemon leaves them)
	for pid in "${started_pids[@]}"; do rm -rf /dev/shm/qb-"$pid"-*; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { passed=$((passed + 1)); echo "  ok   $1"; }
fail() {
	failed=$((failed + 1))
	echo "  FAIL $1"
	if [ -n "${2:-}" ] && [ -s "$2" ]; then sed 's/^/       | /' "$2" | head -40; fi
}

# Library path a process of kind ours|stock is started with.
libpath() { if [ "$1" = ours ]; then echo "$ours_dir"; else echo ""; fi; }
expected_lib() { if [ "$1" = ours ]; then echo "$ours_lib"; else echo "$stock_lib"; fi; }

# Runs a command with the tools' library: tool CMD ARGS...
tool() {
	local lp
	lp=$(libpath "$tools")
	if [ -n "$lp" ]; then
		LD_LIBRARY_PATH=$lp timeout "$TOOL_TIMEOUT" "$@"
	else
		env -u LD_LIBRARY_PATH timeout "$TOOL_TIMEOUT" "$@"
	fi
}

# check NAME EXPECTED_RC PATTERN CMD ARGS...: the command (run with the tools'
# library) must exit with EXPECTED_RC and print something matching the
# extended regex PATTERN (empty: anything).
check() {
	local name=$1 want_rc=$2 pattern=$3 rc
	shift 3
	tool "$@" >"$work/out" 2>&1
	rc=$?
	if [ "$rc" != "$want_rc" ]; then
		fail "$name (exit $rc, expected $want_rc)" "$work/out"
	elif [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$work/out"; then
		fail "$name (output does not match /$pattern/)" "$work/out"
	else
		pass "$name"
	fi
}

# The libqb file mapped by process PID.
mapped_lib() { grep -m1 -o '/[^ ]*libqb\.so[^ ]*' "/proc/$1/maps" 2>/dev/null; }

# check_maps NAME PID KIND: PID must map exactly one libqb, the KIND one.
check_maps() {
	local name=$1 pid=$2 want got count
	want=$(expected_lib "$3")
	got=$(mapped_lib "$pid")
	count=$(grep -o '/[^ ]*libqb\.so[^ ]*' "/proc/$pid/maps" 2>/dev/null | sort -u | wc -l)
	echo "       $name (pid $pid) maps libqb: ${got:-none}"
	if [ "$(readlink -f "${got:-/nonexistent}")" = "$want" ] && [ "$count" = 1 ]; then
		pass "$name loads the $3 libqb"
	else
		fail "$name loads the $3 libqb ($want)"
	fi
}

# ldd of a tool binary with the tools' library path must resolve the right libqb.
check_ldd() {
	local bin=$1 got lp
	lp=$(libpath "$tools")
	got=$(LD_LIBRARY_PATH=$lp ldd "$(command -v "$bin")" | awk '/libqb\.so/ {print $3}')
	echo "       $bin (ldd) resolves libqb: ${got:-none}"
	if [ "$(readlink -f "${got:-/nonexistent}")" = "$(expected_lib "$tools")" ]; then
		pass "$bin resolves the $tools libqb"
	else
		fail "$bin resolves the $tools libqb"
	fi
}

# Polls (bounded) until `cmd` succeeds; returns 1 if it never does.
poll() {
	local i
	for i in $(seq "$POLL_TRIES"); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

daemon_alive() { kill -0 "$daemon_pid" 2>/dev/null; }
cmap_answers() {
	daemon_alive || return 2
	tool corosync-cmapctl -g totem.cluster_name >/dev/null 2>&1
}
daemon_gone() { ! kill -0 "$daemon_pid" 2>/dev/null; }
tracker_connected() {
	tool corosync-cmapctl -m stats stats.ipcs 2>/dev/null | grep -q "\.$tracker_pid\..*procname"
}
tracker_saw() { grep -q "$1" "$work/track.out"; }

start_daemon() {
	local kind=$1 lp
	mkdir -p "$work/state-$kind"
	sed -e "s|@STATE_DIR@|$work/state-$kind|" -e "s|@LOG_FILE@|$work/corosync-$kind.log|" \
		"$here/corosync.conf.in" >"$work/corosync.conf"
	lp=$(libpath "$kind")
	if [ -n "$lp" ]; then
		LD_LIBRARY_PATH=$lp corosync -f -c "$work/corosync.conf" >"$work/daemon.out" 2>&1 &
	else
		env -u LD_LIBRARY_PATH corosync -f -c "$work/corosync.conf" >"$work/daemon.out" 2>&1 &
	fi
	daemon_pid=$!
	started_pids+=("$daemon_pid")
}

# The cmap tracking case: a long-lived `corosync-cmapctl -T` sees a set and a
# delete made by another tool process.
track_case() {
	local key=$1
	local lp
	lp=$(libpath "$tools")
	mkfifo "$work/track.in"
	# started directly (not through `tool`) so that $! is the tracker itself;
	# stdbuf: its events are printf'd, line buffering lets us see them live
	if [ -n "$lp" ]; then
		LD_LIBRARY_PATH=$lp stdbuf -oL corosync-cmapctl -T "qbit.track.$$" <"$work/track.in" \
			>"$work/track.out" 2>&1 &
	else
		env -u LD_LIBRARY_PATH stdbuf -oL corosync-cmapctl -T "qbit.track.$$" <"$work/track.in" \
			>"$work/track.out" 2>&1 &
	fi
	tracker_pid=$!
	exec 8>"$work/track.in" # keeps the tracker's stdin open until we say q
	if poll tracker_connected; then
		pass "cmapctl -T connects (seen in the stats map)"
	else
		fail "cmapctl -T connects (seen in the stats map)" "$work/track.out"
	fi
	check_maps "corosync-cmapctl -T" "$tracker_pid" "$tools"
	# The tracker registers right after connecting; a set that raced ahead of
	# it is repeated (bounded) until the event shows up.
	local i seen=0
	for i in 1 2 3; do
		tool corosync-cmapctl -s "$key" str "tracked$i" >/dev/null 2>&1
		if poll tracker_saw "tracked$i"; then seen=1; break; fi
	done
	if [ $seen = 1 ] && grep -Eq "^create> $key \(str\) = tracked$i\$" "$work/track.out"; then
		pass "cmapctl -T reports a set of $key"
	else
		fail "cmapctl -T reports a set of $key" "$work/track.out"
	fi
	tool corosync-cmapctl -d "$key" >/dev/null 2>&1
	if poll tracker_saw "^delete> $key "; then
		pass "cmapctl -T reports the delete"
	else
		fail "cmapctl -T reports the delete" "$work/track.out"
	fi
	sed 's/^/       tracker: /' "$work/track.out"
	echo q >&8
	exec 8>&-
	local rc=0
	wait "$tracker_pid" || rc=$?
	tracker_pid=
	rm -f "$work/track.in"
	if [ $rc = 0 ]; then pass "cmapctl -T exits on q"; else fail "cmapctl -T exits on q (exit $rc)" "$work/track.out"; fi
}

run_setup() {
	local daemon=$1
	tools=$2
	echo "== corosync daemon on $daemon libqb, tools on $tools libqb"
	start_daemon "$daemon"
	if ! poll cmap_answers; then
		fail "daemon starts and cmap answers" "$work/daemon.out"
		tail -20 "$work/corosync-$daemon.log" 2>/dev/null | sed 's/^/       | /'
		kill -KILL "$daemon_pid" 2>/dev/null
		wait "$daemon_pid" 2>/dev/null
		daemon_pid=
		return
	fi
	pass "daemon starts and cmap answers"
	check_maps "corosync daemon" "$daemon_pid" "$daemon"
	check_ldd corosync-cmapctl
	check_ldd corosync-cfgtool
	check_ldd corosync-quorumtool
	check_ldd corosync-cpgtool

	local k="qbit.key.$$"
	check "cmapctl -g cluster name" 0 '^totem\.cluster_name \(str\) = qbitest$' \
		corosync-cmapctl -g totem.cluster_name
	check "cmapctl -g nodelist address" 0 '^nodelist\.node\.0\.ring0_addr \(str\) = 127\.0\.0\.1$' \
		corosync-cmapctl -g nodelist.node.0.ring0_addr
	check "cmapctl -s str" 0 '' corosync-cmapctl -s "$k.s" str "hello from libqb-rs"
	check "cmapctl -g str" 0 "^$k\.s \(str\) = hello from libqb-rs\$" corosync-cmapctl -g "$k.s"
	check "cmapctl -s u32" 0 '' corosync-cmapctl -s "$k.n" u32 4242
	check "cmapctl -g u32" 0 "^$k\.n \(u32\) = 4242\$" corosync-cmapctl -g "$k.n"
	check "cmapctl -s u64" 0 '' corosync-cmapctl -s "$k.i" u64 9000000000
	check "cmapctl -g u64" 0 "^$k\.i \(u64\) = 9000000000\$" corosync-cmapctl -g "$k.i"
	# a 12000-byte value: multi-KB IPC requests and responses both ways
	printf 'qb%05d.' $(seq 0 1499) >"$work/blob"
	check "cmapctl -s bin (12000 bytes)" 0 '' corosync-cmapctl -s "$k.b" bin "$work/blob"
	check "cmapctl -b -g bin" 0 "^$k\.b \(bin\) = $(cat "$work/blob")\$" corosync-cmapctl -b -g "$k.b"
	check "cmapctl prefix listing" 0 "^$k\.n \(u32\) = 4242\$" corosync-cmapctl "$k"
	check "cmapctl -d" 0 '' corosync-cmapctl -d "$k.s"
	check "cmapctl -g after -d fails" 1 'CS_ERR_NOT_EXIST' corosync-cmapctl -g "$k.s"
	check "cmapctl -D prefix" 0 '' corosync-cmapctl -D "$k"
	check "cmapctl prefix gone" 0 '' bash -c "! corosync-cmapctl '$k' | grep -q ."
	check "cmapctl full dump" 0 '^runtime\.' corosync-cmapctl
	check "cmapctl stats map" 0 '^stats\.ipcs\.global\.active \(u64\) = ' \
		corosync-cmapctl -m stats stats.ipcs.global
	track_case "qbit.track.$$.key"
	check "cfgtool -s" 0 'Local node ID 1' corosync-cfgtool -s
	check "cfgtool -s link" 0 'addr[[:space:]]*= 127\.0\.0\.1' corosync-cfgtool -s
	check "quorumtool -s quorate" 0 '^Quorate:[[:space:]]+Yes' corosync-quorumtool -s
	check "quorumtool -s votes" 0 '^Total votes:[[:space:]]+1' corosync-quorumtool -s
	check "quorumtool -l" 0 'node1 \(local\)' corosync-quorumtool -l
	check "cpgtool" 0 '^Group Name' corosync-cpgtool
	check "cfgtool -H shuts the daemon down" 0 'Shutting down corosync' corosync-cfgtool -H
	if poll daemon_gone; then
		local rc=0
		wait "$daemon_pid" || rc=$?
		if [ $rc = 0 ]; then pass "daemon exits cleanly"; else fail "daemon exits cleanly (exit $rc)" "$work/daemon.out"; fi
	else
		fail "daemon exits after cfgtool -H" "$work/daemon.out"
	fi
	if ls /dev/shm | grep -q "^qb-$daemon_pid-"; then
		fail "no /dev/shm connection directories left" /dev/null
		ls -la /dev/shm | grep "qb-$daemon_pid-" | sed 's/^/       | /'
	else
		pass "no /dev/shm connection directories left"
	fi
	daemon_pid=
}

echo "integration: ours $ours_lib, stock $stock_lib"
for setup in $SETUPS; do
	run_setup "${setup%%:*}" "${setup##*:}"
done
echo "integration: $passed passed, $failed failed"
[ "$failed" = 0 ]
