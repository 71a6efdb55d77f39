//! A transcript read from its file a part at a time ([`stream_transcript`]),
//! as [`whole_transcript`](super::whole_transcript) reads it whole.

use std::path::Path;
use std::sync::{Arc, PoisonError};

use rayon::prelude::*;

use super::{TranscriptPart, held, ignored, none_recognised, read_part};
use crate::decode::Encoding;
use crate::input::console_stream::{ConsoleFile, Window};
use crate::input::lines::{BLOCK, encoded_len, read_lines};
use crate::input::paste::Kind;
use crate::input::stream::{Digests, Stamp};
use crate::input::transcript::Class;
use crate::input::{self, Cells, Form, Records, Warning, transcript};
use crate::load::LoadError;
use crate::load::file::{Mapped, Outcome, outcome};
use crate::load::streamed::{Again, Watch, Watcher, map_console, unchanged};
use crate::load::text::{display_name, guessed, set_aside};
use crate::load::whole::map_parsed;
use crate::model::Environment;
use crate::model::columns::Cmdlet;
use crate::progress::Progress;

/// Reads a transcript from its file as [`whole_transcript`] reads it whole,
/// without holding its text: a first pass splits it into parts (and checks
/// that the whole-file reader would read its text as it is, but for its
/// prompts and banners), then each part of a megabyte or more that is plain
/// Format-List or Format-Table output of one cmdlet is read as a stream, a
/// stretch of the file ([`ConsoleFile::open_window`]), its mailboxes read
/// again by blocks; such a part that is no cmdlet's is read as a stream for
/// its columns only ([`skim`]); any other part is read whole. `None` when the
/// transcript is to be read whole after all: its text is not what the
/// whole-file decoder reads, it needs cleaning, a cmdlet's output is in more
/// than one part, or a streamed Format-List part holds objects of more than
/// one cmdlet (or a single one).
pub(in crate::load) fn stream_transcript(
    path: &Path,
    environment: Environment,
    digests: Digests,
    progress: &dyn Progress,
    outcomes: &[Outcome],
) -> Result<Option<Read<Outcome>>, LoadError> {
    let io = |error| LoadError::Io { path: path.to_owned(), error };
    let before = Stamp::of_path(path).map_err(io)?;
    let (read, sha256) = rayon::join(
        || read_streamed(path, environment, progress, outcomes),
        || digests.of_file(path),
    );
    let Some(Read { warnings, parts }) = read? else { return Ok(None) };
    let sha256 = sha256.map_err(io)?;
    // The hash is of what was parsed only if the file stayed as it was.
    unchanged(before, path)?;
    let parts = parts
        .into_iter()
        .map(|(cmdlet, mapped)| outcome(cmdlet, path, sha256.clone(), mapped))
        .collect::<Result<_, _>>()?;
    Ok(Some(Read { warnings, parts }))
}

/// What a transcript read as a stream gave: its own warnings, then its parts.
pub(in crate::load) struct Read<T> {
    pub(in crate::load) warnings: Vec<Warning>,
    pub(in crate::load) parts: Vec<T>,
}

/// The first pass over a transcript: its parts, and whether the whole-file
/// reader would read its text as it is (nothing set aside but its prompts
/// and banners, which are blank to the parts).
#[derive(Default)]
struct Survey {
    splitter: transcript::Splitter,
    /// The last line's checks, until the splitter knows its kind: whether
    /// cleaning might touch it as data, whether it would claim it as noise,
    /// whether it is blank or indented.
    last: Option<LineChecks>,
    /// A line cleaning would set aside or change.
    touched: bool,
    /// Data lines, whether one has no indentation, and how many end with
    /// `<br>` (cleaning strips it when all do).
    data: usize,
    unindented: bool,
    br: usize,
    /// Where the last line ends in the file, and whether a line break ends it.
    end: u64,
    ended: bool,
    /// How many lines.
    lines: usize,
}

/// What cleaning might make of a line, whatever the lines around it.
#[derive(Clone, Copy)]
struct LineChecks {
    blank: bool,
    /// The quick per-line test says cleaning may touch it as data.
    needs: bool,
    /// Cleaning would set it aside or change it as something other than a
    /// prompt or banner.
    claims: bool,
    br: bool,
    indented: bool,
}

impl Survey {
    /// Takes a block of whole lines at offset `at` in the file, read in
    /// `encoding` (each line's offset is the file's).
    fn block(&mut self, text: &str, at: u64, encoding: Encoding) -> bool {
        let mut offset = at as usize;
        let line_break = encoded_len("\n", encoding) as usize;
        for (raw, unended) in crate::input::lines::split(text) {
            let len = match encoding {
                Encoding::Utf8 | Encoding::Utf8Bom => raw.len(),
                _ => encoded_len(raw, encoding) as usize,
            };
            let end = offset + len + if unended { 0 } else { line_break };
            self.line(raw, offset..end);
            offset = end;
        }
        self.end = at + encoded_len(text, encoding);
        self.ended = text.ends_with('\n');
        !self.touched
    }

    fn line(&mut self, raw: &str, at: std::ops::Range<usize>) {
        self.lines += 1;
        let taken = self.splitter.push(raw, at);
        self.take(taken);
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        // (The splitter has asked, of the line with its `\r`: the same.)
        let blank = self.splitter.last_is_blank();
        let indented = line.starts_with([' ', '\t']);
        // Of a data line that is not indented, the quick test catches all
        // that cleaning claims but a `#>`: ask only where it may not.
        let claims = !blank
            && (indented || line.starts_with('#') || self.splitter.last_may_be_noise())
            && input::paste::claims_line(line);
        self.last = Some(LineChecks {
            blank,
            needs: !blank && input::paste::line_may_need(line),
            claims,
            // (Asked only while every data line so far ends with `<br>`.)
            br: self.br == self.data && input::paste::ends_with_br(line),
            indented,
        });
    }

    fn take(&mut self, taken: Option<(usize, bool)>) {
        let (Some((_, noise)), Some(checks)) = (taken, self.last.take()) else { return };
        match noise {
            true => self.touched |= checks.claims,
            false if checks.blank => {}
            false => {
                self.touched |= checks.needs || checks.claims;
                self.data += 1;
                self.br += usize::from(checks.br);
                self.unindented |= !checks.indented;
            }
        }
    }

    /// Ends the file: its parts and the lines set aside as prompts or
    /// banners; `None` when cleaning would do more (or there is no data).
    fn finish(mut self) -> Option<(Vec<transcript::Part>, Vec<usize>)> {
        // `str::split` ends a text that ends with a line break with an empty line.
        if self.ended {
            let end = self.end as usize;
            self.line("", end..end);
        }
        let (parts, noise) = std::mem::take(&mut self.splitter).finish();
        let last = self.lines;
        self.take(Some((last, noise.last() == Some(&last))));
        let as_it_is = !self.touched && self.data > 0 && self.unindented && self.br < self.data;
        as_it_is.then_some((parts, noise))
    }
}

/// A part of a transcript as [`read_streamed`] reads it.
enum Item<'p> {
    /// Read whole.
    Whole(TranscriptPart),
    /// To be read as a stream, as the output of `cmdlet` (its columns say so).
    Streamed { cmdlet: Cmdlet, console: Box<ConsoleFile<'p>> },
}

impl Item<'_> {
    fn cmdlet(&self) -> Option<Cmdlet> {
        match self {
            Item::Whole(part) => part.cmdlet,
            Item::Streamed { cmdlet, .. } => Some(*cmdlet),
        }
    }
}

/// What [`stream_transcript`] reads: its warnings, and each cmdlet's rows;
/// `None` when the transcript is to be read whole.
fn read_streamed(
    path: &Path,
    environment: Environment,
    progress: &dyn Progress,
    outcomes: &[Outcome],
) -> Result<Option<Read<(Cmdlet, Mapped)>>, LoadError> {
    let io = |error| LoadError::Io { path: path.to_owned(), error };
    let file = display_name(path);
    let Some(first) = first_pass(path, &file, progress)? else { return Ok(None) };
    let FirstPass { encoding, len, parts, noise, consoles } = first;
    // What cleaning the text would have said: its prompts and banners set aside.
    // (Decoding says first what it guessed of the encoding.)
    let aside = if noise.is_empty() { Vec::new() } else { vec![(Kind::Prompt, noise)] };
    let cleaned = input::paste::Cleaned { text: "".into(), aside, indent: None };
    let mut warnings: Vec<Warning> = guessed(&file, encoding).into_iter().collect();
    warnings.extend(set_aside(&file, &cleaned));
    let mut items = Vec::new();
    let mut streamed_bytes = 0;
    for (part, console) in parts.iter().zip(consoles) {
        if let Some(console) = console {
            let columns = console.columns();
            let has = |n: &str| columns.iter().any(|c| c.eq_ignore_ascii_case(n));
            match Cmdlet::recognise(environment, has) {
                Some(cmdlet) => {
                    streamed_bytes += part.bytes.len() as u64;
                    items.push(Item::Streamed { cmdlet, console: Box::new(console) });
                    continue;
                }
                // (A `Get-Mailbox | fl` of every mailbox, say.)
                None => {
                    if let Some(ignored) = skim(part, console, environment).map_err(io)? {
                        streamed_bytes += part.bytes.len() as u64;
                        items.push(Item::Whole(ignored));
                        continue;
                    }
                }
            }
        }
        let own = read_window(path, window(part, encoding)).map_err(io)?;
        let mut read = Vec::new();
        read_part(&file, part, &part.text_of(&own), environment, &mut warnings, &mut read);
        items.extend(read.into_iter().map(Item::Whole));
    }
    let recognised = items.iter().filter(|i| i.cmdlet().is_some()).count();
    let mut found: Vec<(Cmdlet, Item<'_>)> = Vec::new();
    for item in items {
        let Some(cmdlet) = item.cmdlet() else {
            if let Item::Whole(part) = &item
                && recognised > 0
            {
                warnings.push(ignored(&file, part, environment));
            }
            continue;
        };
        // A cmdlet's output in several parts: the whole-file reader merges them.
        if found.iter().any(|(c, _)| *c == cmdlet) {
            return Ok(None);
        }
        found.push((cmdlet, item));
    }
    if found.is_empty() {
        warnings.push(none_recognised(path));
    }
    let (mut mapped, mut streamed) = (Vec::new(), Vec::new());
    for (cmdlet, item) in found {
        if let Some(held) = held(outcomes, &file, cmdlet) {
            warnings.push(held);
            continue;
        }
        match item {
            Item::Whole(part) => {
                let why = format!("{}: a part of the transcript", part.form.title());
                let (parsed, form) = (part.parsed, part.form);
                let m = map_parsed(cmdlet, environment, &file, parsed, form, why, encoding)?;
                mapped.push((cmdlet, m));
            }
            Item::Streamed { console, .. } => streamed.push((cmdlet, *console)),
        }
    }
    // The streamed parts side by side (the users' and the mailboxes').
    let streamed: Vec<Option<(Cmdlet, Mapped)>> = streamed
        .into_par_iter()
        .map(|(cmdlet, console)| {
            let part = stream_part(cmdlet, environment, &file, path, console, encoding)?;
            Ok(part.map(|m| (cmdlet, m)))
        })
        .collect::<Result<_, LoadError>>()?;
    for part in streamed {
        let Some(part) = part else { return Ok(None) };
        mapped.push(part);
    }
    // The parts read whole and what lies between the parts.
    progress.advance(len.saturating_sub(streamed_bytes));
    Ok(Some(Read { warnings, parts: mapped }))
}

/// What the first pass over a transcript found: its encoding and length, its
/// parts, the lines set aside as prompts and banners, and each large part of
/// plain console output surveyed ([`ConsoleFile::open_window`]; `None` for
/// the others).
struct FirstPass<'p> {
    encoding: Encoding,
    len: u64,
    parts: Vec<transcript::Part>,
    noise: Vec<usize>,
    consoles: Vec<Option<ConsoleFile<'p>>>,
}

/// The first pass over a transcript ([`Survey`]), each large part surveyed
/// as soon as the pass has closed it, on the other core while the pass reads
/// on (the last ones once it ends); `None` when the transcript is to be read
/// whole.
fn first_pass<'p>(
    path: &Path,
    file: &Arc<str>,
    progress: &'p dyn Progress,
) -> Result<Option<FirstPass<'p>>, LoadError> {
    let io = |error| LoadError::Io { path: path.to_owned(), error };
    let mut survey = Survey::default();
    let input = std::fs::File::open(path).map_err(io)?;
    let len = input.metadata().map_err(io)?.len();
    let (surveyed, mut spawned) = (std::sync::Mutex::new(Vec::new()), 0);
    let read = rayon::scope(|scope| {
        let each = &mut |text: &str, _, at, encoding| {
            let go = survey.block(text, at, encoding);
            for (k, part) in survey.splitter.parts().iter().enumerate().skip(spawned) {
                spawned = k + 1;
                let Some(form) = streamable(part) else { continue };
                // (A file that gives way to Windows-1252 is ASCII before it:
                // a part closed then reads the same in either.)
                let window = window(part, encoding);
                let surveyed = &surveyed;
                scope.spawn(move |_| {
                    let console = ConsoleFile::open_window(file, path, form, progress, window);
                    surveyed.lock().unwrap_or_else(PoisonError::into_inner).push((k, console));
                });
            }
            go
        };
        read_lines(input, BLOCK, each)
    });
    let Some(encoding) = read.map_err(io)? else { return Ok(None) };
    let Some((parts, noise)) = survey.finish() else { return Ok(None) };
    let last: Vec<_> = parts
        .iter()
        .enumerate()
        .skip(spawned)
        .filter_map(|(k, part)| streamable(part).map(|form| (k, part, form)))
        .collect();
    let rest: Vec<_> = last
        .into_par_iter()
        .map(|(k, part, form)| {
            (k, ConsoleFile::open_window(file, path, form, progress, window(part, encoding)))
        })
        .collect();
    let mut surveyed = surveyed.into_inner().unwrap_or_else(PoisonError::into_inner);
    surveyed.extend(rest);
    let mut consoles: Vec<Option<ConsoleFile<'p>>> = parts.iter().map(|_| None).collect();
    for (k, console) in surveyed {
        consoles[k] = console.map_err(io)?;
    }
    Ok(Some(FirstPass { encoding, len, parts, noise, consoles }))
}

/// Reads a large part whose columns name no cmdlet as a stream, for what the
/// whole-file reader makes of it: a part that matches no export, with its
/// columns (for the warning that says so) and no rows. `None` when the
/// whole-file reader would make more of it (a single object, a column only a
/// rejected object has): it is read whole. (No object can be some cmdlet's:
/// the part's columns, which hold every object's, would then name one.)
fn skim(
    part: &transcript::Part,
    mut console: ConsoleFile<'_>,
    environment: Environment,
) -> std::io::Result<Option<TranscriptPart>> {
    let form = console.form();
    let columns = console.columns().to_vec();
    let mut objects = Objects::new(None, environment, columns.clone());
    console.each(&mut |line, cells| objects.record(line, cells));
    if console.finish()?.is_none() {
        return Ok(None);
    }
    let line = match form {
        // Object by object: one run of objects, none any cmdlet's, from the first.
        Form::List if objects.all_of_one() => objects.first.unwrap_or(part.line),
        Form::List => return Ok(None),
        _ => part.line,
    };
    let parsed =
        input::Parsed { table: input::Table { columns, rows: Vec::new() }, ..Default::default() };
    Ok(Some(TranscriptPart { line, command: part.command.clone(), cmdlet: None, form, parsed }))
}

/// The form a part is streamed in: Format-List or Format-Table output of a
/// megabyte or more (smaller parts are read whole).
fn streamable(part: &transcript::Part) -> Option<Form> {
    let form = match part.class {
        Class::List => Form::List,
        Class::Table => Form::Table,
        Class::Other => return None,
    };
    (part.bytes.len() >= BLOCK).then_some(form)
}

/// A part's stretch of the transcript, in `encoding`.
fn window(part: &transcript::Part, encoding: Encoding) -> Window {
    let (at, len) = (part.bytes.start as u64, part.bytes.len() as u64);
    Window { at, len, line: part.line, encoding }
}

/// The text of a stretch of a file, decoded as its first read decoded it.
fn read_window(path: &Path, window: Window) -> std::io::Result<String> {
    use std::io::{Read as _, Seek as _};
    let mut input = std::fs::File::open(path)?;
    input.seek(std::io::SeekFrom::Start(window.at))?;
    let mut bytes = Vec::with_capacity(window.len as usize);
    input.take(window.len).read_to_end(&mut bytes)?;
    match crate::decode::stretch(&bytes, window.encoding) {
        Some(text) => Ok(text.into_owned()),
        None => Err(std::io::Error::other("the file changed while it was read")),
    }
}

/// Reads a transcript's part (`console`, surveyed) as a stream into the rows
/// of `cmdlet`; `None` when the whole-file reader would read it otherwise: a
/// Format-List part is read object by object, so it must hold more than one
/// object, each recognised as `cmdlet`'s, and no column only a rejected
/// object has.
fn stream_part(
    cmdlet: Cmdlet,
    environment: Environment,
    file: &Arc<str>,
    path: &Path,
    console: ConsoleFile<'_>,
    encoding: Encoding,
) -> Result<Option<Mapped>, LoadError> {
    let io = |error| LoadError::Io { path: path.to_owned(), error };
    let again = Again::open(path).map_err(io)?;
    let form = console.form();
    let mut objects = Objects::new(Some(cmdlet), environment, console.columns().to_vec());
    let mut each = |line, cells: Cells<'_>| objects.record(line, cells);
    // (The whole-file reader keeps the warnings about a Format-List part's
    // rows: the reader warns about no other, so all of them.)
    let list = form == Form::List;
    let mut watch = Watch { each: list.then_some(&mut each as &mut Watcher<'_>) };
    let Some(mut mapped) = map_console(cmdlet, environment, file, again, console, &mut watch)?
    else {
        return Ok(None);
    };
    if list && !objects.all_of_one() {
        return Ok(None);
    }
    mapped.why = format!("{}: a part of the transcript (read as a stream)", form.title());
    mapped.encoding = encoding;
    // The transcript says once what was guessed of its encoding, not each part.
    mapped.warnings.retain(|w| w.code != "encoding-guessed");
    Ok(Some(mapped))
}

/// The objects of a Format-List part, each recognised by the properties it
/// has, as the whole-file reader recognises them.
struct Objects {
    /// The cmdlet each must be recognised as (`None`: none).
    cmdlet: Option<Cmdlet>,
    environment: Environment,
    columns: Vec<String>,
    records: usize,
    /// The first object's line.
    first: Option<usize>,
    /// An object recognised otherwise.
    other: bool,
    /// The columns some object has.
    had: Vec<bool>,
    /// The sets of properties seen, and whether each is recognised as `cmdlet`.
    seen: Vec<(Vec<bool>, bool)>,
    has: Vec<bool>,
}

impl Objects {
    fn new(cmdlet: Option<Cmdlet>, environment: Environment, columns: Vec<String>) -> Objects {
        let had = vec![false; columns.len()];
        let (seen, has) = (Vec::new(), Vec::new());
        Objects {
            cmdlet,
            environment,
            columns,
            records: 0,
            first: None,
            other: false,
            had,
            seen,
            has,
        }
    }

    fn record(&mut self, line: usize, cells: Cells<'_>) {
        let Cells::Owned(values) = cells else {
            self.other = true;
            return;
        };
        self.records += 1;
        self.first.get_or_insert(line);
        self.has.clear();
        self.has.extend(values.iter().map(Option::is_some));
        for (had, has) in self.had.iter_mut().zip(&self.has) {
            *had |= *has;
        }
        let ours = match self.seen.iter().find(|(has, _)| *has == self.has) {
            Some(&(_, ours)) => ours,
            None => {
                let (columns, has) = (&self.columns, &self.has);
                let present =
                    |n: &str| columns.iter().zip(has).any(|(c, &h)| h && c.eq_ignore_ascii_case(n));
                let ours = Cmdlet::recognise(self.environment, present) == self.cmdlet;
                // (A few sets in any real output; past that, recognised each time.)
                if self.seen.len() < 64 {
                    self.seen.push((self.has.clone(), ours));
                }
                ours
            }
        };
        self.other |= !ours;
    }

    /// Whether the whole-file reader reads the part as one run of objects, all
    /// recognised as `cmdlet`.
    fn all_of_one(&self) -> bool {
        self.records > 1 && !self.other && self.had.iter().all(|&h| h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first pass over a transcript reads it as it is only when cleaning
    /// would set aside nothing but its prompts and banners: here on lines of
    /// every kind cleaning sets aside, indented or not, among output.
    #[test]
    fn the_first_pass_streams_only_what_cleaning_leaves_as_it_is() {
        use proptest::prelude::*;
        let line = prop::sample::select(vec![
            "PS C:\\> Get-User | fl",
            "**********************",
            "Windows PowerShell transcript start",
            ">> -ResultSize Unlimited",
            "Name       : Alex",
            "PopEnabled : True",
            "",
            "   ",
            "  ```",
            "```",
            "  #>",
            "  Get-EXOCasMailbox | fl",
            "> Get-User",
            "WARNING: the module is old",
            "  WARNING: indented",
            "Name : x<br>",
            "Name : y<br>  ",
            "  ----------------------------------------------------",
            "The Exchange Online PowerShell module is here for you now",
            "    Name : indented",
            "\tName : tabbed",
        ]);
        proptest!(ProptestConfig::with_cases(3000), |(lines in prop::collection::vec(line, 1..12), cr in any::<bool>())| {
            let text = lines.join(if cr { "\r\n" } else { "\n" });
            let Some((parts, noise)) = surveyed(&text) else { return Ok(()) };
            let cleaned = input::paste::clean(&text);
            prop_assert_eq!(&*cleaned.text, text.as_str());
            prop_assert!(cleaned.indent.is_none());
            let aside: Vec<_> = cleaned.aside.iter().map(|(k, l)| (*k, l.clone())).collect();
            let want = if noise.is_empty() { vec![] } else { vec![(Kind::Prompt, noise)] };
            prop_assert_eq!(aside, want);
            prop_assert_eq!(parts, transcript::split(&text));
        });
        // Each kind cleaning sets aside, among prompts and output.
        for wrapped in [
            "  ```",
            "  #>",
            "  Get-EXOCasMailbox | fl",
            "  > Get-User",
            "WARNING: the module is old",
            "  ----------------------------------------------------",
        ] {
            let text = format!("PS C:\\> Get-User\nName : Alex\n{wrapped}\nName : Bo\n");
            assert!(surveyed(&text).is_none(), "{wrapped}");
            assert!(!input::paste::clean(&text).untouched(), "{wrapped}");
        }
        // `<br>` ends every data line (after it, white space): it is stripped.
        let text = "PS C:\\> Get-User\nName : Alex<br>  \nName : Bo<br> \n";
        assert!(surveyed(text).is_none());
        assert!(!input::paste::clean(text).untouched());
        assert!(surveyed("PS C:\\> Get-User\nName : Alex\n\nName : Bo\n").is_some());
        // Every data line indented (the prompts are not): the indentation goes.
        let text = "PS C:\\> Get-User\n  Name : Alex\n\tName : Bo\n";
        assert!(surveyed(text).is_none());
        assert!(!input::paste::clean(text).untouched());
    }

    /// What the first pass makes of a transcript's text, read as one block.
    fn surveyed(text: &str) -> Option<(Vec<transcript::Part>, Vec<usize>)> {
        let mut survey = Survey::default();
        survey.block(text, 0, Encoding::Utf8);
        survey.finish()
    }
}
