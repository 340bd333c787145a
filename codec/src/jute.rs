//! Jute primitives and the [`Jute`] trait that every record implements.
//!
//! | jute type     | Rust type                      | encoding                                   |
//! |---------------|--------------------------------|--------------------------------------------|
//! | int           | `i32`                          | 4 bytes big-endian                         |
//! | long          | `i64`                          | 8 bytes big-endian                         |
//! | boolean       | `bool`                         | 1 byte; 0 is false, anything else true     |
//! | buffer        | `Option<Bytes>` / `Bytes`      | int length (-1 = null) + bytes             |
//! | ustring       | `Option<String>` / `String`    | int length (-1 = null) + UTF-8 bytes       |
//! | vector<T>     | `Option<Vec<T>>` / `Vec<T>`    | int count (-1 = null) + elements           |
//!
//! The `Option` forms keep null distinct from empty and re-encode bit-exactly. The plain forms
//! read null as empty and never write -1; records use them where ZooKeeper treats the two alike
//! (paths, ACL lists, child lists). Strings decode like Java does: invalid UTF-8 becomes U+FFFD.
//!
//! Lengths are checked against [`Limits`] and against the bytes actually present before anything
//! is allocated, so an untrusted length can never make us allocate more than the input's size.

use crate::error::DecodeError;
use bytes::{BufMut, Bytes, BytesMut};
use nom::bytes::complete::take;
use nom::number::complete::{be_i32, be_i64, be_u8};

/// The result type of every decoder: remaining input and the value.
pub type Res<'a, T> = nom::IResult<&'a [u8], T, DecodeError>;

/// Size limits applied while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// jute.maxbuffer: the largest frame accepted (default 1 048 575).
    pub max_buffer: usize,
    /// zookeeper.jute.maxbuffer.extrasize: slack allowed on top of `max_buffer` for one field.
    pub extra_size: usize,
}

impl Limits {
    /// ZooKeeper's defaults: 0xfffff for both.
    pub const DEFAULT: Limits = Limits {
        max_buffer: 0xfffff,
        extra_size: 0xfffff,
    };

    /// The largest buffer or string a single field may hold.
    pub fn max_field(&self) -> usize {
        self.max_buffer.saturating_add(self.extra_size)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// A value with a jute encoding. Records are declared with [`crate::record!`], which derives
/// both directions from one field list so that no record has two encoders.
pub trait Jute: Sized {
    /// Decodes one value from the front of `input`.
    fn decode(input: &[u8], lim: Limits) -> Res<'_, Self>;
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut BytesMut);

    /// Decodes a whole value, ignoring trailing bytes as ZooKeeper's readers do.
    fn decode_from(input: &[u8], lim: Limits) -> Result<Self, DecodeError> {
        Self::decode(input, lim)
            .map(|(_, v)| v)
            .map_err(crate::error::from_nom)
    }

    /// Decodes one value from the front of `*input` and advances past it (a cursor-style helper
    /// for callers outside nom).
    fn decode_next(input: &mut &[u8], lim: Limits) -> Result<Self, DecodeError> {
        let (rest, v) = Self::decode(input, lim).map_err(crate::error::from_nom)?;
        *input = rest;
        Ok(v)
    }

    /// Encodes into a fresh buffer.
    fn to_bytes(&self) -> BytesMut {
        let mut out = BytesMut::with_capacity(64);
        self.encode(&mut out);
        out
    }
}

impl Jute for i32 {
    fn decode(input: &[u8], _: Limits) -> Res<'_, Self> {
        be_i32(input)
    }
    fn encode(&self, out: &mut BytesMut) {
        out.put_i32(*self);
    }
}

impl Jute for i64 {
    fn decode(input: &[u8], _: Limits) -> Res<'_, Self> {
        be_i64(input)
    }
    fn encode(&self, out: &mut BytesMut) {
        out.put_i64(*self);
    }
}

impl Jute for bool {
    fn decode(input: &[u8], _: Limits) -> Res<'_, Self> {
        let (rest, b) = be_u8(input)?;
        Ok((rest, b != 0))
    }
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(u8::from(*self));
    }
}

/// Reads a length prefix: `None` for -1, the length otherwise, checked against `max` and the
/// bytes left (`unit` = the fewest bytes one counted item can take).
fn length(input: &[u8], max: usize, unit: usize) -> Res<'_, Option<usize>> {
    let (rest, n) = be_i32(input)?;
    match n {
        -1 => Ok((rest, None)),
        n if n < -1 => Err(nom::Err::Failure(DecodeError::NegativeLength(n))),
        n => {
            let n = n as usize;
            if n > max {
                return Err(nom::Err::Failure(DecodeError::TooLong { len: n, max }));
            }
            if n.saturating_mul(unit) > rest.len() {
                return Err(nom::Err::Failure(DecodeError::Truncated));
            }
            Ok((rest, Some(n)))
        }
    }
}

fn put_len(out: &mut BytesMut, len: usize) {
    // Invariant: values we encode are bounded far below 2 GiB by the frame limit.
    out.put_i32(len as i32);
}

/// Decodes a raw buffer as a borrowed slice (`None` = null), without copying.
pub fn decode_slice(input: &[u8], lim: Limits) -> Res<'_, Option<&[u8]>> {
    let (rest, len) = length(input, lim.max_field(), 1)?;
    match len {
        None => Ok((rest, None)),
        Some(n) => {
            let (rest, bytes) = take(n)(rest)?;
            Ok((rest, Some(bytes)))
        }
    }
}

/// Encodes a raw buffer from a borrowed slice (`None` = null): [`decode_slice`]'s inverse.
pub fn encode_slice(out: &mut BytesMut, data: Option<&[u8]>) {
    match data {
        None => out.put_i32(-1),
        Some(b) => {
            put_len(out, b.len());
            out.put_slice(b);
        }
    }
}

impl Jute for Option<Bytes> {
    fn decode(input: &[u8], lim: Limits) -> Res<'_, Self> {
        let (rest, s) = decode_slice(input, lim)?;
        Ok((rest, s.map(Bytes::copy_from_slice)))
    }
    fn encode(&self, out: &mut BytesMut) {
        encode_slice(out, self.as_deref());
    }
}

impl Jute for Bytes {
    fn decode(input: &[u8], lim: Limits) -> Res<'_, Self> {
        let (rest, b) = <Option<Bytes>>::decode(input, lim)?;
        Ok((rest, b.unwrap_or_default()))
    }
    fn encode(&self, out: &mut BytesMut) {
        encode_slice(out, Some(self));
    }
}

fn utf8(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

impl Jute for Option<String> {
    fn decode(input: &[u8], lim: Limits) -> Res<'_, Self> {
        let (rest, s) = decode_slice(input, lim)?;
        Ok((rest, s.map(utf8)))
    }
    fn encode(&self, out: &mut BytesMut) {
        match self {
            None => out.put_i32(-1),
            Some(s) => s.encode(out),
        }
    }
}

impl Jute for String {
    fn decode(input: &[u8], lim: Limits) -> Res<'_, Self> {
        let (rest, s) = <Option<String>>::decode(input, lim)?;
        Ok((rest, s.unwrap_or_default()))
    }
    fn encode(&self, out: &mut BytesMut) {
        put_len(out, self.len());
        out.put_slice(self.as_bytes());
    }
}

impl<T: Jute> Jute for Option<Vec<T>> {
    fn decode(input: &[u8], lim: Limits) -> Res<'_, Self> {
        // Every element we ever put in a vector takes at least 4 bytes on the wire.
        let (mut rest, count) = length(input, usize::MAX, 4)?;
        let Some(count) = count else {
            return Ok((rest, None));
        };
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            let (r, item) = T::decode(rest, lim)?;
            items.push(item);
            rest = r;
        }
        Ok((rest, Some(items)))
    }
    fn encode(&self, out: &mut BytesMut) {
        match self {
            None => out.put_i32(-1),
            Some(v) => v.encode(out),
        }
    }
}

impl<T: Jute> Jute for Vec<T> {
    fn decode(input: &[u8], lim: Limits) -> Res<'_, Self> {
        let (rest, v) = <Option<Vec<T>>>::decode(input, lim)?;
        Ok((rest, v.unwrap_or_default()))
    }
    fn encode(&self, out: &mut BytesMut) {
        put_len(out, self.len());
        for item in self {
            item.encode(out);
        }
    }
}

/// Declares a jute record: a struct whose fields are encoded in declaration order, with its
/// [`Jute`] impl (and, for tests, a proptest strategy) derived from the same field list.
#[macro_export]
macro_rules! record {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        pub struct $name { $($(#[$fm])* pub $field: $ty),* }

        impl $crate::jute::Jute for $name {
            #[allow(unused_variables)]
            fn decode(input: &[u8], lim: $crate::jute::Limits) -> $crate::jute::Res<'_, Self> {
                $(let (input, $field) = <$ty as $crate::jute::Jute>::decode(input, lim)?;)*
                Ok((input, Self { $($field),* }))
            }
            #[allow(unused_variables)]
            fn encode(&self, out: &mut bytes::BytesMut) {
                $($crate::jute::Jute::encode(&self.$field, out);)*
            }
        }

        #[cfg(any(test, feature = "arbitrary"))]
        impl $crate::arb::Arb for $name {
            fn arb() -> proptest::strategy::BoxedStrategy<Self> {
                use proptest::strategy::Strategy;
                $crate::arb_fields!($name; $($field : $ty),*)
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_empty_buffers_stay_distinct() {
        let lim = Limits::DEFAULT;
        assert_eq!(<Option<Bytes>>::decode_from(&[0xff; 4], lim), Ok(None));
        assert_eq!(
            <Option<Bytes>>::decode_from(&[0, 0, 0, 0], lim),
            Ok(Some(Bytes::new()))
        );
        assert_eq!(None::<Bytes>.to_bytes().as_ref(), &[0xff; 4]);
        assert_eq!(<String>::decode_from(&[0xff; 4], lim), Ok(String::new()));
    }

    #[test]
    fn lengths_are_checked_before_allocating() {
        let lim = Limits::DEFAULT;
        let huge = [0x7f, 0xff, 0xff, 0xff];
        assert!(matches!(
            <Bytes>::decode_from(&huge, lim),
            Err(DecodeError::TooLong { .. })
        ));
        let short = [0, 0, 0, 10, 1, 2];
        assert_eq!(
            <Bytes>::decode_from(&short, lim),
            Err(DecodeError::Truncated)
        );
        let neg = [0xff, 0xff, 0xff, 0xfe];
        assert_eq!(
            <Vec<i32>>::decode_from(&neg, lim),
            Err(DecodeError::NegativeLength(-2))
        );
        let many = [0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1];
        assert_eq!(
            <Vec<i32>>::decode_from(&many, lim),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn field_limit_is_configurable() {
        let lim = Limits {
            max_buffer: 4,
            extra_size: 0,
        };
        assert_eq!(
            <Bytes>::decode_from(&[0, 0, 0, 4, 1, 2, 3, 4], lim)
                .unwrap()
                .len(),
            4
        );
        assert_eq!(
            <Bytes>::decode_from(&[0, 0, 0, 5, 1, 2, 3, 4, 5], lim),
            Err(DecodeError::TooLong { len: 5, max: 4 })
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_char_like_java() {
        let s = <String>::decode_from(&[0, 0, 0, 2, b'a', 0xff], Limits::DEFAULT).unwrap();
        assert_eq!(s, "a\u{fffd}");
    }

    #[test]
    fn any_nonzero_byte_is_true() {
        assert_eq!(bool::decode_from(&[7], Limits::DEFAULT), Ok(true));
    }
}
