"""A full-screen video stream over a 10 Mbit/s link, with the real spice-gtk
client: frames must be shown, and soon after the application drew them.

The server and the client run in one process inside a network namespace of
their own (`unshare -n`) whose loopback has a 1500-byte MTU and a tc token
bucket of 10 Mbit/s (as `tools/bench --link 10mbit`). The test re-runs this
file there (`python3 test_slow_link.py --inside`), which prints its figures
as JSON; the test checks them.

Every frame carries its number in a stamp of black and white blocks
(`benches/latency.py`); the client reads it from its own surface at every
`display-invalidate`, so latency is measured from the stamp: from when the
application drew frame n to when the client first showed n, on one clock.
"""

import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "benches"))

from latency import STAMP_BLOCK, STAMP_WIDTH, percentile, read_stamp, stamp_row  # noqa: E402

W, H = 1280, 720
FPS = 30
SECONDS = 12.0
# The first seconds are the first screen, stream detection and the
# playout delay settling: figures are taken after them.
WARMUP = 4.0
RATE = "10mbit"
LINK_SETUP = ("ip link set lo up mtu 1500"
              " && tc qdisc add dev lo root tbf rate %s burst 64kbit latency 200ms" % RATE)
# Where the client reads the stamp: rows across the blocks, and each
# block's columns but a few pixels on either side (lossy codecs blur edges).
STAMP_ROWS = (5, 8, 11)
STAMP_INSET = 5


def base_row():
    """A long row of smooth, video-like x8r8g8b8 pixels; frame rows are
    windows of it, shifted per row and per frame."""
    import math
    n = W + H * 3 + 8 * 64
    out = bytearray(n * 4)
    for x in range(n):
        out[x * 4] = int(127 + 120 * math.sin(x / 41.0))
        out[x * 4 + 1] = int(127 + 120 * math.sin(x / 67.0 + 1))
        out[x * 4 + 2] = int(127 + 120 * math.sin(x / 23.0 + 2))
    return bytes(out)


def frame(base, n):
    """Frame n: the moving picture with n's stamp at the top-left."""
    shift = (n % 8) * 64
    pixels = bytearray(b"".join(
        base[(y * 3 + shift) * 4:(y * 3 + shift + W) * 4] for y in range(H)))
    row = stamp_row(n)
    for y in range(STAMP_BLOCK):
        pixels[y * W * 4:y * W * 4 + STAMP_WIDTH * 4] = row
    return pixels


def spice_session(port, state, on_invalidate=None):
    """spice-gtk connected to 127.0.0.1:`port`, every channel linked.
    `state` gets "primary" = (width, height, stride, address) of the
    primary surface and "marked" = True once the first screen is whole."""
    import gi
    gi.require_version("SpiceClientGLib", "2.0")
    from gi.repository import GObject
    from gi.repository import SpiceClientGLib as Spice

    state.setdefault("primary", None)
    state.setdefault("marked", False)

    def on_channel(session, channel):
        if isinstance(channel, Spice.DisplayChannel):
            GObject.Object.connect(
                channel, "display-primary-create",
                lambda ch, fmt, pw, ph, stride, shmid, data: state.update(primary=(pw, ph, stride, data)))
            GObject.Object.connect(channel, "display-mark", lambda ch, m: state.update(marked=True))
            if on_invalidate is not None:
                GObject.Object.connect(channel, "display-invalidate", on_invalidate)
        if not isinstance(channel, Spice.MainChannel):
            Spice.Channel.connect(channel)

    session = Spice.Session()
    session.props.host = "127.0.0.1"
    session.props.port = str(port)
    GObject.Object.connect(session, "channel-new", on_channel)
    session.connect()
    return session


def run_until(deadline, pred=lambda: False):
    """Iterates the default main context until `pred()` or `deadline`;
    returns `pred()`."""
    from gi.repository import GLib

    ctx = GLib.MainContext.default()
    while time.monotonic() < deadline and not pred():
        ctx.iteration(False)
        time.sleep(0.001)
    return pred()


def inside():
    """Runs in the namespace: server and client, then prints the figures."""
    import gi
    gi.require_version("Red", "1.0")
    from gi.repository import GLib, Red

    import threading

    server = Red.Server(port=0)
    display = server.add_display(W, H)
    display.fill(0, 0, W, H, 0x303030)
    server.start()

    # The display channel client's link estimates, and the threads their
    # notify comes on (the application's: this one).
    link = {"rcc": None, "notified": 0, "other_thread": 0}

    def on_notify(rcc, pspec):
        link["notified"] += 1
        if threading.get_native_id() != threading.main_thread().native_id:
            link["other_thread"] += 1

    def on_channel_client(server, rcc):
        if isinstance(rcc, Red.DisplayChannelClient):
            link["rcc"] = rcc
            rcc.connect("notify::bandwidth", on_notify)
        elif isinstance(rcc, Red.MainChannelClient):
            link["main"] = rcc

    server.connect("channel-client-connected", on_channel_client)

    state = {"primary": None, "marked": False, "shown": {}, "bad": 0}

    def on_invalidate(channel, x, y, w, h):
        if not state["primary"] or x >= STAMP_WIDTH or y >= STAMP_BLOCK:
            return
        now = time.monotonic()
        _, _, stride, addr = state["primary"]
        n = read_stamp(addr, stride, 0, 0, STAMP_ROWS, STAMP_INSET)
        if n is None:
            state["bad"] += 1
        elif n not in state["shown"]:
            state["shown"][n] = now

    session = spice_session(server.props.port, state, on_invalidate)

    run_until(time.monotonic() + 30, lambda: state["marked"])
    if not state["marked"]:
        print(json.dumps({"error": "the client never showed the first screen"}))
        return

    base = base_row()
    drawn = {}
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < SECONDS:
        run_until(start + n / FPS)
        pixels = frame(base, n)
        drawn[n] = time.monotonic()
        display.draw(0, 0, W, H, GLib.Bytes.new(bytes(pixels)), W * 4)
        n += 1
    run_until(time.monotonic() + 1.0)

    shown = {k: v for k, v in state["shown"].items() if k in drawn and drawn[k] - start >= WARMUP}
    latencies = [1000 * (t - drawn[k]) for k, t in shown.items()]
    print(json.dumps({
        "drawn": len([k for k in drawn if drawn[k] - start >= WARMUP]),
        "shown": len(shown),
        "seconds": SECONDS - WARMUP,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "bad_stamps": state["bad"],
        "encoded": display.props.frames_encoded,
        "bandwidth": link["rcc"].props.bandwidth if link["rcc"] else None,
        # The main channel's network test at connect (bulk PING).
        "main_bandwidth": link["main"].props.bandwidth if link.get("main") else None,
        "round_trip_us": link["rcc"].props.round_trip_time if link["rcc"] else None,
        "bandwidth_notified": link["notified"],
        "notified_off_main_thread": link["other_thread"],
    }))
    session.disconnect()
    server.stop()


def inside_scroll():
    """Runs in the namespace: a document scrolled faster than the link
    carries it, drawn by lines of noise; prints whether the client ends with
    exactly the server's pixels."""
    import random

    import gi
    gi.require_version("Red", "1.0")
    from gi.repository import GLib, Red

    sys.path.insert(0, HERE)
    from helpers import random_pixels, read_surface, same_colours

    w, h, line = 640, 480, 24
    server = Red.Server(port=0)
    display = server.add_display(w, h)
    server.start()
    state = {}
    session = spice_session(server.props.port, state)

    run_until(time.monotonic() + 30, lambda: state["marked"])
    rng = random.Random(7)
    display.draw(0, 0, w, h, GLib.Bytes.new(random_pixels(rng, w, h)), w * 4)
    # Scrolls with new noise lines at 60 per second: the link falls behind,
    # so copies find parts of their source not yet sent.
    for i in range(120):
        display.copy_area(0, line, w, h - line, 0, 0)
        display.draw(0, h - line, w, line, GLib.Bytes.new(random_pixels(rng, w, line)), w * 4)
        run_until(time.monotonic() + 1 / 60)

    def exact():
        pw, ph, stride, addr = state["primary"]
        return same_colours(read_surface(addr, stride, (0, 0, w, h)), display.snapshot()[0].get_data())

    print(json.dumps({"exact": run_until(time.monotonic() + 60, exact)}))
    session.disconnect()
    server.stop()


def namespace_problem():
    """Why the namespace with its limited link cannot be made here."""
    for tool in ("unshare", "ip", "tc"):
        if not shutil.which(tool):
            return "%s is not installed" % tool
    try:
        subprocess.run(["unshare", "-n", "sh", "-c", LINK_SETUP], capture_output=True,
                       timeout=30, check=True)
    except subprocess.CalledProcessError as e:
        return "cannot make a network namespace with a tbf link: %s" % e.stderr.decode().strip()
    except subprocess.TimeoutExpired:
        return "making the namespace took over 30 s"
    return None


def run_inside(scenario):
    """Runs `scenario` in a namespace with the limited link; its figures."""
    import pytest

    why = namespace_problem()
    if why:
        pytest.skip(why)
    child = subprocess.run(
        ["unshare", "-n", "sh", "-c", LINK_SETUP + ' && exec "$0" "$1" --inside "$2"',
         sys.executable, os.path.abspath(__file__), scenario],
        capture_output=True, text=True, timeout=180)
    lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
    assert child.returncode == 0 and lines, "the run in the namespace failed:\n%s\n%s" % (
        child.stdout[-2000:], child.stderr[-4000:])
    result = json.loads(lines[-1])
    print(result)
    return result


def test_scrolling_faster_than_the_link_ends_with_the_exact_pixels():
    assert run_inside("scroll")["exact"]


def test_a_full_screen_stream_shows_on_a_10_mbit_link_within_200_ms():
    result = run_inside("stream")
    assert "error" not in result, result
    # Streaming, and not images: encoded frames were sent.
    assert result["encoded"] > 0, result
    # A generous floor: a third of the frames drawn after the warm-up (the
    # issue saw none; spice-gtk drops the frames it gets late).
    assert result["shown"] >= result["drawn"] // 3, result
    # The acceptance: frames show within 200 ms of being drawn.
    assert result["p50_ms"] < 200, result
    # The display channel client measured its link: 10 Mbit/s of IP
    # packets carry a little less TCP payload; the estimate may be low
    # while the stream does not fill the link, never far above it.
    assert 4e6 <= result["bandwidth"] <= 13e6, result
    # The network test at connect timed 250 KiB on the same link. It reads
    # high, 15.9 to 17.3 Mbit/s in five runs (why is not established: the
    # bulk PING's bytes may leave partly before the latency PING's round
    # trip ends), as spice-server's method would.
    assert 4e6 <= result["main_bandwidth"] <= 20e6, result
    assert result["round_trip_us"] >= 0, result
    assert result["bandwidth_notified"] >= 1, result
    assert result["notified_off_main_thread"] == 0, result


def context_switches(tid):
    """How often thread `tid` of this process has slept and woken."""
    with open("/proc/self/task/%d/status" % tid) as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches for thread %d" % tid)


def test_an_idle_client_costs_its_worker_no_wakeups():
    """The send queue's drain timer runs only while bytes wait in the
    kernel: once a client's updates are out, it costs its display's worker
    thread no wakeups."""
    import random

    import gi
    gi.require_version("Red", "1.0")
    from gi.repository import GLib, Red

    sys.path.insert(0, HERE)
    from helpers import iterate, random_pixels, wait_until

    server = Red.Server(port=0)
    display = server.add_display(640, 480)
    server.start()
    state = {}
    session = spice_session(server.props.port, state)
    try:
        assert wait_until(lambda: state["marked"])
        rng = random.Random(3)
        for _ in range(20):
            display.draw(0, 0, 640, 480, GLib.Bytes.new(random_pixels(rng, 640, 480)), 640 * 4)
            iterate(0.01)
        # The connection's first PINGs (four, 0.5 s apart) and the updates
        # are over after this.
        iterate(3.0)
        tid = display.get_display_channel().props.thread_id
        before = context_switches(tid)
        iterate(3.0)
        woken = context_switches(tid) - before
        # The worker looks for streams to end ten times a second (its own
        # timer, 30 wakeups in 3 s); beyond that, at most one PING and its
        # answer on each of its two channels. A drain timer left running
        # would wake it every 2 to 200 ms.
        assert woken <= 30 + 6, "the idle worker woke %d times in 3 s" % woken
    finally:
        session.disconnect()
        server.stop()


if __name__ == "__main__":
    if "--inside" in sys.argv:
        {"stream": inside, "scroll": inside_scroll}[sys.argv[-1]]()
