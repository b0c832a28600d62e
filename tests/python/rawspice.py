"""A raw-socket SPICE speaker for malformed-input tests.

Builds the link stage by hand (struct, little-endian, packed) as
spice-protocol's spice/protocol.h lays it out and spice-server's
server/reds.cpp reads it (public sources), encrypts tickets with
RSA-OAEP (SHA-1, MGF1-SHA-1) in pure Python, and speaks the data stage with
the mini header when both sides advertise MINI_HEADER (full header
otherwise).

Nothing here uses GLib: it is plain blocking sockets with timeouts, so it can
run from threads while the test's main thread iterates spice-gtk.
"""

import hashlib
import os
import socket
import struct
import time

MAGIC = b"REDQ"
VERSION_MAJOR = 2
VERSION_MINOR = 2
LINK_HEADER = struct.Struct("<4sIII")          # magic, major, minor, size
LINK_MESS = struct.Struct("<IBBIII")           # conn id, type, id, ncommon, nchannel, caps_offset
LINK_REPLY_SIZE = 178                          # error u32, pubkey[162], 3 x u32
MINI_HEADER = struct.Struct("<HI")             # type, size
FULL_HEADER = struct.Struct("<QHII")           # serial, type, size, sub_list
TICKET_BYTES = 128

# channel types
MAIN, DISPLAY, INPUTS, CURSOR = 1, 2, 3, 4

# SpiceLinkErr
OK = 0
ERROR = 1
INVALID_MAGIC = 2
INVALID_DATA = 3
VERSION_MISMATCH = 4
NEED_SECURED = 5
NEED_UNSECURED = 6
PERMISSION_DENIED = 7
BAD_CONNECTION_ID = 8
CHANNEL_NOT_AVAILABLE = 9
LINK_ERR_NAMES = {
    0: "OK", 1: "ERROR", 2: "INVALID_MAGIC", 3: "INVALID_DATA", 4: "VERSION_MISMATCH",
    5: "NEED_SECURED", 6: "NEED_UNSECURED", 7: "PERMISSION_DENIED",
    8: "BAD_CONNECTION_ID", 9: "CHANNEL_NOT_AVAILABLE",
}

# common caps (bit numbers)
CAP_AUTH_SELECTION, CAP_AUTH_SPICE, CAP_AUTH_SASL, CAP_MINI_HEADER = 0, 1, 2, 3
AUTH_SPICE = 1

# message numbers
MSG_SET_ACK, MSG_PING, MSG_NOTIFY = 3, 4, 7
MSGC_ACK_SYNC, MSGC_ACK, MSGC_PONG, MSGC_DISCONNECTING = 1, 2, 3, 6
MSG_MAIN_INIT, MSG_MAIN_CHANNELS_LIST, MSG_MAIN_MOUSE_MODE = 103, 104, 105
MSGC_MAIN_ATTACH_CHANNELS, MSGC_MAIN_MOUSE_MODE_REQUEST = 104, 105
MSGC_MAIN_AGENT_START, MSGC_MAIN_AGENT_TOKEN = 106, 108
MSGC_DISPLAY_INIT = 101
MSGC_DISPLAY_PREFERRED_COMPRESSION = 103
MSGC_INPUTS_KEY_DOWN, MSGC_INPUTS_KEY_UP, MSGC_INPUTS_KEY_MODIFIERS = 101, 102, 103
MSGC_INPUTS_KEY_SCANCODE = 104
MSGC_INPUTS_MOUSE_MOTION, MSGC_INPUTS_MOUSE_POSITION = 111, 112
MSGC_INPUTS_MOUSE_PRESS, MSGC_INPUTS_MOUSE_RELEASE = 113, 114
MSG_INPUTS_INIT, MSG_INPUTS_MOUSE_MOTION_ACK = 101, 111
MSG_CURSOR_INIT, MSG_CURSOR_SET = 101, 103


class Closed(Exception):
    """The peer closed (EOF or reset) before the bytes wanted arrived."""


class NoData(Exception):
    """Nothing (or not enough) arrived before the timeout; still open."""


def caps_words(bits):
    words = []
    for b in bits:
        while len(words) <= b // 32:
            words.append(0)
        words[b // 32] |= 1 << (b % 32)
    return words


def link_header(size, magic=MAGIC, major=VERSION_MAJOR, minor=VERSION_MINOR):
    return LINK_HEADER.pack(magic, major, minor, size)


def link_mess(channel_type, channel_id=0, connection_id=0, common_caps=None,
              channel_caps=(), num_common=None, num_channel=None, caps_offset=None):
    """SpiceLinkMess + caps words. The num_* and caps_offset overrides let a
    test lie about the layout."""
    if common_caps is None:
        common_caps = [CAP_AUTH_SELECTION, CAP_MINI_HEADER]
    cw = caps_words(common_caps)
    hw = caps_words(channel_caps)
    body = LINK_MESS.pack(
        connection_id, channel_type, channel_id,
        len(cw) if num_common is None else num_common,
        len(hw) if num_channel is None else num_channel,
        LINK_MESS.size if caps_offset is None else caps_offset,
    )
    return body + b"".join(struct.pack("<I", w) for w in cw + hw)


def link_packet(channel_type, channel_id=0, connection_id=0, **kw):
    body = link_mess(channel_type, channel_id, connection_id, **kw)
    return link_header(len(body)) + body


# --------------------------------------------------------------------------
# RSA-OAEP (SHA-1) in pure Python, enough for SPICE tickets


def _der_read(data, pos):
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    return tag, data[pos:pos + length], pos + length


def rsa_public_key(spki):
    """(n, e) from a DER SubjectPublicKeyInfo."""
    tag, seq, _ = _der_read(spki, 0)
    assert tag == 0x30, "SPKI is not a SEQUENCE"
    _, _alg, pos = _der_read(seq, 0)
    tag, bitstring, _ = _der_read(seq, pos)
    assert tag == 0x03, "no BIT STRING in SPKI"
    tag, rsakey, _ = _der_read(bitstring[1:], 0)
    assert tag == 0x30
    tag, n, pos = _der_read(rsakey, 0)
    tag2, e, _ = _der_read(rsakey, pos)
    assert tag == tag2 == 0x02
    return int.from_bytes(n, "big"), int.from_bytes(e, "big")


def _mgf1(seed, length):
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha1(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:length]


def oaep_encrypt(spki, message, seed=None):
    """RSAES-OAEP with SHA-1, MGF1-SHA-1 and an empty label (what OpenSSL's
    RSA_PKCS1_OAEP_PADDING does, and what spice-gtk sends)."""
    n, e = rsa_public_key(spki)
    k = (n.bit_length() + 7) // 8
    hlen = 20
    assert len(message) <= k - 2 * hlen - 2, "message too long for OAEP"
    lhash = hashlib.sha1(b"").digest()
    db = lhash + b"\0" * (k - len(message) - 2 * hlen - 2) + b"\1" + message
    seed = seed or os.urandom(hlen)
    masked_db = bytes(a ^ b for a, b in zip(db, _mgf1(seed, k - hlen - 1)))
    masked_seed = bytes(a ^ b for a, b in zip(seed, _mgf1(masked_db, hlen)))
    em = b"\0" + masked_seed + masked_db
    return pow(int.from_bytes(em, "big"), e, n).to_bytes(k, "big")


def encrypt_ticket(spki, password):
    """The 128 bytes a client sends: OAEP(password + NUL)."""
    return oaep_encrypt(spki, password.encode() + b"\0")


# --------------------------------------------------------------------------


class LinkReply:
    def __init__(self, header, body):
        self.magic, self.major, self.minor, self.size = header
        self.body = body
        self.error = struct.unpack_from("<I", body, 0)[0] if len(body) >= 4 else None
        self.pubkey = body[4:166]
        self.common_caps = []
        self.channel_caps = []
        if len(body) >= LINK_REPLY_SIZE:
            ncommon, nchannel, off = struct.unpack_from("<III", body, 166)
            if off + 4 * (ncommon + nchannel) <= len(body):
                words = struct.unpack_from("<%dI" % (ncommon + nchannel), body, off)
                self.common_caps = list(words[:ncommon])
                self.channel_caps = list(words[ncommon:])

    def has_common(self, bit):
        return len(self.common_caps) > bit // 32 and bool(self.common_caps[bit // 32] & (1 << bit % 32))

    def __repr__(self):
        return "<LinkReply %s size %d error %s>" % (self.magic, self.size,
                                                   LINK_ERR_NAMES.get(self.error, self.error))


class RawConnection:
    """One TCP connection to the server, spoken to by hand."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.mini = False
        self.serial = 0
        self.reply = None
        self._buf = b""

    # -- bytes --

    def send(self, data):
        self.sock.sendall(data)

    def try_send(self, data):
        """send() that reports a closed peer as False instead of raising."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, OSError):
            return False

    def recv_exact(self, n, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoData("%d of %d bytes after the timeout" % (len(self._buf), n))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(max(65536, n - len(self._buf)))
            except socket.timeout:
                raise NoData("%d of %d bytes after the timeout" % (len(self._buf), n))
            except (ConnectionResetError, ConnectionAbortedError):
                raise Closed("reset after %d of %d bytes" % (len(self._buf), n))
            if not chunk:
                raise Closed("EOF after %d of %d bytes" % (len(self._buf), n))
            self._buf += chunk
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def wait_closed(self, timeout=15.0):
        """Reads and drops everything until EOF/reset. Returns (closed, bytes
        read): closed is False if the peer still held the connection open
        after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        got = len(self._buf)
        self._buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, got
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False, got
            except (ConnectionResetError, ConnectionAbortedError):
                return True, got
            if not chunk:
                return True, got
            got += len(chunk)

    def is_open(self, wait=0.2):
        """True if no EOF/reset arrives within `wait` seconds (data that
        arrives meanwhile is kept for later reads)."""
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return True
            except (ConnectionResetError, ConnectionAbortedError, OSError):
                return False
            if not chunk:
                return False
            self._buf += chunk

    def shutdown_write(self):
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self, reset=False):
        if reset:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- link stage --

    def read_link_reply(self, timeout=None):
        header = LINK_HEADER.unpack(self.recv_exact(LINK_HEADER.size, timeout))
        size = header[3]
        if size > 1 << 16:
            raise AssertionError("absurd link reply size %d" % size)
        body = self.recv_exact(size, timeout)
        self.reply = LinkReply(header, body)
        return self.reply

    def read_link_result(self, timeout=None):
        return struct.unpack("<I", self.recv_exact(4, timeout))[0]

    def link(self, channel_type, channel_id=0, connection_id=0, password="",
             common_caps=None, channel_caps=(), mechanism=AUTH_SPICE, ticket=None):
        """The whole link stage. Returns the 4-byte link result (0 = OK),
        or the link reply's error if the reply already refused. Raises
        Closed when the server closes without an answer."""
        if common_caps is None:
            common_caps = [CAP_AUTH_SELECTION, CAP_MINI_HEADER]
        self.send(link_packet(channel_type, channel_id, connection_id,
                              common_caps=common_caps, channel_caps=channel_caps))
        reply = self.read_link_reply()
        if reply.error != OK:
            return reply.error
        if CAP_AUTH_SELECTION in common_caps and reply.has_common(CAP_AUTH_SELECTION):
            self.send(struct.pack("<I", mechanism))
        if ticket is None:
            ticket = encrypt_ticket(reply.pubkey, password)
        self.send(ticket)
        result = self.read_link_result()
        self.mini = CAP_MINI_HEADER in common_caps and reply.has_common(CAP_MINI_HEADER)
        return result

    # -- data stage --

    def header(self, msg_type, size):
        if self.mini:
            return MINI_HEADER.pack(msg_type, size)
        self.serial += 1
        return FULL_HEADER.pack(self.serial, msg_type, size, 0)

    def send_msg(self, msg_type, body=b"", size=None):
        """One message; `size` overrides the header's size field."""
        self.send(self.header(msg_type, len(body) if size is None else size) + body)

    def recv_msg(self, timeout=None):
        if self.mini:
            msg_type, size = MINI_HEADER.unpack(self.recv_exact(MINI_HEADER.size, timeout))
        else:
            _serial, msg_type, size, _sub = FULL_HEADER.unpack(
                self.recv_exact(FULL_HEADER.size, timeout))
        if size > 64 << 20:
            raise AssertionError("absurd message size %d (type %d)" % (size, msg_type))
        return msg_type, self.recv_exact(size, timeout)

    def recv_until(self, msg_type, timeout=None, answer_pings=True):
        """Reads messages until one of msg_type; answers PINGs on the way."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoData("no message %d in time" % msg_type)
            t, body = self.recv_msg(left)
            if t == msg_type:
                return body
            if t == MSG_PING and answer_pings:
                self.send_msg(MSGC_PONG, body[:12])


def main_link(port, password="", timeout=10.0):
    """A linked raw main channel: (connection, session_id from MAIN_INIT)."""
    c = RawConnection(port, timeout=timeout)
    result = c.link(MAIN, 0, 0, password=password)
    if result != OK:
        c.close()
        raise AssertionError("raw main link refused: %s" % LINK_ERR_NAMES.get(result, result))
    body = c.recv_until(MSG_MAIN_INIT)
    session_id = struct.unpack_from("<I", body, 0)[0]
    return c, session_id


def channel_link(port, channel_type, channel_id, session_id, password="", timeout=10.0,
                 channel_caps=()):
    c = RawConnection(port, timeout=timeout)
    result = c.link(channel_type, channel_id, session_id, password=password,
                    channel_caps=channel_caps)
    if result != OK:
        c.close()
        raise AssertionError("raw link of channel %d:%d refused: %s" % (
            channel_type, channel_id, LINK_ERR_NAMES.get(result, result)))
    return c
