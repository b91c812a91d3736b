#!/usr/bin/env bash
# lint.sh: static analysis of the library and the command (src/, pkcs11/,
# src/cli/): cppcheck with tests/cppcheck-suppressions.xml, and clang-tidy
# with the repository's .clang-tidy, both from the build's
# compile_commands.json. Any finding fails (exit 1); a missing tool is an
# error (exit 2), never a silent pass.
#
#   tests/lint.sh [BUILD-DIR]     (default: build; configured here with
#                                  CMAKE_EXPORT_COMPILE_COMMANDS=ON)
#   LINT_ONLY=cppcheck|clang-tidy|format tests/lint.sh    one of the three
# format: every C file git knows is as clang-format (with the committed
# .clang-format) writes it; fix with
#   git ls-files '*.c' '*.h' | xargs clang-format -i
set -u
cd "$(dirname "$0")/.." || exit 2
SRC=$PWD
BUILD=${1:-build}
ONLY=${LINT_ONLY:-}
for tool in cppcheck clang-tidy clang-format; do
  t=$tool; [ "$t" = clang-format ] && t=format
  [ -n "$ONLY" ] && [ "$ONLY" != "$t" ] && continue
  command -v "$tool" >/dev/null ||
    { echo "lint.sh: $tool is not installed (apt-get install $tool)" >&2; exit 2; }
done

# the compilation database: the flags each file is really built with
cmake -S "$SRC" -B "$BUILD" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null ||
  { echo "lint.sh: cmake could not configure $BUILD" >&2; exit 2; }
LINT="$BUILD/lint"
mkdir -p "$LINT"
# only our sources: the library and the command, not the tests
/usr/bin/python3 - "$BUILD/compile_commands.json" "$LINT" "$SRC" <<'PY' || exit 2
import json, os, sys
db, out, src = sys.argv[1:4]
keep, seen = [], set()
for e in json.load(open(db)):
    f = os.path.normpath(os.path.join(e["directory"], e["file"]))
    rel = os.path.relpath(f, src)
    if rel.startswith(("src/", "pkcs11/")) and f not in seen:
        seen.add(f)
        keep.append(e)
if not keep:
    sys.exit("lint.sh: no source of src/ or pkcs11/ in " + db)
json.dump(keep, open(os.path.join(out, "compile_commands.json"), "w"), indent=1)
open(os.path.join(out, "files"), "w").write(
    "\n".join(sorted(e["file"] for e in keep)) + "\n")
PY
nfiles=$(wc -l < "$LINT/files")
failed=0

if [ -z "$ONLY" ] || [ "$ONLY" = cppcheck ]; then
  echo "lint.sh: cppcheck $(cppcheck --version | cut -d' ' -f2) over $nfiles files"
  # one process: cppcheck 2.10 drops the symbolName of the suppressions
  # file when it runs files in parallel (-j)
  if ! cppcheck --project="$LINT/compile_commands.json" --quiet --std=c11 \
       --enable=warning,style,performance,portability \
       --library=posix --library=gnu --library=openssl \
       --inline-suppr --suppress-xml="$SRC/tests/cppcheck-suppressions.xml" \
       --error-exitcode=1 \
       --template='{file}:{line}:{column}: {severity}: {message} [cppcheck-{id}]' \
       2>"$LINT/cppcheck.txt"; then
    failed=1
  fi
  sed "s#^$SRC/##" "$LINT/cppcheck.txt"
  [ -s "$LINT/cppcheck.txt" ] && failed=1
fi

if [ -z "$ONLY" ] || [ "$ONLY" = clang-tidy ]; then
  echo "lint.sh: $(clang-tidy --version | grep -o 'LLVM version [0-9.]*' | sed 's/LLVM/clang-tidy/') over $nfiles files"
  # one file per run, as many at once as there are CPUs; the config is the
  # repository's .clang-tidy (found from each file's directory)
  xargs -P "$(nproc)" -n 1 clang-tidy -p "$LINT" --quiet < "$LINT/files" \
    >"$LINT/clang-tidy.txt" 2>"$LINT/clang-tidy.err"
  grep -E ': (warning|error): ' "$LINT/clang-tidy.txt" | sed "s#^$SRC/##" | sort -u
  if grep -qE ': (warning|error): ' "$LINT/clang-tidy.txt"; then failed=1; fi
  # clang-tidy itself failing (a bad config, a file that does not parse)
  if grep -qE '^Error|error: (unknown|invalid)|YAML' "$LINT/clang-tidy.err"; then
    grep -E '^Error|error:|YAML' "$LINT/clang-tidy.err" | head -5; failed=1
  fi
fi

if [ -z "$ONLY" ] || [ "$ONLY" = format ]; then
  echo "lint.sh: $(clang-format --version | grep -o 'version [0-9.]*' | sed 's/^/clang-format /') over the tracked C files"
  unformatted=$(cd "$SRC" && git ls-files '*.c' '*.h' |
    while read -r f; do
      clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"
    done)
  if [ -n "$unformatted" ]; then
    echo "$unformatted" | sed 's/$/: not formatted (clang-format -i)/'
    failed=1
  fi
fi

if [ $failed -eq 0 ]; then echo "lint.sh: clean"; else echo "lint.sh: findings above"; fi
exit $failed
