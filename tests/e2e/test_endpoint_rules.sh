#!/usr/bin/env bash
# One rule set for the tenant, the client id and the authority host (issue
# 9): each row of endpoint_rules.txt gives the same verdict, the same
# sentence and the same URL in `entrakey assert`, `entrakey token`, and the
# library alone (endpoint_probe: ek_assertion_sign, ek_access_token_acquire).
# For a valid row the assertion's aud, the URL the token request was posted
# to (the Host header and path the endpoint saw, through a CONNECT proxy
# that takes every host to it) and the table's URL are one string. A
# refused row reaches no endpoint and never echoes a password.
# EK_TEST_SHARD=K/M checks the K-th of M parts of the rows (ctest runs the
# parts at once: e2e_test_endpoint_rules_1 ...); the table's own checks run
# in every part.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
e2e_setup
start_proxy
: "${ENDPOINT_PROBE:?run through ctest}"
# only the table decides: no Azure SDK variable, no proxy exception
unset AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_AUTHORITY_HOST NO_PROXY no_proxy
export HTTPS_PROXY="$PROXY"

auds_of() { # the aud claims of the JWTs given (not verified), one a line
  "$PY" -c 'import jwt, sys
for a in sys.argv[1:]:
    try:
        print(jwt.decode(a, options={"verify_signature": False})["aud"])
    except Exception:
        print("-")' "$@"
}
# the endpoint's request count, and the last request's URL and aud
seen() {
  stats "'%s|%s|%s' % ((s['token_requests'],) + ((s['requests'][-1].get('url'), s['requests'][-1].get('aud')) if s['requests'] else ('', '')))"
}
has_text() { # has_text NAME TEXT FRAGMENT (fixed string)
  if [[ "$2" == *"$3"* ]]; then pass "$1"; else
    fail "$1: '$3' not in: $2"; fi
}

control '{}'
rows=$(grep -cv '^#\|^$' "$E2E_DIR/endpoint_rules.txt")
shard_range "$rows"
row=0 valid=0 refused=0 count=0 ran=
while IFS= read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  row=$((row + 1))
  IFS='|' read -r f_tenant f_client f_auth expect <<<"$line"
  case "$expect" in 'error: '*) refused=$((refused + 1)) ;; *) valid=$((valid + 1)) ;; esac
  [ "$row" -ge "$SHARD_FROM" ] && [ "$row" -le "$SHARD_TO" ] || continue
  ran="$ran $expect"
  dec() { case "$1" in '(empty)') printf '' ;; *) printf '%b' "$1" ;; esac; }
  tenant=$(dec "$f_tenant"); client=$(dec "$f_client"); expect=$(dec "$expect")
  auth_args=(); probe_auth=-
  if [ "$f_auth" != '(none)' ]; then
    auth=$(dec "$f_auth"); auth_args=(--authority-host "$auth"); probe_auth=$auth
  fi
  name="row $row ($f_tenant | $f_client | $f_auth)"
  ids=(--tenant "$tenant" --client-id "$client")

  run "$EK" assert "$KEY_URI" "${ids[@]}" "${auth_args[@]}" --pin-source "file:$PIN_FILE"
  a_rc=$RC a_out=$OUT a_err=$ERR
  run "$EK" token "$KEY_URI" "${ids[@]}" "${auth_args[@]}" --ca-file "$CA_PEM" \
    --pin-source "file:$PIN_FILE" --timeout 10
  t_rc=$RC t_err=$ERR
  IFS='|' read -r t_count t_url t_aud <<<"$(seen)"
  run "$ENDPOINT_PROBE" assert "$KEY_URI" "file:$PIN_FILE" "$tenant" "$client" "$probe_auth"
  l_rc=$RC l_out=$OUT l_err=$ERR
  run "$ENDPOINT_PROBE" token "$KEY_URI" "file:$PIN_FILE" "$tenant" "$client" "$probe_auth" "$CA_PEM"
  lt_rc=$RC lt_err=$ERR
  IFS='|' read -r lt_count lt_url lt_aud <<<"$(seen)"

  case "$expect" in
  'error: '*)
    frag=${expect#error: }
    [ "$a_rc" -eq 2 ] && [ "$t_rc" -eq 2 ] && [ "$l_rc" -eq 2 ] && [ "$lt_rc" -eq 2 ] &&
      pass "$name: refused everywhere (assert, token: exit 2; library: EK_ERR_USAGE)" ||
      fail "$name: assert $a_rc, token $t_rc, library $l_rc/$lt_rc; expected 2: $a_err | $t_err | $l_err"
    has_text "$name: the library's sentence" "$l_err" "$frag"
    [ "$l_err" = "$lt_err" ] && pass "$name: ek_assertion_sign and ek_access_token_acquire say the same" ||
      fail "$name: '$l_err' vs '$lt_err'"
    # the CLI says what the library says (it may refuse a missing value
    # itself, before the library, in its own words)
    if [ "$a_err" = "entrakey: $l_err" ] || [[ "$frag" == *missing* ]]; then
      pass "$name: assert says the library's sentence"
    else fail "$name: assert: $a_err; library: $l_err"; fi
    if [ "$t_err" = "entrakey: $l_err" ] || [[ "$frag" == *missing* ]]; then
      pass "$name: token says the library's sentence"
    else fail "$name: token: $t_err; library: $l_err"; fi
    [ "$lt_count" = "$count" ] && pass "$name: no request reached an endpoint" ||
      fail "$name: $((lt_count - count)) requests"
    [[ "$a_err$t_err$l_err" != *pw@* && "$a_err$t_err$l_err" != *:pw* ]] &&
      pass "$name: no password in any sentence" || fail "$name: a password was shown"
    ;;
  *)
    [ "$a_rc" -eq 0 ] && [ "$l_rc" -eq 0 ] && pass "$name: assert and ek_assertion_sign sign" ||
      fail "$name: assert $a_rc ($a_err), library $l_rc ($l_err)"
    { read -r a_aud; read -r l_aud; } < <(auds_of "$a_out" "$l_out")
    [ "$a_aud" = "$expect" ] && [ "$l_aud" = "$expect" ] &&
      pass "$name: aud is $expect" || fail "$name: aud '$a_aud' / '$l_aud', expected $expect"
    [ "$t_url" = "$expect" ] && [ "$t_aud" = "$expect" ] &&
      pass "$name: token posts to the aud it signs" ||
      fail "$name: token posted to '$t_url' with aud '$t_aud' (exit $t_rc: $t_err)"
    [ "$lt_url" = "$expect" ] && [ "$lt_aud" = "$expect" ] &&
      pass "$name: ek_access_token_acquire posts to the aud it signs" ||
      fail "$name: library posted to '$lt_url' with aud '$lt_aud' (exit $lt_rc: $lt_err)"
    ;;
  esac
  count=$lt_count
done < "$E2E_DIR/endpoint_rules.txt"

[ "$row" -ge 30 ] && [ "$row" -eq "$rows" ] && [ "$valid" -ge 10 ] && [ "$refused" -ge 20 ] &&
  pass "the table has $row rows: $valid valid, $refused refused" ||
  fail "the table has only $row rows ($valid valid, $refused refused)"
[ "$SHARD_TO" -ge "$SHARD_FROM" ] && pass "rows $SHARD_FROM to $SHARD_TO checked" ||
  fail "no row checked (EK_TEST_SHARD=${EK_TEST_SHARD:-})"
# every tunnel was asked for by host name and port as the URL says (in the
# part that has the row; the table has both)
for hp in 'login.microsoftonline.us:443|https://login.microsoftonline.us/' \
  '[::1]:8443|https://[::1]:8443/'; do
  grep -qF "|${hp#*|}" "$E2E_DIR/endpoint_rules.txt" &&
    pass "the table has a row for ${hp%%|*}" || fail "the table has no row for ${hp%%|*}"
  [[ "$ran" == *" ${hp#*|}"* ]] || continue
  grep -qF -- "${hp%%|*}" "$PROXY_LOG" && pass "the proxy saw ${hp%%|*}" ||
    fail "the proxy did not see ${hp%%|*}: $(cat "$PROXY_LOG")"
done
finish
