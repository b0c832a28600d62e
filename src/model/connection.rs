//! A channel client's connection after the link stage: message framing in
//! both directions, the ACK window, PING/PONG, and the hand-off of each
//! client message to the channel's protocol. Everything here runs on the
//! channel's core (its thread), driven by socket watches on that core.

use std::collections::VecDeque;
use std::io::{ErrorKind, IoSlice, Read, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use glib::prelude::*;
use glib::subclass::prelude::*;
use glib::translate::IntoGlib;

use crate::base::clock::monotonic_ns;
use crate::base::sync::lock;
use crate::model::channel::ChannelExt;
use crate::model::channel_client::{disconnect_on_own_thread, ChannelClient, ChannelClientExt};
use crate::model::error::ConnectionError;
use crate::model::link::{LinkEstimator, DRAIN_SAMPLE_INTERVAL, MAX_QUEUE_BYTES};
use crate::model::messages::MainMessage;
use crate::model::transport::Transport;
use crate::protocol::common_messages::{CommonClientMessage, Ping, SetAck};
use crate::protocol::header::{check_client_body_size, HeaderKind};
use crate::protocol::server_message::{encode_frame, ServerMessage};
use crate::protocol::{parse_client_message, Caps, ClientMessage};

/// Messages a client may leave unacknowledged: spice-server's 2 × window.
pub const ACK_WINDOW: u32 = 20;
/// Bytes queued toward a client (ours and the kernel's) above which
/// producers always hold back; below it, the link's measured bandwidth
/// sets the bound (`LinkEstimator::queue_bound`).
pub const MAX_QUEUED_BYTES: usize = MAX_QUEUE_BYTES;
/// Memory queued toward a client from which its requests are not read
/// until it reads (see `Outbox::takes_requests`).
pub const REQUESTS_HELD_AT: usize = 2 * MAX_QUEUED_BYTES;
/// Memory queued toward a client above which it is dropped for not reading
/// (the channels that produce on demand stay far below it).
pub const HARD_MAX_QUEUED_BYTES: usize = 32 << 20;
/// Interval of the round-trip measurements.
pub const PING_INTERVAL: Duration = Duration::from_secs(10);
/// The least time between two notifications of a changed bandwidth.
const NOTIFY_INTERVAL: Duration = Duration::from_secs(1);
/// The PINGs after the connection's first: their number and interval.
const PROBES: u32 = 4;
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// Bytes read from the socket per wakeup at most, so one client cannot
/// starve the others on the same thread.
const READ_BUDGET: usize = 1 << 20;

/// What ends a connection.
pub(crate) type Result<T = ()> = std::result::Result<T, ConnectionError>;

/// The channel's side of one client connection: the per-client state of a
/// channel type and what it does with client messages (`MainProtocol`,
/// `InputsProtocol`, `CursorProtocol`, `DisplayProtocol`). A channel client
/// owns one through its connection; `declare_channel_pair!` names the type
/// of each channel client's, and its `with_protocol` reaches it.
pub(crate) trait ChannelProtocol: Send + 'static {
    /// Right after the link: the channel's first messages.
    fn start(&mut self, rcc: &ChannelClient, out: &mut Outbox) -> Result;
    /// A client message of this channel (common ones are handled before).
    fn handle(
        &mut self,
        rcc: &ChannelClient,
        message: ClientMessage<'_>,
        out: &mut Outbox,
    ) -> Result;
    /// The send window has room again: produce what is pending.
    fn refill(&mut self, _rcc: &ChannelClient, _out: &mut Outbox) {}
    /// Whether to take more client messages now. A protocol whose work
    /// piles up elsewhere (input events waiting for the main loop) says no
    /// for a while: the client's bytes then wait in its socket, and a
    /// flooding client slows only itself.
    fn ready_for_input(&self) -> bool {
        true
    }
    /// For `with_protocol`, which gives channel code its concrete type.
    fn as_any(&mut self) -> &mut dyn std::any::Any;
}

/// The sending side: framing, serials and flow control.
pub(crate) struct Outbox {
    header: HeaderKind,
    serial: u64,
    queue: VecDeque<Vec<u8>>,
    /// Bytes of the front buffer already written.
    offset: usize,
    queued_bytes: usize,
    /// What the queue takes of memory: its buffers' allocations and their
    /// bookkeeping, which for many small messages is several times their
    /// bytes. Limits are on this, so a client is held to memory, not to
    /// payload.
    queued_memory: usize,
    /// Flow control, once SET_ACK is sent.
    ack_generation: u32,
    client_generation: u32,
    unacked: u32,
    uses_acks: bool,
    /// Outstanding PING: id, when it left and the bytes queued before it.
    ping: Option<(u32, Instant, usize)>,
    ping_id: u32,
    /// Bandwidth and round trip of the client's link.
    pub link: LinkEstimator,
    /// What the kernel held in the socket's send queue when last asked.
    kernel_queued: usize,
    /// A round trip was measured since the application was last told.
    rtt_changed: bool,
    /// The bandwidth the application was last told about (bits/s), and
    /// when.
    told_bandwidth: (u64, Option<Instant>),
    /// Messages sent, by type: (type, count, bytes); logged at the end.
    sent: Vec<(u16, u64, u64)>,
    /// The network test at connect, while its PINGs are out.
    net_test: Option<NetTest>,
}

/// spice-server's network test at connect, on the main channel: a
/// warm-up PING, a latency PING and a bulk PING of `NET_TEST_BYTES`, sent
/// back to back. The bulk PING's round trip less the latency PING's is the
/// time its bytes took on the link. The channels measure their own links
/// from then on (`LinkEstimator::sample`).
#[derive(Debug)]
struct NetTest {
    latency_id: u32,
    bulk_id: u32,
    latency: Option<Duration>,
}

/// The bulk PING's padding (spice-server's `NET_TEST_BYTES`).
const NET_TEST_BYTES: u32 = 250 * 1024;

/// The bandwidth (bytes/s) the network test measured: `bytes` took the
/// bulk PING's round trip less the latency PING's. `None` when that is
/// not positive (a link too fast to time this way).
fn net_test_bandwidth(bytes: u32, latency: Duration, bulk: Duration) -> Option<f64> {
    let on_link = bulk.checked_sub(latency)?.as_secs_f64();
    (on_link > 0.0).then(|| f64::from(bytes) / on_link)
}

/// Buffers handed to one vectored write (Linux allows 1024).
const MAX_WRITE_SLICES: usize = 64;

impl Outbox {
    /// `n` bytes of the queue's front were written: whole buffers leave.
    fn consume(&mut self, mut n: usize) {
        while let Some(front) = self.queue.front() {
            let left = front.len() - self.offset;
            if n < left {
                self.offset += n;
                return;
            }
            n -= left;
            self.queued_bytes -= front.len();
            self.queued_memory -= memory_of(front);
            self.offset = 0;
            self.queue.pop_front();
        }
    }

    fn new(header: HeaderKind) -> Self {
        Outbox {
            header,
            serial: 0,
            queue: VecDeque::new(),
            offset: 0,
            queued_bytes: 0,
            queued_memory: 0,
            ack_generation: 0,
            client_generation: 0,
            unacked: 0,
            uses_acks: false,
            ping: None,
            ping_id: 0,
            link: LinkEstimator::default(),
            kernel_queued: 0,
            rtt_changed: false,
            told_bandwidth: (0, None),
            sent: Vec::new(),
            net_test: None,
        }
    }

    /// Queues one message.
    pub fn send(&mut self, message: &dyn ServerMessage) -> Result {
        if self.queued_memory > HARD_MAX_QUEUED_BYTES {
            return Err(ConnectionError::Misbehaving(
                "it does not read what it is sent".into(),
            ));
        }
        self.serial += 1;
        let mut frame = Vec::new();
        encode_frame(self.header, self.serial, message, &mut frame)
            .map_err(|e| ConnectionError::Encoder(e.to_string()))?;
        // Growth leaves up to twice the bytes allocated; what waits in the
        // queue should take what it holds.
        if frame.capacity() > frame.len() + frame.len() / 8 {
            frame.shrink_to_fit();
        }
        let msg_type = message.msg_type();
        match self.sent.iter_mut().find(|(t, _, _)| *t == msg_type) {
            Some(entry) => {
                entry.1 += 1;
                entry.2 += frame.len() as u64;
            }
            None => self.sent.push((msg_type, 1, frame.len() as u64)),
        }
        self.queued_bytes += frame.len();
        self.queued_memory += memory_of(&frame);
        self.queue.push_back(frame);
        if self.uses_acks {
            self.unacked += 1;
        }
        Ok(())
    }

    /// Starts ACK flow control (display and cursor channels).
    pub fn start_acks(&mut self) -> Result {
        self.ack_generation += 1;
        self.uses_acks = true;
        self.unacked = 0;
        self.send(&SetAck {
            generation: self.ack_generation,
            window: ACK_WINDOW,
        })
    }

    /// Whether producers may queue more: the client is within its ACK
    /// window and what is queued toward it, ours and the kernel's, is
    /// within the bound its link allows.
    pub fn has_room(&self) -> bool {
        self.window_ok() && self.queued() < self.link.queue_bound()
    }

    /// Whether a message of a few bytes may go out although the link's
    /// queue is full: within the ACK window and our queue's ceiling.
    pub fn has_room_for_small(&self) -> bool {
        self.window_ok() && self.queued_bytes < MAX_QUEUED_BYTES
    }

    /// Whether the client's requests may be read: not while what it is
    /// sent takes [`REQUESTS_HELD_AT`] of memory. A client that asks and
    /// never reads the answers (ATTACH_CHANNELS in a loop) then waits in
    /// its own socket. One that reads is never held: producers stop at
    /// [`MAX_QUEUED_BYTES`], half of it, so its ACKs, PONGs and stream
    /// reports keep coming in while its queue drains.
    pub fn takes_requests(&self) -> bool {
        self.queued_memory < REQUESTS_HELD_AT
    }

    fn window_ok(&self) -> bool {
        !self.uses_acks || self.unacked <= ACK_WINDOW * 2
    }

    /// Bytes queued toward the client: ours and the kernel's.
    pub fn queued(&self) -> usize {
        self.queued_bytes + self.kernel_queued
    }

    /// The smoothed round trip of the PINGs, once one came back.
    pub fn round_trip(&self) -> Option<Duration> {
        self.link.rtt()
    }

    /// What the application should hear of: whether the bandwidth changed
    /// by more than a tenth (at most once a second), whether a round trip
    /// was measured.
    fn take_link_change(&mut self) -> LinkChange {
        let bandwidth = self.link.bandwidth_bps();
        let (told, when) = self.told_bandwidth;
        let bandwidth_changed = bandwidth.abs_diff(told) > told / 10
            && when.is_none_or(|t| t.elapsed() >= NOTIFY_INTERVAL);
        if bandwidth_changed {
            self.told_bandwidth = (bandwidth, Some(Instant::now()));
        }
        LinkChange {
            bandwidth: bandwidth_changed.then_some(bandwidth),
            round_trip: std::mem::take(&mut self.rtt_changed),
        }
    }

    /// Starts the network test (see `NetTest`).
    pub fn start_net_test(&mut self) -> Result {
        let mut ids = [0; 3];
        for (id, padding) in ids.iter_mut().zip([0, 0, NET_TEST_BYTES]) {
            self.ping_id = self.ping_id.wrapping_add(1);
            *id = self.ping_id;
            self.send(&Ping {
                id: self.ping_id,
                timestamp: monotonic_ns(),
                padding,
            })?;
        }
        self.net_test = Some(NetTest {
            latency_id: ids[1],
            bulk_id: ids[2],
            latency: None,
        });
        Ok(())
    }

    /// A PONG of the network test came back after `rtt`.
    fn net_test_pong(&mut self, id: u32, rtt: Duration) {
        let Some(test) = &mut self.net_test else {
            return;
        };
        if id == test.latency_id {
            test.latency = Some(rtt);
        } else if id == test.bulk_id {
            let latency = test.latency;
            self.net_test = None;
            let Some(latency) = latency else { return };
            match net_test_bandwidth(NET_TEST_BYTES, latency, rtt) {
                Some(bandwidth) => {
                    red_debug!(
                        "network test: {:.1} Mbit/s, round trip {latency:?}",
                        bandwidth * 8.0 / 1e6
                    );
                    self.link.measured_at_connect(monotonic_ns(), bandwidth);
                    self.link.round_trip(latency, 0);
                    self.rtt_changed = true;
                }
                None => red_debug!("network test: too fast to time, round trip {latency:?}"),
            }
        }
    }

    fn send_ping(&mut self) -> Result {
        if self.ping.is_some() {
            return Ok(());
        }
        self.ping_id = self.ping_id.wrapping_add(1);
        let now = Instant::now();
        self.ping = Some((self.ping_id, now, self.queued()));
        self.send(&Ping {
            id: self.ping_id,
            timestamp: monotonic_ns(),
            padding: 0,
        })
    }

    fn handle_common(&mut self, message: CommonClientMessage<'_>) {
        match message {
            CommonClientMessage::AckSync { generation } => self.client_generation = generation,
            CommonClientMessage::Ack => {
                if self.client_generation == self.ack_generation {
                    self.unacked = self.unacked.saturating_sub(ACK_WINDOW);
                }
            }
            CommonClientMessage::Pong { id, timestamp } => {
                if self.net_test.is_some() {
                    let rtt = Duration::from_nanos(monotonic_ns().saturating_sub(timestamp));
                    self.net_test_pong(id, rtt);
                }
                if let Some((ping_id, sent, queued_ahead)) = self.ping {
                    if ping_id == id {
                        self.link.round_trip(sent.elapsed(), queued_ahead);
                        self.rtt_changed = true;
                        self.ping = None;
                    }
                }
            }
            CommonClientMessage::MigrateFlushMark
            | CommonClientMessage::MigrateData(_)
            | CommonClientMessage::Disconnecting { .. } => {}
        }
    }
}

/// A linked connection with its channel protocol.
pub(crate) struct ChannelIo {
    socket: Transport,
    channel_type: u8,
    input: Vec<u8>,
    pub out: Outbox,
    protocol: Box<dyn ChannelProtocol>,
    /// Write watch, present while the socket is backed up.
    write_source: Option<glib::Source>,
    /// Timer, present while the kernel's queue holds more than the link's
    /// bound: the socket is writable long before that drains.
    drain_source: Option<glib::Source>,
    /// The kernel's queue and the wait when the drain timer was last set:
    /// a queue that does not shrink (a client that stopped reading) is
    /// looked at less and less often.
    last_drain: Option<(usize, Duration)>,
    /// The kernel's queue at the last look `sample_the_drain` scheduled,
    /// and the wait before it: a queue that does not move (a client that
    /// stopped reading) is looked at less and less often.
    drain_sample: Option<(usize, Duration)>,
}

impl ChannelIo {
    /// The protocol state as `T` beside the outbox, for channel code that
    /// pushes changes from outside (display damage, cursor moves).
    pub(crate) fn protocol_as<T: 'static>(&mut self) -> Option<(&mut T, &mut Outbox)> {
        let protocol = self.protocol.as_any().downcast_mut::<T>()?;
        Some((protocol, &mut self.out))
    }

    /// Whether to take more client messages now: the protocol is ready
    /// and the client reads what it is sent.
    fn ready_for_input(&self) -> bool {
        self.out.takes_requests() && self.protocol.ready_for_input()
    }

    /// Reads what is there and handles every complete message, until the
    /// socket is drained, the read budget is spent or the protocol wants a
    /// pause.
    fn read(&mut self, rcc: &ChannelClient) -> Result<Reading> {
        let mut budget = READ_BUDGET;
        let mut chunk = [0u8; 16384];
        loop {
            self.handle_input(rcc)?;
            if !self.ready_for_input() {
                return Ok(Reading::Paused);
            }
            if budget == 0 {
                // The watch fires again on the next iteration, unless the
                // rest is already decrypted in TLS's buffer.
                if self.socket.buffered() > 0 {
                    return Ok(Reading::Paused);
                }
                return Ok(Reading::Watching);
            }
            match self.socket.read(&mut chunk) {
                Ok(0) => return Err(ConnectionError::Closed),
                Ok(n) => {
                    self.input.extend_from_slice(&chunk[..n]);
                    budget = budget.saturating_sub(n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Reading::Watching),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn handle_input(&mut self, rcc: &ChannelClient) -> Result {
        let header_size = self.out.header.size();
        let mut consumed = 0;
        while let Some(rest) = self.input.get(consumed..) {
            if rest.len() < header_size || !self.ready_for_input() {
                break;
            }
            let header = self
                .out
                .header
                .parse(rest)
                .map_err(ConnectionError::Protocol)?;
            check_client_body_size(self.channel_type, &header)
                .map_err(ConnectionError::Protocol)?;
            let total = header_size + header.size as usize;
            if rest.len() < total {
                break;
            }
            let body = &rest[header_size..total];
            let message = parse_client_message(self.channel_type, header.msg_type, body)
                .map_err(ConnectionError::Protocol)?;
            match message {
                ClientMessage::Common(common) => self.out.handle_common(common),
                ClientMessage::Unknown { msg_type, .. } => {
                    red_debug!(
                        "channel {}: skipping unknown message {msg_type}",
                        self.channel_type
                    );
                }
                other => self.protocol.handle(rcc, other, &mut self.out)?,
            }
            consumed += total;
        }
        self.input.drain(..consumed);
        Ok(())
    }

    /// Looks how much the kernel still holds; the link estimate learns
    /// from how fast it drains.
    fn sample_kernel_queue(&mut self) {
        let queued = crate::base::sys::socket_send_queue(self.socket.raw_fd()).unwrap_or(0);
        self.out.kernel_queued = queued;
        self.out.link.sample(
            u64::try_from(glib::monotonic_time()).unwrap_or(0) * 1000,
            queued,
            self.out.queued_bytes,
        );
    }

    /// Writes queued frames until the socket would block.
    fn flush(&mut self) -> Result<bool> {
        let writes = !self.out.queue.is_empty();
        if writes {
            // Before writing, so that a queue that drained is seen empty.
            self.sample_kernel_queue();
        }
        let drained = self.write_queued();
        // Nothing written to an empty kernel queue: nothing to learn, and
        // the worker asked the kernel a dozen times a frame.
        if writes || self.out.kernel_queued > 0 {
            self.sample_kernel_queue();
        }
        drained
    }

    fn write_queued(&mut self) -> Result<bool> {
        while !self.out.queue.is_empty() {
            // Many messages per system call: a frame is often a dozen
            // small draws, and each send cost the worker a trip through
            // the kernel's TCP path.
            let written = {
                let offset = self.out.offset;
                // On the stack: this runs for every write of every client.
                let mut slices = [IoSlice::new(&[]); MAX_WRITE_SLICES];
                let mut used = 0;
                for (slot, buffer) in slices.iter_mut().zip(&self.out.queue) {
                    *slot = IoSlice::new(if used == 0 { &buffer[offset..] } else { buffer });
                    used += 1;
                }
                self.socket.write_vectored(&slices[..used])
            };
            match written {
                Ok(n) => {
                    self.out.link.wrote(n);
                    self.out.consume(n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
        // A transport that frames (WebSocket) may hold the tail of the
        // last write.
        if self.socket.has_pending_output() {
            match self.socket.flush() {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }
}

/// Attaches a linked socket to `rcc`, on the channel's thread, and starts
/// its protocol. On failure the channel client is disconnected.
pub(crate) fn attach(
    rcc: &ChannelClient,
    socket: Transport,
    input: Vec<u8>,
    peer_common_caps: &Caps,
    protocol: Box<dyn ChannelProtocol>,
) {
    let Some(channel) = rcc.channel() else {
        return;
    };
    let channel_type = channel.channel_type().into_glib() as u8;
    let mut io = ChannelIo {
        socket,
        channel_type,
        input,
        out: Outbox::new(HeaderKind::from_peer_caps(peer_common_caps)),
        protocol,
        write_source: None,
        drain_source: None,
        last_drain: None,
        drain_sample: None,
    };
    // What delayed ACKs can leave unacknowledged (see `LinkEstimator`).
    if let Some(segment) = crate::base::sys::tcp_max_segment(io.socket.raw_fd()) {
        io.out.link.set_segment_size(segment);
    }
    let started = io
        .protocol
        .start(rcc, &mut io.out)
        .and_then(|_| io.out.send_ping());
    *lock(&rcc.imp().io) = Some(io);
    watch_readable(rcc);
    let weak = rcc.downgrade();
    let ping_source = channel.core().timeout_add(PING_INTERVAL, move || {
        let Some(rcc) = weak.upgrade() else {
            return glib::ControlFlow::Break;
        };
        let result = with_io(&rcc, |io, _| io.out.send_ping());
        finish(&rcc, result)
    });
    lock(&rcc.imp().sources).push(ping_source);
    // A few more PINGs at first: the one above leaves with the channel's
    // first messages and measures their queue as much as the path.
    let weak = rcc.downgrade();
    let mut probes = 0;
    let probe_source = channel.core().timeout_add(PROBE_INTERVAL, move || {
        let Some(rcc) = weak.upgrade() else {
            return glib::ControlFlow::Break;
        };
        probes += 1;
        let result = with_io(&rcc, |io, _| io.out.send_ping());
        if probes >= PROBES {
            let _ = finish(&rcc, result);
            return glib::ControlFlow::Break;
        }
        finish(&rcc, result)
    });
    lock(&rcc.imp().sources).push(probe_source);
    // Messages that arrived with the link go first.
    let result = started.and_then(|_| with_io(rcc, |io, rcc| io.handle_input(rcc)));
    finish(rcc, result);
}

/// How a read wakeup ended.
enum Reading {
    /// Keep the read watch.
    Watching,
    /// The protocol wants no input for now: stop watching and look again
    /// shortly.
    Paused,
}

/// How often a paused connection looks whether it may read again.
const PAUSE_RETRY: Duration = Duration::from_millis(5);

/// Watches `rcc`'s socket for input on its channel's core.
fn watch_readable(rcc: &ChannelClient) {
    let Some(channel) = rcc.channel() else {
        return;
    };
    let Some(fd) = lock(&rcc.imp().io).as_ref().map(|io| io.socket.raw_fd()) else {
        return;
    };
    let weak = rcc.downgrade();
    let source = channel.core().fd_watch(
        fd,
        glib::IOCondition::IN | glib::IOCondition::HUP | glib::IOCondition::ERR,
        move |_, _| {
            let Some(rcc) = weak.upgrade() else {
                return glib::ControlFlow::Break;
            };
            on_readable(&rcc)
        },
    );
    let mut sources = lock(&rcc.imp().sources);
    sources.retain(|s| !s.is_destroyed());
    sources.push(source);
}

/// Reads; a paused connection stops watching until its protocol is ready.
fn on_readable(rcc: &ChannelClient) -> glib::ControlFlow {
    let mut reading = Reading::Watching;
    let result = with_io(rcc, |io, rcc| {
        reading = io.read(rcc)?;
        Ok(())
    });
    if finish(rcc, result).is_break() {
        return glib::ControlFlow::Break;
    }
    match reading {
        Reading::Watching => glib::ControlFlow::Continue,
        Reading::Paused => {
            resume_when_ready(rcc);
            glib::ControlFlow::Break
        }
    }
}

/// Looks every `PAUSE_RETRY` whether a paused connection may read again,
/// then handles what it has buffered and watches its socket again.
fn resume_when_ready(rcc: &ChannelClient) {
    let Some(channel) = rcc.channel() else {
        return;
    };
    let weak = rcc.downgrade();
    let source = channel.core().timeout_add(PAUSE_RETRY, move || {
        let Some(rcc) = weak.upgrade() else {
            return glib::ControlFlow::Break;
        };
        let ready = lock(&rcc.imp().io)
            .as_ref()
            .is_some_and(ChannelIo::ready_for_input);
        if !ready {
            return glib::ControlFlow::Continue;
        }
        if on_readable(&rcc).is_continue() {
            watch_readable(&rcc);
        }
        glib::ControlFlow::Break
    });
    lock(&rcc.imp().sources).push(source);
}

/// Runs `f` on the channel client's connection, then lets the protocol
/// refill and flushes. `Err` means: disconnect.
pub(crate) fn with_io(
    rcc: &ChannelClient,
    f: impl FnOnce(&mut ChannelIo, &ChannelClient) -> Result,
) -> Result {
    note_handler_thread(rcc);
    let mut guard = lock(&rcc.imp().io);
    let Some(io) = guard.as_mut() else {
        return Ok(());
    };
    f(io, rcc)?;
    if HELD_PUMPS.with_borrow_mut(|held| held.hold(rcc)) {
        return Ok(());
    }
    pump(io, rcc)
}

/// Connections whose pump waits for [`pump_held`] (see [`holding_pumps`]).
#[derive(Default)]
struct HeldPumps {
    /// Inside [`holding_pumps`].
    active: bool,
    clients: Vec<ChannelClient>,
}

impl HeldPumps {
    /// Whether `rcc`'s pump is held (then it is remembered).
    fn hold(&mut self, rcc: &ChannelClient) -> bool {
        if !self.active {
            return false;
        }
        if !self.clients.contains(rcc) {
            self.clients.push(rcc.clone());
        }
        true
    }
}

thread_local! {
    static HELD_PUMPS: std::cell::RefCell<HeldPumps> = std::cell::RefCell::new(HeldPumps::default());
}

/// Runs `f`, leaving the pumps of the connections it touches (through
/// [`with_io`]) to the next [`pump_held`] on this thread. A worker does so
/// while more drawing requests are queued: a frame of a dozen draws is
/// then coded from the merged damage and written in one system call, not
/// a dozen of each.
pub(crate) fn holding_pumps<R>(f: impl FnOnce() -> R) -> R {
    let was = HELD_PUMPS.with_borrow_mut(|held| std::mem::replace(&mut held.active, true));
    let result = f();
    HELD_PUMPS.with_borrow_mut(|held| held.active = was);
    result
}

/// Pumps the connections [`holding_pumps`] held back on this thread; one
/// whose connection fails is disconnected.
pub(crate) fn pump_held() {
    let clients = HELD_PUMPS.with_borrow_mut(|held| std::mem::take(&mut held.clients));
    for rcc in clients {
        let result = {
            let mut guard = lock(&rcc.imp().io);
            match guard.as_mut() {
                Some(io) => pump(io, &rcc),
                None => Ok(()),
            }
        };
        if let Err(error) = result {
            disconnect_after(&rcc, &error);
        }
    }
}

/// Records the thread running a handler of `rcc`; in debug builds, a
/// handler on another thread than its channel's is a critical.
fn note_handler_thread(rcc: &ChannelClient) {
    let tid = crate::base::sys::current_thread_id();
    rcc.imp().handler_thread_id.store(tid, Ordering::SeqCst);
    if cfg!(debug_assertions) {
        if let Some(channel) = rcc.channel() {
            channel
                .core()
                .check_thread(&format!("a handler of {}", rcc.type_().name()));
        }
    }
}

/// Lets the protocol produce while there is room, writing as it goes.
fn pump(io: &mut ChannelIo, rcc: &ChannelClient) -> Result {
    let result = pump_queue(io, rcc);
    if result.is_ok() && io.out.kernel_queued > io.out.link.ack_slack() {
        sample_the_drain(io, rcc);
    }
    let change = io.out.take_link_change();
    if change.bandwidth.is_some() || change.round_trip {
        tell_link_change(rcc, change);
    }
    result
}

fn pump_queue(io: &mut ChannelIo, rcc: &ChannelClient) -> Result {
    loop {
        let before = io.out.serial;
        let refilled = io.out.has_room();
        if refilled {
            io.protocol.refill(rcc, &mut io.out);
        }
        let drained = io.flush()?;
        if !drained {
            watch_writable(io, rcc);
            return Ok(());
        }
        if io.out.kernel_queued == 0 {
            io.last_drain = None;
        }
        if !io.out.has_room() {
            // Our queue is empty: what holds producers back is the ACK
            // window (the client's ACK wakes them) or the kernel's queue.
            if io.out.window_ok() {
                wait_for_drain(io, rcc);
            }
            return Ok(());
        }
        // Room that the flush's fresh look at the kernel's queue found (a
        // drain timer's wakeup) is filled now: otherwise producers would
        // wait for the next damage, and what is pending (the first
        // screen's MARK, image bands) would wait with them.
        if refilled && io.out.serial == before {
            return Ok(());
        }
    }
}

/// Publishes new link estimates: the `bandwidth` property, and notify
/// of it and of `round-trip-time` on the main thread, where the
/// application gets its signals (through the main dispatcher).
fn tell_link_change(rcc: &ChannelClient, change: LinkChange) {
    if let Some(bandwidth) = change.bandwidth {
        rcc.imp().bandwidth.store(bandwidth, Ordering::SeqCst);
    }
    if let Some(dispatcher) = rcc.channel().and_then(|c| c.main_dispatcher().cloned()) {
        dispatcher.send(MainMessage::LinkChanged {
            channel_client: rcc.clone(),
            bandwidth: change.bandwidth.is_some(),
            round_trip: change.round_trip,
        });
    }
}

/// New link estimates to tell the application about.
struct LinkChange {
    bandwidth: Option<u64>,
    round_trip: bool,
}

/// The longest wait for the kernel's queue to drain.
const DRAIN_MAX_WAIT: Duration = Duration::from_millis(200);

/// Looks again, after about the time the link needs to drain the kernel's
/// queue to the bound, whether producers may go on. Only while bytes are
/// in flight: an idle client has an empty queue and no timer.
fn wait_for_drain(io: &mut ChannelIo, rcc: &ChannelClient) {
    if io.drain_source.is_some() || io.out.kernel_queued == 0 {
        return;
    }
    let Some(channel) = rcc.channel() else { return };
    let queued = io.out.kernel_queued;
    let mut wait = io.out.link.drain_wait(queued, io.out.link.queue_bound());
    if let Some((before, waited)) = io.last_drain {
        if queued >= before {
            wait = wait.max(waited * 2).min(DRAIN_MAX_WAIT);
        }
    }
    io.last_drain = Some((queued, wait));
    arm_drain_timer(io, rcc, &channel, wait);
}

/// Looks at the kernel's queue again shortly while it drains, so that
/// the link estimate sees the drain's pace (`LinkEstimator::sample`).
fn sample_the_drain(io: &mut ChannelIo, rcc: &ChannelClient) {
    if io.drain_source.is_some() {
        return;
    }
    let Some(channel) = rcc.channel() else { return };
    let queued = io.out.kernel_queued;
    let wait = match io.drain_sample {
        Some((before, waited)) if before == queued => (waited * 2).min(DRAIN_SAMPLE_MAX_WAIT),
        _ => DRAIN_SAMPLE_INTERVAL,
    };
    io.drain_sample = Some((queued, wait));
    arm_drain_timer(io, rcc, &channel, wait);
}

/// The one-shot timer of `wait_for_drain` and `sample_the_drain`: it
/// pumps the connection, whose `pump` sets a new one if the kernel still
/// holds too much.
fn arm_drain_timer(
    io: &mut ChannelIo,
    rcc: &ChannelClient,
    channel: &crate::model::channel::Channel,
    wait: Duration,
) {
    let weak = rcc.downgrade();
    let source = channel.core().timeout_add(wait, move || {
        let Some(rcc) = weak.upgrade() else {
            return glib::ControlFlow::Break;
        };
        let result = with_io(&rcc, |io, _| {
            io.drain_source = None;
            Ok(())
        });
        let _ = finish(&rcc, result);
        glib::ControlFlow::Break
    });
    io.drain_source = Some(source);
}

/// The longest wait between looks at a kernel queue that does not drain.
const DRAIN_SAMPLE_MAX_WAIT: Duration = Duration::from_millis(50);

/// Watches for the socket to drain while frames wait.
fn watch_writable(io: &mut ChannelIo, rcc: &ChannelClient) {
    if io.write_source.is_some() {
        return;
    }
    let Some(channel) = rcc.channel() else { return };
    let weak = rcc.downgrade();
    let source =
        channel
            .core()
            .fd_watch(io.socket.raw_fd(), glib::IOCondition::OUT, move |_, _| {
                let Some(rcc) = weak.upgrade() else {
                    return glib::ControlFlow::Break;
                };
                let result = with_io(&rcc, |io, _| {
                    io.write_source = None;
                    Ok(())
                });
                // pump() re-arms a new watch if the socket is still backed up.
                let _ = finish(&rcc, result);
                glib::ControlFlow::Break
            });
    io.write_source = Some(source);
}

/// Disconnects on error; the watch keeps running otherwise.
fn finish(rcc: &ChannelClient, result: Result) -> glib::ControlFlow {
    match result {
        Ok(()) => glib::ControlFlow::Continue,
        Err(error) => {
            disconnect_after(rcc, &error);
            glib::ControlFlow::Break
        }
    }
}

/// Logs why `rcc`'s connection failed, at the level its kind deserves,
/// and disconnects it; on the channel's thread.
pub(crate) fn disconnect_after(rcc: &ChannelClient, error: &ConnectionError) {
    let id = rcc.channel().map(|c| c.id()).unwrap_or(0);
    crate::base::log::log(
        error.log_level(),
        file!(),
        line!(),
        &format!("{} {id}: {error}: disconnecting", rcc.type_().name()),
    );
    disconnect_on_own_thread(rcc);
}

/// Closes the connection's socket and its write watch (on disconnection).
pub(crate) fn close(io: ChannelIo) {
    if !io.out.sent.is_empty() {
        let mut sent = io.out.sent.clone();
        sent.sort_by_key(|&(_, _, bytes)| std::cmp::Reverse(bytes));
        let list: Vec<_> = sent
            .iter()
            .map(|(t, n, bytes)| format!("type {t}: {n} messages, {} KiB", bytes / 1024))
            .collect();
        red_debug!("channel {} sent {}", io.channel_type, list.join("; "));
    }
    for source in [io.write_source, io.drain_source].into_iter().flatten() {
        source.destroy();
    }
    let mut socket = io.socket;
    socket.shutdown();
}

/// The smoothed round trip of the PINGs, if one came back.
pub(crate) fn round_trip(rcc: &ChannelClient) -> Option<Duration> {
    if !rcc.is_connected() {
        return None;
    }
    lock(&rcc.imp().io)
        .as_ref()
        .and_then(|io| io.out.round_trip())
}

/// What a queued buffer takes of memory: its allocation, the allocator's
/// header and its slot in the queue.
fn memory_of(frame: &Vec<u8>) -> usize {
    frame.capacity() + 16 + std::mem::size_of::<Vec<u8>>()
}

#[cfg(test)]
mod net_test_tests {
    use super::*;

    #[test]
    fn the_bulk_ping_times_the_link() {
        // 250 KiB in 200 ms more than the latency PING: 10.24 Mbit/s.
        let bw = net_test_bandwidth(
            NET_TEST_BYTES,
            Duration::from_millis(2),
            Duration::from_millis(202),
        )
        .unwrap();
        assert!((bw * 8.0 - 10_240_000.0).abs() < 1.0, "{bw}");
        // A bulk round trip no longer than the latency one: not timed.
        let ms = Duration::from_millis;
        assert_eq!(net_test_bandwidth(NET_TEST_BYTES, ms(2), ms(2)), None);
        assert_eq!(net_test_bandwidth(NET_TEST_BYTES, ms(3), ms(2)), None);
    }
}
