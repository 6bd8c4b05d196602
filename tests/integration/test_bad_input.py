"""Hostile and malformed input against the real apache2: every case gets a
clear 4xx with the right problem type (402 and a fresh challenge for a bad
credential, 400 for two credentials, 413 for a body too large, httpd's own
400 for what it refuses itself), the server does not crash (the error log
check after every test fails on any sanitizer report or segfault), and
nothing changes: the store holds as many entries as before (mod_status
MPPStoreUsed), no chain node is asked anything, and the challenge the bad
credential answered still pays afterwards with a good one.

The test method (payload {"proof":"ok"}) carries the credential-level cases:
each bad credential below would pay if its check were missing, because the
part that is wrong sits beside a proof that is good. The EVM cases use the
module's real evm method with EIP-3009 authorizations signed here
(evmsign.py), against a fake chain node (fakenode.py) that records every
call: a refusal must come before any call, and the good authorization that
follows settles through it."""
import base64
import hashlib
import json
import re
import secrets
import socket
import time

import pytest

import evmsign
from checks import assert_payment_response, problem, receipt
from fakenode import DRY_RUNS, FakeNode
from httpd import (b64url, compute_id, decode_json_b64url, echo_of, encode_credential, jcs_b64url,
                   make_credential)

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
RECIPIENT = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
AMOUNT = 10000
CHAIN_ID = 31337
RELAYER_KEY = "0x" + "5a" * 32
PAYER_KEY = "0x" + "2b" * 32
PAYER = evmsign.checksum(evmsign.address_of(PAYER_KEY))
MAX_AUTH_HEADER = 16384          # src/mpp_limits.h MPP_MAX_AUTH_HEADER
MAX_BODY = 1024 * 1024           # src/mod_mpp.h MPP_MAX_BODY
HTTPD_FIELD_LIMIT = 65536        # LimitRequestFieldSize below: above the module's own limits

CONF = """
MPPRealm "bad input"
LimitRequestFieldSize %(field)d
MPPNetwork fake evm chain-id=%(chain)d rpc={node} relayer-key={root}/secret/relayer.key timeout=2
MPPNetwork local test
MPPAsset usdc network=fake address=%(token)s decimals=6 eip712-name="USD Coin" eip712-version=2
MPPAsset tok network=local address=TOK decimals=2
MPPOffer basic asset=usdc price=0.01 recipient=%(rcpt)s
MPPOffer t asset=tok price=1 recipient=merchant
<Location /t>
    MPPCharge t
</Location>
<Location /evm>
    MPPCharge basic
</Location>
<Location /server-status>
    SetHandler server-status
</Location>
ScriptAlias /cgi/ {root}/cgi/
<Location /cgi/>
    MPPCharge t
</Location>
""" % {"field": HTTPD_FIELD_LIMIT, "chain": CHAIN_ID, "token": TOKEN, "rcpt": RECIPIENT}

# the backend of a paid POST: what reached it (body size and hash) and the
# payer the gate told it
ECHO_CGI = """#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
printf 'payer=%s\\n' "$HTTP_MPP_PAYER"
printf 'sha256=%s\\n' "$(head -c "${CONTENT_LENGTH:-0}" | sha256sum | cut -d' ' -f1)"
"""

PATH = "/t/a.txt"
EVM_PATH = "/evm/a.txt"
CONTENT = b"paid A\n"
OK = {"proof": "ok"}
FILES = {"htdocs/t/a.txt": CONTENT, "htdocs/evm/a.txt": CONTENT, "cgi/echo": (ECHO_CGI, 0o755)}


@pytest.fixture(scope="module")
def node():
    with FakeNode(token=TOKEN) as n:
        yield n


@pytest.fixture(scope="module")
def srv(server_factory, node):
    files = dict(FILES)
    files["secret/relayer.key"] = (RELAYER_KEY + "\n", 0o600)
    return server_factory("bad-input", body=CONF.replace("{node}", node.url), files=files,
                          modules=["cgi", "status"])


# ------------------------------------------------------------ helpers

def store_used(srv):
    r = srv.get("/server-status?auto")
    assert r.status == 200, r
    m = re.search(r"^MPPStoreUsed: (\d+)$", r.text, re.M)
    assert m, r.text
    return int(m.group(1))


def fresh(srv, path=PATH, method="test", verb="GET", body=None):
    r = srv.request(verb, path, body=body)
    assert r.status == 402, r
    return r.challenge(method)


def refused(srv, r, status, slug, used=()):
    """A refusal of the gate: status, problem type, a fresh challenge."""
    return assert_payment_response(r, status, slug, srv.secret, used_ids=set(used), n_challenges=1)


def still_pays(srv, c, path=PATH, payload=None, method="test", verb="GET", body=None):
    """The challenge was not used up: a good credential for it pays now."""
    auth = make_credential(c, payload if payload is not None else OK)
    r = srv.request(verb, path, [("Authorization", auth)], body=body)
    assert r.status == 200, r
    receipt(r, c["id"], method=method)
    return r


def token_of(obj):
    """The base64url token of a credential given as an object or raw bytes."""
    raw = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
    return b64url(raw)


def raw_credential(c, payload_json=b'{"proof":"ok"}', challenge_json=None, extra=b""):
    """Credential JSON assembled from byte strings, for what json.dumps
    cannot write (duplicate keys, invalid UTF-8, lone surrogates)."""
    ch = challenge_json if challenge_json is not None else json.dumps(echo_of(c)).encode()
    return "Payment " + b64url(b'{"challenge":' + ch + b',"payload":' + payload_json + extra + b"}")


def deep(n):
    return "[" * n + "]" * n


def raw_http(port, data, timeout=15):
    """Bytes on a fresh connection; the status code and the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass      # the server answered and closed before taking it all: its answer is read below
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    m = re.match(rb"HTTP/1\.\d (\d{3})", out)
    assert m, out[:200]
    return int(m.group(1)), out


# ------------------------------------------------------------ credentials (test method)

def _echo_json_with(c, key, first, second):
    """The echoed challenge as JSON with `key` twice: first, then second."""
    items = [(k, v) for k, v in echo_of(c).items() if k != key]
    body = ",".join(json.dumps(k) + ":" + json.dumps(v) for k, v in items)
    return ("{" + body + ",%s:%s,%s:%s}" % (json.dumps(key), json.dumps(first), json.dumps(key),
                                            json.dumps(second))).encode()


def _request_text(c, raw_request_json):
    """The echo with its request replaced by raw JSON text whose canonical
    form would be the issued request (if the parser let it through): the id
    stays the issued one, so only the JSON reading itself can refuse it."""
    return encode_credential({"challenge": dict(echo_of(c), request=b64url(raw_request_json)), "payload": OK})


def _request_with_dup_amount(c, order):
    req = decode_json_b64url(c["request"])
    rest = ",".join(json.dumps(k) + ":" + json.dumps(v) for k, v in req.items() if k != "amount")
    a, b = ("1", req["amount"]) if order == 0 else (req["amount"], "1")
    return _request_text(c, ('{"amount":%s,"amount":%s,%s}' % (json.dumps(a), json.dumps(b), rest)).encode())


def _padded_to(c, total, spaces=1):
    """A good credential whose Authorization value is exactly `total` bytes
    (the payload carries padding; spaces between scheme and token fill what
    base64 lengths cannot)."""
    for pad in range(0, MAX_AUTH_HEADER):
        tok = token_of({"challenge": echo_of(c), "payload": {"proof": "ok", "pad": "p" * pad}})
        for sp in range(spaces, spaces + 3):
            v = "Payment" + " " * sp + tok
            if len(v) == total:
                return v
            if len(v) > total + 3:
                raise AssertionError("no credential of exactly %d bytes" % total)
    raise AssertionError("unreachable")


def _whitespace_inside(c):
    tok = token_of({"challenge": echo_of(c), "payload": OK})
    return "Payment " + tok[:20] + " " + tok[20:]


def _tab_inside(c):
    tok = token_of({"challenge": echo_of(c), "payload": OK})
    return "Payment " + tok[:20] + "\t" + tok[20:]


def _truncated(c, n):
    tok = token_of({"challenge": echo_of(c), "payload": OK})
    return "Payment " + tok[:-n]


def _std_b64_padded(c):
    """Standard alphabet with padding: a '+' or '/' in it and '=' at the end."""
    for n in range(256):
        raw = json.dumps({"challenge": echo_of(c), "payload": {"proof": "ok", "pad": "?" * n}}).encode()
        enc = base64.b64encode(raw).decode()
        if ("+" in enc or "/" in enc) and enc.endswith("="):
            return "Payment " + enc
    raise AssertionError("could not build one")


UTF8_BAD = {
    "invalid UTF-8 byte ff": b"\xff",
    "truncated UTF-8 sequence": b"\xc3",
    "lone continuation byte": b"\x80",
    "overlong slash (2 bytes)": b"\xc0\xaf",
    "overlong slash (3 bytes)": b"\xe0\x80\xaf",
    "overlong slash (4 bytes)": b"\xf0\x80\x80\xaf",
    "overlong NUL": b"\xc0\x80",
    "UTF-8 encoded surrogate": b"\xed\xa0\x80",
    "above U+10FFFF": b"\xf4\x90\x80\x80",
    "5-byte lead": b"\xf8\x88\x80\x80\x80",
}

ESCAPES_BAD = {
    "lone high surrogate escape": b"\\ud800",
    "lone low surrogate escape": b"\\udc00",
    "high surrogate then a letter": b"\\ud800\\u0041",
    "two high surrogates": b"\\ud800\\ud800",
    "high surrogate at the end": b"x\\udbff",
    "NUL escape": b"\\u0000",
    "short escape": b"\\u12",
    "unknown escape": b"\\x41",
}


def _in_note(value_bytes):
    return lambda s, c: raw_credential(c, b'{"proof":"ok","note":"' + value_bytes + b'"}')


def _in_key(value_bytes):
    return lambda s, c: raw_credential(c, b'{"proof":"ok","' + value_bytes + b'":1}')


# name -> (build(srv, challenge) -> Authorization value, status, problem slug)
CREDENTIALS = {
    # sizes: the module's limit is on the whole Authorization value
    "Authorization one byte over the module's limit":
        (lambda s, c: _padded_to(c, MAX_AUTH_HEADER + 1), 402, "malformed-credential"),
    "huge credential (60 KB)":
        (lambda s, c: make_credential(c, {"proof": "ok", "pad": "p" * 45000}), 402, "malformed-credential"),
    "deep JSON in the payload (nesting 1000)":
        (lambda s, c: raw_credential(c, ('{"proof":"ok","deep":%s}' % deep(1000)).encode()),
         402, "malformed-credential"),
    "deep JSON in the payload (one level over the limit)":
        (lambda s, c: raw_credential(c, ('{"proof":"ok","deep":%s}' % deep(15)).encode()),
         402, "malformed-credential"),
    "deep JSON in the echoed request (nesting 1000)":
        (lambda s, c: _request_text(c, ('{"amount":"100","x":%s}' % deep(1000)).encode()),
         402, "malformed-credential"),
    "integer literal of 5000 digits":
        (lambda s, c: raw_credential(c, b'{"proof":"ok","n":' + b"9" * 5000 + b"}"), 402, "malformed-credential"),
    "number 1e999":
        (lambda s, c: raw_credential(c, b'{"proof":"ok","n":1e999}'), 402, "malformed-credential"),
    "NaN literal":
        (lambda s, c: raw_credential(c, b'{"proof":"ok","n":NaN}'), 402, "malformed-credential"),
    "leading-zero number":
        (lambda s, c: raw_credential(c, b'{"proof":"ok","n":01}'), 402, "malformed-credential"),
    "raw control character in a string":
        (lambda s, c: raw_credential(c, b'{"proof":"ok","note":"a\x01b"}'), 402, "malformed-credential"),
    "raw CR LF in a string":
        (lambda s, c: raw_credential(c, b'{"proof":"ok","note":"a\r\nb"}'), 402, "malformed-credential"),
    "trailing data after the JSON":
        (lambda s, c: raw_credential(c, extra=b"} {"), 402, "malformed-credential"),
    "trailing comma in the payload":
        (lambda s, c: raw_credential(c, b'{"proof":"ok",}'), 402, "malformed-credential"),
    # duplicate keys: neither the first nor the last may win
    "duplicate payload key (fail, then ok)":
        (lambda s, c: raw_credential(c, extra=b',"payload":{"proof":"ok"}', payload_json=b'{"proof":"fail"}'),
         402, "malformed-credential"),
    "duplicate payload key (ok, then fail)":
        (lambda s, c: raw_credential(c, extra=b',"payload":{"proof":"fail"}'), 402, "malformed-credential"),
    "duplicate challenge key":
        (lambda s, c: raw_credential(c, extra=b',"challenge":' + json.dumps(echo_of(c)).encode()),
         402, "malformed-credential"),
    "duplicate proof in the payload (fail, then ok)":
        (lambda s, c: raw_credential(c, b'{"proof":"fail","proof":"ok"}'), 402, "malformed-credential"),
    "duplicate proof in the payload (ok, then fail)":
        (lambda s, c: raw_credential(c, b'{"proof":"ok","proof":"fail"}'), 402, "malformed-credential"),
    "duplicate id in the echo (bogus, then real)":
        (lambda s, c: raw_credential(c, challenge_json=_echo_json_with(c, "id", "bogus", c["id"])),
         402, "malformed-credential"),
    "duplicate id in the echo (real, then bogus)":
        (lambda s, c: raw_credential(c, challenge_json=_echo_json_with(c, "id", c["id"], "bogus")),
         402, "malformed-credential"),
    "duplicate expires in the echo":
        (lambda s, c: raw_credential(c, challenge_json=_echo_json_with(c, "expires", "2099-01-01T00:00:00Z",
                                                                       c["expires"])),
         402, "malformed-credential"),
    "duplicate opaque in the echo":
        (lambda s, c: raw_credential(c, challenge_json=_echo_json_with(c, "opaque", c["opaque"], c["opaque"])),
         402, "malformed-credential"),
    "duplicate amount in the echoed request (1, then the price)":
        (lambda s, c: _request_with_dup_amount(c, 0), 402, "malformed-credential"),
    "duplicate amount in the echoed request (the price, then 1)":
        (lambda s, c: _request_with_dup_amount(c, 1), 402, "malformed-credential"),
    # base64url
    "standard alphabet with padding":
        (lambda s, c: _std_b64_padded(c), 402, "malformed-credential"),
    "a space inside the token":
        (lambda s, c: _whitespace_inside(c), 402, "malformed-credential"),
    "a tab inside the token":
        (lambda s, c: _tab_inside(c), 402, "malformed-credential"),
    "truncated by one character":
        (lambda s, c: _truncated(c, 1), 402, "malformed-credential"),
    "truncated by two characters":
        (lambda s, c: _truncated(c, 2), 402, "malformed-credential"),
    "truncated by three characters":
        (lambda s, c: _truncated(c, 3), 402, "malformed-credential"),
    "nothing but a comma after the scheme":
        (lambda s, c: "Payment ,", 402, "malformed-credential"),
    "an auth-param instead of a token":
        (lambda s, c: "Payment id=\"%s\"" % c["id"], 402, "malformed-credential"),
    # JSON that is not an object
    "JSON number": (lambda s, c: "Payment " + b64url(b"42"), 402, "malformed-credential"),
    "JSON null": (lambda s, c: "Payment " + b64url(b"null"), 402, "malformed-credential"),
    "JSON true": (lambda s, c: "Payment " + b64url(b"true"), 402, "malformed-credential"),
    "JSON empty object": (lambda s, c: "Payment " + b64url(b"{}"), 402, "malformed-credential"),
    "JSON string holding the credential":
        (lambda s, c: "Payment " + b64url(json.dumps(json.dumps({"challenge": echo_of(c), "payload": OK}))),
         402, "malformed-credential"),
    "payload null": (lambda s, c: raw_credential(c, b"null"), 402, "malformed-credential"),
    "challenge id null":
        (lambda s, c: raw_credential(c, challenge_json=json.dumps(dict(echo_of(c), id=None)).encode()),
         402, "malformed-credential"),
    "challenge id a number":
        (lambda s, c: raw_credential(c, challenge_json=json.dumps(dict(echo_of(c), id=7)).encode()),
         402, "malformed-credential"),
    "method with an uppercase letter":
        (lambda s, c: make_credential(c, OK, method="Test"), 402, "malformed-credential"),
    # CR/LF and friends inside JSON values: refused, and nothing of it reaches a header
    "CR LF in the echoed realm":
        (lambda s, c: make_credential(c, OK, realm="bad input\r\nX-Injected: 1"), 402, "invalid-challenge"),
    "CR LF in the echoed id":
        (lambda s, c: make_credential(c, OK, id=c["id"] + "\r\nX-Injected: 1"), 402, "invalid-challenge"),
    "CR LF in the echoed expires":
        (lambda s, c: make_credential(c, OK, expires=c["expires"] + "\r\nX-Injected: 1"), 402, "invalid-challenge"),
}
CREDENTIALS.update({"%s in a string" % k: (_in_note(v), 402, "malformed-credential") for k, v in UTF8_BAD.items()})
CREDENTIALS.update({"%s in a key" % k: (_in_key(v), 402, "malformed-credential")
                    for k, v in UTF8_BAD.items() if "overlong" in k or "surrogate" in k})
CREDENTIALS.update({k: (_in_note(v), 402, "malformed-credential") for k, v in ESCAPES_BAD.items()})


@pytest.mark.parametrize("case", sorted(CREDENTIALS))
def test_bad_credential_is_refused_and_changes_nothing(srv, case):
    build, status, slug = CREDENTIALS[case]
    c = fresh(srv)
    auth = build(srv, c)
    before = store_used(srv)
    r = srv.get(PATH, [("Authorization", auth)])
    refused(srv, r, status, slug, used=[c["id"]])
    assert r.body != CONTENT
    assert not [k for k, _ in r.headers if k.lower() == "x-injected"], r.headers
    assert store_used(srv) == before, "a refused credential changed the store"
    still_pays(srv, c)


# The limits are where they are said to be: just inside them, a credential pays.
WITHIN = {
    "Authorization of exactly the module's limit": lambda c: _padded_to(c, MAX_AUTH_HEADER),
    "payload nested to the depth limit":
        lambda c: raw_credential(c, ('{"proof":"ok","deep":%s}' % deep(14)).encode()),
    "a valid surrogate pair escape": lambda c: raw_credential(c, b'{"proof":"ok","note":"\\ud83d\\ude00"}'),
    "4-byte UTF-8 at U+10FFFF": lambda c: raw_credential(c, b'{"proof":"ok","note":"\xf4\x8f\xbf\xbf"}'),
    "a tab between scheme and token": lambda c: "Payment\t" + token_of({"challenge": echo_of(c), "payload": OK}),
}


@pytest.mark.parametrize("case", sorted(WITHIN))
def test_credential_just_inside_the_limits_pays(srv, case):
    c = fresh(srv)
    auth = WITHIN[case](c)
    r = srv.get(PATH, [("Authorization", auth)])
    assert r.status == 200 and r.body == CONTENT, r
    receipt(r, c["id"])


def test_authorization_beyond_httpds_own_limit_is_refused_by_httpd(srv):
    """Above LimitRequestFieldSize httpd itself answers 400 before any
    module runs: no challenge, nothing stored."""
    c = fresh(srv)
    before = store_used(srv)
    r = srv.get(PATH, [("Authorization", make_credential(c, {"proof": "ok", "pad": "p" * HTTPD_FIELD_LIMIT}))])
    assert r.status in (400, 431), r
    assert not r.challenges and not r.get("Payment-Receipt"), r
    assert store_used(srv) == before
    still_pays(srv, c)


# ------------------------------------------------------------ two credentials

MULTI = {
    "two Authorization lines, two challenges":
        lambda a, b: [("Authorization", make_credential(a, OK)), ("Authorization", make_credential(b, OK))],
    "two Authorization lines, the same credential":
        lambda a, b: [("Authorization", make_credential(a, OK))] * 2,
    "comma-joined, the same credential":
        lambda a, b: [("Authorization", make_credential(a, OK) + ", " + make_credential(a, OK))],
    "comma-joined with an empty second Payment":
        lambda a, b: [("Authorization", make_credential(a, OK) + ", Payment")],
    "a Basic line and two Payment lines":
        lambda a, b: [("Authorization", "Basic dXNlcjpwYXNz"), ("Authorization", make_credential(a, OK)),
                      ("Authorization", make_credential(b, OK))],
    "comma-joined without a space, lower-case scheme":
        lambda a, b: [("Authorization", make_credential(a, OK) + ",payment " + make_credential(b, OK)[8:])],
}


@pytest.mark.parametrize("case", sorted(MULTI))
def test_two_credentials_are_400_and_neither_is_used(srv, case):
    a, b = fresh(srv), fresh(srv)
    before = store_used(srv)
    r = srv.get(PATH, MULTI[case](a, b))
    refused(srv, r, 400, "bad-request", used=[a["id"], b["id"]])
    assert store_used(srv) == before
    still_pays(srv, a)
    still_pays(srv, b)


# ------------------------------------------------------------ raw bytes httpd sees first

def test_raw_cr_in_the_authorization_value_is_refused_by_httpd(srv):
    c = fresh(srv)
    auth = make_credential(c, OK).encode()
    before = store_used(srv)
    status, out = raw_http(srv.port, b"GET " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                           b"Authorization: " + auth[:30] + b"\r" + auth[30:] + b"\r\n\r\n")
    assert status == 400, out[:300]
    assert b"Payment-Receipt" not in out and CONTENT not in out
    assert store_used(srv) == before
    still_pays(srv, c)


def test_folded_authorization_header_never_pays(srv):
    """obs-fold (a line continued by whitespace): httpd either refuses it
    (400) or joins the lines with a space, which leaves a space inside the
    token: a malformed credential."""
    c = fresh(srv)
    auth = make_credential(c, OK).encode()
    status, out = raw_http(srv.port, b"GET " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                           b"Authorization: " + auth[:30] + b"\r\n " + auth[30:] + b"\r\n\r\n")
    assert status in (400, 402), out[:300]
    assert CONTENT not in out and b"Payment-Receipt" not in out
    if status == 402:
        body = json.loads(out.split(b"\r\n\r\n", 1)[1])
        assert body["type"].endswith("/malformed-credential"), body
    still_pays(srv, c)


def test_raw_lf_inside_a_header_value_is_refused_by_httpd(srv):
    c = fresh(srv)
    status, out = raw_http(srv.port, b"GET " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                           b"Accept-Payment: test/charge\nX-Injected: 1\r\n\r\n")
    assert status == 400 or (status == 402 and b"X-Injected" not in out.split(b"\r\n\r\n")[0]), out[:300]
    still_pays(srv, c)


def test_percent_encoded_cr_lf_in_the_path_stays_inside_the_challenge(srv):
    """%0d%0a in the path decodes to CR LF in r->uri: the challenge binds it
    (inside base64url JSON), no header is split, and its credential pays
    for that very path only (here a file that does not exist: 404 and no
    receipt)."""
    path = "/t/a%0d%0aX-Injected:%20yes.txt"
    r = srv.get(path)
    assert r.status == 402, r
    assert not [k for k, _ in r.headers if k.lower() == "x-injected"], r.headers
    c = r.challenge("test")
    scope = decode_json_b64url(c["opaque"])["scope"]
    assert scope == "GET /t/a\r\nX-Injected: yes.txt", scope
    assert r.get("PAYMENT-REQUIRED") is None or b"\r" not in r.get("PAYMENT-REQUIRED").encode()
    r2 = srv.get(PATH, [("Authorization", make_credential(c, OK))])
    refused(srv, r2, 402, "invalid-challenge", used=[c["id"]])
    r3 = srv.get(path, [("Authorization", make_credential(c, OK))])
    assert r3.status == 404 and not r3.get("Payment-Receipt"), r3
    assert not [k for k, _ in r3.headers if k.lower() == "x-injected"], r3.headers


def test_percent_encoded_nul_in_the_path_is_refused_before_the_gate(srv):
    r = srv.get("/t/a%00.txt")
    assert r.status in (400, 404), r
    assert not r.challenges, r


def test_cr_lf_in_source_never_reaches_the_backend_as_a_header(srv):
    """The test method takes the credential's source as its payer; a payer
    with control characters is not passed on (MPP-Payer: anonymous)."""
    c = fresh(srv, "/cgi/echo")
    auth = encode_credential({"challenge": echo_of(c), "source": "did:example:a\r\nX-Injected: 1",
                              "payload": OK})
    r = srv.get("/cgi/echo", [("Authorization", auth)])
    assert r.status == 200, r
    receipt(r, c["id"])
    assert b"payer=anonymous\n" in r.body, r.body


# ------------------------------------------------------------ bodies

def test_oversized_body_on_a_digest_bound_post_is_413_and_changes_nothing(srv):
    body = b"x" * 1000
    c = fresh(srv, "/cgi/echo", verb="POST", body=body)
    assert c.get("digest"), c
    before = store_used(srv)
    for big in (MAX_BODY + 1, 3 * MAX_BODY):
        r = srv.request("POST", "/cgi/echo", [("Authorization", make_credential(c, OK))], body=b"x" * big)
        assert r.status == 413, r
        assert problem(r)["status"] == 413
        assert not r.get("Payment-Receipt"), r
    assert store_used(srv) == before
    r = still_pays(srv, c, "/cgi/echo", verb="POST", body=body)
    assert ("sha256=%s" % hashlib.sha256(body).hexdigest()).encode() in r.body, r.body


def test_body_of_exactly_the_limit_is_bound_and_replayed(srv):
    body = secrets.token_bytes(MAX_BODY)
    c = fresh(srv, "/cgi/echo", verb="POST", body=body)
    assert c.get("digest"), c
    r = still_pays(srv, c, "/cgi/echo", verb="POST", body=body)
    assert ("sha256=%s" % hashlib.sha256(body).hexdigest()).encode() in r.body, r.body


def test_chunked_body_over_the_limit_is_413(srv):
    c = fresh(srv, "/cgi/echo", verb="POST", body=b"small")
    chunk = b"y" * 65536
    data = (b"POST /cgi/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
            b"Authorization: " + make_credential(c, OK).encode() + b"\r\n\r\n")
    data += (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * (MAX_BODY // len(chunk) + 1) + b"0\r\n\r\n"
    status, out = raw_http(srv.port, data)
    assert status == 413, out[:300]
    assert b"Payment-Receipt" not in out
    still_pays(srv, c, "/cgi/echo", verb="POST", body=b"small")


def test_content_length_over_the_limit_is_413_before_reading(srv):
    """A Content-Length over the limit is refused without waiting for the body."""
    c = fresh(srv, "/cgi/echo", verb="POST", body=b"small")
    t0 = time.monotonic()
    status, out = raw_http(srv.port, b"POST /cgi/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                           b"Content-Length: %d\r\nAuthorization: " % (MAX_BODY + 1)
                           + make_credential(c, OK).encode() + b"\r\n\r\nonly this", timeout=10)
    assert status == 413, out[:300]
    assert time.monotonic() - t0 < 5
    still_pays(srv, c, "/cgi/echo", verb="POST", body=b"small")


# ------------------------------------------------------------ EVM authorizations

def evm_fresh(srv):
    return fresh(srv, EVM_PATH, method="evm")


def good_authorization(c, **kw):
    nonce = evmsign.challenge_nonce(c["id"], c["realm"])
    return evmsign.authorization(PAYER_KEY, TOKEN, CHAIN_ID, RECIPIENT, kw.pop("value", AMOUNT), nonce, **kw)


def split_sig(sig):
    b = bytes.fromhex(sig[2:])
    return int.from_bytes(b[:32], "big"), int.from_bytes(b[32:64], "big"), b[64]


def resigned(c, **fields):
    """A good authorization with some fields changed and signed again by the
    payer (so only the changed values can refuse it)."""
    nonce = fields.pop("nonce", evmsign.challenge_nonce(c["id"], c["realm"]))
    args = dict(value=AMOUNT, valid_after=0, valid_before=int(time.time()) + 3600, to=RECIPIENT)
    args.update(fields)
    return evmsign.authorization(PAYER_KEY, TOKEN, CHAIN_ID, args["to"], args["value"], nonce,
                                 valid_after=args["valid_after"], valid_before=args["valid_before"])


def with_sig(r=None, s=None, v=None, raw=None):
    def change(p):
        if raw is not None:
            return dict(p, signature=raw)
        r0, s0, v0 = split_sig(p["signature"])
        return dict(p, signature=evmsign.sig65(r0 if r is None else r(r0), s0 if s is None else s(s0),
                                               v0 if v is None else v(v0)))
    return change


def _off_curve_r():
    x = 5
    while evmsign.on_curve(x):
        x += 1
    return x


def _high_s(p):
    r0, s0, v0 = split_sig(p["signature"])
    return dict(p, signature=evmsign.sig65(r0, evmsign.N - s0, 27 + 28 - v0))


def _bad_checksum(addr):
    """Mixed case that is not the EIP-55 checksum of addr."""
    good = evmsign.checksum(bytes.fromhex(addr[2:]))
    flipped = "".join(ch.swapcase() if ch.isalpha() else ch for ch in good[2:])
    assert flipped.lower() == good[2:].lower() and flipped != good[2:]
    return "0x" + flipped


TWO_256 = 2 ** 256
ADDRESS_JUNK = {
    "19 bytes": lambda a: a[:-2],
    "21 bytes": lambda a: a + "00",
    "no 0x": lambda a: a[2:],
    "a non-hex digit": lambda a: a[:-1] + "g",
    "a leading space": lambda a: " " + a,
    "a non-ASCII letter": lambda a: a + "\u00e9",
    "empty": lambda a: "",
    "0x only": lambda a: "0x",
}

# name -> (change(payload, challenge) -> payload, problem slug); each is
# refused before any RPC
EVM_CASES = {
    # amounts (value must be a canonical decimal below 2^256)
    **{"value %s" % k: (lambda p, c, v=v: dict(p, value=v), "invalid-payload") for k, v in {
        "with an exponent": "1e4", "with a plus sign": "+10000", "negative": "-10000",
        "with a leading zero": "010000", "with a decimal point": "10000.0", "ending in a point": "10000.",
        "in hex": "0x2710", "empty": "", "with a space": " 10000", "of 2^256": str(TWO_256),
        "of 100 digits": "1" * 100}.items()},
    "value as a JSON number": (lambda p, c: dict(p, value=AMOUNT), "invalid-payload"),
    "value null": (lambda p, c: dict(p, value=None), "invalid-payload"),
    "validBefore of 2^256": (lambda p, c: dict(p, validBefore=str(TWO_256)), "invalid-payload"),
    "validAfter negative": (lambda p, c: dict(p, validAfter="-1"), "invalid-payload"),
    "validBefore with an exponent": (lambda p, c: dict(p, validBefore="1e10"), "invalid-payload"),
    # signed as sent: a wrap to 64 bits would make these pass
    "validAfter of 2^64 (signed)": (lambda p, c: resigned(c, valid_after=2 ** 64), "verification-failed"),
    "validAfter of 2^256-1 (signed)": (lambda p, c: resigned(c, valid_after=TWO_256 - 1), "verification-failed"),
    # addresses
    **{"from %s" % k: (lambda p, c, f=f: dict(p, **{"from": f(p["from"])}), "invalid-payload")
       for k, f in ADDRESS_JUNK.items()},
    **{"to %s" % k: (lambda p, c, f=f: dict(p, to=f(p["to"])), "invalid-payload") for k, f in ADDRESS_JUNK.items()},
    "from as a number": (lambda p, c: dict(p, **{"from": 1}), "invalid-payload"),
    "to missing": (lambda p, c: {k: v for k, v in p.items() if k != "to"}, "invalid-payload"),
    # nonces
    "nonce of 31 bytes": (lambda p, c: dict(p, nonce=p["nonce"][:-2]), "invalid-payload"),
    "nonce of 33 bytes": (lambda p, c: dict(p, nonce=p["nonce"] + "00"), "invalid-payload"),
    "nonce without 0x": (lambda p, c: dict(p, nonce=p["nonce"][2:]), "invalid-payload"),
    "nonce with a non-hex digit": (lambda p, c: dict(p, nonce=p["nonce"][:-1] + "z"), "invalid-payload"),
    "nonce of another challenge (signed)":
        (lambda p, c: resigned(c, nonce=evmsign.challenge_nonce(c["id"] + "x", c["realm"])), "verification-failed"),
    # signatures
    "high s (the malleable twin)": (lambda p, c: _high_s(p), "verification-failed"),
    "r = 0": (lambda p, c: with_sig(r=lambda r: 0)(p), "verification-failed"),
    "s = 0": (lambda p, c: with_sig(s=lambda s: 0)(p), "verification-failed"),
    "r = n": (lambda p, c: with_sig(r=lambda r: evmsign.N)(p), "verification-failed"),
    "r = 2^256-1": (lambda p, c: with_sig(r=lambda r: TWO_256 - 1)(p), "verification-failed"),
    "s = n": (lambda p, c: with_sig(s=lambda s: evmsign.N)(p), "verification-failed"),
    "s = n/2 + 1": (lambda p, c: with_sig(s=lambda s: evmsign.N // 2 + 1)(p), "verification-failed"),
    "r off the curve": (lambda p, c: with_sig(r=lambda r: _off_curve_r())(p), "verification-failed"),
    "garbage signature": (lambda p, c: with_sig(raw="0x" + secrets.token_hex(64) + "1b")(p), "verification-failed"),
    "all-zero signature": (lambda p, c: with_sig(raw="0x" + "00" * 65)(p), "verification-failed"),
    **{"v = %d" % v: (lambda p, c, v=v: with_sig(v=lambda _: v)(p), "verification-failed")
       for v in (2, 26, 29, 30, 35, 36, 255)},
    "signature of 64 bytes": (lambda p, c: dict(p, signature=p["signature"][:-2]), "invalid-payload"),
    "signature of 66 bytes": (lambda p, c: dict(p, signature=p["signature"] + "00"), "invalid-payload"),
    "signature of odd length": (lambda p, c: dict(p, signature=p["signature"] + "0"), "invalid-payload"),
    "signature without 0x": (lambda p, c: dict(p, signature=p["signature"][2:]), "invalid-payload"),
    "signature empty": (lambda p, c: dict(p, signature=""), "invalid-payload"),
    "signature as an array": (lambda p, c: dict(p, signature=[p["signature"]]), "invalid-payload"),
    # the payer's chain in source (did:pkh:eip155:<chain>:<address>)
    **{"source chain id %s" % k: (lambda p, c, ch=ch: p, "verification-failed", ch) for k, ch in {
        "of 2^64": str(2 ** 64), "wrapping to this chain": str(2 ** 64 + CHAIN_ID),
        "negative": "-%d" % CHAIN_ID, "with a leading zero": "0%d" % CHAIN_ID, "of 2^256": str(TWO_256),
        "empty": ""}.items()},
    # the type
    "type missing": (lambda p, c: {k: v for k, v in p.items() if k != "type"}, "invalid-payload"),
    "type in capitals": (lambda p, c: dict(p, type="Authorization"), "verification-failed"),
    "type with CR LF": (lambda p, c: dict(p, type="authorization\r\nX-Injected: 1"), "verification-failed"),
    "type of 10000 characters": (lambda p, c: dict(p, type="a" * 10000), "verification-failed"),
    "hash of 31 bytes": (lambda p, c: {"type": "hash", "hash": "0x" + "ab" * 31}, "invalid-payload"),
    "hash not hex": (lambda p, c: {"type": "hash", "hash": "0x" + "zz" * 32}, "invalid-payload"),
    "transaction not hex": (lambda p, c: {"type": "transaction", "signature": "0xnothex"}, "invalid-payload"),
    "transaction of one byte": (lambda p, c: {"type": "transaction", "signature": "0x02"}, "invalid-payload"),
    "transaction of another type": (lambda p, c: {"type": "transaction", "signature": "0x01c0"}, "invalid-payload"),
    # a chain id in the signed transaction that a 64-bit truncation would take for this chain
    "transaction chain id 2^64 + 31337":
        (lambda p, c: {"type": "transaction", "signature": evmsign.signed_transaction(
            PAYER_KEY, 2 ** 64 + CHAIN_ID, TOKEN, RECIPIENT, AMOUNT)}, "verification-failed"),
    "transaction chain id 2^256-1":
        (lambda p, c: {"type": "transaction", "signature": evmsign.signed_transaction(
            PAYER_KEY, TWO_256 - 1, TOKEN, RECIPIENT, AMOUNT)}, "verification-failed"),
    "transaction chain id of 33 bytes":
        (lambda p, c: {"type": "transaction", "signature": evmsign.signed_transaction(
            PAYER_KEY, TWO_256 + CHAIN_ID, TOKEN, RECIPIENT, AMOUNT)}, "invalid-payload"),
    "transaction amount of 2^200 + the price":
        (lambda p, c: {"type": "transaction", "signature": evmsign.signed_transaction(
            PAYER_KEY, CHAIN_ID, TOKEN, RECIPIENT, AMOUNT + 2 ** 200)}, "verification-failed"),
}


@pytest.mark.parametrize("case", sorted(EVM_CASES))
def test_bad_evm_payload_is_refused_before_any_rpc_and_changes_nothing(srv, node, case):
    spec = EVM_CASES[case]
    change, slug = spec[0], spec[1]
    c = evm_fresh(srv)
    good = good_authorization(c)
    bad = change(dict(good), c)
    cred = {"challenge": echo_of(c), "payload": bad}
    if len(spec) > 2:
        cred["source"] = "did:pkh:eip155:%s:%s" % (spec[2], good["from"])
    before = store_used(srv)
    node.reset()
    r = srv.get(EVM_PATH, [("Authorization", encode_credential(cred))])
    refused(srv, r, 402, slug, used=[c["id"]])
    assert not [k for k, _ in r.headers if k.lower() == "x-injected"], r.headers
    assert node.methods() == [], "the chain node was asked: %r" % node.methods()
    assert store_used(srv) == before
    # the challenge (and the authorization's nonce) are still good
    r = srv.get(EVM_PATH, [("Authorization", encode_credential({"challenge": echo_of(c), "payload": good}))])
    assert r.status == 200 and r.body == CONTENT, r
    receipt(r, c["id"], method="evm")
    assert "eth_sendRawTransaction" in node.methods(), node.methods()


# Shapes that are right even if unusual: accepted, compared as numbers and bytes.
EVM_ACCEPTED = {
    "v of 0 or 1 instead of 27 or 28": lambda p, c: with_sig(v=lambda v: v - 27)(p),
    "from in lower case": lambda p, c: dict(p, **{"from": p["from"].lower()}),
    "from in mixed case with a bad EIP-55 checksum": lambda p, c: dict(p, **{"from": _bad_checksum(p["from"])}),
    "to in mixed case with a bad EIP-55 checksum": lambda p, c: dict(p, to=_bad_checksum(p["to"])),
    "hex digits in upper case after 0X": lambda p, c: dict(p, nonce="0X" + p["nonce"][2:].upper()),
    "validBefore of 2^64 + 5 (no wrap to 64 bits)": lambda p, c: resigned(c, valid_before=2 ** 64 + 5),
    "validBefore of 2^256-1": lambda p, c: resigned(c, valid_before=TWO_256 - 1),
}


@pytest.mark.parametrize("case", sorted(EVM_ACCEPTED))
def test_unusual_but_valid_authorization_pays(srv, node, case):
    """Addresses are compared as 20 bytes (the signature covers the bytes;
    checksums are not trusted, as the README says), numbers as 256-bit
    values, and v as 27/28 or 0/1."""
    c = evm_fresh(srv)
    p = EVM_ACCEPTED[case](good_authorization(c), c)
    node.reset()
    r = srv.get(EVM_PATH, [("Authorization", encode_credential({"challenge": echo_of(c), "payload": p}))])
    assert r.status == 200 and r.body == CONTENT, r
    receipt(r, c["id"], method="evm")
    assert node.methods()[0] in DRY_RUNS, node.methods()


# Changes to the echoed request: bound by the challenge id, so they are
# refused as altered challenges before the method ever parses them, even
# when re-signed with the server's key.
REQUEST_CHANGES = {
    "amount with an exponent": "1e4", "amount with a plus sign": "+10000", "negative amount": "-10000",
    "amount with a leading zero": "010000", "amount with a decimal point": "10000.0",
    "amount over 2^256": str(TWO_256 + AMOUNT), "amount as a number": AMOUNT,
}


@pytest.mark.parametrize("resign", [False, True], ids=["as issued id", "re-signed id"])
@pytest.mark.parametrize("case", sorted(REQUEST_CHANGES) + ["recipient with a bad EIP-55 checksum",
                                                              "recipient of 19 bytes", "chainId over uint64",
                                                              "chainId negative"])
def test_altered_evm_request_is_an_invalid_challenge(srv, node, case, resign):
    c = evm_fresh(srv)
    req = decode_json_b64url(c["request"])
    if case in REQUEST_CHANGES:
        req["amount"] = REQUEST_CHANGES[case]
    elif case.startswith("recipient with"):
        req["recipient"] = _bad_checksum(req["recipient"])
    elif case.startswith("recipient of"):
        req["recipient"] = req["recipient"][:-2]
    elif case == "chainId over uint64":
        req["methodDetails"]["chainId"] = 2 ** 64 + CHAIN_ID
    else:
        req["methodDetails"]["chainId"] = -CHAIN_ID
    echo = dict(echo_of(c), request=jcs_b64url(req))
    if resign:
        echo["id"] = compute_id(srv.secret, echo)
    good = good_authorization(c)
    node.reset()
    before = store_used(srv)
    r = srv.get(EVM_PATH, [("Authorization", encode_credential({"challenge": echo, "payload": good}))])
    refused(srv, r, 402, "invalid-challenge", used=[c["id"], echo["id"]])
    assert node.methods() == []
    assert store_used(srv) == before
