"""A fake EVM JSON-RPC node for the tests: a threaded HTTP server on
127.0.0.1 and a free port that records every call, and that can misbehave
on purpose.

    with FakeNode(token=..., mode="chain") as node:    # node.url, node.calls
        ...

Modes (node.mode may change while it runs):
  chain     a tiny chain: gas estimates, a gas price, nonces, and for a raw
            transaction sent to it a mined receipt whose Transfer log follows
            the transaction's call (transferWithAuthorization or transfer);
            node.receipts[hash] may add receipts of its own
  slow      answers correctly, after node.delay seconds
  garbage   200 with a body that is not JSON
  wrong-id  a well-formed answer carrying another id
  huge      a well-formed answer of node.huge_size bytes
  http500   HTTP 500 with a JSON-RPC body
  error     a JSON-RPC error object
  null      result null for everything
  number    result 12345 for everything
With node.hold set, sent transactions wait in a mempool until node.mine()
puts them in a new block (a slow chain).
A method it does not know gets the JSON-RPC error -32601, as from a real node.
The server is stopped by stop() (or the with block): its thread and socket
never outlive the test that made it."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from evmsign import keccak256, rlp_decode, transaction_sender

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
TWA = "e3ee160e"           # transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)
TRANSFER = "a9059cbb"      # transfer(address,uint256)
# the gate's dry run of an authorization: an estimate, then (once a worker
# process has one for the token) eth_call at that gas limit
DRY_RUNS = ("eth_estimateGas", "eth_call")


def word_hex(v):
    return "0x" + "%064x" % v


def transfer_log(token, frm, to, amount):
    return {"address": token.lower(),
            "topics": [TRANSFER_TOPIC, "0x" + "0" * 24 + frm[2:].lower(), "0x" + "0" * 24 + to[2:].lower()],
            "data": word_hex(amount)}


def receipt(tx_hash, block, logs, status="0x1", frm=None, to=None):
    out = {"transactionHash": tx_hash, "status": status, "blockNumber": hex(block), "logs": logs}
    if frm:
        out["from"] = frm.lower()
    if to:
        out["to"] = to.lower()
    return out


class FakeNode:
    def __init__(self, token="0x" + "00" * 20, mode="chain", delay=3.0, huge_size=5 * 1024 * 1024):
        self.token = token
        self.mode = mode
        self.delay = delay
        self.huge_size = huge_size
        self.calls = []                 # (method, params), in order
        self.receipts = {}              # tx hash (lower case) -> receipt, or None
        self.block = 100
        self.sent = []                  # raw transactions received
        self.modes = {}                 # JSON-RPC method -> mode, over self.mode
        self.hold = False               # True: sent transactions wait for mine()
        self.mempool = {}               # tx hash -> receipt, not mined yet
        self._inflight = 0
        self._lock = threading.Lock()
        self._server = None
        self._thread = None
        self._port = None

    # -- process

    def start(self, port=0):
        """Listens on port (0: a free one; the same port again after stop()
        brings a node that was down back up)."""
        node = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                status, out = node._answer(body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except (BrokenPipeError, ConnectionResetError):
                    pass     # the client gave up (a timeout or the size cap): as intended

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._port = self._server.server_address[1]
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._port

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def settlements(self):
        """The distinct raw transactions received that call the token (a
        relayer may also send others, such as one that fills a nonce gap)."""
        out = []
        with self._lock:
            for raw in self.sent:
                try:
                    to = rlp_decode(raw[1:])[5]
                except (ValueError, IndexError, TypeError):
                    continue
                if isinstance(to, bytes) and to.hex() == self.token[2:].lower() and raw not in out:
                    out.append(raw)
        return out

    def describe_sent(self):
        """(nonce, to, selector) of each raw transaction received, for messages."""
        out = []
        for raw in list(self.sent):
            f = rlp_decode(raw[1:])
            out.append((int.from_bytes(f[1], "big"), "0x" + f[5].hex(), f[7][:4].hex()))
        return out

    def methods(self):
        with self._lock:
            return [m for m, _ in self.calls]

    def quiesce(self):
        """Waits until the answers still under way (a slow one) are done."""
        deadline = time.monotonic() + self.delay + 5
        while self._inflight and time.monotonic() < deadline:
            time.sleep(0.02)

    def reset(self, mode="chain"):
        """Back to a healthy chain with no calls recorded."""
        self.quiesce()
        with self._lock:
            self.calls.clear()
            self.sent.clear()
            self.mode = mode
            self.modes.clear()
            self.hold = False
            self.mempool.clear()

    def mine(self):
        """A new block with every transaction waiting in the mempool."""
        with self._lock:
            self.block += 1
            for h, r in self.mempool.items():
                r["blockNumber"] = hex(self.block)
                self.receipts[h] = r
            self.mempool.clear()

    # -- answers

    def _answer(self, body):
        with self._lock:
            self._inflight += 1
        try:
            return self._answer_one(body)
        finally:
            with self._lock:
                self._inflight -= 1

    def _answer_one(self, body):
        try:
            req = json.loads(body)
        except ValueError:
            return 400, b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}'
        method, params, rid = req.get("method"), req.get("params") or [], req.get("id")
        with self._lock:
            self.calls.append((method, params))
        mode = self.modes.get(method, self.mode)
        if mode == "slow":
            time.sleep(self.delay)
        if mode == "garbage":
            return 200, b"<html>this is not JSON</html>"
        if mode == "http500":
            return 500, json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": -32603,
                                                                            "message": "internal"}}).encode()
        if mode == "error":
            return 200, json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": -32000,
                                                                            "message": "node says no"}}).encode()
        if mode == "null":
            return 200, json.dumps({"jsonrpc": "2.0", "id": rid, "result": None}).encode()
        if mode == "number":
            return 200, json.dumps({"jsonrpc": "2.0", "id": rid, "result": 12345}).encode()
        if mode == "huge":
            head = b'{"jsonrpc":"2.0","id":%d,"result":"0x1","padding":"' % rid
            return 200, head + b"0" * (self.huge_size - len(head) - 2) + b'"}'
        if method not in self.KNOWN:
            # as real nodes answer a method they do not have
            return 200, json.dumps({"jsonrpc": "2.0", "id": rid, "error": {
                "code": -32601, "message": "the method %s does not exist/is not available" % method}}).encode()
        result = self._chain(method, params)
        if mode == "wrong-id":
            rid = (rid or 0) + 1
        return 200, json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}).encode()

    KNOWN = ("eth_estimateGas", "eth_call", "eth_gasPrice", "eth_getTransactionCount", "eth_blockNumber",
             "eth_sendRawTransaction", "eth_getTransactionReceipt", "eth_getTransactionByHash", "eth_chainId")

    def _chain(self, method, params):
        if method == "eth_estimateGas":
            return "0x186a0"
        if method == "eth_call":
            return "0x"         # transferWithAuthorization returns nothing
        if method == "eth_gasPrice":
            return "0x3b9aca00"
        if method == "eth_getTransactionCount":
            return hex(len(self.sent))
        if method == "eth_blockNumber":
            return hex(self.block)
        if method == "eth_chainId":
            return hex(31337)
        if method == "eth_sendRawTransaction":
            raw = bytes.fromhex(params[0][2:])
            h = "0x" + keccak256(raw).hex()
            with self._lock:
                self.sent.append(raw)
                if h not in self.receipts and h not in self.mempool:
                    r = receipt(h, self.block, self._logs_of(raw), to=self.token,
                                frm="0x" + transaction_sender(raw).hex())
                    (self.mempool if self.hold else self.receipts)[h] = r
            return h
        if method == "eth_getTransactionReceipt":
            return self.receipts.get(params[0].lower())
        if method == "eth_getTransactionByHash":
            known = params[0].lower() in self.receipts or params[0].lower() in self.mempool
            return {"hash": params[0]} if known else None
        return None

    def _logs_of(self, raw):
        """The Transfer a token would log for the call in a type-2 transaction."""
        fields = rlp_decode(raw[1:])
        to, data = fields[5], fields[7]
        if to.hex() != self.token[2:].lower():
            return []
        sel, args = data[:4].hex(), data[4:]
        words = [args[i:i + 32] for i in range(0, len(args), 32)]
        if sel == TWA and len(words) == 9:
            frm, rcpt, value = "0x" + words[0][12:].hex(), "0x" + words[1][12:].hex(), int.from_bytes(words[2], "big")
            return [transfer_log(self.token, frm, rcpt, value)]
        if sel == TRANSFER and len(words) == 2:
            return []     # the sender is the signer: not needed by these tests
        return []
