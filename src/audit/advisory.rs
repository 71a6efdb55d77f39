//! Service-level facts stated beside the tenant verdicts (DESIGN.md §2).
//!
//! Exchange Online began disabling basic auth for POP and IMAP on 2022-10-01 and
//! disabled it permanently in January 2023 (deprecation of basic authentication
//! in Exchange Online; MC424238). For SMTP AUTH, the 2026-01-27 update of MC786329
//! keeps basic auth unchanged through December 2026, then disables it by default
//! for existing tenants at the end of December 2026 (admins can re-enable it), with
//! a final removal date to be announced in the second half of 2027
//! (research/domain.md §1.4). None of this applies to Exchange Server.

use time::{Date, macros::date};

use crate::model::entra::CaState;
use crate::model::{Environment, Protocol, Snapshot};

use super::{Options, Want};

/// POP/IMAP basic auth was switched off for good in Exchange Online.
pub const POP_IMAP_RETIRED: Date = date!(2023 - 01 - 01);
/// Microsoft began disabling POP/IMAP basic auth.
pub const POP_IMAP_DISABLING_FROM: Date = date!(2022 - 10 - 01);
/// SMTP AUTH basic auth goes default-off for existing tenants (end of December 2026).
pub const SMTP_DEFAULT_OFF: Date = date!(2026 - 12 - 31);
/// How far ahead an upcoming date is announced.
pub const ANNOUNCE_DAYS: i64 = 90;

/// A top-level advisory: a service fact or a configuration note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisory {
    /// Stable code, e.g. `service-retired`.
    pub code: &'static str,
    /// The protocols it concerns (empty: the whole run).
    pub protocols: Vec<Protocol>,
    /// What it means for the reader.
    pub message: String,
}

/// The advisories for a run.
pub fn advisories(s: &Snapshot, o: &Options) -> Vec<Advisory> {
    let mut out = Vec::new();
    match o.environment {
        Environment::Online => online(o, &mut out),
        Environment::OnPrem => {
            if o.protocols.contains(&Protocol::Smtp) {
                out.push(Advisory {
                    code: "onprem-smtp-connectors",
                    protocols: vec![Protocol::Smtp],
                    message: "Exchange Server has no SMTP AUTH switch on policies or mailboxes; client SMTP AUTH is governed by receive connectors (Get-ReceiveConnector AuthMechanism), which exoauth does not read".into(),
                });
            }
        }
    }
    if o.environment == Environment::Online {
        entra(s, o, &mut out);
    }
    out
}

/// Entra exports that are missing, and report-only Conditional Access policies
/// that would block legacy authentication once enforced.
fn entra(s: &Snapshot, o: &Options, out: &mut Vec<Advisory>) {
    let missing: Vec<&str> = [
        (s.security_defaults.is_none(), "SecurityDefaults"),
        (s.conditional_access.is_none(), "ConditionalAccessPolicy"),
    ]
    .into_iter()
    .filter_map(|(missing, name)| missing.then_some(name))
    .collect();
    if !missing.is_empty() {
        out.push(Advisory {
            code: "entra-not-exported",
            protocols: o.protocols.clone(),
            message: format!(
                "no {} export: Entra can block basic auth outside Exchange, so an `allowed` verdict covers what was exported only",
                missing.join(" or ")
            ),
        });
    }
    let report_only: Vec<&str> = s
        .conditional_access
        .iter()
        .flatten()
        .filter(|p| p.state == CaState::ReportOnly && p.blocks_legacy_auth())
        .map(|p| p.name.as_str())
        .collect();
    if !report_only.is_empty() {
        out.push(Advisory {
            code: "conditional-access-report-only",
            protocols: o.protocols.clone(),
            message: format!(
                "report-only Conditional Access policies would block legacy authentication once enabled: {}",
                report_only.join(", ")
            ),
        });
    }
}

fn online(o: &Options, out: &mut Vec<Advisory>) {
    let pop_imap: Vec<Protocol> = o
        .protocols
        .iter()
        .copied()
        .filter(|p| matches!(p, Protocol::Pop | Protocol::Imap))
        .collect();
    let block = o.want == Want::Block;
    if !pop_imap.is_empty() {
        let names =
            pop_imap.iter().map(|p| p.as_str().to_uppercase()).collect::<Vec<_>>().join(" and ");
        let message = if o.as_of >= POP_IMAP_RETIRED {
            format!(
                "Exchange Online disabled basic authentication for {names} permanently in January 2023; no tenant setting can bring it back, so clients must use OAuth. The verdicts show the tenant configuration: what still decides OAuth access ({}), what Exchange Server honours, and what {}",
                if pop_imap.len() == 2 {
                    "PopEnabled/ImapEnabled"
                } else if pop_imap[0] == Protocol::Pop {
                    "PopEnabled"
                } else {
                    "ImapEnabled"
                },
                if block {
                    "hardening should still switch off"
                } else {
                    "an allow script can change, which will not restore basic auth"
                }
            )
        } else if o.as_of >= POP_IMAP_DISABLING_FROM {
            format!(
                "Microsoft is disabling basic authentication for {names} in Exchange Online tenant by tenant since 2022-10-01; it will be off for good from January 2023"
            )
        } else {
            format!(
                "Microsoft will begin disabling basic authentication for {names} in Exchange Online on 2022-10-01 and disable it permanently in January 2023"
            )
        };
        out.push(Advisory { code: "service-retired", protocols: pop_imap, message });
    }
    if o.protocols.contains(&Protocol::Smtp) {
        let days = (SMTP_DEFAULT_OFF - o.as_of).whole_days();
        let message = if days <= 0 {
            Some("since the end of December 2026 Exchange Online disables SMTP AUTH basic authentication by default for existing tenants (MC786329); admins can still re-enable it, and Microsoft will announce a final removal date in the second half of 2027. Plan OAuth (or High Volume Email / a connector relay) for every client that still needs it".to_string())
        } else if days <= ANNOUNCE_DAYS {
            Some(format!(
                "upcoming: at the end of December 2026 ({SMTP_DEFAULT_OFF}, in {days} days) Exchange Online disables SMTP AUTH basic authentication by default for existing tenants (MC786329); admins will still be able to re-enable it, and a final removal date follows in the second half of 2027"
            ))
        } else {
            None
        };
        if let Some(message) = message {
            out.push(Advisory {
                code: "service-default-off",
                protocols: vec![Protocol::Smtp],
                message,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Scope;

    fn run(as_of: Date, protocols: Vec<Protocol>, environment: Environment) -> Vec<Advisory> {
        let o = Options {
            want: Want::Allow,
            protocols,
            environment,
            as_of,
            scope: Scope::default(),
            include_in_use: false,
        };
        let s = Snapshot::default();
        advisories(&s, &o).into_iter().filter(|a| a.code.starts_with("service")).collect()
    }

    #[test]
    fn smtp_default_off_is_announced_90_days_ahead() {
        assert!(run(date!(2026 - 09 - 01), vec![Protocol::Smtp], Environment::Online).is_empty());
        let upcoming = run(date!(2026 - 11 - 25), vec![Protocol::Smtp], Environment::Online);
        assert_eq!(upcoming[0].code, "service-default-off");
        assert!(
            upcoming[0].message.starts_with("upcoming: ")
                && upcoming[0].message.contains("in 36 days")
        );
        let after = run(date!(2027 - 01 - 04), vec![Protocol::Smtp], Environment::Online);
        assert!(after[0].message.starts_with("since the end of December 2026"));
    }

    #[test]
    fn pop_imap_retired_only_for_selected_protocols_and_online() {
        let a = run(date!(2026 - 11 - 25), vec![Protocol::Imap], Environment::Online);
        assert_eq!(
            (a[0].code, a[0].protocols.as_slice()),
            ("service-retired", &[Protocol::Imap][..])
        );
        assert!(run(date!(2026 - 11 - 25), Protocol::ALL.to_vec(), Environment::OnPrem).is_empty());
        assert!(
            run(date!(2022 - 11 - 01), vec![Protocol::Pop], Environment::Online)[0]
                .message
                .contains("tenant by tenant")
        );
    }
}
