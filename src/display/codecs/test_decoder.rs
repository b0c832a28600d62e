//! Decoders for the tests, written from the format as spice-common's
//! `lz_decompress_tmpl.c` reads it, with every check it makes (an encoder
//! that passes them passes spice-gtk's).

use super::{ImageType, Pixels};

/// What the client's decoder must produce from `image`: B, G, R and 0
/// (RGB24, RGB32) or alpha (RGBA) per pixel.
pub fn expected(image: &Pixels<'_>) -> Vec<u8> {
    let bpp = image.kind.bytes_per_pixel();
    let mut out = Vec::new();
    for y in 0..image.height as usize {
        let row = &image.data[y * image.stride..][..image.width as usize * bpp];
        for p in row.chunks_exact(bpp) {
            let a = if image.kind == ImageType::Rgba {
                p[3]
            } else {
                0
            };
            out.extend_from_slice(&[p[0], p[1], p[2], a]);
        }
    }
    out
}

/// A decoded image: type, width, height, and B, G, R, A/X bytes per pixel
/// (X is 0, as the client's decoder writes it).
#[derive(Debug)]
pub struct Decoded {
    pub kind: u32,
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

struct Input<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| format!("input ends at {}", self.at))?;
        self.at += 1;
        Ok(b)
    }

    fn word(&mut self) -> Result<u32, String> {
        let mut w = 0u32;
        for _ in 0..4 {
            w = w << 8 | u32::from(self.byte()?);
        }
        Ok(w)
    }
}

/// Decodes one LZ stream into `out` (4 bytes a pixel): into bytes 0..3 for
/// the RGB stream, into byte 3 for the alpha one.
fn lz_stream(input: &mut Input<'_>, out: &mut [u8], alpha: bool) -> Result<(), String> {
    let limit = out.len() / 4;
    let mut op = 0usize;
    loop {
        let ctrl = u32::from(input.byte()?);
        if ctrl < 32 {
            let n = ctrl as usize + 1;
            if op + n > limit {
                return Err(format!("literals past the end at {op}"));
            }
            for _ in 0..n {
                if alpha {
                    out[op * 4 + 3] = input.byte()?;
                } else {
                    for c in 0..3 {
                        out[op * 4 + c] = input.byte()?;
                    }
                    out[op * 4 + 3] = 0;
                }
                op += 1;
            }
        } else {
            let mut len = (ctrl >> 5) as usize - 1;
            let mut ofs = ((ctrl & 31) << 8) as usize;
            if len == 6 {
                loop {
                    let code = input.byte()?;
                    len += code as usize;
                    if code != 255 {
                        break;
                    }
                }
            }
            let code = input.byte()? as usize;
            ofs += code;
            if code == 255 && ofs - code == 31 << 8 {
                ofs = (input.byte()? as usize) << 8;
                ofs += input.byte()? as usize;
                ofs += 8191;
            }
            len += if alpha { 3 } else { 1 };
            ofs += 1;
            if ofs > op {
                return Err(format!(
                    "copy from before the image at {op} (distance {ofs})"
                ));
            }
            if op + len > limit {
                return Err(format!("copy past the end at {op} (length {len})"));
            }
            let from = op - ofs;
            for k in 0..len {
                if alpha {
                    out[(op + k) * 4 + 3] = out[(from + k) * 4 + 3];
                } else {
                    for c in 0..3 {
                        out[(op + k) * 4 + c] = out[(from + k) * 4 + c];
                    }
                }
            }
            op += len;
        }
        if op >= limit {
            return Ok(());
        }
    }
}

/// Decodes an LZ_RGB image (RGB24, RGB32 or RGBA).
pub fn lz(bytes: &[u8]) -> Result<Decoded, String> {
    let mut input = Input { bytes, at: 0 };
    if input.word()? != 0x2020_5a4c {
        return Err("bad magic".into());
    }
    if input.word()? != 0x0001_0001 {
        return Err("bad version".into());
    }
    let kind = input.word()?;
    let width = input.word()?;
    let height = input.word()?;
    let _stride = input.word()?;
    if input.word()? != 1 {
        return Err("not top-down".into());
    }
    if !(7..=10).contains(&kind) {
        return Err(format!("type {kind}"));
    }
    let n = width as usize * height as usize;
    let mut pixels = vec![0u8; n * 4];
    // XXXA (10): the alpha stream alone, as JPEG_ALPHA carries it.
    if kind != 10 {
        lz_stream(&mut input, &mut pixels, false)?;
    }
    if kind >= 9 {
        lz_stream(&mut input, &mut pixels, true)?;
    }
    if input.at != bytes.len() {
        return Err(format!("{} bytes left over", bytes.len() - input.at));
    }
    Ok(Decoded {
        kind,
        width,
        height,
        pixels,
    })
}

/// A client's GLZ window, decoding images in the order they are given as
/// spice-gtk's `decode-glz.c` does, and stricter: ids must follow each
/// other, copies must stay inside the image they read, and nothing may
/// follow the streams.
#[derive(Default)]
pub struct GlzWindow {
    /// id → pixels (4 bytes each).
    pub images: std::collections::BTreeMap<u64, Vec<u8>>,
    /// The id the next image must have.
    pub next_id: u64,
}

impl GlzWindow {
    pub fn decode(&mut self, bytes: &[u8]) -> Result<Decoded, String> {
        let mut input = Input { bytes, at: 0 };
        if input.word()? != 0x2020_5a4c {
            return Err("bad magic".into());
        }
        if input.word()? != 0x0001_0001 {
            return Err("bad version".into());
        }
        let type_byte = input.byte()?;
        let kind = u32::from(type_byte & 0x0f);
        if type_byte >> 4 != 1 {
            return Err("not top-down".into());
        }
        if !(7..=9).contains(&kind) {
            return Err(format!("type {kind}"));
        }
        let width = input.word()?;
        let height = input.word()?;
        let _stride = input.word()?;
        let id = u64::from(input.word()?) << 32 | u64::from(input.word()?);
        let head_distance = u64::from(input.word()?);
        if id != self.next_id {
            return Err(format!("image {id}, {} expected", self.next_id));
        }
        if head_distance > id {
            return Err(format!("window head {head_distance} before image 0"));
        }
        let n = width as usize * height as usize;
        let mut pixels = vec![0u8; n * 4];
        self.stream(&mut input, &mut pixels, id, false)?;
        if kind == 9 {
            self.stream(&mut input, &mut pixels, id, true)?;
        }
        if input.at != bytes.len() {
            return Err(format!("{} bytes left over", bytes.len() - input.at));
        }
        self.images.insert(id, pixels.clone());
        self.next_id = id + 1;
        // spice-gtk drops what the newest image says is out of the window
        let oldest = id - head_distance;
        self.images.retain(|&i, _| i >= oldest);
        Ok(Decoded {
            kind,
            width,
            height,
            pixels,
        })
    }

    fn stream(
        &self,
        input: &mut Input<'_>,
        out: &mut [u8],
        id: u64,
        alpha: bool,
    ) -> Result<(), String> {
        let limit = out.len() / 4;
        let channels = if alpha { 3..4 } else { 0..3 };
        let mut op = 0usize;
        loop {
            let ctrl = input.byte()?;
            if ctrl < 32 {
                let n = ctrl as usize + 1;
                if op + n > limit {
                    return Err(format!("literals past the end at {op}"));
                }
                for _ in 0..n {
                    for c in channels.clone() {
                        out[op * 4 + c] = input.byte()?;
                    }
                    op += 1;
                }
            } else {
                let mut len = (ctrl >> 5) as usize;
                let long = ctrl >> 4 & 1 == 1;
                let mut ofs = (ctrl & 0x0f) as usize;
                if len == 7 {
                    loop {
                        let code = input.byte()?;
                        len += code as usize;
                        if code != 255 {
                            break;
                        }
                    }
                }
                ofs += (input.byte()? as usize) << 4;
                let code = input.byte()?;
                let extra = code >> 6;
                let mut distance: u64;
                if !long {
                    distance = u64::from(code & 0x3f);
                    for i in 0..extra {
                        distance += u64::from(input.byte()?) << (6 + 8 * u32::from(i));
                    }
                } else {
                    let very_long = code >> 5 & 1 == 1;
                    ofs += ((code & 0x1f) as usize) << 12;
                    distance = 0;
                    for i in 0..extra {
                        distance += u64::from(input.byte()?) << (8 * u32::from(i));
                    }
                    if very_long {
                        ofs += (input.byte()? as usize) << 17;
                    }
                }
                if alpha {
                    len += 2;
                }
                if op + len > limit {
                    return Err(format!("copy past the end at {op} (length {len})"));
                }
                if distance == 0 {
                    ofs += 1;
                    if ofs > op {
                        return Err(format!("copy from before the image at {op} ({ofs})"));
                    }
                    let from = op - ofs;
                    for k in 0..len {
                        for c in channels.clone() {
                            out[(op + k) * 4 + c] = out[(from + k) * 4 + c];
                        }
                    }
                } else {
                    if alpha {
                        return Err("alpha copy from another image".into());
                    }
                    let other = id
                        .checked_sub(distance)
                        .ok_or_else(|| format!("image distance {distance} from {id}"))?;
                    let src = self
                        .images
                        .get(&other)
                        .ok_or_else(|| format!("image {other} not in the window (at {id})"))?;
                    if (ofs + len) * 4 > src.len() {
                        return Err(format!("copy past the end of image {other}"));
                    }
                    for k in 0..len {
                        for c in channels.clone() {
                            out[(op + k) * 4 + c] = src[(ofs + k) * 4 + c];
                        }
                    }
                }
                op += len;
            }
            if op >= limit {
                return Ok(());
            }
        }
    }
}
