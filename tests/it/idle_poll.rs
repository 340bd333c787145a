//! Idle polling (`rzk.idlePollMicros`): one SCHED_IDLE spinner per CPU, asleep when the server
//! is quiet, none when turned off or under a CPU quota; `rzk bench` runs its own. Read from
//! /proc, so Linux only.
#![cfg(target_os = "linux")]

use crate::harness::{Client, Server, DEADLINE};
use std::time::Instant;

const SCHED_IDLE: u32 = 5;

/// (state, scheduling policy) of each of the server's threads named `rzk-idle-*`.
fn spinners(pid: u32) -> Vec<(char, u32)> {
    let mut out = Vec::new();
    // A process or thread may end while it is read (the generator's run does): it then has
    // no more spinners to report.
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks {
        let Ok(task) = task else { continue };
        let dir = task.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !comm.starts_with("rzk-idle-") {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        // Fields after the command name's closing parenthesis start at field 3 (state);
        // policy is field 41.
        let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        let state = rest[0].chars().next().unwrap();
        out.push((state, rest[41 - 3].parse().unwrap()));
    }
    out
}

/// The CPUs this test process (and so the server it starts) may run on.
fn allowed_cpus() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_string();
    list.split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

#[test]
fn one_sched_idle_spinner_per_cpu_asleep_when_quiet() {
    let s = Server::start("");
    let mut c = Client::connect(s.addr);
    for i in 0..200 {
        c.create(&format!("/n{i}"), b"x", 0);
        c.get(&format!("/n{i}"), false);
    }
    if rzk::idle_poll::quota_applies() {
        // A CPU quota (a container's limit): spinning would spend it, so none are started.
        assert!(spinners(s.pid()).is_empty());
        return;
    }
    let end = Instant::now() + DEADLINE;
    let found = loop {
        let found = spinners(s.pid());
        if found.len() == allowed_cpus() && found.iter().all(|(state, _)| *state == 'S') {
            break found;
        }
        assert!(Instant::now() < end, "spinners not all asleep: {found:?}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(
        found.iter().all(|(_, policy)| *policy == SCHED_IDLE),
        "{found:?}"
    );
}

#[test]
fn zero_window_starts_no_spinner() {
    let s = Server::start("rzk.idlePollMicros=0");
    let mut c = Client::connect(s.addr);
    c.create("/n", b"x", 0);
    assert!(spinners(s.pid()).is_empty());
}

/// The spinners `rzk bench` runs, sampled from /proc until it exits: the most seen at once.
fn generator_spinners(server: &Server, extra: &[&str]) -> Vec<(char, u32)> {
    let addr = server.addr.to_string();
    let mut args = vec![
        "bench",
        "get",
        "--server",
        &addr,
        "--sessions",
        "1",
        "--outstanding",
        "1",
        "--duration",
        "1",
        "--warmup",
        "0",
        "--quiet",
        "--json",
    ];
    args.extend_from_slice(extra);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rzk"))
        .args(&args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut most = Vec::new();
    let end = Instant::now() + DEADLINE;
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < end, "rzk bench did not finish");
        let seen = spinners(child.id());
        // A spinner sets its own policy once started, so a sample can catch one before it has:
        // a later sample with as many spinners and more of them SCHED_IDLE replaces it.
        let rank =
            |v: &[(char, u32)]| (v.len(), v.iter().filter(|(_, p)| *p == SCHED_IDLE).count());
        if rank(&seen) > rank(&most) {
            most = seen;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(child.wait().unwrap().success());
    most
}

#[test]
fn the_load_generator_keeps_its_own_cpus_awake_too() {
    let s = Server::start("");
    let seen = generator_spinners(&s, &[]);
    if rzk::idle_poll::quota_applies() {
        assert!(seen.is_empty(), "{seen:?}");
    } else {
        assert_eq!(seen.len(), allowed_cpus(), "{seen:?}");
        assert!(seen.iter().all(|(_, p)| *p == SCHED_IDLE), "{seen:?}");
    }
    assert!(generator_spinners(&s, &["--idle-poll-micros", "0"]).is_empty());
}
