"""`max-clients` with the real spice-gtk client: a client over the limit is
refused with a link error, which spice-gtk reports as such (ERROR_LINK),
never as a wrong password (ERROR_AUTH, on which remote-viewer asks for
one)."""

import rawspice
from helpers import HOST, wait_until
from spice_harness import CHANNEL_MAIN, SpiceClient


def test_a_client_over_max_clients_gets_a_link_error(res):
    server = res.server(extra_args=["--max-clients", "1"])
    first = res.client(server)
    assert first.opened(CHANNEL_MAIN)
    assert server.wait_event("client-connected", timeout=10) is not None

    refused = res.add_client(SpiceClient(name="over the limit"))
    refused.connect(HOST, server.port)
    wait_until(lambda: refused.first_error() is not None, 20)
    events = refused.events_of(CHANNEL_MAIN)
    assert "ERROR_LINK" in events, (
        "expected ERROR_LINK on the main channel, got %r%s%s"
        % (events, refused.state(), server.diagnostics()))
    assert "ERROR_AUTH" not in events, events
    assert "OPENED" not in events, events
    assert server.client_count() == 1

    # On the wire: the link reply itself carries the error, before any
    # ticket is asked for.
    with rawspice.RawConnection(server.port) as raw:
        result = raw.link(rawspice.MAIN)
        assert raw.reply.error == rawspice.ERROR, raw.reply
        assert result == rawspice.ERROR

    # Once the first client leaves, there is room again.
    first.disconnect()
    assert wait_until(lambda: server.client_count() == 0, 10)
    again = res.client(server)
    assert again.opened(CHANNEL_MAIN)
