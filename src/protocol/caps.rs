//! Capability sets: arrays of `u32` words exchanged at link time.
//!
//! Capability N is bit `N % 32` of word `N / 32`; a capability whose word is
//! absent is simply not set. Both ends decide features (mini header, LZ4,
//! ...) from the *peer's* set, so this type is consulted constantly.

/// Most words a set may hold, as spice-server bounds each link-time count.
pub const MAX_CAPS_WORDS: usize = 1024;

/// A capability set as the wire carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Caps {
    words: Vec<u32>,
}

impl Caps {
    /// An empty set (no words).
    pub fn new() -> Self {
        Caps { words: Vec::new() }
    }

    /// A set from raw words, cut to [`MAX_CAPS_WORDS`].
    pub fn from_words(mut words: Vec<u32>) -> Self {
        words.truncate(MAX_CAPS_WORDS);
        Caps { words }
    }

    /// A set with exactly the listed capabilities.
    pub fn with(caps: &[u32]) -> Self {
        let mut set = Caps::new();
        for &c in caps {
            set.set(c);
        }
        set
    }

    /// The words, as sent on the wire.
    pub fn words(&self) -> &[u32] {
        &self.words
    }

    /// Number of words (what the link messages count).
    pub fn len_words(&self) -> usize {
        self.words.len()
    }

    /// True when no word is present.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    fn locate(cap: u32) -> (usize, u32) {
        ((cap / 32) as usize, 1u32 << (cap % 32))
    }

    /// Tests capability `cap`.
    pub fn has(&self, cap: u32) -> bool {
        let (word, bit) = Self::locate(cap);
        self.words.get(word).is_some_and(|w| w & bit != 0)
    }

    /// Sets capability `cap`, growing the word list as needed. Returns false
    /// (and changes nothing) for a capability beyond [`MAX_CAPS_WORDS`] words.
    pub fn set(&mut self, cap: u32) -> bool {
        let (word, bit) = Self::locate(cap);
        if word >= MAX_CAPS_WORDS {
            return false;
        }
        if self.words.len() <= word {
            self.words.resize(word.saturating_add(1), 0);
        }
        if let Some(w) = self.words.get_mut(word) {
            *w |= bit;
        }
        true
    }

    /// Clears capability `cap` (word count unchanged).
    pub fn clear(&mut self, cap: u32) {
        let (word, bit) = Self::locate(cap);
        if let Some(w) = self.words.get_mut(word) {
            *w &= !bit;
        }
    }

    /// Capabilities present in both sets (what both ends may use).
    pub fn intersection(&self, other: &Caps) -> Caps {
        let words = self
            .words
            .iter()
            .zip(other.words.iter())
            .map(|(a, b)| a & b)
            .collect();
        Caps { words }
    }

    /// Every set capability number, in increasing order (for logs).
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().zip(0u32..).flat_map(|(&w, i)| {
            (0u32..32)
                .filter(move |b| w & (1u32 << b) != 0)
                .map(move |b| i.saturating_mul(32).saturating_add(b))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::cap;

    #[test]
    fn server_common_caps_word() {
        let c = Caps::with(&[
            cap::common::PROTOCOL_AUTH_SELECTION,
            cap::common::AUTH_SPICE,
            cap::common::MINI_HEADER,
        ]);
        assert_eq!(c.words(), &[0x0000_000b]);
        assert!(c.has(cap::common::MINI_HEADER));
        assert!(!c.has(cap::common::AUTH_SASL));
        assert!(!c.has(1000));
    }

    #[test]
    fn display_caps_word() {
        let c = Caps::with(&[
            cap::display::MONITORS_CONFIG,
            cap::display::PREF_COMPRESSION,
            cap::display::PREF_VIDEO_CODEC_TYPE,
            cap::display::STREAM_REPORT,
        ]);
        assert_eq!(c.words(), &[0x1052]);
    }

    #[test]
    fn grows_and_clears() {
        let mut c = Caps::new();
        assert!(c.is_empty());
        assert!(c.set(40));
        assert_eq!(c.words(), &[0, 1 << 8]);
        assert!(c.has(40));
        c.clear(40);
        assert!(!c.has(40));
        assert_eq!(c.len_words(), 2);
        assert!(!c.set(u32::MAX));
        assert_eq!(c.len_words(), 2);
    }

    #[test]
    fn intersection_and_iter() {
        let a = Caps::from_words(vec![0b1011, 1]);
        let b = Caps::from_words(vec![0b0110]);
        assert_eq!(a.intersection(&b).words(), &[0b0010]);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![0, 1, 3, 32]);
        assert_eq!(Caps::from_words(vec![0; 5000]).len_words(), MAX_CAPS_WORDS);
    }
}
