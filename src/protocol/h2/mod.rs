//! HTTP/2's sans-IO pieces: frames (`frame`) and header compression (`hpack`, with the RFC 7541
//! Huffman code in `huffman`). Bytes in, values out: no I/O, no clock, no allocation per frame.
//! The client's session (engine) and `clobber serve --mode h2` (server) drive them.

pub mod client;
pub mod frame;
pub mod hpack;
mod huffman;

pub use frame::H2Error;
pub use hpack::{Decoder, HpackError};
