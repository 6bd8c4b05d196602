"""OPTIONS at a place charged with MPPCharge is free but answered by the gate:
no content handler runs for it, so a proxied API (or PHP, CGI) is never
reached without payment."""
import pytest

from httpd import NETWORKS, OFFER_TEST
from upstream import Upstream

CONF = NETWORKS + OFFER_TEST + """
<Location /px/>
    ProxyPass http://127.0.0.1:{up}/
    MPPCharge t
</Location>
"""


@pytest.fixture(scope="module")
def up():
    with Upstream() as u:
        yield u


@pytest.fixture(scope="module")
def srv(server_factory, up):
    return server_factory("options", body=CONF.replace("{up}", str(up.port)),
                          modules=["proxy", "proxy_http"])


def test_options_is_answered_by_the_gate_and_never_forwarded(srv, up):
    up.clear()
    r = srv.request("OPTIONS", "/px/report")
    assert r.status == 204, r
    assert "GET" in r.header("Allow"), r
    assert not r.get_all("WWW-Authenticate") and not r.body
    assert up.requests() == [], "OPTIONS reached the upstream without payment"


def test_get_on_the_same_place_is_charged(srv, up):
    up.clear()
    r = srv.get("/px/report")
    assert r.status == 402, r
    assert up.requests() == []
