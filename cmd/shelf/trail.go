package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"

	"github.com/shelf-efs/shelf/internal/config"
	"github.com/shelf-efs/shelf/internal/server"
	"github.com/shelf-efs/shelf/internal/trail"
)

func init() {
	register(command{
		name:    "trail",
		summary: "validate the CloudTrail trail (digests, log files) of a shelfd: trail validate --start-time …",
		run:     runTrail,
	})
}

func runTrail(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "validate" {
		fmt.Fprintln(stderr, "usage: shelf trail validate --start-time TIME [--end-time TIME] [--data-dir DIR | --endpoint-url URL] [--trail-dir DIR] [--verbose]")
		return exitUsage
	}
	return runTrailValidate(ctx, args[1:], stdout, stderr)
}

// parseTime accepts RFC 3339 times and dates (YYYY-MM-DD, midnight UTC).
func parseTime(s string) (time.Time, error) {
	for _, l := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time such as 2026-11-27T10:00:00Z or 2026-11-27", s)
}

// apiTarget is how a command reaches a shelfd: its endpoint and the AWS SDK
// configuration with the credentials to use.
type apiTarget struct {
	endpoint string
	sdk      aws.Config
}

// connect builds the SDK configuration for endpoint: credentials from
// AWS_SHARED_CREDENTIALS_FILE when set, else <data-dir>/root-credentials
// (what shelfd writes for the account root); the region of the
// configuration.
func connect(ctx context.Context, cfg config.Config, endpoint string) (*apiTarget, error) {
	credFile := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if credFile == "" {
		credFile = filepath.Join(cfg.DataDir, server.RootCredentialsFileName)
	}
	sdk, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithSharedCredentialsFiles([]string{credFile}),
		awsconfig.WithSharedConfigFiles([]string{}),
		awsconfig.WithRegion(cfg.Region),
		awsconfig.WithRetryMaxAttempts(2),
	)
	if err != nil {
		return nil, err
	}
	return &apiTarget{endpoint: endpoint, sdk: sdk}, nil
}

// loadConfig reads --config (or the defaults) and applies the environment
// and --data-dir.
func loadConfig(configFile, dataDir string) (config.Config, error) {
	cfg := config.Default()
	if configFile != "" {
		var err error
		if cfg, err = config.Load(configFile); err != nil {
			return cfg, err
		}
	}
	cfg.ApplyEnv(os.LookupEnv)
	if dataDir != "" {
		cfg.DataDir = dataDir
	}
	return cfg, nil
}

// trailSource is what validation needs besides the files.
type trailSource struct {
	account, region, name, bucket string
	keys                          []trail.PublicKey
	latestDigest                  time.Time
	startLogging                  time.Time
	// isLogging is false when the trail is read offline.
	isLogging bool
}

// onlineTrail asks a running shelfd for its trail and keys.
func onlineTrail(ctx context.Context, t *apiTarget) (*trailSource, error) {
	ct := cloudtrail.NewFromConfig(t.sdk, func(o *cloudtrail.Options) { o.BaseEndpoint = aws.String(t.endpoint) })
	trails, err := ct.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{})
	if err != nil {
		return nil, fmt.Errorf("describe trails at %s (is shelfd running there? for a stopped one pass --data-dir): %w", t.endpoint, err)
	}
	if len(trails.TrailList) == 0 {
		return nil, errors.New("the server has no trail")
	}
	tr := trails.TrailList[0]
	arn := strings.Split(aws.ToString(tr.TrailARN), ":")
	if len(arn) < 6 {
		return nil, fmt.Errorf("unexpected trail ARN %q", aws.ToString(tr.TrailARN))
	}
	src := &trailSource{account: arn[4], region: aws.ToString(tr.HomeRegion), name: aws.ToString(tr.Name), bucket: aws.ToString(tr.S3BucketName)}
	st, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: tr.TrailARN})
	if err != nil {
		return nil, fmt.Errorf("trail status: %w", err)
	}
	src.latestDigest = aws.ToTime(st.LatestDigestDeliveryTime)
	src.startLogging = aws.ToTime(st.StartLoggingTime)
	src.isLogging = aws.ToBool(st.IsLogging)
	keys, err := ct.ListPublicKeys(ctx, &cloudtrail.ListPublicKeysInput{})
	if err != nil {
		return nil, fmt.Errorf("list public keys: %w", err)
	}
	for _, k := range keys.PublicKeyList {
		src.keys = append(src.keys, trail.PublicKey{DER: k.Value, Fingerprint: aws.ToString(k.Fingerprint)})
	}
	return src, nil
}

// offlineTrail reads the trail and keys of a stopped shelfd's store.
func offlineTrail(ctx context.Context, cfg config.Config) (*trailSource, error) {
	srv, err := server.OpenOffline(ctx, cfg, nil)
	if err != nil {
		return nil, fmt.Errorf("%w (if shelfd is running, pass --endpoint-url instead of --data-dir)", err)
	}
	defer srv.Close()
	keys, err := trail.ReadPublicKeys(ctx, srv.Meta())
	if err != nil {
		return nil, err
	}
	st, err := trail.OfflineStatus(ctx, srv.Meta())
	if err != nil {
		return nil, err
	}
	return &trailSource{account: srv.Account(), region: cfg.Region, name: trail.DefaultName, bucket: trail.DefaultBucket,
		keys: keys, latestDigest: st.LatestDigestDeliveryTime, startLogging: st.StartLoggingTime}, nil
}

func runTrailValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("shelf trail validate", flag.ContinueOnError)
	fl.SetOutput(stderr)
	configFile := fl.String("config", "", "shelfd configuration file (YAML)")
	dataDir := fl.String("data-dir", "", "data directory of a stopped shelfd (its store is opened read-only for the keys)")
	trailDir := fl.String("trail-dir", "", "trail directory (default: <data-dir>/trail, or trail.dir of the configuration)")
	endpoint := fl.String("endpoint-url", "", "API endpoint of a running shelfd (default: http:// + api.listen of the configuration)")
	startS := fl.String("start-time", "", "check digests from this time (required)")
	endS := fl.String("end-time", "", "check digests up to this time (default: now)")
	verbose := fl.Bool("verbose", false, "print every file, not only the invalid ones")
	if err := fl.Parse(args); err != nil {
		return exitUsage
	}
	if fl.NArg() > 0 || *startS == "" {
		fmt.Fprintln(stderr, "shelf trail validate: --start-time is required, and takes no arguments")
		return exitUsage
	}
	start, err := parseTime(*startS)
	if err != nil {
		fmt.Fprintln(stderr, "shelf trail validate: --start-time:", err)
		return exitUsage
	}
	end := time.Now().UTC()
	if *endS != "" {
		if end, err = parseTime(*endS); err != nil {
			fmt.Fprintln(stderr, "shelf trail validate: --end-time:", err)
			return exitUsage
		}
	}
	if start.After(end) {
		fmt.Fprintln(stderr, "shelf trail validate: --start-time is after --end-time")
		return exitUsage
	}
	cfg, err := loadConfig(*configFile, *dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "shelf trail validate:", err)
		return exitUsage
	}
	var src *trailSource
	if *dataDir != "" && *endpoint == "" {
		src, err = offlineTrail(ctx, cfg)
	} else {
		ep := *endpoint
		if ep == "" {
			ep = "http://" + cfg.API.Listen
		}
		var t *apiTarget
		if t, err = connect(ctx, cfg, ep); err == nil {
			src, err = onlineTrail(ctx, t)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "shelf trail validate:", err)
		return exitUsage
	}
	dir := *trailDir
	if dir == "" {
		dir = cfg.TrailDir()
	}
	rep, err := validateTrail(dir, src, start, end)
	if err != nil {
		fmt.Fprintln(stderr, "shelf trail validate:", err)
		return exitUsage
	}
	rep.WriteText(stdout, *verbose)
	if !rep.OK() {
		return exitFailed
	}
	return exitOK
}

func validateTrail(dir string, src *trailSource, start, end time.Time) (*trail.Report, error) {
	return trail.Validate(trail.ValidateInput{
		Dir: dir, Account: src.account, Region: src.region, Name: src.name, Bucket: src.bucket,
		Keys: src.keys, Start: start, End: end, LatestDigest: src.latestDigest,
	})
}
