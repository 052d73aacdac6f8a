//! HPACK (RFC 7541): a full decoder (Huffman, dynamic table, size updates) and the small encoder
//! the client needs (static-table indices and literals, no Huffman, no dynamic table).
//!
//! The decoder never panics and never reads past its input: every integer is bounded (at most
//! 2^32 - 1 and five continuation bytes), every string length is checked against the bytes left,
//! every index against the tables, and a dynamic table size update above the limit we announced
//! (or anywhere but at the start of a block) is an error. Its memory is bounded by that limit
//! plus two scratch buffers for Huffman-decoded strings, which keep their capacity between
//! blocks. Strings that are not Huffman-coded reach the callback as slices of the block itself.
//!
//! Huffman decoding walks the canonical code (RFC 7541 Appendix B, which `huffman.rs` copies):
//! codes of one length are consecutive numbers, so the symbol of an `n`-bit prefix is found by
//! comparing it with the first code past the `n`-bit ones, shortest length first. The tables it
//! uses are computed from the RFC's table at compile time.

use std::collections::VecDeque;
use std::fmt;

use super::frame::{code, H2Error};
use super::huffman::CODES;

/// Why a header block was rejected: a COMPRESSION_ERROR for the connection. Small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HpackError {
    /// An integer or a string ran past the end of the block.
    Truncated,
    /// An integer above 2^32 - 1, or longer than five continuation bytes.
    IntegerOverflow,
    /// Index 0, or an index past the static and dynamic tables.
    BadIndex,
    /// A Huffman string with EOS in it, padding longer than 7 bits, or padding not all ones.
    BadHuffman,
    /// A dynamic table size update above our SETTINGS_HEADER_TABLE_SIZE.
    TableSizeTooLarge,
    /// A dynamic table size update after a header field of the block.
    LateSizeUpdate,
}

impl HpackError {
    pub fn describe(self) -> &'static str {
        match self {
            HpackError::Truncated => "HPACK block ends in the middle of a field",
            HpackError::IntegerOverflow => "HPACK integer too large",
            HpackError::BadIndex => "HPACK index not in the tables",
            HpackError::BadHuffman => "malformed HPACK Huffman string",
            HpackError::TableSizeTooLarge => "HPACK table size update above SETTINGS_HEADER_TABLE_SIZE",
            HpackError::LateSizeUpdate => "HPACK table size update after a header field",
        }
    }
}

impl fmt::Display for HpackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

impl std::error::Error for HpackError {}

impl From<HpackError> for H2Error {
    fn from(e: HpackError) -> H2Error {
        H2Error { code: code::COMPRESSION_ERROR, what: e.describe() }
    }
}

/// RFC 7541 Appendix A: the static table, index 1 first.
pub const STATIC_TABLE: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// Bytes an entry counts for in the table size besides its name and value (RFC 7541 §4.1).
const ENTRY_OVERHEAD: usize = 32;
/// At most this many continuation bytes follow an integer's prefix: 5 × 7 bits cover 2^32.
const INTEGER_CONTINUATIONS_MAX: u32 = 5;

/// One dynamic table entry: name and value in one allocation.
#[derive(Debug, Clone)]
struct Entry {
    bytes: Box<[u8]>,
    name_len: usize,
}

impl Entry {
    fn name(&self) -> &[u8] {
        &self.bytes[..self.name_len]
    }

    fn value(&self) -> &[u8] {
        &self.bytes[self.name_len..]
    }

    fn size(&self) -> usize {
        self.bytes.len() + ENTRY_OVERHEAD
    }
}

/// The decoding state of one connection: its dynamic table and the limits on it.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// Newest first: dynamic index 62 is `table[0]`.
    table: VecDeque<Entry>,
    /// Sum of the entries' sizes; at most `max_size`.
    size: usize,
    /// The table size the encoder chose (by a size update), at most `limit`.
    max_size: usize,
    /// Our SETTINGS_HEADER_TABLE_SIZE: the most a size update may ask for.
    limit: usize,
    /// Huffman-decoded names and values, reused across fields and blocks.
    name_buf: Vec<u8>,
    value_buf: Vec<u8>,
}

impl Decoder {
    /// `max_table_size`: the SETTINGS_HEADER_TABLE_SIZE we announce (4096 unless we send
    /// another); the encoder's table starts at that size.
    pub fn new(max_table_size: usize) -> Decoder {
        Decoder {
            table: VecDeque::new(),
            size: 0,
            max_size: max_table_size,
            limit: max_table_size,
            name_buf: Vec::new(),
            value_buf: Vec::new(),
        }
    }

    /// Decodes one complete header block (the HEADERS and CONTINUATION contents joined) and
    /// calls `on_header(name, value)` per field, in order. On an error some fields may have been
    /// reported and the table changed: the connection is done for (COMPRESSION_ERROR).
    pub fn decode(&mut self, block: &[u8], on_header: &mut dyn FnMut(&[u8], &[u8])) -> Result<(), HpackError> {
        let mut pos = 0;
        let mut fields_seen = false;
        while let Some(&first) = block.get(pos) {
            if first & 0x80 != 0 {
                // Indexed header field (§6.1).
                let index = integer(block, &mut pos, 7)?;
                let (name, value) = self.field(index)?;
                on_header(name, value);
                fields_seen = true;
            } else if first & 0x40 != 0 {
                // Literal with incremental indexing (§6.2.1).
                self.literal(block, &mut pos, 6, true, on_header)?;
                fields_seen = true;
            } else if first & 0x20 != 0 {
                // Dynamic table size update (§6.3): only before the block's first field (§4.2).
                if fields_seen {
                    return Err(HpackError::LateSizeUpdate);
                }
                let size = integer(block, &mut pos, 5)?;
                if size > self.limit {
                    return Err(HpackError::TableSizeTooLarge);
                }
                self.max_size = size;
                self.evict_to(size);
            } else {
                // Literal without indexing (0000) or never indexed (0001) (§6.2.2, §6.2.3).
                self.literal(block, &mut pos, 4, false, on_header)?;
                fields_seen = true;
            }
        }
        Ok(())
    }

    /// Number of entries in the dynamic table.
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// The dynamic table's size as RFC 7541 §4.1 counts it.
    pub fn table_size(&self) -> usize {
        self.size
    }

    fn literal(
        &mut self,
        block: &[u8],
        pos: &mut usize,
        prefix_bits: u32,
        add: bool,
        on_header: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), HpackError> {
        let index = integer(block, pos, prefix_bits)?;
        let Decoder { table, name_buf, value_buf, .. } = self;
        let name = match index {
            0 => string(block, pos, name_buf)?,
            i => lookup(table, i)?.0,
        };
        let value = string(block, pos, value_buf)?;
        on_header(name, value);
        if add {
            let mut bytes = Vec::with_capacity(name.len() + value.len());
            bytes.extend_from_slice(name);
            bytes.extend_from_slice(value);
            let name_len = name.len();
            self.insert(Entry { bytes: bytes.into_boxed_slice(), name_len });
        }
        Ok(())
    }

    fn field(&self, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
        lookup(&self.table, index)
    }

    /// Adds an entry, evicting the oldest to make room; an entry larger than the whole table
    /// empties it and is not added (§4.4).
    fn insert(&mut self, entry: Entry) {
        let size = entry.size();
        if size > self.max_size {
            self.table.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.max_size - size);
        self.size += size;
        self.table.push_front(entry);
        debug_assert!(self.size <= self.max_size);
    }

    fn evict_to(&mut self, size: usize) {
        while self.size > size {
            match self.table.pop_back() {
                Some(old) => self.size -= old.size(),
                None => {
                    debug_assert!(false, "table size {} with no entries", self.size);
                    self.size = 0;
                }
            }
        }
    }
}

/// Static then dynamic table: index 1..=61 static, 62.. dynamic, newest first.
#[inline]
fn lookup(table: &VecDeque<Entry>, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
    match index {
        0 => Err(HpackError::BadIndex),
        1..=61 => Ok(STATIC_TABLE[index - 1]),
        _ => table.get(index - 62).map(|e| (e.name(), e.value())).ok_or(HpackError::BadIndex),
    }
}

/// An integer with an N-bit prefix (§5.1) starting at `block[*pos]`, which must exist.
#[inline]
fn integer(block: &[u8], pos: &mut usize, prefix_bits: u32) -> Result<usize, HpackError> {
    let mask = (1u32 << prefix_bits) - 1;
    let first = u32::from(block[*pos]) & mask;
    *pos += 1;
    if first < mask {
        return Ok(first as usize);
    }
    let mut value = u64::from(mask);
    let mut shift = 0;
    for _ in 0..INTEGER_CONTINUATIONS_MAX {
        let &b = block.get(*pos).ok_or(HpackError::Truncated)?;
        *pos += 1;
        value += u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return u32::try_from(value).map(|v| v as usize).map_err(|_| HpackError::IntegerOverflow);
        }
        shift += 7;
    }
    Err(HpackError::IntegerOverflow)
}

/// A string literal (§5.2) at `block[*pos]`: a slice of the block, or Huffman-decoded into
/// `scratch`.
#[inline]
fn string<'a>(block: &'a [u8], pos: &mut usize, scratch: &'a mut Vec<u8>) -> Result<&'a [u8], HpackError> {
    let &first = block.get(*pos).ok_or(HpackError::Truncated)?;
    let len = integer(block, pos, 7)?;
    let bytes = block.get(*pos..).and_then(|rest| rest.get(..len)).ok_or(HpackError::Truncated)?;
    *pos += len;
    if first & 0x80 == 0 {
        return Ok(bytes);
    }
    scratch.clear();
    huffman_decode(bytes, scratch)?;
    Ok(scratch)
}

/// The canonical form of the Appendix B code, by code length `n` (index 0..=30):
/// `limit[n]`, one past the last `n`-bit code; `first[n]`, the first `n`-bit code; `offset[n]`,
/// where the `n`-bit codes' symbols start in `symbols` (sorted by code).
struct Canonical {
    limit: [u32; 31],
    first: [u32; 31],
    offset: [u16; 31],
    symbols: [u16; 257],
}

const CANONICAL: Canonical = canonical();
const CODE_LEN_MIN: u32 = 5;
const CODE_LEN_MAX: u32 = 30;
const EOS: u16 = 256;

const fn canonical() -> Canonical {
    let mut c = Canonical { limit: [0; 31], first: [0; 31], offset: [0; 31], symbols: [0; 257] };
    let mut next_code = 0u32;
    let mut k = 0;
    let mut len = 1;
    while len <= 30 {
        c.first[len] = next_code;
        c.offset[len] = k as u16;
        let mut sym = 0;
        while sym < 257 {
            if CODES[sym].1 as usize == len {
                // Canonical: the RFC's codes of one length are consecutive, in symbol order.
                assert!(CODES[sym].0 == next_code, "Appendix B code is not canonical");
                c.symbols[k] = sym as u16;
                k += 1;
                next_code += 1;
            }
            sym += 1;
        }
        c.limit[len] = next_code;
        next_code <<= 1;
        len += 1;
    }
    assert!(k == 257, "every symbol has a code of 1..=30 bits");
    c
}

/// Appends the Huffman decoding of `src` to `dst` (§5.2): EOS in the string, padding longer
/// than 7 bits, or padding that is not the most significant bits of EOS (all ones) is an error.
fn huffman_decode(src: &[u8], dst: &mut Vec<u8>) -> Result<(), HpackError> {
    let c = &CANONICAL;
    // `bits` unread bits sit at the bottom of `acc`; at most 29 + 8 of them, so a u64 holds them.
    let mut acc = 0u64;
    let mut bits = 0u32;
    dst.reserve(src.len() * 8 / CODE_LEN_MIN as usize);
    for &byte in src {
        acc = (acc << 8) | u64::from(byte);
        bits += 8;
        'symbols: while bits >= CODE_LEN_MIN {
            let mut len = CODE_LEN_MIN;
            while len <= bits.min(CODE_LEN_MAX) {
                let prefix = ((acc >> (bits - len)) as u32) & ((1u32 << len) - 1);
                if prefix < c.limit[len as usize] {
                    let sym = c.symbols[c.offset[len as usize] as usize + (prefix - c.first[len as usize]) as usize];
                    if sym == EOS {
                        return Err(HpackError::BadHuffman);
                    }
                    dst.push(sym as u8);
                    bits -= len;
                    continue 'symbols;
                }
                len += 1;
            }
            // No code fits in the bits we have: the code is complete, so there are fewer than 30.
            debug_assert!(bits < CODE_LEN_MAX);
            break;
        }
    }
    let pad_mask = (1u64 << bits) - 1;
    if bits > 7 || acc & pad_mask != pad_mask {
        return Err(HpackError::BadHuffman);
    }
    Ok(())
}

/// Encodes a header list for a request: a field in the static table whole is its index; a field
/// whose name is there is a literal without indexing with that name's index; any other is a
/// literal without indexing with a literal name. No Huffman, no dynamic table, so the bytes are
/// the same for every request and a client encodes its requests once. Names are lowercased, as
/// HTTP/2 requires (RFC 9113 §8.2.1).
pub fn encode(headers: &[(&[u8], &[u8])], out: &mut Vec<u8>) {
    let mut name = Vec::new();
    for &(raw_name, value) in headers {
        name.clear();
        name.extend(raw_name.iter().map(u8::to_ascii_lowercase));
        let whole = STATIC_TABLE.iter().position(|&(n, v)| n == &name[..] && v == value);
        if let Some(i) = whole {
            encode_integer(out, 0x80, 7, i + 1);
            continue;
        }
        match STATIC_TABLE.iter().position(|&(n, _)| n == &name[..]) {
            Some(i) => encode_integer(out, 0x00, 4, i + 1),
            None => {
                out.push(0x00);
                encode_string(out, &name);
            }
        }
        encode_string(out, value);
    }
}

/// An integer with an N-bit prefix (§5.1); `flags` holds the bits above the prefix.
pub(crate) fn encode_integer(out: &mut Vec<u8>, flags: u8, prefix_bits: u32, value: usize) {
    let mask = (1usize << prefix_bits) - 1;
    if value < mask {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | mask as u8);
    let mut rest = value - mask;
    while rest >= 0x80 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// A string literal without Huffman coding.
fn encode_string(out: &mut Vec<u8>, s: &[u8]) {
    encode_integer(out, 0x00, 7, s.len());
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    fn decode(d: &mut Decoder, block: &[u8]) -> Result<Vec<(String, String)>, HpackError> {
        let mut out = Vec::new();
        d.decode(block, &mut |n, v| {
            out.push((String::from_utf8_lossy(n).into_owned(), String::from_utf8_lossy(v).into_owned()))
        })?;
        Ok(out)
    }

    /// Decodes `blocks` in turn with one decoder, checking the fields and the table size after
    /// each, and returns the final table, newest first.
    /// One step of an Appendix C example: the block in hex, the fields, the table size after.
    type Step<'a> = (&'a str, &'a [(&'a str, &'a str)], usize);

    fn check(table_size: usize, steps: &[Step]) -> Vec<(String, String)> {
        let mut d = Decoder::new(table_size);
        for (i, &(block, fields, size)) in steps.iter().enumerate() {
            let got = decode(&mut d, &hex(block)).unwrap_or_else(|e| panic!("block {i}: {e}"));
            let want: Vec<(String, String)> = fields.iter().map(|&(n, v)| (n.into(), v.into())).collect();
            assert_eq!(got, want, "block {i}");
            assert_eq!(d.table_size(), size, "table size after block {i}");
        }
        d.table
            .iter()
            .map(|e| (String::from_utf8_lossy(e.name()).into_owned(), String::from_utf8_lossy(e.value()).into_owned()))
            .collect()
    }

    fn table(entries: &[(&str, &str)]) -> Vec<(String, String)> {
        entries.iter().map(|&(n, v)| (n.into(), v.into())).collect()
    }

    #[test]
    fn c2_1_literal_with_indexing() {
        let t = check(
            4096,
            &[(
                "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
                &[("custom-key", "custom-header")],
                55,
            )],
        );
        assert_eq!(t, table(&[("custom-key", "custom-header")]));
    }

    #[test]
    fn c2_2_literal_without_indexing() {
        let t = check(4096, &[("040c 2f73 616d 706c 652f 7061 7468", &[(":path", "/sample/path")], 0)]);
        assert!(t.is_empty());
    }

    #[test]
    fn c2_3_literal_never_indexed() {
        let t = check(4096, &[("1008 7061 7373 776f 7264 0673 6563 7265 74", &[("password", "secret")], 0)]);
        assert!(t.is_empty());
    }

    #[test]
    fn c2_4_indexed() {
        assert!(check(4096, &[("82", &[(":method", "GET")], 0)]).is_empty());
    }

    const C3_FIELDS: [&[(&str, &str)]; 3] = [
        &[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")],
        &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
            ("cache-control", "no-cache"),
        ],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ],
    ];
    const C3_TABLE: [(&str, &str); 3] =
        [("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")];

    #[test]
    fn c3_requests_without_huffman() {
        let t = check(
            4096,
            &[
                ("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", C3_FIELDS[0], 57),
                ("8286 84be 5808 6e6f 2d63 6163 6865", C3_FIELDS[1], 110),
                ("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65", C3_FIELDS[2], 164),
            ],
        );
        assert_eq!(t, table(&C3_TABLE));
    }

    #[test]
    fn c4_requests_with_huffman() {
        let t = check(
            4096,
            &[
                ("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", C3_FIELDS[0], 57),
                ("8286 84be 5886 a8eb 1064 9cbf", C3_FIELDS[1], 110),
                ("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", C3_FIELDS[2], 164),
            ],
        );
        assert_eq!(t, table(&C3_TABLE));
    }

    const DATE_21: &str = "Mon, 21 Oct 2013 20:13:21 GMT";
    const DATE_22: &str = "Mon, 21 Oct 2013 20:13:22 GMT";
    const LOCATION: &str = "https://www.example.com";
    const COOKIE: &str = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";

    fn c5_fields() -> [Vec<(&'static str, &'static str)>; 3] {
        [
            vec![(":status", "302"), ("cache-control", "private"), ("date", DATE_21), ("location", LOCATION)],
            vec![(":status", "307"), ("cache-control", "private"), ("date", DATE_21), ("location", LOCATION)],
            vec![
                (":status", "200"),
                ("cache-control", "private"),
                ("date", DATE_22),
                ("location", LOCATION),
                ("content-encoding", "gzip"),
                ("set-cookie", COOKIE),
            ],
        ]
    }

    /// C.5 and C.6 use a 256-byte table, so entries are evicted.
    #[test]
    fn c5_responses_without_huffman_evict() {
        let f = c5_fields();
        let t = check(
            256,
            &[
                (
                    "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
                     2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
                     6c65 2e63 6f6d",
                    &f[0],
                    222,
                ),
                ("4803 3330 37c1 c0bf", &f[1], 222),
                (
                    "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
                     54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
                     5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
                     3d31",
                    &f[2],
                    215,
                ),
            ],
        );
        assert_eq!(t, table(&[("set-cookie", COOKIE), ("content-encoding", "gzip"), ("date", DATE_22)]));
    }

    #[test]
    fn c6_responses_with_huffman_evict() {
        let f = c5_fields();
        let t = check(
            256,
            &[
                (
                    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
                     2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                    &f[0],
                    222,
                ),
                ("4883 640e ffc1 c0bf", &f[1], 222),
                (
                    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
                     77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
                     9587 3160 65c0 03ed 4ee5 b106 3d50 07",
                    &f[2],
                    215,
                ),
            ],
        );
        assert_eq!(t, table(&[("set-cookie", COOKIE), ("content-encoding", "gzip"), ("date", DATE_22)]));
    }

    /// RFC 7541 §C.1: 10 with a 5-bit prefix, 1337 with a 5-bit prefix, 42 at a byte boundary.
    #[test]
    fn c1_integers() {
        for (bytes, prefix, value) in [(&[0x0a][..], 5, 10), (&[0x1f, 0x9a, 0x0a], 5, 1337), (&[0x2a], 8, 42)] {
            let mut pos = 0;
            assert_eq!(integer(bytes, &mut pos, prefix), Ok(value));
            assert_eq!(pos, bytes.len());
            let mut out = Vec::new();
            if prefix < 8 {
                encode_integer(&mut out, 0, prefix, value);
                assert_eq!(out, bytes);
            }
        }
    }

    #[test]
    fn integers_past_32_bits_or_five_continuations_overflow() {
        let mut pos = 0;
        assert_eq!(integer(&[0x7f, 0x80, 0xff, 0xff, 0xff, 0x0f], &mut pos, 7), Ok(0x7f + 0xffff_ff80));
        let mut pos = 0;
        assert_eq!(integer(&[0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f], &mut pos, 7), Err(HpackError::IntegerOverflow));
        let mut pos = 0;
        assert_eq!(integer(&[0x7f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], &mut pos, 7), Err(HpackError::IntegerOverflow));
        let mut pos = 0;
        assert_eq!(integer(&[0x7f, 0x80], &mut pos, 7), Err(HpackError::Truncated));
        let mut d = Decoder::new(4096);
        assert_eq!(decode(&mut d, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Err(HpackError::IntegerOverflow));
    }

    #[test]
    fn every_symbol_round_trips_through_the_huffman_decoder() {
        // Encode each symbol followed by 'a' with the RFC's codes, pad with ones, decode.
        for sym in 0..256usize {
            let mut bits: Vec<bool> = Vec::new();
            for s in [sym, b'a' as usize] {
                let (code, len) = CODES[s];
                bits.extend((0..len).rev().map(|i| code >> i & 1 == 1));
            }
            while bits.len() % 8 != 0 {
                bits.push(true);
            }
            let bytes: Vec<u8> = bits.chunks(8).map(|c| c.iter().fold(0u8, |b, &bit| b << 1 | bit as u8)).collect();
            let mut out = Vec::new();
            assert_eq!(huffman_decode(&bytes, &mut out), Ok(()), "symbol {sym}");
            assert_eq!(out, [sym as u8, b'a'], "symbol {sym}");
        }
    }

    /// Rows of RFC 7541 Appendix B checked against `huffman.rs`, and the code is complete
    /// (Kraft's sum is exactly 1), so every bit string decodes to something or is a prefix.
    #[test]
    fn huffman_table_matches_appendix_b() {
        let rows = [
            (0, 0x1ff8, 13),
            (1, 0x7f_ffd8, 23),
            (10, 0x3fff_fffc, 30),
            (32, 0x14, 6),
            (48, 0x0, 5),
            (52, 0x1a, 6),
            (97, 0x3, 5),
            (122, 0x7b, 7),
            (127, 0xfff_fffc, 28),
            (200, 0x3ff_ffe2, 26),
            (229, 0x1f_ffe7, 21),
            (255, 0x3ff_ffee, 26),
            (256, 0x3fff_ffff, 30),
        ];
        for (sym, code, len) in rows {
            assert_eq!(CODES[sym], (code, len), "symbol {sym}");
        }
        let kraft: u64 = CODES.iter().map(|&(_, len)| 1u64 << (30 - len)).sum();
        assert_eq!(kraft, 1 << 30);
    }

    #[test]
    fn huffman_padding_and_eos_are_checked() {
        let mut out = Vec::new();
        // 'a' is 00011: three bits of ones pad it to a byte.
        assert_eq!(huffman_decode(&[0b0001_1111], &mut out), Ok(()));
        assert_eq!(out, b"a");
        // Padding that is not all ones.
        assert_eq!(huffman_decode(&[0b0001_1110], &mut Vec::new()), Err(HpackError::BadHuffman));
        // A whole byte of padding.
        assert_eq!(huffman_decode(&[0b0001_1111, 0xff], &mut Vec::new()), Err(HpackError::BadHuffman));
        // EOS (30 ones) inside the string.
        assert_eq!(huffman_decode(&[0xff, 0xff, 0xff, 0xff], &mut Vec::new()), Err(HpackError::BadHuffman));
        // An empty Huffman string is an empty value.
        assert_eq!(huffman_decode(&[], &mut out), Ok(()));
        let mut d = Decoder::new(4096);
        assert_eq!(decode(&mut d, &[0x04, 0x80]), Ok(vec![(":path".into(), "".into())]));
    }

    #[test]
    fn size_updates_evict_and_may_not_exceed_the_limit() {
        let mut d = Decoder::new(4096);
        decode(&mut d, &hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")).unwrap();
        assert_eq!((d.table_len(), d.table_size()), (1, 55));
        // A size update to 0 empties the table, then one back to 4096.
        assert_eq!(decode(&mut d, &[0x20, 0x3f, 0xe1, 0x1f, 0x82]), Ok(vec![(":method".into(), "GET".into())]));
        assert_eq!(d.table_len(), 0);
        // 4097 is above our limit.
        assert_eq!(decode(&mut d, &[0x3f, 0xe2, 0x1f]), Err(HpackError::TableSizeTooLarge));
        // After a field, a size update is an error.
        assert_eq!(decode(&mut d, &[0x82, 0x20]), Err(HpackError::LateSizeUpdate));
        // Index 62 now refers to nothing.
        assert_eq!(decode(&mut d, &[0xbe]), Err(HpackError::BadIndex));
    }

    #[test]
    fn a_small_table_evicts_and_an_entry_larger_than_it_empties_it() {
        let mut d = Decoder::new(100);
        // Literal with indexing, new name "aa", value 30 bytes: 2 + 30 + 32 = 64.
        let mut block = vec![0x40, 2, b'a', b'a', 30];
        block.extend_from_slice(&[b'x'; 30]);
        decode(&mut d, &block).unwrap();
        assert_eq!((d.table_len(), d.table_size()), (1, 64));
        decode(&mut d, &block).unwrap();
        assert_eq!((d.table_len(), d.table_size()), (1, 64));
        // A 69-byte value makes an entry of 103 bytes: too large, the table empties.
        let mut big = vec![0x40, 2, b'b', b'b', 69];
        big.extend_from_slice(&[b'y'; 69]);
        assert_eq!(decode(&mut d, &big).unwrap().len(), 1);
        assert_eq!((d.table_len(), d.table_size()), (0, 0));
        // A literal with incremental indexing whose name is an entry the insertion evicts.
        decode(&mut d, &block).unwrap();
        let mut renamed = vec![0x40 | 62, 30];
        renamed.extend_from_slice(&[b'z'; 30]);
        assert_eq!(decode(&mut d, &renamed).unwrap()[0].0, "aa");
        assert_eq!(d.table[0].name(), b"aa");
        assert_eq!(d.table_len(), 1);
    }

    #[test]
    fn truncated_and_bad_blocks_are_errors() {
        let block = hex("828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565");
        for end in 1..block.len() {
            let mut d = Decoder::new(4096);
            decode(&mut d, &hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d")).unwrap();
            decode(&mut d, &hex("8286 84be 5808 6e6f 2d63 6163 6865")).unwrap();
            let r = decode(&mut d, &block[..end]);
            // A prefix ending on a field boundary is a valid block of fewer fields.
            if [1, 2, 3, 4].contains(&end) {
                assert_eq!(r.map(|f| f.len()), Ok(end), "{end}");
            } else {
                assert_eq!(r, Err(HpackError::Truncated), "{end}");
            }
        }
        assert_eq!(decode(&mut Decoder::new(4096), &[0x80]), Err(HpackError::BadIndex));
        assert_eq!(decode(&mut Decoder::new(4096), &[0xc0 | 62]), Err(HpackError::BadIndex));
        assert_eq!(decode(&mut Decoder::new(4096), &[0x40 | 63, 0]), Err(HpackError::BadIndex));
        assert_eq!(decode(&mut Decoder::new(4096), &[]), Ok(vec![]));
    }

    #[test]
    fn encode_uses_static_indices_and_literals_and_decodes_back() {
        let headers: [(&[u8], &[u8]); 6] = [
            (b":method", b"GET"),
            (b":scheme", b"http"),
            (b":path", b"/index.html?x=1"),
            (b":authority", b"127.0.0.1:8080"),
            (b"User-Agent", b"clobber"),
            (b"x-custom", b"v"),
        ];
        let mut out = Vec::new();
        encode(&headers, &mut out);
        let mut expected = vec![0x82, 0x86, 0x04, 15];
        expected.extend_from_slice(b"/index.html?x=1");
        expected.extend_from_slice(&[0x01, 14]);
        expected.extend_from_slice(b"127.0.0.1:8080");
        expected.extend_from_slice(&[0x0f, 58 - 15, 7]);
        expected.extend_from_slice(b"clobber");
        expected.extend_from_slice(&[0x00, 8]);
        expected.extend_from_slice(b"x-custom");
        expected.extend_from_slice(&[1, b'v']);
        assert_eq!(out, expected);
        let mut d = Decoder::new(4096);
        let got = decode(&mut d, &out).unwrap();
        let want: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (String::from_utf8_lossy(n).to_lowercase(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(d.table_len(), 0, "the encoder never adds to the peer's table");
    }

    #[test]
    fn encode_long_values_use_continuation_bytes() {
        let value = vec![b'v'; 300];
        let mut out = Vec::new();
        encode(&[(b"x", &value)], &mut out);
        assert_eq!(&out[..5], &[0x00, 1, b'x', 0x7f, 0x80 | (300 - 127) as u8 & 0x7f]);
        let mut d = Decoder::new(4096);
        assert_eq!(decode(&mut d, &out).unwrap()[0].1.len(), 300);
    }

    #[test]
    fn hpack_errors_are_compression_errors() {
        let e: H2Error = HpackError::BadHuffman.into();
        assert_eq!(e.to_string(), "COMPRESSION_ERROR: malformed HPACK Huffman string");
    }
}
