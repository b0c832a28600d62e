"""Lossy when slow, with the real spice-gtk client on a 10 Mbit/s link: a
photo too large to reach the client losslessly within two frame intervals
shows first as JPEG (close to the photo, not exact), then, once it has
stayed unchanged, exactly. Desktop-like pixels stay lossless, in GLZ
wrapped in zlib.

As in test_slow_link.py, server and client run in one process inside a
network namespace of their own whose loopback tc limits; the test re-runs
this file there (`--inside`), which prints its findings as JSON.
"""

import json
import math
import os
import random
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from test_slow_link import namespace_problem, run_until, spice_session  # noqa: E402

W, H = 640, 480
RATE = "10mbit"
LINK_SETUP = ("ip link set lo up mtu 1500"
              " && tc qdisc add dev lo root tbf rate %s burst 64kbit latency 200ms" % RATE)


def photo_pixels(rng, w, h):
    """Smooth colour waves with a little grain: what GLZ cannot shrink
    below a byte per pixel, and JPEG can."""
    out = bytearray(w * h * 4)
    fx, fy = rng.uniform(20, 40), rng.uniform(20, 40)
    for y in range(h):
        for x in range(w):
            i = (y * w + x) * 4
            out[i] = max(0, min(255, int(127 + 100 * math.sin(x / fx + y / 53.0)) + rng.randint(-6, 6)))
            out[i + 1] = max(0, min(255, int(127 + 100 * math.sin(y / fy + 1)) + rng.randint(-6, 6)))
            out[i + 2] = max(0, min(255, int(127 + 100 * math.sin((x + y) / 61.0 + 2)) + rng.randint(-6, 6)))
    return bytes(out)


def psnr_db(a, b, step=7):
    """PSNR over the colour bytes of every `step`th pixel of two x8r8g8b8
    buffers (a sample: the whole image takes too long in Python)."""
    total = 0
    count = 0
    for i in range(0, len(a), 4 * step):
        for c in range(3):
            d = a[i + c] - b[i + c]
            total += d * d
        count += 3
    return float("inf") if total == 0 else 10 * math.log10(255 * 255 / (total / count))


def inside():
    import gi
    gi.require_version("Red", "1.0")
    from gi.repository import GLib, Red

    from helpers import random_pixels, read_surface, same_colours

    server = Red.Server(port=0)
    display = server.add_display(W, H)
    server.start()
    link = {"rcc": None}

    def on_channel_client(server, rcc):
        if isinstance(rcc, Red.DisplayChannelClient):
            link["rcc"] = rcc

    server.connect("channel-client-connected", on_channel_client)
    state = {}
    session = spice_session(server.props.port, state)
    result = {}
    try:
        if not run_until(time.monotonic() + 30, lambda: state["marked"]):
            result["error"] = "the client never showed the first screen"
            return
        rng = random.Random(11)

        def client_pixels():
            _, _, stride, addr = state["primary"]
            return read_surface(addr, stride, (0, 0, W, H))

        # Noise until the display channel has measured its link.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (link["rcc"] and link["rcc"].props.bandwidth):
            display.draw(0, 0, W, H, GLib.Bytes.new(random_pixels(rng, W, H, random_x=False)), W * 4)
            run_until(time.monotonic() + 0.5)
        result["bandwidth"] = link["rcc"].props.bandwidth if link["rcc"] else 0
        # Let the noise reach the client, exactly (lossy noise included:
        # it settles too).
        result["noise_exact"] = run_until(
            time.monotonic() + 60,
            lambda: same_colours(client_pixels(), display.snapshot()[0].get_data()))

        photo = photo_pixels(rng, W, H)
        display.draw(0, 0, W, H, GLib.Bytes.new(photo), W * 4)
        drawn = time.monotonic()
        # Watch the client's pixels: the best approximation seen before
        # they were exact, and when they became exact.
        best_lossy_db = 0.0
        lossy_after = None
        exact_after = None
        while time.monotonic() - drawn < 30:
            run_until(time.monotonic() + 0.02)
            got = client_pixels()
            if same_colours(got, photo):
                exact_after = time.monotonic() - drawn
                break
            db = psnr_db(photo, got)
            if db >= 30 and lossy_after is None:
                lossy_after = time.monotonic() - drawn
            best_lossy_db = max(best_lossy_db, db)
        result["best_lossy_db"] = best_lossy_db
        result["lossy_after_s"] = lossy_after
        result["exact_after_s"] = exact_after

        from test_client_display import desktop_pixels
        desktop = desktop_pixels(rng, W, H)
        display.draw(0, 0, W, H, GLib.Bytes.new(desktop), W * 4)
        result["desktop_exact"] = run_until(
            time.monotonic() + 30, lambda: same_colours(client_pixels(), desktop))
    finally:
        print(json.dumps(result))
        session.disconnect()
        server.stop()


def run_inside():
    import pytest

    why = namespace_problem()
    if why:
        pytest.skip(why)
    # The server's debug log (on stdout, as GLib writes debug messages)
    # says which images were wrapped in zlib.
    env = dict(os.environ, G_MESSAGES_DEBUG="redspice")
    child = subprocess.run(
        ["unshare", "-n", "sh", "-c", LINK_SETUP + ' && exec "$0" "$1" --inside',
         sys.executable, os.path.abspath(__file__)],
        capture_output=True, text=True, timeout=240, env=env)
    lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
    assert child.returncode == 0 and lines, "the run in the namespace failed:\n%s\n%s" % (
        child.stdout[-2000:], child.stderr[-4000:])
    result = json.loads(lines[-1])
    result["zlib_glz_images"] = child.stdout.count("GLZ image wrapped in zlib")
    print(result)
    return result


def test_a_photo_shows_lossy_first_then_exact_on_a_slow_link():
    result = run_inside()
    assert "error" not in result, result
    assert result["bandwidth"] > 0, result
    assert result["noise_exact"], result
    # The whole photo was on the client, close but not exact: JPEG (a
    # lossless update arrives band by band, over the noise, far below).
    assert result["best_lossy_db"] >= 30, result
    # Then the lossless pixels followed.
    assert result["exact_after_s"] is not None, result
    # Desktop-like pixels, lossless from the start, some of them as
    # zlib-wrapped GLZ (the link is below 100 Mbit/s).
    assert result["desktop_exact"], result
    assert result["zlib_glz_images"] > 0, result


if __name__ == "__main__":
    if "--inside" in sys.argv:
        inside()
