//! Turns scenario text into a [`Scenario`], or the first error in the file.

use crate::latency::Trace;
use std::collections::BTreeMap;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::error::{Diagnostic, ErrorKind, Position, ScenarioError, suggest};
use super::reader::{Field, Reader, Span, Table, group_digits};
use super::{CpuModel, MAX_REQUESTS, MemoryFile, Model, PythonVersion, Scenario};
use super::{latency_table, nesting, server_table, strategy_tables, sweep_table};
use crate::latency::{LatencySource, MAX_MIXTURE_DEPTH};
use crate::strategy::kind::StrategyKind;

/// Keys allowed at the top level.
pub(super) const TOP_KEYS: [&str; 11] = [
    "name",
    "seed",
    "requests",
    "concurrency",
    "strategies",
    "latency",
    "model",
    "sweep",
    "rate_limited",
    "adaptive_limit",
    "server",
];

/// Keys allowed in `[model]`.
const MODEL_KEYS: [&str; 3] = ["python", "memory", "cpu"];

/// If `key` belongs at the top level but appears in a table, explains why.
pub(super) fn misplaced_top_level_key(key: &str, table: &str) -> Option<String> {
    TOP_KEYS.contains(&key).then(|| {
        format!(
            "`{key}` is a top-level key, but here it belongs to {table}: keys after a \
             [table] header belong to that table, so move `{key}` above the first header"
        )
    })
}

/// Parses and validates `text`, the contents of `file`.
pub(super) fn scenario(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
    scenario_with(text, file, None)
}

/// [`scenario`], reusing `loaded`, a trace already loaded from the file
/// the scenario names, instead of loading it again: each point of a sweep
/// is the scenario's text validated again, and each loaded the trace anew
/// and kept its own copy (50 points of a 40 MB trace: 2 GB and 9 s; found
/// by a hostile-input pass).
pub(super) fn scenario_with(
    text: &str,
    file: &Path,
    loaded: Option<&Trace>,
) -> Result<Scenario, ScenarioError> {
    let document = match DeTable::parse(text) {
        Ok(document) => document,
        Err(e) => return Err(syntax_error(text, file, &e)),
    };
    let mut reader = Reader::new(text, file);
    let root = Table {
        map: document.get_ref(),
        span: 0..0,
        path: String::new(),
    };
    reader.check_keys(&root, &TOP_KEYS, &|key| {
        if MODEL_KEYS.contains(&key) {
            Some(format!(
                "`{key}` belongs in the [model] table: write `[model]` above it"
            ))
        } else if latency_table::is_latency_key(key) {
            Some(format!(
                "`{key}` is a latency parameter: put it in the [latency] table, \
                 below a `[latency]` header"
            ))
        } else {
            None
        }
    });

    let name = read_name(&mut reader, &root, file);
    let seed = match reader.integer(&root, "seed", "seed = 1") {
        Field::Absent => Some(1),
        Field::Invalid => None,
        Field::Present(n, span) => in_range(
            &mut reader,
            &span,
            "seed",
            n,
            0,
            u64::MAX as i128,
            "seed = 1",
        ),
    };
    let requests = match reader.integer(&root, "requests", "requests = 100_000") {
        Field::Absent => {
            reader.missing(
                &root,
                "requests",
                "add e.g. `requests = 100_000` at the top of the file (before any [table] header)",
            );
            None
        }
        Field::Invalid => None,
        // A run of no requests printed zeros and drew empty charts.
        Field::Present(0, span) => {
            reader.error(
                &span,
                "requests",
                ErrorKind::InvalidValue,
                "must be at least 1, found 0 (a run of no requests has nothing to simulate)",
                "set `requests` to the number of requests to simulate, e.g. `requests = 100_000`",
            );
            None
        }
        Field::Present(n, span) => in_range(
            &mut reader,
            &span,
            "requests",
            n,
            1,
            i128::from(MAX_REQUESTS),
            "requests = 100_000",
        )
        .map(|n| (n, span)),
    };
    let concurrency = match reader.integer(&root, "concurrency", "concurrency = 500") {
        Field::Absent => {
            reader.missing(
                &root,
                "concurrency",
                "add e.g. `concurrency = 500` at the top of the file (before any [table] header)",
            );
            None
        }
        Field::Invalid => None,
        Field::Present(n, span) => in_range(
            &mut reader,
            &span,
            "concurrency",
            n,
            1,
            u64::MAX as i128,
            "concurrency = 500",
        ),
    };
    let strategies = read_strategies(&mut reader, &root);
    let mut latency_at = None;
    let latency = match reader.table(&root, "latency", LATENCY_TABLE_HELP) {
        Field::Absent => {
            reader.missing(&root, "latency", LATENCY_TABLE_HELP);
            None
        }
        Field::Invalid => None,
        Field::Present(table, _) => {
            let base = file.parent().unwrap_or(Path::new(""));
            let latency = latency_table::read(&mut reader, &table, base, loaded);
            // Where to point at if a draw fails (see below).
            latency_at = Some(table);
            latency
        }
    };
    let model = read_model(&mut reader, &root, file);
    let params = strategy_tables::read(&mut reader, &root, strategies.as_deref(), concurrency);
    let server = server_table::read(&mut reader, &root);

    // Cross-checks that need several valid values.
    if let (Some((requests, span)), Some(LatencySource::Trace(trace))) = (&requests, &latency)
        && !trace.wrap()
        && usize::try_from(*requests).is_ok_and(|r| r > trace.len())
    {
        reader.error(
            span,
            "requests",
            ErrorKind::InvalidValue,
            format!(
                "the trace {} has only {}, but requests = {}",
                trace.path().display(),
                crate::report::count(trace.len(), "latency", "latencies"),
                group_digits(i128::from(*requests)),
            ),
            format!(
                "add `wrap = true` to [latency] to replay the trace from its start, \
                 or lower `requests` to at most {}",
                group_digits(trace.len() as i128)
            ),
        );
    }

    // Parameters that pass every bound can still draw latencies no run can
    // take (a Pareto of shape 0.01 draws 1e38 s): the first requests'
    // draws, exactly those of the run, catch all but the rarest here,
    // where the file and key can be named (a mixture's components were
    // each checked on their own as they were read).
    if let (Some(seed), Some((requests, _)), Some(LatencySource::Distribution(d)), Some(table)) =
        (seed, &requests, &latency, &latency_at)
    {
        let draws = latency_table::Draws::Run {
            seed,
            requests: *requests,
        };
        latency_table::check_draws(&mut reader, table, d, draws);
    }

    // The sweep's points are whole scenarios: check them only once the
    // scenario they vary is valid.
    let sweep = if reader.has_errors() {
        None
    } else {
        let strategies = strategies.as_deref().unwrap_or(&[]);
        let trace = match &latency {
            Some(LatencySource::Trace(trace)) => Some(trace),
            _ => None,
        };
        sweep_table::read(&mut reader, &root, text, file, strategies, trace)
    };

    let warnings = reader.take_warnings();
    if let Some(error) = reader.into_first_error() {
        return Err(error);
    }
    match (
        name,
        seed,
        requests,
        concurrency,
        strategies,
        latency,
        model,
        sweep,
        params,
        server,
    ) {
        (
            Some(name),
            Some(seed),
            Some((requests, _)),
            Some(concurrency),
            Some(strategies),
            Some(latency),
            Some(model),
            Some(sweep),
            Some(params),
            Some(server),
        ) => Ok(Scenario {
            name,
            path: file.to_path_buf(),
            seed,
            requests,
            concurrency,
            strategies,
            latency,
            model,
            sweep,
            params,
            server,
            warnings,
        }),
        // Every `None` above comes with a recorded error; this is a backstop.
        _ => Err(ScenarioError::from(Diagnostic {
            file: file.to_path_buf(),
            position: Some(Position { line: 1, column: 1 }),
            key: String::new(),
            kind: ErrorKind::InvalidValue,
            message: "invalid scenario (internal error: no specific problem was recorded)"
                .to_owned(),
            help: "please report this as a bug, with the scenario file".to_owned(),
        })),
    }
}

const LATENCY_TABLE_HELP: &str = "add a [latency] table, e.g.\n[latency]\n\
     distribution = \"uniform\"\nlow = 0.1\nhigh = 0.2";

/// Checks `min <= n <= max` and converts to `u64`.
fn in_range(
    reader: &mut Reader<'_>,
    span: &Span,
    key: &str,
    n: i128,
    min: i128,
    max: i128,
    example: &str,
) -> Option<u64> {
    if n < min {
        let (message, help) = if min == 0 {
            (
                format!("must be >= 0, found {n}"),
                format!("use a non-negative integer, e.g. `{example}`"),
            )
        } else {
            (
                format!("must be >= {min}, found {n}"),
                format!("use at least {min}, e.g. `{example}`"),
            )
        };
        reader.error(span, key, ErrorKind::InvalidValue, message, help);
        return None;
    }
    if n > max {
        reader.error(
            span,
            key,
            ErrorKind::InvalidValue,
            format!(
                "must be at most {}, found {}",
                group_digits(max),
                group_digits(n)
            ),
            format!("use a smaller value, e.g. `{example}`"),
        );
        return None;
    }
    u64::try_from(n).ok()
}

/// The longest accepted `name`, in bytes: outputs go to `OUTPUT_DIR/<name>/`,
/// and file systems refuse longer components at 255 bytes.
pub(super) const MAX_NAME_BYTES: usize = 100;

/// Why `name` cannot be the folder that outputs go into (one path
/// component, under `OUTPUT_DIR`), if it cannot.
pub(super) fn name_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        Some("must not be empty".to_owned())
    } else if name == "." || name == ".." {
        Some(format!(
            "must name a folder of its own under the output folder, found {name:?}"
        ))
    } else if let Some(c) = name.chars().find(|c| matches!(c, '/' | '\\')) {
        Some(format!(
            "must be one folder name, without `{c}`, found {:?}",
            short(name)
        ))
    } else if let Some(c) = name.chars().find(|c| c.is_control()) {
        Some(format!(
            "must not contain control characters, found {:?} in {:?}",
            c,
            short(name)
        ))
    } else if name.len() > MAX_NAME_BYTES {
        Some(format!(
            "must be at most {MAX_NAME_BYTES} bytes, found {} bytes ({:?})",
            name.len(),
            short(name)
        ))
    } else {
        None
    }
}

/// The first 40 characters of `name`, for messages.
fn short(name: &str) -> String {
    let mut s: String = name.chars().take(40).collect();
    if s.len() < name.len() {
        s.push_str("...");
    }
    s
}

/// The rule for `name`, for help texts.
const NAME_RULE: &str = "outputs go to OUTPUT_DIR/<name>/, so the name must be one folder \
                         name: not empty, not `.` or `..`, no `/`, `\\` or control \
                         characters, at most 100 bytes";

fn read_name(reader: &mut Reader<'_>, root: &Table<'_, '_>, file: &Path) -> Option<String> {
    match reader.string(root, "name", "name = \"blog\"") {
        Field::Absent => {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if stem.is_empty() {
                return Some("scenario".to_owned());
            }
            match name_problem(&stem) {
                None => Some(stem),
                Some(problem) => {
                    reader.error(
                        &(0..0),
                        "name",
                        ErrorKind::InvalidValue,
                        format!(
                            "the scenario's name defaults to its file name, which cannot be \
                             used: it {problem}"
                        ),
                        format!("add e.g. `name = \"blog\"` at the top of the file; {NAME_RULE}"),
                    );
                    None
                }
            }
        }
        Field::Invalid => None,
        Field::Present(name, span) => match name_problem(&name) {
            None => Some(name),
            Some(problem) => {
                let help = if name.trim().is_empty() {
                    "write e.g. `name = \"blog\"`, or remove the key to use the file name"
                        .to_owned()
                } else {
                    format!("write e.g. `name = \"blog\"`; {NAME_RULE}")
                };
                reader.error(&span, "name", ErrorKind::InvalidValue, problem, help);
                None
            }
        },
    }
}

fn strategy_list() -> String {
    let names = StrategyKind::ALL
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ");
    let aliases = StrategyKind::ALL
        .iter()
        .flat_map(|k| {
            k.aliases()
                .iter()
                .map(move |a| format!("{a} = {}", k.name()))
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("valid strategies: {names} (aliases: {aliases}; a `.py` suffix is also accepted)")
}

fn read_strategies(reader: &mut Reader<'_>, root: &Table<'_, '_>) -> Option<Vec<StrategyKind>> {
    let help = "write e.g. `strategies = [\"batching\", \"gated_spawn\"]`, \
                or remove the key to run all four";
    let (items, span) = match reader.array(root, "strategies", help) {
        Field::Absent => return Some(StrategyKind::BLOG.to_vec()),
        Field::Invalid => {
            return None;
        }
        Field::Present(items, span) => (items, span),
    };
    if items.is_empty() {
        reader.error(
            &span,
            "strategies",
            ErrorKind::InvalidValue,
            "must list at least one strategy, found an empty array",
            format!(
                "remove the key to run all four, or list some; {}",
                strategy_list()
            ),
        );
        return None;
    }
    let mut kinds = Vec::with_capacity(items.len());
    let mut seen: BTreeMap<StrategyKind, Span> = BTreeMap::new();
    let mut ok = true;
    for (index, item) in items.iter().enumerate() {
        let key = format!("strategies[{index}]");
        let DeValue::String(text) = item.get_ref() else {
            let found = reader.found(item);
            reader.error(
                &item.span(),
                key,
                ErrorKind::WrongType,
                format!("expected a strategy name (a string), found {found}"),
                format!("put each name in double quotes; {}", strategy_list()),
            );
            ok = false;
            continue;
        };
        let Some(kind) = StrategyKind::parse(text) else {
            let bare = text.strip_suffix(".py").unwrap_or(text);
            let close = suggest(bare, StrategyKind::spellings());
            let help = match close {
                Some(close) => format!("did you mean `{close}`? {}", strategy_list()),
                None => strategy_list(),
            };
            reader.error(
                &item.span(),
                key,
                ErrorKind::InvalidValue,
                format!("unknown strategy {:?}", text.as_ref()),
                help,
            );
            ok = false;
            continue;
        };
        if let Some(first) = seen.get(&kind) {
            let first = reader.position(first.start);
            let at = format!(" at {}:{}", first.line, first.column);
            let same = if text.as_ref() == kind.name() {
                String::new()
            } else {
                format!(" ({text:?} is `{}`)", kind.name())
            };
            reader.error(
                &item.span(),
                key,
                ErrorKind::InvalidValue,
                format!(
                    "duplicate strategy `{}`{same}, already listed{at}",
                    kind.name()
                ),
                "list each strategy once",
            );
            ok = false;
            continue;
        }
        seen.insert(kind, item.span());
        kinds.push(kind);
    }
    ok.then_some(kinds)
}

fn read_model(reader: &mut Reader<'_>, root: &Table<'_, '_>, file: &Path) -> Option<Model> {
    let help = "write a [model] table, e.g.\n[model]\npython = \"3.12\"\ncpu = \"none\"";
    let table = match reader.table(root, "model", help) {
        Field::Absent => return Some(Model::default()),
        Field::Invalid => return None,
        Field::Present(table, _) => table,
    };
    reader.check_keys(&table, &MODEL_KEYS, &|key| {
        misplaced_top_level_key(key, "[model]")
    });
    let versions = PythonVersion::ALL
        .iter()
        .map(|v| format!("\"{}\"", v.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let python = match reader.string(&table, "python", "python = \"3.12\"") {
        Field::Absent => Some(PythonVersion::V3_12),
        Field::Invalid => None,
        Field::Present(text, span) => {
            let parsed = PythonVersion::parse(text.trim());
            if parsed.is_none() {
                reader.error(
                    &span,
                    table.key("python"),
                    ErrorKind::InvalidValue,
                    format!(
                        "unknown Python version {text:?}: memory profiles exist for {versions}"
                    ),
                    format!("use one of {versions}, e.g. `python = \"3.12\"`"),
                );
            }
            parsed
        }
    };
    let (python, memory) = read_memory(reader, &table, file, python);
    let cpu = match reader.string(&table, "cpu", "cpu = \"cpython-3.12\"") {
        Field::Absent => Some(CpuModel::None),
        Field::Invalid => None,
        Field::Present(text, span) => {
            let name = text.trim();
            if name == "none" {
                Some(CpuModel::None)
            } else {
                let base = file.parent().unwrap_or(Path::new(""));
                match crate::profiles::cpu_profile(name, base) {
                    Ok(profile) => {
                        if let Some(python) = python {
                            versions_differ(reader, &table, &span, name, &profile.python, python);
                        }
                        Some(CpuModel::Profile {
                            name: name.to_owned(),
                            costs: profile.costs,
                        })
                    }
                    Err((message, help)) => {
                        reader.error(
                            &span,
                            table.key("cpu"),
                            ErrorKind::InvalidValue,
                            message,
                            help,
                        );
                        None
                    }
                }
            }
        }
    };
    Some(Model {
        python: python?,
        memory: memory?,
        cpu: cpu?,
    })
}

/// `[model]`'s `memory` key and the version it implies: `python`'s, or
/// the file's when there is no `python` key. The file is `Some(None)` when
/// the key is absent, `None` when it is invalid (reported).
fn read_memory(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    file: &Path,
    python: Option<PythonVersion>,
) -> (Option<PythonVersion>, Option<Option<MemoryFile>>) {
    let (text, span) = match reader.string(table, "memory", "memory = \"my-profile.toml\"") {
        Field::Absent => return (python, Some(None)),
        Field::Invalid => return (python, None),
        Field::Present(text, span) => (text, span),
    };
    let name = text.trim();
    let base = file.parent().unwrap_or(Path::new(""));
    let profile = match crate::profiles::memory_profile(name, base) {
        Ok(profile) => profile,
        Err((message, help)) => {
            reader.error(
                &span,
                table.key("memory"),
                ErrorKind::InvalidValue,
                message,
                help,
            );
            return (python, None);
        }
    };
    let major_minor = profile
        .python
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".");
    let measured = PythonVersion::parse(&major_minor);
    let python = match (measured, python) {
        // No `python` key: the file's version.
        (Some(v), Some(_)) if !table.has("python") => Some(v),
        (Some(v), Some(p)) if v == p => Some(p),
        (Some(v), Some(p)) => {
            reader.error(
                &span,
                table.key("memory"),
                ErrorKind::InvalidValue,
                format!(
                    "the memory profile {name:?} was measured on CPython {}, but `python = \"{}\"`: \
                     the sizes and the semaphore rule would come from different versions",
                    profile.python,
                    p.as_str()
                ),
                format!(
                    "set `python = \"{}\"` (or leave it out), or use a profile of CPython {}",
                    v.as_str(),
                    p.as_str()
                ),
            );
            return (Some(p), None);
        }
        (None, _) => {
            reader.error(
                &span,
                table.key("memory"),
                ErrorKind::InvalidValue,
                format!(
                    "the memory profile {name:?} was measured on CPython {}, which bpsim does \
                     not model",
                    profile.python
                ),
                "use a profile of CPython 3.11, 3.12 or 3.13 (`bpsim calibrate --python PATH \
                 --tracemalloc -o FILE.toml`)"
                    .to_owned(),
            );
            return (python, None);
        }
        (Some(_), None) => return (None, None),
    };
    let memory = MemoryFile {
        name: name.to_owned(),
        sizes: Box::new(profile.sizes),
        measured: profile.python,
    };
    (python, Some(Some(memory)))
}

/// Warns, at `cpu`, when the CPU profile `name` was measured on another
/// CPython (`measured`, e.g. `"3.12"`, or `"3.12.1"`) than the memory model
/// `python` is: allowed, but sizes and costs then come from two
/// interpreters.
fn versions_differ(
    reader: &mut Reader<'_>,
    table: &Table<'_, '_>,
    span: &Span,
    name: &str,
    measured: &str,
    python: PythonVersion,
) {
    let major_minor = measured.split('.').take(2).collect::<Vec<_>>().join(".");
    if major_minor == python.as_str() {
        return;
    }
    let model = if table.has("python") {
        format!("CPython {0} (`python = \"{0}\"`)", python.as_str())
    } else {
        format!("CPython {} (the default: no `python` key)", python.as_str())
    };
    let shipped = format!("cpython-{}", python.as_str());
    let matching = if crate::profiles::NAMES.contains(&shipped.as_str()) {
        format!("`cpu = \"{shipped}\"`")
    } else {
        format!(
            "a profile of CPython {} (`bpsim calibrate`)",
            python.as_str()
        )
    };
    reader.warning(
        span,
        table.key("cpu"),
        format!(
            "the CPU profile {name:?} was measured on CPython {measured}, but the memory model \
             is {model}: costs and sizes come from different interpreters"
        ),
        if PythonVersion::parse(&major_minor).is_some() {
            format!(
                "use {matching}, or set `python = \"{major_minor}\"` if that is the interpreter \
                 you mean"
            )
        } else {
            format!("use {matching} (bpsim has no memory model of CPython {major_minor})")
        },
    );
}

/// A TOML syntax error, located, with the key guessed from the source line.
fn syntax_error(text: &str, file: &Path, error: &toml::de::Error) -> ScenarioError {
    if nesting::is_nesting_error(error.message()) {
        return nesting_error(text, file, error);
    }
    let offset = error.span().map_or(0, |span| span.start);
    let mut message = format!(
        "invalid TOML: {}",
        error.message().trim().replace('\n', "; ")
    );
    let lower = message.to_lowercase();
    let line = SourceLine::at(text, offset);
    let value = line.value.unwrap_or("");
    let local = line.local_key.as_str();
    let help = if line.value.is_some() && (value.is_empty() || value.starts_with('#')) {
        message = "invalid TOML: missing value after `=`".to_owned();
        format!(
            "give `{local}` a value, e.g. `{local} = 1` or `{local} = \"text\"`, or remove the line"
        )
    } else if lower.contains("must be quoted")
        && !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '_')
    {
        format!(
            "numbers cannot contain spaces; group digits with underscores: `{local} = {}`",
            value.replace(' ', "_")
        )
    } else if lower.contains("must be quoted") && !value.is_empty() && !value.contains('"') {
        format!("put the text in double quotes: `{local} = \"{value}\"`")
    } else if lower.contains("expected `\"`") {
        "close the string with a double quote on the same line".to_owned()
    } else if lower.contains("float")
        || lower.contains("integer")
        || lower.contains("digit")
        || lower.contains("leading zero")
    {
        format!(
            "write a number such as `0.15`, `1e-3` or `100_000` (no leading zeros), or \
             put text in double quotes: `{local} = \"{value}\"`"
        )
    } else if lower.contains("duplicate") {
        "each key (and each [table] header) may appear only once; remove or merge the duplicate"
            .to_owned()
    } else if lower.contains("string") || lower.contains("quote") {
        "strings must be in double quotes, e.g. `name = \"blog\"`".to_owned()
    } else if lower.contains("newline") {
        "write one `key = value` per line".to_owned()
    } else if lower.contains("comma") {
        "separate array elements with commas: `[\"a\", \"b\"]`".to_owned()
    } else if lower.contains("unclosed table") || lower.contains("expected `]`") {
        "close the header with `]`, e.g. `[latency]`".to_owned()
    } else {
        "fix the TOML syntax here: `key = value` pairs, strings in double quotes, \
         `[table]` headers, arrays like `[\"a\", \"b\"]` (see https://toml.io)"
            .to_owned()
    };
    ScenarioError::from(Diagnostic {
        file: file.to_path_buf(),
        position: Some(Position::from_offset(text, offset)),
        key: line.key,
        kind: ErrorKind::Syntax,
        message,
        help,
    })
}

/// TOML nested deeper than the `toml` crate reads ([`nesting::TOML_MAX_DEPTH`]
/// levels), located where it goes too deep: inline tables and arrays at the
/// opening that is one too many (the crate's span), a dotted key or table
/// header at its start (the crate gives no span for those).
fn nesting_error(text: &str, file: &Path, error: &toml::de::Error) -> ScenarioError {
    let max = nesting::TOML_MAX_DEPTH;
    let (offset, key, what) = match (error.span(), nesting::first_long_key(text)) {
        (Some(span), _) => (
            span.start,
            SourceLine::at(text, span.start).key,
            format!("the inline tables and arrays here go past {max} levels, the most bpsim reads"),
        ),
        (None, Some(long)) => {
            let shown = long.head.join(".");
            (
                long.offset,
                format!("{shown}..."),
                format!(
                    "this [table] header or key has {} dotted parts, more than the {max} \
                     bpsim reads",
                    long.parts
                ),
            )
        }
        // Not found again (the crate and its parser would disagree): say
        // that the line is unknown rather than let 1:1 pass for it.
        (None, None) => (
            0,
            String::new(),
            format!(
                "a key somewhere in the file (not found again) goes past {max} levels, the \
                 most bpsim reads"
            ),
        ),
    };
    let mixture = key.contains("components") || text.contains("components");
    let help = if mixture {
        format!(
            "mixtures may be nested at most {MAX_MIXTURE_DEPTH} deep (a component that is a \
             mixture, whose component is a mixture, ...): flatten the nested mixtures into one \
             list of [[latency.components]], each weighted by the product of the weights on \
             its way down"
        )
    } else {
        format!(
            "nest tables and arrays less deeply: a scenario needs a few levels at most (the \
             deepest, a mixture nested {MAX_MIXTURE_DEPTH} deep, is a key of {} parts: \
             `latency.components.components...`)",
            MAX_MIXTURE_DEPTH + 1
        )
    };
    ScenarioError::from(Diagnostic {
        file: file.to_path_buf(),
        position: Some(Position::from_offset(text, offset)),
        key,
        kind: ErrorKind::Syntax,
        message: format!("invalid TOML: nested too deeply: {what}"),
        help,
    })
}

/// What can be guessed about the source line of a syntax error.
#[derive(Debug)]
struct SourceLine<'a> {
    /// The key path: the line's key, prefixed by the nearest `[table]` header
    /// above it (or the header itself); empty if there is no recognisable key.
    key: String,
    /// The line's key as written.
    local_key: String,
    /// The trimmed text after `=`, if the line has one.
    value: Option<&'a str>,
}

impl<'a> SourceLine<'a> {
    fn at(text: &'a str, offset: usize) -> SourceLine<'a> {
        let offset = offset.min(text.len());
        let start = text.as_bytes()[..offset]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let line = text.get(start..).unwrap_or("").lines().next().unwrap_or("");
        let before = text.get(..start).unwrap_or("");
        let none = SourceLine {
            key: String::new(),
            local_key: String::new(),
            value: None,
        };
        if let Some(header) = header(line) {
            return SourceLine {
                local_key: header.clone(),
                key: header,
                value: None,
            };
        }
        let Some((key, value)) = line.split_once('=') else {
            return none;
        };
        let key = key.trim();
        if !is_bare_key(key) {
            return none;
        }
        let local_key = key.replace(' ', "");
        let key = match before.lines().rev().find_map(header) {
            Some(table) => format!("{table}.{local_key}"),
            None => local_key.clone(),
        };
        SourceLine {
            key,
            local_key,
            value: Some(value.trim()),
        }
    }
}

/// A (possibly dotted) bare key.
fn is_bare_key(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '))
}

/// The table named by a `[table]` or `[[array]]` header line (even an
/// unclosed one).
fn header(line: &str) -> Option<String> {
    let t = line.trim();
    if !t.starts_with('[') {
        return None;
    }
    let t = t.split('#').next().unwrap_or("").trim();
    let inner = t.trim_start_matches('[').trim_end_matches(']').trim();
    is_bare_key(inner).then(|| inner.replace(' ', ""))
}
