//! Progress of the long stages (reading, auditing, writing), reported through a
//! small trait so that the library stays free of terminal code: the binary draws
//! indicatif bars on a terminal; tests and pipes use [`Silent`].

/// What a stage counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes read or written.
    Bytes,
    /// Mailboxes audited.
    Mailboxes,
    /// Lines written.
    Lines,
}

/// Receives progress; implementations must be cheap and thread-safe (auditing
/// reports from rayon workers).
pub trait Progress: Sync {
    /// A stage begins, with its total when known.
    fn start(&self, stage: &'static str, total: Option<u64>, unit: Unit);
    /// `n` more units are done.
    fn advance(&self, n: u64);
    /// The stage is over.
    fn finish(&self);

    /// One part of the current stage with a total of its own (a file being
    /// read): what it is told counts for the stage as well. `None` when parts
    /// are not shown apart; report to the stage itself then.
    fn part(&self, _name: &str, _total: u64) -> Option<Box<dyn Progress + '_>> {
        None
    }

    /// Whether anything is shown: counting what nobody sees (the line breaks of
    /// a gigabyte report) is work to skip.
    fn shown(&self) -> bool {
        true
    }

    /// Whether the work is no longer wanted ([`Stoppable::stop`]): the readers
    /// that report to it then take their input as ended at their next read
    /// (`input::stream::Counted`).
    fn stopped(&self) -> bool {
        false
    }
}

/// A [`Progress`] whose work can be stopped: `exoauth parse big.txt | head`
/// stops reading once `head` has its lines and the output is closed. What it
/// is told goes on to `inner`.
pub struct Stoppable<'a> {
    inner: &'a dyn Progress,
    stopped: std::sync::atomic::AtomicBool,
}

impl<'a> Stoppable<'a> {
    /// Reports to `inner` until stopped.
    pub fn new(inner: &'a dyn Progress) -> Self {
        Stoppable { inner, stopped: false.into() }
    }

    /// The work is no longer wanted.
    pub fn stop(&self) {
        self.stopped.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Progress for Stoppable<'_> {
    fn start(&self, stage: &'static str, total: Option<u64>, unit: Unit) {
        self.inner.start(stage, total, unit);
    }

    fn advance(&self, n: u64) {
        self.inner.advance(n);
    }

    fn finish(&self) {
        self.inner.finish();
    }

    /// None: a part would not see the stop, so its readers report here.
    fn part(&self, _name: &str, _total: u64) -> Option<Box<dyn Progress + '_>> {
        None
    }

    fn shown(&self) -> bool {
        self.inner.shown()
    }

    fn stopped(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &'static str, _: Option<u64>, _: Unit) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
    fn shown(&self) -> bool {
        false
    }
}
