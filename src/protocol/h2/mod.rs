//! HTTP/2's sans-IO pieces: frames (`frame`) and header compression (`hpack`, with the RFC 7541
//! Huffman code in `huffman`). Bytes in, values out: no I/O, no clock, no allocation per frame.
//! The client's session (engine) and `clobber serve --mode h2` (server) drive them.

pub mod client;
pub mod frame;
pub mod hpack;
mod huffman;

pub use frame::H2Error;
pub use hpack::{Decoder, HpackError};

use frame::{FrameHeader, HEADER_LEN};

/// Reads a byte stream of frames arriving in `pieces`, as a connection does (whole frames split
/// off a pending buffer), and describes each: its header, its content or the error its payload
/// parser finds, and for each complete header block (HEADERS and CONTINUATIONs) the fields
/// one `Decoder` finds. Stops at the first error of `split`. Test and fuzz helper: the split
/// stream must read exactly as the whole one does, and nothing may panic.
pub fn replay(pieces: &[&[u8]], max_frame_size: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = Vec::new();
    let mut decoder = Decoder::new(4096);
    let mut block = Vec::new();
    for piece in pieces {
        pending.extend_from_slice(piece);
        loop {
            let (header, payload) = match frame::split(&pending, max_frame_size) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    out.push(format!("split: {e}"));
                    return out;
                }
            };
            out.push(describe(&header, payload, &mut decoder, &mut block));
            pending.drain(..HEADER_LEN + header.len as usize);
        }
    }
    out.push(format!("{} bytes left", pending.len()));
    out
}

fn describe(h: &FrameHeader, payload: &[u8], decoder: &mut Decoder, block: &mut Vec<u8>) -> String {
    use frame::{flag, kind};
    let what = match h.kind {
        kind::DATA => format!("{:?}", frame::content(h, payload).map(|c| c.len())),
        kind::HEADERS | kind::CONTINUATION => {
            let content = match frame::content(h, payload) {
                Ok(c) => c,
                Err(e) => return format!("{h:?} {e}"),
            };
            if h.kind == kind::HEADERS {
                block.clear();
            }
            block.extend_from_slice(content);
            if !h.has(flag::END_HEADERS) {
                return format!("{h:?} {} bytes of a block", content.len());
            }
            let mut fields = Vec::new();
            let r = decoder.decode(block, &mut |n, v| fields.push((n.to_vec(), v.to_vec())));
            format!("{r:?} {fields:?}")
        }
        kind::SETTINGS => {
            let mut settings = Vec::new();
            format!("{:?} {settings:?}", frame::parse_settings(payload, |id, v| settings.push((id, v))))
        }
        kind::PING => format!("{:?}", frame::parse_ping(payload)),
        kind::GOAWAY => format!("{:?}", frame::parse_goaway(payload)),
        kind::RST_STREAM => format!("{:?}", frame::parse_rst(payload)),
        kind::WINDOW_UPDATE => format!("{:?}", frame::parse_window_update(payload)),
        _ => format!("{} bytes", payload.len()),
    };
    format!("{h:?} {what}")
}
