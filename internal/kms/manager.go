package kms

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/meta"
)

// Manager is the KMS of one account: its keys and aliases, and the
// encryption that uses them. All methods are safe for concurrent use.
//
// Everything is persisted through meta.Store; the Manager also keeps in
// memory the state of every key it has seen (so FileSystemKey checks the
// state without I/O) and the unwrapped file-system keys. That state is
// updated by the operations of this Manager; a second Manager (another
// process) on the same store is not observed until it is reopened, which is
// fine while one shelfd owns the store.
type Manager struct {
	store meta.Store
	cfg   Config
	clk   clock.Clock
	// rand is crypto/rand.Reader; tests substitute a deterministic source so
	// that fuzz workers share keys and ciphertext.
	rand io.Reader
	// materialAEAD (the store key) seals key material and secrets; the
	// root key itself is not kept.
	materialAEAD cipher.AEAD
	// rot serializes root-key rotations and holds the store key to
	// re-wrap. openedWithPrev: the root key in use is the store's
	// previous one (a rotation has begun and not finished).
	rot struct {
		sync.Mutex
		storeKey       [storeKeyBytes]byte
		openedWithPrev bool
	}

	mu struct {
		sync.Mutex
		keys map[string]keyInfo // by key ID, including tombstones
		// fsKeys caches unwrapped file-system keys by KMS key ID, then by
		// fsID + "\x00" + wrapped blob.
		fsKeys map[string]map[string]*DataKey
	}
}

// keyInfo is the cached state of a key; revision orders updates.
type keyInfo struct {
	state        KeyState
	deletionDate time.Time
	revision     uint64
}

// Open returns the Manager of cfg.Account over store.
//
// The root key seals exactly one value: the store key, 32 random bytes
// kept wrapped under meta.SystemKey("kms-store-key"), which seals every
// KMS key's material and every system secret. Rotating the root key
// (BeginRootKeyRotation) therefore re-wraps one value in one transaction,
// with no downtime. Stores made before the store key existed use the key
// their root key derived for material as store key, wrapped on first open.
//
// On a store without KMS data it records a check value derived from rootKey
// (under meta.SystemKey("root-key-check")) and a fresh store key. On a
// store that has one, a different rootKey fails with an error wrapping
// ErrWrongRootKey, and Open writes nothing. During a root-key rotation the
// store accepts the previous key too, until FinishRootKeyRotation (or an
// Open with the new key) ends the rotation. A store that holds KMS records
// but no check value is refused the same way, since its root key cannot
// be verified.
//
// Open does not retain rootKey. A nil clk means clock.System.
func Open(ctx context.Context, store meta.Store, rootKey []byte, cfg Config, clk clock.Clock) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kms: open: %w", err)
	}
	if len(rootKey) != RootKeyBytes {
		return nil, errf(ErrInvalidArgument, "root key is %d bytes, want %d", len(rootKey), RootKeyBytes)
	}
	if store == nil {
		return nil, errf(ErrInvalidArgument, "nil store")
	}
	if clk == nil {
		clk = clock.System
	}
	m := &Manager{store: store, cfg: cfg, clk: clk, rand: rand.Reader}
	m.mu.keys = make(map[string]keyInfo)
	m.mu.fsKeys = make(map[string]map[string]*DataKey)
	rk, err := newRootKeyring(rootKey, cfg.Account)
	if err != nil {
		return nil, err
	}

	// Verify in a read-only transaction first, so a wrong key writes nothing.
	for attempt := 0; ; attempt++ {
		var recs rootRecords
		if err := store.View(ctx, func(r meta.Reader) error { return recs.read(r) }); err != nil {
			return nil, err
		}
		if recs.check == nil {
			if attempt > 0 {
				return nil, fmt.Errorf("%w: root-key check vanished", ErrCorrupt)
			}
			if err := store.Update(ctx, func(txn meta.Txn) error { return m.initRootCheck(txn, rk) }); err != nil {
				return nil, err
			}
			continue
		}
		storeKey, err := m.unlock(ctx, rk, &recs)
		if err != nil {
			return nil, err
		}
		if err := m.setStoreKey(storeKey); err != nil {
			return nil, err
		}
		clear(storeKey)
		break
	}
	if err := m.loadStates(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// Records of the root key.
var (
	storeKeyKey     = meta.SystemKey("kms-store-key")
	prevCheckKey    = meta.SystemKey("root-key-check-prev")
	prevStoreKeyKey = meta.SystemKey("kms-store-key-prev")
)

type rootRecords struct {
	check, wrapped, prevCheck, prevWrapped []byte
}

func (rr *rootRecords) read(r meta.Reader) error {
	*rr = rootRecords{}
	for _, f := range []struct {
		key []byte
		dst *[]byte
	}{{rootCheckKey, &rr.check}, {storeKeyKey, &rr.wrapped}, {prevCheckKey, &rr.prevCheck}, {prevStoreKeyKey, &rr.prevWrapped}} {
		v, err := r.Get(f.key)
		if errors.Is(err, meta.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("kms: read root-key records: %w", err)
		}
		*f.dst = append([]byte(nil), v...)
	}
	return nil
}

// rootKeyring holds the keys derived from one root key.
type rootKeyring struct {
	account  string
	checkKey [32]byte    // keys the root-key check
	wrap     cipher.AEAD // wraps the store key
	legacy   [32]byte    // the store key of stores made before it was wrapped
}

func newRootKeyring(rootKey []byte, account string) (*rootKeyring, error) {
	rk := &rootKeyring{account: account}
	copy(rk.checkKey[:], hkdfExpand(rootKey, "shelf root key v1: check"))
	copy(rk.legacy[:], hkdfExpand(rootKey, "shelf root key v1: kms material"))
	block, err := aes.NewCipher(hkdfExpand(rootKey, "shelf root key v1: store key wrap"))
	if err != nil {
		return nil, err
	}
	if rk.wrap, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return rk, nil
}

const (
	rootCheckVersion byte = 1
	storeKeyVersion  byte = 1
	storeKeyBytes         = 32
)

func (rk *rootKeyring) checkMAC(salt []byte) []byte {
	h := hmac.New(sha256.New, rk.checkKey[:])
	h.Write([]byte("shelf root-key check v1"))
	h.Write(salt)
	return h.Sum(nil)
}

// matches reports whether check was made with this root key.
func (rk *rootKeyring) matches(check []byte) (bool, error) {
	if len(check) != 1+16+sha256.Size || check[0] != rootCheckVersion {
		return false, fmt.Errorf("%w: root-key check record is malformed", ErrCorrupt)
	}
	return hmac.Equal(rk.checkMAC(check[1:17]), check[17:]), nil
}

func (rk *rootKeyring) newCheck(random io.Reader) ([]byte, error) {
	rec := make([]byte, 1+16, 1+16+sha256.Size)
	rec[0] = rootCheckVersion
	if _, err := io.ReadFull(random, rec[1:17]); err != nil {
		return nil, fmt.Errorf("kms: random: %w", err)
	}
	return append(rec, rk.checkMAC(rec[1:17])...), nil
}

func storeKeyAAD(account string) []byte { return []byte("shelf kms store key v1\x00" + account) }

func (rk *rootKeyring) wrapStoreKey(random io.Reader, storeKey []byte) ([]byte, error) {
	out := make([]byte, 1+nonceBytes, 1+nonceBytes+storeKeyBytes+tagBytes)
	out[0] = storeKeyVersion
	if _, err := io.ReadFull(random, out[1:]); err != nil {
		return nil, fmt.Errorf("kms: random: %w", err)
	}
	return rk.wrap.Seal(out, out[1:], storeKey, storeKeyAAD(rk.account)), nil
}

func (rk *rootKeyring) unwrapStoreKey(wrapped []byte) ([]byte, error) {
	if len(wrapped) != 1+nonceBytes+storeKeyBytes+tagBytes || wrapped[0] != storeKeyVersion {
		return nil, fmt.Errorf("%w: wrapped store key is malformed", ErrCorrupt)
	}
	out, err := rk.wrap.Open(nil, wrapped[1:1+nonceBytes], wrapped[1+nonceBytes:], storeKeyAAD(rk.account))
	if err != nil {
		return nil, fmt.Errorf("%w: the store key does not open with the root key", ErrCorrupt)
	}
	return out, nil
}

// unlock finds which root-key record rk matches and returns the store key.
// With the current key it also wraps a legacy store key and ends a
// rotation whose new key is now in use; with the previous key it changes
// nothing.
func (m *Manager) unlock(ctx context.Context, rk *rootKeyring, recs *rootRecords) ([]byte, error) {
	ok, err := rk.matches(recs.check)
	if err != nil {
		return nil, err
	}
	if !ok {
		if recs.prevCheck != nil {
			if ok, err := rk.matches(recs.prevCheck); err == nil && ok {
				m.rot.openedWithPrev = true
				if recs.prevWrapped == nil {
					return append([]byte(nil), rk.legacy[:]...), nil
				}
				return rk.unwrapStoreKey(recs.prevWrapped)
			}
		}
		return nil, fmt.Errorf("kms: open: %w", ErrWrongRootKey)
	}
	var storeKey []byte
	if recs.wrapped == nil {
		storeKey = append([]byte(nil), rk.legacy[:]...)
	} else if storeKey, err = rk.unwrapStoreKey(recs.wrapped); err != nil {
		return nil, err
	}
	if recs.wrapped != nil && recs.prevCheck == nil && recs.prevWrapped == nil {
		return storeKey, nil
	}
	err = m.store.Update(ctx, func(txn meta.Txn) error {
		var now rootRecords
		if err := now.read(txn); err != nil {
			return err
		}
		if !bytes.Equal(now.check, recs.check) {
			return fmt.Errorf("kms: open: the root key changed while opening")
		}
		if now.wrapped == nil {
			w, err := rk.wrapStoreKey(m.rand, storeKey)
			if err != nil {
				return err
			}
			if err := txn.Set(storeKeyKey, w); err != nil {
				return fmt.Errorf("kms: write store key: %w", err)
			}
		}
		return deletePrev(txn)
	})
	if err != nil {
		clear(storeKey)
		return nil, err
	}
	return storeKey, nil
}

func deletePrev(txn meta.Txn) error {
	for _, k := range [][]byte{prevCheckKey, prevStoreKeyKey} {
		if err := txn.Delete(k); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return fmt.Errorf("kms: end root-key rotation: %w", err)
		}
	}
	return nil
}

func (m *Manager) setStoreKey(storeKey []byte) error {
	if len(storeKey) != storeKeyBytes {
		return fmt.Errorf("%w: store key is %d bytes", ErrCorrupt, len(storeKey))
	}
	block, err := aes.NewCipher(storeKey)
	if err != nil {
		return err
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	m.materialAEAD = g
	copy(m.rot.storeKey[:], storeKey)
	return nil
}

// initRootCheck runs in an Update on a store without a root-key check: it
// re-checks (another Open may have won the race) and writes the check value
// and a fresh, wrapped store key, unless the store holds KMS records
// already (then its root key cannot be verified).
func (m *Manager) initRootCheck(txn meta.Txn, rk *rootKeyring) error {
	if _, err := txn.Get(rootCheckKey); err == nil {
		return nil
	} else if !errors.Is(err, meta.ErrNotFound) {
		return fmt.Errorf("kms: read root-key check: %w", err)
	}
	var exists bool
	err := meta.ScanPrefix(txn, meta.KMSKey(""), func(_, _ []byte) (bool, error) {
		exists = true
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("kms: scan kms records: %w", err)
	}
	if exists {
		return fmt.Errorf("kms: open: %w: the store holds kms records but no root-key check", ErrWrongRootKey)
	}
	check, err := rk.newCheck(m.rand)
	if err != nil {
		return err
	}
	storeKey := make([]byte, storeKeyBytes)
	defer clear(storeKey)
	if _, err := io.ReadFull(m.rand, storeKey); err != nil {
		return fmt.Errorf("kms: random: %w", err)
	}
	wrapped, err := rk.wrapStoreKey(m.rand, storeKey)
	if err != nil {
		return err
	}
	if err := txn.Set(rootCheckKey, check); err != nil {
		return fmt.Errorf("kms: write root-key check: %w", err)
	}
	if err := txn.Set(storeKeyKey, wrapped); err != nil {
		return fmt.Errorf("kms: write store key: %w", err)
	}
	return nil
}

// BeginRootKeyRotation makes newRootKey the store's root key, in one
// transaction: the store key is wrapped under it and a check value for it
// recorded, while the key currently in use stays accepted (as the
// previous key) until FinishRootKeyRotation. Nothing else changes: every
// key, file system and secret stays readable throughout, and this Manager
// keeps serving. Install the new key where shelfd reads it between the
// two calls; if the process dies in between, either key opens the store.
// newRootKey is not retained.
func (m *Manager) BeginRootKeyRotation(ctx context.Context, newRootKey []byte) error {
	if len(newRootKey) != RootKeyBytes {
		return errf(ErrInvalidArgument, "root key is %d bytes, want %d", len(newRootKey), RootKeyBytes)
	}
	rk, err := newRootKeyring(newRootKey, m.cfg.Account)
	if err != nil {
		return err
	}
	m.rot.Lock()
	defer m.rot.Unlock()
	check, err := rk.newCheck(m.rand)
	if err != nil {
		return err
	}
	wrapped, err := rk.wrapStoreKey(m.rand, m.rot.storeKey[:])
	if err != nil {
		return err
	}
	err = m.store.Update(ctx, func(txn meta.Txn) error {
		var recs rootRecords
		if err := recs.read(txn); err != nil {
			return err
		}
		if recs.check == nil || recs.wrapped == nil {
			return fmt.Errorf("%w: no root-key records", ErrCorrupt)
		}
		if ok, _ := rk.matches(recs.check); ok {
			return errf(ErrInvalidArgument, "the new root key is the current one")
		}
		if !m.rot.openedWithPrev {
			// The current key becomes the previous one.
			if err := txn.Set(prevCheckKey, recs.check); err != nil {
				return err
			}
			if err := txn.Set(prevStoreKeyKey, recs.wrapped); err != nil {
				return err
			}
		}
		if err := txn.Set(rootCheckKey, check); err != nil {
			return err
		}
		return txn.Set(storeKeyKey, wrapped)
	})
	if err != nil {
		return fmt.Errorf("kms: rotate root key: %w", err)
	}
	m.rot.openedWithPrev = true // the key in use is now the previous one
	return nil
}

// FinishRootKeyRotation forgets the previous root key: from now on only
// the new key opens the store. Call it once the new key is installed.
func (m *Manager) FinishRootKeyRotation(ctx context.Context) error {
	m.rot.Lock()
	defer m.rot.Unlock()
	if err := m.store.Update(ctx, deletePrev); err != nil {
		return err
	}
	m.rot.openedWithPrev = false
	return nil
}

// loadStates fills the state cache with every key of the account.
func (m *Manager) loadStates(ctx context.Context) error {
	prefix := keyRecordPrefix(m.cfg.Account)
	var recs []*keyRecord
	err := m.store.View(ctx, func(r meta.Reader) error {
		recs = recs[:0]
		return meta.ScanPrefix(r, prefix, func(k, v []byte) (bool, error) {
			rec, err := decodeKeyRecord(string(k[len(prefix):]), v)
			if err != nil {
				return false, err
			}
			recs = append(recs, rec)
			return true, nil
		})
	})
	if err != nil {
		return fmt.Errorf("kms: load keys: %w", err)
	}
	for _, rec := range recs {
		m.observe(rec)
	}
	return nil
}

// Material sealing. Each material version is sealed with AES-256-GCM under a
// key derived from the root key, with a random nonce (the root key seals
// one value per material version, far below the random-nonce limit):
//
//	materialVersion(1) | nonce(12) | ciphertext(32) | tag(16)
//
// The AAD binds the account, key ID and material version, so sealed material
// cannot be moved to another key or version.
const sealedMaterialVersion byte = 1

func materialAAD(account, id string, version uint32) []byte {
	aad := []byte("shelf kms material v1\x00" + account + "\x00" + id + "\x00")
	return binary.BigEndian.AppendUint32(aad, version)
}

func (m *Manager) sealMaterial(id string, version uint32, material []byte) ([]byte, error) {
	out := make([]byte, 1+nonceBytes, 1+nonceBytes+len(material)+tagBytes)
	out[0] = sealedMaterialVersion
	if _, err := io.ReadFull(m.rand, out[1:]); err != nil {
		return nil, fmt.Errorf("kms: random: %w", err)
	}
	return m.materialAEAD.Seal(out, out[1:], material, materialAAD(m.cfg.Account, id, version)), nil
}

func (m *Manager) openMaterial(id string, version uint32, sealed []byte) ([]byte, error) {
	if len(sealed) != 1+nonceBytes+materialBytes+tagBytes || sealed[0] != sealedMaterialVersion {
		return nil, fmt.Errorf("%w: sealed material of key %s version %d is malformed", ErrCorrupt, id, version)
	}
	out, err := m.materialAEAD.Open(nil, sealed[1:1+nonceBytes], sealed[1+nonceBytes:], materialAAD(m.cfg.Account, id, version))
	if err != nil {
		return nil, fmt.Errorf("%w: material of key %s version %d does not open with the root key", ErrCorrupt, id, version)
	}
	return out, nil
}

// newMaterial generates and seals a material version.
func (m *Manager) newMaterial(id string, version uint32, now time.Time) (materialRecord, error) {
	material := make([]byte, materialBytes)
	defer clear(material)
	if _, err := io.ReadFull(m.rand, material); err != nil {
		return materialRecord{}, fmt.Errorf("kms: random: %w", err)
	}
	sealed, err := m.sealMaterial(id, version, material)
	if err != nil {
		return materialRecord{}, err
	}
	return materialRecord{Version: version, CreationDate: now, Sealed: sealed}, nil
}

func (m *Manager) now() time.Time { return m.clk.Now().UTC() }

// observe records the state of rec in the cache unless a newer revision is
// already there. Deleted keys lose their cached file-system keys.
func (m *Manager) observe(rec *keyRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.mu.keys[rec.ID]; ok && cur.revision > rec.Revision {
		return
	}
	m.mu.keys[rec.ID] = keyInfo{state: rec.State, deletionDate: rec.DeletionDate, revision: rec.Revision}
	if rec.State == keyStateDeleted {
		delete(m.mu.fsKeys, rec.ID)
	}
}

// stateError maps a key state to the data-plane error class.
func stateError(id string, st KeyState) error {
	switch st {
	case KeyStateEnabled:
		return nil
	case KeyStateDisabled:
		return errf(ErrKeyDisabled, "key %s", id)
	case KeyStatePendingDeletion:
		return errf(ErrKeyPendingDeletion, "key %s", id)
	default:
		return errf(ErrKeyDeleted, "key %s", id)
	}
}

// ARNs. shelf always uses the "aws" partition.

func (m *Manager) keyARN(id string) string {
	return "arn:aws:kms:" + m.cfg.Region + ":" + m.cfg.Account + ":key/" + id
}

func (m *Manager) aliasARN(name string) string {
	return "arn:aws:kms:" + m.cfg.Region + ":" + m.cfg.Account + ":" + name
}

// parsedRef is a key reference: exactly one of keyID and alias is set.
type parsedRef struct {
	keyID string // lower-case UUID
	alias string // "alias/…"
}

// parseRef accepts a key ID, key ARN, alias name or alias ARN. ARNs of
// another account or region name keys this Manager does not have.
func (m *Manager) parseRef(ref string) (parsedRef, error) {
	if ref == "" || len(ref) > maxRefBytes {
		return parsedRef{}, errf(ErrInvalidArgument, "key reference must be 1 to %d bytes", maxRefBytes)
	}
	resource := ref
	if strings.HasPrefix(ref, "arn:") {
		parts := strings.SplitN(ref, ":", 6)
		if len(parts) != 6 || parts[1] != "aws" || parts[2] != "kms" {
			return parsedRef{}, errf(ErrNotFound, "invalid key ARN %q", ref)
		}
		if parts[3] != m.cfg.Region || parts[4] != m.cfg.Account {
			return parsedRef{}, errf(ErrNotFound, "key %q is not in this account and region", ref)
		}
		resource = parts[5]
		if id, ok := strings.CutPrefix(resource, "key/"); ok {
			if _, ok := parseUUID(id); !ok {
				return parsedRef{}, errf(ErrNotFound, "invalid key ARN %q", ref)
			}
			return parsedRef{keyID: strings.ToLower(id)}, nil
		}
		if !strings.HasPrefix(resource, "alias/") {
			return parsedRef{}, errf(ErrNotFound, "invalid key ARN %q", ref)
		}
	}
	if strings.HasPrefix(resource, "alias/") {
		if err := validateAliasName(resource); err != nil {
			return parsedRef{}, err
		}
		return parsedRef{alias: resource}, nil
	}
	if _, ok := parseUUID(resource); !ok {
		return parsedRef{}, errf(ErrNotFound, "invalid key ID %q", ref)
	}
	return parsedRef{keyID: strings.ToLower(resource)}, nil
}

// resolve turns a reference into a key ID. The predefined alias of the
// managed key resolves even before the key exists: like AWS, using it
// creates the key.
func (m *Manager) resolve(ctx context.Context, ref string) (string, error) {
	p, err := m.parseRef(ref)
	if err != nil {
		return "", err
	}
	if p.keyID != "" {
		return p.keyID, nil
	}
	var target string
	err = m.store.View(ctx, func(r meta.Reader) error {
		a, err := getAliasRecord(r, m.cfg.Account, p.alias)
		if err != nil {
			return err
		}
		target = a.TargetKeyID
		return nil
	})
	if errors.Is(err, ErrNotFound) && p.alias == ManagedKeyAlias {
		md, err := m.ManagedKey(ctx)
		return md.KeyID, err
	}
	return target, err
}

// load reads the record of key id and records its state.
func (m *Manager) load(ctx context.Context, id string) (*keyRecord, error) {
	var rec *keyRecord
	err := m.store.View(ctx, func(r meta.Reader) error {
		var err error
		rec, err = getKeyRecord(r, m.cfg.Account, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	m.observe(rec)
	return rec, nil
}

// loadLive reads the record of key id for an operation that needs the key
// to exist: a pending deletion whose date has passed is completed first.
// The returned record may be a tombstone (State keyStateDeleted).
func (m *Manager) loadLive(ctx context.Context, id string) (*keyRecord, error) {
	rec, err := m.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.deletionDue(m.now()) {
		return m.completeDeletion(ctx, id)
	}
	return rec, nil
}

// describe resolves ref to a live key for the control plane: deleted keys
// are not found.
func (m *Manager) describe(ctx context.Context, ref string) (*keyRecord, error) {
	id, err := m.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	rec, err := m.loadLive(ctx, id)
	if err != nil {
		return nil, err
	}
	if rec.State == keyStateDeleted {
		return nil, errf(ErrNotFound, "key %s is deleted", id)
	}
	return rec, nil
}

var errDeletionDue = errors.New("kms: deletion due")

// mutate applies fn to the record of key id in one transaction and records
// the result. fn reports whether it changed the record; an unchanged record
// is not written. Deleted keys are not found; a key whose deletion date has
// passed is deleted first, and then not found either.
func (m *Manager) mutate(ctx context.Context, id string, fn func(rec *keyRecord, now time.Time) (bool, error)) (*keyRecord, error) {
	now := m.now()
	var out *keyRecord
	err := m.store.Update(ctx, func(txn meta.Txn) error {
		out = nil
		rec, err := getKeyRecord(txn, m.cfg.Account, id)
		if err != nil {
			return err
		}
		if rec.State == keyStateDeleted {
			return errf(ErrNotFound, "key %s is deleted", id)
		}
		if rec.deletionDue(now) {
			return errDeletionDue
		}
		changed, err := fn(rec, now)
		if err != nil {
			return err
		}
		if changed {
			rec.Revision++
			if err := putKeyRecord(txn, rec); err != nil {
				return err
			}
		}
		out = rec
		return nil
	})
	if errors.Is(err, errDeletionDue) {
		if _, err := m.completeDeletion(ctx, id); err != nil {
			return nil, err
		}
		return nil, errf(ErrNotFound, "key %s is deleted", id)
	}
	if err != nil {
		return nil, err
	}
	m.observe(out)
	return out, nil
}

// completeDeletion deletes key id if its deletion date has passed: the
// material is destroyed, aliases pointing at the key are removed, and a
// tombstone stays. It returns the record as it is afterwards.
func (m *Manager) completeDeletion(ctx context.Context, id string) (*keyRecord, error) {
	now := m.now()
	var out *keyRecord
	err := m.store.Update(ctx, func(txn meta.Txn) error {
		out = nil
		rec, err := getKeyRecord(txn, m.cfg.Account, id)
		if err != nil {
			return err
		}
		out = rec
		if !rec.deletionDue(now) {
			return nil
		}
		var aliases [][]byte
		prefix := aliasRecordPrefix(m.cfg.Account)
		err = meta.ScanPrefix(txn, prefix, func(k, v []byte) (bool, error) {
			a, err := decodeAliasRecord(string(k[len(prefix):]), v)
			if err != nil {
				return false, err
			}
			if a.TargetKeyID == id {
				aliases = append(aliases, append([]byte(nil), k...))
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, k := range aliases {
			if err := txn.Delete(k); err != nil {
				return fmt.Errorf("kms: delete alias of key %s: %w", id, err)
			}
		}
		*rec = keyRecord{
			Format:       recordFormat,
			ID:           rec.ID,
			Account:      rec.Account,
			Revision:     rec.Revision + 1,
			CreationDate: rec.CreationDate,
			KeyManager:   rec.KeyManager,
			State:        keyStateDeleted,
			DeletionDate: rec.DeletionDate,
			DeletedDate:  now,
		}
		return putKeyRecord(txn, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("kms: complete deletion of key %s: %w", id, err)
	}
	m.observe(out)
	return out, nil
}

func (m *Manager) metadata(rec *keyRecord) KeyMetadata {
	md := KeyMetadata{
		AWSAccountID:          rec.Account,
		KeyID:                 rec.ID,
		ARN:                   m.keyARN(rec.ID),
		CreationDate:          rec.CreationDate,
		Enabled:               rec.State == KeyStateEnabled,
		Description:           rec.Description,
		KeyUsage:              KeyUsageEncryptDecrypt,
		KeyState:              rec.State,
		Origin:                OriginAWSKMS,
		KeyManager:            rec.KeyManager,
		KeySpec:               KeySpecSymmetricDefault,
		CustomerMasterKeySpec: KeySpecSymmetricDefault,
		EncryptionAlgorithms:  []string{EncryptionAlgorithmSymmetricDefault},
	}
	if rec.State == KeyStatePendingDeletion {
		md.DeletionDate = rec.DeletionDate
		md.PendingDeletionWindowInDays = rec.PendingWindowDays
	}
	return md
}
