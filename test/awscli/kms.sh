#!/usr/bin/env bash
# The KMS checks with Debian's AWS CLI v2: keys, aliases, policies, the
# cryptographic operations and their errors, and an EFS file system under
# a customer key. Run by kms_test.go with the environment of awscli.sh.
set -uo pipefail

: "${AWS:?}" "${ENDPOINT:?}" "${AWS_SHARED_CREDENTIALS_FILE:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

must kms create-key --description "cli key" --tags TagKey=team,TagValue=a
jqc '.KeyMetadata.KeyId | test("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")'
jqc '.KeyMetadata.KeyState == "Enabled" and .KeyMetadata.KeyManager == "CUSTOMER" and .KeyMetadata.Description == "cli key"'
KEY=$(val .KeyMetadata.KeyId)
ARN=$(val .KeyMetadata.Arn)
[[ $ARN == arn:aws:kms:$REGION:*:key/$KEY ]] || fail "key ARN $ARN"
ok "create-key: a UUID key ID and its ARN"

must kms create-alias --alias-name alias/cli --target-key-id "$KEY"
must kms describe-key --key-id alias/cli
jqc --arg k "$KEY" '.KeyMetadata.KeyId == $k'
ok "describe-key by alias"
must kms list-aliases
jqc '[.Aliases[].AliasName] | index("alias/cli") != null and index("alias/aws/elasticfilesystem") != null'
ok "list-aliases shows the alias and the AWS managed alias"
must_fail 254 AlreadyExistsException kms create-alias --alias-name alias/cli --target-key-id "$KEY"
must_fail 254 NotFoundException kms describe-key --key-id 00000000-0000-4000-8000-000000000000
must_fail 254 InvalidArnException kms describe-key --key-id arn:aws:s3:::bucket

must kms get-key-policy --key-id "$KEY" --policy-name default
jqc '.Policy | fromjson | .Statement[0].Action == "kms:*"'
ok "get-key-policy: the default key policy"
must kms list-resource-tags --key-id "$KEY"
jqc '.Tags == [{"TagKey":"team","TagValue":"a"}]'
ok "list-resource-tags"

printf 'attack at dawn' >"$WORK/plain"
must kms encrypt --key-id alias/cli --plaintext "fileb://$WORK/plain" --encryption-context purpose=cli --query CiphertextBlob --output text
base64 -d "$WORK/out" >"$WORK/blob"
must kms decrypt --ciphertext-blob "fileb://$WORK/blob" --encryption-context purpose=cli --query Plaintext --output text
[ "$(base64 -d "$WORK/out")" = "attack at dawn" ] || fail "decrypt does not round-trip"
ok "encrypt and decrypt round-trip"
must_fail 254 InvalidCiphertextException kms decrypt --ciphertext-blob "fileb://$WORK/blob" --encryption-context purpose=other
head -c 30 "$WORK/blob" >"$WORK/short"
must_fail 254 InvalidCiphertextException kms decrypt --ciphertext-blob "fileb://$WORK/short"

# (rotate-key-on-demand is newer than Debian's CLI 2.9; the SDK test covers it.)
must kms generate-data-key-without-plaintext --key-id "$KEY" --key-spec AES_256
jqc '(.CiphertextBlob | length) > 0 and (has("Plaintext") | not)'
ok "generate-data-key-without-plaintext"
must kms enable-key-rotation --key-id "$KEY"
must kms get-key-rotation-status --key-id "$KEY"
jqc '.KeyRotationEnabled == true'
ok "automatic rotation on"

must efs create-file-system --creation-token kms-cli --encrypted --kms-key-id alias/cli
jqc --arg a "$ARN" '.KmsKeyId == $a and .Encrypted == true'
ok "an EFS file system under the customer key"

must kms disable-key --key-id "$KEY"
must kms describe-key --key-id "$KEY"
jqc '.KeyMetadata.KeyState == "Disabled" and .KeyMetadata.Enabled == false'
ok "disable-key"
must_fail 254 DisabledException kms encrypt --key-id "$KEY" --plaintext "fileb://$WORK/plain"
must_fail 254 BadRequest efs create-file-system --creation-token kms-cli-2 --encrypted --kms-key-id "$KEY"
must kms enable-key --key-id "$KEY"
must kms schedule-key-deletion --key-id "$KEY" --pending-window-in-days 7
jqc '.KeyState == "PendingDeletion" and .PendingWindowInDays == 7'
ok "schedule-key-deletion"
must_fail 254 KMSInvalidStateException kms decrypt --ciphertext-blob "fileb://$WORK/blob" --encryption-context purpose=cli
must kms cancel-key-deletion --key-id "$KEY"
must kms enable-key --key-id "$KEY"
must kms decrypt --ciphertext-blob "fileb://$WORK/blob" --encryption-context purpose=cli
ok "cancel-key-deletion and enable-key make it usable again"

echo "all $checks checks passed"
