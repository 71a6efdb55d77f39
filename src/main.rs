//! The exoauth binary: parses the command line, runs, prints any error once and
//! maps it to an exit code (0 success, 1 flagged with `--fail-on flagged` or a
//! regression with `diff --fail-on regressions`, 2 bad input or usage). A closed
//! pipe (`exoauth audit | head`) exits 0 quietly.

mod cli;
mod commands;
mod output;
mod term;

/// Millions of small strings per large tenant: mimalloc allocates and frees them
/// markedly faster than the system allocator (scripts/bench.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io;
use std::process::ExitCode;

use clap::Parser;

use cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if err.chain().any(|c| {
                c.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("exoauth: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
