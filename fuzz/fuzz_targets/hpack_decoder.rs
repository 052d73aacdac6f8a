//! Arbitrary header blocks through one HPACK decoder: the first byte sets the table size limit
//! (× 32 bytes), then each block is a length byte and that many bytes. Nothing may panic, the
//! table never outgrows the limit, and the fields of every block that decodes, re-encoded with
//! the client's encoder, decode back the same (names lowercased).
#![no_main]

use clobber::protocol::h2::hpack::{encode, Decoder};
use libfuzzer_sys::fuzz_target;

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn decode(d: &mut Decoder, block: &[u8]) -> Option<Fields> {
    let mut fields = Vec::new();
    d.decode(block, &mut |n, v| fields.push((n.to_vec(), v.to_vec()))).ok().map(|()| fields)
}

fuzz_target!(|data: &[u8]| {
    let Some((&size, mut rest)) = data.split_first() else { return };
    let limit = size as usize * 32;
    let mut d = Decoder::new(limit);
    while let Some((&len, after)) = rest.split_first() {
        let (block, next) = after.split_at((len as usize).min(after.len()));
        rest = next;
        let fields = decode(&mut d, block);
        assert!(d.table_size() <= limit, "table {} over {limit}", d.table_size());
        let Some(fields) = fields else { return };
        let refs: Vec<(&[u8], &[u8])> = fields.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        let mut encoded = Vec::new();
        encode(&refs, &mut encoded);
        let lower: Fields = fields.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect();
        assert_eq!(decode(&mut Decoder::new(0), &encoded), Some(lower));
    }
});
