package configsvc_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shelf-efs/shelf/internal/audit"
	"github.com/shelf-efs/shelf/internal/configsvc"
	"github.com/shelf-efs/shelf/internal/control"
)

func TestAccessPointRules(t *testing.T) {
	e := newEnv(t, configsvc.Config{})
	ctx := context.Background()
	d := e.createFS(t, true)
	rootAP, err := e.ctl.CreateAccessPoint(ctx, control.CreateAccessPointInput{ClientToken: "a", FileSystemID: d.ID})
	require.NoError(t, err)
	teamAP, err := e.ctl.CreateAccessPoint(ctx, control.CreateAccessPointInput{ClientToken: "b", FileSystemID: d.ID,
		PosixUser:     &control.PosixUser{UID: 1000, GID: 1000, SecondaryGIDs: []uint32{5}},
		RootDirectory: &control.RootDirectory{Path: "/team"}})
	require.NoError(t, err)
	for _, r := range []configsvc.Rule{
		managed("root", "EFS_ACCESS_POINT_ENFORCE_ROOT_DIRECTORY", ""),
		managed("root-approved", "efs-access-point-enforce-root-directory", `{"approvedDirectories":"/other, /x"}`),
		managed("uid", "EFS_ACCESS_POINT_ENFORCE_USER_IDENTITY", `{"approvedUids":"1000","approvedGids":"1000"}`),
		managed("uid-open", "EFS_ACCESS_POINT_ENFORCE_USER_IDENTITY", ""),
		managed("tagged", "EFS_ACCESS_POINT_TAGGED", `{"requiredKeyTags":"team"}`),
	} {
		_, err := e.cfg.PutRule(ctx, r)
		require.NoError(t, err, r.Name)
	}
	e.flush()
	for _, tc := range []struct {
		rule, ap, want string
	}{
		{"root", rootAP.ID, configsvc.NonCompliant},
		{"root", teamAP.ID, configsvc.Compliant},
		{"root-approved", teamAP.ID, configsvc.NonCompliant},
		{"uid", rootAP.ID, configsvc.NonCompliant}, // no POSIX user
		{"uid", teamAP.ID, configsvc.NonCompliant}, // secondary gid 5
		{"uid-open", teamAP.ID, configsvc.Compliant},
		{"tagged", teamAP.ID, configsvc.NonCompliant},
	} {
		require.Equal(t, tc.want, e.verdict(t, tc.rule, tc.ap), "%s on %s", tc.rule, tc.ap)
	}
	// File systems are out of the access-point rules' scope.
	require.Empty(t, e.verdict(t, "root", d.ID))
}

func TestFileSystemRules(t *testing.T) {
	e := newEnv(t, configsvc.Config{})
	ctx := context.Background()
	enc := e.createFS(t, true)
	keyID := enc.KMSKeyID[strings.LastIndex(enc.KMSKeyID, "/")+1:]
	for _, r := range []configsvc.Rule{
		managed("enc-key", "EFS_ENCRYPTED_CHECK", `{"KmsKeyId":"`+keyID+`"}`),
		managed("enc-other", "EFS_ENCRYPTED_CHECK", `{"KmsKeyId":"arn:aws:kms:us-east-1:123456789012:key/other"}`),
		managed("ct", "EFS_FILESYSTEM_CT_ENCRYPTED", `{"kmsKeyArns":"x,`+enc.KMSKeyID+`"}`),
		managed("in-plan", "EFS_IN_BACKUP_PLAN", ""),
		managed("protected", "EFS_RESOURCES_PROTECTED_BY_BACKUP_PLAN", `{"minRetentionDays":"30","maxRetentionDays":35}`),
		managed("protected-long", "EFS_RESOURCES_PROTECTED_BY_BACKUP_PLAN", `{"minRetentionDays":"90"}`),
		managed("protected-tagged", "EFS_RESOURCES_PROTECTED_BY_BACKUP_PLAN", `{"resourceTags":"{\"env\":\"prod\"}"}`),
		managed("last-rp", "EFS_LAST_BACKUP_RECOVERY_POINT_CREATED", `{"recoveryPointAgeValue":"12","recoveryPointAgeUnit":"hours"}`),
		managed("fs-tagged", "EFS_FILE_SYSTEM_TAGGED", ""),
	} {
		_, err := e.cfg.PutRule(ctx, r)
		require.NoError(t, err, r.Name)
	}
	_, err := e.ctl.PutBackupPolicy(ctx, enc.ID, "ENABLED")
	require.NoError(t, err)
	e.flush()
	for rule, want := range map[string]string{
		"enc-key": configsvc.Compliant, "enc-other": configsvc.NonCompliant, "ct": configsvc.Compliant,
		"in-plan": configsvc.Compliant, "protected": configsvc.Compliant, "protected-long": configsvc.NonCompliant,
		"protected-tagged": configsvc.NotApplicable, "last-rp": configsvc.NonCompliant, "fs-tagged": configsvc.NonCompliant,
	} {
		require.Equal(t, want, e.verdict(t, rule, enc.ID), rule)
	}
	// StartEvaluation of a rule re-evaluates; DeleteRule drops results.
	require.NoError(t, e.cfg.StartEvaluation(ctx, []string{"in-plan"}))
	e.flush()
	require.NoError(t, e.cfg.DeleteRule(ctx, "in-plan"))
	_, err = e.cfg.RuleEvaluations(ctx, "in-plan")
	var nsr *configsvc.NoSuchRuleError
	require.ErrorAs(t, err, &nsr)
	evs, err := e.cfg.ResourceEvaluations(ctx, control.ResourceTypeFileSystem, enc.ID)
	require.NoError(t, err)
	for _, ev := range evs {
		require.NotEqual(t, "in-plan", ev.RuleName)
	}
}

func TestPublicMountTarget(t *testing.T) {
	e := newEnv(t, configsvc.Config{})
	ctx := context.Background()
	d := e.createFS(t, true)
	var subnet string
	for _, sn := range e.ctl.Subnets() {
		if sn.AvailabilityZone.Name == "us-east-1b" {
			subnet = sn.ID
		}
	}
	_, err := e.cfg.PutRule(ctx, managed("public", "EFS_MOUNT_TARGET_PUBLIC_ACCESSIBLE", ""))
	require.NoError(t, err)
	_, err = e.ctl.CreateMountTarget(ctx, control.CreateMountTargetInput{FileSystemID: d.ID, SubnetID: subnet})
	require.NoError(t, err)
	e.flush()
	require.Equal(t, configsvc.Compliant, e.verdict(t, "public", d.ID))
	// The operator marks the subnet public: the restart reconciles.
	e.stop()
	e.start(configsvc.Config{PublicSubnets: []string{subnet}})
	e.flush()
	require.Equal(t, configsvc.NonCompliant, e.verdict(t, "public", d.ID))
}

func TestCELRules(t *testing.T) {
	e := newEnv(t, configsvc.Config{})
	ctx := context.Background()
	d := e.createFS(t, false)
	cel := func(name, text, params string) configsvc.Rule {
		return configsvc.Rule{Name: name, InputParameters: params, Source: configsvc.Source{Owner: configsvc.OwnerCustomPolicy,
			CustomPolicy: &configsvc.CustomPolicy{PolicyRuntime: configsvc.PolicyRuntimeCEL, PolicyText: text}},
			Scope: configsvc.Scope{ComplianceResourceTypes: []string{control.ResourceTypeFileSystem}}}
	}
	for _, r := range []configsvc.Rule{
		cel("enc", `item.configuration.Encrypted == true`, ""),
		cel("mode", `item.configuration.PerformanceMode == params.mode`, `{"mode":"generalPurpose"}`),
		cel("backup", `item.supplementaryConfiguration.BackupPolicy.Status != "DISABLED"`, ""),
		cel("missing", `item.configuration.NoSuchField == 1`, ""),
		cel("dyn", `item.configuration.CreationToken`, ""),
		cel("costly", `[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(f, a+b+c+d+f > 0)))))`, ""),
	} {
		_, err := e.cfg.PutRule(ctx, r)
		require.NoError(t, err, r.Name)
	}
	e.flush()
	for rule, want := range map[string]string{
		"enc": configsvc.NonCompliant, "mode": configsvc.Compliant, "backup": configsvc.NonCompliant,
		"missing": configsvc.NonCompliant, "dyn": configsvc.NonCompliant, "costly": configsvc.NonCompliant,
	} {
		require.Equal(t, want, e.verdict(t, rule, d.ID), rule)
	}
	evs, err := e.cfg.RuleEvaluations(ctx, "costly")
	require.NoError(t, err)
	require.Contains(t, evs[0].Annotation, "Evaluation error")

	for name, text := range map[string]string{
		"syntax":  `item.tags[`,
		"type":    `1 + 1`,
		"unknown": `nosuchvar == 1`,
		"empty":   ` `,
		"long":    strings.Repeat("true && ", 2000) + "true",
	} {
		_, err := e.cfg.PutRule(ctx, cel("bad-"+name, text, ""))
		var inv *configsvc.InvalidError
		require.ErrorAs(t, err, &inv, name)
		require.Equal(t, "InvalidParameterValueException", inv.Code)
	}
}

func TestPutRuleValidation(t *testing.T) {
	e := newEnv(t, configsvc.Config{})
	ctx := context.Background()
	for name, r := range map[string]configsvc.Rule{
		"unknown identifier": managed("x", "EFS_NOPE", ""),
		"unknown param":      managed("x", "EFS_ENCRYPTED_CHECK", `{"Other":"1"}`),
		"uid not a number":   managed("x", "EFS_ACCESS_POINT_ENFORCE_USER_IDENTITY", `{"approvedUids":"abc"}`),
		"uid too big":        managed("x", "EFS_ACCESS_POINT_ENFORCE_USER_IDENTITY", `{"approvedUids":"4294967296"}`),
		"param object":       managed("x", "EFS_ENCRYPTED_CHECK", `{"KmsKeyId":{"a":1}}`),
		"params not object":  managed("x", "EFS_ENCRYPTED_CHECK", `[1]`),
		"relative dir":       managed("x", "EFS_ACCESS_POINT_ENFORCE_ROOT_DIRECTORY", `{"approvedDirectories":"team"}`),
		"bad bool":           managed("x", "EFS_RESOURCES_PROTECTED_BY_BACKUP_PLAN", `{"backupVaultLockCheck":"maybe"}`),
		"min over max":       managed("x", "EFS_RESOURCES_PROTECTED_BY_BACKUP_PLAN", `{"minRetentionDays":"9","maxRetentionDays":"3"}`),
		"hours over 744":     managed("x", "EFS_LAST_BACKUP_RECOVERY_POINT_CREATED", `{"recoveryPointAgeValue":"745","recoveryPointAgeUnit":"hours"}`),
		"lambda":             {Name: "x", Source: configsvc.Source{Owner: "CUSTOM_LAMBDA", SourceIdentifier: "arn:aws:lambda:x"}},
		"no name":            managed("", "EFS_ENCRYPTED_CHECK", ""),
		"bad type":           {Name: "x", Source: configsvc.Source{Owner: "AWS", SourceIdentifier: "EFS_ENCRYPTED_CHECK"}, Scope: configsvc.Scope{ComplianceResourceTypes: []string{"AWS::S3::Bucket"}}},
		"bad frequency":      {Name: "x", Source: configsvc.Source{Owner: "AWS", SourceIdentifier: "EFS_ENCRYPTED_CHECK"}, MaximumExecutionFrequency: "Hourly"},
	} {
		_, err := e.cfg.PutRule(ctx, r)
		var inv *configsvc.InvalidError
		require.ErrorAs(t, err, &inv, name)
	}
	rules, err := e.cfg.Rules(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, rules, "no bad rule was stored")
	// An update keeps the rule's ID and ARN.
	a, err := e.cfg.PutRule(ctx, managed("r", "EFS_ENCRYPTED_CHECK", ""))
	require.NoError(t, err)
	b, err := e.cfg.PutRule(ctx, managed("r", "EFS_ENCRYPTED_CHECK", `{"KmsKeyId":"k"}`))
	require.NoError(t, err)
	require.Equal(t, a.ID, b.ID)
	require.Equal(t, a.ARN, b.ARN)
}

// TestBadWebhooks: an endpoint that answers 500 and one that hangs get a
// bounded number of attempts, each bounded in time, every one on the
// audit trail; a good endpoint next to them still gets its alert, and
// evaluation never waits for them.
func TestBadWebhooks(t *testing.T) {
	good := &receiver{secret: []byte("good-secret")}
	goodSrv := httptest.NewServer(good)
	defer goodSrv.Close()
	failing := &receiver{status: http.StatusInternalServerError}
	failSrv := httptest.NewServer(failing)
	defer failSrv.Close()
	hang := &receiver{hang: make(chan struct{})}
	hangSrv := httptest.NewServer(hang)
	defer hangSrv.Close()
	defer close(hang.hang)
	fast := func(url string, secret []byte) configsvc.Webhook {
		return configsvc.Webhook{URL: url, Secret: secret, Timeout: 50 * time.Millisecond, MaxAttempts: 3,
			Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}
	}
	e := newEnv(t, configsvc.Config{Webhooks: []configsvc.Webhook{
		fast(failSrv.URL, []byte("x")), fast(hangSrv.URL, []byte("y")), fast(goodSrv.URL, good.secret)}})
	ctx := context.Background()
	_, err := e.cfg.PutRule(ctx, managed("enc", "EFS_ENCRYPTED_CHECK", ""))
	require.NoError(t, err)
	d := e.createFS(t, false)
	e.flush() // evaluation is done, whatever the webhooks do
	require.Equal(t, configsvc.NonCompliant, e.verdict(t, "enc", d.ID))
	require.Eventually(t, func() bool {
		n, err := e.cfg.PendingAlerts(ctx)
		return err == nil && n == 0
	}, 20*time.Second, 5*time.Millisecond, "every alert is delivered or abandoned")
	failing.mu.Lock()
	require.Equal(t, 3, failing.hits, "MaxAttempts bounds the retries")
	failing.mu.Unlock()
	hang.mu.Lock()
	require.Equal(t, 3, hang.hits)
	hang.mu.Unlock()
	good.mu.Lock()
	require.Len(t, good.bodies, 1)
	good.mu.Unlock()

	outcomes := map[string]int{}
	require.NoError(t, e.audit.Scan(ctx, 1, func(_ uint64, ev *audit.Event) error {
		require.NoError(t, ev.Validate())
		outcomes[ev.ErrorCode]++
		return nil
	}))
	require.Equal(t, map[string]int{"": 1, "HTTP500": 3, "Timeout": 3}, outcomes)
}

// TestAlertsSurviveRestart: an alert raised while its webhook is down
// (answering 503) is kept in the store and delivered after a restart.
func TestAlertsSurviveRestart(t *testing.T) {
	rcv := &receiver{secret: []byte("restart-secret"), status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	hook := configsvc.Webhook{URL: srv.URL, Secret: rcv.secret, Timeout: time.Second, MaxAttempts: 1000,
		Backoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	e := newEnv(t, configsvc.Config{Webhooks: []configsvc.Webhook{hook}})
	ctx := context.Background()
	_, err := e.cfg.PutRule(ctx, managed("enc", "EFS_ENCRYPTED_CHECK", ""))
	require.NoError(t, err)
	e.createFS(t, false)
	e.flush()
	require.Eventually(t, func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return rcv.hits > 0
	}, 20*time.Second, time.Millisecond, "the endpoint was tried while down")
	e.stop()
	n, err := e.cfg.PendingAlerts(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	rcv.mu.Lock()
	rcv.status = 0 // up again
	rcv.mu.Unlock()
	e.start(configsvc.Config{Webhooks: []configsvc.Webhook{hook}})
	require.Eventually(t, func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return len(rcv.bodies) >= 1 && rcv.ok
	}, 20*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		n, err := e.cfg.PendingAlerts(ctx)
		return err == nil && n == 0
	}, 20*time.Second, 5*time.Millisecond, "delivered, so no longer pending")
	// Delivery is at least once: an attempt that the stop cancelled may
	// still have reached the endpoint after it came up. Any second
	// delivery is the same notification.
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	require.LessOrEqual(t, len(rcv.bodies), 2)
	for _, b := range rcv.bodies {
		require.Equal(t, rcv.bodies[0], b)
	}
}
