//! The joined tenant: policies indexed by name, DN and GUID; each mailbox joined
//! to its user.
//!
//! Join order (DESIGN.md §1): `Guid` (the AD object GUID, the same on
//! Get-CASMailbox, Get-EXOCasMailbox and Get-User), then
//! `ExternalDirectoryObjectId`, then `UserPrincipalName` / `PrimarySmtpAddress`,
//! case-insensitively. Policy references resolve by name ignoring case (OPATH
//! comparisons are case-insensitive; no Microsoft statement either way), by the
//! first `CN=` of a distinguished name, or by GUID (AuthPolicyIdParameter accepts
//! Name, DN or GUID: Set-AuthenticationPolicy reference).

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroU32;

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use super::exceptions::Exceptions;
use super::notes::{FALLBACK, JoinNotes, fallback_hash, key_hash};
use super::usage::Usage;
use super::{
    AuthPolicy, CaPolicy, CasMailbox, Environment, Ids, JoinKey, MailboxRef, Mailboxes, OrgConfig,
    Protocol, SecurityDefaults, Text, TransportConfig, User, join_key, looks_like_guid,
    normalise_guid,
};
use crate::input::{Rejection, Warning};

/// The typed exports before joining; `None` marks a file that was not exported.
#[derive(Debug, Clone, Default)]
pub struct Parts {
    /// Online or on premises.
    pub environment: Environment,
    /// `Get-AuthenticationPolicy`.
    pub policies: Option<Vec<AuthPolicy>>,
    /// `Get-OrganizationConfig`.
    pub org: Option<OrgConfig>,
    /// `Get-TransportConfig`.
    pub transport: Option<TransportConfig>,
    /// Entra security defaults.
    pub security_defaults: Option<SecurityDefaults>,
    /// Entra Conditional Access policies.
    pub conditional_access: Option<Vec<CaPolicy>>,
    /// `Get-User`.
    pub users: Option<Vec<User>>,
    /// `Get-CASMailbox`.
    pub mailboxes: Mailboxes,
}

/// Everything one audit needs, joined.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Online or on premises.
    pub environment: Environment,
    /// `Get-AuthenticationPolicy`; `None` when the file was not exported.
    pub policies: Option<Vec<AuthPolicy>>,
    /// `Get-OrganizationConfig`; `None` when not exported.
    pub org: Option<OrgConfig>,
    /// `Get-TransportConfig`; `None` when not exported.
    pub transport: Option<TransportConfig>,
    /// Entra security defaults; `None` when not exported.
    pub security_defaults: Option<SecurityDefaults>,
    /// Entra Conditional Access policies; `None` when not exported.
    pub conditional_access: Option<Vec<CaPolicy>>,
    /// `Get-User`; `None` when not exported.
    pub users: Option<Vec<User>>,
    /// `Get-CASMailbox` rows ([`Snapshot::mailbox`]).
    mailboxes: Mailboxes,
    /// Sign-in evidence joined to the mailboxes; `None` when none was given.
    pub usage: Option<Usage>,
    /// The exceptions register; `None` when none was given.
    pub exceptions: Option<Exceptions>,
    /// For each mailbox, its user's index in `users` (see [`UserRef`]).
    mailbox_user: Vec<UserRef>,
    policy_index: HashMap<String, usize>,
    /// The policy each policy reference the users hold resolves to, by the
    /// reference's [`Text::address`]: resolving a reference lowercases it, and
    /// a tenant has a handful of references and a million users.
    user_policies: FxHashMap<usize, Option<usize>>,
    /// The organisation default's reference and the policy it resolves to.
    default_policy: Option<(String, Option<usize>)>,
    /// Per policy: its name and, per protocol, the setting path blockers cite
    /// (`AuthenticationPolicy[Name].AllowBasicAuthPop`), made once, shared by every finding.
    policy_texts: Vec<(Text, [Text; 3])>,
}

impl Snapshot {
    /// Joins the parts. Duplicate mailboxes, users and policies are rejected (the
    /// first wins) so that every row is still accounted for.
    pub fn build(
        parts: Parts,
        rejected: &mut Vec<Rejection>,
        warnings: &mut Vec<Warning>,
    ) -> Snapshot {
        let Parts {
            environment,
            policies,
            org,
            transport,
            security_defaults,
            conditional_access,
            users,
            mailboxes,
        } = parts;
        let policies = policies.map(|p| {
            dedup(
                p,
                |p| JoinKey::Text(Cow::Owned(p.name.to_lowercase())),
                "policy name",
                |p| &p.source,
                rejected,
            )
            .0
        });
        // What was noted of each mailbox as it was first read joins it to its
        // user by Guid and finds the duplicate mailboxes; then the duplicates
        // are dropped, and the few mailboxes the Guid did not join are looked
        // for by their other keys. The users' side (deduplicating them, then
        // the join) and the mailboxes' duplicates need nothing of each other,
        // so they are worked out side by side, each mostly on one core (the
        // duplicates without a second table of a million slots:
        // `first_duplicates`).
        let mut mailboxes = mailboxes;
        let mut notes = mailboxes.take_notes();
        let fallback = notes.take_fallback();
        let mut user_duplicates = Vec::new();
        let ((users, read), mailbox_duplicates) = rayon::join(
            || {
                let duplicates = &mut user_duplicates;
                let users = users
                    .map(|u| dedup(u, |u| u.ids.join_key(), "user", |u| &u.source, duplicates));
                // The users' index by key is their index by Guid too (a key
                // is the Guid when there is one): the join looks mailboxes up in it.
                let (users, by_key) = users.unzip();
                let read = read_mailboxes(
                    &notes,
                    fallback,
                    &mailboxes,
                    users.as_deref().zip(by_key.as_ref()),
                );
                (users, read)
            },
            || mailbox_duplicates(&notes, &mailboxes),
        );
        drop(notes);
        rejected.append(&mut user_duplicates);
        let (mailboxes, mailbox_user) =
            dedup_mailboxes(mailboxes, read, &mailbox_duplicates, rejected, users.as_deref());

        let mut policy_index = HashMap::new();
        for (i, p) in policies.iter().flatten().enumerate() {
            policy_index.entry(p.name.to_lowercase()).or_insert(i);
            if let Some(g) = &p.guid {
                policy_index.entry(g.clone()).or_insert(i);
            }
            if let Some(dn) = &p.distinguished_name {
                policy_index.entry(dn.to_lowercase()).or_insert(i);
            }
        }

        let mut snapshot = Snapshot {
            environment,
            policies,
            org,
            transport,
            security_defaults,
            conditional_access,
            users,
            mailboxes,
            usage: None,
            exceptions: None,
            mailbox_user,
            policy_index,
            user_policies: FxHashMap::default(),
            default_policy: None,
            policy_texts: Vec::new(),
        };
        let mut user_policies = FxHashMap::default();
        let mut last = None;
        for r in snapshot.users.iter().flatten().filter_map(|u| u.authentication_policy) {
            // Users come in runs that share a reference.
            if last != Some(r.address()) {
                last = Some(r.address());
                user_policies.entry(r.address()).or_insert_with(|| snapshot.policy_position(&r));
            }
        }
        snapshot.user_policies = user_policies;
        snapshot.default_policy =
            snapshot.org.as_ref().and_then(|o| o.default_policy.clone()).map(|r| {
                let position = snapshot.policy_position(&r);
                (r, position)
            });
        snapshot.policy_texts = snapshot
            .policies
            .iter()
            .flatten()
            .map(|p| {
                let setting = |proto| {
                    Text::from(format!("AuthenticationPolicy[{}].{}", p.name, p.switch_name(proto)))
                };
                (Text::new(&p.name), Protocol::ALL.map(setting))
            })
            .collect();
        if let Some(users) = &snapshot.users {
            let mut joined = vec![false; users.len()];
            for u in snapshot.mailbox_user.iter().filter_map(|&u| user_index(u)) {
                joined[u] = true;
            }
            let without = joined.iter().filter(|j| !**j).count();
            if without > 0 {
                warnings.push(Warning {
                    code: "users-without-mailbox",
                    source: None,
                    message: format!(
                        "{without} Get-User row(s) match no mailbox (mail users, guests, users without a mailbox); they are not audited"
                    ),
                });
            }
        }
        snapshot
    }

    /// The unjoined parts again (for changing and rebuilding the tenant).
    pub fn parts(&self) -> Parts {
        Parts {
            environment: self.environment,
            policies: self.policies.clone(),
            org: self.org.clone(),
            transport: self.transport.clone(),
            security_defaults: self.security_defaults.clone(),
            conditional_access: self.conditional_access.clone(),
            users: self.users.clone(),
            mailboxes: Mailboxes::from(self.mailboxes.clone().into_vec()),
        }
    }

    /// How many mailboxes (after duplicates were rejected).
    pub fn mailbox_count(&self) -> usize {
        self.mailboxes.len()
    }

    /// Mailbox `i` (`i` below [`Snapshot::mailbox_count`]).
    pub fn mailbox(&self, i: usize) -> MailboxRef<'_> {
        self.mailboxes.get(i)
    }

    /// The mailboxes, in file order.
    pub fn mailboxes(&self) -> &Mailboxes {
        &self.mailboxes
    }

    /// The user joined to mailbox `i`.
    pub fn user_of(&self, i: usize) -> Option<&User> {
        let u = user_index(self.mailbox_user.get(i).copied().flatten())?;
        self.users.as_ref()?.get(u)
    }

    /// Every identifier of mailbox `i` and of its user, as exported: object GUID,
    /// Entra object id, UPN and primary SMTP address.
    pub fn identities(&self, i: usize) -> Vec<String> {
        let mailbox = self.mailbox(i);
        let fields = self.identity_fields(i, &mailbox);
        fields.filter_map(|(ids, f)| ids.get(f)).map(|id| id.to_string()).collect()
    }

    /// Where [`Snapshot::identities`] come from: the identity columns of
    /// mailbox `i` (whose row is `mailbox`), then its user's, each with the
    /// field read.
    fn identity_fields<'a>(
        &'a self,
        i: usize,
        mailbox: &'a CasMailbox,
    ) -> impl Iterator<Item = (&'a Ids, usize)> + 'a {
        const FIELDS: [usize; 4] = [
            Ids::GUID,
            Ids::EXTERNAL_DIRECTORY_OBJECT_ID,
            Ids::USER_PRINCIPAL_NAME,
            Ids::PRIMARY_SMTP_ADDRESS,
        ];
        let user = self.user_of(i).map(|u| &u.ids);
        std::iter::once(&mailbox.ids).chain(user).flat_map(|ids| FIELDS.map(|f| (ids, f)))
    }

    /// An index from every mailbox identifier ([`Snapshot::identities`], as
    /// [`join_key`]s) to the mailbox. An identifier two mailboxes share maps to
    /// neither: evidence or an exception must never land on the wrong mailbox.
    ///
    /// It keeps a 128-bit fingerprint per identifier, not the text (a million
    /// mailboxes have about three million identifiers): two SipHash values
    /// under keys drawn for this run. Two identifiers would have to agree on
    /// both for one to be taken for the other (odds below one in 2^100 for a
    /// million mailboxes), so a lookup never reads a mailbox row again.
    pub fn identity_index(&self) -> IdentityIndex<'_> {
        let hashers = (RandomState::new(), RandomState::new());
        // Each mailbox's own fingerprints (an identifier may repeat within
        // a mailbox and its user), worked out side by side, filed in order.
        let own: Vec<Vec<Vec<[u64; 2]>>> = self
            .mailboxes
            .spans()
            .into_par_iter()
            .map(|span| {
                let rows = self.mailboxes.rows(&span);
                let each = span.zip(rows.iter()).map(|(i, mailbox)| {
                    let fields = self.identity_fields(i, mailbox);
                    let keys = fields.filter_map(|(ids, f)| ids.join_key_of(f));
                    let mut own: Vec<[u64; 2]> =
                        keys.map(|key| fingerprint(&hashers, &key)).collect();
                    own.sort_unstable();
                    own.dedup();
                    own
                });
                each.collect()
            })
            .collect();
        let own = own.into_iter().flatten().take(u32::MAX as usize);
        let mut map: FxHashMap<[u64; 2], u32> = FxHashMap::default();
        let mut shared: Vec<[u64; 2]> = Vec::new();
        for (i, own) in (0u32..).zip(own) {
            for key in own {
                match map.get(&key) {
                    Some(&j) if j != i => shared.push(key),
                    Some(_) => {}
                    None => {
                        map.insert(key, i);
                    }
                }
            }
        }
        for key in &shared {
            map.remove(key);
        }
        IdentityIndex { map, hashers, snapshot: std::marker::PhantomData }
    }

    /// Resolves a policy reference (name in any case, DN, or GUID).
    pub fn resolve_policy(&self, reference: &str) -> Option<&AuthPolicy> {
        self.policy_position(reference).and_then(|i| self.policies.as_ref()?.get(i))
    }

    /// [`Snapshot::policy_position`] of a user's policy reference.
    pub fn user_policy_position(&self, reference: Text) -> Option<usize> {
        match self.user_policies.get(&reference.address()) {
            Some(&position) => position,
            None => self.policy_position(&reference),
        }
    }

    /// [`Snapshot::policy_position`] of the organisation default's reference.
    pub fn default_policy_position(&self, reference: &str) -> Option<usize> {
        match &self.default_policy {
            Some((known, position)) if known == reference => *position,
            _ => self.policy_position(reference),
        }
    }

    /// The index in `policies` of a policy reference (name in any case, DN, or GUID).
    pub fn policy_position(&self, reference: &str) -> Option<usize> {
        self.policies.as_ref()?;
        let r = reference.trim();
        let by = |key: &str| self.policy_index.get(key).copied();
        by(&join_key(r))
            .or_else(|| looks_like_guid(r).then(|| by(&normalise_guid(r))).flatten())
            .or_else(|| dn_common_name(r).and_then(|cn| by(&cn.to_lowercase())))
    }

    /// The shared name of policy `i`.
    pub fn policy_name(&self, i: usize) -> Text {
        self.policy_texts[i].0
    }

    /// The setting path of policy `i`'s switch for a protocol.
    pub fn policy_setting(&self, i: usize, p: Protocol) -> Text {
        self.policy_texts[i].1[p as usize]
    }
}

/// Mailbox identifiers to mailbox indices ([`Snapshot::identity_index`]).
#[derive(Debug, Clone)]
pub struct IdentityIndex<'s> {
    map: FxHashMap<[u64; 2], u32>,
    hashers: (RandomState, RandomState),
    snapshot: std::marker::PhantomData<&'s Snapshot>,
}

/// A join key's 128-bit fingerprint ([`Snapshot::identity_index`]).
fn fingerprint(hashers: &(RandomState, RandomState), key: &JoinKey<'_>) -> [u64; 2] {
    [hashers.0.hash_one(key), hashers.1.hash_one(key)]
}

impl IdentityIndex<'_> {
    /// The mailbox an identifier (object id, Guid, UPN or SMTP address, any case)
    /// names, if exactly one.
    pub fn find(&self, id: &str) -> Option<u32> {
        let id = id.trim();
        if id.is_empty() {
            return None;
        }
        self.map.get(&fingerprint(&self.hashers, &JoinKey::of(id))).copied()
    }
}

/// The value of the first `CN=` of a distinguished name, with `\,` unescaped.
fn dn_common_name(dn: &str) -> Option<String> {
    let rest = dn.strip_prefix("CN=").or_else(|| dn.strip_prefix("cn="))?;
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            ',' => break,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Keeps the first of each key; later duplicates become rejections. Returns
/// the items kept and their index by key.
fn dedup<T: Send + Sync>(
    items: Vec<T>,
    key: impl Fn(&T) -> JoinKey<'_> + Sync,
    what: &str,
    source: impl Fn(&T) -> &crate::input::Source,
    rejected: &mut Vec<Rejection>,
) -> (Vec<T>, KeyIndex) {
    // The hashes are made on every core and kept beside the table while it is
    // built (eight bytes an item), so that filing an item never makes another's
    // hash again; keys are compared only when the hashes agree.
    let hashes: Vec<u64> = items.par_iter().map(|item| KeyIndex::hash(&key(item))).collect();
    let (index, duplicates) =
        KeyIndex::build(items.len(), |i| hashes[i], |a, b| key(&items[a]) == key(&items[b]));
    for &(i, first) in &duplicates {
        rejected.push(duplicate(what, &key(&items[i]), source(&items[i]), source(&items[first])));
    }
    if duplicates.is_empty() {
        return (items, index);
    }
    drop(index);
    let keep = keep(items.len(), &duplicates);
    let kept: Vec<T> =
        items.into_iter().zip(&keep).filter_map(|(item, &k)| k.then_some(item)).collect();
    let hashes: Vec<u64> =
        hashes.into_iter().zip(&keep).filter_map(|(h, &k)| k.then_some(h)).collect();
    // The slots moved: index the kept items again (they hold no duplicate now).
    let (index, _) = KeyIndex::build(kept.len(), |i| hashes[i], |_, _| false);
    (kept, index)
}

/// Which of `n` items to keep: all but the duplicates.
fn keep(n: usize, duplicates: &[(usize, usize)]) -> Vec<bool> {
    let mut keep = vec![true; n];
    for &(i, _) in duplicates {
        keep[i] = false;
    }
    keep
}

/// What the join finds of the mailboxes from their notes ([`read_mailboxes`]).
struct MailboxKeys {
    /// Each mailbox's user, by Guid.
    users: Vec<UserRef>,
    /// The mailboxes the Guid did not join and some user may have by their
    /// other keys, with those keys.
    unjoined: Vec<(usize, Unjoined)>,
}

/// A mailbox's keys for the fallback joins: ExternalDirectoryObjectId, then
/// its addresses.
type Unjoined = [Vec<JoinKey<'static>>; 2];

const EDOID: [usize; 1] = [Ids::EXTERNAL_DIRECTORY_OBJECT_ID];
// Addresses are the last resort.
const ADDRESSES: [usize; 2] = [Ids::USER_PRINCIPAL_NAME, Ids::PRIMARY_SMTP_ADDRESS];

/// Joins each mailbox to its user by Guid from what was noted of it
/// ([`JoinNotes`]), without reading the mailboxes again. `by_key` is the users'
/// index by [`Ids::join_key`] from deduplicating them: a user's key is its
/// Guid when it has one, so a hit on a user with a Guid is a hit on that Guid.
/// Only the mailboxes the Guid did not join and whose other keys a user may
/// have ([`fallback_candidates`]) are read again, for those keys.
fn read_mailboxes(
    notes: &JoinNotes,
    fallback: Vec<[u64; 3]>,
    mailboxes: &Mailboxes,
    users: Option<(&[User], &KeyIndex)>,
) -> MailboxKeys {
    let by_guid = |g: &JoinKey<'_>| {
        let (users, by_key) = users?;
        let found = by_key.find(g, |slot| users[slot].ids.join_key() == *g)?;
        users[found].ids.has(Ids::GUID).then_some(found)
    };
    const CHUNK: usize = 1 << 14;
    let mut joined = vec![None; notes.len()];
    joined.par_chunks_mut(CHUNK).enumerate().for_each(|(c, part)| {
        for (k, user) in part.iter_mut().enumerate() {
            *user = user_ref(notes.guid(c * CHUNK + k).and_then(|g| by_guid(&g)));
        }
    });
    let Some((user_rows, _)) = users else {
        return MailboxKeys { users: joined, unjoined: Vec::new() };
    };
    let not_joined: Vec<usize> = (0..joined.len()).filter(|&i| joined[i].is_none()).collect();
    let candidates = fallback_candidates(notes, &fallback, &not_joined, user_rows);
    drop((not_joined, fallback));
    let mut unjoined = Vec::new();
    for (i, m) in mailboxes.refs(candidates) {
        if notes.read_again(i) {
            joined[i] = user_ref(m.ids.join_key_of(Ids::GUID).and_then(|g| by_guid(&g)));
            if joined[i].is_some() {
                continue;
            }
        }
        let keys = |fields: &[usize]| {
            let keys = fields.iter().filter_map(|&f| m.ids.join_key_of(f));
            keys.map(JoinKey::into_owned).collect()
        };
        unjoined.push((i, [keys(&EDOID), keys(&ADDRESSES)]));
    }
    MailboxKeys { users: joined, unjoined }
}

/// Of the mailboxes `not_joined` by a noted Guid (ascending), those that must
/// be read again: whose Guid was not noted ([`JoinNotes::read_again`]), or one
/// of whose ExternalDirectoryObjectId and addresses hashes as one of some
/// user's does. The others have no identifier any user has, so no fallback
/// join could find their user.
fn fallback_candidates(
    notes: &JoinNotes,
    fallback: &[[u64; 3]],
    not_joined: &[usize],
    users: &[User],
) -> Vec<usize> {
    // Noted with the keys, so one set a mailbox (zeros, no key, past the end).
    let of = |i: usize| fallback.get(i).copied().unwrap_or_default();
    let wanted: FxHashSet<u64> =
        not_joined.iter().flat_map(|&i| of(i)).filter(|&h| h != 0).collect();
    let hit = if wanted.is_empty() {
        FxHashSet::default()
    } else {
        users
            .par_chunks(1 << 14)
            .map(|part| {
                let hashes = part.iter().flat_map(|u| FALLBACK.map(|f| fallback_hash(&u.ids, f)));
                hashes.filter(|h| wanted.contains(h)).collect::<FxHashSet<u64>>()
            })
            .reduce(FxHashSet::default, |mut a, b| {
                a.extend(b);
                a
            })
    };
    let maybe = |i: &usize| notes.read_again(*i) || of(*i).iter().any(|h| hit.contains(h));
    not_joined.iter().copied().filter(maybe).collect()
}

/// Each mailbox whose key an earlier one has, with that first one, from what
/// was noted of them: a row is read again only when its key's hash is one an
/// earlier row has (a duplicate, in practice).
fn mailbox_duplicates(notes: &JoinNotes, mailboxes: &Mailboxes) -> Vec<(usize, usize)> {
    first_duplicates(
        notes.len(),
        |i| notes.key_hash(i),
        |a, b| mailboxes.get(a).ids.join_key() == mailboxes.get(b).ids.join_key(),
    )
}

/// Each of items `0..n` whose key an earlier item has (`same(first, item)`),
/// with the first that has it, in order: [`KeyIndex::build`]'s duplicates,
/// without a table of every item. It runs beside the users' index, so two
/// tables of a million slots would be held at once: a bit per hash bucket
/// (eight buckets an item) first finds the items whose bucket another item
/// shares, and only those (about one in eight) are filed in a table. Items
/// whose bucket no other item has have a hash, so a key, of their own.
fn first_duplicates(
    n: usize,
    hash_of: impl Fn(usize) -> u64,
    same: impl Fn(usize, usize) -> bool,
) -> Vec<(usize, usize)> {
    let buckets = n.saturating_mul(8).max(64).next_power_of_two();
    let shift = 64 - buckets.trailing_zeros();
    let at = |i: usize| {
        let b = (hash_of(i) >> shift) as usize;
        (b / 64, 1u64 << (b % 64))
    };
    let (mut seen, mut shared) = (vec![0u64; buckets / 64], vec![0u64; buckets / 64]);
    for i in 0..n {
        let (word, bit) = at(i);
        if seen[word] & bit == 0 {
            seen[word] |= bit;
        } else {
            shared[word] |= bit;
        }
    }
    drop(seen);
    let maybe: Vec<usize> = (0..n)
        .filter(|&i| {
            let (word, bit) = at(i);
            shared[word] & bit != 0
        })
        .collect();
    drop(shared);
    let (_, duplicates) =
        KeyIndex::build(maybe.len(), |k| hash_of(maybe[k]), |a, b| same(maybe[a], maybe[b]));
    duplicates.into_iter().map(|(k, first)| (maybe[k], maybe[first])).collect()
}

/// Drops the mailboxes' `duplicates` ([`mailbox_duplicates`]), which become
/// rejections, and finishes the join for the mailboxes kept. Returns them and
/// each one's user.
fn dedup_mailboxes(
    mailboxes: Mailboxes,
    read: MailboxKeys,
    duplicates: &[(usize, usize)],
    rejected: &mut Vec<Rejection>,
    users: Option<&[User]>,
) -> (Mailboxes, Vec<UserRef>) {
    let MailboxKeys { users: mut joined, mut unjoined } = read;
    for &(i, first) in duplicates {
        let (m, f) = (mailboxes.get(i), mailboxes.get(first));
        rejected.push(duplicate("mailbox", &m.ids.join_key(), &m.source, &f.source));
    }
    let mailboxes = if duplicates.is_empty() {
        mailboxes
    } else {
        let keep = keep(mailboxes.len(), duplicates);
        // Number the kept mailboxes' unjoined keys by their new places.
        let mut at = 0;
        let place: Vec<usize> = keep
            .iter()
            .map(|&k| {
                at += usize::from(k);
                at - 1
            })
            .collect();
        unjoined.retain(|(i, _)| keep[*i]);
        for (i, _) in &mut unjoined {
            *i = place[*i];
        }
        joined = joined.into_iter().zip(&keep).filter_map(|(u, &k)| k.then_some(u)).collect();
        mailboxes.retain(&keep)
    };
    if let Some(users) = users {
        join_the_rest(users, &mut joined, unjoined);
    }
    (mailboxes, joined)
}

/// The rejection of a duplicate row.
fn duplicate(
    what: &str,
    key: &JoinKey<'_>,
    source: &crate::input::Source,
    first: &crate::input::Source,
) -> Rejection {
    Rejection {
        source: *source,
        reason: format!(
            "duplicate {what} {key:?}, already read at {first}; the export holds the same object twice (overlapping shards?)"
        ),
    }
}

/// The first index filed under each key. The table holds indices only; an
/// item's key hash comes from `hash_of` (made again from a held item, or kept
/// beside the table by whoever cannot), and keys are compared (items read
/// again) only when the hashes agree. So indexing a million rows costs a few
/// bytes a row, never a copy of every key, and never reads back the rows a
/// probe passes.
///
/// Slots are 32-bit. A slot past `u32::MAX` (over four billion rows: terabytes
/// of export) is not filed, so such a row is never found as a duplicate or a
/// match.
struct KeyIndex {
    table: hashbrown::HashTable<u32>,
}

impl KeyIndex {
    fn hash(key: &JoinKey<'_>) -> u64 {
        key_hash(key)
    }

    /// Files items `0..n` (in order) unless an earlier one has the same key
    /// (`same(first, item)`); returns the index and each duplicate with the
    /// first of its key.
    fn build(
        n: usize,
        hash_of: impl Fn(usize) -> u64,
        same: impl Fn(usize, usize) -> bool,
    ) -> (KeyIndex, Vec<(usize, usize)>) {
        let mut table = hashbrown::HashTable::with_capacity(n);
        let mut duplicates = Vec::new();
        for i in 0..n {
            let Ok(slot) = u32::try_from(i) else { break };
            let hash = hash_of(i);
            let entry = table.entry(
                hash,
                |&filed: &u32| hash_of(filed as usize) == hash && same(filed as usize, i),
                |&filed| hash_of(filed as usize),
            );
            match entry {
                hashbrown::hash_table::Entry::Occupied(first) => {
                    duplicates.push((i, *first.get() as usize));
                }
                hashbrown::hash_table::Entry::Vacant(free) => {
                    free.insert(slot);
                }
            }
        }
        (KeyIndex { table }, duplicates)
    }

    /// The slot filed under `key`, if any; `is(slot)` says whether a slot has
    /// that key.
    fn find(&self, key: &JoinKey<'_>, is: impl Fn(usize) -> bool) -> Option<usize> {
        let found = self.table.find(KeyIndex::hash(key), |&filed| is(filed as usize));
        found.map(|&slot| slot as usize)
    }
}

/// For each join key in `wanted`, the first user (in file order, and within a
/// user in the order of `fields`) whose identifier among `fields` has that key.
///
/// A fallback join needs only the keys of the few mailboxes the Guid did not
/// join, so only those are held: one pass over the users looks each of their
/// identifiers up in this small table, where indexing every user's identifiers
/// would build and probe a table of millions.
fn first_users<'k>(
    users: &'k [User],
    fields: &[usize],
    wanted: impl Iterator<Item = JoinKey<'k>>,
) -> FxHashMap<JoinKey<'k>, usize> {
    let wanted: rustc_hash::FxHashSet<JoinKey<'k>> = wanted.collect();
    if wanted.is_empty() {
        return FxHashMap::default();
    }
    const CHUNK: usize = 1 << 16;
    let first = users
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, part)| {
            let mut first: FxHashMap<&JoinKey<'k>, usize> = FxHashMap::default();
            for (j, u) in part.iter().enumerate() {
                for key in fields.iter().filter_map(|&f| u.ids.join_key_of(f)) {
                    if let Some(k) = wanted.get(&key) {
                        first.entry(k).or_insert(c * CHUNK + j);
                    }
                }
            }
            first
        })
        .reduce(FxHashMap::default, |mut a, b| {
            for (k, i) in b {
                a.entry(k).and_modify(|first| *first = (*first).min(i)).or_insert(i);
            }
            a
        });
    first.into_iter().map(|(k, i)| (k.clone(), i)).collect()
}

/// A mailbox's user: its index in `users` plus one, in four bytes (a million
/// mailboxes hold a million of them). An index past `u32::MAX - 1` (four
/// billion users) cannot be held and leaves the mailbox without its user, so
/// its verdicts are unknown, never wrong.
type UserRef = Option<NonZeroU32>;

fn user_ref(index: Option<usize>) -> UserRef {
    index.and_then(|i| u32::try_from(i + 1).ok()).and_then(NonZeroU32::new)
}

fn user_index(user: UserRef) -> Option<usize> {
    user.map(|u| u.get() as usize - 1)
}

/// Joins the mailboxes the Guid did not join: by ExternalDirectoryObjectId,
/// then UPN or primary SMTP address against the user's UPN or mail address.
/// Only their keys are looked for among the users' other identifiers (in an
/// export of a whole tenant every mailbox has its Get-User row and the Guid
/// finds it).
fn join_the_rest(users: &[User], joined: &mut [UserRef], mut unjoined: Vec<(usize, Unjoined)>) {
    for (pass, fields) in [&EDOID[..], &ADDRESSES[..]].into_iter().enumerate() {
        unjoined.retain(|(i, _)| joined[*i].is_none());
        let wanted = unjoined.iter().flat_map(|(_, keys)| keys[pass].iter().cloned());
        let first = first_users(users, fields, wanted);
        if first.is_empty() {
            continue;
        }
        for (i, keys) in &unjoined {
            joined[*i] = user_ref(keys[pass].iter().find_map(|k| first.get(k).copied()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Source;
    use crate::model::{Ids, PerProtocol, Setting};

    fn src(line: usize) -> Source {
        Source { file: "t".into(), line }
    }

    fn policy(name: &str, guid: &str, dn: &str) -> AuthPolicy {
        AuthPolicy {
            name: name.into(),
            guid: Some(guid.into()),
            distinguished_name: Some(dn.into()),
            switches: PerProtocol([Setting::Value(false); 3]),
            all_switches: Vec::new(),
            environment: Environment::Online,
            source: src(2),
        }
    }

    fn snapshot(
        policies: Vec<AuthPolicy>,
        users: Vec<User>,
        mailboxes: Vec<CasMailbox>,
    ) -> (Snapshot, Vec<Rejection>) {
        let mut rejected = Vec::new();
        let parts = Parts {
            policies: Some(policies),
            users: Some(users),
            mailboxes: mailboxes.into(),
            ..Parts::default()
        };
        let s = Snapshot::build(parts, &mut rejected, &mut Vec::new());
        (s, rejected)
    }

    #[test]
    fn policy_references_resolve_by_name_dn_and_guid() {
        let dn = "CN=Allow SMTP\\, Legacy,CN=Auth Policies,CN=Configuration,DC=PROD";
        let (s, _) = snapshot(
            vec![policy("Allow SMTP, Legacy", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", dn)],
            vec![],
            vec![],
        );
        for r in [
            "Allow SMTP, Legacy",
            "allow smtp, legacy",
            dn,
            "CN=allow smtp\\, legacy,CN=Auth Policies,CN=Configuration,DC=OTHER",
            "{1B4E28BA-2FA1-11D2-883F-0016D3CCA427}",
        ] {
            assert_eq!(
                s.resolve_policy(r).map(|p| p.name.as_str()),
                Some("Allow SMTP, Legacy"),
                "{r}"
            );
        }
        assert!(s.resolve_policy("Contractors IMAP").is_none());
    }

    fn ids(guid: Option<&str>, edoid: Option<&str>, upn: Option<&str>, smtp: Option<&str>) -> Ids {
        Ids::new([guid, edoid, upn, smtp, None, None, None]).unwrap()
    }

    fn user(ids: Ids, line: usize) -> User {
        User {
            ids,
            authentication_policy: None,
            recipient_type_details: Some("UserMailbox".into()),
            account_disabled: Setting::Value(false),
            source: src(line),
        }
    }

    fn mailbox(ids: Ids, line: usize) -> CasMailbox {
        CasMailbox {
            ids,
            pop_enabled: Setting::Value(true),
            imap_enabled: Setting::Value(true),
            smtp_client_auth_disabled: Setting::Null,
            recipient_type_details: None,
            source: src(line),
        }
    }

    #[test]
    fn join_prefers_guid_then_edoid_then_address() {
        let users = vec![
            user(ids(Some("g1"), Some("e1"), Some("a@contoso.com"), None), 2),
            user(ids(None, Some("e2"), Some("b@contoso.com"), None), 3),
            user(ids(None, None, Some("C@Contoso.com"), None), 4),
            // Same address as mailbox 1's, but mailbox 1 joins by Guid first.
            user(ids(Some("g9"), None, Some("x@contoso.com"), None), 5),
        ];
        let mailboxes = vec![
            mailbox(ids(Some("g1"), Some("e1"), None, Some("x@contoso.com")), 2),
            mailbox(ids(Some("g2"), Some("e2"), None, Some("b@contoso.com")), 3),
            mailbox(ids(Some("g3"), Some("e3"), None, Some("c@contoso.com")), 4),
            mailbox(ids(Some("g4"), Some("e4"), None, Some("d@contoso.com")), 5),
        ];
        let (s, _) = snapshot(vec![], users, mailboxes);
        let users: Vec<Option<usize>> = s.mailbox_user.iter().map(|&u| user_index(u)).collect();
        assert_eq!(users, [Some(0), Some(1), Some(2), None]);
    }

    #[test]
    fn an_address_joins_the_first_user_that_has_it_across_chunks() {
        // Users are scanned in parallel chunks of 65,536: the first in file
        // order must win wherever the chunks fall.
        let mut users: Vec<User> = (0..70_000)
            .map(|i| {
                let (e, u) = (format!("e{i}"), format!("u{i}@contoso.com"));
                user(ids(None, Some(&e), Some(&u), None), i + 2)
            })
            .collect();
        for i in [66_000, 3, 69_999] {
            users[i].ids =
                users[i].ids.with(Ids::PRIMARY_SMTP_ADDRESS, Some("Shared@contoso.com")).unwrap();
        }
        let mailboxes = vec![
            mailbox(ids(Some("g1"), None, None, Some("shared@contoso.com")), 2),
            mailbox(ids(Some("g2"), None, None, Some("u66000@contoso.com")), 3),
            mailbox(ids(Some("g3"), Some("E69998"), None, None), 4),
            mailbox(ids(Some("g4"), None, None, Some("nobody@contoso.com")), 5),
        ];
        let (s, _) = snapshot(vec![], users, mailboxes);
        let users: Vec<Option<usize>> = s.mailbox_user.iter().map(|&u| user_index(u)).collect();
        assert_eq!(users, [Some(3), Some(66_000), Some(69_998), None]);
    }

    /// The duplicates found through the buckets' bits are those a table of
    /// every item finds, in the same order, whether the hashes are good
    /// (few shared buckets), poor (many) or equal for different keys.
    #[test]
    fn first_duplicates_are_the_tables() {
        use proptest::prelude::*;
        let hashes = [
            |k: u64| key_hash(&JoinKey::Text(k.to_string().into())),
            |k: u64| (k % 5) << 61,
            |_: u64| 42,
        ];
        proptest!(ProptestConfig::with_cases(300), |(
            keys in prop::collection::vec(0u64..40, 0..200),
            which in 0..hashes.len(),
        )| {
            let hash = hashes[which];
            let (hash_of, same) = (|i: usize| hash(keys[i]), |a: usize, b: usize| keys[a] == keys[b]);
            let (_, table) = KeyIndex::build(keys.len(), hash_of, same);
            prop_assert_eq!(first_duplicates(keys.len(), hash_of, same), table);
        });
    }

    #[test]
    fn duplicate_mailboxes_are_rejected_not_lost() {
        let mailboxes = vec![
            mailbox(ids(Some("g1"), None, None, None), 2),
            mailbox(ids(Some("G1"), None, None, None), 7),
        ];
        let (s, rejected) = snapshot(vec![], vec![], mailboxes);
        assert_eq!(s.mailboxes.len(), 1);
        assert_eq!(rejected[0].source.line, 7);
        assert!(rejected[0].reason.contains("already read at t:2"), "{}", rejected[0].reason);
    }
}
