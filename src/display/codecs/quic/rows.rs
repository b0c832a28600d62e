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

/// `N` components at byte `offsets` within pixels of `BPP` bytes.
pub(super) struct Group<const N: usize, const BPP: usize> {
    offsets: [usize; N],
    /// Per component, the folded residual of pixel `i` at `i + 1`; index 0
    /// is the context of the first pixel of a row. Not cleared between
    /// rows: pixels inside a run keep the previous rows' values, which
    /// later contexts read.
    residuals: [Vec<u8>; N],
    models: [Model; N],
    state: State,
}

impl<const N: usize, const BPP: usize> Group<N, BPP> {
    pub fn new(offsets: [usize; N], width: usize) -> Self {
        Group {
            offsets,
            residuals: std::array::from_fn(|_| vec![0; width + 1]),
            models: std::array::from_fn(|_| Model::new()),
            state: State::new(),
        }
    }

    #[inline]
    fn get(row: &[u8], i: usize, offset: usize) -> u8 {
        row[i * BPP + offset]
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
    #[inline]
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
            for c in 0..N {
                let v = Self::get(cur, 0, self.offsets[c]);
                self.code(out, c, 0, v, 0);
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

    #[inline]
    fn code_from_left(&mut self, out: &mut BitWriter, cur: &[u8], i: usize) {
        for c in 0..N {
            let off = self.offsets[c];
            let (v, a) = (Self::get(cur, i, off), Self::get(cur, i - 1, off));
            self.code(out, c, i, v, a);
        }
    }

    #[inline]
    fn code_from_mean(&mut self, out: &mut BitWriter, prev: &[u8], cur: &[u8], i: usize) {
        for c in 0..N {
            let off = self.offsets[c];
            let a = u32::from(Self::get(cur, i - 1, off));
            let b = u32::from(Self::get(prev, i, off));
            let v = Self::get(cur, i, off);
            self.code(out, c, i, v, ((a + b) >> 1) as u8);
        }
    }

    /// Whether a run starts at `i`: the row above repeats there and this row
    /// has just repeated too.
    #[inline]
    fn run_hint(&self, prev: &[u8], cur: &[u8], i: usize, run_start: usize) -> bool {
        i > 2 && run_start != i && self.same(prev, i - 1, i) && self.same(cur, i - 1, i - 2)
    }

    #[inline]
    fn same(&self, row: &[u8], i: usize, j: usize) -> bool {
        self.offsets
            .iter()
            .all(|&off| Self::get(row, i, off) == Self::get(row, j, off))
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
            for c in 0..N {
                let off = self.offsets[c];
                let (v, b) = (Self::get(cur, 0, off), Self::get(prev, 0, off));
                self.code(out, c, 0, v, b);
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
                        if self.run_hint(prev, cur, i, run_start) {
                            break 'pixels true;
                        }
                        self.code_from_mean(out, prev, cur, i);
                        i += 1;
                    }
                    self.update(stop);
                    stop = i + (self.state.draw() & mask) as usize;
                }
                while i < end {
                    if self.run_hint(prev, cur, i, run_start) {
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
            while self.same(cur, i, i - 1) {
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
