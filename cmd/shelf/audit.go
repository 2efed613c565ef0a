package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/server"
	"github.com/shelf-efs/shelf/internal/trail"
	"github.com/shelf-efs/shelf/internal/trailapi"
)

func init() {
	register(command{
		name:    "audit",
		summary: "audit report --framework pci-dss|soc2|gdpr --out DIR; audit verify DIR",
		run:     runAudit,
	})
}

// Files of a report directory.
const (
	reportJSON   = "report.json"
	reportHTML   = "report.html"
	manifestName = "manifest.json"
	signatureExt = "manifest.sig"
)

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "report":
			return runAuditReport(ctx, args[1:], stdout, stderr)
		case "verify":
			return runAuditVerify(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "usage: shelf audit report --framework pci-dss|soc2|gdpr --out DIR [--data-dir DIR | --endpoint-url URL]\n       shelf audit verify [--public-key FILE] DIR")
	return exitUsage
}

// Evidence is what the report gathers through the APIs. A part that could
// not be read carries the reason in its Unavailable field.
type Evidence struct {
	FileSystems []FileSystemEvidence `json:"fileSystems"`
	KMS         KMSEvidence          `json:"kms"`
	Config      ConfigEvidence       `json:"config"`
	Trail       TrailEvidence        `json:"trail"`
}

// FileSystemEvidence is one EFS file system and what is in force on it.
type FileSystemEvidence struct {
	FileSystemID string            `json:"fileSystemId"`
	Name         string            `json:"name,omitempty"`
	Encrypted    bool              `json:"encrypted"`
	KMSKeyID     string            `json:"kmsKeyId,omitempty"`
	Policy       json.RawMessage   `json:"policy"`
	BackupPolicy string            `json:"backupPolicy"`
	AccessPoints []json.RawMessage `json:"accessPoints"`
	MountTargets []json.RawMessage `json:"mountTargets"`
	// Raw is the DescribeFileSystems entry.
	Raw json.RawMessage `json:"describeFileSystems"`
}

// KMSEvidence holds the rotation state of the keys the file systems use.
type KMSEvidence struct {
	Unavailable string          `json:"unavailable,omitempty"`
	Rotation    map[string]bool `json:"rotationEnabled"`
}

// ConfigEvidence holds the AWS Config rules and verdicts.
type ConfigEvidence struct {
	Unavailable  string          `json:"unavailable,omitempty"`
	Rules        json.RawMessage `json:"rules,omitempty"`
	ByRule       json.RawMessage `json:"complianceByConfigRule,omitempty"`
	ByResource   json.RawMessage `json:"complianceByResource,omitempty"`
	NonCompliant []string        `json:"nonCompliantRules"`
}

// TrailEvidence is the trail's status and its validation.
type TrailEvidence struct {
	Unavailable  string   `json:"unavailable,omitempty"`
	Name         string   `json:"name"`
	IsLogging    bool     `json:"isLogging"`
	StartLogging string   `json:"startLogging"`
	LatestDigest string   `json:"latestDigest"`
	ValidFrom    string   `json:"validatedFrom"`
	ValidTo      string   `json:"validatedTo"`
	DigestsValid int      `json:"digestsValid"`
	Digests      int      `json:"digests"`
	LogsValid    int      `json:"logsValid"`
	Logs         int      `json:"logs"`
	Invalid      []string `json:"invalid"`
	// Uncovered counts log files delivered after the newest digest.
	Uncovered int  `json:"logsNotYetInADigest"`
	OK        bool `json:"ok"`
}

// Check is one verdict over the evidence.
type Check struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status string `json:"status"` // PASS, FAIL, UNAVAILABLE, NOT_APPLICABLE
	Detail string `json:"detail"`
}

// Control is one control of a framework with the checks that support it.
type Control struct {
	ID     string   `json:"id"`
	Title  string   `json:"title"`
	Checks []string `json:"checks"`
	Status string   `json:"status"`
}

// Report is report.json.
type Report struct {
	Framework   string    `json:"framework"`
	GeneratedAt string    `json:"generatedAt"`
	Account     string    `json:"account"`
	Region      string    `json:"region"`
	Endpoint    string    `json:"endpoint"`
	Summary     string    `json:"summary"`
	Controls    []Control `json:"controls"`
	Checks      []Check   `json:"checks"`
	Evidence    Evidence  `json:"evidence"`
}

// frameworks maps each framework's controls to checks: a small mapping of
// what shelf can show, not a full assessment.
var frameworks = map[string][]Control{
	"pci-dss": {
		{ID: "PCI DSS 3.5.1", Title: "Stored account data is rendered unreadable (strong cryptography)", Checks: []string{"efs-encrypted"}},
		{ID: "PCI DSS 3.6.1 / 3.7.4", Title: "Cryptographic keys are protected and changed at the end of their cryptoperiod", Checks: []string{"kms-rotation"}},
		{ID: "PCI DSS 4.2.1", Title: "Strong cryptography protects data in transit", Checks: []string{"efs-secure-transport"}},
		{ID: "PCI DSS 7.2.1", Title: "Access is assigned by least privilege", Checks: []string{"efs-access-points"}},
		{ID: "PCI DSS 10.2.1", Title: "Audit logs are enabled and active", Checks: []string{"trail-logging"}},
		{ID: "PCI DSS 10.3.2 / 10.3.4", Title: "Audit logs are protected from modification; integrity is monitored", Checks: []string{"trail-integrity"}},
		{ID: "PCI DSS 11.5 / 12.4", Title: "Configuration is checked against the baseline", Checks: []string{"config-rules"}},
	},
	"soc2": {
		{ID: "SOC 2 CC6.1", Title: "Logical access security and encryption protect information assets", Checks: []string{"efs-encrypted", "kms-rotation", "efs-access-points"}},
		{ID: "SOC 2 CC6.7", Title: "Transmission of information is protected", Checks: []string{"efs-secure-transport"}},
		{ID: "SOC 2 CC7.2", Title: "System components are monitored for anomalies", Checks: []string{"trail-logging", "trail-integrity", "config-rules"}},
		{ID: "SOC 2 A1.2", Title: "Data is backed up for recovery", Checks: []string{"efs-backup"}},
	},
	"gdpr": {
		{ID: "GDPR Art. 32(1)(a)", Title: "Encryption of personal data", Checks: []string{"efs-encrypted", "kms-rotation", "efs-secure-transport"}},
		{ID: "GDPR Art. 32(1)(b)", Title: "Ongoing confidentiality and integrity of processing systems", Checks: []string{"efs-access-points", "trail-integrity"}},
		{ID: "GDPR Art. 32(1)(c)", Title: "Availability and timely restore of personal data", Checks: []string{"efs-backup"}},
		{ID: "GDPR Art. 32(1)(d)", Title: "Regular testing and evaluation of security measures", Checks: []string{"config-rules", "trail-logging"}},
	},
}

func runAuditReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("shelf audit report", flag.ContinueOnError)
	fl.SetOutput(stderr)
	framework := fl.String("framework", "", "pci-dss, soc2 or gdpr")
	out := fl.String("out", "", "directory to write the report into (created; must be empty)")
	configFile := fl.String("config", "", "shelfd configuration file (YAML)")
	dataDir := fl.String("data-dir", "", "data directory of a stopped shelfd: the server is started in this process on loopback")
	endpoint := fl.String("endpoint-url", "", "API endpoint of a running shelfd (default: http:// + api.listen of the configuration)")
	trailDir := fl.String("trail-dir", "", "trail directory (default: <data-dir>/trail)")
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	if _, ok := frameworks[*framework]; !ok || *out == "" || fl.NArg() > 0 {
		fmt.Fprintln(stderr, "shelf audit report: --framework pci-dss|soc2|gdpr and --out DIR are required")
		return exitUsage
	}
	if ents, err := os.ReadDir(*out); err == nil && len(ents) > 0 {
		fmt.Fprintf(stderr, "shelf audit report: %s is not empty\n", *out)
		return exitUsage
	}
	cfg, err := loadConfig(*configFile, *dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "shelf audit report:", err)
		return exitUsage
	}
	ep := *endpoint
	if *dataDir != "" && ep == "" {
		// A stopped shelfd: run it here, on loopback ports, for the
		// duration of the report.
		cfg.API.Listen = "127.0.0.1:0"
		cfg.Health.Listen = ""
		if port, err := freeLoopbackPort(); err == nil {
			cfg.NFS.Port = port
		}
		srv, err := server.New(ctx, cfg, nil)
		if err != nil {
			fmt.Fprintln(stderr, "shelf audit report: start the server:", err)
			return exitUsage
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- srv.Run(runCtx) }()
		defer func() {
			stop()
			<-done
			_ = srv.Close()
		}()
		ep = srv.APIURL()
		// Deliver what is pending, so the validation covers the newest
		// records too.
		if err := srv.Trail().DigestNow(ctx); err != nil {
			fmt.Fprintln(stderr, "shelf audit report: trail delivery:", err)
		}
	}
	if ep == "" {
		ep = "http://" + cfg.API.Listen
	}
	t, err := connect(ctx, cfg, ep)
	if err != nil {
		fmt.Fprintln(stderr, "shelf audit report:", err)
		return exitUsage
	}
	dir := *trailDir
	if dir == "" {
		dir = cfg.TrailDir()
	}
	rep, err := buildReport(ctx, t, *framework, dir, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "shelf audit report:", err)
		return exitFailed
	}
	if err := writeReport(ctx, t, *out, rep); err != nil {
		fmt.Fprintln(stderr, "shelf audit report:", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s report written to %s: %s\n", *framework, *out, rep.Summary)
	return exitOK
}

func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

func rawJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

func buildReport(ctx context.Context, t *apiTarget, framework, trailDir string, cfg config.Config) (*Report, error) {
	ev := Evidence{KMS: KMSEvidence{Rotation: map[string]bool{}}, Config: ConfigEvidence{NonCompliant: []string{}}, Trail: TrailEvidence{Invalid: []string{}}}
	ef := efs.NewFromConfig(t.sdk, func(o *efs.Options) { o.BaseEndpoint = aws.String(t.endpoint) })
	p := efs.NewDescribeFileSystemsPaginator(ef, &efs.DescribeFileSystemsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe file systems: %w", err)
		}
		for _, f := range page.FileSystems {
			fe := FileSystemEvidence{FileSystemID: aws.ToString(f.FileSystemId), Name: aws.ToString(f.Name), Encrypted: aws.ToBool(f.Encrypted),
				KMSKeyID: aws.ToString(f.KmsKeyId), Raw: rawJSON(f), AccessPoints: []json.RawMessage{}, MountTargets: []json.RawMessage{}, Policy: json.RawMessage("null")}
			if pol, err := ef.DescribeFileSystemPolicy(ctx, &efs.DescribeFileSystemPolicyInput{FileSystemId: f.FileSystemId}); err == nil && pol.Policy != nil {
				fe.Policy = json.RawMessage(*pol.Policy)
				if !json.Valid(fe.Policy) {
					fe.Policy = rawJSON(*pol.Policy)
				}
			}
			if bp, err := ef.DescribeBackupPolicy(ctx, &efs.DescribeBackupPolicyInput{FileSystemId: f.FileSystemId}); err == nil && bp.BackupPolicy != nil {
				fe.BackupPolicy = string(bp.BackupPolicy.Status)
			} else if err != nil {
				fe.BackupPolicy = "unavailable (" + errCode(err) + ")"
			}
			if aps, err := ef.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{FileSystemId: f.FileSystemId}); err == nil {
				for _, ap := range aps.AccessPoints {
					fe.AccessPoints = append(fe.AccessPoints, rawJSON(ap))
				}
			}
			if mts, err := ef.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{FileSystemId: f.FileSystemId}); err == nil {
				for _, mt := range mts.MountTargets {
					fe.MountTargets = append(fe.MountTargets, rawJSON(mt))
				}
			}
			ev.FileSystems = append(ev.FileSystems, fe)
		}
	}

	// KMS rotation state of every key in use.
	km := kms.NewFromConfig(t.sdk, func(o *kms.Options) { o.BaseEndpoint = aws.String(t.endpoint) })
	for _, f := range ev.FileSystems {
		if f.KMSKeyID == "" || ev.KMS.Unavailable != "" {
			continue
		}
		if _, seen := ev.KMS.Rotation[f.KMSKeyID]; seen {
			continue
		}
		out, err := km.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(f.KMSKeyID)})
		if err != nil {
			ev.KMS.Unavailable = "GetKeyRotationStatus: " + errCode(err)
			ev.KMS.Rotation = map[string]bool{}
			continue
		}
		ev.KMS.Rotation[f.KMSKeyID] = out.KeyRotationEnabled
	}

	// AWS Config rules and verdicts.
	cs := configservice.NewFromConfig(t.sdk, func(o *configservice.Options) { o.BaseEndpoint = aws.String(t.endpoint) })
	if rules, err := cs.DescribeConfigRules(ctx, &configservice.DescribeConfigRulesInput{}); err != nil {
		ev.Config.Unavailable = "DescribeConfigRules: " + errCode(err)
	} else {
		ev.Config.Rules = rawJSON(rules.ConfigRules)
		if byRule, err := cs.DescribeComplianceByConfigRule(ctx, &configservice.DescribeComplianceByConfigRuleInput{}); err != nil {
			ev.Config.Unavailable = "DescribeComplianceByConfigRule: " + errCode(err)
		} else {
			ev.Config.ByRule = rawJSON(byRule.ComplianceByConfigRules)
			for _, r := range byRule.ComplianceByConfigRules {
				if r.Compliance != nil && r.Compliance.ComplianceType == "NON_COMPLIANT" {
					ev.Config.NonCompliant = append(ev.Config.NonCompliant, aws.ToString(r.ConfigRuleName))
				}
			}
		}
		if byRes, err := cs.DescribeComplianceByResource(ctx, &configservice.DescribeComplianceByResourceInput{}); err == nil {
			ev.Config.ByResource = rawJSON(byRes.ComplianceByResources)
		}
	}

	// The trail: status, then validation from its start.
	src, err := onlineTrail(ctx, t)
	if err != nil {
		ev.Trail.Unavailable = err.Error()
	} else {
		ev.Trail.Name = src.name
		ev.Trail.IsLogging = src.isLogging
		ev.Trail.StartLogging = src.startLogging.UTC().Format(time.RFC3339)
		if !src.latestDigest.IsZero() {
			ev.Trail.LatestDigest = src.latestDigest.UTC().Format(time.RFC3339)
		}
		start, end := src.startLogging, time.Now().UTC().Add(time.Minute)
		vr, err := validateTrail(trailDir, src, start, end)
		if err != nil {
			ev.Trail.Unavailable = err.Error()
		} else {
			ev.Trail.ValidFrom, ev.Trail.ValidTo = start.UTC().Format(time.RFC3339), end.Format(time.RFC3339)
			ev.Trail.DigestsValid, ev.Trail.Digests = vr.Count(trail.KindDigest)
			ev.Trail.LogsValid, ev.Trail.Logs = vr.Count(trail.KindLog)
			for _, f := range vr.Findings {
				if !f.Valid() {
					ev.Trail.Invalid = append(ev.Trail.Invalid, f.Kind+" "+f.Key+": "+f.Status)
				}
			}
			ev.Trail.Uncovered = len(vr.Uncovered)
			ev.Trail.OK = vr.OK()
		}
	}

	checks := evaluate(ev)
	byID := map[string]Check{}
	for _, c := range checks {
		byID[c.ID] = c
	}
	rep := &Report{Framework: framework, GeneratedAt: time.Now().UTC().Format(time.RFC3339), Region: cfg.Region, Endpoint: t.endpoint, Checks: checks, Evidence: ev}
	if src != nil {
		rep.Account = src.account
	}
	counts := map[string]int{}
	for _, c := range frameworks[framework] {
		c.Status = "PASS"
		rank := map[string]int{"NOT_APPLICABLE": 0, "PASS": 1, "UNAVAILABLE": 2, "FAIL": 3}
		worst := "NOT_APPLICABLE"
		for _, id := range c.Checks {
			if s := byID[id].Status; rank[s] > rank[worst] {
				worst = s
			}
		}
		c.Status = worst
		counts[worst]++
		rep.Controls = append(rep.Controls, c)
	}
	rep.Summary = fmt.Sprintf("%d controls: %d pass, %d fail, %d unavailable, %d not applicable", len(rep.Controls), counts["PASS"], counts["FAIL"], counts["UNAVAILABLE"], counts["NOT_APPLICABLE"])
	return rep, nil
}

// evaluate turns the evidence into checks.
func evaluate(ev Evidence) []Check {
	var out []Check
	add := func(id, title, status, detail string) {
		out = append(out, Check{ID: id, Title: title, Status: status, Detail: detail})
	}
	each := func(id, title string, bad func(f FileSystemEvidence) string) {
		if len(ev.FileSystems) == 0 {
			add(id, title, "NOT_APPLICABLE", "no file systems")
			return
		}
		var fails []string
		for _, f := range ev.FileSystems {
			if why := bad(f); why != "" {
				fails = append(fails, f.FileSystemID+": "+why)
			}
		}
		if len(fails) > 0 {
			add(id, title, "FAIL", strings.Join(fails, "; "))
			return
		}
		add(id, title, "PASS", fmt.Sprintf("all %d file systems", len(ev.FileSystems)))
	}
	each("efs-encrypted", "File systems are encrypted at rest", func(f FileSystemEvidence) string {
		if !f.Encrypted {
			return "not encrypted"
		}
		return ""
	})
	switch {
	case ev.KMS.Unavailable != "":
		add("kms-rotation", "KMS keys in use rotate", "UNAVAILABLE", ev.KMS.Unavailable)
	case len(ev.KMS.Rotation) == 0:
		add("kms-rotation", "KMS keys in use rotate", "NOT_APPLICABLE", "no KMS keys in use")
	default:
		var off []string
		for k, on := range ev.KMS.Rotation {
			if !on {
				off = append(off, k)
			}
		}
		sort.Strings(off)
		if len(off) > 0 {
			add("kms-rotation", "KMS keys in use rotate", "FAIL", "rotation disabled: "+strings.Join(off, ", "))
		} else {
			add("kms-rotation", "KMS keys in use rotate", "PASS", fmt.Sprintf("%d keys rotate", len(ev.KMS.Rotation)))
		}
	}
	each("efs-secure-transport", "A file system policy denies access without TLS (aws:SecureTransport)", func(f FileSystemEvidence) string {
		if !bytes.Contains(f.Policy, []byte("aws:SecureTransport")) {
			return "no policy requiring aws:SecureTransport"
		}
		return ""
	})
	each("efs-access-points", "Access points enforce a user identity and a root directory other than /", func(f FileSystemEvidence) string {
		var bad []string
		for _, raw := range f.AccessPoints {
			var ap struct {
				AccessPointID string          `json:"AccessPointId"`
				PosixUser     json.RawMessage `json:"PosixUser"`
				RootDirectory struct{ Path *string }
			}
			_ = json.Unmarshal(raw, &ap)
			if len(ap.PosixUser) == 0 || string(ap.PosixUser) == "null" || ap.RootDirectory.Path == nil || *ap.RootDirectory.Path == "/" {
				bad = append(bad, ap.AccessPointID)
			}
		}
		if len(bad) > 0 {
			return "access points without enforcement: " + strings.Join(bad, ", ")
		}
		return ""
	})
	each("efs-backup", "Automatic backups are enabled", func(f FileSystemEvidence) string {
		if f.BackupPolicy != "ENABLED" {
			return "backup policy " + f.BackupPolicy
		}
		return ""
	})
	switch {
	case ev.Trail.Unavailable != "":
		add("trail-logging", "The CloudTrail trail is logging with log file validation", "UNAVAILABLE", ev.Trail.Unavailable)
		add("trail-integrity", "The trail validates: no log or digest file missing, changed or inserted", "UNAVAILABLE", ev.Trail.Unavailable)
	default:
		if ev.Trail.IsLogging {
			add("trail-logging", "The CloudTrail trail is logging with log file validation", "PASS", "trail "+ev.Trail.Name+" logging since "+ev.Trail.StartLogging)
		} else {
			add("trail-logging", "The CloudTrail trail is logging with log file validation", "FAIL", "trail "+ev.Trail.Name+" is not logging")
		}
		detail := fmt.Sprintf("%d/%d digest files and %d/%d log files valid from %s to %s; %d log files not yet in a digest",
			ev.Trail.DigestsValid, ev.Trail.Digests, ev.Trail.LogsValid, ev.Trail.Logs, ev.Trail.ValidFrom, ev.Trail.ValidTo, ev.Trail.Uncovered)
		switch {
		case ev.Trail.OK && ev.Trail.Digests == 0:
			add("trail-integrity", "The trail validates: no log or digest file missing, changed or inserted", "UNAVAILABLE", "no digest delivered yet (digests are written every trail.digest_interval and at shutdown)")
		case ev.Trail.OK:
			add("trail-integrity", "The trail validates: no log or digest file missing, changed or inserted", "PASS", detail)
		default:
			add("trail-integrity", "The trail validates: no log or digest file missing, changed or inserted", "FAIL", detail+"; "+strings.Join(ev.Trail.Invalid, "; "))
		}
	}
	switch {
	case ev.Config.Unavailable != "":
		add("config-rules", "AWS Config rules find every resource compliant", "UNAVAILABLE", ev.Config.Unavailable)
	case len(ev.Config.NonCompliant) > 0:
		add("config-rules", "AWS Config rules find every resource compliant", "FAIL", "non-compliant rules: "+strings.Join(ev.Config.NonCompliant, ", "))
	default:
		add("config-rules", "AWS Config rules find every resource compliant", "PASS", "no rule reports a non-compliant resource")
	}
	return out
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Framework}} audit report</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px;text-align:left;vertical-align:top}
.PASS{background:#d4f7d4}.FAIL{background:#f7d4d4}.UNAVAILABLE{background:#f7f0c8}.NOT_APPLICABLE{background:#eee}</style></head>
<body><h1>{{.Framework}} audit report</h1>
<p>Account {{.Account}}, region {{.Region}}, endpoint {{.Endpoint}}, generated {{.GeneratedAt}}.</p>
<p><b>{{.Summary}}</b></p>
<h2>Controls</h2><table><tr><th>Control</th><th>Title</th><th>Status</th><th>Checks</th></tr>
{{range .Controls}}<tr><td>{{.ID}}</td><td>{{.Title}}</td><td class="{{.Status}}">{{.Status}}</td><td>{{range .Checks}}{{.}} {{end}}</td></tr>
{{end}}</table>
<h2>Checks</h2><table><tr><th>Check</th><th>Title</th><th>Status</th><th>Detail</th></tr>
{{range .Checks}}<tr><td>{{.ID}}</td><td>{{.Title}}</td><td class="{{.Status}}">{{.Status}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>
<h2>File systems</h2><table><tr><th>ID</th><th>Encrypted</th><th>KMS key</th><th>Backup</th><th>Access points</th><th>Mount targets</th></tr>
{{range .Evidence.FileSystems}}<tr><td>{{.FileSystemID}}</td><td>{{.Encrypted}}</td><td>{{.KMSKeyID}}</td><td>{{.BackupPolicy}}</td><td>{{len .AccessPoints}}</td><td>{{len .MountTargets}}</td></tr>
{{end}}</table>
<h2>Trail</h2><p>{{with .Evidence.Trail}}{{if .Unavailable}}unavailable: {{.Unavailable}}{{else}}{{.Name}}: {{.DigestsValid}}/{{.Digests}} digest files and {{.LogsValid}}/{{.Logs}} log files valid ({{.ValidFrom}} to {{.ValidTo}}){{range .Invalid}}<br>{{.}}{{end}}{{end}}{{end}}</p>
<p>The full evidence is in report.json. manifest.json lists the SHA-256 of every file; manifest.sig signs it (shelf audit verify).</p>
</body></html>
`))

// Manifest is manifest.json.
type Manifest struct {
	Version     int            `json:"version"`
	GeneratedAt string         `json:"generatedAt"`
	Files       []ManifestFile `json:"files"`
	Algorithm   string         `json:"signatureAlgorithm"`
	PublicKey   []byte         `json:"publicKey"`
	Fingerprint string         `json:"publicKeyFingerprint"`
}

// ManifestFile is one file of the report.
type ManifestFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
}

func writeReport(ctx context.Context, t *apiTarget, dir string, rep *Report) error {
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	var html bytes.Buffer
	if err := reportTemplate.Execute(&html, rep); err != nil {
		return err
	}
	files := map[string][]byte{reportJSON: append(js, '\n'), reportHTML: html.Bytes()}
	m := Manifest{Version: 1, GeneratedAt: rep.GeneratedAt, Algorithm: "Ed25519"}
	names := []string{reportHTML, reportJSON}
	for _, n := range names {
		s := sha256.Sum256(files[n])
		m.Files = append(m.Files, ManifestFile{Name: n, SHA256: hex.EncodeToString(s[:]), Size: len(files[n])})
	}
	// The key is the server's; sign a manifest without the key first to
	// learn it, then the final one (two calls, both on record).
	sig, err := signManifest(ctx, t, []byte("key probe"))
	if err != nil {
		return err
	}
	m.PublicKey, m.Fingerprint = sig.PublicKey, sig.Fingerprint
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	sig, err = signManifest(ctx, t, mb)
	if err != nil {
		return err
	}
	if !trail.VerifyManifest(m.PublicKey, mb, sig.Signature) {
		return errors.New("the server's manifest signature does not verify")
	}
	files[manifestName] = mb
	files[signatureExt] = []byte(base64.StdEncoding.EncodeToString(sig.Signature) + "\n")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o640); err != nil {
			return err
		}
	}
	return nil
}

// signManifest calls ShelfAudit.SignAuditManifest, signed with SigV4 for
// the service "shelf".
func signManifest(ctx context.Context, t *apiTarget, manifest []byte) (*trailapi.SignOutput, error) {
	body, _ := json.Marshal(trailapi.SignInput{Manifest: manifest})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(t.endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", trailapi.ShelfTarget+"SignAuditManifest")
	creds, err := t.sdk.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), trailapi.ShelfSigningName, t.sdk.Region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("SignAuditManifest: %s: %s", resp.Status, bytes.TrimSpace(rb))
	}
	var out trailapi.SignOutput
	if err := json.Unmarshal(rb, &out); err != nil {
		return nil, fmt.Errorf("SignAuditManifest: %w", err)
	}
	return &out, nil
}

// maxReportFileBytes bounds what verify reads of one file.
const maxReportFileBytes = 256 << 20

func runAuditVerify(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("shelf audit verify", flag.ContinueOnError)
	fl.SetOutput(stderr)
	pubFile := fl.String("public-key", "", "pin the signing key: a PEM public key (PKIX Ed25519) or its raw 32 bytes in base64")
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	if fl.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: shelf audit verify [--public-key FILE] DIR")
		return exitUsage
	}
	var pinned []byte
	if *pubFile != "" {
		b, err := os.ReadFile(*pubFile)
		if err != nil {
			fmt.Fprintln(stderr, "shelf audit verify:", err)
			return exitUsage
		}
		if pinned, err = parsePublicKey(b); err != nil {
			fmt.Fprintln(stderr, "shelf audit verify: --public-key:", err)
			return exitUsage
		}
	}
	problems := verifyReport(fl.Arg(0), pinned)
	for _, p := range problems {
		fmt.Fprintln(stdout, "INVALID:", p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stdout, "report %s does NOT verify: %d problems\n", fl.Arg(0), len(problems))
		return exitFailed
	}
	fmt.Fprintf(stdout, "report %s verifies: every file matches the signed manifest\n", fl.Arg(0))
	return exitOK
}

func parsePublicKey(b []byte) ([]byte, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		pk, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("not an Ed25519 key")
		}
		return pk, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("not a PEM public key nor 32 bytes in base64")
	}
	return raw, nil
}

// verifyReport returns every problem of a report directory: a bad or
// missing signature, a file whose hash differs, a missing or added file.
func verifyReport(dir string, pinned []byte) []string {
	var problems []string
	read := func(name string) ([]byte, error) {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxReportFileBytes+1))
		if err == nil && len(b) > maxReportFileBytes {
			err = errors.New("too large")
		}
		return b, err
	}
	mb, err := read(manifestName)
	if err != nil {
		return []string{manifestName + ": " + err.Error()}
	}
	sb, err := read(signatureExt)
	if err != nil {
		return []string{signatureExt + ": " + err.Error()}
	}
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return []string{manifestName + ": not a manifest"}
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(sb)))
	switch {
	case err != nil:
		problems = append(problems, signatureExt+": not base64")
	case pinned != nil && !bytes.Equal(pinned, m.PublicKey):
		problems = append(problems, manifestName+": signed with a key other than the pinned one")
	case !trail.VerifyManifest(m.PublicKey, mb, sig):
		problems = append(problems, manifestName+": signature verification failed")
	}
	listed := map[string]bool{manifestName: true, signatureExt: true}
	for _, f := range m.Files {
		listed[f.Name] = true
		if f.Name != filepath.Base(f.Name) || strings.HasPrefix(f.Name, ".") {
			problems = append(problems, f.Name+": not a plain file name")
			continue
		}
		b, err := read(f.Name)
		if err != nil {
			problems = append(problems, f.Name+": missing")
			continue
		}
		s := sha256.Sum256(b)
		if hex.EncodeToString(s[:]) != f.SHA256 || len(b) != f.Size {
			problems = append(problems, f.Name+": changed (SHA-256 differs from the manifest)")
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return append(problems, dir+": "+err.Error())
	}
	for _, e := range ents {
		if !listed[e.Name()] {
			problems = append(problems, e.Name()+": added (not in the manifest)")
		}
	}
	return problems
}
