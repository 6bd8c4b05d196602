"""The test client's own helpers (no server): the WWW-Authenticate parser
and the credential encoder the other tests rely on."""
import hashlib
import hmac
import json

import pytest

from httpd import (b64url, b64url_decode, compute_id, jcs, make_credential,
                   parse_www_authenticate)


def test_parser_unescapes_quoted_pairs_and_u_escapes():
    v = r'Payment id="a\"b", realm="x\\y", method="test", description="caf\u00e9 \ud83d\ude00 \q"'
    [(scheme, p)] = parse_www_authenticate(v)
    assert scheme == "Payment"
    assert p["id"] == 'a"b'
    assert p["realm"] == "x\\y"
    assert p["description"] == "caf\u00e9 \U0001F600 q"


def test_parser_splits_joined_challenges_and_other_schemes():
    v = 'Basic realm="r", Payment id="1", method="a", Payment id="2",method=b, Bearer'
    got = parse_www_authenticate(v)
    assert [s for s, _ in got] == ["Basic", "Payment", "Payment", "Bearer"]
    assert got[1][1] == {"id": "1", "method": "a"}
    assert got[2][1] == {"id": "2", "method": "b"}


@pytest.mark.parametrize("bad", ['Payment id="1", id="2"', 'Payment id="open', 'Payment id="1" x'])
def test_parser_refuses_bad_input(bad):
    with pytest.raises(ValueError):
        parse_www_authenticate(bad)


def test_base64url_and_jcs():
    assert b64url(b"\xfb\xff") == "-_8"
    assert b64url_decode("-_8") == b"\xfb\xff"
    with pytest.raises(ValueError):
        b64url_decode("-_8=")
    assert jcs({"b": 1, "a": {"d": "x", "c": [2, 1]}}) == b'{"a":{"c":[2,1],"d":"x"},"b":1}'


def test_credential_echoes_the_challenge():
    c = {"id": "i", "realm": "r", "method": "test", "intent": "charge", "request": "e30",
         "expires": "2099-01-01T00:00:00Z", "opaque": "e30", "unknown": "dropped"}
    auth = make_credential(c, {"proof": "ok"}, realm=None)
    assert auth.startswith("Payment ") and "=" not in auth
    obj = json.loads(b64url_decode(auth.split(" ", 1)[1]))
    assert obj["payload"] == {"proof": "ok"}
    assert obj["challenge"] == {"id": "i", "method": "test", "intent": "charge", "request": "e30",
                                "expires": "2099-01-01T00:00:00Z", "opaque": "e30"}


def test_binding_input_has_seven_slots():
    key = b"k" * 32
    base = {"realm": "r", "method": "m", "intent": "i", "request": "q"}
    assert compute_id(key, base) == compute_id(key, dict(base, description="ignored"))
    assert compute_id(key, base) != compute_id(key, dict(base, opaque="e30"))
    want = b64url(hmac.new(key, b"r|m|i|q|||", hashlib.sha256).digest())
    assert compute_id(key, base) == want
