//! Session liveness: the timeout each live session negotiated, when it expires, which
//! connection holds it, and whether it is closing. Which sessions exist is a replicated fact
//! held by the tree (createSession/closeSession entries); this table is the leader's local
//! bookkeeping for expiry, as ZooKeeper's SessionTrackerImpl.
//!
//! Expiry by tick buckets (ExpiryQueue): a touch moves a session to the bucket
//! `((now + timeout) / tick + 1) * tick`; the expiry task wakes at each tick boundary and closes
//! the sessions of the buckets that have passed. Real expiry thus happens between `timeout` and
//! `timeout + tick` after the last packet.

pub mod password;

use crate::sink::Sink;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// One live session.
#[derive(Debug)]
pub struct Session {
    pub timeout_ms: i32,
    /// Bucket (ms since the table's epoch) in which it expires.
    pub expires_at: i64,
    pub closing: bool,
    pub conn: Option<Arc<Sink>>,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<i64, Session>,
    buckets: BTreeMap<i64, HashSet<i64>>,
    next_id: i64,
}

/// The session table.
#[derive(Debug)]
pub struct Sessions {
    inner: Mutex<Inner>,
    tick_ms: i64,
}

impl Sessions {
    /// A table handing out ids `(server_id << 56) | (now_ms << 24 >>> 8)`, counting up.
    pub fn new(server_id: u8, tick_ms: i64, now_ms: i64) -> Sessions {
        let mut next = (((now_ms as u64) << 24) >> 8) as i64 | (i64::from(server_id) << 56);
        if next == i64::MIN {
            next += 1;
        }
        Sessions {
            inner: Mutex::new(Inner {
                next_id: next,
                ..Default::default()
            }),
            tick_ms: tick_ms.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock is a bug; keep serving with the data as it is.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bucket(&self, now_ms: i64, timeout_ms: i32) -> i64 {
        ((now_ms + i64::from(timeout_ms)) / self.tick_ms + 1) * self.tick_ms
    }

    /// Reserves a fresh session id.
    pub fn next_id(&self) -> i64 {
        let mut g = self.lock();
        let id = g.next_id;
        g.next_id += 1;
        if g.next_id == i64::MIN {
            g.next_id += 1;
        }
        id
    }

    /// Starts tracking a session (new, or known from the log after a restart).
    pub fn track(&self, id: i64, timeout_ms: i32, now_ms: i64) {
        let at = self.bucket(now_ms, timeout_ms);
        let mut g = self.lock();
        g.buckets.entry(at).or_default().insert(id);
        if let Some(old) = g.sessions.insert(
            id,
            Session {
                timeout_ms,
                expires_at: at,
                closing: false,
                conn: None,
            },
        ) {
            if old.expires_at != at {
                if let Some(b) = g.buckets.get_mut(&old.expires_at) {
                    b.remove(&id);
                }
            }
        }
    }

    /// Moves the session's expiry forward; false if it is unknown or closing.
    pub fn touch(&self, id: i64, now_ms: i64) -> bool {
        let mut g = self.lock();
        let Some(s) = g.sessions.get(&id) else {
            return false;
        };
        if s.closing {
            return false;
        }
        let at = self.bucket(now_ms, s.timeout_ms);
        let old = s.expires_at;
        if at == old {
            return true;
        }
        if let Some(b) = g.buckets.get_mut(&old) {
            b.remove(&id);
            if b.is_empty() {
                g.buckets.remove(&old);
            }
        }
        g.buckets.entry(at).or_default().insert(id);
        if let Some(s) = g.sessions.get_mut(&id) {
            s.expires_at = at;
        }
        true
    }

    /// Whether the session is live and not closing.
    pub fn is_live(&self, id: i64) -> bool {
        self.lock().sessions.get(&id).is_some_and(|s| !s.closing)
    }

    /// Re-negotiates the timeout on reconnect.
    pub fn set_timeout(&self, id: i64, timeout_ms: i32) {
        if let Some(s) = self.lock().sessions.get_mut(&id) {
            s.timeout_ms = timeout_ms;
        }
    }

    /// Binds `conn` to the session and returns the connection it replaces, if any.
    pub fn bind(&self, id: i64, conn: Arc<Sink>) -> Option<Arc<Sink>> {
        self.lock()
            .sessions
            .get_mut(&id)
            .and_then(|s| s.conn.replace(conn))
    }

    /// Detaches whatever connection holds the session, returning it.
    pub fn detach(&self, id: i64) -> Option<Arc<Sink>> {
        self.lock()
            .sessions
            .get_mut(&id)
            .and_then(|s| s.conn.take())
    }

    /// Unbinds `conn` if it still holds the session (it is closing).
    pub fn unbind(&self, id: i64, conn: u64) {
        if let Some(s) = self.lock().sessions.get_mut(&id) {
            if s.conn.as_ref().is_some_and(|c| c.id == conn) {
                s.conn = None;
            }
        }
    }

    /// The connection currently holding the session.
    pub fn conn(&self, id: i64) -> Option<Arc<Sink>> {
        self.lock().sessions.get(&id).and_then(|s| s.conn.clone())
    }

    /// Marks a session closing (its requests now get SessionExpired); false if unknown or
    /// already closing.
    pub fn mark_closing(&self, id: i64) -> bool {
        match self.lock().sessions.get_mut(&id) {
            Some(s) if !s.closing => {
                s.closing = true;
                true
            }
            _ => false,
        }
    }

    /// Forgets a closed session, returning the connection that held it.
    pub fn remove(&self, id: i64) -> Option<Arc<Sink>> {
        let mut g = self.lock();
        let s = g.sessions.remove(&id)?;
        if let Some(b) = g.buckets.get_mut(&s.expires_at) {
            b.remove(&id);
        }
        s.conn
    }

    /// Takes the sessions whose bucket is at or before `now_ms`, marking them closing.
    pub fn take_expired(&self, now_ms: i64) -> Vec<i64> {
        let mut g = self.lock();
        let due: Vec<i64> = g.buckets.range(..=now_ms).map(|(k, _)| *k).collect();
        let mut out = Vec::new();
        for k in due {
            for id in g.buckets.remove(&k).unwrap_or_default() {
                if let Some(s) = g.sessions.get_mut(&id) {
                    if !s.closing {
                        s.closing = true;
                        out.push(id);
                    }
                }
            }
        }
        out
    }

    /// The next bucket boundary after `now_ms`.
    pub fn next_tick(&self, now_ms: i64) -> i64 {
        (now_ms / self.tick_ms + 1) * self.tick_ms
    }

    /// (id, timeout, expires_at) of every session, for `dump` and `cons`.
    pub fn snapshot(&self) -> Vec<(i64, i32, i64)> {
        let g = self.lock();
        let mut v: Vec<_> = g
            .sessions
            .iter()
            .map(|(id, s)| (*id, s.timeout_ms, s.expires_at))
            .collect();
        v.sort_unstable();
        v
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_happens_between_timeout_and_timeout_plus_tick() {
        let s = Sessions::new(1, 2000, 0);
        s.track(7, 4000, 1000);
        assert!(s.take_expired(5999).is_empty());
        assert_eq!(s.take_expired(6000), vec![7]);
        assert!(!s.is_live(7));
    }

    #[test]
    fn touch_postpones_expiry() {
        let s = Sessions::new(1, 2000, 0);
        s.track(7, 4000, 0);
        assert!(s.touch(7, 3000));
        assert!(s.take_expired(6000).is_empty());
        assert_eq!(s.take_expired(8000), vec![7]);
        assert!(!s.touch(7, 8000), "closing sessions are not revived");
    }

    #[test]
    fn ids_carry_the_server_id() {
        let s = Sessions::new(1, 2000, 1_700_000_000_000);
        let a = s.next_id();
        assert_eq!(a >> 56, 1);
        assert_eq!(s.next_id(), a + 1);
    }
}
