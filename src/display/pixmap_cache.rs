//! What one display channel client has put in its client's pixmap cache:
//! images keyed by their content, their cache ids, and the order in which
//! they leave.
//!
//! The client (spice-gtk) keeps one image cache per session, shared by all
//! its display channels, sized by DISPLAY_INIT's `pixmap_cache_size` (in
//! pixels: spice-gtk announces its `cache-size` bytes / 4, and spice-server
//! charges width × height per image). The client evicts nothing itself: it
//! drops an image when told (INVAL_LIST) and waits forever for an id it
//! lacks. spice-server shares one bookkeeping between the display channels
//! of a client, so one channel may evict what another still references,
//! and orders them with WAIT_FOR_CHANNELS and cache generations.
//!
//! redspice avoids that ordering problem: each display channel client
//! references and invalidates only ids it cached itself, on its own
//! connection, so the client always sees an id's CACHE_ME before its
//! FROM_CACHEs and its INVAL_LIST after them. What the channels share
//! ([`CacheBudget`], one per client and cache id) is the size the client
//! announced and the id counter, so ids never repeat within a client and
//! the channels together stay within the size (an image invalidated on one
//! channel may briefly overlap one cached on another; spice-gtk does not
//! enforce its size). An image already cached by another channel of the
//! same client is cached again under this channel's id.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::base::sync::lock;

/// What identifies an image's content: its size and a digest of its
/// pixels (128 bits of SHA-256: two different images of one size meeting
/// by chance is out of reach).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub width: u32,
    pub height: u32,
    pub digest: [u8; 16],
}

impl Key {
    /// The key of `width` × `height` pixels given as `bytes`.
    pub fn of(width: u32, height: u32, bytes: &[u8]) -> Self {
        let full = openssl::sha::sha256(bytes);
        let mut digest = [0; 16];
        digest.copy_from_slice(&full[..16]);
        Key {
            width,
            height,
            digest,
        }
    }

    /// What the image costs in the client's cache, in pixels.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// A fast 64-bit hash of `bytes` (four multiply-xor lanes over 8-byte
/// words, a few GB/s): it only tells which images may have been seen
/// before, which then get their [`Key`] (SHA-256, several times slower);
/// most images are seen once, and their digest would be wasted.
pub fn quick_hash(bytes: &[u8]) -> u64 {
    const M: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut lanes = [
        0x243f_6a88_85a3_08d3u64,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    ];
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            let w = u64::from_le_bytes(word.try_into().unwrap_or_default());
            *lane = (*lane ^ w).wrapping_mul(M).rotate_left(29);
        }
    }
    let mut hash = bytes.len() as u64;
    for lane in lanes {
        hash = (hash ^ lane).wrapping_mul(M).rotate_left(31);
    }
    for &byte in blocks.remainder() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(M);
    }
    hash ^ (hash >> 32)
}

/// The quick hashes of the last images sent whole: an image is cached the
/// second time it is seen, so content seen once (text being typed, a
/// scrolled-in line) costs the client no cache work and nothing is
/// evicted for it.
pub struct SeenBefore {
    set: HashSet<u64>,
    order: VecDeque<u64>,
    capacity: usize,
}

impl SeenBefore {
    pub fn new(capacity: usize) -> Self {
        SeenBefore {
            set: HashSet::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// Whether `hash` was seen among the last `capacity`; remembers it.
    pub fn check(&mut self, hash: u64) -> bool {
        if self.set.contains(&hash) {
            return true;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.set.remove(&oldest);
            }
        }
        self.order.push_back(hash);
        self.set.insert(hash);
        false
    }
}

/// The client's cache size and id counter, shared by its display channel
/// clients (`Client::shared`, keyed by the cache id of DISPLAY_INIT).
pub struct CacheBudget {
    /// The size the client announced, in pixels.
    size: u64,
    state: Mutex<BudgetState>,
    next_id: AtomicU64,
}

struct BudgetState {
    /// Pixels not held by any channel's entries.
    available: u64,
    /// Ids whose channel client left while the client may still hold
    /// them, with their size: the next channel that caches invalidates
    /// them and gets the room back.
    orphans: Vec<(u64, u64)>,
}

impl CacheBudget {
    /// A budget of `size` pixels whose ids count from `first_id` (random
    /// in use: a client session that outlives its RedClient, reconnecting
    /// its main channel, keeps its cache, and the new ids must not meet
    /// the old ones).
    pub fn new(size: u64, first_id: u64) -> Self {
        CacheBudget {
            size,
            state: Mutex::new(BudgetState {
                available: size,
                orphans: Vec::new(),
            }),
            next_id: AtomicU64::new(first_id),
        }
    }

    /// The size the client announced, in pixels.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Pixels no channel's entries hold.
    pub fn available(&self) -> u64 {
        lock(&self.state).available
    }

    /// A fresh id (never 0: that is the id of images that are not cached).
    fn new_id(&self) -> u64 {
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }
}

/// One cached image.
struct Entry {
    id: u64,
    pixels: u64,
    /// When it was last sent or referenced: its place in `by_use`.
    used: u64,
}

/// What [`PixmapCache::admit`] decided for a new image.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Admission {
    /// The id to send the image under, with CACHE_ME; none if it does not
    /// fit.
    pub id: Option<u64>,
    /// Ids the client must drop (INVAL_LIST) before that image arrives:
    /// the least recently used of this channel's images, and orphans.
    pub evicted: Vec<u64>,
}

/// One display channel client's entries in its client's pixmap cache.
pub struct PixmapCache {
    budget: Arc<CacheBudget>,
    entries: HashMap<Key, Entry>,
    /// Entries by last use, oldest first.
    by_use: BTreeMap<u64, Key>,
    clock: u64,
    /// Pixels this channel's entries hold.
    held: u64,
}

impl PixmapCache {
    pub fn new(budget: Arc<CacheBudget>) -> Self {
        PixmapCache {
            budget,
            entries: HashMap::new(),
            by_use: BTreeMap::new(),
            clock: 0,
            held: 0,
        }
    }

    /// Pixels this channel's entries hold.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// Number of cached images.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The id the client has `key` under, if this channel cached it; it
    /// becomes the most recently used.
    pub fn find(&mut self, key: &Key) -> Option<u64> {
        self.clock += 1;
        let entry = self.entries.get_mut(key)?;
        self.by_use.remove(&entry.used);
        entry.used = self.clock;
        self.by_use.insert(self.clock, *key);
        Some(entry.id)
    }

    /// Makes room for `key` and records it under a new id, which the
    /// image must then be sent with (CACHE_ME), after an INVAL_LIST of
    /// `evicted`. An image larger than the whole cache, or one that would
    /// need room other channels hold, gets no id.
    pub fn admit(&mut self, key: Key) -> Admission {
        let pixels = key.pixels();
        let mut admission = Admission::default();
        if pixels == 0 || pixels > self.budget.size || self.entries.contains_key(&key) {
            return admission;
        }
        let mut budget = lock(&self.budget.state);
        // Orphans first: nobody references them.
        let budget = &mut *budget;
        for (id, size) in budget.orphans.drain(..) {
            admission.evicted.push(id);
            budget.available += size;
        }
        if budget.available + self.held < pixels {
            return admission;
        }
        while budget.available < pixels {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            if let Some(entry) = self.entries.remove(&oldest) {
                admission.evicted.push(entry.id);
                self.held -= entry.pixels;
                budget.available += entry.pixels;
            }
        }
        budget.available -= pixels;
        let id = self.budget.new_id();
        self.clock += 1;
        self.entries.insert(
            key,
            Entry {
                id,
                pixels,
                used: self.clock,
            },
        );
        self.by_use.insert(self.clock, key);
        self.held += pixels;
        admission.id = Some(id);
        admission
    }

    /// Forgets an admitted image that did not go out: the client never
    /// got it, so nothing is invalidated.
    pub fn unsent(&mut self, key: &Key) {
        if let Some(entry) = self.entries.remove(key) {
            self.by_use.remove(&entry.used);
            self.held -= entry.pixels;
            lock(&self.budget.state).available += entry.pixels;
        }
    }
}

impl Drop for PixmapCache {
    /// The channel client left, its client perhaps not: its images become
    /// orphans for the client's other channels to invalidate.
    fn drop(&mut self) {
        if self.entries.is_empty() {
            return;
        }
        let mut budget = lock(&self.budget.state);
        budget
            .orphans
            .extend(self.entries.values().map(|e| (e.id, e.pixels)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8, width: u32, height: u32) -> Key {
        Key {
            width,
            height,
            digest: [n; 16],
        }
    }

    fn cache(size: u64) -> (Arc<CacheBudget>, PixmapCache) {
        let budget = Arc::new(CacheBudget::new(size, 1));
        (budget.clone(), PixmapCache::new(budget))
    }

    #[test]
    fn quick_hash_sees_every_byte() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let base = quick_hash(&data);
        assert_eq!(base, quick_hash(&data.clone()));
        for at in [0, 7, 8, 31, 32, 500, 990, 999] {
            let mut other = data.clone();
            other[at] ^= 1;
            assert_ne!(quick_hash(&other), base, "byte {at}");
        }
        assert_ne!(quick_hash(&data[..999]), base);
    }

    #[test]
    fn seen_before_remembers_the_last_ones() {
        let mut seen = SeenBefore::new(2);
        assert!(!seen.check(1));
        assert!(seen.check(1));
        assert!(!seen.check(2));
        assert!(!seen.check(3));
        // 1 was the oldest of three: forgotten.
        assert!(!seen.check(1));
        assert!(seen.check(3));
    }

    #[test]
    fn key_follows_content_and_size() {
        let a = Key::of(2, 1, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(a, Key::of(2, 1, &[1, 2, 3, 4, 5, 6, 7, 8]));
        assert_ne!(a, Key::of(2, 1, &[1, 2, 3, 4, 5, 6, 7, 9]));
        assert_ne!(a, Key::of(1, 2, &[1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(a.pixels(), 2);
    }

    #[test]
    fn cached_images_are_found_under_their_id() {
        let (budget, mut cache) = cache(1000);
        assert_eq!(cache.find(&key(1, 10, 10)), None);
        let id = cache.admit(key(1, 10, 10)).id.unwrap();
        assert_eq!(cache.find(&key(1, 10, 10)), Some(id));
        assert_eq!(cache.find(&key(2, 10, 10)), None);
        assert_eq!((cache.held(), budget.available()), (100, 900));
        // Admitting what is there already gives nothing new.
        assert_eq!(cache.admit(key(1, 10, 10)), Admission::default());
    }

    #[test]
    fn the_least_recently_used_leave_first() {
        let (budget, mut cache) = cache(300);
        let a = cache.admit(key(1, 10, 10)).id.unwrap();
        let b = cache.admit(key(2, 10, 10)).id.unwrap();
        let c = cache.admit(key(3, 10, 10)).id.unwrap();
        assert_eq!(budget.available(), 0);
        // a is used again: b is now the oldest.
        assert_eq!(cache.find(&key(1, 10, 10)), Some(a));
        let d = cache.admit(key(4, 10, 10));
        assert_eq!(d.evicted, vec![b]);
        assert_eq!(cache.find(&key(2, 10, 10)), None);
        // A 200-pixel image takes the two oldest: c, then a.
        let e = cache.admit(key(5, 20, 10));
        assert_eq!(e.evicted, vec![c, a]);
        assert_eq!(cache.held(), 300);
        assert_eq!(cache.len(), 2);
        let ids = [a, b, c, d.id.unwrap(), e.id.unwrap()];
        let mut unique = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
    }

    #[test]
    fn an_image_larger_than_the_cache_is_not_cached() {
        let (budget, mut cache) = cache(100);
        cache.admit(key(1, 5, 5));
        let big = cache.admit(key(2, 11, 10));
        assert_eq!(big, Admission::default());
        assert_eq!(cache.len(), 1);
        assert_eq!(budget.available(), 75);
        assert_eq!(cache.admit(key(3, 0, 10)), Admission::default());
    }

    #[test]
    fn channels_share_the_size_and_evict_only_their_own() {
        let budget = Arc::new(CacheBudget::new(300, 7));
        let mut one = PixmapCache::new(budget.clone());
        let mut two = PixmapCache::new(budget.clone());
        let a = one.admit(key(1, 10, 20)).id.unwrap();
        let b = two.admit(key(1, 10, 10)).id.unwrap();
        assert_ne!(a, b);
        assert_eq!(budget.available(), 0);
        // Two holds 100: it may evict that, never one's.
        let c = two.admit(key(2, 10, 10));
        assert_eq!(c.evicted, vec![b]);
        assert!(c.id.is_some());
        let d = two.admit(key(3, 10, 20));
        assert_eq!(
            d,
            Admission::default(),
            "one's 200 pixels are not two's to evict"
        );
        assert_eq!(one.find(&key(1, 10, 20)), Some(a));
        assert_eq!(two.held() + one.held() + budget.available(), 300);
    }

    #[test]
    fn unsent_images_give_their_room_back() {
        let (budget, mut cache) = cache(100);
        cache.admit(key(1, 10, 10));
        cache.unsent(&key(1, 10, 10));
        assert_eq!((cache.held(), budget.available()), (0, 100));
        assert_eq!(cache.find(&key(1, 10, 10)), None);
        // Nothing to invalidate: the client never had it.
        assert!(cache.admit(key(2, 10, 10)).evicted.is_empty());
    }

    #[test]
    fn a_channel_that_leaves_hands_its_ids_to_the_next_one() {
        let budget = Arc::new(CacheBudget::new(100, 1));
        let mut gone = PixmapCache::new(budget.clone());
        let a = gone.admit(key(1, 5, 10)).id.unwrap();
        drop(gone);
        assert_eq!(budget.available(), 50, "the client may still hold it");
        let mut next = PixmapCache::new(budget.clone());
        let b = next.admit(key(1, 5, 10));
        assert_eq!(b.evicted, vec![a]);
        assert_ne!(b.id, Some(a));
        assert_eq!(budget.available(), 50);
    }

    #[test]
    fn ids_skip_zero() {
        let budget = Arc::new(CacheBudget::new(100, u64::MAX));
        let mut cache = PixmapCache::new(budget);
        assert_eq!(cache.admit(key(1, 1, 1)).id, Some(u64::MAX));
        assert_eq!(cache.admit(key(2, 1, 1)).id, Some(1));
    }
}
