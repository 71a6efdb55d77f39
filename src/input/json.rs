//! `ConvertTo-Json` output: a single object, or an array of objects.
//!
//! Each object becomes a record whose line is where the object starts. Scalar
//! values become text the way PowerShell prints them (`True`/`False` for booleans,
//! blank for `null`); nested objects and arrays are kept as compact JSON text, so
//! that a mapper that needs the structure (Conditional Access policies) can read
//! it back.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;

use super::{Parsed, Record, SyntaxError, Table};

/// A JSON object with the 1-based line it starts on.
pub type LineObject = (usize, serde_json::Map<String, Value>);

/// The objects of a JSON document with the 1-based line each starts on.
pub fn objects(file: &Arc<str>, text: &str) -> Result<Vec<LineObject>, SyntaxError> {
    let syntax = |e: serde_json::Error| SyntaxError {
        file: file.clone(),
        line: e.line(),
        column: e.column(),
        message: format!("invalid JSON ({e}); re-export with `ConvertTo-Json -Depth 10`"),
    };
    let trimmed = text.trim_start();
    let raws: Vec<&RawValue> = if trimmed.starts_with('[') {
        serde_json::from_str(text).map_err(syntax)?
    } else {
        vec![serde_json::from_str(text).map_err(syntax)?]
    };
    let base = text.as_ptr() as usize;
    raws.into_iter()
        .map(|raw| {
            let offset = raw.get().as_ptr() as usize - base;
            let line = 1 + text.as_bytes()[..offset].iter().filter(|&&b| b == b'\n').count();
            match serde_json::from_str::<Value>(raw.get()).map_err(syntax)? {
                Value::Object(map) => Ok((line, map)),
                other => Err(SyntaxError {
                    file: file.clone(),
                    line,
                    column: 1,
                    message: format!("expected an object, found {}", kind(&other)),
                }),
            }
        })
        .collect()
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

/// Parses JSON text into records.
pub fn parse(file: &Arc<str>, text: &str) -> Result<Parsed, SyntaxError> {
    let mut table = Table::default();
    let mut index: HashMap<String, usize> = HashMap::new();
    let objects = objects(file, text)?;
    for (_, map) in &objects {
        for key in map.keys() {
            index.entry(key.clone()).or_insert_with(|| {
                table.columns.push(key.clone());
                table.columns.len() - 1
            });
        }
    }
    for (line, map) in objects {
        let mut values = vec![None; table.columns.len()];
        for (key, value) in &map {
            values[index[key]] = Some(self::text(value));
        }
        table.rows.push(Record { line, values });
    }
    Ok(Parsed { table, ..Parsed::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn single_object_and_errors() {
        let p = parse(&Arc::from("T.json"), "{\"IsEnabled\": false}").unwrap();
        assert_eq!(p.table.rows[0].values, [Some("False".into())]);
        let err = parse(&Arc::from("T.json"), "[{\"a\": 1},\n {\"b\": }]").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(parse(&Arc::from("T.json"), "[1, 2]").is_err());
    }
}
