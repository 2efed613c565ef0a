package iam

// Actions of EFS that the policy engine is asked about. NFS clients are
// authorized with the three Client* actions, which are permission-only
// (no API call has them); API calls with elasticfilesystem:<Operation>.
const (
	ActionClientMount         = "elasticfilesystem:ClientMount"      // read-only access
	ActionClientWrite         = "elasticfilesystem:ClientWrite"      // write access
	ActionClientRootAccess    = "elasticfilesystem:ClientRootAccess" // use of UID 0
	ActionPutFileSystemPolicy = "elasticfilesystem:PutFileSystemPolicy"
)

// Condition keys that shelf puts in the request context.
const (
	KeySourceIP               = "aws:SourceIp"
	KeySecureTransport        = "aws:SecureTransport"
	KeyCurrentTime            = "aws:CurrentTime"
	KeyEpochTime              = "aws:EpochTime"
	KeyPrincipalARN           = "aws:PrincipalArn"
	KeyPrincipalAccount       = "aws:PrincipalAccount"
	KeyUsername               = "aws:username"
	KeyUserID                 = "aws:userid"
	KeyTagKeys                = "aws:TagKeys"
	KeyRequestTagPrefix       = "aws:RequestTag/"  // + tag key
	KeyResourceTagPrefix      = "aws:ResourceTag/" // + tag key
	KeyAccessPointARN         = "elasticfilesystem:AccessPointArn"
	KeyAccessedViaMountTarget = "elasticfilesystem:AccessedViaMountTarget"
	KeyEncrypted              = "elasticfilesystem:Encrypted"
)

// DefaultFileSystemPolicy is the policy in effect on a file system that has
// none of its own: "The default EFS file system policy grants full access
// to any client that can connect to the file system using a file system
// mount target" (EFS User Guide, "Default EFS file system policy"). It is
// the statement the EFS console starts its policy editor from, which its
// "Prevent root access", "Enforce read-only access" and "Prevent anonymous
// access" options edit by removing an action.
//
// While the default is in effect DescribeFileSystemPolicy answers
// PolicyNotFound, not this text; callers that evaluate NFS access with no
// file-system policy may evaluate this one (it allows everything when the
// request carries elasticfilesystem:AccessedViaMountTarget=true) or skip
// evaluation.
const DefaultFileSystemPolicy = `{
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {
                "AWS": "*"
            },
            "Action": [
                "elasticfilesystem:ClientRootAccess",
                "elasticfilesystem:ClientWrite",
                "elasticfilesystem:ClientMount"
            ],
            "Condition": {
                "Bool": {
                    "elasticfilesystem:AccessedViaMountTarget": "true"
                }
            }
        }
    ]
}`
