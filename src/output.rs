//! Where output goes. Colour is decided here and only here: the text report is
//! coloured when it goes to standard output, that is a terminal, and `NO_COLOR`
//! is unset or empty (no-color.org) and `TERM` is not `dumb`. Files and pipes
//! never get an escape, and a file is written whole or not at all.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;

use exoauth::progress::Progress;

use crate::term;

/// Streams into a sibling `.NAME.partial` file and renames it into place, so a
/// reader never sees half a file and a failed run leaves an older file intact.
pub fn write_atomically<E>(
    path: &Path,
    write: impl FnOnce(&mut io::BufWriter<std::fs::File>) -> Result<(), E>,
) -> anyhow::Result<()>
where
    E: From<io::Error> + std::error::Error + Send + Sync + 'static,
{
    let name = path.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let partial = path.with_file_name(format!(".{name}.partial"));
    let result = (|| -> Result<(), E> {
        let mut w = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&partial)?);
        write(&mut w)?;
        w.flush()?;
        drop(w);
        Ok(std::fs::rename(&partial, path)?)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// The file to write, or `None` for standard output (no `-o`, or `-o -`).
pub fn file(output: Option<&Path>) -> Option<&Path> {
    output.filter(|p| p.as_os_str() != "-")
}

/// Writes a rendered document to the file (streamed and renamed into place,
/// reporting lines to `progress`), or to standard output (through anstream when
/// coloured, which also makes ANSI work on older Windows consoles).
pub fn write(
    file: Option<&Path>,
    color: bool,
    progress: &dyn Progress,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> anyhow::Result<()> {
    match file {
        Some(path) => write_atomically(path, |w| {
            if !progress.shown() {
                return render(w);
            }
            let mut counting = term::Counting { inner: w, progress };
            render(&mut counting)
        })?,
        None => {
            let stdout = io::stdout().lock();
            let sink: Box<dyn Write> = if color {
                Box::new(anstream::AutoStream::always(stdout))
            } else {
                Box::new(stdout)
            };
            let mut out = io::BufWriter::new(sink);
            render(&mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Colour only on a terminal, never with `NO_COLOR` set to a non-empty value
/// (no-color.org) and never for `TERM=dumb`.
pub fn use_color(is_terminal: bool, no_color: Option<&OsStr>, term: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty) && term != Some(OsStr::new("dumb"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        let s = |v: &'static str| Some(OsStr::new(v));
        for (terminal, no_color, term, want) in [
            (true, None, s("xterm-256color"), true),
            (true, None, None, true),
            (true, s(""), s("xterm"), true), // empty NO_COLOR does not count
            (true, s("1"), s("xterm"), false),
            (true, s("0"), s("xterm"), false), // any non-empty value disables
            (true, None, s("dumb"), false),
            (false, None, s("xterm"), false), // a pipe or a file
        ] {
            assert_eq!(
                use_color(terminal, no_color, term),
                want,
                "{terminal} {no_color:?} {term:?}"
            );
        }
    }

    #[test]
    fn dash_means_standard_output() {
        assert_eq!(file(Some(Path::new("-"))), None);
        assert_eq!(file(None), None);
        assert_eq!(file(Some(Path::new("r.json"))), Some(Path::new("r.json")));
    }
}
