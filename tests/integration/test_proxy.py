"""The reverse-proxy payment gateway and the discovery documents.

Apache (mod_proxy, mod_proxy_http) forwards two services to a real HTTP
server of the test process (upstream.py) that records every request it gets.
What reaches that server is the evidence: the injected upstream credential,
the payment headers the client sent (never), the MPP-* facts of a paid
request, and, for every request that is not a paid or free route, nothing
at all.

The weather service takes an upstream bearer token, the keyed service an
API key header and settles after the upstream answered by default. A third
server on a local anvil chain is paid by the real mppx client."""
import json
import re

import pytest

from chain import Chain
from checks import (assert_payment_response, cache_directives, content_type,
                    opaque_of, problem, receipt)
from httpd import (EVM_ASSET_ADDRESS, EVM_RECIPIENT, NETWORKS, OFFER_BASIC, OFFER_TEST,
                   configtest, encode_credential, echo_of, make_credential)
from test_evm import AMOUNT, Ledger, check_evm_receipt, mppx, payer
from upstream import Upstream

REALM = "Proxy API"
TOKEN = "wx-upstream-token-7f3a9c"
API_KEY = "keyed-api-key-51be02"
OK = {"proof": "ok"}

CONF = 'MPPRealm "%s"\n' % REALM + NETWORKS + OFFER_BASIC + "\n" + OFFER_TEST + """
MPPDiscovery on
<Location /weather/>
    ProxyPass http://127.0.0.1:{up}/
    MPPService weather title="Weather API" description="Forecasts" categories=data,weather
    MPPUpstreamBearer file={root}/secret/weather.token
    MPPRoute "GET /v1/status" free
    MPPRoute "GET /v1/forecast" basic t
    MPPRoute "GET /v1/items/:id/*" t description="Item data"
    MPPRoute "POST /v1/inference" t settle=after
    MPPRoute "GET /v1/fail" t settle=after
</Location>
<Location /keyed/>
    ProxyPass http://127.0.0.1:{up}/keyed/
    MPPService keyed title="Keyed API" description="Key in a header" categories=ml,data
    MPPUpstreamHeader X-API-Key file={root}/secret/keyed.key
    MPPSettle after
    MPPRoute "GET /free" free
    MPPRoute "GET /paid" t
    MPPRoute "GET /before" t settle=before
    MPPRoute "GET /first/*" free
    MPPRoute "GET /first/paid" t
    MPPRoute "GET /second/paid" t
    MPPRoute "GET /second/*" free
</Location>
"""

FILES = {
    "secret/weather.token": (TOKEN + "\n", 0o600),
    "secret/keyed.key": (API_KEY + "\n", 0o600),
}

# payment headers a client may send; none of them may reach the upstream
CLIENT_PAYMENT_HEADERS = [
    ("Payment-Authorization", "Payment eyJmYWtlIjp0cnVlfQ"),
    ("PAYMENT-SIGNATURE", "eyJzaWduYXR1cmUiOiIweDAwIn0="),
    ("X-PAYMENT", "eyJ4NDAyVmVyc2lvbiI6MX0="),
    ("Payment-Receipt", "eyJzdGF0dXMiOiJzdWNjZXNzIn0"),
    ("Accept-Payment", "test/charge, evm/charge"),
]
SPOOFED_FACTS = [
    ("MPP-Payer", "0x000000000000000000000000000000000000dEaD"),
    ("mpp-amount", "999999999"),
    ("Mpp-Reference", "spoofed-reference"),
]
PAYMENT_HEADER_NAMES = ["Payment-Authorization", "Payment-Signature", "X-Payment", "Payment-Receipt",
                        "Accept-Payment"]
FACT_NAMES = ["MPP-Payer", "MPP-Amount", "MPP-Reference"]
PASSTHROUGH = ("X-Client-Note", "passes through")

TEST_OFFER = {"offer": "t", "intent": "charge", "method": "test", "amount": "100", "currency": "TOK",
              "decimals": 2, "recipient": "merchant", "network": "local"}
BASIC_OFFER = {"offer": "basic", "intent": "charge", "method": "evm", "amount": "10000",
               "currency": EVM_ASSET_ADDRESS, "decimals": 6, "recipient": EVM_RECIPIENT,
               "network": "anvil", "chainId": 31337}


# ------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def up():
    with Upstream() as u:
        yield u


@pytest.fixture(scope="module")
def srv(server_factory, up):
    return server_factory("proxy", body=CONF.replace("{up}", str(up.port)), files=FILES,
                          modules=["proxy", "proxy_http"])


class Watch:
    """What the upstream receives from now on."""

    def __init__(self, up):
        self.up = up
        self.start = up.count()

    def got(self):
        return self.up.since(self.start)

    def one(self):
        got = self.got()
        assert len(got) == 1, "the upstream got %d requests: %r" % (len(got), got)
        return got[0]

    def nothing(self, what=""):
        got = self.got()
        assert not got, "forwarded to the upstream%s: %r" % (" (%s)" % what if what else "", got)


def challenge402(srv, path, method="GET", n=None, body=None):
    r = srv.request(method, path, body=body)
    assert r.status == 402, r
    if n is not None:
        assert len(r.challenges) == n, r.challenges
    return r


def t_challenge(srv, path, method="GET", body=None):
    """The test-method challenge of a fresh 402 for path."""
    return challenge402(srv, path, method, body=body).challenge("test")


def with_source(c, source, payload=OK):
    return encode_credential({"challenge": echo_of(c), "source": source, "payload": payload})


def only(rec, name):
    vals = rec.get_all(name)
    assert len(vals) == 1, "upstream saw %s %r in %r" % (name, vals, rec)
    return vals[0]


def assert_no_client_payment_headers(rec):
    for name in PAYMENT_HEADER_NAMES:
        assert not rec.has(name), "%s reached the upstream: %r" % (name, rec)
    for _, v in rec.headers:
        assert not v.lower().startswith("payment "), "a Payment credential reached the upstream: %r" % rec


def assert_no_facts(rec):
    for name in FACT_NAMES:
        assert not rec.has(name), "%s reached the upstream of a free route: %r" % (name, rec)


# ------------------------------------------------------------ 1: what the upstream sees

def test_free_route_is_forwarded_with_the_bearer_and_without_client_payment_headers(srv, up):
    # a well-formed credential of a paid route, sent along with a free request
    c = t_challenge(srv, "/weather/v1/forecast")
    cred = make_credential(c, OK)
    w = Watch(up)
    r = srv.get("/weather/v1/status?verbose=1",
                [("Authorization", cred)] + CLIENT_PAYMENT_HEADERS + SPOOFED_FACTS + [PASSTHROUGH])
    assert r.status == 200, r
    assert r.json == {"upstream": True, "method": "GET", "path": "/v1/status?verbose=1"}, r
    assert not r.get_all("Payment-Receipt"), r
    assert not r.challenges, r
    rec = w.one()
    assert (rec.method, rec.target) == ("GET", "/v1/status?verbose=1"), rec
    assert only(rec, "Authorization") == "Bearer " + TOKEN
    assert_no_client_payment_headers(rec)
    assert_no_facts(rec)
    assert only(rec, PASSTHROUGH[0]) == PASSTHROUGH[1]
    # the free route did not use the credential up: it pays where it was issued
    r = srv.get("/weather/v1/forecast", [("Authorization", cred)])
    assert r.status == 200, r
    receipt(r, c["id"])


def test_client_bearer_is_replaced_by_the_upstream_token(srv, up):
    w = Watch(up)
    r = srv.get("/weather/v1/status", [("Authorization", "Bearer client-chosen-token")])
    assert r.status == 200, r
    assert only(w.one(), "Authorization") == "Bearer " + TOKEN


def test_head_uses_the_get_route(srv, up):
    w = Watch(up)
    r = srv.request("HEAD", "/weather/v1/status")
    assert r.status == 200, r
    rec = w.one()
    assert rec.path == "/v1/status" and rec.method in ("HEAD", "GET"), rec
    assert only(rec, "Authorization") == "Bearer " + TOKEN
    w = Watch(up)
    r = srv.request("HEAD", "/weather/v1/forecast")
    assert r.status == 402, r
    assert len(r.challenges) == 2, r
    w.nothing()


def test_paid_route_forwards_the_payment_facts_and_nothing_the_client_sent(srv, up):
    c = t_challenge(srv, "/weather/v1/forecast?city=oslo")
    w = Watch(up)
    r = srv.get("/weather/v1/forecast?city=oslo",
                [("Authorization", make_credential(c, OK))] + CLIENT_PAYMENT_HEADERS + SPOOFED_FACTS
                + [PASSTHROUGH])
    assert r.status == 200, r
    assert r.json == {"upstream": True, "method": "GET", "path": "/v1/forecast?city=oslo"}, r
    rc = receipt(r, c["id"], method="test")
    rec = w.one()
    assert (rec.method, rec.target) == ("GET", "/v1/forecast?city=oslo"), rec
    assert only(rec, "Authorization") == "Bearer " + TOKEN
    assert_no_client_payment_headers(rec)
    assert only(rec, "MPP-Payer") == "anonymous"
    assert only(rec, "MPP-Amount") == "100"
    assert only(rec, "MPP-Reference") == rc["reference"]
    assert only(rec, PASSTHROUGH[0]) == PASSTHROUGH[1]


def test_payer_is_the_credential_source(srv, up):
    source = "did:example:alice"
    c = t_challenge(srv, "/weather/v1/items/7/a")
    w = Watch(up)
    r = srv.get("/weather/v1/items/7/a", [("Authorization", with_source(c, source)),
                                          ("MPP-Payer", "did:example:mallory")])
    assert r.status == 200, r
    rc = receipt(r, c["id"])
    rec = w.one()
    assert rec.target == "/v1/items/7/a", rec
    assert only(rec, "MPP-Payer") == source
    assert only(rec, "MPP-Amount") == "100"
    assert only(rec, "MPP-Reference") == rc["reference"]


def test_paid_post_body_reaches_the_upstream(srv, up):
    body = json.dumps({"prompt": "rain tomorrow?", "n": 1}).encode()
    c = t_challenge(srv, "/weather/v1/inference", method="POST", body=body)
    w = Watch(up)
    r = srv.request("POST", "/weather/v1/inference",
                    [("Authorization", make_credential(c, OK)), ("Content-Type", "application/json")]
                    + SPOOFED_FACTS, body=body)
    assert r.status == 200, r
    rc = receipt(r, c["id"])
    rec = w.one()
    assert (rec.method, rec.path, rec.body) == ("POST", "/v1/inference", body), rec
    assert only(rec, "Content-Type") == "application/json"
    assert only(rec, "Authorization") == "Bearer " + TOKEN
    assert only(rec, "MPP-Payer") == "anonymous"
    assert only(rec, "MPP-Amount") == "100"
    assert rc["reference"]


@pytest.mark.parametrize("method,target,upstream_target", [
    ("POST", "/weather/v1/inference", "/v1/inference"),
    ("GET", "/weather/v1/fail", "/v1/fail"),
    ("GET", "/keyed/paid", "/keyed/paid"),
])
def test_settle_after_forwards_the_reference(srv, up, method, target, upstream_target):
    """Routes that settle after the upstream answered: the upstream still
    learns the receipt's reference along with the payer and the amount."""
    body = b"{}" if method == "POST" else None
    c = t_challenge(srv, target, method=method, body=body)
    w = Watch(up)
    r = srv.request(method, target, [("Authorization", make_credential(c, OK))] + SPOOFED_FACTS,
                    body=body)
    assert r.status == 200, r
    rc = receipt(r, c["id"])
    rec = w.one()
    assert rec.target == upstream_target, rec
    assert only(rec, "MPP-Payer") == "anonymous"
    assert only(rec, "MPP-Amount") == "100"
    assert only(rec, "MPP-Reference") == rc["reference"]


def test_api_key_header_on_free_route(srv, up):
    w = Watch(up)
    r = srv.get("/keyed/free", [("X-API-Key", "client-key-1"), ("x-api-key", "client-key-2"),
                                ("Authorization", "Payment eyJjaGFsbGVuZ2UiOnt9fQ")]
                + CLIENT_PAYMENT_HEADERS + SPOOFED_FACTS)
    assert r.status == 200, r
    assert not r.get_all("Payment-Receipt"), r
    rec = w.one()
    assert rec.target == "/keyed/free", rec
    assert only(rec, "X-API-Key") == API_KEY
    assert not rec.has("Authorization"), rec
    assert_no_client_payment_headers(rec)
    assert_no_facts(rec)


@pytest.mark.parametrize("target", ["/keyed/before", "/keyed/paid"])
def test_api_key_header_on_paid_route(srv, up, target):
    c = t_challenge(srv, target)
    w = Watch(up)
    r = srv.get(target, [("Authorization", make_credential(c, OK)), ("X-API-Key", "client-key")]
                + CLIENT_PAYMENT_HEADERS + SPOOFED_FACTS)
    assert r.status == 200, r
    rc = receipt(r, c["id"])
    rec = w.one()
    assert rec.target == target, rec
    assert only(rec, "X-API-Key") == API_KEY
    assert not rec.has("Authorization"), rec
    assert_no_client_payment_headers(rec)
    assert only(rec, "MPP-Payer") == "anonymous"
    assert only(rec, "MPP-Amount") == "100"
    if target == "/keyed/before":      # settle=after routes: see test_settle_after_forwards_the_reference
        assert only(rec, "MPP-Reference") == rc["reference"]


# ------------------------------------------------------------ 2: never forwarded

# requests under a service that match no route: the module's 404
UNMATCHED = [
    ("GET", "/weather/v1/unknown"),
    ("GET", "/weather/"),
    ("GET", "/weather/v1"),
    ("GET", "/weather/v2/forecast"),
    ("GET", "/weather/v1/status/"),
    ("GET", "/weather/v1/forecast/"),
    ("GET", "/weather/v1/status/extra"),
    ("GET", "/weather/v1/forecastx"),
    ("GET", "/weather/v1/items/"),
    ("GET", "/weather/v1/items"),
    ("GET", "/weather/v1/unknown?v1/status"),
    ("GET", "/weather/v1/inference"),
    ("POST", "/weather/v1/forecast"),
    ("PUT", "/weather/v1/forecast"),
    ("DELETE", "/weather/v1/forecast"),
    ("PATCH", "/weather/v1/forecast"),
    ("OPTIONS", "/weather/v1/forecast"),
    ("OPTIONS", "/weather/v1/status"),
    ("POST", "/weather/v1/status"),
    ("DELETE", "/weather/v1/items/1/a"),
    ("GET", "/weather/v1/status" + "x" * 4000),
    ("GET", "/weather/v1/unknown/" + "seg/" * 1500),
    ("GET", "/keyed/"),
    ("GET", "/keyed/paid/"),
    ("GET", "/keyed/nothing"),
]


@pytest.mark.parametrize("method,target", UNMATCHED, ids=[
    "%s %s" % (m, t if len(t) < 60 else t[:40] + "...(%d)" % len(t)) for m, t in UNMATCHED])
def test_unmatched_request_is_404_and_never_forwarded(srv, up, method, target):
    w = Watch(up)
    r = srv.request(method, target, body=b"{}" if method in ("POST", "PUT", "PATCH") else None)
    w.nothing()
    assert r.status == 404, r
    if method != "HEAD":
        problem(r)
    assert not r.get_all("Payment-Receipt"), r


# paid routes, reached in every way the route's pattern allows: a 402, nothing forwarded
PAID_VARIANTS = [
    ("GET", "/weather/v1/forecast"),
    ("GET", "/weather/v1/FORECAST"),
    ("GET", "/weather/V1/Forecast"),
    ("HEAD", "/weather/v1/forecast"),
    ("HEAD", "/weather/v1/FORECAST"),
    ("GET", "/weather/v1/forecast?free=1"),
    ("GET", "/weather/v1/forecast?/../v1/status"),
    ("GET", "/weather/v1/forecast?"),
    ("GET", "/weather/v1/items/1"),
    ("GET", "/weather/v1/items/1/a/b/c"),
    ("GET", "/weather/V1/ITEMS/1/a"),
    ("GET", "/weather/v1/items/1/" + "a/" * 1500),
    ("POST", "/weather/v1/inference"),
    ("POST", "/weather/v1/INFERENCE"),
    ("GET", "/weather/v1/fail"),
    ("GET", "/keyed/paid"),
    ("GET", "/keyed/PAID"),
]


@pytest.mark.parametrize("method,target", PAID_VARIANTS, ids=[
    "%s %s" % (m, t if len(t) < 60 else t[:40] + "...(%d)" % len(t)) for m, t in PAID_VARIANTS])
def test_paid_route_without_payment_is_402_and_never_forwarded(srv, up, method, target):
    w = Watch(up)
    r = srv.request(method, target, body=b"{}" if method == "POST" else None)
    w.nothing()
    assert r.status == 402, r
    assert r.challenges, r
    if method != "HEAD":
        assert_payment_response(r, 402, "payment-required", srv.secret)


# paths that could make a matcher and the upstream disagree; Apache may refuse
# some itself: what counts is no 2xx and nothing forwarded
BYPASS = [
    ("GET", "/weather/v1/status;x"),
    ("GET", "/weather/v1/forecast;x"),
    ("GET", "/weather/v1;x/forecast"),
    ("GET", "/weather/v1/forecast;/../status"),
    ("GET", "/weather/;/v1/status"),
    ("GET", "/weather/v1/status;"),
    ("GET", "/weather/v1\\status"),
    ("GET", "/weather/v1\\forecast"),
    ("GET", "/weather/v1/items/1\\..\\..\\status"),
    ("GET", "/weather//v1/status"),
    ("GET", "/weather/v1//status"),
    ("GET", "/weather/v1//forecast"),
    ("GET", "/weather/v1/items/1//a"),
    ("GET", "/weather/v1/items/1/"),
    ("GET", "/weather/./v1/status"),
    ("GET", "/weather/v1/./status"),
    ("GET", "/weather/v1/../v1/status"),
    ("GET", "/weather/x/../v1/status"),
    ("GET", "/weather/v1/items/1/../../status"),
    ("GET", "/weather/v1/status."),
    ("GET", "/weather/v1./status"),
    ("GET", "/weather/v1/forecast."),
    ("GET", "/weather/v1/items/1/a."),
    ("GET", "/weather/v1/status%20"),
    ("GET", "/weather/v1%20/status"),
    ("GET", "/weather/v1/items/1/a%20"),
    ("GET", "/weather/v1/status%2e"),
    ("GET", "/weather/v1/status%2E"),
    ("GET", "/weather/v1%2fstatus"),
    ("GET", "/weather/v1%2Fforecast"),
    ("GET", "/weather/v1/items/1/..%2f..%2fstatus"),
    ("GET", "/weather/v1%5cstatus"),
    ("GET", "/weather/v1%5Cforecast"),
    ("GET", "/weather/v1/status%3bx"),
    ("GET", "/weather/v1/status%3Bx"),
    ("GET", "/weather/v1/%2e%2e/v1/status"),
    ("GET", "/weather/v1/%2E%2E/v1/status"),
    ("GET", "/weather/v1/items/1/%2e%2e/%2e%2e/status"),
    ("GET", "/weather/v1/status%252f"),
    ("GET", "/weather/v1/items/1/%25"),
    ("GET", "/weather/v1/status%00"),
    ("GET", "/weather/v1/fore%63ast"),
    ("GET", "/WEATHER/v1/forecast"),
    ("GET", "/weather"),
    ("get", "/weather/v1/forecast"),
    ("Get", "/weather/v1/forecast"),
    ("FOO", "/weather/v1/forecast"),
    ("FOO", "/weather/v1/status"),
    ("TRACE", "/weather/v1/forecast"),
    ("TRACE", "/weather/v1/status"),
    ("PROPFIND", "/weather/v1/status"),
    ("GET", "http://mpp.test/weather/v1/forecast"),
    ("GET", "/weather/v1/items/1/" + "a/" * 5000),
]
# OPTIONS and TRACE with Max-Forwards: 0 are answered by mod_proxy itself,
# after the access checks, unless the module refused them first
MAX_FORWARDS = [("OPTIONS", "/weather/v1/forecast"), ("TRACE", "/weather/v1/forecast"),
                ("OPTIONS", "/weather/v1/status")]


@pytest.mark.log_allow(r"AH0\d+")
@pytest.mark.parametrize("method,target", BYPASS, ids=[
    "%s %s" % (m, t if len(t) < 60 else t[:40] + "...(%d)" % len(t)) for m, t in BYPASS])
def test_bypass_attempt_is_never_forwarded(srv, up, method, target):
    w = Watch(up)
    r = srv.request(method, target)
    w.nothing()
    assert not 200 <= r.status < 300, r
    assert not r.get_all("Payment-Receipt"), r


@pytest.mark.parametrize("method,target", MAX_FORWARDS)
def test_max_forwards_zero_is_not_answered_for_the_upstream(srv, up, method, target):
    w = Watch(up)
    r = srv.request(method, target, [("Max-Forwards", "0")])
    w.nothing()
    assert not 200 <= r.status < 300, r


PAID_ELSEWHERE = [
    "/weather/v1/items/1/a;x",
    "/weather/v1/items/1/a/..%2f..%2fstatus",
    "/weather/v1/items/1/%2e%2e/%2e%2e/status",
    "/weather/v1/items/1/a%2fb",
    "/weather/v1/items/1//a",
    "/weather/v1/items/1/a.",
]


@pytest.mark.log_allow(r"AH0\d+")
@pytest.mark.parametrize("target", PAID_ELSEWHERE)
def test_a_paying_credential_does_not_open_a_refused_path(srv, up, target):
    """A valid credential of the parameter route, sent on a path that the
    matcher refuses: nothing forwarded, nothing spent; then it pays on the
    path it was issued for."""
    c = t_challenge(srv, "/weather/v1/items/1/a")
    cred = make_credential(c, OK)
    w = Watch(up)
    r = srv.get(target, [("Authorization", cred)])
    w.nothing(target)
    assert not 200 <= r.status < 300, (target, r)
    assert not r.get_all("Payment-Receipt"), (target, r)
    w = Watch(up)
    r = srv.get("/weather/v1/items/1/a", [("Authorization", cred)])
    assert r.status == 200, r
    receipt(r, c["id"])
    assert w.one().target == "/v1/items/1/a"


def test_first_matching_route_wins(srv, up):
    # a free wildcard listed before a paid route takes its requests
    w = Watch(up)
    r = srv.get("/keyed/first/paid")
    assert r.status == 200, r
    assert not r.get_all("Payment-Receipt"), r
    rec = w.one()
    assert rec.target == "/keyed/first/paid", rec
    assert_no_facts(rec)
    # a paid route listed before a free wildcard keeps its price
    w = Watch(up)
    r = challenge402(srv, "/keyed/second/paid", n=1)
    assert opaque_of(r.challenges[0])["scope"] == "keyed GET /second/paid"
    w.nothing()
    r = srv.get("/keyed/second/other/x")
    assert r.status == 200, r
    assert w.one().target == "/keyed/second/other/x"


# ------------------------------------------------------------ 3: challenges and scope

def test_two_offers_give_two_challenges_bound_to_the_route(srv, up):
    w = Watch(up)
    r = challenge402(srv, "/weather/v1/forecast", n=2)
    assert_payment_response(r, 402, "payment-required", srv.secret, n_challenges=2)
    assert [c["method"] for c in r.challenges] == ["evm", "test"]
    assert len({c["id"] for c in r.challenges}) == 2
    for c in r.challenges:
        assert c["realm"] == REALM, c
        assert opaque_of(c)["scope"] == "weather GET /v1/forecast", opaque_of(c)
    w.nothing()


@pytest.mark.parametrize("method,target,scope", [
    ("GET", "/weather/v1/FORECAST", "weather GET /v1/forecast"),
    ("HEAD", "/weather/v1/forecast", "weather GET /v1/forecast"),
    ("GET", "/weather/v1/items/1/a", "weather GET /v1/items/:id/*"),
    ("GET", "/weather/v1/items/22", "weather GET /v1/items/:id/*"),
    ("POST", "/weather/v1/inference", "weather POST /v1/inference"),
    ("GET", "/keyed/paid", "keyed GET /paid"),
])
def test_scope_names_service_method_and_pattern(srv, method, target, scope):
    r = challenge402(srv, target, method, body=b"{}" if method == "POST" else None)
    for c in r.challenges:
        assert opaque_of(c)["scope"] == scope, opaque_of(c)


@pytest.mark.parametrize("issued,sent", [
    ("/weather/v1/forecast", "/weather/v1/items/1/x"),
    ("/weather/v1/items/1/x", "/weather/v1/forecast"),
    ("/weather/v1/forecast", "/weather/v1/fail"),
    ("/weather/v1/forecast", "/keyed/paid"),
    ("/keyed/paid", "/keyed/before"),
])
def test_credential_of_one_route_is_refused_on_another(srv, up, issued, sent):
    """Same offer, same price: only the route scope differs."""
    c = t_challenge(srv, issued)
    cred = make_credential(c, OK)
    w = Watch(up)
    r = srv.get(sent, [("Authorization", cred)])
    assert_payment_response(r, 402, "invalid-challenge", srv.secret, used_ids=[c["id"]])
    w.nothing()
    # not spent by the refusal: it pays where it was issued
    r = srv.get(issued, [("Authorization", cred)])
    assert r.status == 200, r
    receipt(r, c["id"])
    assert len(w.got()) == 1


def test_paths_of_one_pattern_share_the_scope(srv, up):
    c = t_challenge(srv, "/weather/v1/items/1/a")
    cred = make_credential(c, OK)
    w = Watch(up)
    r = srv.get("/weather/v1/items/2/b/c", [("Authorization", cred)])
    assert r.status == 200, r
    receipt(r, c["id"])
    assert w.one().target == "/v1/items/2/b/c"
    # and it was spent there
    w = Watch(up)
    r = srv.get("/weather/v1/items/1/a", [("Authorization", cred)])
    assert_payment_response(r, 402, "invalid-challenge", srv.secret, used_ids=[c["id"]])
    w.nothing()


# ------------------------------------------------------------ 4: settle=after

def test_settle_after_upstream_error_releases_the_challenge(srv, up):
    up.answer("/v1/fail", 500, b"upstream broke\n", [("Content-Type", "text/plain")])
    try:
        c = t_challenge(srv, "/weather/v1/fail")
        cred = make_credential(c, OK)
        w = Watch(up)
        r = srv.get("/weather/v1/fail", [("Authorization", cred)])
        assert r.status == 500, r
        assert r.body == b"upstream broke\n", r
        assert not r.get_all("Payment-Receipt"), r
        rec = w.one()
        assert rec.target == "/v1/fail", rec
        assert only(rec, "Authorization") == "Bearer " + TOKEN
        assert only(rec, "MPP-Amount") == "100"

        # released: the same credential again, and this time the upstream answers
        up.answer("/v1/fail", 200, b"recovered\n", [("Content-Type", "text/plain")])
        w = Watch(up)
        r = srv.get("/weather/v1/fail", [("Authorization", cred)])
        assert r.status == 200, r
        assert r.body == b"recovered\n", r
        receipt(r, c["id"])
        assert w.one().target == "/v1/fail"

        # and now it is spent
        w = Watch(up)
        r = srv.get("/weather/v1/fail", [("Authorization", cred)])
        assert_payment_response(r, 402, "invalid-challenge", srv.secret, used_ids=[c["id"]])
        w.nothing()
    finally:
        up.reset("/v1/fail")


def test_settle_after_upstream_4xx_releases_the_challenge(srv, up):
    up.answer("/v1/fail", 404, b'{"error":"no such thing"}')
    try:
        c = t_challenge(srv, "/weather/v1/fail")
        cred = make_credential(c, OK)
        w = Watch(up)
        r = srv.get("/weather/v1/fail", [("Authorization", cred)])
        assert r.status == 404, r
        assert not r.get_all("Payment-Receipt"), r
        assert len(w.got()) == 1
        up.reset("/v1/fail")
        r = srv.get("/weather/v1/fail", [("Authorization", cred)])
        assert r.status == 200, r
        receipt(r, c["id"])
    finally:
        up.reset("/v1/fail")


def test_settle_after_verifies_before_forwarding(srv, up):
    c = t_challenge(srv, "/weather/v1/fail")
    w = Watch(up)
    r = srv.pay("/weather/v1/fail", c, {"proof": "fail"})
    assert_payment_response(r, 402, "verification-failed", srv.secret, used_ids=[c["id"]])
    r = srv.pay("/weather/v1/fail", c, {"proof": "maybe"})
    assert_payment_response(r, 402, "invalid-payload", srv.secret, used_ids=[c["id"]])
    w.nothing()


def test_location_default_settle_after(srv, up):
    """MPPSettle after in the keyed location applies to /paid."""
    up.answer("/keyed/paid", 503, b"busy\n")
    try:
        c = t_challenge(srv, "/keyed/paid")
        cred = make_credential(c, OK)
        r = srv.get("/keyed/paid", [("Authorization", cred)])
        assert r.status == 503 and not r.get_all("Payment-Receipt"), r
        up.reset("/keyed/paid")
        r = srv.get("/keyed/paid", [("Authorization", cred)])
        assert r.status == 200, r
        receipt(r, c["id"])
    finally:
        up.reset("/keyed/paid")


@pytest.mark.parametrize("target,upstream_path", [
    ("/weather/v1/forecast", "/v1/forecast"),     # no settle=, no location default
    ("/keyed/before", "/keyed/before"),           # settle=before over the location's after
])
def test_settle_before_upstream_error_has_no_receipt_and_spends_the_challenge(srv, up, target,
                                                                               upstream_path):
    up.answer(upstream_path, 500, b"upstream broke\n")
    try:
        c = t_challenge(srv, target)
        cred = make_credential(c, OK)
        w = Watch(up)
        r = srv.get(target, [("Authorization", cred)])
        assert r.status == 500, r
        assert not r.get_all("Payment-Receipt"), r
        assert len(w.got()) == 1
        up.reset(upstream_path)
        w = Watch(up)
        r = srv.get(target, [("Authorization", cred)])
        assert_payment_response(r, 402, "invalid-challenge", srv.secret, used_ids=[c["id"]])
        w.nothing()
    finally:
        up.reset(upstream_path)


# ------------------------------------------------------------ 4, 5: on chain with mppx

CHAIN_CONF = 'MPPRealm "%s"\n' % REALM + """
MPPNetwork anvil evm chain-id=31337 rpc={rpc} relayer-key={root}/secret/relayer.key timeout=2
MPPAsset usdc network=anvil address=%(token)s decimals=6 eip712-name="USD Coin" eip712-version=2
MPPOffer basic asset=usdc price=0.01 recipient=%(rcpt)s
<Location /chain/>
    ProxyPass http://127.0.0.1:{up}/chain/
    MPPService chainsvc title="Chain API" description="Paid on anvil"
    MPPUpstreamBearer file={root}/secret/chain.token
    MPPRoute "GET /v1/paid" basic
    MPPRoute "GET /v1/after" basic settle=after
</Location>
""" % {"token": EVM_ASSET_ADDRESS, "rcpt": EVM_RECIPIENT}


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    with Chain(tmp_path_factory.mktemp("proxy-chain")) as c:
        yield c


@pytest.fixture(scope="module")
def evm_srv(server_factory, chain, up):
    files = {"secret/relayer.key": (chain.info["relayer"]["privateKey"] + "\n", 0o600),
             "secret/chain.token": (TOKEN + "\n", 0o600)}
    body = CHAIN_CONF.replace("{rpc}", chain.rpc_url).replace("{up}", str(up.port))
    return server_factory("proxy-evm", body=body, files=files, modules=["proxy", "proxy_http"])


PAID = {"recipient": AMOUNT, "payer0": -AMOUNT, "relayer nonce": 1, "relayer pending nonce": 1}


def test_mppx_pays_a_proxied_route(evm_srv, chain, up):
    up.answer("/chain/v1/paid", 200, b'{"forecast":"sun"}')
    try:
        p = payer(chain, 0)
        ledger = Ledger(chain, p)
        w = Watch(up)
        doc = mppx(evm_srv, chain, "/chain/v1/paid", p["privateKey"])
        assert doc["status"] == 200, doc
        assert doc["body"] == '{"forecast":"sun"}', doc
        cred = doc["decodedCredential"]
        assert opaque_of(cred["challenge"])["scope"] == "chainsvc GET /v1/paid"
        rc = check_evm_receipt(doc, cred["challenge"]["id"])
        assert ledger.delta() == PAID, ledger.delta()
        assert chain.receipt(rc["reference"])["status"] == "0x1"
        rec = w.one()
        assert rec.target == "/chain/v1/paid", rec
        assert only(rec, "Authorization") == "Bearer " + TOKEN
        assert only(rec, "MPP-Payer").lower() == p["address"].lower()
        assert only(rec, "MPP-Amount") == str(AMOUNT)
        assert only(rec, "MPP-Reference").lower() == rc["reference"].lower()
        assert_no_client_payment_headers(rec)
    finally:
        up.reset("/chain/v1/paid")


def test_settle_after_refuses_a_hash_credential_before_forwarding(evm_srv, chain, up):
    """A hash cannot be dried-run: on a route that settles after serving, it
    would buy the upstream's answer before anyone knew it pays."""
    up.clear()
    r = evm_srv.get("/chain/v1/after")
    assert r.status == 402, r
    c = r.challenge("evm")
    r = evm_srv.pay("/chain/v1/after", c, {"type": "hash", "hash": "0x" + "ab" * 32})
    assert r.status == 402, r
    assert "authorization" in r.json["detail"], r.json
    assert up.requests() == [], "the upstream was reached without a payment"


def test_mppx_settle_after_upstream_error_moves_no_money(evm_srv, chain, up):
    up.answer("/chain/v1/after", 500, b"upstream broke\n")
    try:
        p = payer(chain, 1)
        ledger = Ledger(chain, p)
        w = Watch(up)
        doc = mppx(evm_srv, chain, "/chain/v1/after", p["privateKey"])
        assert doc["status"] == 500, doc
        assert doc["receipt"] is None and "payment-receipt" not in {k.lower() for k in doc["headers"]}, doc
        rec = w.one()
        assert only(rec, "MPP-Payer").lower() == p["address"].lower()
        assert only(rec, "MPP-Amount") == str(AMOUNT)
        ledger.unchanged()

        # the authorization was not used: once the upstream answers, it pays, once
        up.reset("/chain/v1/after")
        w = Watch(up)
        r = evm_srv.get("/chain/v1/after", [("Authorization", doc["credential"])])
        assert r.status == 200, r
        cid = doc["decodedCredential"]["challenge"]["id"]
        rc = check_evm_receipt(r, cid)
        assert len(w.got()) == 1
        assert ledger.delta() == PAID, ledger.delta()
        assert chain.receipt(rc["reference"])["status"] == "0x1"
        r = evm_srv.get("/chain/v1/after", [("Authorization", doc["credential"])])
        assert_payment_response(r, 402, "invalid-challenge", evm_srv.secret, used_ids=[cid])
        assert ledger.delta() == PAID, ledger.delta()
    finally:
        up.reset("/chain/v1/after")


# ------------------------------------------------------------ 6: discovery

def expected_services():
    weather = {
        "id": "weather", "title": "Weather API", "description": "Forecasts",
        "categories": ["data", "weather"], "basePath": "/weather",
        "routes": [
            {"method": "GET", "pattern": "/v1/status", "path": "/weather/v1/status", "free": True,
             "settle": "before", "offers": []},
            {"method": "GET", "pattern": "/v1/forecast", "path": "/weather/v1/forecast", "free": False,
             "settle": "before", "offers": [BASIC_OFFER, TEST_OFFER]},
            {"method": "GET", "pattern": "/v1/items/:id/*", "path": "/weather/v1/items/:id/*",
             "free": False, "settle": "before", "description": "Item data", "offers": [TEST_OFFER]},
            {"method": "POST", "pattern": "/v1/inference", "path": "/weather/v1/inference",
             "free": False, "settle": "after", "offers": [TEST_OFFER]},
            {"method": "GET", "pattern": "/v1/fail", "path": "/weather/v1/fail", "free": False,
             "settle": "after", "offers": [TEST_OFFER]},
        ],
    }
    keyed = {
        "id": "keyed", "title": "Keyed API", "description": "Key in a header",
        "categories": ["ml", "data"], "basePath": "/keyed",
        "routes": [
            {"method": "GET", "pattern": "/free", "path": "/keyed/free", "free": True,
             "settle": "after", "offers": []},
            {"method": "GET", "pattern": "/paid", "path": "/keyed/paid", "free": False,
             "settle": "after", "offers": [TEST_OFFER]},
            {"method": "GET", "pattern": "/before", "path": "/keyed/before", "free": False,
             "settle": "before", "offers": [TEST_OFFER]},
            {"method": "GET", "pattern": "/first/*", "path": "/keyed/first/*", "free": True,
             "settle": "after", "offers": []},
            {"method": "GET", "pattern": "/first/paid", "path": "/keyed/first/paid", "free": False,
             "settle": "after", "offers": [TEST_OFFER]},
            {"method": "GET", "pattern": "/second/paid", "path": "/keyed/second/paid", "free": False,
             "settle": "after", "offers": [TEST_OFFER]},
            {"method": "GET", "pattern": "/second/*", "path": "/keyed/second/*", "free": True,
             "settle": "after", "offers": []},
        ],
    }
    return [weather, keyed]


def discovery_get(srv, path, ctype="application/json"):
    r = srv.get(path)
    assert r.status == 200, r
    assert content_type(r) == ctype, r
    d = cache_directives(r)
    assert "public" in d and "max-age=300" in d, r.get_all("Cache-Control")
    assert "private" not in d and "no-store" not in d, d
    assert not r.challenges and not r.get_all("Payment-Receipt"), r
    return r


def compare_service(got, want):
    assert set(got) == set(want), "service %s keys: %r" % (want["id"], sorted(got))
    for k in ("id", "title", "description", "categories", "basePath"):
        assert got[k] == want[k], "service %s %s: %r" % (want["id"], k, got[k])
    assert len(got["routes"]) == len(want["routes"]), got["routes"]
    for g, x in zip(got["routes"], want["routes"]):
        assert g == x, "route %s %s:\n got  %r\n want %r" % (x["method"], x["pattern"], g, x)


def test_discover_lists_the_services(srv):
    r = discovery_get(srv, "/discover")
    doc = json.loads(r.body)
    assert set(doc) == {"services"}, doc
    want = expected_services()
    assert [s.get("id") for s in doc["services"]] == [s["id"] for s in want], doc
    for got, w in zip(doc["services"], want):
        compare_service(got, w)


@pytest.mark.parametrize("sid", ["weather", "keyed"])
def test_discover_one_service(srv, sid):
    r = discovery_get(srv, "/discover/" + sid)
    want = {s["id"]: s for s in expected_services()}[sid]
    compare_service(json.loads(r.body), want)
    # the same document as in the list
    listed = {s["id"]: s for s in json.loads(srv.get("/discover").body)["services"]}
    assert json.loads(r.body) == listed[sid]


@pytest.mark.parametrize("path", ["/discover/nosuch", "/discover/Weather", "/discover/weather2",
                                  "/discover/weather/v1"])
def test_discover_unknown_service_is_404(srv, path):
    r = srv.get(path)
    assert r.status == 404, r


def test_openapi_document(srv):
    r = discovery_get(srv, "/openapi.json")
    doc = json.loads(r.body)
    assert doc["openapi"] == "3.1.0", doc
    assert doc["info"]["title"] == REALM and doc["info"]["version"] == "1.0.0", doc["info"]
    info = doc["x-service-info"]
    assert set(info) == {"categories", "docs"}, info
    assert sorted(info["categories"]) == ["data", "ml", "weather"], info
    assert info["docs"] == {"llms": "/llms.txt"}, info

    def offer(o):
        return {k: o[k] for k in ("intent", "method", "amount", "currency")}

    want = {}       # path -> method -> (offers, path parameters)
    for s in expected_services():
        for rt in s["routes"]:
            path = re.sub(r":([A-Za-z0-9_]+)", r"{\1}", rt["path"])
            path = re.sub(r"\*$", "{wildcard}", path)
            want.setdefault(path, {})[rt["method"].lower()] = (
                [offer(o) for o in rt["offers"]], re.findall(r"\{([^}]+)\}", path))
    assert set(doc["paths"]) == set(want), sorted(doc["paths"])
    assert "/weather/v1/items/{id}/{wildcard}" in want

    for path, ops in want.items():
        item = doc["paths"][path]
        assert {k for k in item if k in ("get", "put", "post", "delete", "options", "head", "patch",
                                         "trace")} == set(ops), (path, sorted(item))
        for m, (offers, params) in ops.items():
            op = item[m]
            where = "%s %s" % (m, path)
            declared = {}
            for prm in item.get("parameters", []) + op.get("parameters", []):
                declared[prm["name"]] = prm
            assert set(declared) == set(params), (where, declared)
            for name in params:
                assert declared[name]["in"] == "path" and declared[name]["required"] is True, declared[name]
            if not offers:
                assert set(op["responses"]) == {"200"}, (where, op)
                assert "x-payment-info" not in op, (where, op)
                continue
            assert set(op["responses"]) == {"200", "402"}, (where, op)
            assert op["responses"]["402"] == {"description": "Payment Required"}, (where, op)
            pinfo = op["x-payment-info"]
            assert set(pinfo) == {"offers"}, (where, pinfo)
            assert len(pinfo["offers"]) == len(offers), (where, pinfo)
            for got, exp in zip(pinfo["offers"], offers):
                assert set(got) <= {"intent", "method", "amount", "currency", "description"}, (where, got)
                assert offer(got) == exp, (where, got)
                assert re.fullmatch(r"0|[1-9][0-9]*", got["amount"]), got


def test_llms_txt(srv):
    r = discovery_get(srv, "/llms.txt", ctype="text/plain")
    lines = r.text.split("\n")
    assert lines[0] == "# " + REALM, lines[:3]
    assert lines[1] == "", lines[:3]
    assert lines[2].startswith("> ") and len(lines[2]) > 2, lines[:3]
    body = [l for l in lines[3:] if l.strip()]
    assert body[0] == "## Services", body
    assert body[-1] == "[OpenAPI discovery](/openapi.json)", body

    def price(o):
        return "%s %s (%s)" % (o["amount"], o["currency"], o["method"])

    want = ["## Services"]
    for s in expected_services():
        want.append("- %s: %s" % (s["title"], s["description"]))
        for rt in s["routes"]:
            cost = "free" if rt["free"] else ", ".join(price(o) for o in rt["offers"])
            want.append("  - `%s %s`: %s" % (rt["method"], rt["path"], cost))
    want.append("[OpenAPI discovery](/openapi.json)")
    assert body == want, "\n".join(body)


def test_discovery_reveals_no_secret(srv):
    needles = [TOKEN, API_KEY, str(srv.root / "secret"), "weather.token", "keyed.key",
               srv.secret_bytes.strip().decode(), str(srv.secret_path)]
    for path in ("/discover", "/discover/weather", "/discover/keyed", "/openapi.json", "/llms.txt"):
        r = srv.get(path)
        assert r.status == 200, r
        text = r.text + "\n".join("%s: %s" % h for h in r.headers)
        for n in needles:
            assert n not in text, "%s shows %r" % (path, n)


def test_discovery_documents_are_valid_json(srv):
    for path in ("/discover", "/discover/weather", "/discover/keyed", "/openapi.json"):
        r = srv.get(path)
        assert r.status == 200, r
        json.loads(r.body.decode("utf-8"))   # strict UTF-8 and JSON


# ------------------------------------------------------------ 7: configuration errors

GOOD_TOKEN = b"configtest-token\n"


def write_conf(build, d, body, token=GOOD_TOKEN, token_mode=0o600):
    key = d / "challenge.key"
    key.write_bytes(b"k" * 48 + b"\n")
    key.chmod(0o600)
    tok = d / "up.token"
    if token is not None:
        tok.write_bytes(token)
        tok.chmod(token_mode)
    text = "\n".join([
        "ServerRoot %s" % d,
        "Listen 127.0.0.1:9",
        "ServerName cfg.test",
        "LoadModule mpm_event_module %s/mod_mpm_event.so" % build.moduledir,
        "LoadModule authz_core_module %s/mod_authz_core.so" % build.moduledir,
        "LoadModule proxy_module %s/mod_proxy.so" % build.moduledir,
        "LoadModule proxy_http_module %s/mod_proxy_http.so" % build.moduledir,
        "LoadModule mpp_testmethod_module %s" % build.mod_test,
        "LoadModule mpp_module %s" % build.mod_mpp,
        "ErrorLog %s/error.log" % d,
        "DocumentRoot %s" % d,
        "MPPSecretFile %s" % key,
        NETWORKS + OFFER_BASIC + "\n" + OFFER_TEST,
        body.replace("{token}", str(tok)),
    ]) + "\n"
    conf = d / "httpd.conf"
    conf.write_text(text)
    return conf


def service(*lines, auth="MPPUpstreamBearer file={token}"):
    return "\n".join(["<Location /svc/>", "    ProxyPass http://127.0.0.1:9/",
                      '    MPPService svc title="Svc" description="A service"', "    " + auth]
                     + ["    " + l for l in lines] + ["</Location>", "MPPDiscovery on"])


def run_configtest(build, tmp_path, body, **kw):
    return configtest(build, write_conf(build, tmp_path, body, **kw))


def test_good_proxy_config_passes(build, tmp_path):
    rc, out = run_configtest(build, tmp_path, service(
        'MPPRoute "GET /v1/status" free', 'MPPRoute "GET /v1/forecast" basic t',
        'MPPRoute "GET /v1/items/:id/*" t description="Item data"',
        'MPPRoute "post /v1/inference" t settle=after', "MPPSettle before"))
    assert rc == 0, out
    assert "Syntax OK" in out


def test_good_header_config_passes(build, tmp_path):
    rc, out = run_configtest(build, tmp_path, service('MPPRoute "GET /x" t',
                                                      auth="MPPUpstreamHeader X-API-Key file={token}"))
    assert rc == 0, out


@pytest.mark.parametrize("route,needle", [
    ('MPPRoute "GET /v1/x" nosuchoffer', "nosuchoffer"),
    ('MPPRoute "GET /v1/x" basic nosuchoffer', "nosuchoffer"),
    ('MPPRoute "GET v1/x" t', "v1/x"),
    ('MPPRoute "GET *" t', "*"),
    ('MPPRoute "GET /v1/*/x" t', "/v1/*/x"),
    ('MPPRoute "GET /v1/*/*" t', "/v1/*/*"),
    ('MPPRoute "GE{T /v1/x" t', "GE{T"),
    ('MPPRoute "GET /v1/x" t settle=sometimes', "sometimes"),
    ('MPPRoute "GET /v1/x"', "MPPRoute"),
])
def test_bad_route_is_refused(build, tmp_path, route, needle):
    rc, out = run_configtest(build, tmp_path, service(route))
    assert rc != 0 and "Syntax OK" not in out, out
    assert needle in out, "configtest output does not name %r:\n%s" % (needle, out)


@pytest.mark.parametrize("auth", ["MPPUpstreamBearer file={token}",
                                  "MPPUpstreamHeader X-API-Key file={token}"])
@pytest.mark.parametrize("case", ["world-readable", "missing"])
def test_bad_token_file_is_refused(build, tmp_path, auth, case):
    kw = {"token_mode": 0o644} if case == "world-readable" else {"token": None}
    rc, out = run_configtest(build, tmp_path, service('MPPRoute "GET /x" t', auth=auth), **kw)
    assert rc != 0 and "Syntax OK" not in out, out
    assert str(tmp_path / "up.token") in out, out


@pytest.mark.parametrize("body", [
    '<Location /svc/>\n    ProxyPass http://127.0.0.1:9/\n    MPPRoute "GET /x" t\n</Location>',
    'MPPRoute "GET /x" t',
    service('MPPRoute "GET /x" t') + '\n<Location /other/>\n    MPPRoute "GET /x" t\n</Location>',
])
def test_route_outside_a_service_is_refused(build, tmp_path, body):
    rc, out = run_configtest(build, tmp_path, body)
    assert rc != 0 and "Syntax OK" not in out, out
    assert "MPPRoute" in out, out


HT_CONF = NETWORKS + OFFER_BASIC + "\n" + OFFER_TEST + """
<Directory {docroot}/ht>
    AllowOverride All
</Directory>
"""
HTACCESS = {
    "service": 'MPPService evil title="Evil"\n',
    "route": 'MPPRoute "GET /x" t\n',
    "bearer": "MPPUpstreamBearer file=/etc/hostname\n",
    "header": "MPPUpstreamHeader X-API-Key file=/etc/hostname\n",
    "discovery": "MPPDiscovery on\n",
}
HT_FILES = {}
for _d, _text in HTACCESS.items():
    HT_FILES["htdocs/ht/%s/.htaccess" % _d] = _text
    HT_FILES["htdocs/ht/%s/x.txt" % _d] = "x\n"
HT_ALERT = r"\[core:alert\].*\.htaccess: MPP"


@pytest.fixture(scope="module")
def ht(server_factory):
    s = server_factory("proxy-htaccess", body=HT_CONF, files=HT_FILES, modules=["proxy", "proxy_http"])
    s.group_allow = (HT_ALERT,)
    return s


@pytest.mark.parametrize("path", ["/discover", "/discover/weather", "/openapi.json", "/llms.txt"])
def test_no_discovery_without_mppdiscovery(ht, path):
    r = ht.get(path)
    assert r.status == 404, r


@pytest.mark.log_allow(HT_ALERT)
@pytest.mark.parametrize("name", sorted(HTACCESS))
def test_proxy_directives_in_htaccess_are_500(ht, name):
    offset = ht.log_size()
    r = ht.get("/ht/%s/x.txt" % name)
    assert r.status == 500, r
    assert not r.challenges
    log = ht.log_since(offset)
    assert ".htaccess" in log and HTACCESS[name].split()[0] in log, log
