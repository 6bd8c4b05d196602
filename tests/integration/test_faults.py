"""Faults of what the module depends on: chain nodes (slow, garbage,
another JSON-RPC id, answers over the size cap, HTTP 500, refused
connections, a node that lies), the chain itself (a reorg below
confirmations=), the store (full) and its journal (a full disk, a
read-only state directory), and key files at startup.

What must hold, as the README's "Failing closed" says: never a 200 and
never a receipt without a recorded payment; a 502 (nothing sent) or a 503
(something may be under way: retry the same credential) with Retry-After;
nothing consumed, so the same credential pays once the fault is gone.

Fake chain nodes (fakenode.py) stand in for the faulty endpoints; the
tests that need a real chain (a lying node against the truth, a reorg)
use anvil (tests/evm/chain.mjs)."""
import os
import re
import secrets
import subprocess
import threading
import time

import pytest

import evmsign
import fakenode
from chain import Chain
from checks import assert_payment_response, cache_directives, problem, receipt
from fakenode import DRY_RUNS, FakeNode, receipt as node_receipt, transfer_log
from httpd import (Httpd, configtest, echo_of, encode_credential, error_lines, free_port, httpd_env,
                   new_secret)

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
RECIPIENT = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
AMOUNT = 10000
CHAIN_ID = 31337
RELAYER_KEY = "0x" + "5a" * 32
PAYER_KEY = "0x" + "3c" * 32
CONTENT = b"paid file\n"
OK = {"proof": "ok"}

ASSET = 'address=%s decimals=6 eip712-name="USD Coin" eip712-version=2' % TOKEN


def evm_conf(networks, extra=""):
    """networks: {name: "rpc=... [more]"}; one asset, offer and <Location
    /name> per network."""
    out = ["MPPRealm faults"]
    for name, args in networks.items():
        out += ["MPPNetwork %s evm chain-id=%d relayer-key={root}/secret/relayer.key %s" % (name, CHAIN_ID, args),
                "MPPAsset a_%s network=%s %s" % (name, name, ASSET),
                "MPPOffer %s asset=a_%s price=0.01 recipient=%s" % (name, name, RECIPIENT),
                "<Location /%s>\n    MPPCharge %s\n</Location>" % (name, name)]
    out += ["<Location /server-status>\n    SetHandler server-status\n</Location>", extra]
    return "\n".join(out) + "\n"


def evm_files(names, relayer_key=RELAYER_KEY):
    files = {"htdocs/%s/f.txt" % n: CONTENT for n in names}
    files["secret/relayer.key"] = (relayer_key + "\n", 0o600)
    return files


def store_used(srv):
    r = srv.get("/server-status?auto")
    assert r.status == 200, r
    return int(re.search(r"^MPPStoreUsed: (\d+)$", r.text, re.M).group(1))


def fresh(srv, path, method="evm"):
    r = srv.get(path)
    assert r.status == 402, r
    return r.challenge(method)


def authorization(c, key=PAYER_KEY):
    return evmsign.authorization(key, TOKEN, CHAIN_ID, RECIPIENT, AMOUNT,
                                 evmsign.challenge_nonce(c["id"], c["realm"]))


def credential(c, payload, source=None):
    cred = {"challenge": echo_of(c), "payload": payload}
    if source:
        cred["source"] = source
    return encode_credential(cred)


def failed_closed(r, status, detail=None):
    """A 502/503 of the gate: problem body, Retry-After, no-store, no
    receipt, no challenge, nothing served."""
    assert r.status == status, r
    body = problem(r)
    assert body["type"] == "about:blank", body
    if detail:
        assert re.search(detail, body["detail"]), body
    assert (r.get("Retry-After") or "").isdigit(), r
    assert "no-store" in cache_directives(r), r
    assert not r.get_all("Payment-Receipt"), r
    assert not r.challenges, r
    assert CONTENT not in r.body
    return body


def paid(r, cid):
    assert r.status == 200 and r.body == CONTENT, r
    return receipt(r, cid, method="evm")


# ------------------------------------------------------------ faulty endpoints

@pytest.fixture(scope="module")
def nodes():
    a, b = FakeNode(token=TOKEN).start(), FakeNode(token=TOKEN).start()
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture(scope="module")
def srv(server_factory, nodes):
    a, b = nodes
    conf = evm_conf({"one": "rpc=%s timeout=1" % a.url,
                     "two": "rpc=%s rpc=%s timeout=1" % (a.url, b.url)})
    return server_factory("faults", body=conf, files=evm_files(["one", "two"]), modules=["status"])


@pytest.fixture
def healthy(nodes):
    """Both nodes up and answering as a chain, before and after the test."""
    a, b = nodes
    for n in nodes:
        if n._server is None:
            n.start(n.port)
        n.reset()
    yield a, b
    for n in nodes:
        if n._server is None:
            n.start(n.port)
        n.reset()


def break_node(node, mode):
    if mode == "refused":
        node.stop()          # nothing listens on its port any more
    else:
        node.mode = mode


def mend_node(node):
    if node._server is None:
        node.start(node.port)
    node.reset()


FAULTS = {
    "slow": r"Timeout was reached",
    "garbage": r"not a JSON object",
    "wrong-id": r"carries another id",
    "huge": r"larger than the limit",
    "http500": r"HTTP status 500",
    "null": r"^the chain node sent a bad gas estimate$",
    "refused": r"(Couldn't|Could not|Failed to) connect",
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_the_only_endpoint_failing_is_502_and_the_credential_pays_later(srv, healthy, fault):
    a, _ = healthy
    c = fresh(srv, "/one/f.txt")
    cred = credential(c, authorization(c))
    before = store_used(srv)
    break_node(a, fault)
    t0 = time.monotonic()
    r = srv.get("/one/f.txt", [("Authorization", cred)])
    failed_closed(r, 502, FAULTS[fault] if fault == "null" else r"chain node unavailable \(.*" + FAULTS[fault])
    assert time.monotonic() - t0 < 10
    assert a.sent == [], "something was broadcast"
    assert store_used(srv) == before, "a failed payment left entries in the store"
    # the same credential again while the node is still down: the same answer, not "already used"
    failed_closed(srv.get("/one/f.txt", [("Authorization", cred)]), 502)
    mend_node(a)
    r = srv.get("/one/f.txt", [("Authorization", cred)])
    assert r.status == 200, (r, a.methods(), a.describe_sent())
    paid(r, c["id"])
    assert len(a.settlements()) == 1, "one settlement"


def test_every_endpoint_failing_is_502_after_trying_each_in_order(srv, healthy):
    a, b = healthy
    a.mode, b.mode = "garbage", "http500"
    c = fresh(srv, "/two/f.txt")
    cred = credential(c, authorization(c))
    r = srv.get("/two/f.txt", [("Authorization", cred)])
    failed_closed(r, 502, r"HTTP status 500")       # the last endpoint's reason
    assert len(a.methods()) == 1 and a.methods() == b.methods() and a.methods()[0] in DRY_RUNS, (a.calls, b.calls)
    assert a.sent == [] and b.sent == []
    mend_node(a)
    mend_node(b)
    paid(srv.get("/two/f.txt", [("Authorization", cred)]), c["id"])


@pytest.mark.parametrize("fault", sorted(set(FAULTS) - {"null"}))
def test_the_first_endpoint_failing_falls_back_to_the_second(srv, healthy, fault):
    """Every failure of the first endpoint (no usable answer) sends the call
    to the second. A node that took a broadcast but answered badly may hold
    the transaction too: it is the same signed settlement, never another.
    (A well-formed answer, even null, is taken as is: see the test of an
    error reply.)"""
    a, b = healthy
    break_node(a, fault)
    c = fresh(srv, "/two/f.txt")
    r = srv.get("/two/f.txt", [("Authorization", credential(c, authorization(c)))])
    paid(r, c["id"])
    assert len(b.settlements()) == 1 and "eth_sendRawTransaction" in b.methods(), b.methods()
    if fault != "refused":
        assert a.methods(), "the first endpoint was not tried"
        a.quiesce()   # answers still under way (slow) are in now
    assert all(t == b.settlements()[0] for t in a.settlements()), "a second, different settlement was sent"


def test_an_error_reply_of_the_first_endpoint_is_final(srv, healthy):
    """Current behaviour: a JSON-RPC error object is an answer, not a
    failure, so the second endpoint is not asked. Here the token's dry run
    is refused: 402 verification-failed with a fresh challenge, and the
    credential is not used up (it pays once the node says yes)."""
    a, b = healthy
    a.mode = "error"
    c = fresh(srv, "/two/f.txt")
    cred = credential(c, authorization(c))
    r = srv.get("/two/f.txt", [("Authorization", cred)])
    body = assert_payment_response(r, 402, "verification-failed", srv.secret, used_ids=[c["id"]])
    assert "node says no" in body["detail"], body
    assert b.methods() == [], b.calls
    mend_node(a)
    paid(srv.get("/two/f.txt", [("Authorization", cred)]), c["id"])


def pay_once(srv, a, path="/one/f.txt"):
    c = fresh(srv, path)
    a.reset()
    paid(srv.get(path, [("Authorization", credential(c, authorization(c)))]), c["id"])


def test_once_a_worker_has_an_estimate_its_dry_runs_are_eth_call_at_that_gas_limit(srv, healthy):
    """An estimate is a search of many executions on the node; once a worker
    has one for the token, the dry run is one eth_call with that limit
    (the estimate, 0x186a0 here, plus a quarter and 10000), and the
    settlement carries the same limit."""
    a, _ = healthy
    pay_once(srv, a)                   # the worker learns the limit (if it had not yet)
    pay_once(srv, a)
    assert a.methods()[0] == "eth_call" and "eth_estimateGas" not in a.methods(), a.methods()
    call, block = a.calls[0][1]
    assert call["gas"] == hex(100000 + 25000 + 10000) and block == "latest", a.calls[0]
    assert call["data"].startswith("0x" + fakenode.TWA) and call["to"].lower() == TOKEN.lower(), call
    fields = fakenode.rlp_decode(a.settlements()[0][1:])
    assert int.from_bytes(fields[4], "big") == 135000, "the settlement's gas limit"


@pytest.mark.parametrize("fault", ["error", "null", "number"])
def test_a_dry_run_the_node_refuses_asks_for_an_estimate(srv, healthy, fault):
    """eth_call failing at the learnt limit (a revert, or out of gas if the
    token got dearer) or answering something else than data falls back to
    an estimate: if that passes, the payment goes through with it."""
    a, _ = healthy
    pay_once(srv, a)
    a.reset()
    a.modes["eth_call"] = fault
    c = fresh(srv, "/one/f.txt")
    paid(srv.get("/one/f.txt", [("Authorization", credential(c, authorization(c)))]), c["id"])
    assert a.methods()[:2] == ["eth_call", "eth_estimateGas"], a.methods()
    assert len(a.settlements()) == 1


def test_a_refused_dry_run_reports_the_estimates_reason_and_uses_nothing(srv, healthy):
    a, _ = healthy
    pay_once(srv, a)
    a.reset()
    a.modes["eth_call"] = a.modes["eth_estimateGas"] = "error"
    c = fresh(srv, "/one/f.txt")
    cred = credential(c, authorization(c))
    body = assert_payment_response(srv.get("/one/f.txt", [("Authorization", cred)]), 402, "verification-failed",
                                   srv.secret, used_ids=[c["id"]])
    assert body["detail"] == "the token refuses the authorization: node says no", body
    assert a.methods() == ["eth_call", "eth_estimateGas"] and a.sent == [], a.methods()
    mend_node(a)
    paid(srv.get("/one/f.txt", [("Authorization", cred)]), c["id"])


def test_on_a_slow_chain_a_receipt_is_asked_for_again_only_after_a_new_block(srv, healthy):
    """Waiting for a block: after the first quick polls, a worker asks for
    its receipt only when the head block moved (one eth_blockNumber, read
    at most every 100 ms, serves all the waiting threads of a process);
    without this, every waiting settlement polls four times a second. When
    the wait ends (timeout=1 here) it is a 503, and the same credential
    collects the receipt once the block is there, without a second
    broadcast."""
    a, _ = healthy
    a.hold = True
    c = fresh(srv, "/one/f.txt")
    cred = credential(c, authorization(c))
    r = srv.get("/one/f.txt", [("Authorization", cred)])
    failed_closed(r, 503, r"not confirmed yet")
    # ungated, a second of backoff (20, 40, 80, 160, 250, 250 ms) is 7 polls
    polls = a.methods().count("eth_getTransactionReceipt")
    assert polls <= 4, a.methods()
    assert a.methods().count("eth_blockNumber") <= 12, a.methods()
    a.mine()
    paid(srv.get("/one/f.txt", [("Authorization", cred)]), c["id"])
    assert len(a.settlements()) == 1, "a second broadcast"


def test_a_new_block_ends_the_wait_before_the_timeout(srv, healthy):
    """The head moving lets the waiting worker ask again: a block mined
    0.3 s into the wait is a 200 within the network's timeout (1 s)."""
    a, _ = healthy
    a.hold = True
    c = fresh(srv, "/one/f.txt")
    out = []
    th = threading.Thread(target=lambda: out.append(
        srv.get("/one/f.txt", [("Authorization", credential(c, authorization(c)))])))
    th.start()
    deadline = time.monotonic() + 5
    while not a.mempool and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    a.mine()
    th.join(10)
    paid(out[0], c["id"])


@pytest.mark.parametrize("fault", ["slow", "garbage", "wrong-id", "huge", "http500", "null"])
def test_a_fault_after_the_broadcast_is_503_and_the_same_credential_is_resumed(srv, healthy, fault):
    """The settlement went out; the receipt cannot be read: 503 with
    Retry-After (the payment may be under way), and the same credential,
    sent again once the node answers, collects the receipt without a
    second broadcast."""
    a, _ = healthy
    a.modes["eth_getTransactionReceipt"] = fault
    c = fresh(srv, "/one/f.txt")
    cred = credential(c, authorization(c))
    r = srv.get("/one/f.txt", [("Authorization", cred)])
    failed_closed(r, 503, r"not confirmed yet" if fault == "null" else r"chain node unavailable")
    assert len(a.settlements()) == 1, a.describe_sent()
    ref = "0x" + evmsign.keccak256(a.settlements()[0]).hex()
    # still faulty: still 503, still the one settlement
    failed_closed(srv.get("/one/f.txt", [("Authorization", cred)]), 503)
    assert len(a.settlements()) == 1
    a.modes.clear()
    rc = paid(srv.get("/one/f.txt", [("Authorization", cred)]), c["id"])
    assert rc["reference"] == ref, rc
    assert len(a.settlements()) == 1, "a second settlement was signed and sent"
    # and the challenge is spent now
    assert_payment_response(srv.get("/one/f.txt", [("Authorization", cred)]), 402, "invalid-challenge",
                            srv.secret, used_ids=[c["id"]])


def test_a_broadcast_that_times_out_is_503_and_never_sent_twice(srv, healthy):
    """eth_sendRawTransaction gets no answer in time: it may have reached
    the node, so the answer is 503 and the retry looks the hash up."""
    a, _ = healthy
    a.delay = 2.0
    a.modes["eth_sendRawTransaction"] = "slow"
    try:
        c = fresh(srv, "/one/f.txt")
        cred = credential(c, authorization(c))
        failed_closed(srv.get("/one/f.txt", [("Authorization", cred)]), 503, r"chain node unavailable")
        deadline = time.monotonic() + 10
        while not a.settlements() and time.monotonic() < deadline:
            time.sleep(0.05)          # the slow node takes it in the end
        assert len(a.settlements()) == 1
        a.modes.clear()
        paid(srv.get("/one/f.txt", [("Authorization", cred)]), c["id"])
        assert len(a.settlements()) == 1
    finally:
        a.delay = 3.0


# ------------------------------------------------------------ the real chain: a liar, a reorg

@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    with Chain(tmp_path_factory.mktemp("faults-chain")) as c:
        yield c


@pytest.fixture(scope="module")
def liar():
    with FakeNode(token=TOKEN) as n:
        yield n


@pytest.fixture(scope="module")
def csrv(server_factory, chain, liar):
    conf = evm_conf({
        "truthfirst": "rpc=%s rpc=%s timeout=2" % (chain.rpc_url, liar.url),
        "liarfirst": "rpc=%s rpc=%s timeout=2" % (liar.url, chain.rpc_url),
        "confirm2": "rpc=%s timeout=2 confirmations=2" % chain.rpc_url,
    })
    return server_factory("faults-chain", body=conf,
                          files=evm_files(["truthfirst", "liarfirst", "confirm2"],
                                          chain.info["relayer"]["privateKey"]),
                          modules=["status"])


def _lie(liar, h, payer):
    """The liar knows a mined, successful transfer of the price to the
    recipient under hash h; the chain has no such transaction."""
    liar.receipts[h] = node_receipt(h, 5, [transfer_log(TOKEN, payer, RECIPIENT, AMOUNT)], frm=payer, to=TOKEN)


def test_a_lying_second_endpoint_is_never_asked_when_the_first_answers(csrv, chain, liar):
    payer = chain.info["payers"][0]["address"]
    h = "0x" + secrets.token_hex(32)
    _lie(liar, h, payer)
    assert chain.receipt(h) is None
    liar.reset()
    c = fresh(csrv, "/truthfirst/f.txt")
    r = csrv.get("/truthfirst/f.txt", [("Authorization", credential(c, {"type": "hash", "hash": h}))])
    body = assert_payment_response(r, 402, "verification-failed", csrv.secret, used_ids=[c["id"]])
    assert "not found on chain" in body["detail"], body
    assert liar.methods() == []


def test_no_quorum_the_first_endpoint_that_answers_is_believed_even_when_it_lies(csrv, chain, liar):
    """Current behaviour, documented: endpoints are tried in order and the
    first well-formed answer is taken; there is no quorum. A lying first
    endpoint (a receipt with status 0x1 and a Transfer log that the chain
    does not have) gets a `hash` credential accepted with nothing paid on
    chain. Only list endpoints you trust, primary first."""
    payer = chain.info["payers"][0]["address"]
    before = chain.balance(RECIPIENT)
    h = "0x" + secrets.token_hex(32)
    _lie(liar, h, payer)
    liar.reset()
    c = fresh(csrv, "/liarfirst/f.txt")
    r = csrv.get("/liarfirst/f.txt", [("Authorization", credential(c, {"type": "hash", "hash": h}))])
    rc = paid(r, c["id"])
    assert rc["reference"] == h
    assert chain.receipt(h) is None and chain.balance(RECIPIENT) == before, "the chain never saw it"
    assert liar.methods() == ["eth_getTransactionReceipt"], liar.calls


def test_a_transfer_reorganised_away_before_its_confirmations_is_not_counted(csrv, chain):
    """confirmations=2: a `hash` credential for a transfer mined in block N
    needs block N+1. The transfer is reverted away (evm_snapshot before it,
    evm_revert after) and blocks are mined past N+1 without it: the
    credential is refused, never paid."""
    payer = chain.info["payers"][1]["address"]
    before = chain.balance(RECIPIENT)
    snap = chain.snapshot()
    h = chain.send_transaction({"from": payer, "to": TOKEN, "gas": hex(100000),
                                "data": chain.transfer_data(RECIPIENT, AMOUNT)})
    rc = chain.mined_receipt(h)
    assert rc["status"] == "0x1" and int(rc["blockNumber"], 16) == chain.block_number()
    c = fresh(csrv, "/confirm2/f.txt")
    cred = credential(c, {"type": "hash", "hash": h})
    # one confirmation only: not yet
    failed_closed(csrv.get("/confirm2/f.txt", [("Authorization", cred)]), 503, r"not confirmed yet")
    chain.revert(snap)
    chain.mine(3)
    assert chain.receipt(h) is None and chain.balance(RECIPIENT) == before
    r = csrv.get("/confirm2/f.txt", [("Authorization", cred)])
    body = assert_payment_response(r, 402, "verification-failed", csrv.secret, used_ids=[c["id"]])
    assert "not found on chain" in body["detail"], body
    assert chain.balance(RECIPIENT) == before


def test_a_settlement_reorganised_away_is_never_paid(csrv, chain):
    """The server's own settlement (an EIP-3009 authorization) is mined in
    block N; confirmations=2 is not reached within timeout= (503, the same
    credential to retry). A reorg then drops it. Retrying the credential
    looks up the journaled hash, which the chain no longer has: 503 again,
    never a 200, and the payer keeps its tokens. (Current behaviour: the
    claim stays pending until its 24 h lifetime ends; the relayer does not
    re-broadcast.)"""
    payer = chain.info["payers"][2]
    before = (chain.balance(RECIPIENT), chain.balance(payer["address"]))
    snap = chain.snapshot()
    c = fresh(csrv, "/confirm2/f.txt")
    cred = credential(c, authorization(c, payer["privateKey"]))
    failed_closed(csrv.get("/confirm2/f.txt", [("Authorization", cred)]), 503, r"not confirmed yet")
    relayer = chain.info["relayer"]["address"]
    mined = [t for t in chain.block("latest", True)["transactions"] if t["from"].lower() == relayer.lower()]
    assert len(mined) == 1, mined
    chain.revert(snap)
    chain.mine(3)
    assert chain.receipt(mined[0]["hash"]) is None
    for _ in range(2):
        r = csrv.get("/confirm2/f.txt", [("Authorization", cred)])
        assert r.status != 200 and not r.get_all("Payment-Receipt"), r
        failed_closed(r, 503, r"not confirmed yet")
    assert (chain.balance(RECIPIENT), chain.balance(payer["address"])) == before


# ------------------------------------------------------------ the store full

FULL_CONF = """
MPPStore shm size=64K dir={root}/state
MPPNetwork local test
MPPAsset tok network=local address=TOK decimals=2
MPPOffer t asset=tok price=1 recipient=merchant expires=10
<Location /t>
    MPPCharge t
</Location>
"""


@pytest.mark.log_allow(r"the payment store is full")
def test_a_full_store_refuses_an_evm_payment_before_any_rpc_and_takes_it_later(server_factory, nodes):
    """With the store full, an EVM credential gets 503 before the chain node
    is asked anything (nothing can be broadcast unrecorded); once entries
    expire, the same credential pays."""
    a, _ = nodes
    mend_node(a)
    s = server_factory("full", body=evm_conf({"one": "rpc=%s timeout=1" % a.url}, FULL_CONF),
                       files=dict(evm_files(["one"]), **{"htdocs/t/f.txt": CONTENT}), modules=["status"])
    s.group_allow = (r"the payment store is full",)
    c = fresh(s, "/one/f.txt")
    cred = credential(c, authorization(c))
    t0 = time.monotonic()
    n = 0
    while True:
        tc = fresh(s, "/t/f.txt", method="test")
        r = s.pay("/t/f.txt", tc, OK)
        if r.status == 503:
            break
        assert r.status == 200, r
        n += 1
        assert n < 5000
    assert time.monotonic() - t0 < 9, "the store filled too slowly: entries may have expired meanwhile"
    a.reset()
    failed_closed(s.get("/one/f.txt", [("Authorization", cred)]), 503, r"full")
    assert a.methods() == [] and a.sent == [], a.calls
    deadline = t0 + 10 + 5 + 1 + 10
    while True:
        r = s.get("/one/f.txt", [("Authorization", cred)])
        if r.status == 200:
            break
        failed_closed(r, 503)
        assert time.monotonic() < deadline, "the store did not recover"
        time.sleep(0.5)
    paid(r, c["id"])
    assert len(a.settlements()) == 1
    s.stop()


# ------------------------------------------------------------ the journal's disk

JOURNAL_CONF = """
MPPStore shm size=1M dir={root}/state
MPPNetwork local test
MPPAsset tok network=local address=TOK decimals=2
MPPOffer t asset=tok price=1 recipient=merchant
<Location /t>
    MPPCharge t
</Location>
"""


def _mount_tmpfs(path, size, ro=False):
    path.mkdir(parents=True, exist_ok=True)
    opts = "size=%s,mode=0700%s" % (size, ",ro" if ro else "")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    if p.returncode != 0:
        pytest.fail("cannot mount a tmpfs (root and CAP_SYS_ADMIN are needed): %s" % p.stdout.decode())


def _umount(path):
    subprocess.run(["umount", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)


def _fill(path):
    """Fills the file system of path; returns the filler file."""
    f = path / "filler"
    with open(f, "wb", buffering=0) as out:
        for size in (4096, 512, 1):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError:
                pass
    return f


def _own_server(build, root, body, files=None):
    return Httpd(build, root, body=body, secret=new_secret(), files=files or {"htdocs/t/f.txt": CONTENT})


def _check_log(s, allow):
    bad = error_lines(s.log_text(), allow)
    assert not bad, "unexpected error log lines:\n" + "\n".join(bad)


def test_a_full_journal_disk_is_503_and_the_payment_is_recorded_after_recovery(build, tmp_path):
    """The state directory is a 64 KiB tmpfs, filled up while the server
    runs: a payment gets 503 (nothing served, no partial journal record);
    with space again, the same credential pays, and that payment survives
    a stop and start (it was journaled)."""
    root = tmp_path / "srv"
    s = _own_server(build, root, JOURNAL_CONF)
    state = root / "state"
    _mount_tmpfs(state, "64k")
    try:
        s.start()
        try:
            c0 = fresh(s, "/t/f.txt", method="test")
            assert s.pay("/t/f.txt", c0, OK).status == 200
            journal = state / "store.journal"
            size = journal.stat().st_size
            filler = _fill(state)
            # the journal's last page may still have room: pay until a record no longer fits
            paid_ids = [c0]
            for _ in range(200):
                c = fresh(s, "/t/f.txt", method="test")
                r = s.pay("/t/f.txt", c, OK)
                if r.status != 200:
                    break
                receipt(r, c["id"])
                paid_ids.append(c)
                size = journal.stat().st_size
            failed = problem(r)
            assert r.status == 503 and "cannot be recorded" in failed["detail"], r
            assert not r.get_all("Payment-Receipt") and CONTENT not in r.body
            assert (r.get("Retry-After") or "").isdigit(), r
            assert journal.stat().st_size == size, "a failed append left bytes in the journal"
            # still full: still 503
            assert s.pay("/t/f.txt", c, OK).status == 503
            filler.unlink()
            r = s.pay("/t/f.txt", c, OK)
            assert r.status == 200 and r.body == CONTENT, r
            receipt(r, c["id"])
            paid_ids.append(c)
            assert journal.stat().st_size > size
            s.stop()
            s.start(keep_port=True, keep_log=True)
            for ch in paid_ids:
                assert_payment_response(s.pay("/t/f.txt", ch, OK), 402, "invalid-challenge", s.secret,
                                        used_ids=[ch["id"]])
        finally:
            s.stop()
        _check_log(s, (r"payment store error \(error\): refusing payments",))
    finally:
        _umount(state)


def test_a_read_only_state_directory_stops_the_start(build, tmp_path):
    """A state directory on a read-only file system: httpd does not start
    (it could never record a payment), and says why."""
    root = tmp_path / "srv"
    s = _own_server(build, root, JOURNAL_CONF)
    state = root / "state"
    _mount_tmpfs(state, "64k", ro=True)
    try:
        s.port = free_port()
        s.write()
        p = subprocess.run([str(build.httpd), "-f", str(s.conf), "-DFOREGROUND"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=httpd_env(), timeout=60,
                           start_new_session=True)
        out = p.stdout.decode("utf-8", "replace") + s.log_text()
        assert p.returncode != 0, out
        assert re.search(r"MPPStore dir=%s" % re.escape(str(state)), out), out
    finally:
        _umount(state)


def test_a_state_directory_made_read_only_while_running_keeps_recording(build, tmp_path):
    """chmod 0500 of the state directory while the server runs: the journal
    is open already, so appends go on and payments are taken and recorded
    (each survives a stop and start). Only a journal rewrite needs the
    directory writable, and the server does not rewrite here."""
    root = tmp_path / "srv"
    s = _own_server(build, root, JOURNAL_CONF)
    try:
        s.start()
        state = root / "state"
        os.chmod(state, 0o500)
        paid_ids = []
        try:
            for _ in range(3):
                c = fresh(s, "/t/f.txt", method="test")
                r = s.pay("/t/f.txt", c, OK)
                assert r.status == 200, r
                receipt(r, c["id"])
                paid_ids.append(c)
        finally:
            os.chmod(state, 0o700)
        s.stop()
        s.start(keep_port=True, keep_log=True)
        for c in paid_ids:
            assert_payment_response(s.pay("/t/f.txt", c, OK), 402, "invalid-challenge", s.secret,
                                    used_ids=[c["id"]])
    finally:
        s.stop()
    _check_log(s, ())


# ------------------------------------------------------------ key files at startup

def _conf(build, d, body):
    secret = d / "challenge.key"
    if not secret.exists():
        secret.write_bytes(new_secret())
        os.chmod(secret, 0o600)
    text = "\n".join([
        "ServerRoot %s" % d, "Listen 127.0.0.1:9", "ServerName keys.test",
        "LoadModule mpm_event_module %s/mod_mpm_event.so" % build.moduledir,
        "LoadModule authz_core_module %s/mod_authz_core.so" % build.moduledir,
        "LoadModule mpp_module %s" % build.mod_mpp,
        "ErrorLog %s/error.log" % d, "DocumentRoot %s" % d, body]) + "\n"
    conf = d / "httpd.conf"
    conf.write_text(text)
    return conf


def _key(d, name, content, mode):
    p = d / name
    if content is None:
        return p
    if content == "dir":
        p.mkdir(mode=0o700)
        return p
    p.write_bytes(content)
    os.chmod(p, mode)
    return p


RELAYER = RELAYER_KEY.encode() + b"\n"
HMAC_KEY = secrets.token_hex(32).encode() + b"\n"
NET = "MPPNetwork n evm chain-id=1 rpc=http://127.0.0.1:9 relayer-key={key}"
SECRET = "MPPSecretFile {dir}/challenge.key {key}"
JWT = "MPPJWTKey k alg=HS256 file={key}"
JWKS = "MPPJWTKey k alg=ES256 jwks={key}"

# name -> (directive template, key content (None: missing, "dir": a directory), mode, what the message says)
KEY_FILES = {
    "relayer-key readable by others": (NET, RELAYER, 0o644, "is accessible by others"),
    "relayer-key writable by the group": (NET, RELAYER, 0o620, "is accessible by others"),
    "relayer-key missing": (NET, None, 0, "cannot be read"),
    "relayer-key a directory": (NET, "dir", 0, "is not a regular file"),
    "relayer-key not a key": (NET, b"0x" + b"zz" * 32 + b"\n", 0o600, "does not hold 0x and 64 hex digits"),
    "relayer-key zero": (NET, b"0x" + b"00" * 32 + b"\n", 0o600, "does not hold 0x and 64 hex digits"),
    "relayer-key of the curve order": (NET, ("0x%064x\n" % evmsign.N).encode(), 0o600,
                                       "does not hold 0x and 64 hex digits"),
    "previous MPPSecretFile readable by others": (SECRET, HMAC_KEY, 0o604, "is accessible by others"),
    "previous MPPSecretFile missing": (SECRET, None, 0, "cannot be read"),
    "previous MPPSecretFile a directory": (SECRET, "dir", 0, "is not a regular file"),
    "MPPJWTKey file= missing": (JWT, None, 0, "cannot be read"),
    "MPPJWTKey file= writable by the group": (JWT, HMAC_KEY, 0o660, "is accessible by others"),
    "MPPJWTKey jwks= readable by others": (JWKS, b'{"keys":[]}\n', 0o644, "is accessible by others"),
    "MPPJWTKey jwks= missing": (JWKS, None, 0, "cannot be read"),
}


@pytest.mark.parametrize("case", sorted(KEY_FILES))
def test_a_bad_key_file_is_refused_at_configtest(build, tmp_path, case):
    template, content, mode, needle = KEY_FILES[case]
    key = _key(tmp_path, "the.key", content, mode)
    conf = _conf(build, tmp_path, template.format(key=key, dir=tmp_path))
    rc, out = configtest(build, conf)
    assert rc != 0 and "Syntax OK" not in out, out
    assert str(key) in out and needle in out, out
    assert RELAYER_KEY[2:] not in out and HMAC_KEY.decode().strip() not in out, "a key was echoed"


def test_the_good_key_files_pass_configtest(build, tmp_path):
    """Control for the refusals above: the same directives with good files."""
    relayer = _key(tmp_path, "relayer.key", RELAYER, 0o600)
    prev = _key(tmp_path, "prev.key", HMAC_KEY, 0o640)
    jwt = _key(tmp_path, "jwt.key", HMAC_KEY, 0o600)
    body = "\n".join([NET.format(key=relayer), SECRET.format(key=prev, dir=tmp_path), JWT.format(key=jwt)])
    rc, out = configtest(build, _conf(build, tmp_path, body))
    assert rc == 0 and "Syntax OK" in out, out


@pytest.mark.parametrize("leeway", ["abc", "5x", "-1", ""])
def test_a_jwt_leeway_that_is_not_a_number_is_refused(build, tmp_path, leeway):
    jwt = _key(tmp_path, "jwt.key", HMAC_KEY, 0o600)
    rc, out = configtest(build, _conf(build, tmp_path, "MPPJWTKey k alg=HS256 file=%s leeway=%s" % (jwt, leeway)))
    assert rc != 0 and "leeway=" in out, out
