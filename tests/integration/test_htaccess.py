"""Tenant settings in .htaccess (AllowOverride AuthConfig): MPPCharge,
MPPPrice and MPPRecipient work there; everything else, and any of them
without AuthConfig, is refused with a 500 whose log line names the file."""
import pytest

from checks import assert_payment_response, check_challenge, receipt
from httpd import (EVM_RECIPIENT, NETWORKS, OFFER_BASIC, OFFER_TEST, TENANT_RECIPIENT,
                   compute_id, decode_json_b64url, echo_of, encode_credential, jcs_b64url)

CONF = NETWORKS + OFFER_BASIC + "\n" + OFFER_TEST + """
MPPOffer tt asset=tok price=1 recipient=merchant tenant-price=0.5..5 tenant-recipient=on
<Directory {docroot}/ht>
    AllowOverride AuthConfig
</Directory>
<Directory {docroot}/fileinfo>
    AllowOverride FileInfo
</Directory>
"""

HTACCESS = {
    "price": "MPPCharge basic\nMPPPrice 0.05\n",
    "price-paid": "MPPCharge tt\nMPPPrice 0.75\n",
    "price-high": "MPPCharge tt\nMPPPrice 2\n",
    "price-outside": "MPPCharge basic\nMPPPrice 5.00\n",
    "price-outside-first": "MPPPrice 1.10\nMPPCharge basic\n",
    "price-no-range": "MPPCharge t\nMPPPrice 0.5\n",
    "recipient": "MPPCharge basic\nMPPRecipient %s\n" % TENANT_RECIPIENT,
    "recipient-paid": "MPPCharge tt\nMPPRecipient shop-42\n",
    "recipient-bad": "MPPCharge basic\nMPPRecipient 0x1234\n",
    "recipient-not-allowed": "MPPCharge t\nMPPRecipient other\n",
    "unknown-offer": "MPPCharge nosuchoffer\n",
    "gated": "MPPCharge t\n",
    "gated/free": "MPPCharge off\n",
    "secretfile": "MPPSecretFile /etc/hostname\n",
    "network": "MPPNetwork evil evm chain-id=1 rpc=http://127.0.0.1:1\n",
    "asset": "MPPAsset evil network=anvil address=%s decimals=6\n" % EVM_RECIPIENT,
    "offer": "MPPOffer evil asset=usdc price=0 recipient=%s\n" % EVM_RECIPIENT,
    "realm": "MPPRealm evil\n",
    "plain": "MPPAllowPlainHTTP on\n",
    "store": "MPPStore shm size=8M\n",
    "mode": "MPPCharge t\nMPPMode shadow\n",
    "compat": "MPPCharge t\nMPPCompat vlexivo\n",
    "ratelimit": "MPPCharge t\nMPPRateLimit 1000\n",
    "jwtkey": "MPPJWTKey evil alg=HS256 file=/etc/hostname\n",
    "service": "MPPService evil\n",
    "route": "MPPRoute \"GET /x\" free\n",
    "bearer": "MPPUpstreamBearer file=/etc/hostname\n",
    "upheader": "MPPUpstreamHeader X-Key /etc/hostname\n",
    "settle": "MPPSettle after\n",
    "discovery": "MPPDiscovery on\n",
}

FILES = {}
for _d, _text in HTACCESS.items():
    FILES["htdocs/ht/%s/.htaccess" % _d] = _text
    FILES["htdocs/ht/%s/x.txt" % _d] = "x in %s\n" % _d
FILES["htdocs/fileinfo/charge/.htaccess"] = "MPPCharge basic\n"
FILES["htdocs/fileinfo/charge/x.txt"] = "x\n"
FILES["htdocs/fileinfo/price/.htaccess"] = "MPPPrice 0.05\n"
FILES["htdocs/fileinfo/price/x.txt"] = "x\n"

# .htaccess errors are logged by httpd core at level alert, request-time
# configuration errors of the gate at level error
HTACCESS_ALERT = r"\[core:alert\].*\.htaccess: MPP"


@pytest.fixture(scope="module")
def srv(server_factory):
    return server_factory("htaccess", body=CONF, files=FILES)


def refused_500(srv, path, *needles):
    offset = srv.log_size()
    r = srv.get(path)
    assert r.status == 500, r
    assert not r.challenges
    log = srv.log_since(offset)
    for n in needles:
        assert n in log, "error log does not name %r:\n%s" % (n, log)
    return log


def test_tenant_price(srv):
    r = srv.get("/ht/price/x.txt")
    assert r.status == 402, r
    c = r.challenge("evm")
    req = check_challenge(c, srv.secret)
    assert req["amount"] == "50000"
    assert req["recipient"] == EVM_RECIPIENT


def test_tenant_price_pays(srv):
    r = srv.get("/ht/price-paid/x.txt")
    c = r.challenge("test")
    assert decode_json_b64url(c["request"])["amount"] == "75"
    r = srv.pay("/ht/price-paid/x.txt", c)
    assert r.status == 200, r
    assert r.body == b"x in price-paid\n"
    receipt(r, c["id"])


@pytest.mark.log_allow(HTACCESS_ALERT)   # only while the price is wrongly refused
def test_tenant_price_above_one_unit(srv):
    r = srv.get("/ht/price-high/x.txt")
    assert r.status == 402, r
    c = r.challenge("test")
    assert decode_json_b64url(c["request"])["amount"] == "200"


def test_credential_for_the_offer_price_is_refused_under_a_tenant_price(srv):
    """A challenge at the offer's own price does not pay where the tenant
    set another price."""
    c = srv.get("/ht/gated/x.txt").challenge("test")          # offer t, 100 base units
    plain = decode_json_b64url(c["request"])
    tenant = srv.get("/ht/price-paid/x.txt").challenge("test")
    assert decode_json_b64url(tenant["request"])["amount"] != plain["amount"]
    echo = echo_of(tenant)
    echo["request"] = jcs_b64url(dict(decode_json_b64url(tenant["request"]),
                                      amount=plain["amount"]))
    echo["id"] = compute_id(srv.secret, echo)
    r = srv.get("/ht/price-paid/x.txt",
                [("Authorization", encode_credential({"challenge": echo,
                                                      "payload": {"proof": "ok"}}))])
    assert_payment_response(r, 402, "invalid-challenge", srv.secret, used_ids=[tenant["id"]])


@pytest.mark.log_allow(HTACCESS_ALERT)
def test_tenant_price_outside_the_range(srv):
    refused_500(srv, "/ht/price-outside/x.txt",
                str(srv.docroot / "ht" / "price-outside" / ".htaccess"), "MPPPrice", "5.00")


@pytest.mark.log_allow(r"\[(?:mpp)?:error\].*MPPPrice 1\.10")
def test_tenant_price_before_charge_outside_the_range(srv):
    refused_500(srv, "/ht/price-outside-first/x.txt", "MPPPrice", "1.10")


@pytest.mark.log_allow(HTACCESS_ALERT)
def test_tenant_price_where_the_offer_has_none(srv):
    refused_500(srv, "/ht/price-no-range/x.txt",
                str(srv.docroot / "ht" / "price-no-range" / ".htaccess"), "MPPPrice")


def test_tenant_recipient(srv):
    r = srv.get("/ht/recipient/x.txt")
    assert r.status == 402, r
    req = check_challenge(r.challenge("evm"), srv.secret)
    assert req["recipient"] == TENANT_RECIPIENT
    assert req["amount"] == "10000"


def test_tenant_recipient_pays(srv):
    c = srv.get("/ht/recipient-paid/x.txt").challenge("test")
    assert decode_json_b64url(c["request"])["recipient"] == "shop-42"
    r = srv.pay("/ht/recipient-paid/x.txt", c)
    assert r.status == 200, r
    receipt(r, c["id"])


@pytest.mark.log_allow(HTACCESS_ALERT)
def test_tenant_recipient_bad_address(srv):
    refused_500(srv, "/ht/recipient-bad/x.txt",
                str(srv.docroot / "ht" / "recipient-bad" / ".htaccess"), "MPPRecipient", "0x1234")


@pytest.mark.log_allow(HTACCESS_ALERT)
def test_tenant_recipient_not_allowed_by_the_offer(srv):
    refused_500(srv, "/ht/recipient-not-allowed/x.txt",
                str(srv.docroot / "ht" / "recipient-not-allowed" / ".htaccess"), "MPPRecipient")


@pytest.mark.log_allow(HTACCESS_ALERT)
def test_unknown_offer(srv):
    refused_500(srv, "/ht/unknown-offer/x.txt",
                str(srv.docroot / "ht" / "unknown-offer" / ".htaccess"), "MPPCharge",
                "nosuchoffer")


def test_charge_and_off_in_htaccess(srv):
    r = srv.get("/ht/gated/x.txt")
    assert r.status == 402, r
    assert [c["method"] for c in r.challenges] == ["test"]
    r = srv.get("/ht/gated/free/x.txt")
    assert r.status == 200, r
    assert not r.challenges


@pytest.mark.log_allow(HTACCESS_ALERT)
@pytest.mark.parametrize("name,directive", [
    ("secretfile", "MPPSecretFile"),
    ("network", "MPPNetwork"),
    ("asset", "MPPAsset"),
    ("offer", "MPPOffer"),
    ("realm", "MPPRealm"),
    ("plain", "MPPAllowPlainHTTP"),
    ("store", "MPPStore"),
    ("mode", "MPPMode"),
    ("compat", "MPPCompat"),
    ("ratelimit", "MPPRateLimit"),
    ("jwtkey", "MPPJWTKey"),
    ("service", "MPPService"),
    ("route", "MPPRoute"),
    ("bearer", "MPPUpstreamBearer"),
    ("upheader", "MPPUpstreamHeader"),
    ("settle", "MPPSettle"),
    ("discovery", "MPPDiscovery"),
])
def test_server_directives_are_not_allowed(srv, name, directive):
    log = refused_500(srv, "/ht/%s/x.txt" % name,
                      str(srv.docroot / "ht" / name / ".htaccess"), directive)
    assert "not allowed here" in log


@pytest.mark.log_allow(HTACCESS_ALERT)
@pytest.mark.parametrize("name,directive", [("charge", "MPPCharge"), ("price", "MPPPrice")])
def test_tenant_directives_need_authconfig(srv, name, directive):
    log = refused_500(srv, "/fileinfo/%s/x.txt" % name,
                      str(srv.docroot / "fileinfo" / name / ".htaccess"), directive)
    assert "not allowed here" in log
