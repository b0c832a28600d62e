//! QUIC's adaptive model: which Golomb code each context uses, how often
//! the model is updated (the wait mask and its pseudo-random spacing), and
//! the run-length coder's state. Encoder and decoder must evolve these in
//! lockstep, so every constant here is part of the wire format.

/// Number of Golomb codes a bucket chooses from (code `l` keeps `l` low
/// bits of the value); for 8-bit channels all eight are candidates.
pub(super) const CODES: usize = 8;

/// Highest wait-mask index: after it the model is updated, on average,
/// once every 32 pixels.
pub(super) const WAIT_MASK_MAX: u32 = 6;

/// Pixels coded at one wait-mask index before moving to the next.
pub(super) const WAIT_MASK_SPAN: u32 = 2048;

/// Counter total above which a bucket halves its counters, by wait-mask
/// index (the table for model evolution 3, the only one SPICE uses).
pub(super) const HALVING_TRIGGER: [u32; 11] =
    [110, 550, 900, 800, 550, 400, 350, 250, 140, 160, 140];

/// The pseudo-random spacing of model updates: both ends step through this
/// table from the same seed.
pub(super) static SPACING: [u32; 256] = [
    0x02c57542, 0x35427717, 0x2f5a2153, 0x9244f155, 0x7bd26d07, 0x354c6052, 0x57329b28, 0x2993868e,
    0x6cd8808c, 0x147b46e0, 0x99db66af, 0xe32b4cac, 0x1b671264, 0x9d433486, 0x62a4c192, 0x06089a4b,
    0x9e3dce44, 0xdaabee13, 0x222425ea, 0xa46f331d, 0xcd589250, 0x8bb81d7f, 0xc8b736b9, 0x35948d33,
    0xd7ac7fd0, 0x5fbe2803, 0x2cfbc105, 0x013dbc4e, 0x7a37820f, 0x39f88e9e, 0xedd58794, 0xc5076689,
    0xfcada5a4, 0x64c2f46d, 0xb3ba3243, 0x8974b4f9, 0x5a05aebd, 0x20afcd00, 0x39e2b008, 0x88a18a45,
    0x600bde29, 0xf3971ace, 0xf37b0a6b, 0x7041495b, 0x70b707ab, 0x06beffbb, 0x4206051f, 0xe13c4ee3,
    0xc1a78327, 0x91aa067c, 0x8295f72a, 0x732917a6, 0x1d871b4d, 0x4048f136, 0xf1840e7e, 0x6a6048c1,
    0x696cb71a, 0x7ff501c3, 0x0fc6310b, 0x57e0f83d, 0x8cc26e74, 0x11a525a2, 0x946934c7, 0x7cd888f0,
    0x8f9d8604, 0x4f86e73b, 0x04520316, 0xdeeea20c, 0xf1def496, 0x67687288, 0xf540c5b2, 0x22401484,
    0x3478658a, 0xc2385746, 0x01979c2c, 0x5dad73c8, 0x0321f58b, 0xf0fedbee, 0x92826ddf, 0x284bec73,
    0x5b1a1975, 0x03df1e11, 0x20963e01, 0xa17cf12b, 0x740d776e, 0xa7a6bf3c, 0x01b5cce4, 0x1118aa76,
    0xfc6fac0a, 0xce927e9b, 0x00bf2567, 0x806f216c, 0xbca69056, 0x795bd3e9, 0xc9dc4557, 0x8929b6c2,
    0x789d52ec, 0x3f3fbf40, 0xb9197368, 0xa38c15b5, 0xc3b44fa8, 0xca8333b0, 0xb7e8d590, 0xbe807feb,
    0xbf5f8360, 0xd99e2f5c, 0x372928e1, 0x7c757c4c, 0x0db5b154, 0xc01ede02, 0x1fc86e78, 0x1f3985be,
    0xb4805c77, 0x00c880fa, 0x974c1b12, 0x35ab0214, 0xb2dc840d, 0x5b00ae37, 0xd313b026, 0xb260969d,
    0x7f4c8879, 0x1734c4d3, 0x49068631, 0xb9f6a021, 0x6b863e6f, 0xcee5debf, 0x29f8c9fb, 0x53dd6880,
    0x72b61223, 0x1f67a9fd, 0x0a0f6993, 0x13e59119, 0x11cca12e, 0xfe6b6766, 0x16b6effc, 0x97918fc4,
    0xc2b8a563, 0x94f2f741, 0x0bfa8c9a, 0xd1537ae8, 0xc1da349c, 0x873c60ca, 0x95005b85, 0x9b5c080e,
    0xbc8abbd9, 0xe1eab1d2, 0x6dac9070, 0x4ea9ebf1, 0xe0cf30d4, 0x1ef5bd7b, 0xd161043e, 0x5d2fa2e2,
    0xff5d3cae, 0x86ed9f87, 0x2aa1daa1, 0xbd731a34, 0x9e8f4b22, 0xb1c2c67a, 0xc21758c9, 0xa182215d,
    0xccb01948, 0x8d168df7, 0x04238cfe, 0x368c3dbc, 0x0aeadca5, 0xbad21c24, 0x0a71fee5, 0x9fc5d872,
    0x54c152c6, 0xfc329483, 0x6783384a, 0xeddb3e1c, 0x65f90e30, 0x884ad098, 0xce81675a, 0x4b372f7d,
    0x68bf9a39, 0x43445f1e, 0x40f8d8cb, 0x90d5acb6, 0x4cd07282, 0x349eeb06, 0x0c9d5332, 0x520b24ef,
    0x80020447, 0x67976491, 0x2f931ca3, 0xfe9b0535, 0xfcd30220, 0x61a9e6cc, 0xa487d8d7, 0x3f7c5dd1,
    0x7d0127c5, 0x48f51d15, 0x60dea871, 0xc9a91cb7, 0x58b53bb3, 0x9d5e0b2d, 0x624a78b4, 0x30dbee1b,
    0x9bdf22e7, 0x1df5c299, 0x2d5643a7, 0xf4dd35ff, 0x03ca8fd6, 0x53b47ed8, 0x6f2c19aa, 0xfeb0c1f4,
    0x49e54438, 0x2f2577e6, 0xbf876969, 0x72440ea9, 0xfa0bafb8, 0x74f5b3a0, 0x7dd357cd, 0x89ce1358,
    0x6ef2cdda, 0x1e7767f3, 0xa6be9fdb, 0x4f5f88f8, 0xba994a3a, 0x08ca6b65, 0xe0893818, 0x9e00a16a,
    0xf42bfc8f, 0x9972eedc, 0x749c8b51, 0x32c05f5e, 0xd706805f, 0x6bfbb7cf, 0xd9210a10, 0x31a1db97,
    0x923a9559, 0x37a7a1f6, 0x059f8861, 0xca493e62, 0x65157e81, 0x8f6467dd, 0xab85ff9f, 0x9331aff2,
    0x8616b9f5, 0xedbd5695, 0xee7e29b1, 0x313ac44f, 0xb903112f, 0x432ef649, 0xdc0a36c0, 0x61cf2bba,
    0x81474925, 0xa8b6c7ad, 0xee5931de, 0xb2f8158d, 0x59fb7409, 0x2e3dfaed, 0x9af25a3f, 0xe1fed4d5,
];

/// Run-length coder: after `state` hits, a run of `2^RUN_ORDER[state]`
/// pixels costs one bit.
pub(super) const RUN_ORDER: [u32; 32] = [
    0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13,
    14, 15,
];

/// The bucket of each context value (the residual code of the pixel on
/// the left): buckets double in width, {0}, {1,2}, {3..6} … {127..255}, so
/// small residuals get fine-grained statistics.
pub(super) static BUCKET_OF: [u8; 256] = bucket_table();

const fn bucket_table() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut v = 0;
    while v < 256 {
        // floor(log2(v + 1)), the last bucket also taking 255.
        let b = 31 - (v as u32 + 1).leading_zeros();
        table[v] = if b > 7 { 7 } else { b as u8 };
        v += 1;
    }
    table
}

/// The per-group state shared by the components coded together (R, G and
/// B share one; alpha has its own).
#[derive(Clone, Debug)]
pub(super) struct State {
    /// Pixels left before the next model update.
    pub wait: u32,
    seed: u32,
    /// Wait-mask index: updates get sparser as the image goes on.
    pub mask_index: u32,
    /// Pixels left at this wait-mask index.
    pub mask_left: u32,
    pub trigger: u32,
    run_state: usize,
    /// log2 of the run length one hit bit stands for.
    pub run_len_bits: u32,
}

impl State {
    pub fn new() -> Self {
        State {
            wait: 0,
            // The first draw reads entry 0.
            seed: 0xff,
            mask_index: 0,
            mask_left: WAIT_MASK_SPAN,
            trigger: HALVING_TRIGGER[0],
            run_state: 0,
            run_len_bits: RUN_ORDER[0],
        }
    }

    /// The current wait mask: updates are at most this many pixels apart.
    pub fn wait_mask(&self) -> u32 {
        (1u32 << self.mask_index) - 1
    }

    /// The next pseudo-random draw.
    pub fn draw(&mut self) -> u32 {
        self.seed = self.seed.wrapping_add(1);
        SPACING[(self.seed & 0xff) as usize]
    }

    /// Moves to the next wait-mask index.
    pub fn next_mask(&mut self) {
        self.mask_index += 1;
        self.trigger = HALVING_TRIGGER[self.mask_index.min(10) as usize];
        self.mask_left = WAIT_MASK_SPAN;
    }

    /// Length a run hit stands for.
    pub fn run_order(&self) -> u32 {
        1 << self.run_len_bits
    }

    /// After a hit: longer runs expected.
    pub fn run_hit(&mut self) {
        if self.run_state < RUN_ORDER.len() - 1 {
            self.run_state += 1;
            self.run_len_bits = RUN_ORDER[self.run_state];
        }
    }

    /// After a run ended: shorter runs expected.
    pub fn run_end(&mut self) {
        if self.run_state > 0 {
            self.run_state -= 1;
            self.run_len_bits = RUN_ORDER[self.run_state];
        }
    }
}

/// Statistics of one context bucket: the bits each code would have spent
/// lately, and the cheapest.
#[derive(Clone, Copy, Debug)]
pub(super) struct Bucket {
    spent: [u32; CODES],
    pub best: u8,
}

/// The buckets of one colour component.
#[derive(Clone, Debug)]
pub(super) struct Model {
    buckets: [Bucket; 8],
}

impl Model {
    pub fn new() -> Self {
        Model {
            buckets: [Bucket {
                spent: [0; CODES],
                best: (CODES - 1) as u8,
            }; 8],
        }
    }

    /// The code to use after a pixel whose residual code was `context`.
    #[inline(always)]
    pub fn code_for(&self, context: u8) -> usize {
        // Always below CODES; the mask spares a bounds check per component.
        usize::from(self.buckets[usize::from(BUCKET_OF[usize::from(context)])].best) & (CODES - 1)
    }

    /// Accounts `value` coded in `context`'s bucket; `code_len[value][l]`
    /// is the length of the value under code `l`.
    #[inline]
    pub fn update(&mut self, context: u8, value: u8, trigger: u32, code_len: &[[u8; CODES]; 256]) {
        let bucket = &mut self.buckets[usize::from(BUCKET_OF[usize::from(context)])];
        let lens = &code_len[usize::from(value)];
        for (s, &len) in bucket.spent.iter_mut().zip(lens) {
            *s += u32::from(len);
        }
        // Strictly cheaper wins, scanning down from the largest code: ties
        // keep the larger one.
        let mut best = CODES - 1;
        for l in (0..CODES - 1).rev() {
            if bucket.spent[l] < bucket.spent[best] {
                best = l;
            }
        }
        let best_spent = bucket.spent[best];
        bucket.best = best as u8;
        if best_spent > trigger {
            for s in &mut bucket.spent {
                *s >>= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buckets as the format builds them: sizes 1, 2, 4 … with a last
    /// bucket that absorbs what would be a smaller remainder.
    #[test]
    fn buckets_double_in_width() {
        let mut expected = Vec::new();
        let (mut start, mut size, mut bucket) = (0usize, 1usize, 0u8);
        loop {
            let mut end = start + size - 1;
            if end + size >= 256 {
                end = 255;
            }
            expected.extend(std::iter::repeat_n(bucket, end - start + 1));
            if end == 255 {
                break;
            }
            start = end + 1;
            size *= 2;
            bucket += 1;
        }
        assert_eq!(&BUCKET_OF[..], &expected[..]);
    }

    #[test]
    fn spacing_starts_at_the_first_entry() {
        let mut s = State::new();
        assert_eq!(s.draw(), SPACING[0]);
        assert_eq!(s.draw(), SPACING[1]);
        for _ in 0..254 {
            s.draw();
        }
        assert_eq!(s.draw(), SPACING[0], "the seed wraps at 256");
    }
}
