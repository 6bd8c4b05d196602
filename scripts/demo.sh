#!/usr/bin/env bash
# Builds mod_mpp, starts Apache with it on 127.0.0.1:8402 in front of a small
# demo site (a free page and a paid page) and shows a 402 exchange.
#   scripts/demo.sh        set up, start (or restart) and show the exchange
#   scripts/demo.sh stop   stop the demo server
set -euo pipefail
. "$(dirname "$0")/common.sh"
RUN="$MPP_ROOT/demo/run"
CONF="$RUN/httpd.conf"
HTTPD=$(command -v apache2 || echo /usr/sbin/apache2)

stop() {
    if [ -f "$RUN/httpd.pid" ]; then
        "$HTTPD" -f "$CONF" -k stop 2>/dev/null || true
        for _ in $(seq 50); do [ -f "$RUN/httpd.pid" ] || break; sleep 0.1; done
    fi
}
if [ "${1:-}" = stop ]; then stop; echo "demo stopped"; exit 0; fi

mpp_install_deps
echo "== building mod_mpp"
mpp_build "$MPP_ROOT/build"
stop
mkdir -p "$RUN"
[ -s "$RUN/challenge.key" ] || { umask 077; openssl rand -base64 48 > "$RUN/challenge.key"; }
chmod 600 "$RUN/challenge.key"
# as root the server drops to www-data, like the packaged Apache
user="#" group="#"
if [ "$(id -u)" -eq 0 ] && id www-data >/dev/null 2>&1; then user="User www-data" group="Group www-data"; fi
sed -e "s|@RUN@|$RUN|g" -e "s|@SITE@|$MPP_ROOT/demo/htdocs|g" -e "s|@USER@|$user|" -e "s|@GROUP@|$group|" \
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
echo "The demo server keeps running on http://127.0.0.1:8402/ (logs in $RUN); stop it with: scripts/demo.sh stop"
