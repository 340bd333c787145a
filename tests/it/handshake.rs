use crate::harness::*;
use bytes::Bytes;
use zk_codec::records::*;
use zk_codec::{Jute, Request};

fn zeros() -> Bytes {
    Bytes::from_static(&[0; 16])
}

#[test]
fn read_only_byte_is_echoed_only_when_sent() {
    let s = Server::start("");
    let (_, with) = Client::handshake(s.addr, connect_request(0, zeros(), 30000, Some(false)));
    let with = with.unwrap();
    assert_eq!(with.to_bytes().len(), 37);
    assert_eq!(with.read_only, Some(false));
    let (_, without) = Client::handshake(s.addr, connect_request(0, zeros(), 30000, None));
    let without = without.unwrap();
    assert_eq!(without.to_bytes().len(), 36);
    assert_eq!(without.passwd.len(), 16);
}

#[test]
fn timeouts_are_clamped_between_2_and_20_ticks() {
    let s = Server::start("");
    let (a, _) = Client::handshake(s.addr, connect_request(0, zeros(), 1, Some(false)));
    let (b, _) = Client::handshake(s.addr, connect_request(0, zeros(), 10_000_000, Some(false)));
    assert_eq!((a.timeout, b.timeout), (4000, 40000));
}

#[test]
fn session_ids_carry_server_id_1_and_java_passwords() {
    let s = Server::start("");
    let c = Client::connect(s.addr);
    assert_eq!(c.session >> 56, 1);
    assert_eq!(
        c.passwd.as_ref(),
        rzk::session::password::for_session(c.session)
    );
}

#[test]
fn reconnect_keeps_the_session_and_its_ephemerals() {
    let s = Server::start("");
    let mut a = Client::connect(s.addr);
    assert_eq!(a.create("/e", b"", 1).0.err, 0);
    let (mut b, r) = Client::handshake(
        s.addr,
        connect_request(a.session, a.passwd.clone(), 30000, Some(false)),
    );
    let r = r.unwrap();
    assert_eq!(
        (r.session_id, r.passwd.clone()),
        (a.session, a.passwd.clone())
    );
    assert!(a.closed(), "the second connection kicks the first");
    assert_eq!(b.stat("/e").ephemeral_owner, a.session);
}

#[test]
fn wrong_password_is_refused_but_still_kicks_the_holder() {
    let s = Server::start("");
    let mut a = Client::connect(s.addr);
    let (mut b, r) = Client::handshake(
        s.addr,
        connect_request(a.session, zeros(), 30000, Some(false)),
    );
    let r = r.unwrap();
    assert_eq!((r.timeout, r.session_id), (0, 0));
    assert_eq!(r.passwd.as_ref(), &[0u8; 16]);
    assert!(b.closed());
    assert!(a.closed());
}

#[test]
fn unknown_session_is_expired() {
    let s = Server::start("");
    let (mut c, r) = Client::handshake(
        s.addr,
        connect_request(0x0100_0000_0000_0042, zeros(), 30000, None),
    );
    assert_eq!(r.unwrap().timeout, 0);
    assert!(c.closed());
}

#[test]
fn client_ahead_of_the_server_is_closed_without_reply() {
    let s = Server::start("");
    let mut req = connect_request(0, zeros(), 30000, Some(false));
    req.last_zxid_seen = 1_000_000;
    let (_, r) = Client::handshake(s.addr, req);
    assert!(r.is_none());
}

#[test]
fn ping_replies_with_xid_minus_2_and_current_zxid() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    c.create("/p", b"", 0);
    c.send(&Request::Ping);
    let (h, _) = c.reply(zk_codec::OpCode::Ping);
    assert_eq!((h.xid, h.err), (-2, 0));
    assert_eq!(h.zxid, c.stat("/p").czxid);
}

#[test]
fn close_session_replies_then_closes_and_drops_ephemerals() {
    let s = Server::start("");
    let mut a = Client::connect(s.addr);
    let mut b = Client::connect(s.addr);
    a.create("/eph", b"", 1);
    let (h, _) = a.call(Request::CloseSession);
    assert_eq!(h.err, 0);
    assert!(a.closed());
    assert_eq!(
        b.err(Request::Exists(PathWatchRequest {
            path: "/eph".into(),
            watch: false
        })),
        -101
    );
}
