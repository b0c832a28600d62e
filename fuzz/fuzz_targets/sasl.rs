//! cargo-fuzz target: see `redspice::protocol::fuzzing::FuzzTarget::Sasl`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redspice::protocol::fuzzing::{fuzz_one, FuzzTarget};

fuzz_target!(|data: &[u8]| {
    fuzz_one(FuzzTarget::Sasl, data);
});
