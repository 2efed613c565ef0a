package trail

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/clock"
	"github.com/shelf-efs/shelf/internal/meta"
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
)

const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
)

// fakeSealer binds a value to its purpose without encrypting it: the trail
// only needs the round trip and the purpose check.
type fakeSealer struct{}

func (fakeSealer) SealSecret(_ context.Context, purpose string, p []byte) ([]byte, error) {
	return append([]byte(purpose+"\x00"), p...), nil
}

func (fakeSealer) OpenSecret(_ context.Context, purpose string, s []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(s, []byte(purpose+"\x00"))
	if !ok {
		return nil, fmt.Errorf("wrong purpose")
	}
	return append([]byte(nil), rest...), nil
}

func memStore(t *testing.T) meta.Store {
	t.Helper()
	m, err := pebblemeta.Open("", pebblemeta.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func testEvent(name string, at time.Time, n int) *audit.Event {
	return &audit.Event{
		EventVersion:       audit.EventVersion,
		UserIdentity:       audit.UserIdentity{Type: audit.IdentityRoot, PrincipalID: testAccount, ARN: "arn:aws:iam::" + testAccount + ":root", AccountID: testAccount, AccessKeyID: "AKIAEXAMPLE"},
		EventTime:          audit.FormatTime(at),
		EventSource:        "elasticfilesystem.amazonaws.com",
		EventName:          name,
		AWSRegion:          testRegion,
		SourceIPAddress:    "127.0.0.1",
		UserAgent:          "test",
		RequestID:          fmt.Sprintf("req-%d", n),
		EventID:            fmt.Sprintf("ev-%06d", n),
		EventType:          audit.EventTypeAPICall,
		ManagementEvent:    true,
		RecipientAccountID: testAccount,
		EventCategory:      audit.CategoryManagement,
	}
}

type fixture struct {
	m     meta.Store
	log   *audit.Log
	clk   *clock.Fake
	dir   string
	trail *Trail
	n     int
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{m: memStore(t), clk: clock.NewFake(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)), dir: t.TempDir()}
	f.log = audit.NewLog(f.m)
	f.trail = f.open(t)
	return f
}

func (f *fixture) open(t *testing.T) *Trail {
	tr, err := New(context.Background(), Deps{Meta: f.m, Audit: f.log, Sealer: fakeSealer{}, Clock: f.clk},
		Config{Dir: f.dir, Account: testAccount, Region: testRegion})
	require.NoError(t, err)
	return tr
}

func (f *fixture) append(t *testing.T, k int) {
	for range k {
		f.n++
		require.NoError(t, f.log.Append(context.Background(), testEvent("DescribeFileSystems", f.clk.Now(), f.n)))
		f.clk.Advance(time.Second)
	}
}

// delivered returns the eventIDs in every log file of the trail, in file
// order (by name time, then by name).
func delivered(t *testing.T, dir string) []string {
	files, strays, err := listFiles(dir, LogPrefix(testAccount, testRegion), parseLogTime)
	require.NoError(t, err)
	require.Empty(t, strays)
	var ids []string
	for _, l := range files {
		b, err := os.ReadFile(filepath.Join(dir, l.key))
		require.NoError(t, err)
		body, err := gunzipLimited(bytes.NewReader(b), 1<<30)
		require.NoError(t, err)
		var doc struct{ Records []audit.Event }
		require.NoError(t, json.Unmarshal(body, &doc))
		for _, r := range doc.Records {
			ids = append(ids, r.EventID)
		}
	}
	sort.Strings(ids)
	return ids
}

func wantIDs(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("ev-%06d", i))
	}
	return out
}

func (f *fixture) validate(t *testing.T, dir string, latest bool) *Report {
	in := ValidateInput{Dir: dir, Account: testAccount, Region: testRegion, Keys: f.trail.PublicKeys(),
		Start: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), End: f.clk.Now().Add(time.Hour)}
	if latest {
		st, err := f.trail.Status(context.Background())
		require.NoError(t, err)
		in.LatestDigest = st.LatestDigestDeliveryTime
	}
	rep, err := Validate(in)
	require.NoError(t, err)
	return rep
}

// build makes a trail of three digests over five log files.
func (f *fixture) build(t *testing.T) {
	ctx := context.Background()
	for range 3 {
		f.append(t, 3)
		f.clk.Advance(5 * time.Minute)
		require.NoError(t, f.trail.DeliverNow(ctx))
		f.append(t, 2)
		f.clk.Advance(5 * time.Minute)
		require.NoError(t, f.trail.DeliverNow(ctx))
		f.clk.Advance(time.Hour)
		require.NoError(t, f.trail.DigestNow(ctx))
	}
	f.clk.Advance(time.Hour)
}

func TestDeliveryExactlyOnceAndValid(t *testing.T) {
	f := newFixture(t)
	f.build(t)
	require.Equal(t, wantIDs(15), delivered(t, f.dir))
	rep := f.validate(t, f.dir, true)
	require.True(t, rep.OK(), "%+v", rep.Findings)
	dv, dt := rep.Count(KindDigest)
	lv, lt := rep.Count(KindLog)
	require.Equal(t, [4]int{3, 3, 6, 6}, [4]int{dv, dt, lv, lt})

	// An empty hour still gets a digest, chained to the previous one.
	require.NoError(t, f.trail.DigestNow(context.Background()))
	rep = f.validate(t, f.dir, true)
	require.True(t, rep.OK(), "%+v", rep.Findings)
	_, dt = rep.Count(KindDigest)
	require.Equal(t, 4, dt)

	var out bytes.Buffer
	rep.WriteText(&out, false)
	require.Contains(t, out.String(), "4/4 digest files valid")
	require.Contains(t, out.String(), "6/6 log files valid")
}

func copyDir(t *testing.T, src string) string {
	dst := t.TempDir()
	require.NoError(t, os.CopyFS(dst, os.DirFS(src)))
	return dst
}

func keysOf(t *testing.T, dir, prefix string, parse func(string) (time.Time, bool)) []string {
	files, _, err := listFiles(dir, prefix, parse)
	require.NoError(t, err)
	var out []string
	for _, l := range files {
		out = append(out, l.key)
	}
	return out
}

func rewriteGzip(t *testing.T, path string, edit func([]byte) []byte) {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	body, err := gunzipLimited(bytes.NewReader(b), 1<<30)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, gzipBytes(edit(body)), 0o640))
}

func TestValidateDetectsTampering(t *testing.T) {
	f := newFixture(t)
	f.build(t)
	logs := keysOf(t, f.dir, LogPrefix(testAccount, testRegion), parseLogTime)
	digests := keysOf(t, f.dir, DigestPrefix(testAccount, testRegion), parseDigestTime)
	require.Len(t, logs, 6)
	require.Len(t, digests, 3)

	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		bad    string // key of the file reported
		status string
		noHint bool // without the trail's latest-digest time
	}{
		{"delete log", func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, logs[2]))) }, logs[2], "INVALID: not found", false},
		{"edit log record", func(t *testing.T, dir string) {
			rewriteGzip(t, filepath.Join(dir, logs[1]), func(b []byte) []byte {
				return bytes.Replace(b, []byte("DescribeFileSystems"), []byte("DeleteFileSystem"), 1)
			})
		}, logs[1], "INVALID: hash value doesn't match", false},
		{"flip a compressed byte", func(t *testing.T, dir string) {
			p := filepath.Join(dir, logs[4])
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			b[len(b)/2] ^= 0x40
			require.NoError(t, os.WriteFile(p, b, 0o640))
		}, logs[4], "INVALID: hash value doesn't match", false},
		{"insert log", func(t *testing.T, dir string) {
			k := logKey(testAccount, testRegion, time.Date(2026, 11, 27, 10, 3, 0, 0, time.UTC), "AAAAAAAAAAAAAAAA")
			require.NoError(t, writeFileAtomic(dir, k, gzipBytes([]byte(`{"Records":[]}`))))
		}, logKey(testAccount, testRegion, time.Date(2026, 11, 27, 10, 3, 0, 0, time.UTC), "AAAAAAAAAAAAAAAA"), "INVALID: not listed in any digest (inserted)", false},
		{"delete middle digest", func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, digests[1]))) }, digests[1], "INVALID: not found", false},
		{"delete newest digest", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, digests[2])))
			require.NoError(t, os.Remove(filepath.Join(dir, digests[2]+SignatureSuffix)))
		}, digests[2], "INVALID: not found", false},
		{"edit digest", func(t *testing.T, dir string) {
			rewriteGzip(t, filepath.Join(dir, digests[1]), func(b []byte) []byte {
				var d Digest
				require.NoError(t, json.Unmarshal(b, &d))
				d.LogFiles = d.LogFiles[:1]
				out, _ := json.Marshal(d)
				return out
			})
		}, digests[1], "INVALID: hash value doesn't match", false},
		{"edit newest digest", func(t *testing.T, dir string) {
			rewriteGzip(t, filepath.Join(dir, digests[2]), func(b []byte) []byte {
				return bytes.Replace(b, []byte(`"logFiles":[`), []byte(`"logFiles":[ `), 1)
			})
		}, digests[2], "INVALID: signature verification failed", false},
		{"insert digest", func(t *testing.T, dir string) {
			k := DigestKey(testAccount, testRegion, DefaultName, time.Date(2026, 11, 27, 12, 30, 0, 0, time.UTC))
			b, err := os.ReadFile(filepath.Join(dir, digests[1]))
			require.NoError(t, err)
			require.NoError(t, writeFileAtomic(dir, k, b))
		}, DigestKey(testAccount, testRegion, DefaultName, time.Date(2026, 11, 27, 12, 30, 0, 0, time.UTC)), "INVALID: has been moved from its original location", false},
		{"replace signature file", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, digests[2]+SignatureSuffix), []byte(strings.Repeat("ab", 256)), 0o640))
		}, digests[2], "INVALID: signature verification failed", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, f.dir)
			c.tamper(t, dir)
			rep := f.validate(t, dir, !c.noHint)
			require.False(t, rep.OK())
			found := false
			for _, fd := range rep.Findings {
				if fd.Key == c.bad {
					require.Equal(t, c.status, fd.Status)
					found = true
				}
			}
			require.True(t, found, "no finding for %s: %+v", c.bad, rep.Findings)
			var out bytes.Buffer
			rep.WriteText(&out, false)
			require.Contains(t, out.String(), c.bad)
		})
	}
}

// TestRecoverInterruptedDelivery stops a delivery between its recorded
// intent and its file, as a crash would, and checks that the next start
// writes that same file and nothing twice.
func TestRecoverInterruptedDelivery(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.append(t, 4)
	st, err := f.trail.loadState(ctx)
	require.NoError(t, err)
	st.PendingLog = &pendingLog{Key: logKey(testAccount, testRegion, f.clk.Now(), "RECOVERRECOVER00"), First: 1, Last: 3, Time: f.clk.Now()}
	require.NoError(t, f.trail.saveState(ctx, st))
	// A half-written temporary file of the interrupted write.
	tmpDir := filepath.Join(f.dir, filepath.Dir(st.PendingLog.Key))
	require.NoError(t, os.MkdirAll(tmpDir, 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(tmpDir, ".tmp-123"), []byte("x"), 0o640))

	f.trail = f.open(t) // "restart"
	require.Equal(t, wantIDs(3), delivered(t, f.dir))
	require.FileExists(t, filepath.Join(f.dir, st.PendingLog.Key))
	require.NoError(t, f.trail.DigestNow(ctx))
	require.Equal(t, wantIDs(4), delivered(t, f.dir))

	// An interrupted digest is written again, identical.
	f.append(t, 1)
	require.NoError(t, f.trail.DeliverNow(ctx))
	st, err = f.trail.loadState(ctx)
	require.NoError(t, err)
	f.clk.Advance(time.Hour)
	require.NoError(t, f.trail.digestLocked(ctx))
	st2, err := f.trail.loadState(ctx)
	require.NoError(t, err)
	key := st2.LastDigest.Key
	b1, err := os.ReadFile(filepath.Join(f.dir, key))
	require.NoError(t, err)
	// Pretend the file never made it: put the pending digest back.
	require.NoError(t, os.Remove(filepath.Join(f.dir, key)))
	body, err := gunzipLimited(bytes.NewReader(b1), 1<<20)
	require.NoError(t, err)
	st.PendingDigest = &pendingDigest{Key: key, End: st2.LastDigest.End, Body: body, Signature: st2.LastDigest.Signature}
	require.NoError(t, f.trail.saveState(ctx, st))
	f.trail = f.open(t)
	b2, err := os.ReadFile(filepath.Join(f.dir, key))
	require.NoError(t, err)
	require.Equal(t, b1, b2)
	f.clk.Advance(time.Hour)
	rep := f.validate(t, f.dir, true)
	require.True(t, rep.OK(), "%+v", rep.Findings)
	require.Equal(t, wantIDs(5), delivered(t, f.dir))
}

func TestBacklogIsSplit(t *testing.T) {
	f := newFixture(t)
	f.append(t, maxRecordsPerFile+5)
	require.NoError(t, f.trail.DigestNow(context.Background()))
	require.Len(t, keysOf(t, f.dir, LogPrefix(testAccount, testRegion), parseLogTime), 2)
	require.Equal(t, wantIDs(maxRecordsPerFile+5), delivered(t, f.dir))
}

func TestGzipIsDeterministic(t *testing.T) {
	a, b := gzipBytes([]byte("hello")), gzipBytes([]byte("hello"))
	require.Equal(t, a, b)
	zr, err := gzip.NewReader(bytes.NewReader(a))
	require.NoError(t, err)
	got, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, "hello", string(got))
}

// FuzzParseDigest: a digest file's content is untrusted input to the
// validator; parsing never panics, and what parses has an end time and
// signs to a string that names its own location.
func FuzzParseDigest(f *testing.F) {
	d := Digest{AWSAccountID: testAccount, DigestStartTime: "2026-11-27T10:00:00Z", DigestEndTime: "2026-11-27T11:00:00Z",
		DigestS3Bucket: DefaultBucket, DigestS3Object: "k", DigestPublicKeyFingerprint: "fp", DigestSignatureAlgorithm: SignatureAlgorithm,
		LogFiles: []LogFile{{S3Bucket: DefaultBucket, S3Object: "l", HashValue: "00", HashAlgorithm: HashAlgorithm}}}
	b, _ := json.Marshal(d)
	f.Add(b)
	f.Add([]byte(`{"digestEndTime":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseDigest(b)
		if err != nil {
			return
		}
		_, err = time.Parse(TimeLayout, d.DigestEndTime)
		require.NoError(t, err)
		sts := StringToSign(d, b)
		require.True(t, strings.HasPrefix(sts, d.DigestEndTime+"\n"+d.DigestS3Bucket+"/"+d.DigestS3Object+"\n"))
		require.Equal(t, sts, StringToSign(d, b))
	})
}
