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

/// Hands the memory a stage freed back to the system before the next stage.
///
/// mimalloc keeps freed pages a while to reuse them, but the next stage
/// allocates on other threads, which do not reuse the ones the last stage freed,
/// so both stages' memory would be resident at once. At a million mailboxes the
/// load frees about 50 MiB (the join's notes and indices, the parsing buffers):
/// without this the audit's peak was 246 MiB, with it 235 MiB, the load's own
/// peak (`scripts/bench.sh`). Each of rayon's threads and this one collect its
/// own heap; it takes a few milliseconds.
fn release_freed_memory() {
    // SAFETY: `mi_collect` has no preconditions; it only frees pages that hold
    // no live allocation, in the calling thread's heap.
    let collect = || unsafe { libmimalloc_sys::mi_collect(true) };
    rayon::broadcast(|_| collect());
    collect();
}

/// Keeps the process's memory in 4 KiB pages.
///
/// mimalloc asks for transparent huge pages on its arenas, so a touched byte
/// makes 2 MiB resident: at a million mailboxes the peak was 235 MiB with
/// them and 221 MiB without, at ten thousand 27 MiB and 18 MiB; the time did
/// not change measurably (`scripts/bench.sh`, README). Linux only; elsewhere,
/// and where the call is refused, nothing changes.
fn use_small_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: `PR_SET_THP_DISABLE` takes no pointers; it sets a flag of this
    // process that only decides the size of the pages it is given later.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

use std::io;
use std::process::ExitCode;

use clap::Parser;

use cli::Cli;

fn main() -> ExitCode {
    use_small_pages();
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
