//! Sign-in logs as JSON: the Entra portal's download (an array), the Graph
//! `auditLogs/signIns` response (`{"@odata.context", "value": [...]}`) and
//! `Get-MgAuditLogSignIn | ConvertTo-Json` (PascalCase; an array, or one object
//! for a single event).
//!
//! A download or Graph response (an array of events, or an object with a
//! `"value"` array) in UTF-8, UTF-16 or Windows-1252 is read from its file a
//! block at a time ([`read_path`]): each event's text is found by its strings
//! and brackets and parsed on its own, so neither the file nor its events are
//! held. Anything else (a single event, any error) is read whole
//! ([`read_whole`]), decoded, and parsed by serde_json in one go, which gives
//! the exact error; each event is still counted as it is met, and its line
//! found from its offset. Both count events with the same [`Counter`].

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Event, EvidenceError, Names, Needed, Sink, is};
use crate::decode::DecodingReader;
use crate::input::json::Key;
use crate::input::json_stream::{self, BLOCK};
use crate::input::stream::Counted;
use crate::progress::{Progress, Unit};

/// How reading a JSON sign-in log from its file ended.
#[derive(Debug)]
pub(super) enum Streamed {
    /// Read: the log's kind.
    Read(&'static str),
    /// Not one for the stream: read it whole with [`read_whole`], into a fresh
    /// sink.
    ReadWhole,
    /// Not UTF-8, where the whole-file reader would read it as Windows-1252:
    /// read it again so ([`Decoding::Windows1252`]), into a fresh sink.
    Windows1252 {
        /// The bytes this read counted to its progress.
        counted: u64,
    },
}

/// How [`read_path`] decodes the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decoding {
    /// UTF-8 or UTF-16, by its byte-order mark.
    AsMarked,
    /// Windows-1252, after a read as marked found it was not UTF-8 and had
    /// counted `counted` of its bytes (which are not counted again).
    Windows1252 {
        /// The bytes the first read counted.
        counted: u64,
    },
}

/// Reads a JSON sign-in log straight from its file, a block at a time,
/// counting each event into `sink` as it is found, so that neither the file
/// nor its events are held. It reads the shapes downloads and Graph write (an
/// array of events; an object whose `"value"` array holds them) in UTF-8 or
/// UTF-16 by the byte-order mark ([`Decoding::AsMarked`]). A file that is
/// not UTF-8 it leaves to be read again as Windows-1252
/// ([`Streamed::Windows1252`]) where the whole-file reader would read it so
/// (`Set-Content` and `Out-File -Encoding Default` in Windows PowerShell 5.1
/// write it). Anything else goes to [`read_whole`]: a single event, and any
/// file with an error (bytes out of place, an event that is not valid JSON or
/// lacks the properties), which that reader reports exactly.
pub(super) fn read_path(
    path: &Path,
    sink: &mut Sink<'_>,
    progress: &dyn Progress,
    decoding: Decoding,
) -> Result<Streamed, EvidenceError> {
    let file = sink.file.clone();
    let io = |e: io::Error| EvidenceError::Shape { file: file.clone(), message: e.to_string() };
    let input = std::fs::File::open(path).map_err(io)?;
    let mut counter = Counter { sink, pascal: None, first: true };
    let skip = match decoding {
        Decoding::AsMarked => 0,
        Decoding::Windows1252 { counted } => counted,
    };
    let tally = Tally { progress, read: AtomicU64::new(0), skip };
    let input = Counted { inner: input, progress: &tally };
    // An event that is not an object of properties, or a first one without
    // them, leaves the file to the whole reader.
    let mut count = |text: &str, line, _| matches!(counter.event(text, line), Ok(Ok(())));
    let mut envelope = Envelope::default();
    let mut note = |name: &str| envelope.note(name);
    let top = json_stream::Top::ArrayOrResponse;
    let scanned = match decoding {
        Decoding::AsMarked => json_stream::scan_file(input, BLOCK, top, &mut count, &mut note),
        Decoding::Windows1252 { .. } => {
            let input = DecodingReader::windows_1252(input, &[]);
            json_stream::scan_file(input, BLOCK, top, &mut count, &mut note)
        }
    };
    match scanned {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(Streamed::ReadWhole),
        Err(e)
            if decoding == Decoding::AsMarked
                && json_stream::is_not_utf8(&e)
                && json_stream::windows_1252(path).map_err(io)? =>
        {
            return Ok(Streamed::Windows1252 { counted: tally.read.into_inner() });
        }
        Err(e) if e.kind() == io::ErrorKind::InvalidData => return Ok(Streamed::ReadWhole),
        Err(e) => return Err(io(e)),
    };
    Ok(Streamed::Read(finish(counter, envelope)))
}

/// A read's bytes, counted to `progress` past the first `skip` of them (which
/// an earlier read of the same file counted).
struct Tally<'p> {
    progress: &'p dyn Progress,
    /// The bytes read so far.
    read: AtomicU64,
    skip: u64,
}

impl Progress for Tally<'_> {
    fn start(&self, stage: &'static str, total: Option<u64>, unit: Unit) {
        self.progress.start(stage, total, unit);
    }

    fn advance(&self, n: u64) {
        let before = self.read.fetch_add(n, Ordering::Relaxed);
        let new = (before + n).saturating_sub(before.max(self.skip));
        if new > 0 {
            self.progress.advance(new);
        }
    }

    fn finish(&self) {
        self.progress.finish();
    }

    fn shown(&self) -> bool {
        self.progress.shown()
    }
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
                // The name is borrowed from the text (an event has about 25,
                // a Graph download millions of events) and trimmed once.
                while let Some(Key(key)) = map.next_key()? {
                    let name = key.trim();
                    let is = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(name));
                    let slot = if is(Names::TIME) {
                        &mut f.time
                    } else if is(Names::USER_ID) {
                        &mut f.user_id
                    } else if is(Names::UPN) {
                        &mut f.upn
                    } else if is(Names::CLIENT_APP) {
                        f.pascal = key.starts_with('C');
                        &mut f.client_app
                    } else if is(Names::STATUS) {
                        &mut f.status
                    } else if is(Names::ERROR_CODE) {
                        &mut f.error_code
                    } else if is(Names::IP) {
                        &mut f.ip
                    } else if is(Names::USER_AGENT) {
                        &mut f.user_agent
                    } else if is(Names::INTERACTIVE) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Sums what it is told.
    #[derive(Default)]
    struct Bytes(AtomicU64);

    impl Progress for Bytes {
        fn start(&self, _: &'static str, _: Option<u64>, _: Unit) {}
        fn advance(&self, n: u64) {
            self.0.fetch_add(n, Ordering::Relaxed);
        }
        fn finish(&self) {}
    }

    /// A Graph response of `n` events; the users' display names are ASCII
    /// until event `from`, then Windows-1252 letters.
    fn response(n: usize, from: usize) -> String {
        let mut text = String::from(
            "{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns\",\"value\":[\r\n",
        );
        for i in 0..n {
            let name = if i < from {
                "Bjorn Wei"
            } else {
                ["Björn Weiß", "Zoë €uro", "Ångström"][i % 3]
            };
            let app = ["POP3", "IMAP4", "Authenticated SMTP", "Browser"][i % 4];
            let code = if i % 5 == 0 { 50126 } else { 0 };
            let day = if i % 97 == 0 {
                "2026-13-45".to_owned()
            } else {
                format!("2026-11-{:02}", 1 + i % 28)
            };
            text.push_str(&format!(
                "{}{{\r\n  \"createdDateTime\": \"{day}T10:00:00Z\",\r\n  \"userDisplayName\": \"{name}\",\r\n  \"userPrincipalName\": \"user{}@contoso.com\",\r\n  \"clientAppUsed\": \"{app}\",\r\n  \"ipAddress\": \"198.51.100.{}\",\r\n  \"userAgent\": \"agent {}\",\r\n  \"status\": {{ \"errorCode\": {code} }}\r\n}}",
                if i == 0 { "" } else { ",\r\n" },
                i % 13,
                i % 200,
                i % 7,
            ));
        }
        text.push_str("]}\r\n");
        text
    }

    /// The text as Windows-1252 bytes (it holds only letters that has).
    fn windows_1252(text: &str) -> Vec<u8> {
        text.chars()
            .map(|c| match c {
                '€' => 0x80,
                c => u8::try_from(u32::from(c)).expect("a Windows-1252 letter"),
            })
            .collect()
    }

    /// A Windows-1252 response is streamed: the read as marked stops at its
    /// first letter beyond ASCII, the read again as Windows-1252 counts what
    /// the whole-file reader counts, and the bytes are counted once.
    #[test]
    fn a_windows_1252_response_is_streamed_and_counts_what_the_whole_reader_counts() {
        let snapshot = crate::evidence::mailboxes_for_tests(10);
        let index = snapshot.identity_index();
        let file: std::sync::Arc<str> = std::sync::Arc::from("signIns.json");
        let dir = tempfile::tempdir().unwrap();
        let outcome = crate::evidence::sink_outcome;
        // Letters beyond ASCII from the start, and only past the first block
        // (so that the first read has counted events and bytes).
        for from in [0, 6000] {
            let bytes = windows_1252(&response(9000, from));
            assert!(bytes.len() > 2 * BLOCK);
            let path = dir.path().join(format!("signIns-{from}.json"));
            std::fs::write(&path, &bytes).unwrap();
            let mut whole = Sink::new(&file, &index, None, None);
            assert_eq!(read_whole(&path, &mut whole).unwrap(), "graph-json");

            let progress = Bytes::default();
            let mut first = Sink::new(&file, &index, None, None);
            let read = read_path(&path, &mut first, &progress, Decoding::AsMarked).unwrap();
            let Streamed::Windows1252 { counted } = read else { panic!("{from}: {read:?}") };
            assert!(counted > 0 && counted < bytes.len() as u64, "{from}: {counted}");
            assert_eq!(progress.0.load(Ordering::Relaxed), counted);
            let mut sink = Sink::new(&file, &index, None, None);
            let again = read_path(&path, &mut sink, &progress, Decoding::Windows1252 { counted });
            assert!(matches!(again.unwrap(), Streamed::Read("graph-json")), "{from}");
            assert_eq!(progress.0.load(Ordering::Relaxed), bytes.len() as u64, "{from}");
            assert_eq!(outcome(&sink), outcome(&whole), "{from}");
            // Every event counted or rejected (a day 13-45 every 97th).
            assert_eq!((sink.events, sink.rejected.len()), (9000 - 93, 93), "{from}");
            // And as a run reads the file: no event of the first read stays.
            let (source, mut read, names) =
                crate::evidence::read_file(&path, &index, None, &Bytes::default()).unwrap();
            assert_eq!((source.kind, source.events), ("graph-json", 9000 - 93), "{from}");
            read.unmatched = names;
            whole.settle();
            read.settle();
            assert_eq!(outcome(&read), outcome(&whole), "{from}");
        }
    }

    /// A file in two encodings, or that looks binary, is left to the whole
    /// reader, which names what is wrong.
    #[test]
    fn two_encodings_or_a_binary_start_are_left_to_the_whole_reader() {
        let snapshot = crate::evidence::mailboxes_for_tests(10);
        let index = snapshot.identity_index();
        let file: std::sync::Arc<str> = std::sync::Arc::from("signIns.json");
        let dir = tempfile::tempdir().unwrap();
        let text = response(300, 0);
        // UTF-8 and Windows-1252 in either order: the read as marked stops at
        // the first Windows-1252 letter, the read as Windows-1252 at the first
        // UTF-8 one, and the whole reader says what it found.
        let half = text.len() / 2;
        let half = (half..).find(|&k| text.is_char_boundary(k)).unwrap();
        let path = dir.path().join("mixed.json");
        for utf8_first in [true, false] {
            let (utf8, ansi) = if utf8_first {
                (&text[..half], &text[half..])
            } else {
                (&text[half..], &text[..half])
            };
            let (utf8, ansi) = (utf8.as_bytes().to_vec(), windows_1252(ansi));
            std::fs::write(&path, if utf8_first { [utf8, ansi] } else { [ansi, utf8] }.concat())
                .unwrap();
            let mut sink = Sink::new(&file, &index, None, None);
            let read = read_path(&path, &mut sink, &Bytes::default(), Decoding::AsMarked).unwrap();
            let Streamed::Windows1252 { counted } = read else { panic!("{read:?}") };
            let mut sink = Sink::new(&file, &index, None, None);
            let decoding = Decoding::Windows1252 { counted };
            let again = read_path(&path, &mut sink, &Bytes::default(), decoding).unwrap();
            assert!(matches!(again, Streamed::ReadWhole), "{utf8_first}: {again:?}");
            let mut sink = Sink::new(&file, &index, None, None);
            let err = read_whole(&path, &mut sink).unwrap_err().to_string();
            assert!(err.contains("encodings"), "{utf8_first}: {err}");
        }

        // A control byte in the first bytes, after a letter beyond ASCII: the
        // whole reader names the byte.
        let mut binary = windows_1252(&text);
        binary[2000] = 0x01;
        std::fs::write(&path, &binary).unwrap();
        let mut sink = Sink::new(&file, &index, None, None);
        let read = read_path(&path, &mut sink, &Bytes::default(), Decoding::AsMarked).unwrap();
        assert!(matches!(read, Streamed::ReadWhole), "{read:?}");
        let mut sink = Sink::new(&file, &index, None, None);
        let err = read_whole(&path, &mut sink).unwrap_err().to_string();
        assert!(err.contains("0x01"), "{err}");
    }
}
