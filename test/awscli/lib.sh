#!/usr/bin/env bash
# Shared by the AWS CLI v2 check scripts (awscli.sh, config.sh, kms.sh),
# which source it after checking their environment:
#   AWS                           the CLI to run (/usr/bin/aws)
#   ENDPOINT                      the API endpoint URL of shelfd
#   AWS_SHARED_CREDENTIALS_FILE   <data-dir>/root-credentials of that shelfd
#   AWS_DEFAULT_REGION, AWS_CONFIG_FILE, HOME, AWS_PAGER
# Every check prints one line; the first failure ends the script with
# status 1.

REGION=${AWS_DEFAULT_REGION:-us-east-1}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
checks=0

fail() {
	echo "FAIL: $*" >&2
	if [ -s "$WORK/err" ]; then
		echo "--- stderr of the last command:" >&2
		cat "$WORK/err" >&2
	fi
	if [ -s "$WORK/out" ]; then
		echo "--- stdout of the last command:" >&2
		cat "$WORK/out" >&2
	fi
	exit 1
}

ok() {
	checks=$((checks + 1))
	echo "ok $checks - $*"
}

# run CMD…: the CLI against shelfd; stdout in $WORK/out, stderr in
# $WORK/err, exit status in $rc.
run() {
	"$AWS" --endpoint-url "$ENDPOINT" --region "$REGION" --output json "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
}

# must CMD…: the command succeeds.
must() {
	run "$@"
	[ "$rc" -eq 0 ] || fail "aws $* exited $rc"
}

# must_fail STATUS CODE CMD…: the command exits STATUS and its error names
# CODE.
must_fail() {
	local want=$1 code=$2
	shift 2
	run "$@"
	[ "$rc" -eq "$want" ] || fail "aws $* exited $rc, want $want"
	grep -q -- "$code" "$WORK/err" || fail "aws $*: no $code in the error"
	ok "aws $1 $2 fails with $code (exit $want)"
}

# jqc FILTER: the last output satisfies FILTER.
jqc() {
	jq -e "$@" "$WORK/out" >/dev/null || fail "jq $* does not hold"
}

# val FILTER: prints a value of the last output.
val() { jq -r "$@" "$WORK/out"; }

# wait_for DESC CMD…: retries CMD until the jq check in $CHECK holds, for up
# to 30 s.
wait_for() {
	local desc=$1
	shift
	for _ in $(seq 300); do
		run "$@"
		if [ "$rc" -eq 0 ] && jq -e "$CHECK" "$WORK/out" >/dev/null 2>&1; then
			ok "$desc"
			return
		fi
		sleep 0.1
	done
	fail "timed out waiting: $desc"
}
