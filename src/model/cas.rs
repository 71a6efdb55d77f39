//! `Get-EXOCasMailbox` / `Get-CASMailbox` rows: the per-mailbox protocol switches.
//!
//! `SmtpClientAuthenticationDisabled` has three states (Set-CASMailbox): True
//! disables SMTP AUTH for the mailbox, False enables it whatever the tenant says,
//! blank inherits `Get-TransportConfig`. Get-EXOCasMailbox leaves the column out
//! unless asked with `-Properties`; an absent column is kept as
//! [`Setting::NotExported`], never read as "inherit" (the trap PS365 documents).

use std::sync::Arc;

use super::{IdColumns, Ids, Mapped, Setting, map_rows_into};
use crate::input::{Records, Source};

/// One mailbox's client access settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasMailbox {
    /// Identity columns.
    pub ids: Ids,
    /// `PopEnabled`.
    pub pop_enabled: Setting,
    /// `ImapEnabled`.
    pub imap_enabled: Setting,
    /// `SmtpClientAuthenticationDisabled`.
    pub smtp_client_auth_disabled: Setting,
    /// `RecipientTypeDetails`, when the export has it (Get-CASMailbox does not by default).
    pub recipient_type_details: Option<super::Text>,
    /// Where the row came from.
    pub source: Source,
}

/// Maps mailbox rows; a row with no identity at all is rejected.
pub fn map(file: &Arc<str>, table: &mut dyn Records) -> Mapped<CasMailbox> {
    let mut rows = Vec::new();
    let _ = rows.try_reserve(table.size_hint());
    let mut out = map_into(file, table, &mut |row| rows.push(row));
    out.rows = rows;
    out
}

/// [`map`], handing each row to `keep` instead of collecting them.
pub fn map_into(
    file: &Arc<str>,
    table: &mut dyn Records,
    keep: &mut dyn FnMut(CasMailbox),
) -> Mapped<CasMailbox> {
    let c = |n: &str| table.column(n);
    let id_columns = IdColumns::new(table, "PrimarySmtpAddress");
    let (pop, imap, smtp_auth, rtd) = (
        c("PopEnabled"),
        c("ImapEnabled"),
        c("SmtpClientAuthenticationDisabled"),
        c("RecipientTypeDetails"),
    );
    map_rows_into(
        file,
        table,
        |row| {
            let ids = id_columns.read(row)?;
            if ids.key_is_empty() {
                return Err("the mailbox has no Guid, ExternalDirectoryObjectId, PrimarySmtpAddress or Identity".into());
            }
            Ok(CasMailbox {
                ids,
                pop_enabled: row.setting(pop)?,
                imap_enabled: row.setting(imap)?,
                smtp_client_auth_disabled: row.setting(smtp_auth)?,
                recipient_type_details: row.str(rtd)?.map(super::intern),
                source: row.source,
            })
        },
        keep,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::csv;

    #[test]
    fn absent_smtp_column_is_not_exported_and_blank_is_null() {
        let file: Arc<str> = Arc::from("CasMailbox.csv");
        let mut without =
            csv::parse(&file, "Guid,PopEnabled,ImapEnabled\nA1,True,False\n", b',').unwrap();
        let m = map(&file, &mut without.table);
        assert_eq!(m.rows[0].smtp_client_auth_disabled, Setting::NotExported);
        assert_eq!(m.rows[0].ids.guid().as_deref(), Some("A1")); // kept as exported
        let mut with = csv::parse(
            &file,
            "Guid,PopEnabled,ImapEnabled,SmtpClientAuthenticationDisabled\nA1,True,False,\n",
            b',',
        )
        .unwrap();
        assert_eq!(map(&file, &mut with.table).rows[0].smtp_client_auth_disabled, Setting::Null);
    }

    #[test]
    fn type_name_in_a_read_column_is_rejected() {
        let file: Arc<str> = Arc::from("CasMailbox.csv");
        let mut p = csv::parse(&file, "Guid,PrimarySmtpAddress,PopEnabled,ImapEnabled\nA1,System.Collections.ArrayList,True,True\n", b',')
            .unwrap();
        let m = map(&file, &mut p.table);
        assert!(m.rows.is_empty());
        assert!(m.rejected[0].reason.contains("type name"), "{}", m.rejected[0].reason);
    }

    #[test]
    fn identity_columns_too_long_to_be_real_reject_the_row() {
        let file: Arc<str> = Arc::from("CasMailbox.csv");
        let huge = "x".repeat(70_000);
        let text = format!(
            "Guid,DisplayName,PopEnabled,ImapEnabled\nA1,{huge},True,True\nA2,b,True,True\n"
        );
        let mut p = csv::parse(&file, &text, b',').unwrap();
        let m = map(&file, &mut p.table);
        assert_eq!(m.rows.len(), 1);
        assert_eq!(m.rows[0].ids.guid().as_deref(), Some("A2"));
        assert_eq!(m.rejected[0].source.line, 2);
        assert!(m.rejected[0].reason.contains("70002 bytes"), "{}", m.rejected[0].reason);
    }
}
