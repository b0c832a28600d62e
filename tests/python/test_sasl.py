"""SASL authentication (RedServer:auth = sasl) with the real spice-gtk client.

Each test makes a private libsasl2 configuration: `<app>.conf` in a
temporary directory that SASL_CONF_PATH points the server at, with a
sasldb made by Debian's saslpasswd2. On a plain TCP link spice-gtk asks
for a security layer of at least 56 bits, so DIGEST-MD5 is the mechanism
and the whole session runs through sasl_encode/sasl_decode: the pixels
checked below crossed that layer.
"""

import random
import shutil
import socket
import struct
import subprocess

import pytest

import rawspice
from helpers import HOST, random_pixels, wait_until
from spice_harness import CHANNEL_MAIN, SpiceClient, connect_client, wait_client_matches

TIME_LIMIT = 90
APP = "redspice-test"
USER = "alice"
PASSWORD = "c0rrect-Horse_battery"

pytestmark = pytest.mark.skipif(
    shutil.which("saslpasswd2") is None, reason="saslpasswd2 (sasl2-bin) missing")


@pytest.fixture
def sasl_conf(tmp_path):
    """The configuration directory, with USER in its sasldb."""
    db = tmp_path / "sasldb2"
    (tmp_path / (APP + ".conf")).write_text(
        "pwcheck_method: auxprop\n"
        "auxprop_plugin: sasldb\n"
        "sasldb_path: %s\n"
        "mech_list: digest-md5 scram-sha-1\n" % db)
    # The realm DIGEST-MD5 offers is the server's host name.
    subprocess.run(
        ["saslpasswd2", "-f", str(db), "-a", APP, "-u", socket.gethostname(), "-c", "-p", USER],
        input=PASSWORD.encode(), check=True, timeout=30)
    return tmp_path


def sasl_server(res, conf, app=APP):
    return res.server(
        extra_args=["--auth", "sasl", "--sasl-app-name", app],
        env={"SASL_CONF_PATH": str(conf), "G_MESSAGES_DEBUG": "redspice"})


def sasl_client(res, server, username, password, wait=True):
    c = res.add_client(SpiceClient(name="sasl-%s" % username))
    if username is not None:
        c.session.props.username = username
    c.connect(HOST, server.port, password)
    if wait:
        c.wait_ready(displays=len(server.displays), server=server)
    return c


def assert_refused(res, server, username, password):
    c = sasl_client(res, server, username, password, wait=False)
    wait_until(lambda: c.first_error() is not None, 20, sleep_when_busy=False)
    events = c.events_of(CHANNEL_MAIN)
    assert "ERROR_AUTH" in events, (events, c.state(), server.diagnostics())
    assert "OPENED" not in events, events
    assert server.events(1.0, name="client-connected") == []
    assert server.client_count() == 0


def test_sasl_user_links_and_sees_the_display(res, sasl_conf):
    server = sasl_server(res, sasl_conf)
    client = sasl_client(res, server, USER, PASSWORD)
    assert server.wait_event("client-connected", timeout=10) is not None
    rng = random.Random(13)
    server.fill(0, 0, 320, 240, 0x00336699)
    server.draw(17, 23, 200, 150, random_pixels(rng, 200, 150))
    wait_client_matches(client, server, what="display through the SASL layer")
    # the server said which layer runs; the password is in no log line
    wait_until(lambda: "security layer of" in server.stderr_tail(400), 10,
               sleep_when_busy=False)
    log = server.stderr_tail(400)
    assert "SASL mechanism DIGEST-MD5" in log, log
    assert PASSWORD not in log


@pytest.mark.parametrize("password", ["wrong", "", PASSWORD[:-1]])
def test_sasl_wrong_password_is_refused(res, sasl_conf, password):
    server = sasl_server(res, sasl_conf)
    assert_refused(res, server, USER, password)
    wait_until(lambda: "SASL authentication failed" in server.stderr_tail(400), 10,
               sleep_when_busy=False)
    log = server.stderr_tail(400)
    assert "SASL authentication failed" in log, log
    if password:
        assert password not in log
    # and the right password still works afterwards
    good = sasl_client(res, server, USER, PASSWORD)
    assert good.opened(CHANNEL_MAIN)


def test_sasl_unknown_user_is_refused(res, sasl_conf):
    server = sasl_server(res, sasl_conf)
    assert_refused(res, server, "mallory", PASSWORD)


def test_sasl_client_without_username_is_refused(res, sasl_conf):
    """A client set up as for a ticket (a password only) cannot log in."""
    server = sasl_server(res, sasl_conf)
    assert_refused(res, server, None, PASSWORD)


def test_sasl_configuration_is_the_app_names(res, sasl_conf):
    """Another application name reads another (missing) configuration:
    libsasl2's defaults have no sasldb of ours, so the user is unknown."""
    server = sasl_server(res, sasl_conf, app="redspice-test-missing")
    assert_refused(res, server, USER, PASSWORD)


def test_ticket_client_refused_when_sasl(res, sasl_conf):
    """The server offers SASL only; a client that chooses the ticket gets
    spice-server's link error INVALID_DATA, and one that cannot choose
    gets VERSION_MISMATCH."""
    server = sasl_server(res, sasl_conf)
    with rawspice.RawConnection(server.port) as raw:
        raw.send(rawspice.link_packet(rawspice.MAIN))
        reply = raw.read_link_reply()
        assert reply.error == rawspice.OK
        assert reply.has_common(rawspice.CAP_AUTH_SASL)
        assert not reply.has_common(rawspice.CAP_AUTH_SPICE)
        raw.send(struct.pack("<I", rawspice.AUTH_SPICE))
        refusal = raw.read_link_reply()
        assert refusal.error == rawspice.INVALID_DATA, refusal
        closed, _ = raw.wait_closed(10)
        assert closed
    with rawspice.RawConnection(server.port) as raw:
        raw.send(rawspice.link_packet(rawspice.MAIN, common_caps=[rawspice.CAP_MINI_HEADER]))
        assert raw.read_link_reply().error == rawspice.OK
        assert raw.read_link_reply().error == rawspice.VERSION_MISMATCH
    # a ticket server with the same client library still takes tickets
    ticket_server = res.server(password="t1cket")
    c = connect_client(ticket_server, password="t1cket")
    res.add_client(c)
    assert c.opened(CHANNEL_MAIN)
    assert server.client_count() == 0


def test_sasl_app_name_property():
    from gi.repository import Red

    server = Red.Server()
    assert server.props.sasl_app_name == "redspice"
    seen = []
    server.connect("notify::sasl-app-name", lambda *a: seen.append(server.props.sasl_app_name))
    server.props.sasl_app_name = "my-app"
    assert server.props.sasl_app_name == "my-app"
    # not a file name: ignored with a warning
    server.props.sasl_app_name = "../etc/evil"
    assert server.props.sasl_app_name == "my-app"
    server.props.sasl_app_name = None
    assert server.props.sasl_app_name == "redspice"
    assert seen == ["my-app", "redspice"]


def test_sasl_over_tls_needs_no_layer(res, sasl_conf, tmp_path):
    """Over TLS spice-gtk and the server ask for no security layer, so
    SCRAM-SHA-1 (which has none) is chosen, and the session is plain SPICE
    inside TLS."""
    from test_tls import make_certificate

    cert, key = make_certificate(str(tmp_path), "server")
    server = res.server(
        extra_args=["--auth", "sasl", "--sasl-app-name", APP, "--tls-port", "0",
                    "--x509-cert-file", cert, "--x509-key-file", key,
                    "--secure-channel", "all"],
        env={"SASL_CONF_PATH": str(sasl_conf), "G_MESSAGES_DEBUG": "redspice"})
    client = res.add_client(SpiceClient(name="sasl-tls"))
    client.session.props.username = USER
    client.connect(HOST, tls_port=server.tls_port, ca_file=cert, password=PASSWORD)
    client.wait_ready(server=server)
    server.draw(5, 6, 100, 80, random_pixels(random.Random(3), 100, 80))
    wait_client_matches(client, server, what="display with SASL over TLS")
    log = server.stderr_tail(400)
    assert "SASL authenticated (over TLS)" in log, log
    assert "SASL mechanism SCRAM-SHA-1" in log, log
    assert "security layer of" not in log
    assert PASSWORD not in log
