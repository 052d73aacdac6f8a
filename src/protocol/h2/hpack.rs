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
            while len <= bits {
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
            // No code fits in the bits we have: the complete code means fewer than 30.
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
fn encode_integer(out: &mut Vec<u8>, flags: u8, prefix_bits: u32, value: usize) {
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
