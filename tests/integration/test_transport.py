"""Plain HTTP: a client that is not on the loopback (as mod_remoteip sees
it) gets a 403 problem and no challenge, unless the vhost says TLS ends in
front of it (MPPAllowPlainHTTP on, or a https:// ServerName)."""
import pytest

from checks import PROBLEM_JSON, assert_payment_response, content_type, problem
from httpd import NETWORKS, OFFER_TEST

CONF = NETWORKS + OFFER_TEST + """
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
<Location /paid>
    MPPCharge t
</Location>
<VirtualHost 127.0.0.1:{port}>
    ServerName plain.test
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName lb.test
    MPPAllowPlainHTTP on
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName https://tls.test
</VirtualHost>
"""

FILES = {
    "htdocs/paid/a.txt": "paid A\n",
    "htdocs/free.txt": "free\n",
}

REMOTE = [("X-Forwarded-For", "203.0.113.7")]


@pytest.fixture(scope="module")
def srv(server_factory):
    return server_factory("transport", body=CONF, files=FILES, modules=["remoteip"])


def test_remote_plain_http_client_gets_403_without_challenge(srv):
    r = srv.get("/paid/a.txt", REMOTE, host="plain.test")
    assert r.status == 403, r
    assert not r.get_all("WWW-Authenticate")
    assert not r.get_all("Payment-Receipt")
    assert content_type(r) == PROBLEM_JSON
    body = problem(r)
    assert body["status"] == 403
    assert "challengeId" not in body
    assert b"paid A" not in r.body


def test_remote_plain_http_credential_is_not_taken(srv):
    c = srv.get("/paid/a.txt", host="plain.test").challenge("test")
    r = srv.pay("/paid/a.txt", c, headers=REMOTE + [("Host", "plain.test")])
    assert r.status == 403, r
    assert not r.get_all("WWW-Authenticate")
    assert not r.get_all("Payment-Receipt")


def test_loopback_client_gets_402(srv):
    r = srv.get("/paid/a.txt", host="plain.test")
    assert_payment_response(r, 402, "payment-required", srv.secret)
    assert r.challenges[0]["realm"] == "plain.test"


def test_allow_plain_http_gives_402_to_remote_clients(srv):
    r = srv.get("/paid/a.txt", REMOTE, host="lb.test")
    assert_payment_response(r, 402, "payment-required", srv.secret)
    c = r.challenge("test")
    assert c["realm"] == "lb.test"
    r = srv.pay("/paid/a.txt", c, headers=REMOTE + [("Host", "lb.test")])
    assert r.status == 200, r


def test_https_server_name_counts_as_tls(srv):
    r = srv.get("/paid/a.txt", REMOTE, host="tls.test")
    assert_payment_response(r, 402, "payment-required", srv.secret)
    assert r.challenges[0]["realm"] == "tls.test"


def test_free_place_is_served_to_remote_clients(srv):
    r = srv.get("/free.txt", REMOTE, host="plain.test")
    assert r.status == 200, r
    assert r.body == b"free\n"


def test_allow_plain_http_is_logged_at_startup(srv):
    log = srv.log_text()
    assert "MPPAllowPlainHTTP is on for lb.test" in log
    assert "MPPAllowPlainHTTP is on for plain.test" not in log
