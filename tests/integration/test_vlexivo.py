"""The Vlexivo-compatible unlock flow against mod_mpp alone: the real
Debian apache2, a local anvil chain with the test token, and plain
transfers sent from anvil's unlocked dev accounts.

A place with `MPPCompat vlexivo` answers every 402 with a `challenge` member
in its problem body (a nonce bound to the resource and an expiry by an HMAC
under the challenge key) and `X-Vlexivo-Protocol: vlexivo/1.0`. The buyer
pays on chain by itself and POSTs {proof:{tx_hash, buyer_wallet, nonce},
currency} to the `mpp-unlock` handler, which checks the receipt on chain,
spends the nonce and the transaction (once each) and answers with an
entitlement token signed with the place's MPPGrant key (per-session) or its
MPPEntitlement key.

Every refusal is checked with a real artefact (a real nonce, a real
transaction on the chain) and, where that makes sense, followed by a good
unlock of the same nonce: a refused unlock spends nothing.

Nonces live 900 seconds. Expiry is tested with a nonce made by the test
itself under the server's challenge key (the harness writes that key):
the construction is first checked against nonces the server issued, and a
made nonce with a future expiry is redeemed for real, so the one that is
refused differs only in its expiry."""
import concurrent.futures
import datetime
import hashlib
import hmac
import json
import secrets
import threading
import time

import pytest

from chain import Chain, word
from checks import assert_payment_response, cache_directives, check_challenge, problem, receipt
from httpd import (b64url, b64url_decode, decode_json_b64url, free_port, jcs, jcs_b64url, make_credential,
                   parse_rfc3339)

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
RECIPIENT = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"       # anvil account 1: not the recipient
AMOUNT = 10000                  # price=0.01 of a 6-decimal token
CHAIN_ID = 31337
NONCE_TTL = 900
GRANT_SECS = 600
PROTOCOL = "vlexivo/1.0"
TRANSFER_GAS = hex(100000)

NETWORKS = """
MPPNetwork anvil evm chain-id=31337 rpc={rpc} relayer-key={root}/secret/relayer.key timeout=2
MPPAsset usdc network=anvil address=%(token)s decimals=6 eip712-name="USD Coin" eip712-version=2
MPPOffer basic asset=usdc price=0.01 recipient=%(rcpt)s
MPPJWTKey site alg=HS256 file={root}/secret/site.key
<Location /articles/>
    MPPCharge basic
    MPPGrant session=%(grant)d key=site
    MPPCompat vlexivo unlock=/v1/unlock publisher=pub-1
</Location>
<Location /v1/unlock>
    SetHandler mpp-unlock
</Location>
""" % {"token": TOKEN, "rcpt": RECIPIENT, "grant": GRANT_SECS}

# the main server: the flow, every refusal, and the challenge rate limit
# (/limited/ is its only place with MPPRateLimit, and only that test asks it)
CONF = NETWORKS + """
MPPNetwork down evm chain-id=31337 rpc=http://127.0.0.1:{closed} relayer-key={root}/secret/relayer.key timeout=2
MPPAsset usdcdown network=down address=%(token)s decimals=6 eip712-name="USD Coin" eip712-version=2
MPPOffer down asset=usdcdown price=0.01 recipient=%(rcpt)s
<Location /reports/>
    MPPCharge basic
    MPPEntitlement site scope=per-article
    MPPCompat vlexivo unlock=/v1/unlock publisher=pub-1
</Location>
<Location /down/>
    MPPCharge down
    MPPGrant session=%(grant)d key=site
    MPPCompat vlexivo unlock=/v1/unlock publisher=pub-1
</Location>
<Location /limited/>
    MPPCharge basic
    MPPGrant session=%(grant)d key=site
    MPPCompat vlexivo unlock=/v1/unlock publisher=pub-1
    MPPRateLimit 3
</Location>
""" % {"token": TOKEN, "rcpt": RECIPIENT, "grant": GRANT_SECS}

# a server (and store) of its own for the unlock rate limit, so that no
# request of another test counts against it
LIMITED_UNLOCK_CONF = NETWORKS + """
<Location /slow/unlock>
    SetHandler mpp-unlock
    MPPRateLimit 3
</Location>
"""

# places with limits of their own, a new server (and store) for each test
PLACES_CONF = NETWORKS + """
<Location /limited/>
    MPPCharge basic
    MPPCompat vlexivo
    MPPRateLimit 3
</Location>
<Location /metered/>
    MPPCharge basic
    MPPGrant session=%(grant)d key=site
    MPPCompat vlexivo
    MPPRateLimit 3
</Location>
<Location /wide/>
    MPPCharge basic
    MPPCompat vlexivo
    MPPRateLimit 1000
</Location>
""" % {"grant": GRANT_SECS}

ARTICLE = b"<p>article one</p>\n"
FILES = {
    "htdocs/articles/a1": ARTICLE,
    "htdocs/articles/a2": b"<p>article two</p>\n",
    "htdocs/reports/r1": b"report one\n",
    "htdocs/reports/r2": b"report two\n",
    "htdocs/down/d1": b"down\n",
    "htdocs/limited/l1": b"limited\n",
    "htdocs/free/f1": b"free\n",
    "htdocs/metered/m1": b"metered\n",
    "htdocs/wide/w1": b"wide\n",
}


# ------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    with Chain(tmp_path_factory.mktemp("chain")) as c:
        yield c


def server_files(chain):
    files = dict(FILES)
    files["secret/relayer.key"] = (chain.info["relayer"]["privateKey"] + "\n", 0o600)
    # 48 bytes, no trailing newline (the module would strip one)
    files["secret/site.key"] = (secrets.token_urlsafe(36).encode("ascii"), 0o600)
    return files


def site_key(srv):
    return (srv.root / "secret" / "site.key").read_bytes()


@pytest.fixture(scope="module")
def srv(server_factory, chain):
    conf = CONF.replace("{rpc}", chain.rpc_url).replace("{closed}", str(free_port()))
    return server_factory("vlexivo", body=conf, files=server_files(chain))


@pytest.fixture(scope="module")
def limited_srv(server_factory, chain):
    return server_factory("vlexivo-limits", body=LIMITED_UNLOCK_CONF.replace("{rpc}", chain.rpc_url),
                          files=server_files(chain))


@pytest.fixture
def places_srv(server_factory, chain):
    """A server (and store) for one test."""
    return server_factory("vlexivo-places", body=PLACES_CONF.replace("{rpc}", chain.rpc_url),
                          files=server_files(chain))


def payer(chain, n):
    """A funded dev account (anvil keeps them unlocked for eth_sendTransaction)."""
    return chain.info["payers"][n]["address"]


# ------------------------------------------------------------ helpers

def transfer(chain, sender, to=RECIPIENT, amount=AMOUNT, gas=None, status="0x1"):
    """A token transfer sent from `sender`; returns its hash once mined
    with the expected status."""
    tx = {"from": sender, "to": TOKEN, "data": chain.transfer_data(to, amount)}
    if gas:
        tx["gas"] = gas
    h = chain.send_transaction(tx)
    rc = chain.mined_receipt(h)
    assert rc is not None and rc["status"] == status, rc
    return h


def vlexivo_402(srv, path="/articles/a1"):
    """The 402 of a place: the MPP challenge and the Vlexivo challenge."""
    r = srv.get(path)
    assert r.status == 402, r
    assert r.header("X-Vlexivo-Protocol") == PROTOCOL, r
    body = problem(r)
    assert isinstance(body.get("challenge"), dict), body
    return r, body


def challenge(srv, path="/articles/a1"):
    return vlexivo_402(srv, path)[1]["challenge"]


def nonce_of(srv, path="/articles/a1"):
    return challenge(srv, path)["nonce"]


def unlock(srv, body, path="/v1/unlock", content_type="application/json"):
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    return srv.request("POST", path, [("Content-Type", content_type)], body=body)


def proof(nonce, tx_hash, buyer, currency=TOKEN):
    return {"proof": {"tx_hash": tx_hash, "buyer_wallet": buyer, "nonce": nonce}, "currency": currency}


def vlexivo_answer(r):
    """What every answer of the unlock handler has."""
    assert r.get("Content-Type", "").split(";")[0].strip() == "application/json", r
    assert r.header("X-Vlexivo-Protocol") == PROTOCOL, r
    assert "no-store" in cache_directives(r), r
    return r.json


def refused(r, status, code):
    assert r.status == status, r
    body = vlexivo_answer(r)
    assert set(body) == {"success", "error", "status"}, body
    assert body["success"] is False and body["status"] == status, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body


def granted(r, tx_hash, rid="/articles/a1", scope="per-session"):
    assert r.status == 200, r
    body = vlexivo_answer(r)
    assert set(body) == {"status", "entitlement_token", "resource_id", "scope_type", "expires_at",
                         "tx_hash"}, body
    assert body["status"] == "granted", body
    assert body["tx_hash"] == tx_hash.lower(), body
    assert body["resource_id"] == rid, body
    assert body["scope_type"] == scope, body
    return body


def redeem(srv, chain, nonce, sender, rid="/articles/a1", tx_hash=None, path="/v1/unlock"):
    """The nonce is still good: it unlocks with a good transfer (tx_hash,
    or a new one from sender)."""
    h = tx_hash or transfer(chain, sender)
    return granted(unlock(srv, proof(nonce, h, sender), path), h, rid)


def jwt_parts(token, key=None):
    """Header and claims of a compact JWS; with key, its HS256 signature is
    checked."""
    h, c, s = token.split(".")
    header = decode_json_b64url(h)
    if key is not None:
        want = hmac.new(key, ("%s.%s" % (h, c)).encode("ascii"), hashlib.sha256).digest()
        assert hmac.compare_digest(b64url_decode(s), want), "the token's signature is not HS256 under the site key"
    return header, decode_json_b64url(c)


def nonce_parts(nonce):
    prefix, payload, mac = nonce.split(".")
    assert prefix == "vlx1", nonce
    return payload, mac


def nonce_mac(key, payload):
    return b64url(hmac.new(key, ("vlexivo|" + payload).encode("ascii"), hashlib.sha256).digest())


def make_nonce(key, rid, expires):
    """A nonce as the server makes them: vlx1.<JCS {e,n,r}>.<HMAC>."""
    payload = jcs_b64url({"e": int(expires), "n": b64url(secrets.token_bytes(12)), "r": rid})
    return "vlx1.%s.%s" % (payload, nonce_mac(key, payload))


def flip(text, i):
    """text with the character at i replaced by another base64url one."""
    return text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1:]


def in_one_minute(seconds):
    """Rate limits count per calendar minute: returns once the next
    `seconds` fall in one minute."""
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.2)


# ------------------------------------------------------------ 1: the flow

def test_a_whole_unlock_from_402_to_the_article(srv, chain):
    buyer = payer(chain, 0)
    before = {"recipient": chain.balance(RECIPIENT), "buyer": chain.balance(buyer)}

    # the 402: the MPP challenge in WWW-Authenticate, the Vlexivo one in the body
    t0 = datetime.datetime.now(datetime.timezone.utc)
    r, body = vlexivo_402(srv)
    assert_payment_response(r, 402, "payment-required", secret=srv.secret, n_challenges=1)
    mpp = r.challenge("evm")
    req = check_challenge(mpp, srv.secret)
    ch = body["challenge"]
    assert set(ch) == {"nonce", "resource_id", "scope_type", "price", "unlock_url", "expires_at",
                       "protocol", "publisher_id"}, ch
    assert ch["resource_id"] == "/articles/a1", ch
    assert ch["scope_type"] == "per-session", ch
    assert ch["unlock_url"] == "/v1/unlock", ch
    assert ch["protocol"] == PROTOCOL, ch
    assert ch["publisher_id"] == "pub-1", ch
    assert ch["price"] == {"amount": "10000", "currency": req["currency"], "recipient": RECIPIENT,
                           "network": "eip155:%d" % CHAIN_ID, "decimals": 6}, ch
    assert req["currency"].lower() == TOKEN.lower() and req["amount"] == "10000", req
    expires = parse_rfc3339(ch["expires_at"])
    assert expires > t0, ch
    assert abs((expires - t0).total_seconds() - NONCE_TTL) < 5, ch
    # the nonce names the resource and the same expiry, under the challenge key
    payload, mac = nonce_parts(ch["nonce"])
    assert b64url_decode(payload) == jcs(decode_json_b64url(payload)), ch["nonce"]
    np = decode_json_b64url(payload)
    assert set(np) == {"e", "n", "r"} and np["r"] == "/articles/a1", np
    assert np["e"] == int(expires.timestamp()), (np, ch["expires_at"])
    assert mac == nonce_mac(srv.secret, payload), "the nonce is not HMAC-bound under the challenge key"
    # every 402 has a new nonce
    assert challenge(srv)["nonce"] != ch["nonce"]

    # pay on chain, then unlock
    h = transfer(chain, buyer)
    t1 = time.time()
    r = unlock(srv, proof(ch["nonce"], h, buyer, ch["price"]["currency"]))
    ok = granted(r, h)
    assert chain.balance(RECIPIENT) == before["recipient"] + AMOUNT
    assert chain.balance(buyer) == before["buyer"] - AMOUNT

    # the token: HS256 under the place's MPPGrant key, for the place, ~600 s
    header, claims = jwt_parts(ok["entitlement_token"], site_key(srv))
    assert header.get("alg") == "HS256", header
    assert claims["sub"] == buyer, claims
    assert claims["rid"] == "/articles/", claims
    assert claims["scp"] == "per-session", claims
    assert claims["amt"] == "10000", claims
    assert claims["iss"] == claims["aud"] == "mpp.test", claims
    assert abs(claims["exp"] - (t1 + GRANT_SECS)) < 5, claims
    assert abs(claims["iat"] - t1) < 5, claims
    assert parse_rfc3339(ok["expires_at"]).timestamp() == claims["exp"], (ok, claims)

    # the token opens the article, and the place until it expires
    bearer = [("X-Entitlement", "Bearer " + ok["entitlement_token"])]
    r = srv.get("/articles/a1", bearer)
    assert r.status == 200 and r.body == ARTICLE, r
    r = srv.get("/articles/a2", bearer)
    assert r.status == 200 and r.body == b"<p>article two</p>\n", r
    # but no other place, and nothing without it
    assert srv.get("/reports/r1", bearer).status == 402
    assert srv.get("/articles/a1").status == 402
    # the nonce is spent
    refused(unlock(srv, proof(ch["nonce"], h, buyer)), 409, "NONCE_ALREADY_USED")


def test_a_place_without_grant_signs_with_its_entitlement_key(srv, chain):
    """MPPEntitlement scope=per-article: the token is for the one resource."""
    buyer = payer(chain, 0)
    ch = challenge(srv, "/reports/r1")
    assert ch["scope_type"] == "per-article" and ch["resource_id"] == "/reports/r1", ch
    h = transfer(chain, buyer)
    t1 = time.time()
    ok = granted(unlock(srv, proof(ch["nonce"], h, buyer)), h, "/reports/r1", "per-article")
    _, claims = jwt_parts(ok["entitlement_token"], site_key(srv))
    assert claims["rid"] == "/reports/r1" and claims["scp"] == "per-article", claims
    assert abs(claims["exp"] - (t1 + 3600)) < 5, claims
    bearer = [("X-Entitlement", "Bearer " + ok["entitlement_token"])]
    r = srv.get("/reports/r1", bearer)
    assert r.status == 200 and r.body == b"report one\n", r
    assert srv.get("/reports/r2", bearer).status == 402


# ------------------------------------------------------------ 2: refusals

def test_malformed_unlocks_are_validation_errors_and_spend_nothing(srv, chain):
    buyer = payer(chain, 1)
    nonce = nonce_of(srv)
    h = transfer(chain, buyer)
    good = proof(nonce, h, buyer)

    def without(key):
        p = json.loads(json.dumps(good))
        p["proof"].pop(key)
        return p

    def with_proof(**changes):
        p = json.loads(json.dumps(good))
        p["proof"].update(changes)
        return p

    bad = [
        b"", b"{", b"not json", json.dumps(good)[:-1], b"[]", b"null",
        {"currency": TOKEN},                                  # no proof
        {"proof": "x", "currency": TOKEN},                    # proof not an object
        {"proof": [nonce, h, buyer], "currency": TOKEN},
        without("nonce"), without("tx_hash"),
        with_proof(nonce=12345),
        with_proof(tx_hash=h[2:]),                            # no 0x
        with_proof(tx_hash=h[:-2]),                           # 31 bytes
        with_proof(tx_hash=h + "00"),                         # 33 bytes
        with_proof(tx_hash="0x" + "zz" * 32),
        with_proof(tx_hash=""),
        with_proof(buyer_wallet=buyer[:-1]),
        with_proof(buyer_wallet="0x" + "g" * 40),
        with_proof(buyer_wallet="alice"),
        json.dumps(good) + " " * 16384,                       # over the size limit
    ]
    for b in bad:
        refused(unlock(srv, b), 422, "VALIDATION_ERROR")
    # the nonce and the transaction are as good as before
    redeem(srv, chain, nonce, buyer, tx_hash=h)


def test_unlock_takes_post_only(srv):
    """Other methods: 405 with the Allow header RFC 9110 requires of it."""
    for method in ("GET", "PUT", "DELETE"):
        r = srv.request(method, "/v1/unlock", body=b"{}" if method == "PUT" else None)
        refused(r, 405, "VALIDATION_ERROR")
        allowed = [m.strip().upper() for m in (r.get("Allow") or "").split(",")]
        assert "POST" in allowed, r


def test_unknown_or_altered_nonces_are_not_found(srv, chain):
    buyer = payer(chain, 1)
    nonce = nonce_of(srv)
    payload, mac = nonce_parts(nonce)
    h = transfer(chain, buyer)
    altered = [
        flip(nonce, len(nonce) - 1),                          # the MAC
        flip(nonce, 5),                                       # the payload
        nonce[:-1],
        "vlx1." + payload,                                    # no MAC
        "vlx1.%s.%s" % (payload, nonce_mac(b"some other key", payload)),
        "vlx2" + nonce[4:],
        "vlx1.abc.def",
        "made-up-nonce",
        "",
        "vlx1." + "A" * 2000 + "." + mac,
    ]
    # a well-formed nonce for another resource cannot be made by moving the MAC
    other = decode_json_b64url(payload)
    other["r"] = "/articles/a2"
    altered.append("vlx1.%s.%s" % (jcs_b64url(other), mac))
    for n in altered:
        refused(unlock(srv, proof(n, h, buyer)), 404, "NONCE_NOT_FOUND")
    redeem(srv, chain, nonce, buyer, tx_hash=h)


def test_nonce_for_a_resource_that_is_not_for_sale_is_not_found(srv, chain):
    buyer = payer(chain, 1)
    h = transfer(chain, buyer)
    n = make_nonce(srv.secret, "/free/f1", time.time() + 600)
    refused(unlock(srv, proof(n, h, buyer)), 404, "NONCE_NOT_FOUND")
    redeem(srv, chain, nonce_of(srv), buyer, tx_hash=h)


def test_expired_nonce_is_gone(srv, chain):
    buyer = payer(chain, 1)
    # the construction the test uses is the server's: same JCS payload and
    # MAC as nonces the server issued
    for _ in range(2):
        payload, mac = nonce_parts(nonce_of(srv))
        assert mac == nonce_mac(srv.secret, payload)
    h = transfer(chain, buyer)
    expired = make_nonce(srv.secret, "/articles/a1", time.time() - 2)
    refused(unlock(srv, proof(expired, h, buyer)), 410, "NONCE_EXPIRED")
    long_expired = make_nonce(srv.secret, "/articles/a1", time.time() - NONCE_TTL - 3600)
    refused(unlock(srv, proof(long_expired, h, buyer)), 410, "NONCE_EXPIRED")
    # the same construction with an expiry ahead unlocks with the same transaction
    fresh = make_nonce(srv.secret, "/articles/a1", time.time() + 60)
    redeem(srv, chain, fresh, buyer, tx_hash=h)


def test_a_nonce_unlocks_once(srv, chain):
    buyer = payer(chain, 1)
    nonce = nonce_of(srv)
    redeem(srv, chain, nonce, buyer)
    h2 = transfer(chain, buyer)
    for _ in range(2):
        refused(unlock(srv, proof(nonce, h2, buyer)), 409, "NONCE_ALREADY_USED")
    # the second transaction was not spent by the refusal
    redeem(srv, chain, nonce_of(srv), buyer, tx_hash=h2)


def test_a_transaction_unlocks_once(srv, chain):
    buyer = payer(chain, 1)
    first = redeem(srv, chain, nonce_of(srv), buyer)
    h = first["tx_hash"]
    second = nonce_of(srv)
    refused(unlock(srv, proof(second, h, buyer)), 409, "NONCE_ALREADY_USED")
    # in any spelling of the hash
    refused(unlock(srv, proof(second, "0x" + h[2:].upper(), buyer)), 409, "NONCE_ALREADY_USED")
    # and for any resource
    refused(unlock(srv, proof(nonce_of(srv, "/reports/r1"), h, buyer)), 409, "NONCE_ALREADY_USED")
    # the second nonce was not spent
    redeem(srv, chain, second, buyer)


def test_a_hash_with_an_upper_case_prefix_is_that_transaction(srv, chain):
    """The handler takes "0X" as well as "0x" before the hash (and spends
    the transaction whatever the spelling). Such a hash is either looked up
    as the transaction it names or refused as malformed, never blamed on
    the chain node."""
    buyer = payer(chain, 1)
    h = transfer(chain, buyer)
    nonce = nonce_of(srv)
    r = unlock(srv, proof(nonce, "0X" + h[2:].upper(), buyer))
    if r.status == 422:
        refused(r, 422, "VALIDATION_ERROR")
        redeem(srv, chain, nonce, buyer, tx_hash=h)
    else:
        granted(r, h)


def test_a_transaction_pays_once_across_mpp_and_vlexivo(srv, chain):
    """A transfer that paid through an MPP hash credential does not unlock,
    and one that unlocked does not pay an MPP challenge."""
    buyer = payer(chain, 1)
    h = transfer(chain, buyer)
    c = vlexivo_402(srv, "/articles/a2")[0].challenge("evm")
    r = srv.get("/articles/a2", [("Authorization", make_credential(c, {"type": "hash", "hash": h}))])
    assert r.status == 200 and r.body == b"<p>article two</p>\n", r
    assert receipt(r, method="evm")["reference"] == h.lower()
    nonce = nonce_of(srv)
    refused(unlock(srv, proof(nonce, h, buyer)), 409, "NONCE_ALREADY_USED")

    h2 = redeem(srv, chain, nonce, buyer)["tx_hash"]
    r, _ = vlexivo_402(srv, "/articles/a2")
    c = r.challenge("evm")
    r = srv.get("/articles/a2", [("Authorization", make_credential(c, {"type": "hash", "hash": h2}))])
    body = assert_payment_response(r, 402, "verification-failed", secret=srv.secret, used_ids=[c["id"]])
    assert "already" in body["detail"], body


def test_unknown_transaction_is_not_found(srv, chain):
    buyer = payer(chain, 1)
    nonce = nonce_of(srv)
    for fake in ("0x" + "ab" * 32, "0x" + secrets.token_hex(32)):
        assert chain.receipt(fake) is None
        refused(unlock(srv, proof(nonce, fake, buyer)), 404, "TX_NOT_FOUND")
    redeem(srv, chain, nonce, buyer)


def test_reverted_transfer_fails(srv, chain):
    # the deployer holds no tokens: its transfer of the price reverts
    deployer = chain.info["deployer"]["address"]
    assert chain.balance(deployer) == 0
    h = transfer(chain, deployer, gas=TRANSFER_GAS, status="0x0")
    nonce = nonce_of(srv)
    refused(unlock(srv, proof(nonce, h, deployer)), 402, "TX_FAILED")
    refused(unlock(srv, proof(nonce, h, None)), 402, "TX_FAILED")
    redeem(srv, chain, nonce, payer(chain, 1))


def test_underpayment(srv, chain):
    buyer = payer(chain, 1)
    h = transfer(chain, buyer, amount=AMOUNT - 1)
    nonce = nonce_of(srv)
    refused(unlock(srv, proof(nonce, h, buyer)), 402, "UNDERPAYMENT")
    # the underpaid transaction is not spent either: still refused as such
    refused(unlock(srv, proof(nonce_of(srv), h, buyer)), 402, "UNDERPAYMENT")
    redeem(srv, chain, nonce, buyer)


def test_transfer_to_someone_else(srv, chain):
    buyer = payer(chain, 1)
    h = transfer(chain, buyer, to=OTHER)
    nonce = nonce_of(srv)
    refused(unlock(srv, proof(nonce, h, buyer)), 402, "WRONG_RECIPIENT")
    redeem(srv, chain, nonce, buyer)


def test_a_plain_ether_transaction_is_no_payment(srv, chain):
    buyer = payer(chain, 1)
    h = chain.send_transaction({"from": buyer, "to": RECIPIENT, "value": hex(AMOUNT)})
    assert chain.mined_receipt(h)["status"] == "0x1"
    nonce = nonce_of(srv)
    refused(unlock(srv, proof(nonce, h, buyer)), 402, "WRONG_RECIPIENT")
    redeem(srv, chain, nonce, buyer)


def emit_transfer_event(chain, sender, to=RECIPIENT, amount=AMOUNT):
    """A contract creation whose init code emits Transfer(sender, to, amount)
    from the new contract: the event the token would emit, from another
    address."""
    topic = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    code = ("7f" + word(amount) + "600052"                    # mstore(0, amount)
            + "7f" + word(to) + "7f" + word(sender) + "7f" + topic
            + "60206000a3" + "00")                            # log3(0, 32, topic, from, to); stop
    h = chain.send_transaction({"from": sender, "data": "0x" + code, "gas": TRANSFER_GAS})
    rc = chain.mined_receipt(h)
    assert rc["status"] == "0x1" and len(rc["logs"]) == 1, rc
    log = rc["logs"][0]
    assert log["address"].lower() != TOKEN.lower() and log["topics"][0] == "0x" + topic, log
    assert log["topics"][1] == "0x" + word(sender) and log["topics"][2] == "0x" + word(to), log
    return h


def test_a_transfer_event_of_another_contract_is_no_payment(srv, chain):
    buyer = payer(chain, 1)
    h = emit_transfer_event(chain, buyer)
    nonce = nonce_of(srv)
    refused(unlock(srv, proof(nonce, h, buyer)), 402, "WRONG_RECIPIENT")
    redeem(srv, chain, nonce, buyer)


def test_currency_the_place_does_not_take(srv, chain):
    buyer = payer(chain, 1)
    h = transfer(chain, buyer)
    nonce = nonce_of(srv)
    for currency in ("dai", "0x6B175474E89094C44Da98b954EedeAC495271d0F", ""):
        refused(unlock(srv, proof(nonce, h, buyer, currency)), 402, "NO_CURRENCY_MATCH")
    # the asset's name, in any case, is the token too
    granted(unlock(srv, proof(nonce, h, buyer, "USDC")), h)


def test_buyer_who_did_not_send_the_transfer(srv, chain):
    """buyer_wallet must be the sender of the Transfer: otherwise there is no
    matching transfer, reported as WRONG_RECIPIENT."""
    buyer, someone = payer(chain, 1), payer(chain, 2)
    h = transfer(chain, buyer)
    nonce = nonce_of(srv)
    refused(unlock(srv, proof(nonce, h, someone)), 402, "WRONG_RECIPIENT")
    refused(unlock(srv, proof(nonce, h, RECIPIENT)), 402, "WRONG_RECIPIENT")
    # the sender, in lower case, is the buyer
    ok = granted(unlock(srv, proof(nonce, h, buyer.lower())), h)
    assert jwt_parts(ok["entitlement_token"])[1]["sub"] == buyer.lower()


def test_chain_node_down_is_a_verification_error(srv, chain):
    """A place whose network's node does not answer (nothing listens on its
    rpc port): 502, and the nonce and the transaction are not spent."""
    buyer = payer(chain, 1)
    ch = challenge(srv, "/down/d1")
    assert ch["resource_id"] == "/down/d1" and ch["price"]["network"] == "eip155:%d" % CHAIN_ID, ch
    h = transfer(chain, buyer)
    for _ in range(2):
        refused(unlock(srv, proof(ch["nonce"], h, buyer)), 502, "BLOCKCHAIN_VERIFICATION_ERROR")
    # the transaction is still good for a place whose node answers
    redeem(srv, chain, nonce_of(srv), buyer, tx_hash=h)


def test_challenge_rate_limit(srv):
    in_one_minute(5)
    for _ in range(3):
        vlexivo_402(srv, "/limited/l1")
    r = srv.get("/limited/l1")
    assert r.status == 429, r
    body = problem(r)
    assert body["type"] == "about:blank", body
    assert r.get("Retry-After") == "60", r
    assert not r.challenges and "challenge" not in body, r
    assert r.get("X-Vlexivo-Protocol") is None, r
    # a place without a limit is not limited
    vlexivo_402(srv, "/articles/a1")


def test_unlock_rate_limit(limited_srv, chain):
    srv = limited_srv
    buyer = payer(chain, 3)
    nonces = [nonce_of(srv) for _ in range(2)]
    hashes = [transfer(chain, buyer) for _ in range(2)]
    in_one_minute(10)
    refused(unlock(srv, b"{", "/slow/unlock"), 422, "VALIDATION_ERROR")
    refused(unlock(srv, proof("made-up", hashes[0], buyer), "/slow/unlock"), 404, "NONCE_NOT_FOUND")
    redeem(srv, chain, nonces[0], buyer, tx_hash=hashes[0], path="/slow/unlock")
    r = unlock(srv, proof(nonces[1], hashes[1], buyer), "/slow/unlock")
    refused(r, 429, "RATE_LIMITED")
    assert r.get("Retry-After") == "60", r
    # nothing was spent by the refusal: the unlimited endpoint takes both
    redeem(srv, chain, nonces[1], buyer, tx_hash=hashes[1])


def test_rate_limits_of_places_are_their_own(places_srv):
    """MPPRateLimit is set per place: requests to another place, with a
    limit of its own, do not use up this place's challenges."""
    srv = places_srv
    in_one_minute(5)
    for _ in range(3):
        vlexivo_402(srv, "/wide/w1")
    statuses = [srv.get("/limited/l1").status for _ in range(4)]
    assert statuses == [402, 402, 402, 429], statuses


def test_an_unlock_is_not_a_challenge_of_the_place(places_srv, chain):
    """Unlocking a nonce of a place with MPPRateLimit 3 (at an unlock
    endpoint without a limit) does not count as one of the place's
    challenges: three challenges in the minute, then 429."""
    srv = places_srv
    buyer = payer(chain, 3)
    h = transfer(chain, buyer)
    in_one_minute(10)
    nonce = nonce_of(srv, "/metered/m1")
    redeem(srv, chain, nonce, buyer, rid="/metered/m1", tx_hash=h)
    statuses = [srv.get("/metered/m1").status for _ in range(3)]
    assert statuses == [402, 402, 429], statuses


# ------------------------------------------------------------ 3: races

def race(srv, bodies):
    barrier = threading.Barrier(len(bodies))

    def one(body):
        barrier.wait()
        return unlock(srv, body)

    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as ex:
        return list(ex.map(one, bodies))


def test_simultaneous_unlocks_of_one_nonce_have_one_winner(srv, chain):
    buyer = payer(chain, 4)
    for _ in range(3):
        nonce = nonce_of(srv)
        h = transfer(chain, buyer)
        answers = race(srv, [proof(nonce, h, buyer)] * 2)
        statuses = sorted(r.status for r in answers)
        assert statuses == [200, 409], [(r.status, r.body) for r in answers]
        for r in answers:
            if r.status == 200:
                granted(r, h)
            else:
                refused(r, 409, "NONCE_ALREADY_USED")


def test_simultaneous_unlocks_of_one_nonce_with_two_transactions_have_one_winner(srv, chain):
    """One nonce, two good transactions: one unlock; the loser's
    transaction is not spent."""
    buyer = payer(chain, 4)
    for _ in range(3):
        nonce = nonce_of(srv)
        hashes = [transfer(chain, buyer), transfer(chain, buyer)]
        answers = race(srv, [proof(nonce, h, buyer) for h in hashes])
        assert sorted(r.status for r in answers) == [200, 409], [(r.status, r.body) for r in answers]
        for h, r in zip(hashes, answers):
            if r.status == 200:
                granted(r, h)
            else:
                refused(r, 409, "NONCE_ALREADY_USED")
                redeem(srv, chain, nonce_of(srv), buyer, tx_hash=h)


def test_simultaneous_unlocks_of_one_transaction_have_one_winner(srv, chain):
    """Two nonces, one transaction: one unlock; the loser's nonce is not
    spent."""
    buyer = payer(chain, 4)
    for _ in range(3):
        nonces = [nonce_of(srv), nonce_of(srv)]
        h = transfer(chain, buyer)
        answers = race(srv, [proof(n, h, buyer) for n in nonces])
        assert sorted(r.status for r in answers) == [200, 409], [(r.status, r.body) for r in answers]
        loser = [n for n, r in zip(nonces, answers) if r.status == 409][0]
        refused([r for r in answers if r.status == 409][0], 409, "NONCE_ALREADY_USED")
        redeem(srv, chain, loser, buyer)
