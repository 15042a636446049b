//! The sweep journal: finished units, one JSON line each, appended as they
//! finish, so an interrupted sweep keeps its work and `--resume` runs only
//! the rest.
//!
//! The first line identifies the sweep (bpsim's version and a fingerprint of
//! the scenario text, the trace it replays and its CPU profile); a resume
//! refuses a journal written for other input. A finished sweep leaves the
//! same header in a stamp beside its CSV ([`stamp`]), so that `bpsim plot`
//! can tell a CSV it may draw from without running the sweep again.
//! A line cut short by a crash is ignored: that unit simply runs again.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SweepError;
use super::unit::UnitResult;
use crate::latency::LatencySource;
use crate::scenario::{CpuModel, Scenario};

/// The journal's first line.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Header {
    bpsim: String,
    fingerprint: String,
    units: usize,
}

/// An open journal.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
}

/// FNV-1a, 64 bits, over the scenario text and what the runs read from
/// other files: a trace's latencies and the CPU profile's costs. A stable
/// fingerprint of everything a sweep's results depend on besides bpsim
/// itself, so that a journal is not resumed after its trace changed.
pub(crate) fn fingerprint(text: &[u8], scenario: &Scenario) -> String {
    let mut hash = Fnv::new();
    hash.write(text);
    if let LatencySource::Trace(trace) = &scenario.latency {
        hash.write(b"\0trace");
        for v in trace.values() {
            hash.write(&v.to_bits().to_le_bytes());
        }
    }
    if let CpuModel::Profile { costs, .. } = &scenario.model.cpu {
        hash.write(b"\0cpu");
        hash.write(&serde_json::to_vec(costs).expect("CPU costs always serialise"));
    }
    hash.hex()
}

/// FNV-1a, 64 bits.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

fn header(fingerprint: &str, units: usize) -> Header {
    Header {
        bpsim: env!("CARGO_PKG_VERSION").to_owned(),
        fingerprint: fingerprint.to_owned(),
        units,
    }
}

/// Whether `found` (a journal's or a stamp's header) was written for this
/// sweep: by this bpsim, for the input of this `fingerprint`, in `units`
/// units.
fn fits(found: &Header, fingerprint: &str, units: usize) -> bool {
    *found == header(fingerprint, units)
}

/// The stamp written beside a finished sweep's CSV (`sweep.stamp`): the
/// journal's header, which says which sweep the CSV is the result of, and
/// a hash of the CSV's bytes, so that a CSV replaced or edited since (or a
/// stamp left from an earlier CSV by a crash between the two writes) does
/// not pass for that result.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Stamp {
    #[serde(flatten)]
    sweep: Header,
    csv: String,
}

/// The stamp of a finished sweep of this `fingerprint` and `units` whose
/// CSV is `csv`: one line of JSON.
pub(crate) fn stamp(fingerprint: &str, units: usize, csv: &[u8]) -> String {
    let mut hash = Fnv::new();
    hash.write(csv);
    let stamp = Stamp {
        sweep: header(fingerprint, units),
        csv: hash.hex(),
    };
    let mut line = serde_json::to_string(&stamp).expect("a stamp always serialises");
    line.push('\n');
    line
}

/// Whether `stamp` (a stamp file's bytes) says that `csv` is the result of
/// the sweep of this `fingerprint` and `units`, the check a journal's
/// header gets (see [`Journal::fits`]), plus the CSV's own bytes.
pub(crate) fn stamp_fits(stamp: &[u8], fingerprint: &str, units: usize, csv: &[u8]) -> bool {
    let line = stamp.strip_suffix(b"\n").unwrap_or(stamp);
    let Ok(found) = serde_json::from_slice::<Stamp>(line) else {
        return false;
    };
    let mut hash = Fnv::new();
    hash.write(csv);
    fits(&found.sweep, fingerprint, units) && found.csv == hash.hex()
}

impl Journal {
    /// Starts a new journal at `path`, replacing any old one.
    pub(crate) fn create(path: &Path, fingerprint: &str, units: usize) -> Result<Self, SweepError> {
        let io = |source| SweepError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = File::create(path).map_err(io)?;
        let line =
            serde_json::to_string(&header(fingerprint, units)).expect("a header always serialises");
        writeln!(file, "{line}").map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(Journal {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Whether the journal at `path` was written for this sweep (its header
    /// matches), so that `--resume` can reuse its runs; false if it cannot
    /// be read or was not.
    pub(crate) fn fits(path: &Path, fingerprint: &str, units: usize) -> bool {
        let Ok(file) = File::open(path) else {
            return false;
        };
        let mut lines = BufReader::new(file).split(b'\n');
        let Some(Ok(first)) = lines.next() else {
            return false;
        };
        serde_json::from_slice::<Header>(&first).is_ok_and(|h| fits(&h, fingerprint, units))
    }

    /// Opens an existing journal to append to it, returning the units it
    /// already holds (the last one kept for a unit seen twice). `check`
    /// says why a run read back does not belong to this sweep (its
    /// strategies or seed are not the unit's), if it does not.
    ///
    /// A line that is not a run at all is one cut short by a crash: skipped,
    /// its unit runs again. A first line that is not a journal's header, or
    /// a whole run that does not fit the sweep, is an error: the journal was
    /// edited or corrupted, and resuming from it gave a CSV whose rows
    /// shifted between strategies, or a panic (found by a hostile-input
    /// pass).
    pub(crate) fn resume(
        path: &Path,
        fingerprint: &str,
        units: usize,
        check: impl Fn(&UnitResult) -> Result<(), String>,
    ) -> Result<(Self, Vec<UnitResult>), SweepError> {
        let io = |source| SweepError::Io {
            path: path.to_path_buf(),
            source,
        };
        let corrupt = |line: usize, message: String| SweepError::CorruptJournal {
            path: path.to_path_buf(),
            line,
            message,
        };
        let file = File::open(path).map_err(io)?;
        let mut lines = BufReader::new(file).split(b'\n');
        let first = lines.next().transpose().map_err(io)?.unwrap_or_default();
        let Ok(found) = serde_json::from_slice::<Header>(&first) else {
            return Err(corrupt(
                1,
                "it does not start with a sweep journal's header".to_owned(),
            ));
        };
        if !fits(&found, fingerprint, units) {
            return Err(SweepError::StaleJournal {
                path: path.to_path_buf(),
            });
        }
        let mut done: Vec<Option<UnitResult>> = vec![None; units];
        for (i, line) in lines.enumerate() {
            let line = line.map_err(io)?;
            // A torn line (the process died mid-write) is skipped.
            let Ok(r) = serde_json::from_slice::<UnitResult>(&line) else {
                continue;
            };
            let problem = if r.unit >= units {
                Err(format!(
                    "it holds unit {}, but the sweep has {units}",
                    r.unit
                ))
            } else {
                check(&r)
            };
            problem.map_err(|message| corrupt(i + 2, message))?;
            let unit = r.unit;
            done[unit] = Some(r);
        }
        let file = OpenOptions::new().append(true).open(path).map_err(io)?;
        // Start on a fresh line in case the last one was torn.
        let mut journal = Journal {
            path: path.to_path_buf(),
            file,
        };
        journal.file.write_all(b"\n").map_err(io)?;
        Ok((journal, done.into_iter().flatten().collect()))
    }

    /// Appends one finished unit (one `write` call per line).
    pub(crate) fn append(&mut self, result: &UnitResult) -> Result<(), SweepError> {
        let mut line = serde_json::to_string(result).expect("a unit result always serialises");
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(|source| SweepError::Io {
                path: self.path.clone(),
                source,
            })
    }

    /// Flushes the journal to disk.
    pub(crate) fn sync(&mut self) -> Result<(), SweepError> {
        self.file.sync_data().map_err(|source| SweepError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stamp fits only the sweep and the CSV bytes it was written for.
    #[test]
    fn a_stamp_fits_its_own_sweep_and_csv_only() {
        let s = stamp("00ff", 6, b"a,b\n1,2\n");
        assert!(s.ends_with('\n') && s.lines().count() == 1, "{s}");
        assert!(stamp_fits(s.as_bytes(), "00ff", 6, b"a,b\n1,2\n"));
        assert!(!stamp_fits(s.as_bytes(), "00fe", 6, b"a,b\n1,2\n"));
        assert!(!stamp_fits(s.as_bytes(), "00ff", 7, b"a,b\n1,2\n"));
        assert!(!stamp_fits(s.as_bytes(), "00ff", 6, b"a,b\n1,3\n"));
        for junk in [
            &b""[..],
            b"{}",
            b"\xff\xfe",
            s.replace("0.", "9.").as_bytes(),
        ] {
            assert!(!stamp_fits(junk, "00ff", 6, b"a,b\n1,2\n"), "{junk:?}");
        }
    }
}
