#!/usr/bin/env bash
# test_doc.sh DOC.md: the guide's ```sh blocks run as written, in order, in
# one shell (tests/docs/doctest.py), as a new user on this machine would
# type them, in a hermetic environment:
#   - HOME, XDG_* and XDG_RUNTIME_DIR of the test's own, no
#     /etc/entrakey/config (ENTRAKEY_SYSTEM_CONFIG=), AZURE_* unset, a
#     private p11-kit registry with SoftHSM alone (tests/lib/common.sh);
#   - `entrakey` from the build directory first on PATH;
#   - the loopback token endpoint (tests/e2e/server.py) for tenant
#     contoso.onmicrosoft.com and client id 11111111-2222-3333-4444-
#     555555555555, reached for the real login hosts through
#     tests/e2e/connect_proxy.py (HTTPS_PROXY), its test CA trusted by
#     every program as a system CA (a private copy of
#     /etc/ssl/certs/ca-certificates.crt with it, in the mount namespace);
#     a .cer the guide writes in ~ or ~/.local/share/entrakey counts as
#     uploaded to the app registration (server.py --cert-glob);
#   - PIN prompts answered with the test PIN 123456 (SO PIN 12345678), as
#     typed on a terminal;
#   - tests/docs/prelude/NAME.sh, if there is one, sourced first: what the
#     guide assumes the reader has (a token named MyHSM ...), kept minimal.
# A block that cannot run here is marked in the guide with
# <!-- doc-test: skip: REASON --> and listed as skipped with its reason.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"

DOC=$1
NAME=$(basename "$DOC" .md)
DOCS="$EK_SOURCE_DIR/tests/docs"

# the fences and markers first: a doc that breaks the convention fails
# here, with or without the rest
/usr/bin/python3 "$DOCS/doctest.py" check "$DOC" || exit 1

n=$(/usr/bin/python3 "$DOCS/doctest.py" check --runnable "$DOC")
if [ "$n" = 0 ]; then
  /usr/bin/python3 "$DOCS/doctest.py" run "$DOC"   # lists what is skipped
  exit
fi
if [ "$EK_PRIVATE_REGISTRY" != 1 ]; then
  echo "not ok - $NAME: needs a private mount namespace (unshare -m) for its"
  echo "  own p11-kit registry and CA bundle; none here"
  exit 1
fi

make_ca
start_server --cert-glob "$HOME/*.cer" \
  --cert-glob "$XDG_DATA_HOME/entrakey/*.cer" --lifetime 300
start_proxy

# /etc of the test's own (an overlay in the mount namespace): what a
# guide writes there as root (/etc/entrakey/pin ...) stays in the test;
# p11-kit's /etc/pkcs11 stays the test's (common.sh)
mkdir -p "$T/etc"
mount -t tmpfs -o mode=755 tmpfs "$T/etc" && mkdir "$T/etc/up" "$T/etc/work" &&
mount -t overlay overlay \
  -o "lowerdir=/etc,upperdir=$T/etc/up,workdir=$T/etc/work" /etc ||
  { echo "not ok - $NAME: cannot overlay /etc in the mount namespace"; exit 1; }
if [ -d /etc/pkcs11 ]; then mount --bind "$T/etc-pkcs11" /etc/pkcs11 || exit 1; fi
rm -rf /etc/entrakey
# the test CA as one of the system's: in the bundle (Python's requests,
# curl) and by its hash in the directory (entrakey's libcurl, OpenSSL)
{ cat "$CA_PEM" >> /etc/ssl/certs/ca-certificates.crt &&
  cp "$CA_PEM" /etc/ssl/certs/entrakey-doc-test-ca.pem &&
  ln -s entrakey-doc-test-ca.pem \
    "/etc/ssl/certs/$(openssl x509 -hash -noout -in "$CA_PEM").0"; } ||
  { echo "not ok - cannot put the test CA among the system's"; exit 1; }

mkdir -p "$T/bin"
ln -s "$EK" "$T/bin/entrakey"
export PATH="$T/bin:$PATH"
export HTTPS_PROXY="$PROXY" https_proxy="$PROXY"
unset HTTP_PROXY http_proxy ALL_PROXY all_proxy NO_PROXY no_proxy \
  ENTRAKEY_AGENT_SOCK REQUESTS_CA_BUNDLE SSL_CERT_FILE CURL_CA_BUNDLE || true
# the reader's machine has SoftHSM registered with p11-kit (Debian's
# softhsm2 does it), not ENTRAKEY_MODULE; softhsm2's default configuration
# is replaced by the test's own store
unset ENTRAKEY_MODULE
mkdir -p "$T/softhsm/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$T/softhsm/tokens" > "$T/softhsm/softhsm2.conf"
export SOFTHSM2_CONF="$T/softhsm/softhsm2.conf"
export DOC_TEST_PIN="$TEST_PIN" DOC_TEST_SO_PIN="$TEST_SO_PIN"
export DOC_TEST_SOURCE_DIR="$EK_SOURCE_DIR" TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"

prelude=()
[ -f "$DOCS/prelude/$NAME.sh" ] && prelude=(--prelude "$DOCS/prelude/$NAME.sh")
cd "$HOME"
# a PID namespace of its own: what the guide leaves running (an agent
# with --daemon) ends with it
unshare -p -f --mount-proc /usr/bin/python3 "$DOCS/doctest.py" run "$DOC" \
  --workdir "$HOME" --timeout 150 "${prelude[@]}"
