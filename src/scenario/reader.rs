//! Typed, located access to a parsed TOML document: every getter records a
//! [`ScenarioError`] (with position, key path, expected, found and help)
//! instead of failing, so validation can continue and report the first
//! problem in the file.

use std::ops::Range;
use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{Diagnostic, ErrorKind, Position, ScenarioError, suggest};

/// A byte range in the scenario text.
pub(super) type Span = Range<usize>;

/// The outcome of reading one key.
#[derive(Debug)]
pub(super) enum Field<T> {
    /// The key is not there.
    Absent,
    /// The key is there but invalid; an error has been recorded.
    Invalid,
    /// The key's value and its span.
    Present(T, Span),
}

/// A TOML table with its span and key path.
#[derive(Clone, Debug)]
pub(super) struct Table<'t, 'i> {
    pub(super) map: &'t DeTable<'i>,
    /// The table's span: its `[header]`, or its inline `{ ... }`; `0..0` for
    /// the document root.
    pub(super) span: Span,
    /// The key path (`""` for the root, `latency`, `latency.components[0]`).
    pub(super) path: String,
}

impl<'t, 'i> Table<'t, 'i> {
    /// The full key path of `key` in this table.
    pub(super) fn key(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value of `key`.
    pub(super) fn get(&self, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        self.map.get(key)
    }

    /// Whether `key` is present.
    pub(super) fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some()
    }

    /// How this table is written in messages: `[latency]`, `the top level`.
    pub(super) fn name(&self) -> String {
        if self.path.is_empty() {
            "the top level".to_owned()
        } else {
            format!("[{}]", self.path)
        }
    }

    /// `at the top level` or `in [latency]`.
    pub(super) fn location(&self) -> String {
        if self.path.is_empty() {
            "at the top level".to_owned()
        } else {
            format!("in [{}]", self.path)
        }
    }
}

/// Accumulates errors while reading a scenario.
#[derive(Debug)]
pub(super) struct Reader<'a> {
    text: &'a str,
    file: &'a Path,
    errors: Vec<(usize, ScenarioError)>,
    warnings: Vec<Diagnostic>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(text: &'a str, file: &'a Path) -> Reader<'a> {
        Reader {
            text,
            file,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Records a warning ([`ErrorKind::NoEffect`]) at the start of `span`:
    /// something valid that changes nothing.
    pub(super) fn warning(
        &mut self,
        span: &Span,
        key: impl Into<String>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let warning = self.make_error(span.start, key, ErrorKind::NoEffect, message, help);
        self.warnings.push(warning.diagnostic().clone());
    }

    /// The warnings recorded so far, in file order, leaving none.
    pub(super) fn take_warnings(&mut self) -> Vec<Diagnostic> {
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.sort_by_key(|w| w.position.map(|p| (p.line, p.column)));
        warnings
    }

    /// The line and column of byte `offset`.
    pub(super) fn position(&self, offset: usize) -> Position {
        Position::from_offset(self.text, offset)
    }

    /// Builds an error at byte `offset` without recording it.
    pub(super) fn make_error(
        &self,
        offset: usize,
        key: impl Into<String>,
        kind: ErrorKind,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::from(Diagnostic {
            file: self.file.to_path_buf(),
            position: Some(self.position(offset)),
            key: key.into(),
            kind,
            message: message.into(),
            help: help.into(),
        })
    }

    /// Records an error at the start of `span`.
    pub(super) fn error(
        &mut self,
        span: &Span,
        key: impl Into<String>,
        kind: ErrorKind,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let error = self.make_error(span.start, key, kind, message, help);
        self.errors.push((span.start, error));
    }

    /// The error that comes first in the file, if any; missing keys come
    /// after every other error, since they are often the consequence of a
    /// misspelt key reported elsewhere.
    pub(super) fn into_first_error(self) -> Option<ScenarioError> {
        self.errors
            .into_iter()
            .enumerate()
            .min_by_key(|(index, (offset, error))| {
                (error.kind == ErrorKind::MissingKey, *offset, *index)
            })
            .map(|(_, (_, error))| error)
    }

    /// Whether any error has been recorded.
    pub(super) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The source text of `span`, shortened for messages.
    pub(super) fn snippet(&self, span: &Span) -> String {
        let text = self.text.get(span.clone()).unwrap_or("");
        let line = text.lines().next().unwrap_or("");
        let mut short: String = line.chars().take(40).collect();
        if short.len() < text.len() {
            short.push_str("...");
        }
        short
    }

    /// Describes a value for "found ...": `string "500"`, `float 1e5`, ...
    pub(super) fn found(&self, value: &Spanned<DeValue<'_>>) -> String {
        match value.get_ref() {
            DeValue::String(s) => {
                let short: String = s.chars().take(40).collect();
                if short.len() < s.len() {
                    format!("string {short:?}...")
                } else {
                    format!("string {short:?}")
                }
            }
            DeValue::Integer(_) => format!("integer {}", self.snippet(&value.span())),
            DeValue::Float(_) => format!("float {}", self.snippet(&value.span())),
            DeValue::Boolean(b) => format!("boolean {b}"),
            DeValue::Datetime(d) => format!("datetime {d}"),
            DeValue::Array(_) => "an array".to_owned(),
            DeValue::Table(_) => "a table".to_owned(),
        }
    }

    /// Records an error for every key of `table` not in `allowed`.
    ///
    /// `context` may explain a known-but-misplaced key; otherwise the help
    /// suggests the closest allowed key and lists them all.
    pub(super) fn check_keys(
        &mut self,
        table: &Table<'_, '_>,
        allowed: &[&str],
        context: &dyn Fn(&str) -> Option<String>,
    ) {
        for (key, _) in table.map.iter() {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                continue;
            }
            let list = allowed
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let help = match (context(name), suggest(name, allowed.iter().copied())) {
                (Some(explanation), _) => explanation,
                (None, Some(close)) => format!("did you mean `{close}`? valid keys here: {list}"),
                (None, None) => format!("valid keys here: {list}"),
            };
            self.error(
                &key.span(),
                table.key(name),
                ErrorKind::UnknownKey,
                format!("unknown key `{name}` {}", table.location()),
                help,
            );
        }
    }

    /// Records a missing-key error at `table`'s header.
    pub(super) fn missing(&mut self, table: &Table<'_, '_>, key: &str, help: impl Into<String>) {
        self.error(
            &table.span,
            table.key(key),
            ErrorKind::MissingKey,
            format!("missing required key `{key}` {}", table.location()),
            help,
        );
    }

    /// Records a wrong-type error.
    pub(super) fn wrong_type(
        &mut self,
        table: &Table<'_, '_>,
        key: &str,
        value: &Spanned<DeValue<'_>>,
        expected: &str,
        help: impl Into<String>,
    ) {
        let found = self.found(value);
        self.error(
            &value.span(),
            table.key(key),
            ErrorKind::WrongType,
            format!("expected {expected}, found {found}"),
            help,
        );
    }

    /// A string value; `example` (`name = "blog"`) is used in help texts.
    pub(super) fn string(
        &mut self,
        table: &Table<'_, '_>,
        key: &str,
        example: &str,
    ) -> Field<String> {
        let Some(value) = table.get(key) else {
            return Field::Absent;
        };
        match value.get_ref() {
            DeValue::String(s) => Field::Present(s.to_string(), value.span()),
            DeValue::Integer(_) | DeValue::Float(_) => {
                let raw = self.snippet(&value.span());
                self.wrong_type(
                    table,
                    key,
                    value,
                    "a string",
                    format!("put the value in double quotes: `{key} = \"{raw}\"`"),
                );
                Field::Invalid
            }
            _ => {
                self.wrong_type(
                    table,
                    key,
                    value,
                    "a string",
                    format!("write e.g. `{example}`"),
                );
                Field::Invalid
            }
        }
    }

    /// A boolean value.
    pub(super) fn boolean(&mut self, table: &Table<'_, '_>, key: &str) -> Field<bool> {
        let Some(value) = table.get(key) else {
            return Field::Absent;
        };
        match value.get_ref() {
            DeValue::Boolean(b) => Field::Present(*b, value.span()),
            DeValue::String(s) if s.as_ref() == "true" || s.as_ref() == "false" => {
                self.wrong_type(
                    table,
                    key,
                    value,
                    "a boolean",
                    format!("remove the quotes: `{key} = {s}`"),
                );
                Field::Invalid
            }
            _ => {
                self.wrong_type(
                    table,
                    key,
                    value,
                    "a boolean",
                    format!("write `{key} = true` or `{key} = false`"),
                );
                Field::Invalid
            }
        }
    }

    /// A whole number: an integer, or a float that is exactly one (`1e9`,
    /// `2.0`), read as [`whole_number`] reads it for `[sweep]`; any size
    /// below 10^30 (the caller checks the range). A float with a fraction
    /// is refused as [`Reader::fraction_error`] refuses it.
    pub(super) fn integer(
        &mut self,
        table: &Table<'_, '_>,
        key: &str,
        example: &str,
    ) -> Field<i128> {
        let Some(value) = table.get(key) else {
            return Field::Absent;
        };
        match value.get_ref() {
            DeValue::Integer(i) => match i128::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Field::Present(n, value.span()),
                Err(_) => {
                    self.out_of_range(value, table.key(key), example);
                    Field::Invalid
                }
            },
            DeValue::Float(_) => match whole_number(value.get_ref()) {
                Ok(n) if n.unsigned_abs() < WHOLE_FLOAT_CAP.unsigned_abs() => {
                    Field::Present(n, value.span())
                }
                Ok(_) => {
                    self.out_of_range(value, table.key(key), example);
                    Field::Invalid
                }
                Err(Some(_)) => {
                    self.fraction_error(value, table.key(key));
                    Field::Invalid
                }
                Err(None) => {
                    self.wrong_type(
                        table,
                        key,
                        value,
                        "a whole number",
                        format!("use a finite whole number, e.g. `{example}`"),
                    );
                    Field::Invalid
                }
            },
            DeValue::String(s) if s.trim().parse::<i128>().is_ok() => {
                self.wrong_type(
                    table,
                    key,
                    value,
                    "an integer",
                    format!("remove the quotes: `{key} = {}`", s.trim()),
                );
                Field::Invalid
            }
            _ => {
                self.wrong_type(
                    table,
                    key,
                    value,
                    "an integer",
                    format!("write e.g. `{example}`"),
                );
                Field::Invalid
            }
        }
    }

    /// Refuses `value`, a whole number beyond what any key takes, given for
    /// the key `path`.
    fn out_of_range(&mut self, value: &Spanned<DeValue<'_>>, path: String, example: &str) {
        let found = self.found(value);
        self.error(
            &value.span(),
            path,
            ErrorKind::InvalidValue,
            format!("integer out of range, found {found}"),
            format!("write e.g. `{example}`"),
        );
    }

    /// Refuses `value`, a finite float with a fraction, given for the
    /// whole-number key `path`: the one message for every such key, at the
    /// top level, in tables and in `[sweep]`.
    pub(super) fn fraction_error(&mut self, value: &Spanned<DeValue<'_>>, path: impl Into<String>) {
        let found = self.found(value);
        self.error(
            &value.span(),
            path,
            ErrorKind::InvalidValue,
            format!("expected a whole number, found {found}"),
            ROUND_IT_HELP,
        );
    }

    /// A finite number (integer or float). NaN and infinities (which TOML
    /// allows) are recorded as errors.
    pub(super) fn number(&mut self, table: &Table<'_, '_>, key: &str, example: &str) -> Field<f64> {
        let Some(value) = table.get(key) else {
            return Field::Absent;
        };
        let parsed = match value.get_ref() {
            DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            DeValue::Float(f) => parse_float(f.as_str()),
            DeValue::String(s) if s.trim().parse::<f64>().is_ok_and(f64::is_finite) => {
                self.wrong_type(
                    table,
                    key,
                    value,
                    "a number",
                    format!("remove the quotes: `{key} = {}`", s.trim()),
                );
                return Field::Invalid;
            }
            _ => {
                self.wrong_type(
                    table,
                    key,
                    value,
                    "a number",
                    format!("write e.g. `{example}`"),
                );
                return Field::Invalid;
            }
        };
        match parsed {
            // `+ 0.0` makes `-0.0` plain zero, which is what it means here
            // (it printed as `constant(-0.0)`).
            Some(x) if x.is_finite() => Field::Present(x + 0.0, value.span()),
            _ => {
                let found = self.found(value);
                self.error(
                    &value.span(),
                    table.key(key),
                    ErrorKind::InvalidValue,
                    format!("must be a finite number, found {found}"),
                    format!(
                        "TOML allows `nan` and `inf`, but this value must be finite: \
                         write e.g. `{example}`"
                    ),
                );
                Field::Invalid
            }
        }
    }

    /// A sub-table (a `[header]` table, dotted keys or an inline table).
    pub(super) fn table<'t, 'i>(
        &mut self,
        table: &Table<'t, 'i>,
        key: &str,
        help: &str,
    ) -> Field<Table<'t, 'i>> {
        let Some(value) = table.get(key) else {
            return Field::Absent;
        };
        match value.get_ref() {
            DeValue::Table(map) => Field::Present(
                Table {
                    map,
                    span: value.span(),
                    path: table.key(key),
                },
                value.span(),
            ),
            _ => {
                self.wrong_type(table, key, value, "a table", help);
                Field::Invalid
            }
        }
    }

    /// An array value.
    pub(super) fn array<'t, 'i>(
        &mut self,
        table: &Table<'t, 'i>,
        key: &str,
        help: &str,
    ) -> Field<&'t [Spanned<DeValue<'i>>]> {
        let Some(value) = table.get(key) else {
            return Field::Absent;
        };
        match value.get_ref() {
            DeValue::Array(items) => Field::Present(&items[..], value.span()),
            _ => {
                self.wrong_type(table, key, value, "an array", help);
                Field::Invalid
            }
        }
    }
}

/// The help for a float with a fraction given for a whole-number key.
pub(super) const ROUND_IT_HELP: &str = "round it: this key takes whole numbers (a float that \
     is one, such as `2.0` or `1e3`, is accepted)";

/// What [`whole_float`] returns for magnitudes of 10^30 and beyond.
pub(super) const WHOLE_FLOAT_CAP: i128 = 10_i128.pow(30);

/// A TOML integer or float as a whole number, read from its digits (so
/// `4503599627370495.1` is not one, though it rounds to one as an `f64`):
/// `Ok(n)` for an integer or a float that is exactly one (magnitudes past
/// 10^30 come back as [`WHOLE_FLOAT_CAP`]), `Err(Some(x))` for a finite
/// float with a fraction, `Err(None)` for `nan`, `inf` or another type.
/// Every whole-number key reads its value through this, the top level's
/// and the tables' (through [`Reader::integer`]) and `[sweep]`'s.
pub(super) fn whole_number(value: &DeValue<'_>) -> Result<i128, Option<f64>> {
    match value {
        DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix()).map_err(|_| None),
        DeValue::Float(f) => match whole_float(f.as_str()) {
            Some(n) => Ok(n),
            None => Err(parse_float(f.as_str()).filter(|x| x.is_finite())),
        },
        _ => Err(None),
    }
}

/// Parses a TOML float's text (`1e5`, `-0.5`, `inf`, `+inf`, `-nan`).
pub(super) fn parse_float(text: &str) -> Option<f64> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = match body {
        "nan" => f64::NAN,
        "inf" => f64::INFINITY,
        _ => body.parse::<f64>().ok()?,
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// `100000` -> `100_000`.
pub(super) fn group_digits(n: i128) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The value of the TOML float literal `text` (`1e9`, `2.0`, `-1_000.0`) if
/// it is exactly a whole number, from its digits: through `f64`,
/// `4503599627370495.1` would round to a whole number. Magnitudes beyond
/// 10^30 come back as 10^30 (out of any range swept). `None` for a fraction,
/// `nan` or `inf`.
pub(super) fn whole_float(text: &str) -> Option<i128> {
    let text: String = text.chars().filter(|c| *c != '_').collect();
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, &text[..]),
    };
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    // value = digits * 10^(exponent - frac.len())
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    let significant = digits.trim_end_matches('0');
    if significant.is_empty() {
        return Some(0);
    }
    let zeros = (digits.len() - significant.len()) as i64;
    let scale = exponent
        .checked_sub(frac.len() as i64)?
        .checked_add(zeros)?;
    if scale < 0 {
        return None;
    }
    let magnitude = if significant.len() as i64 + scale > 30 {
        WHOLE_FLOAT_CAP
    } else {
        let n: i128 = significant.parse().ok()?;
        n * 10_i128.pow(scale as u32)
    };
    Some(if negative { -magnitude } else { magnitude })
}
