package mounthelper

import (
	"errors"
	"fmt"
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The local port range of the tunnel, as efs-utils (port_range_lower_bound,
// port_range_upper_bound since commit 68cbddd).
const (
	PortRangeLow  = 20049
	PortRangeHigh = 21049
)

// DefaultRenewEvery is how often the client certificate is re-created
// (efs-utils' tls_cert_renewal_interval_min).
const DefaultRenewEvery = 60 * time.Minute

// DefaultDNSSuffix is the domain of the server name the tunnel checks,
// <fs-id>.efs.<region>.<suffix>.
const DefaultDNSSuffix = "amazonaws.com"

// NFSPort is the port of a mount target.
const NFSPort = 2049

// defaultNFSOptions are the NFS options EFS recommends and efs-utils sets.
var defaultNFSOptions = []string{"nfsvers=4.1", "rsize=1048576", "wsize=1048576", "hard", "timeo=600", "retrans=2", "noresvport"}

// unsupportedOptions are efs-utils options shelf mount does not implement.
var unsupportedOptions = map[string]string{
	"awscredsuri":    "ECS task credentials",
	"rolearn":        "web identity credentials",
	"jwtpath":        "web identity credentials",
	"netns":          "network namespaces",
	"ocsp":           "OCSP",
	"az":             "availability-zone mount targets",
	"azid":           "availability-zone mount targets",
	"crossaccount":   "cross-account mounts",
	"stunnel":        "stunnel mode",
	"capath":         "a CA directory (use cafile)",
	"verify":         "stunnel verify levels",
	"nodirects3read": "S3 read bypass",
	"nos3readcache":  "S3 read bypass",
}

var (
	fileSystemIDPattern  = regexp.MustCompile(`^fs-[0-9a-f]{8,40}$`)
	accessPointIDPattern = regexp.MustCompile(`^fsap-[0-9a-f]{17}$`)
	regionPattern        = regexp.MustCompile(`^[a-z]{2,4}(-[a-z0-9]+){1,4}$`)
	profilePattern       = regexp.MustCompile(`^[A-Za-z0-9_.@+=,-]{1,128}$`)
	dnsSuffixPattern     = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)
)

// maxOptionsBytes bounds the -o string.
const maxOptionsBytes = 4096

// Options is one `shelf mount` invocation.
type Options struct {
	FileSystemID string
	// Path is the directory of the file system to mount, "/" by default.
	Path string
	// MountPoint is the local directory ("" with --tunnel-only).
	MountPoint string

	TLS bool
	IAM bool
	// AccessPointID is accesspoint=, "" when absent.
	AccessPointID string
	// MountTargetIP is mounttargetip=; "" means resolve
	// <fs-id>.efs.<region>.<dnssuffix>.
	MountTargetIP string
	// Region is region=; "" means the AWS configuration's region.
	Region string
	// TLSPort is tlsport=; 0 means a free port in PortRangeLow..High.
	TLSPort int
	// CAFile is cafile=, the PEM bundle the mount target's certificate must
	// chain to.
	CAFile string
	// AWSProfile is awsprofile=, the named profile of the AWS configuration.
	AWSProfile string
	// DNSSuffix is dnssuffix=, DefaultDNSSuffix by default.
	DNSSuffix string
	// RenewEvery is certrenewal= (minutes); DefaultRenewEvery by default.
	RenewEvery time.Duration

	// NFSOptions are the options passed through to mount -t nfs4, in
	// order.
	NFSOptions []string
}

// ParseDevice splits "fs-…[:/path]".
func ParseDevice(device string) (fsID, dir string, err error) {
	fsID, dir, found := strings.Cut(device, ":")
	if !found || dir == "" {
		dir = "/"
	}
	if !fileSystemIDPattern.MatchString(fsID) {
		return "", "", fmt.Errorf("%q is not a file-system ID (fs-…[:/path])", fsID)
	}
	if !strings.HasPrefix(dir, "/") {
		return "", "", fmt.Errorf("the path %q must be absolute", dir)
	}
	if len(dir) > 4096 || strings.ContainsAny(dir, "\x00\n,") {
		return "", "", fmt.Errorf("the path %q is not usable", dir)
	}
	return fsID, path.Clean(dir), nil
}

// ParseOptions reads the -o string of `shelf mount` the way efs-utils reads
// it: comma-separated, with the helper's own options taken out and the rest
// passed to the NFS client. It reports every problem at once.
func ParseOptions(device, mountPoint, opts string) (Options, error) {
	var errs []error
	o := Options{MountPoint: mountPoint, DNSSuffix: DefaultDNSSuffix, RenewEvery: DefaultRenewEvery}
	var err error
	if o.FileSystemID, o.Path, err = ParseDevice(device); err != nil {
		errs = append(errs, err)
	}
	if len(opts) > maxOptionsBytes {
		return Options{}, fmt.Errorf("the options are longer than %d bytes", maxOptionsBytes)
	}
	seen := map[string]bool{}
	for _, item := range strings.Split(opts, ",") {
		if item == "" {
			continue
		}
		key, value, hasValue := strings.Cut(item, "=")
		if what, ok := unsupportedOptions[key]; ok {
			errs = append(errs, fmt.Errorf("option %s: %s is not supported by shelf mount", key, what))
			continue
		}
		own := true
		needValue := func() string {
			if !hasValue || value == "" {
				errs = append(errs, fmt.Errorf("option %s needs a value (%s=…)", key, key))
			}
			return value
		}
		switch key {
		case "tls":
			o.TLS = true
		case "notls":
			o.TLS = false
		case "iam":
			o.IAM = true
		case "accesspoint":
			if v := needValue(); v != "" && !accessPointIDPattern.MatchString(v) {
				errs = append(errs, fmt.Errorf("option accesspoint: %q is not an access point ID (fsap- and 17 hex digits)", v))
			} else {
				o.AccessPointID = v
			}
		case "mounttargetip":
			if v := needValue(); v != "" && net.ParseIP(v) == nil {
				errs = append(errs, fmt.Errorf("option mounttargetip: %q is not an IP address", v))
			} else {
				o.MountTargetIP = v
			}
		case "region":
			if v := needValue(); v != "" && !regionPattern.MatchString(v) {
				errs = append(errs, fmt.Errorf("option region: %q is not a region name", v))
			} else {
				o.Region = v
			}
		case "tlsport":
			if v := needValue(); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > 65535 {
					errs = append(errs, fmt.Errorf("option tlsport: %q is not a port number", v))
				}
				o.TLSPort = n
			}
		case "cafile":
			o.CAFile = needValue()
		case "awsprofile":
			if v := needValue(); v != "" && !profilePattern.MatchString(v) {
				errs = append(errs, fmt.Errorf("option awsprofile: %q is not a profile name", v))
			} else {
				o.AWSProfile = v
			}
		case "dnssuffix":
			if v := needValue(); v != "" && !dnsSuffixPattern.MatchString(v) {
				errs = append(errs, fmt.Errorf("option dnssuffix: %q is not a domain", v))
			} else if v != "" {
				o.DNSSuffix = v
			}
		case "certrenewal":
			if v := needValue(); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > 170 {
					// The certificate lives 3 h; renewing later than that
					// lets it expire.
					errs = append(errs, fmt.Errorf("option certrenewal: %q is not a number of minutes from 1 to 170", v))
				}
				o.RenewEvery = time.Duration(n) * time.Minute
			}
		default:
			own = false
			if key == "port" {
				seen["port"] = true
			}
			o.NFSOptions = append(o.NFSOptions, item)
		}
		if own {
			seen[key] = true
		}
	}
	if !o.TLS {
		for _, k := range []string{"iam", "accesspoint", "tlsport", "cafile"} {
			if seen[k] {
				errs = append(errs, fmt.Errorf("option %s requires tls", k))
			}
		}
	}
	if o.TLS && seen["port"] {
		errs = append(errs, errors.New("option port cannot be used with tls: the NFS client connects to the local tunnel (use tlsport)"))
	}
	if err := errors.Join(errs...); err != nil {
		return Options{}, err
	}
	return o, nil
}

// ServerName is the name the mount target's certificate must carry:
// <fs-id>.efs.<region>.<dnssuffix>.
func (o Options) ServerName() string {
	return o.FileSystemID + ".efs." + o.Region + "." + o.DNSSuffix
}

// MountArgs returns the arguments of mount(8) for the NFS mount: through
// the tunnel on 127.0.0.1:port with tls, else straight to the mount target
// at targetIP. The EFS defaults come first; a passed-through option
// replaces the default of the same name (and soft replaces hard,
// resvport replaces noresvport).
func (o Options) MountArgs(targetIP string, port int) []string {
	opposite := map[string]string{"soft": "hard", "hard": "soft", "resvport": "noresvport", "noresvport": "resvport"}
	user := map[string]bool{}
	for _, opt := range o.NFSOptions {
		name, _, _ := strings.Cut(opt, "=")
		user[name] = true
		if op, ok := opposite[name]; ok {
			user[op] = true
		}
		if name == "vers" {
			user["nfsvers"] = true
		}
	}
	var opts []string
	for _, d := range defaultNFSOptions {
		name, _, _ := strings.Cut(d, "=")
		if !user[name] {
			opts = append(opts, d)
		}
	}
	opts = append(opts, o.NFSOptions...)
	host := targetIP
	if o.TLS {
		host = "127.0.0.1"
		opts = append(opts, "port="+strconv.Itoa(port))
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return []string{"-t", "nfs4", "-o", strings.Join(opts, ","), host + ":" + o.Path, o.MountPoint}
}
