//! The two workloads that are not a stream of request/reply pairs: the watch storm (many
//! watchers on one node, one writer; latency from the setData send to each notification) and
//! the connection storm (sessions opened and closed as fast as allowed).

use super::conn::Conn;
use super::driver::{Progress, Window};
use super::stats::Stats;
use super::workload::WATCHED;
use super::BenchError;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use zk_codec::records::{PathWatchRequest, SetDataRequest};
use zk_codec::{OpCode, Request};

/// How long one round may wait for every watcher's notification.
const ROUND_DEADLINE: Duration = Duration::from_secs(10);

enum Report {
    Armed,
    Fired(Instant),
    Failed(BenchError),
}

/// One watcher: on each arm signal, set a data watch, then report when it fires.
async fn watcher(mut conn: Conn, mut arm: mpsc::Receiver<()>, out: mpsc::Sender<Report>) {
    let req = Request::GetData(PathWatchRequest {
        path: WATCHED.to_string(),
        watch: true,
    });
    while arm.recv().await.is_some() {
        let res = async {
            conn.w.push(&req);
            conn.w.flush().await?;
            let h = conn.r.reply(OpCode::GetData).await?;
            if h.err != 0 {
                return Err(BenchError::Protocol(format!(
                    "getData watch: err {}",
                    h.err
                )));
            }
            let _ = out.send(Report::Armed).await;
            // The next frame on this otherwise idle session is the notification.
            conn.r.frame().await?;
            Ok(Instant::now())
        }
        .await;
        let report = match res {
            Ok(t) => Report::Fired(t),
            Err(e) => Report::Failed(e),
        };
        if out.send(report).await.is_err() {
            break;
        }
    }
    conn.close().await;
}

/// The watch storm: `watchers` sessions watch [`WATCHED`]; each round one writer session sets
/// it and every notification's delay from that send is recorded.
///
/// # Errors
/// Connection failures, or a round in which some watcher never hears.
pub async fn watch(
    addr: &str,
    watchers: usize,
    value: Bytes,
    win: Window,
    progress: Arc<Progress>,
) -> Result<Stats, BenchError> {
    let mut writer = Conn::open(addr).await?;
    let (out_tx, mut out_rx) = mpsc::channel(watchers.max(1) * 2);
    let mut arms = Vec::with_capacity(watchers);
    for i in 0..watchers {
        let (tx, rx) = mpsc::channel(1);
        let conn = Conn::open(super::conn::nth_server(addr, i)).await?;
        tokio::spawn(watcher(conn, rx, out_tx.clone()));
        arms.push(tx);
    }
    drop(out_tx);
    let set = Request::SetData(SetDataRequest {
        path: WATCHED.to_string(),
        data: Some(value),
        version: -1,
    });
    let mut stats = Stats::default();
    while win.open(Instant::now()) {
        for a in &arms {
            let _ = a.send(()).await;
        }
        collect(&mut out_rx, watchers, |r| match r {
            Report::Armed => Ok(()),
            _ => Err(BenchError::Protocol(
                "watcher fired before the write".into(),
            )),
        })
        .await?;
        let round = Instant::now();
        writer.w.push(&set);
        writer.w.flush().await?;
        collect(&mut out_rx, watchers, |r| match r {
            Report::Fired(t) => {
                if round >= win.start {
                    stats.record(0, t.saturating_duration_since(round));
                }
                progress.ops.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            _ => Err(BenchError::Protocol("unexpected watcher report".into())),
        })
        .await?;
        let h = writer.r.reply(OpCode::SetData).await?;
        if h.err != 0 {
            stats.record(h.err, Duration::ZERO);
        }
    }
    drop(arms);
    writer.close().await;
    Ok(stats)
}

/// Takes `n` reports, each passed to `f`; a failed watcher or the deadline ends the run.
async fn collect(
    rx: &mut mpsc::Receiver<Report>,
    n: usize,
    mut f: impl FnMut(Report) -> Result<(), BenchError>,
) -> Result<(), BenchError> {
    let deadline = Instant::now() + ROUND_DEADLINE;
    for _ in 0..n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Report::Failed(e))) => return Err(e),
            Ok(Some(r)) => f(r)?,
            Ok(None) => return Err(BenchError::Closed),
            Err(_) => {
                return Err(BenchError::Protocol(
                    "watch round missed its deadline".into(),
                ))
            }
        }
    }
    Ok(())
}

/// The connection storm: `sessions` loops each open a session (timed: connect + handshake),
/// then close it, until the window ends; `period` spaces each loop's opens.
///
/// # Errors
/// The first loop's connection failure.
pub async fn connect(
    addr: &str,
    sessions: usize,
    period: Option<Duration>,
    win: Window,
    progress: Arc<Progress>,
) -> Result<Stats, BenchError> {
    let tasks: Vec<_> = (0..sessions)
        .enumerate()
        .map(|(i, _)| {
            let addr = super::conn::nth_server(addr, i).to_string();
            let progress = progress.clone();
            tokio::spawn(async move {
                let mut stats = Stats::default();
                let mut next_at = Instant::now();
                while win.open(Instant::now()) {
                    if let Some(p) = period {
                        tokio::time::sleep_until(next_at).await;
                        next_at += p;
                    }
                    let t = Instant::now();
                    let conn = Conn::open(&addr).await?;
                    if t >= win.start {
                        stats.record(0, t.elapsed());
                    }
                    progress.ops.fetch_add(1, Ordering::Relaxed);
                    conn.close().await;
                }
                Ok::<_, BenchError>(stats)
            })
        })
        .collect();
    let mut total = Stats::default();
    for t in tasks {
        let s = t
            .await
            .map_err(|e| BenchError::Protocol(format!("session task: {e}")))??;
        total.merge(&s);
    }
    Ok(total)
}
