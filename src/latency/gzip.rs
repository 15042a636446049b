//! Gzip traces: every member of the stream, and nothing after it.
//!
//! flate2's `MultiGzDecoder` reads whatever follows a member as the header
//! of another, so bytes appended to a good file (a log line, zero padding)
//! were reported as "the gzip stream is truncated" or "corrupt". [`Members`]
//! reads member after member while the next bytes are the gzip magic, and
//! reports anything else after the last member as [`TrailingData`].

use std::fmt;
use std::io::{self, BufRead, Read};

use flate2::bufread::GzDecoder;

use super::trace::GZIP_MAGIC;

/// Bytes after the last gzip member that do not start another member.
#[derive(Debug)]
pub(crate) struct TrailingData {
    /// Where they start: the length of the gzip stream, in bytes.
    pub(crate) offset: u64,
    /// How many there are.
    pub(crate) len: u64,
}

impl fmt::Display for TrailingData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} after the end of the gzip stream (at byte {}) {} not gzip data",
            crate::report::count(self.len as usize, "byte", "bytes"),
            self.offset,
            if self.len == 1 { "is" } else { "are" }
        )
    }
}

impl std::error::Error for TrailingData {}

/// The trailing data an I/O error carries, if it is one [`Members`] made.
pub(crate) fn trailing_data(error: &io::Error) -> Option<&TrailingData> {
    error.get_ref()?.downcast_ref::<TrailingData>()
}

/// Decompresses every gzip member of `R`, in order; bytes after the last
/// member that are not the gzip magic are an error carrying
/// [`TrailingData`] (kind `InvalidData`).
pub(crate) struct Members<R: Read> {
    state: State<R>,
}

enum State<R: Read> {
    Member(GzDecoder<Lookahead<R>>),
    Done,
}

impl<R: Read> Members<R> {
    /// Reads `raw`, which starts with the gzip magic.
    pub(crate) fn new(raw: R) -> Members<R> {
        Members {
            state: State::Member(GzDecoder::new(Lookahead::new(raw))),
        }
    }
}

impl<R: Read> Read for Members<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            let State::Member(decoder) = &mut self.state else {
                return Ok(0);
            };
            let n = decoder.read(out)?;
            if n > 0 || out.is_empty() {
                return Ok(n);
            }
            // The member ended, its checksum checked: what follows?
            let State::Member(decoder) = std::mem::replace(&mut self.state, State::Done) else {
                unreachable!("matched above")
            };
            let mut rest = decoder.into_inner();
            let next = rest.peek(GZIP_MAGIC.len())?;
            if next.is_empty() {
                return Ok(0);
            }
            if next == GZIP_MAGIC {
                self.state = State::Member(GzDecoder::new(rest));
                continue;
            }
            let offset = rest.position;
            let len = io::copy(&mut rest, &mut io::sink())?;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                TrailingData { offset, len },
            ));
        }
    }
}

/// A buffered reader that can look a few bytes ahead, and counts the bytes
/// consumed.
struct Lookahead<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// Bytes consumed so far.
    position: u64,
}

impl<R: Read> Lookahead<R> {
    fn new(inner: R) -> Lookahead<R> {
        Lookahead {
            inner,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            start: 0,
            end: 0,
            position: 0,
        }
    }

    /// The next `n` bytes (fewer only at the end of the input), not
    /// consumed.
    fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.end - self.start < n {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            while self.end < n {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Ok(0) => break,
                    Ok(read) => self.end += read,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(&self.buf[self.start..self.end.min(self.start + n)])
    }
}

impl<R: Read> Read for Lookahead<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Lookahead<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            self.start = 0;
            self.end = loop {
                match self.inner.read(&mut self.buf) {
                    Ok(read) => break read,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, amount: usize) {
        let amount = amount.min(self.end - self.start);
        self.start += amount;
        self.position += amount as u64;
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn decompress(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Members::new(bytes).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn reads_every_member() {
        let mut bytes = gzip(b"0.1\n");
        bytes.extend(gzip(b""));
        bytes.extend(gzip(b"0.2\n"));
        assert_eq!(decompress(&bytes).unwrap(), b"0.1\n0.2\n");
    }

    /// A member boundary at every position of the lookahead's buffer: the
    /// magic split across two reads of the input is still seen.
    #[test]
    fn finds_the_next_member_across_buffer_refills() {
        /// Hands out at most `chunk` bytes per read.
        struct Trickle<'a> {
            bytes: &'a [u8],
            chunk: usize,
        }
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.chunk.min(out.len()).min(self.bytes.len());
                out[..n].copy_from_slice(&self.bytes[..n]);
                self.bytes = &self.bytes[n..];
                Ok(n)
            }
        }
        let mut bytes = gzip(b"0.1\n");
        bytes.extend(gzip(b"0.2\n"));
        for chunk in 1..=bytes.len() {
            let mut out = Vec::new();
            Members::new(Trickle {
                bytes: &bytes,
                chunk,
            })
            .read_to_end(&mut out)
            .unwrap();
            assert_eq!(out, b"0.1\n0.2\n", "chunk {chunk}");
        }
    }

    #[test]
    fn bytes_after_the_last_member_are_trailing_data() {
        let good = gzip(b"0.1\n0.2\n");
        for tail in [&b"x"[..], b"\n", b"hello garbage", &[0; 512], &[0x1f]] {
            let mut bytes = good.clone();
            bytes.extend_from_slice(tail);
            let error = decompress(&bytes).unwrap_err();
            let trailing = trailing_data(&error).unwrap_or_else(|| panic!("{tail:?}: {error}"));
            assert_eq!(trailing.offset, good.len() as u64);
            assert_eq!(trailing.len, tail.len() as u64);
        }
        let mut bytes = good.clone();
        bytes.push(b'x');
        assert_eq!(
            decompress(&bytes).unwrap_err().to_string(),
            format!(
                "1 byte after the end of the gzip stream (at byte {}) is not gzip data",
                good.len()
            )
        );
    }

    #[test]
    fn a_cut_member_is_not_trailing_data() {
        let good = gzip(b"0.1\n0.2\n");
        let error = decompress(&good[..good.len() - 3]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(trailing_data(&error).is_none());
        // A second member cut inside its header.
        let mut bytes = good.clone();
        bytes.extend_from_slice(&good[..5]);
        let error = decompress(&bytes).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }
}
