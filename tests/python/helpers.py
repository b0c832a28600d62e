"""Plain helpers for the Python tests: paths, waiting on the GLib main
context, time limits, child processes, and pixels.

Test modules import what they need from here; pytest fixtures are in
conftest.py, the real-client harness (a server process and spice-gtk
clients) in spice_harness.py, raw SPICE sockets in rawspice.py. Nothing here
needs pytest or spice-gtk, so tools/bench-streams uses the same waits.
"""

import base64
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time

from gi.repository import GLib

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
# `meson devenv` sets both; the fallbacks are the usual layout.
SOURCE_DIR = os.environ.get("REDSPICE_SOURCE_DIR", os.path.dirname(os.path.dirname(TESTS_DIR)))
BUILD_DIR = os.environ.get("REDSPICE_BUILD_DIR", os.path.join(SOURCE_DIR, "_build"))
HOST = "127.0.0.1"


# --------------------------------------------------------------------------
# Per-test time limit (pytest-timeout is not installed here): conftest.py's
# per_test_time_limit fixture arms it for modules that set TIME_LIMIT.


class HarnessTimeout(AssertionError):
    """A bounded wait (or the per-test alarm) ran out."""


_alarm_fired = False


def _on_alarm(signum, frame):
    global _alarm_fired
    _alarm_fired = True
    raise HarnessTimeout("per-test time limit reached (SIGALRM)")


def check_alarm():
    """Raises when the per-test alarm fired while a GI callback swallowed it."""
    if _alarm_fired:
        raise HarnessTimeout("per-test time limit reached (SIGALRM)")


def time_limit(seconds):
    """Decorator: this test's time limit, instead of its module's TIME_LIMIT.
    A decorator, not a marker, so that no marker needs registering."""
    def deco(fn):
        fn.time_limit = seconds
        return fn
    return deco


@contextlib.contextmanager
def alarm_after(seconds):
    """Raises HarnessTimeout in the main thread after `seconds` (SIGALRM),
    unless the block ends first."""
    global _alarm_fired
    if not hasattr(signal, "SIGALRM"):
        yield
        return
    _alarm_fired = False
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        _alarm_fired = False


# --------------------------------------------------------------------------
# The main context: every wait keeps iterating it, so servers and spice-gtk
# clients in this process keep running while a test waits.
#
# Both functions take sleep_when_busy: sleep 1 ms after every iteration, even
# one that dispatched something. True (the default) paces the in-process
# tests (server, client and test on one main context) as they were tuned:
# without it, test_streaming's H.264 picture misses its quality bound. The
# real-client harness, whose server is a child process, passes False to
# drain a backlog of client events at full speed.


def iterate(seconds=0.0, context=None, sleep_when_busy=True):
    """Runs the (default) main context for about `seconds` (at least once)."""
    context = context or GLib.MainContext.default()
    deadline = time.monotonic() + seconds
    while True:
        check_alarm()
        busy = context.iteration(False)
        if time.monotonic() >= deadline:
            return
        if sleep_when_busy or not busy:
            time.sleep(0.001)


def wait_until(pred, timeout=10.0, interval=0.0, context=None, fail_fast=None,
               sleep_when_busy=True):
    """Iterates the (default) main context until pred() is true.

    Returns True, or pred()'s truth after `timeout` seconds (10 unless
    given; spice_harness waits DEFAULT_TIMEOUT, 20 s). `interval`
    rate-limits calls of an expensive pred. `fail_fast()` may return a
    message to stop waiting early (a channel error, a dead server): then
    this returns pred()'s truth at once.
    """
    context = context or GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    next_check = 0.0
    while True:
        check_alarm()
        now = time.monotonic()
        if now >= next_check:
            if pred():
                return True
            if fail_fast is not None and fail_fast():
                return bool(pred())
            next_check = now + interval
        if now > deadline:
            return bool(pred())
        busy = context.iteration(False)
        if sleep_when_busy or not busy:
            time.sleep(0.001)


# --------------------------------------------------------------------------
# Child processes


def run(argv, env=None, timeout=60, cwd=None):
    """Runs argv to its end with this process's environment plus `env`;
    returns the CompletedProcess with stdout and stderr as text."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(argv, capture_output=True, text=True, env=full_env,
                          timeout=timeout, cwd=cwd)


def run_python(code, env=None, timeout=60):
    """Runs `code` in a fresh interpreter (own GType registry, own threads)."""
    return run([sys.executable, "-c", code], env=env, timeout=timeout)


def spicy_screenshot(port, path, password=None):
    """spice-gtk's spicy-screenshot against HOST:port: it writes the first
    frame it gets to `path` as a PPM. Returns the CompletedProcess."""
    argv = ["spicy-screenshot", "-h", HOST, "-p", str(port), "-o", str(path)]
    if password is not None:
        argv += ["-w", password]
    return run(argv, timeout=30)


# --------------------------------------------------------------------------
# Pixels: x8r8g8b8, little-endian, so bytes B,G,R,X


def mask_x(data):
    """Zeroes the X (top, 4th little-endian) byte of every x8r8g8b8 pixel.

    SPICE_SURFACE_FMT_32_xRGB leaves the top byte unused: it is padding, not
    alpha (only images carry HIGH_BITS_SET to say theirs matter). spice-gtk's
    pixman canvas (x8r8g8b8) keeps it on memcpy-style fast paths and writes 0
    on general paths, and RedDisplay documents it as ignored, so the tests
    compare the 24 colour bits of every pixel, exactly.
    """
    b = bytearray(data)
    b[3::4] = bytes(len(b) // 4)
    return bytes(b)


def same_colours(a, b):
    """True if two x8r8g8b8 images have the same 24 colour bits in every
    pixel (see mask_x)."""
    return mask_x(a) == mask_x(b)


def read_surface(address, stride, rect):
    """The pixels of rect (x, y, width, height) of a surface in this
    process's memory (a spice-gtk primary surface) as packed rows of
    width * 4 bytes, the stride's padding dropped."""
    x, y, w, h = rect
    if x == 0 and stride == w * 4:
        return ctypes.string_at(address + y * stride, stride * h)
    return b"".join(ctypes.string_at(address + (y + row) * stride + x * 4, w * 4)
                    for row in range(h))


def random_pixels(rng, w, h, random_x=True):
    """w*h random x8r8g8b8 pixels (random X bytes too unless random_x=False)."""
    data = bytearray(rng.randbytes(w * h * 4))
    if not random_x:
        data[3::4] = bytes(w * h)
    return bytes(data)


def solid_pixels(w, h, color):
    return (color & 0xFFFFFFFF).to_bytes(4, "little") * (w * h)


def b64(data):
    return base64.b64encode(data).decode("ascii")


def describe_mismatch(expected, actual, width, height):
    """A short text about where two packed x8r8g8b8 images differ."""
    if len(expected) != len(actual):
        return "sizes differ: expected %d bytes, got %d" % (len(expected), len(actual))
    exp, act = mask_x(expected), mask_x(actual)
    diffs = 0
    first = None
    rows = set()
    for y in range(height):
        row = slice(y * width * 4, (y + 1) * width * 4)
        if exp[row] == act[row]:
            continue
        rows.add(y)
        for x in range(width):
            o = (y * width + x) * 4
            if exp[o:o + 3] != act[o:o + 3]:
                diffs += 1
                if first is None:
                    first = (x, y, exp[o:o + 4].hex(), act[o:o + 4].hex())
    if not diffs:
        return "no difference"
    return "%d pixels differ in %d rows (%d..%d); first at (%d,%d): server %s client %s (B,G,R,X)" % (
        diffs, len(rows), min(rows), max(rows), *first,
    )


def bgrx_to_rgb(data):
    """x8r8g8b8 little-endian (B,G,R,X) -> packed R,G,B."""
    out = bytearray(len(data) // 4 * 3)
    out[0::3] = data[2::4]
    out[1::3] = data[1::4]
    out[2::3] = data[0::4]
    return bytes(out)


def parse_ppm(path):
    """(width, height, RGB bytes) of a binary P6 PPM with maxval 255."""
    with open(path, "rb") as f:
        data = f.read()
    fields = []
    pos = 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        assert pos < len(data), "not a whole PPM header: %r" % data[:20]
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while end < len(data) and not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    pos += 1  # the single whitespace after maxval
    magic, w, h, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    assert magic == b"P6" and maxval == 255, (magic, maxval)
    rgb = data[pos:pos + w * h * 3]
    assert len(rgb) == w * h * 3, "truncated PPM"
    return w, h, rgb


def make_certificate(directory, name):
    """A self-signed certificate for 127.0.0.1 made by the openssl tool;
    returns (certificate, key) paths."""
    cert = os.path.join(directory, name + "-cert.pem")
    key = os.path.join(directory, name + "-key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True)
    return cert, key


def serve_c_example_once(exe, env=None, cwd=None):
    """Runs the C example `exe` (REDSPICE_PORT=0 in `env`), checks that it
    prints its address and that a client links to its main channel (so its
    main loop runs), then stops it with SIGTERM; returns (returncode,
    stderr)."""
    import rawspice
    import re

    server = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=cwd)
    try:
        line = server.stdout.readline()
        found = re.fullmatch(r"listening on spice://127\.0\.0\.1:(\d+)\n", line)
        assert found, line + server.stderr.read()
        main, _session = rawspice.main_link(int(found[1]))
        main.close()
    finally:
        server.send_signal(signal.SIGTERM)
        _rest, err = server.communicate(timeout=10)
    return server.returncode, err
