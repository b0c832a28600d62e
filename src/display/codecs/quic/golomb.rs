//! The bit stream and its codes: 32-bit little-endian words filled from
//! the most significant bit, length-limited Golomb-Rice codes for the
//! residuals, and the adaptive run-length code.

use super::model::{State, CODES};

/// Bits per colour component.
const BPC: u32 = 8;

/// Longest codeword: values a Golomb-Rice code would make longer are sent
/// as an escape prefix of zeros and a fixed-width suffix instead.
const MAX_CODE_LEN: u32 = 26;

/// Code `l` of value `n`: `(word, length)`.
const fn golomb(n: u32, l: u32) -> (u32, u32) {
    // Zeros before the escape: as many as fit under the length limit.
    let mut escape_zeros = MAX_CODE_LEN - BPC;
    let cap = (1 << (BPC - l)) - 1;
    if escape_zeros > cap {
        escape_zeros = cap;
    }
    let rice_values = escape_zeros << l;
    if n < rice_values {
        // (n >> l) zeros, a one, then the l low bits.
        ((1 << l) | (n & ((1 << l) - 1)), (n >> l) + l + 1)
    } else {
        let escaped = (1 << BPC) - rice_values;
        (n - rice_values, escape_zeros + ceil_log2(escaped))
    }
}

const fn ceil_log2(v: u32) -> u32 {
    if v <= 1 {
        0
    } else {
        32 - (v - 1).leading_zeros()
    }
}

/// `CODE_LEN[n][l]`: bits of value `n` under code `l`.
pub(super) static CODE_LEN: [[u8; CODES]; 256] = {
    let mut t = [[0u8; CODES]; 256];
    let mut n = 0;
    while n < 256 {
        let mut l = 0;
        while l < CODES {
            t[n][l] = golomb(n as u32, l as u32).1 as u8;
            l += 1;
        }
        n += 1;
    }
    t
};

/// `CODE[n][l]`: the codeword of value `n` under code `l`, right-aligned,
/// with its length above bit 27: one load per component coded.
static CODE: [[u32; CODES]; 256] = {
    let mut t = [[0u32; CODES]; 256];
    let mut n = 0;
    while n < 256 {
        let mut l = 0;
        while l < CODES {
            let (word, len) = golomb(n as u32, l as u32);
            t[n][l] = word | len << LEN_SHIFT;
            l += 1;
        }
        n += 1;
    }
    t
};

/// Codewords are at most 26 bits long, lengths at most 26.
const LEN_SHIFT: u32 = 27;

/// Maps a residual (mod 256) to a small number when it is near zero:
/// 0, -1, 1, -2, 2 … become 0, 1, 2, 3, 4 ….
pub(super) static FOLD: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut s = 0;
    while s < 256 {
        t[s] = if s <= 127 {
            (s << 1) as u8
        } else {
            (((255 - s) << 1) + 1) as u8
        };
        s += 1;
    }
    t
};

/// The output: whole 32-bit words, little-endian, first bit in the most
/// significant place.
pub(super) struct BitWriter {
    out: Vec<u8>,
    /// Pending bits in the low `pending` bits (higher bits are stale).
    acc: u64,
    pending: u32,
}

impl BitWriter {
    pub fn with_capacity(bytes: usize) -> Self {
        BitWriter {
            out: Vec::with_capacity(bytes),
            acc: 0,
            pending: 0,
        }
    }

    /// Appends the `len` low bits of `word` (`len` ≤ 32).
    #[inline(always)]
    pub fn put(&mut self, word: u32, len: u32) {
        debug_assert!(len <= 32 && (len == 32 || word >> len == 0));
        self.acc = (self.acc << len) | u64::from(word);
        self.pending += len;
        if self.pending >= 32 {
            self.pending -= 32;
            let full = (self.acc >> self.pending) as u32;
            self.out.extend_from_slice(&full.to_le_bytes());
        }
    }

    /// Appends `n` one bits.
    pub fn put_ones(&mut self, mut n: u32) {
        while n >= 32 {
            self.put(u32::MAX, 32);
            n -= 32;
        }
        if n > 0 {
            self.put((1 << n) - 1, n);
        }
    }

    /// Appends `value` (a folded residual) under Golomb code `code`.
    #[inline(always)]
    pub fn put_golomb(&mut self, value: u8, code: usize) {
        let entry = CODE[usize::from(value)][code];
        self.put(entry & ((1 << LEN_SHIFT) - 1), entry >> LEN_SHIFT);
    }

    /// Appends a run of `len` repeated pixels and adapts `state`'s run
    /// code: one bit per full `2^k` stretch, then a zero and the remainder
    /// in `k` bits.
    pub fn put_run(&mut self, state: &mut State, mut len: u32) {
        let mut hits = 0;
        while len >= state.run_order() {
            hits += 1;
            len -= state.run_order();
            state.run_hit();
        }
        self.put_ones(hits);
        self.put(len, state.run_len_bits + 1);
        state.run_end();
    }

    /// Pads the last word with zeros and adds one zero word: the decoder
    /// reads a word ahead of the bits it uses.
    pub fn finish(mut self) -> Vec<u8> {
        if self.pending > 0 {
            let pad = 32 - self.pending;
            self.put(0, pad);
        }
        self.out.extend_from_slice(&[0; 4]);
        self.out
    }

    /// Bytes written so far, whole words only.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.out.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_fill_from_the_top_and_are_little_endian() {
        let mut w = BitWriter::with_capacity(0);
        w.put(0b101, 3);
        w.put(0x1fff_ffff, 29);
        w.put(1, 1);
        assert_eq!(w.len(), 4);
        assert_eq!(
            w.finish(),
            [0xff, 0xff, 0xff, 0xbf, 0, 0, 0, 0x80, 0, 0, 0, 0]
        );
        assert_eq!(BitWriter::with_capacity(0).finish(), [0; 4]);
    }

    #[test]
    fn codes_are_prefix_free_and_length_limited() {
        for l in 0..CODES {
            let mut seen = Vec::new();
            for n in 0..256 {
                let (word, len) = (CODE[n][l] & ((1 << LEN_SHIFT) - 1), CODE[n][l] >> LEN_SHIFT);
                assert_eq!(len, u32::from(CODE_LEN[n][l]));
                assert!((1..=MAX_CODE_LEN).contains(&len), "n {n} l {l} len {len}");
                assert_eq!(word >> len, 0);
                seen.push((word, len));
            }
            for (i, &x) in seen.iter().enumerate() {
                for &y in &seen[i + 1..] {
                    let ((a, la), (b, lb)) = if x.1 <= y.1 { (x, y) } else { (y, x) };
                    assert_ne!(b >> (lb - la), a, "code {l}: a codeword prefixes another");
                }
            }
        }
    }

    #[test]
    fn golomb_examples() {
        // Code 0 is unary: n zeros and a one, up to 18 zeros.
        assert_eq!(golomb(0, 0), (1, 1));
        assert_eq!(golomb(3, 0), (1, 4));
        assert_eq!(golomb(17, 0), (1, 18));
        // Escape: 18 zeros, then 8 bits of n - 18.
        assert_eq!(golomb(18, 0), (0, 26));
        assert_eq!(golomb(255, 0), (237, 26));
        // Code 7: a one and 7 bits below 128; one zero and 7 bits above.
        assert_eq!(golomb(5, 7), (128 | 5, 8));
        assert_eq!(golomb(200, 7), (72, 8));
    }

    #[test]
    fn fold_interleaves_signs() {
        assert_eq!(&FOLD[..3], &[0, 2, 4]);
        assert_eq!(FOLD[255], 1);
        assert_eq!(FOLD[254], 3);
        assert_eq!(FOLD[127], 254);
        assert_eq!(FOLD[128], 255);
    }
}
