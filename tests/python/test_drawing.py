"""Drawing reaches the worker thread exactly, in order."""

import struct

import gi

gi.require_version("Red", "1.0")
from gi.repository import GLib, Red  # noqa: E402


def pixel(data, width, x, y):
    return struct.unpack_from("=I", data, (y * width + x) * 4)[0]


def test_fill_draw_copy_area_and_resize(server):
    d = server.add_display(8, 4)
    server.start()
    d.fill(0, 0, 8, 4, 0x00FF00)
    block = struct.pack("=4I", 0x112233, 0x445566, 0x778899, 0xAABBCC)
    d.draw(1, 1, 2, 2, GLib.Bytes.new(block), 8)
    d.copy_area(1, 1, 2, 2, 5, 2)  # partly off the bottom: clipped
    d.fill(-2, -2, 3, 3, 0xFF0000FF)  # top byte ignored, clipped to 1x1
    data, w, h = d.snapshot()
    data = data.get_data()
    assert (w, h, len(data)) == (8, 4, 8 * 4 * 4)
    assert pixel(data, 8, 0, 0) == 0x0000FF
    assert pixel(data, 8, 1, 0) == 0x00FF00
    assert [pixel(data, 8, x, 1) for x in (1, 2)] == [0x112233, 0x445566]
    assert [pixel(data, 8, x, 2) for x in (1, 2)] == [0x778899, 0xAABBCC]
    assert [pixel(data, 8, x, 2) for x in (5, 6)] == [0x112233, 0x445566]
    assert [pixel(data, 8, x, 3) for x in (5, 6)] == [0x778899, 0xAABBCC]
    d.resize(4, 2)
    data, w, h = d.snapshot()
    assert (w, h) == (4, 2)
    assert pixel(data.get_data(), 4, 1, 1) == 0x112233


def test_drawing_works_while_stopped_and_survives_restart(server):
    d = server.add_display(2, 2)
    d.fill(0, 0, 2, 2, 0x123456)
    server.start()
    server.stop()
    d.fill(1, 1, 1, 1, 0x654321)
    server.start()
    data = d.snapshot()[0].get_data()
    assert [pixel(data, 2, x, y) for y in (0, 1) for x in (0, 1)] == [
        0x123456, 0x123456, 0x123456, 0x654321,
    ]
