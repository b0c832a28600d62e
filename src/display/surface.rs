//! A display's primary surface: 32-bit x8r8g8b8 pixels in native byte order
//! (cairo's `RGB24`, pixman's `x8r8g8b8`), as SPICE's 32_xRGB surfaces.

/// A rectangle in surface coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    pub fn new(x: i32, y: i32, width: u32, height: u32) -> Self {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// The part of `self` inside a `width`×`height` surface.
    pub fn clip_to(&self, width: u32, height: u32) -> Rect {
        let x1 = i64::from(self.x).max(0);
        let y1 = i64::from(self.y).max(0);
        let x2 = (i64::from(self.x) + i64::from(self.width)).min(i64::from(width));
        let y2 = (i64::from(self.y) + i64::from(self.height)).min(i64::from(height));
        if x2 <= x1 || y2 <= y1 {
            return Rect::default();
        }
        // Every value is within 0..=u32::MAX and the surface size.
        Rect::new(x1 as i32, y1 as i32, (x2 - x1) as u32, (y2 - y1) as u32)
    }
}

/// The pixels of one surface, rows packed (stride = width * 4), kept as
/// bytes so every update is a row copy, with no per-pixel work.
#[derive(Debug, Clone)]
pub struct Surface {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Surface {
    /// A black surface.
    pub fn new(width: u32, height: u32) -> Self {
        Surface {
            width,
            height,
            pixels: vec![0; width as usize * height as usize * 4],
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    fn stride(&self) -> usize {
        self.width as usize * 4
    }

    /// The pixels as bytes (native byte order), rows of `width * 4` bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.pixels
    }

    /// One pixel, for tests.
    pub fn pixel(&self, x: u32, y: u32) -> Option<u32> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let at = y as usize * self.stride() + x as usize * 4;
        let p = self.pixels.get(at..at + 4)?;
        Some(u32::from_ne_bytes([p[0], p[1], p[2], p[3]]))
    }

    /// The bytes of `rect`, rows packed; `None` unless it lies inside.
    /// The rows of `rect` (inside the surface) in place, for comparing
    /// with what is drawn over them.
    pub fn rows(&self, rect: Rect) -> Option<super::motion::Rows<'_>> {
        if rect.clip_to(self.width, self.height) != rect || rect.is_empty() {
            return None;
        }
        let start = rect.y as usize * self.stride() + rect.x as usize * 4;
        Some(super::motion::Rows {
            data: self.pixels.get(start..)?,
            stride: self.stride(),
            row_bytes: rect.width as usize * 4,
            height: rect.height as usize,
        })
    }

    pub fn read(&self, rect: Rect) -> Option<Vec<u8>> {
        if rect.clip_to(self.width, self.height) != rect || rect.is_empty() {
            return None;
        }
        let row = rect.width as usize * 4;
        let mut out = Vec::with_capacity(row * rect.height as usize);
        for y in 0..rect.height as usize {
            let start = (rect.y as usize + y) * self.stride() + rect.x as usize * 4;
            out.extend_from_slice(&self.pixels[start..start + row]);
        }
        Some(out)
    }

    /// Copies a `rect` of `src` (rows `stride` bytes apart, starting at the
    /// rect's top-left pixel) into the surface, clipped to it. Returns the
    /// box of the pixels that really changed (empty if none did): an
    /// application that redraws a whole frame to change a corner of it
    /// costs its clients only the corner.
    pub fn draw(&mut self, rect: Rect, src: &[u8], stride: usize) -> Rect {
        let clipped = rect.clip_to(self.width, self.height);
        if clipped.is_empty() {
            return clipped;
        }
        // Offsets of the clipped area inside the source rectangle.
        let dx = (clipped.x - rect.x) as usize;
        let dy = (clipped.y - rect.y) as usize;
        let row = clipped.width as usize * 4;
        let surface_stride = self.stride();
        let mut changed = ChangedBox::default();
        for y in 0..clipped.height as usize {
            let start = (dy + y) * stride + dx * 4;
            let Some(line) = src.get(start..start + row) else {
                break;
            };
            let dest = (clipped.y as usize + y) * surface_stride + clipped.x as usize * 4;
            let old = &mut self.pixels[dest..dest + row];
            if let Some((first, last)) = changed_pixels(old, line) {
                changed.add(y as u32, first as u32, last as u32);
                old.copy_from_slice(line);
            }
        }
        changed.rect(clipped)
    }

    /// Fills `rect` (clipped) with `color` (0xXXRRGGBB).
    pub fn fill(&mut self, rect: Rect, color: u32) -> Rect {
        let clipped = rect.clip_to(self.width, self.height);
        if clipped.is_empty() {
            return clipped;
        }
        let line: Vec<u8> = std::iter::repeat_n(color.to_ne_bytes(), clipped.width as usize)
            .flatten()
            .collect();
        let stride = self.stride();
        for y in 0..clipped.height as usize {
            let dest = (clipped.y as usize + y) * stride + clipped.x as usize * 4;
            self.pixels[dest..dest + line.len()].copy_from_slice(&line);
        }
        clipped
    }

    /// Copies the `width`×`height` area at (`src_x`, `src_y`) to
    /// (`dest_x`, `dest_y`), overlapping allowed (scrolling). Both areas are
    /// clipped to the surface together. Returns the destination area.
    pub fn copy_area(&mut self, src: Rect, dest_x: i32, dest_y: i32) -> Rect {
        let (sw, sh) = (self.width, self.height);
        let src_c = src.clip_to(sw, sh);
        // Shift the destination by what clipping removed from the source,
        // then clip the destination and shrink the source to match.
        let dest = Rect::new(
            dest_x.saturating_add(src_c.x - src.x),
            dest_y.saturating_add(src_c.y - src.y),
            src_c.width,
            src_c.height,
        );
        let dest_c = dest.clip_to(sw, sh);
        if dest_c.is_empty() {
            return dest_c;
        }
        let sx = (src_c.x + (dest_c.x - dest.x)) as usize;
        let sy = (src_c.y + (dest_c.y - dest.y)) as usize;
        let row = dest_c.width as usize * 4;
        let stride = self.stride();
        let mut copy_row = |y: usize| {
            let from = (sy + y) * stride + sx * 4;
            let to = (dest_c.y as usize + y) * stride + dest_c.x as usize * 4;
            self.pixels.copy_within(from..from + row, to);
        };
        // Rows in the order that does not overwrite rows still to be read.
        if dest_c.y as usize > sy {
            (0..dest_c.height as usize).rev().for_each(&mut copy_row);
        } else {
            (0..dest_c.height as usize).for_each(&mut copy_row);
        }
        dest_c
    }

    /// A new size; the kept area keeps its pixels, new area is black.
    pub fn resize(&mut self, width: u32, height: u32) {
        let mut next = Surface::new(width, height);
        let row = self.width.min(width) as usize * 4;
        for y in 0..self.height.min(height) as usize {
            let from = y * self.stride();
            let to = y * next.stride();
            next.pixels[to..to + row].copy_from_slice(&self.pixels[from..from + row]);
        }
        *self = next;
    }
}

/// The first and last pixel (indices) in which two rows of x8r8g8b8 pixels
/// differ, or `None` if they are equal. Compared in blocks first, which
/// the library's slice equality does at memory speed.
fn changed_pixels(old: &[u8], new: &[u8]) -> Option<(usize, usize)> {
    const BLOCK: usize = 64;
    if old == new {
        return None;
    }
    let blocks = old.chunks(BLOCK).zip(new.chunks(BLOCK));
    let first_block = blocks.clone().position(|(a, b)| a != b)?;
    let last_block = old.len().div_ceil(BLOCK)
        - 1
        - old
            .chunks(BLOCK)
            .rev()
            .zip(new.chunks(BLOCK).rev())
            .position(|(a, b)| a != b)?;
    let pixel_of = |block: usize, from_end: bool| {
        let start = block * BLOCK;
        let end = (start + BLOCK).min(old.len());
        let pairs = old[start..end].chunks(4).zip(new[start..end].chunks(4));
        let within = if from_end {
            (end - start).div_ceil(4) - 1 - pairs.rev().position(|(a, b)| a != b).unwrap_or(0)
        } else {
            pairs.clone().position(|(a, b)| a != b).unwrap_or(0)
        };
        start / 4 + within
    };
    Some((pixel_of(first_block, false), pixel_of(last_block, true)))
}

/// The box of the changed pixels of a draw, relative to its clipped area.
#[derive(Default)]
struct ChangedBox {
    /// (top row, bottom row, left pixel, right pixel), inclusive.
    bounds: Option<(u32, u32, u32, u32)>,
}

impl ChangedBox {
    fn add(&mut self, y: u32, first: u32, last: u32) {
        self.bounds = Some(match self.bounds {
            None => (y, y, first, last),
            Some((top, _, left, right)) => (top, y, left.min(first), right.max(last)),
        });
    }

    fn rect(&self, area: Rect) -> Rect {
        match self.bounds {
            None => Rect::default(),
            Some((top, bottom, left, right)) => Rect::new(
                area.x + left as i32,
                area.y + top as i32,
                right - left + 1,
                bottom - top + 1,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(pixels: &[u32]) -> Vec<u8> {
        pixels.iter().flat_map(|p| p.to_ne_bytes()).collect()
    }

    #[test]
    fn draw_is_clipped_and_exact() {
        let mut s = Surface::new(4, 3);
        let src = bytes(&[1, 2, 3, 4, 5, 6]);
        let changed = s.draw(Rect::new(-1, 1, 3, 2), &src, 12);
        assert_eq!(changed, Rect::new(0, 1, 2, 2));
        assert_eq!(s.pixel(0, 1), Some(2));
        assert_eq!(s.pixel(1, 1), Some(3));
        assert_eq!(s.pixel(0, 2), Some(5));
        assert_eq!(s.pixel(1, 2), Some(6));
        assert_eq!(s.pixel(2, 1), Some(0));
    }

    #[test]
    fn a_draw_reports_only_the_pixels_it_changed() {
        let (w, h) = (300u32, 40u32);
        let mut s = Surface::new(w, h);
        let mut frame: Vec<u32> = (0..w * h).map(|i| i % 97 + 1).collect();
        assert_eq!(
            s.draw(Rect::new(0, 0, w, h), &bytes(&frame), w as usize * 4),
            Rect::new(0, 0, w, h)
        );
        // The same frame again: nothing changed.
        assert!(s
            .draw(Rect::new(0, 0, w, h), &bytes(&frame), w as usize * 4)
            .is_empty());
        // Two pixels far apart (across 64-byte blocks) in two rows.
        frame[(5 * w + 17) as usize] = 0xabcdef;
        frame[(9 * w + 250) as usize] = 0x123456;
        let changed = s.draw(Rect::new(0, 0, w, h), &bytes(&frame), w as usize * 4);
        assert_eq!(changed, Rect::new(17, 5, 250 - 17 + 1, 9 - 5 + 1));
        assert_eq!(s.pixel(17, 5), Some(0xabcdef));
        assert_eq!(s.pixel(250, 9), Some(0x123456));
        // One pixel, the last of a row, in a draw clipped on the left: the
        // source rows have 3 pixels before the surface's first column.
        frame[(20 * w + w - 1) as usize] = 7;
        let mut source = Vec::new();
        for row in frame.chunks(w as usize) {
            source.extend_from_slice(&bytes(&[0xdead, 0xbeef, 0xf00d]));
            source.extend_from_slice(&bytes(row));
        }
        let changed = s.draw(Rect::new(-3, 0, w + 3, h), &source, (w as usize + 3) * 4);
        assert_eq!(changed, Rect::new(w as i32 - 1, 20, 1, 1));
        assert_eq!(s.pixel(w - 1, 20), Some(7));
        for x in [0, 1, 63, 64, 299] {
            let mut a = vec![5u8; 1200];
            let b = a.clone();
            assert_eq!(changed_pixels(&a, &b), None);
            a[x * 4 + 2] = 9;
            assert_eq!(changed_pixels(&a, &b), Some((x, x)), "pixel {x}");
        }
    }

    #[test]
    fn short_source_stops_without_panic() {
        let mut s = Surface::new(4, 4);
        s.draw(Rect::new(0, 0, 4, 4), &[7u8; 20], 16);
        assert_eq!(s.pixel(0, 0), Some(u32::from_ne_bytes([7; 4])));
        assert_eq!(s.pixel(0, 1), Some(0));
    }

    #[test]
    fn fill_and_scroll_up_and_down() {
        let mut s = Surface::new(3, 4);
        for y in 0..4 {
            s.fill(Rect::new(0, y, 3, 1), y as u32 + 10);
        }
        s.copy_area(Rect::new(0, 1, 3, 3), 0, 0);
        assert_eq!(
            (0..4).map(|y| s.pixel(1, y).unwrap()).collect::<Vec<_>>(),
            vec![11, 12, 13, 13]
        );
        s.copy_area(Rect::new(0, 0, 3, 3), 0, 1);
        assert_eq!(
            (0..4).map(|y| s.pixel(1, y).unwrap()).collect::<Vec<_>>(),
            vec![11, 11, 12, 13]
        );
    }

    #[test]
    fn copy_area_clips_both_sides() {
        let mut s = Surface::new(4, 1);
        s.draw(Rect::new(0, 0, 4, 1), &bytes(&[1, 2, 3, 4]), 16);
        let d = s.copy_area(Rect::new(-1, 0, 3, 1), 2, 0);
        // Source column -1 does not exist: columns 0,1 go to 3,4; 4 is off.
        assert_eq!(d, Rect::new(3, 0, 1, 1));
        assert_eq!(s.pixel(3, 0), Some(1));
    }

    #[test]
    fn resize_keeps_overlap() {
        let mut s = Surface::new(2, 2);
        s.fill(Rect::new(0, 0, 2, 2), 9);
        s.resize(3, 1);
        assert_eq!(
            (s.pixel(1, 0), s.pixel(2, 0), s.pixel(0, 1)),
            (Some(9), Some(0), None)
        );
    }
}
