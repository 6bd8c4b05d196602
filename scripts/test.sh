#!/usr/bin/env bash
# Runs every test of mod_mpp: unit tests and conformance vectors (also under
# AddressSanitizer + UBSan), then the integration tests against the real
# Debian Apache. Installs missing Debian packages first when run as root.
set -euo pipefail
. "$(dirname "$0")/common.sh"
cd "$MPP_ROOT"

mpp_install_deps
mpp_install_node

echo "== build (-Werror)"
mpp_build "$MPP_ROOT/build"
echo "== unit tests and conformance vectors"
make -C build check || { cat build/tests/unit/*.log build/tests/conformance/*.log 2>/dev/null; exit 1; }
grep -h -E '^[0-9]+%: |passed, |double winners' build/tests/unit/test_core.log build/tests/unit/store_race.log \
    build/tests/conformance/run.sh.log || true

echo "== make distcheck (the release tarball builds, passes make check, installs and uninstalls)"
make -C build -j"$(nproc)" distcheck > build/distcheck.log 2>&1 || { tail -n 60 build/distcheck.log; exit 1; }
grep -A1 'archives ready' build/distcheck.log | tail -n 1

echo "== the same under AddressSanitizer + UBSan"
mpp_build "$MPP_ROOT/build-asan" --enable-sanitizers
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    make -C build-asan check || { cat build-asan/tests/unit/*.log build-asan/tests/conformance/*.log 2>/dev/null; exit 1; }

echo "== fuzz corpora replayed under ASan + UBSan (tests/fuzz, without libFuzzer)"
make -s -j"$(nproc)" -f tests/fuzz/Makefile replay > /dev/null
make -s -f tests/fuzz/Makefile check > build-fuzz/replay.log 2>&1 || { cat build-fuzz/replay.log; exit 1; }
awk '{ n += $2; t++ } END { print t " targets, " n " inputs" }' build-fuzz/replay.log

echo "== static analysis (cppcheck, clang-tidy) and the unit tests under valgrind"
scripts/lint.sh
scripts/valgrind.sh build

echo "== the local chain and the reference client (tests/evm self-test)"
(cd tests/evm && node --test selftest.mjs) > build/evm-selftest.log 2>&1 \
    || { cat build/evm-selftest.log; exit 1; }
grep -E '^# (pass|fail)' build/evm-selftest.log

# Debian's python3 has Debian's pytest (another python3 may come first in PATH)
PYTEST="/usr/bin/python3 -m pytest -q -p no:cacheprovider"

# a private base directory per run (httpd's www-data must be able to enter it),
# so no other pytest session's clean-up can touch the servers' files
tmp=$(mktemp -d /tmp/mpp-tests.XXXXXX)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

echo "== integration tests (real httpd) with the module built under ASan + UBSan"
MPP_BUILDDIR="$MPP_ROOT/build-asan" MPP_HTTPD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
    $PYTEST --basetemp="$tmp/asan" tests/integration

echo "== integration tests (real httpd)"
MPP_BUILDDIR="$MPP_ROOT/build" $PYTEST --basetemp="$tmp/plain" tests/integration

if [ "$(id -u)" -eq 0 ]; then
    echo "== Debian package: build, install into the system apache2, pay"
    bash tests/package/deb.sh
else
    echo "== Debian package: skipped (installing into the system apache2 needs root)"
fi
