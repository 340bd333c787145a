//! Path rules: ZooKeeper's full path validation (PathUtils.validatePath) and parent/child
//! splitting. Validation is defined on UTF-16 code units; every non-BMP character is rejected
//! (its surrogates fall in U+D800..U+F8FF), so checking `char`s gives the same answer.

/// Why a path was refused; the server answers BadArguments for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    Empty,
    NotAbsolute,
    TrailingSlash,
    EmptySegment,
    RelativeSegment,
    BadChar,
}

fn bad_char(c: char) -> bool {
    let c = c as u32;
    c == 0
        || (0x01..=0x1f).contains(&c)
        || (0x7f..=0x9f).contains(&c)
        || (0xd800..=0xf8ff).contains(&c)
        || (0xfff0..=0xffff).contains(&c)
        || c > 0xffff
}

/// Full validation, as applied to create (after the sequence suffix), setData, setACL, check.
///
/// # Errors
/// The first rule the path breaks.
pub fn validate(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(PathError::TrailingSlash);
    }
    for seg in path[1..].split('/') {
        if seg.is_empty() {
            return Err(PathError::EmptySegment);
        }
        if seg == "." || seg == ".." {
            return Err(PathError::RelativeSegment);
        }
    }
    if path.chars().any(bad_char) {
        return Err(PathError::BadChar);
    }
    Ok(())
}

/// Splits at the last '/': `("/a/b") -> ("/a", "b")`, `("/a") -> ("/", "a")`. `None` without a
/// slash. The parent of a top-level node is "/" (ZooKeeper looks up "" which is also the root).
pub fn split(path: &str) -> Option<(&str, &str)> {
    let i = path.rfind('/')?;
    let parent = if i == 0 { "/" } else { &path[..i] };
    Some((parent, &path[i + 1..]))
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, name: &str) -> String {
    let mut p = String::with_capacity(parent.len() + 1 + name.len());
    p.push_str(parent);
    if !parent.ends_with('/') {
        p.push('/');
    }
    p.push_str(name);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_matches_zookeeper_rules() {
        for ok in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/...",
            "/zookeeper",
            "/é",
            "/a b",
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("", PathError::Empty),
            ("a", PathError::NotAbsolute),
            ("/a/", PathError::TrailingSlash),
            ("//a", PathError::EmptySegment),
            ("/a/./b", PathError::RelativeSegment),
            ("/a/..", PathError::RelativeSegment),
            ("/a\u{0}", PathError::BadChar),
            ("/a\u{1}", PathError::BadChar),
            ("/a\u{85}", PathError::BadChar),
            ("/a\u{e000}", PathError::BadChar),
            ("/a\u{fff5}", PathError::BadChar),
            ("/a\u{1f600}", PathError::BadChar),
        ];
        for (p, e) in cases {
            assert_eq!(validate(p), Err(e), "{p:?}");
        }
    }

    #[test]
    fn split_and_join() {
        assert_eq!(split("/a/b"), Some(("/a", "b")));
        assert_eq!(split("/a"), Some(("/", "a")));
        assert_eq!(split("/a/"), Some(("/a", "")));
        assert_eq!(split("a"), None);
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
