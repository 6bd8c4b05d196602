#!/usr/bin/env python3
"""Run the MPP conformance vectors against the C adapter.

The adapter is described by adapter.json next to this file. Its command is
resolved against the project root; the MPP_CONFORMANCE_ADAPTER environment
variable replaces the command's program (for out-of-tree builds). Every
scenario of every file in vectors/ is run through the adapter, one process per
operation, following the adapter ABI:

  stdin:  {"schema":1,"op":...,"input":...,"context":{...}}
  stdout: {"ok":true,"value":...} or {"ok":false,"error":{"type":...,"message":...}}

Scenarios restricted to other implementations (an `adapters` list without
this adapter's name, or `sdkVersions` without it) are skipped and listed, never
counted as passed. The last line of output is `N passed, N failed, N skipped`;
the exit status is non-zero when any scenario failed.

Only the Python standard library is used.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_TIMEOUT = 30.0

# Legacy command names used by the vector files -> adapter operations.
COMMAND_OPS = {
    "parse-www-authenticate": "challenge.parse",
    "format-www-authenticate": "challenge.format",
    "parse-authorization": "credential.parse",
    "format-authorization": "credential.format",
    "parse-receipt": "receipt.parse",
    "format-receipt": "receipt.format",
    "base64url-decode": "base64url.decode",
    "base64url-encode": "base64url.encode",
    "generate-challenge-id": "challenge.id",
}


class Failure(Exception):
    """A check of the current scenario did not hold."""


class Skip(Exception):
    """The current scenario is not meant for this adapter."""


def show(value, limit=300):
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def same(a, b):
    """JSON equality that, unlike ==, keeps true apart from 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def expand_wire(wire):
    """A wire value, or {prefix, repeat, count, suffix} built out."""
    if isinstance(wire, dict):
        return (wire.get("prefix", "") + wire.get("repeat", "") * int(wire.get("count", 0))
                + wire.get("suffix", ""))
    return wire


def is_error_expectation(x):
    return isinstance(x, dict) and x.get("success") is False and "error_type" in x


class Adapter:
    def __init__(self, manifest_path):
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
        if manifest.get("schema") != 1:
            raise SystemExit(f"{manifest_path}: unsupported manifest schema")
        self.name = manifest["name"]
        self.capabilities = set(manifest.get("capabilities", []))
        self.build = manifest.get("build")
        self.cwd = (ROOT / manifest.get("cwd", ".")).resolve()
        command = list(manifest["command"])
        override = os.environ.get("MPP_CONFORMANCE_ADAPTER")
        if override:
            command[0] = os.path.abspath(override)
        elif not os.path.isabs(command[0]) and os.sep in command[0]:
            command[0] = str(self.cwd / command[0])
        self.command = command
        self.start_error = None

    def call(self, op, value, context, timeout):
        """One adapter process for one operation; the response, checked."""
        if self.start_error:
            raise Failure(self.start_error)
        request = {"schema": 1, "op": op, "input": value, "context": context}
        data = json.dumps(request, ensure_ascii=False).encode("utf-8")
        try:
            proc = subprocess.run(self.command, input=data, capture_output=True,
                                  cwd=str(self.cwd), timeout=timeout)
        except (FileNotFoundError, PermissionError) as exc:
            self.start_error = f"cannot start adapter {self.command[0]}: {exc.strerror}"
            raise Failure(self.start_error)
        except subprocess.TimeoutExpired:
            raise Failure(f"{op}: adapter timed out after {timeout:.0f} s")
        if proc.returncode != 0:
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
            raise Failure(f"{op}: adapter exited with status {proc.returncode}"
                          + (f" ({tail[0]})" if tail else ""))
        try:
            resp = json.loads(proc.stdout.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Failure(f"{op}: response is not JSON: {exc}")
        if not isinstance(resp, dict) or not isinstance(resp.get("ok"), bool):
            raise Failure(f"{op}: response lacks a boolean ok: {show(resp)}")
        if resp["ok"] and "value" not in resp:
            raise Failure(f"{op}: response has ok=true but no value")
        if not resp["ok"] and not (isinstance(resp.get("error"), dict)
                                   and isinstance(resp["error"].get("type"), str)):
            raise Failure(f"{op}: response has ok=false but no error.type")
        return resp


class Runner:
    def __init__(self, adapter, verbose):
        self.adapter = adapter
        self.verbose = verbose
        self.passed = 0
        self.failed = []
        self.skipped = []

    # -- one call with its expectation --

    def call(self, op, value):
        if op not in self.adapter.capabilities:
            raise Skip(f"adapter lacks {op}")
        start = time.monotonic()
        resp = self.adapter.call(op, value, self.context, self.timeout)
        elapsed = (time.monotonic() - start) * 1000
        if self.limit_ms is not None and elapsed > self.limit_ms:
            raise Failure(f"{op}: took {elapsed:.0f} ms, limit {self.limit_ms} ms")
        return resp

    def ok_value(self, op, value, what):
        resp = self.call(op, value)
        if not resp["ok"]:
            err = resp["error"]
            raise Failure(f"{what}: expected success, got {err['type']}: {err.get('message', '')}")
        return resp["value"]

    def expect_error(self, op, value, error_type, what):
        resp = self.call(op, value)
        if resp["ok"]:
            raise Failure(f"{what}: expected {error_type}, got success {show(resp['value'])}")
        if resp["error"]["type"] != error_type:
            raise Failure(f"{what}: expected {error_type}, got {resp['error']['type']}: "
                          f"{resp['error'].get('message', '')}")

    @staticmethod
    def compare(what, expected, actual):
        if not same(expected, actual):
            raise Failure(f"{what}: expected {show(expected)}, got {show(actual)}")

    # -- scenario kinds --

    def run_operation(self, op, sc):
        expected = sc["expected"]
        if is_error_expectation(expected):
            self.expect_error(op, sc["input"], expected["error_type"], op)
            return
        resp = self.call(op, sc["input"])
        if not resp["ok"]:
            err = resp["error"]
            raise Failure(f"{op}: expected success, got {err['type']}: {err.get('message', '')}")
        self.compare(op, expected, resp["value"])

    def run_generate(self, op, sc):
        test = sc.get("tests", {}).get("generate", True)
        if is_error_expectation(test):
            self.expect_error(op, sc["input"], test["error_type"], "generate")
            return
        expected = sc["expected"]
        if isinstance(expected, str):
            expected = {"id": expected}
        self.compare("generate", expected, self.ok_value(op, sc["input"], "generate"))

    def run_text(self, parse_op, format_op, sc):
        """base64url: decode is the parse, encode the format; exact text."""
        tests = sc.get("tests", {})
        decoded, encoded = sc.get("decoded"), sc.get("encoded")
        t = tests.get("parse")
        if t is not None and encoded is not None:
            if is_error_expectation(t):
                self.expect_error(parse_op, {"text": encoded}, t["error_type"], "parse")
            else:
                self.compare("parse", {"text": decoded},
                             self.ok_value(parse_op, {"text": encoded}, "parse"))
        t = tests.get("format")
        if t is not None and decoded is not None:
            if is_error_expectation(t):
                self.expect_error(format_op, {"text": decoded}, t["error_type"], "format")
            else:
                self.compare("format", {"text": encoded},
                             self.ok_value(format_op, {"text": decoded}, "format"))
        if tests.get("roundtrip") is True and decoded is not None:
            enc = self.ok_value(format_op, {"text": decoded}, "roundtrip format")
            self.compare("roundtrip", {"text": decoded},
                         self.ok_value(parse_op, enc, "roundtrip parse"))

    def format_header(self, format_op, obj, what):
        value = self.ok_value(format_op, obj, what)
        if not isinstance(value, dict) or not isinstance(value.get("header"), str):
            raise Failure(f"{what}: expected {{header}}, got {show(value)}")
        return value["header"]

    def run_header(self, parse_op, format_op, sc):
        """Headers: parse compared with the object; format checked by parsing
        the result again; roundtrip = parse(format(x)) == x, and the header
        formatted from that parse is the same text (formatting is stable)."""
        tests = sc.get("tests", {})
        obj, wire = sc.get("object"), expand_wire(sc.get("wire"))
        t = tests.get("parse")
        if t is not None and wire is not None and parse_op:
            if is_error_expectation(t):
                self.expect_error(parse_op, {"header": wire}, t["error_type"], "parse")
            else:
                self.compare("parse", obj, self.ok_value(parse_op, {"header": wire}, "parse"))
        t = tests.get("format")
        if t is not None and obj is not None and format_op:
            if is_error_expectation(t):
                self.expect_error(format_op, obj, t["error_type"], "format")
            else:
                hdr = self.format_header(format_op, obj, "format")
                self.compare("format (parsed again)", obj,
                             self.ok_value(parse_op, {"header": hdr}, "format (parsed again)"))
        if tests.get("roundtrip") is True and obj is not None and parse_op and format_op:
            hdr = self.format_header(format_op, obj, "roundtrip format")
            back = self.ok_value(parse_op, {"header": hdr}, "roundtrip parse")
            self.compare("roundtrip", obj, back)
            again = self.format_header(format_op, back, "roundtrip reformat")
            if again != hdr:
                raise Failure(f"roundtrip: reformatting gave {again!r}, first format {hdr!r}")

    # -- files --

    def skip_reason(self, sc):
        name = self.adapter.name
        adapters = sc.get("adapters")
        if adapters is not None and name not in adapters:
            return "only for " + ", ".join(adapters)
        versions = sc.get("sdkVersions")
        if versions is not None and name not in versions:
            return "only for SDK versions " + ", ".join(f"{k} {v}" for k, v in versions.items())
        return None

    def run_file(self, path):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        commands = doc.get("commands", {})
        operation = commands.get("operation")
        parse_op = COMMAND_OPS.get(commands.get("parse"))
        format_op = COMMAND_OPS.get(commands.get("format"))
        generate_op = COMMAND_OPS.get(commands.get("generate"))
        for sc in doc.get("scenarios", []):
            label = f"{path.stem}:{sc.get('name', '?')}"
            reason = self.skip_reason(sc)
            if reason:
                self.skipped.append((label, reason))
                continue
            by_adapter = sc.get("maxDurationMsByAdapter", {})
            self.limit_ms = by_adapter.get(self.adapter.name, sc.get("maxDurationMs"))
            self.timeout = (max(1.0, self.limit_ms / 1000 + 1.0) if self.limit_ms is not None
                            else DEFAULT_TIMEOUT)
            self.context = {"caseName": sc.get("name", "?"), "vectorName": path.stem}
            try:
                if operation:
                    self.run_operation(operation, sc)
                elif generate_op:
                    self.run_generate(generate_op, sc)
                elif parse_op and parse_op.startswith("base64url."):
                    self.run_text(parse_op, format_op, sc)
                elif parse_op or format_op:
                    self.run_header(parse_op, format_op, sc)
                else:
                    raise Failure(f"no known command in {show(commands)}")
            except Skip as s:
                self.skipped.append((label, str(s)))
                continue
            except Failure as e:
                self.failed.append((label, str(e)))
                print(f"FAIL {label}: {e}", flush=True)
                continue
            except (KeyError, TypeError, ValueError) as e:
                self.failed.append((label, f"unusable scenario: {e!r}"))
                print(f"FAIL {label}: unusable scenario: {e!r}", flush=True)
                continue
            self.passed += 1
            if self.verbose:
                print(f"PASS {label}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", default=str(HERE / "adapter.json"),
                    help="adapter manifest (default: adapter.json beside this script)")
    ap.add_argument("--vectors", default=str(HERE / "vectors"),
                    help="directory of vector files (default: vectors/ beside this script)")
    ap.add_argument("--vector", action="append",
                    help="run only this vector file (name without .json); repeatable")
    ap.add_argument("--build", action="store_true",
                    help="run the manifest's build command first (in its cwd)")
    ap.add_argument("-v", "--verbose", action="store_true", help="also list passing scenarios")
    args = ap.parse_args()

    adapter = Adapter(args.manifest)
    if args.build and adapter.build:
        rc = subprocess.call(adapter.build, cwd=str(adapter.cwd))
        if rc != 0:
            print(f"build failed with status {rc}: {' '.join(adapter.build)}", file=sys.stderr)
            return 2

    files = sorted(Path(args.vectors).glob("*.json"))
    if args.vector:
        files = [f for f in files if f.stem in args.vector]
    if not files:
        print(f"no vector files in {args.vectors}", file=sys.stderr)
        return 2

    runner = Runner(adapter, args.verbose)
    for path in files:
        runner.run_file(path)
    for label, reason in runner.skipped:
        print(f"SKIP {label} ({reason})")
    print(f"{runner.passed} passed, {len(runner.failed)} failed, {len(runner.skipped)} skipped")
    return 1 if runner.failed or runner.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
