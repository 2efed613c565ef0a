package control

import (
	"context"
	"errors"
	"fmt"
)

// Code is the closed vocabulary of control-plane conditions. The EFS codes
// are named after the error shapes of the EFS API model (the HTTP edge maps
// each to its status and ErrorCode exactly once); the network codes are
// named after the EC2 error codes of the VPC and security-group calls.
type Code int

// EFS conditions.
const (
	// InternalServerError: a failure of the layers below (storage, KMS). The
	// cause is in Err and goes only to the log.
	InternalServerError Code = iota + 1
	BadRequest
	// ValidationException: a value breaks a constraint of the API model
	// (pattern, length, range, enum), as EFS answers it.
	ValidationException
	AccessPointAlreadyExists
	AccessPointLimitExceeded
	AccessPointNotFound
	AvailabilityZonesMismatch
	ConflictException
	FileSystemAlreadyExists
	FileSystemInUse
	FileSystemLimitExceeded
	FileSystemNotFound
	IncorrectFileSystemLifeCycleState
	IncorrectMountTargetState
	InvalidPolicyException
	IpAddressInUse
	MountTargetConflict
	MountTargetNotFound
	NetworkInterfaceLimitExceeded
	NoFreeAddressesInSubnet
	PolicyNotFound
	ReplicationAlreadyExists
	ReplicationNotFound
	SecurityGroupLimitExceeded
	SecurityGroupNotFound
	SubnetNotFound
	ThroughputLimitExceeded
	TooManyRequests
	UnsupportedAvailabilityZone

	// Network conditions (EC2 codes). The EFS edge never sees them: EFS
	// calls report SubnetNotFound and SecurityGroupNotFound instead.
	NetInvalidVPCNotFound         // InvalidVpcID.NotFound
	NetInvalidGroupNotFound       // InvalidGroup.NotFound
	NetInvalidGroupDuplicate      // InvalidGroup.Duplicate
	NetInvalidPermissionDuplicate // InvalidPermission.Duplicate
	NetInvalidPermissionNotFound  // InvalidPermission.NotFound
	NetDependencyViolation        // DependencyViolation
	NetCannotDelete               // CannotDelete
	NetInvalidParameterValue      // InvalidParameterValue
	NetRulesPerGroupLimitExceeded // RulesPerSecurityGroupLimitExceeded
	NetSecurityGroupLimitExceeded // SecurityGroupLimitExceeded (per VPC)
	lastCode                      // sentinel for exhaustive tests
)

var codeNames = [...]string{
	InternalServerError:               "InternalServerError",
	BadRequest:                        "BadRequest",
	ValidationException:               "ValidationException",
	AccessPointAlreadyExists:          "AccessPointAlreadyExists",
	AccessPointLimitExceeded:          "AccessPointLimitExceeded",
	AccessPointNotFound:               "AccessPointNotFound",
	AvailabilityZonesMismatch:         "AvailabilityZonesMismatch",
	ConflictException:                 "ConflictException",
	FileSystemAlreadyExists:           "FileSystemAlreadyExists",
	FileSystemInUse:                   "FileSystemInUse",
	FileSystemLimitExceeded:           "FileSystemLimitExceeded",
	FileSystemNotFound:                "FileSystemNotFound",
	IncorrectFileSystemLifeCycleState: "IncorrectFileSystemLifeCycleState",
	IncorrectMountTargetState:         "IncorrectMountTargetState",
	InvalidPolicyException:            "InvalidPolicyException",
	IpAddressInUse:                    "IpAddressInUse",
	MountTargetConflict:               "MountTargetConflict",
	MountTargetNotFound:               "MountTargetNotFound",
	NetworkInterfaceLimitExceeded:     "NetworkInterfaceLimitExceeded",
	NoFreeAddressesInSubnet:           "NoFreeAddressesInSubnet",
	PolicyNotFound:                    "PolicyNotFound",
	ReplicationAlreadyExists:          "ReplicationAlreadyExists",
	ReplicationNotFound:               "ReplicationNotFound",
	SecurityGroupLimitExceeded:        "SecurityGroupLimitExceeded",
	SecurityGroupNotFound:             "SecurityGroupNotFound",
	SubnetNotFound:                    "SubnetNotFound",
	ThroughputLimitExceeded:           "ThroughputLimitExceeded",
	TooManyRequests:                   "TooManyRequests",
	UnsupportedAvailabilityZone:       "UnsupportedAvailabilityZone",
	NetInvalidVPCNotFound:             "InvalidVpcID.NotFound",
	NetInvalidGroupNotFound:           "InvalidGroup.NotFound",
	NetInvalidGroupDuplicate:          "InvalidGroup.Duplicate",
	NetInvalidPermissionDuplicate:     "InvalidPermission.Duplicate",
	NetInvalidPermissionNotFound:      "InvalidPermission.NotFound",
	NetDependencyViolation:            "DependencyViolation",
	NetCannotDelete:                   "CannotDelete",
	NetInvalidParameterValue:          "InvalidParameterValue",
	NetRulesPerGroupLimitExceeded:     "RulesPerSecurityGroupLimitExceeded",
	NetSecurityGroupLimitExceeded:     "SecurityGroupLimitExceeded",
}

// String is the wire name of the code (the EFS error shape or EC2 code).
func (c Code) String() string {
	if c > 0 && c < lastCode {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", int(c))
}

// Codes lists every code, for exhaustive mapping tests at the edges.
func Codes() []Code {
	out := make([]Code, 0, lastCode-1)
	for c := Code(1); c < lastCode; c++ {
		out = append(out, c)
	}
	return out
}

// Error is the only error type the Service returns (besides context
// errors). Message is safe to show to the client: it never holds keys,
// paths or causes from the layers below; Err does, and goes only to logs.
type Error struct {
	Code    Code
	Message string
	// FileSystemID is set for FileSystemAlreadyExists, AccessPointID for
	// AccessPointAlreadyExists (the API returns them with the error).
	FileSystemID  string
	AccessPointID string
	Err           error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("control: %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("control: %s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// CodeOf returns the Code of err: its *Error code, InternalServerError for
// any other non-nil error.
func CodeOf(err error) Code {
	if err == nil {
		return 0
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return InternalServerError
}

// IsCode reports whether err is an *Error with code c.
func IsCode(err error, c Code) bool { return err != nil && CodeOf(err) == c }

func errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// internal wraps a failure of a lower layer. The message is generic.
func internal(op string, err error) error {
	if err == nil {
		return nil
	}
	var ce *Error
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &Error{Code: InternalServerError, Message: "An internal error occurred.", Err: fmt.Errorf("%s: %w", op, err)}
}
