//! exoauth: turns exported Exchange cmdlet output into a per-mailbox verdict on
//! POP, IMAP and SMTP AUTH basic-auth access, with the exact setting that blocks
//! each protocol and where it came from.
//!
//! Data flows one way (DESIGN.md §1):
//! [`decode`] bytes to text → [`input`] text to records → [`model`] records to
//! typed rows and the joined [`model::Snapshot`] → [`audit`] the pure rules →
//! [`emit`] reports. [`load`] drives the first stages over an export folder;
//! [`diff`] compares two JSON reports.

#![deny(missing_docs)]

pub mod audit;
pub mod decode;
pub mod diff;
pub mod emit;
pub mod evidence;
pub mod fleet;
pub mod generate;
pub mod input;
pub mod load;
pub mod model;
mod ordered;
pub mod plan;
pub mod progress;
pub mod sample;
pub mod trend;
