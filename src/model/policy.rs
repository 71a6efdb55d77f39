//! `Get-AuthenticationPolicy` rows.
//!
//! Exchange Online policies carry `AllowBasicAuth<Protocol>` switches: False
//! blocks, and a policy created without switches has them all False
//! (New-AuthenticationPolicy: "By default, Basic authentication is blocked").
//! Exchange Server 2019 / SE policies carry `BlockLegacyAuth<Protocol>` instead:
//! True blocks, blank or False does not (default "None"), and no switch exists for
//! SMTP. Sources: research/domain.md §1.1.

use std::sync::Arc;

use super::{Environment, Mapped, PerProtocol, Protocol, Setting, map_rows, normalise_guid};
use crate::input::{Records, Source};

/// The `AllowBasicAuth*` switches New-/Set-AuthenticationPolicy accept (Exchange
/// Online). `AllowBasicAuthRest` appears in output but cannot be set.
pub const SETTABLE_ONLINE: [&str; 12] = [
    "AllowBasicAuthActiveSync",
    "AllowBasicAuthAutodiscover",
    "AllowBasicAuthImap",
    "AllowBasicAuthMapi",
    "AllowBasicAuthOfflineAddressBook",
    "AllowBasicAuthOutlookService",
    "AllowBasicAuthPop",
    "AllowBasicAuthPowershell",
    "AllowBasicAuthReportingWebServices",
    "AllowBasicAuthRpc",
    "AllowBasicAuthSmtp",
    "AllowBasicAuthWebServices",
];

/// The `BlockLegacyAuth*` and `BlockModernAuth*` switches of Exchange Server 2019 / SE.
pub const SETTABLE_ONPREM: [&str; 16] = [
    "BlockLegacyAuthActiveSync",
    "BlockLegacyAuthAutodiscover",
    "BlockLegacyAuthImap",
    "BlockLegacyAuthMapi",
    "BlockLegacyAuthOfflineAddressBook",
    "BlockLegacyAuthPop",
    "BlockLegacyAuthRpc",
    "BlockLegacyAuthWebServices",
    "BlockModernAuthActiveSync",
    "BlockModernAuthAutodiscover",
    "BlockModernAuthImap",
    "BlockModernAuthMapi",
    "BlockModernAuthOfflineAddressBook",
    "BlockModernAuthPop",
    "BlockModernAuthRpc",
    "BlockModernAuthWebServices",
];

/// The settable switches of an environment.
pub fn settable(environment: Environment) -> &'static [&'static str] {
    match environment {
        Environment::Online => &SETTABLE_ONLINE,
        Environment::OnPrem => &SETTABLE_ONPREM,
    }
}

/// One authentication policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPolicy {
    /// `Name` (or `Identity` when only that was exported).
    pub name: String,
    /// `Guid`, lowercase, when exported.
    pub guid: Option<String>,
    /// `DistinguishedName`, when exported.
    pub distinguished_name: Option<String>,
    /// The protocol switch per protocol: `AllowBasicAuth*` online, `BlockLegacyAuth*`
    /// on premises (`NotExported` for SMTP there: no such switch). The same values
    /// as the matching entries of `all_switches`, indexed by protocol because the
    /// audit reads them for every mailbox.
    pub switches: PerProtocol<Setting>,
    /// Every settable switch of the environment as exported, in [`settable`] order,
    /// so that a copy of the policy can be made that differs only where intended.
    pub all_switches: Vec<(&'static str, Setting)>,
    /// Which environment's switches these are.
    pub environment: Environment,
    /// Where the row came from.
    pub source: Source,
}

impl AuthPolicy {
    /// The switch name for a protocol in this policy's environment.
    pub fn switch_name(&self, p: Protocol) -> String {
        match self.environment {
            Environment::Online => format!("AllowBasicAuth{}", p.policy_suffix()),
            Environment::OnPrem => format!("BlockLegacyAuth{}", p.policy_suffix()),
        }
    }
}

/// Maps policy rows. Rows with no name are rejected.
pub fn map(
    file: &Arc<str>,
    table: &mut dyn Records,
    environment: Environment,
) -> Mapped<AuthPolicy> {
    let name = table.column("Name");
    let identity = table.column("Identity");
    let guid = table.column("Guid");
    let dn = table.column("DistinguishedName");
    let prefix = match environment {
        Environment::Online => "AllowBasicAuth",
        Environment::OnPrem => "BlockLegacyAuth",
    };
    let switch_cols = Protocol::ALL.map(|p| match (environment, p) {
        (Environment::OnPrem, Protocol::Smtp) => None,
        _ => table.column(&format!("{prefix}{}", p.policy_suffix())),
    });
    let all_cols: Vec<(&'static str, Option<usize>)> =
        settable(environment).iter().map(|n| (*n, table.column(n))).collect();
    map_rows(file, table, |row| {
        let name = match row.text(name)? {
            Some(n) => n,
            None => row.text(identity)?.ok_or("the policy has no Name or Identity")?,
        };
        let mut switches = PerProtocol([Setting::NotExported; 3]);
        for p in Protocol::ALL {
            switches[p] = row.setting(switch_cols[p as usize])?;
        }
        let all_switches = all_cols
            .iter()
            .map(|(n, c)| Ok((*n, row.setting(*c)?)))
            .collect::<Result<_, String>>()?;
        Ok(AuthPolicy {
            name,
            guid: row.text(guid)?.map(|g| normalise_guid(&g)),
            distinguished_name: row.text(dn)?,
            switches,
            all_switches,
            environment,
            source: row.source,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::csv;

    #[test]
    fn maps_online_and_rejects_bad_switch() {
        let text = "Name,AllowBasicAuthPop,AllowBasicAuthImap,AllowBasicAuthSmtp,Guid\nBlock,False,False,False,{ABC}\nSmtp,False,False,True,\nBad,Ture,False,False,\n";
        let file: Arc<str> = Arc::from("AuthenticationPolicy.csv");
        let mut parsed = csv::parse(&file, text, b',').unwrap();
        let m = map(&file, &mut parsed.table, Environment::Online);
        assert_eq!(m.rows.len(), 2);
        assert_eq!(
            m.rows[1].switches,
            PerProtocol([Setting::Value(false), Setting::Value(false), Setting::Value(true)])
        );
        assert_eq!(m.rows[0].guid.as_deref(), Some("abc"));
        assert_eq!(m.rejected[0].source.line, 4);
        assert_eq!(
            m.rejected[0].reason,
            "AllowBasicAuthPop (column 2): expected True or False, found \"Ture\""
        );
    }

    #[test]
    fn onprem_has_no_smtp_switch() {
        let text = "Name,BlockLegacyAuthPop,BlockLegacyAuthImap\nLegacy,True,\n";
        let file: Arc<str> = Arc::from("p");
        let mut parsed = csv::parse(&file, text, b',').unwrap();
        let m = map(&file, &mut parsed.table, Environment::OnPrem);
        assert_eq!(
            m.rows[0].switches,
            PerProtocol([Setting::Value(true), Setting::Null, Setting::NotExported])
        );
        assert_eq!(m.rows[0].switch_name(Protocol::Pop), "BlockLegacyAuthPop");
    }
}
