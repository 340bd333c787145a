//! The pipelined session driver: one task per session keeps up to `outstanding` requests in
//! flight, stamping each at send time and matching replies in order (ZooKeeper answers a
//! session's requests in FIFO order, so the oldest unanswered request is the one replied to).
//!
//! Invariant: a request's send instant is queued *before* its bytes are written, so the reader
//! can never see a reply it has no stamp for.

use super::conn::{Conn, ConnReader, ConnWriter};
use super::stats::Stats;
use super::workload::OpGen;
use super::BenchError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use zk_codec::OpCode;

/// When to record and when to stop sending.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Requests sent before this instant are not recorded (warmup).
    pub start: Instant,
    /// No request is sent at or after this instant; None runs until the generator is done.
    pub end: Option<Instant>,
}

impl Window {
    /// Whether a request may still be sent at `now`.
    pub fn open(&self, now: Instant) -> bool {
        self.end.is_none_or(|e| now < e)
    }
}

/// Live counters for the once-a-second progress line (warmup included).
#[derive(Debug, Default)]
pub struct Progress {
    /// Successful replies.
    pub ops: AtomicU64,
    /// Error replies.
    pub errors: AtomicU64,
}

/// How one session sends.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Requests kept in flight.
    pub outstanding: usize,
    /// Minimum spacing between sends (rate limit), if any.
    pub period: Option<Duration>,
    /// How long the session polls its socket for an awaited reply ([`ConnReader::busy_poll`]).
    pub busy_poll: Duration,
}

/// Runs one session on a fresh connection until `gen` is exhausted or the window closes, then
/// waits for every reply, closes the session and returns the stats and the generator.
///
/// # Errors
/// Connection failures, protocol errors, or a reply missing its deadline.
pub async fn drive<G: OpGen>(
    addr: String,
    mut gen: G,
    pace: Pace,
    win: Window,
    progress: Arc<Progress>,
) -> Result<(Stats, G), BenchError> {
    let mut conn = Conn::open(&addr).await?;
    conn.r.busy_poll(pace.busy_poll);
    let sem = Semaphore::new(pace.outstanding.max(1));
    let (tx, rx) = mpsc::unbounded_channel();
    let mut stats = Stats::default();
    let Conn { w, r, .. } = &mut conn;
    tokio::try_join!(
        write_loop(w, &mut gen, &sem, tx, pace.period, win),
        read_loop(r, rx, &sem, win.start, &mut stats, &progress),
    )?;
    conn.close().await;
    Ok((stats, gen))
}

async fn write_loop<G: OpGen>(
    w: &mut ConnWriter,
    gen: &mut G,
    sem: &Semaphore,
    tx: mpsc::UnboundedSender<(Instant, OpCode)>,
    period: Option<Duration>,
    win: Window,
) -> Result<(), BenchError> {
    let mut next_at = Instant::now();
    loop {
        sem.acquire()
            .await
            .map_err(|_| BenchError::Protocol("semaphore closed".into()))?
            .forget();
        if let Some(p) = period {
            tokio::time::sleep_until(next_at).await;
            // Catch up after a stall, but by at most ten periods' worth of burst.
            let floor = Instant::now().checked_sub(p * 10).unwrap_or(next_at);
            next_at = (next_at + p).max(floor);
        }
        let now = Instant::now();
        if !win.open(now) || !push(w, gen, &tx, now) {
            return w.flush().await;
        }
        // Without a rate limit, batch every free slot into one write.
        while period.is_none() {
            match sem.try_acquire() {
                Ok(p) => p.forget(),
                Err(_) => break,
            }
            if !push(w, gen, &tx, now) {
                return w.flush().await;
            }
        }
        w.flush().await?;
    }
}

/// Encodes the generator's next request; false when it has none.
fn push<G: OpGen>(
    w: &mut ConnWriter,
    gen: &mut G,
    tx: &mpsc::UnboundedSender<(Instant, OpCode)>,
    now: Instant,
) -> bool {
    let Some(req) = gen.next() else {
        return false;
    };
    // The reader outlives the writer inside try_join!, so the send cannot fail while it matters.
    let _ = tx.send((now, req.op()));
    w.push(&req);
    true
}

async fn read_loop(
    r: &mut ConnReader,
    mut rx: mpsc::UnboundedReceiver<(Instant, OpCode)>,
    sem: &Semaphore,
    start: Instant,
    stats: &mut Stats,
    progress: &Progress,
) -> Result<(), BenchError> {
    while let Some((sent, op)) = rx.recv().await {
        let h = r.reply(op).await?;
        if sent >= start {
            stats.record(h.err, sent.elapsed());
        }
        if h.err == 0 {
            progress.ops.fetch_add(1, Ordering::Relaxed);
        } else {
            progress.errors.fetch_add(1, Ordering::Relaxed);
        }
        sem.add_permits(1);
    }
    Ok(())
}

/// Runs one [`drive`] per generator concurrently and merges their stats.
///
/// # Errors
/// The first session's failure.
pub async fn drive_all<G: OpGen + 'static>(
    addr: &str,
    gens: Vec<G>,
    pace: Pace,
    win: Window,
    progress: Arc<Progress>,
) -> Result<(Stats, Vec<G>), BenchError> {
    let tasks: Vec<_> = gens
        .into_iter()
        .enumerate()
        .map(|(i, g)| {
            let server = crate::bench::conn::nth_server(addr, i).to_string();
            tokio::spawn(drive(server, g, pace, win, progress.clone()))
        })
        .collect();
    let mut total = Stats::default();
    let mut back = Vec::new();
    let mut first_err = None;
    for t in tasks {
        match t.await {
            Ok(Ok((s, g))) => {
                total.merge(&s);
                back.push(g);
            }
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(BenchError::Protocol(format!("session task: {e}")));
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok((total, back)),
    }
}
