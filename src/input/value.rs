//! PowerShell value rules, in one place.
//!
//! - `True` / `False` in any case (and `$true` / `$false` as typed by hand) are
//!   booleans;
//! - blank and `$null` are null (`Export-Csv` writes `$null` as nothing, the empty
//!   string as `""`, Format-List prints `Label :`);
//! - `{a, b}` is a collection, `{}` an empty one; `{a, b...}` / `{a, b…}` was cut by
//!   `$FormatEnumerationLimit` (5.1 writes three dots, 6.2+ writes U+2026);
//! - `Export-Csv` writes a multi-valued property as its type name
//!   (`System.Collections.ArrayList`,
//!   ``Microsoft.Exchange.Data.MultiValuedProperty`1[System.String]``), which
//!   holds no values at all and must never be read as data.

use std::fmt;

/// A raw value that does not read as the expected type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    /// What was expected, e.g. `True or False`.
    pub expected: &'static str,
    /// The raw value found.
    pub found: String,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, found {:?}", self.expected, self.found)
    }
}

/// True when the raw value means `$null`: blank, or the literal `$null`.
pub fn is_null(raw: &str) -> bool {
    text(raw).is_none()
}

/// The trimmed text of a value, or `None` when it is null (blank, or the
/// literal `$null`). Trimmed once: every cell of a million-row export passes here.
#[inline]
pub fn text(raw: &str) -> Option<&str> {
    let t = trim(raw);
    (!t.is_empty() && !t.eq_ignore_ascii_case("$null")).then_some(t)
}

/// `raw` without white space at either end, as [`str::trim`] gives it. Nearly
/// every cell of an export starts and ends with a printable ASCII character,
/// which is never white space: such a cell is returned as it is, without
/// decoding characters from both ends (a million-row export has millions).
#[inline]
fn trim(raw: &str) -> &str {
    let printable = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x80);
    let bytes = raw.as_bytes();
    if printable(bytes.first()) && printable(bytes.last()) { raw } else { raw.trim() }
}

/// Reads a boolean: `Ok(None)` for null, an error for anything else unreadable.
pub fn parse_bool(raw: &str) -> Result<Option<bool>, ValueError> {
    // What Export-Csv writes, nearly every cell of a million-row export,
    // before the general rule below (which reads these three alike).
    match raw {
        "True" => return Ok(Some(true)),
        "False" => return Ok(Some(false)),
        "" => return Ok(None),
        _ => {}
    }
    let Some(t) = text(raw) else { return Ok(None) };
    let t = t.strip_prefix('$').unwrap_or(t);
    if t.eq_ignore_ascii_case("true") {
        Ok(Some(true))
    } else if t.eq_ignore_ascii_case("false") {
        Ok(Some(false))
    } else {
        Err(ValueError { expected: "True or False", found: raw.to_owned() })
    }
}

/// True when the value is the type name `Export-Csv` writes for a collection.
#[inline]
pub fn is_type_name(raw: &str) -> bool {
    let t = trim(raw);
    // Every name below starts with one of these (most cells start otherwise).
    if !matches!(t.as_bytes().first(), Some(b'S' | b'M' | b'D')) {
        return false;
    }
    (t.starts_with("System.Collections.")
        || t.starts_with("Microsoft.Exchange.Data.MultiValuedProperty")
        || t.starts_with("Deserialized.")
        || t == "System.Object[]"
        || t == "System.String[]")
        && !t.contains(' ')
}

/// True when a string is what `ConvertTo-Json` writes for an object deeper than
/// its `-Depth`: the object's type name (`Microsoft.Graph.PowerShell.Models.X`,
/// `System.Collections.Hashtable`) or a PSCustomObject's `@{a=1; b=2}`.
pub fn is_depth_truncated(raw: &str) -> bool {
    let t = trim(raw);
    if t.starts_with("@{") && t.ends_with('}') {
        return true;
    }
    is_type_name(t)
        || ((t.starts_with("System.") || t.starts_with("Microsoft."))
            && t.matches('.').count() >= 2
            && t.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '`' | '[' | ']' | '+' | ',')
            }))
}

/// True when a Format-Table cell was cut to fit its column: `Alex Wil…` /
/// `Alex Wil...` (left-aligned) or `…4567` / `...4567` (right-aligned), or a
/// collection cut by `$FormatEnumerationLimit`.
pub fn is_truncated_cell(raw: &str) -> bool {
    let t = raw.trim();
    t.ends_with('…')
        || t.ends_with("...")
        || t.starts_with('…')
        || t.starts_with("...")
        || is_truncated_collection(t)
}

/// A parsed `{a, b}` collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection<'a> {
    /// The items shown.
    pub items: Vec<&'a str>,
    /// True when PowerShell cut the list (`...}` or `…}`): items are missing.
    pub truncated: bool,
}

/// Reads `{a, b, c}`; `None` when the value is not in braces.
pub fn parse_collection(raw: &str) -> Option<Collection<'_>> {
    let inner = raw.trim().strip_prefix('{')?.strip_suffix('}')?;
    let (inner, truncated) = match inner.strip_suffix("...").or_else(|| inner.strip_suffix('…')) {
        Some(rest) => (rest, true),
        None => (inner, false),
    };
    let items = if inner.trim().is_empty() {
        Vec::new()
    } else {
        inner.split(", ").map(str::trim).collect()
    };
    Some(Collection { items, truncated })
}

/// True when the value is a collection cut by `$FormatEnumerationLimit`.
pub fn is_truncated_collection(raw: &str) -> bool {
    parse_collection(raw).is_some_and(|c| c.truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_is_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\r",
            "\u{a0}x\u{3000}",
            "Å",
            "x\u{2028}",
            "\u{1c}x\u{1f}",
            "\u{7f}",
            "~a~",
            "!",
            " \u{85}",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn trim_is_str_trim_on_any_text(s in "\\PC*[ \\t\\u{a0}\\u{2000}]?\\PC*") {
            proptest::prop_assert_eq!(trim(&s), s.trim());
        }
    }

    #[test]
    fn booleans() {
        let cases: &[(&str, Result<Option<bool>, ()>)] = &[
            ("True", Ok(Some(true))),
            ("False", Ok(Some(false))),
            ("FALSE", Ok(Some(false))),
            ("False ", Ok(Some(false))),
            (" true ", Ok(Some(true))),
            ("$false", Ok(Some(false))),
            ("", Ok(None)),
            ("  ", Ok(None)),
            ("$null", Ok(None)),
            ("Ture", Err(())),
            ("1", Err(())),
            ("yes", Err(())),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_bool(raw).map_err(|_| ()), *want, "{raw:?}");
        }
        assert_eq!(
            parse_bool("Ture").unwrap_err().to_string(),
            "expected True or False, found \"Ture\""
        );
    }

    #[test]
    fn collections() {
        assert_eq!(
            parse_collection("{a, b}"),
            Some(Collection { items: vec!["a", "b"], truncated: false })
        );
        assert_eq!(parse_collection("{}"), Some(Collection { items: vec![], truncated: false }));
        assert!(parse_collection("{a, b, c, d...}").unwrap().truncated);
        assert_eq!(parse_collection("{a, b, c, d…}").unwrap().items, ["a", "b", "c", "d"]);
        assert_eq!(parse_collection("plain"), None);
    }

    #[test]
    fn type_names_are_not_data() {
        assert!(is_type_name("System.Collections.ArrayList"));
        assert!(is_type_name("Microsoft.Exchange.Data.MultiValuedProperty`1[System.String]"));
        assert!(is_type_name("System.Collections.Generic.List`1[System.String]"));
        assert!(!is_type_name("Block Basic Auth"));
        assert!(!is_type_name("System Policy"));
        for name in ["System.Object[]", " System.String[]", "Deserialized.System.Object[]\t"] {
            assert!(is_type_name(name), "{name:?}");
        }
        assert!(!is_type_name("Dana.Smith@contoso.com System.Object[]"));
    }

    #[test]
    fn truncation_and_depth_markers() {
        for cut in ["Alex Wil…", "Block Basic...", "…4567", "...4567", "{a, b...}"] {
            assert!(is_truncated_cell(cut), "{cut}");
        }
        assert!(!is_truncated_cell("Alex Wilber"));
        assert!(is_depth_truncated(
            "Microsoft.Graph.PowerShell.Models.MicrosoftGraphConditionalAccessConditionSet"
        ));
        assert!(is_depth_truncated("System.Collections.Hashtable"));
        assert!(is_depth_truncated("@{IncludeUsers=System.Object[]; ExcludeUsers=}"));
        assert!(!is_depth_truncated("contoso.onmicrosoft.com"));
        assert!(!is_depth_truncated("Microsoft Exchange Hosted Organizations"));
    }

    #[test]
    fn nulls() {
        assert_eq!(text("  Block Basic Auth "), Some("Block Basic Auth"));
        assert_eq!(text("$NULL"), None);
    }
}
