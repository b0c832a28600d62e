//! Encode once: a band coded by a codec without per-client state (LZ,
//! LZ4, QUIC, JPEG at the fixed quality of `image-compression=jpeg`) is
//! the same bytes for every client that sends that band of the same
//! pixels. A display's clients share the bands coded last; a band is
//! dropped as soon as anything draws over its area, so a hit always has
//! the surface's current pixels. GLZ, whose dictionary is per client, and
//! the link-chosen JPEG of a slow client are coded per client.
//!
//! The same holds for what a band's pixels are found to be: one colour
//! (a DRAW_FILL, sent without reading the surface again), or the content
//! digests the pixmap cache looks a whole draw up by (SHA-256 of a
//! 256x256 sprite costs about half a millisecond): once per display
//! rather than once per client.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::display::pixmap_cache::{quick_hash, Key};
use crate::display::surface::Rect;

/// Coded bytes kept for the display's clients: a few frames of updates.
const MAX_BYTES: usize = 16 << 20;
/// Bands kept: each lookup and each change looks at all of them.
const MAX_BANDS: usize = 256;
/// Bands whose facts are kept: a frame's worth.
const MAX_FACTS: usize = 64;

/// A codec whose output depends only on the pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    Lz4,
    Lz,
    Quic,
    Jpeg(u8),
}

/// What a band coded to.
#[derive(Clone, Debug)]
pub enum Coded {
    /// The bytes of the codec that coded it (LZ where JPEG would not
    /// shrink a band).
    Bytes(Coding, Arc<Vec<u8>>),
    /// The codec would not shrink the band: it goes as a bitmap.
    Bitmap,
}

/// The digests of a whole draw's pixels, for the pixmap cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digests {
    /// Tells whether the pixels may have been seen before.
    pub quick: u64,
    /// Their cache key, once a client needed it.
    pub key: Option<Key>,
}

impl Digests {
    /// The quick digest of `bytes`; the key is made when needed.
    pub fn of(bytes: &[u8]) -> Self {
        Digests {
            quick: quick_hash(bytes),
            key: None,
        }
    }

    /// The cache key of `width` × `height` pixels `bytes`, made once.
    pub fn key(&mut self, width: u32, height: u32, bytes: &[u8]) -> Key {
        *self
            .key
            .get_or_insert_with(|| Key::of(width, height, bytes))
    }
}

/// What a band's current pixels were found to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BandFacts {
    /// All of one colour, `0x00RRGGBB`.
    Solid(u32),
    /// A whole draw of these digests.
    Whole(Digests),
}

/// The bands coded last for a display's clients.
#[derive(Default)]
pub struct EncodedBands {
    /// Oldest first.
    bands: VecDeque<(Rect, Coding, Coded)>,
    bytes: usize,
    /// Facts of bands, oldest first.
    facts: VecDeque<(Rect, BandFacts)>,
}

fn size_of(coded: &Coded) -> usize {
    match coded {
        Coded::Bytes(_, bytes) => bytes.len(),
        Coded::Bitmap => 0,
    }
}

impl EncodedBands {
    /// The band `rect` as `coding` coded it, if a client had it coded
    /// since the area last changed.
    pub fn get(&mut self, rect: Rect, coding: Coding) -> Option<Coded> {
        self.bands
            .iter()
            .find(|(r, c, _)| *r == rect && *c == coding)
            .map(|(_, _, coded)| coded.clone())
    }

    /// Keeps `coded`, the band `rect` as `coding` coded it from the
    /// surface's current pixels.
    pub fn insert(&mut self, rect: Rect, coding: Coding, coded: Coded) {
        self.bytes += size_of(&coded);
        self.bands.push_back((rect, coding, coded));
        while self.bands.len() > MAX_BANDS || self.bytes > MAX_BYTES {
            let Some((_, _, old)) = self.bands.pop_front() else {
                break;
            };
            self.bytes -= size_of(&old);
        }
    }

    /// What the band `rect`'s current pixels are, if a client found out
    /// since the area last changed.
    pub fn facts(&self, rect: Rect) -> Option<BandFacts> {
        self.facts
            .iter()
            .find(|(r, _)| *r == rect)
            .map(|(_, facts)| *facts)
    }

    /// Keeps what the band `rect`'s current pixels are.
    pub fn keep_facts(&mut self, rect: Rect, facts: BandFacts) {
        match self.facts.iter_mut().find(|(r, _)| *r == rect) {
            Some((_, kept)) => *kept = facts,
            None => {
                if self.facts.len() == MAX_FACTS {
                    self.facts.pop_front();
                }
                self.facts.push_back((rect, facts));
            }
        }
    }

    /// `rect` of the surface changed: the bands over it are stale.
    pub fn changed(&mut self, rect: Rect) {
        self.facts.retain(|(r, _)| r.intersection(rect).is_none());
        if self.bands.is_empty() {
            return;
        }
        let mut freed = 0;
        self.bands.retain(|(r, _, coded)| {
            let stale = r.intersection(rect).is_some();
            if stale {
                freed += size_of(coded);
            }
            !stale
        });
        self.bytes -= freed;
    }

    /// Forgets every band (a new surface).
    pub fn clear(&mut self) {
        self.bands.clear();
        self.bytes = 0;
        self.facts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> Coded {
        Coded::Bytes(Coding::Lz, Arc::new(vec![7; n]))
    }

    #[test]
    fn a_band_is_shared_until_its_area_changes() {
        let mut bands = EncodedBands::default();
        let band = Rect::new(0, 0, 256, 16);
        bands.insert(band, Coding::Lz, bytes(100));
        assert!(matches!(bands.get(band, Coding::Lz), Some(Coded::Bytes(_, b)) if b.len() == 100));
        // Another codec, or another rectangle, is another band.
        assert!(bands.get(band, Coding::Quic).is_none());
        assert!(bands.get(Rect::new(0, 0, 256, 15), Coding::Lz).is_none());
        // A change elsewhere keeps it; one pixel over it drops it.
        bands.changed(Rect::new(0, 16, 256, 16));
        assert!(bands.get(band, Coding::Lz).is_some());
        bands.changed(Rect::new(255, 15, 1, 1));
        assert!(bands.get(band, Coding::Lz).is_none());
        assert_eq!(bands.bytes, 0);
    }

    #[test]
    fn facts_are_shared_until_their_area_changes() {
        let mut bands = EncodedBands::default();
        let draw = Rect::new(10, 10, 4, 4);
        let pixels = vec![3u8; 64];
        let mut digests = Digests::of(&pixels);
        bands.keep_facts(draw, BandFacts::Whole(digests));
        let key = |b: &EncodedBands| match b.facts(draw) {
            Some(BandFacts::Whole(d)) => d.key,
            _ => None,
        };
        assert_eq!(key(&bands), None);
        let made = digests.key(4, 4, &pixels);
        bands.keep_facts(draw, BandFacts::Whole(digests));
        assert_eq!(key(&bands), Some(made));
        assert_eq!(bands.facts.len(), 1);
        assert!(bands.facts(Rect::new(10, 10, 4, 3)).is_none());
        bands.changed(Rect::new(14, 10, 4, 4));
        assert!(bands.facts(draw).is_some());
        bands.changed(Rect::new(13, 13, 1, 1));
        assert!(bands.facts(draw).is_none());
        for i in 0..MAX_FACTS as i32 + 1 {
            bands.keep_facts(Rect::new(i, 0, 1, 1), BandFacts::Solid(7));
        }
        assert_eq!(bands.facts.len(), MAX_FACTS);
        assert!(bands.facts(Rect::new(0, 0, 1, 1)).is_none());
        assert_eq!(
            bands.facts(Rect::new(1, 0, 1, 1)),
            Some(BandFacts::Solid(7))
        );
        bands.clear();
        assert!(bands.facts.is_empty());
    }

    #[test]
    fn the_oldest_bands_go_beyond_the_limits() {
        let mut bands = EncodedBands::default();
        for i in 0..MAX_BANDS as i32 + 10 {
            bands.insert(Rect::new(0, i, 10, 1), Coding::Lz4, Coded::Bitmap);
        }
        assert_eq!(bands.bands.len(), MAX_BANDS);
        assert!(bands.get(Rect::new(0, 0, 10, 1), Coding::Lz4).is_none());
        assert!(bands.get(Rect::new(0, 10, 10, 1), Coding::Lz4).is_some());
        bands.clear();
        bands.insert(
            Rect::new(0, 0, 1, 1),
            Coding::Jpeg(95),
            bytes(MAX_BYTES / 2),
        );
        bands.insert(
            Rect::new(0, 1, 1, 1),
            Coding::Jpeg(95),
            bytes(MAX_BYTES / 2),
        );
        bands.insert(Rect::new(0, 2, 1, 1), Coding::Jpeg(95), bytes(1));
        assert!(bands.get(Rect::new(0, 0, 1, 1), Coding::Jpeg(95)).is_none());
        assert_eq!(bands.bytes, MAX_BYTES / 2 + 1);
    }
}
