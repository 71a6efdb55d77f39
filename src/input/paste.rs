//! Text as admins paste it: copied from a console, a ticket, an e-mail or a web
//! page, with things around and inside it that are not data. They are set aside
//! before the form is detected, every one of them is reported (nothing
//! disappears unannounced), and line numbers stay the file's:
//!
//! - Markdown wrapping that survives a copy: fence lines (```` ``` ````, `~~~`),
//!   `> ` blockquote markers on every line, `<br>` at line ends;
//! - a common indentation on every line (an e-mail, a Markdown code block, a
//!   script's `<# ... #>` help comment);
//! - module and connection banners (`Creating a new Remote PowerShell session
//!   ...`, `WARNING: ...`, the Exchange Online module's dashed notice);
//! - a command echoed without a prompt (`Get-EXOCasMailbox | fl Name,PopEnabled`)
//!   or behind a bare `> ` prompt: rewritten as `PS> command`, so that the
//!   transcript reader treats it as the prompt line it is;
//! - and the prompts and transcript banners the transcript reader already knows.

use std::borrow::Cow;

/// What a set-aside line was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A Markdown fence line.
    Fence,
    /// The `<#` or `#>` line of a block comment around pasted help text.
    CommentMarker,
    /// A Markdown blockquote marker (`> `) at the start of every line.
    Quote,
    /// `<br>` at a line's end.
    LineBreakTag,
    /// A module, connection or console banner.
    Banner,
    /// A command typed without a prompt, or behind a bare `> `.
    Command,
    /// A PowerShell prompt line or transcript banner.
    Prompt,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Fence => "Markdown fence",
            Kind::CommentMarker => "block comment marker",
            Kind::Quote => "`> ` quote markers",
            Kind::LineBreakTag => "`<br>` line ends",
            Kind::Banner => "module or console banner",
            Kind::Command => "command line without a PowerShell prompt",
            Kind::Prompt => "prompt or transcript banner",
        }
    }
}

/// The result of setting aside what is not data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned<'a> {
    /// The text with fences, banners and markers removed (their lines left
    /// blank), the common indentation removed, and echoed commands written as
    /// `PS> command`. Same number of lines as the input.
    pub text: Cow<'a, str>,
    /// What was set aside, by kind: the 1-based lines.
    pub aside: Vec<(Kind, Vec<usize>)>,
    /// The common indentation removed (in characters) and the lines it was removed from.
    pub indent: Option<(usize, Vec<usize>)>,
}

impl Cleaned<'_> {
    /// True when nothing was set aside or changed.
    pub fn untouched(&self) -> bool {
        self.aside.is_empty() && self.indent.is_none()
    }

    /// One sentence naming every line set aside, for a warning; `None` when
    /// nothing was.
    pub fn describe(&self) -> Option<String> {
        if self.untouched() {
            return None;
        }
        let mut parts: Vec<String> = self
            .aside
            .iter()
            .map(|(kind, lines)| format!("{} ({})", line_list(lines), kind.describe()))
            .collect();
        if let Some((n, lines)) = &self.indent {
            let (first, last) = (lines[0], lines[lines.len() - 1]);
            parts.push(format!(
                "a common indentation of {n} character{} on every line that holds anything ({})",
                if *n == 1 { "" } else { "s" },
                if first == last {
                    format!("line {first}")
                } else {
                    format!("lines {first}-{last}")
                }
            ));
        }
        Some(format!("read as pasted text: set aside {}", parts.join(", ")))
    }
}

/// `line 3`, `lines 1-4`, `lines 1, 5-7 and 9`, shortened past a dozen ranges.
pub fn line_list(lines: &[usize]) -> String {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for &l in lines {
        match ranges.last_mut() {
            Some((_, end)) if *end + 1 == l => *end = l,
            _ => ranges.push((l, l)),
        }
    }
    let text = |&(a, b): &(usize, usize)| if a == b { a.to_string() } else { format!("{a}-{b}") };
    let shown: Vec<String> = ranges.iter().take(12).map(text).collect();
    let more = ranges.len().saturating_sub(12);
    let word = if lines.len() == 1 { "line" } else { "lines" };
    match (shown.split_last(), more) {
        (None, _) => "no line".into(),
        (Some((only, [])), _) => format!("{word} {only}"),
        (Some((last, rest)), 0) => format!("{word} {} and {last}", rest.join(", ")),
        (Some(_), more) => format!("{word} {} and {more} more", shown.join(", ")),
    }
}

/// Verbs that start a command someone typed before pasting its output.
const VERBS: &[&str] = &[
    "Get",
    "Select",
    "Format",
    "Export",
    "ConvertTo",
    "ConvertFrom",
    "Where",
    "Sort",
    "Import",
    "Connect",
    "Set",
    "New",
    "Out",
    "Invoke",
    "Search",
    "Test",
    "Measure",
    "Group",
    "Write",
    "Start",
    "Stop",
    "ForEach",
];

/// `Get-EXOCasMailbox | fl Name`, `Select-Object ...`, `$users | ft`, `$x = Get-User`:
/// a line that is a command, not output.
pub fn is_command(line: &str) -> bool {
    let b = line.as_bytes();
    if b.first() != Some(&b'$') {
        // A verb (ASCII letters) and a dash start any other command: most
        // lines fail here.
        let verb = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
        if verb == 0 || b.get(verb) != Some(&b'-') {
            return false;
        }
    }
    let line = line.trim_end();
    // (A property line of Format-List output is no command; asked last, as
    // most lines are not shaped like a command at all.)
    let shaped = if let Some(var) = line.strip_prefix('$') {
        let name_end = var.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(var.len());
        let after = var[name_end..].trim_start();
        let starts_well = var.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
        starts_well && (after.starts_with('|') || after.starts_with('='))
    } else {
        let word_end = line.find(char::is_whitespace).unwrap_or(line.len());
        let word = &line[..word_end];
        word.split_once('-').is_some_and(|(verb, noun)| {
            VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb))
                && noun.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && noun.chars().all(|c| c.is_ascii_alphanumeric())
        })
    };
    shaped && !super::detect::is_list_line(line)
}

/// A Markdown fence line (```` ``` ````, `~~~`, with an info string).
fn is_fence(line: &str) -> bool {
    let t = line.trim();
    (t.starts_with("```") || t.starts_with("~~~"))
        && !t[3..].trim_start_matches(['`', '~']).contains(char::is_whitespace)
}

/// The `<#` or `#>` line of a PowerShell block comment (pasted help text).
fn is_comment_marker(line: &str) -> bool {
    matches!(line.trim(), "<#" | "#>")
}

fn is_banner(line: &str) -> bool {
    const STARTS: &[&str] = &[
        "Creating a new Remote PowerShell session",
        "Creating a new session for implicit remoting",
        "WARNING:",
        "VERBOSE:",
        "DEBUG:",
    ];
    STARTS.iter().any(|s| line.starts_with(s))
}

/// A line of dashes only, as long as the Exchange Online module's notice rule.
fn is_dash_rule(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 40 && t.bytes().all(|b| b == b'-')
}

/// Whether a line ends with `<br>` as [`clean`] strips it when every line
/// does.
pub(crate) fn ends_with_br(line: &str) -> bool {
    strip_br(line).is_some()
}

/// Strips `<br>`, `<br/>` or `<br />` (any case) from a line's end.
fn strip_br(line: &str) -> Option<&str> {
    let t = line.trim_end();
    for tag in ["<br>", "<br/>", "<br />"] {
        let at = t.len().saturating_sub(tag.len());
        if t.len() >= tag.len() && t.as_bytes()[at..].eq_ignore_ascii_case(tag.as_bytes()) {
            // The tag is ASCII, so `at` is a character boundary.
            return Some(&t[..at]);
        }
    }
    None
}

/// A quick test that is false only when [`clean`] would change nothing: it
/// looks at each line's first bytes (and end, for `<br>`), so that a
/// million-row CSV export is not split into lines for nothing.
pub fn may_need_cleaning(text: &str) -> bool {
    may_need(text, true)
}

/// [`may_need_cleaning`] for a later block of a text whose first lines passed:
/// a common indentation can no longer be, as the first line had none.
pub fn may_need_cleaning_within(text: &str) -> bool {
    may_need(text, false)
}

fn may_need(text: &str, from_start: bool) -> bool {
    let bytes = text.as_bytes();
    let mut first_data = from_start;
    let mut start = 0;
    while start <= bytes.len() {
        let line_end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        let line_start = std::mem::replace(&mut start, line_end + 1);
        // (A line ends before an ASCII byte, so it is whole characters.)
        let text_line = &text[line_start..line_end];
        let text_line = text_line.strip_suffix('\r').unwrap_or(text_line);
        let line = text_line.as_bytes();
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // A common indentation shows on the first line that holds anything.
        if std::mem::take(&mut first_data) && matches!(line[0], b' ' | b'\t') {
            return true;
        }
        if line_may_need(text_line) {
            return true;
        }
    }
    false
}

/// The per-line part of [`may_need_cleaning`]: false only when [`clean`]
/// leaves the line (without its `\r`, holding something) as it is, given
/// that other lines hold data and that a line with no indentation does.
pub(crate) fn line_may_need(text_line: &str) -> bool {
    let line = text_line.as_bytes();
    match line[0] {
        b'>' | b'`' | b'~' | b'$' | b'<' => return true,
        // The module's dashed notice rule ([`is_dash_rule`]); never a
        // table's rule, whose runs of dashes spaces separate.
        b'-' if {
            let t = line.trim_ascii();
            t.len() >= 40 && t.iter().all(|&b| b == b'-' || !b.is_ascii())
        } =>
        {
            return true;
        }
        // A prompt or transcript banner ([`super::transcript::may_be_noise`]).
        b'*' | b'[' | b'P' | b'T' if super::transcript::may_be_noise(text_line) => {
            return true;
        }
        b if b.is_ascii_alphabetic() && (is_command(text_line) || is_banner(text_line)) => {
            return true;
        }
        _ => {}
    }
    let tail = &line[line.len().saturating_sub(6)..];
    tail.contains(&b'<') && tail.ends_with(b">")
}

/// Whether [`clean`] may set a line (without its `\r`) aside, or change it,
/// as a fence, a comment marker, a banner, a dashed rule or an echoed command
/// (indented or not), whatever the lines around it.
pub(crate) fn claims_line(line: &str) -> bool {
    // Each kind starts with its own characters (after the indentation): the
    // first settles which to ask.
    match line.trim_start().bytes().next() {
        Some(b'`' | b'~') => is_fence(line),
        Some(b'<' | b'#') => is_comment_marker(line),
        Some(b'-') => is_dash_rule(line),
        Some(b'>' | b'$') => echoed_command(line).is_some(),
        Some(b) if b.is_ascii_alphabetic() => is_banner(line) || echoed_command(line).is_some(),
        _ => false,
    }
}

/// The command of a line that is a command typed without a prompt, or
/// behind a bare `> `.
fn echoed_command(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let command = t.strip_prefix("> ").filter(|c| is_command(c)).or(is_command(t).then_some(t));
    command.filter(|_| !super::transcript::is_prompt(t))
}

/// Sets aside what is not data (see the module documentation).
pub fn clean(text: &str) -> Cleaned<'_> {
    if !may_need_cleaning(text) {
        return Cleaned { text: text.into(), aside: Vec::new(), indent: None };
    }
    clean_lines(text)
}

/// [`clean`] without the quick test: line by line.
fn clean_lines(text: &str) -> Cleaned<'_> {
    // Each line without its `\r`, which is put back at the end.
    let n = 1 + memchr::memchr_iter(b'\n', text.as_bytes()).count();
    let (mut lines, mut cr): (Vec<Cow<'_, str>>, Vec<bool>) =
        (Vec::with_capacity(n), Vec::with_capacity(n));
    for l in text.split('\n') {
        let bare = l.strip_suffix('\r');
        cr.push(bare.is_some());
        lines.push(Cow::Borrowed(bare.unwrap_or(l)));
    }
    let mut aside: Vec<(Kind, Vec<usize>)> = Vec::new();
    let mut note = |kind: Kind, k: usize| match aside.iter_mut().find(|(kd, _)| *kd == kind) {
        Some((_, ls)) => ls.push(k + 1),
        None => aside.push((kind, vec![k + 1])),
    };
    let blank = |l: &str| l.trim().is_empty();
    // A line that is data once the markers around it are gone.
    let mut data = vec![true; lines.len()];

    // Fences and comment markers.
    for (k, l) in lines.iter_mut().enumerate() {
        let kind = if is_fence(l) {
            Kind::Fence
        } else if is_comment_marker(l) {
            Kind::CommentMarker
        } else {
            continue;
        };
        note(kind, k);
        *l = Cow::Borrowed("");
        data[k] = false;
    }
    // Blockquote markers, when every line that holds anything has one.
    let quoted = lines
        .iter()
        .filter(|l| !blank(l))
        .all(|l| l.trim_start().starts_with('>') && !l.trim_start().starts_with(">>"));
    if quoted && lines.iter().any(|l| !blank(l)) {
        for (k, l) in lines.iter_mut().enumerate() {
            let t = l.trim_start();
            if let Some(rest) = t.strip_prefix('>') {
                let rest = rest.strip_prefix(' ').unwrap_or(rest);
                note(Kind::Quote, k);
                *l = Cow::Owned(rest.to_owned());
            }
        }
    }
    // `<br>` line ends, when every line that holds anything has one (a value
    // may end in `<br>` in its own right).
    let all_br = lines
        .iter()
        .zip(&data)
        .filter(|(l, d)| **d && !blank(l))
        .all(|(l, _)| strip_br(l).is_some());
    if all_br {
        for (k, l) in lines.iter_mut().enumerate() {
            if let Some(stripped) = strip_br(l) {
                note(Kind::LineBreakTag, k);
                *l = Cow::Owned(stripped.to_owned());
            }
        }
    }
    // Banners: one-line notices, and the module's dashed notice block.
    let mut k = 0;
    while k < lines.len() {
        if is_banner(&lines[k]) {
            note(Kind::Banner, k);
            lines[k] = Cow::Borrowed("");
            data[k] = false;
        } else if is_dash_rule(&lines[k]) {
            let next = (k + 1..lines.len()).find(|&j| !blank(&lines[j]));
            let prose = next.is_some_and(|j| {
                let t = &lines[j];
                (t.contains("PowerShell") || t.contains("Exchange Online"))
                    && t.split_whitespace().count() >= 5
            });
            let close = next.and_then(|j| (j..lines.len()).find(|&x| is_dash_rule(&lines[x])));
            if let (true, Some(end)) = (prose, close) {
                for j in k..=end {
                    note(Kind::Banner, j);
                    lines[j] = Cow::Borrowed("");
                    data[j] = false;
                }
                k = end;
            }
        }
        k += 1;
    }
    // Commands typed without a prompt, or behind a bare `> `.
    for (k, l) in lines.iter_mut().enumerate() {
        if let Some(c) = echoed_command(l) {
            note(Kind::Command, k);
            *l = Cow::Owned(format!("PS> {}", c.trim_end()));
            data[k] = false;
        }
    }
    // Prompts and transcript banners (the transcript reader blanks them).
    for (k, is_noise) in super::transcript::noise_lines(&lines).into_iter().enumerate() {
        if is_noise && data[k] {
            note(Kind::Prompt, k);
            data[k] = false;
        }
    }
    // A common indentation of every data line.
    let indent = lines
        .iter()
        .zip(&data)
        .filter(|(l, d)| **d && !blank(l))
        .map(|(l, _)| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    let mut indented = Vec::new();
    if indent > 0 {
        for (k, l) in lines.iter_mut().enumerate() {
            if data[k] && !blank(l) {
                indented.push(k + 1);
                *l = Cow::Owned(l[indent..].to_owned());
            }
        }
    }
    let indent = (!indented.is_empty()).then_some((indent, indented));
    aside.sort_by_key(|(kind, lines)| (lines[0], *kind));
    if aside.is_empty() && indent.is_none() {
        return Cleaned { text: text.into(), aside, indent };
    }
    let mut out = String::with_capacity(text.len());
    for (k, l) in lines.iter().enumerate() {
        if k > 0 {
            out.push('\n');
        }
        out.push_str(l);
        if cr[k] {
            out.push('\r');
        }
    }
    Cleaned { text: out.into(), aside, indent }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str =
        "Name       : Alex\r\nPopEnabled : True\r\n\r\nName       : Bo\r\nPopEnabled : False\r\n";

    fn lines_of(c: &Cleaned<'_>, kind: Kind) -> Vec<usize> {
        c.aside.iter().find(|(k, _)| *k == kind).map(|(_, l)| l.clone()).unwrap_or_default()
    }

    /// Lines of every kind [`clean`] sets aside, and data lines that look
    /// like them.
    const LINES: &[&str] = &[
        "PS C:\\> Get-User | fl",
        "PS>",
        "[PS] C:\\Windows\\system32>Get-CASMailbox",
        "[ex01.contoso.com]: PS C:\\> Get-User",
        ">> -ResultSize Unlimited",
        "**********************",
        "**********************  ",
        "Windows PowerShell transcript start",
        "Start time: 20250123103908",
        "Transcript started, output file is C:\\t.txt",
        "Transcript stopped, output file is C:\\t.txt",
        "Transcript notes",
        "*** x",
        "[x] not a prompt",
        "PSComputerName : outlook.office365.com",
        "Policy     : PS C:\\> x",
        "Name       : Alex",
        "PopEnabled : True",
        "\"Name\",\"PopEnabled\"",
        "\"PS C:\\> x\",\"**********\"",
        "Guid  Name",
        "----  ----",
        "```",
        "> quoted",
        "Name : x<br>",
        "Get-EXOCasMailbox | fl Name,PopEnabled",
        "WARNING: the module is old",
        "----------------------------------------",
        "    Name : indented",
        "P",
        "T",
        "*",
        "",
        "   ",
    ];

    proptest::proptest! {
        #[test]
        fn the_quick_test_is_true_whenever_cleaning_changes_anything(
            picks in proptest::collection::vec(0..LINES.len(), 0..8),
            crlf in proptest::bool::ANY,
        ) {
            let end = if crlf { "\r\n" } else { "\n" };
            let text: String = picks.iter().map(|&k| format!("{}{end}", LINES[k])).collect();
            let cleaned = clean_lines(&text);
            proptest::prop_assert!(cleaned.untouched() || may_need_cleaning(&text), "{text:?}");
            // A later block: everything but a common indentation.
            proptest::prop_assert!(
                cleaned.aside.is_empty() || may_need_cleaning_within(&text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn clean_text_is_borrowed_untouched() {
        for text in
            [LIST, "\"Name\",\"PopEnabled\"\r\n\"Alex\",\"True\"\r\n", "[\n  {\"a\": 1}\n]\n", ""]
        {
            let c = clean(text);
            assert!(matches!(c.text, Cow::Borrowed(_)) && c.untouched(), "{text:?}");
            assert_eq!(c.describe(), None);
        }
    }

    #[test]
    fn an_indented_list_loses_its_indentation_and_keeps_its_lines() {
        let text: String = LIST
            .split_inclusive('\n')
            .map(|l| if l.trim().is_empty() { l.to_owned() } else { format!("    {l}") })
            .collect();
        let c = clean(&text);
        assert_eq!(c.text, LIST);
        assert_eq!(c.indent, Some((4, vec![1, 2, 4, 5])));
        assert_eq!(
            c.describe().unwrap(),
            "read as pasted text: set aside a common indentation of 4 characters on every line that holds anything (lines 1-5)"
        );
    }

    #[test]
    fn a_command_without_a_prompt_becomes_a_prompt_line() {
        let text = format!("Get-EXOCasMailbox | fl Name,PopEnabled\r\n\r\n{LIST}");
        let c = clean(&text);
        assert!(c.text.starts_with("PS> Get-EXOCasMailbox | fl Name,PopEnabled\r\n"));
        assert_eq!(lines_of(&c, Kind::Command), [1]);
        let bare = format!("> Get-EXOCasMailbox | fl Name,PopEnabled\n{LIST}");
        let c = clean(&bare);
        assert!(c.text.starts_with("PS> Get-EXOCasMailbox"), "{:?}", c.text);
        assert!(c.text.ends_with(LIST));
    }

    #[test]
    fn banners_fences_quotes_and_br_are_set_aside() {
        let text = format!(
            "PS C:\\> Get-CASMailbox | fl\r\nCreating a new Remote PowerShell session using Modern Authentication for implicit remoting of \"Get-CASMailbox\" command ...\r\n\r\n{LIST}"
        );
        let c = clean(&text);
        assert_eq!(lines_of(&c, Kind::Banner), [2]);
        assert_eq!(lines_of(&c, Kind::Prompt), [1]);
        let fenced = format!("```\n{LIST}```\n");
        let c = clean(&fenced);
        assert_eq!(lines_of(&c, Kind::Fence), [1, 7]);
        // A help comment: `<#`, the output indented, `#>`.
        let help: String = LIST
            .split_inclusive('\n')
            .map(|l| if l.trim().is_empty() { l.to_owned() } else { format!("    {l}") })
            .collect();
        let comment = format!("<#\r\n{help}#>\r\n");
        let c = clean(&comment);
        assert_eq!(lines_of(&c, Kind::CommentMarker), [1, 7]);
        assert_eq!(c.text, format!("\r\n{LIST}\r\n"));
        let quoted: String = LIST.split_inclusive('\n').map(|l| format!("> {l}")).collect();
        let c = clean(&quoted);
        assert_eq!(c.text, LIST);
        let br: String = LIST.replace("\r\n", "<br>\r\n");
        assert_eq!(clean(&br).text, LIST);
        // Regression: a line ending in a multi-byte letter near the tag's length.
        assert_eq!(strip_br("Name : Łukasz Żółć"), None);
        assert_eq!(strip_br("Name : Żółć<BR />"), Some("Name : Żółć"));
        let exo = "----------------------------------------------------------------------------------------\nThis V3 EXO PowerShell module contains new REST API backed Exchange Online cmdlets which doesn't require WinRM\n----------------------------------------------------------------------------------------\n\nName : x\n";
        let c = clean(exo);
        assert_eq!(lines_of(&c, Kind::Banner), [1, 2, 3]);
        assert_eq!(c.text, "\n\n\n\nName : x\n");
    }

    #[test]
    fn commands_are_told_from_data() {
        for yes in [
            "Get-EXOCasMailbox | fl",
            "get-user",
            "Select-Object Name",
            "$users | ft Name",
            "$x = Get-User",
        ] {
            assert!(is_command(yes), "{yes}");
        }
        for no in [
            "Name : Get-User",
            "Get-User : x",
            "\"Get-User\",\"x\"",
            "Get",
            "GetUser",
            "$5 | x",
            "Forward-Thinking Ltd",
            "Name",
        ] {
            assert!(!is_command(no), "{no}");
        }
    }

    #[test]
    fn line_lists_read_naturally() {
        assert_eq!(line_list(&[3]), "line 3");
        assert_eq!(line_list(&[1, 2, 3]), "lines 1-3");
        assert_eq!(line_list(&[1, 5, 6, 7, 9]), "lines 1, 5-7 and 9");
        assert_eq!(line_list(&[]), "no line");
    }
}
