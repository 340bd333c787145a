//! Differential conformance runner: runs the scenarios in `conformance/scenarios/*.txt` (or a
//! seeded random sequence) against two servers, real ZooKeeper and rzk by default, and compares
//! the normalised transcripts. See conformance/README.md.

mod gen;
mod run;
mod script;
mod servers;
mod wire;

use anyhow::{bail, Context, Result};
use script::Scenario;
use servers::{Control, Kind, Server};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

const USAGE: &str = "usage: conformance [--against zk,rzk|zk,zk|recorded,rzk] [--rewrite] \
[--expected DIR] [--scenarios DIR] [--only SUBSTR] [--show] [--sort-lists] [--random-seed S --random-steps N] [--rzk PATH] [--known FILE]";

struct Opts {
    against: (Kind, Kind),
    scenarios: PathBuf,
    only: Option<String>,
    show: bool,
    seed: Option<u64>,
    steps: usize,
    rzk: PathBuf,
    known: PathBuf,
    root: PathBuf,
    rewrite: bool,
    expected: PathBuf,
}

fn opts() -> Result<Opts> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = here.parent().context("workspace root")?.to_path_buf();
    let mut o = Opts {
        against: (Kind::Zk, Kind::Rzk),
        scenarios: here.join("scenarios"),
        only: None,
        show: false,
        seed: None,
        steps: 200,
        rzk: root.join("target/release/rzk"),
        known: here.join("KNOWN_DIFFERENCES.md"),
        root,
        rewrite: false,
        expected: here.join("expected"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--against" => {
                let v = val()?;
                let (l, r) = v.split_once(',').context("--against A,B")?;
                o.against = (Kind::parse(l)?, Kind::parse(r)?);
            }
            "--scenarios" => o.scenarios = val()?.into(),
            "--only" => o.only = Some(val()?),
            "--show" => o.show = true,
            "--rewrite" => o.rewrite = true,
            "--expected" => o.expected = val()?.into(),
            "--sort-lists" => run::SORT_LISTS.store(true, std::sync::atomic::Ordering::Relaxed),
            "--random-seed" => o.seed = Some(val()?.parse()?),
            "--random-steps" => o.steps = val()?.parse()?,
            "--rzk" => o.rzk = val()?.into(),
            "--known" => o.known = val()?.into(),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => bail!("unknown argument {a}\n{USAGE}"),
        }
    }
    Ok(o)
}

/// `- name: why` lines of KNOWN_DIFFERENCES.md.
fn known(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let l = l.strip_prefix("- ")?;
            let (name, why) = l.split_once(':')?;
            let name = name.trim().trim_matches('`');
            (!name.contains(' ')).then(|| (name.to_string(), why.trim().to_string()))
        })
        .collect()
}

/// Transcripts saved by `--rewrite`.
fn recorded(dir: &Path, scenarios: &[Scenario]) -> Result<Vec<Vec<String>>> {
    scenarios
        .iter()
        .map(|sc| {
            let f = dir.join(format!("{}.txt", sc.name));
            let text = std::fs::read_to_string(&f)
                .with_context(|| format!("{} (record it with --rewrite)", f.display()))?;
            Ok(text.lines().map(String::from).collect())
        })
        .collect()
}

/// Runs every scenario in order on one server, wiping the tree before each.
fn run_all(server: &Server, scenarios: &[Scenario]) -> Result<Vec<Vec<String>>> {
    let mut ctl = Control::open(server.addr)?;
    let mut out = Vec::new();
    for sc in scenarios {
        ctl.wipe()
            .with_context(|| format!("{}: wiping before {}", server.kind.name(), sc.name))?;
        out.push(run::run(server.addr, sc));
    }
    Ok(out)
}

fn print_diff(l: &str, r: &str, a: &[String], b: &[String]) {
    let n = a.len().max(b.len());
    let mut shown = 0;
    for i in 0..n {
        let x = a.get(i).map(String::as_str).unwrap_or("<none>");
        let y = b.get(i).map(String::as_str).unwrap_or("<none>");
        if x != y {
            println!("    {i:>3} {l:>3}: {x}");
            println!("    {i:>3} {r:>3}: {y}");
            shown += 1;
            if shown >= 12 {
                println!("    ... (more differences; --only NAME --show for full transcripts)");
                break;
            }
        }
    }
}

fn main() -> Result<()> {
    let o = opts()?;
    let started = Instant::now();
    let mut scenarios = match o.seed {
        Some(seed) => vec![gen::scenario(seed, o.steps)?],
        None => script::load_dir(&o.scenarios)?,
    };
    if let Some(f) = &o.only {
        scenarios.retain(|s| s.name.contains(f.as_str()));
    }
    if scenarios.is_empty() {
        bail!("no scenarios selected");
    }
    let known = known(&o.known);
    let (lk, rk) = o.against;
    if (rk == Kind::Rzk || lk == Kind::Rzk) && !o.rzk.exists() {
        bail!(
            "{} not found: run `cargo build --release` first",
            o.rzk.display()
        );
    }
    if rk == Kind::Recorded {
        bail!("`recorded` can only be the left side (--against recorded,rzk)");
    }
    let left = match lk {
        Kind::Recorded => None,
        k => Some(Server::start(k, &o.root, &o.rzk, "l")?),
    };
    let right = Server::start(rk, &o.root, &o.rzk, "r")?;
    let (ta, tb) = std::thread::scope(|s| {
        let ha = s.spawn(|| match &left {
            Some(server) => run_all(server, &scenarios),
            None => recorded(&o.expected, &scenarios),
        });
        let hb = s.spawn(|| run_all(&right, &scenarios));
        (ha.join(), hb.join())
    });
    let ta = ta.map_err(|_| anyhow::anyhow!("runner thread panicked"))??;
    let tb = tb.map_err(|_| anyhow::anyhow!("runner thread panicked"))??;
    drop(left);
    drop(right);
    if o.rewrite {
        if lk != Kind::Zk {
            bail!("--rewrite records ZooKeeper's transcripts: use --against zk,...");
        }
        std::fs::create_dir_all(&o.expected)?;
        for (sc, t) in scenarios.iter().zip(&ta) {
            let mut text = t.join("\n");
            text.push('\n');
            std::fs::write(o.expected.join(format!("{}.txt", sc.name)), text)?;
        }
        println!(
            "wrote {} transcripts to {}",
            scenarios.len(),
            o.expected.display()
        );
    }
    let (ln, rn) = (lk.name(), rk.name());
    let mut passed = 0;
    let mut failed = Vec::new();
    let mut unexpected = 0;
    for (i, sc) in scenarios.iter().enumerate() {
        let (a, b) = (&ta[i], &tb[i]);
        if o.show {
            println!("--- {} ({ln} | {rn})", sc.name);
            let n = a.len().max(b.len());
            for j in 0..n {
                let x = a.get(j).map(String::as_str).unwrap_or("");
                let y = b.get(j).map(String::as_str).unwrap_or("");
                let mark = if x == y { ' ' } else { '!' };
                println!("{mark} {x}");
                if x != y {
                    println!("{mark} {y}   [{rn}]");
                }
            }
        }
        if a == b {
            passed += 1;
            println!("ok {}", sc.name);
        } else {
            let is_known = lk != rk && known.contains_key(&sc.name);
            if !is_known {
                unexpected += 1;
            }
            println!("DIFF {}{}", sc.name, if is_known { " (known)" } else { "" });
            print_diff(ln, rn, a, b);
            failed.push(sc.name.clone());
        }
    }
    println!(
        "{passed} passed, {} failed ({unexpected} not listed in {}) in {:.1}s",
        failed.len(),
        o.known
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default(),
        started.elapsed().as_secs_f64()
    );
    if unexpected > 0 {
        std::process::exit(1);
    }
    Ok(())
}
