//! [`Ids`]: the identity columns of a Get-User or Get-CASMailbox row, kept
//! compactly, and [`Id`], one identifier read back from them.
//!
//! A million-mailbox export holds two million rows, each with a Guid and an
//! ExternalDirectoryObjectId: 72 bytes of text per row that are 32 bytes of
//! information. A GUID exported in its canonical form (36 lowercase hex digits
//! and hyphens, as every Exchange and Entra cmdlet writes it) is therefore kept
//! as its 16 bytes and written back as the same 36 characters. Any other text in
//! those columns (capitals, braces, a value that is not a GUID) is kept as
//! exported, so nothing read is ever changed.

use std::fmt;
use std::ops::Deref;

/// The identity columns a Get-User or Get-CASMailbox row may carry, as exported.
/// The text columns are kept in one allocation with 16-bit offsets (no row's
/// identifiers come near 64 KiB); canonical GUIDs are kept as 16 bytes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Ids {
    text: Box<str>,
    /// The Guid and ExternalDirectoryObjectId, when `binary` says they are held here.
    guids: [[u8; 16]; 2],
    ends: [u16; 7],
    present: u8,
    /// Bit `i` (`i` < 2): field `i` is held in `guids[i]`, not in `text`.
    binary: u8,
}

/// A row whose identity columns together exceed [`Ids::MAX_LEN`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the identity columns hold {0} bytes together, more than the 65,535 a row may hold (real identifiers are a few hundred at most); is the file damaged?"
)]
pub struct IdsTooLong(pub usize);

impl Ids {
    /// `Guid`: the AD object GUID (the same on Get-CASMailbox, Get-EXOCasMailbox, Get-User).
    pub const GUID: usize = 0;
    /// `ExternalDirectoryObjectId`: the Entra object id.
    pub const EXTERNAL_DIRECTORY_OBJECT_ID: usize = 1;
    /// `UserPrincipalName` (Get-User; Get-EXOCasMailbox has none).
    pub const USER_PRINCIPAL_NAME: usize = 2;
    /// `PrimarySmtpAddress` (Get-CASMailbox) or `WindowsEmailAddress` (Get-User).
    pub const PRIMARY_SMTP_ADDRESS: usize = 3;
    /// `Identity`.
    pub const IDENTITY: usize = 4;
    /// `Name`.
    pub const NAME: usize = 5;
    /// `DisplayName`, for humans.
    pub const DISPLAY_NAME: usize = 6;

    /// The most bytes all seven identifiers of a row may hold together.
    pub const MAX_LEN: usize = u16::MAX as usize;

    /// The identifiers, in the order of the constants above.
    pub fn new(fields: [Option<&str>; 7]) -> Result<Ids, IdsTooLong> {
        let len = fields.iter().flatten().map(|f| f.len()).sum();
        if len > Ids::MAX_LEN {
            return Err(IdsTooLong(len));
        }
        let mut ids = Ids::default();
        let guids: [Option<[u8; 16]>; 2] =
            std::array::from_fn(|i| fields[i].and_then(canonical_guid));
        let binary_len: usize = guids.iter().flatten().count() * 36;
        let mut text = String::with_capacity(len - binary_len);
        for (i, f) in fields.iter().enumerate() {
            if let Some(f) = f {
                ids.present |= 1 << i;
                match guids.get(i).copied().flatten() {
                    Some(bytes) => {
                        ids.guids[i] = bytes;
                        ids.binary |= 1 << i;
                    }
                    None => text.push_str(f),
                }
            }
            ids.ends[i] = u16::try_from(text.len()).unwrap_or(u16::MAX);
        }
        ids.text = text.into_boxed_str();
        Ok(ids)
    }

    /// Every identifier, in the order of the constants.
    pub fn fields(&self) -> [Option<Id<'_>>; 7] {
        std::array::from_fn(|i| self.get(i))
    }

    /// A copy with one identifier replaced.
    pub fn with(&self, field: usize, value: Option<&str>) -> Result<Ids, IdsTooLong> {
        let fields = self.fields();
        let mut fields: [Option<&str>; 7] = std::array::from_fn(|i| fields[i].as_deref());
        fields[field] = value;
        Ids::new(fields)
    }

    /// True when identifier `i` was exported (even blank).
    pub fn has(&self, i: usize) -> bool {
        self.present & (1 << i) != 0
    }

    /// True when the row has no identifier to be known by ([`Ids::key`] is empty).
    pub fn key_is_empty(&self) -> bool {
        // A GUID held as bytes is 36 characters: never written out to tell.
        self.key_field().is_none_or(|i| {
            self.binary & (1 << i) == 0 && self.get(i).is_none_or(|id| id.is_empty())
        })
    }

    /// One identifier by its constant.
    pub fn get(&self, i: usize) -> Option<Id<'_>> {
        if self.present & (1 << i) == 0 {
            return None;
        }
        if self.binary & (1 << i) != 0 {
            return Some(Id::guid(&self.guids[i]));
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..self.ends[i] as usize).map(Id::Text)
    }

    /// `Guid`, as exported.
    pub fn guid(&self) -> Option<Id<'_>> {
        self.get(Ids::GUID)
    }

    /// `ExternalDirectoryObjectId`, as exported.
    pub fn external_directory_object_id(&self) -> Option<Id<'_>> {
        self.get(Ids::EXTERNAL_DIRECTORY_OBJECT_ID)
    }

    /// `UserPrincipalName`.
    pub fn user_principal_name(&self) -> Option<Id<'_>> {
        self.get(Ids::USER_PRINCIPAL_NAME)
    }

    /// `PrimarySmtpAddress` / `WindowsEmailAddress`.
    pub fn primary_smtp_address(&self) -> Option<Id<'_>> {
        self.get(Ids::PRIMARY_SMTP_ADDRESS)
    }

    /// `Identity`.
    pub fn identity(&self) -> Option<Id<'_>> {
        self.get(Ids::IDENTITY)
    }

    /// `Name`.
    pub fn name(&self) -> Option<Id<'_>> {
        self.get(Ids::NAME)
    }

    /// `DisplayName`.
    pub fn display_name(&self) -> Option<Id<'_>> {
        self.get(Ids::DISPLAY_NAME)
    }

    /// Which field [`Ids::key`] is: the Guid, else ExternalDirectoryObjectId,
    /// else primary SMTP address, then UPN, Identity, Name.
    fn key_field(&self) -> Option<usize> {
        [
            Ids::GUID,
            Ids::EXTERNAL_DIRECTORY_OBJECT_ID,
            Ids::PRIMARY_SMTP_ADDRESS,
            Ids::USER_PRINCIPAL_NAME,
            Ids::IDENTITY,
            Ids::NAME,
        ]
        .into_iter()
        .find(|&i| self.has(i))
    }

    /// The identifier used in reports and scripts: unique and ASCII where possible
    /// (the Guid, else ExternalDirectoryObjectId, else primary SMTP address), then
    /// UPN, Identity, Name.
    pub fn key(&self) -> Id<'_> {
        self.key_field().and_then(|i| self.get(i)).unwrap_or(Id::Text(""))
    }

    /// The [`join_key`](super::join_key) of [`Ids::key`], without writing a GUID
    /// held as 16 bytes out as text.
    pub fn join_key(&self) -> JoinKey<'_> {
        self.key_field().and_then(|i| self.join_key_of(i)).unwrap_or(JoinKey::Text("".into()))
    }

    /// The [`JoinKey`] of identifier `i`, without writing a GUID held as 16
    /// bytes out as text.
    pub fn join_key_of(&self, i: usize) -> Option<JoinKey<'_>> {
        if self.binary & (1 << i) != 0 {
            return Some(JoinKey::Guid(self.guids[i]));
        }
        self.get(i).map(|id| id.join_key())
    }

    /// A human label: UPN, SMTP address, display name, name, or the key.
    pub fn label(&self) -> Id<'_> {
        [Ids::USER_PRINCIPAL_NAME, Ids::PRIMARY_SMTP_ADDRESS, Ids::DISPLAY_NAME, Ids::NAME]
            .into_iter()
            .find_map(|i| self.get(i))
            .unwrap_or_else(|| self.key())
    }
}

impl fmt::Debug for Ids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = ["guid", "edoid", "upn", "smtp", "identity", "name", "display"];
        let mut d = f.debug_struct("Ids");
        for (name, value) in names.iter().zip(self.fields()) {
            if let Some(v) = value {
                d.field(name, &v.as_str());
            }
        }
        d.finish()
    }
}

/// One identifier read from [`Ids`]: borrowed text, or a GUID written out again.
/// Use it as a `&str` (it dereferences to one).
#[derive(Clone, Copy)]
pub enum Id<'a> {
    /// Kept as exported.
    Text(&'a str),
    /// A canonical GUID, written out.
    Guid(GuidText),
}

impl<'a> Id<'a> {
    fn guid(bytes: &[u8; 16]) -> Id<'a> {
        Id::Guid(GuidText::new(bytes))
    }

    /// The identifier's [`JoinKey`].
    pub fn join_key(&self) -> JoinKey<'a> {
        match *self {
            Id::Text(t) => JoinKey::of(t),
            Id::Guid(g) => JoinKey::Guid(g.bytes),
        }
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        match self {
            Id::Text(t) => t,
            Id::Guid(g) => g.as_str(),
        }
    }
}

impl Default for Id<'_> {
    fn default() -> Self {
        Id::Text("")
    }
}

impl Deref for Id<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Id<'_> {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Id<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Id<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl serde::Serialize for Id<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl PartialEq for Id<'_> {
    fn eq(&self, other: &Id<'_>) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Id<'_> {}

impl PartialEq<str> for Id<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Id<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A canonical GUID written out (36 ASCII characters), with its bytes.
#[derive(Clone, Copy)]
pub struct GuidText {
    text: [u8; 36],
    bytes: [u8; 16],
}

impl GuidText {
    fn new(bytes: &[u8; 16]) -> GuidText {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [b'-'; 36];
        for (k, b) in bytes.iter().enumerate() {
            text[DIGITS[2 * k]] = HEX[usize::from(b >> 4)];
            text[DIGITS[2 * k + 1]] = HEX[usize::from(b & 15)];
        }
        GuidText { text, bytes: *bytes }
    }

    /// The text's 36 bytes (lowercase hex digits and hyphens), for writers
    /// that copy bytes.
    pub fn ascii(&self) -> &[u8; 36] {
        &self.text
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and hyphens are ever written.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }
}

/// Where the 32 hex digits of a canonical GUID stand (`8-4-4-4-12`).
const DIGITS: [usize; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25, 26, 27, 28, 29,
    30, 31, 32, 33, 34, 35,
];

/// The 16 bytes of a GUID written in canonical form (`8-4-4-4-12` lowercase hex
/// digits, no braces, no spaces); `None` for any other text, which is then kept
/// as it is. Every Guid and ExternalDirectoryObjectId of every row comes
/// through here, so the digits are read eight at a time ([`hex_word`]).
fn canonical_guid(text: &str) -> Option<[u8; 16]> {
    let b: &[u8; 36] = text.as_bytes().try_into().ok()?;
    if b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let word = |at: usize| u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]));
    let words = [
        word(0) | word(4) << 32,
        word(9) | word(14) << 32,
        word(19) | word(24) << 32,
        word(28) | word(32) << 32,
    ];
    let mut out = [0u8; 16];
    for (k, w) in words.into_iter().enumerate() {
        out[4 * k..4 * k + 4].copy_from_slice(&hex_word(w)?.to_le_bytes());
    }
    Some(out)
}

/// Eight lowercase hex digits (the first in the lowest byte) as the four
/// bytes they spell, first digit highest; `None` when one is not such a digit.
fn hex_word(w: u64) -> Option<u32> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = LO << 7;
    if w & HI != 0 {
        return None;
    }
    // With every byte under 0x80, adding `0x80 - c` to a byte sets its high
    // bit exactly when it is at least `c`, and never carries into the next.
    let at_least = |c: u8| (w + LO * u64::from(0x80 - c)) & HI;
    let digit = at_least(b'0') & !at_least(b'9' + 1);
    let letter = at_least(b'a') & !at_least(b'f' + 1);
    if digit | letter != HI {
        return None;
    }
    // A digit's value is its low four bits; a letter's, its low four bits + 9.
    let v = (w & (LO * 0x0F)) + (letter >> 7) * 9;
    // Each even byte takes its digit and the next: then keep the even bytes.
    let t = ((v << 4) | (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let t = (t | t >> 8) & 0x0000_FFFF_0000_FFFF;
    u32::try_from((t | t >> 16) & 0xFFFF_FFFF).ok()
}

/// A join key: a GUID as its 16 bytes, any other identifier as its
/// [`join_key`](super::join_key) text. Equal identifiers give equal keys
/// whichever way they were held, so a Guid kept as bytes and one read as text
/// (`{4E45B331-...}` from another export) still match.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum JoinKey<'a> {
    /// A GUID, lowercase, without braces.
    Guid([u8; 16]),
    /// Any other identifier's key.
    Text(std::borrow::Cow<'a, str>),
}

impl<'a> JoinKey<'a> {
    /// The key of an identifier read as text.
    pub fn of(id: &'a str) -> JoinKey<'a> {
        let key = super::join_key(id);
        match canonical_guid(&key) {
            Some(bytes) => JoinKey::Guid(bytes),
            None => JoinKey::Text(key),
        }
    }

    /// The key, owning its text.
    pub fn into_owned(self) -> JoinKey<'static> {
        match self {
            JoinKey::Guid(g) => JoinKey::Guid(g),
            JoinKey::Text(t) => JoinKey::Text(std::borrow::Cow::Owned(t.into_owned())),
        }
    }
}

impl fmt::Debug for JoinKey<'_> {
    /// As the key's text would print: `"4e45b331-..."`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinKey::Guid(g) => fmt::Debug::fmt(GuidText::new(g).as_str(), f),
            JoinKey::Text(t) => fmt::Debug::fmt(&**t, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn canonical_guids_are_held_as_bytes_and_read_back_unchanged() {
        let guid = "4e45b331-e772-455d-9d3e-cdb3db85df23";
        let ids = Ids::new([Some(guid), Some(guid), None, Some("a@contoso.com"), None, None, None])
            .unwrap();
        assert_eq!(ids.binary, 0b11);
        assert_eq!(&*ids.text, "a@contoso.com");
        assert_eq!(ids.guid().unwrap(), guid);
        assert_eq!(ids.key(), guid);
        assert_eq!(ids.join_key(), JoinKey::of(guid));
        assert_eq!(ids.join_key(), JoinKey::of("{4E45B331-E772-455D-9D3E-CDB3DB85DF23}"));
        // Any other spelling is kept as exported.
        for other in [
            "4E45B331-E772-455D-9D3E-CDB3DB85DF23",
            "{4e45b331-e772-455d-9d3e-cdb3db85df23}",
            "4e45b331e772455d9d3ecdb3db85df23",
            "4e45b331-e772-455d-9d3e-cdb3db85df2g",
            "4e45b331-e772-455d-9d3e-cdb3db85df2-",
        ] {
            let ids = Ids::new([Some(other), None, None, None, None, None, None]).unwrap();
            assert_eq!(ids.binary, 0, "{other}");
            assert_eq!(ids.guid().unwrap(), other);
        }
    }

    /// The GUID's bytes as read one digit at a time: the oracle for
    /// [`canonical_guid`].
    fn guid_digit_by_digit(text: &str) -> Option<[u8; 16]> {
        let b = text.as_bytes();
        if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
            return None;
        }
        let value = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 16];
        for (k, byte) in out.iter_mut().enumerate() {
            *byte = value(b[DIGITS[2 * k]])? << 4 | value(b[DIGITS[2 * k + 1]])?;
        }
        Some(out)
    }

    #[test]
    fn every_byte_in_every_place_of_a_word_is_read_as_digit_by_digit() {
        let value = |c: u8| match c {
            b'0'..=b'9' => Some(u32::from(c - b'0')),
            b'a'..=b'f' => Some(u32::from(c - b'a' + 10)),
            _ => None,
        };
        for at in 0..8 {
            for byte in 0..=255u8 {
                let mut digits = *b"9a0f3c7e";
                digits[at] = byte;
                let want = digits.iter().try_fold(0u32, |n, &c| Some(n << 4 | value(c)?));
                let got = hex_word(u64::from_le_bytes(digits)).map(u32::swap_bytes);
                assert_eq!(got, want, "byte {byte:#04x} at {at}");
            }
        }
    }

    proptest! {
        /// GUID text is read as the digit-by-digit reading reads it, whatever
        /// the characters around the hex digits' ranges (`/`, `:`, `` ` ``,
        /// `g`, capitals, non-ASCII) and wherever the hyphens are.
        #[test]
        fn guids_are_read_as_digit_by_digit(
            guid in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            at in 0..36usize,
            other in proptest::sample::select(
                &['/', '0', '9', ':', '@', '`', 'a', 'f', 'g', 'A', 'F', '-', '{', 'é', '\u{b0}'][..],
            ),
            dashes in "[0-9a-f-]{36}",
        ) {
            prop_assert_eq!(canonical_guid(&guid), guid_digit_by_digit(&guid));
            prop_assert!(canonical_guid(&guid).is_some());
            // One character changed, next to the digits' ranges or not.
            let mut changed = guid.clone();
            changed.replace_range(at..=at, other.encode_utf8(&mut [0; 4]));
            prop_assert_eq!(canonical_guid(&changed), guid_digit_by_digit(&changed));
            prop_assert_eq!(canonical_guid(&dashes), guid_digit_by_digit(&dashes));
        }

        /// Whatever the columns hold, every field reads back as it was given,
        /// and the key's join key is the join key of its text.
        #[test]
        fn every_field_reads_back_as_given(
            fields in proptest::array::uniform7(proptest::option::of(prop_oneof![
                "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                "[0-9a-fA-F{}-]{30,40}",
                "[a-zA-Z0-9@. é]{0,12}",
            ]))
        ) {
            let given: [Option<&str>; 7] = std::array::from_fn(|i| fields[i].as_deref());
            let ids = Ids::new(given).unwrap();
            for (i, g) in given.iter().enumerate() {
                let read = ids.get(i).map(|v| v.to_string());
                prop_assert_eq!(read.as_deref(), *g);
            }
            let key = ids.key();
            prop_assert_eq!(ids.join_key(), JoinKey::of(&key));
            prop_assert_eq!(ids.clone(), Ids::new(given).unwrap());
        }
    }
}
