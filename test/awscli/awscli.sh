#!/usr/bin/env bash
# The AWS CLI v2 script test: drives a running shelfd with Debian's AWS CLI
# (/usr/bin/aws, package awscli) the way a user does, and checks outputs
# (with jq) and the exit codes of failures (254: a service error, 252: a
# parameter the CLI itself refuses).
#
# Run by awscli_test.go, which starts shelfd and sets the environment that
# lib.sh describes. Every check prints one line; the first failure ends the
# script with status 1.
set -uo pipefail

: "${AWS:?}" "${ENDPOINT:?}" "${AWS_SHARED_CREDENTIALS_FILE:?}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$AWS" --version 2>&1 | grep -q '^aws-cli/2\.' || fail "$AWS is not the AWS CLI v2"
ok "$("$AWS" --version 2>&1)"

# --- file systems -----------------------------------------------------------
must efs describe-file-systems
jqc '.FileSystems == []'
ok "describe-file-systems: none yet"

must efs create-file-system --creation-token cli-t1 --encrypted --performance-mode generalPurpose \
	--tags Key=Name,Value=cli-fs Key=team,Value=storage
FS=$(val .FileSystemId)
OWNER=$(val .OwnerId)
[[ $FS =~ ^fs-[0-9a-f]{17}$ ]] || fail "file system ID $FS"
jqc '.Encrypted == true and .Name == "cli-fs" and .PerformanceMode == "generalPurpose" and .NumberOfMountTargets == 0'
jqc '.LifeCycleState == "creating" or .LifeCycleState == "available"'
jqc '.KmsKeyId | test("^arn:aws:kms:'"$REGION"':[0-9]{12}:key/")'
jqc '.FileSystemArn | endswith(":file-system/'"$FS"'")'
ok "create-file-system: $FS"

must_fail 254 FileSystemAlreadyExists efs create-file-system --creation-token cli-t1
must_fail 252 "Invalid length" efs create-file-system --creation-token ""
must_fail 254 BadRequest efs create-file-system --creation-token cli-t2 --throughput-mode provisioned

CHECK='.FileSystems[0].LifeCycleState == "available"'
wait_for "file system available" efs describe-file-systems --file-system-id "$FS"
jqc '.FileSystems | length == 1'
jqc '.FileSystems[0].SizeInBytes.Value >= 0 and .FileSystems[0].CreationToken == "cli-t1"'
jqc '.FileSystems[0].CreationTime | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")'
ok "describe-file-systems --file-system-id: fields and timestamps"

must efs describe-file-systems --creation-token cli-t1
jqc '[.FileSystems[].FileSystemId] == ["'"$FS"'"]'
ok "describe-file-systems --creation-token"

must_fail 254 FileSystemNotFound efs describe-file-systems --file-system-id fs-0123456789abcdef0

# --- networks (EC2 API) ------------------------------------------------------
must ec2 describe-availability-zones
jqc '[.AvailabilityZones[].ZoneName] == ["'"$REGION"'a","'"$REGION"'b","'"$REGION"'c"]'
ok "ec2 describe-availability-zones"
must ec2 describe-vpcs --filters Name=is-default,Values=true
jqc '.Vpcs | length == 1' && jqc '.Vpcs[0].CidrBlock == "127.0.0.0/16"'
VPC=$(val '.Vpcs[0].VpcId')
ok "ec2 describe-vpcs: default $VPC"
must ec2 describe-subnets --filters "Name=availability-zone,Values=${REGION}a" "Name=vpc-id,Values=$VPC"
jqc '.Subnets | length == 1' && jqc '.Subnets[0].CidrBlock == "127.0.1.0/24"'
SUBNET_A=$(val '.Subnets[0].SubnetId')
ok "ec2 describe-subnets: $SUBNET_A in ${REGION}a"
must ec2 describe-security-groups --group-names default
jqc '.SecurityGroups[0].IpPermissions[0].FromPort == 2049 and .SecurityGroups[0].IpPermissions[0].IpRanges[0].CidrIp == "127.0.0.0/8"'
DEFAULT_SG=$(val '.SecurityGroups[0].GroupId')
ok "ec2 describe-security-groups: default $DEFAULT_SG allows NFS from 127.0.0.0/8"
must ec2 create-security-group --group-name cli-nfs --description "NFS clients"
SG=$(val .GroupId)
must ec2 authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 2049 --cidr 127.0.0.0/8
jqc '.Return == true'
must ec2 describe-security-groups --group-ids "$SG"
jqc '.SecurityGroups[0].IpPermissions[0].ToPort == 2049'
ok "ec2 create-security-group + authorize-security-group-ingress: $SG"
must_fail 254 InvalidPermission.Duplicate ec2 authorize-security-group-ingress --group-id "$SG" --protocol tcp --port 2049 --cidr 127.0.0.0/8
must_fail 254 InvalidGroup.NotFound ec2 describe-security-groups --group-ids sg-00000000000000000

# --- mount targets -----------------------------------------------------------
must efs create-mount-target --file-system-id "$FS" --subnet-id "$SUBNET_A" --security-groups "$DEFAULT_SG" "$SG"
MT=$(val .MountTargetId)
MT_IP=$(val .IpAddress)
[[ $MT =~ ^fsmt-[0-9a-f]+$ ]] || fail "mount target ID $MT"
[[ $MT_IP == 127.0.1.* ]] || fail "mount target address $MT_IP is not in $SUBNET_A"
jqc '.FileSystemId == "'"$FS"'" and .SubnetId == "'"$SUBNET_A"'" and .VpcId == "'"$VPC"'" and .AvailabilityZoneName == "'"$REGION"'a"'
ok "create-mount-target: $MT at $MT_IP"
must_fail 254 MountTargetConflict efs create-mount-target --file-system-id "$FS" --subnet-id "$SUBNET_A"
must_fail 254 SubnetNotFound efs create-mount-target --file-system-id "$FS" --subnet-id subnet-0123456789abcdef0
CHECK='.MountTargets[0].LifeCycleState == "available"'
wait_for "mount target available" efs describe-mount-targets --file-system-id "$FS"
must efs describe-mount-target-security-groups --mount-target-id "$MT"
jqc '.SecurityGroups | sort == (["'"$DEFAULT_SG"'","'"$SG"'"] | sort)'
ok "describe-mount-target-security-groups"
must efs describe-file-systems --file-system-id "$FS"
jqc '.FileSystems[0].NumberOfMountTargets == 1'
ok "NumberOfMountTargets is 1"
must_fail 254 DependencyViolation ec2 delete-security-group --group-id "$SG"

# --- access points -----------------------------------------------------------
must efs create-access-point --file-system-id "$FS" --posix-user Uid=1000,Gid=1000,SecondaryGids=2000,3000 \
	--root-directory 'Path=/team,CreationInfo={OwnerUid=1000,OwnerGid=1000,Permissions=750}' --tags Key=Name,Value=ap1
AP=$(val .AccessPointId)
[[ $AP =~ ^fsap-[0-9a-f]{17}$ ]] || fail "access point ID $AP"
jqc '.PosixUser.Uid == 1000 and .PosixUser.SecondaryGids == [2000,3000] and .RootDirectory.Path == "/team" and .RootDirectory.CreationInfo.Permissions == "750" and .Name == "ap1"'
ok "create-access-point: $AP"
must efs describe-access-points --file-system-id "$FS"
jqc '[.AccessPoints[].AccessPointId] == ["'"$AP"'"]'
ok "describe-access-points"
must_fail 254 ValidationException efs create-access-point --file-system-id "$FS" --root-directory 'Path=relative'

# --- file-system policy -------------------------------------------------------
must_fail 254 PolicyNotFound efs describe-file-system-policy --file-system-id "$FS"
POLICY='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["elasticfilesystem:ClientMount","elasticfilesystem:ClientWrite"],"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}'
must efs put-file-system-policy --file-system-id "$FS" --policy "$POLICY"
jqc '.FileSystemId == "'"$FS"'"'
jqc '.Policy | fromjson | .Statement[0].Action == ["elasticfilesystem:ClientMount","elasticfilesystem:ClientWrite"]'
ok "put-file-system-policy"
must efs describe-file-system-policy --file-system-id "$FS"
jqc '.Policy | fromjson | .Statement[0].Condition.Bool["aws:SecureTransport"] == "true"'
ok "describe-file-system-policy"
must_fail 254 InvalidPolicyException efs put-file-system-policy --file-system-id "$FS" --policy '{"Statement": ['
must_fail 254 InvalidPolicyException efs put-file-system-policy --file-system-id "$FS" \
	--policy '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"elasticfilesystem:ClientMount","Resource":"*","Condition":{"NoSuchOperator":{"aws:SecureTransport":"true"}}}]}'

# --- lifecycle configuration ---------------------------------------------------
must efs put-lifecycle-configuration --file-system-id "$FS" \
	--lifecycle-policies TransitionToIA=AFTER_30_DAYS TransitionToPrimaryStorageClass=AFTER_1_ACCESS
jqc '.LifecyclePolicies == [{"TransitionToIA":"AFTER_30_DAYS"},{"TransitionToPrimaryStorageClass":"AFTER_1_ACCESS"}]'
ok "put-lifecycle-configuration"
must efs describe-lifecycle-configuration --file-system-id "$FS"
jqc '.LifecyclePolicies | length == 2'
ok "describe-lifecycle-configuration"
must_fail 254 BadRequest efs put-lifecycle-configuration --file-system-id "$FS" \
	--lifecycle-policies TransitionToIA=AFTER_30_DAYS TransitionToIA=AFTER_7_DAYS
must_fail 254 ValidationException efs put-lifecycle-configuration --file-system-id "$FS" \
	--lifecycle-policies TransitionToIA=AFTER_2_DAYS

# --- tags -------------------------------------------------------------------
must efs tag-resource --resource-id "$FS" --tags Key=env,Value=test Key=owner,Value=ops
must efs list-tags-for-resource --resource-id "$FS"
jqc '[.Tags[] | select(.Key == "env")][0].Value == "test"'
jqc '[.Tags[].Key] | sort == ["Name","env","owner","team"]'
ok "tag-resource + list-tags-for-resource"
ARN="arn:aws:elasticfilesystem:$REGION:$OWNER:file-system/$FS"
must efs list-tags-for-resource --resource-id "$ARN"
jqc '.Tags | length == 4'
ok "list-tags-for-resource by ARN ($ARN)"
must efs untag-resource --resource-id "$ARN" --tag-keys env owner
must efs list-tags-for-resource --resource-id "$FS"
jqc '[.Tags[].Key] | sort == ["Name","team"]'
ok "untag-resource"
must efs tag-resource --resource-id "$AP" --tags Key=stage,Value=dev
must efs list-tags-for-resource --resource-id "$AP"
jqc '[.Tags[].Key] | sort == ["Name","stage"]'
ok "tags on the access point"
must_fail 254 ValidationException efs tag-resource --resource-id "$FS" --tags Key=aws:reserved,Value=x
must_fail 254 FileSystemNotFound efs tag-resource --resource-id fs-0123456789abcdef0 --tags Key=a,Value=b

# --- authentication and authorization -------------------------------------------
KEY_ID=$(awk -F' = ' '/^aws_access_key_id/ {print $2}' "$AWS_SHARED_CREDENTIALS_FILE")
AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=not-the-secret-not-the-secret-not-the-sec \
	must_fail 254 InvalidSignatureException efs describe-file-systems
AWS_ACCESS_KEY_ID=AKIAUNKNOWNUNKNOWN00 AWS_SECRET_ACCESS_KEY=x \
	must_fail 254 UnrecognizedClientException efs describe-file-systems
must iam create-user --user-name cli-bob
must iam create-access-key --user-name cli-bob
BOB_ID=$(val .AccessKey.AccessKeyId)
BOB_SECRET=$(val .AccessKey.SecretAccessKey)
ok "iam create-user + create-access-key: $BOB_ID"
AWS_ACCESS_KEY_ID=$BOB_ID AWS_SECRET_ACCESS_KEY=$BOB_SECRET \
	must_fail 254 AccessDeniedException efs describe-file-systems
must iam put-user-policy --user-name cli-bob --policy-name efs-read \
	--policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"elasticfilesystem:Describe*","Resource":"*"}]}'
AWS_ACCESS_KEY_ID=$BOB_ID AWS_SECRET_ACCESS_KEY=$BOB_SECRET must efs describe-file-systems
jqc '.FileSystems | length == 1'
ok "iam put-user-policy allows cli-bob to describe"
AWS_ACCESS_KEY_ID=$BOB_ID AWS_SECRET_ACCESS_KEY=$BOB_SECRET \
	must_fail 254 AccessDeniedException efs delete-file-system --file-system-id "$FS"
AWS_ACCESS_KEY_ID=$BOB_ID AWS_SECRET_ACCESS_KEY=$BOB_SECRET \
	must_fail 254 UnauthorizedOperation ec2 describe-vpcs

# --- deletion -----------------------------------------------------------------
must_fail 254 FileSystemInUse efs delete-file-system --file-system-id "$FS"
must efs delete-access-point --access-point-id "$AP"
ok "delete-access-point"
must efs delete-mount-target --mount-target-id "$MT"
ok "delete-mount-target"
CHECK='.MountTargets == []'
wait_for "mount target gone" efs describe-mount-targets --file-system-id "$FS"
must efs delete-file-system --file-system-id "$FS"
ok "delete-file-system"
for _ in $(seq 300); do
	run efs describe-file-systems --file-system-id "$FS"
	[ "$rc" -eq 254 ] && break
	sleep 0.1
done
must_fail 254 FileSystemNotFound efs describe-file-systems --file-system-id "$FS"
must ec2 delete-security-group --group-id "$SG"
ok "ec2 delete-security-group"
must efs describe-file-systems
jqc '.FileSystems == []'
ok "describe-file-systems: none left"

echo "awscli.sh: $checks checks passed"
