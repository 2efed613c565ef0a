// Package efscert builds, parses and verifies the client certificate that
// aws/efs-utils (v3.2.0) presents when it mounts an EFS file system over TLS:
// a self-signed X.509 v3 certificate whose private extensions under
// 1.3.6.1.4.1.4843.7 name the file system, the access point, the client
// software and, with `-o iam`, carry a SigV4 signature that proves the
// caller's AWS identity and binds it to the certificate's key.
//
// The layout follows aws/efs-utils src/efs_utils_common/certificate_utils.py
// (create_ca_conf, efs_client_auth_builder, create_canonical_request):
//
//	1.3.6.1.4.1.4843.7.1  UTF8String access point ID          (accesspoint=)
//	1.3.6.1.4.1.4843.7.2  SEQUENCE {                          (iam)
//	                        accessKeyId    UTF8String,
//	                        signature      OCTET STRING (64 ASCII hex characters),
//	                        sigv4DateTime  UTCTime,
//	                        sessionToken   [0] EXPLICIT UTF8String OPTIONAL }
//	1.3.6.1.4.1.4843.7.3  UTF8String file-system ID           (always)
//	1.3.6.1.4.1.4843.7.4  SEQUENCE { source UTF8String,
//	                                 efs_utils_version UTF8String }
//
// The embedded signature is a presigned-style SigV4 over a virtual request,
// reproduced byte for byte, including efs-utils' missing blank line between
// the canonical headers and the signed-headers line:
//
//	GET
//	/
//	Action=Connect&PublicKeyHash=<sha1 hex>&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=<quote_plus(AKID/date/region/elasticfilesystem/aws4_request)>&X-Amz-Date=<yyyymmddThhmmssZ>&X-Amz-Expires=86400[&X-Amz-Security-Token=<quote_plus(token)>]&X-Amz-SignedHeaders=host
//	host:<fs-id>
//	host
//	e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
//
// PublicKeyHash is the hex SHA-1 of the subjectPublicKey BIT STRING (RFC 5280
// §4.2.1.2 method 1), which ties the signature to the key proven in the TLS
// handshake. The region is not in the certificate: the verifier supplies its
// own.
//
// Build is the client side (shelf mount), Parse reads the extensions with
// strict bounds, and Verify is what a server runs on the certificate of a
// TLS connection. efscert imports only the standard library, internal/sigv4
// (the signing-key derivation) and internal/edge (the principal type).
package efscert
