#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz and runs each for SECONDS
# (default 600), one after the other at the lowest priority, with its
# committed corpus and dictionary. New inputs go to build-fuzz/corpus/<target>;
# afterwards the corpus is minimised (-merge=1 into a fresh directory) back
# into tests/fuzz/corpus/<target>, keeping the regress-* files (inputs that
# once crashed). Logs: build-fuzz/logs/<target>.log; crash artifacts:
# build-fuzz/artifacts/<target>/. Fails if any target crashed.
#
#   scripts/fuzz.sh [SECONDS] [target...]      (targets: make -f tests/fuzz/Makefile list)
set -euo pipefail
. "$(dirname "$0")/common.sh"
cd "$MPP_ROOT"

secs=600
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then secs=$1; shift; fi

# clang's libFuzzer runtime, besides what the build needs
MPP_DEB_PACKAGES="$MPP_DEB_PACKAGES clang libclang-rt-14-dev"
mpp_install_deps

B="$MPP_ROOT/build-fuzz"
FZ="$MPP_ROOT/tests/fuzz"
all=$(make -s -f "$FZ/Makefile" list)
targets=${*:-$all}
for t in $targets; do
    [[ " $all " == *" $t "* ]] || { echo "unknown target '$t' (targets: $all)" >&2; exit 2; }
done

echo "== build the fuzzers (clang, ASan + UBSan + libFuzzer)"
nice -n 19 make -s -j"$(nproc)" -f "$FZ/Makefile" O="$B" fuzzers >/dev/null

# the largest input worth trying: just past each parser's own limit
max_len() {
    case $1 in
        challenge|credential|vlexivo) echo 17000 ;;
        json|evm_payload) echo 13000 ;;
        jwt) echo 9000 ;;
        rpc|evm_receipt) echo 8192 ;;
        accept) echo 5000 ;;
        b64|rlp|config) echo 4096 ;;
        route) echo 2048 ;;
        eip712) echo 1024 ;;
        amount|digest) echo 512 ;;
        time) echo 128 ;;
        *) echo 4096 ;;
    esac
}

stat_of() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }

mkdir -p "$B/logs"
summary="$B/logs/summary.txt"
printf '%-12s %6s %12s %8s %8s %8s %7s\n' target secs execs exec/s new corpus crashes > "$summary"
failed=0
for t in $targets; do
    log="$B/logs/$t.log" work="$B/corpus/$t" art="$B/artifacts/$t/" fresh="$B/merge/$t"
    dict=()
    [ -f "$FZ/dict/$t.dict" ] && dict=(-dict="$FZ/dict/$t.dict")
    mkdir -p "$work" "$art" "$FZ/corpus/$t"
    rm -f "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-*
    echo "== $t: ${secs}s"
    rc=0
    ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        nice -n 19 "$B/fuzz/fuzz_$t" -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$art" "${dict[@]}" "$work" "$FZ/corpus/$t" > "$log" 2>&1 || rc=$?
    crashes=$(find "$art" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        failed=1
        echo "   FAILED (exit $rc): see $log and $art"
        grep -m3 -E 'ERROR: |invariant broken|runtime error' "$log" | sed 's/^/   /' || true
    else
        # minimise: only what adds coverage, into a fresh directory, then back
        rm -rf "$fresh" && mkdir -p "$fresh"
        nice -n 19 "$B/fuzz/fuzz_$t" -merge=1 -max_len="$(max_len "$t")" -timeout=10 "$fresh" \
            "$FZ/corpus/$t" "$work" >> "$log" 2>&1
        find "$FZ/corpus/$t" -maxdepth 1 -type f ! -name 'regress-*' -delete
        cp "$fresh"/* "$FZ/corpus/$t"/ 2>/dev/null || true
    fi
    printf '%-12s %6s %12s %8s %8s %8s %7s\n' "$t" "$secs" "$(stat_of number_of_executed_units "$log")" \
        "$(stat_of average_exec_per_sec "$log")" "$(stat_of new_units_added "$log")" \
        "$(find "$FZ/corpus/$t" -maxdepth 1 -type f | wc -l)" "$crashes" >> "$summary"
done
echo "== summary ($summary)"
cat "$summary"
exit $failed
