//! The exoauth binary: parses the command line, runs, prints any error once and
//! maps it to an exit code (0 success, 1 flagged with `--fail-on flagged` or a
//! regression with `diff --fail-on regressions`, 2 bad input or usage). A closed
//! pipe (`exoauth audit | head`) exits 0 quietly.
//!
//! Colour is decided here and only here: the text report is coloured when it goes
//! to standard output, that is a terminal, and `NO_COLOR` is unset or empty
//! (no-color.org) and `TERM` is not `dumb`. Files and pipes never get an escape.

mod cli;

use std::ffi::OsStr;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use cli::{AuditArgs, Cli, Command, DiffArgs, DiffFailOn, FailOn};
use exoauth::audit;
use exoauth::emit::powershell::{self, Header};
use exoauth::emit::report::text::Text;
use exoauth::emit::report::{Format, Renderer, Report};
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Audit(args) => run_audit(&args),
        Command::Diff(args) => run_diff(&args),
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
        let named = |p: &std::path::Path| Header {
            name: p
                .file_name()
                .map_or_else(|| "script.ps1".into(), |n| n.to_string_lossy().into_owned()),
            ..header.clone()
        };
        let fix = powershell::fix_script(plan, &named(path))
            .context("cannot write the remediation script")?;
        std::fs::write(path, fix).with_context(|| format!("cannot write {}", path.display()))?;
        if let Some(rollback) = &args.rollback {
            let undo = powershell::rollback_script(plan, &named(rollback))
                .context("cannot write the rollback script")?;
            std::fs::write(rollback, undo)
                .with_context(|| format!("cannot write {}", rollback.display()))?;
        }
    }
    let report = Report {
        dir: &dir,
        options: &options,
        loaded: &loaded,
        audit: &audit,
        plan: plan.as_ref(),
    };
    let to_file = output_file(args.output.as_deref());
    let color = args.format() == Format::Text
        && to_file.is_none()
        && use_color(
            io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        );
    let colored = Text { color: true };
    let renderer: &dyn Renderer = if color { &colored } else { args.format().renderer() };
    write_output(to_file, color, |out| renderer.render(&report, out))?;
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

/// The file to write, or `None` for standard output (no `-o`, or `-o -`).
fn output_file(output: Option<&Path>) -> Option<&Path> {
    output.filter(|p| p.as_os_str() != "-")
}

/// Writes a rendered document to the file, or to standard output (through
/// anstream when coloured, which also makes ANSI work on older Windows consoles).
fn write_output(
    file: Option<&Path>,
    color: bool,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> anyhow::Result<()> {
    match file {
        Some(path) => {
            let mut buf = Vec::new();
            render(&mut buf)?;
            std::fs::write(path, buf)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let stdout = io::stdout().lock();
            let sink: Box<dyn Write> = if color {
                Box::new(anstream::AutoStream::always(stdout))
            } else {
                Box::new(stdout)
            };
            let mut out = io::BufWriter::new(sink);
            render(&mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Colour only on a terminal, never with `NO_COLOR` set to a non-empty value
/// (no-color.org) and never for `TERM=dumb`.
fn use_color(is_terminal: bool, no_color: Option<&OsStr>, term: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty) && term != Some(OsStr::new("dumb"))
}

fn run_diff(args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let read = |path: &PathBuf| -> anyhow::Result<exoauth::diff::AuditReport> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(exoauth::diff::read_report(&path.display().to_string(), &bytes)?)
    };
    let (old, new) = (read(&args.old)?, read(&args.new)?);
    let diff = exoauth::diff::diff(
        &args.old.display().to_string(),
        &old,
        &args.new.display().to_string(),
        &new,
    );
    let renderer = args.format.format().renderer();
    write_output(output_file(args.output.as_deref()), false, |out| renderer.render(&diff, out))?;
    if args.fail_on == DiffFailOn::Regressions && diff.regressions() > 0 {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        let s = |v: &'static str| Some(OsStr::new(v));
        for (terminal, no_color, term, want) in [
            (true, None, s("xterm-256color"), true),
            (true, None, None, true),
            (true, s(""), s("xterm"), true), // empty NO_COLOR does not count
            (true, s("1"), s("xterm"), false),
            (true, s("0"), s("xterm"), false), // any non-empty value disables
            (true, None, s("dumb"), false),
            (false, None, s("xterm"), false), // a pipe or a file
        ] {
            assert_eq!(
                use_color(terminal, no_color, term),
                want,
                "{terminal} {no_color:?} {term:?}"
            );
        }
    }

    #[test]
    fn dash_means_standard_output() {
        assert_eq!(output_file(Some(Path::new("-"))), None);
        assert_eq!(output_file(None), None);
        assert_eq!(output_file(Some(Path::new("r.json"))), Some(Path::new("r.json")));
    }
}
