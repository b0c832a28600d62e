"""Display updates as the real spice-gtk client sees them.

After every step the client's primary surface must equal the server's
RedDisplay snapshot in every pixel's 24 colour bits (the X byte of
32_xRGB is padding: see helpers.mask_x).
"""

import math
import random

import pytest

from helpers import HOST, random_pixels, solid_pixels, time_limit, wait_until
from spice_harness import CHANNEL_DISPLAY, SpiceClient, wait_client_matches

TIME_LIMIT = 90


def scripted_sequence(server, clients, seed=1234, display=0):
    """Runs fills, draws, overlapping copies and a resize on one display,
    checking every client against the server's snapshot after each step."""
    rng = random.Random(seed)

    def check(what):
        for c in clients:
            wait_client_matches(c, server, display, what=what)

    W, H = server.displays[display]
    check("initial (black) surface")

    server.fill(0, 0, W, H, 0x00336699, display=display)
    server.fill(10, 10, 100, 50, 0xABFFCC00, display=display)  # top byte ignored
    check("fills")

    server.draw(5, 7, 64, 48, random_pixels(rng, 64, 48), display=display)
    # rows with padding: stride > width * 4
    w, h, stride = 37, 21, 37 * 4 + 12
    padded = random_pixels(rng, stride // 4, h)
    server.draw(W - w - 3, H - h - 2, w, h, padded, stride=stride, display=display)
    check("random draws")

    # partly outside the display: clipped on both sides
    server.draw(W - 20, H - 16, 40, 32, random_pixels(rng, 40, 32), display=display)
    server.draw(-8, -6, 24, 20, random_pixels(rng, 24, 20), display=display)
    check("clipped draws")

    # a full-width band of noise so that scrolling moves distinct rows
    server.draw(0, 60, W, 100, random_pixels(rng, W, 100), display=display)
    check("band")

    server.copy_area(0, 20, W, H - 20, 0, 0, display=display)   # scroll up by 20
    check("scroll up (overlapping copy)")
    server.copy_area(0, 0, W, H - 30, 0, 30, display=display)   # scroll down by 30
    check("scroll down (overlapping copy)")
    server.copy_area(0, 0, 200, 100, 13, 5, display=display)    # down-right, overlapping
    server.copy_area(40, 40, 120, 90, 31, 29, display=display)  # up-left, overlapping
    check("diagonal overlapping copies")

    # a burst of small updates (more than any ACK window)
    for i in range(60):
        x, y = rng.randrange(0, W - 8), rng.randrange(0, H - 8)
        if i % 3 == 0:
            server.fill(x, y, 8, 8, rng.getrandbits(32), display=display)
        else:
            server.draw(x, y, 8, 8, random_pixels(rng, 8, 8), display=display)
    check("burst of 60 small updates")

    before = [c.displays[display].primary_creates for c in clients]
    server.resize(400, 300, display=display)
    check("resize to 400x300")
    for c, n in zip(clients, before):
        st = c.displays[display]
        assert (st.width, st.height) == (400, 300), st
        assert st.primary_creates > n, "no new primary surface after resize: %r" % st

    server.draw(300, 200, 100, 100, random_pixels(rng, 100, 100), display=display)
    server.fill(0, 250, 400, 50, 0x00FF00FF, display=display)
    server.copy_area(250, 150, 150, 150, 200, 120, display=display)
    check("drawing after resize")

    server.resize(160, 120, display=display)
    server.draw(0, 0, 160, 120, random_pixels(rng, 160, 120), display=display)
    check("shrink to 160x120 and redraw")


@pytest.mark.parametrize("compression", ["off", "auto", "lz", "glz", "quic"])
def test_display_sequence_one_client(res, compression):
    server = res.server(displays=[(320, 240)], image_compression=compression)
    client = res.client(server)
    st = client.displays[0]
    assert st.format == 32, "primary surface format %s, expected 32_xRGB (32)" % st.format
    assert st.stride >= st.width * 4
    assert (st.width, st.height) == (320, 240)
    scripted_sequence(server, [client], seed=1234)


def text_like_pixels(rng, w, h, ink=0x202020, paper=0xFFFFFF):
    """Rows of 8x16 glyphs from a small random font, as x8r8g8b8 with a
    random X byte: what compresses the way desktop text does."""
    font = [[[rng.random() < 0.3 for _ in range(8)] for _ in range(16)] for _ in range(24)]
    line = [rng.randrange(len(font)) for _ in range(w // 8 + 1)]
    data = bytearray()
    for y in range(h):
        if y % 16 == 0:
            line = [rng.randrange(len(font)) for _ in range(w // 8 + 1)]
        for x in range(w):
            rgb = ink if font[line[x // 8]][y % 16][x % 8] else paper
            data += (rgb | rng.getrandbits(8) << 24).to_bytes(4, "little")
    return bytes(data)


def gradient_pixels(rng, w, h):
    """A horizontal gradient with a little noise on some rows."""
    data = bytearray()
    for y in range(h):
        for x in range(w):
            n = rng.randrange(4) if y % 7 == 0 else 0
            data += bytes((x * 255 // w, (x + n) & 0xFF, 255 - x * 255 // w, 0))
    return bytes(data)


@pytest.mark.parametrize("compression", ["auto", "lz", "glz"])
def test_compressible_content_exact_and_compressed(res, compression):
    """Text, gradients and repeated blocks, as the real client decodes them:
    exact, and in far fewer bytes than the bitmaps."""
    W, H = 480, 320
    server = res.server(displays=[(W, H)], image_compression=compression)
    client = res.client(server)
    rng = random.Random(5)
    wait_client_matches(client, server, 0, what="initial surface")
    channel = client.displays[0].channel
    before = channel.props.total_read_bytes

    server.draw(0, 0, W, 160, text_like_pixels(rng, W, 160))
    check = wait_client_matches
    check(client, server, 0, what="text")
    server.draw(0, 160, W, 100, gradient_pixels(rng, W, 100))
    check(client, server, 0, what="gradient")
    # one block repeated across a wide band: copies from far back
    block = random_pixels(rng, 40, 60, random_x=False)
    rows = [block[y * 160:(y + 1) * 160] * (W // 40) for y in range(60)]
    server.draw(0, 260, W, 60, b"".join(rows))
    check(client, server, 0, what="repeated blocks")
    # narrow and odd-sized updates
    server.draw(3, 5, 1, 200, text_like_pixels(rng, 1, 200))
    server.draw(W - 7, 0, 7, 1, random_pixels(rng, 7, 1))
    server.draw(101, 33, 33, 17, text_like_pixels(rng, 33, 17))
    check(client, server, 0, what="odd sizes")

    raw = W * H * 4
    got = channel.props.total_read_bytes - before
    # the noisy block is a 1/8 of the band, everything else compresses
    assert got < raw / 3, "%s: %d bytes read for %d bytes of bitmaps" % (compression, got, raw)


def test_whole_frame_redraws_of_a_scrolling_document(res):
    """An application that draws every frame whole (an emulator, a screen
    grabber) while a document scrolls: the server finds the scroll in the
    pixels, so spice-gtk gets COPY_BITS and the new lines, stays exact, and
    reads a fraction of what the frames weigh. Uncompressed images, so the
    bytes measure the finding, not a codec."""
    W, H = 320, 240
    server = res.server(displays=[(W, H)], image_compression="off",
                        extra_args=["--streaming-video", "off"])
    client = res.client(server)
    rng = random.Random(11)
    lines = [text_like_pixels(rng, W, 12) for _ in range(60)]

    def frame(top):
        # a 16-pixel toolbar that stays, then the document from line `top`
        toolbar = solid_pixels(W, 16, 0x3B4252)
        rows = b"".join(lines[top + i] for i in range((H - 16) // 12 + 1))
        out = toolbar + rows[:(H - 16) * W * 4]
        assert len(out) == W * H * 4
        return out

    server.draw(0, 0, W, H, frame(0))
    wait_client_matches(client, server, 0, what="first frame")
    channel = client.displays[0].channel
    before = channel.props.total_read_bytes
    steps = [1, 2, 3, 5, 8, 9, 7, 4]  # down and back up
    for top in steps:
        server.draw(0, 0, W, H, frame(top))
        wait_client_matches(client, server, 0, what="document at line %d" % top)
    got = channel.props.total_read_bytes - before
    whole = len(steps) * W * H * 4
    # Each scroll moves at least 14 of 18 lines: the new lines are at most
    # a fifth of each frame, plus the messages.
    print("whole-frame scroll: %d bytes read for %d bytes of frames" % (got, whole))
    assert got < whole / 3, "%d bytes read for %d bytes of frames" % (got, whole)


def test_glz_window_wraps_around(res):
    """Many images through a small GLZ window, tiles coming back after they
    left it: the client must stay exact (a copy from an image it dropped
    would show), and images seen before must cost little."""
    W, H = 256, 192
    server = res.server(displays=[(W, H)], image_compression="glz")
    client = SpiceClient()
    # 64 Ki pixels: about eight 96x80 tiles; the first (whole) image is
    # larger and goes as LZ
    client.session.props.glz_window_size = 4 * 65536
    client.connect(HOST, server.port)
    client.wait_ready(displays=1, server=server)
    res.add_client(client)
    wait_client_matches(client, server, 0, what="initial surface")
    channel = client.displays[0].channel
    rng = random.Random(11)
    # 6 tiles, 8 in the window: most come back while still in it, some
    # after they left it
    tiles = [random_pixels(rng, 96, 80, random_x=False) for _ in range(6)]
    before = channel.props.total_read_bytes
    count = 80
    for n in range(count):
        x, y = rng.randrange(0, W - 96), rng.randrange(0, H - 80)
        server.draw(x, y, 96, 80, tiles[rng.randrange(len(tiles))])
        # one image per tile
        wait_client_matches(client, server, 0, what="after %d tiles" % (n + 1))
    got = channel.props.total_read_bytes - before
    literal = count * 96 * 80 * 3
    # tiles of noise: only copies from earlier images make them cheap
    assert got < literal / 2, "%d bytes read for %d tiles of %d bytes" % (
        got, count, 96 * 80 * 3)


@pytest.mark.parametrize("compression", ["lz", "glz"])
def test_two_displays_share_one_client(res, compression):
    """Two displays (two worker threads, two display channels) of one
    client: with GLZ they share the client's one dictionary and window."""
    server = res.server(displays=[(200, 150), (200, 150)], image_compression=compression)
    client = res.client(server)
    rng = random.Random(13)
    tile = random_pixels(rng, 64, 64, random_x=False)
    for n in range(40):
        d = n % 2
        server.draw(rng.randrange(0, 136), rng.randrange(0, 86), 64, 64, tile, display=d)
        server.draw(rng.randrange(0, 180), rng.randrange(0, 130), 20, 20,
                    random_pixels(rng, 20, 20), display=1 - d)
        if n % 8 == 7:
            wait_client_matches(client, server, 0, what="display 0, round %d" % n)
            wait_client_matches(client, server, 1, what="display 1, round %d" % n)


def photo_pixels(rng, w, h):
    """Smooth waves per channel plus grain: what QUIC's model is for."""
    grain = rng.randbytes(w * h)
    out = bytearray(w * h * 4)
    for y in range(h):
        for x in range(w):
            g = grain[y * w + x] % 11 - 5
            i = (y * w + x) * 4
            for c in range(3):
                v = 128 + 60 * math.sin(x * (0.004 + 0.002 * c) + c) + 55 * math.cos(y * 0.005 + c)
                out[i + c] = min(255, max(0, int(v) + g))
            out[i + 3] = rng.getrandbits(8)
    return bytes(out)


def desktop_pixels(rng, w, h):
    """Flat areas, window-like boxes and text-like strokes: QUIC's runs."""
    out = bytearray(solid_pixels(w, h, 0x2E3440))
    for _ in range(w * h // 200):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        bw, bh = rng.randrange(1, 40), rng.randrange(1, 12)
        color = rng.getrandbits(24).to_bytes(4, "little")
        for y in range(y0, min(h, y0 + bh)):
            for x in range(x0, min(w, x0 + bw)):
                out[(y * w + x) * 4:(y * w + x) * 4 + 4] = color
    return bytes(out)


def test_quic_photo_and_desktop_content(res):
    """QUIC's prediction, context model and run coding through spice-gtk's
    own decoder, on a display wider than one 2048-pixel model step."""
    server = res.server(displays=[(2100, 120)], image_compression="quic")
    client = res.client(server)
    rng = random.Random(2024)
    wait_client_matches(client, server, 0, what="initial surface")
    server.draw(0, 0, 2100, 120, photo_pixels(rng, 2100, 120))
    wait_client_matches(client, server, 0, what="photo-like frame")
    server.draw(0, 0, 2100, 120, desktop_pixels(rng, 2100, 120))
    wait_client_matches(client, server, 0, what="desktop-like frame")
    server.draw(3, 5, 1, 97, photo_pixels(rng, 1, 97))
    server.draw(50, 7, 333, 1, photo_pixels(rng, 333, 1))
    server.draw(400, 9, 7, 3, random_pixels(rng, 7, 3))
    wait_client_matches(client, server, 0, what="thin and odd-sized draws")


def psnr_db(a, b):
    """PSNR over the 24 colour bits of two x8r8g8b8 buffers."""
    total = 0
    count = 0
    for i in range(0, len(a), 4):
        for c in range(3):
            d = a[i + c] - b[i + c]
            total += d * d
        count += 3
    return float("inf") if total == 0 else 10 * math.log10(255 * 255 / (total / count))


def test_jpeg_photo_frames_keep_40_db_through_spice_gtk(res):
    """JPEG images (lossy) decoded by spice-gtk's libjpeg: photo frames at
    the fast-link quality stay above 40 dB PSNR, and they really are JPEG
    (not pixel-exact); odd and thin sizes decode too."""
    W, H = 640, 360
    server = res.server(displays=[(W, H)], image_compression="jpeg")
    client = res.client(server)
    rng = random.Random(4242)
    wait_client_matches(client, server, 0, what="initial surface")
    for step in range(3):
        server.draw(0, 0, W, H, photo_pixels(rng, W, H))
        server.draw(5, 3, 1, 201, photo_pixels(rng, 1, 201))
        server.draw(50, 300, 333, 7, photo_pixels(rng, 333, 7))
        _, _, expected = server.snapshot(0)
        seen = {}

        def close_enough():
            got = client.surface_bytes(0)
            if got is None or len(got) != len(expected):
                return False
            seen["db"] = psnr_db(expected, got)
            return seen["db"] >= 40.0

        assert wait_until(close_enough, 20, interval=0.1, fail_fast=client.first_error,
                          sleep_when_busy=False), (
            "frame %d: %.1f dB%s%s" % (step, seen.get("db", 0), client.state(),
                                       server.diagnostics()))
        assert seen["db"] != float("inf"), "pixel-exact: the images were not JPEG"


@time_limit(150)
def test_four_clients_at_once(res):
    server = res.server(displays=[(320, 240)], image_compression="auto")
    clients = [res.client(server, name="client%d" % i) for i in range(4)]
    events = server.wait_events(4, "client-connected", timeout=10)
    assert len(events) == 4, "client-connected events: %r%s" % (events, server.diagnostics())
    assert server.client_count() == 4
    ids = {e["client"] for e in events}
    assert len(ids) == 4, "client ids should differ: %r" % ids
    scripted_sequence(server, clients, seed=99)


@time_limit(150)
@pytest.mark.parametrize("compression", ["lz", "quic", "lz4"])
def test_clients_share_the_bands_a_stateless_codec_coded(res, compression):
    """Encode once: three clients of one display, exact, and bands one
    client had coded went to the others as they were (the server's debug
    log says so)."""
    server = res.server(displays=[(320, 240)], image_compression=compression,
                        env={"G_MESSAGES_DEBUG": "redspice"})
    clients = [res.client(server, name="client%d" % i) for i in range(3)]
    scripted_sequence(server, clients, seed=5)
    shared = server.stderr_tail(400).count("band as another client had it coded")
    assert shared > 0, "no band was shared%s" % server.diagnostics()


def test_two_displays(res):
    server = res.server(displays=[(320, 240), (200, 150)])
    client = res.client(server)
    display_ids = sorted(cid for (t, cid) in client.channels if t == CHANNEL_DISPLAY)
    assert display_ids == [0, 1], "display channels: %r%s" % (display_ids, client.state())
    assert (client.displays[0].width, client.displays[0].height) == (320, 240)
    assert (client.displays[1].width, client.displays[1].height) == (200, 150)

    rng = random.Random(7)
    server.fill(0, 0, 320, 240, 0x00102030, display=0)
    server.draw(0, 0, 200, 150, random_pixels(rng, 200, 150), display=1)
    wait_client_matches(client, server, 0, what="display 0 after fill")
    wait_client_matches(client, server, 1, what="display 1 after draw")

    # drawing on one display does not touch the other
    server.draw(10, 10, 50, 50, random_pixels(rng, 50, 50), display=0)
    server.copy_area(0, 10, 200, 140, 0, 0, display=1)
    wait_client_matches(client, server, 0, what="display 0 after draw")
    wait_client_matches(client, server, 1, what="display 1 after scroll")

    server.resize(256, 192, display=1)
    server.fill(100, 100, 156, 92, 0x00FFFFFF, display=1)
    wait_client_matches(client, server, 1, what="display 1 after resize")
    wait_client_matches(client, server, 0, what="display 0 after display 1 resized")
    assert (client.displays[0].width, client.displays[0].height) == (320, 240)
