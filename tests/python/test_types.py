"""Every public type exists with its GType name and parent chain."""

import gi

gi.require_version("Red", "1.0")
from gi.repository import GLib, GObject, Red  # noqa: E402

import pytest  # noqa: E402

CLASSES = {
    "Server": ("RedServer", ["GObject"]),
    "Client": ("RedClient", ["GObject"]),
    "Channel": ("RedChannel", ["GObject"]),
    "ChannelClient": ("RedChannelClient", ["GObject"]),
    "MainChannel": ("RedMainChannel", ["RedChannel", "GObject"]),
    "MainChannelClient": ("RedMainChannelClient", ["RedChannelClient", "GObject"]),
    "InputsChannel": ("RedInputsChannel", ["RedChannel", "GObject"]),
    "InputsChannelClient": ("RedInputsChannelClient", ["RedChannelClient", "GObject"]),
    "DisplayChannel": ("RedDisplayChannel", ["RedChannel", "GObject"]),
    "DisplayChannelClient": ("RedDisplayChannelClient", ["RedChannelClient", "GObject"]),
    "CursorChannel": ("RedCursorChannel", ["RedChannel", "GObject"]),
    "CursorChannelClient": ("RedCursorChannelClient", ["RedChannelClient", "GObject"]),
    "Display": ("RedDisplay", ["GObject"]),
    "Worker": ("RedWorker", ["GObject"]),
}


def parents(gtype):
    chain = []
    gtype = gtype.parent
    while gtype != GObject.TYPE_INVALID:
        chain.append(gtype.name)
        gtype = gtype.parent
    return chain


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_gtype_name_and_parent_chain(name):
    gtype_name, chain = CLASSES[name]
    cls = getattr(Red, name)
    assert cls.__gtype__.name == gtype_name
    assert parents(cls.__gtype__) == chain
    assert GObject.type_from_name(gtype_name) == cls.__gtype__


@pytest.mark.parametrize("name", ["Channel", "ChannelClient"])
def test_abstract_classes_are_abstract(name):
    cls = getattr(Red, name)
    assert cls.__gtype__.is_abstract()
    with pytest.raises(TypeError):
        cls()


def test_concrete_classes_are_not_abstract():
    for name in CLASSES:
        if name not in ("Channel", "ChannelClient"):
            assert not getattr(Red, name).__gtype__.is_abstract(), name


def test_public_objects_construct():
    server = Red.Server.new()
    assert isinstance(server, Red.Server)
    assert isinstance(GObject.new(Red.Server), Red.Server)
    display = server.add_display(320, 200)
    assert isinstance(display, Red.Display)
    assert isinstance(display.get_worker(), Red.Worker)
    assert isinstance(display.get_display_channel(), Red.DisplayChannel)
    assert isinstance(display.get_cursor_channel(), Red.CursorChannel)
    assert isinstance(server.get_main_channel(), Red.MainChannel)
    assert isinstance(server.get_inputs_channel(), Red.InputsChannel)
    assert server.get_displays() == [display]
    assert server.get_clients() == []
    server.stop()


def test_enums_have_spice_numbers():
    assert Red.ChannelType.__gtype__.name == "RedChannelType"
    assert int(Red.ChannelType.MAIN) == 1
    assert int(Red.ChannelType.DISPLAY) == 2
    assert int(Red.ChannelType.INPUTS) == 3
    assert int(Red.ChannelType.CURSOR) == 4
    assert int(Red.ChannelType.WEBDAV) == 11
    assert Red.AuthMode.__gtype__.name == "RedAuthMode"
    assert [int(Red.AuthMode.NONE), int(Red.AuthMode.TICKET), int(Red.AuthMode.SASL)] == [0, 1, 2]
    assert Red.ImageCompression.__gtype__.name == "RedImageCompression"
    assert Red.StreamingVideo.__gtype__.name == "RedStreamingVideo"


def test_error_domain():
    assert GLib.quark_to_string(Red.error_quark()) == "red-error-quark"
    assert Red.Error.__gtype__.name == "RedError"
    assert int(Red.Error.INVALID_ARGUMENT) == 2
