//! TOML nested past what the `toml` crate reads: where, and what to do.
//!
//! The `toml` crate stops at [`TOML_MAX_DEPTH`] levels, with one of two
//! errors: "cannot recurse further" for inline tables and arrays (with a
//! span) and "recursion limit" for a dotted key or `[table.header]` of more
//! parts (with no span at all, so it was reported at line 1 and blamed on
//! the first key of the file). A mixture nested 2,000 deep, each level a
//! `[[latency.components.components...]]` header, is the natural way to
//! get there (found by a hostile-input pass).

use toml_parser::parser::{EventReceiver, RecursionGuard};
use toml_parser::{ErrorSink, Source, Span};

/// How deeply the `toml` crate (`toml/src/de/parser/mod.rs`, `LIMIT`)
/// nests inline tables and arrays, and how many parts a dotted key or table
/// header may have. `nesting_limit_is_the_toml_crates` below checks it
/// against the crate.
pub(super) const TOML_MAX_DEPTH: usize = 80;

/// Whether `message`, a `toml` parse error's, is its nesting limit.
pub(super) fn is_nesting_error(message: &str) -> bool {
    let lower = message.to_lowercase();
    lower.contains("recursion limit") || lower.contains("max recursion depth")
}

/// A key or table header with more parts than the `toml` crate reads.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct LongKey {
    /// Byte offset of its first part.
    pub(super) offset: usize,
    /// How many parts it has.
    pub(super) parts: usize,
    /// Its first parts, as written, for messages.
    pub(super) head: Vec<String>,
}

/// The first key or table header in `text` with more than
/// [`TOML_MAX_DEPTH`] parts, found with the `toml` crate's own lexer and
/// parser (so quoted parts, comments and strings are read as it reads them).
pub(super) fn first_long_key(text: &str) -> Option<LongKey> {
    let source = Source::new(text);
    let tokens = source.lex().into_vec();
    let mut finder = Finder {
        text,
        parts: 0,
        offset: 0,
        head: Vec::new(),
        found: None,
    };
    {
        // The guard stops the parser descending into inline tables and
        // arrays nested deeper than the crate reads, as the crate does.
        let mut guarded = RecursionGuard::new(&mut finder, TOML_MAX_DEPTH as u32);
        toml_parser::parser::parse_document(&tokens, &mut guarded, &mut ());
    }
    finder.end_key();
    finder.found
}

/// How many leading parts of a long key messages show.
const HEAD_PARTS: usize = 3;

/// Follows the parser's events, counting the parts of each key.
struct Finder<'t> {
    text: &'t str,
    /// Parts of the key being read (0: not in a key).
    parts: usize,
    /// Where the key being read starts.
    offset: usize,
    /// Its first [`HEAD_PARTS`] parts.
    head: Vec<String>,
    found: Option<LongKey>,
}

impl Finder<'_> {
    /// Anything but a key part, a dot or a space ends the key being read.
    fn end_key(&mut self) {
        if self.parts > TOML_MAX_DEPTH && self.found.is_none() {
            self.found = Some(LongKey {
                offset: self.offset,
                parts: self.parts,
                head: std::mem::take(&mut self.head),
            });
        }
        self.parts = 0;
        self.head.clear();
    }
}

impl EventReceiver for Finder<'_> {
    fn simple_key(
        &mut self,
        span: Span,
        _kind: Option<toml_parser::decoder::Encoding>,
        _error: &mut dyn ErrorSink,
    ) {
        if self.parts == 0 {
            self.offset = span.start();
        }
        self.parts += 1;
        if self.head.len() < HEAD_PARTS {
            let part = self.text.get(span.start()..span.end()).unwrap_or("?");
            self.head.push(part.chars().take(40).collect());
        }
    }
    fn key_sep(&mut self, _span: Span, _error: &mut dyn ErrorSink) {}
    fn whitespace(&mut self, _span: Span, _error: &mut dyn ErrorSink) {}
    fn std_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.end_key();
    }
    fn std_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.end_key();
    }
    fn array_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.end_key();
    }
    fn array_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.end_key();
    }
    fn inline_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        self.end_key();
        true
    }
    fn inline_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.end_key();
    }
    fn array_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        self.end_key();
        true
    }
    fn array_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.end_key();
    }
    fn key_val_sep(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.end_key();
    }
    fn scalar(
        &mut self,
        _span: Span,
        _kind: Option<toml_parser::decoder::Encoding>,
        _error: &mut dyn ErrorSink,
    ) {
        self.end_key();
    }
    fn value_sep(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.end_key();
    }
    fn comment(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.end_key();
    }
    fn newline(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.end_key();
    }
    fn error(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.end_key();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parts: usize) -> String {
        vec!["a"; parts].join(".")
    }

    fn nested_inline(depth: usize) -> String {
        format!("x = {}1{}\n", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn nesting_limit_is_the_toml_crates() {
        // A key of TOML_MAX_DEPTH + 1 parts is read, one more is not.
        let ok = format!("{} = 1\n", key(TOML_MAX_DEPTH));
        assert!(toml::de::DeTable::parse(&ok).is_ok());
        assert_eq!(first_long_key(&ok), None);
        let long = format!("{} = 1\n", key(TOML_MAX_DEPTH + 1));
        let e = toml::de::DeTable::parse(&long).unwrap_err();
        assert!(is_nesting_error(e.message()), "{e}");
        // Arrays nested TOML_MAX_DEPTH deep are read, one more is not.
        assert!(toml::de::DeTable::parse(&nested_inline(TOML_MAX_DEPTH)).is_ok());
        let e = toml::de::DeTable::parse(&nested_inline(TOML_MAX_DEPTH + 1)).unwrap_err();
        assert!(is_nesting_error(e.message()), "{e}");
    }

    #[test]
    fn the_first_long_key_is_found_wherever_it_is() {
        let text = format!(
            "a = 1\n# {}\ns = \"{}\"\n\n[\"q.r\" . {}]\nb = 2\n[{}]\n",
            key(200),
            key(200),
            key(100),
            key(300)
        );
        let found = first_long_key(&text).unwrap();
        assert_eq!(found.parts, 101);
        assert_eq!(found.head, ["\"q.r\"", "a", "a"]);
        assert_eq!(&text[found.offset..found.offset + 5], "\"q.r\"");
        // In an inline table too, and past arrays nested too deep to read.
        let text = format!("{}y = {{ z = 1, {} = 2 }}\n", nested_inline(5_000), key(90));
        let found = first_long_key(&text).unwrap();
        assert_eq!(found.parts, 90);
        assert_eq!(
            text[..found.offset].lines().count(),
            2,
            "on the second line"
        );
    }
}
