// Package mounthelper is shelf's efs-utils: the logic of `shelf mount`. It
// reads efs-utils' mount options, runs a local TLS tunnel that presents the
// efs-utils client certificate (internal/efscert) signed with the user's AWS
// credentials and forwards to a mount target's port 2049, renews that
// certificate while the mount lives, and builds the mount(8) command line
// with the EFS defaults.
//
// The tunnel of a mount runs in a background process of its own that exits
// once the mount has gone from /proc/mounts (see Watch); `--tunnel-only`
// runs it in the foreground. mounthelper does not read the environment
// itself (the AWS SDK's configuration loader does) and imports no server
// package.
package mounthelper
