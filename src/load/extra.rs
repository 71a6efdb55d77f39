//! What joins the loaded export: sign-in evidence and the exceptions register.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Digests, LoadError, Loaded};
use crate::decode::{self};
use crate::model::{self};
use crate::progress::Progress;

/// Reads sign-in evidence (`--sign-ins` paths, files or folders, plus the sign-in
/// logs found in the export folder) and joins it to the snapshot's mailboxes,
/// hashing each file when `digests` says so; unreadable events become rejected
/// rows, data-quality notes warnings.
pub fn add_evidence(
    loaded: &mut Loaded,
    paths: &[PathBuf],
    since: Option<time::Date>,
    digests: Digests,
    progress: &dyn Progress,
) -> Result<(), crate::evidence::EvidenceError> {
    let mut files = loaded.sign_ins.clone();
    for p in paths {
        files.extend(crate::evidence::expand(p, &mut loaded.warnings)?);
    }
    if files.is_empty() {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    let evidence = crate::evidence::read(&files, &loaded.snapshot, since, digests, progress)?;
    loaded.rejected.extend(evidence.rejected);
    loaded.warnings.extend(evidence.warnings);
    loaded.snapshot.usage = Some(evidence.usage);
    Ok(())
}

/// Reads the exceptions register (`--exceptions FILE`) and joins it to the
/// snapshot's mailboxes; malformed rows become rejected rows.
pub fn add_exceptions(loaded: &mut Loaded, path: &Path) -> Result<(), LoadError> {
    let bytes =
        std::fs::read(path).map_err(|error| LoadError::Io { path: path.to_owned(), error })?;
    let file: Arc<str> = Arc::from(path.display().to_string());
    let (text, _) =
        decode::decode(&bytes).map_err(|error| LoadError::Decode { file: file.clone(), error })?;
    let (rows, rejected) = model::exceptions::parse(&file, &text).map_err(LoadError::Register)?;
    loaded.rejected.extend(rejected);
    let exceptions = {
        let index = loaded.snapshot.identity_index();
        model::exceptions::Exceptions::join(rows, &index, &mut loaded.warnings)
    };
    loaded.snapshot.exceptions = Some(exceptions);
    Ok(())
}
