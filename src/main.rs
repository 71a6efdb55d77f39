//! The exoauth binary: parses the command line, runs, prints any error once and
//! maps it to an exit code (0 success, 1 flagged with `--fail-on flagged`, 2 bad
//! input or usage). A closed pipe (`exoauth audit | head`) exits 0 quietly.

mod cli;

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use cli::{AuditArgs, Cli, Command, FailOn, ParseArgs};
use exoauth::audit;
use exoauth::emit::report::Report;
use exoauth::export;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Audit(args) => run_audit(&args),
        Command::Parse(args) => run_parse(&args),
    }
}

fn run_parse(args: &ParseArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let converted = export::read_one(&args.file, &bytes, args.part)?;
    let out = exoauth::emit::convert::render(&converted.parsed.table, args.target());
    write_output(args.output.as_deref(), &out)?;
    eprint!("{}", exoauth::emit::convert::summary(&converted));
    if !converted.parsed.rejected.is_empty() {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes to a file, or to standard output for none or `-`.
fn write_output(path: Option<&std::path::Path>, bytes: &[u8]) -> anyhow::Result<()> {
    match path.filter(|p| p.as_os_str() != "-") {
        Some(path) => {
            std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            let mut out = io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
            Ok(())
        }
    }
}

fn run_audit(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let options = args.options()?;
    let (loaded, dir) = match &args.dir {
        Some(dir) => (
            export::load(dir, options.environment)
                .with_context(|| format!("cannot audit {}", dir.display()))?,
            dir.clone(),
        ),
        None => {
            eprintln!(
                "exoauth: no export folder given; auditing the built-in sample tenant (fixtures/contoso)"
            );
            (export::load_sample(options.environment)?, "fixtures/contoso (built-in sample)".into())
        }
    };
    let audit = audit::audit(&loaded.snapshot, &options);
    let unmatched = options.scope.unmatched(&loaded.snapshot);
    if !unmatched.is_empty() {
        eprintln!(
            "exoauth: warning: {} scope entries match no mailbox: {}",
            unmatched.len(),
            unmatched.join(", ")
        );
    }
    let report = Report { dir: &dir, options: &options, loaded: &loaded, audit: &audit };
    let renderer = args.format().renderer();
    match args.output.as_deref().filter(|p| p.as_os_str() != "-") {
        Some(path) => {
            let mut buf = Vec::new();
            renderer.render(&report, &mut buf)?;
            std::fs::write(path, buf)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let mut out = io::BufWriter::new(io::stdout().lock());
            renderer.render(&report, &mut out)?;
            out.flush()?;
        }
    }
    if !loaded.warnings.is_empty() {
        eprintln!(
            "exoauth: {} warning{} about the input (listed in the report)",
            loaded.warnings.len(),
            if loaded.warnings.len() == 1 { "" } else { "s" }
        );
    }
    if !loaded.rejected.is_empty() {
        eprintln!(
            "exoauth: {} input rows rejected (listed in the report); fix or re-export them: exiting with 2",
            loaded.rejected.len()
        );
        return Ok(ExitCode::from(2));
    }
    if args.fail_on == FailOn::Flagged && audit.summary.flagged > 0 {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
