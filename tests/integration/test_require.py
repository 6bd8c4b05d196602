"""Require payment <offer>: the gate as an authorization provider. It
composes with <RequireAny>/<RequireAll>, logins and Require ip/expr; a login
is asked for (401) before payment (402); the payment is taken only once every
Require said yes."""
import base64
import hashlib

import pytest

from checks import assert_payment_response, problem, receipt
from httpd import NETWORKS, OFFER_BASIC, OFFER_TEST, make_credential

USER, PASSWORD = "alice", "wonderland"
SHA = base64.b64encode(hashlib.sha1(PASSWORD.encode()).digest()).decode()
BASIC = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
BAD_BASIC = "Basic " + base64.b64encode(b"alice:nope").decode()

LOGIN = """    AuthType Basic
    AuthName "members"
    AuthBasicProvider file
    AuthUserFile {root}/htpasswd
"""

CONF = NETWORKS + OFFER_BASIC + "\n" + OFFER_TEST + """
<Location /only>
    Require payment t
</Location>
<Location /two>
    Require payment basic t
</Location>
<Location /ip-or-pay>
    <RequireAny>
        Require ip 10.9.9.9
        Require payment t
    </RequireAny>
</Location>
<Location /local-or-pay>
    <RequireAny>
        Require ip 127.0.0.1
        Require payment t
    </RequireAny>
</Location>
<Location /member-or-pay>
""" + LOGIN + """    <RequireAny>
        Require valid-user
        Require payment t
    </RequireAny>
</Location>
<Location /member-and-pay>
""" + LOGIN + """    <RequireAll>
        Require valid-user
        Require payment t
    </RequireAll>
</Location>
<Location /pay-and-expr>
    <RequireAll>
        Require payment t
        Require expr "%{HTTP:X-Allow} == 'yes'"
    </RequireAll>
</Location>
<Location /expr-and-pay>
    <RequireAll>
        Require expr "%{HTTP:X-Allow} == 'yes'"
        Require payment t
    </RequireAll>
</Location>
<Location /unknown-offer>
    Require payment nosuchoffer
</Location>
<Location /shadow>
    MPPMode shadow
    Require payment t
</Location>
<Directory {docroot}/tenant>
    AllowOverride AuthConfig
</Directory>
"""

FILES = {"htpasswd": "%s:{SHA}%s\n" % (USER, SHA)}
for _d in ("only", "two", "ip-or-pay", "local-or-pay", "member-or-pay", "member-and-pay",
           "pay-and-expr", "expr-and-pay", "unknown-offer", "shadow", "tenant"):
    FILES["htdocs/%s/x.txt" % _d] = "content of %s\n" % _d
FILES["htdocs/tenant/.htaccess"] = "Require payment t\n"

MODULES = ("auth_basic", "authn_core", "authn_file", "authz_user", "authz_host")

# mod_authz_core logs every refused Require at level error, a refused
# payment too (the answer is then the gate's 402)
AUTHZ_LOG = (r"AH01630: client denied", r"AH01631: user alice: authorization failure",
             r"AH01617: user alice: authentication failure")
pytestmark = pytest.mark.log_allow(*AUTHZ_LOG)


@pytest.fixture(scope="module")
def srv(server_factory):
    return server_factory("require", body=CONF, files=FILES, modules=MODULES)


def payment_challenges(r):
    return [v for v in r.get_all("WWW-Authenticate") if v.lstrip().lower().startswith("payment")]


def basic_challenges(r):
    return [v for v in r.get_all("WWW-Authenticate") if v.lstrip().lower().startswith("basic")]


def test_require_payment_alone_is_a_402_then_served_once_paid(srv):
    r = srv.get("/only/x.txt")
    assert_payment_response(r, 402, "payment-required", srv.secret, n_challenges=1)
    assert not basic_challenges(r)
    c = r.challenge("test")
    paid = srv.pay("/only/x.txt", c)
    assert paid.status == 200, paid
    assert paid.body == b"content of only\n"
    receipt(paid, c["id"])
    again = srv.pay("/only/x.txt", c)
    assert_payment_response(again, 402, "invalid-challenge", srv.secret)


def test_require_payment_lists_every_offer(srv):
    r = srv.get("/two/x.txt")
    assert_payment_response(r, 402, "payment-required", srv.secret, n_challenges=2)
    assert sorted(c["method"] for c in r.challenges) == ["evm", "test"]


def test_bad_credential_gets_the_gates_problem_not_403(srv):
    r = srv.get("/only/x.txt", [("Authorization", "Payment !!not-base64!!")])
    assert_payment_response(r, 402, "malformed-credential", srv.secret)


def test_any_of_ip_or_payment(srv):
    r = srv.get("/ip-or-pay/x.txt")
    assert_payment_response(r, 402, "payment-required", srv.secret)
    paid = srv.pay("/ip-or-pay/x.txt", r.challenge("test"))
    assert paid.status == 200, paid
    receipt(paid)


def test_any_of_ip_or_payment_granted_by_ip_carries_no_challenge(srv):
    r = srv.get("/local-or-pay/x.txt")
    assert r.status == 200, r
    assert not r.get_all("WWW-Authenticate"), r
    assert not r.get_all("Payment-Receipt"), r
    assert "no-store" not in " ".join(r.get_all("Cache-Control"))


def test_member_or_pay_asks_for_login_first_and_offers_payment_beside(srv):
    r = srv.get("/member-or-pay/x.txt")
    assert r.status == 401, r
    assert basic_challenges(r), r
    # paying is the other way in: its challenges come with the 401
    assert payment_challenges(r), r


def test_member_or_pay_a_member_gets_in_free(srv):
    r = srv.get("/member-or-pay/x.txt", [("Authorization", BASIC)])
    assert r.status == 200, r
    assert r.body == b"content of member-or-pay\n"
    assert not payment_challenges(r), r
    assert not r.get_all("Payment-Receipt"), r


def test_member_or_pay_a_payer_gets_in_without_login(srv):
    c = srv.get("/member-or-pay/x.txt").challenge("test")
    paid = srv.pay("/member-or-pay/x.txt", c)
    assert paid.status == 200, paid
    receipt(paid, c["id"])


def test_member_and_pay_login_comes_first(srv):
    r = srv.get("/member-and-pay/x.txt")
    assert r.status == 401, r
    assert basic_challenges(r)
    bad = srv.get("/member-and-pay/x.txt", [("Authorization", BAD_BASIC)])
    assert bad.status == 401, bad


def test_member_and_pay_a_member_is_asked_to_pay(srv):
    r = srv.get("/member-and-pay/x.txt", [("Authorization", BASIC)])
    assert_payment_response(r, 402, "payment-required", srv.secret, n_challenges=1)
    # the login succeeded: no login challenge on the 402
    assert not basic_challenges(r), r


def test_member_and_pay_payment_in_payment_authorization_beside_the_login(srv):
    c = srv.get("/member-and-pay/x.txt", [("Authorization", BASIC)]).challenge("test")
    cred = make_credential(c, {"proof": "ok"})
    # a payment without the login: 401, and the payment is not taken
    r = srv.get("/member-and-pay/x.txt", [("Payment-Authorization", cred)])
    assert r.status == 401, r
    r = srv.get("/member-and-pay/x.txt", [("Authorization", BASIC), ("Payment-Authorization", cred)])
    assert r.status == 200, r
    assert r.body == b"content of member-and-pay\n"
    receipt(r, c["id"])
    again = srv.get("/member-and-pay/x.txt", [("Authorization", BASIC), ("Payment-Authorization", cred)])
    assert_payment_response(again, 402, "invalid-challenge", srv.secret)


def test_payment_is_not_taken_when_another_require_refuses(srv):
    c = srv.get("/pay-and-expr/x.txt").challenge("test")
    cred = make_credential(c, {"proof": "ok"})
    refused = srv.get("/pay-and-expr/x.txt", [("Authorization", cred), ("X-Allow", "no")])
    assert refused.status == 403, refused
    assert not refused.get_all("Payment-Receipt")
    # the same credential still pays once the other condition holds
    ok = srv.get("/pay-and-expr/x.txt", [("Authorization", cred), ("X-Allow", "yes")])
    assert ok.status == 200, ok
    receipt(ok, c["id"])


def test_a_refusal_before_payment_is_a_plain_403(srv):
    r = srv.get("/expr-and-pay/x.txt", [("X-Allow", "no")])
    assert r.status == 403, r
    assert not payment_challenges(r)
    r = srv.get("/expr-and-pay/x.txt", [("X-Allow", "yes")])
    assert_payment_response(r, 402, "payment-required", srv.secret)


@pytest.mark.log_allow(r"MPP\d{5}: MPPCharge nosuchoffer", *AUTHZ_LOG)
def test_unknown_offer_is_a_server_error(srv):
    offset = srv.log_size()
    r = srv.get("/unknown-offer/x.txt")
    assert r.status == 500, r
    assert "nosuchoffer" in srv.log_since(offset)


def test_require_payment_in_tenant_htaccess(srv):
    r = srv.get("/tenant/x.txt")
    assert_payment_response(r, 402, "payment-required", srv.secret)
    paid = srv.pay("/tenant/x.txt", r.challenge("test"))
    assert paid.status == 200, paid


def test_shadow_mode_serves_with_the_challenge(srv):
    r = srv.get("/shadow/x.txt")
    assert r.status == 200, r
    assert r.body == b"content of shadow\n"
    assert payment_challenges(r), r
    c = r.challenge("test")
    paid = srv.pay("/shadow/x.txt", c)
    assert paid.status == 200, paid
    receipt(paid, c["id"])


def test_options_is_not_charged(srv):
    r = srv.request("OPTIONS", "/only/x.txt")
    assert r.status in (200, 204), r
    assert not payment_challenges(r)


def test_problem_body_on_converted_answer(srv):
    r = srv.get("/only/x.txt")
    body = problem(r)
    assert body["status"] == 402
