//! An appending little-endian writer over `Vec<u8>` with patchable `u32`
//! slots.
//!
//! SPICE pointer fields are `u32` offsets from the start of the message body
//! to data that the sender appends after the fixed part (spice-common's
//! marshaller writes a placeholder, appends "sub-marshallers" after the main
//! struct and fills the placeholder on flush). [`Writer::placeholder_u32`]
//! and [`Writer::point_here`] do the same. The body may start part-way into
//! the vector (after a header), so offsets are counted from where the writer
//! was created.

use super::error::{ProtocolError, Result};

/// A reserved 4-byte field, to be filled in later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot(usize);

/// Appends to a vector; offsets are relative to the vector's length when the
/// writer was created (the start of the message body).
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut Vec<u8>,
    base: usize,
}

impl<'a> Writer<'a> {
    /// A writer whose body starts at the current end of `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        let base = out.len();
        Writer { out, base }
    }

    /// Bytes written since the body start.
    pub fn len(&self) -> usize {
        self.out.len().saturating_sub(self.base)
    }

    /// True when nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The current body offset as a wire `u32`.
    pub fn offset(&self) -> Result<u32> {
        u32::try_from(self.len()).map_err(|_| ProtocolError::TooLong {
            field: "message body size",
            max: u64::from(u32::MAX),
            actual: self.len() as u64,
        })
    }

    pub fn bytes(&mut self, data: &[u8]) {
        self.out.extend_from_slice(data);
    }

    /// Appends `n` zero bytes (ping padding and the like).
    pub fn zeros(&mut self, n: usize) {
        self.out.resize(self.out.len().saturating_add(n), 0);
    }

    pub fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    pub fn i8(&mut self, v: i8) {
        self.bytes(&v.to_le_bytes());
    }

    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }

    pub fn i16(&mut self, v: i16) {
        self.bytes(&v.to_le_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    pub fn i32(&mut self, v: i32) {
        self.bytes(&v.to_le_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    pub fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }

    /// Writes a zero `u32` to be patched later (a NULL pointer until then).
    pub fn placeholder_u32(&mut self) -> Slot {
        let slot = Slot(self.out.len());
        self.u32(0);
        slot
    }

    /// Overwrites a slot made by [`Writer::placeholder_u32`].
    pub fn patch_u32(&mut self, slot: Slot, value: u32) {
        let end = slot.0.saturating_add(4);
        if let Some(dst) = self.out.get_mut(slot.0..end) {
            dst.copy_from_slice(&value.to_le_bytes());
        }
    }

    /// Points `slot` at the current body offset, i.e. at whatever is
    /// appended next.
    pub fn point_here(&mut self, slot: Slot) -> Result<()> {
        let off = self.offset()?;
        self.patch_u32(slot, off);
        Ok(())
    }
}

/// Converts a length to the `u32` a wire field holds, or says which field
/// overflowed.
pub fn len_u32(field: &'static str, len: usize) -> Result<u32> {
    u32::try_from(len).map_err(|_| ProtocolError::TooLong {
        field,
        max: u64::from(u32::MAX),
        actual: len as u64,
    })
}

/// Converts a count to a `u16` wire field.
pub fn len_u16(field: &'static str, len: usize) -> Result<u16> {
    u16::try_from(len).map_err(|_| ProtocolError::TooLong {
        field,
        max: u64::from(u16::MAX),
        actual: len as u64,
    })
}

/// Converts a count to a `u8` wire field.
pub fn len_u8(field: &'static str, len: usize) -> Result<u8> {
    u8::try_from(len).map_err(|_| ProtocolError::TooLong {
        field,
        max: u64::from(u8::MAX),
        actual: len as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_count_from_body_start() {
        let mut out = vec![0xaa; 6]; // pretend a mini header is already there
        let mut w = Writer::new(&mut out);
        w.u16(0x0102);
        let slot = w.placeholder_u32();
        w.u8(7);
        w.point_here(slot).unwrap();
        w.i32(-2);
        assert_eq!(w.len(), 11);
        assert_eq!(
            out,
            [0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 2, 1, 7, 0, 0, 0, 7, 0xfe, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn length_conversions() {
        assert_eq!(len_u8("n", 255), Ok(255));
        assert!(len_u8("n", 256).is_err());
        assert!(len_u16("n", 65536).is_err());
        assert_eq!(len_u32("n", 5), Ok(5));
    }

    #[test]
    fn patch_out_of_range_is_ignored() {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.patch_u32(Slot(100), 1);
        assert!(w.is_empty());
    }
}
