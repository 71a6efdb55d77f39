//! The exoauth binary: parses the command line, runs, prints any error once and
//! maps it to an exit code (0 success, 1 flagged with `--fail-on flagged`, 2 bad
//! input or usage). A closed pipe (`exoauth audit | head`) exits 0 quietly.

mod cli;
mod term;

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;

use cli::{AuditArgs, Cli, Command, FailOn};
use exoauth::audit;
use exoauth::emit::powershell::{self, Header};
use exoauth::emit::report::Report;
use exoauth::progress::{Progress, Unit};
use exoauth::{export, plan};

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

/// How chatty the run is, from the global flags.
struct Out {
    quiet: bool,
    verbose: bool,
    bars: term::Bars,
}

impl Out {
    /// A note or warning on standard error, unless `--quiet`.
    fn note(&self, message: std::fmt::Arguments<'_>) {
        if !self.quiet {
            eprintln!("exoauth: {message}");
        }
    }

    /// A detail on standard error with `--verbose`.
    fn detail(&self, message: std::fmt::Arguments<'_>) {
        if self.verbose {
            eprintln!("exoauth: {message}");
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let when = match cli.progress {
        _ if cli.quiet => term::When::Never,
        cli::ProgressArg::Auto => term::When::Auto,
        cli::ProgressArg::Never => term::When::Never,
        cli::ProgressArg::Always => term::When::Always,
    };
    let out = Out { quiet: cli.quiet, verbose: cli.verbose, bars: term::Bars::new(when) };
    match cli.command {
        Command::Audit(args) => run_audit(&args, &out),
        Command::Generate(args) => {
            let parts = exoauth::generate::tenant(
                args.seed,
                args.mailboxes,
                args.environment.environment(),
            );
            exoauth::generate::write_csv(&parts, &args.output)
                .with_context(|| format!("cannot write {}", args.output.display()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_audit(args: &AuditArgs, out: &Out) -> anyhow::Result<ExitCode> {
    let options = args.options()?;
    let started = Instant::now();
    let (loaded, dir) = match &args.dir {
        Some(dir) => (
            export::load_with(dir, options.environment, &out.bars)
                .with_context(|| format!("cannot audit {}", dir.display()))?,
            dir.clone(),
        ),
        None => {
            out.note(format_args!(
                "no export folder given; auditing the built-in sample tenant (fixtures/contoso)"
            ));
            (export::load_sample(options.environment)?, "fixtures/contoso (built-in sample)".into())
        }
    };
    for i in &loaded.inputs {
        out.detail(format_args!(
            "read {} ({}, {} {}, {} rows)",
            i.path.display(),
            i.cmdlet.produced_by(),
            i.form.name(),
            i.encoding,
            i.rows
        ));
    }
    out.detail(format_args!("read and joined the export in {:.2?}", started.elapsed()));
    let stage = Instant::now();
    let audit = audit::audit_with(&loaded.snapshot, &options, &out.bars);
    out.detail(format_args!(
        "audited {} mailboxes ({} in scope, {} flagged) in {:.2?}",
        audit.summary.mailboxes,
        audit.summary.in_scope,
        audit.summary.flagged,
        stage.elapsed()
    ));
    let unmatched = options.scope.unmatched(&loaded.snapshot);
    if !unmatched.is_empty() {
        out.note(format_args!(
            "warning: {} scope entries match no mailbox: {}",
            unmatched.len(),
            unmatched.join(", ")
        ));
    }
    let stage = Instant::now();
    let plan = args
        .script
        .as_ref()
        .map(|_| plan::plan(&loaded.snapshot, &audit, &options, args.strategy()));
    if let (Some(plan), Some(path)) = (&plan, &args.script) {
        let header = Header {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            generated: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            inputs: loaded
                .inputs
                .iter()
                .map(|i| (i.path.display().to_string(), i.sha256.clone()))
                .collect(),
            name: String::new(),
        };
        let named = |p: &Path| Header {
            name: p
                .file_name()
                .map_or_else(|| "script.ps1".into(), |n| n.to_string_lossy().into_owned()),
            ..header.clone()
        };
        let fix = powershell::fix_script(plan, &named(path))
            .context("cannot write the remediation script")?;
        write_atomically(path, |w| w.write_all(&fix))?;
        if let Some(rollback) = &args.rollback {
            let undo = powershell::rollback_script(plan, &named(rollback))
                .context("cannot write the rollback script")?;
            write_atomically(rollback, |w| w.write_all(&undo))?;
        }
        out.detail(format_args!(
            "planned {} changes and wrote the scripts in {:.2?}",
            plan.actions.len(),
            stage.elapsed()
        ));
    }
    let report = Report {
        dir: &dir,
        options: &options,
        loaded: &loaded,
        audit: &audit,
        plan: plan.as_ref(),
    };
    let renderer = args.format().renderer();
    let stage = Instant::now();
    match args.output.as_deref().filter(|p| p.as_os_str() != "-") {
        Some(path) => {
            out.bars.start("writing", Some(audit.findings.len() as u64), Unit::Lines);
            let written = write_atomically(path, |w| {
                let mut counting = term::Counting { inner: w, progress: &out.bars };
                renderer.render(&report, &mut counting)
            });
            out.bars.finish();
            written?;
        }
        None => {
            let mut w = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
            renderer.render(&report, &mut w)?;
            w.flush()?;
        }
    }
    out.detail(format_args!("wrote the report in {:.2?}", stage.elapsed()));
    out.detail(format_args!("done in {:.2?}", started.elapsed()));
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

/// Streams into a sibling `.NAME.partial` file and renames it into place, so a
/// reader never sees half a file and a failed run leaves an older file intact.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> anyhow::Result<()> {
    let name = path.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let partial = path.with_file_name(format!(".{name}.partial"));
    let result = (|| -> io::Result<()> {
        let mut w = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&partial)?);
        write(&mut w)?;
        w.flush()?;
        drop(w);
        std::fs::rename(&partial, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}
