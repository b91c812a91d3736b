#!/usr/bin/env bash
# Load: 8 `entrakey assert` processes at once, each running 50 times in a
# row, against one SoftHSM token: every one exits 0 with one JWT and
# nothing on stderr, and python3-jwt verifies all 400 (signature with the
# certificate's key, x5t#S256, aud, iss, sub, and 400 different jti).
#
# SoftHSM 2.6.1 rewrites the token's token.object file on every successful
# C_Login (it clears CKF_USER_PIN_COUNT_LOW), and a process that reads the
# store while another rewrites it sees no token, or gets CKR_GENERAL_ERROR
# (softhsm/SoftHSMv2#757; pkcs11-tool alone fails the same way, about one
# login in four at 8 processes). So the 400 run on the token with its store
# made read-only once the key and certificate exist (signing needs no
# write; as root, the runs drop CAP_DAC_OVERRIDE so the mode binds). A
# second round on the writable store checks that what SoftHSM's race does
# to a run is a clean failure: exit 3 or 4, nothing on stdout, one
# "entrakey: ..." sentence, and never a crash or a partial JWT.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
source "$EK_SOURCE_DIR/tests/hardening/lib.sh"
hd_key loadtok lk
P=8 N=50
STORE="$T/softhsm/tokens"
NOCAP=()
if [ "$(id -u)" -eq 0 ]; then
  command -v setpriv >/dev/null || { fail "setpriv (util-linux) is needed when run as root"; finish; }
  NOCAP=(setpriv --bounding-set=-dac_override,-dac_read_search --)
fi

# round NAME N: $P workers, each running `entrakey assert` N times; each
# run leaves NAME/W.J.{rc,out,err}
round() {
  local name=$1 n=$2 i pids=()
  mkdir -p "$T/$name"
  for i in $(seq "$P"); do
    ( for j in $(seq "$n"); do
        "${NOCAP[@]}" "$EK" assert "$KEY_URI" --tenant "$HD_TENANT" \
          --client-id "$HD_CLIENT" "${PS[@]}" >"$T/$name/$i.$j.out" \
          2>"$T/$name/$i.$j.err" </dev/null
        echo $? > "$T/$name/$i.$j.rc"
      done ) &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i"; done
}

# ---------------------------------------- read-only store: all must succeed
chmod -R a-w "$STORE"
on_exit "chmod -R u+w $STORE"
start=$(date +%s%N)
round ro "$N"
echo "# $((P * N)) runs in $(( ($(date +%s%N) - start) / 1000000 )) ms"
bad=$(grep -Lx 0 "$T"/ro/*.rc | wc -l)
if [ "$bad" -eq 0 ]; then pass "$P x $N runs at once: all exit 0"; else
  fail "$bad of $((P * N)) runs failed; the first:"
  f=$(grep -Lx 0 "$T"/ro/*.rc | head -1); cat "${f%.rc}.err" | sed 's/^/#   /'; fi
expect_match "nothing on stderr in any run" "$(cat "$T"/ro/*.err | wc -c)" '^0$'
cat "$T"/ro/*.out > "$T/all.jwt"
expect_match "each run printed one JWT line" "$(wc -l < "$T/all.jwt") $(grep -cvE '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "$T/all.jwt")" "^$((P * N)) 0\$"
expect_verified "python3-jwt verifies all $((P * N)), every jti different" "$T/all.jwt" $((P * N))

# ------------------ writable store: SoftHSM's race must fail runs cleanly
chmod -R u+w "$STORE"
round rw 25
ok=0 clean=0 unclean=()
for f in "$T"/rw/*.rc; do
  b=${f%.rc} rc=$(cat "$f")
  if [ "$rc" -eq 0 ]; then ok=$((ok + 1)); cat "$b.out" >> "$T/rw.jwt"
  elif { [ "$rc" -eq 3 ] || [ "$rc" -eq 4 ]; } && [ ! -s "$b.out" ] &&
       [ "$(wc -l < "$b.err")" -le 2 ] && [ -s "$b.err" ] &&
       ! grep -qv '^entrakey: ' "$b.err"; then
    # the library's sentence, and at most the command's hint line
    clean=$((clean + 1))
  else unclean+=("exit $rc, $(wc -c < "$b.out") bytes out: $(head -c 300 "$b.err")"); fi
done
echo "# writable store: $ok succeeded, $clean failed cleanly (SoftHSM's race)"
if [ ${#unclean[@]} -eq 0 ]; then pass "writable store: every run succeeds or fails cleanly"
else fail "writable store: ${#unclean[@]} runs failed badly:"; printf '#   %s\n' "${unclean[@]:0:5}"; fi
[ "$ok" -gt 0 ] && expect_verified "writable store: the $ok JWTs verify" "$T/rw.jwt" "$ok"
finish
