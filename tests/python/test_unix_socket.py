"""`address` = unix:PATH or unix:@NAME: the real spice-gtk client sees the
display exactly over a socket file, the file goes with red_server_stop(),
and the abstract namespace links too (no client of ours speaks it, so a
raw link)."""

import os
import random
import socket
import struct

import gi

gi.require_version("Red", "1.0")
from gi.repository import GLib, Red  # noqa: E402

import rawspice  # noqa: E402
from helpers import random_pixels, wait_until  # noqa: E402
from spice_harness import SpiceClient, wait_client_matches  # noqa: E402

TIME_LIMIT = 60


def test_a_client_on_a_socket_file_sees_the_display(res, tmp_path):
    path = str(tmp_path / "redspice.sock")
    server = res.server(extra_args=["--address", "unix:" + path])
    assert os.path.exists(path)
    rng = random.Random(3)
    w, h = server.displays[0]
    server.draw(0, 0, w, h, random_pixels(rng, w, h))
    client = res.add_client(SpiceClient(name="unix"))
    client.connect(unix_path=path)
    client.wait_ready(server=server)
    wait_client_matches(client, server, what="display over a Unix socket")


def test_the_socket_file_goes_with_stop_and_abstract_names_link(tmp_path):
    path = str(tmp_path / "s.sock")
    server = Red.Server(address="unix:" + path)
    server.add_display(16, 16)
    server.start()
    assert os.path.exists(path)
    server.stop()
    assert not os.path.exists(path)

    name = "redspice-test-%d" % os.getpid()
    server = Red.Server(address="unix:@" + name)
    server.add_display(16, 16)
    server.start()
    assert server.props.running
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect("\0" + name)
    s.send(rawspice.link_packet(rawspice.MAIN))
    data = b""
    context = GLib.MainContext.default()

    def replied():
        nonlocal data
        try:
            data += s.recv(4096)
        except BlockingIOError:
            pass
        return len(data) >= 20

    assert wait_until(replied, 10, context=context)
    magic, major, minor, size, error = struct.unpack("<4sIIII", data[:20])
    assert magic == b"REDQ" and error == rawspice.OK
    s.close()
    server.stop()


def test_a_busy_socket_file_is_an_error(tmp_path):
    path = str(tmp_path / "taken.sock")
    with open(path, "w"):
        pass
    server = Red.Server(address="unix:" + path)
    try:
        server.start()
    except GLib.Error as e:
        assert e.matches(Red.error_quark(), Red.Error.ADDRESS_IN_USE)
    else:
        raise AssertionError("started on an existing file")
    assert os.path.exists(path)
