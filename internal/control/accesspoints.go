package control

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/shelf-efs/shelf/internal/meta"
)

// PosixUser is the identity an access point imposes on every request.
type PosixUser struct {
	UID           uint32   `json:"uid"`
	GID           uint32   `json:"gid"`
	SecondaryGIDs []uint32 `json:"gids,omitempty"`
}

// CreationInfo says how to create an access point's root directory.
type CreationInfo struct {
	OwnerUID    uint32 `json:"uid"`
	OwnerGID    uint32 `json:"gid"`
	Permissions string `json:"perm"` // 3 or 4 octal digits
}

// RootDirectory is the directory an access point exposes as its root.
type RootDirectory struct {
	Path         string        `json:"path"`
	CreationInfo *CreationInfo `json:"ci,omitempty"`
}

// AccessPoint describes an access point.
type AccessPoint struct {
	ID, ARN, FileSystemID, ClientToken, OwnerID, Name string
	PosixUser                                         *PosixUser
	RootDirectory                                     RootDirectory
	LifeCycleState                                    LifeCycleState
	Tags                                              []Tag
	CreationTime                                      time.Time
}

func (s *Service) describeAP(rec *apRecord) AccessPoint {
	ap := AccessPoint{ID: rec.ID, ARN: s.AccessPointARN(rec.ID), FileSystemID: rec.FileSystemID,
		ClientToken: rec.ClientToken, OwnerID: s.cfg.Account, Name: nameOf(rec.Tags), PosixUser: rec.PosixUser,
		RootDirectory: rec.RootDirectory, LifeCycleState: rec.State, Tags: slices.Clone(rec.Tags), CreationTime: rec.Created}
	if ap.Tags == nil {
		ap.Tags = []Tag{}
	}
	return ap
}

// CreateAccessPointInput holds the parameters of CreateAccessPoint.
type CreateAccessPointInput struct {
	ClientToken   string
	FileSystemID  string // ID or ARN
	PosixUser     *PosixUser
	RootDirectory *RootDirectory // nil means "/"
	Tags          []Tag
}

// ValidateRootPath checks an access point's root directory path: "/" or 1
// to 4 components, at most 100 characters, no component starting with '.',
// none of $#<>;`|&?{}^* or a newline (the model's Path pattern).
func ValidateRootPath(p string) error {
	if p == "" || len(p) > MaxRootDirectoryPathChars || p[0] != '/' {
		return errorf(BadRequest, "Invalid root directory path '%s'.", p)
	}
	if p == "/" {
		return nil
	}
	comps := strings.Split(p[1:], "/")
	if len(comps) > MaxRootDirectoryPathComponents {
		return errorf(BadRequest, "The root directory path '%s' has more than %d components.", p, MaxRootDirectoryPathComponents)
	}
	for _, c := range comps {
		if c == "" || c[0] == '.' || strings.ContainsAny(c, "$#<>;`|&?{}^*\n") {
			return errorf(BadRequest, "Invalid root directory path '%s'.", p)
		}
	}
	return nil
}

func validPermissions(p string) bool {
	if len(p) != 3 && len(p) != 4 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '7' {
			return false
		}
	}
	return true
}

// CreateAccessPoint creates an access point. A ClientToken already used
// fails with AccessPointAlreadyExists carrying that access point's ID; a
// file system with MaxAccessPointsPerFileSystem access points fails with
// AccessPointLimitExceeded.
func (s *Service) CreateAccessPoint(ctx context.Context, in CreateAccessPointInput) (AccessPoint, error) {
	if in.ClientToken == "" || len(in.ClientToken) > 64 {
		return AccessPoint{}, errorf(BadRequest, "ClientToken must be 1 to 64 characters.")
	}
	fsID, err := s.fsID(in.FileSystemID)
	if err != nil {
		return AccessPoint{}, err
	}
	root := RootDirectory{Path: "/"}
	if in.RootDirectory != nil {
		root = *in.RootDirectory
		if root.Path == "" {
			root.Path = "/"
		}
	}
	if err := ValidateRootPath(root.Path); err != nil {
		return AccessPoint{}, err
	}
	if ci := root.CreationInfo; ci != nil && !validPermissions(ci.Permissions) {
		return AccessPoint{}, errorf(BadRequest, "Invalid permissions '%s': give 3 or 4 octal digits.", ci.Permissions)
	}
	if in.PosixUser != nil && len(in.PosixUser.SecondaryGIDs) > MaxSecondaryGids {
		return AccessPoint{}, errorf(BadRequest, "A POSIX user can have at most %d secondary group IDs.", MaxSecondaryGids)
	}
	if err := validateTags(in.Tags); err != nil {
		return AccessPoint{}, err
	}
	id, err := s.newID("fsap-", 17)
	if err != nil {
		return AccessPoint{}, err
	}
	rec := apRecord{V: recordVersion, ID: id, FileSystemID: fsID, ClientToken: in.ClientToken, Tags: slices.Clone(in.Tags),
		PosixUser: in.PosixUser, RootDirectory: root, State: StateAvailable, Created: s.now()}
	err = s.meta.Update(ctx, func(t meta.Txn) error {
		if b, err := t.Get(apTokenKey(in.ClientToken)); err == nil {
			return &Error{Code: AccessPointAlreadyExists, AccessPointID: string(b),
				Message: "Access point '" + string(b) + "' already exists with client token '" + in.ClientToken + "'"}
		} else if !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		f, err := getFS(t, fsID)
		if err != nil {
			return err
		}
		if err := requireAvailable(f); err != nil {
			return err
		}
		n, err := getCount(t, apCountKey(fsID))
		if err != nil {
			return err
		}
		if n >= uint64(s.cfg.MaxAccessPointsPerFileSystem) {
			return errorf(AccessPointLimitExceeded, "File system '%s' has reached the limit of %d access points.", fsID, s.cfg.MaxAccessPointsPerFileSystem)
		}
		if _, err := t.Get(apKey(id)); err == nil {
			return errorf(BadRequest, "Access point ID '%s' is already in use.", id)
		}
		if err := addCount(t, apCountKey(fsID), 1); err != nil {
			return err
		}
		if err := t.Set(apTokenKey(in.ClientToken), []byte(id)); err != nil {
			return err
		}
		if err := t.Set(apByFSKey(fsID, id), nil); err != nil {
			return err
		}
		return putJSON(t, apKey(id), &rec)
	})
	if err != nil {
		return AccessPoint{}, internal("create access point", err)
	}
	return s.describeAP(&rec), nil
}

// DeleteAccessPoint deletes an access point. Clients connected through it
// keep working until they disconnect (the NFS layer decides).
func (s *Service) DeleteAccessPoint(ctx context.Context, ref string) error {
	id, err := s.apID(ref)
	if err != nil {
		return err
	}
	err = s.meta.Update(ctx, func(t meta.Txn) error {
		rec, err := getAP(t, id)
		if err != nil {
			return err
		}
		if b, err := t.Get(apTokenKey(rec.ClientToken)); err == nil && string(b) == id {
			if err := t.Delete(apTokenKey(rec.ClientToken)); err != nil {
				return err
			}
		}
		if err := addCount(t, apCountKey(rec.FileSystemID), -1); err != nil {
			return err
		}
		if err := t.Delete(apByFSKey(rec.FileSystemID, id)); err != nil {
			return err
		}
		return t.Delete(apKey(id))
	})
	return internal("delete access point", err)
}

// AccessPoint returns one access point (ID or ARN).
func (s *Service) AccessPoint(ctx context.Context, ref string) (AccessPoint, error) {
	id, err := s.apID(ref)
	if err != nil {
		return AccessPoint{}, err
	}
	var ap AccessPoint
	err = s.meta.View(ctx, func(r meta.Reader) error {
		rec, err := getAP(r, id)
		if err != nil {
			return err
		}
		ap = s.describeAP(rec)
		return nil
	})
	return ap, internal("get access point", err)
}

// DescribeAccessPointsInput selects access points: by AccessPointID, by
// FileSystemID, or (neither) all of the account.
type DescribeAccessPointsInput struct {
	AccessPointID, FileSystemID string
	NextToken                   string
	MaxResults                  int
}

// AccessPointPage is one page of DescribeAccessPoints.
type AccessPointPage struct {
	AccessPoints []AccessPoint
	NextToken    string
}

// DescribeAccessPoints lists access points in ID order.
func (s *Service) DescribeAccessPoints(ctx context.Context, in DescribeAccessPointsInput) (AccessPointPage, error) {
	if in.AccessPointID != "" && in.FileSystemID != "" {
		return AccessPointPage{}, errorf(BadRequest, "AccessPointId and FileSystemId are mutually exclusive.")
	}
	after, err := decodeMarker("ap", in.NextToken)
	if err != nil {
		return AccessPointPage{}, err
	}
	limit := pageSize(in.MaxResults)
	var page AccessPointPage
	err = s.meta.View(ctx, func(r meta.Reader) error {
		page = AccessPointPage{}
		if in.AccessPointID != "" {
			id, err := s.apID(in.AccessPointID)
			if err != nil {
				return err
			}
			rec, err := getAP(r, id)
			if err != nil {
				return err
			}
			if after == "" {
				page.AccessPoints = append(page.AccessPoints, s.describeAP(rec))
			}
			return nil
		}
		var last string
		add := func(rec *apRecord) bool {
			if len(page.AccessPoints) == limit {
				page.NextToken = encodeMarker("ap", last)
				return false
			}
			page.AccessPoints = append(page.AccessPoints, s.describeAP(rec))
			last = rec.ID
			return true
		}
		if in.FileSystemID != "" {
			fsID, err := s.fsID(in.FileSystemID)
			if err != nil {
				return err
			}
			if _, err := getFS(r, fsID); err != nil {
				return err
			}
			return scanIndex(r, apByFSPrefix(fsID), after, func(id string) (bool, error) {
				rec, err := getAP(r, id)
				if err != nil {
					return false, err
				}
				return add(rec), nil
			})
		}
		prefix := apKey("")
		start := prefix
		if after != "" {
			start = append(apKey(after), 0)
		}
		return r.Scan(start, meta.PrefixEnd(prefix), func(k, v []byte) (bool, error) {
			var rec apRecord
			if err := getJSON(r, k, &rec); err != nil {
				return false, err
			}
			return add(&rec), nil
		})
	})
	if err != nil {
		return AccessPointPage{}, internal("describe access points", err)
	}
	return page, nil
}
