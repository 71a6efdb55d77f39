//! Integration tests: the real binary on the fixtures, gathered into one test
//! binary to keep link time down.

mod util;

mod audit;
mod bad_input;
mod browser;
mod diff;
mod entra;
mod expected;
mod fleet;
mod forms;
mod golden;
mod paste;
mod plan;
mod ps;
mod readiness;
mod report;
mod roundtrip;
mod schema;
mod script;
mod scripts;
mod trend;
