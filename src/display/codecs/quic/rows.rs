//! Row coding for a group of components that share one model state: R, G
//! and B of a pixel are coded together (in that order), alpha on its own.
//!
//! Each component is predicted (the left pixel on the first row and in the
//! first column, the mean of left and above elsewhere), its residual folded
//! and Golomb-coded with the code its context bucket currently prefers. The
//! model is updated only at pseudo-randomly spaced pixels, and runs of
//! identical pixels become run lengths when the row above hints at them.
//! Every quirk here (stale contexts after runs, where updates fall) is
//! mirrored by spice-common's decoder, so it is part of the format.

use super::golomb::{BitWriter, CODE_LEN, FOLD};
use super::model::{Model, State, WAIT_MASK_MAX};

/// `N` components of pixels of `BPP` bytes: R, G and B (bytes 2, 1 and 0,
/// coded in that order) when `N` is 3, alpha (byte 3) when it is 1.
pub(super) struct Group<const N: usize, const BPP: usize> {
    /// Per component, the folded residual of pixel `i` at `i + 1`; index 0
    /// is the context of the first pixel of a row. Not cleared between
    /// rows: pixels inside a run keep the previous rows' values, which
    /// later contexts read.
    residuals: [Vec<u8>; N],
    models: [Model; N],
    state: State,
}

impl<const N: usize, const BPP: usize> Group<N, BPP> {
    /// Byte of component `c` in a pixel; known at compile time once the
    /// loops over components are unrolled.
    const OFFSETS: [usize; N] = {
        let mut o = [3; N];
        if N == 3 {
            let mut c = 0;
            while c < N {
                o[c] = 2 - c;
                c += 1;
            }
        }
        o
    };

    pub fn new(width: usize) -> Self {
        Group {
            residuals: std::array::from_fn(|_| vec![0; width + 1]),
            models: std::array::from_fn(|_| Model::new()),
            state: State::new(),
        }
    }

    /// Pixel `i` of `row`: one bounds check for all its components.
    #[inline(always)]
    fn pixel(row: &[u8], i: usize) -> [u8; BPP] {
        let mut p = [0; BPP];
        p.copy_from_slice(&row[i * BPP..i * BPP + BPP]);
        p
    }

    /// Whether two pixels agree on this group's components.
    #[inline(always)]
    fn same(a: [u8; BPP], b: [u8; BPP]) -> bool {
        Self::OFFSETS.iter().all(|&o| a[o] == b[o])
    }

    /// Codes the first row of an image (`cur` holds at least `width` pixels).
    pub fn first_row(&mut self, out: &mut BitWriter, cur: &[u8], width: usize) {
        for r in &mut self.residuals {
            r[0] = 0;
        }
        self.segments(out, width, |g, out, start, end, mask| {
            g.first_row_segment(out, cur, start, end, mask)
        });
    }

    /// Codes a row below `prev`.
    pub fn next_row(&mut self, out: &mut BitWriter, prev: &[u8], cur: &[u8], width: usize) {
        for r in &mut self.residuals {
            r[0] = r[1];
        }
        self.segments(out, width, |g, out, start, end, mask| {
            g.row_segment(out, prev, cur, start, end, mask)
        });
    }

    /// Splits a row where the wait mask changes: its index starts at 0
    /// (an update after every pixel) and grows by one every 2048 pixels of
    /// the image, up to 6.
    fn segments(
        &mut self,
        out: &mut BitWriter,
        width: usize,
        mut code: impl FnMut(&mut Self, &mut BitWriter, usize, usize, u32),
    ) {
        let mut pos = 0;
        let mut left = width;
        while self.state.mask_index < WAIT_MASK_MAX && self.state.mask_left as usize <= left {
            let n = self.state.mask_left as usize;
            if n > 0 {
                let mask = self.state.wait_mask();
                code(self, out, pos, pos + n, mask);
                left -= n;
                pos += n;
            }
            self.state.next_mask();
        }
        if left > 0 {
            let mask = self.state.wait_mask();
            code(self, out, pos, pos + left, mask);
            if self.state.mask_index < WAIT_MASK_MAX {
                // left < mask_left here, as the loop above ended.
                self.state.mask_left -= left as u32;
            }
        }
    }

    /// Updates each component's model with pixel `i`, in the context of
    /// pixel `i - 1`.
    fn update(&mut self, i: usize) {
        let trigger = self.state.trigger;
        for c in 0..N {
            let r = &self.residuals[c];
            let (context, value) = (r[i], r[i + 1]);
            self.models[c].update(context, value, trigger, &CODE_LEN);
        }
    }

    /// Codes component `c` of pixel `i` from its prediction.
    #[inline(always)]
    fn code(&mut self, out: &mut BitWriter, c: usize, i: usize, value: u8, predicted: u8) {
        let folded = FOLD[usize::from(value.wrapping_sub(predicted))];
        let r = &mut self.residuals[c];
        r[i + 1] = folded;
        let code = self.models[c].code_for(r[i]);
        out.put_golomb(folded, code);
    }

    /// The model step after the first pixel of a row; returns the index
    /// of the next update.
    fn after_first_pixel(&mut self, mask: u32) -> usize {
        if self.state.wait > 0 {
            self.state.wait -= 1;
        } else {
            self.state.wait = self.state.draw() & mask;
            self.update(0);
        }
        1 + self.state.wait as usize
    }

    fn first_row_segment(
        &mut self,
        out: &mut BitWriter,
        cur: &[u8],
        mut i: usize,
        end: usize,
        mask: u32,
    ) {
        let mut stop;
        if i == 0 {
            let px = Self::pixel(cur, 0);
            for (c, &o) in Self::OFFSETS.iter().enumerate() {
                self.code(out, c, 0, px[o], 0);
            }
            stop = self.after_first_pixel(mask);
            i = 1;
        } else {
            stop = i + self.state.wait as usize;
        }
        while stop < end {
            while i <= stop {
                self.code_from_left(out, cur, i);
                i += 1;
            }
            self.update(stop);
            stop = i + (self.state.draw() & mask) as usize;
        }
        while i < end {
            self.code_from_left(out, cur, i);
            i += 1;
        }
        self.state.wait = (stop - end) as u32;
    }

    #[inline(always)]
    fn code_from_left(&mut self, out: &mut BitWriter, cur: &[u8], i: usize) {
        let (px, left) = (Self::pixel(cur, i), Self::pixel(cur, i - 1));
        for (c, &o) in Self::OFFSETS.iter().enumerate() {
            self.code(out, c, i, px[o], left[o]);
        }
    }

    #[inline(always)]
    fn code_from_mean(&mut self, out: &mut BitWriter, prev: &[u8], cur: &[u8], i: usize) {
        let (px, left, up) = (
            Self::pixel(cur, i),
            Self::pixel(cur, i - 1),
            Self::pixel(prev, i),
        );
        for (c, &o) in Self::OFFSETS.iter().enumerate() {
            let mean = (u32::from(left[o]) + u32::from(up[o])) >> 1;
            self.code(out, c, i, px[o], mean as u8);
        }
    }

    /// Whether a run starts at `i`: the row above repeats there and this row
    /// has just repeated too.
    #[inline(always)]
    fn run_hint(prev: &[u8], cur: &[u8], i: usize, run_start: usize) -> bool {
        i > 2
            && run_start != i
            && Self::same(Self::pixel(prev, i - 1), Self::pixel(prev, i))
            && Self::same(Self::pixel(cur, i - 1), Self::pixel(cur, i - 2))
    }

    fn row_segment(
        &mut self,
        out: &mut BitWriter,
        prev: &[u8],
        cur: &[u8],
        mut i: usize,
        end: usize,
        mask: u32,
    ) {
        let mut stop;
        if i == 0 {
            let (px, up) = (Self::pixel(cur, 0), Self::pixel(prev, 0));
            for (c, &o) in Self::OFFSETS.iter().enumerate() {
                self.code(out, c, 0, px[o], up[o]);
            }
            stop = self.after_first_pixel(mask);
            i = 1;
        } else {
            stop = i + self.state.wait as usize;
        }
        // Where the last run started: no second run is tried there.
        let mut run_start = 0;
        loop {
            // Code pixels until the segment ends or a run is hinted.
            let hinted = 'pixels: {
                while stop < end {
                    while i <= stop {
                        if Self::run_hint(prev, cur, i, run_start) {
                            break 'pixels true;
                        }
                        self.code_from_mean(out, prev, cur, i);
                        i += 1;
                    }
                    self.update(stop);
                    stop = i + (self.state.draw() & mask) as usize;
                }
                while i < end {
                    if Self::run_hint(prev, cur, i, run_start) {
                        break 'pixels true;
                    }
                    self.code_from_mean(out, prev, cur, i);
                    i += 1;
                }
                false
            };
            if !hinted {
                self.state.wait = (stop - end) as u32;
                return;
            }
            // The pending model step waits out the run.
            run_start = i;
            self.state.wait = (stop - i) as u32;
            let mut len = 0;
            while Self::same(Self::pixel(cur, i), Self::pixel(cur, i - 1)) {
                len += 1;
                i += 1;
                if i == end {
                    out.put_run(&mut self.state, len);
                    return;
                }
            }
            out.put_run(&mut self.state, len);
            stop = i + self.state.wait as usize;
        }
    }
}
