#!/usr/bin/env bash
# test_config_perms.sh: a configuration someone else can change decides
# nothing (issue 15, item 9): a config file that is group- or
# world-writable, another user's, or in a directory others can write, is
# refused as ssh refuses such a file, naming it and `chmod`, before any
# module it names is loaded.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
fresh_token cfgtok
export XDG_RUNTIME_DIR="$T/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
cd "$T" || exit 1
D="$T/cfgdir"
mkdir -m 700 "$D"
# a module that must never be loaded: loading it would say so with -v
cat > "$D/config" <<CONF
[profile p]
tenant = contoso.onmicrosoft.com
client_id = 11111111-2222-3333-4444-555555555555
key = pkcs11:token=cfgtok;object=none
module = $T/evil.so
CONF
TOK=(token --profile p --config "$D/config" --pin-source "file:$PIN_FILE" -v)

refused() {
  local name=$1 re=$2
  run env -u ENTRAKEY_MODULE "$EK" "${TOK[@]}"
  expect_rc "$name: token exits 2" 2
  expect_match "$name: says why and what to do" "$ERR" "$re"
  expect_nomatch "$name: the module was not loaded" "$ERR" 'evil\.so'
  run "$EK" profile list --config "$D/config"
  expect_rc "$name: profile list exits 2" 2
  expect_nomatch "$name: profile list shows nothing" "$OUT" '^p$'
}

chmod 666 "$D/config"
refused "a 0666 config" \
  "config file '$D/config' can be changed by group or others \\(mode 0666, uid [0-9]+\\); it decides which PKCS#11 module is loaded, so it was not read. Run chmod 600 '$D/config'"
chmod 620 "$D/config"
refused "a group-writable config" "config file '$D/config' can be changed by group or others \\(mode 0620"
chmod 600 "$D/config"
chmod 777 "$D"
refused "a config in a world-writable directory" \
  "the directory '$D' of config file '$D/config' can be changed by group or others \\(mode 0777.*Run chmod go-w '$D'"
chmod 700 "$D"
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
  chown nobody "$D/config"
  refused "another user's config" "config file '$D/config' belongs to another user"
  chown 0 "$D/config"
else
  skip "another user's config (needs root to chown)"
fi

# a safe file is read: the module it names is the one tried, and the
# message says where the module came from
run env -u ENTRAKEY_MODULE "$EK" "${TOK[@]}"
expect_rc "a 0600 config is read (its module does not exist: exit 3)" 3
expect_match "the module named by the profile was tried" "$ERR" "evil\\.so"
expect_match "... and the message says it came from the profile" "$ERR" \
  "\\(from module = in profile 'p' of $D/config\\)"
expect_nomatch "... not from --module" "$ERR" 'from --module'
# a sticky directory such as /tmp is fine: others cannot replace the file
chmod 1777 "$D"
run "$EK" profile list --config "$D/config"
expect_rc "a config in a sticky directory is read" 0
expect_match "... and lists the profile" "$OUT" '^p$'
chmod 700 "$D"
finish
