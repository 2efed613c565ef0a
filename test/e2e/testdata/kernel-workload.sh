#!/bin/bash
# The kernel NFS end-to-end workload. The kernel-nfs harness runs it as root
# inside the test VM, in the NFS mount; TestKernelNFS (kernel_test.go) runs it
# once per phase:
#
#   write    builds the tree E2E_DIR: files of many sizes, a deep tree,
#            renames, hard links, symlinks, ownership and modes, a large
#            directory, truncated and sparse files, flock and fcntl locks
#            between processes, fio with verify; records checksums and
#            metadata in /out/E2E_DIR.sums and /out/E2E_DIR.meta.
#   verify   on a fresh mount: checks E2E_DIR against /in/E2E_DIR.sums and
#            .meta, lists the large directory again, repeats the permission
#            and lock checks, fio verifies its file.
#   remove   removes E2E_DIR (several names allowed) and checks that it is
#            gone.
#
# Settings (environment): E2E_PHASE, E2E_DIR, E2E_NENTRIES (entries of the
# large directory), E2E_BIG_MIB (one extra file of that many MiB, 0: none),
# E2E_FIO_SIZE (fio file size, e.g. 16M), E2E_FSX_OPS (operations of the fsx
# check, default 1000), E2E_FSX_SEED (its seed, default random).
# /in/guesttool is test/e2e/guesttool.
#
# Output: one line per check, "E2E-OK <check>" or "E2E-FAIL <check>: <why>",
# then "E2E-DONE <phase> fails=<n>"; the exit status is 1 if a check failed.
set -u
export LC_ALL=C

PHASE=${E2E_PHASE:?E2E_PHASE}
D=${E2E_DIR:?E2E_DIR}
NENTRIES=${E2E_NENTRIES:-2000}
BIG_MIB=${E2E_BIG_MIB:-0}
FIO_SIZE=${E2E_FIO_SIZE:-16M}
FSX_OPS=${E2E_FSX_OPS:-1000}
TOOL=/in/guesttool
OUT=${KNFS_OUT_DIR:-/out}
USER_UID=1000 USER_GID=1000 OTHER_UID=1001 OTHER_GID=1001

. /in/checks.sh
# as UID GID[,GID...] CMD...: run CMD as that user.
as() {
	local uid=$1 gids=$2
	shift 2
	"$TOOL" runas "$uid" "$gids" "$@"
}

# Paths whose metadata is recorded and checked after the remount.
META_PATHS="sizes sizes/f0 sizes/f4096 tree links links/h1 links/h2 links/sub/h3 symlinks/rel symlinks/dangling
symlinks/dir symlinks/long perms perms/secret perms/user-file perms/user-dir perms/user-dir/mine perms/group-file
perms/sticky perms/readonly rename/dir2 rename/dir2/sub/f rename/b/moved rename/replaced edit/trunc edit/sparse many big"
meta() {
	local p
	for p in $META_PATHS; do
		[ -e "$p" ] || [ -L "$p" ] || continue
		stat -c '%n %F %a %u %g %h %s' "$p"
		[ -L "$p" ] && echo "$p -> $(readlink "$p")"
	done
}

# ------------------------------------------------------------------ remove
if [ "$PHASE" = remove ]; then
	for d in $D; do
		check "remove $d" rm -rf "$d"
		refuse "$d is gone" test -e "$d"
	done
	done_phase
fi

# ------------------------------------------------------------------ verify
if [ "$PHASE" = verify ]; then
	cd "$D" || {
		bad "cd $D"
		done_phase
	}
	out=$(sha256sum -c "/in/$D.sums" 2>&1 | grep -v ': OK$')
	if [ -z "$out" ]; then ok "checksums after remount ($(wc -l <"/in/$D.sums") files)"; else bad "checksums after remount: $(echo "$out" | head -n 5 | tr '\n' ' ')"; fi
	got=$(meta)
	if [ "$got" = "$(cat "/in/$D.meta")" ]; then ok "metadata after remount"; else
		bad "metadata after remount: $(diff "/in/$D.meta" - <<<"$got" | grep '^[-+][^-+]' | head -n 6 | tr '\n' ' ')"
	fi
	eq "deep tree leaf" "$(cat "$(cat "/in/$D.deep")/leaf" 2>&1)" "leaf"
	eq "large directory listed completely after remount" "$(ls -A1 many | wc -l)" "$(cat "/in/$D.nentries")"
	eq "large directory has no duplicates" "$(ls -A1 many | uniq -d | head -n 3)" ""
	check "large directory ls -l" sh -c 'ls -l many | tail -n 1 | grep -q entry-'
	refuse "uid $USER_UID cannot read a root 0600 file (cold cache)" as $USER_UID $USER_GID cat perms/secret
	scratch=scratch-$$
	mkdir "$scratch" && chown $USER_UID:$USER_GID "$scratch" && chmod 0700 "$scratch"
	check "uid $USER_UID writes in its own directory" as $USER_UID $USER_GID sh -c "echo again > $scratch/f"
	check "root reads the user's 0700 directory (no root squash)" grep -q again "$scratch/f"
	refuse "another uid cannot enter it" as $OTHER_UID $OTHER_GID ls "$scratch"
	check "hard link content" grep -qx hardlinked links/h1
	eq "symlink target" "$(readlink symlinks/rel)" "../sizes/f4096"
	check "symlink resolves" cmp symlinks/rel sizes/f4096
	: >flock-after
	check "flock on a fresh mount" flock -n -x flock-after true
	check "fio verifies its file after remount" fio --name=seq --filename=fio-seq --rw=write --bs=1M --size="$FIO_SIZE" \
		--ioengine=psync --verify=crc32c --verify_only=1 --output="$OUT/fio-verify.txt"
	done_phase
fi

[ "$PHASE" = write ] || {
	echo "unknown phase $PHASE"
	exit 2
}

# ------------------------------------------------------------------ write
rm -rf "$D"
mkdir -p "$D" && cd "$D" || {
	bad "mkdir $D"
	done_phase
}
chmod 0755 .
grep -q "^user:" /etc/passwd || {
	echo "user:x:$USER_UID:$USER_GID:user:/tmp:/bin/sh" >>/etc/passwd
	echo "other:x:$OTHER_UID:$OTHER_GID:other:/tmp:/bin/sh" >>/etc/passwd
	printf 'user:x:%s:\nother:x:%s:\n' $USER_GID $OTHER_GID >>/etc/group
}

# Files of many sizes, written with several block sizes.
mkdir sizes
for s in 0 1 511 4095 4096 4097 65535 65536 65537 131072 1048575 1048576 1048577 3145851; do
	head -c $s /dev/urandom >"/tmp/f$s"
	case $((s % 3)) in
	0) cp "/tmp/f$s" "sizes/f$s" ;;
	1) dd if="/tmp/f$s" of="sizes/f$s" bs=1M 2>/dev/null ;;
	2) dd if="/tmp/f$s" of="sizes/f$s" bs=4k 2>/dev/null ;;
	esac
	rm -f "/tmp/f$s"
done
check "files of many sizes written" sync
(cd sizes && sha256sum f*) >/tmp/sizes.sums
drop_caches
out=$(cd sizes && sha256sum -c /tmp/sizes.sums 2>&1 | grep -v ': OK$')
if [ -z "$out" ]; then ok "files read back from the server"; else bad "files read back: $out"; fi
eq "sizes" "$(stat -c %s sizes/f0 sizes/f1 sizes/f1048577 | tr '\n' ' ')" "0 1 1048577 "
if [ "$BIG_MIB" != 0 ]; then
	sum=$(dd if=/dev/urandom bs=1M count="$BIG_MIB" 2>/dev/null | tee big | sha256sum | cut -d' ' -f1)
	echo "$sum  big" >/tmp/big.sums
	drop_caches
	eq "big file ($BIG_MIB MiB) read back" "$(sha256sum big | cut -d' ' -f1)" "$sum"
fi

# A deep tree.
deep=tree
for i in $(seq 1 64); do deep="$deep/level-$i"; done
check "mkdir -p of a 64-level tree" mkdir -p "$deep"
echo leaf >"$deep/leaf"
eq "deep leaf" "$(cat "$deep/leaf")" "leaf"
check "find walks the deep tree" sh -c "[ \$(find tree -type d | wc -l) = 65 ]"
echo "$deep" >"$OUT/$D.deep.tmp"

# Renames.
mkdir -p rename/a rename/b
echo one >rename/a/f
check "rename within a directory" mv rename/a/f rename/a/g
refuse "old name is gone" test -e rename/a/f
check "rename across directories" mv rename/a/g rename/b/moved
eq "moved content" "$(cat rename/b/moved)" "one"
echo new >rename/src
echo old >rename/replaced
check "rename over an existing file" mv rename/src rename/replaced
eq "replaced content" "$(cat rename/replaced)" "new"
refuse "source of the replacing rename is gone" test -e rename/src
mkdir -p rename/dir/sub
echo deep >rename/dir/sub/f
check "rename a directory" mv rename/dir rename/dir2
eq "content under the renamed directory" "$(cat rename/dir2/sub/f)" "deep"
mkdir -p rename/full rename/empty rename/empty2
echo x >rename/full/x
refuse "rename(2) of a directory over a non-empty one" "$TOOL" rename rename/empty rename/full
refuse "rename(2) of a file over a directory" "$TOOL" rename rename/full/x rename/empty
refuse "rename(2) of a directory over a file" "$TOOL" rename rename/empty rename/full/x
check "rename(2) of a directory over an empty one" "$TOOL" rename rename/empty rename/empty2
refuse "the renamed directory is gone" test -e rename/empty

# Hard links.
mkdir -p links/sub
echo hardlinked >links/h0
check "link" ln links/h0 links/h1
check "link in another directory" ln links/h0 links/sub/h3
ln links/h0 links/h2
eq "link count 4" "$(stat -c %h links/h0)" "4"
check "unlink the first name" rm links/h0
eq "link count 3" "$(stat -c %h links/h1)" "3"
eq "content through another name" "$(cat links/sub/h3)" "hardlinked"
refuse "hard link to a directory" ln links/sub links/sublink

# Symbolic links.
mkdir symlinks
check "symlink" ln -s ../sizes/f4096 symlinks/rel
check "read through a symlink" cmp symlinks/rel sizes/f4096
check "dangling symlink" ln -s /nonexistent/target symlinks/dangling
refuse "dangling symlink does not resolve" test -e symlinks/dangling
check "symlink to a directory" ln -s ../rename/b symlinks/dir
check "list through a directory symlink" sh -c 'ls symlinks/dir/ | grep -qx moved'
long=$(printf 'x%.0s' $(seq 1 1000))
check "symlink with a 1000-byte target" ln -s "$long" symlinks/long
eq "long symlink target" "$(readlink symlinks/long | wc -c)" "1001"

# Ownership, modes and permission checks (AUTH_SYS; no root squash).
mkdir perms
echo secret >perms/secret
check "chmod 0600" chmod 0600 perms/secret
eq "mode 600" "$(stat -c %a perms/secret)" "600"
refuse "uid $USER_UID cannot read a root 0600 file" as $USER_UID $USER_GID cat perms/secret
refuse "uid $USER_UID cannot create in a root 0755 directory" as $USER_UID $USER_GID sh -c 'echo x > perms/nope'
refuse "uid $USER_UID cannot chmod a root file" as $USER_UID $USER_GID chmod 0666 perms/secret
refuse "uid $USER_UID cannot chown a root file" as $USER_UID $USER_GID chown $USER_UID perms/secret
echo u >perms/user-file
check "chown as root" chown $USER_UID:$USER_GID perms/user-file
eq "owner" "$(stat -c '%u %g' perms/user-file)" "$USER_UID $USER_GID"
mkdir perms/user-dir
chown $USER_UID:$USER_GID perms/user-dir
check "uid $USER_UID creates in its own directory" as $USER_UID $USER_GID sh -c 'echo mine > perms/user-dir/mine'
eq "new file is owned by its creator" "$(stat -c '%u %g' perms/user-dir/mine)" "$USER_UID $USER_GID"
check "the owner chmods its file" as $USER_UID $USER_GID chmod 0640 perms/user-dir/mine
refuse "uid $USER_UID cannot give its file away" as $USER_UID $USER_GID chown $OTHER_UID perms/user-dir/mine
echo g >perms/group-file
chown 0:$USER_GID perms/group-file
chmod 0640 perms/group-file
check "a supplementary group grants read" as $OTHER_UID $OTHER_GID,$USER_GID cat perms/group-file
refuse "without the group, read is refused" as $OTHER_UID $OTHER_GID cat perms/group-file
refuse "group members cannot write a 0640 file" as $OTHER_UID $OTHER_GID,$USER_GID sh -c 'echo x >> perms/group-file'
mkdir perms/sticky
chmod 1777 perms/sticky
check "uid $USER_UID creates in a sticky directory" as $USER_UID $USER_GID sh -c 'echo s > perms/sticky/s'
refuse "another user cannot delete it from the sticky directory" as $OTHER_UID $OTHER_GID rm -f perms/sticky/s
check "the owner deletes it" as $USER_UID $USER_GID rm perms/sticky/s
echo ro >perms/readonly
chown $USER_UID:$USER_GID perms/readonly
chmod 0444 perms/readonly
refuse "the owner cannot write a 0444 file" as $USER_UID $USER_GID sh -c 'echo x >> perms/readonly'
check "root reads any file" cat perms/user-dir/mine

# A large directory, listed completely.
check "mkdir many" mkdir many
n0=$SECONDS
(cd many && for ((i = 0; i < NENTRIES; i++)); do : >"entry-$i"; done)
ok "created $NENTRIES entries in $((SECONDS - n0))s"
drop_caches
eq "large directory listed completely" "$(ls -A1 many | wc -l)" "$NENTRIES"
eq "large directory has no duplicates" "$(ls -A1 many | uniq -d | head -n 3)" ""
eq "large directory names" "$(ls -A1 many | head -n 2 | tr '\n' ' ')" "entry-0 entry-1 "
eq "readdir (find) sees every entry" "$(find many -mindepth 1 | wc -l)" "$NENTRIES"
check "a name in the middle is found" test -e "many/entry-$((NENTRIES / 2))"
echo "$NENTRIES" >"$OUT/$D.nentries.tmp"

# Truncate, sparse files, writes in the middle, appends; /tmp mirrors each.
mkdir edit
head -c 100000 /dev/urandom >/tmp/trunc
cp /tmp/trunc edit/trunc
for size in 70000 1000 0 5000 300000 4096; do
	truncate -s $size /tmp/trunc
	truncate -s $size edit/trunc
	eq "truncate to $size" "$(stat -c %s edit/trunc) $(sha256sum <edit/trunc | cut -d' ' -f1)" \
		"$size $(sha256sum </tmp/trunc | cut -d' ' -f1)"
done
head -c 4096 /dev/urandom >/tmp/block
for f in /tmp/sparse edit/sparse; do
	dd if=/tmp/block of=$f bs=4096 seek=2560 conv=notrunc 2>/dev/null
	dd if=/tmp/block of=$f bs=4096 seek=3 conv=notrunc 2>/dev/null
done
eq "sparse size" "$(stat -c %s edit/sparse)" "$((2561 * 4096))"
drop_caches
check "sparse file reads back" cmp /tmp/sparse edit/sparse
eq "a hole reads as zeros" "$(dd if=edit/sparse bs=4096 skip=100 count=1 2>/dev/null | tr -d '\0' | wc -c)" "0"
echo "INFO sparse file: $(stat -c '%s bytes, %b blocks of %B' edit/sparse)"
for f in /tmp/sparse edit/sparse; do
	dd if=/tmp/block of=$f bs=1 seek=5000 count=3000 conv=notrunc 2>/dev/null
	echo appended >>$f
done
drop_caches
check "write in the middle and append" cmp /tmp/sparse edit/sparse
rm -f /tmp/sparse /tmp/trunc

# Locks between processes: flock (whole file; NFSv4 LOCK underneath) and
# fcntl byte ranges.
: >flock-file
rm -f /tmp/held
(flock -x flock-file -c 'touch /tmp/held; sleep 4') &
holder=$!
for _ in $(seq 100); do [ -e /tmp/held ] && break; sleep 0.1; done
check "a process holds an exclusive flock" test -e /tmp/held
refuse "a second process cannot take it (-n)" flock -n -x flock-file true
refuse "nor a shared one" flock -n -s flock-file true
check "a waiting process gets it after the holder" flock -x -w 60 flock-file true
wait $holder
echo 0 >counter
incr() { for _ in $(seq 25); do flock -x counter -c 'n=$(cat counter); echo $((n + 1)) > counter'; done; }
incr &
p1=$!
incr &
p2=$!
wait $p1 $p2
eq "two processes incrementing under flock" "$(cat counter)" "50"
out=$("$TOOL" locktest fcntl-file 2>&1)
rc=$?
echo "$out" | sed 's/^/  locktest: /'
if [ $rc = 0 ]; then ok "fcntl byte-range locks"; else bad "fcntl byte-range locks: $(echo "$out" | grep FAIL | head -n 3 | tr '\n' ' ')"; fi

# fio: write, then read back and verify.
check "fio sequential 1 MiB writes, verified" fio --name=seq --filename=fio-seq --rw=write --bs=1M --size="$FIO_SIZE" \
	--ioengine=psync --end_fsync=1 --verify=crc32c --do_verify=1 --output="$OUT/fio-seq.txt"
check "fio random 4 KiB writes, verified" fio --name=rand --filename=fio-rand --rw=randwrite --bs=4k --size=4M \
	--ioengine=psync --fsync=64 --verify=crc32c --do_verify=1 --output="$OUT/fio-rand.txt"
check "fio direct I/O, verified" fio --name=direct --filename=fio-direct --rw=write --bs=64k --size=4M \
	--ioengine=psync --direct=1 --verify=md5 --do_verify=1 --output="$OUT/fio-direct.txt"

# Random I/O through every path the client has to a file (page cache, shared
# mmap, O_DIRECT, truncate, fsync, reopen, drop_caches), checked against a
# model after every read.
seed=${E2E_FSX_SEED:-$RANDOM}
out=$("$TOOL" fsx fsx-file "$FSX_OPS" "$seed" 4194304 2>&1)
rc=$?
echo "$out" | tail -n 45 | sed 's/^/  fsx: /'
if [ $rc = 0 ]; then ok "fsx: $FSX_OPS random operations, seed $seed"; else bad "fsx seed $seed: $(echo "$out" | grep FAIL | head -n 1)"; fi

# What the verify phase checks after the remount.
sync
{
	(cd sizes && sha256sum f*) | sed 's#  #  sizes/#'
	[ -f /tmp/big.sums ] && cat /tmp/big.sums
	sha256sum edit/trunc edit/sparse fsx-file links/h1 rename/b/moved rename/replaced rename/dir2/sub/f
} >"$OUT/$D.sums"
meta >"$OUT/$D.meta"
mv "$OUT/$D.deep.tmp" "$OUT/$D.deep"
mv "$OUT/$D.nentries.tmp" "$OUT/$D.nentries"
done_phase
