//! Work done on every core and written out in order: the audit's pass over
//! the mailboxes and the reports' rows go through here.

use std::io;
use std::ops::Range;

/// Renders `items` in `chunks` (consecutive ranges that cover them) on every
/// core and writes the chunks in order: `render(offset, chunk, buffer)` appends
/// the text of `chunk`, whose first item is `items[offset]`. Chunks are rendered
/// a batch at a time, the next batch while this thread writes the last one;
/// one written, one queued and one rendering are all that is held at once.
pub fn write_chunked<T: Sync>(
    out: &mut dyn io::Write,
    items: &[T],
    chunks: &[Range<usize>],
    render: impl Fn(usize, &[T], &mut Vec<u8>) -> io::Result<()> + Sync,
) -> io::Result<()> {
    use rayon::prelude::*;
    // Chunks per batch: a few per core, so that no core waits on one chunk.
    let batch = 2 * rayon::current_num_threads().max(1);
    let render = &render;
    // Bytes per item seen so far, so that each buffer is sized once.
    let per_item = &std::sync::atomic::AtomicUsize::new(256);
    std::thread::scope(|scope| {
        let (batches, rendered) = std::sync::mpsc::sync_channel::<io::Result<Vec<Vec<u8>>>>(1);
        scope.spawn(move || {
            for group in chunks.chunks(batch) {
                let buffers: io::Result<Vec<Vec<u8>>> = group
                    .par_iter()
                    .map(|range| {
                        use std::sync::atomic::Ordering::Relaxed;
                        let chunk = &items[range.clone()];
                        let mut buf = Vec::with_capacity(chunk.len() * per_item.load(Relaxed));
                        render(range.start, chunk, &mut buf)?;
                        // An eighth more than the last chunk took: growing a
                        // buffer of megabytes copies it.
                        let per = buf.len() / chunk.len().max(1);
                        per_item.store(per + per / 8 + 32, Relaxed);
                        Ok(buf)
                    })
                    .collect();
                let failed = buffers.is_err();
                // A closed channel means the writer failed and has stopped.
                if batches.send(buffers).is_err() || failed {
                    return;
                }
            }
        });
        for buffers in rendered {
            for buf in buffers? {
                out.write_all(&buf)?;
            }
        }
        Ok(())
    })
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
    fn chunks_are_written_in_order_across_batches() {
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
}
