#!/bin/bash
# The access-control checks of TestKernelAccess (access_test.go). The
# kernel-nfs harness runs it as root inside the test VM, in the NFS mount,
# once per phase (ACCESS_PHASE):
#
#   setup     makes hello.txt (0644) and the world-writable directory open/.
#   readonly  (a policy without ClientWrite) reads work, writes are refused.
#   squash    (a policy without ClientRootAccess) root may not create in
#             "/" (root's, 0755); what it creates in open/ is 65534's.
#   ap        (through the TLS tunnel and an access point whose user is
#             1001:1002 and whose root is /ap-root) new files belong to the
#             access point's user; nothing outside its root is visible;
#             ".." of its directories leads back to its root.
#   revoke    prints E2E-READY, then creates files until the server refuses
#             (the test revokes ClientMount meanwhile).
#   kms       writes a file, prints E2E-READY, reads it (caches dropped)
#             until it fails (the test disables the file system's KMS key),
#             prints E2E-UNREADABLE, then reads until the same bytes come
#             back (the test enables the key).
#
# Output: "E2E-OK <check>" or "E2E-FAIL <check>: <why>" per check, then
# "E2E-DONE <phase> fails=<n>"; the exit status is 1 if a check failed.
set -u
export LC_ALL=C
PHASE=${ACCESS_PHASE:?ACCESS_PHASE}
fails=0
ok() { echo "E2E-OK $*"; }
bad() {
	echo "E2E-FAIL $*"
	fails=$((fails + 1))
}

case $PHASE in
setup)
	mkdir -m 0777 open && chmod 0777 open && ok "mkdir open" || bad "mkdir open"
	echo hello >hello.txt && chmod 0644 hello.txt && ok "write hello.txt" || bad "write hello.txt"
	;;
readonly)
	[ "$(cat hello.txt)" = hello ] && ok "read without ClientWrite" || bad "read without ClientWrite: $(cat hello.txt 2>&1)"
	if err=$({ echo x >ro-file; } 2>&1); then
		bad "write without ClientWrite: allowed"
	elif echo "$err" | grep -qiE 'permission denied|read-only'; then
		ok "write without ClientWrite refused: $err"
	else
		bad "write without ClientWrite: unexpected error: $err"
	fi
	if err=$(mkdir ro-dir 2>&1); then bad "mkdir without ClientWrite: allowed"; else ok "mkdir refused: $err"; fi
	;;
squash)
	if err=$(touch squashed-root 2>&1); then
		bad "root not squashed: created a file in / as $(stat -c %u:%g squashed-root)"
	else
		ok "squashed root may not create in /: $err"
	fi
	if touch open/by-root; then
		owner=$(stat -c %u:%g open/by-root)
		[ "$owner" = 65534:65534 ] && ok "squashed root's file is 65534:65534" || bad "squashed root's file is $owner"
	else
		bad "squashed root cannot create in open/"
	fi
	;;
ap)
	echo data >ap-file || bad "write through the access point"
	owner=$(stat -c %u:%g ap-file)
	[ "$owner" = 1001:1002 ] && ok "file owned by the access point user" || bad "file owned by $owner"
	mkdir sub && owner=$(stat -c %u:%g sub) && [ "$owner" = 1001:1002 ] && ok "directory owned by the access point user" || bad "directory: $owner"
	[ ! -e hello.txt ] && [ ! -e open ] && ok "nothing outside the access point root" || bad "outside visible: $(ls -a)"
	# ".." of the mount's root is the local parent of the mount point, so
	# the server's side (LOOKUPP at the access point's root answers
	# NFS4ERR_NOENT) is checked by the Go tests; here: ".." of a directory
	# leads back to the access point's root, whose listing is its own.
	(cd sub && cd .. && [ -e ap-file ] && [ ! -e hello.txt ]) && ok "cd .. from sub returns to the access point root" || bad "cd .. from sub: $(cd sub/.. && ls -a)"
	[ "$(stat -c %i .)" = "$(cd sub/.. && stat -c %i .)" ] && ok "sub/.. is the root" || bad "sub/.. is another directory"
	;;
revoke)
	touch revoke-0 && ok "write before revocation" || bad "write before revocation"
	echo "E2E-READY"
	i=1
	while [ $i -le 240 ]; do
		err=$(touch "revoke-$i" 2>&1) || break
		sleep 0.25
		i=$((i + 1))
	done
	if [ $i -le 240 ]; then
		ok "refused after revocation (attempt $i): $err"
	else
		bad "still allowed 60 s after ClientMount was revoked"
	fi
	;;
kms)
	# An encrypted file system under a customer key: the test disables the
	# key after E2E-READY and enables it again after E2E-UNREADABLE.
	head -c 1048576 /dev/urandom >kms-file && sync && sum=$(md5sum <kms-file) && ok "write under the customer key" || bad "write"
	echo "E2E-READY"
	i=0
	while [ $i -lt 240 ]; do
		echo 3 >/proc/sys/vm/drop_caches
		err=$(cat kms-file 2>&1 >/dev/null) || break
		sleep 0.25
		i=$((i + 1))
	done
	[ $i -lt 240 ] && ok "unreadable with the key disabled: $err" || bad "still readable 60 s after the key was disabled"
	echo "E2E-UNREADABLE"
	i=0
	while [ $i -lt 240 ]; do
		echo 3 >/proc/sys/vm/drop_caches
		got=$(md5sum <kms-file 2>/dev/null) && break
		sleep 0.25
		i=$((i + 1))
	done
	[ "$got" = "$sum" ] && ok "readable again with the key enabled, same bytes" || bad "after enable: got '$got', want '$sum'"
	;;
*)
	bad "unknown phase $PHASE"
	;;
esac
echo "E2E-DONE $PHASE fails=$fails"
[ $fails -eq 0 ]
