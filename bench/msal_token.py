"""msal_token.py: what a user would write instead of `entrakey token`.

MSAL Python (Debian's python3-msal) with a software key in a PEM file,
client credentials, one access token printed on stdout. The benchmark's
comparison point; not part of the product.

usage: /usr/bin/python3 msal_token.py AUTHORITY CLIENT-ID KEY-PEM CERT-PEM
                                      SCOPE CA-FILE
AUTHORITY is https://HOST[:PORT]/TENANT. validate_authority=False because
the loopback endpoint is not a Microsoft host (MSAL would otherwise ask
login.microsoftonline.com about it); MSAL still fetches the tenant's
openid-configuration, as it does against Entra ID.
"""
import sys

import msal
from cryptography import x509
from cryptography.hazmat.primitives import hashes


def main():
    authority, client_id, key_pem, cert_pem, scope, ca_file = sys.argv[1:7]
    with open(key_pem) as f:
        key = f.read()
    with open(cert_pem, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    app = msal.ConfidentialClientApplication(
        client_id,
        authority=authority,
        client_credential={
            "private_key": key,
            "thumbprint": cert.fingerprint(hashes.SHA1()).hex(),
        },
        validate_authority=False,
        verify=ca_file,
    )
    result = app.acquire_token_for_client(scopes=[scope])
    if "access_token" not in result:
        print("msal: %s: %s" % (result.get("error"),
                                result.get("error_description")),
              file=sys.stderr)
        return 5
    print(result["access_token"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
