package trailapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/shelf-efs/shelf/internal/edge"
	"github.com/shelf-efs/shelf/internal/edge/jsonapi"
)

// Shelf's own audit calls: signing service "shelf", json protocol,
// X-Amz-Target ShelfAudit.<Op>.
const (
	ShelfSigningName = "shelf"
	ShelfTarget      = "ShelfAudit."
	ShelfAPIVersion  = "2026-11-01"
	// maxManifestBytes bounds a manifest to sign.
	maxManifestBytes = 512 << 10
)

// ReportSigner serves ShelfAudit.SignAuditManifest: it signs an audit
// report manifest with the trail's Ed25519 report key (authorized as
// shelf:SignAuditManifest). The key signs only messages that start with
// trail.ManifestDomain, and the digest key never signs through it, so a
// caller cannot obtain a signature that passes for a digest.
type ReportSigner struct {
	tr    Trail
	authz edge.Authorizer
	log   *slog.Logger
}

var (
	_ edge.ProtocolService  = (*ReportSigner)(nil)
	_ edge.VersionedService = (*ReportSigner)(nil)
)

// NewReportSigner returns the service.
func NewReportSigner(tr Trail, authz edge.Authorizer, log *slog.Logger) *ReportSigner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ReportSigner{tr: tr, authz: authz, log: log}
}

// SigningName is "shelf".
func (s *ReportSigner) SigningName() string { return ShelfSigningName }

// Protocol is json.
func (s *ReportSigner) Protocol() edge.Protocol { return edge.JSON }

// APIVersion is ShelfAPIVersion.
func (s *ReportSigner) APIVersion() string { return ShelfAPIVersion }

// SignInput is the request of SignAuditManifest.
type SignInput struct {
	// Manifest is the manifest to sign (base64 in JSON).
	Manifest []byte `json:"Manifest"`
}

// SignOutput is its response.
type SignOutput struct {
	Algorithm   string `json:"Algorithm"`
	PublicKey   []byte `json:"PublicKey"`
	Fingerprint string `json:"Fingerprint"`
	Signature   []byte `json:"Signature"`
}

// ServeCall serves SignAuditManifest.
func (s *ReportSigner) ServeCall(w http.ResponseWriter, r *http.Request, body []byte, c *edge.Call) edge.Outcome {
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), ShelfTarget)
	out := edge.Outcome{EventName: "SignAuditManifest", ReadOnly: false}
	fail := func(e *apiError) edge.Outcome { return jsonapi.Fail(w, c.RequestID, &out, e) }
	if op != "SignAuditManifest" {
		out.EventName = ""
		return fail(errf("UnknownOperationException", "Unknown operation."))
	}
	var in SignInput
	if e := decode(body, &in); e != nil {
		return fail(e)
	}
	if len(in.Manifest) == 0 || len(in.Manifest) > maxManifestBytes {
		return fail(errf("ValidationException", "Manifest must be 1 to %d bytes.", maxManifestBytes))
	}
	out.RequestParameters = map[string]any{"manifestSha256": sha256Hex(in.Manifest)}
	err := s.authz.Authorize(r.Context(), c, "shelf:SignAuditManifest", "*", nil)
	var denied *edge.AccessDeniedError
	switch {
	case errors.As(err, &denied):
		return fail(&apiError{Code: "AccessDeniedException", Status: http.StatusBadRequest, Message: denied.Error()})
	case err != nil:
		s.log.Error("authorization failed", "err", err)
		return fail(internalFailure())
	}
	sig := s.tr.SignManifest(in.Manifest)
	out.ResponseElements = map[string]any{"fingerprint": sig.Fingerprint}
	resp := SignOutput{Algorithm: sig.Algorithm, PublicKey: sig.PublicKey, Fingerprint: sig.Fingerprint, Signature: sig.Signature}
	return jsonapi.Reply(w, c.RequestID, &out, resp, nil, func(error) *apiError { return internalFailure() })
}
