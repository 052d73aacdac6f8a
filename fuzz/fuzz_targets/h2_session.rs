//! Arbitrary server bytes into the HTTP/2 client session, as a connection feeds them: the
//! streams wanted, a request body's length and two cut points, then what the server sends
//! after our preface. Nothing may panic, every failure must be a `SessionError`, and every
//! stream opened must end exactly once (`protocol::h2::client_replay` asserts it).
#![no_main]

use clobber::protocol::h2::client_replay;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    client_replay(data);
});
