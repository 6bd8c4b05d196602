"""Integration tests of mod_mpp against the real Debian apache2.

Run from the project root:

    MPP_BUILDDIR=<build dir> python3 -m pytest -q tests/integration

MPP_BUILDDIR (default <project root>/build) must hold a build of the module
and of the test method (make && make tests/modules/mod_mpp_testmethod.la).

Fixtures: the build under test, servers per test module, and the error log
check that runs after every test and after every group."""
import pytest

from httpd import Build, Httpd, error_lines, new_secret

# servers running now, for the per-test error log check
_RUNNING = []

NEW_SECRET = object()


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "log_allow(*patterns): error log lines (level error or worse) matching one of these "
        "regular expressions are expected in this test")


def pytest_sessionfinish(session, exitstatus):
    # a last resort: no apache2 started here outlives the run
    for s in list(_RUNNING):
        s.stop()


@pytest.fixture(scope="session")
def build():
    b = Build()
    b.check()
    return b


@pytest.fixture(scope="module")
def server_factory(build, tmp_path_factory):
    """make(name, **Httpd kwargs) starts a server that lives until the end of
    the test module; the group's error log is checked when it stops."""
    started = []

    def make(name="httpd", secret=NEW_SECRET, **kw):
        """secret: bytes of the MPPSecretFile; default a new random one;
        None: no MPPSecretFile."""
        root = tmp_path_factory.mktemp(name)
        s = Httpd(build, root, secret=new_secret() if secret is NEW_SECRET else secret, **kw)
        started.append(s)
        _RUNNING.append(s)
        s.start()
        return s

    yield make
    problems = []
    for s in started:
        try:
            s.stop()
        finally:
            if s in _RUNNING:
                _RUNNING.remove(s)
        # lines after the last per-test check (shutdown, late writers)
        bad = error_lines(s.log_since(s._log_checked), getattr(s, "group_allow", ()))
        if bad:
            problems.append("%s: %s" % (s.root, "\n".join(bad)))
    if problems:
        pytest.fail("unexpected error log lines after the group:\n" + "\n".join(problems))


@pytest.fixture(autouse=True)
def _error_log_check(request):
    marker = request.node.get_closest_marker("log_allow")
    allow = tuple(marker.args) if marker else ()
    before = {id(s): s._log_checked for s in _RUNNING}
    yield
    bad = []
    for s in list(_RUNNING):
        size = s.log_size()
        text = s.log_since(before.get(id(s), 0))
        s._log_checked = max(s._log_checked, size)
        for line in error_lines(text, allow):
            bad.append("%s: %s" % (s.root.name, line))
    if bad:
        pytest.fail("unexpected error log lines (level error or worse):\n" + "\n".join(bad),
                    pytrace=False)
