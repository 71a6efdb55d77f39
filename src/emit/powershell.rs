//! Actions to PowerShell: the remediation and rollback scripts (DESIGN.md §4).
//! This is the only place that knows PowerShell quoting.
//!
//! Safety rules, each from the PowerShell language specification §2.3.5.2 and
//! `CodeGeneration.EscapeSingleQuotedStringContent` (research/domain.md §3):
//! - every string that came from input is a single-quoted (verbatim) literal, in
//!   which every character PowerShell treats as a single quote (`'`, U+2018,
//!   U+2019, U+201A, U+201B) is doubled; nothing from input is ever put in a
//!   double-quoted string, where `$` and the backtick are live;
//! - input with characters that cannot be written safely (control characters,
//!   line and paragraph separators) is refused with an error naming its row;
//! - comments (display names) get the same refusal, and bidirectional controls
//!   are shown as `<U+202E>` so that a name cannot visually reorder the code
//!   around it;
//! - the file is UTF-8 **with** BOM: Windows PowerShell 5.1 reads a BOM-less
//!   script in the ANSI code page, where UTF-8 bytes 0x91–0x94 turn into curly
//!   quotes and could end an escaped literal early;
//! - policy switches use the colon form (`-AllowBasicAuthSmtp:$true`): with a
//!   space, `$false` is not bound to the switch;
//! - every change is one named-parameter invocation of an Exchange cmdlet with
//!   literal arguments, guarded by `ShouldProcess` (so `-WhatIf` and `-Confirm`
//!   work), checked first so that a second run changes nothing, logged, and
//!   allowed to fail without stopping the rest.

use std::fmt::Write as _;
use std::io;

use sha2::{Digest, Sha256};

use crate::input::Source;
use crate::model::{Protocol, Setting};
use crate::plan::{Action, Cause, ManualStep, Plan};

/// The characters PowerShell treats as a single quote.
pub const SINGLE_QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

/// Text that cannot be written into a script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{what} contains {code} at character {position}; exoauth will not write it into a script: fix the value in the tenant, or leave the object out with --scope", row.as_ref().map(|s| format!("{s}: ")).unwrap_or_default())]
pub struct UnsafeText {
    /// The row the text came from, when known.
    pub row: Option<Source>,
    /// What the text is (e.g. `display name`, `policy name`).
    pub what: String,
    /// The offending character, as `U+000A (a line break)`.
    pub code: String,
    /// 1-based character position.
    pub position: usize,
}

fn unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

fn describe(c: char) -> String {
    let kind = match c {
        '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{85}' => "a line break",
        '\0' => "a NUL",
        _ => "a control character",
    };
    format!("U+{:04X} ({kind})", c as u32)
}

fn check(text: &str, what: &str, source: Option<&Source>) -> Result<(), UnsafeText> {
    match text.chars().enumerate().find(|(_, c)| unsafe_char(*c)) {
        Some((i, c)) => Err(UnsafeText {
            row: source.cloned(),
            what: what.to_owned(),
            code: describe(c),
            position: i + 1,
        }),
        None => Ok(()),
    }
}

/// `text` as a PowerShell single-quoted literal, every single-quote character doubled.
pub fn literal(text: &str, what: &str, source: Option<&Source>) -> Result<String, UnsafeText> {
    check(text, what, source)?;
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        out.push(c);
        if SINGLE_QUOTES.contains(&c) {
            out.push(c);
        }
    }
    out.push('\'');
    Ok(out)
}

/// `text` for a `#` comment: refused if it could end the line, with bidi controls shown as code points.
pub fn comment(text: &str, what: &str, source: Option<&Source>) -> Result<String, UnsafeText> {
    check(text, what, source)?;
    Ok(text
        .chars()
        .map(|c| match c {
            '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => {
                format!("<U+{:04X}>", c as u32)
            }
            c => c.to_string(),
        })
        .collect())
}

/// What the header of a script says about the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// exoauth's version.
    pub tool_version: String,
    /// When the script was generated (RFC 3339).
    pub generated: String,
    /// Input files: (path, SHA-256).
    pub inputs: Vec<(String, String)>,
    /// The script's own file name, for the how-to-run lines.
    pub name: String,
}

/// Which script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The remediation script.
    Fix,
    /// The rollback script.
    Rollback,
}

/// Why a script could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// Text from the input that cannot be written safely.
    #[error(transparent)]
    Unsafe(#[from] UnsafeText),
    /// The output failed.
    #[error(transparent)]
    Io(io::Error),
}

impl From<io::Error> for ScriptError {
    /// An [`UnsafeText`] met while the steps were rendered travels through the
    /// chunked writer as an I/O error; it is taken out again here.
    fn from(e: io::Error) -> ScriptError {
        match e.get_ref().and_then(|inner| inner.downcast_ref::<UnsafeText>()) {
            Some(text) => ScriptError::Unsafe(text.clone()),
            None => ScriptError::Io(e),
        }
    }
}

/// Writes the fix script for a plan (UTF-8 with a BOM) to `out`, from where
/// it is: its steps are rendered a chunk at a time on every core and written
/// in order, never held whole, and the plan id before them is written once
/// they are (`out` seeks back to it, then to the end).
pub fn write_fix(
    plan: &Plan,
    header: &Header,
    out: &mut (impl io::Write + io::Seek),
) -> Result<(), ScriptError> {
    write_script(plan, &plan.actions, header, Kind::Fix, out)
}

/// Writes the rollback script for a plan to `out`, as [`write_fix`] does.
pub fn write_rollback(
    plan: &Plan,
    header: &Header,
    out: &mut (impl io::Write + io::Seek),
) -> Result<(), ScriptError> {
    write_script(plan, &plan.rollback(), header, Kind::Rollback, out)
}

/// The fix script for a plan, as UTF-8 bytes with a BOM ([`write_fix`] into memory).
pub fn fix_script(plan: &Plan, header: &Header) -> Result<Vec<u8>, ScriptError> {
    let mut out = io::Cursor::new(Vec::new());
    write_fix(plan, header, &mut out)?;
    Ok(out.into_inner())
}

/// The rollback script for a plan, as UTF-8 bytes with a BOM.
pub fn rollback_script(plan: &Plan, header: &Header) -> Result<Vec<u8>, ScriptError> {
    let mut out = io::Cursor::new(Vec::new());
    write_rollback(plan, header, &mut out)?;
    Ok(out.into_inner())
}

const CRLF: &str = "\r\n";

/// Appends one line (CRLF-terminated).
fn line(out: &mut String, text: &str) {
    out.push_str(text);
    out.push_str(CRLF);
}

fn protocols(ps: &[Protocol]) -> String {
    ps.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
}

/// Actions whose steps are rendered together, on one core.
const STEPS_PER_CHUNK: usize = 2048;

/// The plan id's place in the prelude until the steps it is the hash of are
/// written: as wide as the id.
const UNKNOWN_PLAN: &str = "0000000000000000";

fn write_script(
    plan: &Plan,
    actions: &[Action],
    header: &Header,
    kind: Kind,
    out: &mut (impl io::Write + io::Seek),
) -> Result<(), ScriptError> {
    let start = out.stream_position()?;
    // U+FEFF first: the UTF-8 byte-order mark Windows PowerShell 5.1 needs.
    let mut head = String::with_capacity(4096);
    head.push('\u{FEFF}');
    let (title, log) = match kind {
        Kind::Fix => ("remediation", "exoauth-fix"),
        Kind::Rollback => ("rollback", "exoauth-rollback"),
    };
    write_header(&mut head, plan, actions, header, kind, title)?;
    let prelude = PRELUDE
        .replace('\n', CRLF)
        .replace("{log}", log)
        .replace("{total}", &actions.len().to_string())
        .replace("{transient}", &words(&TRANSIENT))
        .replace("{permanent}", &words(&PERMANENT))
        .replace("{title}", title);
    // The plan id is the hash of the steps, which come after it: each of its
    // places is written as a placeholder of its width, then filled in.
    let mut places = Vec::new();
    for (i, piece) in prelude.split("{plan}").enumerate() {
        if i > 0 {
            places.push(start + head.len() as u64);
            head.push_str(UNKNOWN_PLAN);
        }
        head.push_str(piece);
    }
    out.write_all(head.as_bytes())?;
    let mut steps = Hashing { inner: &mut *out, hash: Sha256::new().chain_update([kind as u8]) };
    let chunks = crate::ordered::even_chunks(actions.len(), STEPS_PER_CHUNK);
    crate::ordered::write_chunked(&mut steps, actions, &chunks, |offset, chunk, buf| {
        let mut text = String::with_capacity(buf.capacity());
        for (i, action) in chunk.iter().enumerate() {
            text.push_str(CRLF);
            write_action(&mut text, offset + i + 1, action).map_err(io::Error::other)?;
        }
        *buf = text.into_bytes();
        Ok(())
    })?;
    let id = plan_id(steps.hash);
    out.write_all(CRLF.as_bytes())?;
    out.write_all(EPILOGUE.replace('\n', CRLF).replace("{title}", title).as_bytes())?;
    let end = out.stream_position()?;
    for at in places {
        out.seek(io::SeekFrom::Start(at))?;
        out.write_all(id.as_bytes())?;
    }
    out.seek(io::SeekFrom::Start(end))?;
    out.flush()?;
    Ok(())
}

/// Hashes what it writes.
struct Hashing<'w, W> {
    inner: &'w mut W,
    hash: Sha256,
}

impl<W: io::Write> io::Write for Hashing<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The identity of a script's steps, written into every row of its result log so
/// that `-ResumeFrom` only ever skips steps of this very script: the first
/// eight bytes of the SHA-256 of the kind of script and then the steps' text,
/// hashed as they are written.
fn plan_id(steps: Sha256) -> String {
    let id: String = steps.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect();
    debug_assert_eq!(id.len(), UNKNOWN_PLAN.len());
    id
}

/// A PowerShell array of single-quoted words (constants of this file, never input text).
fn words(list: &[&str]) -> String {
    let quoted: Vec<String> = list.iter().map(|w| format!("'{}'", w.replace('\'', "''"))).collect();
    format!("@({})", quoted.join(", "))
}

/// Error text of failures that pass: Exchange Online throttles long runs of
/// `Set-CASMailbox` / `Set-User` (server busy, micro delays, HTTP 429/503), and
/// remote sessions time out or drop (research/domain.md §3). Matched ignoring
/// case, after [`PERMANENT`].
pub const TRANSIENT: [&str; 16] = [
    "server busy",
    "serverbusy",
    "micro delay",
    "microdelay",
    "throttl",
    "too many requests",
    "(429)",
    "(503)",
    "temporarily unavailable",
    "timed out",
    "timeout",
    "try again later",
    "transientexception",
    "exceeded the maximum number",
    "connection was closed",
    "unable to connect to the remote server",
];

/// Error text of failures no retry can change: a missing object, missing rights,
/// a duplicate or a wrong parameter. Checked first; a failure that matches
/// neither list is treated as permanent too (retrying the unknown only adds load).
pub const PERMANENT: [&str; 12] = [
    "couldn't be found",
    "could not be found",
    "managementobjectnotfound",
    "access is denied",
    "accessdenied",
    "unauthorized",
    "insufficient",
    "don't have sufficient permissions",
    "isn't within your current write scopes",
    "already exists",
    "parameterbinding",
    "is not recognized as",
];

fn write_header(
    out: &mut String,
    plan: &Plan,
    actions: &[Action],
    header: &Header,
    kind: Kind,
    title: &str,
) -> Result<(), UnsafeText> {
    let direction = match plan.want {
        crate::audit::Want::Allow => "allow basic authentication",
        crate::audit::Want::Block => "block basic authentication",
    };
    line(out, &format!("# exoauth {} {title} script: {direction}", header.tool_version));
    line(out, &format!("# Generated:   {}", header.generated));
    line(out, &format!("# Strategy:    {}", plan.strategy.as_str()));
    line(out, &format!("# Environment: {}", plan.environment.as_str()));
    line(out, &format!("# Protocols:   {}", protocols(&plan.protocols)));
    line(out, "# Inputs (SHA-256):");
    for (path, sha) in &header.inputs {
        line(out, &format!("#   {sha}  {}", comment(path, "input path", None)?));
    }
    let counts = crate::plan::counts(actions);
    let summary: Vec<String> =
        counts.iter().map(|(k, n)| crate::plan::count_phrase(*n, k)).collect();
    line(out, &format!("# Flagged mailboxes: {}", plan.flagged));
    line(
        out,
        &format!(
            "# Changes: {} ({})",
            actions.len(),
            if summary.is_empty() { "none".into() } else { summary.join(", ") }
        ),
    );
    if kind == Kind::Fix {
        for (what, n) in actions.iter().filter_map(Action::blast_radius) {
            line(
                out,
                &format!(
                    "# Blast radius: editing {} also changes {n} other mailbox(es)",
                    comment(&what, "policy name", None)?
                ),
            );
        }
        write_manual(out, &plan.manual)?;
    } else {
        line(out, "#");
        line(
            out,
            "# Restores every setting the remediation script changes to its exported value and removes the",
        );
        line(out, "# policy variants it created once no user and no org default uses them.");
    }
    line(out, "#");
    let name = comment(&header.name, "script name", None)?;
    line(out, &format!("# Review first:   .\\{name} -WhatIf"));
    line(
        out,
        &format!(
            "# Then run it:    .\\{name}            (asks before each change; add -Confirm:$false to skip)"
        ),
    );
    line(
        out,
        "# Each change is checked first (a second run changes nothing), logged to a CSV beside the script,",
    );
    line(
        out,
        "# and a failed change does not stop the others; the script exits with 1 when any change failed.",
    );
    Ok(())
}

fn write_manual(out: &mut String, manual: &[ManualStep]) -> Result<(), UnsafeText> {
    line(out, "#");
    if manual.is_empty() {
        line(out, "# Manual steps: none.");
        return Ok(());
    }
    line(out, "# Manual steps (this script cannot do them):");
    for step in manual {
        let scope = if step.mailboxes.is_empty() {
            "tenant-wide".to_owned()
        } else if step.mailboxes.len() <= 5 {
            step.mailboxes
                .iter()
                .map(|m| comment(m, "mailbox label", None))
                .collect::<Result<Vec<_>, _>>()?
                .join("; ")
        } else {
            format!("{} mailboxes", step.mailboxes.len())
        };
        line(
            out,
            &format!(
                "#   - [{}] {} ({}): {}",
                step.code,
                protocols(&step.protocols),
                scope,
                comment(&step.message, "manual step", None)?
            ),
        );
    }
    Ok(())
}

/// `$true`, `$false` or `$null`.
fn ps_value(s: Setting) -> &'static str {
    match s {
        Setting::Value(true) => "$true",
        Setting::Value(false) => "$false",
        Setting::Null | Setting::NotExported => "$null",
    }
}

/// An exported value for the `-Change` text a reviewer reads: a blank shown as such.
fn shown(s: Setting) -> &'static str {
    match s.display() {
        "" => "(blank)",
        shown => shown,
    }
}

fn ps_bool(b: bool) -> &'static str {
    if b { "$true" } else { "$false" }
}

/// The key under which a step records, in `$script:PolicyChanged`, that it
/// changed users' effective policy, as a literal: the user's identity (already
/// a literal) for an assignment, `AuthenticationPolicy:<name>` for a shared
/// policy edit, `DefaultAuthenticationPolicy` for the org default.
fn change_key(cause: &Cause, user: &str) -> Result<String, UnsafeText> {
    match cause {
        Cause::Assignment => Ok(user.to_owned()),
        Cause::Policy(name) => {
            literal(&format!("AuthenticationPolicy:{name}"), "policy name", None)
        }
        Cause::OrgDefault => Ok("'DefaultAuthenticationPolicy'".into()),
    }
}

/// One change: a comment naming the object, then one `Invoke-Change` line whose
/// test and apply blocks hold only literal arguments.
fn write_action(out: &mut String, step: usize, action: &Action) -> Result<(), UnsafeText> {
    let cmdlet = action.cmdlet();
    let (target, change, test, apply, refresh): (String, String, String, String, Option<String>) =
        match action {
            Action::NewPolicy { name, based_on, set } => {
                let n = literal(name, "policy variant name", None)?;
                let changed: Vec<&str> = set.iter().map(|(s, _)| *s).collect();
                let (from, copy) = match based_on {
                    Some((p, src)) => {
                        line(
                            out,
                            &format!(
                                "# {step}. policy variant of {} ({src}): every other switch is copied from the live policy",
                                comment(p, "policy name", Some(src))?
                            ),
                        );
                        (
                            format!("copy of {p} with {} changed", changed.join(", ")),
                            format!("-Source {}", literal(p, "policy name", Some(src))?),
                        )
                    }
                    None => {
                        line(
                            out,
                            &format!(
                                "# {step}. new policy (users had no policy): every other switch as with no policy"
                            ),
                        );
                        (
                            format!("new policy with {} changed", changed.join(", ")),
                            "-NoPolicy".into(),
                        )
                    }
                };
                let source = based_on.as_ref().map(|(_, s)| s);
                let tests: Vec<String> = set
                    .iter()
                    .map(|(s, v)| format!(" -and ($p.{s} -eq {})", ps_bool(*v)))
                    .collect();
                let entries: Vec<String> =
                    set.iter().map(|(s, v)| format!("{s} = {}", ps_bool(*v))).collect();
                (
                    n.clone(),
                    literal(&from, "policy name", source)?,
                    format!("$p = Get-PolicyByName -Name {n}; ($null -ne $p){}", tests.concat()),
                    format!(
                        "$switches = Get-VariantSwitches {copy} -Set @{{ {} }}; New-AuthenticationPolicy -Name {n} @switches -Confirm:$false -ErrorAction Stop",
                        entries.join("; ")
                    ),
                    None,
                )
            }
            Action::SetPolicy { policy, source, changes, blast_radius } => {
                line(
                    out,
                    &format!(
                        "# {step}. shared policy {} ({source}): also changes {blast_radius} other mailbox(es)",
                        comment(policy, "policy name", Some(source))?
                    ),
                );
                let p = literal(policy, "policy name", Some(source))?;
                let text: Vec<String> = changes
                    .iter()
                    .map(|(n, from, to)| format!("{n}: {} -> {}", shown(*from), ps_bool(*to)))
                    .collect();
                let tests: Vec<String> = changes
                    .iter()
                    .map(|(n, _, to)| format!(" -and ($p.{n} -eq {})", ps_bool(*to)))
                    .collect();
                let args: Vec<String> =
                    changes.iter().map(|(n, _, to)| format!("-{n}:{}", ps_bool(*to))).collect();
                (
                    p.clone(),
                    literal(&text.join(", "), "change", None)?,
                    format!("$p = Get-PolicyByName -Name {p}; ($null -ne $p){}", tests.concat()),
                    format!(
                        "Set-AuthenticationPolicy -Identity {p} {} -Confirm:$false -ErrorAction Stop",
                        args.join(" ")
                    ),
                    Some(change_key(&Cause::Policy(policy.clone()), &p)?),
                )
            }
            Action::SetOrgDefault { source, from, to, blast_radius } => {
                line(
                    out,
                    &format!(
                        "# {step}. org default authentication policy: also changes {blast_radius} other mailbox(es)"
                    ),
                );
                let value = match to {
                    Some(t) => literal(t, "policy name", source.as_ref())?,
                    None => "$null".into(),
                };
                let test = match to {
                Some(_) => format!("[string](Get-OrganizationConfig -ErrorAction Stop).DefaultAuthenticationPolicy -eq {value}"),
                None => "-not (Get-OrganizationConfig -ErrorAction Stop).DefaultAuthenticationPolicy".into(),
            };
                let text = format!(
                    "DefaultAuthenticationPolicy: {} -> {}",
                    from.as_deref().unwrap_or("(none)"),
                    to.as_deref().unwrap_or("(none)")
                );
                (
                    "'organization'".into(),
                    literal(&text, "policy name", source.as_ref())?,
                    test,
                    format!(
                        "Set-OrganizationConfig -DefaultAuthenticationPolicy {value} -Confirm:$false -ErrorAction Stop"
                    ),
                    Some(change_key(&Cause::OrgDefault, "")?),
                )
            }
            Action::SetTransport { from, to, blast_radius } => {
                line(
                    out,
                    &format!(
                        "# {step}. tenant SMTP AUTH switch: also changes {blast_radius} other mailbox(es) that inherit it"
                    ),
                );
                (
                    "'organization'".into(),
                    format!(
                        "'SmtpClientAuthenticationDisabled: {} -> {}'",
                        shown(*from),
                        ps_bool(*to)
                    ),
                    format!(
                        "(Get-TransportConfig -ErrorAction Stop).SmtpClientAuthenticationDisabled -eq {}",
                        ps_bool(*to)
                    ),
                    format!(
                        "Set-TransportConfig -SmtpClientAuthenticationDisabled {} -Confirm:$false -ErrorAction Stop",
                        ps_bool(*to)
                    ),
                    None,
                )
            }
            Action::AssignPolicy { user, from, to } => {
                line(
                    out,
                    &format!(
                        "# {step}. {} ({})",
                        comment(&user.label, "display name", Some(&user.source))?,
                        user.source
                    ),
                );
                let id = literal(&user.identity, "user identity", Some(&user.source))?;
                let value = match to {
                    Some(t) => literal(t, "policy name", Some(&user.source))?,
                    None => "$null".into(),
                };
                let test = match to {
                    Some(_) => format!(
                        "[string](Get-Exact -Kind User -Identity {id}).AuthenticationPolicy -eq {value}"
                    ),
                    None => {
                        format!("-not (Get-Exact -Kind User -Identity {id}).AuthenticationPolicy")
                    }
                };
                let text = format!(
                    "AuthenticationPolicy: {} -> {}",
                    from.as_deref().unwrap_or("(none)"),
                    to.as_deref().unwrap_or("(none)")
                );
                (
                    id.clone(),
                    literal(&text, "policy name", Some(&user.source))?,
                    test,
                    format!(
                        "Set-User -Identity {id} -AuthenticationPolicy {value} -Confirm:$false -ErrorAction Stop"
                    ),
                    Some(id),
                )
            }
            Action::SetMailbox { mailbox, setting, from, to } => {
                line(
                    out,
                    &format!(
                        "# {step}. {} ({})",
                        comment(&mailbox.label, "display name", Some(&mailbox.source))?,
                        mailbox.source
                    ),
                );
                let id = literal(&mailbox.identity, "mailbox identity", Some(&mailbox.source))?;
                let s = setting.as_str();
                let test = match to {
                    Setting::Value(_) => format!(
                        "(Get-Exact -Kind CASMailbox -Identity {id}).{s} -eq {}",
                        ps_value(*to)
                    ),
                    _ => format!("$null -eq (Get-Exact -Kind CASMailbox -Identity {id}).{s}"),
                };
                (
                    id.clone(),
                    format!("'{s}: {} -> {}'", shown(*from), ps_value(*to)),
                    test,
                    format!(
                        "Set-CASMailbox -Identity {id} -{s} {} -Confirm:$false -ErrorAction Stop",
                        ps_value(*to)
                    ),
                    None,
                )
            }
            Action::RefreshTokens { user, cause } => {
                line(
                    out,
                    &format!(
                        "# {step}. {} ({}): sign-in tokens, so the policy applies now, not within 24 hours",
                        comment(&user.label, "display name", Some(&user.source))?,
                        user.source
                    ),
                );
                let id = literal(&user.identity, "user identity", Some(&user.source))?;
                (
                    id.clone(),
                    "'STSRefreshTokensValidFrom: now'".into(),
                    format!("-not $script:PolicyChanged.ContainsKey({})", change_key(cause, &id)?),
                    format!(
                        "Set-User -Identity {id} -STSRefreshTokensValidFrom ([DateTime]::UtcNow) -Confirm:$false -ErrorAction Stop"
                    ),
                    None,
                )
            }
            Action::RemovePolicy { name } => {
                line(
                    out,
                    &format!(
                        "# {step}. remove the variant the remediation script created, if nothing uses it any more"
                    ),
                );
                let n = literal(name, "policy variant name", None)?;
                (
                    n.clone(),
                    "'remove the policy variant (kept while a user or the org default uses it)'"
                        .into(),
                    format!(
                        "$p = Get-PolicyByName -Name {n}; ($null -eq $p) -or (Test-PolicyInUse -Policy $p)"
                    ),
                    format!(
                        "Remove-AuthenticationPolicy -Identity {n} -Confirm:$false -ErrorAction Stop"
                    ),
                    None,
                )
            }
        };
    let refresh = refresh.map(|r| format!(" -PolicyChanged {r}")).unwrap_or_default();
    let _ = write!(
        out,
        "Invoke-Change -Step {step} -Cmdlet '{cmdlet}' -Target {target} -Change {change}{refresh} -Test {{ {test} }} -Apply {{ {apply} }}{CRLF}"
    );
    Ok(())
}

/// The script body before the changes: parameters, session check, helpers and
/// `Invoke-Change`, which checks, asks, applies, retries, logs and carries on.
/// Placeholders in braces are filled by [`script`]; the file is kept as
/// PowerShell so it reads (and parses in the tests) as what it is.
const PRELUDE: &str = include_str!("script/prelude.ps1");

/// The script body after the changes: summary and exit code.
const EPILOGUE: &str = include_str!("script/epilogue.ps1");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_single_quote_character_is_doubled() {
        for q in SINGLE_QUOTES {
            let text = format!("x{q}; Remove-Mailbox -Identity boss; {q}");
            let lit = literal(&text, "name", None).unwrap();
            assert_eq!(lit, format!("'x{q}{q}; Remove-Mailbox -Identity boss; {q}{q}'"));
        }
        assert_eq!(
            literal("x'; Remove-Mailbox -Identity boss; '", "n", None).unwrap(),
            "'x''; Remove-Mailbox -Identity boss; '''"
        );
        assert_eq!(
            literal("x’; Invoke-Expression $evil; ‘", "n", None).unwrap(),
            "'x’’; Invoke-Expression $evil; ‘‘'"
        );
        // Double quotes, `$` and backticks are inert in a verbatim string.
        assert_eq!(literal("\"$(Stop-Computer)`\"", "n", None).unwrap(), "'\"$(Stop-Computer)`\"'");
    }

    #[test]
    fn control_characters_are_refused_with_the_row() {
        let src = Source { file: "User.csv".into(), line: 12 };
        let err = literal("Bob\r\nRemove-Mailbox boss", "display name", Some(&src)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "User.csv:12: display name contains U+000D (a line break) at character 4; exoauth will not write it into a script: fix the value in the tenant, or leave the object out with --scope"
        );
        let nul = literal("a\0b", "n", None).unwrap_err();
        assert_eq!((nul.code.as_str(), nul.position), ("U+0000 (a NUL)", 2));
        let bell = literal("ab\u{7}", "n", None).unwrap_err();
        assert_eq!((bell.code.as_str(), bell.position), ("U+0007 (a control character)", 3));
        assert!(comment("a\u{2028}b", "n", None).is_err());
        assert!(literal("a\u{85}b", "n", None).is_err());
    }

    #[test]
    fn comments_show_bidi_controls() {
        assert_eq!(comment("abc\u{202E}fed", "n", None).unwrap(), "abc<U+202E>fed");
    }

    /// A plan of `n` mailbox changes, the `bad`th (if any) with a label that
    /// cannot go into a comment.
    fn plan_of(n: usize, bad: Option<usize>) -> Plan {
        use crate::plan::{MailboxSetting, Target};
        let actions = (0..n)
            .map(|i| Action::SetMailbox {
                mailbox: Target {
                    identity: format!("{i:08x}-0000-4000-8000-000000000000").into(),
                    label: match bad == Some(i) {
                        true => "Bob\nRemove-Mailbox boss".into(),
                        false => format!("User {i} <user{i}@contoso.com>").into(),
                    },
                    source: Source { file: "CasMailbox.csv".into(), line: i + 2 },
                },
                setting: MailboxSetting::PopEnabled,
                from: Setting::Value(false),
                to: Setting::Value(true),
            })
            .collect();
        Plan {
            want: crate::audit::Want::Allow,
            strategy: crate::plan::Strategy::LeastPrivilege,
            environment: crate::model::Environment::Online,
            protocols: vec![Protocol::Pop],
            flagged: n,
            actions,
            manual: Vec::new(),
        }
    }

    /// The steps are rendered a chunk at a time on every core and written in
    /// order while they are hashed, and the plan id is filled in after them:
    /// the text is the one the steps rendered one by one make, and the id is
    /// the hash of those steps, over several chunks, into memory and into a
    /// file alike.
    #[test]
    fn a_script_is_written_a_chunk_of_steps_at_a_time() {
        let header = Header {
            tool_version: "0".into(),
            generated: "2026-12-01T00:00:00Z".into(),
            inputs: vec![("CasMailbox.csv".into(), "ab".repeat(32))],
            name: "fix.ps1".into(),
        };
        for n in [0, 1, STEPS_PER_CHUNK, 2 * STEPS_PER_CHUNK + 7] {
            let plan = plan_of(n, None);
            let script = String::from_utf8(fix_script(&plan, &header).unwrap()).unwrap();
            let mut steps = String::new();
            for (i, action) in plan.actions.iter().enumerate() {
                steps.push_str(CRLF);
                write_action(&mut steps, i + 1, action).unwrap();
            }
            let epilogue =
                format!("{CRLF}{}", EPILOGUE.replace('\n', CRLF).replace("{title}", "remediation"));
            let body = script.strip_suffix(&epilogue).unwrap();
            assert!(body.ends_with(&steps), "{n} steps");
            let id = plan_id(Sha256::new().chain_update([Kind::Fix as u8]).chain_update(&steps));
            let line = format!("$script:PlanId = '{id}'");
            assert!(script.contains(&line), "{n} steps: no {line}");
            assert!(!script.contains(UNKNOWN_PLAN), "{n} steps: the placeholder is left");
            assert!(script.starts_with('\u{FEFF}'));
            let file = tempfile::tempfile().unwrap();
            let mut out = io::BufWriter::new(file);
            write_fix(&plan, &header, &mut out).unwrap();
            let mut file = out.into_inner().unwrap();
            let mut written = Vec::new();
            io::Seek::rewind(&mut file).unwrap();
            io::Read::read_to_end(&mut file, &mut written).unwrap();
            assert_eq!(String::from_utf8(written).unwrap(), script, "{n} steps, into a file");
        }
    }

    /// Text a late chunk cannot write stops the script with that text's
    /// row, as it stopped the whole script's rendering before.
    #[test]
    fn a_refused_text_in_any_chunk_stops_the_script_with_its_row() {
        let header = Header {
            tool_version: "0".into(),
            generated: String::new(),
            inputs: Vec::new(),
            name: "fix.ps1".into(),
        };
        let bad = 3 * STEPS_PER_CHUNK + 5;
        let err = fix_script(&plan_of(4 * STEPS_PER_CHUNK, Some(bad)), &header).unwrap_err();
        let ScriptError::Unsafe(text) = err else { panic!("{err:?}") };
        assert_eq!(text.row.map(|r| r.line), Some(bad + 2));
        assert_eq!(text.code, "U+000A (a line break)");
    }
}
