//! The application's draws through the client's pixmap cache: a draw
//! whose rectangle is still wholly pending goes out as one image (not cut
//! into bands), keyed by its pixels. An image seen again is sent with
//! CACHE_ME, and from then on as FROM_CACHE while the client has it: a
//! sprite, icon or window drawn again costs one small DRAW_COPY, and
//! content seen once (most text, scrolled-in lines) costs the client no
//! cache work. The bookkeeping is `display::pixmap_cache`'s.

use std::collections::VecDeque;
use std::sync::Arc;

use super::encoded_bands::Digests;
use crate::display::pixmap_cache::{CacheBudget, Key, PixmapCache, SeenBefore};
use crate::display::region::Region;
use crate::display::surface::Rect;
use crate::model::client::Client;
use crate::model::connection::{Outbox, Result};
use crate::protocol::constants::image_flags;
use crate::protocol::display_messages::{DrawCopy, InvalPixmaps};
use crate::protocol::ImageData;

/// Draws smaller than this go in bands with their neighbours: an icon of
/// 16x16 is about the size where a FROM_CACHE (some 80 bytes) pays.
const MIN_PIXELS: u64 = 16 * 16;

/// Recent draws remembered per client; older ones go in bands.
const MAX_DRAWS: usize = 64;

/// Images sent whole whose content is remembered, to cache those that
/// come again.
const SEEN_IMAGES: usize = 4096;

/// Whole draws and the pixmap cache of one display channel client.
pub(super) struct CachedDraws {
    /// None until DISPLAY_INIT announces a cache (or when it has none).
    cache: Option<PixmapCache>,
    /// What was sent whole lately (quick hashes): what comes again is
    /// cached.
    seen: SeenBefore,
    /// Draws not yet sent, newest last.
    draws: VecDeque<Rect>,
    /// Draws larger than this go in bands (flow control).
    max_pixels: u64,
    /// The image being sent, admitted to the cache under this id: the
    /// next image message carries CACHE_ME ([`CachedDraws::mark`]).
    admitted: Option<(u64, Key)>,
}

impl CachedDraws {
    pub fn new(max_pixels: u32) -> Self {
        CachedDraws {
            cache: None,
            seen: SeenBefore::new(SEEN_IMAGES),
            draws: VecDeque::new(),
            max_pixels: u64::from(max_pixels),
            admitted: None,
        }
    }

    /// DISPLAY_INIT: the client's cache `cache_id` holds `size` pixels,
    /// shared by all its display channels.
    pub fn init(&mut self, client: Option<Client>, cache_id: u8, size: i64) {
        let (Some(client), Ok(size @ 1..)) = (client, u64::try_from(size)) else {
            return;
        };
        if self.cache.is_none() {
            let budget: Arc<CacheBudget> =
                client.shared(cache_id, || CacheBudget::new(size, rand::random()));
            self.cache = Some(PixmapCache::new(budget));
        }
    }

    /// The application drew `rect`.
    pub fn drawn(&mut self, rect: Rect) {
        let pixels = u64::from(rect.width) * u64::from(rect.height);
        if self.cache.is_none() || !(MIN_PIXELS..=self.max_pixels).contains(&pixels) {
            return;
        }
        if self.draws.back() == Some(&rect) {
            return;
        }
        if self.draws.len() == MAX_DRAWS {
            self.draws.pop_front();
        }
        self.draws.push_back(rect);
    }

    /// Forgets the draws (the whole surface is to be sent).
    pub fn clear_draws(&mut self) {
        self.draws.clear();
    }

    /// The newest draw still wholly in `pending`, taken off the list;
    /// draws partly sent are dropped (their rest goes in bands).
    pub fn next_whole(&mut self, pending: &Region) -> Option<Rect> {
        if self.draws.is_empty() {
            return None;
        }
        let rects = pending.rects();
        while let Some(draw) = self.draws.pop_back() {
            if covered(draw, &rects) {
                return Some(draw);
            }
        }
        None
    }

    /// Before the whole draw `rect` is read: true if it went out as
    /// FROM_CACHE under `key`, which another client's digests gave (the
    /// client has it).
    pub fn reuse(&mut self, rect: Rect, key: &Key, out: &mut Outbox) -> Result<bool> {
        self.drop_admitted();
        match self.cache.as_mut().and_then(|cache| cache.find(key)) {
            Some(id) => {
                send_from_cache(rect, id, out)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Before the whole draw `rect` (`bytes`, whose `digests` are made as
    /// needed) is encoded: true if it went out as FROM_CACHE (the client
    /// has it). Otherwise, if it was seen before, it is admitted to the
    /// cache (after an INVAL_LIST of what leaves to make room) and the
    /// image message that follows must be [`CachedDraws::mark`]ed.
    pub fn reuse_or_admit(
        &mut self,
        rect: Rect,
        bytes: &[u8],
        digests: &mut Digests,
        out: &mut Outbox,
    ) -> Result<bool> {
        self.drop_admitted();
        let Some(cache) = &mut self.cache else {
            return Ok(false);
        };
        if !self.seen.check(digests.quick ^ u64::from(rect.width)) {
            return Ok(false);
        }
        let key = digests.key(rect.width, rect.height, bytes);
        if let Some(id) = cache.find(&key) {
            send_from_cache(rect, id, out)?;
            return Ok(true);
        }
        let admission = cache.admit(key);
        // The client drops them before the new image arrives, as
        // spice-server sends its free list first: its cache stays within
        // the size it announced.
        for ids in admission.evicted.chunks(usize::from(u16::MAX)) {
            if let Err(e) = out.send(&InvalPixmaps { ids }) {
                // The image will not follow: the client must not be
                // thought to have it.
                cache.unsent(&key);
                return Err(e);
            }
        }
        self.admitted = admission.id.map(|id| (id, key));
        Ok(false)
    }

    /// Whether the image being sent was admitted to the cache.
    pub fn admitted(&self) -> bool {
        self.admitted.is_some()
    }

    /// Marks `message`'s image for the client's cache if it was admitted;
    /// its key, for [`CachedDraws::unsent`] should it not go out.
    pub fn mark(&mut self, message: &mut DrawCopy<'_>) -> Option<Key> {
        let (id, key) = self.admitted.take()?;
        message.image.id = id;
        message.image.flags |= image_flags::CACHE_ME;
        Some(key)
    }

    /// The image of `key` did not go out: the client does not have it.
    pub fn unsent(&mut self, key: &Key) {
        if let Some(cache) = &mut self.cache {
            cache.unsent(key);
        }
    }

    /// Forgets an admitted image that no message carried.
    pub fn drop_admitted(&mut self) {
        if let Some((_, key)) = self.admitted.take() {
            self.unsent(&key);
        }
    }
}

/// The DRAW_COPY of `rect` from the client's cache entry `id`.
fn send_from_cache(rect: Rect, id: u64, out: &mut Outbox) -> Result {
    let mut reference = super::draw_copy(rect, ImageData::FromCache);
    reference.image.id = id;
    out.send(&reference)
}

/// Whether `rects` (disjoint, as a region's) cover all of `rect`.
fn covered(rect: Rect, rects: &[Rect]) -> bool {
    let area = u64::from(rect.width) * u64::from(rect.height);
    let mut inside = 0;
    for r in rects {
        let x0 = r.x.max(rect.x);
        let y0 = r.y.max(rect.y);
        let x1 = (r.x + r.width as i32).min(rect.x + rect.width as i32);
        let y1 = (r.y + r.height as i32).min(rect.y + rect.height as i32);
        if x1 > x0 && y1 > y0 {
            inside += (x1 - x0) as u64 * (y1 - y0) as u64;
        }
    }
    inside == area
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(rects: &[Rect]) -> Region {
        let mut region = Region::new();
        for r in rects {
            region.add(*r);
        }
        region
    }

    fn with_cache() -> CachedDraws {
        let mut draws = CachedDraws::new(512 * 512);
        let budget = Arc::new(CacheBudget::new(1 << 20, 1));
        draws.cache = Some(PixmapCache::new(budget));
        draws
    }

    #[test]
    fn whole_draws_come_newest_first_and_only_while_wholly_pending() {
        let mut draws = with_cache();
        let a = Rect::new(0, 0, 32, 32);
        let b = Rect::new(100, 0, 32, 32);
        let c = Rect::new(200, 0, 32, 32);
        draws.drawn(a);
        draws.drawn(b);
        draws.drawn(c);
        // c was partly sent already: a band took its top row.
        let pending = region(&[a, b, Rect::new(200, 1, 32, 31)]);
        assert_eq!(draws.next_whole(&pending), Some(b));
        assert_eq!(draws.next_whole(&pending), Some(a));
        assert_eq!(draws.next_whole(&pending), None);
    }

    #[test]
    fn small_large_and_uncached_draws_are_not_remembered() {
        let mut draws = with_cache();
        draws.drawn(Rect::new(0, 0, 15, 16));
        draws.drawn(Rect::new(0, 0, 513, 512));
        let everything = region(&[Rect::new(0, 0, 2000, 2000)]);
        assert_eq!(draws.next_whole(&everything), None);
        let mut without = CachedDraws::new(512 * 512);
        without.drawn(Rect::new(0, 0, 64, 64));
        assert_eq!(without.next_whole(&everything), None);
    }

    #[test]
    fn covered_needs_every_pixel() {
        let r = Rect::new(10, 10, 10, 10);
        assert!(covered(
            r,
            &[Rect::new(0, 0, 20, 15), Rect::new(10, 15, 10, 5)]
        ));
        assert!(!covered(
            r,
            &[Rect::new(0, 0, 20, 15), Rect::new(11, 15, 9, 5)]
        ));
        assert!(!covered(r, &[]));
    }
}
