"""Properties set, read back and notify; channels expose their core."""

import threading

import gi

gi.require_version("Red", "1.0")
from gi.repository import GLib, Red  # noqa: E402


def test_server_defaults(server):
    assert server.props.address == "127.0.0.1"
    assert server.props.port == 0
    assert server.props.tls_port == -1
    assert server.props.auth == Red.AuthMode.NONE
    assert server.props.name is None
    assert server.props.uuid is None
    assert server.props.image_compression == Red.ImageCompression.AUTO
    assert server.props.streaming_video == Red.StreamingVideo.FILTER
    assert server.props.video_codecs.startswith("gstreamer:")
    assert server.props.max_clients == 16
    assert server.props.running is False
    assert server.props.main_context == GLib.MainContext.default()


def test_server_properties_read_back_and_notify(server):
    seen = []
    server.connect("notify", lambda obj, pspec: seen.append(pspec.name))
    server.props.address = "::1"
    server.props.port = 5999
    server.props.name = "my vm"
    server.props.uuid = "00112233-4455-6677-8899-aabbccddeeff"
    server.props.image_compression = Red.ImageCompression.OFF
    server.props.video_codecs = "gstreamer:h264;gstreamer:vp8"
    server.props.streaming_video = Red.StreamingVideo.ALL
    server.props.max_clients = 3
    server.props.auth = Red.AuthMode.TICKET
    assert server.props.address == "::1"
    assert server.props.port == 5999
    assert server.props.name == "my vm"
    assert server.props.uuid == "00112233-4455-6677-8899-aabbccddeeff"
    assert server.props.image_compression == Red.ImageCompression.OFF
    assert server.props.video_codecs == "gstreamer:h264;gstreamer:vp8"
    assert server.props.streaming_video == Red.StreamingVideo.ALL
    assert server.props.max_clients == 3
    assert server.props.auth == Red.AuthMode.TICKET
    assert seen == [
        "address", "port", "name", "uuid", "image-compression",
        "video-codecs", "streaming-video", "max-clients", "auth",
    ]
    # Setting the same value again does not notify (explicit-notify).
    seen.clear()
    server.props.max_clients = 3
    assert seen == []


def test_invalid_address_and_uuid_are_ignored(server):
    server.props.address = "not an address"
    assert server.props.address == "127.0.0.1"
    server.props.uuid = "nope"
    assert server.props.uuid is None


def test_password_is_write_only_and_selects_ticket_auth(server):
    pspec = Red.Server.find_property("password")
    assert not (pspec.flags & 1)  # G_PARAM_READABLE
    server.props.password = "secret"
    assert server.props.auth == Red.AuthMode.TICKET
    server.set_ticket(None, 0)
    server.set_ticket("other", 30)


def test_port_zero_picks_a_port_readable_after_start(server):
    ports = []
    server.connect("notify::port", lambda s, p: ports.append(s.props.port))
    server.start()
    assert server.props.running
    assert server.props.port > 0 and server.get_port() == server.props.port
    assert ports == [server.props.port]
    server.stop()
    assert not server.props.running


def test_main_context_is_construct_only():
    ctx = GLib.MainContext.new()
    s = Red.Server(main_context=ctx)
    assert s.props.main_context == ctx
    assert s.get_main_channel().props.main_context == ctx


def test_display_properties(server):
    d = server.add_display(800, 600)
    assert (d.props.id, d.props.width, d.props.height) == (0, 800, 600)
    assert (d.get_id(), d.get_width(), d.get_height()) == (0, 800, 600)
    assert server.add_display(10, 10).props.id == 1
    sizes = []
    d.connect("notify::width", lambda o, p: sizes.append(o.props.width))
    d.resize(1024, 768)
    assert (d.props.width, d.props.height) == (1024, 768)
    assert sizes == [1024]


def test_channels_expose_type_id_and_core(server):
    d = server.add_display(64, 64)
    main = server.get_main_channel()
    inputs = server.get_inputs_channel()
    assert main.props.channel_type == Red.ChannelType.MAIN
    assert main.get_channel_type() == Red.ChannelType.MAIN
    assert inputs.props.channel_type == Red.ChannelType.INPUTS
    assert main.props.id == 0 and main.get_id() == 0
    assert main.props.main_context == server.props.main_context
    assert main.get_main_context() == server.props.main_context
    assert main.props.thread_id == threading.get_native_id()
    dch, cch = d.get_display_channel(), d.get_cursor_channel()
    assert dch.props.channel_type == Red.ChannelType.DISPLAY
    assert cch.props.channel_type == Red.ChannelType.CURSOR
    assert dch.props.id == cch.props.id == d.props.id
    worker = d.get_worker()
    assert worker.props.display_id == d.props.id == worker.get_display_id()
    assert dch.props.main_context == worker.props.main_context == worker.get_main_context()
    assert dch.props.main_context != server.props.main_context
    assert dch.get_clients() == []
    assert worker.props.running is False
    server.start()
    assert worker.props.running is True
    assert worker.props.thread_id == dch.props.thread_id != threading.get_native_id()
