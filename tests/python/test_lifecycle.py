"""spice-server's ownership and threading rules (the threading model, see
docs/threading.md), proven with the real spice-gtk client (in this process,
on the same main context as the server) and the library's live-object
counts."""

import gc
import os
import threading

import gi

gi.require_version("Red", "1.0")
gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, Red  # noqa: E402
from gi.repository import SpiceClientGLib as Spice  # noqa: E402

from helpers import wait_until  # noqa: E402
from spice_harness import CLIENT_CLASSES, InProcessClient, client_object_counts, live  # noqa: E402


def red_threads():
    """The library's own threads (display workers), by thread id."""
    ids = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/comm" % tid) as f:
                if f.read().startswith("red-worker"):
                    ids.add(tid)
        except OSError:
            pass
    return ids


def test_everything_of_a_client_is_finalized_after_it_leaves_and_channels_stay(served):
    server, display = served
    left = []
    server.connect("client-disconnected", lambda s, c: left.append(c.props.id))
    client = InProcessClient(server.props.port)
    client.wait_open()
    assert wait_until(lambda: client_object_counts() == {name: 1 for name in CLIENT_CLASSES}), client_object_counts()
    client.close()
    assert wait_until(lambda: left and all(v == 0 for v in client_object_counts().values())), client_object_counts()
    assert live("RedMainChannel") >= 1 and live("RedDisplayChannel") >= 1
    assert server.get_main_channel().get_clients() == []
    assert display.get_display_channel().get_clients() == []


def test_closing_only_the_display_channel_finalizes_only_its_channel_client(served):
    server, display = served
    display.set_cursor(2, 2, 0, 0, GLib.Bytes.new(bytes([255] * 16)), 8)
    keys = []
    server.connect("key-event", lambda s, code, pressed: keys.append((code, pressed)))
    client = InProcessClient(server.props.port)
    client.wait_open()
    assert wait_until(lambda: live("RedDisplayChannelClient") == 1)
    Spice.Channel.disconnect(client.channels["display"], Spice.ChannelEvent.CLOSED)
    assert wait_until(lambda: live("RedDisplayChannelClient") == 0)
    gc.collect()
    assert client_object_counts() == {
        "RedClient": 1,
        "RedMainChannelClient": 1,
        "RedInputsChannelClient": 1,
        "RedDisplayChannelClient": 0,
        "RedCursorChannelClient": 1,
    }
    # The rest of the client keeps working: cursor updates and input.
    display.move_cursor(7, 9)
    assert wait_until(lambda: (7, 9) in client.cursor_moves), client.cursor_moves
    client.channels["inputs"].key_press(0x1E)
    assert wait_until(lambda: (0x1E, True) in keys), keys
    client.close()
    assert wait_until(lambda: all(v == 0 for v in client_object_counts().values())), client_object_counts()


def test_red_client_disconnect_does_what_a_leaving_client_does(served):
    server, display = served
    left = []
    server.connect("client-disconnected", lambda s, c: left.append(c.props.id))
    client = InProcessClient(server.props.port)
    client.wait_open()
    assert wait_until(lambda: len(server.get_clients()) == 1)
    red_client = server.get_clients()[0]
    client_id = red_client.props.id
    Red.Client.disconnect(red_client)
    del red_client
    assert wait_until(lambda: left == [client_id])
    gc.collect()
    assert wait_until(lambda: all(v == 0 for v in client_object_counts().values())), client_object_counts()
    client.close()


def test_each_channel_clients_handlers_run_on_its_channels_thread(served):
    server, display = served
    client = InProcessClient(server.props.port)
    client.wait_open()
    assert wait_until(lambda: len(server.get_clients()) == 1)
    display.fill(0, 0, 8, 8, 0xFF0000)
    client.channels["inputs"].key_press(0x1E)
    main_thread = threading.get_native_id()
    worker_thread = display.get_worker().props.thread_id
    assert worker_thread != main_thread

    def handler_threads():
        rccs = server.get_clients()[0].get_channel_clients()
        return {type(r).__name__: (r.props.handler_thread_id, r.get_channel().props.thread_id) for r in rccs}

    assert wait_until(lambda: all(h == c for h, c in handler_threads().values()))
    threads = handler_threads()
    assert threads["MainChannelClient"] == (main_thread, main_thread)
    assert threads["InputsChannelClient"] == (main_thread, main_thread)
    assert threads["DisplayChannelClient"] == (worker_thread, worker_thread)
    assert threads["CursorChannelClient"] == (worker_thread, worker_thread)
    client.close()


def test_churn_leaves_no_object_fd_or_thread_behind(served):
    server, display = served
    second = server.add_display(200, 150)
    frame = GLib.Bytes.new(os.urandom(200 * 150 * 4))
    # One warm-up cycle: GLib and spice-gtk make some one-time descriptors.
    warm = InProcessClient(server.props.port)
    warm.wait_open()
    warm.close()
    assert wait_until(lambda: all(v == 0 for v in client_object_counts().values()))
    gc.collect()
    fds = len(os.listdir("/proc/self/fd"))
    tasks = red_threads()
    cycles = int(os.environ.get("REDSPICE_CHURN_CYCLES", "500"))
    for i in range(cycles):
        client = InProcessClient(server.props.port)
        if i % 4 == 3:
            # Vanish mid-link: close as soon as the main channel is asked for.
            client.close()
            continue
        client.wait_open()
        display.fill(i % 60, 0, 4, 4, 0x010101 * i)
        if i % 4 == 1:
            # Vanish mid-frame: a large update is on its way.
            second.draw(0, 0, 200, 150, frame, 800)
            GLib.MainContext.default().iteration(False)
        client.close()
    assert wait_until(lambda: all(v == 0 for v in client_object_counts().values()), timeout=30), client_object_counts()
    gc.collect()
    assert wait_until(lambda: len(os.listdir("/proc/self/fd")) <= fds, timeout=10)
    # Our threads (the display workers) are the same ones; spice-gtk and
    # GLib's thread pools come and go on their own.
    assert red_threads() == tasks


def test_gobject_weak_references_see_every_object_of_a_client_finalized(served):
    """The same, with GObject weak references instead of the counts."""
    server, display = served
    client = InProcessClient(server.props.port)
    client.wait_open()
    assert wait_until(lambda: live("RedCursorChannelClient") == 1)
    finalized = []
    red_client = server.get_clients()[0]
    refs = [red_client.weak_ref(finalized.append, "RedClient")]
    for rcc in red_client.get_channel_clients():
        refs.append(rcc.weak_ref(finalized.append, type(rcc).__name__))
    channels = [server.get_main_channel(), server.get_inputs_channel(),
                display.get_display_channel(), display.get_cursor_channel()]
    channel_refs = [ch.weak_ref(finalized.append, type(ch).__name__) for ch in channels]
    del red_client, rcc
    gc.collect()
    assert finalized == []
    client.close()
    assert wait_until(lambda: sorted(finalized) == sorted([
        "RedClient", "MainChannelClient", "InputsChannelClient",
        "DisplayChannelClient", "CursorChannelClient"])), finalized
    # The channels live on.
    assert all(r() is not None for r in channel_refs)
    del refs, channels
