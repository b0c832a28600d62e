"""Tickets (passwords) with the real spice-gtk client, and spicy-screenshot."""

import random
import shutil

import pytest

import rawspice
from helpers import (
    HOST,
    bgrx_to_rgb,
    iterate,
    parse_ppm,
    random_pixels,
    spicy_screenshot,
    wait_until,
)
from spice_harness import CHANNEL_MAIN, SpiceClient, wait_client_matches

TIME_LIMIT = 60
PASSWORD = "s3cret-Ticket_42"


def refused_client(res, server, password):
    """Connects a client that must be refused; returns it once its main
    channel reported an error (or after 20 s)."""
    c = res.add_client(SpiceClient(name="refused"))
    c.connect(HOST, server.port, password)
    wait_until(lambda: c.first_error() is not None, 20, sleep_when_busy=False)
    return c


def assert_auth_refused(c, server):
    events = c.events_of(CHANNEL_MAIN)
    assert "ERROR_AUTH" in events, (
        "expected ERROR_AUTH (link result PERMISSION_DENIED) on the main channel, got %r%s%s"
        % (events, c.state(), server.diagnostics()))
    assert "OPENED" not in events, events
    # nothing but the main channel was ever announced
    assert set(c.channels) <= {(CHANNEL_MAIN, 0)}, c.channels
    late = server.events(1.0, name="client-connected")
    assert late == [], "a refused client was reported connected: %r" % late
    assert server.client_count() == 0


def test_right_password(res):
    server = res.server(password=PASSWORD)
    client = res.client(server, password=PASSWORD)
    ev = server.wait_event("client-connected", timeout=10)
    assert ev is not None, "no client-connected event" + server.diagnostics()
    assert server.client_count() == 1
    server.fill(0, 0, 320, 240, 0x00C0FFEE)
    wait_client_matches(client, server, what="display after password login")


@pytest.mark.parametrize("given", ["wrong-password", "", PASSWORD[:-1], PASSWORD + "x"])
def test_wrong_password(res, given):
    server = res.server(password=PASSWORD)
    c = refused_client(res, server, given)
    assert_auth_refused(c, server)

    # the raw link answers PERMISSION_DENIED (7) after the ticket
    with rawspice.RawConnection(server.port) as raw:
        result = raw.link(rawspice.MAIN, password=given)
        assert raw.reply.error == rawspice.OK, raw.reply
        assert result == rawspice.PERMISSION_DENIED, rawspice.LINK_ERR_NAMES.get(result, result)
        closed, _ = raw.wait_closed(10)
        assert closed, "server kept a refused connection open"

    # and the server still lets the right password in
    good = res.client(server, password=PASSWORD)
    assert good.opened(CHANNEL_MAIN)
    assert server.wait_event("client-connected", timeout=10) is not None


def test_expired_ticket(res):
    server = res.server()  # no ticket at start: anyone may connect
    server.command("set_ticket", password="short-lived", lifetime=1)
    iterate(2.2, sleep_when_busy=False)
    c = refused_client(res, server, "short-lived")
    assert_auth_refused(c, server)

    # a fresh ticket with no expiry works, so the refusal was the expiry
    server.command("set_ticket", password="long-lived", lifetime=0)
    good = res.client(server, password="long-lived")
    assert good.opened(CHANNEL_MAIN)


RED_ERROR_CLIENTS_CONNECTED = 6


def test_set_ticket_full_fails_or_disconnects_while_clients_are_connected(res):
    """spice-server's fail-if-connected and disconnect-if-connected."""
    server = res.server(password=PASSWORD)
    first = res.client(server, password=PASSWORD)
    assert server.wait_event("client-connected", timeout=10) is not None

    reply = server.command("set_ticket_full", password="next-one", lifetime=0,
                           flags=["fail-if-connected"])
    assert reply["set"] is False and reply["error_code"] == RED_ERROR_CLIENTS_CONNECTED, reply
    # The old ticket still holds and the client stayed.
    second = res.client(server, password=PASSWORD)
    assert second.opened(CHANNEL_MAIN)
    assert server.wait_event("client-connected", timeout=10) is not None
    assert server.client_count() == 2
    assert "CLOSED" not in first.events_of(CHANNEL_MAIN)

    # Without flags the ticket changes and the clients stay.
    reply = server.command("set_ticket_full", password="next-one", lifetime=0, flags=[])
    assert reply["set"] is True, reply
    assert server.events(1.0, name="client-disconnected") == []
    assert server.client_count() == 2

    reply = server.command("set_ticket_full", password="third-one", lifetime=0,
                           flags=["disconnect-if-connected"])
    assert reply["set"] is True, reply
    assert len(server.wait_events(2, name="client-disconnected", timeout=10)) == 2
    assert wait_until(lambda: all("CLOSED" in c.events_of(CHANNEL_MAIN) for c in (first, second)),
                      10, sleep_when_busy=False), first.state() + second.state()
    assert server.client_count() == 0
    # Only the new ticket opens now.
    assert_auth_refused(refused_client(res, server, "next-one"), server)
    third = res.client(server, password="third-one")
    assert third.opened(CHANNEL_MAIN)


def test_ticket_lifetime_not_yet_expired(res):
    server = res.server(password=PASSWORD, ticket_lifetime=300)
    c = res.client(server, password=PASSWORD)
    assert c.opened(CHANNEL_MAIN)


def test_clearing_ticket_refuses(res):
    """set_ticket(NULL) keeps ticket mode with no password: every link is
    refused, as in spice-server ("please set a ticket first")."""
    server = res.server(password=PASSWORD)
    server.command("set_ticket", password=None)
    c = refused_client(res, server, PASSWORD)
    assert_auth_refused(c, server)


@pytest.mark.skipif(shutil.which("spicy-screenshot") is None, reason="spicy-screenshot missing")
@pytest.mark.parametrize("password", [None, PASSWORD])
def test_spicy_screenshot(res, tmp_path, password):
    """spicy-screenshot writes its PPM at the first display-invalidate after
    the primary surface is created, so the first drawing a new client gets
    must cover the whole surface (spice-server sends one DRAW_COPY of the
    whole primary, dcc_start)."""
    server = res.server(displays=[(320, 240)], password=password)
    rng = random.Random(5)
    # a known picture: horizontal gradient, a noise block, a white frame
    row = b"".join(bytes((x * 255 // 319, 0x40, 255 - x * 255 // 319, 0)) for x in range(320))
    server.draw(0, 0, 320, 240, row * 240)
    server.draw(100, 80, 64, 48, random_pixels(rng, 64, 48))
    for (x, y, w, h) in ((0, 0, 320, 2), (0, 238, 320, 2), (0, 0, 2, 240), (318, 0, 2, 240)):
        server.fill(x, y, w, h, 0x00FFFFFF)
    w, h, expected = server.snapshot()

    out = tmp_path / "out.ppm"
    proc = spicy_screenshot(server.port, out, password)
    assert out.exists(), "spicy-screenshot wrote nothing (rc %d): %s%s" % (
        proc.returncode, (proc.stderr or "")[-2000:], server.diagnostics())
    pw, ph, rgb = parse_ppm(out)
    assert (pw, ph) == (w, h)
    exp = bgrx_to_rgb(expected)
    if rgb != exp:
        bad = [i // 3 for i in range(0, len(rgb), 3) if rgb[i:i + 3] != exp[i:i + 3]]
        first = bad[0]
        raise AssertionError(
            "screenshot differs in %d pixels; first at (%d,%d): server RGB %s, screenshot %s"
            % (len(bad), first % w, first // w, exp[first * 3:first * 3 + 3].hex(),
               rgb[first * 3:first * 3 + 3].hex()))
