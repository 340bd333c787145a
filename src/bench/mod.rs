//! `rzk bench`: the load generator. Many sessions on few threads speak raw jute over TCP (via
//! zk-codec, no client library), each keeping `--outstanding` requests in flight.
//!
//! A run is: setup (create the nodes the workload reads or writes, not measured), warmup (sent
//! but not recorded), the measured phase, then cleanup (delete what setup and the run created).
//! Modules: [`workload`] (what is sent), [`conn`] (one session's socket), [`driver`] (pipelining),
//! [`storm`] (watch and connection storms), [`disk`] (the fdatasync floor, no server),
//! [`stats`] (histogram and report).

pub mod conn;
pub mod disk;
pub mod driver;
pub mod stats;
pub mod storm;
pub mod workload;

use bytes::Bytes;
use driver::{drive_all, Pace, Progress, Window};
use stats::{Stats, Summary};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use workload::{create, delete, key, Batch, Mix, WorkGen, Workload, ROOT, WATCHED, WIDE};

/// Why a bench run stopped.
#[derive(Debug)]
pub enum BenchError {
    /// A socket operation failed (connection refused, reset, ...).
    Io(std::io::Error),
    /// The server closed a connection.
    Closed,
    /// A malformed or unexpected reply, or a deadline missed.
    Protocol(String),
}

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BenchError::Io(e) => write!(f, "i/o: {e}"),
            BenchError::Closed => write!(f, "the server closed the connection"),
            BenchError::Protocol(s) => write!(f, "{s}"),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<std::io::Error> for BenchError {
    fn from(e: std::io::Error) -> Self {
        BenchError::Io(e)
    }
}

/// `rzk bench` options.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// What to send.
    #[arg(value_enum)]
    pub workload: Workload,
    /// Server address, or a connect string `host:port,host:port,...` (sessions go round it;
    /// set-up and clean-up use the first).
    #[arg(long, default_value = "127.0.0.1:2181")]
    pub server: String,
    /// Concurrent sessions (watch: watchers; connect: parallel open/close loops).
    #[arg(long, default_value_t = 4)]
    pub sessions: usize,
    /// Requests kept in flight per session.
    #[arg(long, default_value_t = 100)]
    pub outstanding: usize,
    /// Bytes of data per create/setData.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Key space (set, get, exists, mix, multi); nodes created by `load`.
    #[arg(long, default_value_t = 10_000)]
    pub keys: u64,
    /// Children of the wide node listed by `children`.
    #[arg(long, default_value_t = 100)]
    pub width: u64,
    /// READ:WRITE ratio for `mix`.
    #[arg(long, default_value = "90:10")]
    pub mix: Mix,
    /// Measured time (seconds, or with a unit: 500ms, 10s, 1m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Time sent but not recorded, before the measured phase.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Total request rate limit in ops/s across sessions (open/close rate for `connect`).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Runtime worker threads (1 = a single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print the result as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// No progress line on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Microseconds this generator keeps its CPUs from halting after each send and each reply
    /// (`fsync`: each append; SCHED_IDLE spinners, as the server keeps its own; 0 = off), so
    /// that the latency of a lone session measures the server, not the generator's CPU waking.
    #[arg(long, default_value_t = crate::idle_poll::DEFAULT_MICROS)]
    pub idle_poll_micros: u64,
    /// Microseconds a lone session (`--sessions 1`) polls its socket for each reply before it
    /// sleeps (0 = off), so that the server's reply wakes no sleeping thread of the generator;
    /// with more sessions they share threads, and none polls.
    #[arg(long, default_value_t = 2000)]
    pub busy_poll_micros: u64,
    /// Leave the nodes in place after the run.
    #[arg(long)]
    pub no_cleanup: bool,
    /// Directory for the `fsync` workload's file (put it on the server's disk).
    #[arg(long, default_value = ".")]
    pub dir: std::path::PathBuf,
}

/// Parses `10`, `1.5`, `500ms`, `10s`, `2m`.
///
/// # Errors
/// A message naming the bad input.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("bad duration unit in {s:?} (ms, s, m)")),
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("duration {s:?} out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Runs `rzk bench` from the command line: builds the runtime, runs, prints the result.
pub fn main(args: BenchArgs) -> std::process::ExitCode {
    let mut b = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(args.threads);
        b
    };
    let rt = match b.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rzk bench: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(&args)) {
        Ok(sum) => {
            if args.json {
                println!("{}", sum.to_json());
            } else {
                print!("{}", sum.to_table());
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rzk bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// One whole run: setup, warmup, measurement, cleanup.
///
/// # Errors
/// Connection or protocol failures in any phase.
pub async fn run(args: &BenchArgs) -> Result<Summary, BenchError> {
    let value = Bytes::from(vec![b'x'; args.value_size]);
    let label = label(args);
    let pace = Pace {
        outstanding: args.outstanding,
        period: args
            .rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(args.sessions.max(1) as f64 / r)),
        busy_poll: if args.sessions == 1 {
            Duration::from_micros(args.busy_poll_micros)
        } else {
            Duration::ZERO
        },
    };
    crate::idle_poll::start(Duration::from_micros(args.idle_poll_micros));
    if matches!(args.workload, Workload::Probe | Workload::ProbeWrite) {
        return probe(args, &label).await;
    }
    if args.workload == Workload::Fsync {
        let (dir, size, warmup, duration) = (
            args.dir.clone(),
            args.value_size,
            args.warmup,
            args.duration,
        );
        let stats = tokio::task::spawn_blocking(move || disk::fsync(&dir, size, warmup, duration))
            .await
            .map_err(|e| BenchError::Protocol(e.to_string()))??;
        return Ok(stats.summary(&label, args.duration));
    }
    let progress = Arc::new(Progress::default());
    setup(args, &value).await?;
    if args.workload == Workload::Load {
        let start = Instant::now();
        let ticker = progress_line(args, progress.clone());
        let (stats, _) = load_keys(args, &value, Window { start, end: None }, &progress).await?;
        ticker.abort();
        return Ok(stats.summary(&label, start.elapsed()));
    }
    let start = Instant::now() + args.warmup;
    let win = Window {
        start,
        end: Some(start + args.duration),
    };
    let ticker = progress_line(args, progress.clone());
    let measured = measure(args, value.clone(), pace, win, progress.clone()).await;
    ticker.abort();
    let (stats, created) = measured?;
    if !args.no_cleanup {
        cleanup(args, created).await?;
    }
    Ok(stats.summary(&label, args.duration))
}

fn label(args: &BenchArgs) -> String {
    let shape = match args.workload {
        Workload::Fsync => "one at a time".to_string(),
        Workload::Watch => format!("{} watchers, 1 writer", args.sessions),
        Workload::Connect => format!("{} open/close loops", args.sessions),
        _ => format!(
            "{} sessions x {} outstanding",
            args.sessions, args.outstanding
        ),
    };
    let mut l = format!(
        "{} ({shape}, {} B values",
        args.workload.name(),
        args.value_size
    );
    if args.workload == Workload::Mix {
        l += &format!(", mix {}:{}", args.mix.read, args.mix.write);
    }
    if let Some(r) = args.rate {
        l += &format!(", rate {r}/s");
    }
    l + ")"
}

/// The measured phase; returns the stats and, per session, how many requests it sent.
async fn measure(
    args: &BenchArgs,
    value: Bytes,
    pace: Pace,
    win: Window,
    progress: Arc<Progress>,
) -> Result<(Stats, Vec<u64>), BenchError> {
    let addr = &args.server;
    match args.workload {
        Workload::Watch => Ok((
            storm::watch(addr, args.sessions, value, win, progress).await?,
            vec![],
        )),
        Workload::Connect => Ok((
            storm::connect(addr, args.sessions, pace.period, win, progress).await?,
            vec![],
        )),
        kind => {
            let gens = (0..args.sessions)
                .map(|s| WorkGen::new(kind, s, args.keys, value.clone(), args.mix))
                .collect();
            let (stats, gens) = drive_all(addr, gens, pace, win, progress).await?;
            Ok((stats, gens.iter().map(|g| g.sent).collect()))
        }
    }
}

/// Creates `--keys` keys across the sessions.
async fn load_keys(
    args: &BenchArgs,
    value: &Bytes,
    win: Window,
    progress: &Arc<Progress>,
) -> Result<(Stats, Vec<Batch>), BenchError> {
    let v = value.clone();
    batch(args, args.keys, win, progress, move |i| {
        create(key(i), v.clone(), 0)
    })
    .await
}

async fn batch(
    args: &BenchArgs,
    count: u64,
    win: Window,
    progress: &Arc<Progress>,
    make: impl Fn(u64) -> zk_codec::Request + Send + Sync + 'static,
) -> Result<(Stats, Vec<Batch>), BenchError> {
    let b = Batch::new(count, make);
    let gens = (0..args.sessions.max(1)).map(|_| b.share()).collect();
    let pace = Pace {
        outstanding: args.outstanding.max(100),
        period: None,
        busy_poll: Duration::ZERO,
    };
    drive_all(&args.server, gens, pace, win, progress.clone()).await
}

fn unmeasured() -> Window {
    Window {
        start: Instant::now() + Duration::from_secs(86_400 * 365),
        end: None,
    }
}

/// Creates the root, the workload's parents and the nodes it reads.
async fn setup(args: &BenchArgs, value: &Bytes) -> Result<(), BenchError> {
    let mut c = conn::Conn::open(&args.server).await?;
    let mut paths = vec![ROOT];
    paths.extend_from_slice(args.workload.parents());
    if args.workload == Workload::Watch {
        paths.push(WATCHED);
    }
    for p in paths {
        let (h, _) = c.call(&create(p.to_string(), Bytes::new(), 0)).await?;
        if h.err != 0 && h.err != zk_codec::ErrorCode::NodeExists.code() {
            return Err(BenchError::Protocol(format!(
                "setup create {p}: {}",
                stats::error_name(h.err)
            )));
        }
    }
    c.close().await;
    let quiet = Arc::new(Progress::default());
    if args.workload.needs_keys() {
        let (s, _) = load_keys(args, value, unmeasured(), &quiet).await?;
        check_setup("keys", &s);
    }
    if args.workload == Workload::Children {
        let (s, _) = batch(args, args.width, unmeasured(), &quiet, |i| {
            create(format!("{WIDE}/c{i}"), Bytes::new(), 0)
        })
        .await?;
        check_setup("wide node", &s);
    }
    Ok(())
}

/// Setup errors are NodeExists from a previous run's leftovers (anything worse fails the
/// measured phase loudly), so they are only logged.
fn check_setup(what: &str, s: &Stats) {
    if !s.errors.is_empty() {
        tracing::debug!(what, errors = ?s.errors, "setup found existing nodes");
    }
}

/// Deletes what setup and the run created, children first.
async fn cleanup(args: &BenchArgs, sent: Vec<u64>) -> Result<(), BenchError> {
    let mut paths: Vec<String> = Vec::new();
    match args.workload {
        Workload::Create => {
            for (s, n) in sent.iter().enumerate() {
                paths.extend((0..*n).map(|i| format!("{ROOT}/c/s{s}-{i}")));
            }
        }
        Workload::CreateSeq => {
            let total: u64 = sent.iter().sum();
            paths.extend((0..total).map(|i| format!("{ROOT}/q/n-{i:010}")));
        }
        Workload::Children => paths.extend((0..args.width).map(|i| format!("{WIDE}/c{i}"))),
        w if w.needs_keys() => paths.extend((0..args.keys).map(key)),
        _ => {}
    }
    let paths = Arc::new(paths);
    let p = paths.clone();
    let quiet = Arc::new(Progress::default());
    batch(args, paths.len() as u64, unmeasured(), &quiet, move |i| {
        delete(p[i as usize].clone())
    })
    .await?;
    let mut c = conn::Conn::open(&args.server).await?;
    let mut tail: Vec<&str> = vec![WATCHED];
    tail.extend_from_slice(args.workload.parents());
    tail.push(ROOT);
    for p in tail {
        c.call(&delete(p.to_string())).await?;
    }
    c.close().await;
    Ok(())
}

/// Retries a getData of key 0 (probe) or a setData of `/` (probe-write), on a new session each
/// time, going round the connect string, until it succeeds.
async fn probe(args: &BenchArgs, label: &str) -> Result<Summary, BenchError> {
    let start = Instant::now();
    let req = if args.workload == Workload::ProbeWrite {
        zk_codec::Request::SetData(zk_codec::records::SetDataRequest {
            path: "/".to_string(),
            data: Some(Bytes::new()),
            version: -1,
        })
    } else {
        zk_codec::Request::GetData(zk_codec::records::PathWatchRequest {
            path: key(0),
            watch: false,
        })
    };
    let mut last = String::from("never tried");
    let mut tries = 0usize;
    // A server still starting may accept and then say nothing: each attempt gets one second.
    let req = &req;
    let attempt = |n: usize| async move {
        let mut c = conn::Conn::open(conn::nth_server(&args.server, n)).await?;
        let r = c.call(req).await;
        c.close().await;
        r
    };
    while start.elapsed() < args.duration {
        tries += 1;
        match tokio::time::timeout(Duration::from_secs(1), attempt(tries - 1)).await {
            Ok(Ok((h, _))) if h.err == 0 => {
                let mut s = Stats::default();
                s.record(0, start.elapsed());
                return Ok(s.summary(label, start.elapsed()));
            }
            Ok(Ok((h, _))) => last = stats::error_name(h.err),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = "no answer within 1 s".into(),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err(BenchError::Protocol(format!(
        "{} did not succeed within {:?}: {last}",
        args.workload.name(),
        args.duration
    )))
}

/// Prints ops/s and errors once a second on stderr until aborted.
fn progress_line(args: &BenchArgs, p: Arc<Progress>) -> tokio::task::JoinHandle<()> {
    let quiet = args.quiet;
    tokio::spawn(async move {
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let mut last = 0;
        loop {
            tick.tick().await;
            let ops = p.ops.load(Ordering::Relaxed);
            if !quiet {
                eprintln!(
                    "[{:>4.0}s] {:>10} ops/s  errors {}",
                    start.elapsed().as_secs_f64(),
                    stats::format_rate((ops - last) as f64),
                    p.errors.load(Ordering::Relaxed)
                );
            }
            last = ops;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_plain_seconds_and_units() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("x").is_err());
    }

    #[test]
    fn command_line_parses_into_args() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            a: BenchArgs,
        }
        let t =
            T::try_parse_from(["t", "mix", "--mix", "80:20", "--duration", "2", "--json"]).unwrap();
        assert_eq!(t.a.workload, Workload::Mix);
        assert_eq!(
            t.a.mix,
            Mix {
                read: 80,
                write: 20
            }
        );
        assert_eq!(t.a.duration, Duration::from_secs(2));
        assert!(t.a.json);
        assert!(T::try_parse_from(["t", "mix", "--mix", "80"]).is_err());
    }
}
