#!/usr/bin/env bash
# Static analysis of src/: cppcheck and clang-tidy (checks in .clang-tidy).
# Any finding fails the run, except those listed in scripts/lint-known.txt
# (findings in files being reworked, each with the fix to apply). False
# positives are suppressed inline, next to the code, with the reason.
set -euo pipefail
. "$(dirname "$0")/common.sh"
cd "$MPP_ROOT"

for tool in cppcheck clang-tidy; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install $tool)" >&2; exit 1; }
done
jobs=$(nproc)
out=$(mktemp -d /tmp/mpp-lint.XXXXXX)
trap 'rm -rf "$out"' EXIT
status=0

echo "-- cppcheck $(cppcheck --version | awk '{print $2}')"
if ! cppcheck --enable=warning,performance,portability --error-exitcode=1 --inline-suppr -q \
        --std=c11 --library=posix -j "$jobs" -I src src/*.c 2>"$out/cppcheck.txt"; then
    cat "$out/cppcheck.txt"
    status=1
fi

echo "-- clang-tidy $(clang-tidy --version | sed -n 's/.*LLVM version \([0-9.]*\).*/\1/p')"
apxs=$(command -v apxs || command -v apxs2)
# the flags the module is built with (apxs, APR, json-c, curl), no config.h needed
flags=(-std=gnu11 -Isrc "-I$("$apxs" -q INCLUDEDIR)" $(apr-1-config --includes --cppflags)
       $(pkg-config --cflags json-c libcurl) '-DMPP_DEFAULT_STATEDIR="/var/lib/apache2/mpp"')
printf '%s\n' src/*.c | xargs -P "$jobs" -n 4 sh -c \
    'clang-tidy --quiet "$@" -- '"$(printf '%q ' "${flags[@]}")"' >"'"$out"'/tidy.$$.txt" 2>&1 || true' sh
cat "$out"/tidy.*.txt > "$out/tidy.txt"
# findings: "path:line:col: warning|error: message [check]"
grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' "$out/tidy.txt" | sed "s|^$MPP_ROOT/||" | sort -u > "$out/findings.txt" || true
known=$(grep -vE '^\s*(#|$)' scripts/lint-known.txt 2>/dev/null | awk '{print $1 " " $2}' || true)
new=0
while IFS= read -r f; do
    [ -n "$f" ] || continue
    path=${f%%:*}
    check=$(sed -n 's/.*\[\([^],]*\)[],].*/\1/p' <<<"$f")
    if [ -n "$check" ] && grep -qxF "$path $check" <<<"$known"; then
        echo "known (scripts/lint-known.txt): $f"
    else
        echo "$f"
        grep -A3 -F "$f" "$out/tidy.txt" | sed -n '2,3p' || true
        new=1
    fi
done < "$out/findings.txt"
# an entry whose finding is gone is stale: say so, so that it gets removed
while read -r path check; do
    [ -n "$path" ] || continue
    grep -q "^$path:.*\[$check[],]" "$out/findings.txt" || echo "stale entry in scripts/lint-known.txt: $path $check"
done <<<"$known"
[ "$new" -eq 0 ] || status=1

if [ "$status" -eq 0 ]; then
    echo "lint: cppcheck and clang-tidy clean on $(ls src/*.c | wc -l) files"
else
    echo "lint: findings above" >&2
fi
exit "$status"
