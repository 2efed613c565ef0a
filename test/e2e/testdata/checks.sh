# Checks shared by the kernel end-to-end scripts (sourced from /in): each
# prints "E2E-OK <check>" or "E2E-FAIL <check>: <why>", and done_phase ends
# the script with "E2E-DONE <phase> fails=<n>" (PHASE set by the caller).

fails=0
ok() { echo "E2E-OK $*"; }
bad() {
	echo "E2E-FAIL $*"
	fails=$((fails + 1))
}
# check NAME CMD...: CMD must succeed.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$name"; else bad "$name: $(echo "$out" | tail -n 3 | tr '\n' ' ')"; fi
}
# refuse NAME CMD...: CMD must fail.
refuse() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then bad "$name: succeeded, should have been refused"; else ok "$name"; fi
}
# eq NAME GOT WANT
eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}
done_phase() {
	echo "E2E-DONE $PHASE fails=$fails"
	[ "$fails" = 0 ]
	exit
}
