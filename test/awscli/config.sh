#!/usr/bin/env bash
# The AWS CLI v2 checks of shelf's AWS Config API: rules, compliance,
# configuration history and bad input. Run by config_test.go against a
# running shelfd (same environment as awscli.sh, plus PUBLIC_SUBNET, a
# subnet the network config marks public).
set -uo pipefail

: "${AWS:?}" "${ENDPOINT:?}" "${AWS_SHARED_CREDENTIALS_FILE:?}" "${PUBLIC_SUBNET:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- a file system and an access point without a root directory ------------
must efs create-file-system --creation-token cfg-cli --encrypted --tags Key=team,Value=storage
FS=$(val .FileSystemId)
CHECK='.FileSystems[0].LifeCycleState == "available"'
wait_for "file system $FS available" efs describe-file-systems --file-system-id "$FS"
must efs create-access-point --file-system-id "$FS" --posix-user Uid=1000,Gid=1000
AP_ROOT=$(val .AccessPointId)
must efs create-access-point --file-system-id "$FS" --posix-user Uid=1000,Gid=1000 \
	--root-directory 'Path=/team,CreationInfo={OwnerUid=1000,OwnerGid=1000,Permissions=750}'
AP_TEAM=$(val .AccessPointId)
ok "access points $AP_ROOT (root /) and $AP_TEAM (/team)"

# --- managed rules ------------------------------------------------------------
must configservice put-config-rule --config-rule '{"ConfigRuleName":"ap-root-dir","Source":{"Owner":"AWS","SourceIdentifier":"EFS_ACCESS_POINT_ENFORCE_ROOT_DIRECTORY"}}'
ok "put-config-rule ap-root-dir"
CHECK='.ComplianceByResources | length == 1 and .[0].Compliance.ComplianceType == "NON_COMPLIANT"'
wait_for "access point without a root directory is NON_COMPLIANT" configservice describe-compliance-by-resource \
	--resource-type AWS::EFS::AccessPoint --resource-id "$AP_ROOT"
CHECK='.ComplianceByResources[0].Compliance.ComplianceType == "COMPLIANT"'
wait_for "access point rooted at /team is COMPLIANT" configservice describe-compliance-by-resource \
	--resource-type AWS::EFS::AccessPoint --resource-id "$AP_TEAM"

must configservice put-config-rule --config-rule '{"ConfigRuleName":"ap-uid","Source":{"Owner":"AWS","SourceIdentifier":"EFS_ACCESS_POINT_ENFORCE_USER_IDENTITY"},"InputParameters":"{\"approvedUids\":\"0,2000\"}"}'
CHECK='.EvaluationResults | length == 2 and all(.ComplianceType == "NON_COMPLIANT")'
wait_for "enforce-user-identity: uid 1000 is not approved" configservice get-compliance-details-by-config-rule --config-rule-name ap-uid
jqc '.EvaluationResults[0].Annotation | test("user ID 1000")'

must efs put-backup-policy --file-system-id "$FS" --backup-policy Status=DISABLED
must configservice put-config-rule --config-rule '{"ConfigRuleName":"backups","Source":{"Owner":"AWS","SourceIdentifier":"EFS_AUTOMATIC_BACKUPS_ENABLED"}}'
CHECK='.EvaluationResults | map(select(.EvaluationResultIdentifier.EvaluationResultQualifier.ResourceId == "'"$FS"'")) | .[0].ComplianceType == "NON_COMPLIANT"'
wait_for "automatic backups disabled: NON_COMPLIANT" configservice get-compliance-details-by-config-rule --config-rule-name backups
must efs put-backup-policy --file-system-id "$FS" --backup-policy Status=ENABLED
CHECK='.EvaluationResults | map(select(.EvaluationResultIdentifier.EvaluationResultQualifier.ResourceId == "'"$FS"'")) | .[0].ComplianceType == "COMPLIANT"'
wait_for "automatic backups enabled: back to COMPLIANT" configservice get-compliance-details-by-config-rule --config-rule-name backups

must configservice put-config-rule --config-rule '{"ConfigRuleName":"public-mt","Source":{"Owner":"AWS","SourceIdentifier":"EFS_MOUNT_TARGET_PUBLIC_ACCESSIBLE"},"Scope":{"ComplianceResourceTypes":["AWS::EFS::FileSystem"],"ComplianceResourceId":"'"$FS"'"}}'
must efs create-mount-target --file-system-id "$FS" --subnet-id "$PUBLIC_SUBNET"
CHECK='.EvaluationResults | length == 1 and .[0].ComplianceType == "NON_COMPLIANT"'
wait_for "mount target in a public subnet: NON_COMPLIANT" configservice get-compliance-details-by-config-rule --config-rule-name public-mt

# --- a CEL rule -----------------------------------------------------------------
cat >"$WORK/cel.json" <<'JSON'
{"ConfigRuleName":"team-tag","Scope":{"ComplianceResourceTypes":["AWS::EFS::FileSystem"]},
 "Source":{"Owner":"CUSTOM_POLICY","CustomPolicyDetails":{"PolicyRuntime":"cel-1.0",
  "PolicyText":"'team' in item.tags && item.tags['team'] == params.team && item.configuration.Encrypted"}},
 "InputParameters":"{\"team\":\"storage\"}"}
JSON
must configservice put-config-rule --config-rule "file://$WORK/cel.json"
CHECK='.EvaluationResults | map(select(.EvaluationResultIdentifier.EvaluationResultQualifier.ResourceId == "'"$FS"'")) | .[0].ComplianceType == "COMPLIANT"'
wait_for "CEL rule: the tagged, encrypted file system is COMPLIANT" configservice get-compliance-details-by-config-rule --config-rule-name team-tag
must efs untag-resource --resource-id "$FS" --tag-keys team
CHECK='.EvaluationResults | map(select(.EvaluationResultIdentifier.EvaluationResultQualifier.ResourceId == "'"$FS"'")) | .[0].ComplianceType == "NON_COMPLIANT"'
wait_for "CEL rule: untagged, it turns NON_COMPLIANT" configservice get-compliance-details-by-config-rule --config-rule-name team-tag

must configservice describe-config-rules
jqc '[.ConfigRules[].ConfigRuleName] | index("team-tag") != null and index("ap-root-dir") != null'
jqc '.ConfigRules[] | select(.ConfigRuleName == "team-tag") | .Source.CustomPolicyDetails.PolicyRuntime == "cel-1.0"'
ok "describe-config-rules"
must configservice describe-compliance-by-config-rule --config-rule-names ap-root-dir
jqc '.ComplianceByConfigRules[0].Compliance.ComplianceType == "NON_COMPLIANT" and .ComplianceByConfigRules[0].Compliance.ComplianceContributorCount.CappedCount == 1'
ok "describe-compliance-by-config-rule"
must configservice describe-compliance-by-resource --resource-type AWS::EFS::AccessPoint --compliance-types NON_COMPLIANT
jqc '[.ComplianceByResources[].ResourceId] | index("'"$AP_ROOT"'") != null'
ok "describe-compliance-by-resource --compliance-types NON_COMPLIANT"
must configservice start-config-rules-evaluation --config-rule-names ap-root-dir team-tag
ok "start-config-rules-evaluation"

# --- configuration history --------------------------------------------------------
must configservice get-resource-config-history --resource-type AWS::EFS::FileSystem --resource-id "$FS"
jqc '.configurationItems | length >= 3'
jqc '.configurationItems[0].configurationItemStatus == "OK"'
jqc '.configurationItems[0].supplementaryConfiguration.BackupPolicy | fromjson | .Status == "ENABLED"'
jqc '.configurationItems[0].configuration | fromjson | .FileSystemId == "'"$FS"'"'
jqc '.configurationItems[-1].configurationItemStatus == "ResourceDiscovered" or (.configurationItems | length == 10)'
ok "get-resource-config-history: newest first, with supplementary configuration"
must configservice get-resource-config-history --resource-type AWS::EFS::FileSystem --resource-id "$FS" --chronological-order Forward --limit 1 --no-paginate
jqc '.configurationItems | length == 1' && jqc '.nextToken | length > 0'
ok "get-resource-config-history --limit 1 pages"
must configservice get-resource-config-history --resource-type AWS::EFS::AccessPoint --resource-id "$AP_ROOT"
jqc '.configurationItems[0].relationships[0].resourceId == "'"$FS"'"'
ok "access point item relates to its file system"
must configservice describe-configuration-recorders
jqc '.ConfigurationRecorders[0].recordingGroup.resourceTypes | index("AWS::EFS::MountTarget") != null'
must configservice describe-configuration-recorder-status
jqc '.ConfigurationRecordersStatus[0].recording == true'
ok "describe-configuration-recorders and status"

# --- bad input ------------------------------------------------------------------
must_fail 254 InvalidParameterValueException configservice put-config-rule --config-rule '{"ConfigRuleName":"x","Source":{"Owner":"AWS","SourceIdentifier":"EFS_NOT_A_RULE"}}'
must_fail 254 InvalidParameterValueException configservice put-config-rule --config-rule '{"ConfigRuleName":"x","Source":{"Owner":"AWS","SourceIdentifier":"EFS_ACCESS_POINT_ENFORCE_USER_IDENTITY"},"InputParameters":"{\"approvedUids\":\"root\"}"}'
must_fail 254 InvalidParameterValueException configservice put-config-rule --config-rule '{"ConfigRuleName":"x","Source":{"Owner":"AWS","SourceIdentifier":"EFS_ENCRYPTED_CHECK"},"InputParameters":"{\"NoSuch\":\"1\"}"}'
must_fail 254 InvalidParameterValueException configservice put-config-rule --config-rule '{"ConfigRuleName":"x","Source":{"Owner":"AWS","SourceIdentifier":"EFS_ENCRYPTED_CHECK"},"InputParameters":"not json"}'
must_fail 254 "not a valid cel-1.0 expression" configservice put-config-rule --config-rule '{"ConfigRuleName":"x","Source":{"Owner":"CUSTOM_POLICY","CustomPolicyDetails":{"PolicyRuntime":"cel-1.0","PolicyText":"item.tags[ =="}}}'
must_fail 254 "must evaluate to a bool" configservice put-config-rule --config-rule '{"ConfigRuleName":"x","Source":{"Owner":"CUSTOM_POLICY","CustomPolicyDetails":{"PolicyRuntime":"cel-1.0","PolicyText":"1 + 2"}}}'
must_fail 254 InvalidParameterValueException configservice put-config-rule --config-rule '{"ConfigRuleName":"x","Source":{"Owner":"CUSTOM_POLICY","CustomPolicyDetails":{"PolicyRuntime":"guard-2.x.x","PolicyText":"rule x {}"}}}'
must_fail 254 NoSuchConfigRuleException configservice describe-config-rules --config-rule-names nope
must_fail 254 NoSuchConfigRuleException configservice start-config-rules-evaluation --config-rule-names nope
must_fail 254 ResourceNotDiscoveredException configservice get-resource-config-history --resource-type AWS::EFS::FileSystem --resource-id fs-0123456789abcdef0
must_fail 254 InvalidNextTokenException configservice get-compliance-details-by-config-rule --config-rule-name ap-root-dir --next-token bogus
must_fail 254 InvalidLimitException configservice get-resource-config-history --resource-type AWS::EFS::FileSystem --resource-id "$FS" --limit 500
must_fail 254 InvalidParameterValueException configservice describe-compliance-by-resource --resource-id "$FS"
must_fail 254 InvalidParameterValueException configservice describe-compliance-by-resource --compliance-types NOT_APPLICABLE
must_fail 254 InvalidTimeRangeException configservice get-resource-config-history --resource-type AWS::EFS::FileSystem --resource-id "$FS" --earlier-time 2030-01-01 --later-time 2020-01-01

# --- deletion -------------------------------------------------------------------
must configservice delete-config-rule --config-rule-name ap-uid
must_fail 254 NoSuchConfigRuleException configservice get-compliance-details-by-config-rule --config-rule-name ap-uid
ok "delete-config-rule"

echo "$checks checks passed"
