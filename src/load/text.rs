//! From bytes to text: decoding (with the encoding it guessed), and setting
//! aside pasted wrapping.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use super::LoadError;
use crate::decode::{self, Encoding};
use crate::input::{self, Warning};

/// The file name shown in messages.
pub(super) fn display_name(path: &Path) -> Arc<str> {
    Arc::from(
        path.file_name()
            .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()),
    )
}

/// Applies a text step to a decoded text, keeping it borrowed when it was and
/// moving it (never copying) when the step changes nothing.
pub(super) fn then<'b>(
    text: Cow<'b, str>,
    step: impl for<'x> FnOnce(&'x str) -> Cow<'x, str>,
) -> Cow<'b, str> {
    match text {
        Cow::Borrowed(t) => step(t),
        Cow::Owned(s) => {
            let changed = match step(&s) {
                Cow::Owned(o) => Some(o),
                Cow::Borrowed(_) => None,
            };
            Cow::Owned(changed.unwrap_or(s))
        }
    }
}

/// Decodes a file, with a warning when its encoding was guessed, and refuses an
/// empty one.
pub(super) fn decode_file<'b>(
    file: &Arc<str>,
    bytes: &'b [u8],
    warnings: &mut Vec<Warning>,
) -> Result<(Cow<'b, str>, Encoding), LoadError> {
    let (text, encoding) =
        decode::decode(bytes).map_err(|error| LoadError::Decode { file: file.clone(), error })?;
    if text.trim().is_empty() {
        return Err(LoadError::Empty { file: file.clone() });
    }
    warnings.extend(guessed(file, encoding));
    Ok((text, encoding))
}

/// The warning for a file whose encoding was guessed, if it was.
pub(super) fn guessed(file: &str, encoding: Encoding) -> Option<Warning> {
    encoding.is_guess().then(|| Warning {
        code: "encoding-guessed",
        source: None,
        message: format!(
            "{file}: not UTF-8 and without a byte-order mark, so read as Windows-1252 (the ANSI code page Excel's \"CSV (Comma delimited)\" and Windows PowerShell 5.1's Set-Content write); check names with accents, or save it again as \"CSV UTF-8\" or with `Export-Csv -Encoding UTF8`"
        ),
    })
}

/// Sets aside pasted wrapping (Markdown, indentation, banners, echoed commands,
/// prompts) with one warning naming the lines.
pub(super) fn clean_text<'b>(
    file: &Arc<str>,
    text: Cow<'b, str>,
    warnings: &mut Vec<Warning>,
) -> Cow<'b, str> {
    then(text, |t| {
        let cleaned = input::paste::clean(t);
        warnings.extend(set_aside(file, &cleaned));
        cleaned.text
    })
}

/// The warning naming what cleaning set aside, if anything.
pub(super) fn set_aside(file: &str, cleaned: &input::paste::Cleaned<'_>) -> Option<Warning> {
    cleaned.describe().map(|said| Warning {
        code: "set-aside",
        source: None,
        message: format!("{file}: {said}"),
    })
}
