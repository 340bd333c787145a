//! Seeded random operation sequences over a small key space, as scenarios.

use crate::script::{parse, Scenario};
use anyhow::Result;

/// xorshift64*: small, seedable, the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const PATHS: &[&str] = &[
    "/r/a", "/r/b", "/r/a/x", "/r/a/y", "/r/b/x", "/r/c", "/r/a/x/z",
];

fn one(rng: &mut Rng) -> String {
    let p = rng.pick(PATHS);
    let v = rng.pick(&["-1", "0", "1", "2"]);
    match rng.below(19) {
        0..=2 => format!("create {p} d=v{} f={}", rng.below(9), rng.below(4)),
        3 => format!("create2 {p} f={}", rng.below(4)),
        4 | 5 => format!("delete {p} v={v}"),
        6 | 7 => format!("set {p} d=s{} v={v}", rng.below(9)),
        8 => format!("get {p} w"),
        9 => format!("exists {p} w"),
        10 => format!("children {p} w"),
        11 => format!("children2 {p}"),
        12 => format!("count {p}"),
        13 => "ephemerals".to_string(),
        14 => format!(
            "setacl {p} acl={} v={v}",
            rng.pick(&["open", "world:anyone:rcd", "world:anyone:rw"])
        ),
        15 => format!("getacl {p}"),
        16 => format!("sync {p}"),
        _ => {
            let n = 1 + rng.below(3);
            let subs: Vec<String> = (0..n)
                .map(|_| {
                    let p = rng.pick(PATHS);
                    let v = rng.pick(&["-1", "0", "1"]);
                    match rng.below(4) {
                        0 => format!("create {p} f={}", rng.below(4)),
                        1 => format!("delete {p} v={v}"),
                        2 => format!("set {p} d=m v={v}"),
                        _ => format!("check {p} v={v}"),
                    }
                })
                .collect();
            format!("multi {}", subs.join(" | "))
        }
    }
}

/// A scenario of `steps` random operations by two sessions, from `seed`.
pub fn scenario(seed: u64, steps: usize) -> Result<Scenario> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut text = format!("=== random-{seed}-{steps}\nconnect A\nconnect B\nA create /r\n");
    for _ in 0..steps {
        let who = rng.pick(&["A", "B"]);
        text.push_str(&format!("{who} {}\n", one(&mut rng)));
    }
    text.push_str("A noevent 200\nB noevent 200\n");
    Ok(parse(&text, "random")?.remove(0))
}
