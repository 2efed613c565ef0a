package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/buildbarn/go-xdr/pkg/protocols/rpcv2"
	"github.com/buildbarn/go-xdr/pkg/rpcserver"
)

// Authenticator checks a call's credential and verifier. It is go-xdr's
// interface: Authenticate returns the context the program runs in (carrying
// the caller's Credentials), the verifier of the reply, and AUTH_OK or the
// reason for refusing the call. It must be safe for concurrent use.
type Authenticator = rpcserver.Authenticator

// Nobody is the uid and gid of AUTH_NONE callers.
const Nobody = 65534

// RFC 5531 §14 / RFC 1831 §9.2: authsys_parms bounds.
const (
	maxMachineNameBytes = 255
	maxAuthSysGIDs      = 16
)

// SysAuthenticator accepts AUTH_NONE and AUTH_SYS (RFC 5531 §14) and puts
// the caller's Credentials into the context (WithCredentials). It refuses
// every other flavor, a malformed AUTH_SYS body, and a verifier other than
// an empty AUTH_NONE one, with AUTH_BADCRED or AUTH_BADVERF, as the Linux
// server does. Replies carry an empty AUTH_NONE verifier.
var SysAuthenticator Authenticator = sysAuthenticator{}

type sysAuthenticator struct{}

var noneVerifier = rpcv2.OpaqueAuth{Flavor: rpcv2.AUTH_NONE, Body: []byte{}}

func (sysAuthenticator) Authenticate(ctx context.Context, cred, verf *rpcv2.OpaqueAuth) (context.Context, rpcv2.OpaqueAuth, rpcv2.AuthStat) {
	if verf.Flavor != rpcv2.AUTH_NONE || len(verf.Body) != 0 {
		return ctx, noneVerifier, rpcv2.AUTH_BADVERF
	}
	c, err := ParseCredentials(cred)
	if err != nil {
		return ctx, noneVerifier, rpcv2.AUTH_BADCRED
	}
	return WithCredentials(ctx, c), noneVerifier, rpcv2.AUTH_OK
}

// errBadCredential is wrapped by ParseCredentials' errors.
var errBadCredential = errors.New("rpc: bad credential")

// ParseCredentials decodes an AUTH_NONE or AUTH_SYS credential. The AUTH_SYS
// body must be exactly one authsys_parms: machine name at most 255 bytes
// of ASCII, at most 16 supplementary gids, nothing after them. AUTH_NONE
// yields nobody (65534:65534). The credential body is already bounded to
// 400 bytes by its XDR type, so parsing allocates at most that much.
func ParseCredentials(cred *rpcv2.OpaqueAuth) (*Credentials, error) {
	switch cred.Flavor {
	case rpcv2.AUTH_NONE:
		return &Credentials{Flavor: AuthNone, UID: Nobody, GID: Nobody}, nil
	case rpcv2.AUTH_SYS:
		var p rpcv2.AuthsysParms
		r := bytes.NewReader(cred.Body)
		if _, err := p.ReadFrom(r); err != nil {
			return nil, fmt.Errorf("%w: authsys_parms: %v", errBadCredential, err)
		}
		if r.Len() != 0 {
			return nil, fmt.Errorf("%w: %d bytes after authsys_parms", errBadCredential, r.Len())
		}
		// go-xdr enforces both bounds while decoding; check them here
		// too so that a change there cannot lift them silently.
		if len(p.Machinename) > maxMachineNameBytes || len(p.Gids) > maxAuthSysGIDs {
			return nil, fmt.Errorf("%w: authsys_parms out of bounds", errBadCredential)
		}
		return &Credentials{
			Flavor:      AuthSys,
			UID:         p.Uid,
			GID:         p.Gid,
			GIDs:        p.Gids,
			MachineName: p.Machinename,
		}, nil
	default:
		return nil, fmt.Errorf("%w: flavor %d is not supported", errBadCredential, cred.Flavor)
	}
}
