//! `exoauth audit TENANTS_DIR --fleet`: a folder of export folders, one per
//! tenant (named by its folder), audited side by side into one roll-up.
//!
//! A tenant whose folder cannot be read is a row with its error; it never stops
//! the others. Sign-in logs and an `Exceptions.csv` register inside a tenant's
//! folder count for that tenant.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::audit::{self, Options};
use crate::emit::report::Report;
use crate::emit::report::groups::groups;
use crate::load::{self, Forms};
use crate::progress::Silent;

/// How many root causes a tenant's row names.
pub const TOP_CAUSES: usize = 3;

/// One tenant's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSummary {
    /// Mailbox rows.
    pub mailboxes: usize,
    /// Mailboxes in scope.
    pub in_scope: usize,
    /// Mailboxes flagged.
    pub flagged: usize,
    /// Mailboxes excepted by the tenant's register (`Exceptions.csv` in its folder).
    pub excepted: usize,
    /// Input rows rejected.
    pub rejected: usize,
    /// Warnings about the input.
    pub warnings: usize,
    /// Mailboxes whose configuration does not block basic SMTP AUTH (allowed or
    /// unknown), when SMTP was audited.
    pub smtp_open: Option<usize>,
    /// Mailboxes in use with basic SMTP AUTH, when the folder held sign-in logs.
    pub smtp_in_use: Option<usize>,
    /// The largest root causes: what blocks, and how many flagged mailboxes.
    pub root_causes: Vec<(String, usize)>,
}

/// One tenant of the fleet.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The folder's name.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// Its figures, or why it could not be audited.
    pub result: Result<TenantSummary, String>,
}

/// The fleet: every tenant, in folder-name order.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// The folder of tenants.
    pub dir: PathBuf,
    /// The options every tenant was audited with.
    pub options: Options,
    /// One per tenant folder.
    pub tenants: Vec<Tenant>,
}

/// Sums over the tenants that were audited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Tenants audited.
    pub audited: usize,
    /// Tenants that could not be.
    pub failed: usize,
    /// Mailbox rows.
    pub mailboxes: usize,
    /// In scope.
    pub in_scope: usize,
    /// Flagged.
    pub flagged: usize,
    /// Excepted.
    pub excepted: usize,
    /// Rejected rows.
    pub rejected: usize,
    /// SMTP AUTH not blocked, over the tenants that audited SMTP.
    pub smtp_open: usize,
    /// In use with basic SMTP AUTH, over the tenants with evidence.
    pub smtp_in_use: usize,
    /// Tenants with sign-in evidence.
    pub with_evidence: usize,
}

impl Fleet {
    /// The sums.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for tenant in &self.tenants {
            match &tenant.result {
                Err(_) => t.failed += 1,
                Ok(s) => {
                    t.audited += 1;
                    t.mailboxes += s.mailboxes;
                    t.in_scope += s.in_scope;
                    t.flagged += s.flagged;
                    t.excepted += s.excepted;
                    t.rejected += s.rejected;
                    t.smtp_open += s.smtp_open.unwrap_or(0);
                    if let Some(n) = s.smtp_in_use {
                        t.smtp_in_use += n;
                        t.with_evidence += 1;
                    }
                }
            }
        }
        t
    }
}

/// The tenant folders in `dir` (its subfolders), sorted by name. Hidden
/// folders (`.git`) and `skip` (the folder the reports go to, when it is
/// inside) are not tenants.
pub fn tenant_dirs(dir: &Path, skip: Option<&Path>) -> std::io::Result<Vec<(String, PathBuf)>> {
    let skip = skip.and_then(|s| std::fs::canonicalize(s).ok());
    Ok(load::sorted_entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .filter(|p| skip.is_none() || std::fs::canonicalize(p).ok() != skip)
        .map(|p| (p.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned()), p))
        .filter(|(name, _)| !name.starts_with('.'))
        .collect())
}

/// Audits every tenant folder of `dir` side by side (not `reports`, the folder
/// the reports go to). `each` is called with every audited tenant's name and
/// report (to write its own reports); its error becomes the tenant's.
pub fn audit(
    dir: &Path,
    options: &Options,
    forms: &Forms,
    reports: Option<&Path>,
    each: &(dyn Fn(&str, &Report<'_>) -> std::io::Result<()> + Sync),
) -> std::io::Result<Fleet> {
    let tenants = tenant_dirs(dir, reports)?
        .into_par_iter()
        .map(|(name, path)| {
            let result = audit_one(&name, &path, options, forms, each);
            Tenant { name, dir: path, result }
        })
        .collect();
    Ok(Fleet { dir: dir.to_owned(), options: options.clone(), tenants })
}

fn audit_one(
    name: &str,
    dir: &Path,
    options: &Options,
    forms: &Forms,
    each: &(dyn Fn(&str, &Report<'_>) -> std::io::Result<()> + Sync),
) -> Result<TenantSummary, String> {
    let mut loaded =
        load::load_with_forms(dir, options.environment, forms, load::Digests::Made, &Silent)
            .map_err(|e| e.to_string())?;
    if let Some(register) = loaded.register.clone() {
        load::add_exceptions(&mut loaded, &register)
            .map_err(|e| format!("cannot read the exceptions register: {e}"))?;
    }
    load::add_evidence(&mut loaded, &[], None, load::Digests::Made, &Silent)
        .map_err(|e| e.to_string())?;
    let audit = audit::audit(&loaded.snapshot, options);
    let report = Report { dir, options, loaded: &loaded, audit: &audit, plan: None };
    each(name, &report).map_err(|e| format!("cannot write its report: {e}"))?;
    let sum = &audit.summary;
    let smtp = crate::model::Protocol::Smtp;
    let smtp_open = sum.by_protocol[smtp].map(|c| c.allowed + c.unknown);
    let smtp_in_use = sum.readiness[smtp].map(|r| r.in_use);
    let root_causes =
        groups(&report).groups.iter().take(TOP_CAUSES).map(|g| (g.label(), g.count)).collect();
    Ok(TenantSummary {
        mailboxes: sum.mailboxes,
        in_scope: sum.in_scope,
        flagged: sum.flagged,
        excepted: sum.excepted,
        rejected: loaded.rejected.len(),
        warnings: loaded.warnings.len(),
        smtp_open,
        smtp_in_use,
        root_causes,
    })
}
