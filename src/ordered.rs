//! Work done on every core and written out in order: the audit's pass over
//! the mailboxes and the reports' rows go through here.

use std::io;
use std::ops::Range;

/// Renders `items` in `chunks` (consecutive ranges that cover them) on every
/// core and writes the chunks in order: `render(offset, chunk, buffer)` appends
/// the text of `chunk`, whose first item is `items[offset]`. One thread per
/// core takes the next chunk as soon as it is free, at most a few chunks ahead
/// of the one this thread is writing (no core waits for the others at the end
/// of a batch), so that only those few rendered chunks are held at once. The
/// first error, the writer's or a renderer's, stops the rest.
pub fn write_chunked<T: Sync>(
    out: &mut dyn io::Write,
    items: &[T],
    chunks: &[Range<usize>],
    render: impl Fn(usize, &[T], &mut Vec<u8>) -> io::Result<()> + Sync,
) -> io::Result<()> {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    use std::sync::{Condvar, Mutex, PoisonError};
    let threads = rayon::current_num_threads().max(1);
    // How far ahead of the writer a chunk may be rendered: a few per core.
    let ahead = 2 * threads;
    let shared =
        Mutex::new(Shared { done: chunks.iter().map(|_| None).collect(), written: 0, stop: false });
    let changed = Condvar::new();
    let lock = || shared.lock().unwrap_or_else(PoisonError::into_inner);
    let wait = |guard| changed.wait(guard).unwrap_or_else(PoisonError::into_inner);
    let next = AtomicUsize::new(0);
    // Bytes per item seen so far, so that each buffer is sized once.
    let per_item = AtomicUsize::new(256);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                // A renderer that panics stops the writer, which would
                // otherwise wait for its chunk for ever.
                let _stop_on_panic = StopOnPanic(&shared, &changed);
                loop {
                    let k = next.fetch_add(1, Relaxed);
                    let Some(range) = chunks.get(k) else { return };
                    let mut state = lock();
                    while !state.stop && k >= state.written + ahead {
                        state = wait(state);
                    }
                    if state.stop {
                        return;
                    }
                    drop(state);
                    let chunk = &items[range.clone()];
                    let mut buf = Vec::with_capacity(chunk.len() * per_item.load(Relaxed));
                    let rendered = render(range.start, chunk, &mut buf).map(|()| {
                        // An eighth more than the last chunk took: growing a
                        // buffer of megabytes copies it.
                        let per = buf.len() / chunk.len().max(1);
                        per_item.store(per + per / 8 + 32, Relaxed);
                        buf
                    });
                    lock().done[k] = Some(rendered);
                    changed.notify_all();
                }
            });
        }
        let written = (|| {
            for k in 0..chunks.len() {
                let mut state = lock();
                let buf = loop {
                    if let Some(buf) = state.done[k].take() {
                        break buf;
                    }
                    if state.stop {
                        return Err(io::Error::other("a chunk's rendering stopped"));
                    }
                    state = wait(state);
                };
                drop(state);
                out.write_all(&buf?)?;
                lock().written = k + 1;
                changed.notify_all();
            }
            Ok(())
        })();
        if written.is_err() {
            lock().stop = true;
            changed.notify_all();
        }
        written
    })
}

/// What the writer and the renderers of [`write_chunked`] share.
struct Shared {
    /// Each chunk's text once rendered, until it is written.
    done: Vec<Option<io::Result<Vec<u8>>>>,
    /// How many chunks are written.
    written: usize,
    /// Stop: the writer or a renderer failed.
    stop: bool,
}

/// Stops a [`write_chunked`] whose renderer unwinds.
struct StopOnPanic<'a>(&'a std::sync::Mutex<Shared>, &'a std::sync::Condvar);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).stop = true;
            self.1.notify_all();
        }
    }
}

/// `0..n` in consecutive ranges of `size` items (the last may be shorter).
pub fn even_chunks(n: usize, size: usize) -> Vec<Range<usize>> {
    (0..n.div_ceil(size)).map(|c| c * size..((c + 1) * size).min(n)).collect()
}

/// For tests of writers: an output that takes `room` bytes, then fails like a
/// full disk.
#[cfg(test)]
pub(crate) struct Full {
    pub(crate) room: usize,
    pub(crate) got: Vec<u8>,
}

#[cfg(test)]
impl io::Write for Full {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.got.len() + buf.len() > self.room {
            return Err(io::Error::other("disk full"));
        }
        self.got.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn lines(offset: usize, chunk: &[u32], buf: &mut Vec<u8>) -> io::Result<()> {
        for (k, n) in chunk.iter().enumerate() {
            writeln!(buf, "{} {n}", offset + k)?;
        }
        Ok(())
    }

    #[test]
    fn chunks_are_written_in_order() {
        let items: Vec<u32> = (0..70_000).map(|n| n * 7).collect();
        let mut out = Vec::new();
        write_chunked(&mut out, &items, &even_chunks(items.len(), 2048), lines).unwrap();
        let mut expected = Vec::new();
        lines(0, &items, &mut expected).unwrap();
        assert!(out == expected);
    }

    #[test]
    fn a_failing_writer_or_renderer_stops_the_rendering_with_its_error() {
        let items: Vec<u32> = (0..200_000).collect();
        let mut out = Full { room: 100_000, got: Vec::new() };
        let chunks = even_chunks(items.len(), 2048);
        let e = write_chunked(&mut out, &items, &chunks, lines).unwrap_err();
        assert_eq!(e.to_string(), "disk full");
        let e = write_chunked(&mut Vec::new(), &items, &chunks, |offset, chunk, buf| {
            if offset > 40_000 {
                return Err(io::Error::other("cannot render"));
            }
            lines(offset, chunk, buf)
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "cannot render");
    }

    /// A renderer that panics stops the writing (the panic goes on to the
    /// caller) instead of leaving the writer waiting for its chunk.
    #[test]
    fn a_panicking_renderer_never_leaves_the_writer_waiting() {
        let items: Vec<u32> = (0..100_000).collect();
        let chunks = even_chunks(items.len(), 1000);
        let mut out = Vec::new();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write_chunked(&mut out, &items, &chunks, |offset, chunk, buf| {
                assert!(offset != 37_000, "a renderer's bug");
                lines(offset, chunk, buf)
            })
        }));
        assert!(caught.is_err());
        let mut expected = Vec::new();
        lines(0, &items[..37_000], &mut expected).unwrap();
        assert!(out.len() <= expected.len() && expected.starts_with(&out));
    }
}
