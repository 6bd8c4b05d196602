"""Operating mod_mpp: the LogFormat environment variables (with the sample
LogFormat of conf/mpp.conf), MPPMode shadow, the mod_status section, stable
error-log message numbers, and that no secret or credential reaches a log."""
import base64
import re
import secrets
import time
from pathlib import Path

import jwt
import pytest

from checks import assert_payment_response, receipt
from httpd import (NETWORKS, OFFER_BASIC, OFFER_TEST, PROJECT_ROOT, echo_of, encode_credential,
                   make_credential)

HMAC_KEY = base64.b64encode(secrets.token_bytes(48))


def sample_logformat():
    """The LogFormat line named mpp in conf/mpp.conf (commented there)."""
    for line in (PROJECT_ROOT / "conf" / "mpp.conf").read_text().splitlines():
        m = re.match(r"#\s*(LogFormat\s+.*\s+mpp)\s*$", line)
        if m:
            return m.group(1)
    raise AssertionError("conf/mpp.conf has no sample 'LogFormat ... mpp' line")


CONF = NETWORKS + OFFER_BASIC + "\n" + OFFER_TEST + """
MPPJWTKey ops alg=HS256 file={root}/secret/ops.key
%s
CustomLog {root}/logs/mpp.log mpp
<Location /paid>
    MPPCharge t
    MPPEntitlement ops
</Location>
<Location /shadow>
    MPPMode shadow
    MPPCharge t
</Location>
<Location /shadow/enforced>
    MPPMode enforce
</Location>
<Location /server-status>
    SetHandler server-status
</Location>
""" % sample_logformat()

FILES = {
    "secret/ops.key": (HMAC_KEY + b"\n", 0o600),
    "htdocs/free.txt": "free\n",
    "htdocs/paid/x.txt": "paid\n",
    "htdocs/shadow/x.txt": "shadowed\n",
    "htdocs/shadow/enforced/x.txt": "enforced\n",
}


@pytest.fixture(scope="module")
def srv(server_factory):
    return server_factory("operations", body=CONF, files=FILES, modules=["status"])


def mpp_log(srv):
    path = srv.root / "logs" / "mpp.log"
    return path.read_text() if path.exists() else ""


def log_line_for(srv, marker, timeout=5):
    """The mpp access-log line of the request whose path carries marker."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in mpp_log(srv).splitlines():
            if marker in line:
                return line
        time.sleep(0.05)
    raise AssertionError("no access-log line for %s in:\n%s" % (marker, mpp_log(srv)))


def last_line_for(srv, marker, count, timeout=5):
    """The last of `count` access-log lines whose request carries marker."""
    deadline = time.time() + timeout
    lines = []
    while time.time() < deadline:
        lines = [l for l in mpp_log(srv).splitlines() if marker in l]
        if len(lines) >= count:
            return lines[-1]
        time.sleep(0.05)
    raise AssertionError("%d access-log lines for %s expected, got %r" % (count, marker, lines))


def fields(line):
    """key=value pairs of the sample format ("-" where unset)."""
    return dict(re.findall(r'mpp_(\w+)=("[^"]*"|\S+)', line))


def unq(v):
    return v.strip('"')


def test_free_request_is_logged_free(srv):
    assert srv.get("/free.txt?m=free1").status == 200
    f = fields(log_line_for(srv, "m=free1"))
    assert unq(f["status"]) == "free", f
    assert unq(f["problem"]) == "-", f


def test_challenged_request_is_logged_with_its_problem(srv):
    r = srv.get("/paid/x.txt?m=ch1")
    assert r.status == 402
    f = fields(log_line_for(srv, "m=ch1"))
    assert unq(f["status"]) == "challenged", f
    assert unq(f["problem"]) == "payment-required", f


def test_paid_request_is_logged_with_method_amount_asset_payer_reference(srv):
    c = srv.get("/paid/x.txt?m=paid1").challenge("test")
    auth = encode_credential({"challenge": echo_of(c), "source": "did:test:payer-7",
                              "payload": {"proof": "ok"}})
    r = srv.get("/paid/x.txt?m=paid1", [("Authorization", auth)])
    assert r.status == 200, r
    rc = receipt(r, c["id"])
    f = fields(last_line_for(srv, "m=paid1", 2))
    assert unq(f["status"]) == "paid", f
    assert unq(f["method"]) == "test", f
    assert unq(f["asset"]) == "tok", f
    assert unq(f["amount"]) == "100", f
    assert unq(f["payer"]) == "did:test:payer-7", f
    assert unq(f["reference"]) == rc["reference"], f
    assert unq(f["problem"]) == "-", f


def test_rejected_request_is_logged_with_its_problem(srv):
    c = srv.get("/paid/x.txt?m=rej1").challenge("test")
    r = srv.get("/paid/x.txt?m=rej1", [("Authorization", make_credential(c, {"proof": "fail"}))])
    assert r.status == 402
    f = fields(last_line_for(srv, "m=rej1", 2))
    assert unq(f["status"]) == "rejected", f
    assert unq(f["problem"]) == "verification-failed", f
    assert unq(f["method"]) == "test", f


def test_entitled_request_is_logged_entitled(srv):
    now = int(time.time())
    tok = jwt.encode({"sub": "alice", "aud": "mpp.test", "iat": now - 5, "exp": now + 600},
                     HMAC_KEY, algorithm="HS256")
    r = srv.get("/paid/x.txt?m=ent1", [("X-Entitlement", "Bearer " + tok)])
    assert r.status == 200, r
    f = fields(log_line_for(srv, "m=ent1"))
    assert unq(f["status"]) == "entitled", f
    assert unq(f["payer"]) == "alice", f
    assert unq(f["amount"]) == "-", f


def test_shadow_mode_serves_with_challenge_and_logs_what_it_would_do(srv):
    offset = srv.log_size()
    r = srv.get("/shadow/x.txt?m=sh1")
    assert r.status == 200, r
    assert r.body == b"shadowed\n"
    assert r.challenge("test")
    assert "no-store" not in " ".join(r.get_all("Cache-Control"))
    srv.wait_log(r"MPP\d{5}: shadow mode: would answer 402 \(payment-required\)", offset)
    f = fields(log_line_for(srv, "m=sh1"))
    assert unq(f["status"]) == "challenged", f
    # a bad credential is served too, and logged rejected
    c = r.challenge("test")
    bad = srv.get("/shadow/x.txt?m=sh2", [("Authorization", make_credential(c, {"proof": "fail"}))])
    assert bad.status == 200 and bad.body == b"shadowed\n", bad
    assert unq(fields(last_line_for(srv, "m=sh2", 1))["status"]) == "rejected"
    # and a good one is taken, with its receipt
    ok = srv.pay("/shadow/x.txt", c)
    assert ok.status == 200
    receipt(ok, c["id"])


def test_enforce_overrides_shadow_below(srv):
    r = srv.get("/shadow/enforced/x.txt")
    assert_payment_response(r, 402, "payment-required", srv.secret)


def status_values(srv):
    r = srv.get("/server-status?auto")
    assert r.status == 200, r
    vals = {}
    for line in r.text.splitlines():
        if line.startswith("MPP") and ": " in line:
            k, v = line.split(": ", 1)
            vals.setdefault(k, []).append(v)
    return vals


def test_status_page_has_an_mpp_section_that_counts(srv):
    before = status_values(srv)
    for k in ("MPPStoreCapacity", "MPPStoreUsed", "MPPChallengesIssued", "MPPPaymentsAccepted",
              "MPPRejected", "MPPSettlementsInFlight", "MPPRPC"):
        assert k in before, (k, before)
    assert int(before["MPPStoreCapacity"][0]) > 1000
    assert any(v.startswith("anvil http://127.0.0.1:8545 ") for v in before["MPPRPC"]), before["MPPRPC"]
    srv.get("/paid/x.txt")
    c = srv.get("/paid/x.txt").challenge("test")
    assert srv.pay("/paid/x.txt", c).status == 200
    srv.get("/paid/x.txt", [("Authorization", make_credential(c, {"proof": "fail"}))])
    after = status_values(srv)
    assert int(after["MPPChallengesIssued"][0]) >= int(before["MPPChallengesIssued"][0]) + 2
    assert int(after["MPPPaymentsAccepted"][0]) == int(before["MPPPaymentsAccepted"][0]) + 1
    assert int(after["MPPRejected-invalid-challenge"][0]) >= 1
    assert int(after["MPPStoreUsed"][0]) > int(before["MPPStoreUsed"][0])
    html = srv.get("/server-status").text
    assert "<h2>mod_mpp</h2>" in html


def test_status_never_shows_an_rpc_path_or_key(server_factory):
    conf = ("MPPNetwork keyed evm chain-id=1 rpc=https://user:pw@rpc.example.test/v3/SECRETKEY123\n"
            "MPPAsset k network=keyed address=0x5FbDB2315678afecb367f032d93F642f64180aa3 decimals=6\n"
            "MPPOffer ko asset=k price=1 recipient=0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC\n"
            "<Location /server-status>\n SetHandler server-status\n</Location>\n")
    s = server_factory("status-keys", body=conf, modules=["status"])
    for q in ("/server-status?auto", "/server-status"):
        text = s.get(q).text
        assert "rpc.example.test" in text
        assert "SECRETKEY123" not in text and "pw@" not in text and "/v3" not in text


def test_every_log_line_of_the_module_has_a_unique_message_number():
    nums = []
    src = sorted((PROJECT_ROOT / "src").glob("mod_mpp_*.c")) + [PROJECT_ROOT / "mod_mpp.c"]
    for f in src:
        text = f.read_text()
        calls = re.findall(r"ap_log_[a-z]*error\(APLOG_MARK,[^;]*?;", text, re.S)
        for call in calls:
            m = re.search(r'MPPLOGNO\((\d{5})\)', call)
            assert m, "log call without MPPLOGNO in %s: %s" % (f.name, call[:120])
            nums.append(m.group(1))
    assert nums and len(nums) == len(set(nums)), sorted(n for n in nums if nums.count(n) > 1)


def test_module_log_lines_carry_numbers(srv):
    offset = srv.log_size()
    srv.get("/paid/x.txt")
    text = srv.wait_log(r"\[mpp:debug\]", offset)
    for line in text.splitlines():
        if "[mpp:" in line:
            assert re.search(r"\] MPP\d{5}: ", line), line


@pytest.mark.log_allow(r".*")
def test_no_secret_or_credential_in_any_log(server_factory):
    conf = NETWORKS + OFFER_TEST + """
MPPJWTKey ops alg=HS256 file={root}/secret/ops.key
LogLevel warn mpp:trace8
<Location /paid>
    MPPCharge t
    MPPEntitlement ops
</Location>
"""
    s = server_factory("nosecrets", body=conf, files=FILES)
    c = s.get("/paid/x.txt").challenge("test")
    cred = make_credential(c, {"proof": "ok"})
    bad = make_credential(c, {"proof": "fail"})
    s.get("/paid/x.txt", [("Authorization", bad)])
    assert s.get("/paid/x.txt", [("Authorization", cred)]).status == 200
    now = int(time.time())
    tok = jwt.encode({"sub": "a", "aud": "mpp.test", "iat": now, "exp": now + 60}, HMAC_KEY, algorithm="HS256")
    assert s.get("/paid/x.txt", [("X-Entitlement", "Bearer " + tok)]).status == 200
    s.get("/paid/x.txt", [("X-Entitlement", "Bearer " + tok[:-4] + "AAAA")])
    s.stop()
    logs = "".join(p.read_text(errors="replace") for p in (s.root / "logs").glob("*.log"))
    secret_text = s.secret.decode(errors="replace")
    for needle in (cred.split(" ", 1)[1], bad.split(" ", 1)[1], tok, tok.split(".")[2],
                   secret_text, HMAC_KEY.decode()):
        assert needle not in logs, "found in a log: %s..." % needle[:24]


def test_status_counters_survive_a_graceful_restart(srv):
    srv.get("/paid/x.txt")
    before = int(status_values(srv)["MPPChallengesIssued"][0])
    assert before > 0
    srv.graceful()
    after = int(status_values(srv)["MPPChallengesIssued"][0])
    assert after >= before, (before, after)
