package awscli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	cstypes "github.com/aws/aws-sdk-go-v2/service/configservice/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/configsvc"
	"github.com/shelf-efs/shelf/internal/server"
)

const webhookSecret = "alert-secret-0123456789"

// alertReceiver is a webhook endpoint that checks signatures.
type alertReceiver struct {
	mu      sync.Mutex
	alerts  []map[string]any
	badSigs int
}

func (a *alertReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	ts, _ := strconv.ParseInt(r.Header.Get(configsvc.HeaderTimestamp), 10, 64)
	a.mu.Lock()
	defer a.mu.Unlock()
	if !configsvc.VerifySignature([]byte(webhookSecret), ts, body, r.Header.Get(configsvc.HeaderSignature)) {
		a.badSigs++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		a.alerts = append(a.alerts, m)
	}
}

func (a *alertReceiver) find(rule, resource, compliance string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, m := range a.alerts {
		n, _ := m["newEvaluationResult"].(map[string]any)
		if m["configRuleName"] == rule && m["resourceId"] == resource && n != nil && n["complianceType"] == compliance {
			return true
		}
	}
	return false
}

// TestConfigRules starts shelfd with three webhooks (one good, one that
// answers 500, one that hangs) and a public subnet, then drives the Config
// API with the Go SDK and with the AWS CLI (config.sh).
func TestConfigRules(t *testing.T) {
	need(t, awsCLI, "the AWS CLI v2")
	need(t, "/usr/bin/jq", "jq")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
	}
	good := &alertReceiver{}
	goodSrv := httptest.NewServer(good)
	defer goodSrv.Close()
	var failHits, hangHits sync.WaitGroup
	var failOnce, hangOnce sync.Once
	failHits.Add(1)
	hangHits.Add(1)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failOnce.Do(failHits.Done)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer failing.Close()
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hangOnce.Do(hangHits.Done)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hanging.Close()
	defer close(release)

	work := t.TempDir()
	cfgPath, _ := writeConfig(t, work, "127.0.0.1:0",
		"network:\n  vpcs:\n    - id: vpc-0c0ffee0\n      cidr: 127.77.0.0/16\n      subnets:\n"+
			"        - {id: subnet-0c0ffee1, cidr: 127.77.1.0/24, availability_zone: us-east-1a, public: true}\n"+
			"compliance:\n  evaluation_interval: 1h\n  webhooks:\n"+
			"    - {url: \""+goodSrv.URL+"/alerts\", secret: "+webhookSecret+"}\n"+
			"    - {url: \""+failing.URL+"/alerts\", secret: "+webhookSecret+"}\n"+
			"    - {url: \""+hanging.URL+"/alerts\", secret: "+webhookSecret+"}\n")
	p := startShelfd(t, buildCmd(t, work, "shelfd"), cfgPath)
	endpoint, creds := p.endpoint, p.creds

	// --- the Go SDK --------------------------------------------------------
	ctx := context.Background()
	sdkCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithSharedCredentialsFiles([]string{creds}),
		awsconfig.WithSharedConfigFiles([]string{}), awsconfig.WithRegion("us-east-1"), awsconfig.WithRetryMaxAttempts(1))
	require.NoError(t, err)
	cs := configservice.NewFromConfig(sdkCfg, func(o *configservice.Options) { o.BaseEndpoint = aws.String(endpoint) })
	fsc := efs.NewFromConfig(sdkCfg, func(o *efs.Options) { o.BaseEndpoint = aws.String(endpoint) })

	_, err = cs.PutConfigRule(ctx, &configservice.PutConfigRuleInput{ConfigRule: &cstypes.ConfigRule{
		ConfigRuleName: aws.String("efs-encrypted-check"),
		Source:         &cstypes.Source{Owner: cstypes.OwnerAws, SourceIdentifier: aws.String("EFS_ENCRYPTED_CHECK")},
	}})
	require.NoError(t, err)
	created, err := fsc.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("plain")})
	require.NoError(t, err)
	fsID := aws.ToString(created.FileSystemId)
	start := time.Now()
	require.Eventually(t, func() bool {
		out, err := cs.DescribeComplianceByResource(ctx, &configservice.DescribeComplianceByResourceInput{
			ResourceType: aws.String("AWS::EFS::FileSystem"), ResourceId: aws.String(fsID)})
		return err == nil && len(out.ComplianceByResources) == 1 &&
			out.ComplianceByResources[0].Compliance.ComplianceType == cstypes.ComplianceTypeNonCompliant
	}, 30*time.Second, 20*time.Millisecond, "the unencrypted file system becomes NON_COMPLIANT")
	t.Logf("NON_COMPLIANT %s after the create (one change-triggered evaluation)", time.Since(start).Round(time.Millisecond))
	require.Eventually(t, func() bool { return good.find("efs-encrypted-check", fsID, "NON_COMPLIANT") },
		30*time.Second, 20*time.Millisecond, "the webhook gets the signed alert")
	t.Logf("alert received %s after the create", time.Since(start).Round(time.Millisecond))

	rules, err := cs.DescribeConfigRules(ctx, &configservice.DescribeConfigRulesInput{ConfigRuleNames: []string{"efs-encrypted-check"}})
	require.NoError(t, err)
	require.Len(t, rules.ConfigRules, 1)
	require.Regexp(t, `^arn:aws:config:us-east-1:\d{12}:config-rule/config-rule-[a-z0-9]{6}$`, aws.ToString(rules.ConfigRules[0].ConfigRuleArn))
	details, err := cs.GetComplianceDetailsByConfigRule(ctx, &configservice.GetComplianceDetailsByConfigRuleInput{ConfigRuleName: aws.String("efs-encrypted-check")})
	require.NoError(t, err)
	require.NotEmpty(t, details.EvaluationResults)
	require.Contains(t, aws.ToString(details.EvaluationResults[0].Annotation), "not encrypted")
	hist, err := cs.GetResourceConfigHistory(ctx, &configservice.GetResourceConfigHistoryInput{
		ResourceType: cstypes.ResourceType("AWS::EFS::FileSystem"), ResourceId: aws.String(fsID), ChronologicalOrder: cstypes.ChronologicalOrderForward})
	require.NoError(t, err)
	require.NotEmpty(t, hist.ConfigurationItems)
	require.Equal(t, cstypes.ConfigurationItemStatusResourceDiscovered, hist.ConfigurationItems[0].ConfigurationItemStatus)
	require.Contains(t, aws.ToString(hist.ConfigurationItems[0].Configuration), `"Encrypted":false`)
	require.NotNil(t, hist.ConfigurationItems[0].ConfigurationItemCaptureTime)

	var inv *cstypes.InvalidParameterValueException
	_, err = cs.PutConfigRule(ctx, &configservice.PutConfigRuleInput{ConfigRule: &cstypes.ConfigRule{ConfigRuleName: aws.String("x"),
		Source: &cstypes.Source{Owner: cstypes.OwnerAws, SourceIdentifier: aws.String("EFS_NO_SUCH_RULE")}}})
	require.True(t, errors.As(err, &inv), "unknown identifier: %v", err)
	var nsr *cstypes.NoSuchConfigRuleException
	_, err = cs.DeleteConfigRule(ctx, &configservice.DeleteConfigRuleInput{ConfigRuleName: aws.String("nope")})
	require.True(t, errors.As(err, &nsr), "%v", err)
	var rnd *cstypes.ResourceNotDiscoveredException
	_, err = cs.GetResourceConfigHistory(ctx, &configservice.GetResourceConfigHistoryInput{
		ResourceType: cstypes.ResourceType("AWS::EFS::FileSystem"), ResourceId: aws.String("fs-00000000000000000")})
	require.True(t, errors.As(err, &rnd), "%v", err)
	var lim *cstypes.InvalidLimitException
	_, err = cs.DescribeComplianceByResource(ctx, &configservice.DescribeComplianceByResourceInput{Limit: 101})
	require.True(t, errors.As(err, &lim), "%v", err)
	var tok *cstypes.InvalidNextTokenException
	_, err = cs.DescribeConfigRules(ctx, &configservice.DescribeConfigRulesInput{NextToken: aws.String("garbage")})
	require.True(t, errors.As(err, &tok), "%v", err)

	// The failing and the hanging webhooks were tried; the server still
	// answers while they fail.
	failHits.Wait()
	hangHits.Wait()
	_, err = cs.DescribeConfigRules(ctx, &configservice.DescribeConfigRulesInput{})
	require.NoError(t, err)

	// --- the AWS CLI -------------------------------------------------------
	runScript(t, "config.sh", endpoint, cliEnv(t, work, creds, "PUBLIC_SUBNET=subnet-0c0ffee1"), p.logs.String)
	good.mu.Lock()
	require.Zero(t, good.badSigs)
	good.mu.Unlock()

	p.stop(t)
	require.NotContains(t, p.logs.String(), webhookSecret)

	// Every delivery attempt is on the audit trail.
	c, err := config.Load(cfgPath)
	require.NoError(t, err)
	srv, err := server.OpenOffline(ctx, c, nil)
	require.NoError(t, err)
	defer srv.Close()
	outcomes := map[string]int{}
	require.NoError(t, audit.NewLog(srv.Meta()).Scan(ctx, 1, func(_ uint64, e *audit.Event) error {
		if e.EventSource != "config.amazonaws.com" || e.EventType != audit.EventTypeServiceEvent {
			return nil
		}
		require.NoError(t, e.Validate())
		var d map[string]any
		require.NoError(t, json.Unmarshal(e.ServiceEventDetails, &d))
		w, _ := d["webhook"].(string)
		outcomes[strings.TrimPrefix(w, "http://")[len("127.0.0.1:"):]+" "+d["outcome"].(string)]++
		require.NotContains(t, string(e.ServiceEventDetails), webhookSecret)
		return nil
	}))
	t.Logf("delivery records: %v", outcomes)
	delivered, failed := 0, 0
	for k, n := range outcomes {
		if strings.HasSuffix(k, " Delivered") {
			delivered += n
		}
		if strings.HasSuffix(k, " Failed") || strings.HasSuffix(k, " Abandoned") {
			failed += n
		}
	}
	require.Positive(t, delivered)
	require.Positive(t, failed, "the 500 answers are on record")
}
