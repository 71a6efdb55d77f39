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
}

impl Part {
    /// The transcript's text up to the part's end, with every line before the
    /// part blanked, so that line numbers stay the file's. Made when asked
    /// for, so that a transcript's parts are not all held at once.
    pub fn text(&self, transcript: &str) -> String {
        let before = self.line - 1;
        let mut text = String::with_capacity(before + self.bytes.len());
        text.extend(std::iter::repeat_n('\n', before));
        text.push_str(&transcript[self.bytes.clone()]);
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
    let mut in_banner = false;
    let mut after_prompt = false;
    for (k, raw) in lines.iter().enumerate() {
        let line = raw.trim_end_matches('\r');
        let next = lines.get(k + 1).map_or("", |l| l.trim_end_matches('\r'));
        let kind = if banner_rule(line).is_ok()
            && (in_banner || next.to_ascii_lowercase().contains("transcript"))
        {
            in_banner = !in_banner;
            Some(Noise::Other)
        } else if in_banner {
            Some(Noise::Other)
        } else if let Ok((_, command)) = prompt(line) {
            Some(Noise::Prompt(command))
        } else if (after_prompt && continuation_prompt(line).is_ok())
            || line.starts_with("Transcript started, output file is")
            || line.starts_with("Transcript stopped, output file is")
        {
            Some(Noise::Other)
        } else {
            None
        };
        after_prompt = matches!(kind, Some(Noise::Prompt(_)))
            || (after_prompt && matches!(kind, Some(Noise::Other)));
        f(kind);
    }
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

/// The form class of a paragraph, for splitting a segment where it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Table,
    List,
    Other,
}

fn class(paragraph: &[&str]) -> Class {
    let first = paragraph.first().map_or("", |l| l.trim_end_matches('\r'));
    let first = list::strip_ansi(first);
    if paragraph.iter().skip(1).take(4).any(|l| table::is_rule(l.trim_end_matches('\r'))) {
        Class::Table
    } else if detect::is_list_line(&first) {
        Class::List
    } else {
        Class::Other
    }
}

/// Splits a transcript into its outputs.
pub fn split(text: &str) -> Vec<Part> {
    // A line's place in the text, from where its slice starts.
    let at = |line: &str| line.as_ptr().addr() - text.as_ptr().addr();
    let lines: Vec<&str> = text.split('\n').collect();
    let kinds = noise(&lines);
    let blank = |k: usize| lines[k].trim().is_empty();
    let mut parts = Vec::new();
    let mut command: Option<&str> = None;
    let mut k = 0;
    while k < lines.len() {
        if let Some(kind) = kinds[k] {
            if let Noise::Prompt(c) = kind {
                command = Some(c).filter(|c| !c.is_empty());
            }
            k += 1;
            continue;
        }
        // A segment of output: up to the next prompt or banner.
        let end = (k..lines.len()).find(|&j| kinds[j].is_some()).unwrap_or(lines.len());
        // Paragraphs, merged while their class stays the same; anything that is
        // neither a table nor a list (JSON, CSV) runs to the end of the segment.
        let mut start: Option<(usize, Class)> = None;
        let mut j = k;
        while j < end {
            if blank(j) {
                j += 1;
                continue;
            }
            let para_end = (j..end).find(|&x| blank(x)).unwrap_or(end);
            let c = class(&lines[j..para_end]);
            match start {
                Some((_, Class::Other)) => {}
                Some((s, current)) if current != c => {
                    parts.push(part(&lines, at, s, j, command));
                    start = Some((j, c));
                }
                Some(_) => {}
                None => start = Some((j, c)),
            }
            j = para_end;
        }
        if let Some((s, _)) = start {
            parts.push(part(&lines, at, s, end, command));
        }
        command = None;
        k = end;
    }
    parts
}

/// The part of lines `start..end`, `at` giving where a line starts in the text.
fn part(
    lines: &[&str],
    at: impl Fn(&str) -> usize,
    start: usize,
    end: usize,
    command: Option<&str>,
) -> Part {
    let first = at(lines[start]);
    // Up to the line break after the last line, when there is one: the
    // transcript's last line keeps its missing line break, so that a part
    // the file's end cut off reads as cut (`Parsed::reject_cut_last`).
    let last = lines[end - 1];
    let after = at(last) + last.len() + usize::from(end < lines.len());
    Part { line: start + 1, command: command.map(str::to_owned), bytes: first..after }
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
    fn noise_is_blanked_in_place() {
        assert!(is_transcript(TRANSCRIPT));
        assert!(!is_transcript("Name : x\n"));
        let text = "PS C:\\> Get-TransportConfig | fl\n\nSmtpClientAuthenticationDisabled : True\n";
        assert_eq!(blank_noise(text), "\n\nSmtpClientAuthenticationDisabled : True\n");
    }
}
