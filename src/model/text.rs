//! [`Text`]: an interned, immutable string that is copied, never counted.
//!
//! Findings repeat the same few settings, values, policy names and file names
//! across a million mailboxes. Sharing them through `Arc<str>` made every
//! finding's blockers bump and drop reference counts that both cores hold: the
//! atomic traffic on those few shared counters cost more than the rules. An
//! interned `&'static str` is shared without it.
//!
//! A string is interned once per process and lives until the process exits.
//! Only low-cardinality text is interned (file names, setting paths, values,
//! policy references, recipient types), so what is kept is bounded by what the
//! input holds anyway.
//!
//! A `Text` is one pointer (8 bytes, and `Option<Text>` too) to the interned
//! string's `&'static str`, not the 16-byte `&'static str` itself: every row
//! holds several (its file, its recipient type, its policy), and a million-row
//! export holds millions.

use std::fmt;
use std::ops::Deref;
use std::sync::Mutex;

use rustc_hash::FxHashMap;

/// An interned string: `Copy`, compared and hashed by content.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Text(&'static &'static str);

/// Every interned string, by its text.
type Interned = FxHashMap<&'static str, &'static &'static str>;

static INTERNED: Mutex<Option<Interned>> = Mutex::new(None);

thread_local! {
    /// Each thread's view of [`INTERNED`], so that the common hit takes no lock.
    static SEEN: std::cell::RefCell<Interned> = Default::default();
}

impl Text {
    /// A text that is already `'static` (a constant, written `&"..."`): nothing
    /// to intern.
    pub const fn from_static(s: &'static &'static str) -> Text {
        Text(s)
    }

    /// The shared text equal to `s`, interned on first use.
    pub fn new(s: &str) -> Text {
        if let Some(t) = SEEN.with(|seen| seen.borrow().get(s).copied()) {
            return Text(t);
        }
        let shared = {
            let mut all = INTERNED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let all = all.get_or_insert_with(Interned::default);
            match all.get(s) {
                Some(t) => *t,
                None => {
                    let text: &'static str = Box::leak(Box::from(s));
                    let t: &'static &'static str = Box::leak(Box::new(text));
                    all.insert(text, t);
                    t
                }
            }
        };
        SEEN.with(|seen| seen.borrow_mut().insert(*shared, shared));
        Text(shared)
    }

    /// The string.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Where the interned string is: equal addresses are equal texts (two
    /// equal texts have one address, except a [`Text::from_static`] one).
    pub fn address(self) -> usize {
        std::ptr::from_ref(self.0).addr()
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.0
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::new(s)
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text::new(s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::new(&s)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        *self.0 == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_interned_copy() {
        let a = Text::new(&String::from("Block Basic Auth"));
        let b = std::thread::spawn(|| Text::new("Block Basic Auth")).join().unwrap();
        assert_eq!(a, b);
        assert!(std::ptr::eq(a.as_str(), b.as_str()), "one copy for every thread");
        assert_ne!(Text::new("True"), Text::new("False"));
        assert_eq!(&*Text::from_static(&"CasMailbox.PopEnabled"), "CasMailbox.PopEnabled");
        assert_eq!(Text::from_static(&"True"), Text::new("True"), "compared by content");
        assert_eq!(std::mem::size_of::<Option<Text>>(), 8);
    }
}
