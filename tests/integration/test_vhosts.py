"""Per-vhost isolation: each virtual host has its own realm, challenge
secret, offers and prices; a credential paid on one is refused on another,
even for the same path and the same offer name."""
import pytest

from checks import assert_payment_response, check_challenge, problem, receipt
from httpd import NETWORKS, OFFER_TEST, compute_id, decode_json_b64url, make_credential

CONF = NETWORKS + OFFER_TEST + """
<VirtualHost 127.0.0.1:{port}>
    ServerName a.test
    MPPRealm shop-a
    MPPSecretFile {root}/secret/a.key
    MPPOffer t asset=tok price=1 recipient=merchant-a
    <Location /paid>
        MPPCharge t
    </Location>
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName b.test
    MPPRealm shop-b
    MPPSecretFile {root}/secret/b.key
    MPPOffer t asset=tok price=2 recipient=merchant-b
    <Location /paid>
        MPPCharge t
    </Location>
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName c.test
    <Location /paid>
        MPPCharge t
    </Location>
</VirtualHost>
"""

KEY_A = b"a" * 16 + b"-vhost-a-challenge-secret-0123456789\n"
KEY_B = b"b" * 16 + b"-vhost-b-challenge-secret-0123456789\n"

FILES = {
    "secret/a.key": (KEY_A, 0o600),
    "secret/b.key": (KEY_B, 0o600),
    "htdocs/paid/x.txt": "paid\n",
}


@pytest.fixture(scope="module")
def srv(server_factory):
    return server_factory("vhosts", body=CONF, files=FILES)


def challenge_on(srv, host):
    r = srv.get("/paid/x.txt", host=host)
    assert r.status == 402, r
    return r.challenge("test")


def test_each_vhost_has_its_realm_secret_and_price(srv):
    a = challenge_on(srv, "a.test")
    b = challenge_on(srv, "b.test")
    c = challenge_on(srv, "c.test")
    assert (a["realm"], b["realm"], c["realm"]) == ("shop-a", "shop-b", "c.test")
    assert compute_id(KEY_A[:-1], a) == a["id"]
    assert compute_id(KEY_B[:-1], b) == b["id"]
    assert compute_id(srv.secret, c) == c["id"]
    ra, rb, rc = (decode_json_b64url(x["request"]) for x in (a, b, c))
    assert (ra["amount"], ra["recipient"]) == ("100", "merchant-a")
    assert (rb["amount"], rb["recipient"]) == ("200", "merchant-b")
    assert (rc["amount"], rc["recipient"]) == ("100", "merchant")


@pytest.mark.parametrize("paid_on,tried_on", [("a.test", "b.test"), ("b.test", "a.test"),
                                              ("a.test", "c.test"), ("c.test", "a.test")])
def test_a_credential_for_one_vhost_is_refused_on_another(srv, paid_on, tried_on):
    c = challenge_on(srv, paid_on)
    cred = make_credential(c, {"proof": "ok"})
    r = srv.get("/paid/x.txt", [("Authorization", cred)], host=tried_on)
    assert r.status == 402, r
    assert problem(r)["type"].rsplit("/", 1)[1] in ("invalid-challenge", "method-unsupported"), problem(r)
    assert not r.get_all("Payment-Receipt")
    # it was not spent by the refusal: it still pays where it was issued
    ok = srv.get("/paid/x.txt", [("Authorization", cred)], host=paid_on)
    assert ok.status == 200, ok
    receipt(ok, c["id"])


def test_challenge_echo_with_the_other_vhosts_realm_is_refused(srv):
    a = challenge_on(srv, "a.test")
    # a's challenge re-labelled for b: the id no longer matches b's secret
    r = srv.get("/paid/x.txt", [("Authorization", make_credential(a, {"proof": "ok"}, realm="shop-b"))],
                host="b.test")
    assert_payment_response(r, 402, "invalid-challenge")
