//! A QUIC decoder for the tests, written from the format as spice-common's
//! decoder reads it (it shares only the constant tables with the encoder):
//! a 32-bit window over the stream that fetches words only as it needs
//! them, so a stream one word short fails here as it would in a client.

use super::model::{HALVING_TRIGGER, RUN_ORDER, SPACING};

#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    pub image_type: u32,
    pub width: usize,
    pub height: usize,
    /// x8r8g8b8 (X = 0) or, for RGBA, a8r8g8b8 pixels, packed.
    pub pixels: Vec<u8>,
}

struct Reader<'a> {
    data: &'a [u8],
    /// Bits consumed.
    pos: usize,
}

impl Reader<'_> {
    fn word(&self, k: usize) -> Result<u32, String> {
        self.data
            .get(k * 4..k * 4 + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| format!("stream ends at word {k}"))
    }

    /// The next 32 bits.
    fn window(&self) -> Result<u32, String> {
        let (k, off) = (self.pos / 32, self.pos % 32);
        let hi = self.word(k)?;
        if off == 0 {
            return Ok(hi);
        }
        Ok((hi << off) | (self.word(k + 1)? >> (32 - off)))
    }

    fn eat(&mut self, n: usize) -> Result<(), String> {
        self.pos += n;
        // The client's window always holds 32 bits: it must be readable.
        self.window().map(|_| ())
    }

    fn bits(&mut self, n: usize) -> Result<u32, String> {
        let v = if n == 0 {
            0
        } else {
            self.window()? >> (32 - n)
        };
        self.eat(n)?;
        Ok(v)
    }
}

/// Per-group state of the decoder.
struct GroupState {
    wait: usize,
    seed: usize,
    mask_index: usize,
    mask_left: usize,
    run_state: usize,
}

/// One component: its residual row (index 0 = context of pixel 0) and its
/// 8 buckets of 8 counters and a best code.
struct Plane {
    offset: usize,
    residuals: Vec<u8>,
    counters: [[u32; 8]; 8],
    best: [usize; 8],
}

fn bucket(context: u8) -> usize {
    let mut b = 0;
    let mut upper = 0usize; // last value of bucket b
    while usize::from(context) > upper && b < 7 {
        b += 1;
        upper = upper * 2 + 2;
    }
    b
}

fn escape_zeros(l: usize) -> usize {
    18.min((1 << (8 - l)) - 1)
}

fn code_len(n: usize, l: usize) -> u32 {
    let rice = escape_zeros(l) << l;
    if n < rice {
        ((n >> l) + l + 1) as u32
    } else {
        let escaped = 256 - rice;
        let mut suffix = 0;
        while (1 << suffix) < escaped {
            suffix += 1;
        }
        (escape_zeros(l) + suffix) as u32
    }
}

impl Plane {
    fn update(&mut self, i: usize, trigger: u32) {
        let b = bucket(self.residuals[i]);
        let value = usize::from(self.residuals[i + 1]);
        for l in 0..8 {
            self.counters[b][l] += code_len(value, l);
        }
        let mut best = 7;
        for l in (0..7).rev() {
            if self.counters[b][l] < self.counters[b][best] {
                best = l;
            }
        }
        self.best[b] = best;
        if self.counters[b][best] > trigger {
            for c in &mut self.counters[b] {
                *c /= 2;
            }
        }
    }

    fn read_residual(&mut self, r: &mut Reader, i: usize) -> Result<u8, String> {
        let l = self.best[bucket(self.residuals[i])];
        let bits = r.window()?;
        let zeros = bits.leading_zeros() as usize;
        let esc = escape_zeros(l);
        let value = if zeros < esc {
            let low = if l == 0 {
                0
            } else {
                (bits << (zeros + 1)) >> (32 - l)
            };
            r.eat(zeros + 1 + l)?;
            (zeros << l) | low as usize
        } else {
            let rice = esc << l;
            // 255 is always past the Rice values: its length is the escape's.
            let len = code_len(255, l) as usize;
            let suffix = len - esc;
            let v = rice + ((bits >> (32 - len)) & ((1u32 << suffix) - 1)) as usize;
            r.eat(len)?;
            v
        };
        let value = u8::try_from(value).map_err(|_| format!("residual {value}"))?;
        self.residuals[i + 1] = value;
        Ok(value)
    }
}

/// Undoes the sign folding.
fn unfold(v: u8) -> u8 {
    if v & 1 == 1 {
        255 - (v >> 1)
    } else {
        v >> 1
    }
}

struct Group {
    planes: Vec<Plane>,
    state: GroupState,
}

impl Group {
    fn new(offsets: &[usize], width: usize) -> Self {
        Group {
            planes: offsets
                .iter()
                .map(|&offset| Plane {
                    offset,
                    residuals: vec![0; width + 1],
                    counters: [[0; 8]; 8],
                    best: [7; 8],
                })
                .collect(),
            state: GroupState {
                wait: 0,
                seed: 0xff,
                mask_index: 0,
                mask_left: 2048,
                run_state: 0,
            },
        }
    }

    fn draw(&mut self) -> usize {
        self.state.seed += 1;
        SPACING[self.state.seed & 0xff] as usize
    }

    fn mask(&self) -> usize {
        (1 << self.state.mask_index) - 1
    }

    fn trigger(&self) -> u32 {
        HALVING_TRIGGER[self.state.mask_index.min(10)]
    }

    fn update(&mut self, i: usize) {
        let t = self.trigger();
        for p in &mut self.planes {
            p.update(i, t);
        }
    }

    fn same(&self, row: &[u8], i: usize, j: usize) -> bool {
        self.planes
            .iter()
            .all(|p| row[i * 4 + p.offset] == row[j * 4 + p.offset])
    }

    fn read_run(&mut self, r: &mut Reader) -> Result<usize, String> {
        let mut len = 0;
        while r.window()? >> 31 == 1 {
            len += 1 << RUN_ORDER[self.state.run_state];
            self.state.run_state = (self.state.run_state + 1).min(31);
            r.eat(1)?;
        }
        r.eat(1)?;
        len += r.bits(RUN_ORDER[self.state.run_state] as usize)? as usize;
        self.state.run_state = self.state.run_state.saturating_sub(1);
        Ok(len)
    }

    /// Decodes one row into `cur` (4-byte pixels); `prev` is None on the
    /// first row.
    fn row(
        &mut self,
        r: &mut Reader,
        prev: Option<&[u8]>,
        cur: &mut [u8],
        width: usize,
    ) -> Result<(), String> {
        for p in &mut self.planes {
            p.residuals[0] = if prev.is_some() { p.residuals[1] } else { 0 };
        }
        let mut pos = 0;
        let mut left = width;
        while self.state.mask_index < 6 && self.state.mask_left <= left {
            let n = self.state.mask_left;
            self.segment(r, prev, cur, pos, pos + n)?;
            pos += n;
            left -= n;
            self.state.mask_index += 1;
            self.state.mask_left = 2048;
        }
        if left > 0 {
            self.segment(r, prev, cur, pos, pos + left)?;
            if self.state.mask_index < 6 {
                self.state.mask_left -= left;
            }
        }
        Ok(())
    }

    fn pixel(
        &mut self,
        r: &mut Reader,
        prev: Option<&[u8]>,
        cur: &mut [u8],
        i: usize,
    ) -> Result<(), String> {
        for k in 0..self.planes.len() {
            let off = self.planes[k].offset;
            let predicted = match (prev, i) {
                (None, 0) => 0,
                (None, _) => u32::from(cur[(i - 1) * 4 + off]),
                (Some(p), 0) => u32::from(p[off]),
                (Some(p), _) => (u32::from(cur[(i - 1) * 4 + off]) + u32::from(p[i * 4 + off])) / 2,
            };
            let folded = self.planes[k].read_residual(r, i)?;
            cur[i * 4 + off] = (predicted as u8).wrapping_add(unfold(folded));
        }
        Ok(())
    }

    fn segment(
        &mut self,
        r: &mut Reader,
        prev: Option<&[u8]>,
        cur: &mut [u8],
        mut i: usize,
        end: usize,
    ) -> Result<(), String> {
        let mask = self.mask();
        let mut stop;
        if i == 0 {
            self.pixel(r, prev, cur, 0)?;
            if self.state.wait > 0 {
                self.state.wait -= 1;
            } else {
                self.state.wait = self.draw() & mask;
                self.update(0);
            }
            i = 1;
            stop = i + self.state.wait;
        } else {
            stop = i + self.state.wait;
        }
        let mut run_at = 0;
        loop {
            let mut run = false;
            while !run && i < end {
                if let Some(p) = prev {
                    if i > 2
                        && run_at != i
                        && self.same(p, i - 1, i)
                        && self.same(cur, i - 1, i - 2)
                    {
                        run = true;
                        break;
                    }
                }
                self.pixel(r, prev, cur, i)?;
                if i == stop {
                    self.update(stop);
                    stop = i + 1 + (self.draw() & mask);
                }
                i += 1;
            }
            if !run {
                self.state.wait = stop - end;
                return Ok(());
            }
            self.state.wait = stop - i;
            run_at = i;
            let run_end = i + self.read_run(r)?;
            if run_end > end {
                return Err(format!("run to {run_end} past the segment's end {end}"));
            }
            while i < run_end {
                for p in &self.planes {
                    cur[i * 4 + p.offset] = cur[(i - 1) * 4 + p.offset];
                }
                i += 1;
            }
            if i == end {
                return Ok(());
            }
            stop = i + self.state.wait;
        }
    }
}

/// Decodes a whole stream, checking that it ends where the format says.
pub fn decode(data: &[u8]) -> Result<Decoded, String> {
    let mut r = Reader { data, pos: 0 };
    let magic = r.bits(32)?;
    if magic != u32::from_le_bytes(*b"QUIC") {
        return Err(format!("magic {magic:#x}"));
    }
    let version = r.bits(32)?;
    if version != 0 {
        return Err(format!("version {version}"));
    }
    let image_type = r.bits(32)?;
    let width = r.bits(32)? as usize;
    let height = r.bits(32)? as usize;
    let mut groups = match image_type {
        3 | 4 => vec![Group::new(&[2, 1, 0], width)],
        5 => vec![Group::new(&[2, 1, 0], width), Group::new(&[3], width)],
        t => return Err(format!("image type {t}")),
    };
    let mut pixels = vec![0u8; width * height * 4];
    for y in (0..height).filter(|_| width > 0) {
        let (done, rest) = pixels.split_at_mut(y * width * 4);
        let prev = (y > 0).then(|| &done[(y - 1) * width * 4..]);
        let cur = &mut rest[..width * 4];
        for g in &mut groups {
            g.row(&mut r, prev, cur, width)?;
        }
    }
    // Padding to a word, then exactly one more word.
    let words = r.pos.div_ceil(32) + 1;
    if data.len() != words * 4 {
        return Err(format!("{} bytes, {} expected", data.len(), words * 4));
    }
    Ok(Decoded {
        image_type,
        width,
        height,
        pixels,
    })
}
