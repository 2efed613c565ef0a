package trail

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Layout of the trail directory, as CloudTrail lays out S3 keys
// (CloudTrail User Guide, "Finding your CloudTrail log files" and "CloudTrail
// digest file structure"):
//
//	AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<random>.json.gz
//	AWSLogs/<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/<account>_CloudTrail-Digest_<region>_<trail>_<home-region>_<YYYYMMDDTHHmmssZ>.json.gz
//
// The signature of a digest, which CloudTrail keeps in the S3 object
// metadata x-amz-meta-signature, is kept beside it in <digest>.sig (hex).
// Object keys are slash-separated paths relative to the trail directory.
const (
	logTimeLayout    = "20060102T1504Z"
	digestTimeLayout = "20060102T150405Z"
	// SignatureSuffix is appended to a digest's name for its signature file.
	SignatureSuffix = ".sig"
	// tmpPrefix starts the names of files being written.
	tmpPrefix = ".tmp-"
	// maxDecompressedBytes bounds what is read from one gzip file.
	maxDecompressedBytes = 1 << 30
	// maxDigestBytes bounds an uncompressed digest file.
	maxDigestBytes = 64 << 20
)

func datePath(t time.Time) string { return t.UTC().Format("2006/01/02") }

// LogPrefix is the key prefix of the log files of account and region.
func LogPrefix(account, region string) string {
	return "AWSLogs/" + account + "/CloudTrail/" + region + "/"
}

// DigestPrefix is the key prefix of the digest files of account and region.
func DigestPrefix(account, region string) string {
	return "AWSLogs/" + account + "/CloudTrail-Digest/" + region + "/"
}

// logKey names a log file delivered at t with the random suffix rnd.
func logKey(account, region string, t time.Time, rnd string) string {
	t = t.UTC()
	return LogPrefix(account, region) + datePath(t) + "/" + account + "_CloudTrail_" + region + "_" + t.Format(logTimeLayout) + "_" + rnd + ".json.gz"
}

// DigestKey names the digest file whose digestEndTime is end. Digest names
// are a function of the end time, so a reader that knows when the newest
// digest was delivered knows where it must be.
func DigestKey(account, region, trailName string, end time.Time) string {
	end = end.UTC()
	return DigestPrefix(account, region) + datePath(end) + "/" + account + "_CloudTrail-Digest_" + region + "_" + trailName + "_" + region + "_" + end.Format(digestTimeLayout) + ".json.gz"
}

// parseLogTime returns the delivery time in a log file name.
func parseLogTime(name string) (time.Time, bool) {
	base, ok := strings.CutSuffix(name, ".json.gz")
	if !ok {
		return time.Time{}, false
	}
	parts := strings.Split(base, "_")
	if len(parts) != 5 || parts[1] != "CloudTrail" {
		return time.Time{}, false
	}
	t, err := time.Parse(logTimeLayout, parts[3])
	return t, err == nil
}

// parseDigestTime returns the digestEndTime in a digest file name.
func parseDigestTime(name string) (time.Time, bool) {
	base, ok := strings.CutSuffix(name, ".json.gz")
	if !ok {
		return time.Time{}, false
	}
	i := strings.LastIndexByte(base, '_')
	if i < 0 || !strings.Contains(base, "_CloudTrail-Digest_") {
		return time.Time{}, false
	}
	t, err := time.Parse(digestTimeLayout, base[i+1:])
	return t, err == nil
}

// gzipBytes compresses b deterministically (no name, no modification time),
// so that a file rewritten after a crash is the same file.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// gunzipLimited decompresses b, failing when the result exceeds limit.
func gunzipLimited(r io.Reader, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(out)) > limit {
		return nil, errors.New("decompressed content too large")
	}
	return out, nil
}

// writeFileAtomic writes data to root/key: a temporary file in the same
// directory, synced, renamed over the name, and the directory synced, so
// that after a crash the name holds either nothing (or the old content) or
// all of data. Directories it creates are synced into their parents.
func writeFileAtomic(root, key string, data []byte) error {
	path := filepath.Join(root, filepath.FromSlash(key))
	dir := filepath.Dir(path)
	if err := mkdirAllSynced(root, dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("trail: write %s: %w", key, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o640)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("trail: write %s: %w", key, err)
	}
	return nil
}

// mkdirAllSynced creates dir (inside root) and its missing parents, syncing
// each parent whose entries changed.
func mkdirAllSynced(root, dir string) error {
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return nil
	}
	parent := filepath.Dir(dir)
	if dir != root && parent != dir {
		if err := mkdirAllSynced(root, parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o750); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("trail: create %s: %w", dir, err)
	}
	if dir == root {
		return nil
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func gzipReader(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }
