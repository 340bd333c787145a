//! Test harness: starts the real `rzk` binary on a free loopback port and speaks raw jute to
//! it over TCP. Every wait has a deadline; nothing sleeps on a guess.

use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use zk_codec::records::*;
use zk_codec::{decode_reply, split_frame, write_frame, Jute, Limits, OpCode, Request, Response};

pub const DEADLINE: Duration = Duration::from_secs(10);

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A running server, killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    /// Keep the data directory when dropped (a member that will be restarted).
    pub keep_dir: bool,
}

impl Server {
    /// Starts rzk with tickTime 2000 and every 4lw allowed, plus `extra` zoo.cfg lines.
    pub fn start(extra: &str) -> Server {
        let dir = std::env::temp_dir().join(format!(
            "rzk-it-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("zoo.cfg"),
            format!(
                "tickTime=2000\ndataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\n{extra}\n",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let (child, addr) =
            Server::spawn(&dir).unwrap_or_else(|e| panic!("rzk did not start: {e:?}"));
        Server {
            child,
            addr,
            dir,
            keep_dir: false,
        }
    }

    /// Starts rzk on `dir` with `cfg` as its zoo.cfg, as written.
    pub fn start_cfg(dir: PathBuf, cfg: &str) -> Server {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("zoo.cfg"), cfg).unwrap();
        let (child, addr) =
            Server::spawn(&dir).unwrap_or_else(|e| panic!("rzk did not start: {e:?}"));
        Server {
            child,
            addr,
            dir,
            keep_dir: false,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// kill -9, then start again on the same data directory (and a new port).
    pub fn crash_and_restart(&mut self) {
        self.kill9();
        let (child, addr) =
            Server::spawn(&self.dir).unwrap_or_else(|e| panic!("rzk did not restart: {e:?}"));
        self.child = child;
        self.addr = addr;
    }

    /// kill -9 and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Restarts on the same directory; `Err((status, stderr))` if rzk exits instead of serving.
    pub fn try_restart(&mut self) -> Result<(), (std::process::ExitStatus, String)> {
        self.kill9();
        let (child, addr) = Server::spawn(&self.dir)?;
        self.child = child;
        self.addr = addr;
        Ok(())
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().unwrap()
    }

    fn spawn(
        dir: &std::path::Path,
    ) -> Result<(Child, SocketAddr), (std::process::ExitStatus, String)> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rzk"))
            .arg("--config")
            .arg(dir.join("zoo.cfg"))
            .env("RUST_LOG", "warn,openraft=error")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rzk");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next().and_then(Result::ok));
            for _ in lines {}
        });
        let (etx, erx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                text.push_str(&line);
                text.push('\n');
            }
            let _ = etx.send(text);
        });
        match rx
            .recv_timeout(DEADLINE)
            .expect("rzk printed a line or exited")
        {
            Some(line) => Ok((
                child,
                line.rsplit(' ').next().unwrap().parse().expect("address"),
            )),
            None => {
                let status = child.wait().unwrap();
                Err((status, erx.recv_timeout(DEADLINE).unwrap_or_default()))
            }
        }
    }

    /// Sends a four-letter word and returns the whole answer.
    pub fn four(&self, word: &str) -> String {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.write_all(word.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A minimal raw client.
pub struct Client {
    pub stream: TcpStream,
    buf: BytesMut,
    xid: i32,
    pub session: i64,
    pub passwd: Bytes,
    pub timeout: i32,
    pub events: VecDeque<WatcherEvent>,
    pub last_zxid: i64,
}

pub fn connect_request(
    session: i64,
    passwd: Bytes,
    timeout: i32,
    read_only: Option<bool>,
) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout,
        session_id: session,
        passwd,
        read_only,
    }
}

impl Client {
    /// A new session with a 30 s timeout.
    pub fn connect(addr: SocketAddr) -> Client {
        let (c, r) = Client::handshake(
            addr,
            connect_request(0, Bytes::from_static(&[0; 16]), 30000, Some(false)),
        );
        assert!(r.expect("handshake answered").timeout > 0);
        c
    }

    /// A session, or None if the server is not there or goes away before answering (a test
    /// that kills the server while clients come and go).
    pub fn try_connect(addr: SocketAddr) -> Option<Client> {
        let req = connect_request(0, Bytes::from_static(&[0; 16]), 30000, Some(false));
        match Client::try_handshake(addr, req)? {
            (c, Some(r)) if r.timeout > 0 => Some(c),
            _ => None,
        }
    }

    /// Sends `req` as the handshake and returns the raw response (None if closed unanswered).
    pub fn handshake(addr: SocketAddr, req: ConnectRequest) -> (Client, Option<ConnectResponse>) {
        Client::try_handshake(addr, req).expect("connection to the server")
    }

    /// [`Client::handshake`], None if the connection cannot be made or is reset while sending.
    fn try_handshake(
        addr: SocketAddr,
        req: ConnectRequest,
    ) -> Option<(Client, Option<ConnectResponse>)> {
        let stream = TcpStream::connect(addr).ok()?;
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut c = Client {
            stream,
            buf: BytesMut::new(),
            xid: 0,
            session: 0,
            passwd: Bytes::new(),
            timeout: 0,
            events: VecDeque::new(),
            last_zxid: 0,
        };
        let mut out = BytesMut::new();
        write_frame(&mut out, |o| req.encode(o));
        c.stream.write_all(&out).ok()?;
        let resp = c
            .read_frame()
            .map(|f| ConnectResponse::decode_from(&f, Limits::DEFAULT).unwrap());
        if let Some(r) = &resp {
            c.session = r.session_id;
            c.passwd = r.passwd.clone();
            c.timeout = r.timeout;
        }
        Some((c, resp))
    }

    /// Reads one frame payload; None on EOF or reset.
    pub fn read_frame(&mut self) -> Option<BytesMut> {
        let start = Instant::now();
        loop {
            if let Some(f) = split_frame(&mut self.buf, usize::MAX >> 1).unwrap() {
                return Some(f);
            }
            assert!(start.elapsed() < DEADLINE, "no frame within the deadline");
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    panic!("no frame within the deadline")
                }
                Err(_) => return None,
            }
        }
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Sends a request with the next xid (or a special one) without waiting.
    pub fn send_xid(&mut self, xid: i32, req: &Request) {
        let mut out = BytesMut::new();
        write_frame(&mut out, |o| {
            RequestHeader {
                xid,
                op: req.op().code(),
            }
            .encode(o);
            req.encode(o);
        });
        self.stream.write_all(&out).unwrap();
    }

    /// Sends with the next xid; returns it.
    pub fn send(&mut self, req: &Request) -> i32 {
        self.xid += 1;
        let xid = match req {
            Request::Ping => -2,
            Request::Auth(_) => -4,
            Request::SetWatches(_) | Request::SetWatches2(_) => -8,
            _ => self.xid,
        };
        self.send_xid(xid, req);
        xid
    }

    /// Reads the next reply (queuing notifications) and decodes it as `op`'s.
    pub fn reply(&mut self, op: OpCode) -> (ReplyHeader, Response) {
        loop {
            let f = self
                .read_frame()
                .expect("connection closed while waiting for a reply");
            let (body, h) = ReplyHeader::decode(&f, Limits::DEFAULT).unwrap();
            if h.xid == -1 {
                self.events
                    .push_back(WatcherEvent::decode_from(body, Limits::DEFAULT).unwrap());
                continue;
            }
            if h.zxid > 0 && h.xid != -2 {
                self.last_zxid = self.last_zxid.max(h.zxid);
            }
            return decode_reply(op, &f, Limits::DEFAULT).unwrap();
        }
    }

    /// Sends and waits for the reply; None if the connection fails on the way (no panic).
    pub fn try_call(&mut self, req: Request) -> Option<ReplyHeader> {
        let mut out = BytesMut::new();
        self.xid += 1;
        let xid = self.xid;
        write_frame(&mut out, |o| {
            RequestHeader {
                xid,
                op: req.op().code(),
            }
            .encode(o);
            req.encode(o);
        });
        self.stream.write_all(&out).ok()?;
        loop {
            while let Ok(Some(f)) = split_frame(&mut self.buf, usize::MAX >> 1) {
                let h = ReplyHeader::decode_from(&f, Limits::DEFAULT).ok()?;
                if h.xid == xid {
                    return Some(h);
                }
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Sends and waits for the decoded reply; None if the connection fails or stays silent
    /// for the read timeout (no panic).
    pub fn try_call_full(&mut self, req: Request) -> Option<(ReplyHeader, Response)> {
        let mut out = BytesMut::new();
        self.xid += 1;
        let xid = self.xid;
        let op = req.op();
        write_frame(&mut out, |o| {
            RequestHeader { xid, op: op.code() }.encode(o);
            req.encode(o);
        });
        self.stream.write_all(&out).ok()?;
        loop {
            while let Ok(Some(f)) = split_frame(&mut self.buf, usize::MAX >> 1) {
                let h = ReplyHeader::decode_from(&f, Limits::DEFAULT).ok()?;
                if h.xid == xid {
                    return decode_reply(op, &f, Limits::DEFAULT).ok();
                }
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Sends and waits for the reply.
    pub fn call(&mut self, req: Request) -> (ReplyHeader, Response) {
        let xid = self.send(&req);
        let (h, r) = self.reply(req.op());
        assert_eq!(h.xid, xid, "replies arrive in request order");
        (h, r)
    }

    /// The error code of a call.
    pub fn err(&mut self, req: Request) -> i32 {
        self.call(req).0.err
    }

    /// The next watch event (already received, or the next frame, which must be one).
    pub fn event(&mut self) -> WatcherEvent {
        if let Some(e) = self.events.pop_front() {
            return e;
        }
        let f = self
            .read_frame()
            .expect("closed while waiting for an event");
        let (body, h) = ReplyHeader::decode(&f, Limits::DEFAULT).unwrap();
        assert_eq!(h.xid, -1, "expected a notification, got a reply {h:?}");
        WatcherEvent::decode_from(body, Limits::DEFAULT).unwrap()
    }

    /// Whether the server closes the connection (EOF) before the deadline.
    pub fn closed(&mut self) -> bool {
        loop {
            match self.read_frame() {
                None => return true,
                Some(f) => {
                    let h = ReplyHeader::decode_from(&f, Limits::DEFAULT).unwrap();
                    if h.xid != -1 {
                        return false;
                    }
                }
            }
        }
    }

    // Request builders.

    pub fn create(&mut self, path: &str, data: &[u8], flags: i32) -> (ReplyHeader, Response) {
        self.call(Request::Create2(create_req(path, data, flags)))
    }

    pub fn get(&mut self, path: &str, watch: bool) -> (ReplyHeader, Response) {
        self.call(Request::GetData(PathWatchRequest {
            path: path.into(),
            watch,
        }))
    }

    pub fn stat(&mut self, path: &str) -> Stat {
        match self.call(Request::Exists(PathWatchRequest {
            path: path.into(),
            watch: false,
        })) {
            (h, Response::Stat(s)) if h.err == 0 => s.stat,
            other => panic!("exists {path}: {other:?}"),
        }
    }

    pub fn set(&mut self, path: &str, data: &[u8], version: i32) -> (ReplyHeader, Response) {
        self.call(Request::SetData(SetDataRequest {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data)),
            version,
        }))
    }

    pub fn delete(&mut self, path: &str, version: i32) -> i32 {
        self.err(Request::Delete(DeleteRequest {
            path: path.into(),
            version,
        }))
    }

    pub fn children(&mut self, path: &str, watch: bool) -> Vec<String> {
        match self.call(Request::GetChildren(PathWatchRequest {
            path: path.into(),
            watch,
        })) {
            (_, Response::GetChildren(c)) => c.children,
            other => panic!("getChildren {path}: {other:?}"),
        }
    }

    pub fn add_auth(&mut self, scheme: &str, auth: &str) -> i32 {
        let p = AuthPacket {
            auth_type: 0,
            scheme: scheme.into(),
            auth: Bytes::copy_from_slice(auth.as_bytes()),
        };
        self.send(&Request::Auth(p));
        self.reply(OpCode::Auth).0.err
    }
}

pub fn create_req(path: &str, data: &[u8], flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(Bytes::copy_from_slice(data)),
        acl: Acl::open_unsafe(),
        flags,
    }
}

/// A loopback port for a server to listen on. Taken below Linux's ephemeral range (32768+), so
/// that the outgoing connections of tests running in parallel cannot grab it between this
/// check and the server's bind, and handed out once per test process.
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let base = 20_000 + (std::process::id() as usize % 400) * 30;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (base + n % 12_000) as u16;
        if n > 12_000 * 2 {
            panic!("no free loopback port below 32768");
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
