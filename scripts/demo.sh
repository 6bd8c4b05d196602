#!/usr/bin/env bash
# Builds mod_mpp, starts a local chain (anvil, on 127.0.0.1:8545, with a
# USDC-like token) and Apache with mod_mpp on 127.0.0.1:8402 in front of a
# small demo site (a free page and a paid page), and shows a 402 exchange and
# the mppx reference client paying.
#   scripts/demo.sh        set up, start (or restart) and show the exchange
#   scripts/demo.sh stop   stop the demo server
set -euo pipefail
. "$(dirname "$0")/common.sh"
# outside the clone: the server user must be able to read the site, and a
# clone under /root is closed to it
RUN="${MPP_DEMO_DIR:-/tmp/mod_mpp-demo}"
CONF="$RUN/httpd.conf"
HTTPD=$(command -v apache2 || echo /usr/sbin/apache2)

stop() {
    if [ -f "$RUN/httpd.pid" ]; then
        "$HTTPD" -f "$CONF" -k stop 2>/dev/null || true
        for _ in $(seq 50); do [ -f "$RUN/httpd.pid" ] || break; sleep 0.1; done
    fi
    if [ -f "$RUN/chain.json" ]; then
        node "$MPP_ROOT/tests/evm/chain.mjs" stop --state-file "$RUN/chain.json" >/dev/null 2>&1 || true
    fi
}
if [ "${1:-}" = stop ]; then stop; echo "demo stopped"; exit 0; fi

mpp_install_deps
mpp_install_node
echo "== building mod_mpp"
mpp_build "$MPP_ROOT/build"
stop
mkdir -p "$RUN"
chmod 755 "$RUN"
rm -rf "$RUN/htdocs" && cp -r "$MPP_ROOT/demo/htdocs" "$RUN/htdocs" && chmod -R a+rX "$RUN/htdocs"
echo "== starting the local chain (anvil) with a USDC-like token"
setsid node "$MPP_ROOT/tests/evm/chain.mjs" start --port 8545 --state-file "$RUN/chain.json" \
    --log "$RUN/anvil.log" > "$RUN/chain.out" 2>&1 < /dev/null &
for _ in $(seq 150); do [ -s "$RUN/chain.json" ] && break; sleep 0.2; done
[ -s "$RUN/chain.json" ] || { cat "$RUN/chain.out"; echo "the chain did not start (is port 8545 free?)" >&2; exit 1; }
chain() { python3 -c "import json,sys; d=json.load(open('$RUN/chain.json')); print(eval(sys.argv[1]))" "$1"; }
( umask 077; chain "d['relayer']['privateKey']" > "$RUN/relayer.key" )
[ -s "$RUN/challenge.key" ] || { umask 077; openssl rand -base64 48 > "$RUN/challenge.key"; }
chmod 600 "$RUN/challenge.key"
# as root the server drops to www-data, like the packaged Apache
user="#" group="#"
if [ "$(id -u)" -eq 0 ] && id www-data >/dev/null 2>&1; then user="User www-data" group="Group www-data"; fi
sed -e "s|@RUN@|$RUN|g" -e "s|@SITE@|$RUN/htdocs|g" -e "s|@USER@|$user|" -e "s|@GROUP@|$group|" \
    -e "s|@MODDIR@|$(apxs -q LIBEXECDIR)|g" -e "s|@MODULE@|$MPP_ROOT/build/.libs/mod_mpp.so|g" \
    "$MPP_ROOT/demo/httpd.conf.in" > "$CONF"
"$HTTPD" -t -f "$CONF"
"$HTTPD" -f "$CONF" -k start
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:8402/ && break; sleep 0.1; done

show() { echo; printf "$ "; printf "%q " "$@"; echo; "$@"; echo; }
echo "== the free page"
show curl -sS -i http://127.0.0.1:8402/
echo "== the paid page without payment: 402 with a Payment challenge"
show curl -sS -i http://127.0.0.1:8402/paid/
req=$(curl -sS -D - -o /dev/null http://127.0.0.1:8402/paid/ | sed -n 's/.*request="\([^"]*\)".*/\1/p' | tr -d '\r')
echo "== the challenge's request parameter, decoded (base64url of canonical JSON)"
python3 - "$req" <<'PY'
import base64, json, sys
s = sys.argv[1]
print(json.dumps(json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))), indent=2))
PY
echo "== a credential that is not base64url JSON: 402 malformed-credential, with a fresh challenge"
show curl -sS -i -H 'Authorization: Payment not-a-credential!' http://127.0.0.1:8402/paid/
balance() {
    curl -sS -H 'Content-Type: application/json' --data \
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_call\",\"params\":[{\"to\":\"$(chain "d['token']")\",\"data\":\"0x70a08231000000000000000000000000$(chain "d['recipient'][2:]")\"},\"latest\"]}" \
        http://127.0.0.1:8545 | python3 -c "import json,sys; print(int(json.load(sys.stdin)['result'],16))"
}
echo "== the mppx client (the reference TypeScript client) pays the paid page"
echo "recipient's balance before: $(balance) base units"
node "$MPP_ROOT/tests/evm/pay.mjs" http://127.0.0.1:8402/paid/ --key "$(chain "d['payer']['privateKey']")" \
    --rpc http://127.0.0.1:8545 > "$RUN/pay.json"
python3 - "$RUN/pay.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("status:", r["status"])
print("Payment-Receipt, decoded:", json.dumps(r["receipt"], indent=2))
print("body:", r["body"].strip()[:200])
PY
echo "recipient's balance after:  $(balance) base units"
echo "The demo keeps running: Apache on http://127.0.0.1:8402/, the chain on 127.0.0.1:8545 (logs in $RUN)."
echo "Stop both with: scripts/demo.sh stop"
