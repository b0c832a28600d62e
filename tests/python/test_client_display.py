"""Display updates as the real spice-gtk client sees them.

After every step the client's primary surface must equal the server's
RedDisplay snapshot in every pixel's 24 colour bits (the X byte of
32_xRGB is padding: see helpers.mask_x).
"""

import math
import random

import pytest

from helpers import HOST, random_pixels, solid_pixels, time_limit
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


@pytest.mark.parametrize("compression", ["off", "auto", "lz", "glz", "quic"])


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
