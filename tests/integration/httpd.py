"""Test harness: a real Debian apache2 with the freshly built mod_mpp, and a
small HTTP client with helpers for the Payment authentication scheme.

Nothing here mocks httpd: every test talks to an apache2 process over TCP on
127.0.0.1.
"""
import base64
import configparser
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parent.parent

# Offers shared by most test servers.
EVM_ASSET_ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
EVM_RECIPIENT = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
TENANT_RECIPIENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

NETWORKS = """\
MPPNetwork anvil evm chain-id=31337 rpc=http://127.0.0.1:8545
MPPNetwork local test
MPPAsset usdc network=anvil address=%s decimals=6 eip712-name="USD Coin" eip712-version=2
MPPAsset tok network=local address=TOK decimals=2
""" % EVM_ASSET_ADDRESS

OFFER_BASIC = ("MPPOffer basic asset=usdc price=0.01 recipient=%s "
               "tenant-price=0.001..1.00 tenant-recipient=on" % EVM_RECIPIENT)
OFFER_TEST = "MPPOffer t asset=tok price=1 recipient=merchant"

PROBLEM_BASE = "https://paymentauth.org/problems/"

ERROR_LINE = re.compile(r"^\[[^\]]*\] \[(?:[^\]:]*:)?(error|crit|alert|emerg)\]")
# sanitizer reports (module built with --enable-sanitizers) are never allowed
SANITIZER_LINE = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:")


def httpd_env():
    """Environment for apache2. MPP_HTTPD_PRELOAD names a sanitizer runtime to
    preload when the module under test was built with ASan/UBSan."""
    env = dict(os.environ)
    preload = os.environ.get("MPP_HTTPD_PRELOAD")
    if preload:
        env["LD_PRELOAD"] = preload
        # httpd frees its pools wholesale at exit: leaks there are not ours
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


# ---------------------------------------------------------------- encodings

def b64url(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    """Strict base64url without padding, as the protocol writes it."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not unpadded base64url: %r" % text[:40])
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jcs(obj):
    """RFC 8785 form for the JSON this protocol uses (ASCII keys, strings,
    small integers, objects, arrays)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def jcs_b64url(obj):
    return b64url(jcs(obj))


def decode_json_b64url(text):
    return json.loads(b64url_decode(text))


def rfc3339(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text):
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)", text)
    if not m:
        raise ValueError("not an RFC 3339 date-time: %r" % text)
    value = text.upper().replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(value)


# ------------------------------------------------------------ auth-params

_TCHAR = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _quoted(s, i):
    """Reads a quoted-string starting at s[i] == '"'. Handles \\\\, \\" and
    the \\uXXXX extension (with surrogate pairs). Returns (value, next)."""
    assert s[i] == '"'
    i += 1
    out = []
    while True:
        if i >= len(s):
            raise ValueError("unterminated quoted-string")
        c = s[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            i += 1
            if i >= len(s):
                raise ValueError("dangling backslash")
            if s[i] == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", s[i + 1:i + 5] or ""):
                cp = int(s[i + 1:i + 5], 16)
                i += 5
                if 0xD800 <= cp <= 0xDBFF and s[i:i + 2] == "\\u" \
                        and re.fullmatch(r"[0-9A-Fa-f]{4}", s[i + 2:i + 6] or ""):
                    lo = int(s[i + 2:i + 6], 16)
                    if 0xDC00 <= lo <= 0xDFFF:
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                out.append(chr(cp))
                continue
            out.append(s[i])
            i += 1
            continue
        out.append(c)
        i += 1


def parse_www_authenticate(value):
    """Parses one WWW-Authenticate field value into a list of
    (scheme, {param: value}) in order. Param names are lower-cased; a
    duplicate parameter is an error."""
    out = []
    i, n = 0, len(value)
    current = None
    while True:
        while i < n and value[i] in " \t,":
            i += 1
        if i >= n:
            break
        m = _TCHAR.match(value, i)
        if not m:
            raise ValueError("bad token at %d in %r" % (i, value))
        tok, j = m.group(0), m.end()
        k = j
        while k < n and value[k] in " \t":
            k += 1
        if current is not None and k < n and value[k] == "=":
            # auth-param
            k += 1
            while k < n and value[k] in " \t":
                k += 1
            if k < n and value[k] == '"':
                v, k = _quoted(value, k)
            else:
                m2 = _TCHAR.match(value, k)
                if not m2:
                    raise ValueError("bad param value at %d in %r" % (k, value))
                v, k = m2.group(0), m2.end()
            name = tok.lower()
            if name in current[1]:
                raise ValueError("duplicate parameter %s" % name)
            current[1][name] = v
            i = k
            while i < n and value[i] in " \t":
                i += 1
            if i < n and value[i] != ",":
                raise ValueError("junk after parameter %s in %r" % (name, value))
        else:
            current = (tok, {})
            out.append(current)
            i = j
    return out


# ------------------------------------------------------------ credentials

ECHO_FIELDS = ("id", "realm", "method", "intent", "request", "description",
               "digest", "expires", "opaque")


def echo_of(challenge):
    """The challenge echo of a credential: the challenge's params as sent."""
    return {k: challenge[k] for k in ECHO_FIELDS if k in challenge}


def encode_credential(obj):
    return "Payment " + b64url(json.dumps(obj, separators=(",", ":")))


def make_credential(challenge, payload, **changes):
    """Authorization value answering `challenge` (a param dict). `changes`
    replace echo members; a value of None removes the member."""
    echo = echo_of(challenge)
    for k, v in changes.items():
        if v is None:
            echo.pop(k, None)
        else:
            echo[k] = v
    return encode_credential({"challenge": echo, "payload": payload})


def binding_input(params):
    return "|".join(params.get(k, "") for k in
                    ("realm", "method", "intent", "request", "expires", "digest", "opaque"))


def compute_id(secret, params):
    mac = hmac.new(secret, binding_input(params).encode("utf-8"), hashlib.sha256).digest()
    return b64url(mac)


# ------------------------------------------------------------ client

class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers          # list of (name, value), in order
        self.body = body

    def get_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def get(self, name, default=None):
        vals = self.get_all(name)
        return vals[0] if vals else default

    def header(self, name):
        """The single value of a header that must appear exactly once."""
        vals = self.get_all(name)
        assert len(vals) == 1, "expected one %s header, got %r" % (name, vals)
        return vals[0]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def challenges(self):
        """Payment challenges as param dicts, in header order."""
        out = []
        for v in self.get_all("WWW-Authenticate"):
            for scheme, params in parse_www_authenticate(v):
                if scheme.lower() == "payment":
                    out.append(params)
        return out

    def challenge(self, method):
        for c in self.challenges:
            if c.get("method") == method:
                return c
        raise AssertionError("no %s challenge in %r" % (method, self.get_all("WWW-Authenticate")))

    def __repr__(self):
        return "<Response %d %s %r %r>" % (self.status, self.reason, self.headers, self.body[:300])


def http_request(port, method, path, headers=(), body=None, timeout=15):
    """One request on a fresh connection. `headers` is a list of pairs (a
    name may repeat) or a dict."""
    if isinstance(headers, dict):
        headers = list(headers.items())
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=any(k.lower() == "host" for k, _ in headers),
                        skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        if body is not None and not any(k.lower() in ("content-length", "transfer-encoding")
                                        for k, _ in headers):
            conn.putheader("Content-Length", str(len(body)))
        conn.putheader("Connection", "close")
        conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, r.getheaders(), data)
    finally:
        conn.close()


# ------------------------------------------------------------ the server

class Build:
    """Where the module under test was built, from MPP_BUILDDIR (default:
    <project>/build) and the config.ini configure wrote there."""

    def __init__(self):
        self.builddir = Path(os.environ.get("MPP_BUILDDIR", PROJECT_ROOT / "build")).resolve()
        ini = self.builddir / "tests" / "integration" / "config.ini"
        cfg = configparser.ConfigParser()
        if ini.exists():
            cfg.read(ini)
        g = cfg["global"] if cfg.has_section("global") else {}
        self.sbindir = Path(g.get("sbindir", "/usr/sbin"))
        self.target = g.get("target", "apache2")
        self.moduledir = Path(g.get("moduledir", "/usr/lib/apache2/modules"))
        self.httpd = self.sbindir / self.target
        self.mod_mpp = self.builddir / ".libs" / "mod_mpp.so"
        self.mod_test = self.builddir / "tests" / "modules" / ".libs" / "mod_mpp_testmethod.so"

    def check(self):
        missing = [str(p) for p in (self.httpd, self.mod_mpp, self.mod_test) if not p.exists()]
        if missing:
            raise RuntimeError("not built or not installed: %s (set MPP_BUILDDIR; build with "
                               "make && make tests/modules/mod_mpp_testmethod.la)" % ", ".join(missing))


DEFAULT_MODULES = ("authz_core", "mime", "dir", "alias")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_world_traversable(path):
    """apache's children run as www-data when the tests run as root: the
    server root and every directory above it must be searchable."""
    p = Path(path).resolve()
    for d in [p] + list(p.parents):
        if str(d) in ("/", "/tmp"):
            continue
        mode = d.stat().st_mode
        if (mode & 0o005) != 0o005:
            os.chmod(d, stat.S_IMODE(mode) | 0o055)


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


class Httpd:
    """One apache2 process with a generated configuration.

    root:      an empty directory for this server (ServerRoot)
    body:      configuration appended after the generated preamble; the
               placeholders {root}, {docroot}, {port}, {secret} are filled in
    files:     {relative path under root: bytes|str} written before start;
               a (content, mode) pair sets the mode
    modules:   extra Debian module names to load (mod_<name>.so)
    secret:    bytes of the MPPSecretFile (None: no MPPSecretFile line)
    """

    def __init__(self, build, root, body="", files=None, modules=(), secret=None,
                 previous_secret=None, server_name="mpp.test", mpm="event", preamble_extra=""):
        self.build = build
        self.root = Path(root)
        self.body = body
        self.files = dict(files or {})
        self.modules = list(DEFAULT_MODULES) + [m for m in modules if m not in DEFAULT_MODULES]
        self.secret_bytes = secret
        self.previous_secret_bytes = previous_secret
        self.server_name = server_name
        self.mpm = mpm
        self.preamble_extra = preamble_extra
        self.port = None
        self.proc = None
        self.conf = self.root / "httpd.conf"
        self.docroot = self.root / "htdocs"
        self.error_log = self.root / "logs" / "error.log"
        self.secret_path = self.root / "secret" / "challenge.key"
        self.previous_secret_path = self.root / "secret" / "previous.key"
        self.stderr_path = self.root / "logs" / "stderr.log"
        self._log_checked = 0

    # -- configuration

    @staticmethod
    def _key(data):
        """An HMAC key as the module reads it: the file's bytes with one
        trailing newline removed."""
        return data[:-1] if data.endswith(b"\n") else data

    @property
    def secret(self):
        return self._key(self.secret_bytes)

    @property
    def previous_secret(self):
        return self._key(self.previous_secret_bytes)

    def fill(self, text):
        for k, v in (("{root}", self.root), ("{docroot}", self.docroot),
                     ("{port}", self.port), ("{secret}", self.secret_path)):
            text = text.replace(k, str(v))
        return text

    def config_text(self):
        lines = [
            "ServerRoot %s" % self.root,
            "PidFile %s/run/httpd.pid" % self.root,
            "DefaultRuntimeDir %s/run" % self.root,
            "Mutex file:%s/run default" % self.root,
            "Listen 127.0.0.1:%d" % self.port,
            "ServerName %s" % self.server_name,
            "LoadModule mpm_%s_module %s/mod_mpm_%s.so" % (self.mpm, self.build.moduledir, self.mpm),
        ]
        for m in self.modules:
            lines.append("LoadModule %s_module %s/mod_%s.so" % (m, self.build.moduledir, m))
        lines += [
            "LoadModule mpp_testmethod_module %s" % self.build.mod_test,
            "LoadModule mpp_module %s" % self.build.mod_mpp,
        ]
        if os.geteuid() == 0:
            lines += ["User www-data", "Group www-data"]
        lines += [
            "StartServers 1",
        ]
        if self.mpm == "prefork":
            lines += ["MaxRequestWorkers 8"]
        else:
            lines += ["ServerLimit 2", "ThreadsPerChild 16", "MaxRequestWorkers 32",
                      "MinSpareThreads 4", "MaxSpareThreads 32"]
        lines += [
            "TypesConfig /etc/mime.types",
            "ErrorLog %s" % self.error_log,
            "LogLevel warn mpp:debug",
            'LogFormat "%h %P \\"%r\\" %>s %b" common',
            "CustomLog %s/logs/access.log common" % self.root,
            "DocumentRoot %s" % self.docroot,
            "DirectoryIndex index.html",
            "Timeout 30",
            "<Directory />",
            "    AllowOverride None",
            "    Require all granted",
            "</Directory>",
            '<Files ".ht*">',
            "    Require all denied",
            "</Files>",
        ]
        if self.secret_bytes is not None:
            if self.previous_secret_bytes is not None:
                lines.append("MPPSecretFile %s %s" % (self.secret_path, self.previous_secret_path))
            else:
                lines.append("MPPSecretFile %s" % self.secret_path)
        if "MPPStore" not in self.body + self.preamble_extra:
            # each server keeps its payment journal in its own root
            lines.append("MPPStore shm size=4M dir=%s/state" % self.root)
        if self.preamble_extra:
            lines.append(self.fill(self.preamble_extra))
        return "\n".join(lines) + "\n" + self.fill(self.body) + "\n"

    def write(self):
        for d in ("logs", "run", "htdocs", "secret"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        make_world_traversable(self.root)
        os.chmod(self.root / "secret", 0o700)
        for data, path in ((self.secret_bytes, self.secret_path),
                           (self.previous_secret_bytes, self.previous_secret_path)):
            if data is not None:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.chmod(path, 0o600)
        for rel, content in self.files.items():
            mode = None
            if isinstance(content, tuple):
                content, mode = content
            p = self.root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                content = self.fill(content).encode("utf-8")
            p.write_bytes(content)
            if mode is not None:
                os.chmod(p, mode)
        # everything the children serve must be readable by them
        for dirpath, dirnames, filenames in os.walk(self.root):
            # the secret and the payment state stay as they are (a restart
            # must not loosen what the module made private)
            if Path(dirpath) in (self.root / "secret", self.root / "state"):
                dirnames[:] = []
                continue
            os.chmod(dirpath, stat.S_IMODE(os.stat(dirpath).st_mode) | 0o755)
            for fn in filenames:
                fp = Path(dirpath) / fn
                os.chmod(fp, stat.S_IMODE(os.stat(fp).st_mode) | 0o444)
        self.conf.write_text(self.config_text())

    # -- process

    def start(self, attempts=3, keep_port=False, keep_log=False):
        """Starts apache2 and waits until it answers. keep_port: listen on
        the port of the previous run (when it is still free); keep_log:
        append to the error log instead of starting a new one."""
        last = None
        for i in range(attempts):
            if not (keep_port and self.port and i == 0):
                self.port = free_port()
            self.write()
            if not keep_log:
                self.error_log.write_bytes(b"")
                self._log_checked = 0
            with open(self.stderr_path, "ab") as err:
                self.proc = subprocess.Popen(
                    [str(self.build.httpd), "-f", str(self.conf), "-DFOREGROUND"],
                    stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                    start_new_session=True, env=httpd_env())
            try:
                self._wait_ready()
                return self
            except RuntimeError as e:
                last = e
                self.stop()
                if "Address already in use" not in str(e):
                    break
        raise last

    def _wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("apache2 exited with %s:\n%s\n%s" % (
                    self.proc.returncode, self.stderr_path.read_text(errors="replace"),
                    self.error_log.read_text(errors="replace") if self.error_log.exists() else ""))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"OPTIONS * HTTP/1.0\r\n\r\n")
                    s.settimeout(5)
                    if s.recv(1):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("apache2 did not answer on port %d within %ds" % (self.port, timeout))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.quiesce()
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            self._check_stderr()
            return
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)   # the group this harness created
            except ProcessLookupError:
                pass
            p.wait(timeout=10)
        self._check_stderr()

    def pids(self):
        """The apache2 processes of this server: the parent first, then its
        children (piped loggers and CGI processes are not included)."""
        if self.proc is None:
            return []
        parent = self.proc.pid
        exe = os.path.realpath(self.build.httpd)
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
                if os.path.realpath("/proc/%s/exe" % d) != exe:
                    continue
            except OSError:
                continue
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            if ppid == parent:
                out.append(int(d))
        return [parent] + sorted(out)

    def _connection_sockets(self):
        """Sockets the children hold open besides the listeners: client
        connections, including those still in lingering close."""
        listeners = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    rows = f.read().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                cols = row.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == self.port and cols[3] == "0A":
                    listeners.add(cols[9])
        n = 0
        for pid in self.pids()[1:]:
            try:
                fds = os.listdir("/proc/%d/fd" % pid)
            except OSError:
                continue
            for fd in fds:
                try:
                    target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] not in listeners:
                    n += 1
        return n

    def quiesce(self, timeout=2):
        """Waits (a little) until no child holds a client connection: an
        event MPM child told to stop while it lingers on a closed
        connection logs an error (AH03092) that is no fault of the module."""
        deadline = time.monotonic() + timeout
        while self._connection_sockets() and time.monotonic() < deadline:
            time.sleep(0.02)

    def graceful(self, timeout=20):
        """Graceful restart (SIGUSR1 to the parent, as apache2 -k graceful
        does); returns when the new generation is running."""
        offset = self.log_size()
        os.kill(self.proc.pid, signal.SIGUSR1)
        self.wait_log(r"resuming normal operations", offset, timeout)
        self._wait_ready(timeout)

    def kill_all(self, timeout=10):
        """SIGKILL to the parent and every child at once (the process group
        this harness created), as a crash would leave them; waits until all
        are gone. The pid file stays behind, as it would."""
        p, self.proc = self.proc, None
        if p is None:
            return
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while _group_members(p.pid):
            if time.monotonic() > deadline:
                raise RuntimeError("processes of group %d survived SIGKILL" % p.pid)
            time.sleep(0.05)

    def _check_stderr(self):
        """Sanitizer reports written before the error log was open."""
        text = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        bad = [l for l in text.splitlines() if SANITIZER_LINE.search(l)]
        if bad:
            raise AssertionError("sanitizer report from apache2:\n" + "\n".join(bad[:20]))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- requests

    def request(self, method, path, headers=(), body=None, host=None):
        if isinstance(headers, dict):
            headers = list(headers.items())
        headers = list(headers)
        if host is not None:
            headers.append(("Host", host))
        return http_request(self.port, method, path, headers, body)

    def get(self, path, headers=(), **kw):
        return self.request("GET", path, headers, **kw)

    def pay(self, path, challenge, payload=None, method="GET", body=None, headers=(), **changes):
        """Answer `challenge` with a test-method style payload."""
        if payload is None:
            payload = {"proof": "ok"}
        auth = make_credential(challenge, payload, **changes)
        hdrs = [("Authorization", auth)] + list(headers)
        return self.request(method, path, hdrs, body=body)

    # -- error log

    def log_text(self):
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""

    def log_since(self, offset):
        data = self.error_log.read_bytes() if self.error_log.exists() else b""
        return data[offset:].decode("utf-8", "replace")

    def log_size(self):
        return self.error_log.stat().st_size if self.error_log.exists() else 0

    def wait_log(self, pattern, offset=0, timeout=5):
        """Waits until the error log (after offset) matches pattern."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_since(offset)
            if rx.search(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError("error log has no %r; new lines:\n%s" % (pattern, text))
            time.sleep(0.05)


def error_lines(text, allow=()):
    """Lines at level error or worse that no allow pattern matches."""
    out = []
    for line in text.splitlines():
        if SANITIZER_LINE.search(line) or (
                ERROR_LINE.match(line) and not any(re.search(a, line) for a in allow)):
            out.append(line)
    return out


def configtest(build, conf_path):
    """apache2 -t; returns (returncode, combined output)."""
    p = subprocess.run([str(build.httpd), "-t", "-f", str(conf_path)],
                       env=httpd_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def new_secret():
    return base64.b64encode(secrets.token_bytes(48)) + b"\n"
