//! Findings to text: reports in each format. Renderers are pure functions of the
//! findings; only the binary touches files and the terminal.

pub mod convert;
pub mod diff;
pub mod fleet;
pub mod forms;
pub mod page;
pub mod powershell;
pub mod report;
pub mod trend;
