"""The gate across request kinds and httpd's internal machinery: HEAD,
OPTIONS, directory indexes, subrequests (mod_include) and internal
redirects (mod_rewrite [PT], ErrorDocument)."""
import pytest

from checks import assert_payment_response, cache_directives, opaque_of, receipt
from httpd import NETWORKS, OFFER_BASIC, OFFER_TEST

CONF = NETWORKS + OFFER_BASIC + "\n" + OFFER_TEST + r"""
MPPOffer t2 asset=tok price=2 recipient=merchant
<Directory {docroot}>
    Options +Includes
    AddType text/html .shtml
    AddOutputFilter INCLUDES .shtml
</Directory>
<Location /paid>
    MPPCharge t
</Location>
<Location /paid/errdoc>
    ErrorDocument 404 /paid2/404.html
</Location>
<Location /paid2>
    MPPCharge t2
</Location>
<Location /rw>
    MPPCharge t
</Location>
<Directory {docroot}/rw>
    RewriteEngine on
    RewriteRule ^old\.txt$ /paid2/new.txt [PT]
</Directory>
RewriteEngine on
RewriteRule ^/pt/(.*)$ /paid/$1 [PT]
"""

FILES = {
    "htdocs/paid/a.txt": "paid A\n",
    "htdocs/paid/index.html": "<p>index</p>\n",
    "htdocs/paid/page.shtml": 'page[<!--#include virtual="/paid2/part.txt" -->]\n',
    "htdocs/paid/errdoc/.keep": "",
    "htdocs/paid2/part.txt": "part",
    "htdocs/paid2/new.txt": "new target\n",
    "htdocs/paid2/404.html": "custom not found\n",
    "htdocs/free/inc.shtml": 'free[<!--#include virtual="/paid/a.txt" -->]\n',
    "htdocs/rw/old.txt": "old\n",
}


@pytest.fixture(scope="module")
def srv(server_factory):
    return server_factory("phases", body=CONF, files=FILES, modules=["rewrite", "include"])


def challenge(srv, path, method="GET"):
    r = srv.request(method, path)
    assert r.status == 402, r
    return r.challenge("test")


# ------------------------------------------------------------ HEAD / OPTIONS

def test_head_gets_402_scoped_as_get(srv):
    r = srv.request("HEAD", "/paid/a.txt")
    assert r.status == 402, r
    assert r.body == b""
    assert "no-store" in cache_directives(r)
    assert r.challenges
    for c in r.challenges:
        assert opaque_of(c)["scope"] == "GET /paid/a.txt"


def test_get_credential_serves_head(srv):
    c = challenge(srv, "/paid/a.txt", "GET")
    r = srv.pay("/paid/a.txt", c, method="HEAD")
    assert r.status == 200, r
    assert r.body == b""
    receipt(r, c["id"])


def test_head_credential_serves_get(srv):
    c = challenge(srv, "/paid/a.txt", "HEAD")
    r = srv.pay("/paid/a.txt", c, method="GET")
    assert r.status == 200, r
    assert r.body == b"paid A\n"
    receipt(r, c["id"])


def test_get_credential_does_not_serve_post(srv):
    c = challenge(srv, "/paid/a.txt", "GET")
    r = srv.pay("/paid/a.txt", c, method="POST")
    assert_payment_response(r, 402, "invalid-challenge", srv.secret, used_ids=[c["id"]])


def test_options_is_free(srv):
    r = srv.request("OPTIONS", "/paid/a.txt")
    assert r.status != 402, r
    assert 200 <= r.status < 300, r
    assert not r.get_all("WWW-Authenticate")
    assert not r.get_all("Payment-Receipt")


# ------------------------------------------------------------ directory index

def test_directory_index_is_gated(srv):
    r = srv.get("/paid/")
    assert r.status == 402, r
    assert opaque_of(r.challenge("test"))["scope"] == "GET /paid/"


def test_directory_index_is_charged_once(srv):
    c = challenge(srv, "/paid/")
    r = srv.pay("/paid/", c)
    assert r.status == 200, r
    assert r.body == b"<p>index</p>\n"
    receipt(r, c["id"])                                  # exactly one Payment-Receipt
    assert len(r.get_all("Cache-Control")) == 1, r.get_all("Cache-Control")


# ------------------------------------------------------------ subrequests

def test_include_of_another_gated_place_is_not_charged_again(srv):
    c = challenge(srv, "/paid/page.shtml")
    r = srv.pay("/paid/page.shtml", c)
    assert r.status == 200, r
    assert r.body == b"page[part]\n", r.body
    receipt(r, c["id"])


@pytest.mark.log_allow(r"\[include:error\].*unable to include \"/paid/a\.txt\"")
def test_free_page_does_not_leak_a_gated_include(srv):
    r = srv.get("/free/inc.shtml")
    assert r.status == 200, r
    assert b"paid A" not in r.body, r.body
    assert not r.get_all("Payment-Receipt")


# ------------------------------------------------------------ internal redirects

def test_server_rewrite_pt_is_gated_and_charged_once(srv):
    r = srv.get("/pt/a.txt")
    assert r.status == 402, r
    c = r.challenge("test")
    r = srv.pay("/pt/a.txt", c)
    assert r.status == 200, r
    assert r.body == b"paid A\n"
    receipt(r, c["id"])


def test_directory_rewrite_to_another_gated_place_is_gated(srv):
    r = srv.get("/rw/old.txt")
    assert r.status == 402, r
    assert b"new target" not in r.body
    assert opaque_of(r.challenge("test"))["scope"] == "GET /rw/old.txt"


def test_directory_rewrite_to_another_gated_place_is_charged_once(srv):
    c = challenge(srv, "/rw/old.txt")
    r = srv.pay("/rw/old.txt", c)
    assert r.status == 200, r
    assert r.body == b"new target\n"
    assert not r.challenges
    receipt(r, c["id"])          # the paid answer carries its receipt


def test_error_document_in_another_gated_place_is_not_charged_again(srv):
    c = challenge(srv, "/paid/errdoc/missing.txt")
    r = srv.pay("/paid/errdoc/missing.txt", c)
    assert r.status == 404, r
    assert r.body == b"custom not found\n"
    assert not r.challenges
    assert not r.get_all("Payment-Receipt")
