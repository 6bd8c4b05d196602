"""Assertions shared by the test modules."""
import datetime
import re

from httpd import (PROBLEM_BASE, b64url_decode, compute_id, decode_json_b64url, jcs,
                   parse_rfc3339)

PROBLEM_JSON = "application/problem+json"


def content_type(r):
    return (r.get("Content-Type") or "").split(";")[0].strip().lower()


def cache_directives(r):
    out = []
    for v in r.get_all("Cache-Control"):
        out += [d.strip().lower() for d in v.split(",") if d.strip()]
    return out


def problem(r):
    """The RFC 9457 body of r, checked for the members every problem has."""
    assert content_type(r) == PROBLEM_JSON, r
    body = r.json
    assert isinstance(body, dict), body
    for k in ("type", "title", "status", "detail"):
        assert k in body, "problem body lacks %s: %r" % (k, body)
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert body["status"] == r.status, body
    return body


def check_challenge(c, secret=None):
    """One Payment challenge (a param dict): required params, shapes, and
    the id's HMAC binding when the secret is known."""
    for k in ("id", "realm", "method", "intent", "request", "expires", "opaque"):
        assert c.get(k), "challenge lacks %s: %r" % (k, c)
    assert re.fullmatch(r"[a-z]+", c["method"]), c["method"]
    assert re.fullmatch(r"[A-Za-z0-9-]+", c["intent"]), c["intent"]
    assert "=" not in c["request"]
    raw = b64url_decode(c["request"])
    req = decode_json_b64url(c["request"])
    assert isinstance(req, dict)
    assert raw == jcs(req), "request is not in JCS form: %r" % raw
    if secret is not None:
        assert compute_id(secret, c) == c["id"], "id is not the HMAC of the challenge params"
    return req


def opaque_of(c):
    raw = b64url_decode(c["opaque"])
    obj = decode_json_b64url(c["opaque"])
    assert isinstance(obj, dict), obj
    assert all(isinstance(v, str) for v in obj.values()), "opaque is not a flat string map: %r" % obj
    assert raw == jcs(obj), "opaque is not in JCS form: %r" % raw
    return obj


def assert_payment_response(r, status, slug, secret=None, used_ids=(), n_challenges=None):
    """An error answer of the gate: status, problem type, fresh challenges
    (ids not seen before, the body's challengeId the first of them),
    Cache-Control: no-store, and never a receipt."""
    assert r.status == status, r
    body = problem(r)
    assert body["type"] == PROBLEM_BASE + slug, body
    assert "no-store" in cache_directives(r), r.get_all("Cache-Control")
    assert not r.get_all("Payment-Receipt"), r
    chs = r.challenges
    assert chs, "no fresh Payment challenge in %r" % r
    if n_challenges is not None:
        assert len(chs) == n_challenges, chs
    for c in chs:
        check_challenge(c, secret)
        assert c["id"] not in used_ids, "challenge id %s was not fresh" % c["id"]
    assert body.get("challengeId") == chs[0]["id"], body
    return body


def receipt(r, challenge_id=None, method="test"):
    """The decoded Payment-Receipt of a paid 2xx answer, with the checks
    every receipt must pass."""
    assert 200 <= r.status < 300, r
    vals = r.get_all("Payment-Receipt")
    assert len(vals) == 1, "expected exactly one Payment-Receipt, got %r" % vals
    rc = decode_json_b64url(vals[0].strip())
    assert rc.get("status") == "success", rc
    assert rc.get("method") == method, rc
    ts = parse_rfc3339(rc.get("timestamp", ""))
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - ts).total_seconds()) < 120, rc
    assert isinstance(rc.get("reference"), str) and rc["reference"], rc
    if challenge_id is not None:
        assert rc.get("challengeId") == challenge_id, rc
    assert "private" in cache_directives(r), r.get_all("Cache-Control")
    return rc
