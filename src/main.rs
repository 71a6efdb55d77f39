//! The exoauth binary: parses the command line, runs, prints any error once and
//! maps it to an exit code (0 success, 1 flagged with `--fail-on flagged`, 2 bad
//! input or usage). A closed pipe (`exoauth audit | head`) exits 0 quietly.

mod cli;

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use cli::{AuditArgs, Cli, Command, FailOn};
use exoauth::audit;
use exoauth::emit::powershell::{self, Header};
use exoauth::emit::report::Report;
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
