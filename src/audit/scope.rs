//! Which mailboxes an audit covers (DESIGN.md §2, Scope).
//!
//! By default every mailbox whose `RecipientTypeDetails` is `UserMailbox`;
//! `--all-recipient-types` widens that to shared, room, equipment and every other
//! mailbox; `--scope FILE` restricts it to the listed identities (UPN, SMTP
//! address, object id or Guid, one per line). A mailbox whose type cannot be told
//! (no user row and no type on the mailbox row) stays in scope, so that it is
//! reported rather than silently skipped.

use std::collections::HashSet;

use crate::model::{CasMailbox, Snapshot, Text, looks_like_guid, normalise_guid};

/// The audit's scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Identities to restrict to (lowercase; GUIDs normalised); `None` for all.
    pub identities: Option<HashSet<String>>,
    /// Include every recipient type, not only `UserMailbox`.
    pub all_recipient_types: bool,
}

/// Reads a scope list: one identity per line; blank lines and `#` comments are
/// skipped, as are a `UserPrincipalName`-style header and CSV quotes.
pub fn parse_list(text: &str) -> HashSet<String> {
    text.lines()
        .map(|l| l.trim().trim_matches('"').trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(normalise)
        .collect()
}

fn normalise(id: &str) -> String {
    if looks_like_guid(id) { normalise_guid(id) } else { id.to_lowercase() }
}

/// The recipient type of mailbox `i` (whose row is `mailbox`): from its user
/// row, else the mailbox row.
pub fn recipient_type(s: &Snapshot, i: usize, mailbox: &CasMailbox) -> Option<Text> {
    s.user_of(i).and_then(|u| u.recipient_type_details).or(mailbox.recipient_type_details)
}

impl Scope {
    /// True when mailbox `i` is audited.
    pub fn includes(&self, s: &Snapshot, i: usize, recipient_type: Option<&str>) -> bool {
        let type_ok = self.all_recipient_types
            || recipient_type.is_none_or(|t| t.eq_ignore_ascii_case("UserMailbox"));
        type_ok
            && self
                .identities
                .as_ref()
                .is_none_or(|set| identities_of(s, i).any(|id| set.contains(&id)))
    }

    /// Listed identities that match no mailbox (to warn about typos).
    pub fn unmatched(&self, s: &Snapshot) -> Vec<String> {
        let Some(set) = &self.identities else { return Vec::new() };
        let seen: HashSet<String> =
            (0..s.mailbox_count()).flat_map(|i| identities_of(s, i)).collect();
        let mut out: Vec<String> = set.iter().filter(|id| !seen.contains(*id)).cloned().collect();
        out.sort();
        out
    }
}

/// Every identifier of mailbox `i` and its user, normalised.
fn identities_of(s: &Snapshot, i: usize) -> impl Iterator<Item = String> {
    s.identities(i).into_iter().map(|id| normalise(&id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_skips_comments_and_normalises() {
        let set = parse_list(
            "# finance team\r\nAlex@Contoso.com\r\n\r\n{1B4E28BA-2FA1-11D2-883F-0016D3CCA427}\n\"b@contoso.com\"\n",
        );
        let mut v: Vec<_> = set.into_iter().collect();
        v.sort();
        assert_eq!(
            v,
            ["1b4e28ba-2fa1-11d2-883f-0016d3cca427", "alex@contoso.com", "b@contoso.com"]
        );
    }
}
