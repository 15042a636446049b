//! Latency traces: recorded latencies replayed one per request.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::LatencyError;
use super::distribution::num;
use super::gzip;
use crate::report::thousands;

/// The gzip magic bytes.
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Latency lines longer than this (in bytes, before the `\n`) are rejected
/// (a latency needs a few dozen bytes; this stops a binary file without
/// newlines from being read into memory). A longer comment line is skipped
/// without being held.
const MAX_LINE_BYTES: u64 = 1024;

/// How far past [`MAX_LINE_BYTES`] a rejected line is read, to say how long
/// it is (1 MiB).
const MAX_LINE_LENGTH_COUNTED: u64 = 1 << 20;

/// The rest of a line, as [`skip_line`] consumed it.
struct Skipped {
    /// Its bytes before the `\n` (or the end of the input); `None` if that
    /// is over the limit.
    len: Option<u64>,
    /// Whether a NUL byte was among them.
    nul: bool,
}

/// Consumes the rest of a line through its `\n`, without holding it; stops
/// after `limit` bytes or at a NUL byte.
fn skip_line(reader: &mut dyn BufRead, limit: u64) -> io::Result<Skipped> {
    let mut len = 0u64;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(Skipped {
                len: Some(len),
                nul: false,
            });
        }
        let end = available.iter().position(|b| *b == b'\n');
        let part = &available[..end.unwrap_or(available.len())];
        let nul = part.contains(&0);
        let part_len = part.len();
        reader.consume(part_len + usize::from(end.is_some()));
        len += part_len as u64;
        if nul || end.is_some() || len > limit {
            return Ok(Skipped {
                len: (len <= limit).then_some(len),
                nul,
            });
        }
    }
}

/// How many characters of an offending line an error message quotes.
const QUOTE_CHARS: usize = 40;

/// A recorded latency trace: request `i` takes `values[i]` seconds.
///
/// The file format ([`Trace::load`]) is UTF-8 text with one latency in seconds
/// per line, optionally gzip-compressed.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    path: PathBuf,
    /// How descriptions name it: the path as the scenario wrote it, which
    /// does not depend on the directory bpsim runs in.
    label: PathBuf,
    /// Shared, not copied, by clones: every point of a sweep holds the
    /// scenario, trace included, and a 40 MB trace swept over 50 points
    /// took 2 GB and 9 s of copying (found by a hostile-input pass).
    values: Arc<[f64]>,
    wrap: bool,
}

impl Trace {
    /// Loads a trace file: one latency in seconds per line.
    ///
    /// - The file may be gzip-compressed; it is decompressed when it starts
    ///   with the gzip magic bytes `1f 8b` (concatenated gzip members are
    ///   read as one stream; anything else after the last member is an
    ///   error).
    /// - The text is UTF-8; a UTF-8 byte-order mark is skipped, and a UTF-16
    ///   or UTF-32 one is an error that says so, as is a first line that
    ///   looks like UTF-16 without a mark (a NUL beside each character).
    /// - Surrounding whitespace (including a `\r` line ending) is trimmed.
    /// - Lines whose first non-blank character is `#` are comments and are
    ///   skipped, whatever their length.
    /// - Every other line must hold one finite number `>= 0` (Rust float
    ///   syntax: `0.15`, `1e-3`, `2`), in at most 1,024 bytes. Zero is
    ///   valid.
    ///
    /// `wrap` starts out `false`; see [`Trace::with_wrap`].
    ///
    /// # Errors
    ///
    /// The file cannot be opened or read ([`LatencyError::TraceOpen`],
    /// [`LatencyError::TraceRead`], which includes a truncated or corrupt gzip
    /// stream), bytes follow the gzip stream ([`LatencyError::TraceTrailing`]),
    /// the file is UTF-16 or UTF-32 by its byte-order mark, or looks like
    /// UTF-16 without one ([`LatencyError::TraceEncoding`]),
    /// a line is empty, not a number, negative, NaN or infinite,
    /// not UTF-8 or too long ([`LatencyError::TraceLine`]), or the file holds
    /// no latencies at all ([`LatencyError::TraceEmpty`]). Line errors name the
    /// file and the 1-based line number.
    pub fn load(path: impl AsRef<Path>) -> Result<Trace, LatencyError> {
        let path = path.as_ref();
        let open_error = |source| LatencyError::TraceOpen {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(open_error)?;
        let mut head = Vec::with_capacity(2);
        (&mut file)
            .take(2)
            .read_to_end(&mut head)
            .map_err(open_error)?;
        let gzip = head == GZIP_MAGIC;
        let raw = Cursor::new(head).chain(file);
        let reader: Box<dyn BufRead> = if gzip {
            Box::new(BufReader::new(gzip::Members::new(raw)))
        } else {
            Box::new(BufReader::new(raw))
        };
        Self::parse(path, reader, gzip)
    }

    /// Parses a trace file's bytes (plain text or gzip), as [`Trace::load`]
    /// does; `path` is only used in messages. The fuzz target's entry point.
    ///
    /// # Errors
    ///
    /// As [`Trace::load`], without the open errors.
    pub fn from_bytes(path: impl AsRef<Path>, bytes: &[u8]) -> Result<Trace, LatencyError> {
        let gzip = bytes.starts_with(&GZIP_MAGIC);
        let reader: Box<dyn BufRead + '_> = if gzip {
            Box::new(BufReader::new(gzip::Members::new(bytes)))
        } else {
            Box::new(BufReader::new(bytes))
        };
        Self::parse(path.as_ref(), reader, gzip)
    }

    /// Builds a trace from values already in memory (`path` is only used in
    /// messages and output).
    ///
    /// # Errors
    ///
    /// No values, or a negative, NaN or infinite one
    /// ([`LatencyError::TraceLine`], with the 1-based index as the line).
    pub fn from_values(path: impl Into<PathBuf>, values: Vec<f64>) -> Result<Trace, LatencyError> {
        let path = path.into();
        if values.is_empty() {
            return Err(LatencyError::TraceEmpty { path });
        }
        if let Some(i) = values.iter().position(|v| !super::is_valid_latency(*v)) {
            return Err(LatencyError::TraceLine {
                line: i + 1,
                message: value_problem(values[i], &num(values[i])),
                path,
            });
        }
        Ok(Trace {
            label: path.clone(),
            path,
            values: values.into(),
            wrap: false,
        })
    }

    /// Sets whether requests beyond the end of the trace wrap around to its
    /// start (request `i` takes `values[i % len]`).
    #[must_use]
    pub fn with_wrap(mut self, wrap: bool) -> Trace {
        self.wrap = wrap;
        self
    }

    /// Names the trace `label` in descriptions (default: its path): the
    /// path as the scenario wrote it, where the trace was loaded from that
    /// path joined to the scenario's directory.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<PathBuf>) -> Trace {
        self.label = label.into();
        self
    }

    /// The file the trace was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The latencies, in seconds (never empty).
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Whether requests beyond the end wrap around to the start.
    pub fn wrap(&self) -> bool {
        self.wrap
    }

    /// The number of latencies (at least 1).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Always `false`: a trace holds at least one latency.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The mean of the recorded latencies.
    pub fn mean(&self) -> f64 {
        crate::metrics::mean(&self.values)
    }

    /// A one-line description such as `trace(lat.txt, 5000 values, wrap)`.
    pub fn describe(&self) -> String {
        format!(
            "trace({}, {}{})",
            self.label.display(),
            crate::report::count(self.values.len(), "value", "values"),
            if self.wrap { ", wrap" } else { "" }
        )
    }

    fn parse(
        path: &Path,
        mut reader: Box<dyn BufRead + '_>,
        gzip: bool,
    ) -> Result<Trace, LatencyError> {
        let mut values = Vec::new();
        let mut buf = Vec::new();
        let mut line = 0usize;
        // The first empty line since the last value: an error only if a
        // value follows (blank lines at the end of a file are harmless).
        let mut blank: Option<usize> = None;
        let read_error = |source: io::Error, line: usize| match gzip::trailing_data(&source) {
            Some(trailing) => LatencyError::TraceTrailing {
                path: path.to_path_buf(),
                offset: trailing.offset,
                len: trailing.len,
            },
            None => LatencyError::TraceRead {
                path: path.to_path_buf(),
                line,
                gzip,
                source,
            },
        };
        loop {
            buf.clear();
            line += 1;
            let n = (&mut reader)
                .take(MAX_LINE_BYTES + 1)
                .read_until(b'\n', &mut buf)
                .map_err(|source| read_error(source, line))?;
            if n == 0 {
                break;
            }
            let encoding_error = |encoding, marked| LatencyError::TraceEncoding {
                path: path.to_path_buf(),
                encoding,
                gzip,
                marked,
            };
            if line == 1
                && let Some(encoding) = wide_encoding(&buf)
            {
                return Err(encoding_error(encoding, true));
            }
            let line_error = |message: String| LatencyError::TraceLine {
                path: path.to_path_buf(),
                line,
                message,
            };
            if buf.contains(&0) {
                if line == 1
                    && let Some(encoding) = unmarked_utf16(&buf)
                {
                    return Err(encoding_error(encoding, false));
                }
                return Err(line_error(format!(
                    "found binary data (a NUL byte), expected one latency in seconds: \
                     is this a text trace file? found {}",
                    quote(&String::from_utf8_lossy(&buf))
                )));
            }
            if buf.len() as u64 > MAX_LINE_BYTES && !buf.ends_with(b"\n") {
                // Only the start of the line is in `buf`.
                let start = if line == 1 {
                    buf.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&buf)
                } else {
                    &buf
                };
                let comment = start.trim_ascii_start().starts_with(b"#");
                let limit = if comment {
                    u64::MAX
                } else {
                    MAX_LINE_LENGTH_COUNTED
                };
                let rest = skip_line(&mut reader, limit).map_err(|e| read_error(e, line))?;
                // A line of exactly MAX_LINE_BYTES before its `\r\n`: whole.
                let crlf = rest.len == Some(0) && buf.ends_with(b"\r");
                if comment && !rest.nul {
                    continue;
                }
                if crlf {
                    // Parsed below.
                } else if rest.nul {
                    return Err(line_error(format!(
                        "found binary data (a NUL byte) in a line of over {} bytes, expected \
                         one latency in seconds: is this a text trace file? found {}",
                        thousands(MAX_LINE_BYTES as i64),
                        quote(&String::from_utf8_lossy(&buf))
                    )));
                } else {
                    let length = match rest.len {
                        Some(rest) => {
                            format!("{} bytes long", thousands((buf.len() as u64 + rest) as i64))
                        }
                        None => format!(
                            "over {} bytes long",
                            thousands((buf.len() as u64 + MAX_LINE_LENGTH_COUNTED) as i64)
                        ),
                    };
                    return Err(line_error(format!(
                        "line is {length}, but a latency line may have at most {} bytes \
                         (is this a trace file?), found {}",
                        thousands(MAX_LINE_BYTES as i64),
                        quote(&String::from_utf8_lossy(&buf))
                    )));
                }
            }
            let text = match std::str::from_utf8(&buf) {
                Ok(text) => text,
                Err(e) => {
                    return Err(line_error(format!(
                        "invalid UTF-8 at byte {} of the line (binary data?), found {}",
                        e.valid_up_to() + 1,
                        quote(&String::from_utf8_lossy(&buf))
                    )));
                }
            };
            // A byte-order mark, as some editors write, opens the file.
            let text = if line == 1 {
                text.strip_prefix('\u{feff}').unwrap_or(text)
            } else {
                text
            };
            let text = text.trim();
            if text.starts_with('#') {
                continue;
            }
            if text.is_empty() {
                blank.get_or_insert(line);
                continue;
            }
            if let Some(empty) = blank {
                return Err(LatencyError::TraceLine {
                    path: path.to_path_buf(),
                    line: empty,
                    message: "empty line, expected one latency in seconds (remove the line, \
                              or write `# ...` for a comment)"
                        .to_owned(),
                });
            }
            match text.parse::<f64>() {
                Ok(v) if super::is_valid_latency(v) => values.push(v + 0.0),
                Ok(v) => return Err(line_error(value_problem(v, text))),
                Err(_) => {
                    return Err(line_error(format!(
                        "expected a latency in seconds (a number such as 0.15), found {}",
                        quote(text)
                    )));
                }
            }
        }
        if values.is_empty() {
            return Err(LatencyError::TraceEmpty {
                path: path.to_path_buf(),
            });
        }
        Ok(Trace {
            path: path.to_path_buf(),
            label: path.to_path_buf(),
            values: values.into(),
            wrap: false,
        })
    }
}

/// The encoding a file's byte-order mark names, when it is UTF-16 or UTF-32
/// (`"UTF-16LE"`, ...): text bpsim cannot read, but that `iconv` converts.
fn wide_encoding(start: &[u8]) -> Option<&'static str> {
    // UTF-32LE's mark starts with UTF-16LE's: test it first.
    const MARKS: [(&[u8], &str); 4] = [
        (&[0xff, 0xfe, 0, 0], "UTF-32LE"),
        (&[0, 0, 0xfe, 0xff], "UTF-32BE"),
        (&[0xff, 0xfe], "UTF-16LE"),
        (&[0xfe, 0xff], "UTF-16BE"),
    ];
    MARKS
        .iter()
        .find(|(mark, _)| start.starts_with(mark))
        .map(|(_, name)| *name)
}

/// The encoding of a first line (`line`, at most 1,025 bytes) that looks
/// like UTF-16 text without a byte-order mark: mostly ASCII characters,
/// each beside a NUL byte, `"UTF-16LE"` when the NUL follows the
/// character, `"UTF-16BE"` when it comes first. At least two characters
/// (the newline counts), and three in four of them so.
fn unmarked_utf16(line: &[u8]) -> Option<&'static str> {
    // UTF-16LE's newline is `0a 00`: the line ends at `0a`, its NUL is the
    // next line's first byte.
    let mut units: Vec<[u8; 2]> = line.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
    if line.len() % 2 == 1 {
        units.push([line[line.len() - 1], 0]);
    }
    if units.len() < 2 {
        return None;
    }
    let count = |f: fn(&[u8; 2]) -> bool| units.iter().filter(|u| f(u)).count();
    let little = count(|u| u[0] != 0 && u[0].is_ascii() && u[1] == 0);
    let big = count(|u| u[0] == 0 && u[1] != 0 && u[1].is_ascii());
    let mostly = |n: usize| 4 * n >= 3 * units.len();
    if mostly(little) {
        Some("UTF-16LE")
    } else if mostly(big) {
        Some("UTF-16BE")
    } else {
        None
    }
}

/// Describes why a parsed number is not a valid latency.
fn value_problem(v: f64, text: &str) -> String {
    if v.is_nan() {
        format!(
            "latency must be a finite number >= 0, found NaN ({})",
            quote(text)
        )
    } else if v.is_infinite() {
        format!(
            "latency must be a finite number >= 0, found infinity ({})",
            quote(text)
        )
    } else if v > super::MAX_LATENCY_S {
        format!(
            "latency must be at most {} s (about 115 days), found {}",
            super::MAX_LATENCY_S,
            quote(text)
        )
    } else {
        format!("latency must be >= 0, found {}", quote(text))
    }
}

/// Quotes (and shortens) an offending piece of text for a message.
fn quote(text: &str) -> String {
    let text = text.trim_end_matches(['\n', '\r']);
    let mut short: String = text.chars().take(QUOTE_CHARS).collect();
    if short.len() < text.len() {
        short.push_str("...");
    }
    format!("{short:?}")
}

/// Serialises as `distribution = "trace"`, `path`, `wrap`, `len`, `mean` and
/// `description`, but not the values.
impl Serialize for Trace {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.serialize_fields(&mut map)?;
        map.serialize_entry("description", &self.describe())?;
        map.end()
    }
}

impl Trace {
    pub(crate) fn serialize_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        map.serialize_entry("distribution", "trace")?;
        // As the scenario wrote it: read back next to the same scenario,
        // it names the same file.
        map.serialize_entry("path", &self.label)?;
        map.serialize_entry("wrap", &self.wrap)?;
        map.serialize_entry("len", &self.values.len())?;
        map.serialize_entry("mean", &self.mean())?;
        Ok(())
    }
}

/// What went wrong while reading, for the `TraceRead` message.
pub(crate) fn read_hint(gzip: bool, source: &io::Error) -> &'static str {
    if gzip && source.kind() == io::ErrorKind::UnexpectedEof {
        "the gzip stream is truncated"
    } else if gzip {
        "the gzip stream is corrupt"
    } else {
        "read error"
    }
}
