//! The subcommands: `audit` (read, audit, plan, write), `diff`, `parse` and
//! `generate`. Only this binary edge touches files and the terminal; the library
//! does the work.

use std::io::IsTerminal;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;

use crate::cli::{AuditArgs, Cli, Command, DiffArgs, DiffFailOn, FailOn, ParseArgs, TrendArgs};
use crate::{output, term};
use exoauth::audit;
use exoauth::emit::convert::Target;
use exoauth::emit::powershell::{self, Header};
use exoauth::emit::report::csv;
use exoauth::emit::report::text::Text;
use exoauth::emit::report::{Format, Renderer, Report};
use exoauth::input::stream::Counted;
use exoauth::progress::{Progress, Silent, Stoppable, Unit};
use exoauth::{load, plan};

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
            match memory() {
                Some((now, peak)) => eprintln!(
                    "exoauth: {message} [memory {} MiB, peak {} MiB]",
                    now >> 10,
                    peak >> 10
                ),
                None => eprintln!("exoauth: {message}"),
            }
        }
    }
}

/// The files under `dir` (one level of subfolders), sorted, with their sizes.
fn written_files(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for path in load::sorted_entries(dir).unwrap_or_default() {
        if path.is_dir() {
            for inner in load::sorted_entries(&path).unwrap_or_default() {
                out.push((inner.clone(), std::fs::metadata(&inner).map_or(0, |m| m.len())));
            }
        } else {
            out.push((path.clone(), std::fs::metadata(&path).map_or(0, |m| m.len())));
        }
    }
    out
}

/// A byte count for people: `5.2 KiB`, `157.3 MiB`.
fn size(bytes: u64) -> String {
    indicatif::BinaryBytes(bytes).to_string()
}

/// Resident and peak resident memory in KiB, where the system tells (Linux).
fn memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = |key: &str| {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].trim().trim_end_matches("kB").trim().parse::<u64>().ok()
    };
    Some((kib("VmRSS:")?, kib("VmHWM:")?))
}

/// An error when a mailbox export read again during the run could not be
/// ([`exoauth::model::Mailboxes::failure`]): whatever was made from it since is
/// not written (a file being written is discarded).
fn still_read(snapshot: &exoauth::model::Snapshot) -> io::Result<()> {
    match snapshot.mailboxes().failure() {
        Some(why) => Err(io::Error::other(why.to_owned())),
        None => Ok(()),
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let when = match cli.progress {
        _ if cli.quiet => term::When::Never,
        crate::cli::ProgressArg::Auto => term::When::Auto,
        crate::cli::ProgressArg::Never => term::When::Never,
        crate::cli::ProgressArg::Always => term::When::Always,
    };
    let out = Out { quiet: cli.quiet, verbose: cli.verbose, bars: term::Bars::new(when) };
    match cli.command {
        Command::Audit(args) => run_audit(&args, &out),
        Command::Diff(args) => run_diff(&args, &out),
        Command::Parse(args) => run_parse(&args, &out),
        Command::Trend(args) => run_trend(&args, &out),
        Command::Generate(args) => {
            let occupied = std::fs::read_dir(&args.output).is_ok_and(|mut d| d.next().is_some());
            if occupied && !args.force {
                anyhow::bail!(
                    "{} is not empty; choose an empty or new folder, or add --force to write into it (files of the same names are replaced)",
                    args.output.display()
                );
            }
            let parts = exoauth::generate::tenant(
                args.seed,
                args.mailboxes,
                args.environment.environment(),
            );
            exoauth::generate::write(&parts, &args.output, args.form.form())
                .with_context(|| format!("cannot write {}", args.output.display()))?;
            if let Some(events) = args.sign_ins {
                let dir = args.output.join("signins");
                exoauth::generate::write_sign_ins(&parts, args.seed, events, &dir)
                    .with_context(|| format!("cannot write {}", dir.display()))?;
            }
            out.note(format_args!(
                "wrote a generated tenant of {} mailboxes ({} users{}) to {}:",
                args.mailboxes,
                parts.users.as_ref().map_or(0, Vec::len),
                args.sign_ins.map_or_else(String::new, |n| format!(", {n} sign-in events")),
                args.output.display()
            ));
            for (path, len) in written_files(&args.output) {
                out.note(format_args!("  {}  {}", path.display(), size(len)));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `audit TENANTS_DIR --fleet`: every tenant folder audited, one fleet report;
/// with `-o DIR`, `DIR/fleet.<ext>` and each tenant's own `DIR/tenants/<tenant>.<ext>`.
fn run_fleet(args: &AuditArgs, out: &Out) -> anyhow::Result<ExitCode> {
    let options = args.options()?;
    let dir = args.dir.as_deref().context("--fleet needs the folder of tenant folders")?;
    let format = args.format();
    let ext = match format {
        Format::Text => "txt",
        Format::Csv => "csv",
        Format::Json => "json",
        Format::Markdown => "md",
        Format::Html => "html",
    };
    let bom = if format == Format::Csv { args.csv_bom.bytes() } else { b"" };
    let reports = output::file(args.output.as_deref());
    if let Some(reports) = reports {
        // Each tenant's own report goes under `tenants/`, so that no tenant
        // folder's name (`fleet`) can take the fleet report's place.
        std::fs::create_dir_all(reports.join("tenants"))
            .with_context(|| format!("cannot create {}", reports.display()))?;
    }
    let each = |name: &str, report: &exoauth::emit::report::Report<'_>| -> io::Result<()> {
        let Some(reports) = reports else { return Ok(()) };
        let own = reports.join("tenants").join(format!("{name}.{ext}"));
        output::write(Some(&own), false, &Silent, |w| {
            w.write_all(bom)?;
            format.renderer().render(report, w)?;
            still_read(&report.loaded.snapshot)
        })
        .map_err(io::Error::other)
    };
    let started = Instant::now();
    let fleet = exoauth::fleet::audit(dir, &options, &args.forms(), reports, &each)
        .with_context(|| format!("cannot read the tenant folders of {}", dir.display()))?;
    if fleet.tenants.is_empty() {
        anyhow::bail!(
            "{}: no tenant folders; --fleet expects one export folder per tenant inside it",
            dir.display()
        );
    }
    let target = reports.map(|r| r.join(format!("fleet.{ext}")));
    output::write(target.as_deref(), false, &Silent, |w| {
        w.write_all(bom)?;
        exoauth::emit::fleet::render(&fleet, format, w)
    })?;
    let totals = fleet.totals();
    out.detail(format_args!(
        "audited {} tenants ({} failed) in {:.2?}",
        totals.audited,
        totals.failed,
        started.elapsed()
    ));
    for t in &fleet.tenants {
        if let Err(e) = &t.result {
            out.note(format_args!("tenant {}: {e}", t.name));
        }
    }
    if totals.failed > 0 || totals.rejected > 0 {
        eprintln!(
            "exoauth: {} tenant(s) failed and {} input rows were rejected (listed in the report): exiting with 2",
            totals.failed, totals.rejected
        );
        return Ok(ExitCode::from(2));
    }
    if args.fail_on == FailOn::Flagged && totals.flagged > 0 {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn run_audit(args: &AuditArgs, out: &Out) -> anyhow::Result<ExitCode> {
    if args.fleet {
        return run_fleet(args, out);
    }
    let options = args.options()?;
    let digests = args.digests();
    let started = Instant::now();
    let (loaded, dir) = match &args.dir {
        Some(dir) => (
            load::load_with_forms(dir, options.environment, &args.forms(), digests, &out.bars)
                .with_context(|| format!("cannot audit {}", dir.display()))?,
            dir.clone(),
        ),
        None => {
            out.note(format_args!(
                "no export folder given; auditing the built-in sample tenant (fixtures/contoso)"
            ));
            (load::load_sample(options.environment)?, "fixtures/contoso (built-in sample)".into())
        }
    };
    let (mut loaded, dir) = (loaded, dir);
    for (i, took) in loaded.inputs.iter().zip(&loaded.timings.files) {
        let took = took.map(|t| format!(" in {t:.2?}")).unwrap_or_default();
        out.detail(format_args!(
            "read {} ({}, {} {}, {} rows){took}; form {}",
            i.path.display(),
            i.cmdlet.produced_by(),
            i.form.name(),
            i.encoding,
            i.rows,
            i.why
        ));
    }
    out.detail(format_args!("joined the snapshot in {:.2?}", loaded.timings.joined));
    if digests == load::Digests::Skipped {
        out.detail(format_args!(
            "hashed no input: this report records no SHA-256 (the JSON, HTML and Markdown reports and scripts do)"
        ));
    }
    crate::release_freed_memory();
    out.detail(format_args!("read and joined the export in {:.2?}", started.elapsed()));
    let stage = Instant::now();
    if let Some(path) = args.exceptions.clone().or_else(|| loaded.register.clone()) {
        load::add_exceptions(&mut loaded, &path)
            .with_context(|| format!("cannot read the exceptions register {}", path.display()))?;
    }
    load::add_evidence(&mut loaded, &args.sign_ins, args.since, digests, &out.bars)
        .context("cannot read the sign-in evidence")?;
    if let Some(u) = &loaded.snapshot.usage {
        for s in &u.summary.sources {
            out.detail(format_args!("read {} ({}, {} events)", s.path, s.kind, s.events));
        }
        out.detail(format_args!(
            "counted {} basic-auth sign-ins of {} events in {:.2?}",
            u.summary.counted,
            u.summary.events,
            stage.elapsed()
        ));
        crate::release_freed_memory();
    }
    let stage = Instant::now();
    let to_file = output::file(args.output.as_deref());
    let bom = if args.format() == Format::Csv { args.csv_bom.bytes() } else { b"" };
    // A CSV report is written while auditing: its rows need no pass of their own.
    let written_early = args.format() == Format::Csv;
    let audit = if written_early {
        let mut audit = None;
        output::write(to_file, false, &Silent, |w| {
            w.write_all(bom)?;
            audit = Some(csv::audit_and_write(&loaded.snapshot, &options, &out.bars, w)?);
            still_read(&loaded.snapshot)
        })?;
        audit.context("the audit did not run")?
    } else {
        audit::audit_with(&loaded.snapshot, &options, &out.bars)
    };
    out.detail(format_args!(
        "audited {} mailboxes ({} in scope, {} flagged){} in {:.2?}",
        audit.summary.mailboxes,
        audit.summary.in_scope,
        audit.summary.flagged,
        if written_early { " and wrote the report" } else { "" },
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
    let plan = args.script.as_ref().map(|_| plan::plan(&audit, args.strategy()));
    still_read(&loaded.snapshot)?;
    if let (Some(plan), Some(path)) = (&plan, &args.script) {
        let header = Header {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            generated: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            inputs: loaded
                .inputs
                .iter()
                .map(|i| {
                    let sha256 = exoauth::emit::report::digest(i.sha256.as_deref());
                    (i.path.display().to_string(), sha256.to_owned())
                })
                .collect(),
            name: String::new(),
        };
        let named = |p: &Path| Header {
            name: p
                .file_name()
                .map_or_else(|| "script.ps1".into(), |n| n.to_string_lossy().into_owned()),
            ..header.clone()
        };
        output::write_atomically(path, |w| powershell::write_fix(plan, &named(path), w))
            .context("cannot write the remediation script")?;
        if let Some(rollback) = &args.rollback {
            let header = named(rollback);
            output::write_atomically(rollback, |w| powershell::write_rollback(plan, &header, w))
                .context("cannot write the rollback script")?;
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
    let color = args.format() == Format::Text
        && to_file.is_none()
        && output::use_color(
            io::stdout().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        );
    let colored = Text { color: true };
    let renderer: &dyn Renderer = if color { &colored } else { args.format().renderer() };
    if !written_early {
        let stage = Instant::now();
        if to_file.is_some() {
            out.bars.start("writing", Some(audit.entries().len() as u64), Unit::Lines);
        }
        let written = output::write(to_file, color, &out.bars, |w| {
            w.write_all(bom)?;
            renderer.render(&report, w)?;
            still_read(&loaded.snapshot)
        });
        out.bars.finish();
        written?;
        out.detail(format_args!("wrote the report in {:.2?}", stage.elapsed()));
    }
    out.detail(format_args!("done in {:.2?}", started.elapsed()));
    // Every warning and rejected row is listed somewhere: in the report, or
    // here when the report (CSV) has no place for them.
    let listed = args.format().lists_input_problems();
    let shown = |w: &&exoauth::input::Warning| !listed || w.code == "files-missing";
    for w in loaded.warnings.iter().filter(shown) {
        match &w.source {
            Some(source) => out.note(format_args!("warning: {source}: {}", w.message)),
            None => out.note(format_args!("warning: {}", w.message)),
        }
    }
    let where_listed = if listed { "listed in the report" } else { "listed above" };
    if !loaded.warnings.is_empty() {
        out.note(format_args!(
            "{} warning{} about the input ({where_listed})",
            loaded.warnings.len(),
            if loaded.warnings.len() == 1 { "" } else { "s" }
        ));
    }
    if !listed {
        // Not silenced by --quiet: these rows were not audited, and exit 2 says so.
        let mut stderr = io::BufWriter::new(io::stderr().lock());
        for r in &loaded.rejected {
            writeln!(stderr, "exoauth: rejected {}: {}", r.source, r.reason)?;
        }
        stderr.flush()?;
    }
    let (rejected, flagged) = (loaded.rejected.len(), audit.summary.flagged);
    // A million mailboxes are millions of small allocations: the process is about
    // to exit, and the OS reclaims the memory at once, so don't free them one by one.
    std::mem::forget((audit, plan));
    std::mem::forget(loaded);
    if rejected > 0 {
        eprintln!(
            "exoauth: {rejected} input rows rejected ({where_listed}); fix or re-export them: exiting with 2"
        );
        return Ok(ExitCode::from(2));
    }
    if args.fail_on == FailOn::Flagged && flagged > 0 {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn run_parse(args: &ParseArgs, out: &Out) -> anyhow::Result<ExitCode> {
    let target = args.target();
    let bom = if target == Target::Csv { args.csv_bom.bytes() } else { b"" };
    let to = output::file(args.output.as_deref());
    let len = std::fs::metadata(&args.file).map_or(0, |m| m.len());
    out.bars.start("reading", Some(len), Unit::Bytes);
    // Once the output is closed (`exoauth parse big.txt | head`), reading on is
    // for nothing: the stream is stopped.
    let progress = Stoppable::new(&out.bars);
    let streamed = match load::open_streamed(&args.file, args.part, args.form, &progress)? {
        Some(streamed) => parse_streamed(args, streamed, &progress, to, target, bom)?,
        None => None,
    };
    out.bars.finish();
    let converted = match streamed {
        Some(converted) => converted,
        None => {
            let converted = parse_whole(args)?;
            let out = exoauth::emit::convert::render(&converted.parsed.table, target);
            output::write(to, false, &Silent, |w| {
                w.write_all(bom)?;
                w.write_all(&out)
            })?;
            converted
        }
    };
    eprint!("{}", exoauth::emit::convert::summary(&converted));
    if !converted.parsed.rejected.is_empty() {
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// `exoauth parse`'s whole-file read.
fn parse_whole(args: &ParseArgs) -> anyhow::Result<load::Converted> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    Ok(load::read_one(&args.file, &bytes, args.part, args.form)?)
}

/// Converts a file read as a stream, each record written as it is read;
/// `None` when its second pass gave way to the whole-file read after a file
/// output was begun (that output is not kept).
fn parse_streamed(
    args: &ParseArgs,
    mut streamed: load::Streamed<'_>,
    progress: &Stoppable<'_>,
    to: Option<&Path>,
    target: Target,
    bom: &[u8],
) -> anyhow::Result<Option<load::Converted>> {
    // What the stream's second pass found, once it has run: what was read,
    // `None` when it gave way to the whole read, or why it could not read.
    let mut read = None;
    let written = output::write(to, false, &Silent, |w| {
        w.write_all(bom)?;
        let mut writer = exoauth::emit::convert::Writer::start(w, target, streamed.columns())?;
        let mut failed = Ok(());
        streamed.each(&mut |_, cells| {
            if failed.is_ok() {
                failed = writer.record(cells);
                if failed.is_err() {
                    progress.stop();
                }
            }
        });
        failed?;
        writer.finish()?;
        let finished = streamed.finish();
        let kept = matches!(finished, Ok(Some(_)));
        read = Some(finished);
        // An output the stream does not stand behind is not kept.
        match kept {
            true => Ok(()),
            false => Err(io::Error::other("not read as a stream")),
        }
    });
    match (written, read) {
        (Ok(()), Some(Ok(converted))) => Ok(converted),
        (_, Some(Err(e))) => Err(e.into()),
        // A file output is dropped unwritten and written again from the whole read.
        (_, Some(Ok(None))) if to.is_some() => Ok(None),
        // Standard output already holds records: the whole read gives its
        // error, or the output is said to be incomplete.
        (_, Some(Ok(None))) => {
            parse_whole(args)?;
            anyhow::bail!(
                "{}: past its start the file holds what only the whole-file reader reads (pasted console text, a second encoding, or text that changed while it was read), so the records written above are incomplete; convert it with -o FILE, which reads such a file whole",
                args.file.display()
            )
        }
        (written, _) => written.map(|()| None),
    }
}

fn run_trend(args: &TrendArgs, out: &Out) -> anyhow::Result<ExitCode> {
    let trend = exoauth::trend::read(&args.reports, &out.bars)?;
    let format = args.format.format();
    let bom =
        if format == exoauth::emit::trend::TrendFormat::Csv { args.csv_bom.bytes() } else { b"" };
    output::write(output::file(args.output.as_deref()), false, &Silent, |w| {
        w.write_all(bom)?;
        exoauth::emit::trend::render(&trend, format, w)
    })?;
    Ok(ExitCode::SUCCESS)
}

fn run_diff(args: &DiffArgs, out: &Out) -> anyhow::Result<ExitCode> {
    let open = |path: &PathBuf| {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let len = file.metadata().map_or(0, |m| m.len());
        anyhow::Ok((Counted::new(file, &out.bars), len))
    };
    let ((old, old_len), (new, new_len)) = (open(&args.old)?, open(&args.new)?);
    out.bars.start("reading", Some(old_len + new_len), Unit::Bytes);
    let diff = exoauth::diff::diff_files(
        &args.old.display().to_string(),
        old,
        &args.new.display().to_string(),
        new,
    );
    out.bars.finish();
    let diff = diff?;
    let renderer = args.format.format().renderer();
    output::write(output::file(args.output.as_deref()), false, &Silent, |out| {
        renderer.render(&diff, out)
    })?;
    if args.fail_on == DiffFailOn::Regressions && diff.regressions() > 0 {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
