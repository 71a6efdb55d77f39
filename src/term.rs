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

impl Bars {
    /// Clears a finished stage's bar and takes it off the screen at once: left
    /// to the next redraw, a stage that ends before any redraw (auditing 44
    /// mailboxes) leaves its first frame above the report.
    fn done(&self, bar: &ProgressBar) {
        bar.finish_and_clear();
        self.multi.remove(bar);
        let _ = self.multi.clear();
    }
}

/// The bytes template: `prefix [=====>    ] 12.0 MiB/40.0 MiB 300 MiB/s`.
/// Lines stay under 80 columns: a line that wraps is two lines the next redraw
/// does not clear, which leaves stale frames above the report.
const BYTES: &str =
    "{prefix:>10} [{bar:20}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}";

/// The counts template: `prefix [=====>    ] 1,024/44,000 3,429,251/s`.
const COUNTS: &str = "{prefix:>10} [{bar:20}] {human_pos}/{human_len} {rate}";

/// A bar that draws nowhere until it is added to the bars: `ProgressBar::new`
/// draws on standard error at once (when styled, when its message is set), and
/// such a line, drawn outside the bars' count of lines, stays on the screen
/// above the report.
fn unattached(len: Option<u64>) -> ProgressBar {
    ProgressBar::with_draw_target(len, ProgressDrawTarget::hidden())
}

/// A bar in `template`, or indicatif's default if the template were invalid.
/// `{rate}` is items per second as a whole number (indicatif's `{per_sec}`
/// shows four decimals: `3,429,251.8724/s`).
fn styled(bar: ProgressBar, template: &str, prefix: String) -> ProgressBar {
    if let Ok(style) = ProgressStyle::with_template(template) {
        let style = style.with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/s", indicatif::HumanCount(state.per_sec() as u64));
            },
        );
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(prefix);
    bar
}

/// `name`, cut to `max` characters with an ellipsis in the middle.
fn short(name: &str, max: usize) -> String {
    let n = name.chars().count();
    if n <= max {
        return name.to_owned();
    }
    let keep = max - 1;
    let head: String = name.chars().take(keep / 2).collect();
    let tail: String = name.chars().skip(n - (keep - keep / 2)).collect();
    format!("{head}…{tail}")
}

/// One file's bar under the reading bar; what it counts, the stage counts too.
struct Part {
    bar: ProgressBar,
    stage: Option<ProgressBar>,
    multi: MultiProgress,
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
        self.multi.remove(&self.bar);
    }
}

impl Progress for Bars {
    fn start(&self, stage: &'static str, total: Option<u64>, unit: Unit) {
        if self.when == When::Never {
            return;
        }
        let (bar, template) = match (total, unit) {
            (Some(n), Unit::Bytes) => (unattached(Some(n)), BYTES),
            (Some(n), _) => (unattached(Some(n)), COUNTS),
            (None, _) => (unattached(None), "{prefix:>10} {spinner} {elapsed}"),
        };
        let bar = self.multi.add(styled(bar, template, stage.to_owned()));
        if total.is_none() {
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        if let Ok(mut slot) = self.bar.lock() {
            if let Some(old) = slot.replace(bar) {
                self.done(&old);
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
                self.done(&bar);
            }
        }
    }

    fn shown(&self) -> bool {
        self.when != When::Never && !self.multi.is_hidden()
    }

    fn part(&self, name: &str, total: u64) -> Option<Box<dyn Progress + '_>> {
        if self.when == When::Never {
            return None;
        }
        let stage = self.bar.lock().ok().and_then(|slot| slot.clone());
        // Under the stage's bar, the file's name after its own.
        let template = "{prefix:>10} [{bar:20}] {binary_bytes}/{binary_total_bytes} {msg}";
        let bar = styled(unattached(Some(total)), template, String::new());
        bar.set_message(short(name, 24));
        let bar = self.multi.add(bar);
        Some(Box::new(Part { bar, stage, multi: self.multi.clone() }))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_file_names_are_cut_in_the_middle() {
        assert_eq!(short("User.csv", 24), "User.csv");
        let cut = short("NonInteractiveSignIns_2026-10-30_2026-11-28.csv", 24);
        assert_eq!(cut.chars().count(), 24);
        assert!(cut.starts_with("NonInterac") && cut.ends_with("11-28.csv") && cut.contains('…'));
    }
}
