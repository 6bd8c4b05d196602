"""EVM signing for tests that need credentials no wallet would write:
Keccak-256, secp256k1 signatures with their recovery id, EIP-712 digests
of EIP-3009 TransferWithAuthorization, and signed EIP-1559 transactions.

Pure Python (no chain, no node): a test can build a valid authorization,
then break exactly one thing in it. Slow compared with a C library, fast
enough for a few hundred signatures."""
import secrets

# ------------------------------------------------------------ Keccak-256

_ROT = ((0, 36, 3, 41, 18), (1, 44, 10, 45, 2), (62, 6, 43, 15, 61),
        (28, 55, 25, 21, 56), (27, 20, 39, 8, 14))
_M64 = (1 << 64) - 1


def _round_constants():
    out, r = [], 1
    for _ in range(24):
        rc = 0
        for j in range(7):
            r = ((r << 1) ^ ((r >> 7) * 0x71)) % 256
            if r & 2:
                rc ^= 1 << ((1 << j) - 1)
        out.append(rc)
    return out


_RC = _round_constants()


def _rol(v, n):
    return ((v << n) | (v >> (64 - n))) & _M64 if n else v


def _keccak_f(a):
    for rc in _RC:
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        a = [[a[x][y] ^ d[x] for y in range(5)] for x in range(5)]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rol(a[x][y], _ROT[x][y])
        a = [[b[x][y] ^ (~b[(x + 1) % 5][y] & b[(x + 2) % 5][y]) for y in range(5)] for x in range(5)]
        a[0][0] ^= rc
    return a


def keccak256(data):
    """Keccak-256 as Ethereum uses it (padding 0x01, not SHA3's 0x06)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    rate = 136
    msg = bytearray(data) + b"\x01"
    msg += b"\x00" * (-len(msg) % rate)
    msg[-1] |= 0x80
    a = [[0] * 5 for _ in range(5)]
    for off in range(0, len(msg), rate):
        block = msg[off:off + rate]
        for i in range(rate // 8):
            x, y = i % 5, i // 5
            a[x][y] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        a = _keccak_f(a)
    out = b"".join(a[i % 5][i // 5].to_bytes(8, "little") for i in range(4))
    return out


assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"

# ------------------------------------------------------------ secp256k1

P = 2 ** 256 - 2 ** 32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def _add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    if p1 == p2:
        lam = 3 * x1 * x1 * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def _mul(k, point=G):
    out = None
    while k:
        if k & 1:
            out = _add(out, point)
        point = _add(point, point)
        k >>= 1
    return out


def on_curve(x):
    """Is there a point with this x coordinate?"""
    y2 = (pow(x, 3, P) + 7) % P
    return pow(y2, (P - 1) // 2, P) == 1


def address_of(key):
    """The 20-byte address of a private key (bytes or 0x hex)."""
    if isinstance(key, str):
        key = bytes.fromhex(key[2:])
    x, y = _mul(int.from_bytes(key, "big"))
    return keccak256(x.to_bytes(32, "big") + y.to_bytes(32, "big"))[12:]


def checksum(addr):
    """EIP-55 form of a 20-byte address."""
    h = addr.hex()
    d = keccak256(h.encode()).hex()
    return "0x" + "".join(c.upper() if int(d[i], 16) >= 8 else c for i, c in enumerate(h))


def sign(key, digest):
    """(r, s, recid) with low s, as wallets sign."""
    if isinstance(key, str):
        key = bytes.fromhex(key[2:])
    d = int.from_bytes(key, "big")
    z = int.from_bytes(digest, "big")
    while True:
        k = secrets.randbelow(N - 1) + 1
        rx, ry = _mul(k)
        r = rx % N
        s = pow(k, -1, N) * (z + r * d) % N
        if r == 0 or s == 0:
            continue
        recid = (ry & 1) | (2 if rx >= N else 0)
        if s > N // 2:
            s, recid = N - s, recid ^ 1
        return r, s, recid


def recover(digest, r, s, recid):
    """The 20-byte address that signed digest (ecrecover)."""
    x = r + (N if recid & 2 else 0)
    y2 = (pow(x, 3, P) + 7) % P
    y = pow(y2, (P + 1) // 4, P)
    if (y & 1) != (recid & 1):
        y = P - y
    z = int.from_bytes(digest, "big")
    rinv = pow(r, -1, N)
    q = _add(_mul(s * rinv % N, (x, y)), _mul((-z * rinv) % N))
    return keccak256(q[0].to_bytes(32, "big") + q[1].to_bytes(32, "big"))[12:]


def transaction_sender(raw):
    """The sender of a signed type-2 transaction (bytes)."""
    f = rlp_decode(raw[1:])
    digest = keccak256(b"\x02" + rlp_list([_rlp_bytes(x) if isinstance(x, bytes) else rlp_list(
        [_rlp_bytes(y) for y in x]) for x in f[:9]]))
    recid, r, s = (int.from_bytes(f[i], "big") for i in (9, 10, 11))
    return recover(digest, r, s, recid)


def sig65(r, s, v):
    """0x + r ‖ s ‖ v, as an authorization's signature field."""
    return "0x" + r.to_bytes(32, "big").hex() + s.to_bytes(32, "big").hex() + "%02x" % v


# ------------------------------------------------------------ EIP-712 / EIP-3009

DOMAIN_TYPEHASH = keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
TWA_TYPEHASH = keccak256("TransferWithAuthorization(address from,address to,uint256 value,"
                         "uint256 validAfter,uint256 validBefore,bytes32 nonce)")


def _addr_bytes(a):
    return bytes.fromhex(a[2:]) if isinstance(a, str) else a


def _word(v):
    if isinstance(v, (bytes, bytearray)):
        return bytes(12) + bytes(v) if len(v) == 20 else bytes(v)
    return int(v).to_bytes(32, "big")


def domain_separator(name, version, chain_id, token):
    return keccak256(DOMAIN_TYPEHASH + keccak256(name) + keccak256(version) + _word(chain_id)
                     + _word(_addr_bytes(token)))


def authorization_digest(domain, frm, to, value, valid_after, valid_before, nonce):
    struct = keccak256(TWA_TYPEHASH + _word(_addr_bytes(frm)) + _word(_addr_bytes(to)) + _word(value)
                       + _word(valid_after) + _word(valid_before) + _word(_addr_bytes(nonce)))
    return keccak256(b"\x19\x01" + domain + struct)


def challenge_nonce(challenge_id, realm):
    """What an authorization's nonce must be: keccak256(id ‖ realm)."""
    return "0x" + keccak256(challenge_id.encode() + realm.encode()).hex()


def authorization(key, token, chain_id, to, value, nonce, valid_after=0, valid_before=None,
                  name="USD Coin", version="2"):
    """An `authorization` credential payload signed by key (all fields as
    wallets write them: decimal strings, 0x hex)."""
    import time
    if valid_before is None:
        valid_before = int(time.time()) + 3600
    frm = address_of(key)
    digest = authorization_digest(domain_separator(name, version, chain_id, token), frm, to, value,
                                  valid_after, valid_before, nonce)
    r, s, recid = sign(key, digest)
    return {"type": "authorization", "from": checksum(frm), "to": to, "value": str(value),
            "validAfter": str(valid_after), "validBefore": str(valid_before), "nonce": nonce,
            "signature": sig65(r, s, 27 + recid)}


# ------------------------------------------------------------ EIP-1559 transactions

def _rlp_bytes(b):
    if len(b) == 1 and b[0] < 0x80:
        return b
    return _rlp_len(len(b), 0x80) + b


def _rlp_len(n, base):
    if n < 56:
        return bytes([base + n])
    nb = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([base + 55 + len(nb)]) + nb


def _rlp_int(v):
    return _rlp_bytes(v.to_bytes((v.bit_length() + 7) // 8, "big") if v else b"")


def rlp_list(items):
    body = b"".join(items)
    return _rlp_len(len(body), 0xc0) + body


def transfer_data(to, amount):
    return bytes.fromhex("a9059cbb") + _word(_addr_bytes(to)) + _word(amount)


def signed_transaction(key, chain_id, token, to, amount, nonce=0, gas=100000,
                       max_fee=2 * 10 ** 9, max_priority_fee=10 ** 9):
    """0x + a signed type-2 transaction calling token.transfer(to, amount)."""
    fields = [_rlp_int(chain_id), _rlp_int(nonce), _rlp_int(max_priority_fee), _rlp_int(max_fee),
              _rlp_int(gas), _rlp_bytes(_addr_bytes(token)), _rlp_int(0),
              _rlp_bytes(transfer_data(to, amount)), rlp_list([])]
    digest = keccak256(b"\x02" + rlp_list(fields))
    r, s, recid = sign(key, digest)
    raw = b"\x02" + rlp_list(fields + [_rlp_int(recid), _rlp_int(r), _rlp_int(s)])
    return "0x" + raw.hex()


def rlp_decode(data):
    """One RLP item: bytes, or a list of items (for the fake node)."""
    item, used = _rlp_item(data, 0)
    if used != len(data):
        raise ValueError("trailing bytes after RLP item")
    return item


def _rlp_item(d, i):
    b = d[i]
    if b < 0x80:
        return d[i:i + 1], i + 1
    if b < 0xb8:
        n = b - 0x80
        return d[i + 1:i + 1 + n], i + 1 + n
    if b < 0xc0:
        ll = b - 0xb7
        n = int.from_bytes(d[i + 1:i + 1 + ll], "big")
        return d[i + 1 + ll:i + 1 + ll + n], i + 1 + ll + n
    if b < 0xf8:
        n, start = b - 0xc0, i + 1
    else:
        ll = b - 0xf7
        n, start = int.from_bytes(d[i + 1:i + 1 + ll], "big"), i + 1 + ll
    out, j = [], start
    while j < start + n:
        it, j = _rlp_item(d, j)
        out.append(it)
    return out, start + n
