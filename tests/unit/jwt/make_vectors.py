#!/usr/bin/python3
"""Fixed JWT vectors for tests/unit/test_jwt.c, minted with PyJWT (Debian's
python3-jwt) and python3-cryptography, an implementation independent of the
module's OpenSSL/json-c code.

    make_vectors.py                      write keys, JWKS files and tokens.txt here
    make_vectors.py verify ALG KEYFILE TOKEN
                                         verify TOKEN with PyJWT (audience
                                         api.test, issuer https://issuer.test);
                                         print its claims as JSON, exit 0 if valid

Regenerating replaces every key, so all tokens change together; commit the
whole directory. Times: tokens expire in 2099 unless a test needs otherwise;
the time tests are relative to NOW, the `now` test_jwt.c passes to
mpp_jwt_verify. tokens.txt holds one "name token" pair a line."""
import base64
import hashlib
import hmac
import json
import os
import secrets
import sys

import jwt
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, NoneAlgorithm, OKPAlgorithm, RSAAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

HERE = os.path.dirname(os.path.abspath(__file__))

NOW = 1893456000            # 2030-01-01T00:00:00Z, test_jwt.c's fixed now
EXP = 4070908800            # 2099-01-01T00:00:00Z
ISS = "https://issuer.test"
AUD = "api.test"
IAT = 1700000000           # 2023-11-14: in the past for PyJWT too
CLAIMS = {"aud": AUD, "exp": EXP, "iat": IAT, "iss": ISS, "sub": "alice"}
# what test_jwt.c signs (keys in JCS order, so PyJWT's text is the same)
SIGN_CLAIMS = {"aud": AUD, "exp": EXP, "iat": IAT + 1, "iss": ISS, "sub": "alice"}
MAX = 8192                  # MPP_JWT_MAX

PYJWT_ALGS = {"HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def read_hmac_secret(path):
    """The module's reading of file=: the bytes, one trailing newline removed."""
    with open(path, "rb") as f:
        data = f.read()
    return data[:-1] if data.endswith(b"\n") else data


def load_verify_key(alg, path):
    if alg.startswith("HS"):
        return read_hmac_secret(path)
    with open(path, "rb") as f:
        pem = f.read()
    if b"PRIVATE KEY" in pem:
        return serialization.load_pem_private_key(pem, None).public_key()
    return serialization.load_pem_public_key(pem)


def verify_main(alg, keyfile, token):
    if alg not in PYJWT_ALGS:
        print("unknown algorithm %s" % alg, file=sys.stderr)
        return 2
    try:
        claims = jwt.decode(token, load_verify_key(alg, keyfile), algorithms=[alg], audience=AUD,
                            issuer=ISS, options={"require": ["exp", "iat", "iss", "aud"]})
        header = jwt.get_unverified_header(token)
    except Exception as e:           # any refusal: report it and fail
        print("PyJWT refused: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1
    print(json.dumps({"header": header, "claims": claims}, sort_keys=True, separators=(",", ":")))
    return 0


# ------------------------------------------------------------------ keys

def write(name, data, mode=0o600):
    path = os.path.join(HERE, name)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    return path


def pem_private(k):
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def pem_public(k):
    return k.public_key().public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)


def write_pair(base, key):
    write(base + ".pem", pem_private(key))
    write(base + ".pub.pem", pem_public(key))


def jwk(alg_cls, key, kid, alg):
    d = json.loads(alg_cls.to_jwk(key))
    d["kid"] = kid
    d["alg"] = alg
    return d


def write_jwks(name, keys):
    write(name, json.dumps({"keys": keys}, indent=1) + "\n")


# ------------------------------------------------------------------ tokens

def laxed(pyjws_alg_overrides):
    """A PyJWS whose named algorithms are replaced (to mint what the stock
    PyJWT refuses to: alg none in other cases, HMAC over a PEM public key)."""
    j = jwt.PyJWS()
    for name, obj in pyjws_alg_overrides.items():
        if name in j.get_algorithms():
            j.unregister_algorithm(name)
        j.register_algorithm(name, obj)
    return j


class AnyKeyHMAC(HMACAlgorithm):
    """HMAC that takes any bytes as the secret, PEM public keys included: the
    key confusion a validator trusting the token's alg would fall for."""

    def prepare_key(self, key):
        return key if isinstance(key, bytes) else key.encode("utf-8")


def payload_bytes(claims):
    return json.dumps(claims, separators=(",", ":")).encode("utf-8")


def hs_by_hand(header_seg, payload_seg, secret, digest=hashlib.sha256):
    """HMAC over segments exactly as given (for malformed encodings PyJWT
    cannot produce): the signature is right, only the form is wrong."""
    mac = hmac.new(secret, (header_seg + "." + payload_seg).encode("ascii"), digest).digest()
    return header_seg + "." + payload_seg + "." + b64url(mac)


def flip_first(seg):
    """The segment with its first character changed (any 6 bits flip)."""
    return ("B" if seg[0] != "B" else "C") + seg[1:]


def main():
    tokens = []

    def tok(name, value):
        assert " " not in value and "\n" not in value
        tokens.append((name, value))

    # HMAC secrets: printable, one trailing newline (stripped by the reader)
    hs = {}
    for alg, n in (("HS256", 48), ("HS384", 64), ("HS512", 80)):
        secret = secrets.token_urlsafe(n)[:n].encode("ascii")
        write(alg.lower() + ".key", secret + b"\n")
        hs[alg] = secret
    write("hs_32.key", secrets.token_hex(16).encode("ascii") + b"\n")     # exactly 32 bytes
    write("hs_31.key", secrets.token_hex(16)[:31].encode("ascii") + b"\n")  # one short
    hs32 = read_hmac_secret(os.path.join(HERE, "hs_32.key"))

    rsa_a = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_b = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    p256_a = ec.generate_private_key(ec.SECP256R1())
    p256_b = ec.generate_private_key(ec.SECP256R1())
    p384 = ec.generate_private_key(ec.SECP384R1())
    ed_a = ed25519.Ed25519PrivateKey.generate()
    ed_b = ed25519.Ed25519PrivateKey.generate()
    write_pair("rsa2048", rsa_a)
    write_pair("rsa2048b", rsa_b)
    write_pair("rsa1024", rsa_small)
    write_pair("p256", p256_a)
    write_pair("p256b", p256_b)
    write_pair("p384", p384)
    write_pair("ed25519", ed_a)
    write_pair("ed25519b", ed_b)
    write("garbage.pem", "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")

    write_jwks("rs256.jwks", [jwk(RSAAlgorithm, rsa_a.public_key(), "r1", "RS256"),
                              jwk(RSAAlgorithm, rsa_b.public_key(), "r2", "RS256")])
    write_jwks("es256.jwks", [jwk(ECAlgorithm, p256_a.public_key(), "e1", "ES256"),
                              jwk(ECAlgorithm, p256_b.public_key(), "e2", "ES256")])
    write_jwks("eddsa.jwks", [jwk(OKPAlgorithm, ed_a.public_key(), "d1", "EdDSA"),
                              jwk(OKPAlgorithm, ed_b.public_key(), "d2", "EdDSA")])
    write_jwks("hs256.jwks", [jwk(HMACAlgorithm, hs["HS256"], "h1", "HS256"),
                              jwk(HMACAlgorithm, hs32, "h2", "HS256")])
    # keys the loader must skip: RSA 1024, P-384, a short oct secret, no kid
    small = jwk(RSAAlgorithm, rsa_small.public_key(), "small", "RS256")
    nokid = jwk(RSAAlgorithm, rsa_a.public_key(), "x", "RS256")
    del nokid["kid"]
    write_jwks("weak.jwks", [small, nokid,
                             jwk(ECAlgorithm, p384.public_key(), "p384", "ES256"),
                             jwk(HMACAlgorithm, b"s" * 31, "short", "HS256")])
    # one document, several algorithms: a set takes only its own
    write_jwks("mixed.jwks", [jwk(RSAAlgorithm, rsa_b.public_key(), "r2", "RS256"),
                              jwk(ECAlgorithm, p256_b.public_key(), "e2", "ES256"),
                              jwk(OKPAlgorithm, ed_b.public_key(), "d2", "EdDSA")])

    signers = {
        "HS256": hs["HS256"], "HS384": hs["HS384"], "HS512": hs["HS512"],
        "RS256": rsa_a, "ES256": p256_a, "EdDSA": ed_a,
    }

    # valid: one per algorithm (file keys), and by kid from a JWKS
    for alg, key in signers.items():
        tok("valid_" + alg, jwt.encode(CLAIMS, key, algorithm=alg))
    tok("valid_hs32", jwt.encode(CLAIMS, hs32, algorithm="HS256"))
    tok("jwks_HS256_h2", jwt.encode(CLAIMS, hs32, algorithm="HS256", headers={"kid": "h2"}))
    tok("jwks_RS256_r2", jwt.encode(CLAIMS, rsa_b, algorithm="RS256", headers={"kid": "r2"}))
    tok("jwks_RS256_r1", jwt.encode(CLAIMS, rsa_a, algorithm="RS256", headers={"kid": "r1"}))
    tok("jwks_ES256_e2", jwt.encode(CLAIMS, p256_b, algorithm="ES256", headers={"kid": "e2"}))
    tok("jwks_EdDSA_d2", jwt.encode(CLAIMS, ed_b, algorithm="EdDSA", headers={"kid": "d2"}))
    # a kid naming the other key of the set: that key's signature check fails
    tok("jwks_RS256_kid_swapped", jwt.encode(CLAIMS, rsa_a, algorithm="RS256", headers={"kid": "r2"}))
    tok("jwks_RS256_unknown_kid", jwt.encode(CLAIMS, rsa_a, algorithm="RS256", headers={"kid": "r9"}))
    tok("jwks_RS256_no_kid", jwt.encode(CLAIMS, rsa_a, algorithm="RS256"))
    tok("file_HS256_any_kid", jwt.encode(CLAIMS, hs["HS256"], algorithm="HS256", headers={"kid": "k7"}))

    # what test_jwt.c must produce byte for byte (deterministic algorithms)
    for alg in ("HS256", "HS384", "HS512", "RS256", "EdDSA"):
        tok("sign_" + alg, jwt.encode(SIGN_CLAIMS, signers[alg], algorithm=alg))

    # alg none, in every case, unsigned and with a signature left on
    for variant in ("none", "None", "NONE", "nOnE"):
        j = laxed({variant: NoneAlgorithm()})
        tok("alg_" + variant, j.encode(payload_bytes(CLAIMS), None, algorithm=variant))
    sig = jwt.encode(CLAIMS, hs["HS256"], algorithm="HS256").split(".")[2]
    tok("alg_none_signed", laxed({"none": NoneAlgorithm()}).encode(
        payload_bytes(CLAIMS), None, algorithm="none") + sig)
    # alg mismatch: an HS512 token under the HS256 key's own secret
    tok("alg_HS512_for_HS256", jwt.encode(CLAIMS, hs["HS256"], algorithm="HS512"))
    # alg confusion: HS256 MACed with the RS256 key's public PEM text
    with open(os.path.join(HERE, "rsa2048.pub.pem"), "rb") as f:
        pub_pem = f.read()
    tok("confusion_HS256_rsapub", laxed({"HS256": AnyKeyHMAC(HMACAlgorithm.SHA256)}).encode(
        payload_bytes(CLAIMS), pub_pem, algorithm="HS256"))
    # the same with the EdDSA public key, and an ES256 key asked to check an RS256 token
    with open(os.path.join(HERE, "ed25519.pub.pem"), "rb") as f:
        ed_pem = f.read()
    tok("confusion_HS256_edpub", laxed({"HS256": AnyKeyHMAC(HMACAlgorithm.SHA256)}).encode(
        payload_bytes(CLAIMS), ed_pem, algorithm="HS256"))
    tok("alg_RS256_for_ES256", jwt.encode(CLAIMS, rsa_a, algorithm="RS256"))

    # time, against NOW with the default leeway of 60 s
    h = hs["HS256"]
    base = {"aud": AUD, "iss": ISS, "sub": "alice"}
    tok("exp_past_61", jwt.encode(dict(base, exp=NOW - 61), h, algorithm="HS256"))
    tok("exp_past_59", jwt.encode(dict(base, exp=NOW - 59), h, algorithm="HS256"))
    tok("exp_now", jwt.encode(dict(base, exp=NOW), h, algorithm="HS256"))
    tok("nbf_future_61", jwt.encode(dict(base, exp=EXP, nbf=NOW + 61), h, algorithm="HS256"))
    tok("nbf_future_59", jwt.encode(dict(base, exp=EXP, nbf=NOW + 59), h, algorithm="HS256"))
    tok("iat_future_61", jwt.encode(dict(base, exp=EXP, iat=NOW + 61), h, algorithm="HS256"))
    tok("iat_future_59", jwt.encode(dict(base, exp=EXP, iat=NOW + 59), h, algorithm="HS256"))
    tok("exp_missing", jwt.encode(dict(base), h, algorithm="HS256"))
    tok("exp_string", jwt.encode(dict(base, exp=str(EXP)), h, algorithm="HS256"))
    tok("exp_float", jwt.encode(dict(base, exp=EXP + 0.5), h, algorithm="HS256"))
    tok("exp_bool", jwt.encode(dict(base, exp=True), h, algorithm="HS256"))
    tok("exp_int64_max", jwt.encode(dict(base, exp=2 ** 63 - 1), h, algorithm="HS256"))
    tok("exp_beyond_int64", jwt.encode(dict(base, exp=2 ** 64), h, algorithm="HS256"))
    tok("nbf_string", jwt.encode(dict(base, exp=EXP, nbf=str(NOW)), h, algorithm="HS256"))
    tok("iat_float", jwt.encode(dict(base, exp=EXP, iat=NOW + 0.5), h, algorithm="HS256"))

    # issuer and audience
    tok("iss_wrong", jwt.encode(dict(CLAIMS, iss="https://evil.test"), h, algorithm="HS256"))
    tok("iss_missing", jwt.encode({k: v for k, v in CLAIMS.items() if k != "iss"}, h, algorithm="HS256"))
    tok("aud_wrong", jwt.encode(dict(CLAIMS, aud="other.test"), h, algorithm="HS256"))
    tok("aud_missing", jwt.encode({k: v for k, v in CLAIMS.items() if k != "aud"}, h, algorithm="HS256"))
    tok("aud_array_with", jwt.encode(dict(CLAIMS, aud=["other.test", AUD]), h, algorithm="HS256"))
    tok("aud_array_without", jwt.encode(dict(CLAIMS, aud=["other.test", "api.test.evil"]), h,
                                        algorithm="HS256"))
    tok("aud_prefix", jwt.encode(dict(CLAIMS, aud=AUD + "x"), h, algorithm="HS256"))

    # tampering, for every algorithm: another payload under the old signature,
    # and the signature itself changed
    for alg, key in signers.items():
        good = jwt.encode(CLAIMS, key, algorithm=alg).split(".")
        other = b64url(payload_bytes(dict(CLAIMS, sub="mallory")))
        tok("tampered_payload_" + alg, ".".join([good[0], other, good[2]]))
        tok("tampered_sig_" + alg, ".".join([good[0], good[1], flip_first(good[2])]))
        tok("sig_missing_" + alg, ".".join([good[0], good[1], ""]))
    # ES256 with the signature in DER (as OpenSSL writes it), not R || S
    hdr = b64url(b'{"alg":"ES256","typ":"JWT"}')
    body = b64url(payload_bytes(CLAIMS))
    der = p256_a.sign((hdr + "." + body).encode("ascii"), ec.ECDSA(hashes.SHA256()))
    tok("es256_der_sig", hdr + "." + body + "." + b64url(der))

    # structure
    good = jwt.encode(CLAIMS, h, algorithm="HS256")
    segs = good.split(".")
    tok("segments_2", segs[0] + "." + segs[1])
    tok("segments_4", good + "." + segs[2])
    tok("segments_4_empty", good + ".")
    tok("segments_1", segs[0])
    tok("empty", "")
    # padded base64: a correct MAC over the padded text, so only the padding is wrong
    padded_body = {"aud": AUD, "exp": EXP, "iss": ISS, "sub": "alice"}
    for pad in range(0, 8):
        pb = b64url(payload_bytes(dict(padded_body, pad="p" * pad)))
        if len(pb) % 4:
            break
    tok("padded_payload", hs_by_hand(segs[0], pb + "=" * (-len(pb) % 4), h))
    tok("padded_sig", good + "=")              # 32 bytes -> 43 chars, + "="
    # standard base64 (+ and /) in the signature: mint until it has - or _
    for n in range(1000):
        t = jwt.encode(dict(CLAIMS, n=n), h, algorithm="HS256").split(".")
        if "-" in t[2] or "_" in t[2]:
            tok("std_base64_sig", ".".join(t[:2]) + "." + t[2].replace("-", "+").replace("_", "/"))
            break
    tok("header_not_object", hs_by_hand(b64url(b'["HS256"]'), segs[1], h))
    tok("header_dup_alg", hs_by_hand(b64url(b'{"alg":"none","alg":"HS256"}'), segs[1], h))
    tok("payload_not_object", hs_by_hand(segs[0], b64url(b'[1,2]'), h))
    # size: exactly MPP_JWT_MAX bytes passes, one byte more is refused
    for target, name in ((MAX, "size_max"), (MAX + 1, "size_over")):
        fits = [t for t in (jwt.encode(dict(CLAIMS, pad="x" * n), h, algorithm="HS256")
                            for n in range(MAX * 3 // 4 - 300, MAX * 3 // 4)) if len(t) == target]
        assert fits, (name, target)
        tok(name, fits[0])

    # header members a validator must not follow
    for member, value in (("crit", ["exp"]), ("jku", "https://evil.test/jwks.json"),
                          ("x5u", "https://evil.test/cert.pem"), ("x5c", ["MIIB"]),
                          ("jwk", json.loads(HMACAlgorithm.to_jwk(h)))):
        tok("header_" + member, jwt.encode(CLAIMS, h, algorithm="HS256", headers={member: value}))

    with open(os.path.join(HERE, "tokens.txt"), "w") as f:
        f.write("# written by make_vectors.py (PyJWT %s): name token\n" % jwt.__version__)
        for name, value in tokens:
            f.write("%s %s\n" % (name, value))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "verify":
        sys.exit(verify_main(sys.argv[2], sys.argv[3], sys.argv[4]))
    if len(sys.argv) != 1:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main()
