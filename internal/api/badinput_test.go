package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/api"
)

// TestBadInput sends what the SDK never would: every case gets the right
// EFS error and status, and nothing is written.
func TestBadInput(t *testing.T) {
	h := newHarness(t)
	fsID := *h.createFS(t, &efs.CreateFileSystemInput{CreationToken: aws.String("keep")}).FileSystemId
	big := `{"CreationToken":"big","Tags":[{"Key":"a","Value":"` + strings.Repeat("v", api.MaxBodyBytes) + `"}]}`
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed json", "POST", "/2015-02-01/file-systems", `{"CreationToken":`, 400, "BadRequest"},
		{"not an object", "POST", "/2015-02-01/file-systems", `["CreationToken"]`, 400, "BadRequest"},
		{"trailing data", "POST", "/2015-02-01/file-systems", `{"CreationToken":"x"} {}`, 400, "BadRequest"},
		{"wrong type", "POST", "/2015-02-01/file-systems", `{"CreationToken":"x","Encrypted":"yes"}`, 400, "BadRequest"},
		{"wrong nested type", "POST", "/2015-02-01/access-points", `{"ClientToken":"c","FileSystemId":"` + fsID + `","PosixUser":{"Uid":"0","Gid":0}}`, 400, "BadRequest"},
		{"fractional uid", "POST", "/2015-02-01/access-points", `{"ClientToken":"c","FileSystemId":"` + fsID + `","PosixUser":{"Uid":1.5,"Gid":0}}`, 400, "BadRequest"},
		{"missing required", "POST", "/2015-02-01/file-systems", `{}`, 400, "ValidationException"},
		{"null required", "POST", "/2015-02-01/file-systems", `{"CreationToken":null}`, 400, "ValidationException"},
		{"token too long", "POST", "/2015-02-01/file-systems", `{"CreationToken":"` + strings.Repeat("t", 65) + `"}`, 400, "ValidationException"},
		{"token with newline", "POST", "/2015-02-01/file-systems", `{"CreationToken":"a\nb"}`, 400, "ValidationException"},
		{"bad enum", "POST", "/2015-02-01/file-systems", `{"CreationToken":"x","ThroughputMode":"turbo"}`, 400, "ValidationException"},
		{"bad kms key", "POST", "/2015-02-01/file-systems", `{"CreationToken":"x","Encrypted":true,"KmsKeyId":"not a key"}`, 400, "ValidationException"},
		{"oversized body", "POST", "/2015-02-01/file-systems", big, 400, "BadRequest"},
		{"invalid id", "DELETE", "/2015-02-01/file-systems/bogus_id", "", 400, "ValidationException"},
		{"invalid id in query", "GET", "/2015-02-01/file-systems?FileSystemId=fs-XYZ", "", 400, "ValidationException"},
		{"invalid MaxItems", "GET", "/2015-02-01/file-systems?MaxItems=ten", "", 400, "BadRequest"},
		{"zero MaxItems", "GET", "/2015-02-01/file-systems?MaxItems=0", "", 400, "ValidationException"},
		{"empty MaxItems", "GET", "/2015-02-01/file-systems?MaxItems=", "", 400, "BadRequest"},
		{"empty file system label", "DELETE", "/2015-02-01/file-systems/", "", 400, "BadRequest"},
		{"empty policy label", "GET", "/2015-02-01/file-systems//policy", "", 400, "BadRequest"},
		{"empty mount target label", "DELETE", "/2015-02-01/mount-targets/", "", 400, "BadRequest"},
		{"empty access point label", "DELETE", "/2015-02-01/access-points/", "", 400, "BadRequest"},
		{"empty resource label", "GET", "/2015-02-01/resource-tags/", "", 400, "BadRequest"},
		{"empty tags label", "GET", "/2015-02-01/tags//", "", 400, "BadRequest"},
		{"unknown route", "GET", "/2015-02-01/nothing", "", 404, "UnknownOperationException"},
		{"unknown version", "GET", "/2016-01-01/file-systems", "", 404, "UnknownOperationException"},
		{"root", "GET", "/", "", 404, "UnknownOperationException"},
		{"wrong method", "PATCH", "/2015-02-01/file-systems", "", 404, "UnknownOperationException"},
		{"get on a file system", "GET", "/2015-02-01/file-systems/" + fsID, "", 404, "UnknownOperationException"},
		{"untag without keys", "DELETE", "/2015-02-01/resource-tags/" + fsID, "", 400, "ValidationException"},
		{"lifecycle missing", "PUT", "/2015-02-01/file-systems/" + fsID + "/lifecycle-configuration", `{}`, 400, "ValidationException"},
		{"lifecycle too many", "PUT", "/2015-02-01/file-systems/" + fsID + "/lifecycle-configuration",
			`{"LifecyclePolicies":[{"TransitionToIA":"AFTER_7_DAYS"},{"TransitionToIA":"AFTER_7_DAYS"},{"TransitionToIA":"AFTER_7_DAYS"},{"TransitionToIA":"AFTER_7_DAYS"}]}`, 400, "ValidationException"},
		{"backup missing status", "PUT", "/2015-02-01/file-systems/" + fsID + "/backup-policy", `{"BackupPolicy":{}}`, 400, "ValidationException"},
		{"policy missing", "PUT", "/2015-02-01/file-systems/" + fsID + "/policy", `{}`, 400, "ValidationException"},
		{"policy empty", "PUT", "/2015-02-01/file-systems/" + fsID + "/policy", `{"Policy":""}`, 400, "ValidationException"},
		{"mount target bad ip", "POST", "/2015-02-01/mount-targets", `{"FileSystemId":"` + fsID + `","SubnetId":"subnet-0123456789abcdef0","IpAddress":"999.1.1.1"}`, 400, "BadRequest"},
		{"prefs in body wrong type", "GET", "/2015-02-01/account-preferences", `{"MaxResults":"x"}`, 400, "BadRequest"},
		{"prefs foreign token", "GET", "/2015-02-01/account-preferences", `{"NextToken":"abc"}`, 400, "BadRequest"},
		{"deletion mode", "DELETE", "/2015-02-01/file-systems/" + fsID + "/replication-configuration?deletionMode=SOME", "", 400, "ValidationException"},
		{"replication wrong list", "POST", "/2015-02-01/file-systems/" + fsID + "/replication-configuration", `{"Destinations":{}}`, 400, "BadRequest"},
		{"other account arn", "DELETE", "/2015-02-01/file-systems/arn:aws:elasticfilesystem:us-east-1:999999999999:file-system%2F" + fsID, "", 404, "FileSystemNotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			} else {
				body = strings.NewReader("")
			}
			resp, got := h.raw(tc.method, tc.path, body)
			require.Equal(t, tc.status, resp.StatusCode, got)
			require.Equal(t, tc.code, resp.Header.Get("X-Amzn-ErrorType"), got)
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(got), &m), got)
			require.Equal(t, tc.code, m["ErrorCode"])
			require.NotEmpty(t, m["Message"])
		})
	}
	// Nothing was written: one file system, untouched.
	out, err := h.client.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
	require.NoError(t, err)
	require.Len(t, out.FileSystems, 1)
	require.Empty(t, out.FileSystems[0].Tags)
	lc, err := h.client.DescribeLifecycleConfiguration(ctx, &efs.DescribeLifecycleConfigurationInput{FileSystemId: &fsID})
	require.NoError(t, err)
	require.Empty(t, lc.LifecyclePolicies)

	// Unknown members are ignored, as AWS does (newer clients send members
	// older servers do not know).
	resp, got := h.raw("POST", "/2015-02-01/file-systems", strings.NewReader(`{"CreationToken":"u1","FutureMember":{"x":1}}`))
	require.Equal(t, 201, resp.StatusCode, got)

	// A validation message names the member and the constraint as EFS does.
	_, got = h.raw("DELETE", "/2015-02-01/file-systems/bogus_id", strings.NewReader(""))
	require.Contains(t, got, "1 validation error detected: Value 'bogus_id' at 'fileSystemId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(arn:aws")
}
