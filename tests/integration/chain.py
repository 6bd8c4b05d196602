"""A local EVM chain for the integration tests: tests/evm/chain.mjs (anvil
on 127.0.0.1 with the EIP-3009 test token deployed and the payers funded),
and a small eth JSON-RPC client to look at it.

    with Chain(workdir) as chain:      # chain.info: rpc, token, relayer, payers, ...
        chain.balance(address); chain.mine(); ...

The chain runs in its own process group and is always stopped: when the
with block ends, and at interpreter exit as a last resort.
"""
import atexit
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
EVM_DIR = HERE.parent / "evm"
CHAIN_MJS = EVM_DIR / "chain.mjs"

BALANCE_OF = "0x70a08231"        # balanceOf(address)
TRANSFER = "0xa9059cbb"          # transfer(address,uint256)

_STARTED = []


def node():
    exe = shutil.which("node")
    if not exe:
        raise RuntimeError("node is not on PATH: the EVM tests need Node.js")
    return exe


def ensure_node_modules():
    """tests/evm/node_modules (anvil, solc, viem, mppx), installed once."""
    if (EVM_DIR / "node_modules").is_dir():
        return
    npm = shutil.which("npm")
    if not npm:
        raise RuntimeError("tests/evm/node_modules is missing and npm is not on PATH")
    subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=EVM_DIR, check=True,
                   stdin=subprocess.DEVNULL, timeout=900)


def _group_members(pgid):
    """Live (not zombie) processes of a process group."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(d))
    return out


def word(value):
    """A 32-byte ABI word of an int or a 0x address."""
    if isinstance(value, str):
        return value[2:].lower().rjust(64, "0")
    return "%064x" % value


class RpcError(Exception):
    def __init__(self, method, error):
        super().__init__("%s: %s" % (method, error.get("message", error)))
        self.error = error


class Chain:
    """chain.mjs started with a state file; `info` is its JSON description
    (rpc, chainId, token, relayer, payers, recipient, ...)."""

    def __init__(self, workdir, port=None):
        self.workdir = Path(workdir)
        self.port = port
        self.state_file = self.workdir / "chain.json"
        self.log = self.workdir / "anvil.log"
        self.output = self.workdir / "chain.out"
        self.proc = None
        self.info = None

    # -- process

    def start(self, timeout=120):
        ensure_node_modules()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_file.unlink(missing_ok=True)
        args = [node(), str(CHAIN_MJS), "start", "--state-file", str(self.state_file),
                "--log", str(self.log)]
        if self.port:
            args += ["--port", str(self.port)]
        with open(self.output, "ab") as out:
            self.proc = subprocess.Popen(args, cwd=EVM_DIR, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        _STARTED.append(self)
        deadline = time.monotonic() + timeout
        while not self.state_file.exists():
            rc = self.proc.poll()
            if rc is not None:
                self.stop()
                raise RuntimeError("chain.mjs exited with %s:\n%s" % (
                    rc, self.output.read_text(errors="replace")))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the chain was not ready within %ds" % timeout)
            time.sleep(0.05)
        self.info = json.loads(self.state_file.read_text())
        self.rpc_url = self.info["rpc"]
        return self

    def stop(self):
        p, self.proc = self.proc, None
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)     # chain.mjs stops anvil and removes the state file
        # anvil shares chain.mjs's process group, whose id stays reserved until
        # chain.mjs is reaped below: nothing of it may outlive us
        deadline = time.monotonic() + 10
        while _group_members(p.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_members(p.pid):
            os.killpg(p.pid, signal.SIGKILL)
            while _group_members(p.pid):
                time.sleep(0.05)
        p.wait(timeout=10)
        if self in _STARTED:
            _STARTED.remove(self)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- JSON-RPC

    def rpc(self, method, *params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(self.rpc_url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=15) as r:
            reply = json.loads(r.read())
        if "error" in reply:
            raise RpcError(method, reply["error"])
        return reply["result"]

    def call(self, to, data, block="latest"):
        return self.rpc("eth_call", {"to": to, "data": data}, block)

    def balance(self, address, token=None):
        """The token balance (base units) of address."""
        return int(self.call(token or self.info["token"], BALANCE_OF + word(address)), 16)

    def nonce(self, address, block="latest"):
        return int(self.rpc("eth_getTransactionCount", address, block), 16)

    def receipt(self, tx_hash):
        return self.rpc("eth_getTransactionReceipt", tx_hash)

    def mined_receipt(self, tx_hash, timeout=10):
        """The receipt, waiting for the block that includes the transaction."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.receipt(tx_hash)
            if r is not None or time.monotonic() > deadline:
                return r
            time.sleep(0.05)

    def transaction(self, tx_hash):
        return self.rpc("eth_getTransactionByHash", tx_hash)

    def block_number(self):
        return int(self.rpc("eth_blockNumber"), 16)

    def block(self, tag="latest", full=False):
        return self.rpc("eth_getBlockByNumber", tag, full)

    def set_automine(self, on):
        self.rpc("evm_setAutomine", bool(on))

    def mine(self, blocks=1):
        for _ in range(blocks):
            self.rpc("evm_mine")

    def snapshot(self):
        return self.rpc("evm_snapshot")

    def revert(self, snapshot_id):
        if not self.rpc("evm_revert", snapshot_id):
            raise RuntimeError("evm_revert %s refused" % snapshot_id)

    def send_transaction(self, tx):
        """eth_sendTransaction from one of anvil's unlocked dev accounts."""
        return self.rpc("eth_sendTransaction", tx)

    def transfer_data(self, to, amount):
        return TRANSFER + word(to) + word(amount)


@atexit.register
def _stop_all():
    for c in list(_STARTED):
        try:
            c.stop()
        except Exception:   # noqa: BLE001 - a last resort at exit
            pass

