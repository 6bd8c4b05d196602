"""The paywall page: a browser (Accept prefers text/html over JSON) gets a
readable HTML 402 with every MPP header still there; API clients keep the
problem+json body. ErrorDocument 402, when configured, wins for browsers.
The page is also loaded in headless Chromium and screenshotted."""
import html.parser
import os
import re
import shutil
import signal
import struct
import time
import zlib

import pytest

from checks import PROBLEM_JSON, assert_payment_response, cache_directives, check_challenge, content_type
from httpd import EVM_ASSET_ADDRESS, EVM_RECIPIENT, NETWORKS, OFFER_BASIC, OFFER_TEST

SOL_MINT = "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU"
SOL_RECIPIENT = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
UINT256_MAX = ("115792089237316195423570985008687907853269984665640564039457584007913129639935")

CONF = NETWORKS + OFFER_BASIC + ' description="Premium <i>API</i> & \u2014 \'all\'"\n' + OFFER_TEST + """
MPPAsset eth18 network=anvil address=%(asset)s decimals=18
MPPAsset whole network=local address=W decimals=0
MPPOffer frac asset=eth18 amount=1234500000000000000000 recipient=%(rcpt)s
MPPOffer big asset=eth18 amount=%(max)s recipient=%(rcpt)s
MPPOffer tiny asset=eth18 amount=7 recipient=%(rcpt)s
MPPOffer w asset=whole amount=42 recipient=merchant
MPPNetwork sol solana cluster=devnet rpc=http://127.0.0.1:1
MPPAsset susdc network=sol address=%(mint)s decimals=6
MPPOffer s asset=susdc price=0.25 recipient=%(sol_rcpt)s
<Location /paid>
    MPPCharge basic t
</Location>
<Location /one>
    MPPCharge basic
</Location>
<Location /amounts>
    MPPCharge frac big tiny w
</Location>
<Location /sol>
    MPPCharge s
</Location>
<Location /doc-text>
    MPPCharge basic
    ErrorDocument 402 "custom payment text"
</Location>
<Location /doc-page>
    MPPCharge basic
    ErrorDocument 402 /pay.html
</Location>
<Location /doc-inside>
    MPPCharge basic
    ErrorDocument 402 /doc-inside/pay.html
</Location>
<Location /doc-other>
    MPPCharge t
    ErrorDocument 402 /paid/a.txt
</Location>
<Directory {docroot}/ht>
    AllowOverride AuthConfig
</Directory>
""" % {"asset": EVM_ASSET_ADDRESS, "rcpt": EVM_RECIPIENT, "max": UINT256_MAX,
       "mint": SOL_MINT, "sol_rcpt": SOL_RECIPIENT}

FILES = {
    "htdocs/paid/a.txt": "paid A\n",
    "htdocs/one/a.txt": "one\n",
    "htdocs/amounts/a.txt": "amounts\n",
    "htdocs/doc-text/a.txt": "doc\n",
    "htdocs/doc-page/a.txt": "doc\n",
    "htdocs/doc-inside/a.txt": "doc\n",
    "htdocs/doc-inside/pay.html": "<p>inside pay page</p>\n",
    "htdocs/doc-other/a.txt": "doc\n",
    "htdocs/pay.html": "<p>the site's own pay page</p>\n",
    "htdocs/ht/tenant/.htaccess": "MPPCharge basic\nMPPPrice 0.05\n",
    "htdocs/ht/tenant/x.txt": "x\n",
}

# what browsers send on navigation
CHROME = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
          "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
BROWSER = [("Accept", CHROME)]


@pytest.fixture(scope="module")
def srv(server_factory):
    return server_factory("paywall", body=CONF, files=FILES)


class _Page(html.parser.HTMLParser):
    """Visible text, tags and attribute values of a page; checks nesting."""
    VOID = {"meta", "br", "link", "img", "hr", "input"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.tags, self.attrs, self.stack = [], [], [], []
        self.in_head_block = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]
        if tag in ("style", "title"):
            self.in_head_block += 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, "unbalanced </%s> in %r" % (tag, self.stack)
        self.stack.pop()
        if tag in ("style", "title"):
            self.in_head_block -= 1

    def handle_data(self, data):
        if not self.in_head_block:
            self.text.append(data)


def page(r):
    """The parsed HTML paywall of r (status, type and encoding checked)."""
    assert r.status == 402, r
    assert r.get("Content-Type") == "text/html; charset=utf-8", r
    body = r.body.decode("utf-8")          # strict: the page is well-formed UTF-8
    p = _Page()
    p.feed(body)
    p.close()
    assert p.stack == [], p.stack
    p.visible = re.sub(r"\s+", " ", "".join(p.text))
    p.source = body
    return p


def check_mpp_headers(srv, r, n):
    chs = r.challenges
    assert len(chs) == n, r.get_all("WWW-Authenticate")
    for c in chs:
        check_challenge(c, srv.secret)
    assert "no-store" in cache_directives(r), r.get_all("Cache-Control")
    assert not r.get_all("Payment-Receipt")
    return chs


# ------------------------------------------------------------ the page

def test_browser_gets_the_html_page_with_every_mpp_header(srv):
    r = srv.get("/paid/a.txt", BROWSER)
    p = page(r)
    chs = check_mpp_headers(srv, r, 2)
    assert [c["method"] for c in chs] == ["evm", "test"]
    assert r.get_all("PAYMENT-REQUIRED"), "the x402 header must stay for browsers too"
    # the same headers as an API client gets, apart from the body's type and length
    api = srv.get("/paid/a.txt", [("Accept", "application/json")])
    assert content_type(api) == PROBLEM_JSON
    skip = {"content-type", "content-length", "date", "content-security-policy"}
    assert sorted(k.lower() for k, _ in r.headers if k.lower() not in skip) == \
        sorted(k.lower() for k, _ in api.headers if k.lower() not in skip)
    # what a person needs to know
    assert p.tags.count("title") == 1 and "<title>Payment required</title>" in p.source
    assert "Payment required" in p.visible
    assert "Payment is required." in p.visible                    # the problem detail
    assert "/paid/a.txt" in p.visible
    assert "mpp.test" in p.visible                                # the realm
    assert "0.01 usdc" in p.visible                               # 10000 base units, 6 decimals
    assert "1 tok" in p.visible                                   # 100 base units, 2 decimals
    assert "anvil" in p.visible and "chain id 31337" in p.visible
    assert EVM_ASSET_ADDRESS in p.visible and "USD Coin" in p.visible
    assert EVM_RECIPIENT in p.visible and "merchant" in p.visible
    assert "Premium <i>API</i> & \u2014 'all'" in p.visible      # the description, as text
    assert "WWW-Authenticate: Payment" in p.visible
    assert "Authorization: Payment" in p.visible
    assert "mppx" in p.visible and "Machine Payments Protocol" in p.visible
    assert "JSON" in p.visible


def test_page_is_small_and_self_contained(srv):
    p = page(srv.get("/paid/a.txt", BROWSER))
    assert len(p.source.encode()) < 8192, len(p.source)
    assert p.source.startswith("<!DOCTYPE html>")
    assert ("html", "lang", "en") in p.attrs
    assert ("meta", "charset", "utf-8") in p.attrs
    assert ("meta", "name", "viewport") in p.attrs
    assert "style" in p.tags
    for bad in ("script", "link", "img", "iframe", "object", "form"):
        assert bad not in p.tags, bad
    # nothing is fetched from anywhere: no URL in an attribute, no url() in CSS
    assert not [a for a in p.attrs if a[1] in ("src", "href", "action")], p.attrs
    assert "url(" not in p.source and "@import" not in p.source


def test_request_path_is_escaped(srv):
    path = "/paid/%3Cscript%3Ealert(1)%3C/script%3E%22onx=%27y%27%26amp;.txt"
    r = srv.get(path, BROWSER)
    p = page(r)
    check_mpp_headers(srv, r, 2)
    assert "<script" not in p.source.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;onx=&#39;y&#39;&amp;amp;.txt" in p.source
    assert "<script>alert(1)</script>\"onx='y'&amp;.txt" in p.visible   # shown as text
    assert "script" not in p.tags


def test_bytes_that_are_not_utf8_do_not_break_the_page(srv):
    p = page(srv.get("/paid/%FF%C3%28%01x.txt", BROWSER))   # decoded strictly in page()
    assert "/paid/\ufffd\ufffd(\ufffdx.txt" in p.visible


def test_description_is_escaped(srv):
    p = page(srv.get("/one/a.txt", BROWSER))
    assert "Premium &lt;i&gt;API&lt;/i&gt; &amp; \u2014 &#39;all&#39;" in p.source
    assert "i" not in p.tags


@pytest.mark.parametrize("path,shown", [
    ("/amounts/a.txt", ["1234.5 eth18", "0.000000000000000007 eth18", "42 whole",
                        "115792089237316195423570985008687907853269984665640564039457."
                        "584007913129639935 eth18"]),
    ("/ht/tenant/x.txt", ["0.05 usdc"]),
])
def test_prices_in_asset_units(srv, path, shown):
    p = page(srv.get(path, BROWSER))
    for s in shown:
        assert s in p.visible, (s, p.visible)
    assert "0.01 usdc" not in p.visible


def test_solana_offer_shows_its_cluster(srv):
    r = srv.get("/sol/a.txt", BROWSER)
    p = page(r)
    check_mpp_headers(srv, r, 1)
    assert "0.25 susdc" in p.visible
    assert "sol \u00b7 Solana devnet" in p.visible
    assert SOL_MINT in p.visible and SOL_RECIPIENT in p.visible


def test_tenant_price_is_the_one_in_the_challenge(srv):
    r = srv.get("/ht/tenant/x.txt", BROWSER)
    p = page(r)
    req = check_challenge(check_mpp_headers(srv, r, 1)[0])
    assert req["amount"] == "50000"         # the request carries 0.05 usdc in base units ...
    assert "0.05 usdc" in p.visible          # ... and the page says so in asset units


def test_refused_credential_shows_why(srv):
    r = srv.get("/one/a.txt", BROWSER + [("Authorization", "Payment !!!not-base64url")])
    p = page(r)
    check_mpp_headers(srv, r, 1)
    api = srv.get("/one/a.txt", [("Authorization", "Payment !!!not-base64url")])
    detail = assert_payment_response(api, 402, "malformed-credential", srv.secret)["detail"]
    assert detail != "Payment is required."
    assert detail in p.visible


def test_head_has_no_body(srv):
    r = srv.request("HEAD", "/paid/a.txt", BROWSER)
    assert r.status == 402, r
    assert r.body == b""
    assert r.get("Content-Type") == "text/html; charset=utf-8"
    check_mpp_headers(srv, r, 2)


# ------------------------------------------------------------ who gets which

@pytest.mark.parametrize("accept", [
    CHROME,
    FIREFOX,
    "text/html",
    "application/xhtml+xml",
    "text/*",
    "TEXT/HTML;level=1, */*;q=0.1",
    "text/html, application/json;q=0.9",
    "application/json;q=0.5, text/html;q=0.6",
    'text/html;x="a,b;q=0";q=0.9, application/json;q=0.5',
    "text/html ; q=1.0 , */* ; q=0.999",
    "application/json;q=0, text/html;q=0.001",
    "text/html;q=0.9, bogus, application/json;q=0.8",
])
def test_html_is_chosen_for(srv, accept):
    r = srv.get("/one/a.txt", [("Accept", accept)])
    page(r)
    check_mpp_headers(srv, r, 1)


@pytest.mark.parametrize("accept", [
    None,                                            # no Accept
    "",
    "*/*",                                           # curl
    "application/json",
    "application/problem+json",
    "application/json, text/html;q=0.5",
    "text/html;q=0.5, */*",
    "text/html, application/json",                   # a tie keeps JSON
    "text/html;q=0.8, application/*",
    "application/json, text/plain, */*",             # fetch/axios
    "text/html;q=0",
    "text/html;q=0, */*;q=0",
    "text/html;q=2, application/json;q=0.5",         # malformed weight: the range is ignored
    "text/html;q=0.5.5",
    "text/html;q=1.0001",
    'text/html;x="unterminated, application/json',
    "text/html/extra",
    "image/*, application/json",
])
def test_json_is_kept_for(srv, accept):
    hdrs = [] if accept is None else [("Accept", accept)]
    r = srv.get("/one/a.txt", hdrs)
    body = assert_payment_response(r, 402, "payment-required", srv.secret, n_challenges=1)
    assert body["detail"] == "Payment is required."


def test_hostile_accept_is_cheap(srv):
    """Very long values and very many ranges are not parsed (JSON, quickly)."""
    # (httpd itself refuses a field above 8190 bytes)
    for value in ("text/html;q=1," + ", ".join(["a/b;q=0.5"] * 700),
                  ", ".join(["text/html"] * 70),
                  "text/html;" + "x=y;" * 2000,
                  'text/html;x="' + "\\," * 3000 + '"'):
        t = time.monotonic()
        r = srv.get("/one/a.txt", [("Accept", value)])
        assert r.status == 402, r
        assert r.challenges
        assert time.monotonic() - t < 2
    r = srv.get("/one/a.txt", [("Accept", ", ".join(["text/html"] * 70))])
    assert content_type(r) == PROBLEM_JSON
    r = srv.get("/one/a.txt", [("Accept", ", ".join(["text/html"] * 60))])
    page(r)


def test_repeated_accept_fields_are_one_list(srv):
    r = srv.get("/one/a.txt", [("Accept", "application/json;q=0.5"), ("Accept", "text/html")])
    page(r)


# ------------------------------------------------------------ ErrorDocument 402

def test_error_document_text_wins_for_browsers(srv):
    r = srv.get("/doc-text/a.txt", BROWSER)
    assert r.status == 402, r
    assert r.body.strip() == b"custom payment text"
    assert content_type(r) == "text/html"
    check_mpp_headers(srv, r, 1)
    assert r.get_all("PAYMENT-REQUIRED")
    # API clients still get the problem
    api = srv.get("/doc-text/a.txt", [("Accept", "application/json")])
    assert_payment_response(api, 402, "payment-required", srv.secret, n_challenges=1)


def test_error_document_page_wins_for_browsers(srv):
    r = srv.get("/doc-page/a.txt", BROWSER)
    assert r.status == 402, r
    assert r.body == b"<p>the site's own pay page</p>\n"
    assert content_type(r) == "text/html"
    check_mpp_headers(srv, r, 1)
    assert r.get_all("PAYMENT-REQUIRED")
    api = srv.get("/doc-page/a.txt")
    assert_payment_response(api, 402, "payment-required", srv.secret, n_challenges=1)


def test_error_document_page_inside_the_gated_place(srv):
    """httpd runs no access check for an internal redirect within the same
    configuration: the place's own error page is served, as a 402 with the
    challenges of the request."""
    r = srv.get("/doc-inside/a.txt", BROWSER)
    assert r.status == 402, r
    assert r.body == b"<p>inside pay page</p>\n"
    check_mpp_headers(srv, r, 1)


def test_error_document_in_another_priced_place_is_not_served_free(srv):
    """An ErrorDocument naming another priced place is charged like any
    request there: its content never goes out unpaid (httpd falls back to its
    own 402 text)."""
    r = srv.get("/doc-other/a.txt", BROWSER)
    assert r.status == 402, r
    assert b"paid A" not in r.body
    assert r.challenges
    for c in r.challenges:
        check_challenge(c, srv.secret)


# ------------------------------------------------------------ a real browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def png_pixels(data):
    """(width, height, rows of RGB(A) bytes) of a non-interlaced 8-bit PNG,
    decoded with the standard library."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, ihdr
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def _kill_browsers(profile):
    """Chromium processes started with our profile directory, whatever
    happened to the driver."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if ("--user-data-dir=%s" % profile).encode() in cmd:
            try:
                os.kill(int(d), signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def browser(tmp_path):
    # scripts/test.sh installs them (chromium, chromium-driver, python3-selenium)
    from selenium import webdriver
    assert os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), \
        "chromium and chromium-driver are not installed"
    from selenium.webdriver.chrome.service import Service
    profile = tmp_path / "profile"
    profile.mkdir()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--disable-extensions", "--hide-scrollbars",
              "--force-device-scale-factor=1", "--user-data-dir=%s" % profile):
        opts.add_argument(a)
    service = Service(CHROMEDRIVER, log_path=str(tmp_path / "chromedriver.log"))
    driver = None
    try:
        driver = webdriver.Chrome(service=service, options=opts)
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        try:
            if driver is not None:
                driver.quit()
            else:
                service.stop()
        finally:
            _kill_browsers(profile)


@pytest.mark.parametrize("width,mobile,scheme", [(1280, False, "light"), (390, True, "light"),
                                                 (390, True, "dark")])
def test_page_renders_in_chromium(srv, browser, tmp_path, width, mobile, scheme):
    from selenium.webdriver.common.by import By

    def viewport(height):
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    viewport(800)
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-color-scheme", "value": scheme}]})
    browser.get("http://127.0.0.1:%d/paid/a.txt" % srv.port)
    assert browser.title == "Payment required"
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "Payment required" in text
    assert "0.01" in text and "usdc" in text
    assert EVM_RECIPIENT in text
    # the page lays out at the device width (a phone honours the viewport
    # meta) and nothing is wider: long addresses wrap
    assert browser.execute_script("return window.innerWidth") == width
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth")
    # the whole page in one screenshot
    viewport(browser.execute_script("return document.documentElement.scrollHeight"))
    shot = tmp_path / ("paywall-%d-%s.png" % (width, scheme))
    assert browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert len(data) > 5000, len(data)
    w, h, bpp, rows = png_pixels(data)
    assert w == width and h > 600, (w, h)
    colours = set()
    for row in rows[::7]:
        for i in range(0, len(row), bpp * 5):
            colours.add(row[i:i + 3])
    assert len(colours) > 20, "the screenshot is (nearly) one colour: %d colours" % len(colours)
    # text that stands out from its background, in either scheme
    assert min(sum(c) for c in colours) < 200 and max(sum(c) for c in colours) > 600
    keep = os.environ.get("MPP_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, keep)
