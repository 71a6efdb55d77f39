//! Sign-in logs as JSON: the Entra portal's download (an array), the Graph
//! `auditLogs/signIns` response (`{"@odata.context", "value": [...]}`) and
//! `Get-MgAuditLogSignIn | ConvertTo-Json` (PascalCase; an array, or one object
//! for a single event).
//!
//! A download or Graph response (an array of events, or an object with a
//! `"value"` array) in UTF-8 or UTF-16 is read from its file a block at a time
//! ([`read_path`]): each event's text is found by its strings and brackets and
//! parsed on its own, so neither the file nor its events are held. Anything
//! else (a single event, Windows-1252, any error) is read whole
//! ([`read_whole`]), decoded, and parsed by serde_json in one go, which gives
//! the exact error; each event is still counted as it is met, and its line
//! found from its offset. Both count events with the same [`Counter`].

use std::fmt;
use std::io;
use std::path::Path;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Event, EvidenceError, Names, Needed, Sink, is};
use crate::input::json_stream::{self, BLOCK};
use crate::input::stream::Counted;
use crate::progress::Progress;

/// How reading a JSON sign-in log from its file ended.
pub(super) enum Streamed {
    /// Read: the log's kind.
    Read(&'static str),
    /// Not one for the stream: read it whole with [`read_whole`], into a fresh
    /// sink.
    ReadWhole,
}

/// Reads a JSON sign-in log straight from its file, a block at a time,
/// counting each event into `sink` as it is found, so that neither the file
/// nor its events are held. It reads the shapes downloads and Graph write (an
/// array of events; an object whose `"value"` array holds them) in UTF-8 or
/// UTF-16, and leaves anything else to [`read_whole`]: Windows-1252, a single event,
/// and any file with an error (bytes out of place, an event that is not
/// valid JSON or lacks the properties), which that reader reports exactly.
pub(super) fn read_path(
    path: &Path,
    sink: &mut Sink<'_>,
    progress: &dyn Progress,
) -> Result<Streamed, EvidenceError> {
    let file = sink.file.clone();
    let io = |e: io::Error| EvidenceError::Shape { file: file.clone(), message: e.to_string() };
    let input = std::fs::File::open(path).map_err(io)?;
    let mut counter = Counter { sink, pascal: None, first: true };
    let input = Counted { inner: input, progress };
    // An event that is not an object of properties, or a first one without
    // them, leaves the file to the whole reader.
    let mut count = |text: &str, line, _| matches!(counter.event(text, line), Ok(Ok(())));
    let mut envelope = Envelope::default();
    let mut note = |name: &str| envelope.note(name);
    match json_stream::scan_file(
        input,
        BLOCK,
        json_stream::Top::ArrayOrResponse,
        &mut count,
        &mut note,
    ) {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(Streamed::ReadWhole),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(Streamed::ReadWhole),
        Err(e) => return Err(io(e)),
    };
    Ok(Streamed::Read(finish(counter, envelope)))
}

/// Reads a JSON sign-in log whole, decoded from any encoding
/// [`crate::decode::decode`] reads, counting each event into `sink`; returns
/// its kind.
pub(super) fn read_whole(path: &Path, sink: &mut Sink<'_>) -> Result<&'static str, EvidenceError> {
    let file = sink.file.clone();
    let shape = |message: String| EvidenceError::Shape { file: file.clone(), message };
    let bytes = std::fs::read(path).map_err(|e| shape(e.to_string()))?;
    let (text, _) = crate::decode::decode(&bytes).map_err(|e| shape(e.to_string()))?;
    let mut reader = Reader {
        text: &text,
        counter: Counter { sink, pascal: None, first: true },
        line: 1,
        offset: 0,
        envelope: Envelope::default(),
    };
    let mut de = serde_json::Deserializer::from_str(&text);
    let result = (&mut de).deserialize_any(Top { reader: &mut reader }).and_then(|()| de.end());
    if let Err(e) = result {
        // A shape error was already raised as a custom message; keep it whole.
        let message = e.to_string();
        return Err(shape(if message.starts_with("a sign-in log") {
            message
        } else {
            format!(
                "line {}, column {}: not valid JSON ({e}); download the file again",
                e.line(),
                e.column()
            )
        }));
    }
    Ok(finish(reader.counter, reader.envelope))
}

/// What a Graph response's own properties say.
#[derive(Debug, Default, Clone, Copy)]
struct Envelope {
    /// It has `@odata.` properties.
    graph: bool,
    /// It has an `@odata.nextLink`: more pages follow.
    next_link: bool,
}

impl Envelope {
    /// Notes a property of the document.
    fn note(&mut self, key: &str) {
        if key.starts_with("@odata.") {
            self.graph = true;
            self.next_link |= key.eq_ignore_ascii_case("@odata.nextLink");
        }
    }
}

/// Warns of a Graph response's further pages; the log's kind.
fn finish(counter: Counter<'_, '_>, envelope: Envelope) -> &'static str {
    if envelope.next_link {
        counter.sink.warn(
            "evidence-next-page",
            "the Graph response has an @odata.nextLink: it holds only the first page of sign-ins; follow the links (Get-MgAuditLogSignIn -All does) and give every page".into(),
        );
    }
    match (envelope.graph, counter.pascal) {
        (true, _) => "graph-json",
        (false, Some(true)) => "powershell-json",
        _ => "entra-portal-json",
    }
}

/// The whole text's reader (see [`read_whole`]).
struct Reader<'t, 's, 'i> {
    text: &'t str,
    counter: Counter<'s, 'i>,
    /// The line at `offset`, moved forward as events are met.
    line: usize,
    offset: usize,
    envelope: Envelope,
}

impl Reader<'_, '_, '_> {
    /// The line on which `raw` (a slice of the text) begins.
    fn line_of(&mut self, raw: &str) -> usize {
        let at = raw.as_ptr() as usize - self.text.as_ptr() as usize;
        if at >= self.offset {
            self.line += memchr::memchr_iter(b'\n', &self.text.as_bytes()[self.offset..at]).count();
            self.offset = at;
        }
        self.line
    }

    /// Counts one event, or rejects it when it is not an object of properties.
    fn event(&mut self, raw: &RawValue) -> Result<(), String> {
        let line = self.line_of(raw.get());
        if let Err(e) = self.counter.event(raw.get(), line)? {
            let reason = format!("the event is not an object of sign-in properties: {e}");
            self.counter.sink.reject(line, reason);
        }
        Ok(())
    }
}

/// What every event goes through, however the log is read.
struct Counter<'s, 'i> {
    sink: &'s mut Sink<'i>,
    /// Whether the properties are PascalCase (ConvertTo-Json of SDK objects).
    pascal: Option<bool>,
    first: bool,
}

impl Counter<'_, '_> {
    /// Counts the event `raw` (JSON text) that begins on `line`: `Ok(Err)`
    /// when it is not an object of properties, `Err` when the first event
    /// lacks the properties a sign-in log needs.
    fn event(&mut self, raw: &str, line: usize) -> Result<Result<(), serde_json::Error>, String> {
        let fields: Fields = match serde_json::from_str(raw) {
            Ok(f) => f,
            Err(e) => return Ok(Err(e)),
        };
        if self.first {
            self.first = false;
            let missing = Needed {
                time: fields.time.is_some(),
                client_app: fields.client_app.is_some(),
                user: fields.user_id.is_some() || fields.upn.is_some(),
                status: fields.status.is_some() || fields.error_code.is_some(),
            }
            .missing(true);
            if !missing.is_empty() {
                return Err(format!(
                    "a sign-in log needs the properties {} (the first event, line {line}, lacks them); download the sign-in logs as JSON from the Entra admin center or Graph, or pipe Get-MgAuditLogSignIn to ConvertTo-Json -Depth 5",
                    missing.join(", ")
                ));
            }
            self.pascal = Some(fields.pascal);
        }
        let text = |v: &Option<Value>| -> String {
            match v {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => if *b { "True" } else { "False" }.into(),
                // A PSObject-wrapped date: {"value": "/Date(...)/", "DateTime": "..."}.
                Some(Value::Object(o)) => o
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("value"))
                    .and_then(|(_, v)| v.as_str())
                    .unwrap_or("")
                    .into(),
                _ => String::new(),
            }
        };
        let (status, error_code) = match &fields.status {
            Some(Value::Object(o)) => {
                let code = o
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("errorCode"))
                    .map(|(_, v)| v.clone());
                (String::new(), text(&code))
            }
            other => (text(other), text(&fields.error_code)),
        };
        let (time, user_id, upn, client_app) = (
            text(&fields.time),
            text(&fields.user_id),
            text(&fields.upn),
            text(&fields.client_app),
        );
        let (ip, user_agent) = (text(&fields.ip), text(&fields.user_agent));
        let interactive = match &fields.interactive {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        };
        self.sink.event(
            || line,
            &Event {
                time: &time,
                user_id: &user_id,
                upn: &upn,
                client_app: &client_app,
                status: &status,
                error_code: &error_code,
                ip: &ip,
                user_agent: &user_agent,
                interactive,
            },
        );
        Ok(Ok(()))
    }
}

/// The properties of one event that exoauth reads; the rest are skipped unparsed.
#[derive(Default)]
struct Fields {
    time: Option<Value>,
    user_id: Option<Value>,
    upn: Option<Value>,
    client_app: Option<Value>,
    status: Option<Value>,
    error_code: Option<Value>,
    ip: Option<Value>,
    user_agent: Option<Value>,
    interactive: Option<Value>,
    pascal: bool,
}

impl<'de> de::Deserialize<'de> for Fields {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sign-in event object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut f = Fields::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let slot = if is(&key, Names::TIME) {
                        &mut f.time
                    } else if is(&key, Names::USER_ID) {
                        &mut f.user_id
                    } else if is(&key, Names::UPN) {
                        &mut f.upn
                    } else if is(&key, Names::CLIENT_APP) {
                        f.pascal = key.starts_with('C');
                        &mut f.client_app
                    } else if is(&key, Names::STATUS) {
                        &mut f.status
                    } else if is(&key, Names::ERROR_CODE) {
                        &mut f.error_code
                    } else if is(&key, Names::IP) {
                        &mut f.ip
                    } else if is(&key, Names::USER_AGENT) {
                        &mut f.user_agent
                    } else if is(&key, Names::INTERACTIVE) {
                        &mut f.interactive
                    } else {
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    };
                    *slot = Some(map.next_value::<Value>()?);
                }
                Ok(f)
            }
        }
        d.deserialize_map(V)
    }
}

/// The document: an array of events, a Graph envelope, or one event.
struct Top<'r, 't, 's, 'i> {
    reader: &'r mut Reader<'t, 's, 'i>,
}

impl<'de: 't, 't> Visitor<'de> for Top<'_, 't, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of sign-in events or a Graph response with a \"value\" array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        events(self.reader, seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut pending: Vec<(String, &'de RawValue)> = Vec::new();
        let mut seen_value = false;
        while let Some(key) = map.next_key::<String>()? {
            if key.eq_ignore_ascii_case("value") {
                seen_value = true;
                map.next_value_seed(Events { reader: self.reader })?;
            } else {
                self.reader.envelope.note(&key);
                pending.push((key, map.next_value::<&'de RawValue>()?));
            }
        }
        if !seen_value && pending.iter().any(|(k, _)| is(k, Names::CLIENT_APP)) {
            // One event on its own (ConvertTo-Json of a single object): read it again whole.
            let text = self.reader.text;
            let raw: &RawValue = serde_json::from_str(text).map_err(de::Error::custom)?;
            self.reader.event(raw).map_err(de::Error::custom)?;
        } else if !seen_value {
            return Err(de::Error::custom(
                "a sign-in log needs an array of events or a \"value\" array; this JSON has neither",
            ));
        }
        Ok(())
    }
}

struct Events<'r, 't, 's, 'i> {
    reader: &'r mut Reader<'t, 's, 'i>,
}

impl<'de: 't, 't> DeserializeSeed<'de> for Events<'_, 't, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de: 't, 't> Visitor<'de> for Events<'_, 't, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of sign-in events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        events(self.reader, seq)
    }
}

fn events<'de: 't, 't, A: SeqAccess<'de>>(
    reader: &mut Reader<'t, '_, '_>,
    mut seq: A,
) -> Result<(), A::Error> {
    while let Some(raw) = seq.next_element::<&'de RawValue>()? {
        reader.event(raw).map_err(de::Error::custom)?;
    }
    Ok(())
}
