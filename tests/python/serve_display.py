#!/usr/bin/python3
"""A redspice test server driven through JSON lines on stdin/stdout.

Run it under `meson devenv` (so `gi` finds Red-1.0.typelib) with Debian's
/usr/bin/python3. tests/python/spice_harness.py's ServerProcess spawns it.

Options (command line first, then the environment variable in brackets):

  --password PW             [REDSPICE_TEST_PASSWORD]   ticket; none = no auth
  --ticket-lifetime SEC     [REDSPICE_TEST_TICKET_LIFETIME]  0 = for ever
  --image-compression MODE  [REDSPICE_TEST_IMAGE_COMPRESSION] off|auto|lz4|lz|glz|quic|jpeg
  --streaming-video MODE    off|filter|all (default: the server's)
  --display WxH             [REDSPICE_TEST_DISPLAYS, comma separated]
                            repeat for more displays; default one 320x240
  --address ADDR            listen address, default 127.0.0.1
  --max-clients N           default: the server's (16)
  --auth MODE               none|ticket|sasl (default: ticket when a password
                            is given, else none)
  --sasl-app-name NAME      libsasl2's application name (NAME.conf)

Protocol. Once listening it prints one line

  {"event": "ready", "port": N, "tls_port": N or -1, "pid": P,
   "displays": [[w, h], ...]}

then reads one JSON object per line on stdin. Each has a "cmd" and an
optional "id" (echoed back) and "display" (index, default 0), and is
answered with one line {"reply": true, "id": ..., "ok": true, ...} or
{"reply": true, "id": ..., "ok": false, "error": "..."}. Commands:

  draw        x y w h pixels(base64 of x8r8g8b8 rows) [stride]
  fill        x y w h color (0xXXRRGGBB)
  copy_area   src_x src_y w h dest_x dest_y
  resize      w h
  set_cursor  w h hot_x hot_y pixels(base64 of premultiplied ARGB32) [stride]
  move_cursor x y
  hide_cursor
  snapshot    -> width, height, pixels (base64, rows of width*4 bytes)
  set_ticket  password (null clears) [lifetime]
  set_ticket_full password lifetime flags (a list of flag nicks)
              -> set (bool), error_code (int, when not set)
  clients     -> count, clients [{id, address}]
  disconnect_clients -> count
  displays    -> displays [[w, h], ...]
  ping        -> (nothing; to synchronise)
  quit        exits 0 after the reply

Events, one JSON line each, flushed at once:

  {"event": "client-connected", "client": id, "address": ...}
  {"event": "client-disconnected", "client": id}
  {"event": "key-event", "scancode": n, "pressed": bool}
  {"event": "key-modifiers", "modifiers": n}
  {"event": "pointer-motion", "dx": n, "dy": n, "buttons": n}
  {"event": "pointer-position", "display": n, "x": n, "y": n, "buttons": n}
  {"event": "button-event", "button": n, "pressed": bool, "buttons": n}

Every event carries "t" (time.monotonic() of this process) for ordering
checks. The process exits 0 on `quit` or when stdin reaches EOF, and 2
when the server cannot start.
"""

import argparse
import base64
import json
import os
import sys
import time
import traceback

import gi

gi.require_version("Red", "1.0")
from gi.repository import GLib, Red  # noqa: E402

_out = sys.stdout


def emit(obj):
    """Writes one JSON line to stdout and flushes it."""
    _out.write(json.dumps(obj, separators=(",", ":")) + "\n")
    _out.flush()


def event(name, **fields):
    fields["event"] = name
    fields["t"] = time.monotonic()
    emit(fields)


def parse_size(text):
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def parse_args(argv):
    env = os.environ
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--password", default=env.get("REDSPICE_TEST_PASSWORD"))
    p.add_argument(
        "--ticket-lifetime",
        type=int,
        default=int(env.get("REDSPICE_TEST_TICKET_LIFETIME", "0")),
    )
    p.add_argument("--streaming-video", choices=["off", "filter", "all"], default=None)
    p.add_argument(
        "--image-compression",
        choices=["off", "auto", "lz4", "lz", "glz", "quic", "jpeg"],
        default=env.get("REDSPICE_TEST_IMAGE_COMPRESSION"),
    )
    p.add_argument("--display", action="append", default=None, type=parse_size)
    p.add_argument("--address", default=env.get("REDSPICE_TEST_ADDRESS", "127.0.0.1"))
    p.add_argument(
        "--max-clients", type=int, default=int(env.get("REDSPICE_TEST_MAX_CLIENTS", "0"))
    )
    # TLS: a port (0 picks one), the certificate and key files, and the
    # channels that take TLS links only.
    p.add_argument("--tls-port", type=int, default=-1)
    p.add_argument("--x509-cert-file")
    p.add_argument("--x509-key-file")
    p.add_argument("--secure-channel", action="append", default=[])
    p.add_argument("--auth", choices=["none", "ticket", "sasl"])
    p.add_argument("--sasl-app-name")
    args = p.parse_args(argv)
    if args.display is None:
        spec = env.get("REDSPICE_TEST_DISPLAYS", "320x240")
        args.display = [parse_size(s) for s in spec.split(",") if s.strip()]
    return args


class Server:
    def __init__(self, args):
        self.loop = GLib.MainLoop()
        self.server = Red.Server(port=0, address=args.address)
        if args.max_clients:
            self.server.props.max_clients = args.max_clients
        if args.tls_port >= 0:
            self.server.props.tls_port = args.tls_port
            self.server.props.x509_cert_file = args.x509_cert_file
            self.server.props.x509_key_file = args.x509_key_file
            self.server.props.secure_channels = args.secure_channel
        if args.streaming_video:
            self.server.props.streaming_video = {
                "off": Red.StreamingVideo.OFF,
                "filter": Red.StreamingVideo.FILTER,
                "all": Red.StreamingVideo.ALL,
            }[args.streaming_video]
        if args.image_compression:
            self.server.props.image_compression = {
                "off": Red.ImageCompression.OFF,
                "auto": Red.ImageCompression.AUTO,
                "lz4": Red.ImageCompression.LZ4,
                "lz": Red.ImageCompression.LZ,
                "glz": Red.ImageCompression.GLZ,
                "quic": Red.ImageCompression.QUIC,
                "jpeg": Red.ImageCompression.JPEG,
            }[args.image_compression]
        if args.password is not None:
            self.server.set_ticket(args.password, args.ticket_lifetime)
        if args.sasl_app_name is not None:
            self.server.props.sasl_app_name = args.sasl_app_name
        if args.auth is not None:
            self.server.props.auth = {
                "none": Red.AuthMode.NONE,
                "ticket": Red.AuthMode.TICKET,
                "sasl": Red.AuthMode.SASL,
            }[args.auth]
        self.displays = [self.server.add_display(w, h) for (w, h) in args.display]
        # Keeps Python wrappers (and the GBytes handed to draw/set_cursor)
        # alive; the C side references GBytes itself, this is belt and braces.
        self._keep = []
        self._clients = {}
        s = self.server
        s.connect("client-connected", self._on_client_connected)
        s.connect("client-disconnected", self._on_client_disconnected)
        s.connect(
            "key-event",
            lambda _s, code, pressed: event("key-event", scancode=code, pressed=bool(pressed)),
        )
        s.connect(
            "key-modifiers", lambda _s, mods: event("key-modifiers", modifiers=mods)
        )
        s.connect(
            "pointer-motion",
            lambda _s, dx, dy, b: event("pointer-motion", dx=dx, dy=dy, buttons=b),
        )
        s.connect(
            "pointer-position",
            lambda _s, d, x, y, b: event(
                "pointer-position", display=d, x=x, y=y, buttons=b
            ),
        )
        s.connect(
            "button-event",
            lambda _s, button, pressed, b: event(
                "button-event", button=button, pressed=bool(pressed), buttons=b
            ),
        )
        self._inbuf = b""

    # --- signals -----------------------------------------------------------

    @staticmethod
    def _client_id(client):
        try:
            return client.get_id()
        except Exception:  # noqa: BLE001 - diagnostics only
            return None

    def _on_client_connected(self, _server, client):
        cid = self._client_id(client)
        try:
            address = client.get_address()
        except Exception:  # noqa: BLE001
            address = None
        self._clients[id(client)] = client
        event("client-connected", client=cid, address=address)

    def _on_client_disconnected(self, _server, client):
        self._clients.pop(id(client), None)
        event("client-disconnected", client=self._client_id(client))

    # --- stdin -------------------------------------------------------------

    def start(self):
        self.server.start()
        self.channel = GLib.IOChannel.unix_new(0)
        self.watch = GLib.io_add_watch(
            self.channel,
            GLib.PRIORITY_DEFAULT,
            GLib.IOCondition.IN | GLib.IOCondition.HUP | GLib.IOCondition.ERR,
            self._on_stdin,
        )
        emit(
            {
                "event": "ready",
                "port": self.server.get_port(),
                "tls_port": self.server.props.tls_port,
                "pid": os.getpid(),
                "displays": [[d.get_width(), d.get_height()] for d in self.displays],
                "t": time.monotonic(),
            }
        )

    def _on_stdin(self, _channel, condition):
        try:
            data = os.read(0, 1 << 20)
        except OSError:
            data = b""
        if not data:
            self.watch = None
            self.loop.quit()
            return False
        self._inbuf += data
        while b"\n" in self._inbuf:
            line, self._inbuf = self._inbuf.split(b"\n", 1)
            if line.strip():
                self._run_line(line)
        return True

    def _run_line(self, line):
        cmd_id = None
        try:
            msg = json.loads(line)
            cmd_id = msg.get("id")
            name = msg["cmd"]
            handler = getattr(self, "cmd_" + name, None)
            if handler is None:
                raise ValueError("unknown command %r" % name)
            result = handler(msg) or {}
            reply = {"reply": True, "id": cmd_id, "ok": True}
            reply.update(result)
        except Exception as e:  # noqa: BLE001 - reported to the test
            reply = {
                "reply": True,
                "id": cmd_id,
                "ok": False,
                "error": "%s: %s" % (type(e).__name__, e),
                "traceback": traceback.format_exc(),
            }
        emit(reply)
        if reply.get("ok") and reply.get("quit"):
            self.loop.quit()

    # --- commands ----------------------------------------------------------

    def _display(self, msg):
        return self.displays[int(msg.get("display", 0))]

    def cmd_ping(self, msg):
        return {}

    def cmd_quit(self, msg):
        return {"quit": True}

    def cmd_displays(self, msg):
        return {"displays": [[d.get_width(), d.get_height()] for d in self.displays]}

    def cmd_draw(self, msg):
        d = self._display(msg)
        w, h = int(msg["w"]), int(msg["h"])
        pixels = base64.b64decode(msg["pixels"])
        stride = int(msg.get("stride", w * 4))
        data = GLib.Bytes.new(pixels)
        self._keep.append(data)
        del self._keep[:-64]
        d.draw(int(msg["x"]), int(msg["y"]), w, h, data, stride)
        return {}

    def cmd_fill(self, msg):
        d = self._display(msg)
        d.fill(
            int(msg["x"]), int(msg["y"]), int(msg["w"]), int(msg["h"]), int(msg["color"]) & 0xFFFFFFFF
        )
        return {}

    def cmd_copy_area(self, msg):
        d = self._display(msg)
        d.copy_area(
            int(msg["src_x"]),
            int(msg["src_y"]),
            int(msg["w"]),
            int(msg["h"]),
            int(msg["dest_x"]),
            int(msg["dest_y"]),
        )
        return {}

    def cmd_resize(self, msg):
        d = self._display(msg)
        d.resize(int(msg["w"]), int(msg["h"]))
        return {"width": d.get_width(), "height": d.get_height()}

    def cmd_set_cursor(self, msg):
        d = self._display(msg)
        w, h = int(msg["w"]), int(msg["h"])
        pixels = base64.b64decode(msg["pixels"])
        stride = int(msg.get("stride", w * 4))
        data = GLib.Bytes.new(pixels)
        self._keep.append(data)
        del self._keep[:-64]
        d.set_cursor(w, h, int(msg["hot_x"]), int(msg["hot_y"]), data, stride)
        return {}

    def cmd_move_cursor(self, msg):
        self._display(msg).move_cursor(int(msg["x"]), int(msg["y"]))
        return {}

    def cmd_hide_cursor(self, msg):
        self._display(msg).hide_cursor()
        return {}

    def cmd_snapshot(self, msg):
        d = self._display(msg)
        data, width, height = d.snapshot()
        raw = data.get_data() or b""
        return {
            "width": width,
            "height": height,
            "pixels": base64.b64encode(bytes(raw)).decode("ascii"),
        }

    def cmd_set_ticket(self, msg):
        self.server.set_ticket(msg.get("password"), int(msg.get("lifetime", 0)))
        return {}

    def cmd_set_ticket_full(self, msg):
        flags = Red.TicketFlags(0)
        for nick in msg.get("flags", []):
            flags |= {
                "fail-if-connected": Red.TicketFlags.FAIL_IF_CONNECTED,
                "disconnect-if-connected": Red.TicketFlags.DISCONNECT_IF_CONNECTED,
            }[nick]
        try:
            self.server.set_ticket_full(msg.get("password"), int(msg.get("lifetime", 0)), flags)
        except GLib.Error as e:
            assert e.matches(Red.error_quark(), e.code), e
            return {"set": False, "error_code": e.code}
        return {"set": True}

    def _client_list(self):
        return list(self.server.get_clients() or [])

    def cmd_clients(self, msg):
        clients = self._client_list()
        info = []
        for c in clients:
            try:
                address = c.get_address()
            except Exception:  # noqa: BLE001
                address = None
            info.append({"id": self._client_id(c), "address": address})
        return {"count": len(clients), "clients": info}

    def cmd_disconnect_clients(self, msg):
        clients = self._client_list()
        for c in clients:
            Red.Client.disconnect(c)
        return {"count": len(clients)}

    def run(self):
        self.loop.run()
        if self.watch is not None:
            GLib.source_remove(self.watch)
            self.watch = None
        self.server.stop()


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        srv = Server(args)
        srv.start()
    except Exception as e:  # noqa: BLE001
        sys.stderr.write("serve_display: cannot start: %s\n" % e)
        traceback.print_exc()
        emit({"event": "error", "error": str(e)})
        return 2
    srv.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
