#!/bin/bash
# nfs-bench-guest.sh: the guest side of scripts/bench-nfs, run by
# scripts/kernel-nfs-run in the NFS mount. It runs fio jobs (results as fio
# JSON in /out) and a small-file test (seconds per phase in /out/files.txt);
# the host parses both. Settings: SIZE (fio file), RUNTIME (seconds per fio
# job), NFILES (small files).
set -eu
SIZE=${SIZE:-256M} RUNTIME=${RUNTIME:-20} NFILES=${NFILES:-2000}
out=/out
common="--filename=bench.dat --size=$SIZE --ioengine=psync --group_reporting --output-format=json"
job() { # job NAME FIO-ARGS...
	local name=$1; shift
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
	fio --name="$name" $common "$@" --output="$out/fio-$name.json"
}
job seqwrite --rw=write --bs=1M --end_fsync=1
job seqread --rw=read --bs=1M
job randread4k --rw=randread --bs=4k --time_based --runtime="$RUNTIME"
job randread4k-qd16 --rw=randread --bs=4k --time_based --runtime="$RUNTIME" --ioengine=libaio --iodepth=16 --direct=1
job randwrite4k --rw=randwrite --bs=4k --time_based --runtime="$RUNTIME" --fsync=32
rm -f bench.dat

now() { cut -d' ' -f1 /proc/uptime; }
phase() { # phase NAME START
	awk -v n="$1" -v a="$2" -v b="$(now)" -v f="$NFILES" 'BEGIN { printf "%s %d %.3f\n", n, f, b - a }' >>"$out/files.txt"
}
: >"$out/files.txt"
mkdir small
data=$(head -c 4096 /dev/zero | tr '\0' x)
t=$(now); for ((i = 0; i < NFILES; i++)); do printf '%s' "$data" >"small/f$i"; done; sync; phase create+write-4KiB "$t"
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
t=$(now); for ((i = 0; i < NFILES; i++)); do stat "small/f$i" >/dev/null; done; phase stat "$t"
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
t=$(now); ls -l small >/dev/null; phase ls-l "$t"
t=$(now); rm -rf small; phase unlink "$t"
echo "nfs-bench-guest: done"
