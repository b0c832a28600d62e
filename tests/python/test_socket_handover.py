"""`red_server_add_client_socket`: connections the application made itself
(socketpairs here, as a VM manager passes fds) go through the same link
stage, with the real spice-gtk client on the other end of each."""

import socket

import gi

gi.require_version("Red", "1.0")
gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import Gio, GLib, GObject, Red  # noqa: E402
from gi.repository import SpiceClientGLib as Spice  # noqa: E402

from helpers import read_surface, same_colours, wait_until  # noqa: E402


def test_handed_over_sockets_link_and_show_the_display():
    server = Red.Server()  # not even listening
    display = server.add_display(32, 16)
    display.fill(0, 0, 32, 16, 0x112233)
    display.fill(4, 4, 8, 8, 0xAABBCC)
    connected = []
    server.connect("channel-client-connected", lambda s, rcc: connected.append(type(rcc).__name__))
    keep = []
    state = {}

    def hand_over(channel, with_tls):
        ours, theirs = socket.socketpair()
        # Each end gets exactly one owner: the GSocket (whose descriptor the
        # server duplicates) and spice-gtk, which closes its end itself.
        gsocket = Gio.Socket.new_from_fd(ours.detach())
        keep.append(gsocket)
        server.add_client_socket(gsocket)
        assert Spice.Channel.open_fd(channel, theirs.detach())

    def new_channel(session, channel):
        GObject.Object.connect(channel, "open-fd", hand_over)
        if isinstance(channel, Spice.DisplayChannel):
            GObject.Object.connect(
                channel, "display-primary-create",
                lambda ch, fmt, w, h, stride, shmid, data: state.update(primary=(w, h, stride, data)),
            )
            GObject.Object.connect(channel, "display-mark", lambda ch, m: state.update(mark=m))
        if not isinstance(channel, Spice.MainChannel):
            Spice.Channel.connect(channel)

    session = Spice.Session()
    GObject.Object.connect(session, "channel-new", new_channel)
    # open_fd(-1): the session asks for the main channel's fd with "open-fd".
    assert session.open_fd(-1)
    assert wait_until(lambda: "mark" in state), state
    assert wait_until(lambda: sorted(connected) == sorted([
        "MainChannelClient", "InputsChannelClient", "DisplayChannelClient", "CursorChannelClient",
    ])), connected
    w, h, stride, addr = state["primary"]
    assert (w, h) == (32, 16)
    client = read_surface(addr, stride, (0, 0, w, h))
    assert wait_until(lambda: same_colours(read_surface(addr, stride, (0, 0, w, h)),
                                           display.snapshot()[0].get_data()))
    assert len(client) == w * h * 4
    session.disconnect()
    assert wait_until(lambda: server.get_clients() == [])
    server.stop()


def test_unconnected_socket_is_refused():
    server = Red.Server()
    sock = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.STREAM, Gio.SocketProtocol.TCP)
    try:
        server.add_client_socket(sock)
    except GLib.Error as e:
        assert e.matches(Red.error_quark(), Red.Error.INVALID_ARGUMENT)
    else:
        raise AssertionError("an unconnected socket was accepted")
