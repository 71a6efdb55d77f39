//! Console transcripts: several `Get-*` outputs pasted into one file, as a
//! PowerShell console or `Start-Transcript` shows them.
//!
//! ```text
//! **********************                                   <- Start-Transcript banner
//! Windows PowerShell transcript start
//! Start time: 20250123103908
//! **********************
//! Transcript started, output file is C:\temp\exo.txt
//! PS C:\> Get-OrganizationConfig | fl DefaultAuthenticationPolicy   <- a prompt line
//!
//! DefaultAuthenticationPolicy : Block Basic Auth
//!
//! [PS] C:\Windows\system32>Get-User | ft Guid,AuthenticationPolicy  <- Exchange Management Shell
//!
//! Guid                                 AuthenticationPolicy
//! ----                                 --------------------
//! ```
//!
//! With `Start-Transcript -IncludeInvocationHeader` (or the Group Policy
//! "Turn on PowerShell Transcription" with invocation headers), each command
//! is preceded by a banner of its own:
//!
//! ```text
//! **********************
//! Command start time: 20250123104015
//! **********************
//! PS C:\> Get-User | ft Guid,AuthenticationPolicy
//! ```
//!
//! Prompts: `PS C:\>`, `PS>`, `PS /home/admin>`, Exchange Management Shell's
//! `[PS] C:\Windows\system32>`, a remote session's `[server]: PS C:\>`, and `>> `
//! continuation lines. A transcript is split at prompts and banners, then at
//! blank lines where the form changes (a list after a table), into [`Part`]s; the
//! caller parses each part in its own form and recognises it by its columns.
//! Every part keeps the file's line numbers.

use std::borrow::Cow;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_till, take_while, take_while1};
use nom::character::complete::{char, satisfy, space0};
use nom::combinator::{opt, recognize, rest};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

use super::{detect, list, table};

/// One output in a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// 1-based line of the part's first non-blank line.
    pub line: usize,
    /// The command typed at the prompt before it, when there was one.
    pub command: Option<String>,
    /// Where its lines are in the transcript's text: from the start of its
    /// first line to the line break after its last (none after the file's
    /// last line).
    pub bytes: std::ops::Range<usize>,
    /// What its first paragraph looks like.
    pub class: Class,
}

impl Part {
    /// The transcript's text up to the part's end, with every line before the
    /// part blanked, so that line numbers stay the file's. Made when asked
    /// for, so that a transcript's parts are not all held at once.
    pub fn text(&self, transcript: &str) -> String {
        self.text_of(&transcript[self.bytes.clone()])
    }

    /// [`Part::text`], given the part's own text (its bytes of the transcript).
    pub fn text_of(&self, own: &str) -> String {
        let before = self.line - 1;
        let mut text = String::with_capacity(before + own.len());
        text.extend(std::iter::repeat_n('\n', before));
        text.push_str(own);
        text
    }
}

/// `[server]: ` — a remote session's prefix.
fn remote(i: &str) -> IResult<&str, &str> {
    delimited(char('['), take_till(|c| c == ']'), tag("]: ")).parse(i)
}

/// ` C:\Users\admin`, ` /home/admin`, ` ~`, ` Microsoft.PowerShell.Core\FileSystem::\\srv`
/// — the location shown in a prompt.
fn location(i: &str) -> IResult<&str, &str> {
    preceded(
        char(' '),
        recognize((
            alt((
                recognize((satisfy(|c| c.is_ascii_alphabetic()), char(':'))),
                tag("/"),
                tag("\\"),
                tag("~"),
                tag("Microsoft.PowerShell.Core\\"),
            )),
            take_till(|c| c == '>'),
        )),
    )
    .parse(i)
}

/// `PS C:\> command`, `PS> command`, `[PS] C:\Windows\system32>command`, with an
/// optional remote prefix: returns the command.
fn prompt(i: &str) -> IResult<&str, &str> {
    let (i, _) = opt(remote).parse(i)?;
    let (i, _) = alt((tag("PS"), tag("[PS]"))).parse(i)?;
    let (i, _) = opt(location).parse(i)?;
    let (i, _) = char('>').parse(i)?;
    let (i, _) = space0.parse(i)?;
    rest.parse(i).map(|(r, c): (&str, &str)| (r, c.trim_end()))
}

/// `>> more of the command` — a continuation prompt.
fn continuation_prompt(i: &str) -> IResult<&str, &str> {
    preceded(tag(">>"), rest).parse(i)
}

/// `**********************` — the rule around a Start-Transcript banner.
fn banner_rule(i: &str) -> IResult<&str, &str> {
    take_while1(|c| c == '*').parse(i).and_then(|(r, stars)| {
        let (r, _) = take_while(char::is_whitespace).parse(r)?;
        if stars.len() >= 10 && r.is_empty() {
            Ok((r, stars))
        } else {
            Err(nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify)))
        }
    })
}

/// True when the line is a PowerShell prompt with or without a command.
pub fn is_prompt(line: &str) -> bool {
    prompt(line.trim_end_matches('\r')).is_ok()
}

/// What a line of a transcript is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Noise<'a> {
    /// A prompt, with the command typed.
    Prompt(&'a str),
    /// A banner line, `>>` continuation or `Transcript started` notice.
    Other,
}

/// Classifies every line: `Some` for prompts and banners, `None` for output.
fn noise<'a>(lines: &'a [&str]) -> Vec<Option<Noise<'a>>> {
    let mut out = Vec::with_capacity(lines.len());
    each_noise(lines, |kind| out.push(kind));
    out
}

/// Calls `f` with what each line is, in order: `Some` for prompts and
/// banners, `None` for output.
fn each_noise<'a, L: std::ops::Deref<Target = str>>(
    lines: &'a [L],
    mut f: impl FnMut(Option<Noise<'a>>),
) {
    let mut state = NoiseState::default();
    for (k, raw) in lines.iter().enumerate() {
        let next = lines.get(k + 1).map_or("", |l| l.trim_end_matches('\r'));
        f(state.kind(raw.trim_end_matches('\r'), next));
    }
}

/// What the lines before say of the next: inside a banner, or after a prompt.
#[derive(Debug, Clone, Copy, Default)]
struct NoiseState {
    in_banner: bool,
    after_prompt: bool,
}

impl NoiseState {
    /// What `line` (without its `\r`) is, `next` being the line after it
    /// (empty for none): a banner rule is one when the banner is open or the
    /// next line speaks of a transcript or is an invocation header's time.
    fn kind<'a>(&mut self, line: &'a str, next: &str) -> Option<Noise<'a>> {
        let rule = banner_rule(line).is_ok();
        self.kind_of(line, rule && (self.in_banner || opens_banner(next)))
    }

    /// [`NoiseState::kind`], told whether the line is a banner's rule.
    fn kind_of<'a>(&mut self, line: &'a str, banner: bool) -> Option<Noise<'a>> {
        // A prompt starts with `P` or `[`, a continuation with `>`, a notice
        // with `T`: any other line outside a banner is output.
        if !banner
            && !self.in_banner
            && !matches!(line.as_bytes().first(), Some(b'P' | b'[' | b'>' | b'T'))
        {
            self.after_prompt = false;
            return None;
        }
        let kind = if banner {
            self.in_banner = !self.in_banner;
            Some(Noise::Other)
        } else if self.in_banner {
            Some(Noise::Other)
        } else if let Ok((_, command)) = prompt(line) {
            Some(Noise::Prompt(command))
        } else if (self.after_prompt && continuation_prompt(line).is_ok())
            || line.starts_with("Transcript started, output file is")
            || line.starts_with("Transcript stopped, output file is")
        {
            Some(Noise::Other)
        } else {
            None
        };
        self.after_prompt = matches!(kind, Some(Noise::Prompt(_)))
            || (self.after_prompt && matches!(kind, Some(Noise::Other)));
        kind
    }
}

/// Whether a line holds nothing but white space (`str::trim`'s), asking
/// `trim` only when its first byte does not settle it.
fn is_blank(line: &str) -> bool {
    match line.as_bytes().first() {
        Some(&b) if b.is_ascii() && !(b as char).is_whitespace() => false,
        _ => line.trim().is_empty(),
    }
}

/// Whether the line after a rule of stars makes it a banner's: it speaks of
/// a transcript (`Windows PowerShell transcript start`), or it is the time of
/// an invocation header (`Command start time: 20250123104015`).
fn opens_banner(line: &str) -> bool {
    line.starts_with("Command start time:") || line.to_ascii_lowercase().contains("transcript")
}

/// For each line, whether it is a prompt, a `>>` continuation or a transcript
/// banner line.
pub(crate) fn noise_lines(lines: &[impl std::ops::Deref<Target = str>]) -> Vec<bool> {
    let mut out = Vec::with_capacity(lines.len());
    each_noise(lines, |kind| out.push(kind.is_some()));
    out
}

/// True when a line may be a prompt or transcript banner line: every line
/// [`noise_lines`] marks is one of these, or one after such a line (inside a
/// banner, or a `>>` continuation after a prompt). A banner rule counts
/// whatever the line after it says.
pub(crate) fn may_be_noise(line: &str) -> bool {
    let line = line.trim_end_matches('\r');
    banner_rule(line).is_ok()
        || prompt(line).is_ok()
        || line.starts_with("Transcript started, output file is")
        || line.starts_with("Transcript stopped, output file is")
}

/// A quick test that can only be false when the text has no prompt or banner
/// line at all: every prompt holds `PS` at the start of a line (or after `[`,
/// or a remote session's `]: `), and banners hold a run of stars or the
/// `Transcript st...` notice. Searching for those is much faster than splitting
/// a million-row export into lines.
pub(crate) fn may_have_noise(text: &str) -> bool {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    // Built once: a JSON export asks this of every object.
    static STARS: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"**********"));
    static BANNER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"Transcript st"));
    static PS: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"PS"));
    let bytes = text.as_bytes();
    STARS.find(bytes).is_some()
        || BANNER.find(bytes).is_some()
        || PS
            .find_iter(bytes)
            .any(|i| i == 0 || matches!(bytes[i - 1], b'\n' | b'[') || bytes[..i].ends_with(b"]: "))
}

/// True when the text holds prompt lines or a transcript banner.
pub fn is_transcript(text: &str) -> bool {
    if !may_have_noise(text) {
        return false;
    }
    let lines: Vec<&str> = text.split('\n').collect();
    noise(&lines).iter().any(Option::is_some)
}

/// The text with prompt and banner lines blanked (line numbers kept): for a file
/// that holds one cmdlet's output with the command that made it.
pub fn blank_noise(text: &str) -> Cow<'_, str> {
    if !may_have_noise(text) {
        return text.into();
    }
    let lines: Vec<&str> = text.split('\n').collect();
    let kinds = noise(&lines);
    if kinds.iter().all(Option::is_none) {
        return text.into();
    }
    let kept: Vec<&str> =
        lines.iter().zip(&kinds).map(|(l, k)| if k.is_some() { "" } else { l }).collect();
    kept.join("\n").into()
}

/// What a paragraph looks like, for splitting a segment where it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A rule of dashes second to fifth in it: Format-Table output.
    Table,
    /// A first line that is a Format-List property.
    List,
    /// Anything else (JSON, CSV, prose): it runs to the end of its segment.
    Other,
}

/// Splits a transcript into its outputs.
pub fn split(text: &str) -> Vec<Part> {
    let mut splitter = Splitter::default();
    let mut at = 0;
    let mut pieces = text.split('\n').peekable();
    while let Some(line) = pieces.next() {
        let end = at + line.len() + usize::from(pieces.peek().is_some());
        splitter.push(line, at..end);
        at += line.len() + 1;
    }
    splitter.finish().0
}

/// Splits a transcript into its outputs a line at a time, so that a file can
/// be split as it is read ([`split`] feeds it a text's lines). A line's kind
/// waits for the line after it (a banner's rule is one when the next line
/// speaks of a transcript), so each line is taken when the next arrives.
#[derive(Debug, Default)]
pub struct Splitter {
    noise: NoiseState,
    /// The line that arrived last, not yet taken.
    pending: Option<Arrived>,
    /// The command typed at the last prompt, for the output after it.
    command: Option<String>,
    /// The lines taken since the last prompt or banner are output.
    in_segment: bool,
    /// The part being gathered: its first line, where it starts, its class.
    start: Option<(usize, usize, Class)>,
    /// The paragraph being read.
    paragraph: Option<Paragraph>,
    /// Where the last line taken ends (past its line break, if any).
    end: usize,
    /// How many lines have arrived.
    lines: usize,
    parts: Vec<Part>,
    /// The lines that are prompts or banners.
    noise_lines: Vec<usize>,
}

/// What is kept of a line until the line after it arrives.
#[derive(Debug)]
struct Arrived {
    number: usize,
    at: usize,
    end: usize,
    blank: bool,
    banner_rule: bool,
    /// Its kind unless it is a banner's rule (known on arrival), and the
    /// state after it.
    noise: Option<Noise<'static>>,
    after: NoiseState,
    /// The command, when it is a prompt with one.
    command: Option<String>,
    /// It would open a paragraph as Format-List output.
    list: bool,
    /// It is a table's rule, second to fifth in its paragraph.
    rule: bool,
}

/// A paragraph being read: its first line, where it starts, where the line
/// before it ends, and what it holds so far.
#[derive(Debug)]
struct Paragraph {
    line: usize,
    at: usize,
    before: usize,
    list: bool,
    ruled: bool,
    len: usize,
}

impl Splitter {
    /// Takes the next line (`raw`, without its `\n`), which spans `at` (its
    /// line break, if one follows, included). Returns the line before it,
    /// now that its kind is known: its number and whether it is a prompt or
    /// banner line.
    pub fn push(&mut self, raw: &str, at: std::ops::Range<usize>) -> Option<(usize, bool)> {
        let line = raw.trim_end_matches('\r');
        let taken = self.pending.take().map(|p| {
            let banner = p.banner_rule && (self.noise.in_banner || opens_banner(line));
            self.take(p, banner)
        });
        self.lines += 1;
        let blank = is_blank(raw);
        // Where it would fall in a paragraph, should it be output.
        let place = self.paragraph.as_ref().map_or(0, |p| p.len);
        let list = place == 0 && !blank && detect::is_list_line(&list::strip_ansi(line));
        let rule = (1..=4).contains(&place) && table::is_rule(line);
        let banner_rule = line.starts_with('*') && banner_rule(line).is_ok();
        // Its kind, and the state after it, unless it is a banner's rule: the
        // lines before decide, and they are all taken.
        let mut after = self.noise;
        let noise = after.kind_of(line, false);
        let command = match noise {
            Some(Noise::Prompt(c)) => Some(c.to_owned()),
            _ => None,
        };
        let noise = noise.map(|n| match n {
            Noise::Prompt(_) => Noise::Prompt(""),
            Noise::Other => Noise::Other,
        });
        self.pending = Some(Arrived {
            number: self.lines,
            at: at.start,
            end: at.end,
            blank,
            banner_rule,
            noise,
            after,
            command,
            list,
            rule,
        });
        taken
    }

    /// Ends the text: the parts, and the lines that are prompts or banners.
    pub fn finish(mut self) -> (Vec<Part>, Vec<usize>) {
        if let Some(p) = self.pending.take() {
            let banner = p.banner_rule && self.noise.in_banner;
            self.take(p, banner);
        }
        self.end_segment();
        (self.parts, self.noise_lines)
    }

    /// Takes a line whose kind is known (`banner`: it is a banner's rule).
    fn take(&mut self, p: Arrived, banner: bool) -> (usize, bool) {
        let noise = if banner {
            self.noise.kind_of("", true)
        } else {
            self.noise = p.after;
            p.noise
        };
        let is_noise = noise.is_some();
        if is_noise {
            self.end_paragraph();
            self.end_segment();
            if matches!(noise, Some(Noise::Prompt(_))) {
                self.command = p.command.filter(|c| !c.is_empty());
            }
            self.noise_lines.push(p.number);
        } else {
            self.in_segment = true;
            if p.blank {
                self.end_paragraph();
            } else if let Some(paragraph) = self.paragraph.as_mut() {
                paragraph.ruled |= p.rule;
                paragraph.len += 1;
            } else {
                self.paragraph = Some(Paragraph {
                    line: p.number,
                    at: p.at,
                    before: self.end,
                    list: p.list,
                    ruled: false,
                    len: 1,
                });
            }
        }
        self.end = p.end;
        (p.number, is_noise)
    }

    /// Ends the paragraph being read: a new part starts with it when its
    /// class differs from the part's (anything that is neither a table nor a
    /// list runs to the end of the segment).
    fn end_paragraph(&mut self) {
        let Some(p) = self.paragraph.take() else { return };
        let class = if p.ruled {
            Class::Table
        } else if p.list {
            Class::List
        } else {
            Class::Other
        };
        match self.start {
            Some((_, _, Class::Other)) => {}
            Some((line, at, current)) if current != class => {
                self.push_part(line, at, p.before, current);
                self.start = Some((p.line, p.at, class));
            }
            Some(_) => {}
            None => self.start = Some((p.line, p.at, class)),
        }
    }

    /// Ends a segment of output (at a prompt or banner, or the text's end).
    fn end_segment(&mut self) {
        self.end_paragraph();
        if let Some((line, at, class)) = self.start.take() {
            self.push_part(line, at, self.end, class);
        }
        if std::mem::take(&mut self.in_segment) {
            self.command = None;
        }
    }

    fn push_part(&mut self, line: usize, at: usize, end: usize, class: Class) {
        self.parts.push(Part { line, command: self.command.clone(), bytes: at..end, class });
    }

    /// The parts closed so far (each is final once closed).
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Whether the line that arrived last holds nothing but white space.
    pub fn last_is_blank(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| p.blank)
    }

    /// Whether the line that arrived last may be a prompt or banner line (it
    /// is one, or a rule whose kind the next line decides).
    pub fn last_may_be_noise(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| p.noise.is_some() || p.banner_rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts() {
        let cases: &[(&str, Option<&str>)] = &[
            ("PS C:\\> Get-User | fl", Some("Get-User | fl")),
            ("PS C:\\Users\\admin> ", Some("")),
            ("PS> Get-TransportConfig", Some("Get-TransportConfig")),
            ("PS /home/admin> Get-User", Some("Get-User")),
            ("[PS] C:\\Windows\\system32>Get-CASMailbox", Some("Get-CASMailbox")),
            ("[ex01.contoso.com]: PS C:\\> Get-User", Some("Get-User")),
            ("PS Admins  True", None),
            ("PSComputerName : outlook.office365.com", None),
            ("Name : PS C:\\> x", None),
        ];
        for (line, want) in cases {
            assert_eq!(prompt(line).ok().map(|(_, c)| c), *want, "{line:?}");
        }
        assert_eq!(
            continuation_prompt(">> -ResultSize Unlimited"),
            Ok(("", " -ResultSize Unlimited"))
        );
        assert!(banner_rule("**********************").is_ok());
        assert!(banner_rule("*** x").is_err());
    }

    const TRANSCRIPT: &str = "**********************\r\nWindows PowerShell transcript start\r\nStart time: 20250123103908\r\n**********************\r\nTranscript started, output file is C:\\t.txt\r\nPS C:\\> Get-OrganizationConfig | fl DefaultAuthenticationPolicy\r\n\r\nDefaultAuthenticationPolicy : Block\r\n\r\n\r\nPS C:\\> Get-User | ft Guid,AuthenticationPolicy\r\n>> \r\n\r\nGuid AuthenticationPolicy\r\n---- --------------------\r\na1   Allow\r\n\r\nName       : x\r\nPopEnabled : True\r\n\r\nPS C:\\> ";

    #[test]
    fn splits_at_prompts_and_form_changes() {
        let parts = split(TRANSCRIPT);
        let got: Vec<(usize, Option<&str>)> =
            parts.iter().map(|p| (p.line, p.command.as_deref())).collect();
        assert_eq!(
            got,
            [
                (8, Some("Get-OrganizationConfig | fl DefaultAuthenticationPolicy")),
                (14, Some("Get-User | ft Guid,AuthenticationPolicy")),
                (18, Some("Get-User | ft Guid,AuthenticationPolicy")),
            ]
        );
        // Line numbers are the file's.
        assert_eq!(parts[1].text(TRANSCRIPT).split('\n').nth(15), Some("a1   Allow\r"));
        assert!(!parts[1].text(TRANSCRIPT).contains("Name"));
    }

    #[test]
    fn invocation_headers_are_banners() {
        let header = "**********************\r\nCommand start time: 20250123104015\r\n**********************\r\n";
        let headed = TRANSCRIPT.replace("PS C:\\> ", &format!("{header}PS C:\\> "));
        assert_eq!(headed.matches("Command start time").count(), 3);
        let commands = |text: &str| -> Vec<(Option<String>, Class)> {
            split(text).into_iter().map(|p| (p.command, p.class)).collect()
        };
        assert_eq!(commands(&headed), commands(TRANSCRIPT));
        let lines: Vec<&str> = headed.split('\n').collect();
        let noise = noise_lines(&lines);
        for (line, noise) in lines.iter().zip(noise) {
            if line.starts_with("Command start time") || line.starts_with("****") {
                assert!(noise, "{line:?} is a banner's");
            }
        }
        // A rule of stars before anything else stays output.
        assert!(!noise_lines(&["**********************", "Name : x"])[0]);
    }

    #[test]
    fn the_splitter_reports_each_lines_kind_as_the_line_after_it_arrives() {
        use proptest::prelude::*;
        let line = prop::sample::select(vec![
            "PS C:\\> Get-User | fl",
            "PS>",
            ">> -ResultSize Unlimited",
            "**********************",
            "Windows PowerShell transcript start",
            "Command start time: 20250123104015",
            "Transcript started, output file is C:\\t.txt",
            "",
            "\r",
            "Name       : Alex",
            "Guid  Name",
            "----  ----",
            "a1    b",
            "transcript",
        ]);
        proptest!(ProptestConfig::with_cases(2000), |(lines in prop::collection::vec(line, 0..30))| {
            let text = lines.join("\n");
            let all: Vec<&str> = text.split('\n').collect();
            let (mut splitter, mut at, mut taken) = (Splitter::default(), 0, Vec::new());
            for (k, line) in all.iter().enumerate() {
                let end = at + line.len() + usize::from(k + 1 < all.len());
                taken.extend(splitter.push(line, at..end));
                at += line.len() + 1;
            }
            let (parts, noise) = splitter.finish();
            prop_assert_eq!(&parts, &split(&text));
            let want: Vec<usize> =
                (1..=all.len()).filter(|&k| noise_lines(&all)[k - 1]).collect();
            prop_assert_eq!(&noise, &want);
            // Every line but the last is reported as the next arrives.
            let reported: Vec<usize> = taken.iter().filter(|t| t.1).map(|t| t.0).collect();
            prop_assert_eq!(reported, want.into_iter().filter(|&k| k < all.len()).collect::<Vec<_>>());
            prop_assert_eq!(taken.len(), all.len() - 1);
        });
    }

    #[test]
    fn noise_is_blanked_in_place() {
        assert!(is_transcript(TRANSCRIPT));
        assert!(!is_transcript("Name : x\n"));
        let text = "PS C:\\> Get-TransportConfig | fl\n\nSmtpClientAuthenticationDisabled : True\n";
        assert_eq!(blank_noise(text), "\n\nSmtpClientAuthenticationDisabled : True\n");
    }
}
