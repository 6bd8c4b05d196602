# Shared by scripts/*.sh: dependency installation and the build.
# shellcheck shell=bash

MPP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages the build and the tests need.
MPP_DEB_PACKAGES="build-essential autoconf automake libtool pkg-config
  apache2 apache2-dev libapr1-dev libaprutil1-dev libssl-dev libjson-c-dev
  libcurl4-openssl-dev libsecp256k1-dev nettle-dev check python3 python3-pytest python3-jwt
  python3-cryptography curl ca-certificates openssl cppcheck clang-tidy valgrind chromium chromium-driver python3-selenium dpkg-dev debhelper fakeroot lintian rpm"

mpp_install_deps() {
    local missing=()
    for p in $MPP_DEB_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${missing[*]} (run as root, or install them)" >&2
        return 1
    fi
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # the tests start their own servers; the packaged service is not needed
    if command -v systemctl >/dev/null && systemctl is-active -q apache2 2>/dev/null; then
        systemctl stop apache2 || true
    fi
}

# Node.js (for the local chain and the reference client) and the pinned npm
# packages of tests/evm.
mpp_install_node() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        [ "$(id -u)" -eq 0 ] || { echo "node and npm are needed (install nodejs and npm)" >&2; return 1; }
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
    fi
    if [ ! -x "$MPP_ROOT/tests/evm/node_modules/.bin/anvil" ] || [ ! -d "$MPP_ROOT/tests/evm/node_modules/mppx" ] \
       || [ "$MPP_ROOT/tests/evm/package.json" -nt "$MPP_ROOT/tests/evm/node_modules" ]; then
        (cd "$MPP_ROOT/tests/evm" && npm install --no-audit --no-fund --loglevel=error >/dev/null) || return 1
        touch "$MPP_ROOT/tests/evm/node_modules"
    fi
}

# mpp_build DIR [configure args...]: out-of-tree build in DIR.
mpp_build() {
    local dir=$1; shift
    if [ ! -x "$MPP_ROOT/configure" ] || [ "$MPP_ROOT/configure.ac" -nt "$MPP_ROOT/configure" ] \
       || [ "$MPP_ROOT/Makefile.am" -nt "$MPP_ROOT/Makefile.in" ]; then
        (cd "$MPP_ROOT" && ./autogen.sh >/dev/null 2>&1)
    fi
    mkdir -p "$dir"
    (cd "$dir" && { [ -f Makefile ] || "$MPP_ROOT/configure" --enable-werror "$@" >/dev/null; } \
        && make -j"$(nproc)" >/dev/null && make -j"$(nproc)" tests/modules/mod_mpp_testmethod.la >/dev/null)
}
