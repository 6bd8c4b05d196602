#!/usr/bin/env bash
# Benchmark of mod_mpp against the mppx reference proxy (mppx 0.11.0 on
# Node), on this machine, one after the other, with the same wrk settings:
#
#   bench/run.sh [--duration S] [--connections C] [--out FILE]
#
# Starts a local chain (anvil, TestUSDC), one upstream Apache (no gate) that
# both gates forward to, Apache with mod_mpp, and the mppx Proxy; measures
# each case with `wrk -t1 -cC -dS` after a warm-up; prints a table and the
# ratios, and writes them to bench/RESULTS.md (or --out). Everything binds
# 127.0.0.1 and is stopped on exit.
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"
cd "$MPP_ROOT"

DURATION=10
CONNS=32
OUT="$MPP_ROOT/bench/RESULTS.md"
# worker: a thread per keep-alive connection, no hand-off between a listener
# and a worker per request (event serves the same; its p99 is higher here)
MPM=${MPP_BENCH_MPM:-worker}
while [ $# -gt 0 ]; do
    case $1 in
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) echo "usage: bench/run.sh [--duration S] [--connections C] [--out FILE]" >&2; exit 2 ;;
    esac
done

# ---- what it needs
mpp_install_deps
mpp_install_node
if ! command -v wrk >/dev/null; then
    [ "$(id -u)" -eq 0 ] || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
if [ ! -d bench/node_modules/mppx ] || [ bench/package.json -nt bench/node_modules ]; then
    (cd bench && npm install --no-audit --no-fund --loglevel=error >/dev/null)
    touch bench/node_modules
fi
echo "== build"
mpp_build "$MPP_ROOT/build"

W=$(mktemp -d /tmp/mpp-bench.XXXXXX)
chmod 755 "$W"
PIDS=()
cleanup() {
    set +e
    [ -f "$W/mpp/run/httpd.pid" ] && apache2 -f "$W/mpp/httpd.conf" -k stop 2>/dev/null
    [ -f "$W/up/run/httpd.pid" ] && apache2 -f "$W/up/httpd.conf" -k stop 2>/dev/null
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    [ -f "$W/chain.json" ] && node tests/evm/chain.mjs stop --state-file "$W/chain.json" >/dev/null 2>&1
    sleep 1
    if [ -n "${MPP_BENCH_KEEP:-}" ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CHAIN_PORT=$(free_port); UP_PORT=$(free_port); MPP_PORT=$(free_port); MPPX_PORT=$(free_port)

start_chain() {
    rm -f "$W/chain.json"
    setsid node tests/evm/chain.mjs start --port "$CHAIN_PORT" --state-file "$W/chain.json" >>"$W/chain.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$W/chain.json" ] && break; sleep 0.2; done
    [ -s "$W/chain.json" ] || { cat "$W/chain.log"; exit 1; }
}
echo "== local chain"
start_chain
RPC="http://127.0.0.1:$CHAIN_PORT"
chain() { python3 -c "import json,sys; d=json.load(open('$W/chain.json')); print($1)"; }
TOKEN=$(chain "d['token']")
RECIPIENT=$(chain "d['recipient']")
# each gate has its own relayer (anvil's deployer account pays mppx's gas)
( umask 077; chain "d['relayer']['privateKey']" >"$W/relayer.key"
  chain "d['deployer']['privateKey']" >"$W/mppx-relayer.key"
  head -c 48 /dev/urandom | base64 -w0 >"$W/challenge.key"
  head -c 48 /dev/urandom | base64 -w0 >"$W/mppx.key"
  head -c 48 /dev/urandom | base64 -w0 >"$W/jwt.key" )
chown www-data "$W/relayer.key" "$W/challenge.key" "$W/jwt.key" 2>/dev/null || true

# the same small JSON answer behind both gates, and for the static floor
BODY='{"ok":true,"data":"the upstream answer, the same for every case of this benchmark"}'

common_conf() {   # $1 dir, $2 port
    cat <<EOF
ServerRoot $1
PidFile $1/run/httpd.pid
DefaultRuntimeDir $1/run
Mutex file:$1/run default
Listen 127.0.0.1:$2
ServerName bench.test
LoadModule mpm_${MPM}_module /usr/lib/apache2/modules/mod_mpm_${MPM}.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
User www-data
Group www-data
StartServers 2
ServerLimit 4
ThreadsPerChild 64
MaxRequestWorkers 256
MinSpareThreads 64
MaxSpareThreads 256
TypesConfig /etc/mime.types
ErrorLog $1/logs/error.log
LogLevel warn
DocumentRoot $1/htdocs
KeepAliveTimeout 30
MaxKeepAliveRequests 0
# a file per request: mmap and munmap in a threaded server cost more than a read
EnableMMAP Off
<Directory />
    AllowOverride None
    Require all granted
</Directory>
EOF
}

echo "== upstream Apache (no gate) on $UP_PORT"
mkdir -p "$W/up/"{htdocs,logs,run}
printf '%s\n' "$BODY" >"$W/up/htdocs/free"
printf '%s\n' "$BODY" >"$W/up/htdocs/paid"
common_conf "$W/up" "$UP_PORT" >"$W/up/httpd.conf"
echo "DefaultType application/json" >/dev/null
apache2 -f "$W/up/httpd.conf" -k start

echo "== Apache + mod_mpp on $MPP_PORT"
mkdir -p "$W/mpp/"{htdocs/ent,logs,run,state}
chown www-data "$W/mpp/state"
printf '%s\n' "$BODY" >"$W/mpp/htdocs/static.json"
printf '%s\n' "$BODY" >"$W/mpp/htdocs/ent/x.json"
{
    common_conf "$W/mpp" "$MPP_PORT"
    cat <<EOF
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
LoadModule status_module /usr/lib/apache2/modules/mod_status.so
# mod_mpp's section of server-status needs no per-request times()
ExtendedStatus Off
LoadModule mpp_module $MPP_ROOT/build/.libs/mod_mpp.so
LogLevel ${MPP_BENCH_LOGLEVEL:-warn}
MPPSecretFile $W/challenge.key
MPPStore shm size=128M dir=$W/mpp/state
MPPNetwork anvil evm chain-id=31337 rpc=$RPC relayer-key=$W/relayer.key timeout=30
MPPAsset usdc network=anvil address=$TOKEN decimals=6 eip712-name="USD Coin" eip712-version=2
MPPOffer basic asset=usdc price=0.01 recipient=$RECIPIENT types=authorization expires=3600
MPPJWTKey site alg=HS256 file=$W/jwt.key
<Location /svc/>
    ProxyPass http://127.0.0.1:$UP_PORT/ keepalive=On
    MPPService svc
    MPPRoute "GET /free" free
    MPPRoute "GET /paid" basic
</Location>
<Location /ent/>
    MPPCharge basic
    MPPEntitlement site scope=per-article
</Location>
<Location /server-status>
    SetHandler server-status
</Location>
EOF
} >"$W/mpp/httpd.conf"
apache2 -f "$W/mpp/httpd.conf" -k start

echo "== mppx Proxy on $MPPX_PORT"
MPPX_PID=
start_mppx() {
    node bench/mppx-proxy.mjs --port "$MPPX_PORT" --upstream "http://127.0.0.1:$UP_PORT" --rpc "$RPC" \
        --token "$TOKEN" --recipient "$RECIPIENT" --relayer-key "$W/mppx-relayer.key" --secret "$W/mppx.key" \
        >>"$W/mppx.log" 2>&1 &
    MPPX_PID=$!
    PIDS+=($!)
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$MPPX_PORT/svc/free" && break; sleep 0.1; done
}
start_mppx

A="http://127.0.0.1:$MPP_PORT"
M="http://127.0.0.1:$MPPX_PORT"
for u in "$A/static.json" "$A/svc/free" "$M/svc/free"; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$u")" = 200 ] || { echo "$u does not answer 200" >&2; exit 1; }
done
for u in "$A/svc/paid" "$M/svc/paid"; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$u")" = 402 ] || { echo "$u does not answer 402" >&2; exit 1; }
done

# MPP_BENCH_HOLD=1: keep everything running for measuring by hand
if [ -n "${MPP_BENCH_HOLD:-}" ]; then
    printf 'A=%s\nM=%s\nRPC=%s\nW=%s\n' "$A" "$M" "$RPC" "$W" >/tmp/mpp-bench.env
    echo "held: see /tmp/mpp-bench.env; stop with Ctrl-C"
    sleep infinity
fi

# ---- measuring
RESULTS="$W/results.tsv"
: >"$RESULTS"

# measure NAME URL [wrk args...]: warm-up, then one run; records req/s
# (2xx only when WRK_OK_ONLY=1, via bench/count.lua), p50 and p99 in ms.
measure() {
    local name=$1 url=$2; shift 2
    wrk -t1 -c"$CONNS" -d2s "$@" "$url" >/dev/null 2>&1 || true
    run_wrk "$name" "$url" "$@"
}
run_wrk() {
    local name=$1 url=$2; shift 2
    local out rps p50 p99
    out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url")
    echo "$out" >"$W/wrk-$name.txt"
    rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
    if grep -q '^ok_rps ' <<<"$out"; then rps=$(echo "$out" | awk '/^ok_rps / {print $2}'); fi
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    printf '%s\t%s\t%s\t%s\n' "$name" "$rps" "$p50" "$p99" >>"$RESULTS"
    printf '  %-28s %10s req/s   p50 %-9s p99 %s\n' "$name" "$rps" "$p50" "$p99"
}

credentials() {   # URL COUNT FILE
    (cd bench && node credentials.mjs --url "$1" --count "$2" --chain "$W/chain.json" --out "$3")
}

echo "== measuring (wrk -t1 -c$CONNS -d${DURATION}s, after a 2 s warm-up)"
if [ -z "${MPP_BENCH_ONLY:-}" ]; then
measure static "$A/static.json"
measure mpp_402 "$A/svc/paid"
measure mppx_402 "$M/svc/paid"
measure mpp_free "$A/svc/free"
measure mppx_free "$M/svc/free"

# verify-and-reject: a valid authorization, paid once, presented again
for side in mpp mppx; do
    base=$A; [ $side = mppx ] && base=$M
    credentials "$base/svc/paid" 1 "$W/used-$side.txt" 2>/dev/null
    cred=$(head -1 "$W/used-$side.txt")
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $cred" "$base/svc/paid")
    [ "$code" = 200 ] || { echo "$side: the first use of a credential answered $code" >&2; exit 1; }
    # mod_mpp answers 402 invalid-challenge; mppx's settlement fails (the token
    # refuses the used nonce) and it answers 500: either way, not served
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $cred" "$base/svc/paid")
    case $code in 2*) echo "$side: a used credential answered $code" >&2; exit 1 ;; esac
    echo "  $side answers a used credential with $code"
    measure "${side}_reject" "$base/svc/paid" -H "Authorization: $cred"
done

fi

# full paid requests, fresh credentials, settled on the chain (2xx counted).
# anvil slows down as the token's storage grows (every authorization used
# adds a slot, and each block hashes the token's whole storage again), so
# each side starts on a new chain (the same deployment at the same
# addresses), and its server is restarted to forget the old chain's nonces
fresh_chain() {   # $1: the side about to be measured
    node tests/evm/chain.mjs stop --state-file "$W/chain.json" >/dev/null 2>&1 || true
    for _ in $(seq 100); do curl -s -o /dev/null "$RPC" || break; sleep 0.1; done
    start_chain
    if [ "$1" = mppx ]; then
        kill "$MPPX_PID" 2>/dev/null; wait "$MPPX_PID" 2>/dev/null || true
        start_mppx
    else
        apache2 -f "$W/mpp/httpd.conf" -k stop
        while [ -f "$W/mpp/run/httpd.pid" ]; do sleep 0.2; done
        apache2 -f "$W/mpp/httpd.conf" -k start
        for _ in $(seq 50); do curl -s -o /dev/null "$A/static.json" && break; sleep 0.1; done
    fi
}
for side in mppx mpp; do
    base=$A; n=${MPP_BENCH_CREDS_MPP:-6000}
    [ $side = mppx ] && { base=$M; n=${MPP_BENCH_CREDS_MPPX:-2500}; }
    fresh_chain $side
    echo "  (signing $n fresh credentials for $side)"
    credentials "$base/svc/paid" "$n" "$W/fresh-$side.txt"
    CREDS="$W/fresh-$side.txt" run_wrk "${side}_paid" "$base/svc/paid" -s bench/paid.lua
    [ $side = mpp ] && curl -s "$A/server-status?auto" | grep -E '^MPP(RPC|Settlements)' | sed 's/^/    /'
    left=$(awk '/^creds_left / {print $2}' "$W/wrk-${side}_paid.txt")
    [ "${left:-1}" -gt 0 ] || echo "  warning: $side used every credential; its rate is a lower bound"
done

[ -n "${MPP_BENCH_ONLY:-}" ] && exit 0

# a JWT entitlement instead of a payment
TOKEN_JWT=$(python3 - "$W/jwt.key" <<'EOF'
import base64, hashlib, hmac, json, sys, time
key = open(sys.argv[1], "rb").read().strip()
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
now = int(time.time())
h = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
p = b(json.dumps({"sub": "bench", "aud": "bench.test", "rid": "/ent/x.json", "iat": now, "exp": now + 3600}).encode())
sig = b(hmac.new(key, (h + "." + p).encode(), hashlib.sha256).digest())
print(h + "." + p + "." + sig)
EOF
)
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Entitlement: Bearer $TOKEN_JWT" "$A/ent/x.json")" = 200 ] \
    || { echo "the entitlement is refused" >&2; exit 1; }
measure mpp_jwt "$A/ent/x.json" -H "X-Entitlement: Bearer $TOKEN_JWT"

# free routes while 50 settlements wait on a slow chain (a block every 2 s)
# the unloaded rate again just before, on the same chain and store
measure mpp_free_unloaded "$A/svc/free"
echo "  (50 settlements in flight on a chain that mines every 2 s)"
credentials "$A/svc/paid" 400 "$W/slow.txt"
rpc() { curl -s -H 'Content-Type: application/json' -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$1\",\"params\":$2}" "$RPC" >/dev/null; }
rpc evm_setAutomine '[false]'
rpc evm_setIntervalMining '[2]'
CREDS="$W/slow.txt" wrk -t1 -c50 -d"$((DURATION + 4))s" -s bench/paid.lua "$A/svc/paid" >"$W/wrk-slow-paid.txt" 2>&1 &
slow=$!
sleep 2
inflight=$(curl -s "$A/server-status?auto" | awk -F': ' '$1=="MPPSettlementsInFlight" {print $2}')
run_wrk mpp_free_loaded "$A/svc/free"
wait $slow || true
rpc evm_setIntervalMining '[0]'
rpc evm_setAutomine '[true]'
echo "  settlements in flight during the run: $inflight"
# and once more after, so a slow moment of the machine on either side counts half
run_wrk mpp_free_after "$A/svc/free"

CAP=$(curl -s "$A/server-status?auto" | awk -F': ' '$1=="MPPStoreCapacity" {print $2}')

# ---- report
python3 - "$RESULTS" "$OUT" "$DURATION" "$CONNS" "$inflight" "$CAP" "$MPM" <<'EOF'
import datetime, os, platform, subprocess, sys
res, out, dur, conns, inflight, cap, mpm = sys.argv[1:8]
r = {}
for line in open(res):
    n, rps, p50, p99 = line.rstrip("\n").split("\t")
    r[n] = (float(rps or 0), p50, p99)
def rate(n): return r[n][0]
def sh(c):
    try: return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception: return "?"
cpu = sh("awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo")
mem = sh("awk '/MemTotal/ {printf \"%.0f GiB\", $2/1048576}' /proc/meminfo")
rows = [
    ("Apache static file, no gate", "static", None),
    ("402 challenge", "mpp_402", "mppx_402"),
    ("free proxy route", "mpp_free", "mppx_free"),
    ("verify-and-reject of a used authorization", "mpp_reject", "mppx_reject"),
    ("paid request, fresh authorization, settled on anvil", "mpp_paid", "mppx_paid"),
    ("JWT entitlement instead of payment", "mpp_jwt", None),
    ("free proxy route, unloaded, just before the next", "mpp_free_unloaded", None),
    ("free proxy route, 50 settlements in flight", "mpp_free_loaded", None),
    ("free proxy route, unloaded, just after", "mpp_free_after", None),
]
targets = [
    ("402 challenge ÷ static file", rate("mpp_402") / rate("static"), 0.85),
    ("402 challenge: mod_mpp ÷ mppx", rate("mpp_402") / rate("mppx_402"), 8),
    ("free proxy route: mod_mpp ÷ mppx", rate("mpp_free") / rate("mppx_free"), 5),
    ("verify-and-reject: mod_mpp ÷ mppx", rate("mpp_reject") / rate("mppx_reject"), 20),
    ("paid with settlement: mod_mpp ÷ mppx", rate("mpp_paid") / rate("mppx_paid"), 3),
    ("JWT entitlement ÷ static file", rate("mpp_jwt") / rate("static"), 0.80),
    ("free route with 50 settlements in flight ÷ unloaded (mean of just before and just after)",
     rate("mpp_free_loaded") / ((rate("mpp_free_unloaded") + rate("mpp_free_after")) / 2), 0.80),
]
p99_402 = r["mpp_402"][2]
def ms(v):
    v = v.strip()
    if v.endswith("us"): return float(v[:-2]) / 1000
    if v.endswith("ms"): return float(v[:-2])
    if v.endswith("s"): return float(v[:-1]) * 1000
    return float("nan")
lines = []
lines.append("# mod_mpp benchmark results\n")
lines.append("Produced by `bench/run.sh` on %s UTC. Each case: `wrk -t1 -c%s -d%ss --latency` after a 2 s warm-up, "
             "one case after the other on the same machine; both gates forward to the same upstream Apache; "
             "payments are EIP-3009 authorizations signed by the mppx client and settled on a local anvil chain "
             "by each server's relayer. Both Apaches (mod_mpp's and the upstream) run mpm_%s with `EnableMMAP Off` and "
             "`AllowOverride None`. Each side's paid requests start on a new chain: anvil slows down as the token's storage "
             "grows (one slot per authorization used).\n"
             % (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), conns, dur, mpm))
lines.append("Machine: %s, %s cores, %s; %s; %s; Node %s; mppx 0.11.0.\n" % (
    cpu, os.cpu_count(), mem, sh(". /etc/os-release; echo $PRETTY_NAME"), sh("apache2 -v | head -1"),
    sh("node --version")))
lines.append("| case | mod_mpp req/s | p50 | p99 | mppx req/s | p50 | p99 |")
lines.append("|---|---:|---:|---:|---:|---:|---:|")
for label, a, b in rows:
    ra = r[a]
    rb = r[b] if b else None
    lines.append("| %s | %.0f | %s | %s | %s | %s | %s |" % (
        label, ra[0], ra[1], ra[2], "%.0f" % rb[0] if rb else "", rb[1] if rb else "", rb[2] if rb else ""))
lines.append("\n| ratio | measured | target | |")
lines.append("|---|---:|---:|---|")
ok_all = True
for label, v, t in targets:
    ok = v >= t
    ok_all &= ok
    lines.append("| %s | %.2f | ≥ %s | %s |" % (label, v, t, "met" if ok else "**missed**"))
p99ok = ms(p99_402) < 5
ok_all &= p99ok
lines.append("| 402 challenge p99 at %s connections | %s | < 5 ms | %s |" % (conns, p99_402, "met" if p99ok else "**missed**"))
capok = int(cap or 0) >= 1000000
ok_all &= capok
lines.append("| consumed-payment entries in `MPPStore shm size=128M` | %s | ≥ 1,000,000 | %s |" % (cap, "met" if capok else "**missed**"))
lines.append("\nSettlements in flight (mod_status) while the loaded free route was measured: %s." % inflight)
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print()
print(text)
sys.exit(0 if ok_all else 3)
EOF
