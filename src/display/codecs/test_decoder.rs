//! Decoders for the tests, written from the format as spice-common's
//! `lz_decompress_tmpl.c` reads it, with every check it makes (an encoder
//! that passes them passes spice-gtk's).

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
    if !(7..=9).contains(&kind) {
        return Err(format!("type {kind}"));
    }
    let n = width as usize * height as usize;
    let mut pixels = vec![0u8; n * 4];
    lz_stream(&mut input, &mut pixels, false)?;
    if kind == 9 {
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
