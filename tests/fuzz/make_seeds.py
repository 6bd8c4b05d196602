#!/usr/bin/python3
"""Seed corpora, dictionaries and JWT keys of the fuzz targets.

    tests/fuzz/make_seeds.py

Writes tests/fuzz/corpus/<target>/<sha1> (one file per seed, named by the
SHA-1 of its content as libFuzzer names its own), tests/fuzz/dict/<target>.dict,
and, only when they are missing, the keys in tests/fuzz/keys (so the committed
seed tokens stay valid). Seeds come from the conformance vectors, the unit
tests' constants and vectors, and the configuration reference. Existing corpus
files are kept: the script only adds. Needs Debian's python3-jwt and
python3-cryptography (PyJWT mints the seed tokens)."""
import base64
import hashlib
import hmac
import json
import os
import secrets
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
VECTORS = os.path.join(ROOT, "tests", "conformance", "vectors")
KEYS = os.path.join(HERE, "keys")

# constants of tests/unit/test_evm.c (Base USDC, the first development key)
KEY0 = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDR0 = "f39fd6e51aad88f6f4ce6ab8827279cfffb92266"
USDC_BASE = "833589fcd6edb6e08f4c7c32d4f71b54bda02913"
PAYEE = "742d35cc6634c0532925a3b844bc9e7595f8fe00"
AUTH_NONCE = "08e2a36c9a7ea49949f519ff74249afee3a5ee5a7a30ebfd0c03722e7d1df903"
AUTH_SIG = ("87eba18ad8ac7292fdf20beacc144906ea64ac30afc602a9ea6c610ccc7bdb26"
            "3c5408f84c63361124f976382f556c7353622c2b58d2a6cef1511ff2f2b59519" "1b")
CHALLENGE_ID = "wyhGJvegEx9s6AZmB1C5PfOEvf6npWhq-flEBZU8OO4"
TRANSFER_DATA = ("a9059cbb000000000000000000000000742d35cc6634c0532925a3b844bc9e7595f8fe00"
                 "0000000000000000000000000000000000000000000000000000000000002710")
RAW_TX = ("02f8b182210580830f4240843b9aca00830186a094833589fcd6edb6e08f4c7c32d4f71b54bda02913"
          "80b844" + TRANSFER_DATA + "c080"
          "a050c1ca9bae3b6bbe16bc3dbc504b5121eb426948643bfdcfef44dde0ea6d5f81"
          "a023c2621fed030065ab5d0fe3e231f458afc4850bf73f1d2cb55a490d9680e645")
RAW_TX_HASH = "f6cf7b704600958a6708377d6550dc45ff5759fd91acbf5eedd4c989f5570331"
SHORT_TX_N0 = ("02f84e82210580808080808080c001"
               "a0717d822230bb453940bb322b96a75b23c0408ef19442d7ae3cb9d96defe43b3b"
               "a02552ae4ef096ebbb7dc6d6441be3f67ab3e185e12253a19f61fd70b426688a45")
SHORT_TX_N1 = ("02f84e82210501808080808080c080"
               "a0b48b379c747500465de2a77de91366f688bee42ceca285198f571566c8992c8b"
               "a063a4165f276ba6a1d3621a197bf70c0b1eb067b17c6f6cccb8415dec728bc088")
TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
# the receipt addresses of test_evm.c's classification test
T_TOKEN = "5fbdb2315678afecb367f032d93f642f64180aa3"
T_FROM = "15d34aaf54267db7d7c367839aaf71a00a2c6a65"
T_RCPT = "3c44cdddb6a900fa2b585dd299e03d12fa4293bc"

JWT_NOW = 1893456000        # fuzz_jwt.c's now (2030-01-01)
JWT_CLAIMS = {"aud": "api.test", "exp": 4070908800, "iat": 1700000000, "iss": "https://issuer.test", "sub": "alice"}
VLX_KEY = b"vlexivo-fuzz-key-32-bytes-long!\0"   # fuzz_vlexivo.c's KEY


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jcs(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def as_bytes(x):
    return x if isinstance(x, bytes) else x.encode("utf-8")


seeds = {}


def seed(target, data):
    seeds.setdefault(target, []).append(as_bytes(data))


def vectors(name):
    with open(os.path.join(VECTORS, name + ".json"), encoding="utf-8") as f:
        return json.load(f)["scenarios"]


def word(hexstr):
    return bytes.fromhex(hexstr.rjust(64, "0"))


def transfer_log(token, frm, to, value):
    return {"address": "0x" + token, "topics": ["0x" + TRANSFER_TOPIC, "0x" + frm.rjust(64, "0"), "0x" + to.rjust(64, "0")],
            "data": "0x%064x" % value}


# ------------------------------------------------------------------ keys

def make_keys():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    os.makedirs(KEYS, exist_ok=True)

    def pem(key):
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    def write(name, data):
        with open(os.path.join(KEYS, name), "wb") as f:
            f.write(as_bytes(data))

    def ui(n, size):
        return b64url(n.to_bytes(size, "big"))

    write("hs.key", secrets.token_urlsafe(36) + "\n")
    write("hs.jwks", json.dumps({"keys": [
        {"kty": "oct", "kid": "h1", "alg": "HS256", "k": b64url(secrets.token_bytes(32))},
        {"kty": "oct", "kid": "h2", "k": b64url(secrets.token_bytes(48))}]}, indent=1) + "\n")
    r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pn = r.public_key().public_numbers()
    write("rs256.pem", pem(r))
    write("rs256.jwks", json.dumps({"keys": [{"kty": "RSA", "kid": "r1", "alg": "RS256", "n": ui(pn.n, 256),
                                              "e": ui(pn.e, 3)}]}, indent=1) + "\n")
    e = ec.generate_private_key(ec.SECP256R1())
    en = e.public_key().public_numbers()
    write("es256.pem", pem(e))
    write("es256.jwks", json.dumps({"keys": [{"kty": "EC", "kid": "e1", "crv": "P-256", "x": ui(en.x, 32),
                                              "y": ui(en.y, 32)}]}, indent=1) + "\n")
    d1, d2 = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    write("ed25519.pem", pem(d1))
    raw = [k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) for k in (d1, d2)]
    write("eddsa.jwks", json.dumps({"keys": [
        {"kty": "OKP", "kid": "d1", "crv": "Ed25519", "alg": "EdDSA", "x": b64url(raw[0])},
        {"kty": "OKP", "kid": "d2", "crv": "Ed25519", "x": b64url(raw[1])}]}, indent=1) + "\n")


def jwt_seeds():
    import jwt
    from cryptography.hazmat.primitives import serialization

    def read(name):
        with open(os.path.join(KEYS, name), "rb") as f:
            return f.read()

    hs = read("hs.key")
    hs = hs[:-1] if hs.endswith(b"\n") else hs
    jwks = json.loads(read("hs.jwks"))
    h1 = base64.urlsafe_b64decode(jwks["keys"][0]["k"] + "==")
    rs = serialization.load_pem_private_key(read("rs256.pem"), None)
    es = serialization.load_pem_private_key(read("es256.pem"), None)
    ed = serialization.load_pem_private_key(read("ed25519.pem"), None)
    c = JWT_CLAIMS
    for alg in ("HS256", "HS384", "HS512"):
        seed("jwt", jwt.encode(c, hs, algorithm=alg))
    seed("jwt", jwt.encode(c, h1, algorithm="HS256", headers={"kid": "h1"}))
    seed("jwt", jwt.encode(c, rs, algorithm="RS256", headers={"kid": "r1"}))
    seed("jwt", jwt.encode(c, es, algorithm="ES256"))
    seed("jwt", jwt.encode(c, es, algorithm="ES256", headers={"kid": "e1"}))
    seed("jwt", jwt.encode(c, ed, algorithm="EdDSA"))
    seed("jwt", jwt.encode(c, ed, algorithm="EdDSA", headers={"kid": "d1"}))
    # the claim checks, reached with a valid HS256 signature
    variants = [
        dict(c, exp=JWT_NOW - 61), dict(c, exp=JWT_NOW - 59), dict(c, nbf=JWT_NOW + 61), dict(c, nbf=JWT_NOW + 59),
        dict(c, iat=JWT_NOW + 61), {k: v for k, v in c.items() if k != "exp"}, dict(c, exp="4070908800"),
        dict(c, exp=4070908800.5), dict(c, exp=True), dict(c, exp=9223372036854775807), dict(c, nbf="0"),
        dict(c, iss="https://other.test"), {k: v for k, v in c.items() if k != "iss"},
        dict(c, aud=["x", "api.test"]), dict(c, aud=["x", "y"]), dict(c, aud="api.test.evil"),
        {k: v for k, v in c.items() if k != "aud"}, dict(c, sub="\u00e9l\u00e8ve \U0001F600", eid="abc", amt="10000"),
        dict(c, scp="per-session", rid="/paid/", nested={"a": [1, 2.5, None, True, {"b": "c"}]}),
    ]
    for v in variants:
        seed("jwt", jwt.encode(v, hs, algorithm="HS256"))
    for hdr in ({"crit": ["exp"]}, {"jku": "https://x"}, {"x5u": "https://x"}, {"x5c": []},
                {"jwk": {"kty": "oct"}}, {"kid": "unknown"}, {"typ": "at+jwt", "cty": "JWT"}):
        seed("jwt", jwt.encode(c, hs, algorithm="HS256", headers=hdr))
    body = b64url(jcs(c))
    seed("jwt", b64url('{"alg":"none"}') + "." + body + ".")
    seed("jwt", b64url('{"alg":"HS256","alg":"HS256"}') + "." + body + ".AAAA")
    seed("jwt", b64url('[]') + "." + body + ".AAAA")
    seed("jwt", "..")
    seed("jwt", "a.b.c.d")
    # tokens of the unit tests (other keys: structure and header paths)
    with open(os.path.join(ROOT, "tests", "unit", "jwt", "tokens.txt"), encoding="ascii") as f:
        for line in f:
            if line.startswith("#") or " " not in line:
                continue
            tok = line.rstrip("\n").split(" ", 1)[1]
            if len(tok) < 4096:
                seed("jwt", tok)
    # JWKS documents (the harness loads inputs with "keys" as one)
    for name in ("hs.jwks", "rs256.jwks", "es256.jwks", "eddsa.jwks"):
        seed("jwt", read(name))


# ------------------------------------------------------------------ the others

def protocol_seeds():
    www = vectors("www-authenticate")
    auth = vectors("authorization")
    for s in www:
        w = s.get("wire")
        if isinstance(w, dict):     # an adversarial header described by parts
            w = w["prefix"] + w["repeat"] * min(w["count"], 2000)
        if isinstance(w, str):
            seed("challenge", w)
    seed("challenge", 'Basic realm="x", Payment id="a", realm="r", method="evm", intent="charge", request="e30"')
    seed("challenge", 'Bearer, Payment id="a", realm="r", method="evm", intent="charge", request="e30", '
                      'Payment id="b", realm="r", method="tempo", intent="session", request="e30", '
                      'expires="2026-01-01T00:00:00Z", description="caf\\u00e9 \\ud83d\\ude00", opaque="e30"')
    seed("challenge", 'Payment id=abc, realm=r, method=evm, intent=charge, request=e30, digest="sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"')
    seed("challenge", 'Negotiate abc==, Payment id="a", realm="", method="m", intent="i", request="e30"')
    receipt = {"status": "success", "method": "evm", "reference": "0x" + RAW_TX_HASH, "timestamp": "2026-01-29T12:00:00Z",
               "challengeId": CHALLENGE_ID, "chainId": 8453}
    seed("challenge", b64url(jcs(receipt)))
    seed("challenge", " " + b64url(jcs(dict(receipt, timestamp="2026-01-29T12:00:00.123+02:00"))))

    for s in auth:
        if isinstance(s.get("wire"), str):
            seed("credential", s["wire"])
    for s in vectors("server-verify"):
        cred = json.loads(json.dumps(s["input"].get("credential")))
        if not isinstance(cred, dict) or not isinstance(cred.get("challenge"), dict):
            continue
        ch = cred["challenge"]
        if isinstance(ch.get("request"), dict):
            ch["request"] = b64url(jcs(ch["request"]))
        seed("credential", "Payment " + b64url(jcs(cred)))
    req = {"amount": "10000", "currency": "0x" + USDC_BASE,
           "methodDetails": {"chainId": 8453, "credentialTypes": ["authorization"], "decimals": 6},
           "recipient": "0x" + PAYEE}
    opaque = b64url(jcs({"nonce": "AAAAAAAAAAAAAAAAAAAAAA", "scope": "GET /paid/"}))
    cred = {"challenge": {"id": "x", "realm": "api.example.com", "method": "evm", "intent": "charge",
                          "request": b64url(jcs(req)), "expires": "2099-01-01T00:00:00Z", "opaque": opaque,
                          "digest": "sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:"},
            "payload": {"type": "authorization"}, "source": "did:pkh:eip155:8453:0x" + ADDR0}
    seed("credential", "Payment " + b64url(jcs(cred)))
    seed("credential", "Basic dXNlcjpwYXNz, Payment " + b64url(jcs(cred)))
    seed("credential", "Payment " + b64url(jcs(dict(cred, challenge=dict(cred["challenge"], request=b64url(jcs({"amount": "1"})),
                                                                          opaque=b64url(jcs({"nonce": "n", "scope": "POST /api"}))),
                                              source={"address": "0x" + ADDR0}))))

    for s in vectors("base64url"):
        seed("b64", s["encoded"])
    for t in ("", "A", "AA", "AAA", "AB", "_-_-", "eyJhIjoxfQ", "YQ=", "YR", "Y Q"):
        seed("b64", t)

    # JSON: vector objects, JCS edge cases
    for s in www + auth:
        if "object" in s:
            seed("json", jcs(s["object"]))
            seed("json", json.dumps(s["object"], indent=2))
    for t in ('{}', '[]', '""', '0', '-0', '-0.0', '1e21', '1E-7', '123456789012345678901234567890', '9223372036854775807',
              '-9223372036854775808', '9223372036854775808', '0.1', '5e-324', '1.7976931348623157e308', '1e400',
              '"\\u00e9\\ud83d\\ude00\\u0001\\"\\\\\\/\\b\\f\\n\\r\\t"', '"\\ud800"', '{"a":1,"a":2}',
              '{"\\u20ac":1,"\\ud83d\\ude00":2,"z":3,"\\u00e9":4,"":5}', '[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]',
              '{"a":[true,false,null,{"b":[]}]}', ' \t\r\n{"a" : "b" } ', '{"a":1}x', '"caf\xc3\xa9"', '"\xed\xa0\x80"',
              '[1,2,]', '{"a"}', 'nul', 'tru', '01', '1.', '.5', '-', '1e', '[1e+5,1E-5,0.000001,1e-6]'):
        seed("json", t)



def evm_seeds():
    T, P, R = T_TOKEN, T_FROM, T_RCPT
    logs = [transfer_log(T, P, R, 10000)]
    receipt = {"status": "0x1", "blockNumber": "0x10", "transactionHash": "0x" + RAW_TX_HASH, "from": "0x" + P,
               "logs": logs}
    prefix = bytes.fromhex(T) + bytes.fromhex(R) + bytes.fromhex(P) + word("%x" % 10000)
    for r in (receipt, dict(receipt, logs=[transfer_log(T, P, R, 9999)]),
              dict(receipt, logs=[transfer_log(T, P, R, 1), transfer_log(T, P, R, 10001)]),
              dict(receipt, logs=[transfer_log(T, ADDR0, R, 10000)]),
              dict(receipt, logs=[transfer_log("1" * 40, P, R, 10000), {"address": 5, "topics": "x", "data": None}]),
              dict(receipt, status="0x0", logs=[]), {"logs": "nope"}, {}):
        seed("evm_receipt", prefix + jcs(r).encode())
    seed("evm_receipt", prefix + json.dumps(receipt, indent=1).replace("0x5fbd", "0X5FBD").encode())

    for r in ({"jsonrpc": "2.0", "id": "@ID", "result": receipt},
              {"jsonrpc": "2.0", "id": "@ID", "result": dict(receipt, logs=[transfer_log(T, P, R, 5)])},
              {"jsonrpc": "2.0", "id": "@ID", "error": {"code": -32000, "message": "nonce too low"}},
              {"jsonrpc": "2.0", "id": "@ID", "error": {"code": 3, "message": "execution reverted", "data": "0x08c379a0"}},
              {"jsonrpc": "2.0", "id": "@ID", "error": None, "result": "0x5208"},
              {"jsonrpc": "2.0", "id": "@ID", "result": "0x0"},
              {"jsonrpc": "2.0", "id": "@ID", "result": "0x" + "f" * 64},
              {"jsonrpc": "2.0", "id": "@ID", "result": None},
              {"jsonrpc": "2.0", "id": "@ID", "result": {"hash": "0x" + RAW_TX_HASH, "blockNumber": None}}):
        seed("rpc", jcs(r).replace('"@ID"', "@ID"))
    good = '{"jsonrpc":"2.0","id":@ID,"result":"0x2"}'
    for first in ('{"jsonrpc":"2.0","id":999999999,"result":"0x1"}', '{"jsonrpc":"2.0","id":@ID}', 'not json', '[]',
                  '{"id":"@ID","result":1}'):
        seed("rpc", first.encode() + b"\0" + good.encode())

    # RLP: the transactions of the unit tests, bare items
    for tx in (RAW_TX, SHORT_TX_N0, SHORT_TX_N1):
        seed("rlp", bytes.fromhex(tx))
        seed("rlp", bytes.fromhex(tx)[1:])
    for h in ("00", "7f", "80", "8180", "820400", "b838" + "61" * 56, "c0", "c180", "c3c2c0c0", "f838" + "80" * 56,
              "f9003880", "b90000", "c7c0c1c0c3c0c1c0", "a0" + "11" * 32, "a1" + "00" + "11" * 32):
        seed("rlp", bytes.fromhex(h))

    # EIP-712: test_evm.c's authorization
    fields = (bytes.fromhex(ADDR0) + bytes.fromhex(PAYEE) + bytes.fromhex(USDC_BASE) + word("%x" % 10000) + word("0")
              + word("%x" % 4102444800) + bytes.fromhex(AUTH_NONCE) + struct.pack(">Q", 8453) + bytes.fromhex(AUTH_SIG))
    seed("eip712", fields + b"USD Coin\0" + b"2\0" + CHALLENGE_ID.encode() + b"\0api.example.com")
    seed("eip712", fields[:-65] + b"\0" * 65 + b"USDC\0" + b"2\0id\0realm")
    seed("eip712", fields[:-1] + b"\x1c" + "\u00e9".encode() + b"\0\0\0")

    auth = {"type": "authorization", "from": "0x" + ADDR0, "to": "0x" + PAYEE, "value": "10000", "validAfter": "0",
            "validBefore": "4102444800", "nonce": "0x" + AUTH_NONCE, "signature": "0x" + AUTH_SIG}
    src = "did:pkh:eip155:8453:0x" + ADDR0
    for c in ({"payload": auth, "source": src}, {"payload": auth},
              {"payload": dict(auth, signature="0x" + AUTH_SIG[:-2] + "00")},
              {"payload": dict(auth, value="9999")}, {"payload": auth, "source": "did:pkh:eip155:1:0x" + ADDR0},
              {"payload": {"type": "transaction", "signature": "0x" + RAW_TX}, "source": src},
              {"payload": {"type": "transaction", "signature": "0x" + SHORT_TX_N0}},
              {"payload": {"type": "hash", "hash": "0x" + RAW_TX_HASH}},
              {"payload": {"type": "hash", "hash": "0x" + RAW_TX_HASH}, "source": {"a": 1}},
              {"payload": {"type": "\u00e9" * 20}}, {"payload": {}}):
        seed("evm_payload", jcs(c))

    # Vlexivo unlock bodies, with a nonce the harness's key signed
    pl = b64url(jcs({"e": 1893456900, "n": "AAAAAAAAAAAAAAAA", "r": "/articles/1"}))
    mac = b64url(hmac.new(VLX_KEY, ("vlexivo|" + pl).encode(), hashlib.sha256).digest())
    nonce = "vlx1." + pl + "." + mac
    for b in ({"proof": {"tx_hash": "0x" + RAW_TX_HASH, "buyer_wallet": "0x" + ADDR0, "nonce": nonce}, "currency": "usdc"},
              {"proof": {"tx_hash": "0x" + RAW_TX_HASH.upper(), "nonce": nonce}, "currency": "0x" + USDC_BASE.upper()},
              {"proof": {"tx_hash": "0x" + RAW_TX_HASH, "nonce": "vlx1.e30.x"}},
              {"proof": {"tx_hash": "0x" + RAW_TX_HASH, "nonce": "vlx1." + b64url('{"e":9223372036854775807,"r":"/"}') + ".m"}},
              {"proof": {"tx_hash": "0x12", "nonce": nonce}}, {"proof": []}, {}):
        seed("vlexivo", jcs(b))


def config_seeds():
    for line in (
            'MPPNetwork base evm chain-id=8453 rpc=https://mainnet.base.org confirmations=2 timeout=10',
            'MPPNetwork anvil evm chain-id=31337 rpc=http://127.0.0.1:8545 relayer-key=/etc/apache2/mpp/relayer.key',
            'MPPNetwork sol solana cluster=devnet rpc=https://api.devnet.solana.com commitment=finalized fee-payer-key=/k',
            'MPPNetwork local test',
            'MPPAsset usdc network=base address=0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913 decimals=6 eip712-name="USD Coin" eip712-version=2',
            "MPPAsset susdc network=sol mint=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v decimals=6",
            'MPPAsset tok network=tempo address=TOK decimals=2',
            'MPPOffer basic asset=usdc price=0.01 recipient=0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC types=authorization,hash expires=600 description="One \\"article\\""',
            'MPPOffer big asset=wei amount=115792089237316195423570985008687907853269984665640564039457584007913129639935 recipient=0x742d35cc6634c0532925a3b844bc9e7595f8fe00',
            'MPPOffer tt asset=usdc price=1 recipient=0x742d35cc6634c0532925a3b844bc9e7595f8fe00 tenant-price=0.5..5 tenant-recipient=on',
            'MPPOffer s asset=susdc price=0.25 recipient=JEKNVnkbo3jma5nREBBJCDoXFVeKkD56V3xKrvRmWxFG intent=charge',
            'MPPOffer w asset=tok amount=42 recipient=merchant',
            'MPPPrice 0.05', "MPPPrice 1.000000", 'MPPPrice 0.0000001',
            "usdc network=base address=0x833589fcd6edb6e08f4c7c32d4f71b54bda02913 decimals=6 eip712-name='USD Coin'",
            'a "b c" d\\"e "f\\\\g" \'h"i\' x=""', 'a eip712-name="USD Coin', '\t \r\n'):
        seed("config", line)

    for spec, method, path, raw in (
            ("GET /v1/forecast", "GET", "/v1/forecast", "/v1/forecast"),
            ("GET /v1/items/:id/*", "HEAD", "/v1/items/42/a/b", "/v1/items/42/a/b?x=1"),
            ("POST /v1/inference", "post", "/V1/Inference", "/V1/Inference"),
            ("/v1/status", "DELETE", "/v1/status/", "/v1/status/"),
            ("GET /", "GET", "/", "/"),
            ("GET /a/", "GET", "/a/", "/a/"),
            ("GET /v1/:a/:b", "GET", "/v1/x/y", "/v1/x%2Fy"),
            ("PATCH /x", "PATCH", "/x/../y", "/x/%2e%2e/y"),
            ("OPTIONS /x", "OPTIONS", "/x;a", "/x;a"),
            ("GET /v1/*", "GET", "/v1/a. ", "/v1/a.%20"),
            ("get  /x/*/y", "GET", "//x", "//x")):
        seed("route", "\0".join((spec, method, path, raw)))

    for dec, a, b in ((6, "0.01", "10000"), (18, "1.5", "1500000000000000000"), (0, "42", "41"), (6, "1.0000000", "0"),
                      (77, "1", "115792089237316195423570985008687907853269984665640564039457584007913129639935"),
                      (36, "0.000000000000000000000000000000000001", "115792089237316195423570985008687907853269984665640564039457584007913129639936"),
                      (6, "0x1a", "0x0"), (6, "0x" + "f" * 64, "0X01"), (6, "0x" + ADDR0, "0x" + USDC_BASE.upper()),
                      (6, "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", "11111111111111111111111111111111"),
                      (6, "So11111111111111111111111111111111111111112", "JEKNVnkbo3jma5nREBBJCDoXFVeKkD56V3xKrvRmWxFG"),
                      (6, "-1", "1e6"), (6, ".5", "5."), (6, "007", "0"), (79, "1", "2")):
        seed("amount", bytes([dec + 2]) + ("%s\n%s" % (a, b)).encode())

    for h in ("evm/charge", "evm/charge;q=0.5, tempo/*;q=1", "*/*", "*/charge;q=0, solana/charge", "stripe/charge;q=0.001",
              "evm/*;q=1.000, */session;q=0.9", "evm/charge; q=0.5 ; q=0.7", "evm", "evm/charge;x=1", "EVM/Charge",
              " , ,evm/charge,", "evm/charge;q=1.001", "a:b/c-d_e"):
        seed("accept", h)
    seed("accept", b"evm/charge\0evm/charge\nsolana/charge\nx\n")

    for t in ("2026-01-29T12:00:00Z", "2026-01-29t12:00:00z", "2026-01-29T12:00:00.123456789+05:30",
              "2024-02-29T23:59:60-00:00", "2023-02-29T00:00:00Z", "1970-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
              "9999-12-31T23:59:59.9Z", "2026-13-01T00:00:00Z", "2026-01-29T12:00:00", "2026-01-29T12:00:00.Z",
              "2026-01-29T12:00:00+24:00", "2026-01-29 12:00:00Z", "1969-12-31T23:59:59.5Z"):
        seed("time", t)

    for d in ("sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:", "sha-256=LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=",
              "SHA-256=LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ", "sha-256=:LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ:",
              "sha-512=:z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==:",
              "sha-256=::", "sha-256=", ":LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=:"):
        seed("digest", d)


# ------------------------------------------------------------------ dictionaries

DICTS = {
    "challenge": ["Payment", "Basic", "Bearer", "id=", "realm=", "method=", "intent=", "request=", "expires=",
                  "digest=", "description=", "opaque=", '="', '", ', ", ", "\\u00e9", "\\ud83d\\ude00", "\\ud800",
                  "\\\"", "e30", "eyJhIjoxfQ", "2026-01-29T12:00:00Z", "status", "timestamp", "reference"],
    "credential": ["Payment ", ", ", "eyJjaGFsbGVuZ2UiOnsi", "eyJwYXlsb2FkIjp7fX0", "e30", "InBheWxvYWQi",
                   "ImNoYWxsZW5nZSI6", "InNvdXJjZSI6", "ImV4cGlyZXMiOiIyMDk5LTAxLTAxVDAwOjAwOjAwWiI"],
    "json": ['"', "{", "}", "[", "]", ":", ",", "true", "false", "null", "-0", "1e21", "1E-7", "0.1", "\\u0000",
             "\\u00e9", "\\ud83d\\ude00", "\\udc00", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t",
             "9223372036854775808", "5e-324", "\u00e9", "\U0001F600"],
    "b64": ["A", "Q", "_", "-", "=", "AA", "AAA", "AAAA", "eyJ", "fQ"],
    "jwt": ["eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJFUzI1NiJ9", "eyJhbGciOiJFZERTQSJ9", "eyJhbGciOiJSUzI1NiJ9",
            "eyJhbGciOiJub25lIn0", "eyJleHAiOjQwNzA5MDg4MDB9", "e30", ".", '"alg":', '"kid":', '"HS256"', '"HS384"',
            '"HS512"', '"RS256"', '"ES256"', '"EdDSA"', '"exp":', '"nbf":', '"iat":', '"iss":', '"aud":',
            '"crit"', '"jku"', '"https://issuer.test"', '"api.test"', '"keys"', '"kty"', '"oct"', '"OKP"', '"EC"',
            '"RSA"', '"crv"', '"P-256"', '"Ed25519"', '"x"', '"y"', '"n"', '"e"', '"k"'],
    "rpc": ['"jsonrpc":"2.0"', '"id":@ID', "@ID", '"result":', '"error":', '"code":', '"message":', '"status":"0x1"',
            '"blockNumber":', '"logs":[', '"address":', '"topics":[', '"data":', '"0x' + TRANSFER_TOPIC + '"', "null",
            '"0x0"', '"0x' + "0" * 24 + T_RCPT + '"', '"0x' + T_TOKEN + '"', "\\x00"],
    "evm_receipt": ['"logs":[', '"address":', '"topics":[', '"data":', '"0x' + TRANSFER_TOPIC + '"', '"status":"0x1"',
                    '"blockNumber":"0x', '"0x' + "0" * 24 + T_RCPT + '"', '"0x' + "0" * 24 + T_FROM + '"',
                    '"0x' + T_TOKEN + '"', '"0x' + "0" * 60 + "2710" + '"', "0X"],
    "rlp": ["\\x02", "\\x80", "\\x81", "\\xb8", "\\xb9", "\\xc0", "\\xf8", "\\xf9", "\\x82\\x21\\x05", "\\xa9\\x05\\x9c\\xbb",
            "\\x94", "\\xa0", "\\x01"],
    "eip712": ["USD Coin", "USDC", "\\x00", "\\x1b", "\\x1c", "\\x00\\x00\\x21\\x05"],
    "evm_payload": ['"type":', '"authorization"', '"transaction"', '"hash"', '"from":', '"to":', '"value":',
                    '"validAfter":', '"validBefore":', '"nonce":', '"signature":', '"source":', '"payload":',
                    '"did:pkh:eip155:8453:', '"0x' + ADDR0 + '"', '"0x' + PAYEE + '"', '"10000"', '"0x' + AUTH_NONCE + '"',
                    '"0x' + RAW_TX_HASH + '"', "\\u00e9"],
    "config": ["MPPNetwork", "MPPAsset", "MPPOffer", "MPPPrice", " evm", " solana", "chain-id=", "rpc=http://",
               "rpc=https://", "confirmations=", "timeout=", "relayer-key=/", "cluster=devnet", "commitment=confirmed",
               "fee-payer-key=/", "network=base", "network=sol", "network=tempo", "address=0x", "mint=", "decimals=",
               "eip712-name=", "eip712-version=", "asset=usdc", "asset=wei", "asset=susdc", "asset=tusd", "price=",
               "amount=", "recipient=0x" + PAYEE, "types=authorization,transaction,hash", "expires=", "description=",
               "tenant-price=", "..", "tenant-recipient=on", "intent=charge", '"', "'", "\\\"", "\\\\"],
    "route": ["GET ", "HEAD", "POST ", "PUT ", "DELETE ", "PATCH ", "OPTIONS ", "/", "/:", ":id", "/*", "//", "/./",
              "/../", "%2f", "%2e", "%5c", "%3b", "%25", ";", "\\", "?", "#", "\\x00"],
    "amount": ["0x", "0X", "115792089237316195423570985008687907853269984665640564039457584007913129639935", ".", "0.",
               "1111", "z", "\\x0a"],
    "accept": ["evm", "solana", "tempo", "stripe", "charge", "session", "*", "/", ";q=", "q=0", "q=1", "q=0.5", "q=1.000",
               ", ", "\\x00"],
    "time": ["T", "Z", "z", "+", "-", ":", ".", "2024-02-29", "23:59:60", "+05:30", "-00:00", "1970-01-01T"],
    "digest": ["sha-256=", "SHA-256=", ":", "=", "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ"],
    "vlexivo": ['"proof":', '"tx_hash":', '"buyer_wallet":', '"nonce":', '"currency":', '"vlx1.', '"usdc"',
                '"0x' + USDC_BASE + '"', '"0x' + RAW_TX_HASH + '"', '"0x' + ADDR0 + '"', '"e":', '"r":', "eyJlIjo"],
}


def dict_line(i, token):
    # libFuzzer dictionary syntax: printable, with \\, \" and \xNN escapes
    out = []
    raw = token.encode("utf-8") if "\\x" not in token else None
    if raw is None:
        return 'kw%d="%s"' % (i, token)
    for ch in raw:
        c = chr(ch)
        if c == "\\" or c == '"':
            out.append("\\" + c)
        elif 32 <= ch < 127:
            out.append(c)
        else:
            out.append("\\x%02x" % ch)
    return 'kw%d="%s"' % (i, "".join(out))


def main():
    if not os.path.exists(os.path.join(KEYS, "hs.key")):
        make_keys()
    jwt_seeds()
    protocol_seeds()
    evm_seeds()
    config_seeds()
    added = 0
    for target, items in sorted(seeds.items()):
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for data in items:
            path = os.path.join(d, hashlib.sha1(data).hexdigest())
            if not os.path.exists(path):
                with open(path, "wb") as f:
                    f.write(data)
                added += 1
    os.makedirs(os.path.join(HERE, "dict"), exist_ok=True)
    for target, words in sorted(DICTS.items()):
        with open(os.path.join(HERE, "dict", target + ".dict"), "w", encoding="ascii") as f:
            f.write("# %s: tokens of its input format (written by make_seeds.py)\n" % target)
            for i, w in enumerate(words):
                f.write(dict_line(i, w) + "\n")
    print("%d seeds added under %s" % (added, os.path.join(HERE, "corpus")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
