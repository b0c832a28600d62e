"""One test per rule of spice-server's threading model (see
docs/threading.md), each named after the sentence it proves. The real
spice-gtk client is the peer."""

import gc
import threading

import gi

gi.require_version("Red", "1.0")
gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, Red  # noqa: E402
from gi.repository import SpiceClientGLib as Spice  # noqa: E402

from helpers import TESTS_DIR, run_python, wait_until  # noqa: E402
from spice_harness import CLIENT_CLASSES, InProcessClient, client_object_counts, live  # noqa: E402


def connected(server, display):
    client = InProcessClient(server.props.port)
    client.wait_open()
    assert wait_until(lambda: len(server.get_clients()) == 1 and live("RedCursorChannelClient") == 1)
    return client


def test_red_channels_on_creation_and_destruction_must_be_done_in_the_main_thread():
    # Every thread rule is checked inside the library with a critical; make
    # criticals fatal and run a whole life: server, displays, clients, end.
    code = """
import gc, sys
sys.path.insert(0, %r)
import gi; gi.require_version("Red", "1.0")
from gi.repository import Red
from helpers import wait_until
from spice_harness import InProcessClient, client_object_counts
s = Red.Server(port=0); a = s.add_display(32, 32); b = s.add_display(16, 16); s.start()
c = InProcessClient(s.props.port); c.wait_open(); a.fill(0, 0, 4, 4, 0xff)
c.close(); assert wait_until(lambda: all(v == 0 for v in client_object_counts().values()))
c = InProcessClient(s.props.port); c.wait_open()
del a, b, s
gc.collect()
print("ok", Red.debug_get_live_objects("RedDisplayChannel"), Red.debug_get_live_objects("RedMainChannel"))
""" % (TESTS_DIR,)
    out = run_python(code, env={"G_DEBUG": "fatal-criticals"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[0] == "ok"


def test_cursor_channel_and_display_channel_are_run_from_within_a_thread_created_by_red_worker(served):
    server, display = served
    main = threading.get_native_id()
    worker = display.get_worker()
    assert worker.props.running and worker.props.thread_id != main
    assert display.get_display_channel().props.thread_id == worker.props.thread_id
    assert display.get_cursor_channel().props.thread_id == worker.props.thread_id
    assert display.get_display_channel().props.main_context == worker.props.main_context


def test_lots_of_channels_run_in_the_main_thread(served):
    server, display = served
    main = threading.get_native_id()
    for channel in (server.get_main_channel(), server.get_inputs_channel()):
        assert channel.props.thread_id == main
        assert channel.props.main_context == server.props.main_context


def test_different_cursor_and_display_channels_differ_by_id_and_run_in_separate_red_worker_threads(served):
    server, display = served
    other = server.add_display(32, 32)
    ids = {display.props.id, other.props.id}
    assert ids == {0, 1}
    assert {display.get_display_channel().props.id, other.get_display_channel().props.id} == ids
    assert display.get_worker().props.thread_id != other.get_worker().props.thread_id


def test_a_single_red_worker_thread_runs_a_pair_of_cursor_channel_and_display_channel(served):
    server, display = served
    assert display.get_display_channel().props.id == display.get_cursor_channel().props.id
    assert display.get_display_channel().props.thread_id == display.get_cursor_channel().props.thread_id


def test_red_channel_client_runs_in_the_red_channel_thread(served):
    server, display = served
    client = connected(server, display)
    display.fill(0, 0, 8, 8, 0xFF)
    client.channels["inputs"].key_press(0x10)
    rccs = server.get_clients()[0].get_channel_clients()
    assert wait_until(lambda: all(r.props.handler_thread_id == r.get_channel().props.thread_id for r in rccs))
    del rccs
    client.close()


def test_channel_client_creation_is_done_in_the_same_thread_while_destruction_can_happen_in_different_threads(served):
    server, display = served
    created_on = []
    server.connect(
        "channel-client-connected",
        lambda s, rcc: created_on.append((rcc.get_channel().props.thread_id, rcc.props.handler_thread_id)),
    )
    client = connected(server, display)
    assert wait_until(lambda: len(created_on) == 4)
    # Each was created and first run on its channel's thread.
    assert all(channel == first for channel, first in created_on), created_on
    # Destruction: the display channel client is disconnected on the
    # worker thread and finalized when the main thread drops the owning
    # reference; nothing requires one thread for it (see also the Rust
    # test dropping a channel client on a foreign thread).
    Spice.Channel.disconnect(client.channels["display"], Spice.ChannelEvent.CLOSED)
    assert wait_until(lambda: live("RedDisplayChannelClient") == 0)
    client.close()


def test_a_red_client_groups_the_red_channel_clients_connected_to_the_same_remote_spice_client(served):
    server, display = served
    first, second = connected(server, display), InProcessClient(server.props.port)
    second.wait_open()
    assert wait_until(lambda: len(server.get_clients()) == 2 and live("RedCursorChannelClient") == 2)
    for red_client in server.get_clients():
        rccs = red_client.get_channel_clients()
        assert sorted(type(r).__name__ for r in rccs) == [
            "CursorChannelClient", "DisplayChannelClient", "InputsChannelClient", "MainChannelClient",
        ]
        assert all(r.get_client() == red_client for r in rccs)
    first.close()
    second.close()


def test_the_main_dispatcher_is_used_to_send_requests_to_the_main_thread(served):
    server, display = served
    reports = []
    server.connect(
        "channel-client-connected",
        lambda s, rcc: reports.append((type(rcc).__name__, threading.get_native_id())),
    )
    client = connected(server, display)
    assert wait_until(lambda: len(reports) == 4)
    main = threading.get_native_id()
    assert ("DisplayChannelClient", main) in reports and ("CursorChannelClient", main) in reports
    client.close()


def test_the_qxl_uses_a_dispatcher_to_send_requests_to_the_red_worker_which_forwards_to_display_and_cursor_channel(served):
    server, display = served
    client = connected(server, display)
    display.fill(0, 0, 64, 64, 0x00FF00)
    display.move_cursor(5, 6)
    display.set_cursor(1, 1, 0, 0, GLib.Bytes.new(b"\x00\x00\xff\xff"), 4)
    display.move_cursor(3, 4)
    assert wait_until(lambda: (3, 4) in client.cursor_moves), client.cursor_moves
    client.close()


def test_each_channel_has_an_associated_core_interface(served):
    server, display = served
    for channel in (server.get_main_channel(), server.get_inputs_channel(),
                    display.get_display_channel(), display.get_cursor_channel()):
        assert channel.get_main_context() is not None
        assert channel.get_main_context() == channel.props.main_context
    assert server.get_inputs_channel().get_main_context() == server.props.main_context
    assert display.get_cursor_channel().get_main_context() == display.get_worker().get_main_context()


def test_red_channel_client_client_is_a_plain_pointer_to_red_client(served):
    server, display = served
    client = connected(server, display)
    rcc = server.get_clients()[0].get_channel_clients()[0]
    client.close()
    assert wait_until(lambda: live("RedClient") == 0)
    gc.collect()
    # Holding the channel client did not keep its client alive.
    assert rcc.get_client() is None
    del rcc


def test_red_client_channels_owns_red_channel_client(served):
    server, display = served
    client = connected(server, display)
    gc.collect()
    # Nobody but the RedClient holds them, and they live.
    assert client_object_counts() == {name: 1 for name in CLIENT_CLASSES}
    client.close()
    assert wait_until(lambda: all(v == 0 for v in client_object_counts().values()))


def test_red_client_mcc_is_a_plain_pointer_that_never_dangles(served):
    server, display = served
    client = connected(server, display)
    red_client = server.get_clients()[0]
    assert red_client.get_main_channel_client() is not None
    client.close()
    assert wait_until(lambda: live("RedMainChannelClient") == 0)
    # The RedClient outlives its main channel client here (we hold it):
    # its link reads NULL instead of dangling.
    assert live("RedClient") == 1
    assert red_client.get_main_channel_client() is None
    assert red_client.get_channel_clients() == []
    del red_client
    gc.collect()
    assert live("RedClient") == 0


def test_red_channel_client_channel_owns_red_channel():
    server = Red.Server(port=0)
    display = server.add_display(16, 16)
    server.start()
    client = connected(server, display)
    rcc = [r for r in server.get_clients()[0].get_channel_clients()
           if isinstance(r, Red.DisplayChannelClient)][0]
    channel_count = live("RedDisplayChannel")
    client.close()
    server.stop()
    del display, server
    gc.collect()
    # The server and display are gone; the channel client keeps its channel.
    assert live("RedServer") == 0 and live("RedDisplay") == 0
    assert live("RedDisplayChannel") == channel_count
    assert rcc.get_channel().props.channel_type == Red.ChannelType.DISPLAY
    del rcc
    gc.collect()
    # (Requests still queued for the main thread hold references until the
    # loop runs them.)
    assert wait_until(lambda: live("RedDisplayChannel") == channel_count - 1)


def test_red_channel_clients_is_a_plain_list_of_red_channel_client(served):
    server, display = served
    client = connected(server, display)
    assert len(display.get_display_channel().get_clients()) == 1
    client.close()
    assert wait_until(lambda: display.get_display_channel().get_clients() == [])
    # The channel's list let go first (worker thread); the owning reference
    # goes when the main thread has run the request.
    assert wait_until(lambda: live("RedDisplayChannelClient") == 0)


def test_when_a_disconnection_is_detected_the_red_channel_client_is_removed_from_red_client_channels_and_red_channel_clients(served):
    server, display = served
    client = connected(server, display)
    red_client = server.get_clients()[0]
    Spice.Channel.disconnect(client.channels["cursor"], Spice.ChannelEvent.CLOSED)
    assert wait_until(lambda: len(red_client.get_channel_clients()) == 3)
    assert display.get_cursor_channel().get_clients() == []
    assert "CursorChannelClient" not in [type(r).__name__ for r in red_client.get_channel_clients()]
    del red_client
    client.close()


def test_when_main_channel_client_is_disconnected_all_red_channel_clients_of_the_red_client_are_disconnected(served):
    server, display = served
    client = connected(server, display)
    mcc = server.get_clients()[0].get_main_channel_client()
    others = [r for r in server.get_clients()[0].get_channel_clients() if r != mcc]
    mcc.disconnect()  # red_channel_client_disconnect on the main channel client
    assert wait_until(lambda: not any(r.is_connected() for r in others))
    del mcc, others
    assert wait_until(lambda: all(v == 0 for v in client_object_counts().values()))
    client.close()


def test_red_client_is_released_when_its_main_channel_client_is_disconnected_through_a_request_scheduled_in_the_main_thread(served):
    server, display = served
    client = connected(server, display)
    events = []
    server.connect("client-disconnected", lambda s, c: events.append(threading.get_native_id()))
    mcc = server.get_clients()[0].get_main_channel_client()
    mcc.disconnect()
    del mcc
    # Scheduled, not done inside the call: nothing happened yet.
    assert events == [] and len(server.get_clients()) == 1
    assert wait_until(lambda: events == [threading.get_native_id()])
    gc.collect()
    assert wait_until(lambda: live("RedClient") == 0)
    client.close()
