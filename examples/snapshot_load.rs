//! Measures the snapshot path in-process: apply N creates of 100-byte znodes (100 parents),
//! take a view (the time writes are paused), encode it, then decode it (the start-up load).
//!   cargo run --release --example snapshot_load -- 1000000   # build, encode, write the file
//!   cargo run --release --example snapshot_load -- load      # decode that file
use rzk::tree::{DataTree, Options};
use rzk::txn::{Txn, TxnOp};
use std::time::Instant;
use zk_codec::records::{Acl, CreateRequest};
use zk_codec::Request;

const SNAP: &str = "/tmp/rzk-snapshot-load.bin";

fn create(path: String, data: &bytes::Bytes) -> Txn {
    Txn {
        session: 0,
        cxid: 0,
        time_ms: 1,
        auth: vec![],
        op: TxnOp::Request(Request::Create(CreateRequest {
            path,
            data: Some(data.clone()),
            acl: Acl::open_unsafe(),
            flags: 0,
        })),
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("load") {
        let b = std::fs::read(SNAP).expect("run with a node count first");
        let t = Instant::now();
        let back = DataTree::decode_snapshot(&b, Options::default(), 0).expect("decodes");
        println!("decode: {:?}, {} znodes", t.elapsed(), back.node_count());
        return;
    }
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mut t = DataTree::new(Options::default());
    let data = bytes::Bytes::from(vec![b'x'; 100]);
    let started = Instant::now();
    let mut z = 0;
    for p in 0..100 {
        z += 1;
        t.apply(&create(format!("/b{p}"), &data), z);
    }
    for i in 0..n {
        z += 1;
        t.apply(&create(format!("/b{}/k{i:08}", i % 100), &data), z);
    }
    println!("apply {n}: {:?}", started.elapsed());
    let started = Instant::now();
    let view = t.snapshot_view();
    println!("view (the pause writes see): {:?}", started.elapsed());
    let started = Instant::now();
    view.encode_to(&mut std::io::sink()).expect("sink");
    println!("encode into io::sink: {:?}", started.elapsed());
    let started = Instant::now();
    let mut out = bytes::BytesMut::new();
    view.encode(&mut out);
    println!(
        "encode (off the lock): {:?}, {} bytes",
        started.elapsed(),
        out.len()
    );
    drop(view);
    std::fs::write(SNAP, &out).expect("write");
}
