"""redspicesink, the GStreamer plugin (gst/), with the real spice-gtk client.

* gst-launch-1.0 videotestsrc pattern=smpte ! redspicesink: the client's
  surface equals, pixel for pixel, frames GStreamer itself makes
  (filesink of the same caps), on a lossless path (streaming-video=off);
* caps renegotiation resizes the client's display, pixel-exact at an odd
  size (321x241) and another (160x120; the static "colors" pattern);
* the client's keyboard and mouse arrive upstream of the sink as
  GstNavigation events (a pad probe);
* a RedServer made by the application (through Red-1.0 in the same
  process) serves the sink's display: one RedServer GType for both;
* a port in use is an element error.

The pipelines run in child processes (gst-launch-1.0, or PIPELINE below in
Debian's python3) so this process loads neither GStreamer's plugins nor
libredspice; the environment `meson devenv` sets (GST_PLUGIN_PATH,
LD_LIBRARY_PATH, GI_TYPELIB_PATH) reaches them.
"""

import hashlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import threading

import pytest

from helpers import BUILD_DIR, HOST, describe_mismatch, mask_x, wait_until
from spice_harness import (
    BUTTON_LEFT,
    BUTTON_UP,
    MASK_LEFT,
    MOUSE_MODE_CLIENT,
    MOUSE_MODE_SERVER,
    PYTHON,
    SpiceClient,
)

TIME_LIMIT = 120
PLUGIN = os.path.join(BUILD_DIR, "gst", "libgstredspice.so")

pytestmark = pytest.mark.skipif(
    not os.path.exists(PLUGIN) or shutil.which("gst-launch-1.0") is None,
    reason="redspicesink not built (-Dgst-plugin) or gst-launch-1.0 missing")


@pytest.fixture
def gst_env(tmp_path):
    """The environment of the GStreamer children: a registry of their own,
    so other build trees' plugins and caches play no part."""
    env = dict(os.environ)
    env["GST_REGISTRY"] = str(tmp_path / "registry.bin")
    env["GST_PLUGIN_PATH"] = os.path.dirname(PLUGIN)
    return env


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def reference_frames(env, tmp_path, width, height, count=1, pattern="smpte"):
    """The first `count` frames of videotestsrc as GStreamer makes them:
    each BGRx rows of width*4 bytes. SMPTE's bottom right corner is noise,
    different in every frame (the same sequence in every run)."""
    path = tmp_path / ("%s-%dx%d.raw" % (pattern, width, height))
    cmd = ["gst-launch-1.0", "-q", "videotestsrc", "pattern=" + pattern,
           "num-buffers=%d" % count, "!",
           "video/x-raw,format=BGRx,width=%d,height=%d" % (width, height), "!",
           "filesink", "location=%s" % path]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr + done.stdout
    data = path.read_bytes()
    size = width * height * 4
    assert len(data) == size * count
    return [data[i * size:(i + 1) * size] for i in range(count)]


def reference_frame(env, tmp_path, width, height, pattern="colors"):
    return reference_frames(env, tmp_path, width, height, 1, pattern)[0]


def wait_surface(client, width, height, expected, what):
    """Waits until the client's display 0 is width x height with exactly the
    expected colours (see helpers.mask_x)."""
    exp = mask_x(expected)

    def same():
        st = client.displays.get(0)
        if st is None or (st.width, st.height) != (width, height):
            return False
        got = client.surface_bytes(0)
        return got is not None and mask_x(got) == exp

    if wait_until(same, 20, interval=0.05, fail_fast=client.first_error,
                  sleep_when_busy=False):
        return
    st = client.displays.get(0)
    got = client.surface_bytes(0)
    if st is None or got is None:
        detail = "no surface"
    elif (st.width, st.height) != (width, height):
        detail = "client surface is %dx%d, expected %dx%d" % (st.width, st.height, width, height)
    else:
        detail = describe_mismatch(expected, got, width, height)
    raise AssertionError("%s: %s%s" % (what, detail, client.state()))


@pytest.fixture
def clients():
    made = []
    yield made
    for c in made:
        c.close()


def connect(clients, port, password=None):
    c = SpiceClient()
    clients.append(c)
    c.connect(HOST, port, password)
    c.wait_ready(cursor=False)
    return c


# --------------------------------------------------------------------------
# gst-launch-1.0


def test_gst_launch_smpte_pixel_exact(gst_env, tmp_path, clients):
    """The issue's command: the client ends up showing one of the frames
    videotestsrc made, exactly (every frame differs in its noise corner)."""
    width, height, count = 320, 240, 150
    port = free_port()
    frames = {hashlib.sha256(mask_x(f)).hexdigest(): i
              for i, f in enumerate(reference_frames(gst_env, tmp_path, width, height, count))}
    assert len(frames) == count
    # 30 s of frames; -e: on SIGINT, EOS goes down the pipeline and
    # gst-launch-1.0 waits for it. The test stops it long before the end.
    cmd = ["gst-launch-1.0", "-e", "videotestsrc", "pattern=smpte", "num-buffers=%d" % count,
           "is-live=true", "!",
           "video/x-raw,format=BGRx,width=%d,height=%d,framerate=5/1" % (width, height),
           "!", "redspicesink", "port=%d" % port, "streaming-video=off"]
    proc = subprocess.Popen(cmd, env=gst_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert wait_until(lambda: port_listening(port) or proc.poll() is not None, 20), \
            "redspicesink did not listen on %d" % port
        assert proc.poll() is None, proc.communicate()[0]
        client = connect(clients, port)
        shown = []

        def shows_a_frame():
            st = client.displays.get(0)
            if st is None or (st.width, st.height) != (width, height):
                return False
            got = client.surface_bytes(0)
            index = frames.get(hashlib.sha256(mask_x(got)).hexdigest()) if got else None
            if index is not None:
                shown.append(index)
            return len(set(shown)) >= 2

        # Two different frames, each exact: the display follows the video.
        assert wait_until(shows_a_frame, 30, interval=0.02, fail_fast=client.first_error,
                          sleep_when_busy=False), (
            "the client showed %s of the %d frames%s" % (sorted(set(shown)), count,
                                                         client.state()))
        client.close()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "EOS" in out, out


def port_listening(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((HOST, port)) == 0


def test_port_in_use_is_an_element_error(gst_env):
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        cmd = ["gst-launch-1.0", "videotestsrc", "num-buffers=5", "!", "videoconvert", "!",
               "redspicesink", "port=%d" % port]
        done = subprocess.run(cmd, env=dict(gst_env, LC_ALL="C.UTF-8"), capture_output=True,
                              text=True, timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "GstRedSpiceSink:redspicesink0: Could not start the SPICE server" in out, out


def test_bad_setting_is_an_element_error(gst_env):
    cmd = ["gst-launch-1.0", "videotestsrc", "num-buffers=5", "!", "videoconvert", "!",
           "redspicesink", "port=0", "image-compression=jpeg-please"]
    done = subprocess.run(cmd, env=gst_env, capture_output=True, text=True, timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert '"jpeg-please" is not a value of image-compression' in out, out


# --------------------------------------------------------------------------
# A pipeline driven by JSON lines, in a child python3

PIPELINE = r'''
import json, sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("Red", "1.0")
from gi.repository import GLib, Gst, Red

Gst.init(None)
mode, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def say(**msg):
    print(json.dumps(msg), flush=True)

def caps(w, h):
    return Gst.Caps.from_string(
        "video/x-raw,format=BGRx,width=%d,height=%d,framerate=15/1" % (w, h))

pipeline = Gst.parse_launch(
    "videotestsrc pattern=colors is-live=true ! capsfilter name=caps ! "
    "identity name=probe ! redspicesink name=sink")
capsfilter = pipeline.get_by_name("caps")
capsfilter.props.caps = caps(width, height)
sink = pipeline.get_by_name("sink")
server = None
if mode == "app":
    # The application's server, on this thread's main context.
    server = Red.Server(port=0, streaming_video=Red.StreamingVideo.OFF)
    server.start()
    sink.props.server = server
else:
    sink.props.port = 0
    sink.props.streaming_video = "off"
    sink.props.password = "s3cret"

def on_upstream(pad, info):
    event = info.get_event()
    if event.type == Gst.EventType.NAVIGATION:
        s = event.get_structure()
        say(nav={s.nth_field_name(i): s.get_value(s.nth_field_name(i))
                 for i in range(s.n_fields())})
    return Gst.PadProbeReturn.OK

pipeline.get_by_name("probe").get_static_pad("src").add_probe(
    Gst.PadProbeType.EVENT_UPSTREAM, on_upstream)

loop = GLib.MainLoop()

def on_message(bus, message):
    if message.type == Gst.MessageType.ERROR:
        err, debug = message.parse_error()
        say(error=err.message, debug=debug)
        loop.quit()
    return True

bus = pipeline.get_bus()
bus.add_watch(GLib.PRIORITY_DEFAULT, on_message)
pipeline.set_state(Gst.State.PLAYING)

def announce():
    # Clients see the displays a server has when they connect: wait for
    # the display the sink adds to an application's server at the first
    # frame before giving the port out. The sink's own server listens, with
    # its display, once the pipeline is PAUSED; it is not handed out.
    if server is not None:
        if sink.props.display is None:
            return True
        say(port=server.props.port, same_server=sink.props.server == server,
            display_type=sink.props.display.__gtype__.name)
    else:
        say(port=sink.props.port, same_server=sink.props.server is None,
            display_type=None if sink.props.display is None else "leaked")
    return False

GLib.timeout_add(20, announce)

def on_stdin(channel, condition):
    line = sys.stdin.readline()
    if not line:
        loop.quit()
        return False
    cmd = json.loads(line)
    if cmd["cmd"] == "caps":
        capsfilter.props.caps = caps(cmd["width"], cmd["height"])
        say(ok="caps")
    elif cmd["cmd"] == "quit":
        loop.quit()
        return False
    return True

GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()), GLib.PRIORITY_DEFAULT,
                  GLib.IOCondition.IN | GLib.IOCondition.HUP, on_stdin)
loop.run()
pipeline.set_state(Gst.State.NULL)
if server is not None:
    server.stop()
say(done=True)
'''


class Pipeline:
    """PIPELINE in a child; its JSON lines are read on a thread."""

    def __init__(self, env, mode, width, height):
        self.proc = subprocess.Popen([PYTHON, "-c", PIPELINE, mode, str(width), str(height)],
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.seen = []
        self.stderr = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        first = self.next(lambda m: "port" in m or "error" in m)
        assert "port" in first, "pipeline failed: %r %s" % (first, self.tail())
        self.port = first["port"]
        self.info = first

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def _read_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    def tail(self):
        return "".join(self.stderr[-20:])

    def next(self, pred, timeout=20):
        """The next message matching pred (others are kept in self.seen)."""
        found = []

        def look():
            while True:
                try:
                    m = self.lines.get_nowait()
                except queue.Empty:
                    return False
                self.seen.append(m)
                if pred(m):
                    found.append(m)
                    return True

        assert wait_until(look, timeout, sleep_when_busy=False), (
            "no matching message; got %r %s" % (self.seen, self.tail()))
        return found[0]

    def nav(self, count, timeout=20):
        return [self.next(lambda m: "nav" in m, timeout)["nav"] for _ in range(count)]

    def send(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send(cmd="quit")
                self.proc.wait(timeout=20)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture
def pipelines():
    made = []
    yield made
    for p in made:
        p.close()


def start(pipelines, env, mode, width, height):
    p = Pipeline(env, mode, width, height)
    pipelines.append(p)
    return p


@pytest.mark.parametrize("mode", ["own", "app"])
def test_resize_odd_size_and_navigation(gst_env, tmp_path, clients, pipelines, mode):
    p = start(pipelines, gst_env, mode, 321, 241)
    assert p.info["same_server"], p.info
    assert p.info["display_type"] == ("RedDisplay" if mode == "app" else None), p.info
    assert p.info["port"] > 0, p.info
    password = None
    if mode == "own":
        # The sink's password property reaches its server.
        password = "s3cret"
        wrong = SpiceClient()
        clients.append(wrong)
        wrong.connect(HOST, p.port, "wrong")
        assert wait_until(lambda: wrong.first_error(), 20, sleep_when_busy=False)
        assert "ERROR_AUTH" in wrong.first_error(), wrong.state()
    client = connect(clients, p.port, password)
    wait_surface(client, 321, 241, reference_frame(gst_env, tmp_path, 321, 241), "321x241")

    # Renegotiation: the display, and the client's surface, change size.
    creates = client.displays[0].primary_creates
    p.send(cmd="caps", width=160, height=120)
    wait_surface(client, 160, 120, reference_frame(gst_env, tmp_path, 160, 120), "160x120")
    assert client.displays[0].primary_creates > creates

    # The client's keyboard and mouse, upstream of the sink.
    client.key_press(0x1E)     # A
    client.key_release(0x1E)
    client.key_press(0x14D)    # Right (0xe0 0x4d)
    client.key_release(0x14D)
    assert p.nav(4) == [
        {"event": "key-press", "key": "a"},
        {"event": "key-release", "key": "a"},
        {"event": "key-press", "key": "Right"},
        {"event": "key-release", "key": "Right"},
    ]
    if client.mouse_mode() != MOUSE_MODE_CLIENT:
        client.request_mouse_mode(MOUSE_MODE_CLIENT)
    assert wait_until(lambda: client.mouse_mode() == MOUSE_MODE_CLIENT, 10,
                      sleep_when_busy=False), client.state()
    client.position(100, 50)
    client.button_press(BUTTON_LEFT, MASK_LEFT)
    client.button_release(BUTTON_LEFT, 0)
    client.button_press(BUTTON_UP, 0)
    client.button_release(BUTTON_UP, 0)
    got = p.nav(4)
    assert got == [
        {"event": "mouse-move", "pointer_x": 100.0, "pointer_y": 50.0},
        {"event": "mouse-button-press", "button": 1, "pointer_x": 100.0, "pointer_y": 50.0},
        {"event": "mouse-button-release", "button": 1, "pointer_x": 100.0,
         "pointer_y": 50.0},
        {"event": "mouse-scroll", "pointer_x": 100.0, "pointer_y": 50.0,
         "delta_pointer_x": 0.0, "delta_pointer_y": 1.0},
    ], json.dumps(got)

    # Server mouse mode: relative motion moves the pointer, in the display.
    client.request_mouse_mode(MOUSE_MODE_SERVER)
    assert wait_until(lambda: client.mouse_mode() == MOUSE_MODE_SERVER, 10,
                      sleep_when_busy=False), client.state()
    client.motion(5, -7)
    client.motion(1000, 0)
    got = p.nav(2)
    assert got == [
        {"event": "mouse-move", "pointer_x": 105.0, "pointer_y": 43.0},
        {"event": "mouse-move", "pointer_x": 159.0, "pointer_y": 43.0},
    ], json.dumps(got)

    client.close()
    assert p.close() == 0, p.tail()
    # The pipeline went to NULL (the sink stopped its server) and the
    # child ended cleanly.
    assert p.next(lambda m: "done" in m or "error" in m) == {"done": True}, p.seen
