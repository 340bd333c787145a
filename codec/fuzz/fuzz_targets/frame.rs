//! Any byte stream into the frame splitter, in arbitrary chunks, then into the request decoder.
#![no_main]
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use zk_codec::{decode_request, split_frame, Limits};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::new();
    for chunk in data.chunks(7) {
        buf.extend_from_slice(chunk);
        while let Ok(Some(frame)) = split_frame(&mut buf, 4096) {
            let _ = decode_request(&frame, Limits::DEFAULT);
        }
    }
});
