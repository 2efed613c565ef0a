package control

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shelf-efs/shelf/internal/meta"
)

// Key layout of the control plane, version 1. Every key is
// meta.SystemKey("control/" + name); values are JSON records carrying "v"
// (recordVersion) so that a later build can upgrade them.
//
//	fs/<fsID>                    fsRecord
//	tok/<creationToken>          fsID (CreationToken idempotency)
//	nfs                          number of file systems (uint64)
//	mt/<mtID>                    mtRecord
//	mtfs/<fsID>/<mtID>           "" (mount targets of a file system)
//	ip/<address>                 mtID (addresses in use; one machine, so global)
//	ap/<apID>                    apRecord
//	apfs/<fsID>/<apID>           "" (access points of a file system)
//	apn/<fsID>                   number of access points of a file system (uint64)
//	aptok/<clientToken>          apID (ClientToken idempotency)
//	pol/<fsID>                   file-system policy text
//	prefs                        prefsRecord
//	sg/<sgID>                    sgRecord
const keyPrefix = "control/"

const recordVersion = 1

func ckey(parts ...string) []byte { return meta.SystemKey(keyPrefix + strings.Join(parts, "")) }

func fsKey(id string) []byte           { return ckey("fs/", id) }
func tokenKey(token string) []byte     { return ckey("tok/", token) }
func fsCountKey() []byte               { return ckey("nfs") }
func mtKey(id string) []byte           { return ckey("mt/", id) }
func mtByFSKey(fsID, id string) []byte { return ckey("mtfs/", fsID, "/", id) }
func mtByFSPrefix(fsID string) []byte  { return ckey("mtfs/", fsID, "/") }
func ipKey(ip string) []byte           { return ckey("ip/", ip) }
func apKey(id string) []byte           { return ckey("ap/", id) }
func apByFSKey(fsID, id string) []byte { return ckey("apfs/", fsID, "/", id) }
func apByFSPrefix(fsID string) []byte  { return ckey("apfs/", fsID, "/") }
func apCountKey(fsID string) []byte    { return ckey("apn/", fsID) }
func apTokenKey(token string) []byte   { return ckey("aptok/", token) }
func policyKey(fsID string) []byte     { return ckey("pol/", fsID) }
func prefsKey() []byte                 { return ckey("prefs") }
func sgKey(id string) []byte           { return ckey("sg/", id) }

// LifeCycleState is the state of a file system, mount target or access
// point (one enum in the API).
type LifeCycleState string

// Lifecycle states.
const (
	StateCreating  LifeCycleState = "creating"
	StateAvailable LifeCycleState = "available"
	StateUpdating  LifeCycleState = "updating"
	StateDeleting  LifeCycleState = "deleting"
	StateDeleted   LifeCycleState = "deleted"
	StateError     LifeCycleState = "error"
)

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// LifecyclePolicy holds exactly one transition.
type LifecyclePolicy struct {
	TransitionToIA                  string `json:"ia,omitempty"`
	TransitionToPrimaryStorageClass string `json:"primary,omitempty"`
	TransitionToArchive             string `json:"archive,omitempty"`
}

type fsRecord struct {
	V                int               `json:"v"`
	ID               string            `json:"id"`
	CreationToken    string            `json:"token"`
	Created          time.Time         `json:"created"`
	State            LifeCycleState    `json:"state"`
	PerformanceMode  string            `json:"perf"`
	ThroughputMode   string            `json:"tput"`
	ProvisionedMiBps float64           `json:"mibps,omitempty"`
	Encrypted        bool              `json:"enc,omitempty"`
	KMSKeyARN        string            `json:"kms,omitempty"`
	AZName           string            `json:"az,omitempty"`
	Tags             []Tag             `json:"tags,omitempty"`
	MountTargets     int               `json:"mts"`
	Backup           string            `json:"backup"`
	Lifecycle        []LifecyclePolicy `json:"lifecycle,omitempty"`
	Protection       string            `json:"protection"`
	// ThroughputChanged is when the throughput mode last changed or the
	// provisioned throughput last decreased (the 24-hour rule).
	ThroughputChanged time.Time    `json:"tput_changed,omitzero"`
	Replication       *replication `json:"repl,omitempty"` // on the source
	ReplicaOf         string       `json:"replica_of,omitempty"`
}

type replication struct {
	Created      time.Time     `json:"created"`
	Destinations []destination `json:"dests"`
}

type destination struct {
	FileSystemID   string    `json:"fs"`
	Region         string    `json:"region"`
	Status         string    `json:"status"`
	StatusMessage  string    `json:"msg,omitempty"`
	RoleARN        string    `json:"role,omitempty"`
	LastReplicated time.Time `json:"last,omitzero"`
}

type mtRecord struct {
	V              int            `json:"v"`
	ID             string         `json:"id"`
	FileSystemID   string         `json:"fs"`
	SubnetID       string         `json:"subnet"`
	VPCID          string         `json:"vpc"`
	AZName         string         `json:"az"`
	IP             string         `json:"ip"`
	ENI            string         `json:"eni"`
	SecurityGroups []string       `json:"sgs"`
	State          LifeCycleState `json:"state"`
	Created        time.Time      `json:"created"`
}

type apRecord struct {
	V             int            `json:"v"`
	ID            string         `json:"id"`
	FileSystemID  string         `json:"fs"`
	ClientToken   string         `json:"token"`
	Tags          []Tag          `json:"tags,omitempty"`
	PosixUser     *PosixUser     `json:"posix,omitempty"`
	RootDirectory RootDirectory  `json:"root"`
	State         LifeCycleState `json:"state"`
	Created       time.Time      `json:"created"`
}

type prefsRecord struct {
	V              int    `json:"v"`
	ResourceIDType string `json:"id_type"`
}

type sgRecord struct {
	V           int    `json:"v"`
	ID          string `json:"id"`
	VPCID       string `json:"vpc"`
	Name        string `json:"name"`
	Description string `json:"descr"`
	Default     bool   `json:"default,omitempty"`
	Rules       []Rule `json:"rules,omitempty"`
	Tags        []Tag  `json:"tags,omitempty"`
}

var errCorrupt = errors.New("control: corrupt record")

func getJSON(r meta.Reader, key []byte, v any) error {
	b, err := r.Get(key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w %q: %v", errCorrupt, key, err)
	}
	return nil
}

func putJSON(t meta.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.Set(key, b)
}

func getCount(r meta.Reader, key []byte) (uint64, error) {
	b, err := r.Get(key)
	if errors.Is(err, meta.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("%w %q: counter of %d bytes", errCorrupt, key, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

func addCount(t meta.Txn, key []byte, delta int) error {
	n, err := getCount(t, key)
	if err != nil {
		return err
	}
	v := int64(n) + int64(delta)
	if v <= 0 {
		return t.Delete(key)
	}
	return t.Set(key, binary.BigEndian.AppendUint64(nil, uint64(v)))
}

// scanFileSystems calls fn for every file-system record whose ID is greater
// than after, in ID order.
func scanFileSystems(r meta.Reader, after string, fn func(*fsRecord) (bool, error)) error {
	prefix := fsKey("")
	start := prefix
	if after != "" {
		start = append(fsKey(after), 0)
	}
	return r.Scan(start, meta.PrefixEnd(prefix), func(k, v []byte) (bool, error) {
		var rec fsRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return false, fmt.Errorf("%w %q: %v", errCorrupt, k, err)
		}
		return fn(&rec)
	})
}

// scanIndex calls fn with the last component of every key under prefix
// that sorts after prefix+after.
func scanIndex(r meta.Reader, prefix []byte, after string, fn func(id string) (bool, error)) error {
	start := prefix
	if after != "" {
		start = append(append(append([]byte(nil), prefix...), after...), 0)
	}
	return r.Scan(start, meta.PrefixEnd(prefix), func(k, _ []byte) (bool, error) {
		return fn(string(k[len(prefix):]))
	})
}

func getFS(r meta.Reader, id string) (*fsRecord, error) {
	var rec fsRecord
	if err := getJSON(r, fsKey(id), &rec); err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return nil, errorf(FileSystemNotFound, "File system '%s' does not exist.", id)
		}
		return nil, err
	}
	return &rec, nil
}

func getMT(r meta.Reader, id string) (*mtRecord, error) {
	var rec mtRecord
	if err := getJSON(r, mtKey(id), &rec); err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return nil, errorf(MountTargetNotFound, "Mount target '%s' does not exist.", id)
		}
		return nil, err
	}
	return &rec, nil
}

func getAP(r meta.Reader, id string) (*apRecord, error) {
	var rec apRecord
	if err := getJSON(r, apKey(id), &rec); err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return nil, errorf(AccessPointNotFound, "Access point '%s' does not exist.", id)
		}
		return nil, err
	}
	return &rec, nil
}
