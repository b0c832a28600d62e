#!/usr/bin/python3
"""The benchmark's client: spice-gtk (SpiceClientGLib through GObject
introspection, no window) connected to one benchmark server.

    client.py --port PORT --stamp X,Y,W,H

It connects every channel, prints {"event": "connected"} once the display's
primary surface exists and the inputs channel is open, and sends a few keys
and pointer events when told to mark. On every
display-invalidate that touches the stamp rectangle it reads the frame number
from the client's own surface memory (block centres, thresholded, with check
bits: latency.py) and records when each number was first shown
(CLOCK_MONOTONIC, us: the servers' clock too). Lines on stdin:

    mark    start counting bytes and CPU now; answers {"event": "marked"}
    stop    print the results as one JSON line and exit
"""

import argparse
import json
import os
import sys
import time

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject  # noqa: E402
from gi.repository import SpiceClientGLib as Spice  # noqa: E402

from latency import read_stamp  # noqa: E402

# Where the stamp is read: three pixel rows across the blocks, and the
# columns of each block but 5 pixels on either side.
STAMP_ROWS = (5, 8, 11)
STAMP_INSET = 5


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Client:
    def __init__(self, port, stamp):
        self.stamp = stamp
        self.primary = None
        self.channels = []
        self.inputs = None
        self.inputs_open = False
        self.connected = False
        self.shown = {}
        self.invalidates = 0
        self.bad_stamps = 0
        self.bytes0 = 0
        self.cpu0 = 0.0
        self.session = Spice.Session()
        self.session.props.host = "127.0.0.1"
        self.session.props.port = str(port)
        GObject.Object.connect(self.session, "channel-new", self._new_channel)
        GObject.Object.connect(self.session, "disconnected", self._disconnected)
        self.session.connect()

    def _new_channel(self, session, channel):
        self.channels.append(channel)
        if isinstance(channel, Spice.DisplayChannel):
            GObject.Object.connect(channel, "display-primary-create", self._primary)
            GObject.Object.connect(channel, "display-invalidate", self._invalidate)
        elif isinstance(channel, Spice.InputsChannel):
            self.inputs = channel
            GObject.Object.connect(channel, "channel-event", self._inputs_event)
        if not isinstance(channel, Spice.MainChannel):
            Spice.Channel.connect(channel)

    def _disconnected(self, session):
        emit({"event": "error", "message": "the server closed the session"})
        # SystemExit would not get out of a GLib callback
        os._exit(1)

    def _primary(self, channel, fmt, width, height, stride, shmid, data):
        self.primary = (width, height, stride, data)
        self._maybe_connected()

    def _inputs_event(self, channel, event):
        if event == Spice.ChannelEvent.OPENED:
            self.inputs_open = True
            self._maybe_connected()

    def _maybe_connected(self):
        # inputs sent before the inputs channel opens would be lost
        if self.primary and self.inputs_open and not self.connected:
            self.connected = True
            emit({"event": "connected", "width": self.primary[0], "height": self.primary[1]})

    def _invalidate(self, channel, x, y, w, h):
        self.invalidates += 1
        if not self.primary:
            return
        sx, sy, sw, sh = self.stamp
        if x >= sx + sw or y >= sy + sh or x + w <= sx or y + h <= sy:
            return
        now = time.monotonic_ns() // 1000
        _, _, stride, addr = self.primary
        n = read_stamp(addr, stride, sx, sy, STAMP_ROWS, STAMP_INSET)
        if n is None:
            self.bad_stamps += 1
        elif n not in self.shown:
            self.shown[n] = now

    def send_inputs(self):
        """A few keys and pointer events, as a user would make."""
        if not self.inputs:
            return 0
        for _ in range(3):
            Spice.InputsChannel.key_press(self.inputs, 0x1E)
            Spice.InputsChannel.key_release(self.inputs, 0x1E)
        for i in range(4):
            Spice.InputsChannel.position(self.inputs, 100 + i * 10, 100, 0, 0)
        Spice.InputsChannel.button_press(self.inputs, 1, 1)
        Spice.InputsChannel.button_release(self.inputs, 1, 0)
        return 12

    def read_bytes(self):
        return sum(ch.props.total_read_bytes for ch in self.channels)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--stamp", required=True, help="X,Y,W,H of the frame-number stamp")
    args = ap.parse_args()
    client = Client(args.port, tuple(int(v) for v in args.stamp.split(",")))
    loop = GLib.MainLoop()

    pending = b""

    def command(line):
        if line == "stop":
            cpu = time.process_time() - client.cpu0
            emit({
                "event": "result",
                "shown_us": {str(n): t for n, t in client.shown.items()},
                "bytes": client.read_bytes() - client.bytes0,
                "cpu_s": cpu,
                "invalidates": client.invalidates,
                "bad_stamps": client.bad_stamps,
            })
            loop.quit()
        elif line == "mark":
            client.bytes0 = client.read_bytes()
            client.cpu0 = time.process_time()
            client.shown.clear()
            client.invalidates = client.bad_stamps = 0
            emit({"event": "marked", "inputs_sent": client.send_inputs()})

    def on_stdin(source, condition):
        # os.read, not sys.stdin: a buffered reader could swallow a second
        # line the watch never reports
        nonlocal pending
        data = os.read(sys.stdin.fileno(), 4096)
        if not data:
            command("stop")
            return GLib.SOURCE_REMOVE
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            command(line.decode().strip())
        return GLib.SOURCE_CONTINUE

    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.PRIORITY_DEFAULT,
                      GLib.IOCondition.IN | GLib.IOCondition.HUP, on_stdin)
    loop.run()
    client.session.disconnect()
    os._exit(0)


if __name__ == "__main__":
    main()
