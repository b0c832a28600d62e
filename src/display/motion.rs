//! Moved content found by its pixels: an application that redraws whole
//! frames (an emulator, a GStreamer pipeline, a screen grabber) never says
//! that it scrolled, but a frame whose rows are the previous frame's rows
//! a few lines up or down is a scroll, and goes out as COPY_BITS plus the
//! rows that are new, instead of the whole frame.
//!
//! Rows are hashed (cheaply: the match is verified byte for byte before it
//! is believed), rows of one colour are left out of the vote (they match
//! anywhere), and the shift with the most votes wins if its longest run of
//! really equal rows is long enough to pay.

use std::collections::HashMap;

/// Fewest rows a moved block must have: below it, COPY_BITS and the rest
/// cost about what the rows themselves do.
pub const MIN_MOVED_ROWS: usize = 32;
/// Largest shift looked for, in rows either way.
pub const MAX_SHIFT: usize = 2048;
/// Candidate rows looked at per hash (repeated rows, like a document's
/// blank lines, would otherwise make the vote quadratic).
const CANDIDATES_PER_HASH: usize = 4;

/// A vertical move inside a rectangle of `height` rows: new rows
/// `start..start + rows` are the old rows `start + shift..start + shift +
/// rows` (so `shift > 0` is content that went up: scrolling down a
/// document).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerticalMove {
    pub shift: i64,
    pub start: usize,
    pub rows: usize,
}

/// Rows of one picture, each a slice of the same length.
pub struct Rows<'a> {
    rows: Vec<&'a [u8]>,
}

impl<'a> Rows<'a> {
    /// These rows.
    pub fn new(rows: Vec<&'a [u8]>) -> Self {
        Rows { rows }
    }

    /// `height` rows of `row_bytes`, `stride` apart in `data`: as many as
    /// `data` holds.
    pub fn strided(data: &'a [u8], stride: usize, row_bytes: usize, height: usize) -> Self {
        let rows = (0..height)
            .map_while(|y| {
                let start = y.checked_mul(stride)?;
                data.get(start..start.checked_add(row_bytes)?)
            })
            .collect();
        Rows { rows }
    }

    fn row(&self, y: usize) -> Option<&'a [u8]> {
        self.rows.get(y).copied()
    }

    fn height(&self) -> usize {
        self.rows.len()
    }

    fn row_bytes(&self) -> usize {
        self.rows.first().map_or(0, |r| r.len())
    }
}

/// FNV-1a over 8-byte words: fast, and good enough, since every match is
/// checked byte for byte.
fn row_hash(row: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut words = row.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        hash = (hash ^ u64::from_le_bytes(bytes)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    for &byte in words.remainder() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Whether every pixel of `row` has the same 4 bytes.
fn is_uniform(row: &[u8]) -> bool {
    let Some(first) = row.get(..4) else {
        return true;
    };
    row.chunks_exact(4).all(|pixel| pixel == first)
}

/// The vertical move that best explains `new` from `old` (same size), if
/// one covers at least [`MIN_MOVED_ROWS`] rows.
pub fn find_vertical_move(old: &Rows<'_>, new: &Rows<'_>) -> Option<VerticalMove> {
    let height = new.height();
    if old.height() != height || old.row_bytes() != new.row_bytes() || height < MIN_MOVED_ROWS {
        return None;
    }
    // (hash, row) of the old rows, sorted: one allocation per search, on
    // a path that runs for every large draw.
    let mut by_hash: Vec<(u64, usize)> = Vec::with_capacity(height);
    for y in 0..height {
        let row = old.row(y)?;
        if !is_uniform(row) {
            by_hash.push((row_hash(row), y));
        }
    }
    by_hash.sort_unstable();
    let mut votes: HashMap<i64, usize> = HashMap::new();
    for y in 0..height {
        let row = new.row(y)?;
        if is_uniform(row) {
            continue;
        }
        let hash = row_hash(row);
        let first = by_hash.partition_point(|&(h, _)| h < hash);
        let candidates = by_hash
            .get(first..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&(h, _)| h == hash)
            .take(CANDIDATES_PER_HASH);
        for &(_, from) in candidates {
            let shift = from as i64 - y as i64;
            if shift != 0 && shift.unsigned_abs() as usize <= MAX_SHIFT {
                *votes.entry(shift).or_default() += 1;
            }
        }
    }
    // The best shifts first; ties go to the smaller shift.
    let mut ranked: Vec<(i64, usize)> = votes.into_iter().collect();
    ranked.sort_by_key(|&(shift, count)| (std::cmp::Reverse(count), shift.unsigned_abs()));
    ranked
        .into_iter()
        .take(3)
        .filter(|&(_, count)| count >= MIN_MOVED_ROWS / 4)
        .filter_map(|(shift, _)| longest_run(old, new, shift))
        .max_by_key(|m| m.rows)
        .filter(|m| m.rows >= MIN_MOVED_ROWS)
}

/// The longest run of new rows equal, byte for byte, to the old rows
/// `shift` below them.
fn longest_run(old: &Rows<'_>, new: &Rows<'_>, shift: i64) -> Option<VerticalMove> {
    let height = new.height() as i64;
    let first = (-shift).max(0);
    let end = (height - shift).min(height);
    let mut best: Option<VerticalMove> = None;
    let mut run_start = None;
    for y in first..=end {
        let equal = y < end
            && match (new.row(y as usize), old.row((y + shift) as usize)) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            };
        match (equal, run_start) {
            (true, None) => run_start = Some(y),
            (false, Some(start)) => {
                let rows = (y - start) as usize;
                if best.is_none_or(|b| rows > b.rows) {
                    best = Some(VerticalMove {
                        shift,
                        start: start as usize,
                        rows,
                    });
                }
                run_start = None;
            }
            _ => {}
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document page: lines of "text" (distinct rows) with blank rows.
    fn document(width: usize, height: usize, top_line: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(width * height * 4);
        for y in 0..height {
            let line = top_line + y;
            for x in 0..width {
                let ink = line % 9 < 6 && (x * 7 + line * 13) % 11 < 4;
                let v: u32 = if ink {
                    0x202020 + (line as u32 % 200)
                } else {
                    0xffffff
                };
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    fn rows(data: &[u8], width: usize, height: usize) -> Rows<'_> {
        Rows::strided(data, width * 4, width * 4, height)
    }

    #[test]
    fn a_scrolled_document_is_found() {
        let (w, h) = (320, 240);
        let before = document(w, h, 100);
        for scroll in [1i64, 3, 17, 100, -5, -64] {
            let after = document(w, h, (100 + scroll) as usize);
            let found = find_vertical_move(&rows(&before, w, h), &rows(&after, w, h))
                .unwrap_or_else(|| panic!("scroll {scroll} not found"));
            assert_eq!(found.shift, scroll);
            assert_eq!(
                found.rows,
                h - scroll.unsigned_abs() as usize,
                "scroll {scroll}"
            );
            assert_eq!(found.start, if scroll > 0 { 0 } else { (-scroll) as usize });
        }
    }

    #[test]
    fn a_moved_block_between_fixed_bars_is_found() {
        // A toolbar and a status bar that stay, a scrolled middle.
        let (w, h) = (200, 200);
        let bar = 0x3366aau32.to_le_bytes().repeat(w * h);
        let mut before = bar.clone();
        let mut after = bar;
        let middle = document(w, 150, 40);
        let moved = document(w, 150, 52);
        before[25 * w * 4..175 * w * 4].copy_from_slice(&middle);
        after[25 * w * 4..175 * w * 4].copy_from_slice(&moved);
        let found = find_vertical_move(&rows(&before, w, h), &rows(&after, w, h)).unwrap();
        assert_eq!(found.shift, 12);
        assert_eq!(found.start, 25);
        assert_eq!(found.rows, 150 - 12);
    }

    #[test]
    fn unrelated_frames_and_tiny_moves_are_not_moves() {
        let (w, h) = (64, 100);
        let a = document(w, h, 0);
        let noise: Vec<u8> = (0..w * h * 4)
            .map(|i| ((i * 2_654_435_761usize) >> 13) as u8)
            .collect();
        assert_eq!(
            find_vertical_move(&rows(&a, w, h), &rows(&noise, w, h)),
            None
        );
        // A blank frame: every row matches every row, which is no move.
        let blank = vec![0xffu8; w * h * 4];
        assert_eq!(
            find_vertical_move(&rows(&blank, w, h), &rows(&blank, w, h)),
            None
        );
        // Unchanged frames are not a move either.
        assert_eq!(find_vertical_move(&rows(&a, w, h), &rows(&a, w, h)), None);
        // Too short a rectangle to pay.
        let short = MIN_MOVED_ROWS - 1;
        let b = document(w, short, 0);
        let c = document(w, short, 2);
        assert_eq!(
            find_vertical_move(&rows(&b, w, short), &rows(&c, w, short)),
            None
        );
    }

    #[test]
    fn strides_and_short_data_are_safe() {
        let (w, h) = (40, 64);
        let before = document(w, h, 0);
        let after = document(w, h, 8);
        // Padded rows.
        let pad = |d: &[u8]| -> Vec<u8> {
            d.chunks(w * 4)
                .flat_map(|r| r.iter().copied().chain([9u8; 8]))
                .collect()
        };
        let (pb, pa) = (pad(&before), pad(&after));
        let padded = |d| Rows::strided(d, w * 4 + 8, w * 4, h);
        let found = find_vertical_move(&padded(&pb), &padded(&pa)).unwrap();
        assert_eq!((found.shift, found.rows), (8, h - 8));
        // Data shorter than the rows claim: no move, no panic.
        let short = rows(&after[..100], w, h);
        assert_eq!(find_vertical_move(&rows(&before, w, h), &short), None);
    }
}
