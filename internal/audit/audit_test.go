package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/meta"
	"github.com/shelf-efs/shelf/internal/meta/pebblemeta"
)

func newStore(t *testing.T) meta.Store {
	t.Helper()
	m, err := pebblemeta.Open("", pebblemeta.Options{FS: vfs.NewMem()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func event(name string) *audit.Event {
	return &audit.Event{
		EventVersion: audit.EventVersion,
		UserIdentity: audit.UserIdentity{
			Type: audit.IdentityRoot, PrincipalID: "123456789012", ARN: "arn:aws:iam::123456789012:root",
			AccountID: "123456789012", AccessKeyID: "AKIAEXAMPLE",
		},
		EventTime:          audit.FormatTime(time.Date(2026, 11, 27, 10, 0, 0, 999, time.UTC)),
		EventSource:        audit.EventSource("elasticfilesystem"),
		EventName:          name,
		AWSRegion:          "us-east-1",
		SourceIPAddress:    "127.0.0.1",
		UserAgent:          "aws-cli/2.9.19",
		RequestParameters:  json.RawMessage(`{"creationToken":"t1"}`),
		RequestID:          "req",
		EventID:            "7e1b6f0c-7d3d-4a53-9d55-2f6d3c4f1a00",
		EventType:          audit.EventTypeAPICall,
		APIVersion:         "2015-02-01",
		ManagementEvent:    true,
		RecipientAccountID: "123456789012",
		EventCategory:      audit.CategoryManagement,
	}
}

// TestEventJSON pins the CloudTrail field names and the null/omitted rules.
func TestEventJSON(t *testing.T) {
	e := event("CreateFileSystem")
	e.TLSDetails = &audit.TLSDetails{TLSVersion: "TLSv1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", ClientProvidedHostHeader: "127.0.0.1:8049"}
	b, err := json.Marshal(e)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"eventVersion":"1.08",
		"userIdentity":{"type":"Root","principalId":"123456789012","arn":"arn:aws:iam::123456789012:root","accountId":"123456789012","accessKeyId":"AKIAEXAMPLE"},
		"eventTime":"2026-11-27T10:00:00Z",
		"eventSource":"elasticfilesystem.amazonaws.com",
		"eventName":"CreateFileSystem",
		"awsRegion":"us-east-1",
		"sourceIPAddress":"127.0.0.1",
		"userAgent":"aws-cli/2.9.19",
		"requestParameters":{"creationToken":"t1"},
		"responseElements":null,
		"requestID":"req",
		"eventID":"7e1b6f0c-7d3d-4a53-9d55-2f6d3c4f1a00",
		"readOnly":false,
		"eventType":"AwsApiCall",
		"apiVersion":"2015-02-01",
		"managementEvent":true,
		"recipientAccountId":"123456789012",
		"eventCategory":"Management",
		"tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"127.0.0.1:8049"}
	}`, string(b))
}

func TestValidate(t *testing.T) {
	for name, mutate := range map[string]func(*audit.Event){
		"no version":      func(e *audit.Event) { e.EventVersion = "" },
		"no identity":     func(e *audit.Event) { e.UserIdentity.Type = "" },
		"no name":         func(e *audit.Event) { e.EventName = "" },
		"no event id":     func(e *audit.Event) { e.EventID = "" },
		"no recipient":    func(e *audit.Event) { e.RecipientAccountID = "" },
		"fractional time": func(e *audit.Event) { e.EventTime = "2026-11-27T10:00:00.5Z" },
		"bad json":        func(e *audit.Event) { e.ResponseElements = json.RawMessage(`{`) },
	} {
		t.Run(name, func(t *testing.T) {
			e := event("X")
			mutate(e)
			require.Error(t, e.Validate())
			l := audit.NewLog(newStore(t))
			require.Error(t, l.Append(context.Background(), e))
			next, err := l.NextSeq(context.Background())
			require.NoError(t, err)
			require.Equal(t, uint64(1), next, "nothing stored")
		})
	}
}

func TestAppendScan(t *testing.T) {
	ctx := context.Background()
	m := newStore(t)
	l := audit.NewLog(m)
	next, err := l.NextSeq(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(1), next)

	const n = 600 // more than one scan batch
	for i := range n {
		seq, err := l.AppendSeq(ctx, event(fmt.Sprintf("Op%d", i)))
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), seq)
	}
	var seqs []uint64
	require.NoError(t, l.Scan(ctx, 0, func(seq uint64, e *audit.Event) error {
		require.Equal(t, fmt.Sprintf("Op%d", seq-1), e.EventName)
		seqs = append(seqs, seq)
		return nil
	}))
	require.Len(t, seqs, n)

	t.Run("from the middle", func(t *testing.T) {
		var first, count uint64
		require.NoError(t, l.Scan(ctx, 300, func(seq uint64, e *audit.Event) error {
			if first == 0 {
				first = seq
			}
			count++
			return nil
		}))
		require.Equal(t, uint64(300), first)
		require.Equal(t, uint64(n-299), count)
	})
	t.Run("stop", func(t *testing.T) {
		var count int
		require.NoError(t, l.Scan(ctx, 1, func(uint64, *audit.Event) error {
			count++
			if count == 3 {
				return audit.ErrStop
			}
			return nil
		}))
		require.Equal(t, 3, count)
	})
	t.Run("round trip", func(t *testing.T) {
		var got *audit.Event
		require.NoError(t, l.Scan(ctx, 1, func(_ uint64, e *audit.Event) error {
			got = e
			return audit.ErrStop
		}))
		want, err := json.Marshal(event("Op0"))
		require.NoError(t, err)
		back, err := json.Marshal(got)
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(back))
	})
	t.Run("corrupt record is an error", func(t *testing.T) {
		require.NoError(t, m.Update(ctx, func(tx meta.Txn) error {
			return tx.Set(audit.RecordKey(2), []byte{9, '{'})
		}))
		err := l.Scan(ctx, 1, func(uint64, *audit.Event) error { return nil })
		require.ErrorContains(t, err, "record 2")
	})
}

// TestConcurrentAppendsAreGapFree: concurrent appends get distinct,
// consecutive sequence numbers.
func TestConcurrentAppendsAreGapFree(t *testing.T) {
	ctx := context.Background()
	l := audit.NewLog(newStore(t))
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := l.Append(ctx, event(fmt.Sprintf("W%d-%d", w, i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := uint64(1)
	names := map[string]bool{}
	require.NoError(t, l.Scan(ctx, 1, func(seq uint64, e *audit.Event) error {
		require.Equal(t, want, seq)
		want++
		names[e.EventName] = true
		return nil
	}))
	require.Equal(t, uint64(writers*each+1), want)
	require.Len(t, names, writers*each)
}
