"""spice-html5 (Debian's, /usr/share/spice-html5) in headless Chromium,
connected straight to redspice's port: the server answers the page's
WebSocket upgrade itself, no websockify in between.

The page is served over HTTP by a small server in this process (its ES
modules do not load from file://). Selenium drives Chromium through
chromedriver; the canvas is read back with getImageData and compared with
the server's own pixels, exactly; key and click go in through the
browser's input pipeline (ActionChains) and must come out as RedServer
signals; the cursor is what spice-html5 puts in the screen's CSS `cursor`
(a data: URL of a PNG made from the SPICE cursor's bytes).

Chromium runs as root here, so it needs --no-sandbox; the
background-networking flags keep it from dialling out, which a closed
network refuses.
"""

import base64
import functools
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import SOURCE_DIR, bgrx_to_rgb, make_certificate, wait_until

TIME_LIMIT = 180

HTML5_DIR = "/usr/share/spice-html5"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

# How long the page may take to link and paint (Chromium starts slowly on
# a loaded machine).
PAGE_TIMEOUT = 60


def _missing():
    what = []
    if not os.path.exists(os.path.join(HTML5_DIR, "spice_auto.html")):
        what.append("spice-html5 (%s)" % HTML5_DIR)
    if not os.access(CHROMIUM, os.X_OK):
        what.append("chromium")
    if not os.access(CHROMEDRIVER, os.X_OK):
        what.append("chromedriver (chromium-driver)")
    if importlib.util.find_spec("selenium") is None:
        what.append("python3-selenium")
    return what


pytestmark = pytest.mark.skipif(
    bool(_missing()),
    reason="spice-html5 in Chromium needs Debian's %s (tools/setup installs them)"
    % ", ".join(_missing()))


# --------------------------------------------------------------------------
# The page's web server and the browser


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_directory(directory, ssl_context=None):
    """An HTTP(S) server of `directory` on 127.0.0.1 in a thread; returns it
    (its port is server_address[1]); shut it down with shutdown()."""
    handler = functools.partial(_QuietHandler, directory=directory)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    if ssl_context is not None:
        httpd.socket = ssl_context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture(scope="module")
def page_server():
    httpd = serve_directory(HTML5_DIR)
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def start_chromium(extra_args=()):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="redspice-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                # Room for a 1024x768 canvas below the page's banner: the
                # pointer must land on it.
                "--window-size=1400,1200",
                "--user-data-dir=" + profile, *extra_args):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(30)
    driver.profile_dir = profile
    return driver


def stop_chromium(driver):
    try:
        driver.quit()
    finally:
        shutil.rmtree(driver.profile_dir, ignore_errors=True)


@pytest.fixture
def browser():
    driver = start_chromium()
    yield driver
    stop_chromium(driver)


def open_client(driver, page_url, port):
    """Loads spice_auto.html pointed at redspice's `port`."""
    query = urllib.parse.urlencode({"host": "127.0.0.1", "port": port})
    driver.get("%s/spice_auto.html?%s" % (page_url, query))


def console(driver):
    """The page's console, for failure messages."""
    try:
        lines = [e["message"] for e in driver.get_log("browser")]
    except Exception as e:  # noqa: BLE001 - diagnostics only
        return "\n(no browser log: %s)" % e
    return "\nbrowser console:\n  " + "\n  ".join(lines[-30:])


# --------------------------------------------------------------------------
# Reading the page


CANVAS_SIZE_JS = """
const c = document.getElementById('spice_surface_0');
return c ? [c.width, c.height] : null;
"""

# The canvas as RGB bytes, base64 (getImageData gives RGBA; every pixel of
# the primary surface is opaque, spice-html5 forces alpha to 255).
CANVAS_RGB_JS = """
const c = document.getElementById('spice_surface_0');
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
const rgb = new Uint8Array(c.width * c.height * 3);
let opaque = true;
for (let i = 0, j = 0; i < d.length; i += 4, j += 3) {
    rgb[j] = d[i]; rgb[j + 1] = d[i + 1]; rgb[j + 2] = d[i + 2];
    if (d[i + 3] !== 255) opaque = false;
}
let s = '';
for (let i = 0; i < rgb.length; i += 0x8000)
    s += String.fromCharCode.apply(null, rgb.subarray(i, i + 0x8000));
return [btoa(s), opaque];
"""

CURSOR_JS = "return document.getElementById('spice-screen').style.cursor;"


def canvas_rgb(driver):
    """(RGB bytes, whether every pixel is opaque): a canvas not yet drawn
    all over has transparent pixels."""
    data, opaque = driver.execute_script(CANVAS_RGB_JS)
    return base64.b64decode(data), opaque


def wait_canvas(driver, size):
    """Waits for the primary surface's canvas of `size`."""
    ok = wait_until(lambda: driver.execute_script(CANVAS_SIZE_JS) == list(size),
                    PAGE_TIMEOUT, interval=0.2)
    assert ok, "no %dx%d canvas (%r)%s" % (
        size[0], size[1], driver.execute_script(CANVAS_SIZE_JS), console(driver))


def wait_canvas_equals(driver, expected_rgb, size):
    """Waits until the canvas shows exactly `expected_rgb`; on a timeout,
    fails with where it differs."""
    wait_canvas(driver, size)
    seen = [b"", False]

    def same():
        seen[0], seen[1] = canvas_rgb(driver)
        return seen[1] and seen[0] == expected_rgb

    if wait_until(same, PAGE_TIMEOUT, interval=0.5):
        return
    got = seen[0]
    if not seen[1]:
        pytest.fail("the canvas still has pixels that are not opaque%s" % console(driver))
    w = size[0]
    if len(got) != len(expected_rgb):
        pytest.fail("the canvas has %d bytes of RGB, the frame %d%s" % (
            len(got), len(expected_rgb), console(driver)))
    bad = [i // 3 for i in range(0, len(expected_rgb), 3)
           if got[i:i + 3] != expected_rgb[i:i + 3]]
    first = bad[0]
    pytest.fail("the canvas differs from the server's frame in %d pixels; first (%d,%d): "
                "expected %s got %s%s" % (
                    len(bad), first % w, first // w, expected_rgb[first * 3:first * 3 + 3].hex(),
                    got[first * 3:first * 3 + 3].hex(), console(driver)))


# The cursor spice-html5 put on its screen, decoded by Chromium itself: the
# data: URL loaded as an image and drawn on a canvas of its size. Resolves
# to [width, height, hot_x, hot_y, RGBA base64], or to the CSS text when it
# holds no image, or to an error text when Chromium cannot decode it.
# (spice-html5's PNG writer is loose: its stored deflate block has
# big-endian lengths, which zlib refuses and Chromium's decoder accepts;
# what counts is what the browser shows.)
CURSOR_IMAGE_JS = """
const done = arguments[arguments.length - 1];
const css = document.getElementById('spice-screen').style.cursor;
const found = /url\\("?(data:image\\/png,[^")]*)"?\\)\\s+(\\d+)\\s+(\\d+)/.exec(css);
if (!found) { done(css); return; }
const img = new Image();
img.onerror = () => done('undecodable: ' + css.slice(0, 200));
img.onload = () => {
    const c = document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let s = '';
    for (let i = 0; i < d.length; i++) s += String.fromCharCode(d[i]);
    done([c.width, c.height, parseInt(found[2]), parseInt(found[3]), btoa(s)]);
};
img.src = found[1];
"""


def shown_cursor(driver):
    """(width, height, hot_x, hot_y, RGBA bytes) of the cursor spice-html5
    set on its screen as Chromium decodes it, or a text saying what is
    there instead."""
    shown = driver.execute_async_script(CURSOR_IMAGE_JS)
    if isinstance(shown, list):
        return tuple(shown[:4]) + (base64.b64decode(shown[4]),)
    return shown


# --------------------------------------------------------------------------
# Input through the browser


def click_and_type(driver, x, y):
    """A left click at canvas pixel (x, y), then the key 'a'."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.ID, "spice_surface_0")
    # Offsets are from the element's centre (W3C WebDriver).
    width, height = driver.execute_script(CANVAS_SIZE_JS)
    ActionChains(driver).move_to_element_with_offset(
        canvas, x - width // 2, y - height // 2).click().perform()
    ActionChains(driver).send_keys("a").perform()


# --------------------------------------------------------------------------
# The demo, as the README's acceptance asks


def start_demo(tmp_path):
    """The gjs demo, frozen after 10 frames with the frame's pixels in
    tmp_path/frame.raw; returns (process, port, stdout lines so far, reader)."""
    raw = tmp_path / "frame.raw"
    env = dict(os.environ, REDSPICE_PORT="0", REDSPICE_DEMO_FRAMES="10",
               REDSPICE_DEMO_RAW=str(raw), REDSPICE_DEMO_SECONDS="150")
    demo = subprocess.Popen(
        ["gjs", "-m", os.path.join(SOURCE_DIR, "examples", "gjs", "desktop.js")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    lines, port = [], None
    for line in demo.stdout:
        lines.append(line.rstrip("\n"))
        found = re.search(r"spice://127\.0\.0\.1:(\d+)", line)
        if found:
            port = int(found[1])
        if line.strip() == "frozen":
            break
    assert port, "the demo printed no URI: %r" % lines
    assert lines and lines[-1] == "frozen", "the demo did not freeze: %r" % lines

    def read_rest():
        for line in demo.stdout:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read_rest, daemon=True)
    reader.start()
    return demo, port, lines, raw


def test_the_demo_in_chromium_is_exact_takes_key_and_click_and_shows_the_cursor(
        tmp_path, page_server, browser):
    demo, port, lines, raw = start_demo(tmp_path)
    try:
        expected = bgrx_to_rgb(raw.read_bytes())
        open_client(browser, "http://127.0.0.1:%d" % page_server.server_address[1], port)
        wait_canvas_equals(browser, expected, (1024, 768))
        assert any(re.fullmatch(r"client \d+ connected from 127\.0\.0\.1:\d+", l) for l in lines), lines

        # The demo's 32x32 arrow, hot spot (1, 1): set before the page came.
        assert wait_until(lambda: isinstance(shown_cursor(browser), tuple), PAGE_TIMEOUT,
                          interval=0.2), "no cursor image: %r%s" % (
                              (browser.execute_script(CURSOR_JS) or "")[:200], console(browser))
        width, height, hot_x, hot_y, rgba = shown_cursor(browser)
        assert (width, height, hot_x, hot_y) == (32, 32, 1, 1)
        # The arrow: an opaque outline at its tip, clear at the far corner.
        assert rgba[(2 * 32 + 1) * 4 + 3] == 255 and rgba[(31 * 32 + 31) * 4 + 3] == 0

        click_and_type(browser, 300, 500)
        want = ["pointer at 300,500 on display 0 buttons 0x0",
                "button 1 pressed buttons 0x1", "button 1 released buttons 0x0",
                "key 0x1e pressed", "key 0x1e released"]
        assert wait_until(lambda: all(w in lines for w in want), 30, interval=0.1), (
            "not every input arrived: %r of %r%s" % (lines, want, console(browser)))
        # In this order (pointer first: the demo follows it).
        assert [l for l in lines if l in want] == want, lines
    finally:
        demo.terminate()
        demo.wait(timeout=20)


# --------------------------------------------------------------------------
# A server of the tests' own: exact pixels, every cursor transition


def cursor_wire_bytes():
    """A 16x16 premultiplied ARGB32 cursor (bytes B,G,R,A) and the bytes
    SPICE carries for it: straight alpha, B,G,R,A. spice-html5 puts the
    latter into its PNG as they are (so it shows red and blue swapped: its
    own bug, it reads SPICE's little-endian ARGB as RGBA)."""
    premultiplied, wire = bytearray(), bytearray()
    for y in range(16):
        for x in range(16):
            if x == y:
                a, r, g, b = 255, 255, 255, 255
            elif x < 2 or y < 2:
                a, r, g, b = 255, 0x10, 0x20, 0x30
            elif (x + y) % 3 == 0:
                a, r, g, b = 0, 0, 0, 0
            else:
                # alpha 0x55 divides 255: un-premultiplying is exact
                a, r, g, b = 0x55, 0x55, 0x22, 0x0A
            premultiplied += bytes((b, g, r, a))
            if a:
                wire += bytes((b * 255 // a, g * 255 // a, r * 255 // a, a))
            else:
                wire += bytes(4)
    return bytes(premultiplied), bytes(wire)


def pattern(w, h, seed):
    """x8r8g8b8 pixels with structure and noise (exercises LZ and QUIC
    the way a desktop does)."""
    import random

    rng = random.Random(seed)
    out = bytearray()
    for y in range(h):
        for x in range(w):
            if (x // 16 + y // 16) % 2:
                out += bytes((x & 255, y & 255, (x * y) & 255, 0))
            else:
                out += bytes((rng.randrange(256), rng.randrange(256), rng.randrange(256), 0))
    return bytes(out)


def b64(data):
    return base64.b64encode(data).decode("ascii")


def snapshot_rgb(server):
    snap = server.command("snapshot")
    return (snap["width"], snap["height"]), bgrx_to_rgb(base64.b64decode(snap["pixels"]))


def check_page(server, driver, page_url, hot=(3, 5)):
    """The page at `page_url` links to `server` (already set up with a
    picture and the cursor of cursor_wire_bytes), shows the picture exactly
    and the cursor, then follows a new picture, a hidden and shown cursor,
    and passes a click and a key on."""
    premultiplied, wire = cursor_wire_bytes()
    driver.get(page_url)
    size, expected = snapshot_rgb(server)
    wait_canvas_equals(driver, expected, size)

    def cursor_is(expected_hot):
        shown = shown_cursor(driver)
        return isinstance(shown, tuple) and shown == (16, 16) + expected_hot + (wire,)

    assert wait_until(lambda: cursor_is(hot), PAGE_TIMEOUT, interval=0.2), (
        "cursor: %r%s" % (str(shown_cursor(driver))[:300], console(driver)))

    # Updates while connected: pixels (fill and draw), then the cursor hidden
    # and shown again (the same shape: spice-gtk has it in its cache, the
    # browser has none), then a new shape.
    server.command("fill", x=10, y=20, w=50, h=30, color=0x00C0FFEE)
    server.command("draw", x=100, y=60, w=64, h=48, pixels=b64(pattern(64, 48, 7)))
    size, expected = snapshot_rgb(server)
    wait_canvas_equals(driver, expected, size)
    server.command("hide_cursor")
    assert wait_until(lambda: driver.execute_script(CURSOR_JS) == "none", 30, interval=0.1), (
        driver.execute_script(CURSOR_JS)[:200])
    server.command("move_cursor", x=40, y=40)
    assert wait_until(lambda: cursor_is(hot), 30, interval=0.1), (
        "cursor shown again: %r%s" % (str(shown_cursor(driver))[:300], console(driver)))
    server.command("set_cursor", w=16, h=16, hot_x=7, hot_y=2, pixels=b64(premultiplied))
    assert wait_until(lambda: cursor_is((7, 2)), 30, interval=0.1), (
        "new cursor: %r%s" % (str(shown_cursor(driver))[:300], console(driver)))

    server.events(0.1)
    click_and_type(driver, 70, 90)
    events = server.wait_events(
        5, ("key-event", "button-event", "pointer-position", "pointer-motion"), timeout=30)
    got = [{k: v for k, v in e.items() if k != "t"} for e in events]
    assert got == [
        {"event": "pointer-position", "display": 0, "x": 70, "y": 90, "buttons": 0},
        {"event": "button-event", "button": 1, "pressed": True, "buttons": 1},
        {"event": "button-event", "button": 1, "pressed": False, "buttons": 0},
        {"event": "key-event", "scancode": 0x1E, "pressed": True},
        {"event": "key-event", "scancode": 0x1E, "pressed": False},
    ], got


def set_up(server, hot=(3, 5)):
    premultiplied, _ = cursor_wire_bytes()
    server.command("draw", x=0, y=0, w=320, h=240, pixels=b64(pattern(320, 240, 1)))
    server.command("set_cursor", w=16, h=16, hot_x=hot[0], hot_y=hot[1],
                   pixels=b64(premultiplied))


@pytest.mark.parametrize("compression", ["off", "lz", "quic", "auto"])
def test_pixels_cursor_and_input_on_the_plain_port(res, page_server, browser, compression):
    server = res.server(image_compression=compression)
    set_up(server)
    url = "http://127.0.0.1:%d/spice_auto.html?host=127.0.0.1&port=%d" % (
        page_server.server_address[1], server.port)
    check_page(server, browser, url)


def test_pixels_cursor_and_input_on_the_tls_port(res, tmp_path):
    """wss:// to the TLS port: the page comes over HTTPS (spice_auto.html
    picks wss:// then), both with a self-signed certificate that Chromium
    is told to accept."""
    import ssl


    cert, key = make_certificate(str(tmp_path), "server")
    server = res.server(extra_args=["--tls-port", "0", "--x509-cert-file", cert,
                                    "--x509-key-file", key])
    set_up(server)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = serve_directory(HTML5_DIR, context)
    driver = start_chromium(["--ignore-certificate-errors"])
    try:
        url = "https://127.0.0.1:%d/spice_auto.html?host=127.0.0.1&port=%d" % (
            httpd.server_address[1], server.tls_port)
        check_page(server, driver, url)
    finally:
        stop_chromium(driver)
        httpd.shutdown()
        httpd.server_close()
