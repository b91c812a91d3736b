#!/usr/bin/python3
"""verify_jwts.py: verifies client assertions with python3-jwt (not with
entrakey's code): one JWT a line in FILE, each signed by CERT's key (PS256 or
RS256, as its header says), its x5t#S256 naming CERT, aud, iss = sub =
CLIENT, exp - iat in (0, 3600], and every jti different. Prints
"N verified" or the first failure, and exits 1 on any failure or when there
are not exactly EXPECTED assertions.

usage: verify_jwts.py FILE CERT AUD CLIENT EXPECTED
"""
import base64
import hashlib
import sys

import jwt
from cryptography import x509


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    path, cert_path, aud, client, expected = sys.argv[1:6]
    raw = open(cert_path, "rb").read()
    if b"-----BEGIN" in raw:
        cert = x509.load_pem_x509_certificate(raw)
    else:
        cert = x509.load_der_x509_certificate(raw)
    from cryptography.hazmat.primitives import serialization
    der = cert.public_bytes(serialization.Encoding.DER)
    x5ts = b64url(hashlib.sha256(der).digest())
    pub = cert.public_key()
    jtis = set()
    lines = [l.strip() for l in open(path) if l.strip()]
    for n, tok in enumerate(lines, 1):
        try:
            hdr = jwt.get_unverified_header(tok)
            if hdr.get("alg") not in ("PS256", "RS256"):
                raise ValueError("alg %r" % hdr.get("alg"))
            if hdr.get("x5t#S256") != x5ts:
                raise ValueError("x5t#S256 does not name the certificate")
            c = jwt.decode(tok, pub, algorithms=[hdr["alg"]], audience=aud,
                           options={"require": ["exp", "iat", "nbf", "iss",
                                                "sub", "aud", "jti"]})
            if c["iss"] != client or c["sub"] != client:
                raise ValueError("iss/sub %r/%r" % (c["iss"], c["sub"]))
            if not 0 < c["exp"] - c["iat"] <= 3600:
                raise ValueError("lifetime %d" % (c["exp"] - c["iat"]))
            if c["jti"] in jtis:
                raise ValueError("jti %s used twice" % c["jti"])
            jtis.add(c["jti"])
        except Exception as e:  # report which one and why
            print("assertion %d of %d does not verify: %s: %s"
                  % (n, len(lines), type(e).__name__, e))
            return 1
    if len(lines) != int(expected):
        print("%d assertions, expected %s" % (len(lines), expected))
        return 1
    print("%d verified" % len(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
