use crate::harness::*;
use bytes::BytesMut;
use zk_codec::records::*;
use zk_codec::{write_frame, Jute, Request};

fn other_session_still_works(s: &Server) {
    let mut c = Client::connect(s.addr);
    assert_eq!(c.create(&format!("/ok{}", c.session), b"", 0).0.err, 0);
}

#[test]
fn negative_and_oversized_lengths_close_only_that_connection() {
    let mut s = Server::start("");
    let mut survivor = Client::connect(s.addr);
    for prefix in [[0xffu8, 0xff, 0xff, 0xfe], [0x00, 0x20, 0x00, 0x00]] {
        let mut c = Client::connect(s.addr);
        c.send_raw(&prefix);
        assert!(c.closed());
    }
    assert!(s.alive());
    assert_eq!(survivor.create("/survivor", b"", 0).0.err, 0);
    other_session_still_works(&s);
}

#[test]
fn unknown_opcode_answers_unimplemented_then_closes() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    let mut out = BytesMut::new();
    write_frame(&mut out, |o| RequestHeader { xid: 1, op: 77 }.encode(o));
    c.send_raw(&out);
    let f = c.read_frame().unwrap();
    let h = ReplyHeader::decode_from(&f, zk_codec::Limits::DEFAULT).unwrap();
    assert_eq!((h.xid, h.zxid, h.err), (1, -1, -6));
    assert!(c.closed());
    other_session_still_works(&s);
}

#[test]
fn garbage_handshake_and_truncated_header_close_the_connection() {
    let s = Server::start("");
    let mut c = std::net::TcpStream::connect(s.addr).unwrap();
    use std::io::{Read, Write};
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    c.write_all(&[0, 0, 0, 3, 1, 2, 3]).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(c.read(&mut buf).unwrap_or(0), 0);
    let mut d = Client::connect(s.addr);
    d.send_raw(&[0, 0, 0, 2, 0, 1]);
    assert!(d.closed());
    other_session_still_works(&s);
}

#[test]
fn malformed_body_answers_marshalling_error_and_keeps_serving() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    let mut out = BytesMut::new();
    write_frame(&mut out, |o| {
        RequestHeader { xid: 1, op: 4 }.encode(o);
        o.extend_from_slice(&[0, 0, 0, 9, b'/']);
    });
    c.send_raw(&out);
    let f = c.read_frame().unwrap();
    let h = ReplyHeader::decode_from(&f, zk_codec::Limits::DEFAULT).unwrap();
    assert_eq!((h.xid, h.err), (1, -5));
    c.send_xid(
        2,
        &Request::Exists(PathWatchRequest {
            path: "/".into(),
            watch: false,
        }),
    );
    assert_eq!(c.reply(zk_codec::OpCode::Exists).0.err, 0);
}

#[test]
fn unknown_auth_scheme_fails_then_closes() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    assert_eq!(c.add_auth("kerberos-ish", "x"), -115);
    assert!(c.closed());
}
