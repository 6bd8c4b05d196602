"""The 402 answer to an unpaid request: challenges, their binding, the
problem body, and that nothing behind the gate runs."""
import datetime
import re

import pytest

from checks import (PROBLEM_JSON, assert_payment_response, cache_directives, check_challenge,
                    content_type, opaque_of, problem)
from httpd import (EVM_ASSET_ADDRESS, EVM_RECIPIENT, NETWORKS, OFFER_BASIC, OFFER_TEST,
                   PROBLEM_BASE, compute_id, decode_json_b64url, parse_rfc3339)

CONF = NETWORKS + OFFER_BASIC + ' description="Premium \u2014 API"\n' + OFFER_TEST + """
<Location /paid>
    MPPCharge basic t
</Location>
<Location /paid/free>
    MPPCharge off
</Location>
<Location /one>
    MPPCharge basic
</Location>
ScriptAlias /cgi/ {root}/cgi/
<Location /cgi/counter>
    MPPCharge t
</Location>
"""

COUNTER = """#!/bin/sh
echo "$REQUEST_METHOD" >> {root}/state/hits
printf 'Content-Type: text/plain\\n\\n'
echo counted
"""

FILES = {
    "htdocs/free.txt": "free\n",
    "htdocs/paid/a.txt": "paid A\n",
    "htdocs/paid/free/f.txt": "free under paid\n",
    "htdocs/one/a.txt": "one\n",
    "cgi/counter": (COUNTER, 0o755),
    "state/hits": ("", 0o666),
}


@pytest.fixture(scope="module")
def srv(server_factory):
    s = server_factory("challenge", body=CONF, files=FILES, modules=["cgi"])
    (s.root / "state").chmod(0o777)
    return s


def hits(srv):
    return (srv.root / "state" / "hits").read_text().split()


def test_unpaid_request_gets_402_with_one_challenge_per_offer(srv):
    r = srv.get("/paid/a.txt")
    assert r.status == 402, r
    values = r.get_all("WWW-Authenticate")
    assert len(values) == 2, values
    for v in values:
        assert v.startswith("Payment "), v
    chs = r.challenges
    assert len(chs) == 2
    assert [c["method"] for c in chs] == ["evm", "test"]   # MPPCharge order
    assert chs[0]["id"] != chs[1]["id"]


def test_single_offer_gives_single_challenge(srv):
    r = srv.get("/one/a.txt")
    assert r.status == 402, r
    assert len(r.get_all("WWW-Authenticate")) == 1
    assert [c["method"] for c in r.challenges] == ["evm"]


def test_challenge_params_and_hmac_binding(srv):
    r = srv.get("/paid/a.txt")
    for c in r.challenges:
        check_challenge(c, srv.secret)      # required params, shapes, JCS request, HMAC id
        assert c["intent"] == "charge"


def test_id_changes_with_any_bound_field(srv):
    """The id covers realm, method, intent, request, expires, digest and
    opaque, and not the description."""
    c = srv.get("/paid/a.txt").challenge("evm")
    assert compute_id(srv.secret, c) == c["id"]
    for field, value in (("realm", "other"), ("method", "tempo"), ("intent", "session"),
                         ("request", "e30"), ("expires", "2099-01-01T00:00:00Z"),
                         ("digest", "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"),
                         ("opaque", "e30")):
        changed = dict(c, **{field: value})
        assert compute_id(srv.secret, changed) != c["id"], field
    assert compute_id(srv.secret, dict(c, description="other")) == c["id"]


def test_evm_request_fields(srv):
    c = srv.get("/paid/a.txt").challenge("evm")
    req = decode_json_b64url(c["request"])
    assert req["amount"] == "10000"            # 0.01 with 6 decimals, base units
    assert req["currency"] == EVM_ASSET_ADDRESS
    assert req["recipient"] == EVM_RECIPIENT
    md = req["methodDetails"]
    assert md["chainId"] == 31337
    assert md["decimals"] == 6
    assert isinstance(md["credentialTypes"], list) and md["credentialTypes"]
    assert set(md["credentialTypes"]) <= {"authorization", "transaction", "hash", "permit2"}


def test_test_method_request_fields(srv):
    c = srv.get("/paid/a.txt").challenge("test")
    req = decode_json_b64url(c["request"])
    assert req["amount"] == "100"              # price=1 with 2 decimals
    assert req["currency"] == "TOK"
    assert req["recipient"] == "merchant"


def test_expires_is_rfc3339_about_five_minutes_ahead(srv):
    before = datetime.datetime.now(datetime.timezone.utc)
    r = srv.get("/paid/a.txt")
    after = datetime.datetime.now(datetime.timezone.utc)
    for c in r.challenges:
        exp = parse_rfc3339(c["expires"])
        assert exp > after
        assert 300 - 2 <= (exp - before).total_seconds() <= 300 + 2, c["expires"]


def test_opaque_binds_the_place(srv):
    r = srv.get("/paid/a.txt")
    for c in r.challenges:
        assert "=" not in c["opaque"]
        o = opaque_of(c)                       # flat JCS object of strings
        assert o.get("scope") == "GET /paid/a.txt", o


def test_challenges_are_fresh_per_response(srv):
    a = srv.get("/paid/a.txt").challenges
    b = srv.get("/paid/a.txt").challenges
    assert not {c["id"] for c in a} & {c["id"] for c in b}


def test_402_headers_and_problem_body(srv):
    r = srv.get("/paid/a.txt")
    assert r.status == 402
    assert "no-store" in cache_directives(r), r.get_all("Cache-Control")
    assert content_type(r) == PROBLEM_JSON
    body = problem(r)
    assert body["type"] == PROBLEM_BASE + "payment-required"
    assert body["status"] == 402
    assert body["challengeId"] == r.challenges[0]["id"]
    assert not r.get_all("Payment-Receipt")
    assert_payment_response(r, 402, "payment-required", srv.secret, n_challenges=2)


def test_non_ascii_description_is_escaped(srv):
    r = srv.get("/paid/a.txt")
    raw = [v for v in r.get_all("WWW-Authenticate") if 'method="evm"' in v][0]
    assert all(ord(ch) < 0x80 for ch in raw), "raw non-ASCII in %r" % raw
    assert 'description="Premium \\u2014 API"' in raw, raw
    assert r.challenge("evm")["description"] == "Premium \u2014 API"
    assert "description" not in r.challenge("test")


def test_header_values_have_no_line_breaks_and_parse(srv):
    r = srv.get("/paid/a.txt")
    for v in r.get_all("WWW-Authenticate"):
        assert "\r" not in v and "\n" not in v
        assert re.match(r'Payment id="[A-Za-z0-9_-]+", realm="', v), v


def test_realm_defaults_to_server_name(srv):
    for c in srv.get("/paid/a.txt").challenges:
        assert c["realm"] == "mpp.test"


@pytest.mark.parametrize("path,body", [
    ("/free.txt", b"free\n"),
    ("/paid/free/f.txt", b"free under paid\n"),
])
def test_free_places_are_served_without_challenges(srv, path, body):
    r = srv.get(path)
    assert r.status == 200, r
    assert r.body == body
    assert not r.get_all("WWW-Authenticate")
    assert not r.get_all("Payment-Receipt")


@pytest.mark.parametrize("path", [
    "/paid/a.txt?x=1",
    "/paid//a.txt",
    "//paid/a.txt",
    "/paid/./a.txt",
    "/%70aid/a.txt",
    "/paid/free/../a.txt",
])
def test_spellings_of_a_gated_path_are_gated(srv, path):
    r = srv.get(path)
    assert r.status == 402, r
    assert r.challenges


def test_unpaid_request_does_not_run_the_backend(srv):
    before = hits(srv)
    for method, body in (("GET", None), ("POST", b"x=1"), ("HEAD", None)):
        r = srv.request(method, "/cgi/counter", body=body)
        assert r.status == 402, r
    assert hits(srv) == before, "the CGI ran for an unpaid request"
    # the same backend does run once it is paid for (the probe works)
    c = srv.get("/cgi/counter").challenge("test")
    r = srv.pay("/cgi/counter", c)
    assert r.status == 200, r
    assert r.body == b"counted\n"
    assert hits(srv) == before + ["GET"]


def test_gate_log_lines_carry_the_module_name(srv):
    """LogLevel mpp:debug (set by the harness) applies to the gate's own
    log lines, which are tagged with the module's name."""
    offset = srv.log_size()
    assert srv.get("/paid/a.txt").status == 402
    srv.wait_log(r"\[mpp:debug\].*402", offset, timeout=2)
