//! `rzk bench` against a real rzk: a short mixed run completes with operations and no errors,
//! and cleans up after itself.

use crate::harness::{Client, Server};
use clap::Parser;
use rzk::bench::{run, BenchArgs};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

fn bench(server: &Server, workload: &str) -> rzk::bench::stats::Summary {
    let addr = server.addr.to_string();
    let args = Cli::parse_from([
        "bench",
        workload,
        "--server",
        &addr,
        "--sessions",
        "2",
        "--outstanding",
        "20",
        "--keys",
        "50",
        "--duration",
        "1",
        "--warmup",
        "0.2",
        "--quiet",
    ])
    .bench;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(&args)).expect("bench run")
}

#[test]
fn bench_mix_runs_without_errors_and_cleans_up() {
    let server = Server::start("");
    let sum = bench(&server, "mix");
    assert!(sum.ops > 0, "{sum:?}");
    assert!(sum.errors.is_empty(), "{sum:?}");
    assert!(sum.p50_us > 0 && sum.p50_us <= sum.max_us);
    let mut c = Client::connect(server.addr);
    let (h, _) = c.get("/rzk-bench", false);
    assert_eq!(h.err, -101, "the bench root is deleted after the run");
}
