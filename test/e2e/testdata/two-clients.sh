#!/bin/bash
# Two kernel NFS clients on one file system at once. TestKernelNFS boots two
# VMs (each its own NFS client, possibly of different minor versions) that
# run this script together in the same directory of the mount, as client a
# and client b. They take turns through marker files in /out/sync, a share
# of the host (9p without caching), so that every step waits for the other
# client's step and never for a timer.
#
# What they check, each between the two clients:
#   flock        exclusion (a held lock refuses -n), and what the holder
#                wrote under the lock is what the next holder reads;
#   fcntl        byte ranges held by a: conflicting ranges refused, shared
#                read ranges and free ranges granted, F_GETLK reports a's
#                range; all free once a releases;
#   counter      read-increment-write of one file under flock, N times by
#                each client: the result is exactly 2N;
#   close-to-open  a file written and closed by one client reads back
#                whole on the other, also when it is rewritten in place with
#                the same size;
#   namespace    a file created, renamed and removed by one client is found,
#                moved and gone on the other;
#   restart      shelfd killed (SIGKILL) and started while a holds a lock and
#                has unsynced writes: a's lock is reclaimed, b still refused,
#                no byte a wrote is lost.
#
# Settings (environment): E2E_CLIENT (a or b), E2E_DIR (the directory
# shared by the two clients), E2E_COUNT (increments per client, default 30),
# E2E_RESTART (1: the restart step, the test restarting shelfd when a
# reaches crash-ready and creating host-restarted).
# Output as kernel-workload.sh: "E2E-OK …" / "E2E-FAIL …" lines, then
# "E2E-DONE two fails=<n>".
set -u
export LC_ALL=C

ME=${E2E_CLIENT:?E2E_CLIENT}
D=${E2E_DIR:?E2E_DIR}
COUNT=${E2E_COUNT:-30}
RESTART=${E2E_RESTART:-0}
TOOL=/in/guesttool
SYNC=${KNFS_OUT_DIR:-/out}/sync
PHASE=two
. /in/checks.sh

case $ME in
a) OTHER=b ;;
b) OTHER=a ;;
*)
	echo "E2E_CLIENT must be a or b" >&2
	exit 2
	;;
esac
mkdir -p "$SYNC"

# flock_range FILE NAME WANT OP TYPE START LEN: guesttool lockchild on FILE
# (a byte-range lock in a process of its own) must exit WANT (0 granted, 1
# conflict).
flock_range() {
	local file=$1 name=$2 want=$3 out rc
	shift 3
	out=$("$TOOL" lockchild "$file" "$@" 2>&1)
	rc=$?
	if [ "$rc" = "$want" ]; then ok "$name"; else bad "$name: exit $rc, want $want $out"; fi
}

# signal NAME: this client reached NAME. await NAME: wait for the other
# client's NAME; await_host NAME: wait for the test's (host-NAME). Both wait
# at most 10 minutes (software emulation is slow) and give up once the
# other side has ended (the test creates OTHER-ended when a VM is gone, and
# host-ended when its part is done).
signal() { : >"$SYNC/$ME-$1"; }
await() { wait_mark "$OTHER" "client $OTHER" "$1"; }
await_host() { wait_mark host "the test" "$1"; }
# wait_mark SIDE WHO NAME: wait for SIDE-NAME, unless SIDE-ended comes
# first (NAME may come just before the end: look again).
wait_mark() {
	local i
	for i in $(seq 6000); do
		[ -e "$SYNC/$1-$3" ] && return 0
		if [ -e "$SYNC/$1-ended" ] && [ ! -e "$SYNC/$1-$3" ]; then
			bad "$2 ended before $3"
			done_phase
		fi
		sleep 0.1
	done
	bad "$2 never reached $3"
	done_phase
}

# The shared directory: a creates it, b waits for it.
if [ "$ME" = a ]; then
	mkdir -p "$D" && : >"$D/flock-file" && : >"$D/fcntl-file" && echo 0 >"$D/counter"
	signal ready
else
	await ready
fi
cd "$D" || {
	bad "cannot enter $D"
	done_phase
}
signal ready

# ------------------------------------------------------------------ flock
if [ "$ME" = a ]; then
	check "flock: hold while the other client tries" \
		flock -x flock-file -c "echo written-by-a-under-lock >owner; : >'$SYNC/a-holds'; \
			for i in \$(seq 6000); do [ -e '$SYNC/b-tried' ] && exit 0; sleep 0.1; done; exit 1"
else
	await holds
	refuse "flock: an exclusive lock held by client a refuses -x -n" flock -n -x flock-file true
	refuse "flock: and refuses -s -n" flock -n -s flock-file true
	signal tried
	eq "flock: the next holder reads what the last one wrote under the lock" \
		"$(flock -x -w 300 flock-file cat owner)" "written-by-a-under-lock"
fi

# ------------------------------------------------------------------ fcntl
if [ "$ME" = a ]; then
	check "fcntl: hold w[0,100) and r[200,300)" \
		"$TOOL" lockhold fcntl-file "$SYNC/a-ranges" "$SYNC/b-ranges-done" w:0:100 r:200:100
	signal ranges-released
else
	await ranges
	lock() { flock_range fcntl-file "fcntl: $1" "${@:2}"; }
	lock "write into a's write range refused" 1 set w 50 10
	lock "read into a's write range refused" 1 set r 99 1
	lock "read inside a's read range granted" 0 set r 200 10
	lock "write into a's read range refused" 1 set w 250 10
	lock "the gap between a's ranges granted" 0 set w 100 100
	lock "past a's ranges granted" 0 set w 300 1000
	eq "fcntl: F_GETLK reports a's write range" "$("$TOOL" lockchild fcntl-file get w 10 5 2>&1)" "w 0 100"
	eq "fcntl: F_GETLK on a free range" "$("$TOOL" lockchild fcntl-file get w 150 5 2>&1)" "none"
	signal ranges-done
	await ranges-released
	lock "everything free once a released" 0 set w 0 0
fi

# ---------------------------------------------------------------- counter
signal counting
await counting
for _ in $(seq "$COUNT"); do
	flock -x flock-file -c 'n=$(cat counter); echo $((n + 1)) >counter'
done
signal counted
await counted
eq "counter: $COUNT increments by each client under flock" "$(flock -s flock-file cat counter)" "$((2 * COUNT))"

# ---------------------------------------------------------- close-to-open
# a writes data-a, b reads it; then a rewrites it in place (same size, same
# second) and b, which has the first version cached, must read the second.
if [ "$ME" = a ]; then
	dd if=/dev/urandom of=data-a bs=64k count=24 2>/dev/null
	sha256sum <data-a | cut -d' ' -f1 >"$SYNC/sum1"
	signal wrote
	await read
	dd if=/dev/urandom of=data-a bs=64k count=24 conv=notrunc 2>/dev/null
	sha256sum <data-a | cut -d' ' -f1 >"$SYNC/sum2"
	signal rewrote
	await reread
else
	await wrote
	eq "close-to-open: a file written by a" "$(sha256sum <data-a | cut -d' ' -f1)" "$(cat "$SYNC/sum1")"
	signal read
	await rewrote
	eq "close-to-open: the same file rewritten in place by a" "$(sha256sum <data-a | cut -d' ' -f1)" "$(cat "$SYNC/sum2")"
	signal reread
fi

# -------------------------------------------------------------- namespace
if [ "$ME" = b ]; then
	mkdir ns && echo one >ns/first
	signal created
	await renamed
	# A client may keep using a name it has cached until it revalidates the
	# directory (an NFSv4.1 client then opens by file handle): drop it.
	drop_caches
	refuse "namespace: the name renamed by a is gone" cat ns/first
	eq "namespace: the new name has the content" "$(cat ns/second 2>&1)" "one"
	rm ns/second && rmdir ns
	signal removed
else
	await created
	eq "namespace: a file created by b" "$(cat ns/first 2>&1)" "one"
	check "namespace: rename it" mv ns/first ns/second
	signal renamed
	await removed
	drop_caches
	refuse "namespace: the file removed by b is gone" cat ns/second
	refuse "namespace: so is its directory" rmdir ns
fi

# ---------------------------------------------------------------- restart
# With E2E_RESTART=1 the test kills shelfd (SIGKILL) once a has a lock, a
# file open with unsynced writes and synced ones, and starts it again. Both
# clients go on: a's lock is reclaimed (b is still refused), every byte a
# wrote (synced, cached or in flight) is in the file.
if [ "$RESTART" = 1 ]; then
	if [ "$ME" = a ]; then
		head -c $((6 << 20)) /dev/urandom >/tmp/src
		: >crash-lock
		"$TOOL" lockhold crash-lock "$SYNC/a-crash-held" "$SYNC/b-crash-checked" w:0:1000 &
		holder=$!
		wait_mark a "the lock holder" crash-held
		dd if=/tmp/src of=wdata bs=1M count=2 conv=fsync 2>/dev/null
		dd if=/tmp/src of=wdata bs=1M skip=2 seek=2 count=2 conv=notrunc 2>/dev/null
		signal crash-ready
		await_host restarted
		check "restart: writes after the restart" \
			dd if=/tmp/src of=wdata bs=1M skip=4 seek=4 count=2 conv=notrunc,fsync
		drop_caches
		eq "restart: synced, cached and later writes all in the file" \
			"$(sha256sum <wdata | cut -d' ' -f1)" "$(sha256sum </tmp/src | cut -d' ' -f1)"
		sha256sum </tmp/src | cut -d' ' -f1 >"$SYNC/crash-sum"
		signal crash-written
		wait $holder
		eq "restart: the lock holder saw no error" "$?" 0
		signal crash-released
	else
		await_host restarted
		lock() { flock_range crash-lock "$@"; }
		lock "restart: a's reclaimed range refuses a write lock" 1 set w 500 10
		lock "restart: and a read lock" 1 set r 0 1
		signal crash-checked
		await crash-written
		eq "restart: b reads what a wrote across the restart" \
			"$(sha256sum <wdata | cut -d' ' -f1)" "$(cat "$SYNC/crash-sum")"
		await crash-released
		lock "restart: free once a released" 0 set w 0 0
	fi
fi

signal done
await done
if [ "$ME" = a ]; then
	cd / && rm -rf "/mnt/$D"
fi
done_phase
