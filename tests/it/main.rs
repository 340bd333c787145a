//! Integration tests: the real `rzk` binary on loopback, driven over TCP with raw jute.

mod bad_input;
mod bench;
mod durability;
mod ensemble;
mod fourlw;
mod handshake;
mod harness;
mod idle_poll;
mod linearizable;
mod netproxy;
mod ops;
mod ops_surface;
mod readme;
mod sessions;
mod watches;
