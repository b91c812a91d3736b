"""azid_token.py: azure-identity getting one token in a whole process, for
the managed-identity benchmark: "mi" through the managed-identity endpoint
(ManagedIdentityCredential() with no arguments: IDENTITY_ENDPOINT and
IDENTITY_HEADER in the environment), "cert" with a software certificate
(CertificateCredential, the key in a PEM file) against the same token
endpoint. Prints the token. Not part of the product.

usage: /usr/bin/python3 azid_token.py mi SCOPE
       /usr/bin/python3 azid_token.py cert SCOPE AUTHORITY-HOST TENANT
                                      CLIENT-ID PEM (key and certificate)
The CA of the loopback endpoint comes from REQUESTS_CA_BUNDLE.
"""
import sys


def main():
    mode, scope = sys.argv[1:3]
    if mode == "mi":
        from azure.identity import ManagedIdentityCredential
        cred = ManagedIdentityCredential()
    else:
        from azure.identity import CertificateCredential
        host, tenant, client_id, pem = sys.argv[3:7]
        # the loopback host is not a Microsoft one: no instance discovery
        cred = CertificateCredential(tenant, client_id, certificate_path=pem,
                                     authority=host, instance_discovery=False)
    print(cred.get_token(scope).token)


if __name__ == "__main__":
    main()
