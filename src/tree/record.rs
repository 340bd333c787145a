//! A znode's record in the arena: its name (not its path: a node is found by name in its
//! parent's table), where its parent's and its own child tables are, its ACL's number, its
//! value and its stat, the stat as varints (most fields are 0 or equal to another one, and cost
//! one bit in the mask then; czxid and ctime relative to the chunk's [`Base`]).
//!
//! Layout: `[mask u8][parent var][name length var][name][own table var, if the mask's top bit]
//! [acl var][value tag var][value][czxid][ctime][the fields the mask marks]`: `parent` is the
//! parent's table number + 1 (0 for the root), the value tag 0 for null data and length + 1
//! otherwise, stat fields zigzag varints (mzxid and pzxid as differences from czxid, mtime from
//! ctime), the ephemeral owner 8 bytes little-endian (session ids use every bit).
//!
//! A 7-byte name, a 100-byte value and a fresh stat take 118 bytes; the node that held the same
//! in one allocation of its own took 160, plus 19 for its slot in a path map and ~22 for its
//! name in the parent's list.

use super::arena::{At, Base};
use zk_codec::records::StatPersisted;

/// Mask bits: a stat field that differs from what it is compared with (0, or another field).
const MZXID: u8 = 1;
const PZXID: u8 = 1 << 1;
const MTIME: u8 = 1 << 2;
const VERSION: u8 = 1 << 3;
const CVERSION: u8 = 1 << 4;
const AVERSION: u8 = 1 << 5;
const OWNER: u8 = 1 << 6;
/// The node has a child table of its own.
const DIR: u8 = 1 << 7;

/// A record's fields, to encode.
pub struct Fields<'a> {
    pub parent: Option<u32>,
    pub name: &'a str,
    pub dir: Option<u32>,
    pub acl: u32,
    pub data: Option<&'a [u8]>,
    pub stat: &'a StatPersisted,
}

fn put_var(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_signed(out: &mut Vec<u8>, v: i64) {
    put_var(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Encodes `f` into `out` (cleared first) against `base`.
pub fn encode(out: &mut Vec<u8>, f: &Fields<'_>, base: Base) {
    out.clear();
    let st = f.stat;
    let mut mask = if f.dir.is_some() { DIR } else { 0 };
    for (bit, v, given) in [
        (MZXID, st.mzxid, st.czxid),
        (PZXID, st.pzxid, st.czxid),
        (MTIME, st.mtime, st.ctime),
    ] {
        if v != given {
            mask |= bit;
        }
    }
    for (bit, v) in [
        (VERSION, st.version),
        (CVERSION, st.cversion),
        (AVERSION, st.aversion),
    ] {
        if v != 0 {
            mask |= bit;
        }
    }
    if st.ephemeral_owner != 0 {
        mask |= OWNER;
    }
    out.push(mask);
    put_var(out, f.parent.map_or(0, |p| u64::from(p) + 1));
    put_var(out, f.name.len() as u64);
    out.extend_from_slice(f.name.as_bytes());
    if let Some(d) = f.dir {
        put_var(out, u64::from(d));
    }
    put_var(out, u64::from(f.acl));
    match f.data {
        None => put_var(out, 0),
        Some(d) => {
            put_var(out, d.len() as u64 + 1);
            out.extend_from_slice(d);
        }
    }
    put_signed(out, st.czxid.wrapping_sub(base.zxid));
    put_signed(out, st.ctime.wrapping_sub(base.time));
    if mask & MZXID != 0 {
        put_signed(out, st.mzxid.wrapping_sub(st.czxid));
    }
    if mask & PZXID != 0 {
        put_signed(out, st.pzxid.wrapping_sub(st.czxid));
    }
    if mask & MTIME != 0 {
        put_signed(out, st.mtime.wrapping_sub(st.ctime));
    }
    for (bit, v) in [
        (VERSION, st.version),
        (CVERSION, st.cversion),
        (AVERSION, st.aversion),
    ] {
        if mask & bit != 0 {
            put_signed(out, i64::from(v));
        }
    }
    if mask & OWNER != 0 {
        out.extend_from_slice(&st.ephemeral_owner.to_le_bytes());
    }
}

/// The base a record starting a chunk of its own is encoded against.
pub fn own_base(stat: &StatPersisted) -> Base {
    Base {
        zxid: stat.czxid,
        time: stat.ctime,
    }
}

/// Reads a record through its pointer; the bytes were written by [`encode`], so they are well
/// formed and their extent is what the fields say.
struct Cursor {
    p: *const u8,
}

impl Cursor {
    fn byte(&mut self) -> u8 {
        // SAFETY: inside the record (see the type's doc).
        unsafe {
            let b = *self.p;
            self.p = self.p.add(1);
            b
        }
    }

    fn var(&mut self) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = self.byte();
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    fn signed(&mut self) -> i64 {
        let u = self.var();
        (u >> 1) as i64 ^ -((u & 1) as i64)
    }

    fn take<'a>(&mut self, n: usize) -> &'a [u8] {
        // SAFETY: the next `n` bytes are one field of the record, written before any reader
        // got the handle and never written again; the caller bounds the lifetime by the arena
        // (or frozen view) borrow.
        unsafe {
            let s = std::slice::from_raw_parts(self.p, n);
            self.p = self.p.add(n);
            s
        }
    }
}

/// The fields up to the name.
pub struct Head<'a> {
    pub parent: Option<u32>,
    pub name: &'a str,
}

/// A whole record, decoded.
pub struct Rec<'a> {
    pub parent: Option<u32>,
    pub name: &'a str,
    pub dir: Option<u32>,
    pub acl: u32,
    pub data: Option<&'a [u8]>,
    pub stat: StatPersisted,
    /// Bytes the record takes.
    pub len: usize,
}

impl Rec<'_> {
    /// The fields to write this record again (moved, or changed in a few of them).
    pub fn fields(&self) -> Fields<'_> {
        Fields {
            parent: self.parent,
            name: self.name,
            dir: self.dir,
            acl: self.acl,
            data: self.data,
            stat: &self.stat,
        }
    }
}

fn head<'a>(c: &mut Cursor) -> (u8, Head<'a>) {
    let mask = c.byte();
    let parent = c.var().checked_sub(1).map(|p| p as u32);
    let n = c.var() as usize;
    let name = c.take(n);
    // SAFETY: `encode` copied these bytes from a `&str`.
    let name = unsafe { std::str::from_utf8_unchecked(name) };
    (mask, Head { parent, name })
}

/// The record's parent and name only (a table probe compares names).
///
/// # Safety
/// `at` must point at a record, and the result must not outlive the arena borrow it came from.
pub unsafe fn name<'a>(at: At) -> Head<'a> {
    head(&mut Cursor { p: at.ptr }).1
}

/// The record's own table, if it has one (a path walk needs only that of each step).
///
/// # Safety
/// As for [`name`].
pub unsafe fn dir(at: At) -> Option<u32> {
    let mut c = Cursor { p: at.ptr };
    let (mask, _) = head(&mut c);
    (mask & DIR != 0).then(|| c.var() as u32)
}

/// The record's name and czxid (what a child listing orders by), skipping the rest.
///
/// # Safety
/// As for [`name`].
pub unsafe fn name_and_czxid<'a>(at: At) -> (&'a str, i64) {
    let mut c = Cursor { p: at.ptr };
    let (mask, h) = head(&mut c);
    if mask & DIR != 0 {
        c.var();
    }
    c.var();
    if let Some(n) = c.var().checked_sub(1) {
        // SAFETY: the value's bytes are part of the record.
        c.p = unsafe { c.p.add(n as usize) };
    }
    (h.name, at.base.zxid.wrapping_add(c.signed()))
}

/// The whole record.
///
/// # Safety
/// As for [`name`].
pub unsafe fn decode<'a>(at: At) -> Rec<'a> {
    let mut c = Cursor { p: at.ptr };
    let (mask, h) = head(&mut c);
    let dir = (mask & DIR != 0).then(|| c.var() as u32);
    let acl = c.var() as u32;
    let data = c.var().checked_sub(1).map(|n| c.take(n as usize));
    let czxid = at.base.zxid.wrapping_add(c.signed());
    let ctime = at.base.time.wrapping_add(c.signed());
    let mut diff = |bit: u8, given: i64| {
        if mask & bit == 0 {
            given
        } else {
            given.wrapping_add(c.signed())
        }
    };
    let mzxid = diff(MZXID, czxid);
    let pzxid = diff(PZXID, czxid);
    let mtime = diff(MTIME, ctime);
    let mut int = |bit: u8| {
        if mask & bit == 0 {
            0
        } else {
            c.signed() as i32
        }
    };
    let version = int(VERSION);
    let cversion = int(CVERSION);
    let aversion = int(AVERSION);
    let ephemeral_owner = if mask & OWNER == 0 {
        0
    } else {
        let b = c.take(8);
        i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    };
    Rec {
        parent: h.parent,
        name: h.name,
        dir,
        acl,
        data,
        stat: StatPersisted {
            czxid,
            mzxid,
            ctime,
            mtime,
            version,
            cversion,
            aversion,
            ephemeral_owner,
            pzxid,
        },
        len: c.p as usize - at.ptr as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(f: &Fields<'_>, base: Base) -> usize {
        let mut out = Vec::new();
        encode(&mut out, f, base);
        let at = At {
            ptr: out.as_ptr(),
            base,
        };
        // SAFETY: `out` holds one record and outlives the decoded borrow.
        let r = unsafe { decode(at) };
        assert_eq!(r.parent, f.parent);
        assert_eq!(r.name, f.name);
        assert_eq!(r.dir, f.dir);
        assert_eq!(r.acl, f.acl);
        assert_eq!(r.data, f.data);
        assert_eq!(&r.stat, f.stat);
        assert_eq!(r.len, out.len());
        // SAFETY: as above.
        let h = unsafe { name(at) };
        assert_eq!((h.parent, h.name), (f.parent, f.name));
        // SAFETY: as above.
        assert_eq!(unsafe { dir(at) }, f.dir);
        // SAFETY: as above.
        assert_eq!(unsafe { name_and_czxid(at) }, (f.name, f.stat.czxid));
        out.len()
    }

    #[test]
    fn records_round_trip_and_a_fresh_node_is_small() {
        let fresh = StatPersisted {
            czxid: 0x1_0000_0105,
            mzxid: 0x1_0000_0105,
            ctime: 1_765_000_000_123,
            mtime: 1_765_000_000_123,
            pzxid: 0x1_0000_0105,
            ..Default::default()
        };
        let base = Base {
            zxid: 0x1_0000_0100,
            time: 1_765_000_000_000,
        };
        let value = [7u8; 100];
        let len = roundtrip(
            &Fields {
                parent: Some(3),
                name: "k123456",
                dir: None,
                acl: 0,
                data: Some(&value),
                stat: &fresh,
            },
            base,
        );
        assert!(len <= 118, "{len}");
        let every = StatPersisted {
            czxid: -5,
            mzxid: i64::MAX,
            ctime: i64::MIN,
            mtime: 12,
            version: i32::MIN,
            cversion: -1,
            aversion: i32::MAX,
            ephemeral_owner: i64::MIN,
            pzxid: 1,
        };
        for (data, dir, parent) in [
            (None, Some(0), None),
            (Some(&[][..]), Some(u32::MAX), Some(u32::MAX - 1)),
            (Some(&[1u8; 300][..]), None, Some(0)),
        ] {
            roundtrip(
                &Fields {
                    parent,
                    name: "ünïcode-name",
                    dir,
                    acl: 70_000,
                    data,
                    stat: &every,
                },
                base,
            );
        }
    }
}
