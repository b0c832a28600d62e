"""TLS with the real spice-gtk client: a session over the TLS port sees the
display exactly; with `secure-channels` a client given both ports is sent
to the TLS port (NEED_SECURED) and still sees it exactly; a client that
trusts another CA refuses the server."""

import random

import pytest

import rawspice
from helpers import HOST, make_certificate, random_pixels, wait_until
from spice_harness import CHANNEL_MAIN, SpiceClient, wait_client_matches

TIME_LIMIT = 90


@pytest.fixture
def certificate(tmp_path):
    return make_certificate(str(tmp_path), "server")


def tls_server(res, certificate, secure=()):
    cert, key = certificate
    args = ["--tls-port", "0", "--x509-cert-file", cert, "--x509-key-file", key]
    for channel in secure:
        args += ["--secure-channel", channel]
    return res.server(extra_args=args)


def draw_pattern(server):
    rng = random.Random(7)
    w, h = server.displays[0]
    server.draw(0, 0, w, h, random_pixels(rng, w, h))
    server.fill(20, 30, 40, 50, 0x00123456)


def test_a_tls_session_sees_the_display_exactly(res, certificate):
    server = tls_server(res, certificate, secure=["all"])
    assert server.tls_port > 0
    draw_pattern(server)
    client = res.add_client(SpiceClient(name="tls"))
    client.connect(HOST, tls_port=server.tls_port, ca_file=certificate[0])
    client.wait_ready(server=server)
    wait_client_matches(client, server, what="display over TLS")


def test_a_secure_channel_moves_the_client_to_tls(res, certificate):
    server = tls_server(res, certificate, secure=["main", "display"])
    draw_pattern(server)
    # A plain link to the main channel is told to use TLS.
    with rawspice.RawConnection(server.port) as raw:
        assert raw.link(rawspice.MAIN) == rawspice.NEED_SECURED
    client = res.add_client(SpiceClient(name="both ports"))
    client.connect(HOST, server.port, tls_port=server.tls_port, ca_file=certificate[0])
    client.wait_ready(server=server)
    wait_client_matches(client, server, what="display after NEED_SECURED")


def test_a_client_that_trusts_another_ca_refuses_the_server(res, certificate, tmp_path):
    server = tls_server(res, certificate, secure=["all"])
    other_ca, _ = make_certificate(str(tmp_path), "other")
    client = res.add_client(SpiceClient(name="other CA"))
    client.connect(HOST, tls_port=server.tls_port, ca_file=other_ca)
    wait_until(lambda: client.first_error() is not None, 20)
    events = client.events_of(CHANNEL_MAIN)
    assert "ERROR_TLS" in events, (events, client.state())
    assert "OPENED" not in events, events
    assert server.client_count() == 0
