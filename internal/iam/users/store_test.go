package users

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/kms"
	"github.com/shelf-efs/shelf/internal/meta"
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
)

const testAccount = "123456789012"

var testStart = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

type env struct {
	s     *Store
	meta  meta.Store
	kms   *kms.Manager
	clk   *clock.Fake
	ctx   context.Context
	rootK []byte
}

func newEnv(t testing.TB) *env {
	t.Helper()
	m, err := pebblemeta.Open("", pebblemeta.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	e := &env{meta: m, clk: clock.NewFake(testStart), ctx: context.Background(), rootK: bytes.Repeat([]byte{9}, kms.RootKeyBytes)}
	e.kms, err = kms.Open(e.ctx, m, e.rootK, kms.Config{Account: testAccount, Region: "us-east-1"}, e.clk)
	require.NoError(t, err)
	e.s, err = Open(e.ctx, m, e.kms, testAccount, e.clk)
	require.NoError(t, err)
	return e
}

var (
	keyIDPattern  = regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)
	userIDPattern = regexp.MustCompile(`^AIDA[A-Z2-7]{17}$`)
	secretPattern = regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)
)

func requireKind(t *testing.T, err, kind error, msg string) {
	t.Helper()
	require.ErrorIs(t, err, kind)
	var e *Error
	require.ErrorAs(t, err, &e)
	if msg != "" {
		require.Equal(t, msg, e.Message)
	}
}

func TestOpen(t *testing.T) {
	e := newEnv(t)
	for _, bad := range []string{"", "12345678901", "1234567890123", "12345678901a"} {
		_, err := Open(e.ctx, e.meta, e.kms, bad, e.clk)
		require.Error(t, err, bad)
	}
	_, err := Open(e.ctx, nil, e.kms, testAccount, e.clk)
	require.Error(t, err)

	root := e.s.Root()
	require.Equal(t, User{UserID: testAccount, ARN: "arn:aws:iam::123456789012:root", CreateDate: testStart}, root)
	// The account's creation date survives a restart.
	e.clk.Advance(time.Hour)
	again, err := Open(e.ctx, e.meta, e.kms, testAccount, e.clk)
	require.NoError(t, err)
	require.Equal(t, root, again.Root())
}

func TestUsers(t *testing.T) {
	e := newEnv(t)
	u, err := e.s.CreateUser(e.ctx, "Alice", "")
	require.NoError(t, err)
	require.Equal(t, "/", u.Path)
	require.Equal(t, "Alice", u.UserName)
	require.Regexp(t, userIDPattern, u.UserID)
	require.Equal(t, "arn:aws:iam::123456789012:user/Alice", u.ARN)
	require.Equal(t, testStart, u.CreateDate)

	bob, err := e.s.CreateUser(e.ctx, "bob", "/eng/storage/")
	require.NoError(t, err)
	require.Equal(t, "arn:aws:iam::123456789012:user/eng/storage/bob", bob.ARN)
	require.NotEqual(t, u.UserID, bob.UserID)

	_, err = e.s.CreateUser(e.ctx, "ALICE", "/")
	requireKind(t, err, ErrEntityAlreadyExists, "User with name Alice already exists.")

	got, err := e.s.GetUser(e.ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, u, got)
	_, err = e.s.GetUser(e.ctx, "carol")
	requireKind(t, err, ErrNoSuchEntity, "The user with name carol cannot be found.")

	require.NoError(t, e.s.DeleteUser(e.ctx, "ALICE"))
	_, err = e.s.GetUser(e.ctx, "Alice")
	requireKind(t, err, ErrNoSuchEntity, "")
	requireKind(t, e.s.DeleteUser(e.ctx, "Alice"), ErrNoSuchEntity, "")
}

func TestValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, user, path, msg string
	}{
		{name: "empty name", user: "", path: "/", msg: "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"},
		{name: "space", user: "a b", path: "/", msg: `1 validation error detected: Value 'a b' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`},
		{name: "slash", user: "a/b", path: "/"},
		{name: "colon", user: "a:b", path: "/"},
		{name: "unicode", user: "é", path: "/"},
		{name: "too long", user: string(bytes.Repeat([]byte{'a'}, 65)), path: "/"},
		{name: "path without trailing slash", user: "a", path: "/eng"},
		{name: "path without leading slash", user: "a", path: "eng/"},
		{name: "path with space", user: "a", path: "/a b/"},
		{name: "double slash path", user: "a", path: "//"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.s.CreateUser(e.ctx, tc.user, tc.path)
			requireKind(t, err, ErrValidation, tc.msg)
		})
	}
	// The longest name and every allowed character are fine.
	_, err := e.s.CreateUser(e.ctx, string(bytes.Repeat([]byte{'a'}, 64)), "/")
	require.NoError(t, err)
	_, err = e.s.CreateUser(e.ctx, "aZ09_+=,.@-", "/a/b.c~!/")
	require.NoError(t, err)
	requireKind(t, e.s.UpdateAccessKey(e.ctx, "", "AKIAAAAAAAAAAAAAAAAA", "Expired"), ErrValidation, "")
	requireKind(t, e.s.UpdateAccessKey(e.ctx, "", "short", StatusActive), ErrValidation, "")
	_, _, err = e.s.ListUsers(e.ctx, "/", "", 1001)
	requireKind(t, err, ErrValidation, "")
	_, _, err = e.s.ListUsers(e.ctx, "noslash", "", 0)
	requireKind(t, err, ErrValidation, "")
	_, _, err = e.s.ListUsers(e.ctx, "/", "!!!", 0)
	requireKind(t, err, ErrValidation, "")
}

func TestListUsers(t *testing.T) {
	e := newEnv(t)
	names := []string{"dave", "Carol", "alice", "bob", "erin"}
	for i, n := range names {
		path := "/"
		if i%2 == 0 {
			path = "/eng/"
		}
		_, err := e.s.CreateUser(e.ctx, n, path)
		require.NoError(t, err)
	}
	list := func(prefix string, maxItems int) []string {
		var out []string
		marker := ""
		for range 10 {
			users, next, err := e.s.ListUsers(e.ctx, prefix, marker, maxItems)
			require.NoError(t, err)
			if maxItems > 0 {
				require.LessOrEqual(t, len(users), maxItems)
			}
			for _, u := range users {
				out = append(out, u.UserName)
			}
			if next == "" {
				return out
			}
			require.NotEqual(t, marker, next, "a marker is never repeated")
			marker = next
		}
		t.Fatal("pagination does not end")
		return nil
	}
	all := []string{"alice", "bob", "Carol", "dave", "erin"}
	require.Equal(t, all, list("", 0))
	require.Equal(t, all, list("/", 1))
	require.Equal(t, all, list("/", 2))
	require.Equal(t, []string{"alice", "dave", "erin"}, list("/eng/", 1))
	require.Equal(t, []string{"alice", "dave", "erin"}, list("/e", 0))
	require.Empty(t, list("/ops/", 2))
}

func TestAccessKeys(t *testing.T) {
	e := newEnv(t)
	alice, err := e.s.CreateUser(e.ctx, "alice", "/eng/")
	require.NoError(t, err)
	_, err = e.s.CreateUser(e.ctx, "bob", "/")
	require.NoError(t, err)

	k1, secret1, err := e.s.CreateAccessKey(e.ctx, "ALICE")
	require.NoError(t, err)
	require.Regexp(t, keyIDPattern, k1.AccessKeyID)
	require.Regexp(t, secretPattern, secret1)
	require.Equal(t, AccessKey{UserName: "alice", AccessKeyID: k1.AccessKeyID, Status: StatusActive, CreateDate: testStart}, k1)

	e.clk.Advance(time.Minute)
	k2, secret2, err := e.s.CreateAccessKey(e.ctx, "alice")
	require.NoError(t, err)
	require.NotEqual(t, k1.AccessKeyID, k2.AccessKeyID)
	require.NotEqual(t, secret1, secret2)
	_, _, err = e.s.CreateAccessKey(e.ctx, "alice")
	requireKind(t, err, ErrLimitExceeded, "Cannot exceed quota for AccessKeysPerUser: 2")
	_, _, err = e.s.CreateAccessKey(e.ctx, "carol")
	requireKind(t, err, ErrNoSuchEntity, "")

	keys, err := e.s.ListAccessKeys(e.ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, []AccessKey{k1, k2}, keys)
	keys, err = e.s.ListAccessKeys(e.ctx, "bob")
	require.NoError(t, err)
	require.Empty(t, keys)

	p, secret, err := e.s.Lookup(e.ctx, k1.AccessKeyID)
	require.NoError(t, err)
	require.Equal(t, secret1, secret)
	require.Equal(t, edge.Principal{Account: testAccount, ARN: alice.ARN, UserName: "alice", UserID: alice.UserID, AccessKeyID: k1.AccessKeyID}, p)

	// Another user's key is not found through bob.
	requireKind(t, e.s.UpdateAccessKey(e.ctx, "bob", k1.AccessKeyID, StatusInactive), ErrNoSuchEntity,
		"The Access Key with id "+k1.AccessKeyID+" cannot be found.")
	requireKind(t, e.s.DeleteAccessKey(e.ctx, "", k1.AccessKeyID), ErrNoSuchEntity, "")

	// Inactive keys authenticate nothing, until reactivated.
	require.NoError(t, e.s.UpdateAccessKey(e.ctx, "alice", k1.AccessKeyID, StatusInactive))
	require.NoError(t, e.s.UpdateAccessKey(e.ctx, "alice", k1.AccessKeyID, StatusInactive), "idempotent")
	_, _, err = e.s.Lookup(e.ctx, k1.AccessKeyID)
	require.ErrorIs(t, err, ErrUnknownAccessKey)
	keys, err = e.s.ListAccessKeys(e.ctx, "alice")
	require.NoError(t, err)
	require.Equal(t, StatusInactive, keys[0].Status)
	require.NoError(t, e.s.UpdateAccessKey(e.ctx, "alice", k1.AccessKeyID, StatusActive))
	_, _, err = e.s.Lookup(e.ctx, k1.AccessKeyID)
	require.NoError(t, err)

	// Deleted keys are gone, and free a slot.
	require.NoError(t, e.s.DeleteAccessKey(e.ctx, "alice", k1.AccessKeyID))
	_, _, err = e.s.Lookup(e.ctx, k1.AccessKeyID)
	require.ErrorIs(t, err, ErrUnknownAccessKey)
	requireKind(t, e.s.DeleteAccessKey(e.ctx, "alice", k1.AccessKeyID), ErrNoSuchEntity, "")
	_, _, err = e.s.CreateAccessKey(e.ctx, "alice")
	require.NoError(t, err)

	for _, bad := range []string{"", "AKIA", "AKIAAAAAAAAAAAAAAAAA", "AKIA/../../x", "\x00"} {
		_, _, err := e.s.Lookup(e.ctx, bad)
		require.ErrorIs(t, err, ErrUnknownAccessKey, "%q", bad)
	}
}

// TestSecretsSealed: no secret is stored in plaintext, and a sealed secret
// moved to another key record does not open.
func TestSecretsSealed(t *testing.T) {
	e := newEnv(t)
	_, err := e.s.CreateUser(e.ctx, "alice", "/")
	require.NoError(t, err)
	k1, s1, err := e.s.CreateAccessKey(e.ctx, "alice")
	require.NoError(t, err)
	k2, s2, err := e.s.CreateAccessKey(e.ctx, "alice")
	require.NoError(t, err)
	rootID, rootSecret, created, err := e.s.EnsureRootAccessKey(e.ctx)
	require.NoError(t, err)
	require.True(t, created)

	require.NoError(t, e.meta.View(e.ctx, func(r meta.Reader) error {
		return r.Scan(nil, nil, func(k, v []byte) (bool, error) {
			for _, s := range []string{s1, s2, rootSecret} {
				require.NotContains(t, string(v), s, "key %q", k)
			}
			return true, nil
		})
	}))

	// Swap the sealed secrets of k1 and k2.
	keys := newSchema(testAccount)
	require.NoError(t, e.meta.Update(e.ctx, func(txn meta.Txn) error {
		var r1, r2 keyRecord
		require.NoError(t, get(txn, keys.key(k1.AccessKeyID), &r1))
		require.NoError(t, get(txn, keys.key(k2.AccessKeyID), &r2))
		r1.Sealed, r2.Sealed = r2.Sealed, r1.Sealed
		require.NoError(t, put(txn, keys.key(k1.AccessKeyID), &r1))
		return put(txn, keys.key(k2.AccessKeyID), &r2)
	}))
	_, _, err = e.s.Lookup(e.ctx, k1.AccessKeyID)
	require.ErrorIs(t, err, kms.ErrCorrupt)
	require.NotErrorIs(t, err, ErrUnknownAccessKey)

	// Another root key cannot read them.
	other, err := kms.Open(e.ctx, e.meta, bytes.Repeat([]byte{1}, kms.RootKeyBytes), kms.Config{Account: testAccount, Region: "us-east-1"}, e.clk)
	require.ErrorIs(t, err, kms.ErrWrongRootKey)
	require.Nil(t, other)
	_, secret, err := e.s.Lookup(e.ctx, rootID)
	require.NoError(t, err)
	require.Equal(t, rootSecret, secret)
}

func TestRootAccessKey(t *testing.T) {
	e := newEnv(t)
	id, secret, created, err := e.s.EnsureRootAccessKey(e.ctx)
	require.NoError(t, err)
	require.True(t, created)
	require.Regexp(t, keyIDPattern, id)
	require.Regexp(t, secretPattern, secret)

	// Idempotent, also after a restart.
	s2, err := Open(e.ctx, e.meta, e.kms, testAccount, e.clk)
	require.NoError(t, err)
	id2, secret2, created, err := s2.EnsureRootAccessKey(e.ctx)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, id, id2)
	require.Equal(t, secret, secret2)

	p, got, err := e.s.Lookup(e.ctx, id)
	require.NoError(t, err)
	require.Equal(t, secret, got)
	require.Equal(t, edge.Principal{Account: testAccount, ARN: "arn:aws:iam::123456789012:root", UserID: testAccount, AccessKeyID: id, IsRoot: true}, p)
	docs, err := e.s.IdentityPolicies(e.ctx, p)
	require.NoError(t, err)
	require.Empty(t, docs)

	keys, err := e.s.ListAccessKeys(e.ctx, "")
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Empty(t, keys[0].UserName)

	// With its key inactive, the root gets a second one; with two inactive
	// keys, nothing is created.
	require.NoError(t, e.s.UpdateAccessKey(e.ctx, "", id, StatusInactive))
	id3, _, created, err := e.s.EnsureRootAccessKey(e.ctx)
	require.NoError(t, err)
	require.True(t, created)
	require.NotEqual(t, id, id3)
	require.NoError(t, e.s.UpdateAccessKey(e.ctx, "", id3, StatusInactive))
	_, _, _, err = e.s.EnsureRootAccessKey(e.ctx)
	requireKind(t, err, ErrLimitExceeded, "")
	require.NoError(t, e.s.UpdateAccessKey(e.ctx, "", id, StatusActive))
	id4, _, created, err := e.s.EnsureRootAccessKey(e.ctx)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, id, id4)
}

func TestDeleteUserConflicts(t *testing.T) {
	e := newEnv(t)
	_, err := e.s.CreateUser(e.ctx, "alice", "/")
	require.NoError(t, err)
	k, _, err := e.s.CreateAccessKey(e.ctx, "alice")
	require.NoError(t, err)
	require.NoError(t, e.s.PutUserPolicy(e.ctx, "alice", "p", []byte(allowIAM)))

	requireKind(t, e.s.DeleteUser(e.ctx, "alice"), ErrDeleteConflict, "Cannot delete entity, must delete access keys first.")
	require.NoError(t, e.s.DeleteAccessKey(e.ctx, "alice", k.AccessKeyID))
	requireKind(t, e.s.DeleteUser(e.ctx, "alice"), ErrDeleteConflict, "Cannot delete entity, must delete policies first.")
	require.NoError(t, e.s.DeleteUserPolicy(e.ctx, "alice", "p"))
	require.NoError(t, e.s.DeleteUser(e.ctx, "alice"))
}

const allowIAM = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`

func TestPolicies(t *testing.T) {
	e := newEnv(t)
	alice, err := e.s.CreateUser(e.ctx, "alice", "/")
	require.NoError(t, err)
	k, _, err := e.s.CreateAccessKey(e.ctx, "alice")
	require.NoError(t, err)
	p, _, err := e.s.Lookup(e.ctx, k.AccessKeyID)
	require.NoError(t, err)

	doc2 := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Effect\": \"Deny\", \"Action\": \"elasticfilesystem:DeleteFileSystem\", \"Resource\": \"*\"}\n}"
	require.NoError(t, e.s.PutUserPolicy(e.ctx, "alice", "b-admin", []byte(allowIAM)))
	require.NoError(t, e.s.PutUserPolicy(e.ctx, "Alice", "a-deny", []byte(doc2)))
	got, err := e.s.GetUserPolicy(e.ctx, "alice", "a-deny")
	require.NoError(t, err)
	require.Equal(t, doc2, string(got), "stored as given")
	_, err = e.s.GetUserPolicy(e.ctx, "alice", "A-DENY")
	requireKind(t, err, ErrNoSuchEntity, "The user policy with name A-DENY cannot be found.")

	names, next, err := e.s.ListUserPolicies(e.ctx, "alice", "", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"a-deny", "b-admin"}, names)
	require.Empty(t, next)
	names, next, err = e.s.ListUserPolicies(e.ctx, "alice", "", 1)
	require.NoError(t, err)
	require.Equal(t, []string{"a-deny"}, names)
	names, next, err = e.s.ListUserPolicies(e.ctx, "alice", next, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"b-admin"}, names)
	require.Empty(t, next)

	docs, err := e.s.IdentityPolicies(e.ctx, p)
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte(doc2), []byte(allowIAM)}, docs)

	// Replacing keeps one copy.
	require.NoError(t, e.s.PutUserPolicy(e.ctx, "alice", "b-admin", []byte(allowIAM)))
	docs, err = e.s.IdentityPolicies(e.ctx, p)
	require.NoError(t, err)
	require.Len(t, docs, 2)

	// Malformed documents are refused and nothing is written.
	for _, bad := range []string{"not json", "[]", `{"Version":"2012-10-17"}`, `{"Statement":[]`, "{\"Statement\":\"\xff\"}",
		`{"Statement":[]}`,
		`{"Statement":{"Effect":"Allow","Action":"iam:*"}}`,
		`{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*","Principal":"*"}}`,
		`{"Statement":{"Effect":"Maybe","Action":"iam:*","Resource":"*"}}`,
		`{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*","Extra":1}}`} {
		err := e.s.PutUserPolicy(e.ctx, "alice", "c-bad", []byte(bad))
		requireKind(t, err, ErrMalformedPolicyDocument, "")
	}
	requireKind(t, e.s.PutUserPolicy(e.ctx, "alice", "c-bad", nil), ErrValidation, "")
	names, _, err = e.s.ListUserPolicies(e.ctx, "alice", "", 0)
	require.NoError(t, err)
	require.Equal(t, []string{"a-deny", "b-admin"}, names)

	require.NoError(t, e.s.DeleteUserPolicy(e.ctx, "alice", "a-deny"))
	requireKind(t, e.s.DeleteUserPolicy(e.ctx, "alice", "a-deny"), ErrNoSuchEntity, "")
	requireKind(t, e.s.PutUserPolicy(e.ctx, "carol", "p", []byte(allowIAM)), ErrNoSuchEntity, "")
	_, _, err = e.s.ListUserPolicies(e.ctx, "carol", "", 0)
	requireKind(t, err, ErrNoSuchEntity, "")

	// A principal of a deleted user, or of a new user of the same name,
	// has no policies.
	require.NoError(t, e.s.DeleteAccessKey(e.ctx, "alice", k.AccessKeyID))
	require.NoError(t, e.s.DeleteUserPolicy(e.ctx, "alice", "b-admin"))
	require.NoError(t, e.s.DeleteUser(e.ctx, "alice"))
	again, err := e.s.CreateUser(e.ctx, "alice", "/")
	require.NoError(t, err)
	require.NotEqual(t, alice.UserID, again.UserID)
	require.NoError(t, e.s.PutUserPolicy(e.ctx, "alice", "b-admin", []byte(allowIAM)))
	docs, err = e.s.IdentityPolicies(e.ctx, p)
	require.NoError(t, err)
	require.Empty(t, docs)
	docs, err = e.s.IdentityPolicies(e.ctx, edge.Principal{Account: "210987654321", UserName: "alice", UserID: again.UserID})
	require.NoError(t, err)
	require.Empty(t, docs, "another account")
}

func TestPolicySizeLimit(t *testing.T) {
	e := newEnv(t)
	_, err := e.s.CreateUser(e.ctx, "alice", "/")
	require.NoError(t, err)
	// A valid document of exactly n characters other than whitespace.
	doc := func(n int) []byte {
		head := `{"Statement": [{"Effect": "Allow", "Action": "iam:GetUser",` + "\n  " + `"Resource": "arn:aws:iam::123456789012:user/`
		tail := `"}]}`
		pad := n - policyChars(head) - policyChars(tail)
		return []byte(head + string(bytes.Repeat([]byte{'x'}, pad)) + tail)
	}
	require.Equal(t, 1000, policyChars(string(doc(1000))))
	require.NoError(t, e.s.PutUserPolicy(e.ctx, "alice", "one", doc(1000)))
	require.NoError(t, e.s.PutUserPolicy(e.ctx, "alice", "two", doc(1048)))
	err = e.s.PutUserPolicy(e.ctx, "alice", "three", doc(148))
	requireKind(t, err, ErrLimitExceeded, "Maximum policy size of 2048 bytes exceeded for user alice")
	// Replacing a policy counts its new size only.
	require.NoError(t, e.s.PutUserPolicy(e.ctx, "alice", "two", doc(900)))
	require.NoError(t, e.s.PutUserPolicy(e.ctx, "alice", "three", doc(148)))
	require.NoError(t, e.s.PutUserPolicy(e.ctx, "alice", "three", doc(148)), "replacing with the same size")
	requireKind(t, e.s.PutUserPolicy(e.ctx, "alice", "big", bytes.Repeat([]byte{' '}, maxPolicyDocLen+1)), ErrValidation, "")
	// One document over the limit on its own.
	requireKind(t, e.s.PutUserPolicy(e.ctx, "alice", "one", doc(MaxUserPolicyChars+1)), ErrLimitExceeded,
		"Maximum policy size of 2048 bytes exceeded for user alice")
}

func TestConcurrentAccessKeys(t *testing.T) {
	e := newEnv(t)
	_, err := e.s.CreateUser(e.ctx, "alice", "/")
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, _, errs[i] = e.s.CreateAccessKey(e.ctx, "alice") })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			requireKind(t, err, ErrLimitExceeded, "")
		}
	}
	require.Equal(t, MaxAccessKeysPerUser, ok)
	keys, err := e.s.ListAccessKeys(e.ctx, "alice")
	require.NoError(t, err)
	require.Len(t, keys, MaxAccessKeysPerUser)
}

func TestUserQuota(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 5000 users")
	}
	e := newEnv(t)
	require.NoError(t, e.meta.Update(e.ctx, func(txn meta.Txn) error {
		for i := range MaxUsers {
			name := fmt.Sprintf("u%05d", i)
			if err := put(txn, e.s.keys.user(name), &userRecord{Format: recordFormat, Name: name, Path: "/", ID: "AIDA", Created: testStart}); err != nil {
				return err
			}
		}
		return nil
	}))
	_, err := e.s.CreateUser(e.ctx, "one-more", "/")
	requireKind(t, err, ErrLimitExceeded, "Cannot exceed quota for UsersPerAccount: 5000")
}
