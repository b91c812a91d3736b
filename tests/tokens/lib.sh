# lib.sh: what the tests on real modules share; sourced after
# tests/lib/common.sh. Services started here are stopped on exit (also on
# failure), listen on loopback only, and keep their state under $T.
# the ASan build: what third-party modules leak is not ours
export LSAN_OPTIONS="suppressions=$EK_SOURCE_DIR/tests/tokens/lsan-third-party.supp:fast_unwind_on_malloc=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# NO_LEAK_CHECK: for runs that load a module whose leaks LeakSanitizer
# cannot name (NSS softokn, tpm2-pkcs11 without a TPM: p11-kit has
# unloaded the library by exit, so its frames are "<unknown module>")
NO_LEAK_CHECK="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
TENANT=72f988bf-86f1-41af-91ab-2d7cd011db47
APP=11111111-2222-3333-4444-555555555555
_pids=()
_stop_services() {
  local p
  for p in "${_pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${_pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  _pids=()
}
on_exit _stop_services
# remember PID: stop it when the test ends
remember() { _pids+=("$1"); }

# wait_port PORT: until something listens on 127.0.0.1:PORT (5 s at most)
wait_port() {
  local i
  for i in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# verify_jwt NAME FILE ALG CERT: the assertion in FILE verifies with
# python3-jwt (signature, audience, x5t#S256) and, cut apart, with OpenSSL
# (pkeyutl with the PSS parameters of RFC 7518 for PS256)
verify_jwt() {
  local name=$1 f=$2 alg=$3 cert=$4 out
  out=$($PY - "$f" "$alg" "$cert" "$TENANT" "$APP" <<'PYEOF' 2>&1
import base64, hashlib, jwt, sys
from cryptography import x509
f, alg, cert, tenant, app = sys.argv[1:6]
tok = open(f).read().strip()
der = open(cert, "rb").read()
pub = x509.load_der_x509_certificate(der).public_key()
hdr = jwt.get_unverified_header(tok)
assert hdr["alg"] == alg, hdr
s256 = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
assert hdr["x5t#S256"] == s256, hdr
aud = "https://login.microsoftonline.com/%s/oauth2/v2.0/token" % tenant
c = jwt.decode(tok, pub, algorithms=[alg], audience=aud)
assert c["iss"] == app and c["sub"] == app, c
print("ok")
PYEOF
)
  if [ "$out" != ok ]; then fail "$name: python3-jwt: $out"; return; fi
  local d="$T/jwtcut.$RANDOM"
  mkdir -p "$d"
  tr -d '\n' < "$f" | cut -d. -f1,2 | tr -d '\n' > "$d/input"
  tr -d '\n' < "$f" | cut -d. -f3 | tr '_-' '/+' | \
    awk '{ while (length($0) % 4) $0 = $0 "="; print }' | openssl base64 -d -A > "$d/sig"
  openssl x509 -inform DER -in "$cert" -pubkey -noout > "$d/pub.pem"
  local opts=()
  [ "$alg" = PS256 ] && opts=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256)
  if openssl dgst -sha256 -verify "$d/pub.pem" "${opts[@]}" -signature "$d/sig" \
       "$d/input" >/dev/null 2>&1; then
    pass "$name (python3-jwt and OpenSSL)"
  else
    fail "$name: OpenSSL does not verify the $alg signature"
  fi
}

# verify_cert NAME CER: the self-signed certificate's signature verifies
verify_cert() {
  if openssl x509 -inform DER -in "$2" -out "$T/vc.pem" 2>/dev/null &&
     openssl verify -check_ss_sig -CAfile "$T/vc.pem" "$T/vc.pem" >/dev/null 2>&1; then
    pass "$1"
  else fail "$1: openssl does not verify $2"; fi
}

# ------------------------------------------------------------------- TPM
TPM2_SO=/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so
TPM_PORT=2321

# tpm_start: swtpm on 127.0.0.1:$TPM_PORT (+1 control), a fresh state
tpm_start() {
  mkdir -p "$T/tpm/state"
  swtpm socket --tpm2 --tpmstate "dir=$T/tpm/state" \
    --server "type=tcp,port=$TPM_PORT,bindaddr=127.0.0.1" \
    --ctrl "type=tcp,port=$((TPM_PORT + 1)),bindaddr=127.0.0.1" \
    --flags not-need-init,startup-clear --log "file=$T/tpm/swtpm.log" &
  remember $!
  wait_port "$TPM_PORT"
}

# abrmd_start: a private D-Bus session bus and tpm2-abrmd on it; exports
# the tabrmd TCTI for tpm2-tools and tpm2-pkcs11
abrmd_start() {
  local i
  dbus-daemon --session --nofork --address="unix:path=$T/tpm/bus" \
    --nopidfile >/dev/null 2>&1 &
  remember $!
  for i in $(seq 1 50); do [ -S "$T/tpm/bus" ] && break; sleep 0.1; done
  export DBUS_SESSION_BUS_ADDRESS="unix:path=$T/tpm/bus"
  tpm2-abrmd --session --allow-root \
    --tcti="swtpm:host=127.0.0.1,port=$TPM_PORT" >"$T/tpm/abrmd.log" 2>&1 &
  ABRMD_PID=$!
  remember $ABRMD_PID
  for i in $(seq 1 50); do
    TPM2TOOLS_TCTI="tabrmd:bus_type=session" tpm2_getcap properties-fixed \
      >/dev/null 2>&1 && break
    sleep 0.1
  done
  export TPM2TOOLS_TCTI="tabrmd:bus_type=session"
  export TPM2_PKCS11_TCTI="tabrmd:bus_type=session"
}

# tpm_provision LABEL: a tpm2-pkcs11 store with one token (user PIN
# $TEST_PIN), made with tpm2_ptool through the resource manager
tpm_provision() {
  export TPM2_PKCS11_STORE="$T/tpm/store"
  mkdir -p "$TPM2_PKCS11_STORE"
  tpm2_ptool init --path="$TPM2_PKCS11_STORE" >/dev/null &&
  tpm2_ptool addtoken --pid=1 --sopin=sopin123 --userpin="$TEST_PIN" \
    --label="$1" --path="$TPM2_PKCS11_STORE" >/dev/null
}

# tpm_direct: from now on, tpm2-pkcs11 and tpm2-tools talk to swtpm
# directly, without a resource manager
tpm_direct() {
  kill "$ABRMD_PID" 2>/dev/null
  wait "$ABRMD_PID" 2>/dev/null
  export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$TPM_PORT"
  export TPM2_PKCS11_TCTI="swtpm:host=127.0.0.1,port=$TPM_PORT"
}

# tpm_transient: the number of transient objects loaded in the TPM
tpm_transient() {
  tpm2_getcap handles-transient 2>/dev/null | grep -c '0x'
}

# tpm_flush: what a process without a resource manager leaves in the TPM
tpm_flush() {
  tpm2_flushcontext -t >/dev/null 2>&1
  tpm2_flushcontext -s >/dev/null 2>&1
  tpm2_flushcontext -l >/dev/null 2>&1
  return 0
}

# ------------------------------------------------------------------- PIV
# A PIV card emulated by tests/piv/piv-card.py, in a reader named like a
# YubiKey's (ykcs11 takes only readers whose name starts with "Yubico"),
# served by a pcscd of the test's own: its socket directory /run/pcscd is
# a private tmpfs, USB devices are out of its sight, and the card reaches
# vsmartcard's vpcd driver on the namespace's loopback (port 0x8C7B).
YKCS11_SO=/usr/lib/x86_64-linux-gnu/libykcs11.so
OPENSC_SO=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
VPCD_SO=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
PIV_CARD="$EK_SOURCE_DIR/tests/piv/piv-card.py"
PIV_STATE="$T/piv/card.json"
PIV_MGM=010203040506070801020304050607080102030405060708
PIV_SERIAL=12345678

# piv_start [CARD-OPTIONS...]: pcscd and the card; sets PIV_URI (ykcs11)
piv_start() {
  local i
  mkdir -p "$T/piv/readers" /run/pcscd
  mount -t tmpfs -o mode=755 tmpfs /run/pcscd || return 1
  [ ! -d /dev/bus/usb ] || mount -t tmpfs tmpfs /dev/bus/usb || return 1
  cat > "$T/piv/readers/vpcd" <<CONF
FRIENDLYNAME "Yubico YubiKey OTP+FIDO+CCID"
DEVICENAME   /dev/null:0x8C7B
LIBPATH      $VPCD_SO
CHANNELID    0x8C7B
CONF
  pcscd --foreground --config "$T/piv/readers" --apdu --debug \
    >"$T/piv/pcscd.log" 2>&1 &
  remember $!
  $PY "$PIV_CARD" --state "$PIV_STATE" --serial "$PIV_SERIAL" "$@" \
    >"$T/piv/card.log" 2>&1 &
  remember $!
  for i in $(seq 1 100); do
    grep -q 'Card inserted' "$T/piv/pcscd.log" 2>/dev/null && break
    sleep 0.1
  done
  grep -q 'Card inserted' "$T/piv/pcscd.log" || return 1
  printf '%s\n' "$PIV_MGM" > "$T/piv/mgm"
  chmod 600 "$T/piv/mgm"
  PIV_URI="pkcs11:serial=$PIV_SERIAL"
}

# card FIELD: a field of the card's state (pin_tries, verify_failures,
# signatures.9c, refused.9a, keys, objects)
card() {
  $PY - "$PIV_STATE" "$1" <<'PYEOF'
import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    v = v.get(k, 0) if isinstance(v, dict) else v
print(" ".join(v) if isinstance(v, list) else v)
PYEOF
}

# ------------------------------------------------- docs/compatibility.md
# observe MODULE KEY VALUE: what a test saw, for tests/tokens/compat-table.sh
# (one file per module under $EK_BUILD_DIR/compat; a later line wins)
observe() {
  mkdir -p "$EK_BUILD_DIR/compat"
  printf '%s\t%s\n' "$2" "$3" >> "$EK_BUILD_DIR/compat/$1"
}
# signed_with: the mechanism the last `entrakey -v` run signed with
signed_with() {
  grep -Eo 'signing with CKM_[A-Z0-9_]+' "$T/err" | tail -1 | cut -d' ' -f3
}
# outcome: "works" or "fails (exit N)" for the last run
outcome() { if [ "$RC" -eq 0 ]; then echo works; else echo "fails (exit $RC)"; fi; }
# pkgver PKG: its Debian version
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null; }

# ------------------------------------------------------------ openCryptoki
OCK_SO=/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so

# ock_start LABEL: pkcsslotd with the software token (slot 3) alone, its
# configuration, store, locks and shared memory private to the test (a
# tmpfs over /run and /dev/shm); the token initialised with SO PIN
# 87654321 and user PIN $TEST_PIN. Needs root (the pkcs11 group).
ock_start() {
  local d="$T/ock"
  mkdir -p "$d/etc" "$d/lib/swtok/TOK_OBJ"
  printf 'version opencryptoki-3.1\nslot 3\n{\nstdll = libpkcs11_sw.so\n}\n' \
    > "$d/etc/opencryptoki.conf"
  mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /dev/shm &&
  mkdir -p /run/lock/opencryptoki/swtok &&
  mount --bind "$d/etc" /etc/opencryptoki &&
  mount --bind "$d/lib" /var/lib/opencryptoki || return 1
  chgrp -R pkcs11 "$d" /run/lock/opencryptoki &&
  chmod -R 770 "$d" /run/lock/opencryptoki || return 1
  pkcsslotd || return 1
  # it forks; its pid file is in the test's own /run (/var/run links there)
  local i
  for i in $(seq 1 50); do [ -s /run/pkcsslotd.pid ] && break; sleep 0.1; done
  [ -s /run/pkcsslotd.pid ] || return 1
  remember "$(cat /run/pkcsslotd.pid)"
  printf '%s\n' "$1" | pkcsconf -I -c 3 -S 87654321 >/dev/null 2>&1 &&
  pkcsconf -P -c 3 -S 87654321 -n 76543210 >/dev/null 2>&1 &&
  pkcsconf -u -c 3 -S 76543210 -n 11111111 >/dev/null 2>&1 &&
  pkcsconf -p -c 3 -U 11111111 -n "$TEST_PIN" >/dev/null 2>&1
}
