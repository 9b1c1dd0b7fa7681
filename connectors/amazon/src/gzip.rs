//! Gzip (RFC 1952) around DEFLATE (RFC 1951): reading the processing reports
//! Amazon hands out with `compressionAlgorithm: GZIP`, and writing stored
//! (uncompressed) gzip for the simulator. Small and self-contained because
//! reports are small and the workspace has no compression crate.

/// The most a document may inflate to (a guard against gzip bombs).
const MAX_OUTPUT: usize = 256 * 1024 * 1024;

/// A gzip stream that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gzip: {0}")]
pub struct GzipError(pub String);

fn fail<T>(msg: impl Into<String>) -> Result<T, GzipError> {
    Err(GzipError(msg.into()))
}

/// CRC-32 (IEEE, reflected), as gzip's trailer has it.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Decompresses every member of a gzip stream.
pub fn gunzip(data: &[u8]) -> Result<Vec<u8>, GzipError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        pos = member(data, pos, &mut out)?;
    }
    if out.is_empty() && data.is_empty() {
        return fail("empty stream");
    }
    Ok(out)
}

/// Reads one member starting at `pos`; returns where the next one starts.
fn member(data: &[u8], mut pos: usize, out: &mut Vec<u8>) -> Result<usize, GzipError> {
    let header = data
        .get(pos..pos + 10)
        .ok_or(GzipError("truncated header".into()))?;
    if header[0] != 0x1f || header[1] != 0x8b {
        return fail("not a gzip stream");
    }
    if header[2] != 8 {
        return fail(format!("compression method {} is not deflate", header[2]));
    }
    let flags = header[3];
    pos += 10;
    if flags & 0x04 != 0 {
        let len = data
            .get(pos..pos + 2)
            .ok_or(GzipError("truncated extra field".into()))?;
        pos += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [0x08, 0x10] {
        if flags & flag != 0 {
            let end = data
                .get(pos..)
                .and_then(|rest| rest.iter().position(|&b| b == 0))
                .ok_or(GzipError("unterminated header string".into()))?;
            pos += end + 1;
        }
    }
    if flags & 0x02 != 0 {
        pos += 2;
    }
    if pos > data.len() {
        return fail("truncated header");
    }
    let start = out.len();
    let mut inflater = Inflater {
        input: BitReader::new(&data[pos..]),
        out,
    };
    inflater.run()?;
    let consumed = inflater.input.consumed();
    pos += consumed;
    let trailer = data
        .get(pos..pos + 8)
        .ok_or(GzipError("truncated trailer".into()))?;
    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    let produced = &out[start..];
    if crc32(produced) != crc {
        return fail("CRC mismatch");
    }
    if produced.len() as u32 != size {
        return fail("length mismatch");
    }
    Ok(pos + 8)
}

/// Writes `data` as one gzip member of stored DEFLATE blocks.
pub fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(0xffff).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let len = chunk.len() as u16;
        out.push(u8::from(last));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    bitbuf: u64,
    bitcnt: u32,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        BitReader {
            data,
            pos: 0,
            bitbuf: 0,
            bitcnt: 0,
        }
    }

    fn bits(&mut self, n: u32) -> Result<u32, GzipError> {
        while self.bitcnt < n {
            let byte = *self
                .data
                .get(self.pos)
                .ok_or(GzipError("truncated deflate stream".into()))?;
            self.pos += 1;
            self.bitbuf |= u64::from(byte) << self.bitcnt;
            self.bitcnt += 8;
        }
        let v = (self.bitbuf & ((1u64 << n) - 1)) as u32;
        self.bitbuf >>= n;
        self.bitcnt -= n;
        Ok(v)
    }

    /// Drops the bits left in the current byte.
    fn align(&mut self) {
        let drop = self.bitcnt % 8;
        self.bitbuf >>= drop;
        self.bitcnt -= drop;
    }

    fn byte(&mut self) -> Result<u8, GzipError> {
        if self.bitcnt >= 8 {
            return Ok(self.bits(8)? as u8);
        }
        let b = *self
            .data
            .get(self.pos)
            .ok_or(GzipError("truncated stored block".into()))?;
        self.pos += 1;
        Ok(b)
    }

    /// Bytes of input used, once the stream is aligned.
    fn consumed(&self) -> usize {
        self.pos - (self.bitcnt / 8) as usize
    }
}

/// A canonical Huffman code: code counts per length and symbols in order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Result<Huffman, GzipError> {
        let mut counts = [0u16; 16];
        for &l in lengths {
            counts[usize::from(l)] += 1;
        }
        counts[0] = 0;
        let mut left: i32 = 1;
        for &c in &counts[1..] {
            left = (left << 1) - i32::from(c);
            if left < 0 {
                return fail("over-subscribed Huffman code");
            }
        }
        let mut offsets = [0u16; 16];
        for len in 1..15 {
            offsets[len + 1] = offsets[len] + counts[len];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (sym, &l) in lengths.iter().enumerate() {
            if l != 0 {
                symbols[usize::from(offsets[usize::from(l)])] = sym as u16;
                offsets[usize::from(l)] += 1;
            }
        }
        Ok(Huffman { counts, symbols })
    }

    fn decode(&self, r: &mut BitReader<'_>) -> Result<u16, GzipError> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= r.bits(1)? as i32;
            let count = i32::from(self.counts[len]);
            if code - first < count {
                return Ok(self.symbols[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        fail("invalid Huffman code")
    }
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order code-length code lengths are sent in.
const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

struct Inflater<'a, 'o> {
    input: BitReader<'a>,
    out: &'o mut Vec<u8>,
}

impl Inflater<'_, '_> {
    fn run(&mut self) -> Result<(), GzipError> {
        loop {
            let last = self.input.bits(1)? == 1;
            match self.input.bits(2)? {
                0 => self.stored()?,
                1 => {
                    let (lit, dist) = fixed_codes()?;
                    self.codes(&lit, &dist)?;
                }
                2 => {
                    let (lit, dist) = self.dynamic_codes()?;
                    self.codes(&lit, &dist)?;
                }
                _ => return fail("invalid block type"),
            }
            if last {
                self.input.align();
                return Ok(());
            }
        }
    }

    fn stored(&mut self) -> Result<(), GzipError> {
        self.input.align();
        let mut b = [0u8; 4];
        for x in &mut b {
            *x = self.input.byte()?;
        }
        let len = u16::from_le_bytes([b[0], b[1]]);
        let nlen = u16::from_le_bytes([b[2], b[3]]);
        if len != !nlen {
            return fail("stored block length check failed");
        }
        self.reserve(usize::from(len))?;
        for _ in 0..len {
            let byte = self.input.byte()?;
            self.out.push(byte);
        }
        Ok(())
    }

    fn dynamic_codes(&mut self) -> Result<(Huffman, Huffman), GzipError> {
        let nlen = self.input.bits(5)? as usize + 257;
        let ndist = self.input.bits(5)? as usize + 1;
        let ncode = self.input.bits(4)? as usize + 4;
        if nlen > 286 || ndist > 30 {
            return fail("bad code counts");
        }
        let mut cl = [0u8; 19];
        for &i in &CL_ORDER[..ncode] {
            cl[i] = self.input.bits(3)? as u8;
        }
        let clcode = Huffman::new(&cl)?;
        let mut lengths = vec![0u8; nlen + ndist];
        let mut i = 0;
        while i < nlen + ndist {
            let sym = clcode.decode(&mut self.input)?;
            if sym < 16 {
                lengths[i] = sym as u8;
                i += 1;
                continue;
            }
            let (value, repeat) = match sym {
                16 => {
                    if i == 0 {
                        return fail("repeat with no previous length");
                    }
                    (lengths[i - 1], 3 + self.input.bits(2)?)
                }
                17 => (0, 3 + self.input.bits(3)?),
                _ => (0, 11 + self.input.bits(7)?),
            };
            let repeat = repeat as usize;
            if i + repeat > nlen + ndist {
                return fail("too many code lengths");
            }
            lengths[i..i + repeat].fill(value);
            i += repeat;
        }
        if lengths[256] == 0 {
            return fail("no end-of-block code");
        }
        Ok((
            Huffman::new(&lengths[..nlen])?,
            Huffman::new(&lengths[nlen..])?,
        ))
    }

    fn reserve(&self, more: usize) -> Result<(), GzipError> {
        if self.out.len() + more > MAX_OUTPUT {
            return fail("document inflates beyond the size limit");
        }
        Ok(())
    }

    fn codes(&mut self, lit: &Huffman, dist: &Huffman) -> Result<(), GzipError> {
        loop {
            let sym = lit.decode(&mut self.input)?;
            match sym {
                0..=255 => {
                    self.reserve(1)?;
                    self.out.push(sym as u8);
                }
                256 => return Ok(()),
                _ => {
                    let i = usize::from(sym - 257);
                    if i >= LEN_BASE.len() {
                        return fail("bad length symbol");
                    }
                    let len = usize::from(LEN_BASE[i])
                        + self.input.bits(u32::from(LEN_EXTRA[i]))? as usize;
                    let d = usize::from(dist.decode(&mut self.input)?);
                    if d >= DIST_BASE.len() {
                        return fail("bad distance symbol");
                    }
                    let back = usize::from(DIST_BASE[d])
                        + self.input.bits(u32::from(DIST_EXTRA[d]))? as usize;
                    if back > self.out.len() {
                        return fail("distance beyond the output");
                    }
                    self.reserve(len)?;
                    let from = self.out.len() - back;
                    for k in 0..len {
                        let b = self.out[from + k];
                        self.out.push(b);
                    }
                }
            }
        }
    }
}

fn fixed_codes() -> Result<(Huffman, Huffman), GzipError> {
    let mut lengths = [0u8; 288];
    lengths[..144].fill(8);
    lengths[144..256].fill(9);
    lengths[256..280].fill(7);
    lengths[280..].fill(8);
    Ok((Huffman::new(&lengths)?, Huffman::new(&[5u8; 30])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn crc32_matches_the_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn stored_gzip_round_trips() {
        for data in [&b""[..], b"hello", &vec![7u8; 200_000]] {
            assert_eq!(gunzip(&gzip_stored(data)).unwrap(), data);
        }
    }

    #[test]
    fn corrupt_streams_are_refused() {
        let mut z = gzip_stored(b"hello world");
        let n = z.len();
        z[n - 6] ^= 1;
        assert!(gunzip(&z).is_err(), "CRC");
        assert!(gunzip(b"plain text").is_err());
        assert!(gunzip(&gzip_stored(b"abc")[..12]).is_err(), "truncated");
    }

    /// Vectors from Python's `gzip.compress(..., mtime=0)`: a short text
    /// (fixed Huffman codes) and a longer one (dynamic codes, back-references).
    #[test]
    fn python_gzip_vectors_inflate() {
        let fixed = unhex(
            "1f8b0800000000000203cb48cdc9c957c840277514127313abf2f314d25253538a01a7608e2e25000000",
        );
        assert_eq!(fixed[10] >> 1 & 3, 1, "fixed Huffman block");
        assert_eq!(
            gunzip(&fixed).unwrap(),
            b"hello hello hello hello, amazon feeds"
        );
        let dynamic = unhex(concat!(
            "1f8b080000000000020395dabd6a95411485e17b397584d97bcfafbd855808112f403088888d514182f76eca",
            "6f05847795094c332b9387bc274fb7ef0f8f8f9fbe3cbcfd7c7bddee6e8fdf7edd5edf3ebcfbf8aadd9ebf7a",
            "f8fdf0e3ebcf3fcfdf7a737ffffefef6f7eee97a20ae07021cc8eb810407ea7aa0c0817e3dd0c181713d30c0",
            "81793d30c181753db0c0817d3db0c181733d70c8703275a0ad756cb276c8dc41f60e193cc8e2219307d93c64",
            "f420ab87cc1e64f790e1832c1f327d90ed43c60fb27ecafa49d64f593fd15bd7c74ed64f593fc9fa29eb2759",
            "3f65fd24eba7ac9f64fd94f593ac9fb27e92f553d64fb27ec9fa45d62f59bfc8fa25eb17fa5dafbfecc9fa25",
            "eb1759bf64fd22eb97ac5f64fd5aaea5b55d4cebb89af666731aaea73d5d507bb9a2f6ee92da876b6a9f2eaa",
            "7dd9a8f66da3da8f8dea6836aa236c5447daa88eb2511ddd46750c1bd5316d54c7b2511ddb46751c1bd5d96c",
            "5467d8a8ceb4519d65a33abb8dea1c36aa73daa8ce65a33ab78dea3c36aaabd9a8aeb0515d69a3baca467575",
            "17d5355c54d774515dcb45756d17d5755c54777351dd61ff9d9a2eaabb5c5477b751ddc346754f1bd5bd6c54",
            "f7b651ddc746f5341bd51336aa276d544fd9a89e6ea37a868dea9936aa67d9a89e6da37a8e8d6ab466ab1a2d",
            "6c56a3a5ed6ab4b2618dd66d59a30d9bd668d3b635dab2718db66d5da31d9bd7d0c4877c0d6d7cac0aa62b6c",
            "68e34317ad8d0fddb3363e74cddaf8d82d2f97d9d0c687de9a363ef4d4b4f1a197a68d8f45618d7cb00a979f",
            "8535f3b12eac9d8f85610d7dac0c6be9636958531f6bc3dafa581cd6d887cc0dad7d08ddd0dc87d40ded7dc9",
            "3e1ee8b6bba1c50fc11b9afc98bcdafc98bc5afd98bc2fba1ffa39d0f2c7e4d5f6c7e4d5fac7e4d5fec7e4d5",
            "02c8e4d506c8e4d50ac8e4d50ec8e4d510c8aefad8f26a084417ad2110ddb38640f6795cd9f26a084497ac21",
            "10bd350d81e8a96908442f4d432093574b209357532093575b209357632093576b20fc4cb6fbf26a0f64f26a",
            "1064f26a1164f26a1264f26a1364f26a1464f26a1564f26a1664f26a1764f26a1864f26a1a64f2be8883e8e7",
            "40f3209357032193571321935723219357332193574321935753219357632193576b21baea17b5101d59b6bc",
            "5a0bd93d1f5b5ead85e896b516a24bd65a88de9ad642f69f30dd96576b219357732193577b21935783219357",
            "8be1ffe4fd070a99230af6270000",
        ));
        assert_eq!(dynamic[10] >> 1 & 3, 2, "dynamic Huffman block");
        let expected: String = (0..200)
            .map(|i| {
                format!(
                    "{{\"messageId\":{i},\"sku\":\"SKU-{}\",\"severity\":\"ERROR\"}},",
                    i % 37
                )
            })
            .collect();
        assert_eq!(gunzip(&dynamic).unwrap(), expected.as_bytes());
    }
}
