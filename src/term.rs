//! Terminal progress bars (indicatif) for the library's [`Progress`] reports:
//! drawn on standard error, only on a terminal unless `--progress always`, so
//! they never mix with a report on standard output or in a pipe.

use std::sync::Mutex;

use exoauth::progress::{Progress, Unit};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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

/// One bar at a time, replaced at each stage.
pub struct Bars {
    when: When,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// Bars drawn according to `when`.
    pub fn new(when: When) -> Bars {
        Bars { when, bar: Mutex::new(None) }
    }

    fn target(&self) -> ProgressDrawTarget {
        match self.when {
            When::Never => ProgressDrawTarget::hidden(),
            When::Auto => ProgressDrawTarget::stderr(),
            When::Always => ProgressDrawTarget::term_like(Box::new(console::Term::stderr())),
        }
    }
}

impl Progress for Bars {
    fn start(&self, stage: &'static str, total: Option<u64>, unit: Unit) {
        if self.when == When::Never {
            return;
        }
        let (bar, template) = match (total, unit) {
            (Some(n), Unit::Bytes) => (
                ProgressBar::new(n),
                "{prefix:>10} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}",
            ),
            (Some(n), _) => {
                (ProgressBar::new(n), "{prefix:>10} [{bar:30}] {human_pos}/{human_len} {per_sec}")
            }
            (None, _) => (ProgressBar::new_spinner(), "{prefix:>10} {spinner} {elapsed}"),
        };
        bar.set_draw_target(self.target());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(stage);
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
        let lines = buf[..n].iter().filter(|&&b| b == b'\n').count();
        if lines > 0 {
            self.progress.advance(lines as u64);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
