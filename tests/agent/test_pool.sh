# The agent's worker pool over time: a burst of requests that all wait
# (for one token being fetched) starts a worker each; once idle for 30 s
# (POOL_IDLE_S), all but four end, and every ended one is joined. An
# ended thread that is never joined keeps its stack mapped: two bursts,
# each followed by the idle end, then leave the agent's address space
# larger by the second burst's threads. Joined, the second burst reuses
# what the first left. Mostly waiting (two idle periods, about 70 s).
. "$EK_SOURCE_DIR/tests/lib/common.sh"
. "$EK_SOURCE_DIR/tests/e2e/lib.sh"
. "$EK_SOURCE_DIR/tests/agent/lib.sh"

e2e_setup --lifetime 3600
start_agent || exit 1
ntasks() { ls "/proc/$AGENT_PID/task" | wc -l; }
vmsize() { awk '/^VmSize:/ { print $2 }' "/proc/$AGENT_PID/status"; }
# the threads of an agent that has served: its own, one worker, what a
# fetched token starts
req POST /v1/token "$(token_body)"
[ "$CODE" = 200 ] || fail "a first token: $CODE $OUT"
BASE=$(ntasks)
N=24

# burst SCOPE: N requests for the cold SCOPE while the endpoint holds the
# one fetch for 3 s: each request holds a worker meanwhile; all answered
burst() {
  local i ok=0 pids=
  control '{"actions": ["hang"], "hang": 3}'
  for i in $(seq $N); do
    curl -s --max-time 60 --unix-socket "$SOCK" -X POST \
      --data "$(token_body "$1")" -o /dev/null -w '%{http_code}' \
      http://localhost/v1/token > "$T/b.$i.code" &
    pids="$pids $!"
  done
  # the workers, counted while they wait
  sleep 1.5
  PEAK=$(ntasks)
  wait $pids
  for i in $(seq $N); do
    case $(cat "$T/b.$i.code") in 200|502|503|504) ok=$((ok + 1)) ;; esac
  done
  [ "$ok" = $N ] && pass "$2: $N waiting requests answered" ||
    fail "$2: $ok of $N answered"
  [ "$PEAK" -ge $((BASE + N / 2)) ] &&
    pass "$2: a worker per waiting request ($BASE threads before, $PEAK while waiting)" ||
    fail "$2: $BASE threads before, $PEAK while $N requests waited"
}

# idle_end: waits (up to 90 s) until no more than four workers are left
# (the base has one)
idle_end() {
  local i
  for i in $(seq 90); do
    [ "$(ntasks)" -le $((BASE + 3)) ] && break
    sleep 1
  done
  [ "$(ntasks)" -le $((BASE + 3)) ] &&
    pass "$1: idle workers beyond four ended ($(ntasks) threads, $BASE before)" ||
    fail "$1: $(ntasks) threads after 90 s idle, $BASE before"
}

burst api://pool1/.default "first burst"
idle_end "first burst"
V1=$(vmsize)
burst api://pool2/.default "second burst"
idle_end "second burst"
V2=$(vmsize)
# an unjoined thread keeps 8 MiB of stack mapped: twenty of them are
# 160 MiB; the threads of the second burst reuse the first one's
[ $((V2 - V1)) -lt $((64 * 1024)) ] &&
  pass "ended workers joined: address space $((V1 / 1024)) MiB after the first burst, $((V2 / 1024)) MiB after the second" ||
  fail "ended workers not joined: address space grew from $((V1 / 1024)) to $((V2 / 1024)) MiB"

# the kept workers still serve, and the agent stops cleanly
control '{}'
req POST /v1/token "$(token_body api://pool3/.default)"
[ "$CODE" = 200 ] && pass "served after the idle end" || fail "after the idle end: $CODE $OUT"
kill "$AGENT_PID"
wait "$AGENT_PID"
rc=$?
AGENT_PID=
[ "$rc" = 0 ] && [ ! -e "$SOCK" ] && pass "SIGTERM: exit 0, socket gone" ||
  fail "SIGTERM: exit $rc$([ -e "$SOCK" ] && echo ', socket left')"
finish
