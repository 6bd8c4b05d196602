"""The shared payment store (MPPStore): a challenge id is spent once across
every worker process; what was paid stays paid across a graceful restart, a
stop and start, and kill -9 of every process (the journal is replayed); a
full store and a journal that cannot be written answer 503 and serve
nothing; the state dir, the Mutex directive and the mpp-store tool behave
as documented.

Every test starts its own apache2 (127.0.0.1, a free port) and stops it when
it ends."""
import concurrent.futures
import datetime
import hashlib
import os
import pwd
import re
import resource
import signal
import stat
import subprocess
import threading
import time

import pytest

from checks import assert_payment_response, cache_directives, problem, receipt
from httpd import (NETWORKS, OFFER_TEST, Httpd, configtest, free_port, httpd_env,
                   make_credential, new_secret, parse_rfc3339)

PATH = "/paid/a.txt"
RESOURCE = b"paid A\n"
FILES = {"htdocs/paid/a.txt": RESOURCE}
OK = {"proof": "ok"}

CONF = NETWORKS + OFFER_TEST + """
<Location /paid>
    MPPCharge t
</Location>
"""

# which process served which request: %P and the client's X-Probe header
PROBE_LOG = """
LogFormat "%P %{X-Probe}i %>s" probe
CustomLog {root}/logs/probe.log probe
"""

REPLAYED = re.compile(r"MPP\d{5}: store of (\d+) entries, journal (\S+): (\d+) records replayed")


@pytest.fixture
def make(server_factory):
    """Like server_factory, but every server is stopped when the test ends
    (the group's error log check still runs at the end of the module)."""
    made = []

    def mk(name, **kw):
        kw.setdefault("files", FILES)
        s = server_factory(name, **kw)
        made.append(s)
        return s

    yield mk
    for s in made:
        s.stop()


# ------------------------------------------------------------ helpers

def fresh(s, path=PATH):
    r = s.get(path)
    assert r.status == 402, r
    return r.challenge("test")


def pays(s, c, path=PATH, **kw):
    r = s.pay(path, c, OK, **kw)
    assert r.status == 200, r
    assert r.body == RESOURCE
    receipt(r, c["id"])
    return r


USED = "this challenge was already used"
IN_FLIGHT = "this challenge is being paid by another request"


def refused_as_used(s, r, c, details=(USED,)):
    """The answer to a credential whose challenge was paid already (or, for
    a concurrent copy, is being paid right now)."""
    body = assert_payment_response(r, 402, "invalid-challenge", s.secret, used_ids={c["id"]},
                                   n_challenges=1)
    assert body["detail"] in details, body
    assert r.body != RESOURCE


def unavailable(r):
    """A 503 of the gate: Retry-After, a problem body, nothing served, no receipt."""
    assert r.status == 503, r
    ra = r.get("Retry-After")
    assert ra is not None and ra.isdigit() and int(ra) > 0, r
    body = problem(r)
    assert body["type"] == "about:blank" and body["status"] == 503, body
    assert "no-store" in cache_directives(r), r
    assert not r.get_all("Payment-Receipt"), r
    assert RESOURCE not in r.body, r
    return body


def replayed(text):
    """(entries, journal path, records replayed) of the last start in text."""
    found = REPLAYED.findall(text)
    assert found, "no 'records replayed' notice in:\n" + text
    n, path, records = found[-1]
    return int(n), path, int(records)


def probe_pids(s, prefix, count):
    """{probe value: pid} for the count requests whose X-Probe starts with
    prefix (the access log is written after the answer: waits for it)."""
    path = s.root / "logs" / "probe.log"
    deadline = time.monotonic() + 10
    while True:
        out = {}
        for line in path.read_text().splitlines():
            fields = line.split(" ")
            if len(fields) == 3 and fields[1].startswith(prefix):
                out[fields[1]] = int(fields[0])
        if len(out) >= count:
            assert len(out) == count, out
            return out
        assert time.monotonic() < deadline, "%d of %d %s* requests in %s" % (
            len(out), count, prefix, path)
        time.sleep(0.05)


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def state_dir(s):
    return s.root / "state"


def journal(s):
    return state_dir(s) / "store.journal"


def server_ids():
    """uid and gid the children run as (the harness sets User www-data as root)."""
    if os.geteuid() == 0:
        pw = pwd.getpwnam("www-data")
        return pw.pw_uid, pw.pw_gid
    return os.geteuid(), os.getegid()


def start_failure(build, root, body, timeout=30):
    """Starts apache2 with a configuration that must not start; returns its
    exit code and what it wrote (stderr and error log)."""
    s = Httpd(build, root, body=body, secret=new_secret(), files=FILES)
    s.port = free_port()
    s.write()
    try:
        p = subprocess.run([str(build.httpd), "-f", str(s.conf), "-DFOREGROUND"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=httpd_env(), timeout=timeout,
                           start_new_session=True)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("apache2 started with a configuration it must refuse") from e
    return p.returncode, p.stdout.decode("utf-8", "replace") + s.log_text()


def configtest_of(build, root, body):
    s = Httpd(build, root, body=body, secret=new_secret(), files=FILES)
    s.port = free_port()
    s.write()
    return s, configtest(build, s.conf)


# ------------------------------------------------------------ single use across workers

MPMS = {
    # many single-threaded children
    "prefork": "StartServers 8\nMinSpareServers 8\nMaxSpareServers 16\nServerLimit 16\n"
               "MaxRequestWorkers 16\n",
    # two processes of 16 threads (ServerLimit 2, ThreadsPerChild 16 from the harness)
    "event": "StartServers 2\nMinSpareThreads 32\nMaxSpareThreads 32\n",
}
CHILDREN = {"prefork": 8, "event": 2}


@pytest.fixture(scope="module", params=sorted(MPMS))
def workers(request, server_factory):
    mpm = request.param
    s = server_factory("workers-" + mpm, body=CONF + PROBE_LOG + MPMS[mpm], files=FILES, mpm=mpm)
    wait_for(lambda: len(s.pids()) - 1 >= CHILDREN[mpm], 20, "%d %s children" % (CHILDREN[mpm], mpm))
    yield s
    s.stop()


def test_a_paid_credential_is_refused_by_every_worker(workers):
    s = workers
    c = fresh(s)
    pays(s, c, headers=[("X-Probe", "pay")])
    auth = make_credential(c, OK)

    def again(i):
        r = s.get(PATH, [("Authorization", auth), ("X-Probe", "again-%d" % i)])
        refused_as_used(s, r, c)

    # new connections, several at a time, until other processes than the
    # one that took the payment have refused it
    payer = probe_pids(s, "pay", 1)["pay"]
    sent = 0
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        while True:
            list(ex.map(again, range(sent, sent + 16)))
            pids = set(probe_pids(s, "again-", sent + 16).values())
            sent += 16
            if sent >= 48 and len(pids - {payer}) >= min(3, CHILDREN[s.mpm] - 1) or sent >= 320:
                break
    assert pids - {payer}, "every repeat was served by the process that took the payment " \
                           "(pid %d): the test did not reach another worker" % payer


def test_concurrent_copies_of_one_credential_have_one_winner(workers):
    s = workers
    n = 20
    served_by = set()
    for rnd in range(5):
        c = fresh(s)
        auth = make_credential(c, OK)
        barrier = threading.Barrier(n)

        def race(i):
            barrier.wait(timeout=30)
            return s.get(PATH, [("Authorization", auth), ("X-Probe", "race%d-%d" % (rnd, i))])

        with concurrent.futures.ThreadPoolExecutor(n) as ex:
            answers = list(ex.map(race, range(n)))
        winners = [r for r in answers if r.status == 200]
        assert len(winners) == 1, "round %d: %d of %d copies were served: %r" % (
            rnd, len(winners), n, [r.status for r in answers])
        receipt(winners[0], c["id"])
        assert winners[0].body == RESOURCE
        for r in answers:
            if r.status != 200:
                refused_as_used(s, r, c, (USED, IN_FLIGHT))
        # and once the race is over, it is simply used
        refused_as_used(s, s.pay(PATH, c, OK), c)
        served_by |= set(probe_pids(s, "race%d-" % rnd, n).values())
    assert len(served_by) >= 2, "all copies were served by one process: no race between workers"


# ------------------------------------------------------------ durability

def test_paid_stays_paid_across_a_graceful_restart(make):
    s = make("graceful", body=CONF)
    c = fresh(s)
    pays(s, c)
    before = s.pids()
    offset = s.log_size()
    s.graceful()
    wait_for(lambda: not set(s.pids()[1:]) & set(before[1:]), 20, "the old children to leave")
    refused_as_used(s, s.pay(PATH, c, OK), c)
    # the store lived through the restart in memory: nothing was reloaded
    assert not REPLAYED.search(s.log_since(offset)), s.log_since(offset)
    pays(s, fresh(s))


def test_paid_stays_paid_across_stop_and_start(make):
    s = make("stopstart", body=CONF)
    paid = [fresh(s) for _ in range(3)]
    for c in paid:
        pays(s, c)
    # a refused payment releases its claim and leaves no record
    failed = fresh(s)
    r = s.pay(PATH, failed, {"proof": "fail"})
    assert r.status == 402 and r.json["type"].endswith("/verification-failed"), r
    offset = s.log_size()
    s.stop()
    s.start(keep_port=True, keep_log=True)
    log = s.log_since(offset)
    assert replayed(log)[2] == 3, log
    for c in paid:
        refused_as_used(s, s.pay(PATH, c, OK), c)
    pays(s, failed)    # never paid: still good
    pays(s, fresh(s))


def test_paid_stays_paid_after_kill_9_of_every_process(make):
    s = make("kill9", body=CONF, mpm="prefork")
    paid = [fresh(s), fresh(s)]
    for c in paid:
        pays(s, c)
    # killed the moment the answer is in: the record was on disk before it
    s.kill_all()
    pidfile = s.root / "run" / "httpd.pid"
    assert pidfile.exists(), "kill -9 leaves the pid file behind"
    offset = s.log_size()
    s.start(keep_port=True, keep_log=True)
    log = s.log_since(offset)
    assert replayed(log)[2] == 2, log
    for c in paid:
        refused_as_used(s, s.pay(PATH, c, OK), c)
    pays(s, fresh(s))


# ------------------------------------------------------------ a full store

FULL_CONF = NETWORKS + OFFER_TEST + " expires=10\n" + """
MPPStore shm size=64K dir={root}/state
<Location /paid>
    MPPCharge t
</Location>
"""


@pytest.mark.log_allow(r"the payment store is full .*raise MPPStore size=")
def test_a_full_store_answers_503_and_recovers_when_entries_expire(make):
    s = make("full", body=FULL_CONF)
    s.group_allow = (r"the payment store is full",)
    capacity = replayed(s.log_text())[0]
    assert 100 <= capacity <= 1000, capacity

    def one(_):
        c = fresh(s)
        return c, s.pay(PATH, c, OK)

    t_first = time.monotonic()
    ok, full = 0, []
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        while not full and ok <= capacity:
            for c, r in ex.map(one, range(64)):
                if r.status == 200:
                    receipt(r, c["id"])
                    ok += 1
                else:
                    full.append(r)
    filled = time.monotonic() - t_first
    assert filled < 9, "filling took %.1fs: entries may have expired meanwhile" % filled
    assert full, "no 503 after %d payments into a store of %d entries" % (ok, capacity)
    assert ok == capacity, "%d payments were taken by a store of %d entries" % (ok, capacity)
    for r in full:
        body = unavailable(r)
        assert "full" in body["detail"], body
        assert r.get("Retry-After") == "30", r
    s.wait_log(r"the payment store is full \(\d+ bytes\).*raise MPPStore size=")

    # still full: live entries are never evicted
    unavailable(s.pay(PATH, fresh(s), OK))
    # challenges are still issued
    assert s.get(PATH).status == 402

    # the first entries expire at their challenge's expires (10 s) + 5 s;
    # a full table is swept at most once a second
    deadline = t_first + 10 + 5 + 1 + 5
    while True:
        c = fresh(s)
        r = s.pay(PATH, c, OK)
        if r.status == 200:
            break
        unavailable(r)
        assert time.monotonic() < deadline, "the store did not recover after its entries expired"
        time.sleep(0.25)
    recovered = time.monotonic() - t_first
    # 1 s of slack: expires is written with whole seconds
    assert recovered >= 10 + 5 - 1.5, "a payment was taken %.1fs after the store filled, " \
                                      "before any entry expired" % recovered
    assert r.body == RESOURCE
    receipt(r, c["id"])


# ------------------------------------------------------------ the journal cannot be written

def _fsize_limit(pid, soft=None):
    """Reads (soft is None) or sets the RLIMIT_FSIZE soft limit of a running
    process. A process of another user is changed from a helper running as
    that user, as prlimit(2) allows."""
    try:
        cur = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        if soft is not None:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, cur[1]))
        return cur
    except PermissionError:
        st = os.stat("/proc/%d" % pid)
        code = ("import resource, sys\n"
                "pid, soft = int(sys.argv[1]), sys.argv[2]\n"
                "cur = resource.prlimit(pid, resource.RLIMIT_FSIZE)\n"
                "if soft != 'get': resource.prlimit(pid, resource.RLIMIT_FSIZE, (int(soft), cur[1]))\n"
                "print(cur[0], cur[1])\n")
        p = subprocess.run(["/usr/bin/python3", "-c", code, str(pid),
                            "get" if soft is None else str(soft)],
                           user=st.st_uid, group=st.st_gid, extra_groups=[],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True, timeout=30)
        a, b = p.stdout.split()
        return int(a), int(b)


def _ignores_sigxfsz(pid):
    with open("/proc/%d/status" % pid) as f:
        mask = [l.split()[1] for l in f if l.startswith("SigIgn:")][0]
    return bool(int(mask, 16) & (1 << (signal.SIGXFSZ - 1)))


# The error log goes through a pipe, so that the file size limit below hits
# the journal (the one regular file the children write besides the access
# log, whose failed writes are only warnings) and not the error log; a fixed
# pool of children.
JOURNAL_CONF = CONF + 'ErrorLog "|$exec /bin/cat >> {root}/logs/error.log"\n' + \
    "StartServers 2\nMinSpareServers 1\nMaxSpareServers 2\n"


@pytest.mark.log_allow(r"payment store error \(error\): refusing payments")
def test_a_journal_write_failure_answers_503_and_serves_nothing(make):
    s = make("journal-fails", body=JOURNAL_CONF, mpm="prefork")
    s.group_allow = (r"payment store error",)
    pays(s, fresh(s))
    size = journal(s).stat().st_size
    pids = s.pids()
    for pid in pids[1:]:
        assert _ignores_sigxfsz(pid), "apache2 child %d does not ignore SIGXFSZ" % pid
    # the running server may not make its journal any longer: the next
    # append fails in write(2) with EFBIG, as it would on a full disk. The
    # parent first, so that a child it forks from now on inherits the limit.
    original = _fsize_limit(pids[0])[0]
    try:
        for pid in [pids[0]] + s.pids()[1:]:
            _fsize_limit(pid, size)
        offset = s.log_size()
        c = fresh(s)
        r = s.pay(PATH, c, OK)
        unavailable(r)
        assert "cannot be recorded" in r.json["detail"], r.json
        s.wait_log(r"payment store error \(error\): refusing payments", offset)
        assert journal(s).stat().st_size == size, "a failed append left bytes in the journal"
    finally:
        for pid in s.pids():
            try:
                _fsize_limit(pid, original)
            except (ProcessLookupError, subprocess.CalledProcessError):
                pass    # a child that left meanwhile
    # writable again: the very credential that got 503 is served now (its
    # claim was released, it was never recorded), and new payments are taken
    r = s.pay(PATH, c, OK)
    assert r.status == 200 and r.get("Payment-Receipt"), r
    pays(s, fresh(s))
    assert journal(s).stat().st_size > size


def test_a_second_server_on_the_same_state_dir_is_refused(build, make, tmp_path):
    """Two servers on one journal would rewrite it under each other."""
    s = make("dir-owner", body=CONF)
    pays(s, fresh(s))
    body = CONF + "MPPStore shm size=1M dir=%s\n" % (s.root / "state")
    rc, out = start_failure(build, tmp_path, body)
    assert rc != 0, out
    assert "MPPStore dir=%s is in use by another server" % (s.root / "state") in out, out
    pays(s, fresh(s))   # the first server is untouched


def test_a_state_dir_that_cannot_be_created_stops_the_start(build, tmp_path):
    body = CONF + "MPPStore shm size=1M dir={root}/blocker/state\n"
    (tmp_path / "blocker").write_text("a regular file\n")
    rc, out = start_failure(build, tmp_path, body)
    assert rc != 0, out
    assert "MPPStore dir=%s/blocker/state cannot be created" % tmp_path in out, out


# ------------------------------------------------------------ configtest

def test_configtest_refuses_a_world_writable_state_dir(build, tmp_path):
    d = tmp_path / "open-state"
    d.mkdir()
    os.chmod(d, 0o777)
    _, (rc, out) = configtest_of(build, tmp_path, CONF + "MPPStore shm dir=%s\n" % d)
    assert rc != 0 and "Syntax OK" not in out, out
    assert "MPPStore dir=%s is world-writable" % d in out, out
    assert stat.S_IMODE(d.stat().st_mode) == 0o777, "configtest changed the dir"


def test_start_refuses_a_world_writable_state_dir(build, tmp_path):
    d = tmp_path / "open-state"
    d.mkdir()
    os.chmod(d, 0o777)
    rc, out = start_failure(build, tmp_path, CONF + "MPPStore shm dir=%s\n" % d)
    assert rc != 0, out
    assert "MPPStore dir=%s is world-writable" % d in out, out


@pytest.mark.parametrize("arg,needle", [
    ("size=1K", "between 64K and 64G"),
    ("size=63K", "between 64K and 64G"),
    ("size=65G", "between 64K and 64G"),
    ("size=0", "positive number"),
    ("size=12X", "positive number"),
    ("dir=relative/state", "absolute path"),
    ("colour=blue", "unknown parameter"),
])
def test_configtest_refuses_bad_store_arguments(build, tmp_path, arg, needle):
    _, (rc, out) = configtest_of(build, tmp_path, CONF + "MPPStore shm %s\n" % arg)
    assert rc != 0 and "Syntax OK" not in out, out
    assert "MPPStore" in out and needle in out, out
    key, value = arg.split("=", 1)
    assert (value if key == "size" else arg if key == "dir" else key) in out, out


# ------------------------------------------------------------ the Mutex directive

@pytest.mark.parametrize("mechanism", ["file:{root}/locks", "flock:{root}/locks", "sem"])
def test_the_mutex_directive_applies_to_the_store(make, mechanism):
    files = dict(FILES, **{"locks/README": "lock files of this server\n"})
    s = make("mutex", body=CONF + "Mutex %s mpp-store\n" % mechanism, files=files, mpm="prefork")
    c = fresh(s)
    pays(s, c)
    refused_as_used(s, s.pay(PATH, c, OK), c)
    if mechanism.startswith("flock:"):
        # flock keeps its lock file: the store's mutex is where Mutex put it
        assert (s.root / "locks" / ("mpp-store.%d" % s.proc.pid)).exists(), \
            os.listdir(s.root / "locks")


def test_the_store_mutex_type_is_registered(build, tmp_path):
    (tmp_path / "locks").mkdir()
    _, (rc, out) = configtest_of(build, tmp_path, CONF + "Mutex file:{root}/locks mpp-store\n")
    assert rc == 0 and "Syntax OK" in out, out
    # the control: a type nobody registered is refused by the core
    _, (rc, out) = configtest_of(build, tmp_path, CONF + "Mutex file:{root}/locks mpp-stor\n")
    assert rc != 0 and "mpp-stor" in out, out


def test_a_bogus_mutex_mechanism_is_refused(build, tmp_path):
    body = CONF + "Mutex bogus mpp-store\n"
    _, (rc, out) = configtest_of(build, tmp_path, body)
    assert rc != 0 and "Syntax OK" not in out and "bogus" in out, out
    rc, out = start_failure(build, tmp_path, body)
    assert rc != 0 and "bogus" in out, out


# ------------------------------------------------------------ the state dir

def test_the_state_dir_and_journal_are_private_to_the_server_user(make):
    s = make("private", body=CONF)
    pays(s, fresh(s))
    uid, gid = server_ids()

    def check():
        d = state_dir(s).stat()
        assert stat.S_IMODE(d.st_mode) == 0o700, oct(d.st_mode)
        assert (d.st_uid, d.st_gid) == (uid, gid), (d.st_uid, d.st_gid)
        j = journal(s).stat()
        assert stat.S_ISREG(j.st_mode)
        assert stat.S_IMODE(j.st_mode) == 0o600, oct(j.st_mode)
        assert (j.st_uid, j.st_gid) == (uid, gid), (j.st_uid, j.st_gid)

    check()
    # the journal is rewritten at each start: the new file is private too
    s.stop()
    s.start(keep_log=True)
    pays(s, fresh(s))
    check()


# ------------------------------------------------------------ mpp-store

def _tool(build, *args):
    tool = build.builddir / "tools" / "mpp-store"
    assert tool.exists(), "%s was not built" % tool
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0")   # a sanitizer build of the tool
    p = subprocess.run([str(tool)] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def _fields(text):
    return dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line)


def test_mpp_store_tool_reads_the_journal(build, make):
    s = make("tool", body=CONF)
    d = str(state_dir(s))
    c = fresh(s)
    pays(s, c)
    failed = fresh(s)
    assert s.pay(PATH, failed, {"proof": "fail"}).status == 402
    key = "cid:" + c["id"]

    rc, out, err = _tool(build, "-d", d, "get", key)
    assert rc == 0, (out, err)
    cols = out.rstrip("\n").split("\t")
    assert cols[0] == key, out
    # kept until the challenge's expires + 5 s
    want = parse_rfc3339(c["expires"]) + datetime.timedelta(seconds=5)
    assert parse_rfc3339(cols[1]) == want, (out, c["expires"])

    rc, out, err = _tool(build, "-d", d, "dump")
    assert rc == 0, err
    assert [l.split("\t")[0] for l in out.splitlines()] == [key], out

    rc, out, err = _tool(build, "-d", d, "stat")
    assert rc == 0, err
    f = _fields(out)
    assert f["records"] == "1" and f["live"] == "1" and f["torn_tail"] == "no", out

    # a refused payment left nothing; an unknown key is absent
    for absent in ("cid:" + failed["id"], "cid:no-such-challenge"):
        rc, out, err = _tool(build, "-d", d, "get", absent)
        assert rc == 1 and not out, (absent, out, err)

    # after a restart the journal holds ids only; get still finds the key
    s.stop()
    s.start(keep_log=True)
    rc, out, err = _tool(build, "-d", d, "get", key)
    assert rc == 0 and out.startswith(key + "\t"), (out, err)
    rc, out, err = _tool(build, "-d", d, "dump")
    assert rc == 0, err
    assert [l.split("\t")[0] for l in out.splitlines()] in (
        [key], ["id:" + hashlib.sha256(key.encode()).hexdigest()]), out
