"""Credentials the gate must refuse, each answered with the right status and
problem type, fresh challenges, Cache-Control: no-store and no receipt; and
the one that pays.

Every refused credential below would pay (test method, proof "ok") if the
check under test were missing, so a missing check shows up as a 200."""
import base64
import datetime
import json
import secrets

import pytest

from checks import assert_payment_response, cache_directives, receipt
from httpd import (NETWORKS, OFFER_BASIC, OFFER_TEST, b64url, compute_id, decode_json_b64url,
                   echo_of, encode_credential, jcs_b64url, make_credential, rfc3339)

CONF = 'MPPRealm "Paid API"\n' + NETWORKS + OFFER_BASIC + "\n" + OFFER_TEST + """
<Location /paid>
    MPPCharge basic t
</Location>
<Location /paid/hdr>
    Header set Cache-Control "max-age=60"
</Location>
ScriptAlias /cgi/ {root}/cgi/
<Location /cgi/paid>
    MPPCharge t
</Location>
"""

CACHING_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\nCache-Control: max-age=60\\n\\n'
echo cached
"""

FILES = {
    "htdocs/paid/a.txt": "paid A\n",
    "htdocs/paid/b.txt": "paid B\n",
    "htdocs/paid/hdr/h.txt": "with a configured Cache-Control\n",
    "cgi/paid": (CACHING_CGI, 0o755),
}

OK = {"proof": "ok"}


@pytest.fixture(scope="module")
def srv(server_factory):
    return server_factory("rejections", body=CONF, files=FILES, modules=["cgi", "headers"])


@pytest.fixture(scope="module")
def other(server_factory):
    """The same configuration and realm with another secret."""
    return server_factory("other-secret", body=CONF, files=FILES, modules=["cgi", "headers"])


# every challenge id this module has seen: a "fresh" challenge is none of them
SEEN = set()


def fresh(srv, path="/paid/a.txt", method="test"):
    r = srv.get(path)
    assert r.status == 402, r
    SEEN.update(c["id"] for c in r.challenges)
    return r.challenge(method)


def resign(srv, echo):
    """A challenge echo with a valid HMAC under srv's secret."""
    echo = dict(echo)
    echo["id"] = compute_id(srv.secret, echo)
    return echo


def send(srv, auth, path="/paid/a.txt", extra=()):
    return srv.get(path, [("Authorization", auth)] + list(extra))


def rejected(srv, r, status, slug, used=()):
    body = assert_payment_response(r, status, slug, srv.secret, used_ids=SEEN | set(used),
                                   n_challenges=2)
    SEEN.update(c["id"] for c in r.challenges)
    return body


# ------------------------------------------------------------ success

def test_test_method_proof_ok_pays(srv):
    c = fresh(srv)
    r = srv.pay("/paid/a.txt", c, OK)
    assert r.status == 200, r
    assert r.body == b"paid A\n"
    rc = receipt(r, challenge_id=c["id"], method="test")
    assert rc["reference"]
    assert "private" in cache_directives(r)
    assert not r.get_all("WWW-Authenticate")


def test_description_is_not_bound(srv):
    c = fresh(srv)
    r = srv.pay("/paid/a.txt", c, OK, description="added by the client")
    assert r.status == 200, r


def test_reencoded_request_is_accepted(srv):
    """The echoed request is compared after canonicalisation: a client that
    re-encodes it with other key order and spacing still pays."""
    c = fresh(srv)
    req = decode_json_b64url(c["request"])
    noncanon = json.dumps(dict(reversed(list(req.items()))), indent=1)
    r = srv.pay("/paid/a.txt", c, OK, request=b64url(noncanon))
    assert r.status == 200, r
    receipt(r, c["id"])


def test_cache_control_of_the_backend_gets_private(srv):
    c = fresh(srv, "/cgi/paid")
    r = srv.pay("/cgi/paid", c, OK)
    assert r.status == 200, r
    assert r.body == b"cached\n"
    d = cache_directives(r)
    assert "max-age=60" in d and "private" in d, r.get_all("Cache-Control")
    receipt(r, c["id"])


def test_cache_control_set_by_mod_headers_gets_private(srv):
    c = fresh(srv, "/paid/hdr/h.txt")
    r = srv.pay("/paid/hdr/h.txt", c, OK)
    assert r.status == 200, r
    d = cache_directives(r)
    assert "max-age=60" in d, r.get_all("Cache-Control")
    assert "private" in d, "Payment-Receipt without Cache-Control: private: %r" % (
        r.get_all("Cache-Control"),)
    receipt(r, c["id"])


def test_large_credential_is_accepted(srv):
    c = fresh(srv)
    payload = {"proof": "ok", "pad": "p" * 3600}
    auth = make_credential(c, payload)
    assert len(auth) >= 4096, len(auth)
    r = send(srv, auth)
    assert r.status == 200, r
    receipt(r, c["id"])


def test_paid_request_for_missing_file_has_no_receipt(srv):
    c = fresh(srv, "/paid/missing.txt")
    r = srv.pay("/paid/missing.txt", c, OK)
    assert r.status == 404, r
    assert not r.get_all("Payment-Receipt")


def test_other_authorization_scheme_is_no_credential(srv):
    r = send(srv, "Basic dXNlcjpwYXNz")
    assert_payment_response(r, 402, "payment-required", srv.secret, n_challenges=2)


# ------------------------------------------------------------ malformed

def _valid_echo(srv):
    return echo_of(fresh(srv))


def _std_alphabet(srv):
    """A credential in the standard base64 alphabet ('+' or '/' in it)."""
    echo = _valid_echo(srv)
    for n in range(64):
        obj = {"challenge": echo, "payload": {"proof": "ok", "pad": "?" * n}}
        enc = base64.b64encode(json.dumps(obj).encode()).decode().rstrip("=")
        if "+" in enc or "/" in enc:
            return "Payment " + enc
    raise AssertionError("could not build a standard-alphabet credential")


MALFORMED = {
    "not base64url": lambda s: "Payment !!!not-base64url!!!",
    "padded": lambda s: make_credential(fresh(s), OK) + "==",
    "standard alphabet": lambda s: _std_alphabet(s),
    "impossible length": lambda s: "Payment abcde",
    "empty token": lambda s: "Payment",
    "trailing junk": lambda s: make_credential(fresh(s), OK) + " junk",
    "not JSON": lambda s: "Payment " + b64url(b"this is not json"),
    "JSON array": lambda s: "Payment " + b64url(b"[1,2,3]"),
    "JSON string": lambda s: "Payment " + b64url(b'"credential"'),
    "missing challenge": lambda s: encode_credential({"payload": OK}),
    "challenge not an object": lambda s: encode_credential({"challenge": "x", "payload": OK}),
    "missing payload": lambda s: encode_credential({"challenge": _valid_echo(s)}),
    "payload not an object": lambda s: encode_credential({"challenge": _valid_echo(s),
                                                          "payload": "ok"}),
    "challenge id missing": lambda s: encode_credential(
        {"challenge": {k: v for k, v in _valid_echo(s).items() if k != "id"}, "payload": OK}),
    "request not base64url JSON": lambda s: encode_credential(
        {"challenge": dict(_valid_echo(s), request="!!"), "payload": OK}),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_credential(srv, case):
    auth = MALFORMED[case](srv)
    r = send(srv, auth)
    rejected(srv, r, 402, "malformed-credential")


# ------------------------------------------------------------ invalid challenge

def _tamper_id(c):
    i = c["id"]
    return {"id": i[:-2] + ("AA" if i[-2:] != "AA" else "BB")}


def _tamper_request(c):
    req = decode_json_b64url(c["request"])
    req["amount"] = "1"
    return {"request": jcs_b64url(req)}


def _tamper_opaque(c):
    o = decode_json_b64url(c["opaque"])
    o["scope"] = "GET /paid/b.txt"
    return {"opaque": jcs_b64url(o)}


TAMPER = {
    "tampered id": _tamper_id,
    "random id": lambda c: {"id": b64url(secrets.token_bytes(32))},
    "tampered request amount": _tamper_request,
    "tampered recipient": lambda c: {"request": jcs_b64url(
        dict(decode_json_b64url(c["request"]), recipient="attacker"))},
    "tampered realm": lambda c: {"realm": "evil.example"},
    "tampered expires": lambda c: {"expires": "2099-01-01T00:00:00Z"},
    "tampered opaque": _tamper_opaque,
    "opaque removed": lambda c: {"opaque": None},
    "digest added": lambda c: {"digest": "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"},
    "expires removed": lambda c: {"expires": None},
}


@pytest.mark.parametrize("case", sorted(TAMPER))
def test_altered_challenge_is_invalid(srv, case):
    c = fresh(srv)
    r = srv.pay("/paid/a.txt", c, OK, **TAMPER[case](c))
    rejected(srv, r, 402, "invalid-challenge", used=[c["id"]])


# The same alterations with a valid HMAC (as if the attacker knew the
# secret, or another place of the same server issued them): the pinned
# fields still refuse them.
RESIGNED = {
    "cheaper request": lambda c: _tamper_request(c),
    "other recipient": TAMPER["tampered recipient"],
    "other realm": lambda c: {"realm": "evil.example"},
    "other place": _tamper_opaque,
    "no opaque": lambda c: {"opaque": None},
    "no expires": lambda c: {"expires": None},
    "bad expires": lambda c: {"expires": "tomorrow"},
    "digest without body": TAMPER["digest added"],
}


@pytest.mark.parametrize("case", sorted(RESIGNED))
def test_validly_bound_but_pinned_mismatch_is_invalid(srv, case):
    c = fresh(srv)
    echo = echo_of(c)
    for k, v in RESIGNED[case](c).items():
        if v is None:
            echo.pop(k, None)
        else:
            echo[k] = v
    echo = resign(srv, echo)
    r = send(srv, encode_credential({"challenge": echo, "payload": OK}))
    rejected(srv, r, 402, "invalid-challenge", used=[c["id"], echo["id"]])


def test_resigned_probe_pays(srv):
    """Control for the test above: a re-signed, unaltered echo pays, so the
    refusals there come from the alteration."""
    c = fresh(srv)
    echo = resign(srv, echo_of(c))
    assert echo["id"] == c["id"]
    echo = dict(echo, expires=rfc3339(datetime.datetime.now(datetime.timezone.utc)
                                      + datetime.timedelta(seconds=60)))
    echo = resign(srv, echo)
    r = send(srv, encode_credential({"challenge": echo, "payload": OK}))
    assert r.status == 200, r
    receipt(r, echo["id"])


def test_credential_for_another_path_is_invalid(srv):
    c = fresh(srv, "/paid/a.txt")
    r = srv.pay("/paid/b.txt", c, OK)
    rejected(srv, r, 402, "invalid-challenge", used=[c["id"]])
    # and where it was issued it pays
    assert srv.pay("/paid/a.txt", c, OK).status == 200


def test_credential_from_a_server_with_another_secret_is_invalid(srv, other):
    c = fresh(other)
    assert c["realm"] == fresh(srv)["realm"]
    r = srv.pay("/paid/a.txt", c, OK)
    rejected(srv, r, 402, "invalid-challenge", used=[c["id"]])
    # the same credential is good where it was issued
    r = other.pay("/paid/a.txt", c, OK)
    assert r.status == 200, r


@pytest.mark.parametrize("ago", [1, 3600 * 24 * 365 * 6])
def test_expired_challenge(srv, ago):
    c = fresh(srv)
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=ago + 1)
    echo = resign(srv, dict(echo_of(c), expires=rfc3339(past)))
    r = send(srv, encode_credential({"challenge": echo, "payload": OK}))
    rejected(srv, r, 402, "payment-expired", used=[c["id"], echo["id"]])


# ------------------------------------------------------------ method and count

@pytest.mark.parametrize("method,intent", [("stripe", "charge"), ("test", "session")])
def test_method_not_offered_here(srv, method, intent):
    c = fresh(srv)
    echo = resign(srv, dict(echo_of(c), method=method, intent=intent))
    r = send(srv, encode_credential({"challenge": echo, "payload": OK}))
    rejected(srv, r, 400, "method-unsupported", used=[c["id"], echo["id"]])


def test_two_credentials_in_one_header(srv):
    a, b = fresh(srv), fresh(srv)
    auth = make_credential(a, OK) + ", " + make_credential(b, OK)
    r = send(srv, auth)
    rejected(srv, r, 400, "bad-request", used=[a["id"], b["id"]])


def test_two_authorization_headers(srv):
    a, b = fresh(srv), fresh(srv)
    r = srv.get("/paid/a.txt", [("Authorization", make_credential(a, OK)),
                                ("Authorization", make_credential(b, OK))])
    rejected(srv, r, 400, "bad-request", used=[a["id"], b["id"]])


# ------------------------------------------------------------ verification

def test_bound_evm_credential_without_a_chain_node_is_502_and_consumes_nothing(srv):
    """No node answers at the configured rpc=: 502 with a problem body; the
    challenge is not used up, so the same credential can be sent again."""
    c = fresh(srv, method="evm")
    payload = {"type": "hash", "hash": "0x" + "ab" * 32}
    for _ in range(2):
        r = srv.pay("/paid/a.txt", c, payload)
        assert r.status == 502, r
        assert r.header("Content-Type") == "application/problem+json", r
        body = json.loads(r.body)
        assert body["status"] == 502 and "chain node" in body["detail"], body
        assert r.get("Payment-Receipt") is None and r.header("Retry-After"), r
        assert not r.challenges, "a 5xx carries no challenge"


def test_test_proof_fail_fails_verification(srv):
    c = fresh(srv)
    r = srv.pay("/paid/a.txt", c, {"proof": "fail"})
    rejected(srv, r, 402, "verification-failed", used=[c["id"]])


@pytest.mark.parametrize("payload", [{"proof": "x"}, {}, {"proof": 1}])
def test_test_bad_proof_is_invalid_payload(srv, payload):
    c = fresh(srv)
    r = srv.pay("/paid/a.txt", c, payload)
    rejected(srv, r, 402, "invalid-payload", used=[c["id"]])


# ------------------------------------------------------------ Accept-Payment

def test_accept_payment_q0_drops_an_offer(srv):
    r = srv.get("/paid/a.txt", [("Accept-Payment", "evm/charge;q=0, test/charge")])
    assert r.status == 402
    assert [c["method"] for c in r.challenges] == ["test"]
    assert r.json["challengeId"] == r.challenges[0]["id"]


def test_accept_payment_orders_by_q(srv):
    r = srv.get("/paid/a.txt", [("Accept-Payment", "test/charge;q=0.5, evm/charge")])
    assert r.status == 402
    assert [c["method"] for c in r.challenges] == ["evm", "test"]
    r = srv.get("/paid/a.txt", [("Accept-Payment", "evm/charge;q=0.5, test/charge")])
    assert [c["method"] for c in r.challenges] == ["test", "evm"]
    assert r.json["challengeId"] == r.challenges[0]["id"]


def test_accept_payment_on_a_rejection(srv):
    c = fresh(srv)
    r = srv.pay("/paid/a.txt", c, {"proof": "fail"},
                headers=[("Accept-Payment", "evm/charge;q=0, */*")])
    assert r.status == 402
    assert [x["method"] for x in r.challenges] == ["test"]
    assert r.json["challengeId"] == r.challenges[0]["id"]


@pytest.mark.parametrize("value", ["garbage", "evm/charge;q=0, test/charge;q=0", ";;"])
def test_unusable_accept_payment_is_ignored(srv, value):
    r = srv.get("/paid/a.txt", [("Accept-Payment", value)])
    assert r.status == 402
    assert [c["method"] for c in r.challenges] == ["evm", "test"]
