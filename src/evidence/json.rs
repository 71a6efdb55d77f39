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
use std::io::{self, Read};
use std::path::Path;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Event, EvidenceError, Names, Needed, Sink, is};
use crate::decode::{DecodingReader, read_full, read_some};
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
    let input = super::Counting { inner: input, progress };
    // An event that is not an object of properties, or a first one without
    // them, leaves the file to the whole reader.
    let mut count = |text: &str, line| matches!(counter.event(text, line), Ok(Ok(())));
    let envelope = match scan_file(input, BLOCK, &mut count) {
        Ok(Some(envelope)) => envelope,
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
    /// It has a `"value"` (read by [`scan`]).
    seen_value: bool,
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

/// Bytes read at a time; an event longer than a block grows it.
const BLOCK: usize = 1 << 20;

/// Where [`scan`] is in the document's own structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the document.
    Start,
    /// In the array of events (the document itself, or the response's
    /// `"value"`), at a place in it.
    Events(Slot),
    /// In the response object, at a place in it.
    Object(Slot),
    /// After a property's name (`value`: whether it is `"value"`).
    Colon { value: bool },
    /// After the colon.
    Value { value: bool },
    /// After the document.
    End,
}

/// A place in a list of elements or properties: before the first, after a
/// comma, after an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    First,
    Next,
    After,
}

/// [`scan`] of a file's bytes: UTF-16 after its byte-order mark (Windows
/// PowerShell 5.1's `ConvertTo-Json > file`) is decoded as it is read (an
/// `InvalidData` error when it is not UTF-16), anything else read as UTF-8
/// (after its byte-order mark, if it has one).
fn scan_file<R: Read>(
    mut input: R,
    block: usize,
    event: &mut dyn FnMut(&str, usize) -> bool,
) -> io::Result<Option<Envelope>> {
    let mut mark = [0; 3];
    let n = read_full(&mut input, &mut mark)?;
    match mark[..n] {
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => {
            scan(DecodingReader::utf16(input, mark[0] == 0xFE, &mark[2..n]), block, event)
        }
        [0xEF, 0xBB, 0xBF] => scan(input, block, event),
        _ => scan(mark[..n].chain(input), block, event),
    }
}

/// Reads the events of a JSON sign-in log from `input`, in blocks of `block`
/// bytes (one event longer than that grows it), and hands each to `event`
/// with its line, which says whether it was counted; returns what the
/// response's properties say, or `None` when the file is left to
/// [`read_whole`] (see [`read_path`]).
///
/// Each event's text is found by following its strings and brackets, then
/// parsed on its own; a response's other property values are checked as JSON
/// the same way, and the bytes between them must be what JSON allows there.
/// So a file read here is one `serde_json` reads whole, event for event.
fn scan<R: Read>(
    mut input: R,
    block: usize,
    event: &mut dyn FnMut(&str, usize) -> bool,
) -> io::Result<Option<Envelope>> {
    let mut buf = vec![0; block.max(16)];
    // `buf[pos..filled]`: bytes read and not taken yet; `counted`: the
    // offset up to which line breaks are counted, `line` the line there.
    let (mut filled, mut pos, mut eof) = (0, 0, false);
    let (mut line, mut counted) = (1, 0);
    let (mut at, mut envelope, mut response) = (At::Start, Envelope::default(), false);
    loop {
        while pos < filled && matches!(buf[pos], b' ' | b'\t' | b'\r' | b'\n') {
            pos += 1;
        }
        if pos == filled {
            if eof {
                break;
            }
        } else {
            let b = buf[pos];
            let bytes = &buf[..filled];
            let taken = match (at, b) {
                (At::Start, b'[') => Some((At::Events(Slot::First), pos + 1)),
                (At::Start, b'{') => {
                    response = true;
                    Some((At::Object(Slot::First), pos + 1))
                }
                (At::Events(Slot::First | Slot::Next), b'{') => match value_end(bytes, pos) {
                    Some(end) => {
                        line += memchr::memchr_iter(b'\n', &bytes[counted..pos]).count();
                        counted = pos;
                        let Ok(text) = crate::decode::text(&bytes[pos..end]) else {
                            return Ok(None);
                        };
                        if !event(text, line) {
                            return Ok(None);
                        }
                        Some((At::Events(Slot::After), end))
                    }
                    None => None,
                },
                (At::Events(Slot::After), b',') => Some((At::Events(Slot::Next), pos + 1)),
                (At::Events(Slot::First | Slot::After), b']') => {
                    let next = if response { At::Object(Slot::After) } else { At::End };
                    Some((next, pos + 1))
                }
                (At::Object(Slot::First | Slot::Next), b'"') => {
                    match string_end(bytes, pos + 1) {
                        Some(end) => {
                            // The name as JSON reads it (escapes and all).
                            let name = crate::decode::text(&bytes[pos..end]).ok();
                            let name = name.and_then(|n| serde_json::from_str::<String>(n).ok());
                            let Some(name) = name else { return Ok(None) };
                            let value = name.eq_ignore_ascii_case("value");
                            envelope.note(&name);
                            Some((At::Colon { value }, end))
                        }
                        None => None,
                    }
                }
                (At::Colon { value }, b':') => Some((At::Value { value }, pos + 1)),
                (At::Value { value: true }, b'[') => Some((At::Events(Slot::First), pos + 1)),
                (At::Value { value: false }, _) => match value_end(bytes, pos) {
                    Some(end) => {
                        let Ok(text) = crate::decode::text(&bytes[pos..end]) else {
                            return Ok(None);
                        };
                        if serde_json::from_str::<IgnoredAny>(text).is_err() {
                            return Ok(None);
                        }
                        Some((At::Object(Slot::After), end))
                    }
                    None => None,
                },
                (At::Object(Slot::After), b',') => Some((At::Object(Slot::Next), pos + 1)),
                // Without a `"value"`: one event on its own, or no sign-in log.
                (At::Object(Slot::First | Slot::After), b'}') if envelope.seen_value => {
                    Some((At::End, pos + 1))
                }
                _ => return Ok(None),
            };
            if let Some((next, end)) = taken {
                if let At::Value { value: true } = at {
                    envelope.seen_value = true;
                }
                (at, pos) = (next, end);
                continue;
            }
            // What starts at `pos` goes on past the bytes read.
            if eof {
                return Ok(None);
            }
        }
        // Read on, keeping what is not taken.
        line += memchr::memchr_iter(b'\n', &buf[counted..pos]).count();
        buf.copy_within(pos..filled, 0);
        (filled, pos, counted) = (filled - pos, 0, 0);
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = read_some(&mut input, &mut buf[filled..])?;
        (filled, eof) = (filled + n, n == 0);
    }
    Ok((at == At::End).then_some(envelope))
}

/// The offset just past the string whose text starts at `from` (after its
/// opening quote); `None` when `bytes` end first.
fn string_end(bytes: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let k = from + memchr::memchr2(b'"', b'\\', bytes.get(from..)?)?;
        match bytes[k] {
            b'"' => return Some(k + 1),
            _ => from = k + 2,
        }
    }
}

/// The offset just past the JSON value that starts at `from` (by its strings
/// and brackets; a scalar ends where a delimiter or blank follows it); `None`
/// when `bytes` end first. Whether it is valid JSON is left to the parser.
fn value_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut k = from;
    loop {
        match *bytes.get(k)? {
            b'"' => k = string_end(bytes, k + 1)?,
            b'{' | b'[' => {
                depth += 1;
                k += 1;
            }
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                k += 1;
            }
            b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n' if depth == 0 => return Some(k),
            _ => k += 1,
        }
        if depth == 0 && k > from && matches!(bytes[from], b'"' | b'{' | b'[') {
            return Some(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Seen = (Vec<(usize, String)>, bool, bool);

    /// The events (line, text) of `bytes` read by [`scan`] in blocks of `block`,
    /// and whether the response is Graph's and has more pages. Like
    /// [`read_path`], an event that is not a JSON object stops the stream.
    fn scanned(bytes: &[u8], block: usize) -> Option<Seen> {
        let mut seen = Vec::new();
        let mut event = |text: &str, line| {
            seen.push((line, text.to_owned()));
            serde_json::from_str::<serde_json::Map<String, Value>>(text).is_ok()
        };
        let envelope = scan_file(bytes, block, &mut event).ok()??;
        Some((seen, envelope.graph, envelope.next_link))
    }

    /// The same read by serde_json from the whole text: an array of objects,
    /// or an object with a `"value"` array of them.
    fn whole(text: &str) -> Option<Seen> {
        #[derive(serde::Deserialize)]
        struct Response<'a> {
            #[serde(borrow)]
            value: Vec<&'a RawValue>,
            #[serde(rename = "@odata.context", default)]
            context: Option<&'a RawValue>,
            #[serde(rename = "@odata.nextLink", default)]
            next: Option<&'a RawValue>,
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (events, graph, next) = match text.trim_start().as_bytes().first()? {
            b'[' => (serde_json::from_str::<Vec<&RawValue>>(text).ok()?, false, false),
            _ => {
                let r: Response = serde_json::from_str(text).ok()?;
                (r.value, r.context.is_some() || r.next.is_some(), r.next.is_some())
            }
        };
        let line = |raw: &RawValue| {
            let at = raw.get().as_ptr() as usize - text.as_ptr() as usize;
            1 + text.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count()
        };
        if events.iter().any(|e| !e.get().starts_with('{')) {
            return None;
        }
        Some((events.iter().map(|e| (line(e), e.get().to_owned())).collect(), graph, next))
    }

    /// Events whose strings hold every byte that means something outside a
    /// string, nested objects and arrays, letters beyond ASCII, blank lines.
    const RESPONSE: &str = "{\"@odata.context\": \"https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns\",\r\n  \"value\": [\r\n    {\"id\": \"1\", \"userPrincipalName\": \"a@contoso.com\", \"clientAppUsed\": \"POP3\",\r\n     \"note\": \"} ] [ { \\\" \\\\ , : \\u0041\", \"n\": [1, {\"x\": []}, -2.5e3, true, null],\r\n     \"status\": {\"errorCode\": 0}},\r\n\r\n    {\"id\":\"2\",\"userPrincipalName\":\"zo\u{eb}@contoso.com\",\"clientAppUsed\":\"Authenticated SMTP\",\"location\":{\"city\":\"Z\u{fc}rich\"},\"status\":{\"errorCode\":50126}}\r\n  ],\r\n  \"@odata.nextLink\": \"https://graph.microsoft.com/v1.0/auditLogs/signIns?$skiptoken=a]}\"\r\n}\r\n";

    #[test]
    fn events_are_read_in_blocks_as_serde_reads_them_whole() {
        let fixtures = ["graph/signIns.json", "powershell7/SignIns.json"]
            .map(|f| std::fs::read_to_string(format!("fixtures/contoso-signins/{f}")).unwrap());
        let events = RESPONSE.split_once("\"value\": [").unwrap().1;
        let array = format!("[{}]", events.split_once("\r\n  ],").unwrap().0);
        let bom = format!("\u{feff}{RESPONSE}");
        for text in [RESPONSE, &array, &bom, &fixtures[0], &fixtures[1]] {
            let expected = whole(text).unwrap();
            assert!(expected.0.len() >= 2, "{text}");
            // As it is, and as UTF-16 in either byte order.
            let units = || text.strip_prefix('\u{feff}').unwrap_or(text).encode_utf16();
            let le: Vec<u8> =
                [0xFF, 0xFE].into_iter().chain(units().flat_map(u16::to_le_bytes)).collect();
            let be: Vec<u8> =
                [0xFE, 0xFF].into_iter().chain(units().flat_map(u16::to_be_bytes)).collect();
            for bytes in [text.as_bytes(), &le, &be] {
                for block in [16, 17, 31, 64, 1000, BLOCK] {
                    let got = scanned(bytes, block);
                    assert_eq!(got.as_ref(), Some(&expected), "block {block}: {text}");
                }
            }
        }
        // The fixture Windows PowerShell 5.1 wrote (UTF-16): the same events as
        // PowerShell 7's, but for its dates.
        let ps51 = std::fs::read("fixtures/contoso-signins/powershell51/SignIns.json").unwrap();
        let (events, graph, _) = scanned(&ps51, 1000).unwrap();
        assert_eq!((events.len(), graph), (whole(&fixtures[1]).unwrap().0.len(), false));
        // UTF-16 cut in the middle of a character: left to the whole reader.
        assert_eq!(scanned(&ps51[..ps51.len() - 1], 1000), None);
        let (events, graph, next) = whole(RESPONSE).unwrap();
        assert_eq!((events[0].0, events[1].0, graph, next), (3, 7, true, true));
    }

    #[test]
    fn a_document_cut_anywhere_is_left_to_the_whole_reader() {
        let end = RESPONSE.trim_end().len();
        for cut in (0..end).filter(|&c| RESPONSE.is_char_boundary(c)) {
            assert_eq!(scanned(&RESPONSE.as_bytes()[..cut], 64), None, "cut at {cut}");
        }
    }

    proptest::proptest! {
        /// A byte taken out, put in or changed anywhere: the stream reads the
        /// document only when serde_json reads it whole, and then reads the
        /// same events.
        #[test]
        fn a_damaged_document_is_read_only_when_it_is_json(
            at in 0usize..RESPONSE.len(),
            byte in proptest::sample::select(b"{}[]\",:\\ a1\n".to_vec()),
            how in 0u8..3,
            block in 16usize..80,
        ) {
            let mut bytes = RESPONSE.as_bytes().to_vec();
            match how {
                0 => { bytes.remove(at); }
                1 => bytes.insert(at, byte),
                _ => bytes[at] = byte,
            }
            let Ok(text) = std::str::from_utf8(&bytes) else { return Ok(()) };
            if let Some(got) = scanned(&bytes, block) {
                proptest::prop_assert_eq!(Some(got), whole(text), "{}", text);
            }
        }
    }
}
