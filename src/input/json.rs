//! `ConvertTo-Json` output: a single object, or an array of objects.
//!
//! Each object becomes a record whose line is where the object starts. Scalar
//! values become text the way PowerShell prints them (`True`/`False` for booleans,
//! blank for `null`); nested objects and arrays are kept as compact JSON text, so
//! that a mapper that needs the structure (Conditional Access policies) can read
//! it back.
//!
//! Quirks handled:
//! - Windows PowerShell 5.1 writes a `DateTime` as `"\/Date(1326441600000)\/"`
//!   (milliseconds since 1970, UTC, optionally with a `+0100` display offset),
//!   and a date that went through a remote session as
//!   `{"value": "\/Date(...)\/", "DisplayHint": 2, "DateTime": "..."}`; both are
//!   rendered as ISO 8601 (`2012-01-13T08:00:00Z`), as PowerShell 7 writes them;
//! - an object deeper than `-Depth` (default 2) is written as its type name
//!   (`Microsoft.Graph.PowerShell.Models.…`, `System.Collections.Hashtable`) or
//!   as `@{a=1; b=2}`: data loss, reported as a `depth-truncated` warning naming
//!   the record's line and the property path.

use std::sync::Arc;

use std::borrow::Cow;
use std::fmt;

use rustc_hash::FxHashMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::value::is_depth_truncated;
use super::{Parsed, Record, Source, SyntaxError, Table, Warning};

/// A JSON object with the 1-based line it starts on.
pub type LineObject<'de> = (usize, Object<'de>);

/// One property name, borrowed from the text when it holds no escape.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct Name;
        impl<'de> Visitor<'de> for Name {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a property name")
            }
            fn visit_borrowed_str<E>(self, name: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(name.into()))
            }
            fn visit_str<E>(self, name: &str) -> Result<Key<'de>, E> {
                Ok(Key(name.to_owned().into()))
            }
        }
        d.deserialize_str(Name)
    }
}

/// A JSON object's properties in order, as [`record`] reads them: a string
/// value is borrowed from the text when it holds no escape, so that an
/// object of a million-object export costs no map and no copy of its text.
/// A name given twice keeps its first place and takes its last value, as
/// `serde_json::Map` does.
#[derive(Debug, Default)]
pub struct Object<'de>(Vec<(Cow<'de, str>, Field<'de>)>);

/// One property's value.
#[derive(Debug)]
pub enum Field<'de> {
    /// A string, borrowed from the text when it holds no escape.
    Str(Cow<'de, str>),
    /// Any other value.
    Other(Value),
}

impl<'de> Field<'de> {
    /// The value whose text is `raw`.
    fn of(raw: &'de RawValue) -> serde_json::Result<Field<'de>> {
        let text = raw.get();
        match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            // The text of a string without an escape is its value (the
            // parser that found it has checked it for control characters).
            Some(inner) if !inner.contains('\\') => Ok(Field::Str(Cow::Borrowed(inner))),
            Some(_) => Ok(Field::Str(Cow::Owned(serde_json::from_str(text)?))),
            None => Ok(Field::Other(serde_json::from_str(text)?)),
        }
    }
}

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Object<'de>, D::Error> {
        struct Properties;
        impl<'de> Visitor<'de> for Properties {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<'de>, A::Error> {
                let mut fields: Vec<(Cow<'de, str>, Field<'de>)> = Vec::new();
                // Where each name is, once there are too many to look through.
                let mut index: FxHashMap<Cow<'de, str>, usize> = FxHashMap::default();
                const LOOK_THROUGH: usize = 16;
                while let Some(Key(key)) = map.next_key()? {
                    let raw: &'de RawValue = map.next_value()?;
                    let field = Field::of(raw).map_err(de::Error::custom)?;
                    if fields.len() == LOOK_THROUGH {
                        index =
                            fields.iter().enumerate().map(|(k, (n, _))| (n.clone(), k)).collect();
                    }
                    let seen = if fields.len() < LOOK_THROUGH {
                        fields.iter().position(|(n, _)| *n == key)
                    } else {
                        index.get(&key).copied()
                    };
                    match seen {
                        Some(k) => fields[k].1 = field,
                        None => {
                            if fields.len() >= LOOK_THROUGH {
                                index.insert(key.clone(), fields.len());
                            }
                            fields.push((key, field));
                        }
                    }
                }
                Ok(Object(fields))
            }
        }
        d.deserialize_map(Properties)
    }
}

/// Hands each object of a JSON document to `f`, in order, with the 1-based line
/// it starts on. The whole document is checked first, so a syntax error
/// anywhere is reported before any object; then each object is built only when
/// its turn comes, so that a million objects are never held at once.
pub fn each_object(
    file: &Arc<str>,
    text: &str,
    f: &mut dyn FnMut(LineObject),
) -> Result<(), SyntaxError> {
    let syntax = |e: serde_json::Error| {
        SyntaxError::new(file, e.line(), e.column(), format!("invalid JSON ({e})"))
            .with_hint("re-export with `ConvertTo-Json -Depth 10`")
    };
    let trimmed = text.trim_start();
    let raws: Vec<&RawValue> = if trimmed.starts_with('[') {
        serde_json::from_str(text).map_err(syntax)?
    } else {
        vec![serde_json::from_str(text).map_err(syntax)?]
    };
    let base = text.as_ptr() as usize;
    // The objects come in text order: each one's line is counted on from the
    // last one's, never from the start (that is quadratic).
    let (mut counted_to, mut line) = (0, 1);
    for raw in raws {
        let offset = raw.get().as_ptr() as usize - base;
        line += super::csv::memchr_count(&text.as_bytes()[counted_to..offset]);
        counted_to = offset;
        match serde_json::from_str::<Object<'_>>(raw.get()) {
            Ok(object) => f((line, object)),
            Err(e) => {
                let found = match serde_json::from_str::<Value>(raw.get()).map_err(syntax)? {
                    Value::Object(_) => return Err(syntax(e)),
                    other => kind(&other),
                };
                return Err(SyntaxError::new(
                    file,
                    line,
                    1,
                    format!("expected an object, found {found}"),
                ));
            }
        }
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON value as text: PowerShell's rendering for scalars, JSON for the rest.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `/Date(1326441600000)/` or `/Date(1326441600000+0100)/` as ISO 8601; `None`
/// for any other string, or a date outside the representable range.
pub fn ms_date(s: &str) -> Option<String> {
    let inner = s.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let split = inner.get(1..)?.find(['+', '-']).map(|p| p + 1);
    let (ms, offset) = match split {
        Some(p) => inner.split_at(p),
        None => (inner, ""),
    };
    let ms: i64 = ms.parse().ok()?;
    let utc = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    let at = if offset.is_empty() {
        utc
    } else {
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let digits = offset.get(1..)?;
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let hours: i8 = digits[..2].parse().ok()?;
        let minutes: i8 = digits[2..].parse().ok()?;
        let offset = time::UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()?;
        utc.to_offset(offset)
    };
    at.format(&time::format_description::well_known::Rfc3339).ok()
}

/// Rewrites 5.1 dates as ISO 8601 throughout a value.
pub fn normalise_dates(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(iso) = ms_date(s) {
                *s = iso;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise_dates),
        Value::Object(map) => {
            // `{"value": "/Date(...)/", "DisplayHint": 2, "DateTime": "..."}`
            let date = map
                .get("value")
                .and_then(Value::as_str)
                .filter(|_| map.contains_key("DateTime"))
                .and_then(ms_date);
            match date {
                Some(iso) => *v = Value::String(iso),
                None => map.values_mut().for_each(normalise_dates),
            }
        }
        _ => {}
    }
}

/// Property paths under `v` whose value is a depth-truncated object.
fn depth_truncated(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::String(s) if is_depth_truncated(s) => out.push(path.to_owned()),
        Value::Array(items) => {
            for (k, item) in items.iter().enumerate() {
                depth_truncated(item, &format!("{path}[{k}]"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                depth_truncated(item, &format!("{path}.{key}"), out);
            }
        }
        _ => {}
    }
}

/// Parses JSON text into records.
pub fn parse(file: &Arc<str>, text: &str) -> Result<Parsed, SyntaxError> {
    let mut objects = Objects::new(file);
    each_object(file, text, &mut |object| objects.add(object))?;
    Ok(objects.finish())
}

/// The columns of JSON records: every property name, in the order first seen.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    names: Vec<String>,
    index: FxHashMap<String, usize>,
}

impl Columns {
    /// The column of property `key`, added when it is new.
    pub fn add(&mut self, key: &str) -> usize {
        if let Some(&k) = self.index.get(key) {
            return k;
        }
        self.index.insert(key.to_owned(), self.names.len());
        self.names.push(key.to_owned());
        self.names.len() - 1
    }

    /// [`Columns::add`], looking first at column `hint`.
    pub fn add_at(&mut self, key: &str, hint: usize) -> usize {
        match self.names.get(hint) {
            Some(name) if name == key => hint,
            _ => self.add(key),
        }
    }

    /// The names, in the order first seen.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// One object, which begins on `line`, as a record: each value as text
/// ([`text`], dates normalised), as wide as `columns` (which gains the
/// object's new property names), with a warning for values `-Depth` cut.
pub fn record(
    file: &Arc<str>,
    columns: &mut Columns,
    (line, object): LineObject<'_>,
    warnings: &mut Vec<Warning>,
) -> Record {
    let (mut paths, mut values) = (Vec::new(), vec![None; columns.names.len()]);
    for (k, (key, field)) in object.0.into_iter().enumerate() {
        let text = match field {
            Field::Str(s) => {
                let s = ms_date(&s).unwrap_or_else(|| s.into_owned());
                if is_depth_truncated(&s) {
                    paths.push(key.clone().into_owned());
                }
                s
            }
            Field::Other(mut value) => {
                normalise_dates(&mut value);
                depth_truncated(&value, &key, &mut paths);
                self::text(&value)
            }
        };
        // Objects mostly list their properties in the same order: the
        // `k`th is mostly the `k`th column.
        let column = columns.add_at(&key, k);
        if column >= values.len() {
            values.resize(column + 1, None);
        }
        values[column] = Some(text);
    }
    if !paths.is_empty() {
        warnings.push(Warning {
            code: "depth-truncated",
            source: Some(Source { file: crate::model::Text::new(file), line }),
            message: format!(
                "{} cut by ConvertTo-Json's -Depth (a type name where an object was): the values are lost; re-export with `ConvertTo-Json -Depth 10`",
                paths.join(", ")
            ),
        });
    }
    Record { line, values }
}

/// The records of a JSON text's objects, built one object at a time.
#[derive(Debug)]
pub struct Objects {
    file: Arc<str>,
    columns: Columns,
    rows: Vec<Record>,
    warnings: Vec<Warning>,
}

impl Objects {
    /// No records yet.
    pub fn new(file: &Arc<str>) -> Objects {
        let (columns, rows, warnings) = Default::default();
        Objects { file: file.clone(), columns, rows, warnings }
    }

    /// Adds one object, which begins on `line`, as a record.
    pub fn add(&mut self, object: LineObject) {
        self.rows.push(record(&self.file, &mut self.columns, object, &mut self.warnings));
    }

    /// The records, every row as wide as the columns.
    pub fn finish(self) -> Parsed {
        let mut table = Table { columns: self.columns.names, rows: self.rows };
        table.widen();
        Parsed { table, warnings: self.warnings, ..Parsed::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record from the borrowed object is what `serde_json::Map` gives: a
    /// name given twice keeps its first place and takes its last value (also
    /// past the names looked through one by one), escapes are decoded, dates
    /// normalised, numbers, booleans, nulls and nested values rendered, and
    /// values `-Depth` cut are named.
    #[test]
    fn a_record_reads_each_property_as_a_map_of_values_would() {
        // A value `-Depth` cut, then given again: only the last counts.
        let mut wide: Vec<String> = (0..24).map(|k| format!("\"P{k}\": \"v{k}\"")).collect();
        wide[18] = "\"P18\": \"System.Object[]\"".into();
        wide.insert(20, "\"P3\": \"again\"".into());
        wide.push("\"P18\": 7".into());
        let objects = [
            r#"{"a": "x", "b": 1.50, "a": "y", "c": null, "Lost": "@{a=1}", "d": true, "Lost": "ok"}"#.to_owned(),
            r#"{"q": "say \"hi\" \u00e9\\", "When": "\/Date(1326441600000)\/", "N": {"x": [1, "\/Date(0)\/"]}}"#.to_owned(),
            r#"{"Remote": {"value": "\/Date(1326441600000+0100)\/", "DisplayHint": 2, "DateTime": "x"}, "Cut": "System.Collections.Hashtable", "b": -2e3}"#.to_owned(),
            format!("{{{}}}", wide.join(", ")),
        ];
        let file: Arc<str> = Arc::from("T.json");
        let (mut columns, mut warnings) = (Columns::default(), Vec::new());
        let (mut expected_columns, mut expected_warned) = (Columns::default(), Vec::new());
        for (line, text) in objects.iter().enumerate() {
            let object: Object<'_> = serde_json::from_str(text).unwrap();
            let got = record(&file, &mut columns, (line + 1, object), &mut warnings);
            // The oracle: the map serde_json builds, rendered value by value.
            let mut map: serde_json::Map<String, Value> = serde_json::from_str(text).unwrap();
            let mut paths = Vec::new();
            let mut want = Vec::new();
            for (key, value) in map.iter_mut() {
                normalise_dates(value);
                depth_truncated(value, key, &mut paths);
                let column = expected_columns.add(key);
                want.resize(want.len().max(column + 1), None);
                want[column] = Some(super::text(value));
            }
            if !paths.is_empty() {
                expected_warned.push((line + 1, paths.join(", ")));
            }
            want.resize(got.values.len(), None);
            assert_eq!(got.values, want, "{text}");
            assert_eq!(columns.names(), expected_columns.names(), "{text}");
        }
        let warned: Vec<(usize, String)> = warnings
            .iter()
            .map(|w| {
                (
                    w.source.as_ref().unwrap().line,
                    w.message.split(" cut").next().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(warned, expected_warned);
        assert_eq!(warned, [(3, "Cut".to_owned())]);
        // Spot checks of what the oracle says.
        let names = columns.names();
        let at = |n: &str| names.iter().position(|c| c == n).unwrap();
        let value_of = |k: usize| {
            let object = serde_json::from_str(&objects[k]).unwrap();
            record(&file, &mut columns.clone(), (k + 1, object), &mut Vec::new()).values
        };
        let first = value_of(0);
        assert_eq!(first[at("a")].as_deref(), Some("y"));
        assert_eq!(first[at("b")].as_deref(), Some("1.5"));
        assert_eq!((at("a"), at("b"), at("c")), (0, 1, 2));
        let wide = value_of(3);
        assert_eq!(wide[at("P3")].as_deref(), Some("again"));
        assert_eq!(wide[at("P18")].as_deref(), Some("7"));
        assert_eq!(at("P4"), at("P3") + 1);
    }

    #[test]
    fn array_of_objects_with_lines() {
        let text = "[\n  {\n    \"IsEnabled\": true,\n    \"Id\": \"x\"\n  },\n  {\n    \"IsEnabled\": null,\n    \"Conditions\": {\"ClientAppTypes\": [\"other\"]}\n  }\n]\n";
        let p = parse(&Arc::from("T.json"), text).unwrap();
        assert_eq!(p.table.columns, ["IsEnabled", "Id", "Conditions"]);
        assert_eq!(p.table.rows[0].line, 2);
        assert_eq!(p.table.rows[1].line, 6);
        assert_eq!(p.table.rows[0].values, [Some("True".into()), Some("x".into()), None]);
        assert_eq!(p.table.rows[1].values[2].as_deref(), Some("{\"ClientAppTypes\":[\"other\"]}"));
    }

    #[test]
    fn windows_powershell_dates_become_iso_8601() {
        assert_eq!(ms_date("/Date(1326441600000)/").as_deref(), Some("2012-01-13T08:00:00Z"));
        assert_eq!(
            ms_date("/Date(1326441600000+0100)/").as_deref(),
            Some("2012-01-13T09:00:00+01:00")
        );
        assert_eq!(ms_date("/Date(-86400000)/").as_deref(), Some("1969-12-31T00:00:00Z"));
        assert_eq!(ms_date("/Date(99999999999999999999)/"), None);
        assert_eq!(ms_date("/Date(x)/"), None);
        assert_eq!(ms_date("Date"), None);
        let text = "{\"When\": \"\\/Date(1326441600000)\\/\", \"Remote\": {\"value\": \"\\/Date(0)\\/\", \"DisplayHint\": 2, \"DateTime\": \"Thursday, January 1, 1970\"}}";
        let p = parse(&Arc::from("T.json"), text).unwrap();
        assert_eq!(
            p.table.rows[0].values,
            [Some("2012-01-13T08:00:00Z".into()), Some("1970-01-01T00:00:00Z".into())]
        );
    }

    #[test]
    fn depth_truncated_values_warn_with_line_and_path() {
        let text = "[\n{\"Name\": \"a\", \"Conditions\": {\"Users\": \"Microsoft.Graph.PowerShell.Models.MicrosoftGraphConditionalAccessUsers\", \"Apps\": [\"@{x=1}\"]}}\n]";
        let p = parse(&Arc::from("T.json"), text).unwrap();
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.warnings[0].source.as_ref().unwrap().line, 2);
        assert!(
            p.warnings[0].message.starts_with("Conditions.Users, Conditions.Apps[0] cut by"),
            "{}",
            p.warnings[0].message
        );
    }

    #[test]
    fn single_object_and_errors() {
        let p = parse(&Arc::from("T.json"), "{\"IsEnabled\": false}").unwrap();
        assert_eq!(p.table.rows[0].values, [Some("False".into())]);
        let err = parse(&Arc::from("T.json"), "[{\"a\": 1},\n {\"b\": }]").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(parse(&Arc::from("T.json"), "[1, 2]").is_err());
    }
}
