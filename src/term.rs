//! Terminal progress bars (indicatif) for the library's [`Progress`] reports:
//! drawn on standard error, only on a terminal unless `--progress always`, so
//! they never mix with a report on standard output or in a pipe.

use std::sync::Mutex;

use exoauth::progress::{Progress, Unit};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// When to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// On a terminal only.
    Auto,
    /// Never.
    Never,
    /// Even when standard error is not a terminal.
    Always,
}

/// One bar per stage, replaced at each stage, with a bar of its own under it
/// for each part (each file being read).
pub struct Bars {
    when: When,
    multi: MultiProgress,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// Bars drawn according to `when`.
    pub fn new(when: When) -> Bars {
        let target = match when {
            When::Never => ProgressDrawTarget::hidden(),
            When::Auto => ProgressDrawTarget::stderr(),
            When::Always => ProgressDrawTarget::term_like(Box::new(console::Term::stderr())),
        };
        Bars { when, multi: MultiProgress::with_draw_target(target), bar: Mutex::new(None) }
    }
}

/// The bytes template: `prefix [=====>    ] 12.0 MiB/40.0 MiB 300 MiB/s`.
const BYTES: &str =
    "{prefix:>10} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}";

/// A bar in `template`, or indicatif's default if the template were invalid.
fn styled(bar: ProgressBar, template: &str, prefix: String) -> ProgressBar {
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(prefix);
    bar
}

/// One file's bar under the reading bar; what it counts, the stage counts too.
struct Part {
    bar: ProgressBar,
    stage: Option<ProgressBar>,
}

impl Progress for Part {
    fn start(&self, _: &'static str, _: Option<u64>, _: Unit) {}

    fn advance(&self, n: u64) {
        self.bar.inc(n);
        if let Some(stage) = &self.stage {
            stage.inc(n);
        }
    }

    fn finish(&self) {}
}

impl Drop for Part {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bars {
    fn start(&self, stage: &'static str, total: Option<u64>, unit: Unit) {
        if self.when == When::Never {
            return;
        }
        let (bar, template) = match (total, unit) {
            (Some(n), Unit::Bytes) => (ProgressBar::new(n), BYTES),
            (Some(n), _) => {
                (ProgressBar::new(n), "{prefix:>10} [{bar:30}] {human_pos}/{human_len} {per_sec}")
            }
            (None, _) => (ProgressBar::new_spinner(), "{prefix:>10} {spinner} {elapsed}"),
        };
        let bar = self.multi.add(styled(bar, template, stage.to_owned()));
        if total.is_none() {
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        if let Ok(mut slot) = self.bar.lock() {
            if let Some(old) = slot.replace(bar) {
                old.finish_and_clear();
            }
        }
    }

    fn advance(&self, n: u64) {
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.inc(n);
            }
        }
    }

    fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock() {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
            }
        }
    }

    fn part(&self, name: &str, total: u64) -> Option<Box<dyn Progress + '_>> {
        if self.when == When::Never {
            return None;
        }
        let stage = self.bar.lock().ok().and_then(|slot| slot.clone());
        // Under the stage's bar, the file's name after its own.
        let template = "{prefix:>10} [{bar:30}] {binary_bytes}/{binary_total_bytes} {msg}";
        let bar = styled(ProgressBar::new(total), template, String::new());
        bar.set_message(name.to_owned());
        let bar = self.multi.add(bar);
        Some(Box::new(Part { bar, stage }))
    }
}

/// A writer that reports the lines it writes.
pub struct Counting<'a, W> {
    /// The destination.
    pub inner: W,
    /// Where to report.
    pub progress: &'a dyn Progress,
}

impl<W: std::io::Write> std::io::Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        // A report can be a gigabyte: count with memchr, not byte by byte.
        let lines = memchr::memchr_iter(b'\n', &buf[..n]).count();
        if lines > 0 {
            self.progress.advance(lines as u64);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
