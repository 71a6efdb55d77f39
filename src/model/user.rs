//! `Get-User` rows: the per-user authentication policy assignment, the recipient
//! type that decides scope, and whether the account can sign in at all.
//!
//! `AuthenticationPolicy` reads back as the policy's Identity (its name in
//! Exchange Online) or blank; older sessions and filters use the DN, so both are
//! accepted (research/domain.md §2.5).

use std::sync::Arc;

use super::{IdColumns, Ids, Mapped, Setting, map_rows};
use crate::input::{Records, Source};

/// One user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Identity columns.
    pub ids: Ids,
    /// `AuthenticationPolicy`: assigned policy name, DN or GUID; `None` when
    /// unassigned. Shared: a tenant has a handful of policies and a million users.
    pub authentication_policy: Option<super::Text>,
    /// `RecipientTypeDetails` (`UserMailbox`, `SharedMailbox`, ...).
    pub recipient_type_details: Option<super::Text>,
    /// `AccountDisabled`.
    pub account_disabled: Setting,
    /// Where the row came from.
    pub source: Source,
}

/// Maps user rows; a row with no identity at all is rejected.
pub fn map(file: &Arc<str>, table: &mut dyn Records) -> Mapped<User> {
    let c = |n: &str| table.column(n);
    let id_columns = IdColumns::new(table, "WindowsEmailAddress");
    let (policy, rtd, disabled) =
        (c("AuthenticationPolicy"), c("RecipientTypeDetails"), c("AccountDisabled"));
    map_rows(file, table, |row| {
        let ids = id_columns.read(row)?;
        if ![Ids::GUID, Ids::EXTERNAL_DIRECTORY_OBJECT_ID, Ids::USER_PRINCIPAL_NAME]
            .into_iter()
            .any(|i| ids.has(i))
        {
            return Err(
                "the user has no Guid, ExternalDirectoryObjectId or UserPrincipalName to join on"
                    .into(),
            );
        }
        Ok(User {
            ids,
            authentication_policy: row.str(policy)?.map(super::intern),
            recipient_type_details: row.str(rtd)?.map(super::intern),
            account_disabled: row.setting(disabled)?,
            source: row.source,
        })
    })
}
