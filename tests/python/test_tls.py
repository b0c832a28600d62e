"""TLS with the real spice-gtk client: a session over the TLS port sees the
display exactly; with `secure-channels` a client given both ports is sent
to the TLS port (NEED_SECURED) and still sees it exactly; a client refuses
a server whose certificate is from another CA, expired, or for another
host; and remote-viewer (under Xvfb) shows the display over TLS."""

import os
import random
import shutil
import subprocess
import sys

import pytest

import rawspice
from helpers import HOST, make_certificate, random_pixels, wait_until
from spice_harness import CHANNEL_MAIN, SpiceClient, wait_client_matches

TIME_LIMIT = 90


@pytest.fixture
def certificate(tmp_path):
    return make_certificate(str(tmp_path), "server")


def tls_server(res, certificate, secure=()):
    cert, key = certificate
    args = ["--tls-port", "0", "--x509-cert-file", cert, "--x509-key-file", key]
    for channel in secure:
        args += ["--secure-channel", channel]
    return res.server(extra_args=args)


def draw_pattern(server):
    rng = random.Random(7)
    w, h = server.displays[0]
    server.draw(0, 0, w, h, random_pixels(rng, w, h))
    server.fill(20, 30, 40, 50, 0x00123456)


def test_a_tls_session_sees_the_display_exactly(res, certificate):
    server = tls_server(res, certificate, secure=["all"])
    assert server.tls_port > 0
    draw_pattern(server)
    client = res.add_client(SpiceClient(name="tls"))
    client.connect(HOST, tls_port=server.tls_port, ca_file=certificate[0])
    client.wait_ready(server=server)
    wait_client_matches(client, server, what="display over TLS")


def test_a_secure_channel_moves_the_client_to_tls(res, certificate):
    server = tls_server(res, certificate, secure=["main", "display"])
    draw_pattern(server)
    # A plain link to the main channel is told to use TLS.
    with rawspice.RawConnection(server.port) as raw:
        assert raw.link(rawspice.MAIN) == rawspice.NEED_SECURED
    client = res.add_client(SpiceClient(name="both ports"))
    client.connect(HOST, server.port, tls_port=server.tls_port, ca_file=certificate[0])
    client.wait_ready(server=server)
    wait_client_matches(client, server, what="display after NEED_SECURED")


def test_a_client_that_trusts_another_ca_refuses_the_server(res, certificate, tmp_path):
    server = tls_server(res, certificate, secure=["all"])
    other_ca, _ = make_certificate(str(tmp_path), "other")
    client = res.add_client(SpiceClient(name="other CA"))
    client.connect(HOST, tls_port=server.tls_port, ca_file=other_ca)
    wait_until(lambda: client.first_error() is not None, 20)
    events = client.events_of(CHANNEL_MAIN)
    assert "ERROR_TLS" in events, (events, client.state())
    assert "OPENED" not in events, events
    assert server.client_count() == 0


def assert_tls_refused(res, server, ca_file, name):
    client = res.add_client(SpiceClient(name=name))
    client.connect(HOST, tls_port=server.tls_port, ca_file=ca_file)
    wait_until(lambda: client.first_error() is not None, 20)
    events = client.events_of(CHANNEL_MAIN)
    assert "ERROR_TLS" in events, (events, client.state())
    assert "OPENED" not in events, events
    assert server.client_count() == 0


def test_an_expired_certificate_is_refused(res, tmp_path):
    cert, key = make_certificate(str(tmp_path), "fresh")
    expired = str(tmp_path / "expired-cert.pem")
    # Re-signed with its own key, valid until yesterday.
    subprocess.run(["openssl", "x509", "-in", cert, "-signkey", key, "-days", "-1",
                    "-out", expired], check=True, capture_output=True)
    server = tls_server(res, (expired, key), secure=["all"])
    assert_tls_refused(res, server, expired, "expired")


def test_a_certificate_for_another_host_is_refused(res, tmp_path):
    cert = str(tmp_path / "elsewhere-cert.pem")
    key = str(tmp_path / "elsewhere-key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=elsewhere.example", "-addext", "subjectAltName=DNS:elsewhere.example",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True)
    server = tls_server(res, (cert, key), secure=["all"])
    assert_tls_refused(res, server, cert, "wrong subject")


# The colour remote-viewer must show: rare enough not to be on the screen
# otherwise.
VIEWER_COLOR = 0x00C0FFEE

# Counts the pixels of one colour on the X screen, through GDK (run with
# Debian's python3 in the Xvfb's DISPLAY).
COUNT_COLOR = """
import sys
import gi
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk
root = Gdk.get_default_root_window()
w, h = root.get_width(), root.get_height()
pixbuf = Gdk.pixbuf_get_from_window(root, 0, 0, w, h)
data = pixbuf.get_pixels()
n, stride = pixbuf.get_n_channels(), pixbuf.get_rowstride()
want = bytes.fromhex(sys.argv[1])
count = 0
for y in range(h):
    row = data[y * stride:y * stride + w * n]
    count += sum(1 for x in range(0, w * n, n) if row[x:x + 3] == want)
print(count)
"""


@pytest.mark.skipif(shutil.which("remote-viewer") is None or shutil.which("Xvfb") is None,
                    reason="remote-viewer or Xvfb missing")
def test_remote_viewer_shows_the_display_over_tls(res, certificate, tmp_path):
    server = tls_server(res, certificate, secure=["all"])
    w, h = server.displays[0]
    server.fill(0, 0, w, h, VIEWER_COLOR)
    display = ":%d" % (90 + os.getpid() % 100)
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, DISPLAY=display)
    env.pop("WAYLAND_DISPLAY", None)
    viewer = None
    try:
        wait_until(lambda: os.path.exists("/tmp/.X11-unix/X%s" % display[1:]), 10)
        viewer = subprocess.Popen(
            ["remote-viewer", "--spice-ca-file=%s" % certificate[0],
             "spice://127.0.0.1?tls-port=%d" % server.tls_port],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert server.wait_event("client-connected", timeout=30) is not None, (
            "remote-viewer did not link over TLS" + server.diagnostics())
        rgb = VIEWER_COLOR.to_bytes(3, "big").hex()
        seen = {}

        def shown():
            out = subprocess.run([sys.executable, "-c", COUNT_COLOR, rgb], env=env,
                                 capture_output=True, text=True, timeout=30)
            seen["pixels"] = int(out.stdout.strip() or 0)
            return seen["pixels"] >= w * h

        assert wait_until(shown, 30, interval=0.5), (
            "remote-viewer shows %d of the %d pixels of the display's colour%s"
            % (seen.get("pixels", 0), w * h, server.diagnostics()))
    finally:
        if viewer is not None:
            viewer.terminate()
            try:
                viewer.wait(10)
            except subprocess.TimeoutExpired:
                viewer.kill()
        xvfb.terminate()
        xvfb.wait(10)
