"""mpp-keygen: the files it writes (mode, content, no overwrite, no symlink
following), and that the module takes them: apache2 signs its challenges
with a generated MPPSecretFile, and a generated relayer-key= settles a real
payment of the mppx client on a local anvil chain.

Addresses are checked against an independent derivation: secp256k1 from
python3-cryptography and Keccak-256 written out below."""
import base64
import json
import os
import re
import stat
import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chain import EVM_DIR, Chain, node
from checks import check_challenge, receipt
from httpd import NETWORKS, OFFER_TEST, configtest

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
RECIPIENT = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"

# ------------------------------------------------------------ reference derivation

_M = (1 << 64) - 1
_RC = [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
       0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
       0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
       0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
       0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
       0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61],
        [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]        # _ROT[x][y]


def _rol(v, n):
    return ((v << n) | (v >> (64 - n))) & _M if n else v


def _keccak_f(s):
    for rc in _RC:
        c = [s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        s = [s[i] ^ d[i % 5] for i in range(25)]
        b = [0] * 25
        for x in range(5):
            for y in range(5):
                b[y + 5 * ((2 * x + 3 * y) % 5)] = _rol(s[x + 5 * y], _ROT[x][y])
        s = [b[i] ^ (~b[(i + 1) % 5 + 5 * (i // 5)] & b[(i + 2) % 5 + 5 * (i // 5)] & _M)
             for i in range(25)]
        s[0] ^= rc
    return s


def keccak256(data):
    """Ethereum's Keccak-256 (0x01 padding, not SHA3-256's 0x06)."""
    rate = 136
    buf = bytearray(data) + b"\x01"
    buf += b"\x00" * (-len(buf) % rate)
    buf[-1] |= 0x80
    s = [0] * 25
    for off in range(0, len(buf), rate):
        for i in range(rate // 8):
            s[i] ^= int.from_bytes(buf[off + 8 * i:off + 8 * i + 8], "little")
        s = _keccak_f(s)
    return b"".join(s[i].to_bytes(8, "little") for i in range(4))


def eip55(addr20):
    low = addr20.hex()
    h = keccak256(low.encode()).hex()
    return "0x" + "".join(ch.upper() if ch.isalpha() and int(h[i], 16) >= 8 else ch
                          for i, ch in enumerate(low))


def address_of(key_hex):
    priv = ec.derive_private_key(int(key_hex, 16), ec.SECP256K1())
    pub = priv.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return eip55(keccak256(pub[1:])[12:])


def test_reference_derivation_is_right():
    """The derivation the other tests trust, on published values."""
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    # anvil's first dev account
    assert address_of("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80") \
        == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


# ------------------------------------------------------------ running the tool

@pytest.fixture(scope="module")
def keygen(build):
    exe = build.builddir / "tools" / "mpp-keygen"
    if not exe.exists():
        pytest.fail("%s is not built (make tools/mpp-keygen)" % exe)
    return exe


def run(keygen, *args, umask=0o022):
    def child():
        os.umask(umask)
    p = subprocess.run([str(keygen)] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=child, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def check_secret(path):
    data = path.read_bytes()
    assert re.fullmatch(rb"[A-Za-z0-9+/]{64}\n", data), data
    assert len(base64.b64decode(data[:-1], validate=True)) == 48
    assert stat.S_ISREG(os.lstat(path).st_mode) and mode(path) == 0o600
    return data


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077], ids=["000", "022", "077"])
def test_secret_file(keygen, tmp_path, umask):
    f = tmp_path / "challenge.key"
    rc, out, err = run(keygen, "secret", f, umask=umask)
    assert (rc, out, err) == (0, "", "")
    check_secret(f)


def test_secrets_differ(keygen, tmp_path):
    run(keygen, "secret", tmp_path / "a")
    run(keygen, "secret", tmp_path / "b")
    assert check_secret(tmp_path / "a") != check_secret(tmp_path / "b")


@pytest.mark.parametrize("kind", ["secret", "evm-key"])
def test_existing_file_is_kept(keygen, tmp_path, kind):
    f = tmp_path / "key"
    f.write_bytes(b"precious\n")
    os.chmod(f, 0o640)
    rc, out, err = run(keygen, kind, f)
    assert rc == 1 and out == ""
    assert "exists" in err and "--force" in err, err
    assert f.read_bytes() == b"precious\n" and mode(f) == 0o640


def test_force_replaces(keygen, tmp_path):
    f = tmp_path / "key"
    f.write_bytes(b"old\n")
    os.chmod(f, 0o644)
    rc, _, err = run(keygen, "--force", "secret", f)
    assert rc == 0, err
    check_secret(f)
    # the temporary file was renamed, not left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key"]


def test_symlinks_are_never_followed(keygen, tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"not yours\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    rc, _, err = run(keygen, "secret", link)
    assert rc == 1 and "exists" in err
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    rc, _, _ = run(keygen, "secret", dangling)
    assert rc == 1 and not (tmp_path / "nowhere").exists()
    # --force replaces the link itself
    rc, _, err = run(keygen, "--force", "secret", link)
    assert rc == 0, err
    assert not link.is_symlink()
    check_secret(link)
    assert target.read_bytes() == b"not yours\n"


def test_evm_key(keygen, tmp_path):
    f = tmp_path / "relayer.key"
    rc, out, err = run(keygen, "evm-key", f)
    assert rc == 0 and err == "", err
    data = f.read_text()
    assert re.fullmatch(r"0x[0-9a-f]{64}\n", data), data
    assert mode(f) == 0o600
    assert re.fullmatch(r"0x[0-9a-fA-F]{40}\n", out), out
    assert out.strip() == address_of(data.strip()[2:])
    rc, out2, _ = run(keygen, "evm-key", tmp_path / "other.key")
    assert rc == 0 and out2 != out


@pytest.mark.parametrize("args", [[], ["secret"], ["evm-key"], ["rsa", "x"], ["secret", "x", "y"],
                                  ["--bogus", "secret", "x"], ["secret", ""]])
def test_usage_errors(keygen, tmp_path, args):
    p = subprocess.run([str(keygen)] + args, cwd=tmp_path, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    assert p.returncode == 2 and b"usage:" in p.stderr, p
    assert list(tmp_path.iterdir()) == []


def test_help(keygen):
    rc, out, _ = run(keygen, "--help")
    assert rc == 0 and "usage:" in out


def test_failure_leaves_nothing(keygen, tmp_path):
    rc, _, err = run(keygen, "secret", tmp_path / "missing" / "key")
    assert rc == 1 and "cannot create" in err and "No such file" in err, err
    rc, _, err = run(keygen, "--force", "secret", tmp_path / "missing" / "key")
    assert rc == 1 and "cannot create" in err, err
    rc, _, err = run(keygen, "--owner", "no-such-user-mpp", "secret", tmp_path / "key")
    assert rc == 1 and "no such user" in err, err
    rc, _, err = run(keygen, "--owner", "root:no-such-group-mpp", "secret", tmp_path / "key")
    assert rc == 1 and "no such group" in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_owner(keygen, tmp_path):
    import grp
    import pwd
    www = pwd.getpwnam("www-data")
    rc, out, err = run(keygen, "--owner", "www-data", "evm-key", tmp_path / "a")
    assert rc == 0, err
    st = os.lstat(tmp_path / "a")
    assert (st.st_uid, st.st_gid, mode(tmp_path / "a")) == (www.pw_uid, www.pw_gid, 0o600)
    rc, _, err = run(keygen, "--owner", "www-data:root", "--force", "secret", tmp_path / "a")
    assert rc == 0, err
    st = os.lstat(tmp_path / "a")
    assert (st.st_uid, st.st_gid) == (www.pw_uid, grp.getgrnam("root").gr_gid)


# ------------------------------------------------------------ the module takes them

@pytest.fixture(scope="module")
def keys(keygen, tmp_path_factory):
    """A challenge key and a relayer key, outside any server root (the
    harness would widen the modes of files there)."""
    d = tmp_path_factory.mktemp("keys")
    rc, _, err = run(keygen, "secret", d / "challenge.key")
    assert rc == 0, err
    rc, addr, err = run(keygen, "evm-key", d / "relayer.key")
    assert rc == 0, err
    return {"secret": d / "challenge.key", "relayer": d / "relayer.key", "address": addr.strip()}


PAID = NETWORKS + OFFER_TEST + """
MPPSecretFile %s
<Location /paid>
    MPPCharge t
</Location>
"""


def test_httpd_signs_challenges_with_the_generated_secret(server_factory, keys):
    srv = server_factory("keygen-secret", secret=None, body=PAID % keys["secret"],
                         files={"htdocs/paid/a.txt": "paid\n"})
    r = srv.get("/paid/a.txt")
    assert r.status == 402, r
    key = keys["secret"].read_bytes().rstrip(b"\n")
    for c in r.challenges:
        check_challenge(c, key)
    assert "MPPSecretFile is not set" not in srv.log_text()
    paid = srv.pay("/paid/a.txt", r.challenge("test"))
    assert paid.status == 200 and paid.body == b"paid\n", paid
    receipt(paid)


def test_configtest_takes_the_generated_relayer_key(build, keys, tmp_path):
    def conf(key_path):
        text = "\n".join([
            "ServerRoot %s" % tmp_path, "Listen 127.0.0.1:9", "ServerName kg.test",
            "LoadModule mpm_event_module %s/mod_mpm_event.so" % build.moduledir,
            "LoadModule authz_core_module %s/mod_authz_core.so" % build.moduledir,
            "LoadModule mpp_module %s" % build.mod_mpp,
            "ErrorLog %s/error.log" % tmp_path, "DocumentRoot %s" % tmp_path,
            "MPPSecretFile %s" % keys["secret"],
            "MPPNetwork anvil evm chain-id=31337 rpc=http://127.0.0.1:9 relayer-key=%s" % key_path,
        ]) + "\n"
        (tmp_path / "httpd.conf").write_text(text)
        return configtest(build, tmp_path / "httpd.conf")

    rc, out = conf(keys["relayer"])
    assert rc == 0 and "Syntax OK" in out, out
    # the same check refuses a key one digit short: the test above means something
    bad = tmp_path / "short.key"
    bad.write_text(keys["relayer"].read_text()[:-2] + "\n")
    os.chmod(bad, 0o600)
    rc, out = conf(bad)
    assert rc != 0 and "relayer-key" in out, out


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    with Chain(tmp_path_factory.mktemp("kg-chain")) as c:
        yield c


def test_generated_relayer_key_settles_a_payment(server_factory, keys, chain):
    """The server relays the mppx client's authorization from the generated
    key's address (funded here: it starts with no ether for gas)."""
    addr = keys["address"]
    chain.rpc("anvil_setBalance", addr, hex(10 ** 18))
    body = """
MPPSecretFile %(secret)s
MPPNetwork anvil evm chain-id=31337 rpc=%(rpc)s relayer-key=%(relayer)s timeout=5
MPPAsset usdc network=anvil address=%(token)s decimals=6 eip712-name="USD Coin" eip712-version=2
MPPOffer basic asset=usdc price=0.01 recipient=%(rcpt)s
<Location /paid>
    MPPCharge basic
</Location>
""" % {"secret": keys["secret"], "rpc": chain.rpc_url, "relayer": keys["relayer"],
       "token": TOKEN, "rcpt": RECIPIENT}
    srv = server_factory("keygen-relayer", secret=None, body=body,
                         files={"htdocs/paid/file.txt": "the paid file\n"})
    before = chain.balance(RECIPIENT)
    payer = chain.info["payers"][5]
    p = subprocess.run([node(), "pay.mjs", "http://127.0.0.1:%d/paid/file.txt" % srv.port,
                        "--key", payer["privateKey"], "--rpc", chain.rpc_url],
                       cwd=EVM_DIR, stdin=subprocess.DEVNULL, capture_output=True, timeout=90)
    assert p.returncode == 0, p
    doc = json.loads(p.stdout)
    assert doc["status"] == 200, doc
    assert doc["receipt"]["status"] == "success", doc
    tx = chain.transaction(doc["receipt"]["reference"])
    assert tx["from"].lower() == addr.lower(), tx
    assert chain.nonce(addr) == 1
    assert chain.balance(RECIPIENT) - before == 10000
