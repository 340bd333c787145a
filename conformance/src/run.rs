//! Runs one scenario against one server and produces its normalised transcript.
//!
//! Normalisation: zxids become `z+N` offsets from the first zxid the scenario sees (0 and -1
//! stay), non-zero ctime/mtime within the run become `T`, session ids and ephemeralOwner become
//! the scenario's session names, passwords are never printed. Everything else is printed as is.

use crate::script::{Args, Scenario, Step};
use crate::wire::{Conn, Read1};
use anyhow::{anyhow, bail, Context, Result};
use bytes::{Bytes, BytesMut};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zk_codec::records::*;
use zk_codec::{
    decode_reply, write_frame, ErrorCode, EventType, Jute, KeeperState, Limits, MultiOp,
    MultiRequest, OpCode, OpResult, Request, Response,
};

/// `--sort-lists`: sort child, ephemeral, ACL and whoAmI lists before comparing (ZooKeeper
/// returns them in hash order, which clients must not rely on).
pub static SORT_LISTS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn sorted<T: Clone + Ord>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    if SORT_LISTS.load(std::sync::atomic::Ordering::Relaxed) {
        v.sort();
    }
    v
}

/// Longest wait for a reply to a request.
const REPLY_WAIT: Duration = Duration::from_secs(5);

struct Pending {
    xid: i32,
    op: OpCode,
    label: String,
}

struct Sess {
    conn: Option<Conn>,
    id: i64,
    passwd: Bytes,
    xid: i32,
    last_zxid: i64,
    pending: VecDeque<Pending>,
    /// closeSession was answered or the session expired: nothing to clean up.
    finished: bool,
}

/// The state of one scenario run.
pub struct Ctx {
    addr: SocketAddr,
    out: Vec<String>,
    sessions: BTreeMap<String, Sess>,
    names: HashMap<i64, String>,
    base: Option<i64>,
    start_ms: i64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The start of the clock's next millisecond, once it has begun. A scenario starts there, so
/// that a time stamped by the previous scenario's last write, even in the millisecond this one
/// was called, reads as "old", and every time stamped during this one as "T" (both servers
/// read the same wall clock). A slack of 5 ms before the start made a node the previous
/// scenario had just written look written by this one, whenever a server answered fast enough.
fn next_ms() -> i64 {
    let now = now_ms();
    loop {
        let t = now_ms();
        if t > now {
            return t;
        }
        std::hint::spin_loop();
    }
}

/// Runs `sc` against `addr`; the transcript, one line per observation.
pub fn run(addr: SocketAddr, sc: &Scenario) -> Vec<String> {
    let mut cx = Ctx {
        addr,
        out: Vec::new(),
        sessions: BTreeMap::new(),
        names: HashMap::new(),
        base: None,
        start_ms: next_ms(),
    };
    for step in &sc.steps {
        if let Err(e) = cx.step(step) {
            cx.out.push(format!("!! line {}: {e:#}", step.line));
            break;
        }
    }
    cx.finish();
    cx.probe();
    cx.out
}

impl Ctx {
    fn zx(&mut self, z: i64) -> String {
        if z == 0 || z == -1 {
            return z.to_string();
        }
        let base = *self.base.get_or_insert(z);
        let d = z - base;
        if d >= 0 {
            format!("z+{d}")
        } else {
            "old".into()
        }
    }

    fn time(&self, t: i64) -> &'static str {
        if t == 0 {
            "0"
        } else if t < self.start_ms {
            "old"
        } else if t <= now_ms() + 1000 {
            "T"
        } else {
            "future"
        }
    }

    fn sid(&self, id: i64) -> String {
        if id == 0 {
            return "0".into();
        }
        match self.names.get(&id) {
            Some(n) => format!("@{n}"),
            None => "@?".into(),
        }
    }

    fn stat(&mut self, s: &Stat) -> String {
        format!(
            "{{cz={} mz={} ct={} mt={} v={} cv={} av={} eo={} dl={} nc={} pz={}}}",
            self.zx(s.czxid),
            self.zx(s.mzxid),
            self.time(s.ctime),
            self.time(s.mtime),
            s.version,
            s.cversion,
            s.aversion,
            self.sid(s.ephemeral_owner),
            s.data_length,
            s.num_children,
            self.zx(s.pzxid)
        )
    }

    fn sess(&mut self, who: &str) -> Result<&mut Sess> {
        self.sessions
            .get_mut(who)
            .ok_or_else(|| anyhow!("unknown session {who}"))
    }

    fn step(&mut self, st: &Step) -> Result<()> {
        let a = Args::new(&st.args);
        let Some(who) = st.who.clone() else {
            return self.global(st, &a);
        };
        match st.op.as_str() {
            "drop" => {
                if let Some(c) = self.sess(&who)?.conn.as_mut() {
                    c.drop_socket();
                }
                self.sess(&who)?.conn = None;
                self.out.push(format!("{who} dropped"));
            }
            "reconnect" => self.reconnect(&who, &a)?,
            "flush" => {
                while !self.sess(&who)?.pending.is_empty() {
                    if !self.read_one(&who, REPLY_WAIT)? {
                        break;
                    }
                }
            }
            "event" => {
                let ms = a.pos.first().and_then(|s| s.parse().ok()).unwrap_or(5000);
                self.wait_event(&who, Duration::from_millis(ms))?;
            }
            "noevent" => {
                let ms = a.pos.first().and_then(|s| s.parse().ok()).unwrap_or(300);
                let mut any = false;
                while self.read_one(&who, Duration::from_millis(ms))? {
                    any = true;
                }
                if !any {
                    self.out.push(format!("{who} quiet"));
                }
            }
            "closed?" => {
                let ms = a.pos.first().and_then(|s| s.parse().ok()).unwrap_or(2000);
                while self.read_one(&who, Duration::from_millis(ms))? {}
                let closed = self.sess(&who)?.conn.as_ref().is_none_or(|c| c.closed);
                self.out.push(format!(
                    "{who} connection {}",
                    if closed { "closed" } else { "open" }
                ));
            }
            "raw" => self.raw(&who, &a)?,
            _ => self.request(&who, st, &a)?,
        }
        Ok(())
    }

    fn global(&mut self, st: &Step, a: &Args) -> Result<()> {
        match st.op.as_str() {
            "sleep" => {
                let ms: u64 = a.pos.first().context("sleep MS")?.parse()?;
                std::thread::sleep(Duration::from_millis(ms.min(20_000)));
            }
            "connect" => {
                let name = a.pos.first().context("connect NAME")?.to_string();
                let timeout = a.int("timeout", 30000)? as i32;
                let ro = a.get("ro").map(|v| v == "true");
                let req = ConnectRequest {
                    protocol_version: 0,
                    last_zxid_seen: 0,
                    timeout,
                    session_id: 0,
                    passwd: Bytes::from_static(&[0; 16]),
                    read_only: Some(ro.unwrap_or(false)),
                };
                let (conn, resp) = self.handshake(&req)?;
                let mut s = Sess {
                    conn: Some(conn),
                    id: 0,
                    passwd: Bytes::new(),
                    xid: 0,
                    last_zxid: 0,
                    pending: VecDeque::new(),
                    finished: false,
                };
                match resp {
                    Some(r) => {
                        s.id = r.session_id;
                        s.passwd = r.passwd.clone();
                        self.names.insert(r.session_id, name.clone());
                        self.out.push(format!(
                            "{name} connected timeout={} ro={:?}",
                            r.timeout, r.read_only
                        ));
                    }
                    None => self.out.push(format!("{name} connect: closed")),
                }
                self.sessions.insert(name, s);
            }
            "4lw" => {
                let word = a.pos.first().context("4lw WORD")?.to_string();
                let mut c = Conn::open(self.addr)?;
                c.send(word.as_bytes());
                let bytes = c.read_all(Duration::from_secs(3));
                let text = String::from_utf8_lossy(&bytes).to_string();
                if a.flag("keys") {
                    let mut keys: Vec<String> = text
                        .lines()
                        .filter_map(|l| {
                            let k = l.split(['\t', '=', ':']).next()?.trim();
                            // Per-namespace metrics depend on the paths used so far.
                            (!k.is_empty() && !k.ends_with("_per_namespace")).then(|| k.to_string())
                        })
                        .collect();
                    keys.sort();
                    keys.dedup();
                    self.out
                        .push(format!("4lw {word} keys: {}", keys.join(" ")));
                } else {
                    self.out.push(format!("4lw {word}: {text:?}"));
                }
            }
            "rawconn" => {
                let bytes = hex(a.pos.first().context("rawconn HEX")?)?;
                let mut c = Conn::open(self.addr)?;
                c.send(&bytes);
                let mut frames = Vec::new();
                let mut wait = Duration::from_millis(1500);
                loop {
                    match c.read(wait) {
                        Read1::Frame(f) => {
                            frames.push(if f.len() == 36 || f.len() == 37 {
                                match ConnectResponse::decode_from(&f, Limits::DEFAULT) {
                                    Ok(r) => format!(
                                        "connect-response(timeout={} ro={:?})",
                                        r.timeout, r.read_only
                                    ),
                                    Err(_) => hexs(&f),
                                }
                            } else {
                                self.raw_reply(&f, &HashMap::new())
                            });
                            wait = Duration::from_millis(300);
                        }
                        Read1::Closed => {
                            frames.push("closed".into());
                            break;
                        }
                        Read1::Timeout => {
                            frames.push("open".into());
                            break;
                        }
                    }
                }
                self.out.push(format!("rawconn -> {}", frames.join(", ")));
            }
            other => bail!("unknown global step {other}"),
        }
        Ok(())
    }

    fn handshake(&mut self, req: &ConnectRequest) -> Result<(Conn, Option<ConnectResponse>)> {
        let mut conn = Conn::open(self.addr)?;
        let mut out = BytesMut::new();
        write_frame(&mut out, |o| req.encode(o));
        conn.send(&out);
        let resp = match conn.read(REPLY_WAIT) {
            Read1::Frame(f) => Some(ConnectResponse::decode_from(&f, Limits::DEFAULT)?),
            _ => None,
        };
        Ok((conn, resp))
    }

    fn reconnect(&mut self, who: &str, a: &Args) -> Result<()> {
        let s = self.sess(who)?;
        if let Some(c) = s.conn.as_mut() {
            c.drop_socket();
        }
        let passwd = if a.flag("badpasswd") {
            Bytes::from_static(&[7; 16])
        } else {
            s.passwd.clone()
        };
        let zxid = match a.get("zxid") {
            Some("last") | None => s.last_zxid,
            Some(v) => v.parse()?,
        };
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: zxid,
            timeout: a.int("timeout", 30000)? as i32,
            session_id: s.id,
            passwd,
            read_only: Some(false),
        };
        let (mut conn, resp) = self.handshake(&req)?;
        let refused = matches!(&resp, Some(r) if r.timeout == 0);
        if a.flag("expired") && (refused || (resp.is_none() && conn.closed)) {
            // ZooKeeper answers an expired session with timeout 0 and closes at once, and now
            // and then the close overtakes the answer (seen once in CI, ZooKeeper against
            // itself): the two are one outcome here, the close that follows included. Any
            // other frame is still recorded.
            self.out.push(format!(
                "{who} reconnect refused as expired (timeout=0, or closed without an answer)"
            ));
            while !conn.closed {
                match conn.read(REPLY_WAIT) {
                    Read1::Frame(f) => self.record_frame(who, &f)?,
                    Read1::Closed => {}
                    Read1::Timeout => break,
                }
            }
            let s = self.sess(who)?;
            s.pending.clear();
            s.finished = true;
            s.conn = Some(conn);
            return Ok(());
        }
        let line = match &resp {
            Some(r) if r.timeout > 0 => format!(
                "{who} reconnected timeout={} same-session={}",
                r.timeout,
                r.session_id == self.sess(who)?.id
            ),
            Some(r) => format!("{who} reconnect refused timeout={}", r.timeout),
            None => format!("{who} reconnect: closed without answer"),
        };
        self.out.push(line);
        let s = self.sess(who)?;
        s.pending.clear();
        if matches!(&resp, Some(r) if r.timeout == 0) {
            s.finished = true;
        }
        s.conn = Some(conn);
        Ok(())
    }

    /// Reads one frame for `who` and records it; false when nothing came or the connection is gone.
    fn read_one(&mut self, who: &str, wait: Duration) -> Result<bool> {
        let s = self.sess(who)?;
        let Some(conn) = s.conn.as_mut() else {
            return Ok(false);
        };
        if conn.closed {
            return Ok(false);
        }
        match conn.read(wait) {
            Read1::Frame(f) => {
                self.record_frame(who, &f)?;
                Ok(true)
            }
            Read1::Closed => {
                let s = self.sess(who)?;
                let lost: Vec<String> = s.pending.drain(..).map(|p| p.label).collect();
                self.out.push(format!("{who} connection closed by server"));
                for l in lost {
                    self.out.push(format!("{who} <- {l}: no reply (closed)"));
                }
                Ok(false)
            }
            Read1::Timeout => Ok(false),
        }
    }

    fn wait_event(&mut self, who: &str, wait: Duration) -> Result<()> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let before = self.out.len();
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() || !self.read_one(who, left)? {
                self.out.push(format!("{who} no event within the wait"));
                return Ok(());
            }
            if self.out[before..].iter().any(|l| l.contains(" event ")) {
                return Ok(());
            }
        }
    }

    fn record_frame(&mut self, who: &str, f: &[u8]) -> Result<()> {
        let Ok(h) = ReplyHeader::decode_from(f, Limits::DEFAULT) else {
            self.out
                .push(format!("{who} <- undecodable frame {}", hexs(f)));
            return Ok(());
        };
        if h.xid == xid::NOTIFICATION {
            let ev = WatcherEvent::decode_from(&f[16..], Limits::DEFAULT)?;
            let t = EventType::try_from(ev.event_type)
                .map(|e| e.name().to_string())
                .unwrap_or_else(|_| ev.event_type.to_string());
            let k = KeeperState::try_from(ev.state)
                .map(|e| e.name().to_string())
                .unwrap_or_else(|_| ev.state.to_string());
            let z = self.zx(h.zxid);
            self.out
                .push(format!("{who} event {t} {k} {:?} zxid={z}", ev.path));
            return Ok(());
        }
        let s = self.sess(who)?;
        if h.zxid > s.last_zxid {
            s.last_zxid = h.zxid;
        }
        let Some(pos) = s.pending.iter().position(|p| p.xid == h.xid) else {
            let line = format!(
                "{who} <- unexpected xid={} err={} body={}",
                h.xid,
                h.err,
                hexs(&f[16..])
            );
            self.out.push(line);
            return Ok(());
        };
        let out_of_order = pos != 0;
        let p = s.pending.remove(pos).unwrap();
        let z = self.zx(h.zxid);
        let body = if h.err == 0 || p.op == OpCode::Multi || p.op == OpCode::MultiRead {
            match decode_reply(p.op, f, Limits::DEFAULT) {
                Ok((_, r)) => self.resp(&r),
                Err(e) => format!("undecodable body {} ({e})", hexs(&f[16..])),
            }
        } else {
            String::new()
        };
        if p.op == OpCode::CloseSession && h.err == 0 {
            self.sess(who)?.finished = true;
        }
        self.out.push(format!(
            "{who} <- {}{}: {} zxid={z}{}{body}",
            p.label,
            if out_of_order { " (overtook)" } else { "" },
            err_name(h.err),
            if body.is_empty() { "" } else { " " }
        ));
        Ok(())
    }

    fn acls(&self, acl: &[Acl]) -> String {
        let v: Vec<String> = acl
            .iter()
            .map(|a| format!("{}:{}:{}", a.id.scheme, a.id.id, a.perms))
            .collect();
        format!("[{}]", sorted(&v).join(","))
    }

    fn resp(&mut self, r: &Response) -> String {
        match r {
            Response::Empty => String::new(),
            Response::Create(c) => format!("path={:?}", c.path),
            Response::Create2(c) => format!("path={:?} stat={}", c.path, self.stat(&c.stat)),
            Response::Stat(s) => format!("stat={}", self.stat(&s.stat)),
            Response::GetData(d) => {
                format!("data={} stat={}", data(&d.data), self.stat(&d.stat))
            }
            Response::GetAcl(g) => format!("acl={} stat={}", self.acls(&g.acl), self.stat(&g.stat)),
            Response::GetChildren(c) => format!("children={:?}", sorted(&c.children)),
            Response::GetChildren2(c) => {
                format!(
                    "children={:?} stat={}",
                    sorted(&c.children),
                    self.stat(&c.stat)
                )
            }
            Response::Sync(s) => format!("path={:?}", s.path),
            Response::Multi(m) => {
                let v: Vec<String> = m.results.iter().map(|r| self.opresult(r)).collect();
                format!("results=[{}]", v.join("; "))
            }
            Response::GetAllChildrenNumber(n) => format!("count={}", n.total_number),
            Response::GetEphemerals(e) => format!("ephemerals={:?}", sorted(&e.ephemerals)),
            Response::WhoAmI(w) => {
                let v: Vec<String> = w
                    .client_info
                    .iter()
                    .map(|c| format!("{}:{}", c.auth_scheme, c.user))
                    .collect();
                format!("whoami={:?}", sorted(&v))
            }
            Response::Error(e) => format!("int={}", e.err),
            Response::Sasl(s) => format!("sasl={}", hexs(&s.token)),
        }
    }

    fn opresult(&mut self, r: &OpResult) -> String {
        match r {
            OpResult::Create(c) => format!("create {:?}", c.path),
            OpResult::Create2(c) => format!("create2 {:?} {}", c.path, self.stat(&c.stat)),
            OpResult::Delete => "delete".into(),
            OpResult::SetData(s) => format!("setData {}", self.stat(&s.stat)),
            OpResult::Check => "check".into(),
            OpResult::GetData(d) => format!("getData {} {}", data(&d.data), self.stat(&d.stat)),
            OpResult::GetChildren(c) => format!("getChildren {:?}", sorted(&c.children)),
            OpResult::Error(e) => format!("error {}", err_name(*e)),
        }
    }

    fn raw_reply(&mut self, f: &[u8], sent: &HashMap<i32, OpCode>) -> String {
        match ReplyHeader::decode_from(f, Limits::DEFAULT) {
            Ok(h) if f.len() >= 16 && h.err == 0 && sent.contains_key(&h.xid) => {
                let z = self.zx(h.zxid);
                match decode_reply(sent[&h.xid], f, Limits::DEFAULT) {
                    Ok((_, r)) => {
                        let body = self.resp(&r);
                        let sep = if body.is_empty() { "" } else { " " };
                        format!("reply(xid={} zxid={z} OK{sep}{body})", h.xid)
                    }
                    Err(_) => format!("reply(xid={} zxid={z} OK body={})", h.xid, hexs(&f[16..])),
                }
            }
            Ok(h) if f.len() >= 16 => {
                let z = self.zx(h.zxid);
                format!(
                    "reply(xid={} zxid={z} err={} body={})",
                    h.xid,
                    err_name(h.err),
                    hexs(&f[16..])
                )
            }
            _ => format!("frame({})", hexs(f)),
        }
    }

    fn raw(&mut self, who: &str, a: &Args) -> Result<()> {
        let bytes = hex(a.pos.first().context("raw HEX")?)?;
        let sent = sent_ops(&bytes);
        let s = self.sess(who)?;
        let Some(conn) = s.conn.as_mut() else {
            bail!("{who} not connected");
        };
        conn.send(&bytes);
        let mut frames = Vec::new();
        let mut wait = Duration::from_millis(a.int("wait", 1500)? as u64);
        loop {
            let conn = self.sess(who)?.conn.as_mut().unwrap();
            match conn.read(wait) {
                Read1::Frame(f) => {
                    let line = self.raw_reply(&f, &sent);
                    frames.push(line);
                    wait = Duration::from_millis(300);
                }
                Read1::Closed => {
                    frames.push("closed".into());
                    break;
                }
                Read1::Timeout => {
                    frames.push("open".into());
                    break;
                }
            }
        }
        self.out.push(format!("{who} raw -> {}", frames.join(", ")));
        Ok(())
    }

    fn request(&mut self, who: &str, st: &Step, a: &Args) -> Result<()> {
        let (xid_fixed, req) = build(st, a)?;
        let s = self.sess(who)?;
        let Some(conn) = s.conn.as_mut() else {
            self.out.push(format!("{who} {}: not connected", st.op));
            return Ok(());
        };
        if conn.closed {
            self.out
                .push(format!("{who} {}: connection already closed", st.op));
            return Ok(());
        }
        let xid = match xid_fixed {
            Some(x) => x,
            None => {
                s.xid += 1;
                s.xid
            }
        };
        let op = req.op();
        let mut out = BytesMut::new();
        write_frame(&mut out, |o| {
            RequestHeader { xid, op: op.code() }.encode(o);
            req.encode(o);
        });
        conn.send(&out);
        let label = st.text[who.len()..]
            .trim()
            .trim_start_matches('>')
            .to_string();
        s.pending.push_back(Pending { xid, op, label });
        if st.pipelined {
            return Ok(());
        }
        let wait = if op == OpCode::Check {
            Duration::from_millis(1500)
        } else {
            REPLY_WAIT
        };
        while self.sess(who)?.pending.iter().any(|p| p.xid == xid) {
            if !self.read_one(who, wait)? {
                let s = self.sess(who)?;
                if let Some(pos) = s.pending.iter().position(|p| p.xid == xid) {
                    let p = s.pending.remove(pos).unwrap();
                    self.out
                        .push(format!("{who} <- {}: no reply in time", p.label));
                }
                break;
            }
        }
        if op == OpCode::CloseSession {
            let s = self.sess(who)?;
            if let Some(c) = s.conn.as_mut() {
                let closed = matches!(c.read(Duration::from_secs(2)), Read1::Closed);
                self.out.push(format!(
                    "{who} after close: connection {}",
                    if closed { "closed" } else { "open" }
                ));
            }
        }
        Ok(())
    }

    /// One write by a fresh session after everything is closed: its zxid shows whether the
    /// scenario consumed zxids that no reply revealed (session closes, expiries, failed writes).
    fn probe(&mut self) {
        let step = |text: &str| crate::script::parse(&format!("=== p\n{text}"), "probe");
        let Ok(steps) = step("connect zz-probe\nzz-probe create /zz-probe\nzz-probe close") else {
            return;
        };
        let before = self.out.len();
        for st in &steps[0].steps {
            if self.step(st).is_err() {
                break;
            }
        }
        let lines: Vec<String> = self.out.drain(before..).collect();
        let z = lines
            .iter()
            .find(|l| l.contains("create /zz-probe"))
            .cloned()
            .unwrap_or_else(|| "probe failed".into());
        self.out.push(format!("end: {z}"));
    }

    /// Closes what the scenario left open so that its ephemerals go away before the next one.
    fn finish(&mut self) {
        let names: Vec<String> = self.sessions.keys().cloned().collect();
        for n in names {
            let Some(s) = self.sessions.get_mut(&n) else {
                continue;
            };
            if s.finished || s.id == 0 {
                continue;
            }
            let alive = s.conn.as_ref().is_some_and(|c| !c.closed);
            let mut conn = if alive {
                s.conn.take().unwrap()
            } else {
                let req = ConnectRequest {
                    protocol_version: 0,
                    last_zxid_seen: 0,
                    timeout: 30000,
                    session_id: s.id,
                    passwd: s.passwd.clone(),
                    read_only: Some(false),
                };
                let Ok(mut c) = Conn::open(self.addr) else {
                    continue;
                };
                let mut out = BytesMut::new();
                write_frame(&mut out, |o| req.encode(o));
                c.send(&out);
                match c.read(REPLY_WAIT) {
                    Read1::Frame(f) => match ConnectResponse::decode_from(&f, Limits::DEFAULT) {
                        Ok(r) if r.timeout > 0 => c,
                        _ => continue,
                    },
                    _ => continue,
                }
            };
            let mut out = BytesMut::new();
            write_frame(&mut out, |o| {
                RequestHeader {
                    xid: 0x7fff_0000,
                    op: OpCode::CloseSession.code(),
                }
                .encode(o)
            });
            conn.send(&out);
            let deadline = std::time::Instant::now() + REPLY_WAIT;
            while std::time::Instant::now() < deadline {
                match conn.read(Duration::from_millis(500)) {
                    Read1::Frame(f) => {
                        if ReplyHeader::decode_from(&f, Limits::DEFAULT)
                            .is_ok_and(|h| h.xid == 0x7fff_0000)
                        {
                            break;
                        }
                    }
                    _ => break,
                }
            }
        }
    }
}

fn err_name(e: i32) -> String {
    match ErrorCode::try_from(e) {
        Ok(c) => c.name().to_string(),
        Err(_) => format!("err{e}"),
    }
}

fn data(d: &Option<Bytes>) -> String {
    match d {
        None => "null".into(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) if s.chars().all(|c| !c.is_control() || c == '\n') => format!("{s:?}"),
            _ => format!("0x{}", hexs(b)),
        },
    }
}

/// The xid and op code of each whole request frame in `bytes`.
fn sent_ops(bytes: &[u8]) -> HashMap<i32, OpCode> {
    let mut buf = BytesMut::from(bytes);
    let mut out = HashMap::new();
    while let Ok(Some(f)) = zk_codec::split_frame(&mut buf, 1 << 20) {
        if let Ok(h) = RequestHeader::decode_from(&f, Limits::DEFAULT) {
            if let Ok(op) = OpCode::try_from(h.op) {
                out.insert(h.xid, op);
            }
        }
    }
    out
}

pub fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex(s: &str) -> Result<Vec<u8>> {
    let s: String = s.chars().filter(|c| *c != '_').collect();
    if !s.len().is_multiple_of(2) {
        bail!("odd hex length");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).context("bad hex"))
        .collect()
}

/// `scheme:id:perms` items separated by `,`; perms as letters (cdrwa) or a number; the
/// shorthands `open` (world:anyone:cdrwa), `read` (world:anyone:r), `creator` (auth::cdrwa),
/// and `none` (empty list).
pub fn parse_acl(s: &str) -> Result<Vec<Acl>> {
    let s = match s {
        "open" => "world:anyone:cdrwa",
        "read" => "world:anyone:r",
        "creator" => "auth::cdrwa",
        "none" | "" => return Ok(Vec::new()),
        s => s,
    };
    s.split(',')
        .map(|item| {
            let (scheme, rest) = item.split_once(':').context("acl scheme:id:perms")?;
            let (id, perms) = rest.rsplit_once(':').context("acl scheme:id:perms")?;
            let perms = match perms.parse::<i32>() {
                Ok(n) => n,
                Err(_) => perms.chars().try_fold(0, |acc, c| {
                    Ok::<i32, anyhow::Error>(
                        acc | match c {
                            'r' => 1,
                            'w' => 2,
                            'c' => 4,
                            'd' => 8,
                            'a' => 16,
                            _ => bail!("perm letter {c}"),
                        },
                    )
                })?,
            };
            Ok(Acl {
                perms,
                id: Id {
                    scheme: scheme.into(),
                    id: id.into(),
                },
            })
        })
        .collect()
}

fn payload(a: &Args) -> Result<Option<Bytes>> {
    if let Some(x) = a.get("dx") {
        return Ok(Some(Bytes::from(hex(x)?)));
    }
    Ok(match a.get("d") {
        Some("null") => None,
        Some(s) => Some(Bytes::from(s.to_string())),
        None => Some(Bytes::new()),
    })
}

fn list(a: &Args, k: &str) -> Vec<String> {
    a.get(k)
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(String::from).collect())
        .unwrap_or_default()
}

fn create_req(a: &Args, default_flags: i32) -> Result<CreateRequest> {
    Ok(CreateRequest {
        path: a.path()?,
        data: payload(a)?,
        acl: parse_acl(a.get("acl").unwrap_or("open"))?,
        flags: a.int("f", default_flags as i64)? as i32,
    })
}

fn ttl_req(a: &Args) -> Result<CreateTtlRequest> {
    let c = create_req(a, 5)?;
    Ok(CreateTtlRequest {
        path: c.path,
        data: c.data,
        acl: c.acl,
        flags: c.flags,
        ttl: a.int("ttl", 10_000)?,
    })
}

fn pw(a: &Args) -> Result<PathWatchRequest> {
    Ok(PathWatchRequest {
        path: a.path()?,
        watch: a.flag("w"),
    })
}

fn sub_op(text: &str) -> Result<MultiOp> {
    let words: Vec<String> = text.split_whitespace().map(String::from).collect();
    let (verb, rest) = words.split_first().context("empty sub-op")?;
    let a = Args::new(rest);
    Ok(match verb.as_str() {
        "create" => MultiOp::Create(create_req(&a, 0)?),
        "create2" => MultiOp::Create2(create_req(&a, 0)?),
        "createContainer" => MultiOp::CreateContainer(create_req(&a, 4)?),
        "createTTL" => MultiOp::CreateTtl(ttl_req(&a)?),
        "delete" => MultiOp::Delete(DeleteRequest {
            path: a.path()?,
            version: a.int("v", -1)? as i32,
        }),
        "set" => MultiOp::SetData(SetDataRequest {
            path: a.path()?,
            data: payload(&a)?,
            version: a.int("v", -1)? as i32,
        }),
        "check" => MultiOp::Check(CheckVersionRequest {
            path: a.path()?,
            version: a.int("v", -1)? as i32,
        }),
        "get" => MultiOp::GetData(pw(&a)?),
        "children" => MultiOp::GetChildren(pw(&a)?),
        v => bail!("unknown sub-op {v}"),
    })
}

/// The request a step sends, and its fixed xid for auth (-4) and setWatches (-8).
fn build(st: &Step, a: &Args) -> Result<(Option<i32>, Request)> {
    let ver = || a.int("v", -1).map(|v| v as i32);
    let r = match st.op.as_str() {
        "create" => Request::Create(create_req(a, 0)?),
        "create2" => Request::Create2(create_req(a, 0)?),
        "createContainer" => Request::CreateContainer(create_req(a, 4)?),
        "createTTL" => Request::CreateTtl(ttl_req(a)?),
        "delete" => Request::Delete(DeleteRequest {
            path: a.path()?,
            version: ver()?,
        }),
        "deleteContainer" => Request::DeleteContainer(DeleteContainerRequest { path: a.path()? }),
        "exists" => Request::Exists(pw(a)?),
        "get" => Request::GetData(pw(a)?),
        "getconfig" => Request::GetData(PathWatchRequest {
            path: "/zookeeper/config".into(),
            watch: a.flag("w"),
        }),
        "set" => Request::SetData(SetDataRequest {
            path: a.path()?,
            data: payload(a)?,
            version: ver()?,
        }),
        "getacl" => Request::GetAcl(PathRequest { path: a.path()? }),
        "setacl" => Request::SetAcl(SetAclRequest {
            path: a.path()?,
            acl: parse_acl(a.get("acl").unwrap_or("open"))?,
            version: ver()?,
        }),
        "children" => Request::GetChildren(pw(a)?),
        "children2" => Request::GetChildren2(pw(a)?),
        "sync" => Request::Sync(PathRequest { path: a.path()? }),
        "check" => Request::Check(CheckVersionRequest {
            path: a.path()?,
            version: ver()?,
        }),
        "multi" | "multiread" => {
            let text = st.args.join(" ");
            let ops = text
                .split('|')
                .filter(|s| !s.trim().is_empty())
                .map(sub_op)
                .collect::<Result<Vec<_>>>()?;
            let m = MultiRequest { ops };
            if st.op == "multi" {
                Request::Multi(m)
            } else {
                Request::MultiRead(m)
            }
        }
        "ephemerals" => Request::GetEphemerals(GetEphemeralsRequest {
            prefix_path: a
                .get("prefix")
                .map(String::from)
                .or_else(|| a.pos.first().map(|s| s.to_string())),
        }),
        "count" => Request::GetAllChildrenNumber(PathRequest { path: a.path()? }),
        "whoami" => Request::WhoAmI,
        "ping" => return Ok((Some(xid::PING), Request::Ping)),
        "close" => Request::CloseSession,
        "setwatches" | "setwatches2" => {
            let w = SetWatches2 {
                relative_zxid: a.int("rel", 0)?,
                data_watches: list(a, "data"),
                exist_watches: list(a, "exist"),
                child_watches: list(a, "child"),
                persistent_watches: list(a, "persist"),
                persistent_recursive_watches: list(a, "recur"),
            };
            let r = if st.op == "setwatches" {
                Request::SetWatches(SetWatches {
                    relative_zxid: w.relative_zxid,
                    data_watches: w.data_watches,
                    exist_watches: w.exist_watches,
                    child_watches: w.child_watches,
                })
            } else {
                Request::SetWatches2(w)
            };
            return Ok((Some(xid::SET_WATCHES), r));
        }
        "addwatch" => Request::AddWatch(AddWatchRequest {
            path: a.path()?,
            mode: a.int("mode", 0)? as i32,
        }),
        "checkwatches" => Request::CheckWatches(WatchesRequest {
            path: a.path()?,
            watcher_type: a.int("type", 3)? as i32,
        }),
        "removewatches" => Request::RemoveWatches(WatchesRequest {
            path: a.path()?,
            watcher_type: a.int("type", 3)? as i32,
        }),
        "auth" => {
            let scheme = a.pos.first().context("auth SCHEME CRED")?.to_string();
            let cred = a.pos.get(1).copied().unwrap_or("");
            return Ok((
                Some(xid::AUTH),
                Request::Auth(AuthPacket {
                    auth_type: 0,
                    scheme,
                    auth: Bytes::from(cred.to_string()),
                }),
            ));
        }
        "reconfig" => Request::Reconfig(ReconfigRequest {
            joining_servers: a.get("join").map(String::from),
            leaving_servers: a.get("leave").map(String::from),
            new_members: a.get("members").map(String::from),
            cur_config_id: a.int("cfg", -1)?,
        }),
        other => bail!("unknown op {other}"),
    };
    Ok((None, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_shorthands_and_letters() {
        assert_eq!(parse_acl("none").unwrap(), Vec::new());
        let a = parse_acl("open").unwrap();
        assert_eq!((a[0].perms, a[0].id.scheme.as_str()), (31, "world"));
        let a = parse_acl("digest:u1:abc=:rw,ip:10.0.0.0/8:4").unwrap();
        assert_eq!(a[0].id.id, "u1:abc=");
        assert_eq!(a[0].perms, 3);
        assert_eq!(a[1].perms, 4);
        assert!(parse_acl("world:anyone:q").is_err());
    }

    #[test]
    fn hex_and_sent_ops() {
        assert_eq!(hex("00_ff").unwrap(), vec![0, 255]);
        assert!(hex("0").is_err());
        let ops = sent_ops(&hex("0000000e0000000100000003000000012f00").unwrap());
        assert_eq!(ops.get(&1), Some(&OpCode::Exists));
    }

    #[test]
    fn zxids_and_times_are_normalised() {
        let mut cx = Ctx {
            addr: "127.0.0.1:1".parse().unwrap(),
            out: Vec::new(),
            sessions: BTreeMap::new(),
            names: HashMap::from([(77, "A".to_string())]),
            base: None,
            start_ms: now_ms() - 5,
        };
        assert_eq!(cx.zx(0), "0");
        assert_eq!(cx.zx(100), "z+0");
        assert_eq!(cx.zx(103), "z+3");
        assert_eq!(cx.zx(99), "old");
        assert_eq!(cx.time(now_ms()), "T");
        assert_eq!(cx.time(1), "old");
        let start = next_ms();
        let cx = Ctx {
            start_ms: start,
            ..cx
        };
        assert_eq!(
            cx.time(start - 1),
            "old",
            "the millisecond before the start"
        );
        assert_eq!(cx.time(start), "T");
        assert_eq!(cx.sid(77), "@A");
        assert_eq!(cx.sid(5), "@?");
    }
}
