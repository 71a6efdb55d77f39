//! Which form a text is in, decided from its content.
//!
//! - CSV: optionally led by `#TYPE ...` (Windows PowerShell 5.1 writes it by
//!   default); delimiter `,`, or `;` from `Export-Csv -UseCulture` on many
//!   European cultures, sniffed from the header line.
//! - Format-List: `Label<padding> : value` lines.
//! - Format-Table: one to four header lines (labels wider than their column wrap)
//!   followed by a rule of dashes.
//! - JSON: `ConvertTo-Json` output, starting with `{` or `[`.

use super::table::is_rule;

/// The detected form of an input text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `Export-Csv` / `ConvertTo-Csv` output with the given delimiter.
    Csv {
        /// `b','` or `b';'`.
        delimiter: u8,
    },
    /// `Format-List` console text.
    List,
    /// `Format-Table` console text.
    Table,
    /// `ConvertTo-Json` output.
    Json,
}

impl Form {
    /// Short name used in reports (`csv`, `list`, `table`, `json`).
    pub fn name(self) -> &'static str {
        match self {
            Form::Csv { .. } => "csv",
            Form::List => "list",
            Form::Table => "table",
            Form::Json => "json",
        }
    }
}

/// Detects the form of `text`. Text with no recognisable structure is read as a
/// one-column CSV, whose header check then names the missing columns.
pub fn detect(text: &str) -> Form {
    let first_paragraph: Vec<&str> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .take(5)
        .collect();
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty());
    let Some(first) = lines.next() else { return Form::Csv { delimiter: b',' } };
    let first_trimmed = first.trim_start();
    if first_trimmed.starts_with('{') || first_trimmed.starts_with('[') {
        return Form::Json;
    }
    if first.starts_with("#TYPE") {
        let header = lines.next().unwrap_or("");
        return Form::Csv { delimiter: sniff_delimiter(header) };
    }
    if is_list_line(&super::list::strip_ansi(first)) {
        return Form::List;
    }
    // A table header cannot look like `Label : value`, so lists are tried first.
    if first_paragraph.iter().skip(1).any(|l| is_rule(l)) {
        return Form::Table;
    }
    Form::Csv { delimiter: sniff_delimiter(first) }
}

/// `Label   : value` or `Label :` as Format-List prints a property.
pub(crate) fn is_list_line(line: &str) -> bool {
    let Some((label, _)) = line.split_once(" :") else { return false };
    let label = label.trim_end();
    let rest = &line[label.len()..].trim_start();
    let after = &rest[1..];
    !label.is_empty()
        && !label.starts_with('"')
        && label.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && (after.is_empty() || after.starts_with(' '))
}

/// Counts `,` and `;` outside quotes in the header line.
fn sniff_delimiter(header: &str) -> u8 {
    let (mut commas, mut semis, mut quoted) = (0, 0, false);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semis += 1,
            _ => {}
        }
    }
    if semis > commas { b';' } else { b',' }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let cases: &[(&str, Form)] = &[
            ("#TYPE Deserialized.Foo\r\n\"Name\",\"Guid\"\r\n", Form::Csv { delimiter: b',' }),
            ("#TYPE Deserialized.Foo\r\n\"Name\";\"Guid\"\r\n", Form::Csv { delimiter: b';' }),
            ("\"Name\";\"Guid\";\"PopEnabled\"\n", Form::Csv { delimiter: b';' }),
            ("Name,Guid\n", Form::Csv { delimiter: b',' }),
            ("DefaultAuthenticationPolicy\r\n\"Block\"\r\n", Form::Csv { delimiter: b',' }),
            ("\r\n\r\nName       : Alex\r\nPopEnabled : True\r\n", Form::List),
            ("AdminDisplayName :\r\n", Form::List),
            ("\nName  PopEnabled\n----  ----------\nAlex        True\n", Form::Table),
            ("Display  Smtp\nName     Enabled\n-------- -------\n", Form::Table),
            ("[\n  {\n", Form::Json),
            ("{\"IsEnabled\": true}", Form::Json),
            ("", Form::Csv { delimiter: b',' }),
        ];
        for (text, want) in cases {
            assert_eq!(detect(text), *want, "{text:?}");
        }
    }

    #[test]
    fn csv_header_with_colon_is_not_a_list() {
        assert_eq!(detect("\"Name : x\",\"b\"\n"), Form::Csv { delimiter: b',' });
        assert!(!is_list_line("Name,Value : x"));
    }
}
