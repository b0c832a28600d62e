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

/// The pixels of one surface, rows packed (stride = width * 4).
#[derive(Debug, Clone)]
pub struct Surface {
    width: u32,
    height: u32,
    pixels: Vec<u32>,
}

impl Surface {
    /// A black surface.
    pub fn new(width: u32, height: u32) -> Self {
        Surface {
            width,
            height,
            pixels: vec![0; width as usize * height as usize],
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixels as bytes (native byte order), rows of `width * 4` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.pixels.iter().flat_map(|p| p.to_ne_bytes()).collect()
    }

    /// One pixel, for tests.
    pub fn pixel(&self, x: u32, y: u32) -> Option<u32> {
        if x >= self.width || y >= self.height {
            return None;
        }
        self.pixels
            .get(y as usize * self.width as usize + x as usize)
            .copied()
    }

    /// The pixels of `rect`, rows packed; `None` unless it lies inside.
    pub fn read(&self, rect: Rect) -> Option<Vec<u32>> {
        if rect.clip_to(self.width, self.height) != rect || rect.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(rect.width as usize * rect.height as usize);
        for row in 0..rect.height as usize {
            let start = (rect.y as usize + row) * self.width as usize + rect.x as usize;
            out.extend_from_slice(&self.pixels[start..start + rect.width as usize]);
        }
        Some(out)
    }

    /// Copies a `rect` of `src` (rows `stride` bytes apart, starting at the
    /// rect's top-left pixel) into the surface, clipped to it. Returns the
    /// area that changed.
    pub fn draw(&mut self, rect: Rect, src: &[u8], stride: usize) -> Rect {
        let clipped = rect.clip_to(self.width, self.height);
        if clipped.is_empty() {
            return clipped;
        }
        // Offsets of the clipped area inside the source rectangle.
        let dx = (clipped.x - rect.x) as usize;
        let dy = (clipped.y - rect.y) as usize;
        let w = clipped.width as usize;
        for row in 0..clipped.height as usize {
            let start = (dy + row) * stride + dx * 4;
            let Some(line) = src.get(start..start + w * 4) else {
                break;
            };
            let dest = (clipped.y as usize + row) * self.width as usize + clipped.x as usize;
            for (d, s) in self.pixels[dest..dest + w]
                .iter_mut()
                .zip(line.chunks_exact(4))
            {
                *d = u32::from_ne_bytes([s[0], s[1], s[2], s[3]]);
            }
        }
        clipped
    }

    /// Fills `rect` (clipped) with `color` (0xXXRRGGBB).
    pub fn fill(&mut self, rect: Rect, color: u32) -> Rect {
        let clipped = rect.clip_to(self.width, self.height);
        for row in 0..clipped.height as usize {
            let dest = (clipped.y as usize + row) * self.width as usize + clipped.x as usize;
            self.pixels[dest..dest + clipped.width as usize].fill(color);
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
        let mut dest = Rect::new(
            dest_x.saturating_add(src_c.x - src.x),
            dest_y.saturating_add(src_c.y - src.y),
            src_c.width,
            src_c.height,
        );
        let dest_c = dest.clip_to(sw, sh);
        if dest_c.is_empty() {
            return dest_c;
        }
        let sx = src_c.x + (dest_c.x - dest.x);
        let sy = src_c.y + (dest_c.y - dest.y);
        dest = dest_c;
        let w = dest.width as usize;
        let stride = sw as usize;
        let rows: Box<dyn Iterator<Item = usize>> = if dest.y > sy {
            Box::new((0..dest.height as usize).rev())
        } else {
            Box::new(0..dest.height as usize)
        };
        for row in rows {
            let from = (sy as usize + row) * stride + sx as usize;
            let to = (dest.y as usize + row) * stride + dest.x as usize;
            self.pixels.copy_within(from..from + w, to);
        }
        dest
    }

    /// A new size; the kept area keeps its pixels, new area is black.
    pub fn resize(&mut self, width: u32, height: u32) {
        let mut next = Surface::new(width, height);
        let w = self.width.min(width) as usize;
        for row in 0..self.height.min(height) as usize {
            let from = row * self.width as usize;
            let to = row * width as usize;
            next.pixels[to..to + w].copy_from_slice(&self.pixels[from..from + w]);
        }
        *self = next;
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
