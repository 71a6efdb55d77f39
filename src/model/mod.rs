//! Records to typed structs, one file per cmdlet.
//!
//! The column lists here are the single source of truth for what exoauth reads:
//! the mappers require them, the error messages name them, and the companion
//! export script selects exactly them (checked by a test).

pub mod cas;
pub mod columns;
pub mod entra;
pub mod exceptions;
pub mod ids;
pub mod mailboxes;
pub mod notes;
pub mod org;
pub mod policy;
pub mod snapshot;
pub mod text;
pub mod usage;
pub mod user;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::input::{Cells, Records, Rejection, Source, Warning};

pub use cas::CasMailbox;
pub use entra::CaPolicy;
pub use ids::{Id, Ids, IdsTooLong, JoinKey};
pub use mailboxes::{MailboxRef, Mailboxes};
pub use org::{OrgConfig, SecurityDefaults, TransportConfig};
pub use policy::AuthPolicy;
pub use snapshot::{Parts, Snapshot};
pub use user::User;

pub use text::Text;

/// The shared [`Text`] for a low-cardinality string (setting names, values,
/// recipient types, policy references).
pub fn intern(s: &str) -> Text {
    Text::new(s)
}

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
        self.display_text().as_str()
    }

    /// [`Setting::display`] as a [`Text`], for findings.
    pub const fn display_text(self) -> Text {
        Text::from_static(match self {
            Setting::NotExported => &"(not exported)",
            Setting::Null => &"",
            Setting::Value(true) => &"True",
            Setting::Value(false) => &"False",
        })
    }
}

/// The bytes an identifier made only of is its own [`join_key`]: ASCII but
/// capitals, braces, spaces and tabs. A table, as every identifier of every
/// row is asked.
const OWN_KEY: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = !matches!(b as u8, b'A'..=b'Z' | b'{' | b'}' | b' ' | b'\t');
        b += 1;
    }
    table
};

/// A comparison key for an identifier: GUIDs without braces, everything
/// lowercase. Borrowed when the identifier already is its key (the common case:
/// exports write GUIDs and addresses in lowercase), so joining a million rows
/// does not allocate a million keys.
pub fn join_key(id: &str) -> Cow<'_, str> {
    // Fast path, one pass: ASCII without capitals, braces or spaces is its own key.
    if id.bytes().all(|b| OWN_KEY[usize::from(b)]) {
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
        let mut fields: [Option<&str>; 7] = [None; 7];
        for (slot, col) in fields.iter_mut().zip(self.0) {
            *slot = row.str(col)?;
        }
        Ids::new(fields).map_err(|e| e.to_string())
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
    #[inline]
    pub fn raw(&self, col: Option<usize>) -> Option<&'a str> {
        col.and_then(|c| self.cells.get(c))
    }

    /// A text value; null and absent are `None`. A collection type name is an error.
    pub fn text(&self, col: Option<usize>) -> Result<Option<String>, String> {
        Ok(self.str(col)?.map(str::to_owned))
    }

    /// [`Row::text`], borrowed.
    #[inline]
    pub fn str(&self, col: Option<usize>) -> Result<Option<&'a str>, String> {
        match self.raw(col).and_then(crate::input::value::text) {
            Some(t) if crate::input::value::is_type_name(t) => Err(format!(
                "{}: holds the type name {t:?}, not a value (a multi-valued property exported with Export-Csv); select the property as text before exporting",
                self.name(col)
            )),
            other => Ok(other),
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
    f: impl FnMut(&Row<'_>) -> Result<T, String>,
) -> Mapped<T> {
    let mut rows = Vec::new();
    // A hint, never a demand: a file of blank lines would ask for a row per
    // byte, so a reservation the allocator refuses just means growing instead.
    let _ = rows.try_reserve(records.size_hint());
    let mut out = map_rows_into(file, records, f, &mut |row| rows.push(row));
    out.rows = rows;
    out
}

/// [`map_rows`], handing each row to `keep` instead of collecting them (the
/// returned rows are empty).
pub(crate) fn map_rows_into<T>(
    file: &Arc<str>,
    records: &mut dyn Records,
    mut f: impl FnMut(&Row<'_>) -> Result<T, String>,
    keep: &mut dyn FnMut(T),
) -> Mapped<T> {
    let mut out = Mapped::default();
    let columns: Vec<String> = records.columns().to_vec();
    let file = Text::new(file);
    records.each(&mut |line, cells| {
        let row = Row { columns: &columns, cells, source: Source { file, line } };
        match f(&row) {
            Ok(v) => keep(v),
            Err(reason) => out.rejected.push(Rejection { source: row.source, reason }),
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identifier_is_its_own_key_only_without_capitals_braces_spaces_or_non_ascii() {
        for b in 0..=u8::MAX {
            let own =
                b.is_ascii() && !b.is_ascii_uppercase() && !matches!(b, b'{' | b'}' | b' ' | b'\t');
            assert_eq!(OWN_KEY[usize::from(b)], own, "byte {b:#04x}");
        }
        assert!(matches!(join_key("user0@contoso.com"), Cow::Borrowed(_)));
        assert_eq!(join_key("User0@Contoso.com"), "user0@contoso.com");
        assert_eq!(
            join_key(" {4E45B331-E772-455D-9D3E-CDB3DB85DF23} "),
            "4e45b331-e772-455d-9d3e-cdb3db85df23"
        );
        assert_eq!(join_key("Ångström"), "ångström");
    }
}
