//! Differential conformance runner (being built; see conformance/README.md).
fn main() {}
