//! Single-object tenant settings: `Get-OrganizationConfig`, `Get-TransportConfig`
//! and the Entra security-defaults policy.
//!
//! Each file must hold exactly one object; extra rows are rejected (a second
//! tenant's export pasted into the same file would otherwise decide silently).

use std::sync::Arc;

use super::{Mapped, Setting, map_rows};
use crate::input::{Records, Rejection, Source};

/// `Get-OrganizationConfig`: the org-wide default authentication policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgConfig {
    /// `DefaultAuthenticationPolicy`: a policy name, DN or GUID; `None` when unset.
    pub default_policy: Option<String>,
    /// Where the row came from.
    pub source: Source,
}

/// `Get-TransportConfig`: the tenant-wide SMTP AUTH switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// `SmtpClientAuthenticationDisabled` (True: SMTP AUTH off for mailboxes that inherit).
    pub smtp_client_auth_disabled: Setting,
    /// Where the row came from.
    pub source: Source,
}

/// `Get-MgPolicyIdentitySecurityDefaultEnforcementPolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityDefaults {
    /// `IsEnabled`: security defaults block every legacy-auth request.
    pub is_enabled: Setting,
    /// Where the row came from.
    pub source: Source,
}

/// Maps the organisation config.
pub fn map_org(file: &Arc<str>, table: &mut dyn Records) -> Mapped<OrgConfig> {
    let col = table.column("DefaultAuthenticationPolicy");
    single(map_rows(file, table, |row| {
        Ok(OrgConfig { default_policy: row.text(col)?, source: row.source })
    }))
}

/// Maps the transport config.
pub fn map_transport(file: &Arc<str>, table: &mut dyn Records) -> Mapped<TransportConfig> {
    let col = table.column("SmtpClientAuthenticationDisabled");
    single(map_rows(file, table, |row| {
        Ok(TransportConfig { smtp_client_auth_disabled: row.setting(col)?, source: row.source })
    }))
}

/// Maps the security-defaults policy.
pub fn map_security_defaults(file: &Arc<str>, table: &mut dyn Records) -> Mapped<SecurityDefaults> {
    let col = table.column("IsEnabled");
    single(map_rows(file, table, |row| {
        Ok(SecurityDefaults { is_enabled: row.setting(col)?, source: row.source })
    }))
}

/// Keeps the first row; later rows become rejections.
fn single<T: HasSource>(mut m: Mapped<T>) -> Mapped<T> {
    if m.rows.len() > 1 {
        let first = *m.rows[0].source();
        for extra in m.rows.drain(1..) {
            m.rejected.push(Rejection {
                source: *extra.source(),
                reason: format!(
                    "a second object in a single-object export; only the one at {first} is used"
                ),
            });
        }
    }
    m
}

trait HasSource {
    fn source(&self) -> &Source;
}

macro_rules! has_source {
    ($($t:ty),*) => { $(impl HasSource for $t { fn source(&self) -> &Source { &self.source } })* };
}
has_source!(OrgConfig, TransportConfig, SecurityDefaults);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::csv;

    #[test]
    fn second_object_is_rejected() {
        let file: Arc<str> = Arc::from("OrganizationConfig.csv");
        let mut parsed =
            csv::parse(&file, "DefaultAuthenticationPolicy\nBlock\nOther\n", b',').unwrap();
        let m = map_org(&file, &mut parsed.table);
        assert_eq!(m.rows.len(), 1);
        assert_eq!(m.rows[0].default_policy.as_deref(), Some("Block"));
        assert_eq!(m.rejected[0].source.line, 3);
    }

    #[test]
    fn blank_default_is_none() {
        let file: Arc<str> = Arc::from("o");
        let mut parsed =
            csv::parse(&file, "\"DefaultAuthenticationPolicy\",\"Name\"\r\n,\"contoso\"\r\n", b',')
                .unwrap();
        assert_eq!(map_org(&file, &mut parsed.table).rows[0].default_policy, None);
    }
}
