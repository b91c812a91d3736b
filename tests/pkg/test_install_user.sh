#!/usr/bin/env bash
# `scripts/dev.sh install` as a user who is not root, from a fresh copy of
# the sources: it builds without the tests in its own directory, installs
# to ~/.local, and ~/.local/bin/entrakey then runs by name, `man -w` finds
# its page through PATH, and a program builds with ~/.local's entrakey.pc.
# As root the test drops to `nobody` (setpriv); as a user it is that user.
source "$EK_SOURCE_DIR/tests/lib/common.sh"
unset LD_LIBRARY_PATH PKG_CONFIG_PATH MANPATH
if grep -q '^EK_SANITIZE:BOOL=ON' "$EK_BUILD_DIR/CMakeCache.txt"; then
  echo "SKIP: dev.sh install makes its own plain build; tested in the plain build"
  exit 77
fi

# a world-traversable place: $T is 0700 and root's
U=$(mktemp -d "${TMPDIR:-/tmp}/ek-install-user.XXXXXX")
chmod 755 "$U"
on_exit "rm -rf $U"
mkdir -p "$U/home" "$U/src"
tar -C "$EK_SOURCE_DIR" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$U/src" -xf -
as_user=()
if [ "$(id -u)" -eq 0 ]; then
  chown -R nobody:nogroup "$U/home" "$U/src"
  as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
fi
# dev.sh's cache of the lean libcurl (scripts/lean-curl.sh): this build's
# (EK_AGENT_CURL), so that the test fetches and builds no curl; without
# one, a lean curl that cannot be made (an offline user): one warning, and
# the install goes on without it
curl_prefix=$(sed -n 's/^EK_AGENT_CURL:PATH=//p' "$EK_BUILD_DIR/CMakeCache.txt")
mkdir -p "$U/cache"
no_curl=()
if [ -n "$curl_prefix" ]; then
  cp -r "$curl_prefix" "$U/cache/lean-curl"
else
  no_curl=(EK_CURL_DSC="$U/no-such.dsc")
fi
[ "$(id -u)" -eq 0 ] && chown -R nobody:nogroup "$U/cache"
# the user's environment: nothing of ours, ~/.local/bin not on PATH yet
user_env=(env -i HOME="$U/home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8
  EK_CACHE_DIR="$U/cache" "${no_curl[@]}")

run "${as_user[@]}" "${user_env[@]}" "$U/src/scripts/dev.sh" install
expect_rc "dev.sh install as $(${as_user[@]+"${as_user[@]}"} id -un)" 0
expect_match "says where entrakey is" "$OUT" "installed in $U/home/.local/bin/entrakey"
expect_match "says how to put ~/.local/bin on PATH" "$OUT" "export PATH=\"$U/home/.local/bin:\\\$PATH\""
[ -x "$U/home/.local/bin/entrakey" ] && pass "~/.local/bin/entrakey" || fail "no ~/.local/bin/entrakey"
[ -d "$U/src/build-install" ] && pass "built in its own directory build-install/" || fail "no build-install/"
if [ -n "$curl_prefix" ]; then
  grep -qx "EK_AGENT_CURL:PATH=$U/cache/lean-curl" "$U/src/build-install/CMakeCache.txt" &&
    pass "with the lean libcurl from dev.sh's cache" || fail "build-install/ is not configured with $U/cache/lean-curl"
  expect_nomatch "no warning about it" "$ERR" "warning: no lean libcurl"
else
  expect_match "no lean libcurl: one warning" "$ERR" "^dev.sh: warning: no lean libcurl"
  grep -qx "EK_AGENT_CURL:PATH=" "$U/src/build-install/CMakeCache.txt" &&
    pass "and the build goes on without it" || fail "build-install/ has an EK_AGENT_CURL"
fi
[ ! -e "$U/src/build-install/tests" ] && pass "without the tests" || fail "the tests were built"
[ -z "$(find "$U/src/build-install" -name 'fuzz_*' -type f -perm -u+x)" ] &&
  pass "without the fuzzers" || fail "fuzzers were built"
[ -f "$U/home/.local/share/bash-completion/completions/entrakey" ] &&
  pass "bash completion where bash-completion looks for a user's" || fail "no bash completion in ~/.local/share"
[ -f "$U/home/.local/share/zsh/vendor-completions/_entrakey" ] &&
  pass "zsh completion in ~/.local/share/zsh/vendor-completions" || fail "no zsh completion in ~/.local/share"

upath=(env -i HOME="$U/home" PATH="$U/home/.local/bin:/usr/bin:/bin" LANG=C.UTF-8)
run "${as_user[@]}" "${upath[@]}" entrakey --version
expect_rc "entrakey runs by name with ~/.local/bin on PATH" 0
expect_match "its version" "$OUT" "^entrakey [0-9]+\.[0-9]+\.[0-9]+ \(libentrakey"
run "${as_user[@]}" "${upath[@]}" man -w entrakey
expect_match "man -w entrakey finds ~/.local's page" "$OUT" "^$U/home/.local/share/man/man1/entrakey\.1\.gz$"

cat > "$U/home/user.c" <<'C'
#include <stdio.h>
#include <entrakey.h>
int main(void) { printf("%s\n", ek_version()); return 0; }
C
[ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$U/home/user.c"
pcdir=$(dirname "$(find "$U/home/.local" -name entrakey.pc)")
run "${as_user[@]}" "${upath[@]}" PKG_CONFIG_PATH="$pcdir" sh -c \
  'cc "$HOME/user.c" -o "$HOME/user" $(pkg-config --cflags --libs entrakey) \
     -Wl,-rpath,$(pkg-config --variable=libdir entrakey) && "$HOME/user"'
expect_rc "a program builds with ~/.local's entrakey.pc and runs" 0
expect_match "against ~/.local's library" "$OUT" "^[0-9]+\.[0-9]+\.[0-9]+$"

# a PREFIX the user cannot write: a clear refusal, nothing built
if [ "$(id -u)" -eq 0 ]; then
  run "${as_user[@]}" "${user_env[@]}" "$U/src/scripts/dev.sh" install /usr/local/ek-test-no
  expect_rc "an unwritable PREFIX: exit 1" 1
  expect_match "says why and what to do" "$ERR" "cannot write to /usr/local/ek-test-no; run as root"
  [ ! -e /usr/local/ek-test-no ] && pass "nothing made there" || { fail "made /usr/local/ek-test-no"; rm -rf /usr/local/ek-test-no; }
fi
run "${as_user[@]}" "${user_env[@]}" "$U/src/scripts/dev.sh" install relative/dir
expect_rc "a relative PREFIX: usage error" 2
finish
