//! The hot path of a read: decode a getData request frame, encode its reply with 1 KiB of data.
//! Goal (issue 2): each under 1 µs on the 2-core CI machine.
//!
//! `cargo bench -p zk-codec --bench getdata`

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use zk_codec::records::*;
use zk_codec::{decode_request, write_frame, Jute, Limits, Response};

fn bench(c: &mut Criterion) {
    let mut payload = RequestHeader { xid: 42, op: 4 }.to_bytes();
    PathWatchRequest {
        path: "/benchmarks/some/node-0000001234".into(),
        watch: true,
    }
    .encode(&mut payload);
    let payload = payload.freeze();
    c.bench_function("decode getData request", |b| {
        b.iter(|| decode_request(black_box(&payload), Limits::DEFAULT).unwrap())
    });

    let data = Bytes::from(vec![7u8; 1024]);
    let stat = Stat {
        czxid: 5,
        mzxid: 9,
        data_length: 1024,
        ..Default::default()
    };
    let mut out = BytesMut::with_capacity(4096);
    c.bench_function("encode getData response 1KiB", |b| {
        b.iter(|| {
            out.clear();
            let resp = Response::GetData(GetDataResponse {
                data: Some(data.clone()),
                stat: stat.clone(),
            });
            write_frame(&mut out, |o| {
                ReplyHeader {
                    xid: 42,
                    zxid: 9,
                    err: 0,
                }
                .encode(o);
                resp.encode(o);
            });
            black_box(out.len())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
