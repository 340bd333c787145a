//! proptest strategies for every record, derived by [`crate::record!`] from the field list.
//! Compiled for this crate's tests and, with the `arbitrary` feature, for other crates' tests
//! (the conformance generator and the server's property tests).

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

/// A type with a proptest strategy covering its whole encodable range.
pub trait Arb: Sized + std::fmt::Debug {
    /// The strategy.
    fn arb() -> BoxedStrategy<Self>;
}

impl Arb for i32 {
    fn arb() -> BoxedStrategy<Self> {
        any::<i32>().boxed()
    }
}

impl Arb for i64 {
    fn arb() -> BoxedStrategy<Self> {
        any::<i64>().boxed()
    }
}

impl Arb for bool {
    fn arb() -> BoxedStrategy<Self> {
        any::<bool>().boxed()
    }
}

impl Arb for String {
    fn arb() -> BoxedStrategy<Self> {
        "\\PC{0,12}".boxed()
    }
}

impl Arb for Bytes {
    fn arb() -> BoxedStrategy<Self> {
        vec(any::<u8>(), 0..24).prop_map(Bytes::from).boxed()
    }
}

impl<T: Arb + 'static> Arb for Vec<T> {
    fn arb() -> BoxedStrategy<Self> {
        vec(T::arb(), 0..4).boxed()
    }
}

impl<T: Arb + 'static> Arb for Option<T> {
    fn arb() -> BoxedStrategy<Self> {
        proptest::option::of(T::arb()).boxed()
    }
}

/// Builds a record strategy from its fields (used by `record!`).
#[macro_export]
#[doc(hidden)]
macro_rules! arb_fields {
    ($name:ident;) => {
        proptest::strategy::Just($name {}).boxed()
    };
    ($name:ident; $($field:ident : $ty:ty),+) => {
        ( $(<$ty as $crate::arb::Arb>::arb(),)+ )
            .prop_map(|($($field,)+)| $name { $($field),+ })
            .boxed()
    };
}
