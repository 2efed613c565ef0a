// Package users owns the IAM identities of an account: users (with their
// paths and unique IDs), access keys (the credentials SigV4 requests are
// signed with, for users and for the account root) and inline identity
// policies. Everything is persisted through meta.Store under system keys
// (records.go); secret access keys are stored sealed by a Sealer
// (*kms.Manager), never in plaintext.
//
// The HTTP edge authenticates with Lookup (access key ID → principal and
// secret, then internal/sigv4 verifies the signature) and authorizes with
// IdentityPolicies (the raw documents, for internal/iam). Service (api.go)
// serves the IAM query API (signing name "iam") for the user, key and
// inline-policy operations, so that `aws iam …` manages them.
//
// This package imports edge (for its contracts), iam (to validate policy
// documents), meta, clock and sigv4 (for its error vocabulary) of shelf; it
// must not import kms, control, fs or any engine.
package users

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/meta"
)

// Sealer seals secret access keys at rest. *kms.Manager implements it. The
// purpose binds a sealed value to its access key ID: OpenSecret must fail
// for any other purpose.
type Sealer interface {
	SealSecret(ctx context.Context, purpose string, plaintext []byte) ([]byte, error)
	OpenSecret(ctx context.Context, purpose string, sealed []byte) ([]byte, error)
}

var _ edge.Credentials = (*Store)(nil)

// Store manages the users, access keys and inline policies of one account.
// All methods are safe for concurrent use; each mutation is one meta
// transaction, so nothing is half-written. The Store keeps no state in
// memory beyond its configuration: every call reads the store, so a key
// deactivated or deleted by one call is refused by the next Lookup.
type Store struct {
	meta    meta.Store
	sealer  Sealer
	account string
	clk     clock.Clock
	rand    io.Reader // crypto/rand.Reader; tests substitute a fixed source
	keys    schema
	created time.Time // when the account (its root) was first seen
}

// User is an IAM user.
type User struct {
	Path       string // "/" or "/division/team/"
	UserName   string // as created; lookups ignore case
	UserID     string // AIDA…
	ARN        string // arn:aws:iam::<account>:user<path><name>
	CreateDate time.Time
}

// AccessKey is the metadata of an access key; the secret is returned only
// by CreateAccessKey, EnsureRootAccessKey and Lookup.
type AccessKey struct {
	// UserName is empty for a key of the account root.
	UserName    string
	AccessKeyID string
	Status      string // StatusActive or StatusInactive
	CreateDate  time.Time
}

// Open returns the Store of account (12 digits) over m. On first use it
// records the account's creation date (the CreateDate of the root). A nil
// clk means clock.System.
func Open(ctx context.Context, m meta.Store, sealer Sealer, account string, clk clock.Clock) (*Store, error) {
	if len(account) != 12 || strings.Trim(account, "0123456789") != "" {
		return nil, fmt.Errorf("users: open: account ID %q is not 12 digits", account)
	}
	if m == nil || sealer == nil {
		return nil, errors.New("users: open: nil store or sealer")
	}
	if clk == nil {
		clk = clock.System
	}
	s := &Store{meta: m, sealer: sealer, account: account, clk: clk, rand: rand.Reader, keys: newSchema(account)}
	now := s.now()
	err := m.Update(ctx, func(t meta.Txn) error {
		var rec accountRecord
		switch err := get(t, s.keys.account(), &rec); {
		case err == nil:
			s.created = rec.Created
			return nil
		case !errors.Is(err, errMissing):
			return err
		}
		s.created = now
		return put(t, s.keys.account(), &accountRecord{Format: recordFormat, Created: now})
	})
	if err != nil {
		return nil, fmt.Errorf("users: open: %w", err)
	}
	return s, nil
}

// Account returns the 12-digit account ID.
func (s *Store) Account() string { return s.account }

// RootARN returns arn:aws:iam::<account>:root.
func (s *Store) RootARN() string { return "arn:aws:iam::" + s.account + ":root" }

// UserARN returns the ARN of the user name with path.
func (s *Store) UserARN(path, name string) string {
	return "arn:aws:iam::" + s.account + ":user" + path + name
}

// Root returns the account root as a User (UserID and the ARN of the
// account, no name or path), as GetUser shows it.
func (s *Store) Root() User {
	return User{UserID: s.account, ARN: s.RootARN(), CreateDate: s.created}
}

func (s *Store) now() time.Time { return s.clk.Now().UTC().Truncate(time.Second) }

func (s *Store) user(rec *userRecord) User {
	return User{Path: rec.Path, UserName: rec.Name, UserID: rec.ID, ARN: s.UserARN(rec.Path, rec.Name), CreateDate: rec.Created}
}

// Random identifiers, as AWS forms them: an ID prefix and upper-case
// base32 (A–Z, 2–7).

func (s *Store) randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return nil, fmt.Errorf("users: random: %w", err)
	}
	return b, nil
}

func (s *Store) newID(prefix string, chars int) (string, error) {
	b, err := s.randomBytes((chars*5 + 7) / 8)
	if err != nil {
		return "", err
	}
	return prefix + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)[:chars], nil
}

// newSecret returns 40 characters of base64 (240 random bits).
func (s *Store) newSecret() (string, error) {
	b, err := s.randomBytes(30)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// CreateUser creates a user. path "" means "/". A user whose name differs
// only in case counts as the same user (ErrEntityAlreadyExists).
func (s *Store) CreateUser(ctx context.Context, name, path string) (User, error) {
	if path == "" {
		path = "/"
	}
	if err := validateUserName(name); err != nil {
		return User{}, err
	}
	if err := validatePath(path); err != nil {
		return User{}, err
	}
	id, err := s.newID("AIDA", 17)
	if err != nil {
		return User{}, err
	}
	rec := &userRecord{Format: recordFormat, Name: name, Path: path, ID: id, Created: s.now()}
	err = s.meta.Update(ctx, func(t meta.Txn) error {
		var cur userRecord
		switch err := get(t, s.keys.user(strings.ToLower(name)), &cur); {
		case err == nil:
			return errf(ErrEntityAlreadyExists, "User with name %s already exists.", cur.Name)
		case !errors.Is(err, errMissing):
			return err
		}
		n := 0
		err := meta.ScanPrefix(t, s.keys.userPrefix(), func(_, _ []byte) (bool, error) {
			n++
			return n < MaxUsers, nil
		})
		if err != nil {
			return fmt.Errorf("users: count users: %w", err)
		}
		if n >= MaxUsers {
			return errf(ErrLimitExceeded, "Cannot exceed quota for UsersPerAccount: %d", MaxUsers)
		}
		return put(t, s.keys.user(strings.ToLower(name)), rec)
	})
	if err != nil {
		return User{}, err
	}
	return s.user(rec), nil
}

// GetUser returns the user name (in any case).
func (s *Store) GetUser(ctx context.Context, name string) (User, error) {
	if err := validateUserName(name); err != nil {
		return User{}, err
	}
	var rec userRecord
	err := s.meta.View(ctx, func(r meta.Reader) error { return s.getUser(r, name, &rec) })
	if err != nil {
		return User{}, err
	}
	return s.user(&rec), nil
}

func (s *Store) getUser(r meta.Reader, name string, rec *userRecord) error {
	err := get(r, s.keys.user(strings.ToLower(name)), rec)
	if errors.Is(err, errMissing) {
		return noSuchUser(name)
	}
	return err
}

// ListUsers returns up to maxItems users (0 means DefaultMaxItems) whose
// path starts with pathPrefix ("" means "/"), in order of their lower-case
// names, after marker (a value returned as next by a previous call; ""
// starts at the beginning). next is "" when there are no more.
func (s *Store) ListUsers(ctx context.Context, pathPrefix, marker string, maxItems int) (users []User, next string, err error) {
	if pathPrefix == "" {
		pathPrefix = "/"
	}
	if err := validatePathPrefix(pathPrefix); err != nil {
		return nil, "", err
	}
	maxItems, err = validatePage(maxItems, marker)
	if err != nil {
		return nil, "", err
	}
	start, err := s.markerStart(s.keys.userPrefix(), marker)
	if err != nil {
		return nil, "", err
	}
	err = s.meta.View(ctx, func(r meta.Reader) error {
		users, next = users[:0], ""
		prefix := s.keys.userPrefix()
		return r.Scan(start, meta.PrefixEnd(prefix), func(k, v []byte) (bool, error) {
			var rec userRecord
			if err := decode(k, v, &rec); err != nil {
				return false, err
			}
			if !strings.HasPrefix(rec.Path, pathPrefix) {
				return true, nil
			}
			if len(users) == maxItems {
				next = encodeMarker(k[len(prefix):])
				return false, nil
			}
			users = append(users, s.user(&rec))
			return true, nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return users, next, nil
}

// Markers are the base64 of the first key suffix of the next page.
func encodeMarker(suffix []byte) string { return base64.RawURLEncoding.EncodeToString(suffix) }

func (s *Store) markerStart(prefix []byte, marker string) ([]byte, error) {
	if marker == "" {
		return prefix, nil
	}
	suffix, err := base64.RawURLEncoding.DecodeString(marker)
	if err != nil || len(suffix) == 0 {
		return nil, errf(ErrValidation, "Invalid Marker.")
	}
	return append(append([]byte(nil), prefix...), suffix...), nil
}

// DeleteUser deletes a user that has no access keys and no inline policies
// (otherwise ErrDeleteConflict, as IAM).
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	if err := validateUserName(name); err != nil {
		return err
	}
	lower := strings.ToLower(name)
	return s.meta.Update(ctx, func(t meta.Txn) error {
		var rec userRecord
		if err := s.getUser(t, name, &rec); err != nil {
			return err
		}
		if has, err := hasAny(t, s.keys.ownerKeys(lower)); err != nil || has {
			if err == nil {
				err = errf(ErrDeleteConflict, "Cannot delete entity, must delete access keys first.")
			}
			return err
		}
		if has, err := hasAny(t, s.keys.policies(lower)); err != nil || has {
			if err == nil {
				err = errf(ErrDeleteConflict, "Cannot delete entity, must delete policies first.")
			}
			return err
		}
		if err := t.Delete(s.keys.user(lower)); err != nil {
			return fmt.Errorf("users: delete user: %w", err)
		}
		return nil
	})
}

func hasAny(r meta.Reader, prefix []byte) (bool, error) {
	found := false
	err := meta.ScanPrefix(r, prefix, func(_, _ []byte) (bool, error) {
		found = true
		return false, nil
	})
	if err != nil {
		return false, fmt.Errorf("users: scan: %w", err)
	}
	return found, nil
}

// owner resolves a user name ("" = the account root) to its owner key part,
// checking in r that the user exists.
func (s *Store) owner(r meta.Reader, userName string) (string, error) {
	if userName == "" {
		return rootOwner, nil
	}
	if err := validateUserName(userName); err != nil {
		return "", err
	}
	var rec userRecord
	if err := s.getUser(r, userName, &rec); err != nil {
		return "", err
	}
	return strings.ToLower(userName), nil
}

func secretPurpose(keyID string) string { return "iam access key " + keyID }

// CreateAccessKey creates an active access key for userName ("" = the
// account root) and returns it with its secret, which is never shown
// again. A principal has at most MaxAccessKeysPerUser keys
// (ErrLimitExceeded).
func (s *Store) CreateAccessKey(ctx context.Context, userName string) (AccessKey, string, error) {
	if userName != "" {
		if err := validateUserName(userName); err != nil {
			return AccessKey{}, "", err
		}
	}
	id, err := s.newID("AKIA", 16)
	if err != nil {
		return AccessKey{}, "", err
	}
	secret, err := s.newSecret()
	if err != nil {
		return AccessKey{}, "", err
	}
	sealed, err := s.sealer.SealSecret(ctx, secretPurpose(id), []byte(secret))
	if err != nil {
		return AccessKey{}, "", fmt.Errorf("users: seal secret: %w", err)
	}
	rec := &keyRecord{Format: recordFormat, ID: id, Status: StatusActive, Created: s.now(), Sealed: sealed}
	var name string
	err = s.meta.Update(ctx, func(t meta.Txn) error {
		owner, err := s.owner(t, userName)
		if err != nil {
			return err
		}
		name, err = s.ownerName(t, owner)
		if err != nil {
			return err
		}
		n := 0
		if err := meta.ScanPrefix(t, s.keys.ownerKeys(owner), func(_, _ []byte) (bool, error) {
			n++
			return true, nil
		}); err != nil {
			return fmt.Errorf("users: count keys: %w", err)
		}
		if n >= MaxAccessKeysPerUser {
			return errf(ErrLimitExceeded, "Cannot exceed quota for AccessKeysPerUser: %d", MaxAccessKeysPerUser)
		}
		if _, err := t.Get(s.keys.key(id)); !errors.Is(err, meta.ErrNotFound) {
			if err == nil {
				err = errors.New("access key ID collision")
			}
			return fmt.Errorf("users: create access key: %w", err)
		}
		rec.Owner = owner
		if err := put(t, s.keys.key(id), rec); err != nil {
			return err
		}
		return t.Set(s.keys.ownerKey(owner, id), []byte{})
	})
	if err != nil {
		return AccessKey{}, "", err
	}
	return AccessKey{UserName: name, AccessKeyID: id, Status: rec.Status, CreateDate: rec.Created}, secret, nil
}

// ownerName returns the user name as created ("" for the root).
func (s *Store) ownerName(r meta.Reader, owner string) (string, error) {
	if owner == rootOwner {
		return "", nil
	}
	var rec userRecord
	if err := s.getUser(r, owner, &rec); err != nil {
		return "", err
	}
	return rec.Name, nil
}

// ListAccessKeys lists the keys of userName ("" = the account root), oldest
// first (by ID within the same second).
func (s *Store) ListAccessKeys(ctx context.Context, userName string) ([]AccessKey, error) {
	var out []AccessKey
	err := s.meta.View(ctx, func(r meta.Reader) error {
		out = out[:0]
		owner, err := s.owner(r, userName)
		if err != nil {
			return err
		}
		name, err := s.ownerName(r, owner)
		if err != nil {
			return err
		}
		prefix := s.keys.ownerKeys(owner)
		var ids []string
		if err := meta.ScanPrefix(r, prefix, func(k, _ []byte) (bool, error) {
			ids = append(ids, string(k[len(prefix):]))
			return true, nil
		}); err != nil {
			return fmt.Errorf("users: list keys: %w", err)
		}
		for _, id := range ids {
			var rec keyRecord
			if err := get(r, s.keys.key(id), &rec); err != nil {
				if errors.Is(err, errMissing) {
					return fmt.Errorf("users: key index names missing key %s", id)
				}
				return err
			}
			out = append(out, AccessKey{UserName: name, AccessKeyID: rec.ID, Status: rec.Status, CreateDate: rec.Created})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortKeys(out)
	return out, nil
}

// sortKeys orders keys oldest first, and by ID within a second.
func sortKeys(keys []AccessKey) {
	slices.SortFunc(keys, func(a, b AccessKey) int {
		if c := a.CreateDate.Compare(b.CreateDate); c != 0 {
			return c
		}
		return strings.Compare(a.AccessKeyID, b.AccessKeyID)
	})
}

// mutateKey runs fn on the record of key id, which must belong to userName
// ("" = the root); otherwise ErrNoSuchEntity, as IAM answers for a key of
// another user.
func (s *Store) mutateKey(ctx context.Context, userName, id string, fn func(t meta.Txn, rec *keyRecord) error) error {
	if err := validateKeyID(id); err != nil {
		return err
	}
	return s.meta.Update(ctx, func(t meta.Txn) error {
		owner, err := s.owner(t, userName)
		if err != nil {
			return err
		}
		var rec keyRecord
		switch err := get(t, s.keys.key(id), &rec); {
		case errors.Is(err, errMissing):
			return noSuchKey(id)
		case err != nil:
			return err
		case rec.Owner != owner:
			return noSuchKey(id)
		}
		return fn(t, &rec)
	})
}

// UpdateAccessKey sets the status of key id of userName ("" = the root).
// An inactive key authenticates nothing until it is made active again.
func (s *Store) UpdateAccessKey(ctx context.Context, userName, id, status string) error {
	if err := validateStatus(status); err != nil {
		return err
	}
	return s.mutateKey(ctx, userName, id, func(t meta.Txn, rec *keyRecord) error {
		if rec.Status == status {
			return nil
		}
		rec.Status = status
		return put(t, s.keys.key(id), rec)
	})
}

// DeleteAccessKey deletes key id of userName ("" = the root).
func (s *Store) DeleteAccessKey(ctx context.Context, userName, id string) error {
	return s.mutateKey(ctx, userName, id, func(t meta.Txn, rec *keyRecord) error {
		if err := t.Delete(s.keys.key(id)); err != nil {
			return fmt.Errorf("users: delete key: %w", err)
		}
		if err := t.Delete(s.keys.ownerKey(rec.Owner, id)); err != nil {
			return fmt.Errorf("users: delete key: %w", err)
		}
		return nil
	})
}

// EnsureRootAccessKey returns an active access key of the account root with
// its secret, creating one when the root has none (created is then true).
// shelfd calls it on every start to write the root credentials file. When
// the root has MaxAccessKeysPerUser keys and all are inactive it creates
// nothing and fails with ErrLimitExceeded: an operator deactivated them,
// and only an operator (with another principal allowed iam:*) should undo
// that.
func (s *Store) EnsureRootAccessKey(ctx context.Context) (keyID, secret string, created bool, err error) {
attempts:
	for attempt := 0; attempt < 3; attempt++ {
		keys, err := s.ListAccessKeys(ctx, "")
		if err != nil {
			return "", "", false, err
		}
		for _, k := range keys {
			if k.Status != StatusActive {
				continue
			}
			_, secret, err := s.Lookup(ctx, k.AccessKeyID)
			if errors.Is(err, ErrUnknownAccessKey) {
				continue attempts // deactivated or deleted meanwhile: look again
			}
			if err != nil {
				return "", "", false, err
			}
			return k.AccessKeyID, secret, false, nil
		}
		if len(keys) >= MaxAccessKeysPerUser {
			return "", "", false, errf(ErrLimitExceeded, "The account root has %d access keys and none is active.", len(keys))
		}
		k, secret, err := s.CreateAccessKey(ctx, "")
		if errors.Is(err, ErrLimitExceeded) {
			continue // created concurrently: look again
		}
		if err != nil {
			return "", "", false, err
		}
		return k.AccessKeyID, secret, true, nil
	}
	return "", "", false, errors.New("users: root access key keeps changing concurrently")
}

// Lookup authenticates an access key ID: it returns the principal that
// owns the key and the secret to verify the signature with. An unknown,
// inactive or malformed key ID fails with ErrUnknownAccessKey. The key ID
// is not secret and is found by a point read; the secret itself is only
// ever compared (by internal/sigv4) through its HMAC, with hmac.Equal.
func (s *Store) Lookup(ctx context.Context, accessKeyID string) (edge.Principal, string, error) {
	if validateKeyID(accessKeyID) != nil {
		return edge.Principal{}, "", ErrUnknownAccessKey
	}
	var rec keyRecord
	var user userRecord
	err := s.meta.View(ctx, func(r meta.Reader) error {
		if err := get(r, s.keys.key(accessKeyID), &rec); err != nil {
			return err
		}
		if rec.Owner == rootOwner {
			return nil
		}
		return get(r, s.keys.user(rec.Owner), &user)
	})
	if errors.Is(err, errMissing) {
		return edge.Principal{}, "", ErrUnknownAccessKey
	}
	if err != nil {
		return edge.Principal{}, "", err
	}
	if rec.Status != StatusActive || rec.ID != accessKeyID {
		return edge.Principal{}, "", ErrUnknownAccessKey
	}
	secret, err := s.sealer.OpenSecret(ctx, secretPurpose(accessKeyID), rec.Sealed)
	if err != nil {
		return edge.Principal{}, "", fmt.Errorf("users: open secret of key %s: %w", accessKeyID, err)
	}
	p := edge.Principal{Account: s.account, AccessKeyID: accessKeyID}
	if rec.Owner == rootOwner {
		p.ARN, p.UserID, p.IsRoot = s.RootARN(), s.account, true
	} else {
		p.ARN, p.UserName, p.UserID = s.UserARN(user.Path, user.Name), user.Name, user.ID
	}
	return p, string(secret), nil
}

// PutUserPolicy adds or replaces the inline policy name of userName. The
// document must be a valid identity policy (ErrMalformedPolicyDocument),
// and the user's inline policies together must stay within
// MaxUserPolicyChars characters other than whitespace (ErrLimitExceeded).
// The document is stored as given.
func (s *Store) PutUserPolicy(ctx context.Context, userName, policyName string, document []byte) error {
	if err := validateUserName(userName); err != nil {
		return err
	}
	if err := validatePolicyName(policyName); err != nil {
		return err
	}
	if len(document) == 0 {
		return missing("policyDocument")
	}
	if err := checkLen("policyDocument", string(document), 1, maxPolicyDocLen); err != nil {
		return errf(ErrValidation, "1 validation error detected: Value at 'policyDocument' failed to satisfy constraint: Member must have length less than or equal to %d", maxPolicyDocLen)
	}
	if err := validatePolicy(userName, document); err != nil {
		return err
	}
	lower := strings.ToLower(userName)
	return s.meta.Update(ctx, func(t meta.Txn) error {
		var user userRecord
		if err := s.getUser(t, userName, &user); err != nil {
			return err
		}
		total := policyChars(string(document))
		prefix := s.keys.policies(lower)
		err := meta.ScanPrefix(t, prefix, func(k, v []byte) (bool, error) {
			if string(k[len(prefix):]) == policyName {
				return true, nil
			}
			var rec policyRecord
			if err := decode(k, v, &rec); err != nil {
				return false, err
			}
			total += policyChars(rec.Document)
			return true, nil
		})
		if err != nil {
			return err
		}
		if total > MaxUserPolicyChars {
			return errf(ErrLimitExceeded, "Maximum policy size of %d bytes exceeded for user %s", MaxUserPolicyChars, user.Name)
		}
		return put(t, s.keys.policy(lower, policyName), &policyRecord{Format: recordFormat, Name: policyName, Document: string(document)})
	})
}

// GetUserPolicy returns the document of inline policy name of userName, as
// it was put.
func (s *Store) GetUserPolicy(ctx context.Context, userName, policyName string) ([]byte, error) {
	if err := validateUserName(userName); err != nil {
		return nil, err
	}
	if err := validatePolicyName(policyName); err != nil {
		return nil, err
	}
	var rec policyRecord
	err := s.meta.View(ctx, func(r meta.Reader) error {
		var user userRecord
		if err := s.getUser(r, userName, &user); err != nil {
			return err
		}
		err := get(r, s.keys.policy(strings.ToLower(userName), policyName), &rec)
		if errors.Is(err, errMissing) {
			return noSuchPolicy(policyName)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return []byte(rec.Document), nil
}

// ListUserPolicies returns up to maxItems (0 means DefaultMaxItems) names
// of userName's inline policies in byte order, after marker; next is ""
// when there are no more.
func (s *Store) ListUserPolicies(ctx context.Context, userName, marker string, maxItems int) (names []string, next string, err error) {
	if err := validateUserName(userName); err != nil {
		return nil, "", err
	}
	maxItems, err = validatePage(maxItems, marker)
	if err != nil {
		return nil, "", err
	}
	prefix := s.keys.policies(strings.ToLower(userName))
	start, err := s.markerStart(prefix, marker)
	if err != nil {
		return nil, "", err
	}
	err = s.meta.View(ctx, func(r meta.Reader) error {
		names, next = names[:0], ""
		var user userRecord
		if err := s.getUser(r, userName, &user); err != nil {
			return err
		}
		return r.Scan(start, meta.PrefixEnd(prefix), func(k, _ []byte) (bool, error) {
			if len(names) == maxItems {
				next = encodeMarker(k[len(prefix):])
				return false, nil
			}
			names = append(names, string(k[len(prefix):]))
			return true, nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return names, next, nil
}

// DeleteUserPolicy deletes inline policy name of userName.
func (s *Store) DeleteUserPolicy(ctx context.Context, userName, policyName string) error {
	if err := validateUserName(userName); err != nil {
		return err
	}
	if err := validatePolicyName(policyName); err != nil {
		return err
	}
	return s.meta.Update(ctx, func(t meta.Txn) error {
		var user userRecord
		if err := s.getUser(t, userName, &user); err != nil {
			return err
		}
		k := s.keys.policy(strings.ToLower(userName), policyName)
		if _, err := t.Get(k); errors.Is(err, meta.ErrNotFound) {
			return noSuchPolicy(policyName)
		} else if err != nil {
			return fmt.Errorf("users: read policy: %w", err)
		}
		return t.Delete(k)
	})
}

// IdentityPolicies returns the identity-policy documents of p, for the
// authorizer: the inline policies of an IAM user, in name order. The root
// has none (it bypasses identity policies), nor has a principal of another
// account or a user deleted since p was authenticated. The slices belong
// to the caller.
func (s *Store) IdentityPolicies(ctx context.Context, p edge.Principal) ([][]byte, error) {
	if p.IsRoot || p.Account != s.account || p.UserName == "" {
		return nil, nil
	}
	var docs [][]byte
	err := s.meta.View(ctx, func(r meta.Reader) error {
		docs = docs[:0]
		var user userRecord
		err := get(r, s.keys.user(strings.ToLower(p.UserName)), &user)
		if errors.Is(err, errMissing) || err == nil && user.ID != p.UserID {
			return nil // deleted, or deleted and created again: a new user
		}
		if err != nil {
			return err
		}
		return meta.ScanPrefix(r, s.keys.policies(strings.ToLower(p.UserName)), func(k, v []byte) (bool, error) {
			var rec policyRecord
			if err := decode(k, v, &rec); err != nil {
				return false, err
			}
			docs = append(docs, []byte(rec.Document))
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return docs, nil
}
