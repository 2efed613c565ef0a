#!/usr/bin/env python3
"""Regenerates the efs-utils-style certificates of efscert's tests.

It follows aws/efs-utils v3.2.0 (src/efs_utils_common/certificate_utils.py)
step by step, independently of the Go code under test: the public key hash
is found with `openssl asn1parse`, the canonical request is assembled with
Python's quote_plus, and the certificate is made by `openssl req` plus
`openssl ca -selfsign` from a configuration in efs-utils' format. Run it
from this directory: python3 gen.py. It rewrites the *.pem files, and
prints the canonical request, string to sign and signature of the IAM
certificates (golden_test.go pins them).
"""
import base64, datetime, hashlib, hmac, os, shutil, subprocess, sys, tempfile
from urllib.parse import quote_plus

FS_ID = "fs-0123456789abcdef0"
AP_ID = "fsap-0123456789abcdef0"
AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE/token+with=padding_and-dashes=="
REGION = "us-east-1"
DATE = datetime.datetime(2026, 3, 1, 10, 20, 30)
HOST = "client.example.internal"

def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, **kw).stdout

def public_key_sha1(pub_pem):
    lines = open(pub_pem).read().strip().splitlines()[1:-1]
    der = base64.b64decode("".join(lines))
    out = run("openssl", "asn1parse", "-inform", "PEM", "-in", pub_pem).decode()
    line = [l for l in out.splitlines() if "BIT STRING" in l][-1]
    off = int(line.replace(" ", "").split(":")[0])
    key = der[off:]
    n = key[1] & 0x7F
    return hashlib.sha1(key[1 + 1 + n + 1:]).hexdigest()

def canonical(pkhash, token):
    scope = "/".join([DATE.strftime("%Y%m%d"), REGION, "elasticfilesystem", "aws4_request"])
    params = {
        "Action": "Connect",
        "PublicKeyHash": quote_plus(pkhash),
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": quote_plus(AKID + "/" + scope),
        "X-Amz-Date": quote_plus(DATE.strftime("%Y%m%dT%H%M%SZ")),
        "X-Amz-Expires": 86400,
        "X-Amz-SignedHeaders": "host",
    }
    if token:
        params["X-Amz-Security-Token"] = quote_plus(token)
    q = "&".join("%s=%s" % (k, v) for k, v in sorted(params.items()))
    req = "GET\n/\n" + q + "\n" + "host:%s" % FS_ID + "\n" + "host" + "\n"
    return req + hashlib.sha256(b"").hexdigest(), scope

def sign(creq, scope):
    sts = "AWS4-HMAC-SHA256\n" + DATE.strftime("%Y%m%dT%H%M%SZ") + "\n" + scope + "\n"
    sts += hashlib.sha256(creq.encode()).hexdigest()
    k = hmac.new(("AWS4" + SECRET).encode(), DATE.strftime("%Y%m%d").encode(), hashlib.sha256).digest()
    for part in (REGION, "elasticfilesystem", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return sts, hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()

CONFIG = """dir = %s
RANDFILE = $dir/database/.rand

[ ca ]
default_ca = local_ca

[ local_ca ]
database = $dir/database/index.txt
serial = $dir/database/serial
private_key = %s
cert = $dir/certificate.pem
new_certs_dir = $dir/certs
default_md = sha256
preserve = no
policy = efsPolicy
x509_extensions = v3_ca

[ efsPolicy ]
CN = supplied

[ req ]
prompt = no
distinguished_name = req_distinguished_name

[ req_distinguished_name ]
CN = %s

%s

%s

%s
"""

def make(name, key, ap, iam_token, iam=True):
    d = tempfile.mkdtemp()
    try:
        os.makedirs(d + "/database"); os.makedirs(d + "/certs")
        open(d + "/database/index.txt", "w").close()
        open(d + "/database/index.txt.attr", "w").write("unique_subject = no")
        open(d + "/database/serial", "w").write("00")
        open(d + "/database/.rand", "w").close()
        run("openssl", "rsa", "-in", key, "-outform", "PEM", "-pubout", "-out", d + "/publicKey.pem")
        pkhash = public_key_sha1(d + "/publicKey.pem")
        ext = "[ v3_ca ]\nsubjectKeyIdentifier = hash"
        if ap:
            ext += "\n1.3.6.1.4.1.4843.7.1 = ASN1:UTF8String:" + ap
        if iam:
            ext += "\n1.3.6.1.4.1.4843.7.2 = ASN1:SEQUENCE:efs_client_auth"
        ext += "\n1.3.6.1.4.1.4843.7.3 = ASN1:UTF8String:" + FS_ID
        ext += "\n1.3.6.1.4.1.4843.7.4 = ASN1:SEQUENCE:efs_client_info"
        auth = ""
        creq = sts = sig = None
        if iam:
            creq, scope = canonical(pkhash, iam_token)
            sts, sig = sign(creq, scope)
            auth = "[ efs_client_auth ]\naccessKeyId = UTF8String:" + AKID
            auth += "\nsignature = OCTETSTRING:" + sig
            auth += "\nsigv4DateTime = UTCTIME:" + DATE.strftime("%y%m%d%H%M%SZ")
            if iam_token:
                auth += "\nsessionToken = EXPLICIT:0,UTF8String:" + iam_token
        info = "[ efs_client_info ]\nsource = UTF8String:unknown\nefs_utils_version = UTF8String:3.2.0"
        open(d + "/config.conf", "w").write(CONFIG % (d, os.path.abspath(key), HOST, ext, auth, info))
        run("openssl", "req", "-new", "-config", d + "/config.conf", "-key", key, "-out", d + "/request.csr")
        nb = (DATE - datetime.timedelta(minutes=15)).strftime("%y%m%d%H%M%SZ")
        na = (DATE + datetime.timedelta(hours=3)).strftime("%y%m%d%H%M%SZ")
        run("openssl", "ca", "-startdate", nb, "-enddate", na, "-selfsign", "-batch", "-notext",
            "-config", d + "/config.conf", "-in", d + "/request.csr", "-out", name)
        return pkhash, creq, sts, sig
    finally:
        shutil.rmtree(d)

if not os.path.exists("privateKey.pem"):
    run("openssl", "genpkey", "-algorithm", "RSA", "-out", "privateKey.pem", "-pkeyopt", "rsa_keygen_bits:3072")
for name, token in (("efs-utils-iam.pem", ""), ("efs-utils-iam-token.pem", TOKEN)):
    pkhash, creq, sts, sig = make(name, "privateKey.pem", AP_ID, token)
    sys.stdout.write("=== %s\nPublicKeyHash: %s\n--- canonical request\n%s\n--- string to sign\n%s\n--- signature\n%s\n" % (name, pkhash, creq, sts, sig))
make("efs-utils-tls.pem", "privateKey.pem", "", "", iam=False)
