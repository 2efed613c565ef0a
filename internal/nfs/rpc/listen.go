package rpc

import (
	"context"
	"fmt"
	"net"
)

// DefaultPort is the NFS port every mount target listens on (RFC 7530
// §3.1: NFSv4 uses TCP port 2049 and needs no portmapper).
const DefaultPort = 2049

// tlsHandshakeByte is the first byte of a TLS connection (a handshake
// record, RFC 8446 §5.1). A plain RPC connection starts with a record
// marker, whose first byte would be 0x16 only for a fragment of more than
// 350 MiB with the last-fragment bit clear, which no limit allows: the
// first byte tells the two apart, as EFS mount targets do for the
// efs-utils TLS tunnel. Serve terminates TLS when Options.TLS is set.
const tlsHandshakeByte = 0x16

// Listen opens a TCP listener for a mount target on addr (host:port; one
// address per mount target). Serve reads the first byte of each
// connection to tell TLS from plain RPC.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rpc: listen on %s: %w", addr, err)
	}
	return ln, nil
}
