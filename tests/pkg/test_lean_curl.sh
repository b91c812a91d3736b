#!/usr/bin/env bash
# The lean libcurls of EK_AGENT_CURL (scripts/lean-curl.sh). The static
# one the client talks to the agent with: nothing in it refers to a
# TLS, LDAP, SSH, compression, IDN or resolver-thread library, and no
# protocol but HTTP is compiled in, and it is hardened (stack protector,
# _FORTIFY_SOURCE); a program linked with the archive and
# libc alone needs no other shared library, says it supports Unix sockets
# and no TLS, and fetches a page from a server on a Unix socket; the
# install carries curl's licence. The shared HTTPS one: below. SKIP when
# the build has no EK_AGENT_CURL.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
if [ -z "${EK_AGENT_CURL:-}" ]; then
  echo "SKIP: this build has no lean libcurl (cmake -DEK_AGENT_CURL=PREFIX; scripts/lean-curl.sh)"
  exit 77
fi
P=$EK_AGENT_CURL
A=$P/lib/libcurl.a

for f in VERSION lib/libcurl.a include/curl/curl.h share/doc/COPYING; do
  [ -s "$P/$f" ] && pass "PREFIX holds $f" || fail "PREFIX $P has no $f"
done
expect_match "VERSION is a Debian source version" "$(cat "$P/VERSION")" '^[0-9][0-9.]*-[0-9A-Za-z.+~]+$'

# what the archive asks of other libraries: only libc's
nm -u "$A" 2>/dev/null | awk '{ print $2 }' | sort -u > "$T/undefined"
[ -s "$T/undefined" ] && pass "nm reads the archive" || fail "nm -u $A gave nothing"
foreign='^(SSL_|TLS_|OPENSSL_|EVP_|X509|BIO_|ERR_|d2i_|i2d_|gnutls_|mbedtls_|wolfSSL|br_ssl|PK11_|NSS_|ldap_|ber_|libssh2_|ssh_|sftp_|gss_|krb5_|idn2_|psl_|inflate|deflate|zlibVersion|Brotli|ZSTD_|nghttp2_|ngtcp2_|RTMP_|ares_|pthread_create)'
# none_of NAME FILE REGEX: passes when no line of FILE matches REGEX
none_of() {
  local bad
  bad=$(grep -E -- "$3" "$2" | head -n 20 | tr '\n' ' ')
  [ -z "$bad" ] && pass "$1" || fail "$1: $bad"
}
none_of "no TLS, LDAP, SSH, GSSAPI, IDN, PSL, zlib, brotli, zstd, nghttp2, RTMP, c-ares or thread symbol wanted" \
  "$T/undefined" "$foreign"
grep -qx __stack_chk_fail "$T/undefined" && grep -qE '^__[a-z_]+_chk$' "$T/undefined" &&
  pass "hardened as Debian builds it (stack protector, _FORTIFY_SOURCE)" ||
  fail "no __stack_chk_fail or __*_chk call: built without -fstack-protector-strong or -D_FORTIFY_SOURCE=2"
nm --defined-only "$A" 2>/dev/null | awk '{ print $3 }' | sort -u > "$T/defined"
grep -qx Curl_handler_http "$T/defined" && pass "the HTTP handler is in" || fail "no Curl_handler_http"
other=$(grep -E '^Curl_handler_' "$T/defined" | grep -vxE 'Curl_handler_(http|dummy)')
[ -z "$other" ] && pass "no other protocol's handler (HTTPS, FTP, LDAP, SCP, SMTP...)" ||
  fail "other protocols compiled in: $(echo "$other" | tr '\n' ' ')"
none_of "no TLS backend" "$T/defined" '^Curl_(ossl|gtls|nss|mbedtls|wolfssl|bearssl|schannel|sectransp)_'
none_of "no cookies, HSTS, alt-svc, netrc, NTLM, DoH" "$T/defined" \
  '^Curl_(cookie_init|hsts_init|altsvc_init|parsenetrc|auth_create_ntlm_type1_message|doh)$'
readelf -S -W "$A" 2>/dev/null | grep -q '\.text\.curl_easy_init' &&
  pass "each function in its own section (-ffunction-sections)" ||
  fail "no .text.curl_easy_init section: not built with -ffunction-sections"

cat > "$T/check.c" <<'C'
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
  const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
  printf("unix=%d ssl=%d libz=%d idn=%d", !!(v->features & CURL_VERSION_UNIX_SOCKETS),
         !!(v->features & CURL_VERSION_SSL), !!(v->features & CURL_VERSION_LIBZ),
         !!(v->features & CURL_VERSION_IDN));
  for (const char *const *p = v->protocols; *p; p++) printf(" %s", *p);
  printf("\n");
  if (argc < 2) return 0;
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, argv[1]);
  curl_easy_setopt(c, CURLOPT_URL, "http://localhost/lean");
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  printf("\nrc=%d status=%ld\n", (int)rc, status);
  return rc == CURLE_OK && status == 200 ? 0 : 1;
}
C
run cc -std=c11 -DCURL_STATICLIB -I"$P/include" -o "$T/check" "$T/check.c" "$A"
expect_rc "a program links with the archive and libc alone" 0
needed=$(readelf -d "$T/check" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
expect_match "it needs libc.so.6 only" "$needed" '^libc\.so\.6 $'
run "$T/check"
expect_match "curl_version_info: Unix sockets, no TLS, zlib or IDN" "$OUT" '^unix=1 ssl=0 libz=0 idn=0 '
expect_match "and HTTP its only protocol" "$OUT" ' http$'

# a page through a Unix socket: the use the agent client makes of it
sock=$T/s
/usr/bin/python3 - "$sock" > "$T/server.log" 2>&1 <<'PY' &
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"lean " + self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def address_string(self):
        return "unix"
class S(socketserver.UnixStreamServer):
    pass
s = S(sys.argv[1], H)
print("listening", flush=True)
s.handle_request()
PY
server=$!
on_exit "kill $server 2>/dev/null"
# the socket file exists from bind(), before listen(): wait for the word
for _ in $(seq 100); do grep -qs listening "$T/server.log" && break; sleep 0.1; done
run timeout 20 "$T/check" "$sock"
expect_rc "GET over CURLOPT_UNIX_SOCKET_PATH" 0
expect_match "the server's page" "$OUT" 'lean /lean'

# The HTTPS twin, lib/libentrakey-curl.so.4, which libentrakey opens for
# the token endpoint: its own SONAME (never taken for a program's
# libcurl.so.4), the system's OpenSSL and libc only, hardened, HTTP and
# HTTPS alone, no proxy (a proxy goes to the system's libcurl), the
# system's CA locations, and the threaded resolver (a bounded DNS lookup)
S=$P/lib/libentrakey-curl.so.4
[ -s "$S" ] && pass "PREFIX holds lib/libentrakey-curl.so.4" || fail "PREFIX has no lib/libentrakey-curl.so.4"
expect_match "its SONAME is libentrakey-curl.so.4" "$(readelf -d "$S" 2>/dev/null)" \
  '\(SONAME\).*\[libentrakey-curl\.so\.4\]'
needed=$(readelf -d "$S" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
expect_match "it needs the system's libssl, libcrypto and libc only" "$needed" \
  '^libc\.so\.6 libcrypto\.so\.3 libssl\.so\.3 $'
expect_match "full RELRO (BIND_NOW)" "$(readelf -d "$S" 2>/dev/null)" '\(FLAGS(_1)?\).*NOW'
# its own curl_* calls bound to itself (-Bsymbolic): a program that uses
# libentrakey and has loaded the system's libcurl.so.4 would otherwise
# have its curl_multi_* called with this one's handles
expect_match "bound to itself (SYMBOLIC)" "$(readelf -d "$S" 2>/dev/null)" '\(FLAGS\).*SYMBOLIC'
own_relocs=$(readelf -r -W "$S" 2>/dev/null | awk '$3 ~ /JUMP_SLOT|GLOB_DAT/ && $5 ~ /^curl_/ {print $5}' | sort -u | tr '\n' ' ')
[ -z "$own_relocs" ] && pass "no relocation against its own curl_* symbols" ||
  fail "its curl_* calls can be taken by another libcurl: $own_relocs"
readelf -l -W "$S" 2>/dev/null | grep -q GNU_RELRO && pass "a RELRO segment" || fail "no GNU_RELRO segment"
nm -D -u "$S" 2>/dev/null | awk '{ print $2 }' | sed 's/@.*//' | sort -u > "$T/s_undefined"
none_of "nothing of LDAP, SSH, GSSAPI, IDN, PSL, zlib, brotli, zstd, nghttp2, RTMP, c-ares, GnuTLS" \
  "$T/s_undefined" '^(gnutls_|mbedtls_|wolfSSL|PK11_|NSS_|ldap_|ber_|libssh2_|ssh_|sftp_|gss_|krb5_|idn2_|psl_|inflate|deflate|zlibVersion|Brotli|ZSTD_|nghttp2_|ngtcp2_|RTMP_|ares_)'
grep -qx SSL_CTX_new "$T/s_undefined" && pass "TLS through OpenSSL (SSL_CTX_new)" ||
  fail "no SSL_CTX_new wanted: not built with OpenSSL"
grep -qx __stack_chk_fail "$T/s_undefined" && pass "stack protector" || fail "no __stack_chk_fail"
cat > "$T/scheck.c" <<'C'
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) { printf("dlopen: %s\n", dlerror()); return 1; }
  curl_version_info_data *(*vi)(CURLversion) =
      (curl_version_info_data *(*)(CURLversion))dlsym(h, "curl_version_info");
  const curl_version_info_data *v = vi(CURLVERSION_NOW);
  printf("ssl=%d unix=%d async=%d libz=%d idn=%d http2=%d ssl_version=%s cainfo=%s capath=%s protocols=",
         !!(v->features & CURL_VERSION_SSL), !!(v->features & CURL_VERSION_UNIX_SOCKETS),
         !!(v->features & CURL_VERSION_ASYNCHDNS), !!(v->features & CURL_VERSION_LIBZ),
         !!(v->features & CURL_VERSION_IDN), !!(v->features & CURL_VERSION_HTTP2),
         v->ssl_version, v->cainfo ? v->cainfo : "-", v->capath ? v->capath : "-");
  for (const char *const *p = v->protocols; *p; p++) printf("%s,", *p);
  printf("\n");
  return 0;
}
C
run cc -std=c11 -I"$P/include" -o "$T/scheck" "$T/scheck.c" -ldl
expect_rc "a program that opens it with dlopen builds" 0
run "$T/scheck" "$S"
expect_rc "it opens with dlopen" 0
expect_match "TLS, Unix sockets (the library's agent client), a threaded resolver; no zlib, IDN or HTTP/2" \
  "$OUT" '^ssl=1 unix=1 async=1 libz=0 idn=0 http2=0 '
expect_match "OpenSSL 3 (the system's)" "$OUT" 'ssl_version=OpenSSL/3\.'
expect_match "HTTP and HTTPS its only protocols" "$OUT" 'protocols=(http,https,|https,http,)$'
sys_ca=$(curl-config --ca 2>/dev/null || true)
[ -n "$sys_ca" ] && expect_match "the CA bundle the system's libcurl uses ($sys_ca)" "$OUT" "cainfo=$sys_ca "
expect_match "and a CA directory" "$OUT" 'capath=/'
if ldd "$S" | grep -Eq 'libssl\.so\.3 => /(usr/)?lib/'; then
  pass "libssl comes from the system's library directory"
else
  fail "libssl is not the system's: $(ldd "$S" | grep libssl)"
fi

# the licence goes where the package's docs go
run cmake --install "$EK_BUILD_DIR" --prefix "$T/inst"
expect_rc "cmake --install" 0
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$EK_BUILD_DIR/CMakeCache.txt")
cmp -s "$T/inst/$libdir/libentrakey-curl.so.4" "$S" &&
  pass "libentrakey-curl.so.4 installed beside libentrakey.so.0 ($libdir)" ||
  fail "no $libdir/libentrakey-curl.so.4 in the install, or not PREFIX's"
lic=$T/inst/share/doc/entrakey/curl-COPYING
cmp -s "$lic" "$P/share/doc/COPYING" && pass "curl's licence installed as share/doc/entrakey/curl-COPYING" ||
  fail "no $lic, or not PREFIX's COPYING"
grep -q 'COPYRIGHT AND PERMISSION NOTICE' "$lic" 2>/dev/null && pass "and it is curl's licence" ||
  fail "$lic is not curl's licence"
finish
