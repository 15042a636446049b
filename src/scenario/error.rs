//! Scenario errors: located at `file:line:column`, naming the key, what was
//! expected and found, and how to fix it.

use std::fmt;
use std::path::PathBuf;

/// What kind of problem a [`ScenarioError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The scenario file cannot be read, or is not UTF-8.
    Read,
    /// The file is not valid TOML.
    Syntax,
    /// A key that is not allowed where it appears.
    UnknownKey,
    /// A required key is missing.
    MissingKey,
    /// A value of the wrong TOML type (a string where a number belongs, ...).
    WrongType,
    /// A value of the right type that is out of range or not recognised.
    InvalidValue,
    /// The latency trace file cannot be used.
    Trace,
    /// A valid setting that changes nothing (a table for a strategy that is
    /// not run): reported as a warning in [`crate::scenario::Scenario::warnings`],
    /// never as an error.
    NoEffect,
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` of `text` (clamped to the end of `text`).
    pub fn from_offset(text: &str, offset: usize) -> Position {
        let bytes = text.as_bytes();
        let before = &bytes[..offset.min(bytes.len())];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |newline| newline + 1);
        // Count characters: every byte except UTF-8 continuation bytes.
        let column = before[line_start..]
            .iter()
            .filter(|b| (**b & 0xC0) != 0x80)
            .count()
            + 1;
        Position { line, column }
    }
}

/// An invalid scenario file: a boxed [`Diagnostic`] (which it derefs to, so
/// `error.key`, `error.position`, ... work directly).
///
/// Displays as
///
/// ```text
/// scenarios/bad.toml:9:8: latency.high: must be >= latency.low (0.2), found 0.1
///   help: swap low and high, or make them equal for a constant latency
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError(Box<Diagnostic>);

/// What is wrong with a scenario file, and where.
///
/// The position is missing only when the file itself cannot be read, and the
/// key is empty only for TOML syntax errors where no key can be determined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The scenario file, as given.
    pub file: PathBuf,
    /// Where in the file (`None` if it cannot be read).
    pub position: Option<Position>,
    /// The key path, e.g. `latency.high` or `strategies[2]`.
    pub key: String,
    /// The kind of problem.
    pub kind: ErrorKind,
    /// What was expected and what was found.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl ScenarioError {
    /// The details.
    pub fn diagnostic(&self) -> &Diagnostic {
        &self.0
    }
}

impl From<Diagnostic> for ScenarioError {
    fn from(diagnostic: Diagnostic) -> ScenarioError {
        ScenarioError(Box::new(diagnostic))
    }
}

impl std::ops::Deref for ScenarioError {
    type Target = Diagnostic;

    fn deref(&self) -> &Diagnostic {
        &self.0
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

/// `file:line:column: key: message`, then `  help: ...`.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(Position { line, column }) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        f.write_str(": ")?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)?;
        if !self.help.is_empty() {
            write!(f, "\n  help: {}", self.help.replace('\n', "\n        "))?;
        }
        Ok(())
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to
/// be a plausible misspelling (case and `-`/`_` differences count as nothing).
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let normalise = |s: &str| -> Vec<char> {
        s.chars()
            .take(64)
            .map(|c| {
                if c == '-' {
                    '_'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect()
    };
    let word = normalise(word);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = edit_distance(&word, &normalise(candidate));
        let limit = match candidate.chars().count() {
            0..=3 => 1,
            4..=7 => 2,
            _ => 3,
        };
        if distance <= limit
            && distance < word.len().max(1)
            && best.is_none_or(|(d, _)| distance < d)
        {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Levenshtein distance (insertions, deletions, substitutions), with adjacent
/// transpositions counting as one edit.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    // rows[0] = two rows back, rows[1] = previous row, current = this row.
    let mut two_back: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(two_back[j - 2] + 1);
            }
            current[j] = d;
        }
        std::mem::swap(&mut two_back, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        edit_distance(&a, &b)
    }

    #[test]
    fn edit_distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("concurency", "concurrency"), 1);
        assert_eq!(distance("sede", "seed"), 1);
        assert_eq!(distance("ab", "ba"), 1);
    }

    #[test]
    fn suggestions() {
        let keys = ["name", "seed", "requests", "concurrency", "strategies"];
        assert_eq!(suggest("concurency", keys), Some("concurrency"));
        assert_eq!(suggest("Concurrency", keys), Some("concurrency"));
        assert_eq!(suggest("request", keys), Some("requests"));
        assert_eq!(suggest("sede", keys), Some("seed"));
        assert_eq!(suggest("latency", keys), None);
        assert_eq!(suggest("x", keys), None);
        assert_eq!(suggest("", keys), None);
        assert_eq!(suggest("std-dev", ["mean", "std_dev"]), Some("std_dev"));
        assert_eq!(suggest(&"z".repeat(10_000), keys), None);
    }

    #[test]
    fn positions() {
        let text = "a = 1\nbé = 2\r\nc = 3";
        assert_eq!(
            Position::from_offset(text, 0),
            Position { line: 1, column: 1 }
        );
        assert_eq!(
            Position::from_offset(text, 4),
            Position { line: 1, column: 5 }
        );
        assert_eq!(
            Position::from_offset(text, 6),
            Position { line: 2, column: 1 }
        );
        // After the two-byte 'é'.
        assert_eq!(
            Position::from_offset(text, 9),
            Position { line: 2, column: 3 }
        );
        assert_eq!(
            Position::from_offset(text, 15),
            Position { line: 3, column: 1 }
        );
        assert_eq!(
            Position::from_offset(text, 999),
            Position { line: 3, column: 6 }
        );
    }
}
