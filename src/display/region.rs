//! A thin safe wrapper over pixman's 32-bit regions: the dirty area that
//! each display channel client accumulates.

use std::mem::MaybeUninit;

use super::surface::Rect;

/// A set of pixels as y-x banded rectangles (pixman_region32_t).
pub struct Region {
    raw: pixman_sys::pixman_region32_t,
}

// SAFETY: a pixman region owns its heap data exclusively; moving it to
// another thread is fine, and &Region only reads.
unsafe impl Send for Region {}

impl Region {
    /// An empty region.
    pub fn new() -> Self {
        let mut raw = MaybeUninit::<pixman_sys::pixman_region32_t>::uninit();
        // SAFETY: pixman_region32_init fully initializes the struct.
        unsafe {
            pixman_sys::pixman_region32_init(raw.as_mut_ptr());
            Region {
                raw: raw.assume_init(),
            }
        }
    }

    /// Adds `rect` to the region.
    pub fn add(&mut self, rect: Rect) {
        if rect.is_empty() {
            return;
        }
        let raw = &mut self.raw as *mut _;
        // SAFETY: raw is an initialized region; source and destination may
        // alias in pixman's region API.
        unsafe {
            pixman_sys::pixman_region32_union_rect(
                raw,
                raw,
                rect.x,
                rect.y,
                rect.width.min(i32::MAX as u32),
                rect.height.min(i32::MAX as u32),
            );
        }
    }

    /// Removes `rect` from the region.
    pub fn subtract(&mut self, rect: Rect) {
        if rect.is_empty() {
            return;
        }
        let mut other = Region::new();
        other.add(rect);
        let raw = &mut self.raw as *mut _;
        // SAFETY: both regions are initialized; pixman allows the result to
        // alias the first operand.
        unsafe {
            pixman_sys::pixman_region32_subtract(raw, raw, &other.raw);
        }
    }

    /// Whether any pixel of `rect` is in the region.
    pub fn intersects(&self, rect: Rect) -> bool {
        if rect.is_empty() {
            return false;
        }
        let b = pixman_sys::pixman_box32 {
            x1: rect.x,
            y1: rect.y,
            x2: rect
                .x
                .saturating_add(rect.width.min(i32::MAX as u32) as i32),
            y2: rect
                .y
                .saturating_add(rect.height.min(i32::MAX as u32) as i32),
        };
        // SAFETY: raw is initialized; the box is a plain value.
        let overlap = unsafe {
            pixman_sys::pixman_region32_contains_rectangle(&self.raw as *const _ as *mut _, &b)
        };
        overlap != pixman_sys::pixman_region_overlap_t_PIXMAN_REGION_OUT
    }

    /// Whether the region is empty.
    pub fn is_empty(&self) -> bool {
        // SAFETY: raw is an initialized region.
        unsafe { pixman_sys::pixman_region32_not_empty(&self.raw) == 0 }
    }

    /// Empties the region.
    pub fn clear(&mut self) {
        // SAFETY: raw is an initialized region.
        unsafe { pixman_sys::pixman_region32_clear(&mut self.raw) }
    }

    /// The region's rectangles, banded top to bottom, left to right.
    pub fn rects(&self) -> Vec<Rect> {
        let mut n = 0;
        // SAFETY: raw is initialized; the returned pointer is valid for n
        // boxes until the region is next modified, and we copy them out now.
        let boxes = unsafe {
            let ptr = pixman_sys::pixman_region32_rectangles(&self.raw, &mut n);
            if ptr.is_null() || n <= 0 {
                return Vec::new();
            }
            std::slice::from_raw_parts(ptr, n as usize)
        };
        boxes
            .iter()
            .map(|b| Rect::new(b.x1, b.y1, (b.x2 - b.x1) as u32, (b.y2 - b.y1) as u32))
            .collect()
    }
}

impl Default for Region {
    fn default() -> Self {
        Region::new()
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: raw was initialized in new() and is finalized once.
        unsafe { pixman_sys::pixman_region32_fini(&mut self.raw) }
    }
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.rects()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_coalesces() {
        let mut r = Region::new();
        assert!(r.is_empty());
        r.add(Rect::new(0, 0, 10, 10));
        r.add(Rect::new(10, 0, 10, 10));
        r.add(Rect::new(5, 5, 2, 2));
        assert_eq!(r.rects(), vec![Rect::new(0, 0, 20, 10)]);
        r.add(Rect::new(0, 20, 1, 1));
        assert_eq!(r.rects().len(), 2);
        assert!(r.intersects(Rect::new(19, 9, 5, 5)));
        assert!(!r.intersects(Rect::new(20, 0, 5, 5)));
        r.subtract(Rect::new(0, 0, 10, 10));
        assert_eq!(
            r.rects(),
            vec![Rect::new(10, 0, 10, 10), Rect::new(0, 20, 1, 1)]
        );
        r.clear();
        assert!(r.is_empty());
    }
}
