//! [`JoinNotes`]: what the join needs of each mailbox, noted when the mailbox
//! is first read, so that joining a million mailboxes to their users does not
//! parse `CasMailbox.csv` again.
//!
//! The join ([`super::snapshot`]) looks a mailbox's user up by Guid, then by
//! ExternalDirectoryObjectId, then by address. A mailbox's Guid is 16 bytes, so
//! it is noted whole and the Guid join is exact from the notes alone. The
//! other keys are text of any length, so only their hashes are noted: a
//! mailbox none of whose hashes any user has cannot be joined by them (equal
//! keys hash alike), and the few whose hashes a user does have are read again
//! and joined by their keys themselves. The notes only ever spare reading a
//! row; they never decide a join on a hash.
//!
//! [`RuleNotes`]: what the rules read of each mailbox row besides its
//! identifiers, noted at the same first read, so that a pass that only counts
//! verdicts (the summary a JSON, HTML, Markdown or text report puts first)
//! does not parse the file again.

use std::hash::BuildHasher;

use rayon::prelude::*;

use super::{CasMailbox, Ids, JoinKey, Mailboxes, Setting, Text};
use crate::input::Source;

/// The hash of a join key: the one the join's indices use.
pub(crate) fn key_hash(key: &JoinKey<'_>) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(key)
}

/// The identifiers the fallback joins compare, in [`JoinNotes::fallback`]'s
/// order: ExternalDirectoryObjectId, then the addresses.
pub(crate) const FALLBACK: [usize; 3] =
    [Ids::EXTERNAL_DIRECTORY_OBJECT_ID, Ids::USER_PRINCIPAL_NAME, Ids::PRIMARY_SMTP_ADDRESS];

/// The hash of identifier `field` as the fallback joins compare it; 0 when the
/// row has no such identifier (a key whose hash is 0 is noted as 1: a row is
/// then read again for nothing, never skipped).
pub(crate) fn fallback_hash(ids: &Ids, field: usize) -> u64 {
    ids.join_key_of(field).map_or(0, |key| key_hash(&key).max(1))
}

/// How a mailbox's key is noted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    /// Its key is its Guid, held whole: the Guid join needs nothing more.
    Guid,
    /// It has no Guid: its key's hash is held, and it is joined by its other
    /// identifiers only.
    NoGuid,
    /// Its Guid is not a GUID's text (damaged, or another object's name): it
    /// is read again and joined as it is.
    ReadAgain,
}

/// One mailbox's key as noted: 17 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    /// The Guid ([`Kind::Guid`]), else the key's hash in the first 8 bytes.
    bytes: [u8; 16],
    kind: Kind,
}

/// What the join needs of each mailbox, in mailbox order (see the module
/// documentation): 41 bytes a mailbox, 17 once the fallback hashes are taken out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JoinNotes {
    keys: Vec<Key>,
    /// The hashes of the identifiers in [`FALLBACK`].
    fallback: Vec<[u64; 3]>,
}

impl JoinNotes {
    /// Room for `n` mailboxes, so that a million are noted without the
    /// vectors' growth holding two copies at once; less if memory is short.
    pub fn with_capacity(n: usize) -> JoinNotes {
        let mut notes = JoinNotes::default();
        let _ = notes.keys.try_reserve_exact(n);
        let _ = notes.fallback.try_reserve_exact(n);
        notes
    }

    /// Notes one more mailbox.
    pub fn note(&mut self, m: &CasMailbox) {
        let (kind, bytes) = match m.ids.join_key() {
            JoinKey::Guid(g) if m.ids.has(Ids::GUID) => (Kind::Guid, g),
            key => {
                let mut bytes = [0; 16];
                bytes[..8].copy_from_slice(&key_hash(&key).to_le_bytes());
                let kind = if m.ids.has(Ids::GUID) { Kind::ReadAgain } else { Kind::NoGuid };
                (kind, bytes)
            }
        };
        self.keys.push(Key { bytes, kind });
        self.fallback.push(FALLBACK.map(|f| fallback_hash(&m.ids, f)));
    }

    /// The notes of every mailbox, read from the rows (held, or parsed again
    /// from their file a block at a time on every core).
    pub fn of(mailboxes: &Mailboxes) -> JoinNotes {
        let parts: Vec<JoinNotes> = mailboxes
            .spans()
            .into_par_iter()
            .map(|span| {
                let mut notes = JoinNotes::default();
                mailboxes.rows(&span).iter().for_each(|m| notes.note(m));
                notes
            })
            .collect();
        let mut all = JoinNotes::default();
        for mut part in parts {
            all.keys.append(&mut part.keys);
            all.fallback.append(&mut part.fallback);
        }
        all
    }

    /// How many mailboxes are noted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when none are.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Mailbox `i`'s key hash ([`key_hash`] of [`Ids::join_key`]).
    pub(crate) fn key_hash(&self, i: usize) -> u64 {
        let Key { bytes, kind } = self.keys[i];
        match kind {
            Kind::Guid => key_hash(&JoinKey::Guid(bytes)),
            Kind::NoGuid | Kind::ReadAgain => {
                let mut hash = [0; 8];
                hash.copy_from_slice(&bytes[..8]);
                u64::from_le_bytes(hash)
            }
        }
    }

    /// Mailbox `i`'s Guid join key, when the notes hold it.
    pub(crate) fn guid(&self, i: usize) -> Option<JoinKey<'static>> {
        let Key { bytes, kind } = self.keys[i];
        (kind == Kind::Guid).then_some(JoinKey::Guid(bytes))
    }

    /// True when mailbox `i` must be read again to be joined by its Guid.
    pub(crate) fn read_again(&self, i: usize) -> bool {
        self.keys[i].kind == Kind::ReadAgain
    }

    /// Takes out the hashes of each mailbox's identifiers in [`FALLBACK`]
    /// (0: none), more than half of the notes, so that they are dropped as
    /// soon as the mailboxes to be read again are known.
    pub(crate) fn take_fallback(&mut self) -> Vec<[u64; 3]> {
        std::mem::take(&mut self.fallback)
    }
}

/// What the rules read of each mailbox besides its identifiers, in mailbox
/// order: its three switches, its `RecipientTypeDetails` and its line (see the
/// module documentation). 8 bytes a mailbox.
///
/// A row made from the notes ([`RuleNotes::row`]) is the row as first read
/// with its identifiers left out: the rules give it the same finding unless
/// they read an identifier, which only a Conditional Access policy makes them
/// do ([`crate::audit::rules::reads_identifiers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleNotes {
    rows: Vec<RuleNote>,
    /// The `RecipientTypeDetails` values noted, in the order first met; a
    /// note holds a value's place plus one (0: none).
    types: Vec<Text>,
    /// False once a row could not be noted (a line past `u32::MAX`, a 256th
    /// value of `RecipientTypeDetails`): the rows are then read again.
    complete: bool,
}

/// One mailbox's [`RuleNotes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RuleNote {
    line: u32,
    /// `PopEnabled`, `ImapEnabled` and `SmtpClientAuthenticationDisabled`, two
    /// bits each ([`switch_bits`]).
    switches: u8,
    recipient_type: u8,
}

/// A switch in two bits.
#[inline]
fn switch_bits(setting: Setting) -> u8 {
    match setting {
        Setting::NotExported => 0,
        Setting::Null => 1,
        Setting::Value(false) => 2,
        Setting::Value(true) => 3,
    }
}

/// [`switch_bits`] read back.
fn switch_of(bits: u8) -> Setting {
    match bits & 3 {
        0 => Setting::NotExported,
        1 => Setting::Null,
        2 => Setting::Value(false),
        _ => Setting::Value(true),
    }
}

impl Default for RuleNotes {
    fn default() -> RuleNotes {
        RuleNotes { rows: Vec::new(), types: Vec::new(), complete: true }
    }
}

impl RuleNotes {
    /// Room for `n` mailboxes (less if memory is short).
    pub fn with_capacity(n: usize) -> RuleNotes {
        let mut notes = RuleNotes::default();
        let _ = notes.rows.try_reserve_exact(n);
        notes
    }

    /// Notes one more mailbox.
    #[inline]
    pub fn note(&mut self, m: &CasMailbox) {
        if !self.complete {
            return;
        }
        let recipient_type = match m.recipient_type_details {
            None => Some(0),
            Some(t) => match self.types.iter().position(|&seen| seen == t) {
                Some(k) => u8::try_from(k + 1).ok(),
                None => {
                    self.types.push(t);
                    u8::try_from(self.types.len()).ok()
                }
            },
        };
        match (u32::try_from(m.source.line), recipient_type) {
            (Ok(line), Some(recipient_type)) => self.rows.push(RuleNote {
                line,
                switches: switch_bits(m.pop_enabled)
                    | switch_bits(m.imap_enabled) << 2
                    | switch_bits(m.smtp_client_auth_disabled) << 4,
                recipient_type,
            }),
            _ => *self = RuleNotes { complete: false, ..RuleNotes::default() },
        }
    }

    /// The notes, when every row was noted.
    pub fn complete(self) -> Option<RuleNotes> {
        self.complete.then_some(self)
    }

    /// How many mailboxes are noted.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when none are.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Noted mailbox `k` as a row of `file` with no identifiers.
    pub fn row(&self, k: usize, file: Text) -> CasMailbox {
        let RuleNote { line, switches, recipient_type } = self.rows[k];
        CasMailbox {
            ids: Ids::default(),
            pop_enabled: switch_of(switches),
            imap_enabled: switch_of(switches >> 2),
            smtp_client_auth_disabled: switch_of(switches >> 4),
            recipient_type_details: (recipient_type as usize).checked_sub(1).map(|k| self.types[k]),
            source: Source { file, line: line as usize },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_noted_row_is_the_row_without_its_identifiers() {
        let settings =
            [Setting::NotExported, Setting::Null, Setting::Value(false), Setting::Value(true)];
        let types = [None, Some(Text::new("UserMailbox")), Some(Text::new("SharedMailbox"))];
        let file = Text::new("CasMailbox.csv");
        let mut rows = Vec::new();
        for pop in settings {
            for imap in settings {
                for smtp in settings {
                    for rtd in types {
                        let ids = Ids::new([
                            Some("x"),
                            None,
                            None,
                            Some("a@contoso.com"),
                            None,
                            None,
                            None,
                        ]);
                        rows.push(CasMailbox {
                            ids: ids.unwrap(),
                            pop_enabled: pop,
                            imap_enabled: imap,
                            smtp_client_auth_disabled: smtp,
                            recipient_type_details: rtd,
                            source: Source { file, line: 2 + rows.len() * 3 },
                        });
                    }
                }
            }
        }
        let mut notes = RuleNotes::with_capacity(rows.len());
        rows.iter().for_each(|m| notes.note(m));
        let notes = notes.complete().unwrap();
        assert_eq!(notes.len(), rows.len());
        for (k, m) in rows.iter().enumerate() {
            let row = notes.row(k, file);
            assert_eq!(row, CasMailbox { ids: Ids::default(), ..m.clone() }, "row {k}");
        }
    }

    #[test]
    fn rows_that_cannot_be_noted_leave_no_notes() {
        let row = |line: usize, rtd: Option<String>| CasMailbox {
            ids: Ids::default(),
            pop_enabled: Setting::Value(true),
            imap_enabled: Setting::Value(true),
            smtp_client_auth_disabled: Setting::Null,
            recipient_type_details: rtd.map(|t| Text::new(&t)),
            source: Source { file: Text::new("CasMailbox.csv"), line },
        };
        let mut notes = RuleNotes::default();
        for k in 0..255 {
            notes.note(&row(2 + k, Some(format!("Type{k}"))));
        }
        assert!(notes.clone().complete().is_some(), "255 types are noted");
        notes.note(&row(300, Some("Type255".into())));
        assert_eq!(notes.clone().complete(), None, "a 256th type is not");
        notes.note(&row(301, None));
        assert_eq!(notes.complete(), None, "and nothing after it");
        if let Ok(far) = usize::try_from(u64::from(u32::MAX) + 1) {
            let mut notes = RuleNotes::default();
            notes.note(&row(far, None));
            assert_eq!(notes.complete(), None, "a line past u32::MAX is not noted");
        }
    }
}
