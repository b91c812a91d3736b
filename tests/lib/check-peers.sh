#!/usr/bin/env bash
# Fails (never skips) when a test peer the suite relies on is missing.
set -u
missing=()
[ -e /usr/lib/softhsm/libsofthsm2.so ] || missing+=("softhsm2 (/usr/lib/softhsm/libsofthsm2.so)")
command -v softhsm2-util >/dev/null || missing+=("softhsm2-util")
command -v pkcs11-tool >/dev/null || missing+=("opensc (pkcs11-tool)")
command -v openssl >/dev/null || missing+=("openssl")
command -v p11-kit >/dev/null || missing+=("p11-kit")
[ -e /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so ] || missing+=("p11-kit-modules (p11-kit-client.so)")
[ -e /usr/lib/x86_64-linux-gnu/pkcs11-spy.so ] || missing+=("opensc-pkcs11 (pkcs11-spy.so)")
ls /usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so >/dev/null 2>&1 || missing+=("libengine-pkcs11-openssl")
/usr/bin/python3 -c 'import jwt, cryptography' 2>/dev/null || missing+=("python3-jwt python3-cryptography (for /usr/bin/python3)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing test peers: ${missing[*]}" >&2
  echo "install them with: apt-get install softhsm2 opensc opensc-pkcs11 p11-kit p11-kit-modules libengine-pkcs11-openssl python3-jwt python3-cryptography" >&2
  exit 1
fi
echo "all test peers present"
