package trail

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ValidateInput says which trail to check and against what.
type ValidateInput struct {
	// Dir is the trail directory.
	Dir     string
	Account string
	Region  string
	// Name and Bucket are the trail's (defaults when empty).
	Name   string
	Bucket string
	// Keys are the digest public keys.
	Keys []PublicKey
	// Start and End bound the digests checked (End zero: now).
	Start, End time.Time
	// LatestDigest, when not zero, is the digestEndTime of the newest
	// digest the trail says it delivered (GetTrailStatus'
	// LatestDigestDeliveryTime): a missing newest digest is then detected
	// too, which the files alone cannot show.
	LatestDigest time.Time
}

// Finding is the verdict on one file.
type Finding struct {
	// Kind is "Digest file" or "Log file".
	Kind string
	// Key is the object key, relative to the trail directory.
	Key string
	// Status is "valid" or "INVALID: …".
	Status string
}

// Valid reports a "valid" status.
func (f Finding) Valid() bool { return f.Status == "valid" }

// Report is the result of Validate.
type Report struct {
	Bucket     string
	Start, End time.Time
	// FoundStart and FoundEnd span the digests checked.
	FoundStart, FoundEnd time.Time
	Findings             []Finding
	// Uncovered are log files delivered after the newest digest: no
	// digest vouches for them yet.
	Uncovered []string
	// Gaps are digests whose previous link is null although older
	// digests exist (the chain was restarted).
	Gaps []string
}

// Count returns the valid and total counts of findings of a kind.
func (r *Report) Count(kind string) (valid, total int) {
	for _, f := range r.Findings {
		if f.Kind == kind {
			total++
			if f.Valid() {
				valid++
			}
		}
	}
	return
}

// OK reports that every file checked is valid.
func (r *Report) OK() bool {
	for _, f := range r.Findings {
		if !f.Valid() {
			return false
		}
	}
	return true
}

// Kinds of files.
const (
	KindDigest = "Digest file"
	KindLog    = "Log file"
)

// WriteText prints the report like `aws cloudtrail validate-logs`: every
// invalid file (every file with verbose), then the summary.
func (r *Report) WriteText(w io.Writer, verbose bool) {
	fmt.Fprintf(w, "Validating log files for trail directory between %s and %s\n\n", r.Start.Format(TimeLayout), r.End.Format(TimeLayout))
	for _, f := range r.Findings {
		if verbose || !f.Valid() {
			fmt.Fprintf(w, "%s\ts3://%s/%s\t%s\n", f.Kind, r.Bucket, f.Key, f.Status)
		}
	}
	for _, g := range r.Gaps {
		fmt.Fprintf(w, "Digest file\ts3://%s/%s\tstarts a new chain (no previous digest link)\n", r.Bucket, g)
	}
	fmt.Fprintf(w, "\nResults requested for %s to %s\n", r.Start.Format(TimeLayout), r.End.Format(TimeLayout))
	dv, dt := r.Count(KindDigest)
	lv, lt := r.Count(KindLog)
	if dt == 0 {
		fmt.Fprintln(w, "No digests found")
	} else {
		fmt.Fprintf(w, "Results found for %s to %s:\n\n", r.FoundStart.Format(TimeLayout), r.FoundEnd.Format(TimeLayout))
		summary(w, "digest", dv, dt)
		summary(w, "log", lv, lt)
	}
	if len(r.Uncovered) > 0 {
		fmt.Fprintf(w, "%d log files delivered after the newest digest are not covered by a digest yet\n", len(r.Uncovered))
	}
}

func summary(w io.Writer, what string, valid, total int) {
	if total == 0 {
		fmt.Fprintf(w, "No %s files\n", what)
		return
	}
	fmt.Fprintf(w, "%d/%d %s files valid", valid, total, what)
	if bad := total - valid; bad > 0 {
		fmt.Fprintf(w, ", %d/%d %s files INVALID", bad, total, what)
	}
	fmt.Fprintln(w)
}

type listed struct {
	key string
	t   time.Time
}

// listFiles returns the keys under prefix whose names parse, with their
// times, oldest first, and the keys of other files (not temporaries, not
// signature files) as strays.
func listFiles(dir, prefix string, parse func(string) (time.Time, bool)) (files []listed, strays []string, err error) {
	root := filepath.Join(dir, filepath.FromSlash(prefix))
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return fs.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		name := d.Name()
		if strings.HasPrefix(name, tmpPrefix) || strings.HasSuffix(name, SignatureSuffix) {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if t, ok := parse(name); ok {
			files = append(files, listed{key, t})
		} else {
			strays = append(strays, key)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("trail: list %s: %w", prefix, err)
	}
	sort.Slice(files, func(i, j int) bool {
		if files[i].t.Equal(files[j].t) {
			return files[i].key < files[j].key
		}
		return files[i].t.Before(files[j].t)
	})
	return files, strays, nil
}

// Validate checks the trail in in.Dir the way `aws cloudtrail
// validate-logs` does, and more: it walks the digests of the time range
// from the newest to the oldest, following each digest's previous link,
// checks each digest's location and signature (the newest with its
// signature file, the others with the signature their successor embeds)
// and the SHA-256 of every log file each lists; then it reports log files
// that no digest lists although a digest covers their delivery time
// (inserted files), digest files that are not in the chain, and, given
// LatestDigest, a missing newest digest. An error is returned only when the
// directory cannot be read.
func Validate(in ValidateInput) (*Report, error) {
	if in.Name == "" {
		in.Name = DefaultName
	}
	if in.Bucket == "" {
		in.Bucket = DefaultBucket
	}
	if in.End.IsZero() {
		in.End = time.Now().UTC()
	}
	rep := &Report{Bucket: in.Bucket, Start: in.Start.UTC(), End: in.End.UTC()}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range in.Keys {
		if pk, err := k.RSA(); err == nil {
			keys[k.Fingerprint] = pk
		}
	}

	digests, strays, err := listFiles(in.Dir, DigestPrefix(in.Account, in.Region), parseDigestTime)
	if err != nil {
		return nil, err
	}
	for _, s := range strays {
		rep.Findings = append(rep.Findings, Finding{KindDigest, s, "INVALID: not a digest file name"})
	}
	// The digests in range: end time in [Start, End], plus the first one
	// after End (it covers the end of the range).
	var inRange []listed
	for _, d := range digests {
		if d.t.Before(rep.Start) {
			continue
		}
		inRange = append(inRange, d)
		if d.t.After(rep.End) {
			break
		}
	}
	byKey := map[string]listed{}
	for _, d := range inRange {
		byKey[d.key] = d
	}
	visited := map[string]bool{}
	logRefs := map[string]LogFile{}
	var logOrder []string
	var newestValid time.Time

	// expected latest digest
	type link struct {
		key  string
		sig  string // trusted signature from the successor ("" = use the .sig file)
		hash string // trusted hash from the successor
	}
	var next *link
	if !in.LatestDigest.IsZero() && !in.LatestDigest.Before(rep.Start) && !in.LatestDigest.After(rep.End) {
		k := DigestKey(in.Account, in.Region, in.Name, in.LatestDigest)
		if _, ok := byKey[k]; !ok {
			rep.Findings = append(rep.Findings, Finding{KindDigest, k, "INVALID: not found"})
			visited[k] = true
		}
	}
	newestUnvisited := func(before time.Time) *link {
		for i := len(inRange) - 1; i >= 0; i-- {
			d := inRange[i]
			if !visited[d.key] && (before.IsZero() || !d.t.After(before)) {
				return &link{key: d.key}
			}
		}
		return nil
	}
	for {
		if next == nil {
			// A digest that no chain reached (inserted, or the start of
			// another chain) is checked on its own.
			if next = newestUnvisited(time.Time{}); next == nil {
				break
			}
		}
		cur := *next
		next = nil
		visited[cur.key] = true
		t, _ := parseDigestTime(path.Base(cur.key))
		d, status := checkDigest(in, keys, cur.key, cur.sig, cur.hash)
		if d != nil {
			if et, err := time.Parse(TimeLayout, d.DigestEndTime); err == nil {
				t = et
			}
		}
		rep.Findings = append(rep.Findings, Finding{KindDigest, cur.key, status})
		if rep.FoundEnd.IsZero() || t.After(rep.FoundEnd) {
			rep.FoundEnd = t
		}
		if rep.FoundStart.IsZero() || t.Before(rep.FoundStart) {
			rep.FoundStart = t
		}
		if status != "valid" {
			next = newestUnvisited(t)
			continue
		}
		if newestValid.IsZero() || t.After(newestValid) {
			newestValid = t
		}
		if st, err := time.Parse(TimeLayout, d.DigestStartTime); err == nil && st.Before(rep.FoundStart) {
			rep.FoundStart = st
		}
		for _, lf := range d.LogFiles {
			if _, dup := logRefs[lf.S3Object]; !dup {
				logOrder = append(logOrder, lf.S3Object)
			}
			logRefs[lf.S3Object] = lf
		}
		if t.Before(rep.Start) {
			break
		}
		switch {
		case d.PreviousDigestS3Object == nil || d.PreviousDigestSignature == nil:
			if older := newestUnvisited(t); older != nil {
				rep.Gaps = append(rep.Gaps, cur.key)
				next = older
			}
		default:
			pk := *d.PreviousDigestS3Object
			pt, ok := parseDigestTime(path.Base(pk))
			if ok && pt.Before(rep.Start) {
				break // the previous digest is outside the range
			}
			if visited[pk] {
				rep.Findings = append(rep.Findings, Finding{KindDigest, cur.key, "INVALID: previous digest link loops"})
				next = newestUnvisited(t)
				break
			}
			l := &link{key: pk, sig: *d.PreviousDigestSignature}
			if d.PreviousDigestHashValue != nil {
				l.hash = *d.PreviousDigestHashValue
			}
			if d.PreviousDigestS3Bucket != nil && *d.PreviousDigestS3Bucket != in.Bucket {
				rep.Findings = append(rep.Findings, Finding{KindDigest, pk, "INVALID: not found"})
				next = newestUnvisited(t)
				break
			}
			next = l
		}
	}
	for _, k := range logOrder {
		lf := logRefs[k]
		status := "valid"
		if lf.S3Bucket != in.Bucket {
			status = "INVALID: not found"
		} else {
			status = checkLog(in.Dir, lf)
		}
		rep.Findings = append(rep.Findings, Finding{KindLog, k, status})
	}
	logs, logStrays, err := listFiles(in.Dir, LogPrefix(in.Account, in.Region), parseLogTime)
	if err != nil {
		return nil, err
	}
	for _, s := range logStrays {
		rep.Findings = append(rep.Findings, Finding{KindLog, s, "INVALID: not a log file name"})
	}
	// A log file named for a minute before the newest valid digest's
	// minute must be listed by a digest (the digest of that period lists
	// every file delivered in it).
	coveredUntil := newestValid.Truncate(time.Minute)
	for _, l := range logs {
		if _, ok := logRefs[l.key]; ok {
			continue
		}
		switch {
		case l.t.Before(rep.FoundStart.Truncate(time.Minute)) || l.t.After(rep.End):
			// outside what was checked
		case l.t.Before(coveredUntil):
			rep.Findings = append(rep.Findings, Finding{KindLog, l.key, "INVALID: not listed in any digest (inserted)"})
		default:
			rep.Uncovered = append(rep.Uncovered, l.key)
		}
	}
	return rep, nil
}

// checkDigest verifies one digest; it returns the parsed digest (nil when
// unreadable) and the status.
func checkDigest(in ValidateInput, keys map[string]*rsa.PublicKey, key, trustedSig, trustedHash string) (*Digest, string) {
	f, err := os.Open(filepath.Join(in.Dir, filepath.FromSlash(key)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "INVALID: not found"
	}
	if err != nil {
		return nil, "INVALID: unreadable"
	}
	body, err := gunzipLimited(f, maxDigestBytes)
	f.Close()
	if err != nil {
		return nil, "INVALID: invalid format"
	}
	d, err := parseDigest(body)
	if err != nil {
		return nil, "INVALID: invalid format"
	}
	if d.DigestS3Bucket != in.Bucket || d.DigestS3Object != key {
		return d, "INVALID: has been moved from its original location"
	}
	pub, ok := keys[d.DigestPublicKeyFingerprint]
	if !ok || d.DigestSignatureAlgorithm != SignatureAlgorithm {
		return d, "INVALID: public key not found for fingerprint " + d.DigestPublicKeyFingerprint
	}
	if trustedHash != "" && trustedHash != sha256Hex(body) {
		return d, "INVALID: hash value doesn't match"
	}
	sig := trustedSig
	if sig == "" {
		b, err := os.ReadFile(filepath.Join(in.Dir, filepath.FromSlash(key)+SignatureSuffix))
		if err != nil {
			return d, "INVALID: signature file not found"
		}
		sig = string(bytes.TrimSpace(b))
	}
	if err := VerifyDigestSignature(pub, d, body, sig); err != nil {
		return d, "INVALID: signature verification failed"
	}
	return d, "valid"
}

// checkLog compares a log file's SHA-256 (uncompressed) with its digest
// entry.
func checkLog(dir string, lf LogFile) string {
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(lf.S3Object)))
	if errors.Is(err, fs.ErrNotExist) {
		return "INVALID: not found"
	}
	if err != nil {
		return "INVALID: unreadable"
	}
	defer f.Close()
	h := sha256.New()
	zr, err := gzipReader(f)
	if err != nil {
		return "INVALID: hash value doesn't match"
	}
	n, err := io.Copy(h, io.LimitReader(zr, maxDecompressedBytes+1))
	if err != nil || n > maxDecompressedBytes {
		return "INVALID: hash value doesn't match"
	}
	if hex.EncodeToString(h.Sum(nil)) != lf.HashValue {
		return "INVALID: hash value doesn't match"
	}
	return "valid"
}
