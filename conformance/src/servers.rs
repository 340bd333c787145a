//! Starting and stopping the servers under test, and the control session that wipes the tree
//! between scenarios.

use crate::wire::{Conn, Read1};
use anyhow::{anyhow, bail, Context, Result};
use bytes::{Bytes, BytesMut};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use zk_codec::records::*;
use zk_codec::{decode_reply, write_frame, Jute, Limits, Request, Response};

/// Which implementation a server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Zk,
    Rzk,
    /// Transcripts saved by an earlier `--rewrite` run against ZooKeeper (no server started).
    Recorded,
}

impl Kind {
    pub fn parse(s: &str) -> Result<Kind> {
        match s {
            "zk" => Ok(Kind::Zk),
            "rzk" => Ok(Kind::Rzk),
            "recorded" => Ok(Kind::Recorded),
            _ => bail!("unknown server kind {s} (zk, rzk or recorded)"),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Kind::Zk => "zk",
            Kind::Rzk => "rzk",
            Kind::Recorded => "rec",
        }
    }
}

/// A running server; stopped on drop (only the process it started).
pub struct Server {
    pub kind: Kind,
    pub addr: SocketAddr,
    dir: PathBuf,
    child: Option<Child>,
    root: PathBuf,
}

impl Server {
    pub fn start(kind: Kind, root: &Path, rzk: &Path, tag: &str) -> Result<Server> {
        let dir = std::env::temp_dir().join(format!(
            "rzk-conformance-{}-{tag}-{}",
            std::process::id(),
            kind.name()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        match kind {
            Kind::Recorded => bail!("recorded transcripts have no server"),
            Kind::Zk => {
                let out = Command::new(root.join("scripts/zk-start"))
                    .arg(&dir)
                    .stderr(Stdio::inherit())
                    .output()
                    .context("running scripts/zk-start")?;
                if !out.status.success() {
                    bail!("zk-start failed ({})", out.status);
                }
                let port: u16 = String::from_utf8_lossy(&out.stdout).trim().parse()?;
                Ok(Server {
                    kind,
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                    dir,
                    child: None,
                    root: root.to_path_buf(),
                })
            }
            Kind::Rzk => {
                std::fs::write(
                    dir.join("zoo.cfg"),
                    format!(
                        "tickTime=2000\ndataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\n\
                         4lw.commands.whitelist=*\nadmin.enableServer=false\n\
                         extendedTypesEnabled=true\n\
                         DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n",
                        dir.join("data").display()
                    ),
                )?;
                let mut child = Command::new(rzk)
                    .arg("--config")
                    .arg(dir.join("zoo.cfg"))
                    .env("RUST_LOG", "error")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .with_context(|| format!("starting {}", rzk.display()))?;
                let stdout = child.stdout.take().context("stdout")?;
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let mut lines = BufReader::new(stdout).lines();
                    let _ = tx.send(lines.next().and_then(Result::ok));
                    for _ in lines {}
                });
                let line = rx
                    .recv_timeout(Duration::from_secs(30))
                    .ok()
                    .flatten()
                    .ok_or_else(|| anyhow!("rzk did not report its address"))?;
                let addr = line
                    .rsplit(' ')
                    .next()
                    .unwrap_or_default()
                    .parse()
                    .with_context(|| format!("parsing {line:?}"))?;
                Ok(Server {
                    kind,
                    addr,
                    dir,
                    child: Some(child),
                    root: root.to_path_buf(),
                })
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match self.child.as_mut() {
            Some(c) => {
                let _ = c.kill();
                let _ = c.wait();
            }
            None => {
                let _ = Command::new(self.root.join("scripts/zk-stop"))
                    .arg(&self.dir)
                    .status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A super-user session that removes everything scenarios create.
pub struct Control {
    conn: Conn,
    addr: SocketAddr,
    xid: i32,
}

impl Control {
    pub fn open(addr: SocketAddr) -> Result<Control> {
        let mut conn = Conn::open(addr)?;
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 30000,
            session_id: 0,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
        };
        let mut out = BytesMut::new();
        write_frame(&mut out, |o| req.encode(o));
        conn.send(&out);
        match conn.read(Duration::from_secs(5)) {
            Read1::Frame(_) => {}
            _ => bail!("control session: no handshake answer"),
        }
        let mut c = Control { conn, addr, xid: 0 };
        let (h, _) = c.call_xid(
            xid::AUTH,
            Request::Auth(AuthPacket {
                auth_type: 0,
                scheme: "digest".into(),
                auth: Bytes::from_static(b"super:test"),
            }),
        )?;
        if h.err != 0 {
            bail!("super auth failed: {}", h.err);
        }
        Ok(c)
    }

    fn call_xid(&mut self, xid: i32, req: Request) -> Result<(ReplyHeader, Response)> {
        let op = req.op();
        let mut out = BytesMut::new();
        write_frame(&mut out, |o| {
            RequestHeader { xid, op: op.code() }.encode(o);
            req.encode(o);
        });
        self.conn.send(&out);
        loop {
            match self.conn.read(Duration::from_secs(5)) {
                Read1::Frame(f) => {
                    let (h, r) = decode_reply(op, &f, Limits::DEFAULT)?;
                    if h.xid == xid {
                        return Ok((h, r));
                    }
                }
                _ => bail!("control session lost"),
            }
        }
    }

    fn call(&mut self, req: Request) -> Result<(ReplyHeader, Response)> {
        self.xid += 1;
        self.call_xid(self.xid, req)
    }

    fn children(&mut self, path: &str) -> Result<Vec<String>> {
        let (h, r) = self.call(Request::GetChildren(PathWatchRequest {
            path: path.into(),
            watch: false,
        }))?;
        Ok(match (h.err, r) {
            (0, Response::GetChildren(c)) => c.children,
            _ => Vec::new(),
        })
    }

    fn remove_tree(&mut self, path: &str) -> Result<()> {
        for c in self.children(path)? {
            self.remove_tree(&format!("{path}/{c}"))?;
        }
        self.call(Request::Delete(DeleteRequest {
            path: path.into(),
            version: -1,
        }))?;
        Ok(())
    }

    /// Deletes every node except the built-in ones (reopening the session if it was lost).
    pub fn wipe(&mut self) -> Result<()> {
        if self.conn.closed {
            *self = Control::open(self.addr)?;
        }
        for c in self.children("/")? {
            if c != "zookeeper" {
                self.remove_tree(&format!("/{c}"))?;
            }
        }
        for c in self.children("/zookeeper/quota")? {
            self.remove_tree(&format!("/zookeeper/quota/{c}"))?;
        }
        for c in self.children("/zookeeper")? {
            if c != "quota" && c != "config" {
                self.remove_tree(&format!("/zookeeper/{c}"))?;
            }
        }
        Ok(())
    }
}
