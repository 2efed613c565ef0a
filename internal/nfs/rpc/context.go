// Package rpc is shelf's ONC RPC (RFC 5531) layer for NFS: it wraps the
// go-xdr RPC server with what a public server needs — bounded record sizes,
// bounded requests in flight per connection, connections that are closed on
// shutdown, replies written safely from concurrent goroutines — and the
// listeners that serve mount targets.
//
// This file holds the contract with the NFS program (internal/nfs): what a
// request carries in its context. rpc must not import internal/nfs or fs.
package rpc

import (
	"context"
	"crypto/x509"
	"net/netip"
)

// Flavor is an RPC authentication flavor.
type Flavor uint32

// Flavors shelf accepts.
const (
	AuthNone Flavor = 0
	AuthSys  Flavor = 1
)

// Credentials are the caller's identity from the RPC credential.
type Credentials struct {
	Flavor Flavor
	// UID, GID and GIDs come from AUTH_SYS; AUTH_NONE callers get
	// 65534:65534 (nobody).
	UID, GID uint32
	GIDs     []uint32
	// MachineName is the AUTH_SYS machine name (bounded to 255 bytes).
	MachineName string
}

// Conn describes the connection a request arrived on.
type Conn struct {
	// ID is unique per connection for the life of the process.
	ID uint64
	// Local is the address the client connected to (the mount target's),
	// Remote the client's.
	Local, Remote netip.AddrPort
	// FileSystemID and MountTargetID name what the listener serves.
	FileSystemID  string
	MountTargetID string
	// TLS reports an encrypted connection: a TLS handshake right away
	// (efs-utils' tunnel) or after an RPC-with-TLS probe (StartTLS).
	TLS bool
	// StartTLS reports that TLS was started by the AUTH_TLS probe of RFC
	// 9289 rather than by a ClientHello as the first bytes.
	StartTLS bool
	// TLSVersion and CipherSuite are the crypto/tls values of the
	// session; ServerName is the SNI the client sent.
	TLSVersion  uint16
	CipherSuite uint16
	ServerName  string
	// PeerCertificates is the chain the client presented, leaf first
	// (empty when it presented none). Only the handshake's proof of the
	// leaf's private key has been checked, not the chain: trust is the
	// business of Options.ConnContext.
	PeerCertificates []*x509.Certificate
}

type credentialsKey struct{}
type connKey struct{}

// WithCredentials returns ctx carrying c.
func WithCredentials(ctx context.Context, c *Credentials) context.Context {
	return context.WithValue(ctx, credentialsKey{}, c)
}

// CredentialsFromContext returns the credentials of the request.
func CredentialsFromContext(ctx context.Context) (*Credentials, bool) {
	c, ok := ctx.Value(credentialsKey{}).(*Credentials)
	return c, ok
}

// WithConn returns ctx carrying c.
func WithConn(ctx context.Context, c *Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// ConnFromContext returns the connection of the request.
func ConnFromContext(ctx context.Context) (*Conn, bool) {
	c, ok := ctx.Value(connKey{}).(*Conn)
	return c, ok
}

type disconnectKey struct{}

// Disconnect closes the connection of the request in ctx: the reply of the
// request is dropped, and calls in progress see their context cancelled.
// It does nothing for a context without a connection.
func Disconnect(ctx context.Context) {
	if cancel, ok := ctx.Value(disconnectKey{}).(context.CancelFunc); ok {
		cancel()
	}
}
