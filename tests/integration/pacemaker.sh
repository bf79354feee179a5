#!/usr/bin/env bash
# Smoke check: Debian's pacemaker 2.1.5 daemons on libqb-rs.
#
# Pacemaker's six daemons talk to each other and to corosync only through
# libqb IPC (on glib main loops, through qb_ipcs_poll_handlers_set). A
# one-node corosync plus pacemakerd run on our library (LD_LIBRARY_PATH); the
# node must come online, a Dummy resource must start, the CPG groups must
# show, and everything must shut down cleanly.
#
#   tests/integration/pacemaker.sh [LIBDIR]     (default LIBDIR: target/release)
#
# Needs root and the pacemaker, pacemaker-cli-utils and corosync packages;
# otherwise says why and exits 0. Ends with "pacemaker: N passed, N failed".
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
POLL_TRIES=600 # bounded polling: tries x 0.1 s

if [ "$(id -u)" != 0 ]; then echo "pacemaker: skipped (needs root)"; exit 0; fi
for b in corosync pacemakerd crm_mon cibadmin crm_attribute; do
	command -v "$b" >/dev/null || { echo "pacemaker: skipped ($b is not installed)"; exit 0; }
done
if pidof corosync pacemakerd >/dev/null; then
	echo "pacemaker: corosync or pacemakerd already running; refusing to start" >&2
	echo "pacemaker: 0 passed, 1 failed"
	exit 1
fi
lib_dir=$(cd "${1:-$root/target/release}" && pwd) || exit 1
our_lib=$(readlink -f "$lib_dir/libqb.so.100")
export LD_LIBRARY_PATH=$lib_dir

work=$(mktemp -d /tmp/qb-pacemaker.XXXXXX)
passed=0 failed=0 cs_pid= pm_pid=
cib_dir=/var/lib/pacemaker/cib pe_dir=/var/lib/pacemaker/pengine
# The run starts from an empty CIB; whatever was there is put back afterwards.
mkdir -p "$work/cib-saved"
if [ -d "$cib_dir" ]; then cp -a "$cib_dir/." "$work/cib-saved/" && find "$cib_dir" -mindepth 1 -delete; fi
ls -A "$pe_dir" >"$work/pe-before" 2>/dev/null

# Removes the files this run added to a pacemaker state directory.
remove_new() {
	local dir=$1 before=$2 f
	[ -d "$dir" ] || return 0
	for f in $(ls -A "$dir"); do grep -qxF "$f" "$before" || rm -f "$dir/$f"; done
}
restore_cib() {
	[ -d "$cib_dir" ] || return 0
	find "$cib_dir" -mindepth 1 -delete
	cp -a "$work/cib-saved/." "$cib_dir/"
}
cleanup() {
	local p
	[ -n "$pm_pid" ] && kill -TERM "$pm_pid" 2>/dev/null
	for _ in $(seq 300); do pgrep -f '^/usr/lib/pacemaker/pacemaker-|^pacemakerd' >/dev/null || break; sleep 0.1; done
	for p in $(pgrep -f '^/usr/lib/pacemaker/pacemaker-|^pacemakerd'); do kill -KILL "$p"; done
	if [ -n "$cs_pid" ] && kill -0 "$cs_pid" 2>/dev/null; then
		kill -TERM "$cs_pid"
		for _ in $(seq 100); do kill -0 "$cs_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$cs_pid" 2>/dev/null
	fi
	wait 2>/dev/null
	[ -n "$cs_pid" ] && rm -rf /dev/shm/qb-"$cs_pid"-*
	restore_cib
	remove_new "$pe_dir" "$work/pe-before"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { passed=$((passed + 1)); echo "  ok   $1"; }
fail() { failed=$((failed + 1)); echo "  FAIL $1"; [ -n "${2:-}" ] && [ -s "$2" ] && sed 's/^/       | /' "$2" | tail -30; }
poll() { local i; for i in $(seq "$POLL_TRIES"); do "$@" && return 0; sleep 0.1; done; return 1; }
expect() { # NAME PATTERN CMD...: exit 0 and output matching PATTERN
	local name=$1 pattern=$2; shift 2
	if timeout 60 "$@" >"$work/out" 2>&1 && { [ -z "$pattern" ] || grep -Eq -- "$pattern" "$work/out"; }; then
		pass "$name"
	else
		fail "$name" "$work/out"
	fi
}
mon_shows() { timeout 30 crm_mon -1 2>/dev/null | grep -Eq "$1"; }
cmap_answers() { kill -0 "$cs_pid" 2>/dev/null && corosync-cmapctl -g totem.cluster_name >/dev/null 2>&1; }
pcmk_gone() { ! pgrep -f '^/usr/lib/pacemaker/pacemaker-|^pacemakerd' >/dev/null; }
cs_gone() { ! kill -0 "$cs_pid" 2>/dev/null; }

echo "== pacemaker and corosync daemons on $our_lib"
mkdir -p "$work/state"
sed -e "s|@STATE_DIR@|$work/state|" -e "s|@LOG_FILE@|$work/corosync.log|" \
	"$here/corosync.conf.in" >"$work/corosync.conf"
corosync -f -c "$work/corosync.conf" >"$work/corosync.out" 2>&1 &
cs_pid=$!
if poll cmap_answers; then pass "corosync starts"; else fail "corosync starts" "$work/corosync.out"; echo "pacemaker: $passed passed, $failed failed"; exit 1; fi
PCMK_logfile=$work/pacemaker.log pacemakerd --foreground >"$work/pacemakerd.out" 2>&1 &
pm_pid=$!
if poll mon_shows 'Online: \[ node1 \]'; then pass "node1 comes online"; else fail "node1 comes online" "$work/pacemaker.log"; fi

for d in corosync pacemakerd pacemaker-based pacemaker-fenced pacemaker-execd pacemaker-attrd \
	pacemaker-schedulerd pacemaker-controld; do
	pid=$(pgrep -o -f "^(/usr/lib/pacemaker/|/usr/sbin/)?$d( |$)")
	got=$(grep -m1 -o '/[^ ]*libqb\.so[^ ]*' "/proc/${pid:-0}/maps" 2>/dev/null)
	echo "       $d (pid ${pid:-none}) maps libqb: ${got:-none}"
	if [ -n "$got" ] && [ "$(readlink -f "$got")" = "$our_lib" ]; then pass "$d runs on our libqb"; else fail "$d runs on our libqb"; fi
done

expect "crm_mon: DC elected with quorum" 'Current DC: node1 .*partition with quorum' crm_mon -1
expect "crm_attribute sets stonith-enabled" '' crm_attribute -n stonith-enabled -v false
expect "crm_attribute reads it back" 'name=stonith-enabled value=false' crm_attribute -n stonith-enabled -G
expect "cibadmin adds a Dummy resource" '' cibadmin -C -o resources \
	-X '<primitive id="qbit-dummy" class="ocf" provider="pacemaker" type="Dummy"/>'
if poll mon_shows 'qbit-dummy.*Started node1'; then pass "the resource starts"; else fail "the resource starts" "$work/pacemaker.log"; fi
expect "cibadmin -Q shows it" 'primitive id="qbit-dummy"' cibadmin -Q
expect "corosync-cpgtool lists pacemaker's groups" 'crmd' corosync-cpgtool
expect "corosync-cpgtool lists the cib group" 'cib' corosync-cpgtool
expect "cibadmin removes the resource" '' cibadmin -D -o resources -X '<primitive id="qbit-dummy"/>'
if poll mon_shows 'No active resources|No resources'; then pass "the resource is gone"; else fail "the resource is gone"; fi

kill -TERM "$pm_pid"
if poll pcmk_gone; then
	rc=0; wait "$pm_pid" || rc=$?
	if [ $rc = 0 ]; then pass "pacemaker shuts down cleanly"; else fail "pacemaker shuts down cleanly (exit $rc)" "$work/pacemakerd.out"; fi
else
	fail "pacemaker shuts down" "$work/pacemaker.log"
fi
pm_pid=
expect "corosync-cfgtool -H" 'Shutting down corosync' corosync-cfgtool -H
if poll cs_gone; then pass "corosync exits"; else fail "corosync exits"; fi
if ls /dev/shm | grep -q "^qb-$cs_pid-"; then fail "no /dev/shm directories of corosync left"; else pass "no /dev/shm directories of corosync left"; fi
echo "pacemaker: $passed passed, $failed failed"
[ "$failed" = 0 ]
