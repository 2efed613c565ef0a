package trailapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/server/servertest"
	"github.com/shelf-efs/shelf/internal/trail"
)

func sdkCode(t *testing.T, err error) (string, int) {
	t.Helper()
	require.Error(t, err)
	var ae smithy.APIError
	require.True(t, errors.As(err, &ae), "not an API error: %v", err)
	var re *awshttp.ResponseError
	require.True(t, errors.As(err, &re), "no HTTP response: %v", err)
	return ae.ErrorCode(), re.HTTPStatusCode()
}

// TestCloudTrailSDK drives a real shelfd with the Go SDK's CloudTrail
// client: events of EFS calls are found by every lookup attribute, most
// recent first and page by page; bad input gets CloudTrail's errors; the
// digest key is listed; and the trail written at shutdown validates with it.
func TestCloudTrailSDK(t *testing.T) {
	servertest.ClearAWSEnv(t)
	ctx := context.Background()
	cfg := servertest.Config(t, filepath.Join(t.TempDir(), "data"))
	srv := servertest.Start(t, cfg)

	sdkCfg, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithSharedCredentialsFiles([]string{srv.RootCredentialsPath()}),
		awsconfig.WithSharedConfigFiles([]string{}),
		awsconfig.WithRegion("us-east-1"),
		awsconfig.WithRetryMaxAttempts(1),
	)
	require.NoError(t, err)
	ep := srv.APIURL()
	ct := cloudtrail.NewFromConfig(sdkCfg, func(o *cloudtrail.Options) { o.BaseEndpoint = aws.String(ep) })
	ef := efs.NewFromConfig(sdkCfg, func(o *efs.Options) { o.BaseEndpoint = aws.String(ep) })

	var fsIDs []string
	for _, tok := range []string{"a", "b", "c"} {
		out, err := ef.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String(tok)})
		require.NoError(t, err)
		fsIDs = append(fsIDs, *out.FileSystemId)
	}
	_, err = ef.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
	require.NoError(t, err)

	lookup := func(key cttypes.LookupAttributeKey, value string) []cttypes.Event {
		t.Helper()
		out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: key, AttributeValue: aws.String(value)}}})
		require.NoError(t, err)
		return out.Events
	}
	evs := lookup(cttypes.LookupAttributeKeyEventName, "CreateFileSystem")
	require.Len(t, evs, 3)
	require.Equal(t, "false", *evs[0].ReadOnly)
	require.Equal(t, "root", *evs[0].Username)
	require.False(t, evs[0].EventTime.Before(*evs[2].EventTime))
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(*evs[0].CloudTrailEvent), &rec))
	require.Equal(t, "CreateFileSystem", rec["eventName"])
	require.Equal(t, *evs[0].EventId, rec["eventID"])
	// Most recent first: the last file system created comes first.
	require.Equal(t, fsIDs[2], *evs[0].Resources[0].ResourceName)

	require.Len(t, lookup(cttypes.LookupAttributeKeyResourceName, fsIDs[1]), 1)
	require.Len(t, lookup(cttypes.LookupAttributeKeyResourceType, "AWS::EFS::FileSystem"), 3)
	require.Len(t, lookup(cttypes.LookupAttributeKeyEventSource, "elasticfilesystem.amazonaws.com"), 4)
	// The lookups are calls too, on record as read-only cloudtrail events.
	names := func(evs []cttypes.Event) map[string]int {
		m := map[string]int{}
		for _, e := range evs {
			m[*e.EventName]++
		}
		return m
	}
	ro := lookup(cttypes.LookupAttributeKeyReadOnly, "true")
	require.Equal(t, map[string]int{"DescribeFileSystems": 1, "LookupEvents": 4}, names(ro))
	require.Equal(t, map[string]int{"CreateFileSystem": 3}, names(lookup(cttypes.LookupAttributeKeyReadOnly, "false")))
	require.Equal(t, map[string]int{"CreateFileSystem": 3, "DescribeFileSystems": 1, "LookupEvents": 6}, names(lookup(cttypes.LookupAttributeKeyUsername, "root")))
	require.Len(t, lookup(cttypes.LookupAttributeKeyAccessKeyId, *evs[0].AccessKeyId), 11)
	require.Len(t, lookup(cttypes.LookupAttributeKeyEventId, *evs[1].EventId), 1)
	require.Empty(t, lookup(cttypes.LookupAttributeKeyEventName, "DeleteFileSystem"))

	// Pagination: one event a page, every CreateFileSystem once, newest
	// first.
	var pages []string
	p := cloudtrail.NewLookupEventsPaginator(ct, &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("CreateFileSystem")}},
		MaxResults:       aws.Int32(1),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		require.NoError(t, err)
		for _, e := range out.Events {
			pages = append(pages, *e.Resources[0].ResourceName)
		}
	}
	require.Equal(t, []string{fsIDs[2], fsIDs[1], fsIDs[0]}, pages)

	// A time range before anything happened.
	out, err := ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{StartTime: aws.Time(time.Now().Add(-48 * time.Hour)), EndTime: aws.Time(time.Now().Add(-24 * time.Hour))})
	require.NoError(t, err)
	require.Empty(t, out.Events)

	bad := []struct {
		name string
		in   *cloudtrail.LookupEventsInput
		code string
	}{
		{"two attributes", &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
			{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("a")},
			{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("b")}}}, "InvalidLookupAttributesException"},
		{"unknown key", &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: "Colour", AttributeValue: aws.String("a")}}}, "InvalidLookupAttributesException"},
		{"readonly not a boolean", &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyReadOnly, AttributeValue: aws.String("yes")}}}, "InvalidLookupAttributesException"},
		{"start after end", &cloudtrail.LookupEventsInput{StartTime: aws.Time(time.Now()), EndTime: aws.Time(time.Now().Add(-time.Hour))}, "InvalidTimeRangeException"},
		{"max results", &cloudtrail.LookupEventsInput{MaxResults: aws.Int32(51)}, "InvalidMaxResultsException"},
		{"bad token", &cloudtrail.LookupEventsInput{NextToken: aws.String("not-a-token")}, "InvalidNextTokenException"},
		{"token of other parameters", &cloudtrail.LookupEventsInput{NextToken: aws.String("AQAAAAAAAAACAAAAAAAAAAA")}, "InvalidNextTokenException"},
		{"category", &cloudtrail.LookupEventsInput{EventCategory: "data"}, "InvalidEventCategoryException"},
	}
	for _, b := range bad {
		_, err := ct.LookupEvents(ctx, b.in)
		code, status := sdkCode(t, err)
		require.Equal(t, b.code, code, b.name)
		require.Equal(t, 400, status, b.name)
	}

	// An IAM user is denied until a policy allows cloudtrail:LookupEvents.
	im := iamsdk.NewFromConfig(sdkCfg, func(o *iamsdk.Options) { o.BaseEndpoint = aws.String(ep) })
	_, err = im.CreateUser(ctx, &iamsdk.CreateUserInput{UserName: aws.String("auditor")})
	require.NoError(t, err)
	ak, err := im.CreateAccessKey(ctx, &iamsdk.CreateAccessKeyInput{UserName: aws.String("auditor")})
	require.NoError(t, err)
	userCfg := sdkCfg.Copy()
	userCfg.Credentials = credentials.NewStaticCredentialsProvider(*ak.AccessKey.AccessKeyId, *ak.AccessKey.SecretAccessKey, "")
	ctUser := cloudtrail.NewFromConfig(userCfg, func(o *cloudtrail.Options) { o.BaseEndpoint = aws.String(ep) })
	_, err = ctUser.LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	code, _ := sdkCode(t, err)
	require.Equal(t, "AccessDeniedException", code)
	_, err = im.PutUserPolicy(ctx, &iamsdk.PutUserPolicyInput{UserName: aws.String("auditor"), PolicyName: aws.String("read-trail"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"cloudtrail:LookupEvents","Resource":"*"}]}`)})
	require.NoError(t, err)
	byUser, err := ctUser.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: aws.String("auditor")}}})
	require.NoError(t, err)
	require.Len(t, byUser.Events, 1, "the denied lookup is on record")
	require.Equal(t, "AccessDeniedException", gjsonErrorCode(t, *byUser.Events[0].CloudTrailEvent))
	_, err = ctUser.ListPublicKeys(ctx, &cloudtrail.ListPublicKeysInput{})
	code, _ = sdkCode(t, err)
	require.Equal(t, "AccessDeniedException", code)

	keys, err := ct.ListPublicKeys(ctx, &cloudtrail.ListPublicKeysInput{})
	require.NoError(t, err)
	require.Len(t, keys.PublicKeyList, 1)
	require.Equal(t, srv.Trail().PublicKeys()[0].Fingerprint, *keys.PublicKeyList[0].Fingerprint)
	require.Equal(t, srv.Trail().PublicKeys()[0].DER, keys.PublicKeyList[0].Value)

	trails, err := ct.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{})
	require.NoError(t, err)
	require.Len(t, trails.TrailList, 1)
	require.True(t, *trails.TrailList[0].LogFileValidationEnabled)
	arn := *trails.TrailList[0].TrailARN
	require.Regexp(t, `^arn:aws:cloudtrail:us-east-1:\d{12}:trail/shelf$`, arn)

	st, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(arn)})
	require.NoError(t, err)
	require.True(t, *st.IsLogging)
	_, err = ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("other")})
	code, _ = sdkCode(t, err)
	require.Equal(t, "TrailNotFoundException", code)

	// Deliver now, with a digest, and check the trail with the listed key.
	require.NoError(t, srv.Trail().DigestNow(ctx))
	st, err = ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String("shelf")})
	require.NoError(t, err)
	require.NotNil(t, st.LatestDigestDeliveryTime)
	srv.Stop()
	rep, err := trail.Validate(trail.ValidateInput{
		Dir: filepath.Join(cfg.DataDir, "trail"), Account: srv.Account(), Region: "us-east-1",
		Keys:  []trail.PublicKey{{DER: keys.PublicKeyList[0].Value, Fingerprint: *keys.PublicKeyList[0].Fingerprint}},
		Start: time.Now().Add(-time.Hour), End: time.Now().Add(time.Minute), LatestDigest: *st.LatestDigestDeliveryTime,
	})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%+v", rep.Findings)
	lv, lt := rep.Count(trail.KindLog)
	require.Equal(t, lv, lt)
	require.GreaterOrEqual(t, lt, 1)
	_, dt := rep.Count(trail.KindDigest)
	require.Equal(t, 2, dt, "the digest above and the final one at shutdown: %+v", rep)
}

func gjsonErrorCode(t *testing.T, record string) string {
	t.Helper()
	var r struct {
		ErrorCode string `json:"errorCode"`
	}
	require.NoError(t, json.Unmarshal([]byte(record), &r))
	return r.ErrorCode
}
