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

use std::hash::BuildHasher;

use rayon::prelude::*;

use super::{CasMailbox, Ids, JoinKey, Mailboxes};

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
/// documentation): 41 bytes a mailbox, 17 once the fallback hashes are dropped.
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

    /// The hashes of mailbox `i`'s identifiers in [`FALLBACK`] (0: none);
    /// nothing once [`JoinNotes::forget_fallback`] has dropped them.
    pub(crate) fn fallback(&self, i: usize) -> [u64; 3] {
        self.fallback.get(i).copied().unwrap_or_default()
    }

    /// Drops the fallback hashes (more than half of the notes), once the
    /// mailboxes to be read again are known.
    pub(crate) fn forget_fallback(&mut self) {
        self.fallback = Vec::new();
    }
}
