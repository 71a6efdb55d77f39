//! The export folder: which files hold which cmdlet's output, and which are
//! sign-in logs or transcripts.

use std::path::{Path, PathBuf};

use super::LoadError;
use crate::input::Warning;
use crate::model::columns::Cmdlet;

/// The paths in a folder, sorted (so that runs read files in the same order).
pub fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<PathBuf>>>()?;
    entries.sort();
    Ok(entries)
}

/// Files in `dir` that hold a known cmdlet's output (by stem), and transcripts
/// (`None`: any other `.txt` or `.log` file, whose parts are recognised by their
/// columns).
pub(super) fn find_files(
    dir: &Path,
    warnings: &mut Vec<Warning>,
    sign_ins: &mut Vec<PathBuf>,
    register: &mut Option<PathBuf>,
) -> Result<Vec<(Option<Cmdlet>, PathBuf)>, LoadError> {
    let io = |error| LoadError::Io { path: dir.to_owned(), error };
    let mut found: Vec<(Option<Cmdlet>, PathBuf)> = Vec::new();
    let entries = sorted_entries(dir).map_err(io)?;
    for path in entries.into_iter().filter(|p| p.is_file()) {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if !matches!(ext.as_str(), "csv" | "txt" | "json" | "log")
            || stem.eq_ignore_ascii_case("manifest")
        {
            continue;
        }
        match Cmdlet::from_stem(stem).filter(|_| ext != "log") {
            Some(cmdlet) => {
                if let Some((_, first)) = found.iter().find(|(c, _)| *c == Some(cmdlet)) {
                    return Err(LoadError::DuplicateStem {
                        cmdlet: cmdlet.stem(),
                        first: first.display().to_string(),
                        second: path.display().to_string(),
                    });
                }
                found.push((Some(cmdlet), path));
            }
            None if matches!(ext.as_str(), "txt" | "log") => found.push((None, path)),
            None if ext == "csv" && stem.eq_ignore_ascii_case("exceptions") => {
                *register = Some(path);
            }
            None if crate::evidence::looks_like_sign_ins(&path) => sign_ins.push(path),
            None => warnings.push(Warning {
                code: "unknown-file",
                source: None,
                message: format!(
                    "ignored {}: its name matches no export (expected AuthenticationPolicy, OrganizationConfig, TransportConfig, CasMailbox, User, SecurityDefaults, ConditionalAccessPolicy, or a transcript as .txt)",
                    path.display()
                ),
            }),
        }
    }
    found.sort_by_key(|(c, _)| *c);
    Ok(found)
}
