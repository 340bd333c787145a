//! Any bytes into the request decoders (handshake, header + body for every op): no panic,
//! allocation bounded by the input. `cargo +nightly fuzz run request` from codec/.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zk_codec::records::ConnectRequest;
use zk_codec::{decode_reply, decode_request, Jute, Limits, OpCode};

fuzz_target!(|data: &[u8]| {
    let _ = decode_request(data, Limits::DEFAULT);
    let _ = ConnectRequest::decode_from(data, Limits::DEFAULT);
    if let Some((&op, rest)) = data.split_first() {
        let op = OpCode::ALL[op as usize % OpCode::ALL.len()];
        let _ = decode_reply(op, rest, Limits::DEFAULT);
    }
});
