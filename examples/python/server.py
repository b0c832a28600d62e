#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A minimal redspice server: one 640x480 display with colour bars and a
# moving square.
#
#   meson devenv -C _build /usr/bin/python3 "$PWD/examples/python/server.py"
#   remote-viewer spice://127.0.0.1:5930
#
# REDSPICE_PORT=N picks another port (0: any free one);
# REDSPICE_DEMO_SECONDS=N quits after N seconds.

import os
import signal
import sys

import gi

gi.require_version("Red", "1.0")
from gi.repository import GLib, Red  # noqa: E402

WIDTH, HEIGHT = 640, 480
BARS = [0xC0C0C0, 0xC0C000, 0x00C0C0, 0x00C000, 0xC000C0, 0xC00000, 0x0000C0]
BACKGROUND = 0x101010
SQUARE, SQUARE_COLOR = 40, 0xFFFFFF


def color_bars(display):
    """Seven vertical bars over the top two thirds, a grey ramp below."""
    n = len(BARS)
    for i, color in enumerate(BARS):
        left, right = i * WIDTH // n, (i + 1) * WIDTH // n
        display.fill(left, 0, right - left, HEIGHT * 2 // 3, color)
    # The ramp is drawn from pixels: x8r8g8b8, that is B, G, R, X bytes.
    row = bytearray()
    for x in range(WIDTH):
        v = x * 255 // (WIDTH - 1)
        row += bytes((v, v, v, 0))
    ramp_height = 40
    display.draw(0, HEIGHT * 2 // 3, WIDTH, ramp_height,
                 GLib.Bytes.new(bytes(row) * ramp_height), WIDTH * 4)
    display.fill(0, HEIGHT * 2 // 3 + ramp_height, WIDTH,
                 HEIGHT - HEIGHT * 2 // 3 - ramp_height, BACKGROUND)


class Bouncer:
    """A square bouncing in the bottom strip of the display."""

    def __init__(self, display):
        self.display = display
        self.top = HEIGHT * 2 // 3 + 40
        self.x, self.y, self.dx, self.dy = 0, self.top, 4, 3

    def step(self):
        d = self.display
        d.fill(self.x, self.y, SQUARE, SQUARE, BACKGROUND)  # erase
        if not 0 <= self.x + self.dx <= WIDTH - SQUARE:
            self.dx = -self.dx
        if not self.top <= self.y + self.dy <= HEIGHT - SQUARE:
            self.dy = -self.dy
        self.x += self.dx
        self.y += self.dy
        d.fill(self.x, self.y, SQUARE, SQUARE, SQUARE_COLOR)
        return GLib.SOURCE_CONTINUE


def main():
    server = Red.Server(address="127.0.0.1",
                        port=int(os.environ.get("REDSPICE_PORT", "5930")),
                        name="redspice Python example")
    try:
        display = server.add_display(WIDTH, HEIGHT)
        server.start()
    except GLib.Error as e:
        print(f"Cannot start the server: {e.message}", file=sys.stderr)
        return 1
    print(f"Serving on spice://127.0.0.1:{server.get_port()}", flush=True)

    server.connect("client-connected",
                   lambda s, c: print(f"client {c.props.id} connected"))
    server.connect("client-disconnected",
                   lambda s, c: print(f"client {c.props.id} left"))
    server.connect("key-event", lambda s, code, pressed: print(
        f"key {code:#x} {'pressed' if pressed else 'released'}"))
    server.connect("pointer-position", lambda s, d, x, y, buttons: print(
        f"pointer at {x},{y} on display {d}, buttons {buttons:#x}"))
    server.connect("pointer-motion", lambda s, dx, dy, buttons: print(
        f"pointer moved by {dx},{dy}, buttons {buttons:#x}"))
    server.connect("button-event", lambda s, button, pressed, buttons: print(
        f"button {button} {'pressed' if pressed else 'released'}"))

    color_bars(display)
    GLib.timeout_add(40, Bouncer(display).step)  # 25 frames a second

    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    seconds = int(os.environ.get("REDSPICE_DEMO_SECONDS", "0"))
    if seconds > 0:
        GLib.timeout_add_seconds(seconds, loop.quit)
    loop.run()

    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
