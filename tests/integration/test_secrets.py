"""Challenge keys: rotation with a previous key, and the random key used
when MPPSecretFile is not set (shared by all worker processes)."""
import http.client

import pytest

from checks import assert_payment_response, check_challenge, receipt
from httpd import (NETWORKS, OFFER_TEST, compute_id, echo_of, encode_credential, make_credential,
                   new_secret, parse_www_authenticate)

CONF = NETWORKS + OFFER_TEST + """
<Location /paid>
    MPPCharge t
</Location>
"""

FILES = {"htdocs/paid/a.txt": "paid A\n"}
OK = {"proof": "ok"}


@pytest.fixture(scope="module")
def rotated(server_factory):
    return server_factory("rotation", body=CONF, files=FILES, previous_secret=new_secret())


@pytest.fixture(scope="module")
def keyless(server_factory):
    # prefork: each kept-alive connection holds its own child process
    return server_factory("no-secret-file", secret=None, body=CONF, files=FILES, mpm="prefork",
                          preamble_extra="StartServers 4\nMinSpareServers 4\nMaxSpareServers 8")


def signed_with(key, c):
    echo = echo_of(c)
    echo["id"] = compute_id(key, echo)
    return encode_credential({"challenge": echo, "payload": OK})


def test_new_challenges_use_the_current_key(rotated):
    r = rotated.get("/paid/a.txt")
    assert r.status == 402
    for c in r.challenges:
        check_challenge(c, rotated.secret)
        assert compute_id(rotated.previous_secret, c) != c["id"]


def test_previous_key_is_still_accepted(rotated):
    c = rotated.get("/paid/a.txt").challenge("test")
    auth = signed_with(rotated.previous_secret, c)
    r = rotated.get("/paid/a.txt", [("Authorization", auth)])
    assert r.status == 200, r
    receipt(r)


def test_unknown_key_is_refused(rotated):
    c = rotated.get("/paid/a.txt").challenge("test")
    auth = signed_with(new_secret().rstrip(b"\n"), c)
    r = rotated.get("/paid/a.txt", [("Authorization", auth)])
    assert_payment_response(r, 402, "invalid-challenge", rotated.secret, used_ids=[c["id"]])


def test_without_secret_file_a_warning_is_logged(keyless):
    assert "MPPSecretFile is not set" in keyless.log_text()


def test_without_secret_file_all_workers_share_the_key(keyless):
    """Challenges from one worker process pay in the others."""
    conns = [http.client.HTTPConnection("127.0.0.1", keyless.port, timeout=15) for _ in range(4)]
    try:
        challenges = []
        first = conns[0]
        for _ in range(4):
            first.request("GET", "/paid/a.txt")
            r = first.getresponse()
            r.read()
            assert r.status == 402
            chs = [p for v in r.headers.get_all("WWW-Authenticate")
                   for s, p in parse_www_authenticate(v) if s == "Payment"]
            challenges.append(chs[0])
        statuses = []
        for conn, c in zip(conns, challenges):
            conn.request("GET", "/paid/a.txt", headers={"Authorization": make_credential(c, OK)})
            r = conn.getresponse()
            r.read()
            statuses.append(r.status)
    finally:
        for conn in conns:
            conn.close()
    assert statuses == [200, 200, 200, 200]
    # the kept-alive connections were served by several processes
    lines = (keyless.root / "logs" / "access.log").read_text().splitlines()
    paid = [l.split()[1] for l in lines if "/paid/a.txt" in l and '" 200 ' in l]
    assert len(set(paid)) >= 2, lines
