//! The scenario format. A file holds one or more scenarios, each started by `=== name`; every
//! other non-blank line not starting with `#` is one step (see README.md for the vocabulary).

use anyhow::{bail, Context, Result};
use std::path::Path;

/// A named list of steps.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub steps: Vec<Step>,
}

/// One line of a scenario: `who` is the session name (None for global steps), `op` the verb,
/// `args` the remaining words (for multi: the raw text after the verb).
#[derive(Debug, Clone)]
pub struct Step {
    pub line: usize,
    pub who: Option<String>,
    /// The request is sent without waiting for its reply (prefix `>`).
    pub pipelined: bool,
    pub op: String,
    pub args: Vec<String>,
    pub text: String,
}

const GLOBAL: &[&str] = &["sleep", "4lw", "rawconn", "connect"];

/// Parses the text of one file.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Scenario>> {
    let mut out: Vec<Scenario> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("===") {
            out.push(Scenario {
                name: name.trim().to_string(),
                steps: Vec::new(),
            });
            continue;
        }
        let Some(sc) = out.last_mut() else {
            bail!("{origin}:{}: step before any `=== name`", i + 1);
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        let (who, rest) = if GLOBAL.contains(&words[0]) {
            (None, &words[..])
        } else {
            if words.len() < 2 {
                bail!("{origin}:{}: expected `SESSION OP ...`", i + 1);
            }
            (Some(words[0].to_string()), &words[1..])
        };
        let (pipelined, op) = match rest[0].strip_prefix('>') {
            Some(op) => (true, op.to_string()),
            None => (false, rest[0].to_string()),
        };
        sc.steps.push(Step {
            line: i + 1,
            who,
            pipelined,
            op,
            args: rest[1..].iter().map(|s| s.to_string()).collect(),
            text: line.to_string(),
        });
    }
    Ok(out)
}

/// Loads every `*.txt` under `dir`, in file-name order; scenario names must be unique.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)?;
        all.extend(parse(&text, &f.display().to_string())?);
    }
    let mut names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    for w in names.windows(2) {
        if w[0] == w[1] {
            bail!("duplicate scenario name {}", w[0]);
        }
    }
    Ok(all)
}

/// Options of a step: the first positional word, `key=value` pairs and bare flags.
pub struct Args<'a> {
    pub pos: Vec<&'a str>,
    kv: Vec<(&'a str, &'a str)>,
}

impl<'a> Args<'a> {
    pub fn new(words: &'a [String]) -> Args<'a> {
        let mut pos = Vec::new();
        let mut kv = Vec::new();
        for w in words {
            match w.split_once('=') {
                Some((k, v)) if !k.is_empty() && !k.starts_with('/') => kv.push((k, v)),
                _ => pos.push(w.as_str()),
            }
        }
        Args { pos, kv }
    }

    pub fn get(&self, k: &str) -> Option<&'a str> {
        self.kv.iter().find(|(key, _)| *key == k).map(|(_, v)| *v)
    }

    pub fn flag(&self, f: &str) -> bool {
        self.pos.contains(&f)
    }

    pub fn path(&self) -> Result<String> {
        match self.pos.first() {
            Some(&"''") => Ok(String::new()),
            Some(p) => Ok(p.to_string()),
            None => bail!("missing path"),
        }
    }

    pub fn int(&self, k: &str, default: i64) -> Result<i64> {
        match self.get(k) {
            Some(v) => v.parse().with_context(|| format!("{k}={v}")),
            None => Ok(default),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sessions_globals_and_pipelining() {
        let sc = parse(
            "# c\n=== one\nconnect A timeout=4000\nA >get /a w\nA multi create /x | delete /y v=1\n4lw ruok\n",
            "t",
        )
        .unwrap();
        assert_eq!(sc.len(), 1);
        let s = &sc[0].steps;
        assert_eq!(s[0].who, None);
        assert_eq!(s[0].op, "connect");
        assert_eq!(s[1].who.as_deref(), Some("A"));
        assert!(s[1].pipelined);
        assert_eq!(s[1].op, "get");
        let a = Args::new(&s[1].args);
        assert_eq!(a.path().unwrap(), "/a");
        assert!(a.flag("w"));
        assert_eq!(s[3].op, "4lw");
    }

    #[test]
    fn step_before_scenario_is_an_error() {
        assert!(parse("connect A\n", "t").is_err());
    }

    #[test]
    fn args_keep_paths_with_equals_positional() {
        let words: Vec<String> = ["/a=b", "v=3", "''"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let a = Args::new(&words);
        assert_eq!(a.path().unwrap(), "/a=b");
        assert_eq!(a.int("v", -1).unwrap(), 3);
        assert_eq!(a.int("x", -1).unwrap(), -1);
    }
}
