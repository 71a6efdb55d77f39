//! Records to typed structs, one file per cmdlet.
//!
//! The column lists here are the single source of truth for what exoauth reads:
//! the mappers require them, the error messages name them, and the companion
//! export script selects exactly them (checked by a test).

pub mod cas;
pub mod columns;
pub mod entra;
pub mod org;
pub mod policy;
pub mod snapshot;
pub mod user;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::input::{Cells, Records, Rejection, Source, Warning};

pub use cas::CasMailbox;
pub use entra::CaPolicy;
pub use org::{OrgConfig, SecurityDefaults, TransportConfig};
pub use policy::AuthPolicy;
pub use snapshot::{Parts, Snapshot};
pub use user::User;

/// A protocol whose basic-auth access exoauth decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// POP3.
    Pop,
    /// IMAP4.
    Imap,
    /// SMTP AUTH client submission.
    Smtp,
}

impl Protocol {
    /// All protocols in report order.
    pub const ALL: [Protocol; 3] = [Protocol::Pop, Protocol::Imap, Protocol::Smtp];

    /// Lowercase name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Pop => "pop",
            Protocol::Imap => "imap",
            Protocol::Smtp => "smtp",
        }
    }

    /// The suffix of the policy switch (`AllowBasicAuthPop`, `BlockLegacyAuthPop`).
    pub fn policy_suffix(self) -> &'static str {
        match self {
            Protocol::Pop => "Pop",
            Protocol::Imap => "Imap",
            Protocol::Smtp => "Smtp",
        }
    }

    /// Parses `pop`, `imap` or `smtp` (any case).
    pub fn parse(s: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value per protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerProtocol<T>(pub [T; 3]);

impl<T> std::ops::Index<Protocol> for PerProtocol<T> {
    type Output = T;
    fn index(&self, p: Protocol) -> &T {
        &self.0[p as usize]
    }
}

impl<T> std::ops::IndexMut<Protocol> for PerProtocol<T> {
    fn index_mut(&mut self, p: Protocol) -> &mut T {
        &mut self.0[p as usize]
    }
}

/// Where an audit runs: Exchange Online, or Exchange Server 2019 / SE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Environment {
    /// Exchange Online: `AllowBasicAuth*` policies, SMTP AUTH switches, service retirement.
    #[default]
    Online,
    /// Exchange Server 2019 / SE: `BlockLegacyAuth*` policies, no SMTP AUTH switches.
    OnPrem,
}

impl Environment {
    /// `online` or `onprem`.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Online => "online",
            Environment::OnPrem => "onprem",
        }
    }
}

/// A boolean setting as exported: the column may be absent (not exported, which
/// is NOT the same as blank), blank (`$null`, which for SMTP AUTH means inherit),
/// or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// The column was not in the export at all.
    NotExported,
    /// Blank or `$null`.
    Null,
    /// `True` or `False`.
    Value(bool),
}

impl Setting {
    /// The value as PowerShell prints it (`True`, `False`, or blank).
    pub fn display(self) -> &'static str {
        match self {
            Setting::NotExported => "(not exported)",
            Setting::Null => "",
            Setting::Value(true) => "True",
            Setting::Value(false) => "False",
        }
    }
}

/// The identity columns a Get-User or Get-CASMailbox row may carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids {
    /// The AD object GUID (same on Get-CASMailbox, Get-EXOCasMailbox, Get-User), as exported.
    pub guid: Option<String>,
    /// The Entra object id, as exported.
    pub external_directory_object_id: Option<String>,
    /// `UserPrincipalName` (Get-User; Get-EXOCasMailbox has none).
    pub user_principal_name: Option<String>,
    /// `PrimarySmtpAddress` (Get-CASMailbox) or `WindowsEmailAddress` (Get-User).
    pub primary_smtp_address: Option<String>,
    /// `Identity` as exported.
    pub identity: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `DisplayName`, for humans.
    pub display_name: Option<String>,
}

impl Ids {
    /// The identifier used in reports and scripts: unique and ASCII where possible
    /// (the Guid, else ExternalDirectoryObjectId, else primary SMTP address), then
    /// UPN, Identity, Name.
    pub fn key(&self) -> &str {
        [
            &self.guid,
            &self.external_directory_object_id,
            &self.primary_smtp_address,
            &self.user_principal_name,
            &self.identity,
            &self.name,
        ]
        .into_iter()
        .find_map(|v| v.as_deref())
        .unwrap_or("")
    }

    /// A human label: UPN, SMTP address, display name, name, or the key.
    pub fn label(&self) -> &str {
        [&self.user_principal_name, &self.primary_smtp_address, &self.display_name, &self.name]
            .into_iter()
            .find_map(|v| v.as_deref())
            .unwrap_or_else(|| self.key())
    }
}

/// A comparison key for an identifier: GUIDs without braces, everything
/// lowercase. Borrowed when the identifier already is its key (the common case:
/// exports write GUIDs and addresses in lowercase), so joining a million rows
/// does not allocate a million keys.
pub fn join_key(id: &str) -> Cow<'_, str> {
    // Fast path, one pass: ASCII without capitals, braces or spaces is its own key.
    if id.bytes().all(|b| {
        b.is_ascii() && !b.is_ascii_uppercase() && !matches!(b, b'{' | b'}' | b' ' | b'\t')
    }) {
        return Cow::Borrowed(id);
    }
    let id = id.trim();
    let id =
        if looks_like_guid(id) { id.trim_start_matches('{').trim_end_matches('}') } else { id };
    if id.chars().any(char::is_uppercase) {
        Cow::Owned(id.to_lowercase())
    } else {
        Cow::Borrowed(id)
    }
}

/// Where the identity columns are, for Get-User and Get-CASMailbox alike; `mail`
/// names the column that holds the primary address (`PrimarySmtpAddress` on a
/// mailbox, `WindowsEmailAddress` on a user).
pub(crate) struct IdColumns([Option<usize>; 7]);

impl IdColumns {
    pub(crate) fn new(records: &dyn Records, mail: &str) -> IdColumns {
        let names = [
            "Guid",
            "ExternalDirectoryObjectId",
            "UserPrincipalName",
            mail,
            "Identity",
            "Name",
            "DisplayName",
        ];
        IdColumns(names.map(|n| records.column(n)))
    }

    pub(crate) fn read(&self, row: &Row<'_>) -> Result<Ids, String> {
        let [guid, edoid, upn, mail, identity, name, display] = self.0;
        Ok(Ids {
            guid: row.text(guid)?,
            external_directory_object_id: row.text(edoid)?,
            user_principal_name: row.text(upn)?,
            primary_smtp_address: row.text(mail)?,
            identity: row.text(identity)?,
            name: row.text(name)?,
            display_name: row.text(display)?,
        })
    }
}

/// Normalises a GUID for comparison: trims braces and lowercases.
pub fn normalise_guid(raw: &str) -> String {
    raw.trim().trim_start_matches('{').trim_end_matches('}').to_ascii_lowercase()
}

/// True when the text has the shape of a GUID (`8-4-4-4-12` hex digits, optionally in braces).
pub fn looks_like_guid(raw: &str) -> bool {
    let s = raw.trim();
    let s = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or(s);
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A fatal mapping error: the file is not the cmdlet output its name says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct MapError {
    /// File name.
    pub file: Arc<str>,
    /// What is wrong and what to do.
    pub message: String,
}

/// The outcome of mapping one file: typed rows plus per-row rejections and warnings.
#[derive(Debug, Clone)]
pub struct Mapped<T> {
    /// The rows that mapped.
    pub rows: Vec<T>,
    /// Rows that did not, with reasons.
    pub rejected: Vec<Rejection>,
    /// Non-fatal findings about the file.
    pub warnings: Vec<Warning>,
}

impl<T> Default for Mapped<T> {
    fn default() -> Self {
        Mapped { rows: Vec::new(), rejected: Vec::new(), warnings: Vec::new() }
    }
}

/// Row-level access to a table's columns by name, with per-value error reporting.
pub(crate) struct Row<'a> {
    pub columns: &'a [String],
    pub cells: Cells<'a>,
    pub source: Source,
}

impl<'a> Row<'a> {
    /// The raw value of a column, `None` when the column or property is absent.
    pub fn raw(&self, col: Option<usize>) -> Option<&'a str> {
        col.and_then(|c| self.cells.get(c))
    }

    /// A text value; null and absent are `None`. A collection type name is an error.
    pub fn text(&self, col: Option<usize>) -> Result<Option<String>, String> {
        match self.raw(col).and_then(crate::input::value::text) {
            Some(t) if crate::input::value::is_type_name(t) => Err(format!(
                "{}: holds the type name {t:?}, not a value (a multi-valued property exported with Export-Csv); select the property as text before exporting",
                self.name(col)
            )),
            other => Ok(other.map(str::to_owned)),
        }
    }

    /// A boolean setting; an unreadable value is an error naming the column.
    pub fn setting(&self, col: Option<usize>) -> Result<Setting, String> {
        let Some(c) = col else { return Ok(Setting::NotExported) };
        let Some(raw) = self.raw(Some(c)) else { return Ok(Setting::Null) };
        match crate::input::value::parse_bool(raw) {
            Ok(None) => Ok(Setting::Null),
            Ok(Some(b)) => Ok(Setting::Value(b)),
            Err(e) => Err(format!("{} (column {}): {e}", self.name(col), c + 1)),
        }
    }

    fn name(&self, col: Option<usize>) -> &str {
        col.and_then(|c| self.columns.get(c)).map_or("?", String::as_str)
    }
}

/// Maps every record with `f`, collecting per-row errors as rejections.
pub(crate) fn map_rows<T>(
    file: &Arc<str>,
    records: &mut dyn Records,
    mut f: impl FnMut(&Row<'_>) -> Result<T, String>,
) -> Mapped<T> {
    let mut out = Mapped::default();
    out.rows.reserve(records.size_hint());
    let columns: Vec<String> = records.columns().to_vec();
    records.each(&mut |line, cells| {
        let row = Row { columns: &columns, cells, source: Source { file: file.clone(), line } };
        match f(&row) {
            Ok(v) => out.rows.push(v),
            Err(reason) => out.rejected.push(Rejection { source: row.source, reason }),
        }
    });
    out
}
