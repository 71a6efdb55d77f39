//! One file named after a cmdlet, from its bytes to its typed rows: what the
//! two ways of reading it share. A file is streamed from disk when it is plain
//! CSV, a `ConvertTo-Json` array or plain Format-List or Format-Table text
//! (`streamed.rs`), else decoded, cleaned, detected and parsed whole
//! (`whole.rs`).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{InputFile, LoadError};
use crate::decode::Encoding;
use crate::input::{Form, Records, Rejection, Warning};
use crate::model::columns::Cmdlet;
use crate::model::{
    self, AuthPolicy, CaPolicy, Environment, Mailboxes, OrgConfig, SecurityDefaults,
    TransportConfig, User, cas, entra, org, policy, user,
};

/// One file to load: which cmdlet it holds, its path as shown, its bytes.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The cmdlet, from the file stem; `None` for a transcript, whose parts are
    /// recognised by their columns.
    pub cmdlet: Option<Cmdlet>,
    /// The path as shown in reports.
    pub path: PathBuf,
    /// The raw bytes.
    pub bytes: Cow<'static, [u8]>,
}

/// One file's typed rows.
pub(super) enum Typed {
    Policies(Vec<AuthPolicy>),
    Org(Option<OrgConfig>),
    Transport(Option<TransportConfig>),
    SecurityDefaults(Option<SecurityDefaults>),
    ConditionalAccess(Vec<CaPolicy>),
    Users(Vec<User>),
    Mailboxes(Mailboxes),
}

/// What loading one file produced.
pub(super) struct Outcome {
    pub(super) input: InputFile,
    pub(super) typed: Typed,
    pub(super) rejected: Vec<Rejection>,
    pub(super) warnings: Vec<Warning>,
    /// How long reading the file took, when it was read on its own (not a
    /// transcript's part).
    pub(super) read_in: Option<std::time::Duration>,
}

/// Moves a mapping's rejections and warnings out; returns its rows and how many
/// records it saw (mapped or rejected).
pub(super) fn take<T>(
    m: model::Mapped<T>,
    rejected: &mut Vec<Rejection>,
    warnings: &mut Vec<Warning>,
) -> (Vec<T>, usize) {
    let n = m.rows.len() + m.rejected.len();
    rejected.extend(m.rejected);
    warnings.extend(m.warnings);
    (m.rows, n)
}

/// Maps records to the cmdlet's typed rows; returns them with the number of
/// records seen.
pub(super) fn map_typed(
    cmdlet: Cmdlet,
    environment: Environment,
    file: &Arc<str>,
    records: &mut dyn Records,
    rejected: &mut Vec<Rejection>,
    warnings: &mut Vec<Warning>,
) -> (Typed, usize) {
    fn one<T>((rows, n): (Vec<T>, usize)) -> (Option<T>, usize) {
        (rows.into_iter().next(), n)
    }
    match cmdlet {
        Cmdlet::AuthenticationPolicy => {
            let (rows, n) = take(policy::map(file, records, environment), rejected, warnings);
            (Typed::Policies(rows), n)
        }
        Cmdlet::OrganizationConfig => {
            let (row, n) = one(take(org::map_org(file, records), rejected, warnings));
            (Typed::Org(row), n)
        }
        Cmdlet::TransportConfig => {
            let (row, n) = one(take(org::map_transport(file, records), rejected, warnings));
            (Typed::Transport(row), n)
        }
        Cmdlet::SecurityDefaults => {
            let (row, n) = one(take(org::map_security_defaults(file, records), rejected, warnings));
            (Typed::SecurityDefaults(row), n)
        }
        Cmdlet::ConditionalAccessPolicy => {
            let (rows, n) = take(entra::map(file, records), rejected, warnings);
            (Typed::ConditionalAccess(rows), n)
        }
        Cmdlet::User => {
            let (rows, n) = take(user::map(file, records), rejected, warnings);
            (Typed::Users(rows), n)
        }
        Cmdlet::CasMailbox => {
            let (rows, n) = take(cas::map(file, records), rejected, warnings);
            (Typed::Mailboxes(rows.into()), n)
        }
    }
}

/// What decoding, parsing and mapping one file's text produced.
pub(super) struct Mapped {
    pub(super) typed: Typed,
    pub(super) rows: usize,
    pub(super) form: Form,
    pub(super) why: String,
    pub(super) encoding: Encoding,
    pub(super) rejected: Vec<Rejection>,
    pub(super) warnings: Vec<Warning>,
}

/// One file's outcome: what it is and what was made of it.
pub(super) fn outcome(
    cmdlet: Cmdlet,
    path: &Path,
    sha256: Option<String>,
    mapped: Mapped,
) -> Result<Outcome, LoadError> {
    let Mapped { typed, rows, form, why, encoding, rejected, warnings } = mapped;
    Ok(Outcome {
        input: InputFile { path: path.to_owned(), cmdlet, form, why, encoding, sha256, rows },
        typed,
        rejected,
        warnings,
        read_in: None,
    })
}
