//! Integration tests: the real binary on the fixtures, gathered into one test
//! binary to keep link time down.

mod util;

mod audit;
mod bad_input;
mod entra;
mod expected;
mod forms;
mod roundtrip;
mod scripts;
