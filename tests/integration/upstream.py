"""A real upstream HTTP server for the reverse-proxy tests.

It listens on 127.0.0.1 on a free port, in a thread of the test process,
records every request it receives (method, path with the query string, all
header fields in order, the body) and answers what the test configured for
the path (default: 200 with a small JSON document naming the request).

    with Upstream() as up:
        up.answer("/v1/fail", 500, b"upstream broke")
        ... up.port ...
        up.requests()          # everything received so far
        up.requests("/v1/x")   # those whose path (without query) is /v1/x

It is always stopped: when the with block ends, by stop(), and at
interpreter exit as a last resort.
"""
import atexit
import http.server
import json
import socketserver
import threading
import time

_STARTED = []


class Recorded:
    """One request as the upstream received it."""

    def __init__(self, method, target, version, headers, body):
        self.method = method
        self.target = target              # path and query, as sent by the proxy
        self.version = version
        self.headers = headers            # list of (name, value), in order
        self.body = body

    @property
    def path(self):
        return self.target.split("?", 1)[0]

    @property
    def query(self):
        return self.target.split("?", 1)[1] if "?" in self.target else None

    def get_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def get(self, name, default=None):
        vals = self.get_all(name)
        return vals[0] if vals else default

    def has(self, name):
        return bool(self.get_all(name))

    def __repr__(self):
        return "<Recorded %s %s %r %r>" % (self.method, self.target, self.headers, self.body[:200])


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "upstream-test/1"

    def log_message(self, *args):       # quiet
        pass

    def __getattr__(self, name):
        # every method (GET, HEAD, OPTIONS, PROPFIND, ...) is recorded the same way
        if name.startswith("do_"):
            return self._any
        raise AttributeError(name)

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers, up to the empty line
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline(3)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _any(self):
        up = self.server.upstream
        body = self._read_body()
        rec = Recorded(self.command, self.path, self.request_version,
                       [(k, v) for k, v in self.headers.items()], body)
        up._record(rec)
        status, payload, headers = up._answer_for(rec)
        self.send_response(status)
        names = set()
        for k, v in headers:
            self.send_header(k, v)
            names.add(k.lower())
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Upstream:
    """The recording HTTP server. answer() sets what a path gets."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.port = None
        self._lock = threading.Lock()
        self._requests = []
        self._answers = {}
        self._server = None
        self._thread = None

    # -- configuration

    def answer(self, path, status=200, body=None, headers=()):
        """What a request for `path` (without query) is answered with from
        now on. body None: the default JSON document."""
        with self._lock:
            self._answers[path] = (status, body, list(headers))

    def reset(self, path):
        """Back to the default answer for `path`."""
        with self._lock:
            self._answers.pop(path, None)

    def _answer_for(self, rec):
        with self._lock:
            status, body, headers = self._answers.get(rec.path, (200, None, []))
        if body is None:
            body = json.dumps({"upstream": True, "method": rec.method, "path": rec.target},
                              separators=(",", ":")).encode()
        elif isinstance(body, str):
            body = body.encode("utf-8")
        return status, body, headers

    # -- what was received

    def _record(self, rec):
        with self._lock:
            self._requests.append(rec)

    def requests(self, path=None):
        """Requests received so far, in order; with `path`, only those whose
        path (without query) equals it."""
        with self._lock:
            out = list(self._requests)
        if path is not None:
            out = [r for r in out if r.path == path]
        return out

    def count(self):
        with self._lock:
            return len(self._requests)

    def since(self, n):
        """Requests received after the first n."""
        with self._lock:
            return list(self._requests[n:])

    def clear(self):
        with self._lock:
            self._requests.clear()

    def wait_for(self, n, timeout=5):
        deadline = time.monotonic() + timeout
        while self.count() < n:
            if time.monotonic() > deadline:
                raise AssertionError("upstream got %d requests, expected %d" % (self.count(), n))
            time.sleep(0.02)

    # -- process

    def start(self):
        self._server = _Server((self.host, 0), _Handler)
        self._server.upstream = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="upstream-%d" % self.port, daemon=True)
        self._thread.start()
        _STARTED.append(self)
        return self

    def stop(self):
        srv, self._server = self._server, None
        if srv is None:
            return
        srv.shutdown()
        srv.server_close()
        self._thread.join(timeout=10)
        if self in _STARTED:
            _STARTED.remove(self)

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@atexit.register
def _stop_all():
    for u in list(_STARTED):
        try:
            u.stop()
        except Exception:   # noqa: BLE001 - a last resort at exit
            pass
