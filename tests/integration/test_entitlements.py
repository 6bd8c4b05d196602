"""JWT entitlements in a real apache2: MPPJWTKey, MPPEntitlement and MPPGrant.

Every token here is minted at test time by PyJWT (Debian's python3-jwt) with
keys made by python3-cryptography, independently of the module's OpenSSL and
json-c code. A valid token opens a priced place without a payment (200); every
invalid one gets the ordinary 402 challenge, never 401 or 500, and the error
log (mpp at debug) says why. MPPGrant hands out a token after a payment that
PyJWT verifies and that opens the same place, by header and by cookie, until
it expires.

The run prints a table of every token tried and what the server did
(pytest -s shows it with the rest of the output; without -s it is printed
through pytest's capture at the end of the module)."""
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import HMACAlgorithm, NoneAlgorithm, RSAAlgorithm

from checks import assert_payment_response, receipt
from httpd import (NETWORKS, OFFER_TEST, configtest, decode_json_b64url, echo_of,
                   encode_credential)

REALM = "api.test"
ISS = "https://issuer.test"
ALGS = ("HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA")
PAYER = "did:pkh:test:payer-1"

# ------------------------------------------------------------------ keys


def _pem_private(k):
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def _pem_public(k):
    return k.public_key().public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)


class Keys:
    """Signing and verifying keys of every algorithm, made for this run."""

    def __init__(self):
        self.hmac = {a: base64.b64encode(secrets.token_bytes(48)) for a in ("HS256", "HS384", "HS512")}
        self.grant_hmac = {a: base64.b64encode(secrets.token_bytes(48)) for a in ("HS256", "HS384", "HS512")}
        self.short = base64.b64encode(secrets.token_bytes(48))
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rsa2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.p256 = ec.generate_private_key(ec.SECP256R1())
        self.ed = ed25519.Ed25519PrivateKey.generate()
        self.other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def signer(self, alg):
        return {"HS256": self.hmac["HS256"], "HS384": self.hmac["HS384"], "HS512": self.hmac["HS512"],
                "RS256": self.rsa, "ES256": self.p256, "EdDSA": self.ed}[alg]

    def grant_verifier(self, alg):
        """What PyJWT needs to check a grant signed by g_<alg>."""
        if alg.startswith("HS"):
            return self.grant_hmac[alg]
        return {"RS256": self.rsa, "ES256": self.p256, "EdDSA": self.ed}[alg].public_key()

    def jwks(self):
        out = []
        for kid, k in (("r1", self.rsa), ("r2", self.rsa2)):
            d = json.loads(RSAAlgorithm.to_jwk(k.public_key()))
            d.update(kid=kid, alg="RS256")
            out.append(d)
        return json.dumps({"keys": out})

    def files(self):
        f = {}
        for a, s in self.hmac.items():
            f["secret/%s.key" % a.lower()] = (s + b"\n", 0o600)
        for a, s in self.grant_hmac.items():
            f["secret/grant-%s.key" % a.lower()] = (s + b"\n", 0o600)
        f["secret/grant-short.key"] = (self.short + b"\n", 0o600)
        for name, k in (("rs256", self.rsa), ("es256", self.p256), ("eddsa", self.ed)):
            f["secret/%s.pem" % name] = (_pem_private(k), 0o600)
            f["secret/%s.pub.pem" % name] = (_pem_public(k), 0o600)
        f["secret/rs256.jwks"] = (self.jwks().encode(), 0o600)
        return f


KEYS = Keys()

# ------------------------------------------------------------------ server

PLACES = "".join("""
<Location /e/{alg}>
    MPPCharge t
    MPPEntitlement k_{alg} cookie=ent_{alg}
</Location>
<Location /g/{alg}>
    MPPCharge t
    MPPGrant session=3600 key=g_{alg} cookie=on
</Location>
""".replace("{alg}", a) for a in ALGS)

KEYLINES = "".join(
    "MPPJWTKey k_{a} alg={a} file={{root}}/secret/{f}\n"
    "MPPJWTKey g_{a} alg={a} file={{root}}/secret/{g}\n".format(
        a=a, f=a.lower() + (".key" if a.startswith("HS") else ".pub.pem"),
        g=("grant-" + a.lower() + ".key") if a.startswith("HS") else a.lower() + ".pem")
    for a in ALGS)

CONF = ('MPPRealm "%s"\n' % REALM) + NETWORKS + OFFER_TEST + "\n" + """
# room for the oversize token to reach the module
LimitRequestFieldSize 16384
""" + KEYLINES + """
MPPJWTKey k_jwks alg=RS256 jwks={root}/secret/rs256.jwks
MPPJWTKey k_issaud alg=HS256 file={root}/secret/hs256.key iss=https://issuer.test aud=api-aud
MPPJWTKey g_short alg=HS256 file={root}/secret/grant-short.key leeway=0
""" + PLACES + """
<Location /e/jwks>
    MPPCharge t
    MPPEntitlement k_jwks cookie=ent_jwks
</Location>
<Location /e/issaud>
    MPPCharge t
    MPPEntitlement k_issaud
</Location>
<Location /article>
    MPPCharge t
    MPPEntitlement k_HS256 scope=per-article
</Location>
<Location /call>
    MPPCharge t
    MPPEntitlement k_HS256 scope=per-call
</Location>
<Location /g/a>
    MPPCharge t
    MPPGrant session=3600 key=g_ES256 cookie=on
</Location>
<Location /g/b>
    MPPCharge t
    MPPGrant session=3600 key=g_ES256 cookie=on
</Location>
<Location /g/ab>
    MPPCharge t
    MPPGrant session=3600 key=g_ES256 cookie=on
</Location>
<Location /g/short>
    MPPCharge t
    MPPGrant session=2 key=g_short cookie=on
</Location>
<Location /g/both>
    MPPCharge t
    MPPEntitlement k_HS256 cookie=ent_both
    MPPGrant session=600 key=g_HS256 cookie=on
</Location>
<Location /g/nocookie>
    MPPCharge t
    MPPGrant session=600 key=g_HS256
</Location>
<Directory {docroot}/ht>
    AllowOverride AuthConfig
</Directory>
"""

FILES = dict(KEYS.files())
for _p in ["e/%s" % a for a in ALGS] + ["g/%s" % a for a in ALGS] + [
        "e/jwks", "e/issaud", "g/a", "g/a/sub", "g/b", "g/ab", "g/short", "g/nocookie", "g/both",
        "ht/known", "ht/unknown"]:
    FILES["htdocs/%s/x.txt" % _p] = "content of /%s\n" % _p
FILES["htdocs/article/a.txt"] = "article a\n"
FILES["htdocs/article/b.txt"] = "article b\n"
FILES["htdocs/call/a.txt"] = "call a\n"
FILES["htdocs/ht/known/.htaccess"] = "MPPCharge t\nMPPEntitlement k_HS256\n"
FILES["htdocs/ht/unknown/.htaccess"] = "MPPCharge t\nMPPEntitlement nosuchkey\n"


@pytest.fixture(scope="module")
def srv(server_factory):
    return server_factory("entitlements", body=CONF, files=FILES, modules=["headers"])


# ------------------------------------------------------------------ tokens


def claims(**kw):
    now = int(time.time())
    c = {"iss": ISS, "sub": "alice", "aud": REALM, "iat": now - 5, "exp": now + 3600}
    for k, v in kw.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def mint(alg="HS256", key=None, headers=None, **kw):
    return jwt.encode(claims(**kw), KEYS.signer(alg) if key is None else key, algorithm=alg,
                      headers=headers)


class AnyKeyHMAC(HMACAlgorithm):
    """HMAC over any bytes, PEM public keys included (stock PyJWT refuses)."""

    def prepare_key(self, key):
        return key


def pyjws_with(name, alg_obj):
    j = jwt.PyJWS()
    if name in j.get_algorithms():
        j.unregister_algorithm(name)
    j.register_algorithm(name, alg_obj)
    return j


def mint_none(variant):
    payload = json.dumps(claims(), separators=(",", ":")).encode()
    return pyjws_with(variant, NoneAlgorithm()).encode(payload, None, algorithm=variant)


def mint_confusion():
    """HS256 MACed with the RS256 key's public PEM (as published)."""
    payload = json.dumps(claims(), separators=(",", ":")).encode()
    return pyjws_with("HS256", AnyKeyHMAC(HMACAlgorithm.SHA256)).encode(
        payload, _pem_public(KEYS.rsa), algorithm="HS256")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_padded():
    """A correct HS256 MAC over a payload segment that carries '=' padding."""
    hs = b64url(b'{"alg":"HS256","typ":"JWT"}')
    for n in range(8):
        body = b64url(json.dumps(claims(pad="p" * n), separators=(",", ":")).encode())
        if len(body) % 4:
            break
    body += "=" * (-len(body) % 4)
    mac = hmac.new(KEYS.hmac["HS256"], (hs + "." + body).encode(), hashlib.sha256).digest()
    return hs + "." + body + "." + b64url(mac)


def tamper_payload(token):
    h, _, s = token.split(".")
    return ".".join([h, b64url(json.dumps(claims(sub="mallory"), separators=(",", ":")).encode()), s])


def tamper_sig(token):
    h, p, s = token.split(".")
    return ".".join([h, p, ("B" if s[0] != "B" else "C") + s[1:]])


def oversize():
    t = mint(pad="x" * 6200)
    assert len(t) > 8192
    return t


# ------------------------------------------------------------------ results table

TABLE = []


def record(case, where, via, status, why, expected):
    TABLE.append((case, where, via, expected, status, why))


def header(token, scheme="Bearer"):
    return [("X-Entitlement", "%s %s" % (scheme, token))]


def cookie(name, token):
    return [("Cookie", "theme=dark; %s=%s; lang=en" % (name, token))]


REFUSED_LINE = re.compile(r"MPP\d{5}: entitlement refused \(([^)]*)\): (.*)$", re.M)


def passes(srv, case, path, hdrs, via, body=None):
    r = srv.get(path, hdrs)
    record(case, path, via, r.status, "", 200)
    assert r.status == 200, r
    assert not r.challenges, r
    assert not r.get_all("Payment-Receipt"), r
    if body is not None:
        assert r.body == body, r
    return r


def refused(srv, case, path, hdrs, via, reason):
    """402 with the ordinary challenge, and the debug line naming reason (a
    regular expression; None: the token never reaches the validator)."""
    offset = srv.log_size()
    r = srv.get(path, hdrs)
    why = ""
    try:
        assert_payment_response(r, 402, "payment-required", srv.secret, n_challenges=1)
        if reason is None:
            time.sleep(0.1)
            assert not REFUSED_LINE.search(srv.log_since(offset)), srv.log_since(offset)
            why = "(not read: over 8192 bytes)"
        else:
            text = srv.wait_log(r"entitlement refused \([^)]*\): .*(?:%s)" % reason, offset)
            why = REFUSED_LINE.findall(text)[-1][1]
    finally:
        record(case, path, via, r.status, why or "; ".join(m[1] for m in REFUSED_LINE.findall(
            srv.log_since(offset))), 402)
    return r


# ------------------------------------------------------------------ valid tokens


@pytest.mark.parametrize("alg", ALGS)
def test_valid_token_passes_by_header_and_cookie(srv, alg):
    path = "/e/%s/x.txt" % alg
    body = ("content of /e/%s\n" % alg).encode()
    tok = mint(alg)
    passes(srv, "valid " + alg, path, header(tok), "header", body)
    passes(srv, "valid " + alg, path, cookie("ent_" + alg, tok), "cookie ent_" + alg, body)
    # without a token the place still charges
    r = srv.get(path)
    assert_payment_response(r, 402, "payment-required", srv.secret, n_challenges=1)


def test_valid_token_by_kid_from_jwks(srv):
    for kid, key in (("r1", KEYS.rsa), ("r2", KEYS.rsa2)):
        tok = mint("RS256", key=key, headers={"kid": kid})
        passes(srv, "valid RS256 JWKS kid=" + kid, "/e/jwks/x.txt", header(tok), "header")
        passes(srv, "valid RS256 JWKS kid=" + kid, "/e/jwks/x.txt", cookie("ent_jwks", tok), "cookie ent_jwks")


def test_bearer_scheme_is_case_insensitive(srv):
    passes(srv, "valid HS256, scheme 'bearer'", "/e/HS256/x.txt", header(mint(), "bearer"), "header")


def test_cookie_name_is_the_configured_one(srv):
    tok = mint()
    # cookie=ent_HS256: the default name is not read there
    r = srv.get("/e/HS256/x.txt", cookie("mpp_entitlement", tok))
    assert_payment_response(r, 402, "payment-required", srv.secret, n_challenges=1)
    record("valid HS256 under another cookie name", "/e/HS256/x.txt", "cookie mpp_entitlement", r.status,
           "(cookie not read)", 402)
    # without cookie=, the default name is
    tok = mint(aud="api-aud")
    passes(srv, "valid HS256 iss/aud key", "/e/issaud/x.txt", cookie("mpp_entitlement", tok),
           "cookie mpp_entitlement")
    passes(srv, "valid HS256 iss/aud key", "/e/issaud/x.txt", header(tok), "header")


def test_aud_array_with_the_configured_audience(srv):
    passes(srv, "aud array with the key's aud=", "/e/issaud/x.txt",
           header(mint(aud=["other.test", "api-aud"])), "header")


def test_scp_containing_the_scope_passes(srv):
    passes(srv, "scp 'read per-session'", "/e/HS256/x.txt", header(mint(scp="read per-session")), "header")


def test_entitlement_in_htaccess(srv):
    passes(srv, "valid HS256 (.htaccess place)", "/ht/known/x.txt", header(mint()), "header",
           b"content of /ht/known\n")
    refused(srv, "HS256 other key (.htaccess place)", "/ht/known/x.txt",
            header(mint(key=b"k" * 48)), "header", "bad signature")


# ------------------------------------------------------------------ attacks

def _attacks():
    """(label, place, token, reason regex): each is refused with a 402."""
    other_secret = base64.b64encode(secrets.token_bytes(48))
    now = int(time.time())
    good = mint()
    h, p, s = good.split(".")
    out = []
    for v in ("none", "None", "NONE", "nOnE"):
        out.append(("alg %s" % v, "HS256", mint_none(v), "alg %s is not this key's HS256" % v))
    out += [
        ("alg none at an RS256 key", "RS256", mint_none("none"), "alg none is not this key's RS256"),
        ("HS512 token to an HS256 key", "HS256", jwt.encode(claims(), KEYS.hmac["HS256"], algorithm="HS512"),
         "alg HS512 is not this key's HS256"),
        ("HS256 MACed with the RSA public PEM", "RS256", mint_confusion(), "alg HS256 is not this key's RS256"),
        ("RS256 token to an ES256 key", "ES256", mint("RS256"), "alg RS256 is not this key's ES256"),
        ("unknown kid", "jwks", mint("RS256", headers={"kid": "r9"}), "unknown kid"),
        ("no kid, multi-key JWKS", "jwks", mint("RS256"), "no key for a token without kid"),
        ("kid of the other JWKS key", "jwks", mint("RS256", headers={"kid": "r2"}), "bad signature"),
        ("another HMAC secret", "HS256", mint(key=other_secret), "bad signature"),
        ("another RSA key", "RS256", mint("RS256", key=KEYS.other_rsa), "bad signature"),
        ("expired", "HS256", mint(exp=now - 120), "expired"),
        ("nbf in the future", "HS256", mint(nbf=now + 600), r"not valid yet \(nbf\)"),
        ("iat in the future", "HS256", mint(iat=now + 600), r"issued in the future \(iat\)"),
        ("exp missing", "HS256", mint(exp=None), "exp missing or not an integer"),
        ("exp a string", "HS256", mint(exp=str(now + 3600)), "exp missing or not an integer"),
        ("exp a float", "HS256", mint(exp=now + 3600.5), "exp missing or not an integer"),
        ("aud not the realm", "HS256", mint(aud="other.test"), "aud is not the realm"),
        ("aud missing", "HS256", mint(aud=None), "aud is not the realm"),
        ("wrong iss (key iss=)", "issaud", mint(aud="api-aud", iss="https://evil.test"), "wrong issuer"),
        ("wrong aud (key aud=)", "issaud", mint(aud="api.test"), "wrong audience"),
        ("scp without the scope", "HS256", mint(scp="per-call per-article"), "scp does not allow per-session"),
        ("scp with a longer word", "HS256", mint(scp="per-sessions"), "scp does not allow per-session"),
        ("crit header", "HS256", mint(headers={"crit": ["exp"]}), "header asks for crit"),
        ("jku header", "HS256", mint(headers={"jku": "https://evil.test/jwks.json"}), "header asks for crit"),
        ("x5u header", "HS256", mint(headers={"x5u": "https://evil.test/c.pem"}), "header asks for crit"),
        ("x5c header", "HS256", mint(headers={"x5c": ["MIIB"]}), "header asks for crit"),
        ("jwk header", "HS256", mint(headers={"jwk": json.loads(HMACAlgorithm.to_jwk(other_secret))}),
         "header asks for crit"),
        ("2 segments", "HS256", h + "." + p, "not a three-part JWS"),
        ("4 segments", "HS256", good + "." + s, "not a three-part JWS"),
        ("padded base64", "HS256", mint_padded(), "bad base64url"),
        ("oversize (8193+ bytes)", "HS256", oversize(), None),
    ]
    for alg in ALGS:
        t = mint(alg)
        out.append(("tampered payload " + alg, alg, tamper_payload(t), "bad signature"))
        out.append(("tampered signature " + alg, alg, tamper_sig(t), "bad signature"))
    return out


ATTACK_LABELS = [a[0] for a in _attacks()]
_MINTED = {}


def attack(label):
    """The attack's (place, token, reason), minted when the first attack test
    runs (times in the tokens are relative to then, not to collection)."""
    if not _MINTED:
        _MINTED.update((a[0], a[1:]) for a in _attacks())
    return _MINTED[label]


@pytest.mark.parametrize("label", ATTACK_LABELS, ids=ATTACK_LABELS)
def test_attack_is_refused_with_the_challenge(srv, label):
    place, token, reason = attack(label)
    path = "/e/%s/x.txt" % place
    refused(srv, label, path, header(token), "header", reason)
    name = {"issaud": "mpp_entitlement"}.get(place, "ent_" + place)
    refused(srv, label, path, cookie(name, token), "cookie " + name, reason)


def test_a_bad_header_does_not_hide_a_good_cookie(srv):
    """Both are tried: a refused header token, then the cookie."""
    passes(srv, "bad header + valid cookie", "/e/HS256/x.txt",
           header(mint_none("none")) + cookie("ent_HS256", mint()), "header+cookie")


# ------------------------------------------------------------------ scopes


def test_per_article_rid_must_be_the_path(srv):
    passes(srv, "per-article rid = path", "/article/a.txt", header(mint(rid="/article/a.txt")), "header",
           b"article a\n")
    refused(srv, "per-article rid of another path", "/article/b.txt", header(mint(rid="/article/a.txt")),
            "header", "rid is not this resource")
    refused(srv, "per-article rid a prefix", "/article/a.txt", header(mint(rid="/article/")), "header",
            "rid is not this resource")
    refused(srv, "per-article without rid", "/article/a.txt", header(mint()), "header",
            "rid is not this resource")
    refused(srv, "per-article scp per-session", "/article/a.txt",
            header(mint(rid="/article/a.txt", scp="per-session")), "header", "scp does not allow per-article")


def test_per_call_token_is_spent_once(srv):
    for idn in ("eid", "jti"):
        tok = mint(rid="/call/a.txt", **{idn: secrets.token_hex(8)})
        passes(srv, "per-call (%s) first use" % idn, "/call/a.txt", header(tok), "header", b"call a\n")
        refused(srv, "per-call (%s) second use" % idn, "/call/a.txt", header(tok), "header", "already spent")
        refused(srv, "per-call (%s) third use, by cookie" % idn, "/call/a.txt", cookie("mpp_entitlement", tok),
                "cookie mpp_entitlement", "already spent")
    refused(srv, "per-call without eid or jti", "/call/a.txt", header(mint(rid="/call/a.txt")), "header",
            "per-call token without eid")
    # a far-future exp must not make the spent record expire at once
    for exp in (10 ** 13, 2 ** 62, 2 ** 63 - 1):
        tok = mint(rid="/call/a.txt", eid=secrets.token_hex(8), exp=exp)
        passes(srv, "per-call exp=%d first use" % exp, "/call/a.txt", header(tok), "header")
        refused(srv, "per-call exp=%d second use" % exp, "/call/a.txt", header(tok), "header", "already spent")


# ------------------------------------------------------------------ MPPGrant


def pay_for_grant(srv, path, source=PAYER):
    r = srv.get(path)
    assert r.status == 402, r
    c = r.challenge("test")
    auth = encode_credential({"challenge": echo_of(c), "payload": {"proof": "ok"}, "source": source})
    paid = srv.get(path, [("Authorization", auth)])
    assert paid.status == 200, paid
    receipt(paid, challenge_id=c["id"])
    return c, paid


def grant_of(r):
    vals = r.get_all("X-Entitlement")
    assert len(vals) == 1, r
    assert vals[0].startswith("Bearer "), vals
    return vals[0][len("Bearer "):]


def cookie_attrs(r):
    vals = r.get_all("Set-Cookie")
    assert len(vals) == 1, r
    parts = [p.strip() for p in vals[0].split(";")]
    name, _, value = parts[0].partition("=")
    return name, value, parts[1:]


@pytest.mark.parametrize("alg", ALGS)
def test_grant_after_payment(srv, alg):
    place = "/g/%s" % alg
    path = place + "/x.txt"
    body = ("content of %s\n" % place).encode()
    c, paid = pay_for_grant(srv, path)
    assert paid.body == body
    tok = grant_of(paid)
    # PyJWT checks the grant with the public key (the secret for HS*)
    hdr = jwt.get_unverified_header(tok)
    assert hdr["alg"] == alg, hdr
    cl = jwt.decode(tok, KEYS.grant_verifier(alg), algorithms=[alg], audience=REALM, issuer=REALM,
                    options={"require": ["exp", "iat", "iss", "aud", "sub"]})
    now = time.time()
    assert cl["sub"] == PAYER, cl
    assert abs(cl["iat"] - now) < 30, cl
    assert cl["exp"] - cl["iat"] == 3600, cl
    assert cl["rid"] == place, cl
    assert cl["scp"] == "per-session", cl
    assert cl["amt"] == decode_json_b64url(c["request"])["amount"], cl
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cl["eid"]), cl
    record("grant %s: PyJWT verifies" % alg, path, "X-Entitlement", paid.status,
           "claims %s" % ",".join(sorted(cl)), 200)
    # the cookie: same token, scoped to the place, HttpOnly, Lax, no Secure on loopback HTTP
    name, value, attrs = cookie_attrs(paid)
    assert name == "mpp_entitlement" and value == tok, (name, value)
    assert "Path=%s" % place in attrs, attrs
    assert "Max-Age=3600" in attrs, attrs
    assert "HttpOnly" in attrs, attrs
    assert "SameSite=Lax" in attrs, attrs
    assert not any(a.lower() == "secure" for a in attrs), attrs
    # then the place is open, by header and by cookie, without paying again
    for i in range(5):
        passes(srv, "grant %s, use %d" % (alg, i + 1), path, header(tok), "header", body)
    for i in range(5):
        passes(srv, "grant %s, use %d" % (alg, i + 1), path, cookie("mpp_entitlement", tok), "cookie", body)
    # a later request carries no new grant
    r = srv.get(path, header(tok))
    assert not r.get_all("X-Entitlement") and not r.get_all("Set-Cookie"), r


def test_grant_covers_the_place_below(srv):
    _, paid = pay_for_grant(srv, "/g/a/x.txt")
    tok = grant_of(paid)
    passes(srv, "grant /g/a below its place", "/g/a/sub/x.txt", header(tok), "header", b"content of /g/a/sub\n")


def test_grant_does_not_open_another_place(srv):
    _, paid = pay_for_grant(srv, "/g/a/x.txt")
    tok = grant_of(paid)
    passes(srv, "grant /g/a at /g/a", "/g/a/x.txt", header(tok), "header")
    refused(srv, "grant /g/a at /g/b", "/g/b/x.txt", header(tok), "header", "rid is not this resource")
    refused(srv, "grant /g/a at /g/b", "/g/b/x.txt", cookie("mpp_entitlement", tok), "cookie",
            "rid is not this resource")


def test_grant_does_not_open_a_sibling_with_the_same_prefix(srv):
    """/g/a and /g/ab are separate places (apache itself does not apply
    <Location /g/a> to /g/ab): a grant for one must not open the other."""
    _, paid = pay_for_grant(srv, "/g/a/x.txt")
    tok = grant_of(paid)
    refused(srv, "grant /g/a at sibling /g/ab", "/g/ab/x.txt", header(tok), "header", "rid is not this resource")


def test_grant_without_cookie_on(srv):
    _, paid = pay_for_grant(srv, "/g/nocookie/x.txt")
    tok = grant_of(paid)
    assert not paid.get_all("Set-Cookie"), paid
    passes(srv, "grant without cookie=on", "/g/nocookie/x.txt", header(tok), "header")


def test_grant_cookie_is_read_where_the_place_names_its_own_cookie(srv):
    """A place with both MPPEntitlement cookie=NAME and MPPGrant cookie=on:
    the grant cookie, sent back as Set-Cookie named it, opens the place."""
    _, paid = pay_for_grant(srv, "/g/both/x.txt")
    tok = grant_of(paid)
    passes(srv, "grant at a place with cookie=ent_both", "/g/both/x.txt", header(tok), "header")
    passes(srv, "entitlement at a place with a grant", "/g/both/x.txt", cookie("ent_both", mint()),
           "cookie ent_both")
    name, value, _ = cookie_attrs(paid)
    passes(srv, "grant at a place with cookie=ent_both", "/g/both/x.txt", cookie(name, value),
           "cookie " + name + " (as set)")


def test_grant_tampered_is_refused(srv):
    _, paid = pay_for_grant(srv, "/g/HS256/x.txt")
    tok = grant_of(paid)
    refused(srv, "grant, tampered payload", "/g/HS256/x.txt", header(tamper_payload(tok)), "header",
            "bad signature")
    forged = jwt.encode(jwt.decode(tok, options={"verify_signature": False}), KEYS.hmac["HS256"],
                        algorithm="HS256")
    refused(srv, "grant re-signed with another key", "/g/HS256/x.txt", header(forged), "header", "bad signature")


def test_grant_expires(srv):
    _, paid = pay_for_grant(srv, "/g/short/x.txt")
    tok = grant_of(paid)
    name, _, attrs = cookie_attrs(paid)
    assert "Max-Age=2" in attrs, attrs
    exp = jwt.decode(tok, KEYS.short, algorithms=["HS256"], audience=REALM)["exp"]
    passes(srv, "grant session=2, fresh", "/g/short/x.txt", header(tok), "header")
    # expired once the clock is past exp (leeway=0 on this key)
    time.sleep(max(0.0, exp + 1.2 - time.time()))
    refused(srv, "grant session=2, after exp", "/g/short/x.txt", header(tok), "header", "expired")
    refused(srv, "grant session=2, after exp", "/g/short/x.txt", cookie("mpp_entitlement", tok), "cookie",
            "expired")


# ------------------------------------------------------------------ configuration

CFG_KEY = b"k" * 48 + b"\n"


def cfg_run(build, d, body, files=()):
    """apache2 -t on a minimal configuration; files: (name, bytes, mode)."""
    paths = {}
    for name, data, mode in files:
        p = d / name
        p.write_bytes(data)
        os.chmod(p, mode)
        paths[name] = p
    secret = d / "challenge.key"
    secret.write_bytes(CFG_KEY)
    os.chmod(secret, 0o600)
    text = "\n".join([
        "ServerRoot %s" % d,
        "Listen 127.0.0.1:9",
        "ServerName cfg.test",
        "LoadModule mpm_event_module %s/mod_mpm_event.so" % build.moduledir,
        "LoadModule authz_core_module %s/mod_authz_core.so" % build.moduledir,
        "LoadModule mpp_testmethod_module %s" % build.mod_test,
        "LoadModule mpp_module %s" % build.mod_mpp,
        "ErrorLog %s/error.log" % d,
        "DocumentRoot %s" % d,
        "MPPSecretFile %s" % secret,
        body.replace("{dir}", str(d)),
    ]) + "\n"
    conf = d / "httpd.conf"
    conf.write_text(text)
    return configtest(build, conf)


HS_OK = ("hs.key", base64.b64encode(secrets.token_bytes(48)) + b"\n", 0o600)


def test_configtest_good_keys_pass(build, tmp_path):
    files = [HS_OK, ("rs.pem", _pem_private(KEYS.rsa), 0o600), ("es.pub.pem", _pem_public(KEYS.p256), 0o640),
             ("ed.pem", _pem_private(KEYS.ed), 0o600), ("rs.jwks", KEYS.jwks().encode(), 0o600)]
    body = """
MPPJWTKey a alg=HS256 file={dir}/hs.key iss=https://issuer.test aud=x leeway=0
MPPJWTKey b alg=RS256 file={dir}/rs.pem
MPPJWTKey c alg=ES256 file={dir}/es.pub.pem leeway=300
MPPJWTKey d alg=EdDSA file={dir}/ed.pem
MPPJWTKey e alg=RS256 jwks={dir}/rs.jwks
<Location /p>
    MPPEntitlement a scope=per-call cookie=my_cookie
    MPPGrant session=60 key=b cookie=on
</Location>
"""
    rc, out = cfg_run(build, tmp_path, body, files)
    assert rc == 0, out
    assert "Syntax OK" in out


CFG_REFUSALS = [
    ("MPPJWTKey without alg=", "MPPJWTKey a file={dir}/hs.key", [HS_OK], "alg= is required"),
    ("alg=none", "MPPJWTKey a alg=none file={dir}/hs.key", [HS_OK], "alg= must be"),
    ("world-readable key file", "MPPJWTKey a alg=HS256 file={dir}/hs.key",
     [("hs.key", HS_OK[1], 0o644)], "is accessible by others"),
    ("16-byte HMAC secret", "MPPJWTKey a alg=HS256 file={dir}/hs.key",
     [("hs.key", secrets.token_hex(8).encode() + b"\n", 0o600)], "at least 32 bytes"),
    ("RSA 1024 key", "MPPJWTKey a alg=RS256 file={dir}/rs.pem",
     [("rs.pem", _pem_private(rsa.generate_private_key(public_exponent=65537, key_size=1024)), 0o600)],
     "at least 2048 bits"),
    ("P-384 key for ES256", "MPPJWTKey a alg=ES256 file={dir}/ec.pem",
     [("ec.pem", _pem_private(ec.generate_private_key(ec.SECP384R1())), 0o600)], "P-256"),
    ("file= and jwks=", "MPPJWTKey a alg=HS256 file={dir}/hs.key jwks={dir}/hs.key", [HS_OK], "exactly one"),
    ("leeway out of range", "MPPJWTKey a alg=HS256 file={dir}/hs.key leeway=301", [HS_OK], "leeway=301"),
    ("key defined twice", "MPPJWTKey a alg=HS256 file={dir}/hs.key\nMPPJWTKey a alg=HS256 file={dir}/hs.key",
     [HS_OK], "defined twice"),
    ("MPPGrant without session=", "<Location /p>\nMPPGrant cookie=on\n</Location>", [], "session=SECONDS"),
    ("MPPEntitlement bad scope", "<Location /p>\nMPPEntitlement a scope=forever\n</Location>", [],
     "scope=forever"),
]


@pytest.mark.parametrize("label,body,files,needle", CFG_REFUSALS, ids=[c[0] for c in CFG_REFUSALS])
def test_configtest_refuses(build, tmp_path, label, body, files, needle):
    rc, out = cfg_run(build, tmp_path, body, files)
    record("configtest: " + label, "apache2 -t", "", "rc=%d" % rc, needle if needle in out else out.strip()[:60],
           "rc!=0")
    assert rc != 0, "configtest passed:\n" + out
    assert "Syntax OK" not in out, out
    assert needle in out, out


@pytest.mark.log_allow(r"\[core:alert\].*\.htaccess: MPPEntitlement: unknown key 'nosuchkey'")
def test_htaccess_unknown_key_is_a_500(srv):
    offset = srv.log_size()
    r = srv.get("/ht/unknown/x.txt", header(mint()))
    record(".htaccess: MPPEntitlement nosuchkey", "/ht/unknown/x.txt", "header", r.status,
           "core:alert names the key" if "unknown key 'nosuchkey'" in srv.log_since(offset) else "", 500)
    assert r.status == 500, r
    assert not r.challenges, r
    assert "MPPEntitlement: unknown key 'nosuchkey'" in srv.log_since(offset)


# ------------------------------------------------------------------ the table


def test_zz_table(capsys):
    """Prints every row recorded above: what was sent, where, what was
    expected (valid tokens 200, attacks 402), what came back, and the
    reason the error log gave."""
    assert TABLE, "no results recorded"
    head = ("token / case", "where", "via", "want", "got", "why (error log, mpp:debug)")
    rows = [tuple(str(v) for v in r) for r in TABLE]
    w = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    fmt = "  ".join("%%-%ds" % n for n in w) + "  %s"
    lines = ["", "JWT entitlements: token -> result", fmt % head]
    bad = 0
    for r in rows:
        ok = r[3] == r[4] or (r[3] == "rc!=0" and r[4] != "rc=0")
        bad += not ok
        lines.append(fmt % r + ("" if ok else "   <-- UNEXPECTED"))
    lines.append("%d rows, %d unexpected" % (len(rows), bad))
    with capsys.disabled():
        print("\n".join(lines))
