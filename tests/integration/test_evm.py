"""EVM payments end to end: the real Debian apache2 with mod_mpp, a local
anvil chain with an EIP-3009 USDC (tests/evm/chain.mjs), and real clients:
the mppx 0.11.0 wallet (`authorization` credentials, tests/evm/pay.mjs) and
viem (`transaction` and `hash` credentials, tests/evm/viem-pay.mjs).

Every payment is checked on chain as well as over HTTP: the transaction's
receipt, the token balances of payer and recipient, and the relayer's nonce
(how many transactions the server sent). A refused credential must leave all
of them unchanged.

One chain and one apache2 for the module; the crash test has its own
apache2 because it kills it."""
import base64
import concurrent.futures
import json
import re
import secrets
import subprocess
import threading
import time

import pytest

from chain import EVM_DIR, Chain, node
from checks import assert_payment_response, problem, receipt
from httpd import (decode_json_b64url, encode_credential, echo_of, free_port,
                   Response, http_request, make_credential, parse_rfc3339)

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
RECIPIENT = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
AMOUNT = 10000                 # price=0.01 of a 6-decimal token
CHAIN_ID = 31337
TIMEOUT = 2                    # the networks' timeout=: how long a settlement is awaited
QUICK = 10                     # the shortest challenge lifetime an offer may have

# three networks on the one chain: plain, two confirmations, and a node that is
# down (nothing listens on its port)
CONF = """
MPPNetwork anvil evm chain-id=31337 rpc={rpc} relayer-key={root}/secret/relayer.key timeout=%(t)d
MPPNetwork anvil2 evm chain-id=31337 rpc={rpc} relayer-key={root}/secret/relayer.key timeout=%(t)d confirmations=2
MPPNetwork down evm chain-id=31337 rpc=http://127.0.0.1:{closed} relayer-key={root}/secret/relayer.key timeout=%(t)d
MPPAsset usdc network=anvil address=%(token)s decimals=6 eip712-name="USD Coin" eip712-version=2
MPPAsset usdc2 network=anvil2 address=%(token)s decimals=6 eip712-name="USD Coin" eip712-version=2
MPPAsset usdcdown network=down address=%(token)s decimals=6 eip712-name="USD Coin" eip712-version=2
MPPOffer basic asset=usdc price=0.01 recipient=%(rcpt)s
MPPOffer authonly asset=usdc price=0.01 recipient=%(rcpt)s types=authorization
MPPOffer hashonly asset=usdc price=0.01 recipient=%(rcpt)s types=hash
MPPOffer confirm asset=usdc2 price=0.01 recipient=%(rcpt)s
MPPOffer down asset=usdcdown price=0.01 recipient=%(rcpt)s
MPPOffer quick asset=usdc price=0.01 recipient=%(rcpt)s expires=%(quick)d
<Location /paid>
    MPPCharge basic
</Location>
<Location /authonly>
    MPPCharge authonly
</Location>
<Location /hashonly>
    MPPCharge hashonly
</Location>
<Location /confirm>
    MPPCharge confirm
</Location>
<Location /down>
    MPPCharge down
</Location>
<Location /quick>
    MPPCharge quick
</Location>
""" % {"t": TIMEOUT, "quick": QUICK, "token": TOKEN, "rcpt": RECIPIENT}

CONTENT = b"the paid file\n"
FILES = {"htdocs/%s/file.txt" % d: CONTENT
         for d in ("paid", "authonly", "hashonly", "confirm", "down", "quick")}

# the signer of EIP-3009 authorizations for the tests that need ones mppx
# would never write: argv[1] is a JSON list of jobs, stdout a JSON list of
# signatures
SIGN_JS = r"""
import { privateKeyToAccount } from 'viem/accounts'
const types = { TransferWithAuthorization: [
  { name: 'from', type: 'address' }, { name: 'to', type: 'address' },
  { name: 'value', type: 'uint256' }, { name: 'validAfter', type: 'uint256' },
  { name: 'validBefore', type: 'uint256' }, { name: 'nonce', type: 'bytes32' } ] }
const out = []
for (const job of JSON.parse(process.argv[1])) {
  const m = job.message
  out.push(await privateKeyToAccount(job.key).signTypedData({
    domain: { name: 'USD Coin', version: '2', chainId: job.chainId, verifyingContract: job.token },
    types, primaryType: 'TransferWithAuthorization',
    message: { from: m.from, to: m.to, value: BigInt(m.value), validAfter: BigInt(m.validAfter),
               validBefore: BigInt(m.validBefore), nonce: m.nonce } }))
}
process.stdout.write(JSON.stringify(out))
"""


# ------------------------------------------------------------ fixtures

def server_conf(chain, closed_port):
    return CONF.replace("{rpc}", chain.rpc_url).replace("{closed}", str(closed_port))


def server_files(chain):
    files = dict(FILES)
    files["secret/relayer.key"] = (chain.info["relayer"]["privateKey"] + "\n", 0o600)
    return files


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The module's chain, stopped when the module ends."""
    with Chain(tmp_path_factory.mktemp("chain")) as c:
        yield c


@pytest.fixture(scope="module")
def srv(server_factory, chain):
    return server_factory("evm", body=server_conf(chain, free_port()), files=server_files(chain))


def payer(chain, n):
    """Funded payer n (0..5). Tests compare the chain before and after, so
    they may share a payer; a test that changes a payer's nonce on purpose
    uses its own."""
    return chain.info["payers"][n]


# ------------------------------------------------------------ clients

def run_node(script, *args, timeout=90):
    p = subprocess.run([node(), script] + [str(a) for a in args], cwd=EVM_DIR, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    assert p.returncode in (0, 1), "%s exited %d:\n%s\n%s" % (script, p.returncode, out,
                                                             p.stderr.decode("utf-8", "replace"))
    doc = json.loads(out)
    assert p.returncode == 0, "%s could not pay: %s" % (script, doc.get("error"))
    return doc


def mppx(srv, chain, path, key, credential_only=False):
    """The mppx client (EIP-3009 authorization) against srv."""
    args = ["http://127.0.0.1:%d%s" % (srv.port, path), "--key", key, "--rpc", chain.rpc_url]
    return run_node("pay.mjs", *(args + (["--credential-only"] if credential_only else [])))


def viem(srv, chain, path, kind, key, *extra, credential_only=False):
    """viem's transaction or hash credential against srv."""
    args = ["http://127.0.0.1:%d%s" % (srv.port, path), "--type", kind, "--key", key,
            "--rpc", chain.rpc_url] + list(extra)
    return run_node("viem-pay.mjs", *(args + (["--credential-only"] if credential_only else [])))


def sign_authorizations(chain, jobs):
    """EIP-712 signatures of TransferWithAuthorization messages on the test
    token: jobs are {key, message}."""
    for j in jobs:
        j.setdefault("chainId", CHAIN_ID)
        j.setdefault("token", TOKEN)
    p = subprocess.run([node(), "--input-type=module", "-e", SIGN_JS, json.dumps(jobs)], cwd=EVM_DIR,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr.decode("utf-8", "replace")
    return json.loads(p.stdout)


def send(srv, path, authorization):
    return srv.get(path, [("Authorization", authorization)])


def fresh(srv, path="/paid/file.txt"):
    r = srv.get(path)
    assert r.status == 402, r
    return r.challenge("evm")


def as_response(doc):
    """A client's JSON document as the harness's Response, so that the same
    checks apply to what the clients saw."""
    return Response(doc["status"], "", list(doc["headers"].items()), doc["body"].encode())


# ------------------------------------------------------------ the chain's view

class Ledger:
    """What a payment may change on chain: token balances, the relayer's
    nonce (transactions the server sent) and the payers' nonces."""

    def __init__(self, chain, *payers):
        self.chain = chain
        self.addresses = {"recipient": chain.info["recipient"]}
        for i, p in enumerate(payers):
            self.addresses["payer%d" % i] = p["address"]
        self.relayer = chain.info["relayer"]["address"]
        self.before = self.read()

    def read(self):
        c = self.chain
        out = {k: c.balance(a) for k, a in self.addresses.items()}
        out["relayer nonce"] = c.nonce(self.relayer)
        out["relayer pending nonce"] = c.nonce(self.relayer, "pending")
        for k, a in self.addresses.items():
            if k.startswith("payer"):
                out[k + " nonce"] = c.nonce(a, "pending")
        return out

    def delta(self):
        now = self.read()
        return {k: now[k] - self.before[k] for k in now if now[k] != self.before[k]}

    def unchanged(self):
        d = self.delta()
        assert d == {}, "the chain changed: %r" % d


def relayer_tx_in_block(chain, tag, relayer):
    block = chain.block(tag, True)
    return [t for t in block["transactions"] if t["from"].lower() == relayer.lower()]


# ------------------------------------------------------------ response checks

def check_evm_receipt(r, challenge_id, reference=None):
    """The Payment-Receipt of a paid answer (a Response or a client's JSON
    document): exactly the members an evm receipt has."""
    if isinstance(r, dict):
        r = as_response(r)
    rc = receipt(r, challenge_id, method="evm")
    assert set(rc) == {"status", "method", "reference", "challengeId", "chainId", "timestamp"}, rc
    assert rc["chainId"] == CHAIN_ID, rc
    assert re.fullmatch(r"0x[0-9a-f]{64}", rc["reference"]), rc
    if reference is not None:
        assert rc["reference"] == reference.lower(), (rc, reference)
    return rc


def refused(srv, r, slug, detail=None, used=()):
    body = assert_payment_response(r, 402, slug, secret=srv.secret, used_ids=used)
    if detail:
        assert re.search(detail, body["detail"]), body
    return body


def not_now(r, status, detail):
    """A 5xx answer of the gate: a problem body, Retry-After, no receipt,
    no challenge."""
    if isinstance(r, dict):
        r = as_response(r)
    assert r.status == status, r
    body = problem(r)
    assert body["type"] == "about:blank" and re.search(detail, body["detail"]), body
    assert r.get("Retry-After"), r
    assert r.get("Payment-Receipt") is None, r
    assert not r.challenges, "a 5xx answer carries no challenge: %r" % r
    return body


def transfer_logs(rc):
    """Transfer events of the token in a transaction receipt."""
    topic = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    out = []
    for log in rc["logs"]:
        if log["address"].lower() == TOKEN.lower() and log["topics"][0] == topic:
            out.append(("0x" + log["topics"][1][-40:], "0x" + log["topics"][2][-40:], int(log["data"], 16)))
    return out


# ------------------------------------------------------------ 1, 3: mppx

@pytest.fixture(scope="module")
def mppx_paid(srv, chain):
    """One payment of /paid/file.txt by the mppx wallet, with the chain as it
    was before and after."""
    p = payer(chain, 0)
    ledger = Ledger(chain, p)
    doc = mppx(srv, chain, "/paid/file.txt", p["privateKey"])
    return {"doc": doc, "delta": ledger.delta(), "payer": p}


def test_mppx_pays_a_static_file_and_the_chain_shows_one_transfer(chain, mppx_paid):
    doc, p = mppx_paid["doc"], mppx_paid["payer"]
    assert doc["status"] == 200, doc
    assert doc["body"].encode() == CONTENT
    cred = doc["decodedCredential"]
    assert cred["payload"]["type"] == "authorization", cred
    rc = check_evm_receipt(doc, cred["challenge"]["id"])
    # the settlement on chain: sent by the relayer to the token, succeeded,
    # one Transfer of exactly the price from the payer to the recipient
    tx = chain.receipt(rc["reference"])
    assert tx is not None and tx["status"] == "0x1", tx
    assert tx["from"].lower() == chain.info["relayer"]["address"].lower(), tx
    assert tx["to"].lower() == TOKEN.lower(), tx
    assert transfer_logs(tx) == [(p["address"].lower(), RECIPIENT.lower(), AMOUNT)], tx["logs"]
    assert mppx_paid["delta"] == {"recipient": AMOUNT, "payer0": -AMOUNT, "relayer nonce": 1,
                                  "relayer pending nonce": 1}, mppx_paid["delta"]


def test_replayed_mppx_credential_is_refused_and_moves_nothing(srv, chain, mppx_paid):
    doc = mppx_paid["doc"]
    assert doc["status"] == 200, doc
    ledger = Ledger(chain, mppx_paid["payer"])
    cid = doc["decodedCredential"]["challenge"]["id"]
    for _ in range(2):
        r = send(srv, "/paid/file.txt", doc["credential"])
        refused(srv, r, "invalid-challenge", "already used", used=[cid])
    ledger.unchanged()


# ------------------------------------------------------------ 2: viem

def test_viem_transaction_credential_pays_once(srv, chain):
    p = payer(chain, 1)
    ledger = Ledger(chain, p)
    doc = viem(srv, chain, "/paid/file.txt", "transaction", p["privateKey"])
    assert doc["status"] == 200, doc
    assert doc["body"].encode() == CONTENT
    cid = doc["decodedCredential"]["challenge"]["id"]
    rc = check_evm_receipt(doc, cid, reference=doc["transactionHash"])
    tx = chain.receipt(rc["reference"])
    assert tx["status"] == "0x1" and tx["from"].lower() == p["address"].lower(), tx
    assert transfer_logs(tx) == [(p["address"].lower(), RECIPIENT.lower(), AMOUNT)]
    # the server broadcast the payer's transaction; the relayer sent nothing
    assert ledger.delta() == {"recipient": AMOUNT, "payer0": -AMOUNT, "payer0 nonce": 1}, ledger.delta()

    after = Ledger(chain, p)
    # the same credential again: its challenge is spent
    refused(srv, send(srv, "/paid/file.txt", doc["credential"]), "invalid-challenge", "already used",
            used=[cid])
    # the same signed transaction on a new challenge: the payment is spent
    c = fresh(srv)
    cred = make_credential(c, doc["decodedCredential"]["payload"])
    refused(srv, send(srv, "/paid/file.txt", cred), "verification-failed", "already used", used=[cid])
    # and its hash, as a hash credential on a new challenge: the same payment
    c = fresh(srv)
    cred = make_credential(c, {"type": "hash", "hash": doc["transactionHash"]})
    refused(srv, send(srv, "/paid/file.txt", cred), "verification-failed", "already used", used=[cid])
    after.unchanged()


def test_viem_hash_credential_pays_and_the_hash_is_single_use(srv, chain):
    p = payer(chain, 1)
    ledger = Ledger(chain, p)
    doc = viem(srv, chain, "/paid/file.txt", "hash", p["privateKey"])
    assert doc["status"] == 200, doc
    assert doc["body"].encode() == CONTENT
    cid = doc["decodedCredential"]["challenge"]["id"]
    check_evm_receipt(doc, cid, reference=doc["transactionHash"])
    assert chain.receipt(doc["transactionHash"])["status"] == "0x1"
    assert ledger.delta() == {"recipient": AMOUNT, "payer0": -AMOUNT, "payer0 nonce": 1}, ledger.delta()

    after = Ledger(chain, p)
    source = doc["decodedCredential"]["source"]
    c = fresh(srv)
    again = encode_credential({"challenge": echo_of(c), "source": source,
                               "payload": {"type": "hash", "hash": doc["transactionHash"]}})
    refused(srv, send(srv, "/paid/file.txt", again), "verification-failed", "already used", used=[cid])
    refused(srv, send(srv, "/paid/file.txt", doc["credential"]), "invalid-challenge", used=[cid])
    after.unchanged()


# ------------------------------------------------------------ 4: concurrency

def test_concurrent_copies_of_one_mppx_credential_have_one_winner(srv, chain):
    p = payer(chain, 3)
    doc = mppx(srv, chain, "/paid/file.txt", p["privateKey"], credential_only=True)
    cred, cid = doc["credential"], doc["decodedCredential"]["challenge"]["id"]
    ledger = Ledger(chain, p)
    n = 20
    barrier = threading.Barrier(n)

    def one(_):
        barrier.wait()
        return http_request(srv.port, "GET", "/paid/file.txt", [("Authorization", cred)], timeout=30)

    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        answers = list(ex.map(one, range(n)))
    won = [r for r in answers if r.status == 200]
    lost = [r for r in answers if r.status != 200]
    assert len(won) == 1, [(r.status, r.body[:200]) for r in answers]
    assert won[0].body == CONTENT
    rc = check_evm_receipt(won[0], cid)
    for r in lost:
        refused(srv, r, "invalid-challenge", used=[cid])
    assert ledger.delta() == {"recipient": AMOUNT, "payer0": -AMOUNT, "relayer nonce": 1,
                              "relayer pending nonce": 1}, ledger.delta()
    assert transfer_logs(chain.receipt(rc["reference"])) == [
        (p["address"].lower(), RECIPIENT.lower(), AMOUNT)]


# ------------------------------------------------------------ 5: refusals

OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"      # anvil account 1: not the recipient
NOT_THE_TOKEN = "0x" + "11" * 20


@pytest.fixture
def neg(srv, chain):
    """Payer 2, and a ledger that must not move during the test."""
    p = payer(chain, 2)
    ledger = Ledger(chain, p)
    yield p
    ledger.unchanged()


def with_payload(cred, **changes):
    out = json.loads(json.dumps(cred))
    out["payload"].update(changes)
    return out


def test_wrong_authorizations_are_refused_and_leave_the_challenge_payable(srv, chain):
    """Authorizations changed after signing, and ones correctly signed for
    other terms, or by another key than `from`: each is refused with its
    problem type and a fresh challenge, nothing is sent to the chain, and
    the challenge is not used up: the genuine credential pays afterwards."""
    p = payer(chain, 2)
    cred = mppx(srv, chain, "/paid/file.txt", p["privateKey"], credential_only=True)["decodedCredential"]
    cid = cred["challenge"]["id"]
    pl = cred["payload"]
    assert pl["type"] == "authorization" and pl["from"].lower() == p["address"].lower(), pl
    assert pl["to"].lower() == RECIPIENT.lower() and pl["value"] == str(AMOUNT), pl
    assert pl["validAfter"] == "0" and int(pl["validBefore"]) > time.time(), pl
    message = {k: pl[k] for k in ("from", "to", "value", "validAfter", "validBefore", "nonce")}
    other = payer(chain, 5)
    now = int(time.time())
    terms = {
        "genuine": {},
        "amount": {"value": str(2 * AMOUNT)},
        "recipient": {"to": OTHER},
        "nonce": {"nonce": "0x" + secrets.token_hex(32)},
        "expired": {"validBefore": str(now - 60)},
        "not yet valid": {"validAfter": str(now + 3600)},
    }
    jobs = [{"key": p["privateKey"], "message": dict(message, **terms[k])} for k in terms]
    jobs.append({"key": other["privateKey"], "message": message})   # another key signs for `from`
    sigs = sign_authorizations(chain, jobs)
    signed = dict(zip(list(terms) + ["other key"], sigs))
    # the test signer and mppx sign the same EIP-712 digest
    assert signed["genuine"] == pl["signature"], (signed["genuine"], pl["signature"])
    sig = pl["signature"]
    flipped = sig[:4] + ("0" if sig[4] != "0" else "1") + sig[5:]

    cases = [
        # changed after signing
        ("tampered amount", dict(terms["amount"]), "verification-failed", "amount mismatch"),
        ("tampered recipient", dict(terms["recipient"]), "verification-failed", "recipient mismatch"),
        ("tampered nonce", dict(terms["nonce"]), "verification-failed", "nonce is not this challenge"),
        ("tampered validBefore", dict(terms["expired"]), "payment-expired", "expired"),
        ("tampered validAfter", dict(terms["not yet valid"]), "verification-failed", "not valid yet"),
        ("tampered from", {"from": other["address"]}, "verification-failed", "does not recover to from"),
        ("altered signature", {"signature": flipped}, "verification-failed", "does not recover to from"),
        # correctly signed by the payer, for other terms
        ("signed amount", dict(terms["amount"], signature=signed["amount"]), "verification-failed",
         "amount mismatch"),
        ("signed recipient", dict(terms["recipient"], signature=signed["recipient"]), "verification-failed",
         "recipient mismatch"),
        ("signed nonce", dict(terms["nonce"], signature=signed["nonce"]), "verification-failed",
         "nonce is not this challenge"),
        ("signed expired", dict(terms["expired"], signature=signed["expired"]), "payment-expired", "expired"),
        ("signed not yet valid", dict(terms["not yet valid"], signature=signed["not yet valid"]),
         "verification-failed", "not valid yet"),
        # the payer's terms, signed by another key
        ("signed by another key", {"signature": signed["other key"]}, "verification-failed",
         "does not recover to from"),
    ]
    ledger = Ledger(chain, p)
    for name, changes, slug, detail in cases:
        r = send(srv, "/paid/file.txt", encode_credential(with_payload(cred, **changes)))
        try:
            refused(srv, r, slug, detail, used=[cid])
        except AssertionError as e:
            raise AssertionError("%s: %s" % (name, e)) from None
    ledger.unchanged()
    # none of them used the challenge up
    r = send(srv, "/paid/file.txt", encode_credential(cred))
    assert r.status == 200 and r.body == CONTENT, r
    check_evm_receipt(r, cid)
    assert ledger.delta() == {"recipient": AMOUNT, "payer0": -AMOUNT, "relayer nonce": 1,
                              "relayer pending nonce": 1}, ledger.delta()


@pytest.mark.parametrize("option, detail", [
    (["--chain-id", "1"], "another chain"),
    (["--currency", NOT_THE_TOKEN], "does not call the token"),
    (["--recipient", OTHER], "recipient mismatch"),
    (["--amount", str(2 * AMOUNT)], "amount mismatch"),
], ids=["chain", "token", "recipient", "amount"])
def test_transaction_for_other_terms_is_refused_and_not_broadcast(srv, chain, neg, option, detail):
    doc = viem(srv, chain, "/paid/file.txt", "transaction", neg["privateKey"], *option, credential_only=True)
    r = send(srv, "/paid/file.txt", doc["credential"])
    refused(srv, r, "verification-failed", detail, used=[doc["challenge"]["id"]])
    assert chain.transaction(doc["transactionHash"]) is None, "the server broadcast a refused transaction"


def test_transaction_with_a_spent_nonce_is_refused(srv, chain):
    """A transfer signed with a nonce the payer has already used can never
    be mined: the node refuses it (`nonce too low`) and knows no transaction
    with its hash. That is a refusal (402), not a pending payment to retry."""
    p = payer(chain, 2)
    if chain.nonce(p["address"]) == 0:
        h = chain.send_transaction({"from": p["address"], "to": p["address"], "value": "0x0"})
        assert chain.mined_receipt(h)["status"] == "0x1"
    ledger = Ledger(chain, p)
    doc = viem(srv, chain, "/paid/file.txt", "transaction", p["privateKey"], "--nonce", "0",
               "--gas", "100000", credential_only=True)
    assert chain.transaction(doc["transactionHash"]) is None
    r = send(srv, "/paid/file.txt", doc["credential"])
    refused(srv, r, "verification-failed", used=[doc["challenge"]["id"]])
    ledger.unchanged()


def test_hash_of_a_reverted_transfer_is_refused(srv, chain, neg):
    # the deployer holds no tokens: its transfer of the price to the recipient reverts
    deployer = chain.info["deployer"]["address"]
    assert chain.balance(deployer) == 0
    h = chain.send_transaction({"from": deployer, "to": TOKEN, "gas": hex(100000),
                                "data": chain.transfer_data(RECIPIENT, AMOUNT)})
    assert chain.mined_receipt(h)["status"] == "0x0"
    c = fresh(srv)
    r = send(srv, "/paid/file.txt", make_credential(c, {"type": "hash", "hash": h}))
    refused(srv, r, "verification-failed", "reverted", used=[c["id"]])


def test_hash_of_a_transfer_to_someone_else_is_refused(srv, chain):
    p = payer(chain, 2)
    ledger = Ledger(chain, p)
    doc = viem(srv, chain, "/paid/file.txt", "hash", p["privateKey"], "--recipient", OTHER,
               credential_only=True)
    tx = chain.receipt(doc["transactionHash"])
    assert tx["status"] == "0x1" and transfer_logs(tx) == [
        (p["address"].lower(), OTHER.lower(), AMOUNT)]
    r = send(srv, "/paid/file.txt", doc["credential"])
    refused(srv, r, "verification-failed", "no transfer of the token to the recipient",
            used=[doc["challenge"]["id"]])
    # the payer paid someone else, by itself; the recipient got nothing
    assert ledger.delta() == {"payer0": -AMOUNT, "payer0 nonce": 1}, ledger.delta()


def test_unknown_payload_type_is_refused(srv, neg):
    c = fresh(srv)
    r = send(srv, "/paid/file.txt", make_credential(c, {"type": "permit", "hash": "0x" + "ab" * 32}))
    refused(srv, r, "verification-failed", "type permit is not accepted", used=[c["id"]])


def test_a_type_the_offer_does_not_take_is_refused(srv, chain, neg):
    c = fresh(srv, "/authonly/file.txt")
    assert decode_json_b64url(c["request"])["methodDetails"]["credentialTypes"] == ["authorization"]
    doc = viem(srv, chain, "/authonly/file.txt", "transaction", neg["privateKey"], credential_only=True)
    r = send(srv, "/authonly/file.txt", doc["credential"])
    refused(srv, r, "verification-failed", "type transaction is not accepted", used=[doc["challenge"]["id"]])
    assert chain.transaction(doc["transactionHash"]) is None


def test_the_offer_that_takes_authorizations_only_pays_an_authorization(srv, chain):
    p = payer(chain, 0)
    ledger = Ledger(chain, p)
    doc = mppx(srv, chain, "/authonly/file.txt", p["privateKey"])
    assert doc["status"] == 200 and doc["body"].encode() == CONTENT, doc
    check_evm_receipt(doc, doc["decodedCredential"]["challenge"]["id"])
    assert ledger.delta() == {"recipient": AMOUNT, "payer0": -AMOUNT, "relayer nonce": 1,
                              "relayer pending nonce": 1}, ledger.delta()


def test_credential_types_are_advertised_as_configured(srv, chain):
    paid = fresh(srv)
    assert decode_json_b64url(paid["request"])["methodDetails"]["credentialTypes"] == [
        "authorization", "transaction", "hash"]
    r = srv.get("/hashonly/file.txt")
    assert r.status == 402, r
    req = decode_json_b64url(r.challenge("evm")["request"])
    assert req["methodDetails"]["credentialTypes"] == ["hash"], req
    # nothing for an x402 wallet, which pays by EIP-3009 authorization only
    assert r.get("PAYMENT-REQUIRED") is None, r
    # and the mppx wallet, which signs authorizations only, does not pay
    p = subprocess.run([node(), "pay.mjs", "http://127.0.0.1:%d/hashonly/file.txt" % srv.port,
                        "--key", payer(chain, 0)["privateKey"], "--rpc", chain.rpc_url],
                       cwd=EVM_DIR, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, timeout=60)
    assert p.returncode == 1, p.stdout
    assert json.loads(p.stdout)["error"], p.stdout


# ------------------------------------------------------------ 6: chain node down

def test_chain_node_down_is_502_and_consumes_nothing(srv, chain):
    p = payer(chain, 0)
    ledger = Ledger(chain, p)
    doc = mppx(srv, chain, "/down/file.txt", p["privateKey"])
    assert doc["decodedCredential"]["payload"]["type"] == "authorization"
    not_now(doc, 502, "chain node unavailable")
    # the challenge is not used up: the same credential meets the same 502, not a 402
    for _ in range(2):
        not_now(send(srv, "/down/file.txt", doc["credential"]), 502, "chain node unavailable")
    ledger.unchanged()


# ------------------------------------------------------------ 7: pending, kill -9, resumed

def test_pending_settlement_survives_kill_9_and_is_resumed_from_the_chain(server_factory, chain):
    s = server_factory("crash", body=server_conf(chain, free_port()), files=server_files(chain))
    p = payer(chain, 4)
    relayer = chain.info["relayer"]["address"]
    ledger = Ledger(chain, p)
    chain.set_automine(False)
    try:
        t0 = time.monotonic()
        doc = mppx(s, chain, "/paid/file.txt", p["privateKey"])
        cid = doc["decodedCredential"]["challenge"]["id"]
        not_now(doc, 503, "not confirmed yet; retry the same credential")
        assert time.monotonic() - t0 >= TIMEOUT
        # the relayer's settlement is in the pool, not mined
        assert ledger.delta() == {"relayer pending nonce": 1}, ledger.delta()

        # the same credential while it is still pending: 503 again, nothing sent twice
        not_now(send(s, "/paid/file.txt", doc["credential"]), 503, "not confirmed yet")
        assert ledger.delta() == {"relayer pending nonce": 1}, ledger.delta()

        s.kill_all()
        s.start(keep_port=True, keep_log=True)
        chain.mine()
    finally:
        chain.set_automine(True)
    mined = relayer_tx_in_block(chain, "latest", relayer)
    assert len(mined) == 1, mined
    first = mined[0]["hash"]

    r = send(s, "/paid/file.txt", doc["credential"])
    assert r.status == 200 and r.body == CONTENT, r
    check_evm_receipt(r, cid, reference=first)
    assert chain.receipt(first)["status"] == "0x1"
    assert ledger.delta() == {"recipient": AMOUNT, "payer0": -AMOUNT, "relayer nonce": 1,
                              "relayer pending nonce": 1}, ledger.delta()
    refused(s, send(s, "/paid/file.txt", doc["credential"]), "invalid-challenge", "already used", used=[cid])
    assert ledger.delta() == {"recipient": AMOUNT, "payer0": -AMOUNT, "relayer nonce": 1,
                              "relayer pending nonce": 1}, ledger.delta()


def test_pending_settlement_is_collected_after_the_challenge_expired(srv, chain):
    """The settlement is mined while the challenge lives, but the client
    comes back only after it expired: the same credential is still
    answered from the chain, once."""
    p = payer(chain, 4)
    relayer = chain.info["relayer"]["address"]
    ledger = Ledger(chain, p)
    chain.set_automine(False)
    try:
        doc = mppx(srv, chain, "/quick/file.txt", p["privateKey"])
        not_now(doc, 503, "not confirmed yet")
        assert ledger.delta() == {"relayer pending nonce": 1}, ledger.delta()
        chain.mine()
    finally:
        chain.set_automine(True)
    mined = relayer_tx_in_block(chain, "latest", relayer)
    assert len(mined) == 1 and chain.receipt(mined[0]["hash"])["status"] == "0x1", mined
    cid = doc["decodedCredential"]["challenge"]["id"]
    expires = parse_rfc3339(doc["decodedCredential"]["challenge"]["expires"]).timestamp()
    time.sleep(max(0.0, expires - time.time() + 1.5))

    r = send(srv, "/quick/file.txt", doc["credential"])
    assert r.status == 200 and r.body == CONTENT, r
    check_evm_receipt(r, cid, reference=mined[0]["hash"])
    paid = {"recipient": AMOUNT, "payer0": -AMOUNT, "relayer nonce": 1, "relayer pending nonce": 1}
    assert ledger.delta() == paid, ledger.delta()
    # collected once: the expired challenge is refused from now on
    refused(srv, send(srv, "/quick/file.txt", doc["credential"]), "payment-expired", used=[cid])
    assert ledger.delta() == paid, ledger.delta()


# ------------------------------------------------------------ 8: confirmations

def test_hash_waits_for_the_configured_confirmations(srv, chain):
    p = payer(chain, 5)
    doc = viem(srv, chain, "/confirm/file.txt", "hash", p["privateKey"], credential_only=True)
    h, cid = doc["transactionHash"], doc["challenge"]["id"]
    assert int(chain.receipt(h)["blockNumber"], 16) == chain.block_number(), "mined in the latest block"
    not_now(send(srv, "/confirm/file.txt", doc["credential"]), 503, "not confirmed yet")
    chain.mine()
    r = send(srv, "/confirm/file.txt", doc["credential"])
    assert r.status == 200 and r.body == CONTENT, r
    check_evm_receipt(r, cid, reference=h)


# ------------------------------------------------------------ 9: x402

def test_payment_required_header_for_x402_wallets(srv):
    r = srv.get("/paid/file.txt")
    assert r.status == 402, r
    value = r.header("PAYMENT-REQUIRED")
    assert re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", value), value
    doc = json.loads(base64.b64decode(value, validate=True))
    assert doc["x402Version"] == 2, doc
    assert doc["accepts"][0] == {
        "scheme": "exact",
        "network": "eip155:31337",
        "amount": "10000",
        "asset": TOKEN,
        "payTo": RECIPIENT,
        "extra": {"name": "USD Coin", "version": "2", "assetTransferMethod": "eip3009"},
        "maxTimeoutSeconds": 300,
    }, doc
    assert len(doc["accepts"]) == 1, doc



# ------------------------------------------------------------ relayer nonces

def test_relayer_key_used_elsewhere_between_settlements_is_caught_up(srv, chain):
    """The relayer's next nonce is kept in the store; when another server or
    wallet uses the key, the node answers 'nonce too low' and the settlement
    is signed again with the node's count: the payment still goes through."""
    p = payer(chain, 4)
    relayer = chain.info["relayer"]["address"]
    first = mppx(srv, chain, "/paid/file.txt", p["privateKey"])
    assert first["status"] == 200, first
    # the same key, used outside this server (anvil's dev accounts are unlocked)
    h = chain.send_transaction({"from": relayer, "to": relayer, "value": "0x0"})
    assert chain.mined_receipt(h)["status"] == "0x1"
    before = chain.nonce(relayer)
    doc = mppx(srv, chain, "/paid/file.txt", p["privateKey"])
    assert doc["status"] == 200, doc
    rc = check_evm_receipt(doc, doc["decodedCredential"]["challenge"]["id"])
    tx = chain.transaction(rc["reference"])
    assert int(tx["nonce"], 16) == before, (tx["nonce"], before)
    assert chain.nonce(relayer) == before + 1


def test_the_relayers_own_settlement_is_never_a_hash_payment(srv, chain):
    """The settlement transaction carries a Transfer from the payer to the
    recipient for the price; presented as a hash credential for another
    challenge, it is refused (the relayer pays only for what it settles)."""
    p = payer(chain, 5)
    doc = mppx(srv, chain, "/paid/file.txt", p["privateKey"])
    assert doc["status"] == 200, doc
    settlement = check_evm_receipt(doc, doc["decodedCredential"]["challenge"]["id"])["reference"]
    c = fresh(srv)
    cred = encode_credential({"challenge": echo_of(c), "source": doc["decodedCredential"]["source"],
                              "payload": {"type": "hash", "hash": settlement}})
    refused(srv, send(srv, "/paid/file.txt", cred), "verification-failed", "own settlement", used=[c["id"]])


def test_many_concurrent_settlements_each_get_their_own_nonce(srv, chain):
    """Settlements of many workers at once: every one is mined, with
    consecutive relayer nonces and no gap."""
    relayer = chain.info["relayer"]["address"]
    start = chain.nonce(relayer, "pending")
    keys = [payer(chain, i)["privateKey"] for i in range(6)]
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        docs = list(ex.map(lambda k: mppx(srv, chain, "/paid/file.txt", k, credential_only=True), keys))
        rs = list(ex.map(lambda d: send(srv, "/paid/file.txt", d["credential"]), docs))
    assert all(r.status == 200 for r in rs), [r.status for r in rs]
    nonces = sorted(int(chain.transaction(receipt(r, method="evm")["reference"])["nonce"], 16) for r in rs)
    assert nonces == list(range(start, start + len(docs))), nonces
    assert chain.nonce(relayer, "pending") == start + len(docs)
