//! Decoding errors. Every malformed input maps to one of these; the codec never panics on
//! bytes from the network or the disk.

use std::fmt;

/// Why a record, frame or enum value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended inside a record.
    Truncated,
    /// A length or count prefix below -1.
    NegativeLength(i32),
    /// A buffer, string or vector longer than the configured maximum (or than the input).
    TooLong { len: usize, max: usize },
    /// An integer that names no known value of an enum (`what` is the enum's name).
    Unknown { what: &'static str, value: i32 },
    /// Structurally invalid input, e.g. a read op inside a write multi.
    Invalid(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("record truncated"),
            DecodeError::NegativeLength(n) => write!(f, "negative length {n}"),
            DecodeError::TooLong { len, max } => write!(f, "length {len} exceeds limit {max}"),
            DecodeError::Unknown { what, value } => write!(f, "unknown {what} {value}"),
            DecodeError::Invalid(why) => write!(f, "invalid record: {why}"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl<I> nom::error::ParseError<I> for DecodeError {
    fn from_error_kind(_input: I, _kind: nom::error::ErrorKind) -> Self {
        // The only nom combinators we use fail by running out of input.
        DecodeError::Truncated
    }

    fn append(_input: I, _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// Converts a nom result error into our error (complete-input parsers never say Incomplete).
pub(crate) fn from_nom(e: nom::Err<DecodeError>) -> DecodeError {
    match e {
        nom::Err::Incomplete(_) => DecodeError::Truncated,
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
    }
}
