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
use std::hash::BuildHasher;
use std::num::NonZeroU32;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::exceptions::Exceptions;
use super::usage::Usage;
use super::{
    AuthPolicy, CaPolicy, CasMailbox, Environment, Id, Ids, JoinKey, OrgConfig, Protocol,
    SecurityDefaults, Text, TransportConfig, User, join_key, looks_like_guid, normalise_guid,
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
    pub mailboxes: Vec<CasMailbox>,
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
    /// `Get-CASMailbox` rows.
    pub mailboxes: Vec<CasMailbox>,
    /// Sign-in evidence joined to the mailboxes; `None` when none was given.
    pub usage: Option<Usage>,
    /// The exceptions register; `None` when none was given.
    pub exceptions: Option<Exceptions>,
    /// For each mailbox, its user's index in `users` (see [`UserRef`]).
    mailbox_user: Vec<UserRef>,
    policy_index: HashMap<String, usize>,
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
        // Users and mailboxes are the big ones: deduplicate them side by side.
        let mut mailbox_rejected = Vec::new();
        let (users, mailboxes) = rayon::join(
            || {
                let mut r = Vec::new();
                let users =
                    users.map(|u| dedup(u, |u| u.ids.join_key(), "user", |u| &u.source, &mut r));
                (users, r)
            },
            || {
                dedup(
                    mailboxes,
                    |m| m.ids.join_key(),
                    "mailbox",
                    |m| &m.source,
                    &mut mailbox_rejected,
                )
                .0
            },
        );
        let (users, user_rejected) = users;
        // The users' index by key is their index by Guid too (a key is the Guid
        // when there is one): the join looks mailboxes up in it.
        let (users, by_key) = users.unzip();
        rejected.extend(user_rejected);
        rejected.extend(mailbox_rejected);

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

        let policy_texts = policies
            .iter()
            .flatten()
            .map(|p| {
                let setting = |proto| {
                    Text::from(format!("AuthenticationPolicy[{}].{}", p.name, p.switch_name(proto)))
                };
                (Text::new(&p.name), Protocol::ALL.map(setting))
            })
            .collect();
        let mailbox_user = match (&users, &by_key) {
            (Some(users), Some(by_key)) => join(&mailboxes, users, by_key),
            _ => vec![None; mailboxes.len()],
        };
        drop(by_key);
        if let Some(users) = &users {
            let mut joined = vec![false; users.len()];
            for u in mailbox_user.iter().filter_map(|&u| user_index(u)) {
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
        Snapshot {
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
            policy_texts,
        }
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
            mailboxes: self.mailboxes.clone(),
        }
    }

    /// The user joined to mailbox `i`.
    pub fn user_of(&self, i: usize) -> Option<&User> {
        let u = user_index(self.mailbox_user.get(i).copied().flatten())?;
        self.users.as_ref()?.get(u)
    }

    /// Every identifier of mailbox `i` and of its user, as exported: object GUID,
    /// Entra object id, UPN and primary SMTP address.
    pub fn identities(&self, i: usize) -> impl Iterator<Item = Id<'_>> + '_ {
        self.identity_fields(i).filter_map(|(ids, f)| ids.get(f))
    }

    /// The [`JoinKey`]s of [`Snapshot::identities`], without writing a GUID
    /// held as bytes out as text.
    fn identity_keys(&self, i: usize) -> impl Iterator<Item = JoinKey<'_>> + '_ {
        self.identity_fields(i).filter_map(|(ids, f)| ids.join_key_of(f))
    }

    /// Where [`Snapshot::identities`] come from: the mailbox's identity columns,
    /// then its user's, each with the field read.
    fn identity_fields(&self, i: usize) -> impl Iterator<Item = (&Ids, usize)> + '_ {
        const FIELDS: [usize; 4] = [
            Ids::GUID,
            Ids::EXTERNAL_DIRECTORY_OBJECT_ID,
            Ids::USER_PRINCIPAL_NAME,
            Ids::PRIMARY_SMTP_ADDRESS,
        ];
        let user = self.user_of(i).map(|u| &u.ids);
        std::iter::once(&self.mailboxes[i].ids).chain(user).flat_map(|ids| FIELDS.map(|f| (ids, f)))
    }

    /// An index from every mailbox identifier ([`Snapshot::identities`], as
    /// [`join_key`]s) to the mailbox. An identifier two mailboxes share maps to
    /// neither: evidence or an exception must never land on the wrong mailbox.
    ///
    /// It keeps a 64-bit hash per identifier, not the text (a million mailboxes
    /// have about three million identifiers), and checks every hit against the
    /// mailbox's own identifiers, so a hash collision can miss but never match
    /// the wrong mailbox.
    pub fn identity_index(&self) -> IdentityIndex<'_> {
        let mut map: FxHashMap<u64, u32> = FxHashMap::default();
        let mut shared: Vec<u64> = Vec::new();
        for i in 0..self.mailboxes.len() {
            let mut own: Vec<u64> = self.identity_keys(i).map(|key| key_hash(&key)).collect();
            own.sort_unstable();
            own.dedup();
            for key in own {
                match map.get(&key) {
                    Some(&j) if j as usize != i => shared.push(key),
                    Some(_) => {}
                    None => {
                        map.insert(key, i as u32);
                    }
                }
            }
        }
        for key in &shared {
            map.remove(key);
        }
        IdentityIndex { snapshot: self, map }
    }

    /// Resolves a policy reference (name in any case, DN, or GUID).
    pub fn resolve_policy(&self, reference: &str) -> Option<&AuthPolicy> {
        self.policy_position(reference).and_then(|i| self.policies.as_ref()?.get(i))
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
    snapshot: &'s Snapshot,
    map: FxHashMap<u64, u32>,
}

/// A well-mixed 64-bit hash of a join key (SipHash with fixed keys: the same
/// in every run).
fn key_hash(key: &JoinKey<'_>) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(key)
}

impl IdentityIndex<'_> {
    /// The mailbox an identifier (object id, Guid, UPN or SMTP address, any case)
    /// names, if exactly one.
    pub fn find(&self, id: &str) -> Option<u32> {
        let id = id.trim();
        if id.is_empty() {
            return None;
        }
        let key = JoinKey::of(id);
        let i = *self.map.get(&key_hash(&key))?;
        self.snapshot.identity_keys(i as usize).any(|own| own == key).then_some(i)
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

/// Keeps the first of each key; later duplicates become rejections. Keys borrow
/// from the items, and the items are only copied when there is a duplicate.
/// Returns the items kept and their index by key.
fn dedup<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> JoinKey<'_>,
    what: &str,
    source: impl Fn(&T) -> &crate::input::Source,
    rejected: &mut Vec<Rejection>,
) -> (Vec<T>, KeyIndex) {
    let mut keep = vec![true; items.len()];
    let mut seen = KeyIndex::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let k = key(item);
        if let Some(first) = seen.first_or_insert(&k, i, |j| key(&items[j])) {
            keep[i] = false;
            rejected.push(Rejection {
                source: *source(item),
                reason: format!(
                    "duplicate {what} {k:?}, already read at {}; the export holds the same object twice (overlapping shards?)",
                    source(&items[first])
                ),
            });
        }
    }
    if keep.iter().all(|k| *k) {
        return (items, seen);
    }
    drop(seen);
    let kept: Vec<T> =
        items.into_iter().zip(keep).filter_map(|(item, k)| k.then_some(item)).collect();
    // The slots moved: index the kept items again (they hold no duplicate now).
    let mut index = KeyIndex::with_capacity(kept.len());
    for (i, item) in kept.iter().enumerate() {
        index.first_or_insert(&key(item), i, |j| key(&kept[j]));
    }
    (kept, index)
}

/// The first index filed under each key; the table holds indices only, and a
/// slot's key is made again from its item when compared, so that indexing a
/// million rows costs a few bytes per row, not a copy of every key.
///
/// Slots are 32-bit, five bytes a row with the table's control byte. A slot past
/// `u32::MAX` (over two billion users, over four billion rows: terabytes of
/// export) is not filed, so such a row is never found as a duplicate or a match.
struct KeyIndex {
    table: hashbrown::HashTable<u32>,
}

impl KeyIndex {
    fn with_capacity(n: usize) -> KeyIndex {
        KeyIndex { table: hashbrown::HashTable::with_capacity(n) }
    }

    fn hash(key: &JoinKey<'_>) -> u64 {
        rustc_hash::FxBuildHasher.hash_one(key)
    }

    /// Files `slot` under `key` unless a slot is filed there already: returns
    /// that first slot. `key_of` makes a filed slot's key again.
    fn first_or_insert<'k>(
        &mut self,
        key: &JoinKey<'_>,
        slot: usize,
        key_of: impl Fn(usize) -> JoinKey<'k>,
    ) -> Option<usize> {
        let slot = u32::try_from(slot).ok()?;
        let hash = KeyIndex::hash(key);
        let entry = self.table.entry(
            hash,
            |&filed| key_of(filed as usize) == *key,
            |&filed| KeyIndex::hash(&key_of(filed as usize)),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(first) => Some(*first.get() as usize),
            hashbrown::hash_table::Entry::Vacant(free) => {
                free.insert(slot);
                None
            }
        }
    }

    /// The slot filed under `key`, if any.
    fn find<'k>(&self, key: &JoinKey<'_>, key_of: impl Fn(usize) -> JoinKey<'k>) -> Option<usize> {
        let found = self.table.find(KeyIndex::hash(key), |&filed| key_of(filed as usize) == *key);
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

/// For each mailbox, its user: by Guid, then ExternalDirectoryObjectId, then UPN
/// or primary SMTP address against the user's UPN or mail address.
///
/// Each fallback index is built only when some mailbox is still without a user
/// (in an export of a whole tenant every mailbox has its Get-User row and the
/// Guid finds it), and looked up only for those mailboxes.
///
/// `by_key` is the users' index by [`Ids::key`](super::Ids::key) from
/// deduplicating them: a user's key is its Guid when it has one, so a hit on a
/// user with a Guid is a hit on that Guid.
fn join<'m>(mailboxes: &'m [CasMailbox], users: &'m [User], by_key: &KeyIndex) -> Vec<UserRef> {
    let by_guid = |g: JoinKey<'_>| {
        let key_of = |slot: usize| users[slot].ids.join_key();
        let found = by_key.find(&g, key_of)?;
        users[found].ids.has(Ids::GUID).then_some(found)
    };
    let mut out: Vec<UserRef> = mailboxes
        .par_iter()
        .map(|m| user_ref(m.ids.join_key_of(Ids::GUID).and_then(by_guid)))
        .collect();
    const EDOID: [usize; 1] = [Ids::EXTERNAL_DIRECTORY_OBJECT_ID];
    // Addresses are the last resort.
    const ADDRESSES: [usize; 2] = [Ids::USER_PRINCIPAL_NAME, Ids::PRIMARY_SMTP_ADDRESS];
    for fields in [&EDOID[..], &ADDRESSES[..]] {
        let keys = |m: &'m CasMailbox| fields.iter().filter_map(|&f| m.ids.join_key_of(f));
        let unjoined = || out.iter().zip(mailboxes).filter(|(u, _)| u.is_none());
        let first = first_users(users, fields, unjoined().flat_map(|(_, m)| keys(m)));
        if !first.is_empty() {
            fill(&mut out, mailboxes, |m| keys(m).find_map(|k| first.get(&k).copied()));
        }
    }
    out
}

/// Looks up, for each mailbox still without a user, its user with `find`.
fn fill<'m>(
    out: &mut [UserRef],
    mailboxes: &'m [CasMailbox],
    find: impl Fn(&'m CasMailbox) -> Option<usize> + Sync,
) {
    out.par_iter_mut().zip(mailboxes).filter(|(slot, _)| slot.is_none()).for_each(|(slot, m)| {
        *slot = user_ref(find(m));
    });
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
        let parts =
            Parts { policies: Some(policies), users: Some(users), mailboxes, ..Parts::default() };
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
            sts_refresh_tokens_valid_from: None,
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
