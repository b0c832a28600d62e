//! What a channel client knows of its link to the client: the bandwidth
//! (from the bytes the kernel's send queue drained while it was not
//! empty), the round trip (PING/PONG), the bound on the bytes queued
//! toward the client that follows from them, and the playout delay that
//! stream frames need to arrive on time. Pure logic: the connection feeds
//! it times and byte counts (`crate::model::connection`).

use std::sync::Mutex;
use std::time::Duration;

use crate::base::sync::lock;

/// Bytes queued toward a client (ours and the kernel's) that always pass,
/// however slow its link: a few messages.
pub const MIN_QUEUE_BYTES: usize = 64 << 10;
/// Bytes queued toward a client above which producers always hold back
/// (and the bound while the bandwidth is not known).
pub const MAX_QUEUE_BYTES: usize = 4 << 20;
/// The frame interval of the applications redspice serves (30 fps): the
/// queue holds about two of them at the link's rate, so what the client
/// gets is never more than two frames old.
pub const FRAME_INTERVAL: Duration = Duration::from_millis(33);
const QUEUE_FRAMES: u32 = 2;
/// A drain measurement spans at least this long: shorter ones are mostly
/// the kernel's timer granularity.
const MIN_SPAN_NS: u64 = 10_000_000;
/// While more than delayed ACKs explain is queued in the kernel, its
/// queue is looked at this often (`model::connection`): a frame that
/// drains within its interval is measured only by looks during the drain.
pub const DRAIN_SAMPLE_INTERVAL: Duration = Duration::from_millis(3);
/// Time constant of the bandwidth average (s): each measurement weighs
/// by the time it spans, so stretches in which the peer read nothing (a
/// small receive window drains in bursts) count as much as the bursts.
const BANDWIDTH_TIME_CONSTANT_S: f64 = 0.25;
/// A busy period this long whose average is under half the estimate
/// replaces it at once (an estimate that probed up, or a link that got
/// slower).
const RESET_SPAN_NS: u64 = 300_000_000;
/// The lowest estimate (bytes/s): a peer that read nothing for a while
/// still has a link.
const MIN_BANDWIDTH: f64 = 1000.0;
/// The segment size assumed where the socket does not say: Ethernet's
/// MTU less IP and TCP headers with timestamps.
const DEFAULT_SEGMENT: usize = 1448;
/// Weight of a new round trip in the average.
const RTT_GAIN: f64 = 0.25;
/// Bytes sent for this long without the queue staying busy long enough to
/// measure: the link is faster than the estimate says (it was measured
/// while the peer was slow, as a client decoding its first screen over
/// loopback), which then doubles; the next busy stretch measures it again.
const PROBE_AFTER_NS: u64 = 2_000_000_000;
/// An estimate that held no producer back probes up only after this long
/// unconfirmed: a stream at its share never fills the link, but an
/// estimate measured while the peer stalled (a client busy on a loaded
/// machine) must not hold for good. At 10 s a stream on a 10 Mbit/s link
/// saw its estimate doubled to 18 Mbit/s within the first 10 s.
const PROBE_UNHELD_AFTER_NS: u64 = 30_000_000_000;
/// The estimate probes no higher (bytes/s): the queue bound is the
/// ceiling long before.
const PROBE_MAX: f64 = 10e9;

/// One look at the kernel's send queue.
#[derive(Clone, Copy, Debug)]
struct Sample {
    t_ns: u64,
    /// Bytes the kernel no longer holds: written minus still queued.
    delivered: u64,
    queued: usize,
    /// Producers were held: what was queued, ours and the kernel's, had
    /// reached the bound. Only then does a slow drain say the link (or
    /// the peer) is slow; otherwise the peer may simply not have
    /// acknowledged yet (delayed ACKs) what little there was.
    held: bool,
}

/// One channel client's link: bandwidth, round trip, and what follows.
#[derive(Debug, Default)]
pub struct LinkEstimator {
    /// Bytes handed to the kernel so far.
    written: u64,
    last: Option<Sample>,
    /// Where the current measurement of a busy period (queue never seen
    /// empty) began: time, bytes delivered, and whether producers were
    /// held at some look since.
    busy_start: Option<(u64, u64, bool)>,
    /// Where the whole busy period began, and whether producers were held
    /// in every measurement since.
    busy_period: Option<(u64, u64, bool)>,
    /// When the estimate was last measured (or probed up), and the bytes
    /// written then.
    measured_at: Option<(u64, u64)>,
    /// Bytes per second, smoothed; `None` until measured.
    bandwidth: Option<f64>,
    rtt: Option<Duration>,
    min_rtt: Option<Duration>,
    /// Producers were held at a look since the estimate was last measured.
    held_since_measured: bool,
    /// The socket's largest segment (`TCP_MAXSEG`); 0 while not known.
    segment: usize,
}

impl LinkEstimator {
    /// The socket sends segments of at most `bytes`: a peer's delayed
    /// ACKs leave up to two of them unacknowledged.
    pub fn set_segment_size(&mut self, bytes: usize) {
        self.segment = bytes;
    }

    /// Bytes that may stay queued only because the peer delays its ACKs
    /// (it acknowledges at least every second full segment).
    pub fn ack_slack(&self) -> usize {
        2 * if self.segment > 0 {
            self.segment
        } else {
            DEFAULT_SEGMENT
        }
    }

    /// The network test at connect measured `bytes_per_second`: the
    /// estimate until the link's own drains measure it (it then moves
    /// from there).
    pub fn measured_at_connect(&mut self, now_ns: u64, bytes_per_second: f64) {
        if self.bandwidth.is_none() {
            self.bandwidth = Some(bytes_per_second.max(MIN_BANDWIDTH));
            self.measured_at = Some((now_ns, self.written));
        }
    }

    /// `n` more bytes were handed to the kernel.
    pub fn wrote(&mut self, n: usize) {
        self.written += n as u64;
    }

    /// The kernel holds `queued` of the bytes written (not yet
    /// acknowledged by the peer) at `now_ns`, and `ours` wait before it. A
    /// stretch of time during which the queue was never seen empty
    /// measures the link: it drained as fast as the link carries. With
    /// producers held (the bound reached) that is so also when nothing
    /// drained for a while (a small receive window drains in bursts, and
    /// leaving those stretches out would count only the bursts). A
    /// stretch at whose end the queue was empty only says the link is at
    /// least that fast. True when the bandwidth estimate changed.
    pub fn sample(&mut self, now_ns: u64, queued: usize, ours: usize) -> bool {
        let delivered = self.written.saturating_sub(queued as u64);
        let now = Sample {
            t_ns: now_ns,
            delivered,
            queued,
            held: queued + ours >= self.queue_bound(),
        };
        let mut changed = false;
        match self.last {
            Some(prev) if prev.queued > 0 => {
                let start = self
                    .busy_start
                    .get_or_insert((prev.t_ns, prev.delivered, false));
                start.2 |= prev.held;
                let (t0, d0, held) = *start;
                let (p0, pd0, period_held) =
                    *self
                        .busy_period
                        .get_or_insert((prev.t_ns, prev.delivered, true));
                let span = now_ns.saturating_sub(t0);
                if span >= MIN_SPAN_NS {
                    let rate = delivered.saturating_sub(d0) as f64 * 1e9 / span as f64;
                    // An estimate only rises from a stretch that did not
                    // keep the link busy: it says the link is at least
                    // that fast, not how fast.
                    let raises = self.bandwidth.is_some_and(|b| rate > b);
                    // Producers not held and no more left than delayed
                    // ACKs hold back: the sender, not the link, set the
                    // pace, and the stretch starts again. (Counting such
                    // stretches measured a fast link at the bytes offered
                    // per frame, and the display went lossy on loopback.)
                    let link_limited = held || queued > self.ack_slack();
                    // Nothing drained while producers were not held: the
                    // peer may not have acknowledged yet (delayed ACKs);
                    // the stretch goes on until something drains, and
                    // counts then with its time.
                    if queued > 0 && link_limited && (held || rate > 0.0) {
                        self.busy_start = Some((now_ns, delivered, false));
                        changed = self.measured(rate, span);
                        self.measured_at = Some((now_ns, self.written));
                        self.held_since_measured = false;
                        let period = now_ns.saturating_sub(p0);
                        if held && period_held && period >= RESET_SPAN_NS {
                            let average =
                                delivered.saturating_sub(pd0) as f64 * 1e9 / period as f64;
                            changed |= self.far_below(average);
                        }
                    } else {
                        if queued > 0 && !link_limited {
                            self.busy_start = Some((now_ns, delivered, false));
                        }
                        if raises {
                            changed = self.measured(rate, span);
                        }
                    }
                    if let Some(period) = &mut self.busy_period {
                        period.2 &= held;
                    }
                }
                if queued == 0 {
                    self.busy_start = None;
                    self.busy_period = None;
                }
            }
            _ => {
                self.busy_start = None;
                self.busy_period = None;
            }
        }
        self.held_since_measured |= now.held;
        self.last = Some(now);
        changed | self.probe(now_ns)
    }

    /// Doubles an estimate that bytes sent since have not confirmed: soon
    /// when it held producers back, else only after long. A sender that
    /// keeps itself well within the link (a stream at its share) says
    /// little of how much faster the link is.
    fn probe(&mut self, now_ns: u64) -> bool {
        let (Some(bandwidth), Some((at, written))) = (self.bandwidth, self.measured_at) else {
            return false;
        };
        let after = if self.held_since_measured {
            PROBE_AFTER_NS
        } else {
            PROBE_UNHELD_AFTER_NS
        };
        if now_ns.saturating_sub(at) < after || self.written == written {
            return false;
        }
        self.bandwidth = Some((bandwidth * 2.0).min(PROBE_MAX));
        self.measured_at = Some((now_ns, self.written));
        self.held_since_measured = false;
        true
    }

    /// The link carried `rate` for `span_ns`: the average moves toward
    /// it by the time it spans. The first measurement is taken as it is,
    /// once something drained.
    fn measured(&mut self, rate: f64, span_ns: u64) -> bool {
        self.bandwidth = match self.bandwidth {
            None if rate <= 0.0 => return false,
            None => Some(rate.max(MIN_BANDWIDTH)),
            Some(b) => {
                let gain = 1.0 - (-(span_ns as f64) / 1e9 / BANDWIDTH_TIME_CONSTANT_S).exp();
                Some((b + gain * (rate - b)).max(MIN_BANDWIDTH))
            }
        };
        true
    }

    /// A whole busy period drained at `average`: far below the estimate
    /// (one that probed up), it replaces it at once.
    fn far_below(&mut self, average: f64) -> bool {
        match self.bandwidth {
            Some(b) if average < b / 2.0 => {
                self.bandwidth = Some(average.max(MIN_BANDWIDTH));
                true
            }
            _ => false,
        }
    }

    /// A PING came back after `rtt`; `queued_ahead` bytes were queued
    /// toward the client before it (ours and the kernel's). The path's own
    /// round trip is what is left once their time on the link is taken
    /// off: a PING sent behind a full queue measures the queue.
    pub fn round_trip(&mut self, rtt: Duration, queued_ahead: usize) {
        self.rtt = Some(match self.rtt {
            None => rtt,
            Some(r) => r.mul_f64(1.0 - RTT_GAIN) + rtt.mul_f64(RTT_GAIN),
        });
        let queueing = self.bandwidth.map_or(Duration::ZERO, |b| {
            Duration::from_secs_f64(queued_ahead as f64 / b)
        });
        let path = rtt.saturating_sub(queueing);
        self.min_rtt = Some(self.min_rtt.map_or(path, |m| m.min(path)));
    }

    /// The smoothed round trip, once measured.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The bandwidth in bits per second; 0 while unknown.
    pub fn bandwidth_bps(&self) -> u64 {
        self.bandwidth.map_or(0, |b| (b * 8.0) as u64)
    }

    /// Bytes that may be queued toward the client, ours and the kernel's:
    /// two frame intervals at the link's rate, plus what is in flight for
    /// the shortest round trip seen (a longer one is queueing, which this
    /// bound is there to avoid), within the floor and the ceiling.
    pub fn queue_bound(&self) -> usize {
        let Some(bandwidth) = self.bandwidth else {
            return MAX_QUEUE_BYTES;
        };
        let time = FRAME_INTERVAL * QUEUE_FRAMES + self.min_rtt.unwrap_or_default();
        let bytes = bandwidth * time.as_secs_f64();
        (bytes as usize).clamp(MIN_QUEUE_BYTES, MAX_QUEUE_BYTES)
    }

    /// How long until the last of `bytes` queued now reaches the client:
    /// half the shortest round trip plus the bytes' time on the link. A
    /// link whose queue never stayed busy long enough to be measured is
    /// fast (loopback): only the round trip counts. `None` while nothing
    /// was measured.
    pub fn transit(&self, bytes: usize) -> Option<Duration> {
        if self.bandwidth.is_none() && self.min_rtt.is_none() {
            return None;
        }
        let one_way = self.min_rtt.unwrap_or_default() / 2;
        let on_link = self
            .bandwidth
            .map_or(0.0, |bandwidth| bytes as f64 / bandwidth);
        Some(one_way + Duration::from_secs_f64(on_link))
    }

    /// How long the kernel needs to drain its queue down to the bound, for
    /// the timer that waits for room (the socket is writable long before).
    pub fn drain_wait(&self, kernel_queued: usize, bound: usize) -> Duration {
        let excess = kernel_queued.saturating_sub(bound).max(1) as f64;
        let wait = self
            .bandwidth
            .map_or(Duration::ZERO, |b| Duration::from_secs_f64(excess / b));
        wait.clamp(DRAIN_MIN_WAIT, DRAIN_MAX_WAIT)
    }
}

/// Bounds of the wait for the kernel's queue to drain.
const DRAIN_MIN_WAIT: Duration = Duration::from_millis(2);
const DRAIN_MAX_WAIT: Duration = Duration::from_millis(50);

/// The playout delay given to a client that nothing measured yet:
/// spice-server's fixed one (`MM_TIME_DELTA`).
pub const PLAYOUT_START_MS: u32 = 400;
/// The range of the playout delay.
pub const PLAYOUT_MIN_MS: u32 = 10;
pub const PLAYOUT_MAX_MS: u32 = 400;
/// Added to the longest recent transit, with a quarter of it: jitter and
/// decoding (loopback needs little more than the decoding).
const PLAYOUT_MARGIN_MS: f64 = 3.0;
/// How fast the remembered longest transit forgets: its time constant in
/// seconds (the transit swings within every few frames as the queue fills
/// and drains; the delay follows the top of the swing, not each frame).
const PLAYOUT_DECAY_S: f64 = 2.0;
/// A lower delay is given only when it is lower by a quarter of the
/// current one (and at least `PLAYOUT_HYSTERESIS_MIN_MS`), and not more
/// often than every `PLAYOUT_LOWER_INTERVAL_NS`; a higher one at once
/// (with a little headroom: more only made the delay swing between the
/// raise and the next lowering, 17 to 28 ms at 10 Mbit/s), since frames
/// would be late. A fixed 30 ms step left a
/// delay under 40 ms where a single late frame had put it: loopback
/// streams stayed 15 to 20 ms later than they needed.
const PLAYOUT_HYSTERESIS_MIN_MS: u32 = 4;
const PLAYOUT_HEADROOM_MS: u32 = 3;
const PLAYOUT_LOWER_INTERVAL_NS: u64 = 2_000_000_000;
/// Reports on frames stamped less than this after a change may have been
/// judged by the client's clock before the change reached it.
const PLAYOUT_SETTLE_MS: i32 = 250;

/// The playout delay one display channel client needs: its stream frames,
/// stamped with the server's multimedia time when queued, must reach the
/// client before the client's clock (the server's minus the delay) passes
/// that stamp.
#[derive(Debug)]
pub struct PlayoutEstimator {
    /// The longest recent transit, decaying, in ms.
    peak_ms: f64,
    last_ns: Option<u64>,
    /// The delay this estimator last asked for.
    given: u32,
    changed_ns: Option<u64>,
    /// The client's STREAM_REPORTs steer the delay: they say how early or
    /// late frames really arrived.
    reported: bool,
}

impl Default for PlayoutEstimator {
    fn default() -> Self {
        PlayoutEstimator {
            peak_ms: 0.0,
            last_ns: None,
            given: PLAYOUT_START_MS,
            changed_ns: None,
            reported: false,
        }
    }
}

impl PlayoutEstimator {
    /// A frame queued at `now_ns` reaches the client after `transit` (as
    /// the link estimate reckons): the new delay (ms) when it should
    /// change. Once the client reports, its reports steer instead.
    pub fn frame(&mut self, now_ns: u64, transit: Duration) -> Option<u32> {
        if self.reported {
            return None;
        }
        self.needs(now_ns, transit.as_secs_f64() * 1000.0)
    }

    /// A STREAM_REPORT: the last frame of its window, stamped `frame_mm`
    /// (the server's multimedia time), arrived `slack_ms` before the
    /// client's clock reached that stamp (negative: late) while the client
    /// had `in_effect_ms` of delay; `drops` frames of the window were late.
    /// The new delay (ms) when it should change. Frames stamped before a
    /// change could reach the client are not judged by it.
    pub fn report(
        &mut self,
        now_ns: u64,
        frame_mm: u32,
        slack_ms: i32,
        drops: u32,
        in_effect_ms: u32,
    ) -> Option<u32> {
        if let Some(changed) = self.changed_ns {
            let changed_mm = (changed / 1_000_000) as u32;
            if (frame_mm.wrapping_sub(changed_mm) as i32) < PLAYOUT_SETTLE_MS {
                return None;
            }
        }
        // The delay at which that frame would have arrived just in time.
        let mut needed = f64::from(in_effect_ms) - f64::from(slack_ms);
        if drops > 0 {
            needed = needed.max(f64::from(in_effect_ms + PLAYOUT_HEADROOM_MS));
        }
        let needed = needed.max(0.0);
        if !self.reported {
            // The client's word replaces the link estimate's.
            self.reported = true;
            self.peak_ms = needed;
        }
        self.needs(now_ns, needed)
    }

    /// Frames need `transit_ms` now: the new delay when it should change.
    fn needs(&mut self, now_ns: u64, transit_ms: f64) -> Option<u32> {
        let decayed = match self.last_ns {
            Some(last) => {
                let dt = now_ns.saturating_sub(last) as f64 / 1e9;
                self.peak_ms * (-dt / PLAYOUT_DECAY_S).exp()
            }
            None => 0.0,
        };
        self.last_ns = Some(now_ns);
        self.peak_ms = decayed.max(transit_ms);
        let target = (self.peak_ms * 1.25 + PLAYOUT_MARGIN_MS).ceil() as u32;
        let target = target.clamp(PLAYOUT_MIN_MS, PLAYOUT_MAX_MS);
        let next = if target > self.given {
            (target + PLAYOUT_HEADROOM_MS).min(PLAYOUT_MAX_MS)
        } else if target + (self.given / 4).max(PLAYOUT_HYSTERESIS_MIN_MS) <= self.given
            && self
                .changed_ns
                .is_none_or(|t| now_ns.saturating_sub(t) >= PLAYOUT_LOWER_INTERVAL_NS)
        {
            target
        } else {
            return None;
        };
        if next == self.given {
            return None;
        }
        self.given = next;
        self.changed_ns = Some(now_ns);
        Some(next)
    }

    /// The delay last asked for.
    pub fn given(&self) -> u32 {
        self.given
    }
}

/// The playout delays a client's display channel clients ask for (they run
/// on their displays' threads; the main channel, on the main thread, gives
/// the client the largest). Kept in `Client::shared`.
#[derive(Debug, Default)]
pub struct ClientPlayout {
    /// (display channel id, delay in ms).
    delays: Mutex<Vec<(u32, u32)>>,
}

impl ClientPlayout {
    /// Display channel `id` needs `delay_ms`.
    pub fn set(&self, id: u32, delay_ms: u32) {
        let mut delays = lock(&self.delays);
        match delays.iter_mut().find(|(i, _)| *i == id) {
            Some(entry) => entry.1 = delay_ms,
            None => delays.push((id, delay_ms)),
        }
    }

    /// Display channel `id` is gone.
    pub fn remove(&self, id: u32) {
        lock(&self.delays).retain(|(i, _)| *i != id);
    }

    /// The delay the client needs: the largest asked for, or the safe
    /// start while no display has measured.
    pub fn delay_ms(&self) -> u32 {
        lock(&self.delays)
            .iter()
            .map(|(_, d)| *d)
            .max()
            .unwrap_or(PLAYOUT_START_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// A link of `rate` bytes/s with a queue in front: the sender writes
    /// what it may (the estimator's bound) every `tick` ms, the link
    /// drains at its rate; the estimator samples around each write.
    struct SimLink {
        rate: f64,
        queued: f64,
        t_ns: u64,
    }

    impl SimLink {
        fn advance(&mut self, ns: u64) {
            self.t_ns += ns;
            self.queued = (self.queued - self.rate * ns as f64 / 1e9).max(0.0);
        }
    }

    /// Runs the link for `seconds`; returns the estimator and the most
    /// queued in the last quarter (after the first burst, written while
    /// the bound was the ceiling, has drained).
    fn run(rate: f64, seconds: u64, producer: impl Fn(u64) -> usize) -> (LinkEstimator, usize) {
        let mut link = SimLink {
            rate,
            queued: 0.0,
            t_ns: 0,
        };
        let mut est = LinkEstimator::default();
        let mut max_queued_at_the_end = 0;
        let tick = 3 * MS;
        while link.t_ns < seconds * 1_000_000_000 {
            est.sample(link.t_ns, link.queued.ceil() as usize, 0);
            let bound = est.queue_bound();
            let room = bound.saturating_sub(link.queued.ceil() as usize);
            let n = producer(link.t_ns).min(room);
            if n > 0 {
                est.wrote(n);
                link.queued += n as f64;
            }
            est.sample(link.t_ns, link.queued.ceil() as usize, 0);
            if link.t_ns > seconds * 750_000_000 {
                max_queued_at_the_end = max_queued_at_the_end.max(link.queued as usize);
            }
            link.advance(tick);
        }
        (est, max_queued_at_the_end)
    }

    fn within(measured: u64, expected: f64, tolerance: f64) -> bool {
        (measured as f64 - expected).abs() <= expected * tolerance
    }

    #[test]
    fn a_saturated_link_is_measured_and_the_queue_stays_two_frames() {
        for mbit in [2.0, 10.0, 50.0] {
            let rate = mbit * 1e6 / 8.0;
            let (est, max_queued) = run(rate, 40, |_| usize::MAX);
            assert!(
                within(est.bandwidth_bps(), mbit * 1e6, 0.05),
                "{mbit} Mbit/s measured as {} bit/s",
                est.bandwidth_bps()
            );
            let two_frames = (rate * 0.066) as usize;
            assert!(
                max_queued <= two_frames.max(MIN_QUEUE_BYTES) + 1,
                "{mbit} Mbit/s: {max_queued} bytes queued, two frames are {two_frames}"
            );
        }
    }

    #[test]
    fn bursts_that_empty_the_queue_still_measure_the_link() {
        // 30 frames per second of 30 KB on a 10 Mbit/s link: the queue
        // empties between frames.
        let rate = 10e6 / 8.0;
        let (est, _) = run(rate, 5, |t| if (t / MS) % 33 < 3 { 30_000 } else { 0 });
        assert!(
            within(est.bandwidth_bps(), 10e6, 0.25),
            "measured {} bit/s",
            est.bandwidth_bps()
        );
    }

    #[test]
    fn a_reader_behind_a_small_window_is_measured_at_its_pace() {
        // A peer that reads 7 KB every 70 ms (100 KB/s) through a small
        // receive window: the queue drains in steps, most looks at it see
        // nothing drained. Those count too.
        let mut est = LinkEstimator::default();
        let (mut queued, mut t, mut next_read) = (0usize, 0u64, 0u64);
        let tick = 3 * MS;
        while t < 20_000 * MS {
            if t >= next_read {
                queued = queued.saturating_sub(7_000);
                next_read += 70 * MS;
            }
            est.sample(t, queued, 0);
            let room = est.queue_bound().saturating_sub(queued);
            if t % (33 * MS) < tick && room > 0 {
                est.wrote(room);
                queued += room;
            }
            est.sample(t, queued, 0);
            t += tick;
        }
        assert!(
            within(est.bandwidth_bps(), 800e3, 0.25),
            "measured {} bit/s",
            est.bandwidth_bps()
        );
    }

    #[test]
    fn delayed_acks_on_a_fast_link_measure_nothing() {
        // Loopback: 100 KB every 200 ms reach the peer at once, but it
        // acknowledges the last segment only after the next write. The
        // old estimator took 100 KB per 200 ms (4 Mbit/s) for the link.
        for segment in [1448, 65483] {
            let mut est = LinkEstimator::default();
            est.set_segment_size(segment);
            let mut t = 0;
            for _ in 0..50 {
                est.sample(t, segment, 0);
                est.wrote(100_000);
                est.sample(t, 100_000 + segment, 0);
                t += 200 * MS;
            }
            assert_eq!(est.bandwidth_bps(), 0, "segment {segment}");
            // A measured estimate only rises from such stretches.
            est.bandwidth = Some(1e9);
            for _ in 0..50 {
                est.sample(t, segment, 0);
                est.wrote(100_000);
                est.sample(t, 100_000 + segment, 0);
                t += 200 * MS;
            }
            assert!(est.bandwidth_bps() >= 8_000_000_000, "segment {segment}");
        }
    }

    #[test]
    fn an_idle_or_unmeasured_link_keeps_the_ceiling() {
        let mut est = LinkEstimator::default();
        assert_eq!(est.queue_bound(), MAX_QUEUE_BYTES);
        assert_eq!(est.bandwidth_bps(), 0);
        assert_eq!(est.transit(1000), None);
        est.round_trip(Duration::from_millis(2), 0);
        assert_eq!(est.transit(1 << 20), Some(Duration::from_millis(1)));
        // Writes the kernel takes at once (loopback): nothing measured.
        for i in 0..100 {
            est.wrote(10_000);
            est.sample(i * MS, 0, 0);
        }
        assert_eq!(est.queue_bound(), MAX_QUEUE_BYTES);
        assert_eq!(est.bandwidth_bps(), 0);
    }

    #[test]
    fn a_fast_link_is_bounded_by_the_ceiling_and_a_slow_one_by_the_floor() {
        // 2 ms of a 3 ms tick at 10 Gbit/s: the queue empties between
        // writes and the link always stays faster than it was measured.
        let (fast, _) = run(10e9 / 8.0, 2, |_| usize::MAX);
        assert_eq!(fast.queue_bound(), MAX_QUEUE_BYTES);
        let saturated = LinkEstimator {
            bandwidth: Some(1e9),
            ..Default::default()
        };
        assert_eq!(saturated.queue_bound(), MAX_QUEUE_BYTES);
        let (slow, _) = run(256e3 / 8.0, 200, |_| usize::MAX);
        assert!(within(slow.bandwidth_bps(), 256e3, 0.05));
        assert_eq!(slow.queue_bound(), MIN_QUEUE_BYTES);
    }

    #[test]
    fn round_trips_are_smoothed_and_the_shortest_kept() {
        let mut est = LinkEstimator::default();
        est.round_trip(Duration::from_millis(100), 0);
        assert_eq!(est.rtt(), Some(Duration::from_millis(100)));
        est.round_trip(Duration::from_millis(20), 0);
        assert_eq!(est.rtt(), Some(Duration::from_millis(80)));
        assert_eq!(est.min_rtt, Some(Duration::from_millis(20)));
        est.bandwidth = Some(1e6);
        // Behind 100 KB at 1 MB/s, 105 ms is a 5 ms path.
        est.round_trip(Duration::from_millis(105), 100_000);
        assert_eq!(est.min_rtt, Some(Duration::from_millis(5)));
        est.round_trip(Duration::from_millis(50), 100_000);
        assert_eq!(est.min_rtt, Some(Duration::ZERO));
        est.min_rtt = Some(Duration::from_millis(20));
        // 10 ms one way plus 50 ms for 50 KB at 1 MB/s.
        assert_eq!(est.transit(50_000), Some(Duration::from_millis(60)));
        // Two frames plus the shortest round trip at 1 MB/s.
        assert_eq!(est.queue_bound(), 86_000);
    }

    #[test]
    fn a_stale_estimate_probes_up_and_a_busy_link_brings_it_down() {
        let mut est = LinkEstimator {
            bandwidth: Some(1e6),
            measured_at: Some((0, 0)),
            ..Default::default()
        };
        // Bytes within the bound go out and the queue never builds up: the
        // sender keeps within the link, whose speed it says little of (for
        // 5 s; after 30 the estimate probes up all the same).
        let mut t = 0;
        for _ in 0..100 {
            t += 50 * MS;
            est.wrote(10_000);
            est.sample(t, 0, 0);
        }
        assert_eq!(est.bandwidth_bps(), 8_000_000);
        // The bound is filled at every look and is gone at the next: the
        // link is faster.
        for _ in 0..100 {
            t += 50 * MS;
            est.sample(t, 0, 0);
            let bound = est.queue_bound();
            est.wrote(bound);
            est.sample(t, bound, 0);
        }
        assert!(
            est.bandwidth_bps() >= 8 * 4_000_000,
            "{}",
            est.bandwidth_bps()
        );
        // Idle (nothing written since it last probed): it stays.
        est.sample(t + 3_000 * MS, 0, 0);
        let idle = est.bandwidth_bps();
        est.sample(t + 10_000 * MS, 0, 0);
        assert_eq!(est.bandwidth_bps(), idle);
        // A busy link measures far below: taken at once.
        let (slow, _) = run(1e6, 10, |_| usize::MAX);
        assert!(within(slow.bandwidth_bps(), 8e6, 0.05));
    }

    #[test]
    fn an_estimate_measured_while_the_peer_stalled_does_not_hold_for_good() {
        // 800 kbit/s, measured while a client on a loaded machine read
        // nothing; then small updates that never fill the bound.
        let mut est = LinkEstimator {
            bandwidth: Some(1e5),
            measured_at: Some((0, 0)),
            ..Default::default()
        };
        let mut t = 0;
        for _ in 0..580 {
            t += 50 * MS;
            est.wrote(1000);
            est.sample(t, 0, 0);
        }
        assert_eq!(est.bandwidth_bps(), 800_000);
        for _ in 0..60 {
            t += 50 * MS;
            est.wrote(1000);
            est.sample(t, 0, 0);
        }
        assert_eq!(est.bandwidth_bps(), 1_600_000);
    }

    #[test]
    fn drain_waits_are_bounded() {
        let mut est = LinkEstimator::default();
        assert_eq!(est.drain_wait(1 << 20, 0), DRAIN_MIN_WAIT);
        est.bandwidth = Some(1e6);
        assert_eq!(est.drain_wait(110_000, 100_000), Duration::from_millis(10));
        assert_eq!(est.drain_wait(10 << 20, 0), DRAIN_MAX_WAIT);
    }

    #[test]
    fn playout_starts_safe_drops_to_the_transit_and_rises_at_once() {
        let mut p = PlayoutEstimator::default();
        assert_eq!(p.given(), PLAYOUT_START_MS);
        // 40 ms of transit: 40 * 1.25 + 3 = 53.
        assert_eq!(p.frame(0, Duration::from_millis(40)), Some(53));
        // Steady: no change.
        for i in 1..100 {
            assert_eq!(p.frame(i * 33 * MS, Duration::from_millis(40)), None);
        }
        // A longer transit raises it at once, with headroom.
        let t = 100 * 33 * MS;
        assert_eq!(p.frame(t, Duration::from_millis(100)), Some(131));
        // It comes down only after the peak has decayed well below and
        // two seconds passed.
        let mut lowered = None;
        for i in 1..200u64 {
            if let Some(d) = p.frame(t + i * 33 * MS, Duration::from_millis(20)) {
                lowered = Some((i * 33, d));
                break;
            }
        }
        let (after_ms, delay) = lowered.expect("the delay came down");
        assert!(after_ms >= 2000, "lowered after {after_ms} ms");
        assert!((PLAYOUT_MIN_MS..120).contains(&delay), "lowered to {delay}");
    }

    #[test]
    fn reports_steer_the_playout_delay_once_they_come() {
        let mut p = PlayoutEstimator::default();
        let s = 1_000_000_000;
        // The link estimate says 100 ms: 128.
        assert_eq!(p.frame(s, Duration::from_millis(100)), Some(128));
        // A report on a frame stamped before the change reached the
        // client says nothing.
        assert_eq!(p.report(s + 100 * MS, 1100, 300, 0, 130), None);
        // Frames arrive 120 ms early: they need 10 ms, 16 with the margin,
        // which the delay comes down to once two seconds have passed since
        // the change; the link estimate no longer counts.
        assert_eq!(p.report(s + 500 * MS, 1450, 120, 0, 130), None);
        assert_eq!(p.frame(s + 600 * MS, Duration::from_millis(200)), None);
        let lowered = (7..40u64)
            .find_map(|i| p.report(s + i * 300 * MS, (1000 + i * 300) as u32, 120, 0, 130));
        assert_eq!(lowered, Some(16));
        // Late frames raise it at once: 25 ms late at 16 ms is 41 ms, with
        // a quarter and 3 ms as margin, and headroom.
        let t = s + 40 * 300 * MS;
        let raised = p.report(t, (t / MS) as u32, -25, 2, 16);
        assert_eq!(raised, Some(58));
    }

    #[test]
    fn a_small_delay_comes_down_after_a_late_frame() {
        // Loopback: 2 ms of transit, 10 ms of delay; one frame takes 12
        // (12 * 1.25 + 3, with headroom: 21).
        let mut p = PlayoutEstimator::default();
        assert_eq!(p.frame(0, Duration::from_millis(2)), Some(PLAYOUT_MIN_MS));
        assert_eq!(p.frame(33 * MS, Duration::from_millis(12)), Some(21));
        let lowered: Vec<_> = (2..300u64)
            .filter_map(|i| p.frame(i * 33 * MS, Duration::from_millis(2)))
            .collect();
        // (Under the old fixed 30 ms step it stayed at 21.)
        assert!(lowered.last().is_some_and(|&d| d <= 12), "{lowered:?}");
    }

    #[test]
    fn playout_stays_within_its_range() {
        let mut p = PlayoutEstimator::default();
        assert_eq!(p.frame(0, Duration::ZERO), Some(PLAYOUT_MIN_MS));
        assert_eq!(p.frame(MS, Duration::from_secs(3)), Some(PLAYOUT_MAX_MS));
        assert_eq!(p.frame(2 * MS, Duration::from_secs(3)), None);
    }

    #[test]
    fn a_client_gets_the_largest_delay_its_displays_need() {
        let c = ClientPlayout::default();
        assert_eq!(c.delay_ms(), PLAYOUT_START_MS);
        c.set(0, 60);
        c.set(1, 90);
        assert_eq!(c.delay_ms(), 90);
        c.set(1, 30);
        assert_eq!(c.delay_ms(), 60);
        c.remove(0);
        assert_eq!(c.delay_ms(), 30);
    }
}
