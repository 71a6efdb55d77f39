//! The command line (clap). These types stay in the binary: [`AuditArgs::options`]
//! turns them into the library's validated [`exoauth::audit::Options`].

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use exoauth::audit::{self, Options, Scope, Want};
use exoauth::emit::convert::Target;
use exoauth::emit::diff::DiffFormat;
use exoauth::emit::report::Format;
use exoauth::model::columns::Cmdlet;
use exoauth::model::{Environment, Protocol};
use exoauth::plan::Strategy;

/// Audit Exchange POP, IMAP and SMTP AUTH basic-auth access per mailbox from
/// exported cmdlet output, and say exactly which setting blocks each protocol.
#[derive(Debug, Parser)]
#[command(name = "exoauth", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Progress bars on standard error: auto (on a terminal), never, always.
    #[arg(long, global = true, value_enum, default_value_t = ProgressArg::Auto)]
    pub progress: ProgressArg,
    /// Print only errors (no notes, warnings or progress).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Also print what was read and how long each stage took.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

/// `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressArg {
    /// On a terminal only.
    Auto,
    /// Never.
    Never,
    /// Even when standard error is not a terminal.
    Always,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit an export folder (AuthenticationPolicy, OrganizationConfig,
    /// TransportConfig, CasMailbox, User; .csv, .txt or .json).
    Audit(AuditArgs),
    /// Compare two `exoauth audit --format json` reports: mailboxes added and
    /// removed, verdicts and blockers that changed, summary deltas.
    Diff(DiffArgs),
    /// Write a deterministic synthetic tenant (for tests and benchmarks).
    Generate(GenerateArgs),
    /// Convert Format-List, Format-Table, CSV or ConvertTo-Json output (or one
    /// output of a console transcript) to clean CSV or JSON.
    Parse(ParseArgs),
    /// One tenant's JSON reports over time: flagged, verdicts, in-use counts and
    /// excepted per run, and whether the tenant moves toward the SMTP AUTH default-off.
    Trend(TrendArgs),
}

/// `exoauth trend`.
#[derive(Debug, Args)]
pub struct TrendArgs {
    /// JSON reports of one tenant (exoauth/audit-v2 or -v1), or folders of them.
    #[arg(value_name = "REPORT.json|DIR", required = true)]
    pub reports: Vec<PathBuf>,
    /// Trend format.
    #[arg(long, value_enum, default_value_t = TrendFormatArg::Markdown)]
    pub format: TrendFormatArg,
    /// Write the trend to FILE instead of standard output (`-` for standard output).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Start CSV output with a UTF-8 byte-order mark (for Excel); `never` for tools that dislike it.
    #[arg(long, value_enum, default_value_t = CsvBom::Always)]
    pub csv_bom: CsvBom,
}

/// `trend --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrendFormatArg {
    /// GitHub-flavoured Markdown.
    Markdown,
    /// One self-contained HTML page with a line chart.
    Html,
    /// One row per run.
    Csv,
}

impl TrendFormatArg {
    /// The library's format.
    pub fn format(self) -> exoauth::emit::trend::TrendFormat {
        match self {
            TrendFormatArg::Markdown => exoauth::emit::trend::TrendFormat::Markdown,
            TrendFormatArg::Html => exoauth::emit::trend::TrendFormat::Html,
            TrendFormatArg::Csv => exoauth::emit::trend::TrendFormat::Csv,
        }
    }
}

/// `exoauth generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// How many mailboxes.
    #[arg(long)]
    pub mailboxes: usize,
    /// The seed: the same seed gives the same tenant.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The folder to write.
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: PathBuf,
    /// online or onprem exports.
    #[arg(long, value_enum, default_value_t = EnvironmentArg::Online)]
    pub environment: EnvironmentArg,
    /// The form of the files: csv (Export-Csv), list (Format-List), table (Format-Table) or json.
    #[arg(long, value_enum, default_value_t = FormArg::Csv)]
    pub form: FormArg,
    /// Also write N sign-in events of the tenant's users as the Entra portal's
    /// CSV downloads, into DIR/signins (for benchmarks of --sign-ins).
    #[arg(long = "sign-ins", value_name = "N")]
    pub sign_ins: Option<usize>,
    /// Write into DIR even when it is not empty (files of the same names are replaced).
    #[arg(long)]
    pub force: bool,
}

/// `generate --form`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormArg {
    /// PowerShell 7 Export-Csv.
    Csv,
    /// Format-List console text.
    List,
    /// Format-Table console text (wide enough that nothing is cut).
    Table,
    /// ConvertTo-Json.
    Json,
}

impl FormArg {
    /// The library's form.
    pub fn form(self) -> exoauth::generate::OutputForm {
        use exoauth::generate::OutputForm;
        match self {
            FormArg::Csv => OutputForm::Csv,
            FormArg::List => OutputForm::List,
            FormArg::Table => OutputForm::Table,
            FormArg::Json => OutputForm::Json,
        }
    }
}

/// `exoauth diff`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 success; 1 a mailbox regressed with --fail-on regressions; 2 unreadable report or usage.\nA regression goes against the later report's --want: allow, a protocol that was allowed no longer is; block, a protocol became allowed."
)]
pub struct DiffArgs {
    /// The earlier report (exoauth/audit-v2 or -v1 JSON).
    #[arg(value_name = "OLD.json")]
    pub old: PathBuf,
    /// The later report (exoauth/audit-v2 or -v1 JSON).
    #[arg(value_name = "NEW.json")]
    pub new: PathBuf,
    /// Diff format.
    #[arg(long, value_enum, default_value_t = DiffFormatArg::Text)]
    pub format: DiffFormatArg,
    /// Write the diff to FILE instead of standard output (`-` for standard output).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit with 1 when any mailbox regressed (for scheduled pipelines).
    #[arg(long, value_enum, default_value_t = DiffFailOn::Never)]
    pub fail_on: DiffFailOn,
}

/// `diff --format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DiffFormatArg {
    /// Summary deltas and changed mailboxes.
    Text,
    /// The exoauth/diff-v1 JSON document.
    Json,
    /// GitHub-flavoured Markdown.
    Markdown,
}

impl DiffFormatArg {
    /// The library's format.
    pub fn format(self) -> DiffFormat {
        match self {
            DiffFormatArg::Text => DiffFormat::Text,
            DiffFormatArg::Json => DiffFormat::Json,
            DiffFormatArg::Markdown => DiffFormat::Markdown,
        }
    }
}

/// `diff --fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFailOn {
    /// Exit 0 whatever changed.
    Never,
    /// Exit 1 when any mailbox got worse for the report's direction.
    Regressions,
}

/// `exoauth parse`.
#[derive(Debug, Args)]
#[command(
    after_help = "What was detected (form, encoding, records, warnings) is reported on standard error.\nExit codes: 0 success; 2 unreadable input or rejected rows (the output is still written)."
)]
pub struct ParseArgs {
    /// The file to convert.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TargetArg::Csv)]
    pub to: TargetArg,
    /// Write to FILE instead of standard output (`-` for standard output).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// For a transcript holding several outputs: which one to convert (1-based).
    #[arg(long, value_name = "N")]
    pub part: Option<usize>,
    /// The form, when the content does not tell clearly: csv, list, table or json.
    #[arg(long, value_name = "FORM", value_parser = parse_form_name)]
    pub form: Option<exoauth::load::FormName>,
    /// Start CSV output with a UTF-8 byte-order mark (for Excel); `never` for tools that dislike it.
    #[arg(long, value_enum, default_value_t = CsvBom::Always)]
    pub csv_bom: CsvBom,
}

/// `--to`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TargetArg {
    /// CSV as Export-Csv -NoTypeInformation writes it.
    Csv,
    /// An array of objects.
    Json,
}

impl ParseArgs {
    /// The output format.
    pub fn target(&self) -> Target {
        match self.to {
            TargetArg::Csv => Target::Csv,
            TargetArg::Json => Target::Json,
        }
    }
}

/// `exoauth audit`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 success; 1 mailboxes flagged with --fail-on flagged; 2 bad input (including rejected rows) or usage.\nWithout DIR, the built-in sample tenant (fixtures/contoso) is audited."
)]
pub struct AuditArgs {
    /// The export folder; omit it to audit the built-in sample tenant.
    pub dir: Option<PathBuf>,
    /// allow: flag mailboxes that cannot use basic auth; block: flag those that still can.
    #[arg(long, value_enum, default_value_t = WantArg::Allow)]
    pub want: WantArg,
    /// Protocols to audit, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "pop,imap,smtp", value_parser = parse_protocol)]
    pub protocols: Vec<Protocol>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Write the report to FILE instead of standard output (`-` for standard output).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// online (Exchange Online) or onprem (Exchange Server 2019 / SE).
    #[arg(long, value_enum, default_value_t = EnvironmentArg::Online)]
    pub environment: EnvironmentArg,
    /// Evaluate service-level dates at YYYY-MM-DD instead of today (UTC).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub as_of: Option<time::Date>,
    /// Only audit the mailboxes listed in FILE (one UPN, SMTP address, object id or Guid per line).
    #[arg(long, value_name = "FILE")]
    pub scope: Option<PathBuf>,
    /// Audit every mailbox type (shared, room, equipment...), not only UserMailbox.
    #[arg(long)]
    pub all_recipient_types: bool,
    /// Write a remediation script (PowerShell, UTF-8 with BOM) that turns the flagged mailboxes around.
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
    /// Write the script that undoes --script's changes.
    #[arg(long, value_name = "FILE", requires = "script")]
    pub rollback: Option<PathBuf>,
    /// least-privilege: policy variants and per-mailbox exceptions; edit-policies: edit shared settings.
    #[arg(long, value_enum, default_value_t = StrategyArg::LeastPrivilege)]
    pub strategy: StrategyArg,
    /// Exit with 1 when any mailbox is flagged (for scheduled pipelines).
    #[arg(long, value_enum, default_value_t = FailOn::Never)]
    pub fail_on: FailOn,
    /// Entra sign-in logs (a file or a folder; repeatable): portal CSV or JSON
    /// downloads, Graph JSON, Get-MgAuditLogSignIn | ConvertTo-Json, or the
    /// companion script's SignIns.csv. Sign-in logs inside DIR are read too.
    #[arg(long = "sign-ins", value_name = "PATH")]
    pub sign_ins: Vec<PathBuf>,
    /// Count only sign-ins from YYYY-MM-DD (UTC) on; the evidence window starts there.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub since: Option<time::Date>,
    /// An exceptions register (CSV: Identity,Protocols,Until,Owner,Reason): in the
    /// block direction, mailboxes whose open protocols are all covered are excepted.
    #[arg(long, value_name = "FILE")]
    pub exceptions: Option<PathBuf>,
    /// The form of the files, when their content does not tell clearly:
    /// `--form list` for every file, `--form CasMailbox=list` for one (repeatable).
    #[arg(long = "form", value_name = "[STEM=]FORM", value_parser = parse_form_choice)]
    pub forms: Vec<(Option<Cmdlet>, exoauth::load::FormName)>,
    /// Block direction with evidence: also block protocols in use with basic auth
    /// (by default they become manual steps: move the client to OAuth first).
    #[arg(long)]
    pub include_in_use: bool,
    /// Start a CSV report with a UTF-8 byte-order mark, as Excel needs to read
    /// UTF-8 (and `Export-Csv -Encoding UTF8` writes); `never` for tools that dislike it.
    #[arg(long, value_enum, default_value_t = CsvBom::Always)]
    pub csv_bom: CsvBom,
    /// DIR holds one export folder per tenant (named by its folder): audit them
    /// side by side into one fleet report; with -o DIR, also each tenant's own report (DIR/tenants/).
    #[arg(long, requires = "dir", conflicts_with_all = ["script", "rollback", "sign_ins", "exceptions"])]
    pub fleet: bool,
}

/// `--csv-bom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CsvBom {
    /// UTF-8 with a byte-order mark (Excel opens it as UTF-8).
    Always,
    /// UTF-8 without one.
    Never,
}

impl CsvBom {
    /// The bytes a CSV file starts with.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            CsvBom::Always => b"\xEF\xBB\xBF",
            CsvBom::Never => b"",
        }
    }
}

/// `--want`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WantArg {
    /// Flag mailboxes that cannot use basic auth on an in-scope protocol.
    Allow,
    /// Flag mailboxes that still can (migration readiness).
    Block,
}

/// `--format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// Summary and flagged-mailbox table.
    Text,
    /// One row per mailbox.
    Csv,
    /// The exoauth/audit-v2 JSON report.
    Json,
    /// GitHub-flavoured Markdown (wikis, tickets).
    Markdown,
    /// One self-contained HTML page with charts.
    Html,
}

/// `--environment`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EnvironmentArg {
    /// Exchange Online.
    Online,
    /// Exchange Server 2019 / SE.
    Onprem,
}

/// `--strategy`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StrategyArg {
    /// Policy variants and per-mailbox exceptions; nothing shared is widened.
    LeastPrivilege,
    /// Edit shared policies and the tenant switch (the report gives each edit's blast radius).
    EditPolicies,
}

/// `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Exit 0 whatever is flagged.
    Never,
    /// Exit 1 when any mailbox is flagged.
    Flagged,
}

impl EnvironmentArg {
    /// The library's environment.
    pub fn environment(self) -> Environment {
        match self {
            EnvironmentArg::Online => Environment::Online,
            EnvironmentArg::Onprem => Environment::OnPrem,
        }
    }
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    Protocol::parse(s).ok_or_else(|| format!("unknown protocol {s:?}; expected pop, imap or smtp"))
}

fn parse_form_name(s: &str) -> Result<exoauth::load::FormName, String> {
    exoauth::load::FormName::parse(s)
        .ok_or_else(|| format!("unknown form {s:?}; expected csv, list, table or json"))
}

fn parse_form_choice(s: &str) -> Result<(Option<Cmdlet>, exoauth::load::FormName), String> {
    match s.split_once('=') {
        Some((stem, form)) => {
            let cmdlet = Cmdlet::from_stem(stem.trim()).ok_or_else(|| {
                format!(
                    "unknown file {stem:?} in --form; expected AuthenticationPolicy, OrganizationConfig, TransportConfig, CasMailbox, User, SecurityDefaults or ConditionalAccessPolicy"
                )
            })?;
            Ok((Some(cmdlet), parse_form_name(form)?))
        }
        None => Ok((None, parse_form_name(s)?)),
    }
}

fn parse_date(s: &str) -> Result<time::Date, String> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|e| format!("expected a date as YYYY-MM-DD: {e}"))
}

impl AuditArgs {
    /// The report format.
    pub fn format(&self) -> Format {
        match self.format {
            FormatArg::Text => Format::Text,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Html => Format::Html,
        }
    }

    /// Whether the run makes its inputs' digests: when the report records them
    /// or a script is written (its header names each input's SHA-256).
    pub fn digests(&self) -> exoauth::load::Digests {
        match self.format().records_digests() || self.script.is_some() {
            true => exoauth::load::Digests::Made,
            false => exoauth::load::Digests::Skipped,
        }
    }

    /// The forms given with `--form`.
    pub fn forms(&self) -> exoauth::load::Forms {
        let mut forms = exoauth::load::Forms::default();
        for (cmdlet, form) in &self.forms {
            match cmdlet {
                Some(c) => forms.per.push((*c, *form)),
                None => forms.all = Some(*form),
            }
        }
        forms
    }

    /// The remediation strategy.
    pub fn strategy(&self) -> Strategy {
        match self.strategy {
            StrategyArg::LeastPrivilege => Strategy::LeastPrivilege,
            StrategyArg::EditPolicies => Strategy::EditPolicies,
        }
    }

    /// Validates the arguments into the library's options, reading the scope file.
    pub fn options(&self) -> anyhow::Result<Options> {
        let mut protocols: Vec<Protocol> =
            Protocol::ALL.into_iter().filter(|p| self.protocols.contains(p)).collect();
        protocols.dedup();
        if protocols.is_empty() {
            bail!("--protocols needs at least one of pop, imap, smtp");
        }
        let identities = match &self.scope {
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read the scope file {}", path.display()))?;
                let (text, _) = exoauth::decode::decode(&bytes)
                    .with_context(|| format!("cannot read the scope file {}", path.display()))?;
                Some(audit::scope::parse_list(&text))
            }
            None => None,
        };
        Ok(Options {
            want: match self.want {
                WantArg::Allow => Want::Allow,
                WantArg::Block => Want::Block,
            },
            protocols,
            environment: self.environment.environment(),
            as_of: self.as_of.unwrap_or_else(|| time::OffsetDateTime::now_utc().date()),
            scope: Scope { identities, all_recipient_types: self.all_recipient_types },
            include_in_use: self.include_in_use,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
