#!/usr/bin/env bash
# Retries and transport failures, counted at the endpoint: 429 and 503 with
# Retry-After are waited out (up to --max-wait, at most 3 times); a 5xx,
# a lost connection or a timeout is tried once more; a 400 never; a hang
# ends at --timeout; bodies are capped at 64 KiB; proxies are honoured.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/e2e/lib.sh"
e2e_setup

count() { stats 's["token_requests"]'; }
now_ms() { date +%s%3N; }

control '{"actions": ["throttle"], "retry_after": "1"}'
tok
expect_rc "429 then 200: a token" 0
expect_match "... exactly 2 requests" "$(count)" '^2$'
expect_match "... the retry re-used the same assertion" "$(stats 's["requests"][0]["jti"] is not None and s["requests"][0]["jti"] == s["requests"][1]["jti"]')" '^True$'
expect_match "... the wait is said on stderr" "$ERR" 'warning: 127\.0\.0\.1:[0-9]+ answered HTTP 429; waiting 1 s as it asks \(Retry-After: 1\), then retry 1 of 3'
[ "$OUT" = "$(stats 's["issued"][-1]')" ] && pass "... the token printed is the one issued" ||
  fail "... the token printed is not the one issued"

control '{"actions": ["throttle503", "throttle", "throttle"], "retry_after": "0"}'
tok
expect_rc "503+Retry-After, 429, 429, then 200: a token" 0
expect_match "... exactly 4 requests" "$(count)" '^4$'

control '{"actions": ["throttle", "throttle", "throttle", "throttle"], "retry_after": "0"}'
tok
expect_rc "throttled 4 times: exit 6" 6
expect_match "... gives up after 3 retries" "$ERR" 'still throttling \(HTTP 429\) after 3 retries'
expect_match "... exactly 4 requests" "$(count)" '^4$'

control '{"actions": ["throttle"], "retry_after": "120"}'
start=$(now_ms)
tok --max-wait 5
elapsed=$(( $(now_ms) - start ))
expect_rc "Retry-After 120 beyond --max-wait 5: exit 6" 6
expect_match "... says how long the server asked" "$ERR" 'asks to wait 120 s \(Retry-After: 120\), more than the 5 s it may wait; try again later or allow a longer wait'
expect_match "... without waiting, 1 request" "$(count)" '^1$'
[ "$elapsed" -lt 5000 ] && pass "... at once (${elapsed} ms)" || fail "... took ${elapsed} ms"

# Retry-After as an HTTP-date 2 s ahead
when=$(LC_ALL=C date -u -d '+2 seconds' '+%a, %d %b %Y %H:%M:%S GMT')
control "{\"actions\": [\"throttle\"], \"retry_after\": \"$when\"}"
tok
expect_rc "Retry-After as an HTTP-date: a token" 0
expect_match "... 2 requests" "$(count)" '^2$'

control '{"actions": ["html503"]}'
tok
expect_rc "503 HTML page then 200: a token" 0
expect_match "... tried once more after the 5xx: 2 requests" "$(count)" '^2$'
expect_match "... said on stderr" "$ERR" 'answered HTTP 503; trying once more in 1 s'

control '{"actions": ["html503", "html503", "html503"]}'
tok
expect_rc "503 HTML twice: exit 6" 6
expect_match "... the page is named, not parsed" "$ERR" 'the token endpoint https://127\.0\.0\.1:[0-9]+/[^ ]+/token failed with HTTP 503, twice \(a text/html page, not JSON: "Service Unavailable Service Unavailable HTTP Error 503\. The service is unavailable\."\); the service is in trouble: try again later'
expect_match "... tried twice, no more" "$(count)" '^2$'

control '{"actions": ["json500", "json500"]}'
tok
expect_rc "500 with an AADSTS error twice: exit 6" 6
expect_match "... the AADSTS text, and try later" "$ERR" 'failed with HTTP 500, twice \(server_error: AADSTS90033: A transient error has occurred\. Please try again \(trace ID [0-9a-f-]+\)\); the service is in trouble: try again later'
expect_match "... 2 requests" "$(count)" '^2$'

# a 400 is never retried
control '{}'
tok --scope "https://graph.microsoft.com/Mail.Read"
expect_rc "400 invalid_scope: exit 5" 5
expect_match "... 1 request" "$(count)" '^1$'

# a hang ends at --timeout (one more try, as for any lost answer)
control '{"actions": ["hang", "hang"], "hang": 30}'
start=$(now_ms)
tok --timeout 2
elapsed=$(( $(now_ms) - start ))
expect_rc "no answer: exit 6" 6
expect_match "... no answer within 2 s from the host, raise the timeout" "$ERR" 'entrakey: after 2 tries: no answer within 2 s from 127\.0\.0\.1:[0-9]+ \(CURLE_OPERATION_TIMEDOUT: .*\); check the network or raise the timeout$'
expect_match "... the first timeout was announced" "$ERR" 'warning: 127\.0\.0\.1:[0-9]+: no answer within 2 s \(CURLE_OPERATION_TIMEDOUT\); trying once more in 1 s'
[ "$elapsed" -le 7000 ] && pass "... ended within timeout+5 s (${elapsed} ms)" ||
  fail "... took ${elapsed} ms, more than timeout+5 s"
expect_match "... 2 requests" "$(count)" '^2$'
control '{"actions": ["hang"], "hang": 30}'
tok --timeout 2
expect_rc "one hang, then an answer: a token" 0

# an answer cut short
control '{"actions": ["truncate", "truncate"]}'
tok
expect_rc "body shorter than Content-Length, twice: exit 6" 6
expect_match "... the exchange broke off" "$ERR" 'broke off \(CURLE_PARTIAL_FILE'
expect_nomatch "... no piece of the token is shown" "$ERR" 'eyJ|access_token'
expect_match "... 2 requests" "$(count)" '^2$'

# bodies over 64 KiB are refused, with or without a Content-Length
control '{"actions": ["huge"]}'
tok
expect_rc "1 MiB answer: exit 6" 6
expect_match "... response larger than 64 KiB" "$ERR" 'response larger than 64 KiB'
expect_match "... not retried: 1 request" "$(count)" '^1$'
control '{"actions": ["huge_noclen"]}'
tok
expect_rc "1 MiB answer without Content-Length: exit 6" 6
expect_match "... response larger than 64 KiB" "$ERR" 'response larger than 64 KiB'

# proxies: HTTPS_PROXY is honoured (a dead proxy fails), NO_PROXY too
dead=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
control '{}'
HTTPS_PROXY="http://127.0.0.1:$dead" tok
expect_rc "through a dead proxy: exit 6" 6
expect_match "... cannot connect, the proxy is mentioned" "$ERR" 'cannot connect to .*CURLE_COULDNT_CONNECT.*proxy is set in HTTPS_PROXY'
expect_match "... no request reached the endpoint" "$(count)" '^0$'
HTTPS_PROXY="http://127.0.0.1:$dead" NO_PROXY=127.0.0.1 tok
expect_rc "dead proxy but NO_PROXY=127.0.0.1: a token" 0
expect_match "... 1 request" "$(count)" '^1$'

# nothing listens: a connection error, tried once more
run "$EK" token "$KEY_URI" --tenant "$TENANT" --client-id "$CLIENT_ID" \
  --authority-host "https://127.0.0.1:$dead" --ca-file "$CA_PEM" \
  --pin-source "file:$PIN_FILE"
expect_rc "nothing listening: exit 6" 6
expect_match "... cannot connect, tried twice" "$ERR" "after 2 tries: cannot connect to https://127\.0\.0\.1:$dead/.*CURLE_COULDNT_CONNECT"
expect_match "... the retry was announced" "$ERR" "warning: 127\.0\.0\.1:$dead: cannot connect \(CURLE_COULDNT_CONNECT\); trying once more in 1 s"

finish
