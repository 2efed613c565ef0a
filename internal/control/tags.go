package control

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/shelf-efs/shelf/internal/meta"
)

// Resource names a taggable resource: a file system or an access point.
type Resource struct {
	// ID is "fs-…" or "fsap-…".
	ID string
	// ARN is the resource's ARN.
	ARN string
	// AccessPoint is true for an access point.
	AccessPoint bool
}

// ResolveResource turns a ResourceId of the tagging calls (an ID or ARN of a
// file system or access point) into a Resource. It does not check that the
// resource exists.
func (s *Service) ResolveResource(ref string) (Resource, error) {
	if strings.HasPrefix(ref, "fsap-") || strings.Contains(ref, ":access-point/") {
		id, err := s.apID(ref)
		if err != nil {
			return Resource{}, err
		}
		return Resource{ID: id, ARN: s.AccessPointARN(id), AccessPoint: true}, nil
	}
	id, err := s.fsID(ref)
	if err != nil {
		return Resource{}, err
	}
	return Resource{ID: id, ARN: s.FileSystemARN(id)}, nil
}

// Tags returns the tags of a resource (FileSystemNotFound or
// AccessPointNotFound if it does not exist).
func (s *Service) Tags(ctx context.Context, res Resource) ([]Tag, error) {
	var tags []Tag
	err := s.meta.View(ctx, func(r meta.Reader) error {
		if res.AccessPoint {
			rec, err := getAP(r, res.ID)
			if err != nil {
				return err
			}
			tags = slices.Clone(rec.Tags)
			return nil
		}
		rec, err := getFS(r, res.ID)
		if err != nil {
			return err
		}
		tags = slices.Clone(rec.Tags)
		return nil
	})
	if err != nil {
		return nil, internal("get tags", err)
	}
	return nonNil(tags), nil
}

// changeTags applies fn to the tags of res in one transaction.
func (s *Service) changeTags(ctx context.Context, res Resource, fn func([]Tag) ([]Tag, error)) error {
	err := s.meta.Update(ctx, func(t meta.Txn) error {
		if res.AccessPoint {
			rec, err := getAP(t, res.ID)
			if err != nil {
				return err
			}
			if rec.Tags, err = fn(rec.Tags); err != nil {
				return err
			}
			return putJSON(t, apKey(res.ID), rec)
		}
		rec, err := getFS(t, res.ID)
		if err != nil {
			return err
		}
		if rec.State == StateDeleting {
			return errorf(FileSystemNotFound, "File system '%s' does not exist.", res.ID)
		}
		if rec.Tags, err = fn(rec.Tags); err != nil {
			return err
		}
		return putJSON(t, fsKey(res.ID), rec)
	})
	return internal("change tags", err)
}

// TagResource adds or overwrites tags (at most 50 in all).
func (s *Service) TagResource(ctx context.Context, res Resource, tags []Tag) error {
	if len(tags) == 0 {
		return errorf(BadRequest, "Specify at least one tag.")
	}
	if err := validateTags(tags); err != nil {
		return err
	}
	return s.changeTags(ctx, res, func(have []Tag) ([]Tag, error) {
		out := mergeTags(have, tags)
		if len(out) > MaxTags {
			return nil, errorf(BadRequest, "A resource can have at most %d tags.", MaxTags)
		}
		return out, nil
	})
}

// UntagResource removes the tags with the given keys; missing keys are
// ignored.
func (s *Service) UntagResource(ctx context.Context, res Resource, keys []string) error {
	if len(keys) == 0 {
		return errorf(BadRequest, "Specify at least one tag key.")
	}
	for _, k := range keys {
		if err := validateTagKey(k); err != nil {
			return err
		}
	}
	return s.changeTags(ctx, res, func(have []Tag) ([]Tag, error) { return removeTags(have, keys), nil })
}

// TagPage is one page of tags.
type TagPage struct {
	Tags []Tag
	Next string
}

// ListTags returns a page of the tags of res, continuing after token
// (opaque; from a previous page).
func (s *Service) ListTags(ctx context.Context, res Resource, token string, max int) (TagPage, error) {
	off := 0
	if token != "" {
		v, err := decodeMarker("tag", token)
		if err != nil {
			return TagPage{}, err
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return TagPage{}, errorf(BadRequest, "Invalid pagination token.")
		}
		off = n
	}
	tags, err := s.Tags(ctx, res)
	if err != nil {
		return TagPage{}, err
	}
	limit := pageSize(max)
	page := TagPage{Tags: []Tag{}}
	if off < len(tags) {
		end := min(off+limit, len(tags))
		page.Tags = tags[off:end]
		if end < len(tags) {
			page.Next = encodeMarker("tag", strconv.Itoa(end))
		}
	}
	return page, nil
}
