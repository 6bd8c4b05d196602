"""Request bodies: a challenge to a request with a body binds the body's
SHA-256 (digest="sha-256=:...:"), the credential must come with the same
body, and the handler still receives the whole body."""
import base64
import hashlib
import os

import pytest

from checks import assert_payment_response, check_challenge, problem, receipt
from httpd import NETWORKS, OFFER_BASIC, OFFER_TEST, compute_id

CONF = NETWORKS + OFFER_BASIC + "\n" + OFFER_TEST + """
ScriptAlias /cgi/ {root}/cgi/
<Location /cgi/echo>
    MPPCharge t
</Location>
"""

# reads the whole body before answering (a CGI that writes while httpd is
# still feeding it a large body would deadlock on the pipes)
ECHO = """#!/bin/sh
echo "$REQUEST_METHOD" >> {root}/state/hits
tmp=$(mktemp) || exit 1
cat > "$tmp"
printf 'Content-Type: application/octet-stream\\n\\n'
cat "$tmp"
rm -f "$tmp"
"""

FILES = {
    "cgi/echo": (ECHO, 0o755),
    "cgi/free-echo": (ECHO, 0o755),
    "state/hits": ("", 0o666),
}


@pytest.fixture(scope="module")
def srv(server_factory):
    s = server_factory("body", body=CONF, files=FILES, modules=["cgi"])
    (s.root / "state").chmod(0o777)
    return s


def hits(srv):
    return (srv.root / "state" / "hits").read_text().split()


def digest_of(body):
    return "sha-256=:%s:" % base64.b64encode(hashlib.sha256(body).digest()).decode()


def post(srv, body, headers=()):
    return srv.request("POST", "/cgi/echo", list(headers), body=body)


def test_post_with_body_gets_a_digest(srv):
    body = b'{"hello": "world"}'
    r = post(srv, body)
    assert r.status == 402, r
    c = r.challenge("test")
    assert c["digest"] == digest_of(body)
    assert c["digest"] == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    check_challenge(c, srv.secret)                  # the digest is inside the HMAC
    assert compute_id(srv.secret, dict(c, digest="")) != c["id"]
    for ch in r.challenges:
        assert ch["digest"] == c["digest"]


@pytest.mark.parametrize("headers", [(), [("Content-Length", "0")]])
def test_post_without_body_gets_no_digest(srv, headers):
    r = srv.request("POST", "/cgi/echo", list(headers))
    assert r.status == 402, r
    for c in r.challenges:
        assert "digest" not in c
        check_challenge(c, srv.secret)


def test_get_gets_no_digest(srv):
    r = srv.get("/cgi/echo")
    assert r.status == 402
    assert all("digest" not in c for c in r.challenges)


def test_same_body_pays_and_reaches_the_handler(srv):
    body = b"amount=1&note=" + b"x" * 100
    c = post(srv, body).challenge("test")
    before = hits(srv)
    r = srv.pay("/cgi/echo", c, method="POST", body=body)
    assert r.status == 200, r
    assert r.body == body
    receipt(r, c["id"])
    assert hits(srv) == before + ["POST"]


def test_large_body_reaches_the_handler_whole(srv):
    body = os.urandom(300 * 1024)
    c = post(srv, body).challenge("test")
    assert c["digest"] == digest_of(body)
    r = srv.pay("/cgi/echo", c, method="POST", body=body)
    assert r.status == 200, r
    assert len(r.body) == len(body)
    assert r.body == body
    receipt(r, c["id"])


def test_chunked_body(srv):
    body = b"chunked body " * 1000
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 4000]), body[i:i + 4000])
                      for i in range(0, len(body), 4000)) + b"0\r\n\r\n"
    te = [("Transfer-Encoding", "chunked")]
    r = post(srv, chunks, te)
    assert r.status == 402, r
    c = r.challenge("test")
    assert c["digest"] == digest_of(body)
    r = srv.pay("/cgi/echo", c, method="POST", body=chunks, headers=te)
    assert r.status == 200, r
    assert r.body == body


def test_other_body_is_refused(srv):
    c = post(srv, b"amount=1").challenge("test")
    before = hits(srv)
    r = srv.pay("/cgi/echo", c, method="POST", body=b"amount=9")
    assert_payment_response(r, 402, "invalid-challenge", srv.secret, used_ids=[c["id"]])
    assert hits(srv) == before, "the handler ran for a refused body"
    # the fresh challenge binds the body that was sent this time
    assert r.challenge("test")["digest"] == digest_of(b"amount=9")


def test_body_added_to_a_bodiless_challenge_is_refused(srv):
    c = srv.request("POST", "/cgi/echo", [("Content-Length", "0")]).challenge("test")
    r = srv.pay("/cgi/echo", c, method="POST", body=b"smuggled")
    assert_payment_response(r, 402, "invalid-challenge", srv.secret, used_ids=[c["id"]])


def test_body_dropped_from_a_body_challenge_is_refused(srv):
    c = post(srv, b"amount=1").challenge("test")
    r = srv.pay("/cgi/echo", c, method="POST", headers=[("Content-Length", "0")])
    assert_payment_response(r, 402, "invalid-challenge", srv.secret, used_ids=[c["id"]])


def test_unpaid_post_does_not_run_the_handler(srv):
    before = hits(srv)
    r = post(srv, b"side=effect")
    assert r.status == 402
    assert hits(srv) == before


def test_free_handler_gets_the_body(srv):
    r = srv.request("POST", "/cgi/free-echo", body=b"free body")
    assert r.status == 200, r
    assert r.body == b"free body"


def test_body_too_large_to_bind(srv):
    body = b"z" * (1024 * 1024 + 1)
    before = hits(srv)
    r = post(srv, body)
    assert r.status == 413, r
    assert not r.get_all("Payment-Receipt")
    assert hits(srv) == before
    assert not r.challenges
    assert problem(r)["status"] == 413
