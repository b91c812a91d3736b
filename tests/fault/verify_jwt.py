"""verify_jwt.py: checks a client assertion (JWT on stdin) with python3-jwt.

usage: verify_jwt.py ALG CERTFILE AUDIENCE CLIENT_ID
Exit 0 when it is one JWT signed with ALG by CERTFILE's key, with the
claims and x5t#S256 (and x5t for RS256) an Entra ID client assertion has;
else exit 1 saying why.
"""
import base64
import hashlib
import sys

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    alg, certfile, aud, client = sys.argv[1:5]
    try:
        with open(certfile, "rb") as f:
            raw = f.read()
    except OSError as e:
        sys.exit("cannot read the certificate: %s" % e)
    if raw.startswith(b"-----BEGIN"):
        cert = x509.load_pem_x509_certificate(raw)
    else:
        cert = x509.load_der_x509_certificate(raw)
    der = cert.public_bytes(Encoding.DER)
    text = sys.stdin.read()
    lines = text.splitlines()
    if len(lines) != 1:
        sys.exit("stdout is %d lines, not one JWT" % len(lines))
    token = lines[0]
    header = jwt.get_unverified_header(token)
    if header.get("alg") != alg:
        sys.exit("header alg %r, expected %r" % (header.get("alg"), alg))
    if header.get("x5t#S256") != b64url(hashlib.sha256(der).digest()):
        sys.exit("x5t#S256 %r is not the certificate's" % header.get("x5t#S256"))
    if alg == "RS256" and header.get("x5t") != b64url(hashlib.sha1(der).digest()):
        sys.exit("x5t %r is not the certificate's" % header.get("x5t"))
    try:
        claims = jwt.decode(token, cert.public_key(), algorithms=[alg],
                            audience=aud, issuer=client,
                            options={"require": ["exp", "nbf", "iat", "jti",
                                                 "sub", "iss", "aud"]})
    except jwt.PyJWTError as e:
        sys.exit("python3-jwt refuses it: %s" % e)
    if claims["sub"] != client:
        sys.exit("sub %r, expected %r" % (claims["sub"], client))
    print("ok")


main()
