//! The `rzk` command line.

use clap::Parser;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of the system allocator: with glibc's malloc a sixth of restart time went
/// to allocating (perf, 1M znodes). See `rzk::allocator` for why not the `mimalloc` crate's.
#[global_allocator]
static GLOBAL: rzk::allocator::Mimalloc = rzk::allocator::Mimalloc;

/// A wire-compatible ZooKeeper server.
#[derive(Parser, Debug)]
#[command(name = "rzk", version, about)]
struct Cli {
    /// zoo.cfg to read (also accepted as the first positional argument, as zkServer.sh passes it).
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Positional zoo.cfg path.
    #[arg(value_name = "ZOO_CFG")]
    config_positional: Option<PathBuf>,
    /// Client port (overrides clientPort; 0 picks a free port).
    #[arg(long, short = 'p')]
    port: Option<u16>,
    /// Address to listen on (overrides clientPortAddress).
    #[arg(long)]
    address: Option<IpAddr>,
    /// Data directory (overrides dataDir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Log filter, e.g. `debug` or `info,rzk::net=debug` (RUST_LOG's syntax; RUST_LOG wins when
    /// both are set). Default `info,openraft=error`.
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
    /// With no subcommand, rzk runs the server.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Load generator: drives a ZooKeeper-compatible server and reports ops/s and latency.
    Bench(rzk::bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    rzk::os_memory::set_collector(|| {
        // mimalloc ignores a collection asked by a thread that has never allocated.
        drop(std::hint::black_box(Box::new(0u8)));
        // Forced: also purges what is waiting out the purge delay (see `rzk::os_memory`).
        // SAFETY: mimalloc's own entry point, safe to call from any thread at any time.
        unsafe { libmimalloc_sys::mi_collect(true) }
    });
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(
                    cli.log_level.as_deref().unwrap_or("info,openraft=error"),
                )
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Some(Command::Bench(args)) = cli.command {
        return rzk::bench::main(args);
    }
    let path = cli
        .config
        .or(cli.config_positional)
        .or_else(|| std::env::var_os("ZOO_CFG").map(PathBuf::from));
    let mut config = match path {
        Some(p) => match rzk::config::Config::from_file(&p) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("rzk: {e}");
                return ExitCode::from(2);
            }
        },
        None => rzk::config::Config::default(),
    };
    if let Some(p) = cli.port {
        config.client_port = p;
    }
    if let Some(a) = cli.address {
        config.client_address = a;
    }
    if let Some(d) = cli.data_dir {
        config.data_log_dir = d.clone();
        config.data_dir = d;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rzk: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(rzk::server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rzk: {e}");
            ExitCode::FAILURE
        }
    }
}
