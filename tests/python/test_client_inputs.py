"""Keyboard, mouse and cursor through the real spice-gtk client.

Scancodes: spice-gtk takes PC XT set-1 codes, with 0x100 ORed in for keys
that have the 0xe0 prefix (spice_make_scancode puts bytes e0, key on the
wire, the release bit on the second byte). RedServer::key-event reports the
code without the release bit, extended keys as 0xe0XX (0xe01d is Right
Ctrl, red-server.h), and `pressed`.
"""

import struct

import pytest

import rawspice as rs
from helpers import b64, iterate, wait_until
from spice_harness import (
    BUTTON_DOWN,
    BUTTON_LEFT,
    BUTTON_RIGHT,
    BUTTON_UP,
    CHANNEL_CURSOR,
    MASK_LEFT,
    MASK_RIGHT,
    MOUSE_MODE_CLIENT,
    MOUSE_MODE_SERVER,
    Spice,
)

TIME_LIMIT = 60
INPUT_EVENTS = ("key-event", "pointer-motion", "pointer-position", "button-event")


@pytest.fixture
def pair(res):
    server = res.server(displays=[(320, 240), (200, 100)])
    client = res.client(server)
    # spice-gtk sends its lock state (KEY_MODIFIERS) when the inputs channel
    # comes up: take it, and client-connected, before the test starts
    server.wait_event("key-modifiers", timeout=5)
    server.events(0.05)
    return server, client


def take(server, count, names=INPUT_EVENTS, timeout=10):
    """The next `count` input events, without the "t" field."""
    evs = server.wait_events(count, names, timeout=timeout)
    out = [{k: v for k, v in e.items() if k != "t"} for e in evs]
    assert len(out) == count, "got %d of %d events: %r%s" % (len(out), count, out,
                                                            server.diagnostics())
    return out


def key(code, pressed):
    return {"event": "key-event", "scancode": code, "pressed": pressed}


def button(b, pressed, buttons):
    return {"event": "button-event", "button": b, "pressed": pressed, "buttons": buttons}


def position(display, x, y, buttons=0):
    return {"event": "pointer-position", "display": display, "x": x, "y": y, "buttons": buttons}


def motion(dx, dy, buttons=0):
    return {"event": "pointer-motion", "dx": dx, "dy": dy, "buttons": buttons}


def set_mouse_mode(client, mode):
    if client.mouse_mode() != mode:
        client.request_mouse_mode(mode)
    assert wait_until(lambda: client.mouse_mode() == mode, 10, sleep_when_busy=False), (
        "mouse mode stayed %s after requesting %s%s" % (client.mouse_mode(), mode, client.state()))


def test_plain_key(pair):
    server, client = pair
    client.key_press(0x1E)    # 'A'
    client.key_release(0x1E)
    assert take(server, 2) == [key(0x1E, True), key(0x1E, False)]


@pytest.mark.parametrize("gtk_code,server_code,name", [
    (0x11D, 0xE01D, "Right Ctrl"),
    (0x148, 0xE048, "Up"),
    (0x150, 0xE050, "Down"),
    (0x138, 0xE038, "Right Alt (AltGr)"),
])
def test_extended_key(pair, gtk_code, server_code, name):
    server, client = pair
    client.key_press(gtk_code)
    client.key_release(gtk_code)
    assert take(server, 2) == [key(server_code, True), key(server_code, False)], name


def test_key_press_and_release_atomic(pair):
    """With the server's INPUTS_CAP_KEY_SCANCODE spice-gtk sends one
    KEY_SCANCODE message with both codes (else KEY_DOWN + KEY_UP)."""
    server, client = pair
    Spice.InputsChannel.key_press_and_release(client.inputs, 0x1E)
    Spice.InputsChannel.key_press_and_release(client.inputs, 0x148)
    assert take(server, 4) == [key(0x1E, True), key(0x1E, False),
                               key(0xE048, True), key(0xE048, False)]


def test_key_modifiers(pair):
    server, client = pair
    Spice.InputsChannel.set_key_locks(client.inputs, 4)  # Caps Lock
    Spice.InputsChannel.set_key_locks(client.inputs, 2 | 1)
    evs = server.wait_events(2, "key-modifiers", timeout=10)
    assert [e["modifiers"] for e in evs] == [4, 3], evs


def test_key_modifiers_sent_on_connect(res):
    server = res.server()
    res.client(server)
    ev = server.wait_event("key-modifiers", timeout=10)
    assert ev is not None and ev["modifiers"] == 0, ev


def test_absolute_position(pair):
    """Client mouse mode: MOUSE_POSITION with the display id. Twelve in a
    row, each waited for: beyond 8 unacknowledged positions spice-gtk holds
    them back until MOUSE_MOTION_ACK, so this also checks the ACKs."""
    server, client = pair
    set_mouse_mode(client, MOUSE_MODE_CLIENT)
    for i in range(12):
        x, y = 10 + 23 * i, 5 + 17 * i
        d = i % 2
        if d == 1:
            x, y = x % 200, y % 100
        client.position(x, y, d, 0)
        assert take(server, 1) == [position(d, x, y)], "position %d" % i


def test_relative_motion(pair):
    server, client = pair
    set_mouse_mode(client, MOUSE_MODE_SERVER)
    moves = [(5, -3), (-12, 7), (0, 1), (100, -100), (-1, 0), (3, 3),
             (-7, -7), (9, 0), (0, -9), (2, 2), (-2, -2), (31, 17)]
    # Only pointer-motion events are compared: spice-gtk 0.42 answers its
    # first MOUSE_MOTION_ACK with a MOUSE_POSITION (0, 0, display 0) when it
    # never sent a position (its pending display id starts at 0, not -1).
    for i, (dx, dy) in enumerate(moves):
        client.motion(dx, dy, 0)
        assert take(server, 1, "pointer-motion") == [motion(dx, dy)], "motion %d" % i
    client.motion(4, -4, MASK_LEFT)
    assert take(server, 1, "pointer-motion") == [motion(4, -4, MASK_LEFT)]
    left = server.events(0.2, name=("key-event", "button-event", "pointer-motion"))
    assert left == [], left


def test_buttons_and_wheel(pair):
    """MOUSE_PRESS carries the pressed button in its mask, MOUSE_RELEASE
    the mask without it; wheel steps are a press and a release of 4 (up)
    or 5 (down) with no mask bit."""
    server, client = pair
    set_mouse_mode(client, MOUSE_MODE_CLIENT)
    client.position(50, 60, 0, 0)
    assert take(server, 1) == [position(0, 50, 60)]
    client.button_press(BUTTON_LEFT, 0)
    client.button_release(BUTTON_LEFT, MASK_LEFT)
    client.button_press(BUTTON_RIGHT, 0)
    client.button_release(BUTTON_RIGHT, MASK_RIGHT)
    client.button_press(BUTTON_UP, 0)
    client.button_release(BUTTON_UP, 0)
    client.button_press(BUTTON_DOWN, 0)
    client.button_release(BUTTON_DOWN, 0)
    # left held while the wheel turns
    client.button_press(BUTTON_LEFT, 0)
    client.button_press(BUTTON_DOWN, MASK_LEFT)
    client.button_release(BUTTON_DOWN, MASK_LEFT)
    client.button_release(BUTTON_LEFT, MASK_LEFT)
    assert take(server, 12, "button-event") == [
        button(1, True, MASK_LEFT), button(1, False, 0),
        button(3, True, MASK_RIGHT), button(3, False, 0),
        button(4, True, 0), button(4, False, 0),
        button(5, True, 0), button(5, False, 0),
        button(1, True, MASK_LEFT),
        button(5, True, MASK_LEFT), button(5, False, MASK_LEFT),
        button(1, False, 0),
    ]


def test_mixed_sequence_in_order(pair):
    server, client = pair
    set_mouse_mode(client, MOUSE_MODE_CLIENT)
    client.key_press(0x2A)                 # Left Shift
    client.position(10, 20, 0, 0)
    client.key_press(0x1E)
    client.button_press(BUTTON_LEFT, 0)
    client.position(30, 40, 0, MASK_LEFT)
    client.button_release(BUTTON_LEFT, MASK_LEFT)
    client.key_release(0x1E)
    client.key_press(0x11D)
    client.position(5, 6, 1, 0)
    client.key_release(0x11D)
    client.key_release(0x2A)
    assert take(server, 11) == [
        key(0x2A, True), position(0, 10, 20), key(0x1E, True),
        button(1, True, MASK_LEFT), position(0, 30, 40, MASK_LEFT),
        button(1, False, 0), key(0x1E, False), key(0xE01D, True),
        position(1, 5, 6), key(0xE01D, False), key(0x2A, False),
    ]


# --------------------------------------------------------------------------
# Cursor

HOT = (3, 5)


def cursor_pixels():
    """16x16 premultiplied ARGB32 (bytes B,G,R,A) with opaque, clear and
    partly transparent pixels whose un-premultiplied values are exact
    (alpha 0x11/0x33/0x55 divide 255, colours are multiples of them)."""
    out = bytearray()
    expect_rgba = bytearray()  # what spice-gtk hands out: R,G,B,A straight
    for y in range(16):
        for x in range(16):
            if x == y or x + y == 15:
                a, r, g, b = 255, 255, 255, 255            # opaque white X
            elif x < 2 or y < 2 or x > 13 or y > 13:
                a, r, g, b = 255, 0, 0, 0                  # opaque black border
            elif (x + y) % 4 == 0:
                a, r, g, b = 0, 0, 0, 0                    # fully clear
            elif (x + y) % 4 == 1:
                a, r, g, b = 0x55, 0x55, 0x22, 0x0A        # straight ff,66,1e
            elif (x + y) % 4 == 2:
                a, r, g, b = 0x33, 0x0A, 0x33, 0x14        # straight 32,ff,64
            else:
                a, r, g, b = 0x11, 0x01, 0x10, 0x11        # straight 0f,f0,ff
            out += bytes((b, g, r, a))
            if a == 0:
                expect_rgba += bytes((0, 0, 0, 0))
            else:
                expect_rgba += bytes((r * 255 // a, g * 255 // a, b * 255 // a, a))
    return bytes(out), bytes(expect_rgba)


def describe_cursor_diff(expected, actual):
    if actual is None:
        return "no pixel data"
    if len(actual) != len(expected):
        return "%d bytes, expected %d" % (len(actual), len(expected))
    bad = [i // 4 for i in range(0, len(expected), 4) if expected[i:i + 4] != actual[i:i + 4]]
    i = bad[0]
    return "%d pixels differ; first (%d,%d): expected RGBA %s got %s" % (
        len(bad), i % 16, i // 16, expected[i * 4:i * 4 + 4].hex(), actual[i * 4:i * 4 + 4].hex())


def test_cursor_shape_move_hide(pair, res):
    server, client = pair
    set_mouse_mode(client, MOUSE_MODE_SERVER)  # where cursor moves matter
    cur = client.cursors[0]
    premultiplied, expected = cursor_pixels()
    sets_before = len(cur.sets)
    server.command("set_cursor", w=16, h=16, hot_x=HOT[0], hot_y=HOT[1],
                   pixels=b64(premultiplied), stride=64)
    assert wait_until(lambda: any(s["width"] == 16 for s in cur.sets[sets_before:]), 10, sleep_when_busy=False), (
        "no 16x16 cursor-set on the client" + client.state() + server.diagnostics())
    shape = [s for s in cur.sets[sets_before:] if s["width"] == 16][-1]
    assert (shape["width"], shape["height"]) == (16, 16)
    assert (shape["hot_x"], shape["hot_y"]) == HOT
    assert shape["rgba"] == expected, describe_cursor_diff(expected, shape["rgba"])

    moves_before = len(cur.moves)
    server.command("move_cursor", x=40, y=50)
    assert wait_until(lambda: len(cur.moves) > moves_before, 10, sleep_when_busy=False), (
        "no cursor-move" + client.state())
    assert cur.moves[-1] == (40, 50)

    hides_before = cur.hides
    server.command("hide_cursor")
    assert wait_until(lambda: cur.hides > hides_before, 10, sleep_when_busy=False), "no cursor-hide" + client.state()
    assert cur.log[-1] == ("hide",), cur.log[-3:]

    # a client that connects now gets the shape in CURSOR_INIT, hidden
    late = res.client(server, name="late")
    lc = late.cursors[0]
    assert wait_until(lambda: lc.sets and lc.hides, 10, sleep_when_busy=False), (
        "late client: no shape and hide from CURSOR_INIT" + late.state())
    assert lc.sets[-1]["rgba"] == expected, describe_cursor_diff(expected, lc.sets[-1]["rgba"])
    assert (lc.sets[-1]["hot_x"], lc.sets[-1]["hot_y"]) == HOT
    assert lc.log[-1] == ("hide",), lc.log


def test_cursor_set_before_connect(pair, res):
    """A shape set and shown before the client connects comes in CURSOR_INIT
    and again in a CURSOR_SET, as spice-html5 reads only the SET's shape:
    spice-gtk sees the same shape twice and nothing else."""
    server, _ = pair
    premultiplied, expected = cursor_pixels()
    server.command("set_cursor", w=16, h=16, hot_x=HOT[0], hot_y=HOT[1],
                   pixels=b64(premultiplied), stride=64)
    late = res.client(server, name="late")
    lc = late.cursors[0]
    assert wait_until(lambda: len(lc.sets) >= 2, 10, sleep_when_busy=False), (
        "late client: not the shape in CURSOR_INIT and CURSOR_SET" + late.state())
    iterate(0.3, sleep_when_busy=False)
    assert [entry[0] for entry in lc.log] == ["set", "set"], lc.log
    for shape in lc.sets:
        assert (shape["width"], shape["height"]) == (16, 16)
        assert (shape["hot_x"], shape["hot_y"]) == HOT
        assert shape["rgba"] == expected, describe_cursor_diff(expected, shape["rgba"])

    # On the wire, the SET carries the pixels and no cache flags: spice-html5
    # reads neither FROM_CACHE nor the shape of CURSOR_INIT.
    main, sid = rs.main_link(server.port)
    with main, rs.channel_link(server.port, rs.CURSOR, 0, sid) as c:
        body = c.recv_until(rs.MSG_CURSOR_SET)
    # position (2 x i16), visible (u8), flags (u16), header (17 bytes), data
    visible, flags = struct.unpack_from("<BH", body, 4)
    assert (visible, flags) == (1, 0), (visible, flags)
    assert len(body) == 7 + 17 + 16 * 16 * 4, len(body)


def test_cursor_on_second_display(pair):
    server, client = pair
    assert client.opened(CHANNEL_CURSOR, 1), client.state()
    premultiplied, expected = cursor_pixels()
    server.command("set_cursor", display=1, w=16, hot_x=0, hot_y=15, h=16,
                   pixels=b64(premultiplied))
    cur1 = client.cursors[1]
    assert wait_until(lambda: any(s["width"] == 16 for s in cur1.sets), 10, sleep_when_busy=False), client.state()
    shape = [s for s in cur1.sets if s["width"] == 16][-1]
    assert (shape["hot_x"], shape["hot_y"]) == (0, 15)
    assert shape["rgba"] == expected, describe_cursor_diff(expected, shape["rgba"])
    iterate(0.3, sleep_when_busy=False)
    assert not any(s["width"] == 16 for s in client.cursors[0].sets), (
        "display 1's cursor reached display 0's cursor channel")
