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

    /// Whether `self` covers all of `inner`.
    pub fn contains(&self, inner: Rect) -> bool {
        let end = |r: &Rect| {
            (
                i64::from(r.x) + i64::from(r.width),
                i64::from(r.y) + i64::from(r.height),
            )
        };
        let (ox2, oy2) = end(self);
        let (ix2, iy2) = end(&inner);
        self.x <= inner.x && self.y <= inner.y && ox2 >= ix2 && oy2 >= iy2
    }

    /// Where `self` and `other` overlap, if they do.
    pub fn intersection(&self, other: Rect) -> Option<Rect> {
        let x1 = self.x.max(other.x);
        let y1 = self.y.max(other.y);
        let x2 = (i64::from(self.x) + i64::from(self.width))
            .min(i64::from(other.x) + i64::from(other.width));
        let y2 = (i64::from(self.y) + i64::from(self.height))
            .min(i64::from(other.y) + i64::from(other.height));
        // Both ends lie within one of the rectangles: the sizes fit u32.
        (x2 > i64::from(x1) && y2 > i64::from(y1)).then(|| {
            Rect::new(
                x1,
                y1,
                (x2 - i64::from(x1)) as u32,
                (y2 - i64::from(y1)) as u32,
            )
        })
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

/// The pixels of one surface, kept as bytes so every update is a row
/// copy, with no per-pixel work.
///
/// The columns are split into vertical strips, and each strip's rows live
/// in slots that a table maps to surface rows: a scroll (an area moved up
/// or down) whose columns are whole strips moves table entries, not
/// pixels, and copies only the rows the move uncovers. A large vertical
/// move splits the strips at its edges (once), so a scrolled window is a
/// strip of its own from then on.
#[derive(Debug, Clone)]
pub struct Surface {
    width: u32,
    height: u32,
    /// Left to right, covering the width; never empty while the width is
    /// not 0.
    strips: Vec<Strip>,
    /// The last large draw, kept as the application's pixels: what lies
    /// in its rectangle. A video or a whole-frame application redraws the
    /// same rectangle every frame, which its encoder then reads from
    /// there: the frame is never copied into the strips. Anything else
    /// that changes the surface copies it in first.
    overlay: Option<Overlay>,
}

/// A draw's pixels over `rect` (inside the surface): row `y` of the rect
/// starts at `start + y * stride` of `pixels`, which hold all its rows.
#[derive(Debug, Clone)]
struct Overlay {
    rect: Rect,
    pixels: glib::Bytes,
    start: usize,
    stride: usize,
}

impl Overlay {
    /// Columns `x..x + width` of surface row `y` (all inside the rect).
    fn row(&self, y: i32, x: i32, width: u32) -> &[u8] {
        let at =
            self.start + (y - self.rect.y) as usize * self.stride + (x - self.rect.x) as usize * 4;
        &self.pixels[at..at + width as usize * 4]
    }

    fn contains(&self, rect: Rect) -> bool {
        self.rect.contains(rect)
    }

    /// The part of `rect` under the overlay.
    fn intersection(&self, rect: Rect) -> Option<Rect> {
        self.rect.intersection(rect)
    }
}

/// Columns `x..x + width` of a surface.
#[derive(Debug, Clone)]
struct Strip {
    x: u32,
    width: u32,
    /// Rows of `width * 4` bytes, in slots.
    pixels: Vec<u8>,
    /// The slot of each surface row.
    slots: Vec<u32>,
}

/// Most strips a surface is split into: a split copies the strip it cuts,
/// so many windows scrolling in turn must not cut the surface to pieces.
const MAX_STRIPS: usize = 8;

/// Vertical moves of fewer pixels than this never split strips: moving
/// their pixels costs less than the split's copy.
const MIN_SPLIT_PIXELS: u64 = 256 * 256;

impl Strip {
    fn new(x: u32, width: u32, height: u32) -> Self {
        Strip {
            x,
            width,
            pixels: vec![0; width as usize * height as usize * 4],
            slots: (0..height).collect(),
        }
    }

    fn row_bytes(&self) -> usize {
        self.width as usize * 4
    }

    fn end(&self) -> u32 {
        self.x + self.width
    }

    /// The byte range of row `y`'s slot.
    fn slot_range(&self, y: usize) -> std::ops::Range<usize> {
        let start = self.slots[y] as usize * self.row_bytes();
        start..start + self.row_bytes()
    }

    fn row(&self, y: usize) -> &[u8] {
        &self.pixels[self.slot_range(y)]
    }

    fn row_mut(&mut self, y: usize) -> &mut [u8] {
        let range = self.slot_range(y);
        &mut self.pixels[range]
    }

    /// Copies columns `from..from + len` of row `src_y` to column `to` of
    /// row `dest_y` (strip columns; overlapping allowed).
    fn copy_in(&mut self, src_y: usize, dest_y: usize, from: usize, to: usize, len: usize) {
        let src = self.slot_range(src_y).start + from * 4;
        let dest = self.slot_range(dest_y).start + to * 4;
        self.pixels.copy_within(src..src + len * 4, dest);
    }

    /// The rows `dest..dest + rows` become what rows `src..src + rows`
    /// were (a vertical move of whole strip rows), by moving slots: only
    /// the rows the move leaves as they were are copied.
    fn move_rows(&mut self, src: usize, dest: usize, rows: usize) {
        let shift = src.abs_diff(dest);
        if shift == 0 || rows == 0 {
            return;
        }
        if shift >= rows {
            // Disjoint areas: the rows themselves are fewer.
            let width = self.width as usize;
            let copy = |s: &mut Self, y: usize| s.copy_rows_slot(src + y, dest + y, width);
            if dest > src {
                (0..rows).rev().for_each(|y| copy(self, y));
            } else {
                (0..rows).for_each(|y| copy(self, y));
            }
            return;
        }
        let width = self.width as usize;
        if dest < src {
            // Up: rows dest..src + rows turn by `shift`; the last `shift`
            // rows (outside the destination) get their old pixels back
            // from where the turn put them.
            self.slots[dest..src + rows].rotate_left(shift);
            for y in dest + rows..src + rows {
                self.copy_rows_slot(y - shift, y, width);
            }
        } else {
            self.slots[src..dest + rows].rotate_right(shift);
            for y in (src..dest).rev() {
                self.copy_rows_slot(y + shift, y, width);
            }
        }
    }

    /// Copies the first `width` pixels of row `src_y` to row `dest_y`.
    fn copy_rows_slot(&mut self, src_y: usize, dest_y: usize, width: usize) {
        self.copy_in(src_y, dest_y, 0, 0, width);
    }
}

impl Surface {
    /// A black surface.
    pub fn new(width: u32, height: u32) -> Self {
        Surface {
            width,
            height,
            strips: vec![Strip::new(0, width, height)],
            overlay: None,
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixels as bytes (native byte order), rows of `width * 4` bytes
    /// packed.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.read(Rect::new(0, 0, self.width, self.height))
            .unwrap_or_default()
    }

    /// One pixel, for tests.
    pub fn pixel(&self, x: u32, y: u32) -> Option<u32> {
        if x >= self.width || y >= self.height {
            return None;
        }
        if let Some(o) = &self.overlay {
            if o.contains(Rect::new(x as i32, y as i32, 1, 1)) {
                let p = o.row(y as i32, x as i32, 1);
                return Some(u32::from_ne_bytes([p[0], p[1], p[2], p[3]]));
            }
        }
        let strip = &self.strips[self.strip_at(x)];
        let at = (x - strip.x) as usize * 4;
        let p = strip.row(y as usize).get(at..at + 4)?;
        Some(u32::from_ne_bytes([p[0], p[1], p[2], p[3]]))
    }

    /// The index of the strip holding column `x` (inside the surface).
    fn strip_at(&self, x: u32) -> usize {
        self.strips.partition_point(|s| s.end() <= x)
    }

    /// The parts of columns `x..x + width` (inside the surface) in each
    /// strip: (strip, its first column, columns, offset in the span).
    fn spans(&self, x: u32, width: u32) -> impl Iterator<Item = (usize, usize, usize, usize)> + '_ {
        let end = x + width;
        (self.strip_at(x)..self.strips.len())
            .take_while(move |&i| self.strips[i].x < end)
            .map(move |i| {
                let s = &self.strips[i];
                let from = x.max(s.x);
                let to = end.min(s.end());
                (
                    i,
                    (from - s.x) as usize,
                    (to - from) as usize,
                    (from - x) as usize,
                )
            })
    }

    /// The rows of `rect` (inside the surface) in place, when its columns
    /// are in one strip, for comparing with what is drawn over them.
    pub fn row_slices(&self, rect: Rect) -> Option<Vec<&[u8]>> {
        if rect.clip_to(self.width, self.height) != rect || rect.is_empty() {
            return None;
        }
        if let Some(o) = &self.overlay {
            if o.contains(rect) {
                let rows = rect.y..rect.y + rect.height as i32;
                return Some(rows.map(|y| o.row(y, rect.x, rect.width)).collect());
            }
            if o.intersection(rect).is_some() {
                return None;
            }
        }
        let mut spans = self.spans(rect.x as u32, rect.width);
        let (strip, from, len, _) = spans.next()?;
        if spans.next().is_some() {
            return None;
        }
        let strip = &self.strips[strip];
        Some(
            (rect.y as usize..rect.y as usize + rect.height as usize)
                .map(|y| &strip.row(y)[from * 4..(from + len) * 4])
                .collect(),
        )
    }

    /// The pixels of `rect` in place, as (bytes from its top-left pixel,
    /// stride), when its rows lie in order in one strip (always, unless
    /// an area was moved across it): what an encoder can read without a
    /// copy.
    pub fn area(&self, rect: Rect) -> Option<(&[u8], usize)> {
        if rect.clip_to(self.width, self.height) != rect || rect.is_empty() {
            return None;
        }
        if let Some(o) = &self.overlay {
            if o.contains(rect) {
                let start = o.start
                    + (rect.y - o.rect.y) as usize * o.stride
                    + (rect.x - o.rect.x) as usize * 4;
                let end = start + (rect.height as usize - 1) * o.stride + rect.width as usize * 4;
                return Some((o.pixels.get(start..end)?, o.stride));
            }
            if o.intersection(rect).is_some() {
                return None;
            }
        }
        let mut spans = self.spans(rect.x as u32, rect.width);
        let (strip, from, len, _) = spans.next()?;
        if spans.next().is_some() {
            return None;
        }
        let strip = &self.strips[strip];
        let rows = strip
            .slots
            .get(rect.y as usize..rect.y as usize + rect.height as usize)?;
        if rows
            .windows(2)
            .any(|pair| pair[1] != pair[0].wrapping_add(1))
        {
            return None;
        }
        let stride = strip.row_bytes();
        let start = strip.slot_range(rect.y as usize).start + from * 4;
        let end = start + (rect.height as usize - 1) * stride + len * 4;
        Some((strip.pixels.get(start..end)?, stride))
    }

    /// The bytes of `rect`, rows packed; `None` unless it lies inside.
    pub fn read(&self, rect: Rect) -> Option<Vec<u8>> {
        if rect.clip_to(self.width, self.height) != rect || rect.is_empty() {
            return None;
        }
        let Some(o) = &self.overlay else {
            return self.read_strips(rect);
        };
        if o.contains(rect) {
            let mut out = Vec::with_capacity(rect.width as usize * 4 * rect.height as usize);
            for y in rect.y..rect.y + rect.height as i32 {
                out.extend_from_slice(o.row(y, rect.x, rect.width));
            }
            return Some(out);
        }
        let mut out = self.read_strips(rect)?;
        if let Some(part) = o.intersection(rect) {
            let row = rect.width as usize * 4;
            let at = (part.x - rect.x) as usize * 4;
            for y in part.y..part.y + part.height as i32 {
                let line = (y - rect.y) as usize * row + at;
                out[line..line + part.width as usize * 4]
                    .copy_from_slice(o.row(y, part.x, part.width));
            }
        }
        Some(out)
    }

    /// The bytes of `rect` (inside) in the strips, rows packed.
    fn read_strips(&self, rect: Rect) -> Option<Vec<u8>> {
        let row = rect.width as usize * 4;
        let rows = rect.y as usize..rect.y as usize + rect.height as usize;
        let spans: Vec<_> = self.spans(rect.x as u32, rect.width).collect();
        if let [(strip, from, _, _)] = spans[..] {
            // One strip: rows appended, with no zeroing first.
            let strip = &self.strips[strip];
            let mut out = Vec::with_capacity(row * rect.height as usize);
            for y in rows {
                out.extend_from_slice(&strip.row(y)[from * 4..from * 4 + row]);
            }
            return Some(out);
        }
        let mut out = vec![0; row * rect.height as usize];
        for (strip, from, len, at) in spans {
            let strip = &self.strips[strip];
            for (line, y) in out.chunks_exact_mut(row).zip(rows.clone()) {
                line[at * 4..(at + len) * 4]
                    .copy_from_slice(&strip.row(y)[from * 4..(from + len) * 4]);
            }
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
        self.flush();
        // Offsets of the clipped area inside the source rectangle.
        let dx = (clipped.x - rect.x) as usize;
        let dy = (clipped.y - rect.y) as usize;
        let row = clipped.width as usize * 4;
        let spans: Vec<_> = self.spans(clipped.x as u32, clipped.width).collect();
        // Rows the source has (a short one stops the draw).
        let rows = (0..clipped.height as usize)
            .take_while(|y| src.len() >= (dy + y) * stride + dx * 4 + row)
            .count();
        let width = clipped.width as usize;
        let line = |y: usize| &src[(dy + y) * stride + dx * 4..][..row];
        // The changed pixels of row `y` among columns `lo..hi`.
        let changes = |y: usize, lo: usize, hi: usize| {
            let mut found: Option<(usize, usize)> = None;
            for &(strip, from, len, at) in &spans {
                let (a, b) = (at.max(lo), (at + len).min(hi));
                if a >= b {
                    continue;
                }
                let old = &self.strips[strip].row(clipped.y as usize + y)
                    [(from + a - at) * 4..(from + b - at) * 4];
                if let Some((first, last)) = changed_pixels(old, &line(y)[a * 4..b * 4]) {
                    let (first, last) = (a + first, a + last);
                    found = Some(found.map_or((first, last), |(f, l)| (f.min(first), l.max(last))));
                }
            }
            found
        };
        // The box's bottom and top rows are found from either end; rows
        // between are compared only where they could widen it, which for
        // new text (changed from edge to edge) is nowhere: comparing every
        // row whole was a fifth of the worker's time on the text workload.
        let Some((bottom, (mut left, mut right))) = (0..rows)
            .rev()
            .find_map(|y| Some((y, changes(y, 0, width)?)))
        else {
            return Rect::default();
        };
        let top = match (0..bottom).find_map(|y| Some((y, changes(y, 0, width)?))) {
            Some((y, (first, last))) => {
                (left, right) = (left.min(first), right.max(last));
                y
            }
            None => bottom,
        };
        for y in top + 1..bottom {
            if left > 0 {
                if let Some((first, _)) = changes(y, 0, left) {
                    left = first;
                }
            }
            if right + 1 < width {
                if let Some((_, last)) = changes(y, right + 1, width) {
                    right = last;
                }
            }
        }
        for y in top..=bottom {
            let new = line(y);
            for &(strip, from, len, at) in &spans {
                let (a, b) = (at.max(left), (at + len).min(right + 1));
                if a >= b {
                    continue;
                }
                self.strips[strip].row_mut(clipped.y as usize + y)
                    [(from + a - at) * 4..(from + b - at) * 4]
                    .copy_from_slice(&new[a * 4..b * 4]);
            }
        }
        Rect::new(
            clipped.x + left as i32,
            clipped.y + top as i32,
            (right - left + 1) as u32,
            (bottom - top + 1) as u32,
        )
    }

    /// As [`Surface::draw`], but the pixels stay in `pixels` (see
    /// `overlay`) until something else changes the surface: for large
    /// draws, which are often redrawn whole at the next frame.
    pub fn draw_deferred(&mut self, rect: Rect, pixels: &glib::Bytes, stride: usize) -> Rect {
        let clipped = rect.clip_to(self.width, self.height);
        if clipped.is_empty() {
            return clipped;
        }
        let start = (clipped.y - rect.y) as usize * stride + (clipped.x - rect.x) as usize * 4;
        let row = clipped.width as usize * 4;
        let needed = (clipped.height as usize - 1)
            .checked_mul(stride)
            .and_then(|n| n.checked_add(start)?.checked_add(row));
        if stride < row || needed.is_none_or(|n| n > pixels.len()) {
            // Short of rows: drawn as far as it goes.
            return self.draw(rect, pixels, stride);
        }
        if self.overlay.as_ref().is_some_and(|o| o.rect != clipped) {
            self.flush();
        }
        let next = Overlay {
            rect: clipped,
            pixels: pixels.clone(),
            start,
            stride,
        };
        let spans: Vec<_> = self.spans(clipped.x as u32, clipped.width).collect();
        let mut changed = ChangedBox::default();
        for (i, y) in (clipped.y..clipped.y + clipped.height as i32).enumerate() {
            let new = next.row(y, clipped.x, clipped.width);
            match &self.overlay {
                Some(old) => {
                    if let Some((first, last)) =
                        changed_pixels(old.row(y, clipped.x, clipped.width), new)
                    {
                        changed.add(i as u32, first as u32, last as u32);
                    }
                }
                None => {
                    for &(strip, from, len, at) in &spans {
                        let old = &self.strips[strip].row(y as usize)[from * 4..(from + len) * 4];
                        if let Some((first, last)) =
                            changed_pixels(old, &new[at * 4..(at + len) * 4])
                        {
                            changed.add(i as u32, (at + first) as u32, (at + last) as u32);
                        }
                    }
                }
            }
        }
        let changed = changed.rect(clipped);
        if !changed.is_empty() {
            self.overlay = Some(next);
        }
        changed
    }

    /// Copies the overlay's pixels into the strips.
    fn flush(&mut self) {
        let Some(o) = self.overlay.take() else {
            return;
        };
        let spans: Vec<_> = self.spans(o.rect.x as u32, o.rect.width).collect();
        for y in o.rect.y..o.rect.y + o.rect.height as i32 {
            let line = o.row(y, o.rect.x, o.rect.width);
            for &(strip, from, len, at) in &spans {
                self.strips[strip].row_mut(y as usize)[from * 4..(from + len) * 4]
                    .copy_from_slice(&line[at * 4..(at + len) * 4]);
            }
        }
    }

    /// Fills `rect` (clipped) with `color` (0xXXRRGGBB).
    pub fn fill(&mut self, rect: Rect, color: u32) -> Rect {
        let clipped = rect.clip_to(self.width, self.height);
        if clipped.is_empty() {
            return clipped;
        }
        self.flush();
        let line: Vec<u8> = std::iter::repeat_n(color.to_ne_bytes(), clipped.width as usize)
            .flatten()
            .collect();
        let spans: Vec<_> = self.spans(clipped.x as u32, clipped.width).collect();
        for y in clipped.y as usize..clipped.y as usize + clipped.height as usize {
            for &(strip, from, len, _) in &spans {
                self.strips[strip].row_mut(y)[from * 4..(from + len) * 4]
                    .copy_from_slice(&line[..len * 4]);
            }
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
        self.flush();
        let sx = (src_c.x + (dest_c.x - dest.x)) as u32;
        let sy = (src_c.y + (dest_c.y - dest.y)) as usize;
        let (x, y) = (dest_c.x as u32, dest_c.y as usize);
        let (width, height) = (dest_c.width, dest_c.height as usize);
        if (sx, sy) == (x, y) {
            return dest_c;
        }
        if sx == x {
            if u64::from(width) * height as u64 >= MIN_SPLIT_PIXELS {
                self.split_at(x);
                self.split_at(x + width);
            }
            // A vertical move: each strip moves its own columns.
            let spans: Vec<_> = self.spans(x, width).collect();
            for (strip, from, len, _) in spans {
                let strip = &mut self.strips[strip];
                if len == strip.width as usize {
                    strip.move_rows(sy, y, height);
                } else {
                    let mut copy_row = |i: usize| strip.copy_in(sy + i, y + i, from, from, len);
                    if y > sy {
                        (0..height).rev().for_each(&mut copy_row);
                    } else {
                        (0..height).for_each(&mut copy_row);
                    }
                }
            }
            return dest_c;
        }
        // Any other move, a row at a time through a copy of its source
        // (in the order that does not overwrite rows still to be read).
        let mut line = Vec::new();
        let mut copy_row = |i: usize| {
            line.clear();
            for (strip, from, len, _) in self.spans(sx, width) {
                line.extend_from_slice(&self.strips[strip].row(sy + i)[from * 4..(from + len) * 4]);
            }
            let spans: Vec<_> = self.spans(x, width).collect();
            for (strip, from, len, at) in spans {
                self.strips[strip].row_mut(y + i)[from * 4..(from + len) * 4]
                    .copy_from_slice(&line[at * 4..(at + len) * 4]);
            }
        };
        if y > sy {
            (0..height).rev().for_each(&mut copy_row);
        } else {
            (0..height).for_each(&mut copy_row);
        }
        dest_c
    }

    /// Makes column `x` the first of a strip, if the strips may grow.
    fn split_at(&mut self, x: u32) {
        if x == 0 || x >= self.width || self.strips.len() >= MAX_STRIPS {
            return;
        }
        let i = self.strip_at(x);
        let strip = &self.strips[i];
        if strip.x == x {
            return;
        }
        let height = self.height as usize;
        let left_width = x - strip.x;
        let mut left = Strip::new(strip.x, left_width, self.height);
        let mut right = Strip::new(x, strip.end() - x, self.height);
        let cut = left_width as usize * 4;
        for y in 0..height {
            let row = strip.row(y);
            left.row_mut(y).copy_from_slice(&row[..cut]);
            right.row_mut(y).copy_from_slice(&row[cut..]);
        }
        self.strips.splice(i..=i, [left, right]);
    }

    /// A new size; the kept area keeps its pixels, new area is black.
    pub fn resize(&mut self, width: u32, height: u32) {
        self.flush();
        let mut next = Surface::new(width, height);
        let (w, h) = (self.width.min(width), self.height.min(height));
        if w > 0 && h > 0 {
            if let Some(kept) = self.read(Rect::new(0, 0, w, h)) {
                next.draw(Rect::new(0, 0, w, h), &kept, w as usize * 4);
            }
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
    fn rectangles_intersect_without_overflow() {
        let a = Rect::new(0, 0, 10, 10);
        assert_eq!(
            a.intersection(Rect::new(5, -3, 10, 5)),
            Some(Rect::new(5, 0, 5, 2))
        );
        // Touching edges share no pixel.
        assert_eq!(a.intersection(Rect::new(10, 0, 5, 5)), None);
        assert_eq!(a.intersection(Rect::new(0, 0, 0, 5)), None);
        // Far ends: i32 sums would overflow.
        let far = Rect::new(i32::MAX - 1, i32::MAX - 1, u32::MAX, u32::MAX);
        assert_eq!(
            far.intersection(Rect::new(i32::MAX - 2, i32::MAX - 2, 2, 2)),
            Some(Rect::new(i32::MAX - 1, i32::MAX - 1, 1, 1))
        );
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

    /// The surface as a plain pixel array, moved the obvious way: what
    /// the strips must equal.
    struct Plain {
        width: u32,
        pixels: Vec<u32>,
    }

    impl Plain {
        fn copy_area(&mut self, src: Rect, dest: Rect) {
            let old = self.pixels.clone();
            for y in 0..dest.height as i32 {
                for x in 0..dest.width as i32 {
                    let from = ((src.y + y) as u32 * self.width + (src.x + x) as u32) as usize;
                    let to = ((dest.y + y) as u32 * self.width + (dest.x + x) as u32) as usize;
                    self.pixels[to] = old[from];
                }
            }
        }
    }

    /// A small deterministic generator (xorshift64*).
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u32) -> u32 {
            (self.next() % u64::from(n.max(1))) as u32
        }
    }

    fn assert_same(s: &Surface, plain: &Plain, step: usize) {
        let all = s.to_bytes();
        assert_eq!(all, bytes(&plain.pixels), "after step {step}");
    }

    #[test]
    fn moves_through_strips_equal_plain_copies() {
        // Wide enough that a move of whole columns splits the strips.
        let (w, h) = (700u32, 300u32);
        let mut s = Surface::new(w, h);
        let mut plain = Plain {
            width: w,
            pixels: (0..w * h).collect(),
        };
        s.draw(Rect::new(0, 0, w, h), &bytes(&plain.pixels), w as usize * 4);
        let mut random = Random(0x1234_5678_9abc_def1);
        let mut overlays = 0;
        for step in 0..400 {
            let rect = |r: &mut Random, big: bool| {
                let (min_w, min_h) = if big { (w / 2, h / 2) } else { (1, 1) };
                let rw = min_w + r.below(w - min_w + 1);
                let rh = min_h + r.below(h - min_h + 1);
                Rect::new(
                    r.below(w - rw + 1) as i32,
                    r.below(h - rh + 1) as i32,
                    rw,
                    rh,
                )
            };
            match random.below(5) {
                // Scrolls, up and down (overlapping), in whole columns.
                0 | 1 => {
                    let src = rect(&mut random, step % 2 == 0);
                    let shift = random.below(2 * src.height) as i32 - src.height as i32;
                    let dest_y = (src.y + shift).clamp(0, (h - src.height) as i32);
                    let dest = Rect::new(src.x, dest_y, src.width, src.height);
                    assert_eq!(s.copy_area(src, dest.x, dest.y), dest);
                    plain.copy_area(src, dest);
                }
                // Moves in any direction.
                2 => {
                    let src = rect(&mut random, false);
                    let dest_x = random.below(w - src.width + 1) as i32;
                    let dest_y = random.below(h - src.height + 1) as i32;
                    let dest = Rect::new(dest_x, dest_y, src.width, src.height);
                    assert_eq!(s.copy_area(src, dest_x, dest_y), dest);
                    plain.copy_area(src, dest);
                }
                3 => {
                    let r = rect(&mut random, false);
                    let color = random.next() as u32;
                    s.fill(r, color);
                    for y in r.y..r.y + r.height as i32 {
                        for x in r.x..r.x + r.width as i32 {
                            plain.pixels[(y as u32 * w + x as u32) as usize] = color;
                        }
                    }
                }
                _ => {
                    // Deferred draws again and again over one rectangle,
                    // as a video's, or anywhere.
                    let deferred = random.below(2) == 0;
                    let r = match s.overlay.as_ref() {
                        Some(o) if deferred && random.below(2) == 0 => o.rect,
                        _ => rect(&mut random, false),
                    };
                    let mut new: Vec<u32> =
                        (0..r.width * r.height).map(|_| random.below(4)).collect();
                    if random.below(2) == 0 {
                        // What is there already, with a few pixels changed:
                        // the box must still be exactly theirs.
                        for (i, p) in new.iter_mut().enumerate() {
                            let (x, y) = (i as u32 % r.width, i as u32 / r.width);
                            *p = plain.pixels[((r.y as u32 + y) * w + r.x as u32 + x) as usize];
                        }
                        for _ in 0..random.below(4) {
                            let i = random.below(r.width * r.height) as usize;
                            new[i] = new[i].wrapping_add(1);
                        }
                    }
                    let changed = if deferred {
                        let pixels = glib::Bytes::from_owned(bytes(&new));
                        s.draw_deferred(r, &pixels, r.width as usize * 4)
                    } else {
                        s.draw(r, &bytes(&new), r.width as usize * 4)
                    };
                    let mut expected = ChangedBox::default();
                    for (i, p) in new.iter().enumerate() {
                        let (x, y) = (i as u32 % r.width, i as u32 / r.width);
                        let at = ((r.y as u32 + y) * w + r.x as u32 + x) as usize;
                        if plain.pixels[at] != *p {
                            expected.add(y, x, x);
                            plain.pixels[at] = *p;
                        }
                    }
                    assert_eq!(changed, expected.rect(r), "step {step}");
                }
            }
            assert_same(&s, &plain, step);
            overlays += usize::from(s.overlay.is_some());
            let r = rect(&mut random, false);
            let want: Vec<u32> = (r.y..r.y + r.height as i32)
                .flat_map(|y| {
                    let start = (y as u32 * w + r.x as u32) as usize;
                    plain.pixels[start..start + r.width as usize].to_vec()
                })
                .collect();
            assert_eq!(s.read(r), Some(bytes(&want)), "step {step}");
            if let Some(rows) = s.row_slices(r) {
                assert_eq!(rows.concat(), bytes(&want), "step {step}");
            }
            let (px, py) = (random.below(w), random.below(h));
            assert_eq!(s.pixel(px, py), Some(plain.pixels[(py * w + px) as usize]));
            if let Some((area, stride)) = s.area(r) {
                let rows: Vec<u8> = (0..r.height as usize)
                    .flat_map(|y| area[y * stride..y * stride + r.width as usize * 4].to_vec())
                    .collect();
                assert_eq!(rows, bytes(&want), "step {step}");
            }
        }
        assert!(s.strips.len() > 1, "no move split the strips");
        assert!(overlays > 20, "{overlays} reads over a deferred draw");
    }

    #[test]
    fn a_scroll_of_whole_strips_moves_slots_not_rows() {
        let (w, h) = (600u32, 400u32);
        let mut s = Surface::new(w, h);
        let rows: Vec<u32> = (0..w * h).map(|i| i / w).collect();
        s.draw(Rect::new(0, 0, w, h), &bytes(&rows), w as usize * 4);
        // A window in the middle scrolls up by 3 rows, then down by 5.
        let window = Rect::new(100, 20, 400, 360);
        s.copy_area(Rect::new(100, 23, 400, 357), 100, 20);
        assert_eq!(s.strips.len(), 3);
        let middle = &s.strips[1];
        assert_eq!((middle.x, middle.width), (100, 400));
        // Rows 20..377 hold rows 23..380, the 3 left behind keep theirs.
        for y in 0..h {
            let want = if (20..377).contains(&y) { y + 3 } else { y };
            assert_eq!(s.pixel(250, y), Some(want), "row {y}");
            assert_eq!(s.pixel(50, y), Some(y), "row {y}");
        }
        let slots_before = s.strips[1].slots.clone();
        s.copy_area(Rect::new(100, 20, 400, 355), 100, 25);
        assert_ne!(s.strips[1].slots, slots_before, "the slots did not turn");
        for y in window.y as u32..window.y as u32 + window.height {
            let want = match y {
                25..380 => y - 5 + 3,
                20..25 => y + 3,
                _ => y,
            };
            assert_eq!(s.pixel(250, y), Some(want), "row {y}");
        }
    }
}
