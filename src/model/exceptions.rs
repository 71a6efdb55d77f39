//! The exceptions register (DESIGN.md §2, Readiness): mailboxes that may keep
//! basic auth on some protocols until a date, with who decided and why.
//!
//! A CSV with the columns `Identity,Protocols,Until,Owner,Reason`: Identity is a
//! UPN, SMTP address, object id or Guid (any case); Protocols is `pop`, `imap`,
//! `smtp` separated by `,` or `;`, or `all`; Until is `YYYY-MM-DD`, inclusive.
//! In the block direction a mailbox whose not-blocked protocols are all covered
//! by exceptions that have not expired is *excepted*: not flagged, not planned.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::snapshot::IdentityIndex;
use super::{PerProtocol, Protocol};
use crate::input::tokenize::{Ends, Record, Tokenizer};
use crate::input::{Rejection, Source, Warning};

/// One row of the register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// The identity as written.
    pub identity: String,
    /// The protocols it covers.
    pub protocols: PerProtocol<bool>,
    /// The last day it covers.
    pub until: time::Date,
    /// Who owns the decision.
    pub owner: String,
    /// Why.
    pub reason: String,
    /// Its row.
    pub source: Source,
    /// The mailbox it names, if any.
    pub mailbox: Option<u32>,
}

impl Exception {
    /// True once `as_of` is past `until`.
    pub fn expired(&self, as_of: time::Date) -> bool {
        as_of > self.until
    }

    /// The protocols covered, in report order.
    pub fn protocol_list(&self) -> impl Iterator<Item = Protocol> + '_ {
        Protocol::ALL.into_iter().filter(|&p| self.protocols[p])
    }

    /// `YYYY-MM-DD`.
    pub fn until_text(&self) -> String {
        format_date(self.until)
    }
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The register, joined to the mailboxes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exceptions {
    /// Every readable row, in file order.
    pub rows: Vec<Exception>,
    by_mailbox: FxHashMap<u32, Vec<u32>>,
}

impl Exceptions {
    /// Joins the rows to the mailboxes; a row that names no mailbox is a warning.
    pub fn join(
        mut rows: Vec<Exception>,
        index: &IdentityIndex<'_>,
        warnings: &mut Vec<Warning>,
    ) -> Exceptions {
        let mut by_mailbox: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        for (k, row) in rows.iter_mut().enumerate() {
            row.mailbox = index.find(&row.identity);
            match row.mailbox {
                Some(i) => by_mailbox.entry(i).or_default().push(k as u32),
                None => warnings.push(Warning {
                    code: "exception-unmatched",
                    source: Some(row.source),
                    // The renderers put the source in front of the message.
                    message: format!(
                        "the exception for {:?} names no mailbox in the export (or one that two mailboxes share); check the identity (UPN, SMTP address, object id or Guid)",
                        row.identity
                    ),
                }),
            }
        }
        Exceptions { rows, by_mailbox }
    }

    /// The exceptions naming mailbox `i`.
    pub fn of(&self, i: usize) -> impl Iterator<Item = &Exception> + '_ {
        u32::try_from(i)
            .ok()
            .and_then(|i| self.by_mailbox.get(&i))
            .into_iter()
            .flatten()
            .map(|&k| &self.rows[k as usize])
    }

    /// The unexpired exceptions of mailbox `i` that together cover every protocol
    /// in `needed` (positions in `rows`), or `None` when they do not.
    pub fn covering(&self, i: usize, needed: &[Protocol], as_of: time::Date) -> Option<Vec<u32>> {
        let ids = self.by_mailbox.get(&u32::try_from(i).ok()?)?;
        let mut used = Vec::new();
        for &p in needed {
            let k = ids.iter().copied().find(|&k| {
                let e = &self.rows[k as usize];
                e.protocols[p] && !e.expired(as_of)
            })?;
            if !used.contains(&k) {
                used.push(k);
            }
        }
        Some(used)
    }
}

/// Reads the register's text; unreadable rows are rejections naming the line.
pub fn parse(file: &Arc<str>, text: &str) -> Result<(Vec<Exception>, Vec<Rejection>), String> {
    // Records end at `\n` only, so that line numbers stay right after CRLF (see
    // `evidence::csv`); cells are trimmed, which drops the `\r`.
    let bytes = text.as_bytes();
    let tokenizer = Tokenizer::new(b',', Ends::Lf);
    let mut record = Record::new();
    let (headers, mut at): (Vec<String>, usize) = match tokenizer.read(bytes, 0, &mut record) {
        Some(head) => {
            let f = record.over_text(text);
            (f.texts().map(str::to_owned).collect(), head.end)
        }
        None => (Vec::new(), bytes.len()),
    };
    let col = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let cols = ["Identity", "Protocols", "Until", "Owner", "Reason"].map(col);
    let missing: Vec<&str> = ["Identity", "Protocols", "Until", "Owner", "Reason"]
        .into_iter()
        .zip(cols)
        .filter(|(_, c)| c.is_none())
        .map(|(n, _)| n)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{file}: an exceptions register needs the columns Identity,Protocols,Until,Owner,Reason; missing: {}",
            missing.join(", ")
        ));
    }
    let [identity, protocols, until, owner, reason] = cols.map(|c| c.unwrap_or(0));
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    // Lines counted as the records go, from where the last count stopped.
    let (mut line, mut counted_to) = (1, 0);
    while let Some(span) = tokenizer.read(bytes, at, &mut record) {
        at = span.end;
        line += crate::input::csv::memchr_count(&bytes[counted_to..span.start]);
        counted_to = span.start;
        let record = record.over_text(text);
        let cell = |c: usize| record.get(c).unwrap_or("").trim();
        if (0..record.len()).all(|c| cell(c).is_empty()) {
            continue;
        }
        let source = Source { file: crate::model::Text::new(file), line };
        let row = (|| {
            let id = cell(identity);
            if id.is_empty() {
                return Err(
                    "Identity is blank; give a UPN, SMTP address, object id or Guid".to_string()
                );
            }
            let protocols = parse_protocols(cell(protocols))?;
            let until = time::Date::parse(
                cell(until),
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .map_err(|_| format!("Until {:?} is not a date as YYYY-MM-DD", cell(until)))?;
            Ok(Exception {
                identity: id.to_owned(),
                protocols,
                until,
                owner: cell(owner).to_owned(),
                reason: cell(reason).to_owned(),
                source,
                mailbox: None,
            })
        })();
        match row {
            Ok(row) => rows.push(row),
            Err(reason) => rejected.push(Rejection { source, reason }),
        }
    }
    Ok((rows, rejected))
}

/// `pop;imap`, `smtp`, `all`, any case, `,` or `;` separated.
fn parse_protocols(cell: &str) -> Result<PerProtocol<bool>, String> {
    let mut out = PerProtocol([false; 3]);
    if cell.trim().eq_ignore_ascii_case("all") {
        return Ok(PerProtocol([true; 3]));
    }
    for part in cell.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
        let p = Protocol::parse(part).ok_or_else(|| {
            format!("Protocols names {part:?}; use pop, imap, smtp (separated by , or ;) or all")
        })?;
        out[p] = true;
    }
    if out.0 == [false; 3] {
        return Err("Protocols is blank; use pop, imap, smtp or all".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Vec<Exception>, Vec<Rejection>) {
        parse(&Arc::from("exceptions.csv"), text).expect("header")
    }

    #[test]
    fn rows_read_with_their_lines_and_bad_rows_are_rejected() {
        let (rows, rejected) = read(
            "Identity,Protocols,Until,Owner,Reason\n\
             a@contoso.com,\"pop;IMAP\",2027-01-31,Ops,scanner\n\
             b@contoso.com,all,2026-12-31,Ops,legacy app\n\
             c@contoso.com,ews,2026-12-31,Ops,x\n\
             d@contoso.com,smtp,31/12/2026,Ops,x\n\
             ,smtp,2026-12-31,Ops,x\n",
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].protocol_list().collect::<Vec<_>>(), [Protocol::Pop, Protocol::Imap]);
        assert_eq!(rows[1].protocols.0, [true; 3]);
        assert_eq!(rows[1].source.line, 3);
        let lines: Vec<usize> = rejected.iter().map(|r| r.source.line).collect();
        assert_eq!(lines, [4, 5, 6]);
        assert!(rejected[0].reason.contains("\"ews\""), "{}", rejected[0].reason);
        assert!(rejected[1].reason.contains("YYYY-MM-DD"));
        assert!(rejected[2].reason.contains("Identity is blank"));
    }

    #[test]
    fn until_is_inclusive() {
        let (rows, _) = read("Identity,Protocols,Until,Owner,Reason\na@x,smtp,2026-12-31,o,r\n");
        let d = |s| {
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).unwrap()
        };
        assert!(!rows[0].expired(d("2026-12-31")));
        assert!(rows[0].expired(d("2027-01-01")));
    }

    #[test]
    fn a_register_without_its_columns_is_an_error_naming_them() {
        let e = parse(&Arc::from("x.csv"), "Identity,Until\n").unwrap_err();
        assert!(e.contains("missing: Protocols, Owner, Reason"), "{e}");
    }
}
