# The cache: one fetch for 50 simultaneous cold requests, 16 clients on 16
# scopes at once, refresh ahead of expiry, and a failing endpoint during a
# refresh (500, 429 beyond --max-wait) never costs a still-valid token.
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

# tokens live 130 s; served while 60 s are left; refreshed at 120 s left
e2e_setup --lifetime 3600
start_agent --min-lifetime 60 || exit 1
L='"expires_in": 130'

# 50 simultaneous requests for a cold scope: one signature, one POST
# (hour-long tokens here: no refresh ahead while a loaded machine runs it)
control '{}'
tasks() { ls "/proc/$AGENT_PID/task" | sort; }
BASE=$(tasks)
for i in $(seq 50); do
  curl -s --max-time 60 --unix-socket "$SOCK" -X POST \
    --data "$(token_body)" -o "$T/sf.$i" -w '%{http_code}' \
    http://localhost/v1/token > "$T/sf.$i.code" &
  pids="${pids:-} $!"
done
wait $pids; pids=
ok=0
for i in $(seq 50); do
  [ "$(cat "$T/sf.$i.code")" = 200 ] && ok=$((ok + 1))
done
[ "$ok" = 50 ] && pass "50 simultaneous requests answered" ||
  fail "$ok of 50 answered"
n=$(for i in $(seq 50); do "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_token"])' "$T/sf.$i"; done | sort -u | wc -l)
[ "$n" = 1 ] && pass "all 50 got the same token" || fail "$n different tokens"
[ "$(stats 's["token_requests"]')" = 1 ] && pass "one POST at the endpoint" ||
  fail "$(stats 's["token_requests"]') POSTs for 50 requests"
req GET /v1/status
[ "$(jget 'd["keys"][0]["signatures"]')" = 1 ] && pass "one signature" ||
  fail "signatures: $(jget 'd["keys"][0]["signatures"]')"

# no thread per request: the threads that served the burst (workers, the
# key's signing thread) are kept, and the next requests reuse them
S1=$(tasks)
for i in $(seq 20); do req GET /v1/status; done
for i in $(seq 5); do req POST /v1/assertion "$(token_body)"; done
S2=$(tasks)
new=$(comm -13 <(echo "$S1") <(echo "$S2") | wc -l)
[ "$(echo "$S1" | wc -l)" -gt "$(echo "$BASE" | wc -l)" ] && [ "$new" = 0 ] &&
  pass "threads kept and reused (no new thread for 25 more requests)" ||
  fail "threads: $(echo "$BASE" | wc -l) before the burst, $(echo "$S1" | wc -l) after, $new new for 25 more"

# (reload empties the cache: earlier entries are not refreshed meanwhile)
# 16 clients (whole entrakey processes) on 16 scopes at once
req POST /v1/reload
control '{}'
for i in $(seq 16); do
  "$EK" token "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
    --authority-host "$AUTH" --ca-file "$CA_PEM" --agent --format json \
    --scope "api://app$i/.default" > "$T/c16.$i" 2> "$T/c16.$i.err" &
  pids="${pids:-} $!"
done
wait $pids; pids=
good=0
for i in $(seq 16); do
  "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d.get("scope", d["resource"])==sys.argv[2] and d["access_token"]' \
    "$T/c16.$i" "api://app$i/.default" 2>/dev/null && good=$((good + 1))
done
[ "$good" = 16 ] && pass "16 concurrent clients, each its own scope's token" ||
  fail "$good of 16 right: $(cat "$T"/c16.*.err | head -5)"
[ "$(stats 's["token_requests"]')" = 16 ] && pass "16 POSTs for 16 scopes" ||
  fail "$(stats 's["token_requests"]') POSTs"

# refresh ahead: the background refresh while the old token is still good
req POST /v1/reload
control "{$L}"
req POST /v1/token "$(token_body 'api://refresh/.default')"
first=$(jget 'd["access_token"]')
sleep 13
[ "$(stats 's["token_requests"]')" -ge 2 ] && pass "refreshed ahead" ||
  fail "no refresh: $(stats 's["token_requests"]') POSTs"
req POST /v1/token "$(token_body 'api://refresh/.default')"
[ "$(jget 'd["source"]')" = cache ] && [ "$(jget 'd["access_token"]')" != "$first" ] &&
  pass "the refreshed token is served from the cache" || fail "after refresh: $OUT"

# Entra failing during refresh: 500s, then 429 beyond --max-wait
for act in json500 throttle; do
  req POST /v1/reload
  control "{$L}"
  req POST /v1/token "$(token_body "api://$act/.default")"
  good_tok=$(jget 'd["access_token"]')
  control '{"actions": ["'$act'","'$act'","'$act'","'$act'","'$act'","'$act'","'$act'","'$act'"], "retry_after": "3000", '"$L"'}'
  sleep 13
  n=$(stats 's["token_requests"]')
  [ "$n" -ge 1 ] && pass "$act: the refresh was tried ($n)" || fail "$act: no refresh tried"
  req POST /v1/token "$(token_body "api://$act/.default")"
  [ "$CODE" = 200 ] && [ "$(jget 'd["access_token"]')" = "$good_tok" ] &&
    pass "$act during refresh: the cached token is still served" ||
    fail "$act: $CODE $OUT"
  req GET /v1/status
  expect_match "$act: status shows the last error" "$OUT" "last_error"
done
# a cold scope while the endpoint throttles: the error, for every waiter
req POST /v1/reload
control '{"actions": ["throttle","throttle","throttle","throttle"], "retry_after": "3000", '"$L"'}'
for i in 1 2 3; do
  curl -s --max-time 60 --unix-socket "$SOCK" -X POST \
    --data "$(token_body api://cold429/.default)" -o "$T/th.$i" \
    -w '%{http_code}' http://localhost/v1/token > "$T/th.$i.code" &
  pids="${pids:-} $!"
done
wait $pids; pids=
codes=$(for f in "$T"/th.*.code; do cat "$f"; echo; done | sort -u | tr '\n' ' ')
[ "$codes" = "429 " ] && pass "throttled beyond max-wait: 429 for all waiters" ||
  fail "codes: $codes $(cat "$T/th.1")"
[ "$(stats 's["token_requests"]')" = 1 ] && pass "one POST for the throttled waiters" ||
  fail "$(stats 's["token_requests"]') POSTs while throttled"

# a min_lifetime longer than the endpoint's tokens live: said (400), and
# not asked of the endpoint again for each such request
req POST /v1/reload
control '{"expires_in": 900}'
ml() { token_body api://long/.default | sed 's/}$/,"min_lifetime":'"$1"'}/'; }
req POST /v1/token "$(ml 1000)"
expect_match "min_lifetime beyond a token's life: 400" "$CODE" '^400$'
expect_match "min_lifetime beyond a token's life: said" "$OUT" \
  'min_lifetime 1000 s is more than a token from this endpoint lives \(9[0-9][0-9] s\)'
req POST /v1/token "$(ml 1000)"
expect_match "asked again: 400" "$CODE" '^400$'
[ "$(stats 's["token_requests"]')" = 1 ] && pass "asked again: no new POST" ||
  fail "$(stats 's["token_requests"]') POSTs for two requests it cannot meet"
req POST /v1/token "$(ml 600)"
[ "$CODE" = 200 ] && [ "$(jget 'd["source"]')" = cache ] &&
  pass "a min_lifetime it can meet: the cached token" || fail "$CODE $OUT"
finish
