//! Microsoft Entra Conditional Access policies (`Get-MgIdentityConditionalAccessPolicy
//! -All | ConvertTo-Json -Depth 10`), reduced to what decides whether a policy
//! blocks legacy authentication for a user.
//!
//! Facts (research/domain.md §1.3, Graph `conditionalAccessPolicy`): `state` is
//! `enabled`, `disabled` or `enabledForReportingButNotEnforced`; the client app
//! type `other` ("Other clients") covers POP, IMAP and SMTP AUTH, while
//! `exchangeActiveSync` covers only EAS; a `block` built-in grant control denies
//! access. Policies match users by object id (`includeUsers`, `excludeUsers`, or
//! `All`); group and role targeting cannot be resolved from this export, so it is
//! reported as unknown rather than guessed. Property names are matched ignoring
//! case, so PowerShell SDK (`Conditions`) and Graph REST (`conditions`) exports
//! both read.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Mapped, map_rows};
use crate::input::{Records, Source};

/// Exchange Online's application id.
pub const EXCHANGE_ONLINE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";

/// A policy's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaState {
    /// Enforced.
    Enabled,
    /// Report-only: evaluated and logged, not enforced.
    ReportOnly,
    /// Off.
    Disabled,
}

/// Whether a policy reaches a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// It applies.
    Applies,
    /// It does not.
    DoesNot,
    /// Cannot tell from the export, with the reason.
    Unknown(String),
}

/// One Conditional Access policy, reduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaPolicy {
    /// `displayName` (else `id`).
    pub name: String,
    /// `state`.
    pub state: CaState,
    /// Targets "Other clients" (`other` or `all` client app types).
    pub legacy_clients: bool,
    /// Grants with the `block` control.
    pub blocks: bool,
    /// Includes Exchange Online (`All`, `Office365` or its app id) and does not exclude it.
    pub covers_exchange: bool,
    /// `includeUsers` holds `All`.
    pub include_all_users: bool,
    /// `includeUsers` object ids, lowercase.
    pub include_users: HashSet<String>,
    /// `excludeUsers` object ids, lowercase.
    pub exclude_users: HashSet<String>,
    /// `includeGroups` / `includeRoles` are used.
    pub include_groups_or_roles: bool,
    /// `excludeGroups` / `excludeRoles` are used.
    pub exclude_groups_or_roles: bool,
    /// Conditions that make the block apply only sometimes (locations, platforms).
    pub conditional_on: Vec<&'static str>,
    /// Where the policy came from.
    pub source: Source,
}

impl CaPolicy {
    /// True when the policy, if it reaches a user, blocks legacy authentication.
    pub fn blocks_legacy_auth(&self) -> bool {
        self.legacy_clients && self.blocks && self.covers_exchange
    }

    /// Whether the policy reaches the user with this object id.
    pub fn reach(&self, object_id: Option<&str>) -> Reach {
        let id = object_id.map(str::to_lowercase);
        let listed = |set: &HashSet<String>| id.as_ref().is_some_and(|id| set.contains(id));
        if listed(&self.exclude_users) {
            return Reach::DoesNot;
        }
        let included = self.include_all_users || listed(&self.include_users);
        if !included {
            return if self.include_groups_or_roles {
                Reach::Unknown(
                    "included by group or role membership, which the export does not hold".into(),
                )
            } else {
                Reach::DoesNot
            };
        }
        if id.is_none() && !self.exclude_users.is_empty() {
            return Reach::Unknown(
                "the user's object id is not exported, so exclusions cannot be checked".into(),
            );
        }
        if self.exclude_groups_or_roles {
            return Reach::Unknown(
                "excludes groups or roles, whose membership the export does not hold".into(),
            );
        }
        if !self.conditional_on.is_empty() {
            return Reach::Unknown(format!(
                "applies only under {} conditions",
                self.conditional_on.join(" and ")
            ));
        }
        Reach::Applies
    }
}

/// Case-insensitive property lookup.
fn get<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

/// A nested object; a string here is a type name from too shallow a `-Depth`.
fn object<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, String> {
    match get(map, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(other) => Err(format!(
            "{path}.{key} is {other} instead of an object: ConvertTo-Json cut it at its default -Depth 2; re-export with `ConvertTo-Json -Depth 10`"
        )),
    }
}

/// The strings of an array property, lowercase.
fn strings(map: Option<&Map<String, Value>>, key: &str) -> Vec<String> {
    match map.and_then(|m| get(m, key)) {
        Some(Value::Array(items)) => {
            items.iter().filter_map(Value::as_str).map(str::to_lowercase).collect()
        }
        Some(Value::String(s)) if !s.is_empty() => {
            s.split_whitespace().map(str::to_lowercase).collect()
        }
        _ => Vec::new(),
    }
}

fn parse_cell(raw: Option<&str>, column: &str) -> Result<Map<String, Value>, String> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(Map::new()),
        Some(r) => match serde_json::from_str::<Value>(r) {
            Ok(Value::Object(o)) => Ok(o),
            _ => Err(format!(
                "{column} is {r:?} instead of an object: ConvertTo-Json cut it at its default -Depth 2; re-export with `ConvertTo-Json -Depth 10`"
            )),
        },
    }
}

/// Maps Conditional Access policy rows (from the JSON form).
pub fn map(file: &Arc<str>, table: &mut dyn Records) -> Mapped<CaPolicy> {
    let c = |n: &str| table.column(n);
    let (name, id, state, conditions, grant) =
        (c("DisplayName"), c("Id"), c("State"), c("Conditions"), c("GrantControls"));
    map_rows(file, table, |row| {
        let name = row.text(name)?.or(row.text(id)?).unwrap_or_else(|| "(unnamed)".into());
        let state = match row.text(state)?.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("enabled") => CaState::Enabled,
            Some("enabledforreportingbutnotenforced") => CaState::ReportOnly,
            Some("disabled") => CaState::Disabled,
            other => {
                return Err(format!(
                    "State: expected enabled, disabled or enabledForReportingButNotEnforced, found {other:?}"
                ));
            }
        };
        let conditions = parse_cell(row.raw(conditions), "Conditions")?;
        let grant = parse_cell(row.raw(grant), "GrantControls")?;
        let users = object(&conditions, "Users", "Conditions")?;
        let apps = object(&conditions, "Applications", "Conditions")?;
        let locations = object(&conditions, "Locations", "Conditions")?;
        let platforms = object(&conditions, "Platforms", "Conditions")?;
        let client_apps = strings(Some(&conditions), "ClientAppTypes");
        let include_apps = strings(apps, "IncludeApplications");
        let exclude_apps = strings(apps, "ExcludeApplications");
        let exchange =
            |list: &[String]| list.iter().any(|a| a == "office365" || a == EXCHANGE_ONLINE_APP_ID);
        let include_users = strings(users, "IncludeUsers");
        let mut conditional_on = Vec::new();
        let include_locations = strings(locations, "IncludeLocations");
        if !strings(locations, "ExcludeLocations").is_empty()
            || include_locations.iter().any(|l| l != "all")
        {
            conditional_on.push("location");
        }
        if !strings(platforms, "IncludePlatforms").is_empty()
            || !strings(platforms, "ExcludePlatforms").is_empty()
        {
            conditional_on.push("device platform");
        }
        Ok(CaPolicy {
            name,
            state,
            legacy_clients: client_apps.iter().any(|t| t == "other" || t == "all"),
            blocks: strings(Some(&grant), "BuiltInControls").iter().any(|g| g == "block"),
            covers_exchange: (include_apps.iter().any(|a| a == "all") || exchange(&include_apps))
                && !exchange(&exclude_apps),
            include_all_users: include_users.iter().any(|u| u == "all"),
            include_users: include_users.into_iter().filter(|u| u != "all").collect(),
            exclude_users: strings(users, "ExcludeUsers").into_iter().collect(),
            include_groups_or_roles: !strings(users, "IncludeGroups").is_empty()
                || !strings(users, "IncludeRoles").is_empty(),
            exclude_groups_or_roles: !strings(users, "ExcludeGroups").is_empty()
                || !strings(users, "ExcludeRoles").is_empty(),
            conditional_on,
            source: row.source,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::json;

    const EXPORT: &str = r#"[
  {
    "DisplayName": "Block legacy authentication",
    "Id": "a1",
    "State": "enabled",
    "Conditions": {
      "ClientAppTypes": ["exchangeActiveSync", "other"],
      "Applications": {"IncludeApplications": ["All"], "ExcludeApplications": []},
      "Users": {"IncludeUsers": ["All"], "ExcludeUsers": ["B2B0C0D0-0000-0000-0000-000000000001"], "IncludeGroups": [], "ExcludeGroups": [], "IncludeRoles": [], "ExcludeRoles": []}
    },
    "GrantControls": {"Operator": "OR", "BuiltInControls": ["block"]}
  },
  {
    "DisplayName": "Pilot: block legacy for finance",
    "State": "enabledForReportingButNotEnforced",
    "Conditions": {"ClientAppTypes": ["other"], "Applications": {"IncludeApplications": ["00000002-0000-0ff1-ce00-000000000000"]}, "Users": {"IncludeGroups": ["g-finance"]}},
    "GrantControls": {"BuiltInControls": ["block"]}
  },
  {
    "DisplayName": "Shallow",
    "State": "enabled",
    "Conditions": "Microsoft.Graph.PowerShell.Models.MicrosoftGraphConditionalAccessConditionSet",
    "GrantControls": "Microsoft.Graph.PowerShell.Models.MicrosoftGraphConditionalAccessGrantControls"
  }
]"#;

    fn policies() -> Mapped<CaPolicy> {
        let file: Arc<str> = Arc::from("ConditionalAccessPolicy.json");
        let mut parsed = json::parse(&file, EXPORT).unwrap();
        map(&file, &mut parsed.table)
    }

    #[test]
    fn block_legacy_policy_reaches_all_but_the_excluded() {
        let m = policies();
        let p = &m.rows[0];
        assert!(p.blocks_legacy_auth());
        assert_eq!(p.state, CaState::Enabled);
        assert_eq!(p.reach(Some("11111111-0000-0000-0000-000000000000")), Reach::Applies);
        assert_eq!(p.reach(Some("b2b0c0d0-0000-0000-0000-000000000001")), Reach::DoesNot);
        assert!(matches!(p.reach(None), Reach::Unknown(_)));
    }

    #[test]
    fn group_targeting_is_unknown_and_report_only_is_kept() {
        let m = policies();
        let p = &m.rows[1];
        assert_eq!(p.state, CaState::ReportOnly);
        assert!(p.blocks_legacy_auth());
        assert!(matches!(p.reach(Some("x")), Reach::Unknown(r) if r.contains("group or role")));
    }

    #[test]
    fn depth_truncated_export_is_rejected_with_the_fix() {
        let m = policies();
        assert_eq!(m.rejected.len(), 1);
        assert_eq!(m.rejected[0].source.line, 19); // the third object's `{`
        assert!(m.rejected[0].reason.contains("-Depth 10"), "{}", m.rejected[0].reason);
    }
}
