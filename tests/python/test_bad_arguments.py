"""Bad arguments from the application: a critical and a safe return, never
a crash. Each case runs in its own process to read its stderr."""

import pytest

from helpers import run_python

PRELUDE = """
import gi; gi.require_version("Red", "1.0")
from gi.repository import GLib, GObject, Red
s = Red.Server(); d = s.add_display(16, 16)
"""

CASES = {
    "short pixel data": (
        "d.draw(0, 0, 4, 4, GLib.Bytes.new(bytes(63)), 16)",
        "pixel data is smaller",
    ),
    "stride below width": (
        "d.draw(0, 0, 4, 1, GLib.Bytes.new(bytes(64)), 8)",
        "pixel data is smaller",
    ),
    "negative size": ("d.fill(0, 0, -1, 4, 0)", "assertion 'width >= 0 && height >= 0' failed"),
    "display not from add_display": (
        "GObject.new(Red.Display).fill(0, 0, 1, 1, 0)",
        "not made by red_server_add_display",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_argument_gives_critical_and_no_crash(case):
    code, expected = CASES[case]
    out = run_python(PRELUDE + code + "\nprint('alive', d.snapshot()[0].get_size())\n")
    assert out.returncode == 0, out.stderr
    assert "alive 1024" in out.stdout
    assert "CRITICAL" in out.stderr and expected in out.stderr, out.stderr


def test_objects_made_outside_the_library_are_inert():
    code = PRELUDE + """
rcc = GObject.new(Red.MainChannelClient)
assert rcc.get_channel() is None and rcc.get_client() is None
assert not rcc.is_connected()
rcc.disconnect()
ch = GObject.new(Red.MainChannel)
assert ch.get_clients() == []
w = GObject.new(Red.Worker)
assert w.props.running is False
c = GObject.new(Red.Client)
assert c.get_channel_clients() == [] and c.get_main_channel_client() is None
c.disconnect()
del rcc, ch, w, c
print("ok")
"""
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
