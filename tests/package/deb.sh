#!/usr/bin/env bash
# The Debian package end to end: builds libapache2-mod-mpp from a copy of the
# tree (dpkg-buildpackage, lintian), installs it into the system apache2 with
# apt, prices a directory in .htaccess, gets a 402, pays with the mppx client
# on a local anvil chain through a relayer key made by the packaged
# mpp-keygen, and removes the package: the payment journal must stay.
#
# Runs as root. Everything listens on 127.0.0.1. On every exit the server is
# stopped, the package purged and the system's Apache configuration
# (ports.conf, 000-default, the server's running state) put back.
# shellcheck disable=SC1091  # common.sh and envvars are sourced by path
set -euo pipefail
. "$(dirname "$0")/../../scripts/common.sh"

PKG=libapache2-mod-mpp
STATEDIR=/var/lib/apache2/mpp
ETC=/etc/apache2
SITE=mpp-package-test
KEYS=$ETC/mpp-package-test
PRICE_BASE_UNITS=50000           # MPPPrice 0.05 of a 6-decimal token
started=$(date +%s)

[ "$(id -u)" -eq 0 ] || { echo "deb.sh: run as root: it installs a package into the system apache2" >&2; exit 1; }
# refuse before touching anything: test payments must never mix with real ones
if dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'; then
    echo "deb.sh: $PKG is installed (or its configuration is); purge it first" >&2; exit 1
fi
if [ -e "$STATEDIR" ]; then
    echo "deb.sh: $STATEDIR exists; this test will not write test payments into it (move it away first)" >&2
    exit 1
fi
for f in "$ETC/sites-available/$SITE.conf" "$KEYS"; do
    [ ! -e "$f" ] || { echo "deb.sh: $f exists (left by an interrupted run?); remove it first" >&2; exit 1; }
done

mpp_install_deps
mpp_install_node

# in a subshell: envvars unsets HOME, which npm and node need
pidfile=$(set +u; . "$ETC/envvars" && echo "${APACHE_PID_FILE:-/var/run/apache2/apache2.pid}")
logdir=$(set +u; . "$ETC/envvars" && echo "${APACHE_LOG_DIR:-/var/log/apache2}")
apache_running() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
was_running=no; apache_running && was_running=yes
default_site=no; [ -e "$ETC/sites-enabled/000-default.conf" ] && default_site=yes
tmp=$(mktemp -d /tmp/mpp-deb.XXXXXX)
chmod 755 "$tmp"                 # the server user reads the site from here
cp -p "$ETC/ports.conf" "$tmp/ports.conf.orig" || { rm -rf "$tmp"; exit 1; }
chain_state="$tmp/chain.json"
ok=no

stop_apache() {
    apache_running || return 0
    apache2ctl stop >/dev/null 2>&1 || true
    for _ in $(seq 100); do apache_running || return 0; sleep 0.1; done
    echo "deb.sh: apache2 did not stop" >&2
    return 1
}

cleanup() {
    local rc=$?
    set +e
    stop_apache
    [ -f "$chain_state" ] && node "$MPP_ROOT/tests/evm/chain.mjs" stop --state-file "$chain_state" >/dev/null 2>&1
    [ -n "${chain_pid:-}" ] && kill -- "-$chain_pid" 2>/dev/null
    if dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'; then
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq -o DPkg::Lock::Timeout=600 "$PKG" >"$tmp/purge.log" 2>&1 \
            || { echo "deb.sh: purging $PKG failed:" >&2; cat "$tmp/purge.log" >&2; }
    fi
    [ -e "$ETC/sites-enabled/$SITE.conf" ] && a2dissite -q "$SITE" >/dev/null
    rm -f "$ETC/sites-available/$SITE.conf"
    cp -p "$tmp/ports.conf.orig" "$ETC/ports.conf"
    [ "$default_site" = yes ] && [ ! -e "$ETC/sites-enabled/000-default.conf" ] && a2ensite -q 000-default >/dev/null
    rm -rf "$KEYS" "$STATEDIR"     # both made by this run (refused above if they existed)
    [ "$was_running" = yes ] && apache2ctl start
    if [ "$ok" = yes ]; then
        rm -rf "$tmp"
    else
        echo "deb.sh: FAILED; logs kept in $tmp" >&2
        tail -n 20 "$logdir/error.log" "$tmp/error.log" 2>/dev/null >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------- build
echo "== building $PKG in a copy of the tree"
src="$tmp/build/$PKG-0.1.0"
mkdir -p "$src"
if git -C "$MPP_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    # the sources as the tree has them now, new files included; no build output
    (cd "$MPP_ROOT" && git ls-files -z --cached --others --exclude-standard) \
        | while IFS= read -r -d '' f; do [ -e "$MPP_ROOT/$f" ] && printf '%s\0' "$f"; done \
        | tar -C "$MPP_ROOT" --null -T - -cf - | tar -C "$src" -xf -
else
    tar -C "$MPP_ROOT" --exclude=./.git --exclude=./build --exclude=./build-asan --exclude=node_modules \
        --exclude=autom4te.cache -cf - . | tar -C "$src" -xf -
fi
(cd "$src" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=$(nproc)}" \
    dpkg-buildpackage -us -uc -b) > "$tmp/build.log" 2>&1 \
    || { tail -n 60 "$tmp/build.log"; exit 1; }
deb=$(ls "$tmp"/build/${PKG}_*.deb)
grep -E '^# (TOTAL|PASS|FAIL):' "$tmp/build.log" | tr '\n' ' '; echo "(make check in the package build)"

echo "== lintian"
lintian --fail-on error "$tmp"/build/*.changes > "$tmp/lintian.log" 2>&1 \
    || { cat "$tmp/lintian.log"; echo "lintian found errors" >&2; exit 1; }
grep -v 'running with root privileges' "$tmp/lintian.log" || true
lintian_tags=$(grep -c -E '^[EW]: ' "$tmp/lintian.log" || true)

echo "== the RPM spec configure wrote (rpmspec -P)"
rpmspec -P "$src/contrib/mod_mpp.spec" > "$tmp/spec.parsed" 2>&1 || { cat "$tmp/spec.parsed"; exit 1; }
grep -E '^(Version|Requires):' "$tmp/spec.parsed"
if ! grep -qx 'Version: *0.1.0' "$tmp/spec.parsed" || ! grep -q '^Requires: *httpd-mmn = ' "$tmp/spec.parsed"; then
    echo "the generated spec lacks its version or httpd-mmn" >&2; exit 1
fi

# ---------------------------------------------------------------- install
echo "== installing $(basename "$deb") with apt"
(cd "$(dirname "$deb")" && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 "./$(basename "$deb")") \
    > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
for f in /usr/lib/apache2/modules/mod_mpp.so /usr/sbin/mpp-keygen /usr/sbin/mpp-store \
         "$ETC/mods-available/mpp.load" "$ETC/mods-available/mpp.conf"; do
    [ -e "$f" ] || { echo "not installed: $f" >&2; exit 1; }
done
[ "$(stat -c '%U:%G %a' "$STATEDIR")" = "www-data:www-data 700" ] \
    || { echo "$STATEDIR: $(stat -c '%U:%G %a' "$STATEDIR"), want www-data:www-data 700" >&2; exit 1; }
a2enmod mpp

# ---------------------------------------------------------------- chain and keys
echo "== local chain (anvil) with the test token"
setsid node "$MPP_ROOT/tests/evm/chain.mjs" start --state-file "$chain_state" --log "$tmp/anvil.log" \
    > "$tmp/chain.out" 2>&1 < /dev/null &
chain_pid=$!
for _ in $(seq 600); do [ -s "$chain_state" ] && break; sleep 0.2; done
[ -s "$chain_state" ] || { cat "$tmp/chain.out"; echo "the chain did not start" >&2; exit 1; }
chain() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$chain_state" "$1"; }
rpc=$(chain "d['rpc']")
rpc_call() {   # method, JSON params -> result (JSON)
    curl -sS -H 'Content-Type: application/json' \
        --data "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$rpc" \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print(json.dumps(r["result"]) if "result" in r else sys.exit(str(r)))'
}
token=$(chain "d['token']")
recipient=$(chain "d['recipient']")
balance() {
    rpc_call eth_call "[{\"to\":\"$token\",\"data\":\"0x70a08231000000000000000000000000${recipient:2}\"},\"latest\"]" \
        | python3 -c 'import json,sys; print(int(json.load(sys.stdin), 16))'
}

echo "== keys from the packaged mpp-keygen"
install -d -m 0700 "$KEYS"
mpp-keygen secret "$KEYS/challenge.key"
relayer=$(mpp-keygen evm-key "$KEYS/relayer.key")
if mpp-keygen secret "$KEYS/challenge.key" 2>/dev/null; then echo "mpp-keygen overwrote a key" >&2; exit 1; fi
echo "relayer $relayer (a new key: funded with 1 ETH for gas)"
rpc_call anvil_setBalance "[\"$relayer\",\"0xde0b6b3a7640000\"]" >/dev/null

# ---------------------------------------------------------------- site
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== site on 127.0.0.1:$port, /paid/ priced in .htaccess"
mkdir -p "$tmp/www/paid"
echo "free page" > "$tmp/www/index.html"
echo "paid content" > "$tmp/www/paid/index.html"
printf 'MPPCharge basic\nMPPPrice 0.05\n' > "$tmp/www/paid/.htaccess"
chmod -R a+rX "$tmp/www"
printf '# mod_mpp package test (tests/package/deb.sh); restored when it ends\nListen 127.0.0.1:%s\n' "$port" \
    > "$ETC/ports.conf"
[ "$default_site" = yes ] && a2dissite -q 000-default
cat > "$ETC/sites-available/$SITE.conf" <<EOF
# mod_mpp package test (tests/package/deb.sh); removed when it ends
<VirtualHost 127.0.0.1:$port>
    ServerName localhost
    DocumentRoot $tmp/www
    ErrorLog $tmp/error.log
    CustomLog $tmp/access.log combined
    MPPRealm "mpp-package-test"
    MPPSecretFile $KEYS/challenge.key
    MPPNetwork anvil evm chain-id=31337 rpc=$rpc relayer-key=$KEYS/relayer.key timeout=10
    MPPAsset usdc network=anvil address=$token decimals=6 eip712-name="USD Coin" eip712-version=2
    MPPOffer basic asset=usdc price=0.01 recipient=$recipient tenant-price=0.001..1.00 \\
             description="Package test page"
    <Directory $tmp/www>
        AllowOverride AuthConfig
        Require all granted
    </Directory>
</VirtualHost>
EOF
a2ensite -q "$SITE"
if ! { apache2ctl configtest && apache2ctl start; } > "$tmp/start.log" 2>&1; then
    cat "$tmp/start.log"; exit 1
fi
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

# ---------------------------------------------------------------- 402, then pay
echo "== unpaid request"
curl -sS -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$port/" | grep -qx 200 \
    || { echo "the free page is not 200" >&2; exit 1; }
status=$(curl -sS -D "$tmp/402.headers" -o "$tmp/402.body" -w '%{http_code}' "http://127.0.0.1:$port/paid/")
[ "$status" = 402 ] || { echo "unpaid /paid/: $status, want 402" >&2; cat "$tmp/402.headers"; exit 1; }
python3 - "$tmp/402.headers" "$PRICE_BASE_UNITS" <<'PY'
import base64, json, re, sys
heads = open(sys.argv[1], encoding="latin-1").read()
ch = [l for l in heads.splitlines() if re.match(r"(?i)www-authenticate:\s*Payment ", l)]
assert ch, "no WWW-Authenticate: Payment challenge:\n" + heads
req = re.search(r'request="([^"]+)"', ch[0]).group(1)
req = json.loads(base64.urlsafe_b64decode(req + "=" * (-len(req) % 4)))
assert req["amount"] == sys.argv[2], "the .htaccess price is not in the challenge: %r" % req
print("402 with %s; amount %s base units (MPPPrice 0.05 from .htaccess)" % (ch[0].split(",")[0].strip(), req["amount"]))
PY

echo "== the mppx client pays"
before=$(balance)
node "$MPP_ROOT/tests/evm/pay.mjs" "http://127.0.0.1:$port/paid/" --key "$(chain "d['payer']['privateKey']")" \
    --rpc "$rpc" > "$tmp/pay.json" || { cat "$tmp/pay.json"; exit 1; }
after=$(balance)
ref=$(python3 - "$tmp/pay.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == 200, "paid request: %r" % {k: d.get(k) for k in ("status", "body", "error")}
assert "payment-receipt" in d["headers"], d["headers"]
assert d["receipt"]["status"] == "success", d["receipt"]
assert d["body"] == "paid content\n", d["body"]
print(d["receipt"]["reference"])
PY
)
cid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["receipt"]["challengeId"])' "$tmp/pay.json")
sender=$(rpc_call eth_getTransactionByHash "[\"$ref\"]" | python3 -c 'import json,sys; print(json.load(sys.stdin)["from"])')
[ "${sender,,}" = "${relayer,,}" ] || { echo "settled by $sender, not the mpp-keygen relayer $relayer" >&2; exit 1; }
[ $((after - before)) -eq "$PRICE_BASE_UNITS" ] || { echo "recipient got $((after - before))" >&2; exit 1; }
echo "200 with Payment-Receipt; tx $ref from the generated relayer; recipient +$((after - before)) base units"

echo "== the journal (packaged mpp-store)"
mpp-store -d "$STATEDIR" stat
mpp-store -d "$STATEDIR" get "cid:$cid" >/dev/null || { echo "the payment is not in the journal" >&2; exit 1; }

# ---------------------------------------------------------------- remove
echo "== apt-get remove $PKG"
stop_apache
journal_sum=$(sha256sum "$STATEDIR/store.journal" | cut -d' ' -f1)
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq -o DPkg::Lock::Timeout=600 "$PKG" > "$tmp/remove.log" 2>&1 \
    || { cat "$tmp/remove.log"; exit 1; }
for f in /usr/lib/apache2/modules/mod_mpp.so /usr/sbin/mpp-keygen "$ETC/mods-enabled/mpp.load"; do
    [ ! -e "$f" ] || { echo "left after remove: $f" >&2; exit 1; }
done
[ "$(sha256sum "$STATEDIR/store.journal" | cut -d' ' -f1)" = "$journal_sum" ] \
    || { echo "the journal changed or vanished on remove" >&2; exit 1; }
echo "$STATEDIR kept: $(stat -c '%U:%G %a' "$STATEDIR"), store.journal $(stat -c %s "$STATEDIR/store.journal") bytes, unchanged"

echo "== apt-get purge $PKG"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq -o DPkg::Lock::Timeout=600 "$PKG" > "$tmp/purge.log" 2>&1 \
    || { cat "$tmp/purge.log"; exit 1; }
[ ! -e "$ETC/mods-available/mpp.conf" ] || { echo "purge left $ETC/mods-available/mpp.conf" >&2; exit 1; }
[ "$(sha256sum "$STATEDIR/store.journal" | cut -d' ' -f1)" = "$journal_sum" ] \
    || { echo "the journal changed or vanished on purge" >&2; exit 1; }
grep "payment journal" "$tmp/purge.log" || { echo "purge did not say where the journal is" >&2; exit 1; }

ok=yes
echo
echo "Summary: $PKG $(dpkg-deb -f "$deb" Version) built (make check passed, lintian: $lintian_tags tags," \
     "no errors; the RPM spec parses), installed into the system apache2, 402 then paid 200 with Payment-Receipt," \
     "removed and purged with the journal kept; $(( $(date +%s) - started ))s."
