//! Failed authentications, rate-limited per source address.
//!
//! spice-server checks every ticket it is sent, as fast as a peer can
//! link. Here each source address has a bucket of [`BURST`] failures that
//! refills at one every [`REFILL_INTERVAL`]: a user who mistypes gets five
//! tries at once, a guesser gets one every two seconds (under 2000 a
//! hour) instead of hundreds a second. While its bucket is empty a source's
//! links are refused unevaluated (PERMISSION_DENIED, as a wrong ticket),
//! so the answer tells it nothing. IPv6 sources count per /64, the least a
//! host is usually given; Unix-socket peers are local and not limited.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failures a source may have in a row before it is slowed down.
pub const BURST: u32 = 5;
/// The time in which a source earns one more attempt.
pub const REFILL_INTERVAL: Duration = Duration::from_secs(2);
/// Sources remembered at most; beyond, the longest quiet ones are
/// forgotten (the map cannot be grown by spoofing many addresses).
pub const MAX_SOURCES: usize = 4096;

/// A source as the throttle counts it.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
struct SourceKey(u128);

impl SourceKey {
    fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => SourceKey(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => SourceKey(u128::from(u32::from(v4))),
                // The /64 prefix, tagged so it cannot equal an IPv4 key.
                None => SourceKey((u128::from(v6) & !((1u128 << 64) - 1)) | 1),
            },
        }
    }
}

/// Failures left to a source, as of `updated`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Attempts left, in units of 1/REFILL_INTERVAL: kept in nanoseconds
    /// of credit so refills need no floating point.
    credit: Duration,
    updated: Instant,
}

impl Bucket {
    fn full(now: Instant) -> Self {
        Bucket {
            credit: REFILL_INTERVAL * BURST,
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let earned = now.saturating_duration_since(self.updated);
        self.credit = (self.credit + earned).min(REFILL_INTERVAL * BURST);
        self.updated = now;
    }

    fn is_full(&self, now: Instant) -> bool {
        let mut copy = *self;
        copy.refill(now);
        copy.credit >= REFILL_INTERVAL * BURST
    }
}

/// The failed-authentication buckets of one server.
#[derive(Debug, Default)]
pub struct AuthThrottle {
    buckets: HashMap<SourceKey, Bucket>,
}

impl AuthThrottle {
    /// Whether an attempt from `source` may be evaluated now.
    pub fn allows(&mut self, source: Option<IpAddr>, now: Instant) -> bool {
        let Some(source) = source else { return true };
        match self.buckets.get_mut(&SourceKey::of(source)) {
            Some(bucket) => {
                bucket.refill(now);
                bucket.credit >= REFILL_INTERVAL
            }
            None => true,
        }
    }

    /// Counts a failed attempt from `source`.
    pub fn failed(&mut self, source: Option<IpAddr>, now: Instant) {
        let Some(source) = source else { return };
        let key = SourceKey::of(source);
        if !self.buckets.contains_key(&key) && self.buckets.len() >= MAX_SOURCES {
            self.forget_some(now);
        }
        let bucket = self.buckets.entry(key).or_insert_with(|| Bucket::full(now));
        bucket.refill(now);
        bucket.credit = bucket.credit.saturating_sub(REFILL_INTERVAL);
    }

    /// Makes room: drops the sources that have earned back all their
    /// attempts (they are as if new), else the quietest.
    fn forget_some(&mut self, now: Instant) {
        self.buckets.retain(|_, b| !b.is_full(now));
        if self.buckets.len() >= MAX_SOURCES {
            if let Some(oldest) = self
                .buckets
                .iter()
                .min_by_key(|(_, b)| b.updated)
                .map(|(k, _)| *k)
            {
                self.buckets.remove(&oldest);
            }
        }
    }

    /// Sources with failures on record.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no source has failures on record.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(last: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)))
    }

    #[test]
    fn a_burst_of_failures_then_one_per_interval() {
        let mut t = AuthThrottle::default();
        let start = Instant::now();
        for _ in 0..BURST {
            assert!(t.allows(v4(1), start));
            t.failed(v4(1), start);
        }
        assert!(!t.allows(v4(1), start));
        assert!(!t.allows(v4(1), start + REFILL_INTERVAL / 2));
        let later = start + REFILL_INTERVAL;
        assert!(t.allows(v4(1), later));
        t.failed(v4(1), later);
        assert!(!t.allows(v4(1), later));
        // Quiet long enough, a source has its whole burst again.
        let much_later = later + REFILL_INTERVAL * BURST;
        for _ in 0..BURST {
            assert!(t.allows(v4(1), much_later));
            t.failed(v4(1), much_later);
        }
        assert!(!t.allows(v4(1), much_later));
    }

    #[test]
    fn sources_are_counted_apart() {
        let mut t = AuthThrottle::default();
        let now = Instant::now();
        for _ in 0..BURST {
            t.failed(v4(1), now);
        }
        assert!(!t.allows(v4(1), now));
        assert!(t.allows(v4(2), now));
        // Unix-socket peers (no address) are not limited.
        for _ in 0..BURST * 3 {
            t.failed(None, now);
        }
        assert!(t.allows(None, now));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let mut t = AuthThrottle::default();
        let now = Instant::now();
        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff::7".parse().unwrap();
        let other: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        for _ in 0..BURST {
            t.failed(Some(IpAddr::V6(a)), now);
        }
        assert!(!t.allows(Some(IpAddr::V6(b)), now));
        assert!(t.allows(Some(IpAddr::V6(other)), now));
        let mapped = Ipv4Addr::new(192, 0, 2, 9).to_ipv6_mapped();
        for _ in 0..BURST {
            t.failed(Some(IpAddr::V6(mapped)), now);
        }
        assert!(!t.allows(v4(9), now));
    }

    #[test]
    fn the_map_stays_bounded() {
        let mut t = AuthThrottle::default();
        let now = Instant::now();
        for i in 0..(MAX_SOURCES as u32 + 500) {
            let address = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            t.failed(Some(address), now + Duration::from_micros(u64::from(i)));
        }
        assert!(t.len() <= MAX_SOURCES);
        // The newest source is still remembered.
        let newest = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + MAX_SOURCES as u32 + 499));
        for _ in 1..BURST {
            t.failed(Some(newest), now + Duration::from_secs(1));
        }
        assert!(!t.allows(Some(newest), now + Duration::from_secs(1)));
    }
}
