"""Signals connect and fire; RedError arrives as GLib.Error."""

import gi

gi.require_version("Red", "1.0")
from gi.repository import GLib, GObject, Red  # noqa: E402

import pytest  # noqa: E402

from helpers import run_python  # noqa: E402

SIGNALS = {
    "client-connected": [Red.Client.__gtype__],
    "client-disconnected": [Red.Client.__gtype__],
    "channel-client-connected": [Red.ChannelClient.__gtype__],
    "channel-client-disconnected": [Red.ChannelClient.__gtype__],
    "key-event": [GObject.TYPE_UINT, GObject.TYPE_BOOLEAN],
    "key-modifiers": [GObject.TYPE_UINT],
    "pointer-motion": [GObject.TYPE_INT, GObject.TYPE_INT, GObject.TYPE_UINT],
    "pointer-position": [GObject.TYPE_UINT, GObject.TYPE_INT, GObject.TYPE_INT, GObject.TYPE_UINT],
    "button-event": [GObject.TYPE_UINT, GObject.TYPE_BOOLEAN, GObject.TYPE_UINT],
}


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_signal_signatures(name):
    # Signals exist once the class is initialized (by a first instance).
    Red.Server()
    info = GObject.signal_query(name, Red.Server)
    assert info is not None, name
    assert list(info.param_types) == SIGNALS[name]
    assert info.return_type == GObject.TYPE_NONE


def test_signals_connect_and_fire(server):
    got = []
    server.connect("key-event", lambda s, code, pressed: got.append(("key", code, pressed)))
    server.connect("pointer-position", lambda s, d, x, y, b: got.append(("pos", d, x, y, b)))
    server.connect("button-event", lambda s, b, p, m: got.append(("button", b, p, m)))
    server.emit("key-event", 0xE01D, True)
    server.emit("pointer-position", 1, 100, -5, 4)
    server.emit("button-event", 4, False, 0)
    assert got == [("key", 0xE01D, True), ("pos", 1, 100, -5, 4), ("button", 4, False, 0)]


def test_error_domain_and_code(server):
    d = server.add_display(10, 10)
    with pytest.raises(GLib.Error) as e:
        d.resize(0, 10)
    assert e.value.domain == "red-error-quark"
    assert e.value.code == Red.Error.INVALID_ARGUMENT
    assert e.value.matches(Red.error_quark(), Red.Error.INVALID_ARGUMENT)
    with pytest.raises(GLib.Error) as e:
        server.add_display(20000, 10)
    assert e.value.code == Red.Error.INVALID_ARGUMENT


def test_start_twice_and_busy_port(server):
    server.start()
    with pytest.raises(GLib.Error) as e:
        server.start()
    assert e.value.matches(Red.error_quark(), Red.Error.ALREADY_RUNNING)
    other = Red.Server(port=server.props.port)
    with pytest.raises(GLib.Error) as e:
        other.start()
    assert e.value.matches(Red.error_quark(), Red.Error.ADDRESS_IN_USE)
    assert str(server.props.port) in e.value.message
    # The system's words, not Rust's: no " (os error 98)"
    assert "os error" not in e.value.message, e.value.message
    assert e.value.message.endswith(": " + GLib.strerror(98)), e.value.message


def test_tls_port_without_a_certificate_is_refused(server):
    server.props.tls_port = 5931
    with pytest.raises(GLib.Error) as e:
        server.start()
    assert e.value.code == Red.Error.INVALID_ARGUMENT


def test_cursor_errors(server):
    d = server.add_display(64, 64)
    with pytest.raises(GLib.Error) as e:
        d.set_cursor(4, 4, 4, 0, GLib.Bytes.new(bytes(64)), 16)
    assert e.value.code == Red.Error.INVALID_ARGUMENT
    with pytest.raises(GLib.Error):
        d.set_cursor(4, 4, 0, 0, GLib.Bytes.new(bytes(60)), 16)
    assert d.set_cursor(4, 4, 0, 0, GLib.Bytes.new(bytes(64)), 16)


TRANSLATED = """
import locale; locale.setlocale(locale.LC_ALL, "")
import gi; gi.require_version("Red", "1.0")
from gi.repository import GLib, Red
d = Red.Server().add_display(8, 8)
try:
    d.resize(0, 0)
except GLib.Error as e:
    print(e.message)
"""


BUSY_PORT = """
import locale; locale.setlocale(locale.LC_ALL, "")
import gi; gi.require_version("Red", "1.0")
from gi.repository import GLib, Red
first = Red.Server(port=0)
first.start()
try:
    Red.Server(port=first.props.port).start()
except GLib.Error as e:
    print(e.message)
"""


def test_busy_port_message_is_translated_without_os_error():
    out = run_python(BUSY_PORT, env={"LANG": "C.UTF-8", "LC_ALL": "", "LANGUAGE": "de"})
    assert out.returncode == 0, out.stderr
    message = out.stdout.strip()
    assert message.startswith("Lauschen nicht möglich auf 127.0.0.1:"), message
    # the C library's German words for EADDRINUSE (Debian's libc6 has them)
    assert message.endswith(": Die Adresse wird bereits verwendet"), message
    assert "os error" not in message, message


def test_error_message_is_translated_under_a_german_locale():
    out = run_python(TRANSLATED, env={"LANG": "C.UTF-8", "LC_ALL": "", "LANGUAGE": "de"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Ein Bildschirm muss zwischen 1×1 und 16384×16384 Pixel groß sein"
    out = run_python(TRANSLATED, env={"LANG": "C.UTF-8", "LC_ALL": "", "LANGUAGE": "en"})
    assert out.stdout.strip() == "A display must be between 1×1 and 16384×16384 pixels"
