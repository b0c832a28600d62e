"""Real-client test harness: a redspice server process and spice-gtk clients.

* ServerProcess runs serve_display.py (a Red.Server driven by JSON lines) in a
  child /usr/bin/python3 with this process's environment, so the typelib and
  library that `meson devenv` put on the paths are the ones tested.
* SpiceClient drives spice-gtk (SpiceClientGLib 2.0) through GObject
  introspection on this process's default GLib main context.
* InProcessClient is a bare spice-gtk session for a Red.Server made in the
  test's own process (the lifecycle and threading-model tests).

Every wait is bounded (DEFAULT_TIMEOUT, 20 s) and keeps iterating the
default main context at full speed (helpers.wait_until with
sleep_when_busy=False), so the spice-gtk clients keep running while a test
waits for the server.

spice-gtk through introspection has a few traps, handled here:
* SpiceChannel and SpiceSession have a connect() method of their own that
  hides GObject's signal connect(): signals are connected with
  GObject.Object.connect(obj, ...).
* Pointer arguments of signals (display-primary-create's surface,
  cursor-set's pixels) arrive as plain ints: read them with ctypes.
* The session connects only the main channel; every other channel is
  connected in channel-new.
* The typelib lacks some SPICE enums (mouse buttons and masks): the
  numbers of spice-protocol's spice/enums.h are below.
"""

import base64
import ctypes
import json
import os
import subprocess
import sys
import threading

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject  # noqa: E402
from gi.repository import SpiceClientGLib as Spice  # noqa: E402

from helpers import HOST, b64, describe_mismatch, iterate, mask_x, read_surface, wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# REDSPICE_TEST_SERVER_SCRIPT runs the suite against another script that
# speaks serve_display.py's JSON protocol (a stub, another server).
SERVE_DISPLAY = os.environ.get("REDSPICE_TEST_SERVER_SCRIPT") or os.path.join(
    HERE, "serve_display.py")
PYTHON = "/usr/bin/python3"  # Debian's: the Python that has `gi` and the typelibs
DEFAULT_TIMEOUT = 20.0

# SPICE enums (spice/enums.h), some of which the typelib lacks.
CHANNEL_MAIN, CHANNEL_DISPLAY, CHANNEL_INPUTS, CHANNEL_CURSOR = 1, 2, 3, 4
MOUSE_MODE_SERVER, MOUSE_MODE_CLIENT = 1, 2
BUTTON_LEFT, BUTTON_MIDDLE, BUTTON_RIGHT, BUTTON_UP, BUTTON_DOWN = 1, 2, 3, 4, 5
MASK_LEFT, MASK_MIDDLE, MASK_RIGHT = 1, 2, 4
SURFACE_FMT_32_xRGB = 32

EVENT_NAMES = {
    int(Spice.ChannelEvent.NONE): "NONE",
    int(Spice.ChannelEvent.OPENED): "OPENED",
    int(Spice.ChannelEvent.SWITCHING): "SWITCHING",
    int(Spice.ChannelEvent.CLOSED): "CLOSED",
    int(Spice.ChannelEvent.ERROR_CONNECT): "ERROR_CONNECT",
    int(Spice.ChannelEvent.ERROR_TLS): "ERROR_TLS",
    int(Spice.ChannelEvent.ERROR_LINK): "ERROR_LINK",
    int(Spice.ChannelEvent.ERROR_AUTH): "ERROR_AUTH",
    int(Spice.ChannelEvent.ERROR_IO): "ERROR_IO",
}
ERROR_EVENTS = {"ERROR_CONNECT", "ERROR_TLS", "ERROR_LINK", "ERROR_AUTH", "ERROR_IO"}
TYPE_NAMES = {1: "main", 2: "display", 3: "inputs", 4: "cursor"}


# --------------------------------------------------------------------------
# The server process


class ServerError(AssertionError):
    pass


class ServerProcess:
    """serve_display.py in a child process.

    ServerProcess(displays=[(320, 240)], password=None, ticket_lifetime=0,
    image_compression=None) then start() (or use it as a context manager).
    """

    def __init__(self, displays=((320, 240),), password=None, ticket_lifetime=0,
                 image_compression=None, extra_args=(), env=None,
                 start_timeout=DEFAULT_TIMEOUT):
        self.args = [PYTHON, "-u", SERVE_DISPLAY]
        for w, h in displays:
            self.args += ["--display", "%dx%d" % (w, h)]
        if password is not None:
            self.args += ["--password", password]
        if ticket_lifetime:
            self.args += ["--ticket-lifetime", str(ticket_lifetime)]
        if image_compression:
            self.args += ["--image-compression", image_compression]
        self.args += list(extra_args)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.pid = None
        self._replies = {}
        self._events = []          # every event, in arrival order
        self._pending = []         # events not yet taken by a test
        self._lock = threading.Lock()
        self._stderr = []
        self._next_id = 1
        self._eof = False
        self._threads = []

    # -- life cycle --

    def start(self):
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            cwd=HERE,
        )
        for target, stream in ((self._read_stdout, self.proc.stdout),
                               (self._read_stderr, self.proc.stderr)):
            t = threading.Thread(target=target, args=(stream,), daemon=True)
            t.start()
            self._threads.append(t)
        ready = self.wait_event("ready", timeout=self.start_timeout, consume=True,
                                check_alive=True)
        if ready is None:
            raise ServerError("serve_display.py did not get ready in %.0f s%s" % (
                self.start_timeout, self.diagnostics()))
        self.port = ready["port"]
        self.tls_port = ready.get("tls_port", -1)
        self.pid = ready["pid"]
        self.displays = ready["displays"]
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def stop(self, timeout=5.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'{"cmd": "quit"}\n')
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for s in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                s.close()
            except Exception:  # noqa: BLE001
                pass
        for t in self._threads:
            t.join(2)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self):
        return None if self.proc is None else self.proc.poll()

    # -- pipes --

    def _read_stdout(self, stream):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                with self._lock:
                    self._stderr.append("[stdout, not JSON] " + line[:500])
                continue
            with self._lock:
                if msg.get("reply"):
                    self._replies[msg.get("id")] = msg
                elif "event" in msg:
                    self._events.append(msg)
                    self._pending.append(msg)
        self._eof = True

    def _read_stderr(self, stream):
        for raw in iter(stream.readline, b""):
            with self._lock:
                self._stderr.append(raw.decode("utf-8", "replace").rstrip("\n"))
                del self._stderr[:-400]

    def stderr_tail(self, lines=40):
        with self._lock:
            return "\n".join(self._stderr[-lines:])

    def diagnostics(self):
        rc = self.returncode
        state = "running" if rc is None else "exited with %s" % rc
        tail = self.stderr_tail()
        return "\n[server %s; stderr tail:]\n%s" % (state, tail or "(empty)")

    # -- commands --

    def command(self, cmd, timeout=DEFAULT_TIMEOUT, check=True, **fields):
        """Sends one command and returns its reply dict.

        command("fill", x=0, ...) or command({"cmd": "fill", ...}). Raises
        ServerError if it fails (check=True) or no reply comes in time.
        """
        msg = dict(cmd) if isinstance(cmd, dict) else {"cmd": cmd}
        msg.update(fields)
        cmd_id = self._next_id
        self._next_id += 1
        msg["id"] = cmd_id
        if not self.alive():
            raise ServerError("server not running for %r%s" % (msg["cmd"], self.diagnostics()))
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise ServerError("cannot send %r: %s%s" % (msg["cmd"], e, self.diagnostics()))
        got = wait_until(lambda: cmd_id in self._replies, timeout, sleep_when_busy=False,
                         fail_fast=lambda: self._eof and cmd_id not in self._replies)
        if not got:
            raise ServerError("no reply to %r in %.0f s%s" % (msg["cmd"], timeout, self.diagnostics()))
        with self._lock:
            reply = self._replies.pop(cmd_id)
        if check and not reply.get("ok"):
            raise ServerError("command %r failed: %s\n%s%s" % (
                msg["cmd"], reply.get("error"), reply.get("traceback", ""), self.diagnostics()))
        return reply

    def snapshot(self, display=0):
        """(width, height, packed x8r8g8b8 bytes) as the server has them now."""
        r = self.command("snapshot", display=display)
        data = base64.b64decode(r["pixels"])
        assert len(data) == r["width"] * r["height"] * 4, "snapshot size"
        return r["width"], r["height"], data

    def draw(self, x, y, w, h, pixels, stride=None, display=0):
        return self.command("draw", x=x, y=y, w=w, h=h, pixels=b64(pixels),
                            stride=stride or w * 4, display=display)

    def fill(self, x, y, w, h, color, display=0):
        return self.command("fill", x=x, y=y, w=w, h=h, color=color, display=display)

    def copy_area(self, src_x, src_y, w, h, dest_x, dest_y, display=0):
        return self.command("copy_area", src_x=src_x, src_y=src_y, w=w, h=h,
                            dest_x=dest_x, dest_y=dest_y, display=display)

    def resize(self, w, h, display=0):
        return self.command("resize", w=w, h=h, display=display)

    def client_count(self):
        return self.command("clients")["count"]

    def rss_kib(self):
        """VmRSS of the server process in KiB (from /proc/PID/status)."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise ServerError("no VmRSS for %d" % self.pid)

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    # -- events --

    def _match(self, ev, name, pred):
        if name is not None:
            names = (name,) if isinstance(name, str) else tuple(name)
            if ev.get("event") not in names:
                return False
        return pred is None or pred(ev)

    def wait_event(self, name=None, pred=None, timeout=DEFAULT_TIMEOUT, consume=True,
                   check_alive=False):
        """The first pending event named `name` (a str or several) matching
        pred, or None after timeout. Consumed (removed) unless consume=False."""
        found = []

        def look():
            with self._lock:
                for i, ev in enumerate(self._pending):
                    if self._match(ev, name, pred):
                        found.append(ev)
                        if consume:
                            del self._pending[i]
                        return True
            return False

        # no event can come after EOF on the server's stdout
        wait_until(look, timeout, fail_fast=lambda: self._eof, sleep_when_busy=False)
        return found[0] if found else None

    def wait_events(self, count, name=None, pred=None, timeout=DEFAULT_TIMEOUT):
        """Waits until `count` pending events match and takes them, in order.

        Returns the list (shorter than count after the timeout)."""
        def matching():
            with self._lock:
                return [ev for ev in self._pending if self._match(ev, name, pred)]

        wait_until(lambda: len(matching()) >= count, timeout, sleep_when_busy=False,
                   fail_fast=lambda: not self.alive() and self._eof)
        taken = matching()[:count]
        with self._lock:
            for ev in taken:
                self._pending.remove(ev)
        return taken

    def events(self, timeout=0.2, name=None):
        """Iterates for `timeout` s, then takes and returns every pending
        event (those named `name` only, if given)."""
        iterate(timeout, sleep_when_busy=False)
        with self._lock:
            if name is None:
                taken, self._pending = self._pending, []
            else:
                taken = [ev for ev in self._pending if self._match(ev, name, None)]
                self._pending = [ev for ev in self._pending if ev not in taken]
        return taken

    def all_events(self, name=None):
        with self._lock:
            return [ev for ev in self._events if self._match(ev, name, None)]


# --------------------------------------------------------------------------
# The spice-gtk client


_spice_log = []
_spice_log_installed = False


def _spice_log_handler(domain, level, message, *args):
    _spice_log.append("%s: %s" % (domain, message))
    del _spice_log[:-100]
    if level & (GLib.LogLevelFlags.LEVEL_ERROR | GLib.LogLevelFlags.LEVEL_CRITICAL):
        sys.stderr.write("%s: %s\n" % (domain, message))


def _install_spice_log_capture():
    """Keeps spice-gtk's warnings ("incomplete link header (0/16)", ...) for
    assertion messages instead of letting them scroll past on stderr."""
    global _spice_log_installed
    if _spice_log_installed:
        return
    _spice_log_installed = True
    levels = (GLib.LogLevelFlags.LEVEL_MASK | GLib.LogLevelFlags.FLAG_FATAL
              | GLib.LogLevelFlags.FLAG_RECURSION)
    for domain in ("GSpice", "Spice"):
        GLib.log_set_handler(domain, levels, _spice_log_handler, None)


def spice_log_tail(lines=12):
    return "\n".join(_spice_log[-lines:])


class DisplayState:
    def __init__(self, channel_id, channel):
        self.id = channel_id
        self.channel = channel
        self.format = None
        self.width = 0
        self.height = 0
        self.stride = 0
        self.shmid = None
        self.address = None
        self.primary_creates = 0
        self.primary_destroys = 0
        self.invalidates = 0
        self.marks = 0
        self.last_mark = None

    def __repr__(self):
        return ("<display %d: %sx%s fmt %s stride %s creates %d destroys %d invalidates %d marks %d>"
                % (self.id, self.width, self.height, self.format, self.stride,
                   self.primary_creates, self.primary_destroys, self.invalidates, self.marks))


class CursorState:
    def __init__(self, channel_id, channel):
        self.id = channel_id
        self.channel = channel
        self.shape = None  # dict width, height, hot_x, hot_y, rgba (bytes R,G,B,A)
        self.sets = []
        self.moves = []
        self.hides = 0
        self.resets = 0
        self.log = []  # ("set", shape) / ("move", x, y) / ("hide",) / ("reset",)


class SpiceClient:
    """One spice-gtk session, every channel opened, state kept per channel."""

    _serial = 0

    def __init__(self, name=None):
        SpiceClient._serial += 1
        self.name = name or "client%d" % SpiceClient._serial
        self.session = Spice.Session()
        self.channels = {}            # (type, id) -> SpiceChannel
        self.channel_events = {}      # (type, id) -> [event names]
        self.channel_errors = {}      # (type, id) -> [error messages]
        self.displays = {}            # id -> DisplayState
        self.cursors = {}             # id -> CursorState
        self.main = None
        self.inputs = None
        self.disconnected = False
        self.mouse_mode_updates = 0
        self._handlers = []
        self._hook(self.session, "channel-new", self._on_channel_new)
        self._hook(self.session, "channel-destroy", self._on_channel_destroy)
        self._hook(self.session, "disconnected", self._on_disconnected)
        _install_spice_log_capture()

    def _hook(self, obj, sig, cb, *args):
        # spice's own connect() hides GObject's (see the module docstring)
        hid = GObject.Object.connect(obj, sig, cb, *args)
        self._handlers.append((obj, hid))
        return hid

    # -- connection --

    def connect(self, host=HOST, port=None, password=None, tls_port=None, ca_file=None,
                unix_path=None):
        if unix_path is not None:
            self.session.props.unix_path = unix_path
        self.session.props.host = host
        if port is not None:
            self.session.props.port = str(port)
        if tls_port is not None:
            self.session.props.tls_port = str(tls_port)
            self.session.props.ca_file = ca_file
        if password is not None:
            self.session.props.password = password
        ok = Spice.Session.connect(self.session)
        assert ok, "spice_session_connect() returned FALSE"
        return self

    def disconnect(self, timeout=5.0):
        if self.disconnected and not self.channels:
            return
        try:
            Spice.Session.disconnect(self.session)
        except Exception:  # noqa: BLE001
            pass
        wait_until(lambda: not self.channels, timeout, sleep_when_busy=False)
        self.disconnected = True

    def close(self):
        self.disconnect()
        for obj, hid in self._handlers:
            try:
                GObject.Object.disconnect(obj, hid)
            except Exception:  # noqa: BLE001
                pass
        self._handlers = []

    def _on_disconnected(self, session):
        self.disconnected = True

    def _on_channel_new(self, session, channel):
        ctype = channel.props.channel_type
        cid = channel.props.channel_id
        key = (ctype, cid)
        self.channels[key] = channel
        self.channel_events.setdefault(key, [])
        self._hook(channel, "channel-event", self._on_channel_event, key)
        if isinstance(channel, Spice.MainChannel):
            self.main = channel
            self._hook(channel, "main-mouse-update", self._on_mouse_update)
        elif isinstance(channel, Spice.DisplayChannel):
            st = DisplayState(cid, channel)
            self.displays[cid] = st
            self._hook(channel, "display-primary-create", self._on_primary_create, st)
            self._hook(channel, "display-primary-destroy", self._on_primary_destroy, st)
            self._hook(channel, "display-invalidate", self._on_invalidate, st)
            self._hook(channel, "display-mark", self._on_mark, st)
        elif isinstance(channel, Spice.CursorChannel):
            st = CursorState(cid, channel)
            self.cursors[cid] = st
            self._hook(channel, "cursor-set", self._on_cursor_set, st)
            self._hook(channel, "cursor-move", self._on_cursor_move, st)
            self._hook(channel, "cursor-hide", self._on_cursor_hide, st)
            self._hook(channel, "cursor-reset", self._on_cursor_reset, st)
        elif isinstance(channel, Spice.InputsChannel):
            self.inputs = channel
        if not isinstance(channel, Spice.MainChannel):
            # the session connects only the main channel
            Spice.Channel.connect(channel)

    def _on_channel_destroy(self, session, channel):
        key = (channel.props.channel_type, channel.props.channel_id)
        self.channels.pop(key, None)

    def _on_channel_event(self, channel, event, key):
        name = EVENT_NAMES.get(int(event), str(int(event)))
        self.channel_events.setdefault(key, []).append(name)
        if name in ERROR_EVENTS:
            err = channel.get_error()
            self.channel_errors.setdefault(key, []).append(
                "%s: %s" % (name, err.message if err else "(no GError)"))

    def _on_mouse_update(self, channel):
        self.mouse_mode_updates += 1

    # -- display --

    def _on_primary_create(self, channel, fmt, width, height, stride, shmid, data, st):
        st.format = fmt
        st.width, st.height, st.stride = width, height, stride
        st.shmid = shmid
        st.address = data if isinstance(data, int) else None
        st.primary_creates += 1

    def _on_primary_destroy(self, channel, st):
        st.primary_destroys += 1
        st.address = None

    def _on_invalidate(self, channel, x, y, w, h, st):
        st.invalidates += 1

    def _on_mark(self, channel, mark, st):
        st.marks += 1
        st.last_mark = mark

    def surface_bytes(self, display_id=0):
        """The client's primary surface of that display: height rows of
        width*4 bytes (the client's stride padding dropped), or None."""
        st = self.displays.get(display_id)
        if st is None or not st.address or not st.width:
            return None
        return read_surface(st.address, st.stride, (0, 0, st.width, st.height))

    # -- cursor --

    def _on_cursor_set(self, channel, width, height, hot_x, hot_y, rgba, st):
        # rgba: spice-gtk's copy of the shape, B and R swapped from the wire
        # (bytes R,G,B,A, straight alpha: what a GdkPixbuf wants), or NULL
        # for a default cursor. It may be freed after the signal: copy now.
        data = None
        if isinstance(rgba, int) and rgba:
            data = ctypes.string_at(rgba, width * height * 4)
        if data is None:
            data = self._cursor_property_data(channel)
        shape = {"width": width, "height": height, "hot_x": hot_x, "hot_y": hot_y, "rgba": data}
        st.shape = shape
        st.sets.append(shape)
        st.log.append(("set", shape))

    @staticmethod
    def _cursor_property_data(channel):
        shape = channel.props.cursor
        if shape is None:
            return None
        ptr = shape.data
        if isinstance(ptr, int) and ptr:
            return ctypes.string_at(ptr, shape.width * shape.height * 4)
        return None

    def _on_cursor_move(self, channel, x, y, st):
        st.moves.append((x, y))
        st.log.append(("move", x, y))

    def _on_cursor_hide(self, channel, st):
        st.hides += 1
        st.log.append(("hide",))

    def _on_cursor_reset(self, channel, st):
        st.resets += 1
        st.log.append(("reset",))

    # -- inputs (SpiceInputsChannel) --

    def key_press(self, scancode):
        Spice.InputsChannel.key_press(self._inputs(), scancode)

    def key_release(self, scancode):
        Spice.InputsChannel.key_release(self._inputs(), scancode)

    def position(self, x, y, display=0, buttons=0):
        Spice.InputsChannel.position(self._inputs(), x, y, display, buttons)

    def motion(self, dx, dy, buttons=0):
        Spice.InputsChannel.motion(self._inputs(), dx, dy, buttons)

    def button_press(self, button, buttons=0):
        Spice.InputsChannel.button_press(self._inputs(), button, buttons)

    def button_release(self, button, buttons=0):
        Spice.InputsChannel.button_release(self._inputs(), button, buttons)

    def _inputs(self):
        assert self.inputs is not None, "no inputs channel" + self.state()
        return self.inputs

    def mouse_mode(self):
        return self.main.props.mouse_mode if self.main is not None else None

    def request_mouse_mode(self, mode):
        Spice.MainChannel.request_mouse_mode(self.main, mode)

    # -- state and waits --

    def events_of(self, ctype, cid=0):
        return self.channel_events.get((ctype, cid), [])

    def opened(self, ctype, cid=0):
        return "OPENED" in self.events_of(ctype, cid)

    def errors(self):
        return [e for errs in self.channel_errors.values() for e in errs]

    def first_error(self):
        """A message if any channel failed or the session dropped, else None."""
        for key, errs in self.channel_errors.items():
            if errs:
                return "%s channel %d: %s" % (TYPE_NAMES.get(key[0], key[0]), key[1], errs[0])
        if self.disconnected:
            return "session disconnected"
        return None

    def state(self):
        lines = ["", "[%s state]" % self.name]
        for key in sorted(self.channel_events):
            lines.append("  %s %d: events %s errors %s" % (
                TYPE_NAMES.get(key[0], key[0]), key[1], self.channel_events[key],
                self.channel_errors.get(key, [])))
        for d in self.displays.values():
            lines.append("  " + repr(d))
        for c in self.cursors.values():
            lines.append("  cursor %d: %d sets, %d moves, %d hides" % (
                c.id, len(c.sets), len(c.moves), c.hides))
        if self.main is not None:
            lines.append("  mouse-mode %s" % self.mouse_mode())
        if self.disconnected:
            lines.append("  session disconnected")
        tail = spice_log_tail()
        if tail:
            lines.append("[spice-gtk log tail]")
            lines.append(tail)
        return "\n".join(lines)

    def display_ready(self, display_id=0):
        st = self.displays.get(display_id)
        return (st is not None and st.address is not None and st.marks > 0
                and self.opened(CHANNEL_DISPLAY, display_id))

    def wait_ready(self, displays=1, inputs=True, cursor=True, timeout=DEFAULT_TIMEOUT,
                   server=None):
        """Waits for main OPENED, `displays` display channels with a primary
        surface and a mark, and the inputs and cursor channels OPENED.
        Stops early on any channel error. Raises AssertionError with the
        client's (and server's) state when it does not get there."""
        def ready():
            if not self.opened(CHANNEL_MAIN):
                return False
            for d in range(displays):
                if not self.display_ready(d):
                    return False
                if cursor and not self.opened(CHANNEL_CURSOR, d):
                    return False
            if inputs and not self.opened(CHANNEL_INPUTS):
                return False
            return True

        if not wait_until(ready, timeout, fail_fast=self.first_error, sleep_when_busy=False):
            raise AssertionError("spice-gtk client did not get ready (%s)%s%s" % (
                self.first_error() or "timeout %.0f s" % timeout, self.state(),
                server.diagnostics() if server is not None else ""))
        return self

    def wait_channel_event(self, ctype, names, cid=0, timeout=DEFAULT_TIMEOUT):
        names = {names} if isinstance(names, str) else set(names)
        wait_until(lambda: names & set(self.events_of(ctype, cid)), timeout, sleep_when_busy=False)
        hit = [e for e in self.events_of(ctype, cid) if e in names]
        return hit[0] if hit else None


def connect_client(server, password=None, displays=None, wait=True, name=None, **kw):
    """A SpiceClient connected to a ServerProcess, waited for unless wait=False."""
    c = SpiceClient(name=name)
    c.connect(HOST, server.port, password)
    if wait:
        c.wait_ready(displays=len(server.displays) if displays is None else displays,
                     server=server, **kw)
    return c


def wait_client_matches(client, server, display=0, timeout=DEFAULT_TIMEOUT, what=""):
    """Takes the server's snapshot (every earlier command applied) and waits
    until the client's surface has its size and the same 24 colour bits in
    every pixel (see helpers.mask_x for why the X byte is left out)."""
    w, h, expected = server.snapshot(display)
    exp = mask_x(expected)

    def same():
        st = client.displays.get(display)
        if st is None or st.width != w or st.height != h:
            return False
        got = client.surface_bytes(display)
        return got is not None and mask_x(got) == exp

    if wait_until(same, timeout, interval=0.02, fail_fast=client.first_error,
                  sleep_when_busy=False):
        return
    st = client.displays.get(display)
    got = client.surface_bytes(display)
    if st is None or got is None:
        detail = "client has no surface for display %d" % display
    elif (st.width, st.height) != (w, h):
        detail = "client surface is %dx%d, server's %dx%d" % (st.width, st.height, w, h)
    else:
        detail = describe_mismatch(expected, got, w, h)
    raise AssertionError("%s: %s after %.0f s: %s%s%s" % (
        client.name, what or "display %d differs" % display, timeout, detail,
        client.state(), server.diagnostics()))


# --------------------------------------------------------------------------
# In-process servers: a bare client and the library's live-object counts

# The classes a connected client is made of, server side.
CLIENT_CLASSES = [
    "RedClient",
    "RedMainChannelClient",
    "RedInputsChannelClient",
    "RedDisplayChannelClient",
    "RedCursorChannelClient",
]


def live(name):
    """How many objects of GType `name` exist now (Red.debug_get_live_objects)."""
    # Imported here: the real-client tests run the server in a child process
    # and load no libredspice into this one.
    from gi.repository import Red

    return Red.debug_get_live_objects(name)


def client_object_counts():
    """{class name: live objects} for every class in CLIENT_CLASSES."""
    return {name: live(name) for name in CLIENT_CLASSES}


class InProcessClient:
    """A spice-gtk session with every channel opened, for a Red.Server made
    in this process on the same main context. It keeps nothing but its
    channels, so the lifecycle tests see exactly the server's objects."""

    def __init__(self, port):
        self.session = Spice.Session()
        self.session.props.host = HOST
        self.session.props.port = str(port)
        self.channels = {}
        self.opened = set()
        self.cursor_moves = []
        GObject.Object.connect(self.session, "channel-new", self._new_channel)
        self.session.connect()

    def _new_channel(self, session, channel):
        name = Spice.Channel.type_to_string(channel.props.channel_type)
        self.channels[name] = channel
        GObject.Object.connect(channel, "channel-event", self._event, name)
        if name == "cursor":
            GObject.Object.connect(channel, "cursor-move", lambda ch, x, y: self.cursor_moves.append((x, y)))
        if name != "main":
            Spice.Channel.connect(channel)

    def _event(self, channel, event, name):
        if event == Spice.ChannelEvent.OPENED:
            self.opened.add(name)

    def wait_open(self):
        assert wait_until(lambda: self.opened >= {"main", "display", "cursor", "inputs"}), self.opened

    def close(self):
        self.session.disconnect()
        self.channels.clear()
        self.session = None


# --------------------------------------------------------------------------
# Teardown (conftest.py's `res` fixture hands one Resources to each test)


class Resources:
    """Collects servers and clients to tear down, clients first."""

    def __init__(self):
        self.servers = []
        self.clients = []

    def server(self, **kw):
        s = ServerProcess(**kw)
        self.servers.append(s)
        return s.start()

    def client(self, server, **kw):
        c = connect_client(server, **kw)
        self.clients.append(c)
        return c

    def add_client(self, c):
        self.clients.append(c)
        return c

    def close(self):
        for c in self.clients:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass
        for s in self.servers:
            s.stop()
