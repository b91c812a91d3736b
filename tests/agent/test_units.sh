# The systemd units: installed by cmake --install, pointing at the
# installed binary, with the hardening the agent relies on; systemd itself
# finds nothing else wrong with the system variant.
. "$EK_SOURCE_DIR/tests/lib/common.sh"

cmake --install "$EK_BUILD_DIR" --prefix "$T/inst" >"$T/install.log" 2>&1 ||
  { fail "cmake --install"; cat "$T/install.log"; finish; }
U="$T/inst/share/systemd/user" S="$T/inst/lib/systemd/system"
for f in "$U/entrakey-agent.socket" "$U/entrakey-agent.service" \
         "$S/entrakey-agent-system.socket" "$S/entrakey-agent-system.service"; do
  [ -f "$f" ] && pass "installed: ${f#$T/inst/}" || fail "missing: ${f#$T/inst/}"
done
bin=$(sed -n 's/^ExecStart=\([^ ]*\) agent.*/\1/p' "$S/entrakey-agent-system.service")
[ -n "$bin" ] && [ "$(basename "$bin")" = entrakey ] && [ "${bin#/}" != "$bin" ] &&
  pass "ExecStart names the installed entrakey ($bin)" || fail "ExecStart: $bin"
for d in 'LoadCredentialEncrypted=entrakey-pin:' 'UMask=0177' \
         'RuntimeDirectory=entrakey' 'NoNewPrivileges=yes' \
         'ProtectSystem=strict' 'ExecReload=/bin/kill -HUP $MAINPID' \
         'LimitCORE=0'; do
  grep -qF -- "$d" "$S/entrakey-agent-system.service" &&
    pass "system service: $d" || fail "system service lacks $d"
done
# where the user manager looks: a prefix of ~/.local is $XDG_DATA_HOME's
# parent (~/.local/share); /usr/local and /usr are searched by default
if command -v systemd-analyze >/dev/null; then
  XDG_DATA_HOME="$T/inst/share" XDG_CONFIG_HOME="$T/cfg" \
    systemd-analyze --user unit-paths > "$T/paths" 2>&1
  grep -qxF "$U" "$T/paths" &&
    pass "user units where systemd --user finds them (as ~/.local/share/systemd/user)" ||
    fail "user units in $U, not among systemd --user's paths: $(tr '\n' ' ' < "$T/paths")"
  grep -qx '/usr/local/share/systemd/user' "$T/paths" &&
    grep -qx '/usr/share/systemd/user' "$T/paths" &&
    pass "and /usr/local/share, /usr/share are searched" ||
    fail "systemd --user does not search /usr/local/share or /usr/share"
else
  skip "no systemd-analyze"
fi
grep -q '^SocketMode=0600' "$U/entrakey-agent.socket" &&
  grep -q '^ListenStream=%t/entrakey/agent.sock' "$U/entrakey-agent.socket" &&
  pass "user socket: %t/entrakey/agent.sock, 0600" || fail "user socket"
if command -v systemd-analyze >/dev/null; then
  out=$(cd "$S" && SYSTEMD_LOG_LEVEL=err systemd-analyze verify --man=no \
    ./entrakey-agent-system.socket ./entrakey-agent-system.service 2>&1 |
    grep -v -e 'is not executable' -e 'Failed to lookup' \
      -e 'Failed to initialize manager' -e "$bin" || true)
  [ -z "$out" ] && pass "systemd-analyze verify: nothing else" ||
    fail "systemd-analyze verify: $out"
else
  skip "no systemd-analyze"
fi
finish
