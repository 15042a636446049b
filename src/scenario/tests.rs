use std::path::{Path, PathBuf};

use super::*;
use crate::latency::{Distribution, Trace};

const FILE: &str = "scenarios/bad.toml";

const HEAD: &str = "requests = 1000\nconcurrency = 10\n";

fn uniform_latency() -> &'static str {
    "[latency]\ndistribution = \"uniform\"\nlow = 0.1\nhigh = 0.2\n"
}

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::from_str(text, FILE)
}

/// One malformed scenario and what its error must say.
struct Case {
    text: String,
    key: &'static str,
    line: usize,
    kind: ErrorKind,
    message: &'static str,
    help: &'static str,
}

fn case(
    text: impl Into<String>,
    key: &'static str,
    line: usize,
    kind: ErrorKind,
    message: &'static str,
    help: &'static str,
) -> Case {
    Case {
        text: text.into(),
        key,
        line,
        kind,
        message,
        help,
    }
}

fn with_latency(body: &str) -> String {
    format!("{HEAD}[latency]\n{body}")
}

fn malformed_cases() -> Vec<Case> {
    use ErrorKind::*;
    let u = uniform_latency();
    vec![
        // 1-2: TOML syntax.
        case(
            format!("requests = 1000\nname = \"blog\n{u}"),
            "name",
            2,
            Syntax,
            "invalid TOML",
            "close the string",
        ),
        case(
            format!("name = blog\n{HEAD}{u}"),
            "name",
            1,
            Syntax,
            "invalid TOML",
            "double quotes",
        ),
        case(
            format!("{HEAD}requests = 5\n{u}"),
            "requests",
            3,
            Syntax,
            "duplicate",
            "only once",
        ),
        case(
            format!("{HEAD}{u}[latency]\n"),
            "latency",
            7,
            Syntax,
            "invalid TOML",
            "once",
        ),
        case(
            format!("{HEAD}[latency\ndistribution = \"uniform\"\n"),
            "latency",
            3,
            Syntax,
            "unclosed table",
            "close the header",
        ),
        case(
            format!("{HEAD}strategies = [\"batching\" \"gated_spawn\"]\n{u}"),
            "strategies",
            3,
            Syntax,
            "comma",
            "commas",
        ),
        case(
            format!("requests =\nconcurrency = 1\n{u}"),
            "requests",
            1,
            Syntax,
            "missing value",
            "give `requests` a value",
        ),
        case(
            format!("requests = 100 000\nconcurrency = 1\n{u}"),
            "requests",
            1,
            Syntax,
            "invalid TOML",
            "`requests = 100_000`",
        ),
        case(
            format!("{HEAD}{u}[model]\npython = 3.12.1\n"),
            "model.python",
            8,
            Syntax,
            "invalid float",
            "`python = \"3.12.1\"`",
        ),
        // Unknown keys, with suggestions.
        case(
            format!("requests = 1000\nconcurency = 10\n{u}"),
            "concurency",
            2,
            UnknownKey,
            "unknown key `concurency`",
            "did you mean `concurrency`?",
        ),
        case(
            format!("{HEAD}strategy = [\"batching\"]\n{u}"),
            "strategy",
            3,
            UnknownKey,
            "unknown key",
            "did you mean `strategies`?",
        ),
        case(
            format!("{HEAD}[latency]\ndistribution = \"uniform\"\nlow = 0.1\nhihg = 0.2\n"),
            "latency.hihg",
            6,
            UnknownKey,
            "unknown key `hihg` in [latency]",
            "did you mean `high`?",
        ),
        case(
            format!("{HEAD}{u}[model]\npyton = \"3.12\"\n"),
            "model.pyton",
            8,
            UnknownKey,
            "unknown key",
            "did you mean `python`?",
        ),
        // A distribution's name as a key, with no `distribution`.
        case(
            format!("{HEAD}[latency]\ntrace = \"latencies.txt\"\n"),
            "latency.trace",
            4,
            UnknownKey,
            "unknown key `trace` in [latency]",
            "write `distribution = \"trace\"` with path, wrap",
        ),
        case(
            format!("{HEAD}[latency]\nmeen = 0.1\n"),
            "latency.meen",
            4,
            UnknownKey,
            "unknown key `meen`",
            // Each key once, though several distributions take `mean`.
            "did you mean `mean`? valid keys here: `value`, `low`, `high`, `mean`, `width`, \
             `std_dev`, `mu`, `sigma`, `median`, `p99`, `rate`, `shape`, `scale`, \
             `components`, `path`, `wrap`",
        ),
        case(
            with_latency("distribution = \"normal\"\nmean = 0.1\nlow = 0.05\n"),
            "latency.low",
            6,
            UnknownKey,
            "unknown key `low`",
            "parameter of uniform",
        ),
        case(
            format!("{HEAD}{u}[model]\nseed = 5\n"),
            "model.seed",
            8,
            UnknownKey,
            "unknown key `seed` in [model]",
            "top-level key",
        ),
        case(
            format!("{HEAD}low = 0.1\n{u}"),
            "low",
            3,
            UnknownKey,
            "unknown key `low`",
            "[latency] table",
        ),
        // Wrong types.
        case(
            format!("requests = 1000\nconcurrency = \"500\"\n{u}"),
            "concurrency",
            2,
            WrongType,
            "expected an integer, found string \"500\"",
            "remove the quotes: `concurrency = 500`",
        ),
        case(
            format!("requests = 1000.5\nconcurrency = 5\n{u}"),
            "requests",
            1,
            InvalidValue,
            "expected a whole number, found float 1000.5",
            "round it: this key takes whole numbers",
        ),
        case(
            format!("{HEAD}strategies = \"batching\"\n{u}"),
            "strategies",
            3,
            WrongType,
            "expected an array, found string",
            "strategies = [\"batching\"",
        ),
        case(
            format!("{HEAD}latency = \"uniform\"\n"),
            "latency",
            3,
            WrongType,
            "expected a table",
            "[latency]",
        ),
        case(
            format!("{HEAD}{u}[model]\npython = 3.12\n"),
            "model.python",
            8,
            WrongType,
            "expected a string, found float 3.12",
            "`python = \"3.12\"`",
        ),
        case(
            with_latency("distribution = \"uniform\"\nlow = \"0.1\"\nhigh = 0.2\n"),
            "latency.low",
            5,
            WrongType,
            "expected a number",
            "remove the quotes: `low = 0.1`",
        ),
        case(
            with_latency("distribution = 5\n"),
            "latency.distribution",
            4,
            WrongType,
            "expected a string, found integer 5",
            "`distribution = \"uniform\"`; valid: constant(value)",
        ),
        case(
            with_latency("distribution = \"trace\"\npath = \"t.txt\"\nwrap = \"true\"\n"),
            "latency.wrap",
            6,
            WrongType,
            "expected a boolean",
            "remove the quotes: `wrap = true`",
        ),
        case(
            format!("{HEAD}strategies = [\"batching\", 3]\n{u}"),
            "strategies[1]",
            3,
            WrongType,
            "expected a strategy name",
            "double quotes",
        ),
        // Missing keys.
        case(
            format!("concurrency = 10\n{u}"),
            "requests",
            1,
            MissingKey,
            "missing required key `requests`",
            "requests = 100_000",
        ),
        case(
            format!("requests = 10\n{u}"),
            "concurrency",
            1,
            MissingKey,
            "missing required key `concurrency`",
            "concurrency = 500",
        ),
        case(
            HEAD.to_owned(),
            "latency",
            1,
            MissingKey,
            "missing required key `latency`",
            "[latency]",
        ),
        case(
            with_latency("low = 0.1\nhigh = 0.2\n"),
            "latency.distribution",
            3,
            MissingKey,
            "missing required key `distribution` in [latency]",
            "distribution = \"uniform\"",
        ),
        case(
            with_latency("distribution = \"uniform\"\nlow = 0.1\n"),
            "latency.high",
            3,
            MissingKey,
            "missing required key `high`",
            "high = 0.2",
        ),
        // Out-of-range values.
        case(
            format!("requests = 1000\nconcurrency = 0\n{u}"),
            "concurrency",
            2,
            InvalidValue,
            "must be >= 1, found 0",
            "at least 1",
        ),
        case(
            format!("requests = -5\nconcurrency = 1\n{u}"),
            "requests",
            1,
            InvalidValue,
            "must be >= 1, found -5",
            "use at least 1",
        ),
        case(
            format!("requests = 2_000_000_000\nconcurrency = 1\n{u}"),
            "requests",
            1,
            InvalidValue,
            "must be at most 1_000_000_000",
            "smaller",
        ),
        case(
            format!("seed = -1\n{HEAD}{u}"),
            "seed",
            1,
            InvalidValue,
            "must be >= 0",
            "seed = 1",
        ),
        case(
            format!("name = \"\"\n{HEAD}{u}"),
            "name",
            1,
            InvalidValue,
            "must not be empty",
            "file name",
        ),
        // A name is the folder outputs go into: one component, under
        // OUTPUT_DIR.
        case(
            format!("name = \"../x\"\n{HEAD}{u}"),
            "name",
            1,
            InvalidValue,
            "must be one folder name, without `/`",
            "name = \"blog\"",
        ),
        case(
            format!("name = \"/tmp/abs\"\n{HEAD}{u}"),
            "name",
            1,
            InvalidValue,
            "without `/`",
            "one folder",
        ),
        case(
            format!("{HEAD}name = \"a\\\\b\"\n{u}"),
            "name",
            3,
            InvalidValue,
            "without `\\`",
            "one folder",
        ),
        case(
            format!("name = \".\"\n{HEAD}{u}"),
            "name",
            1,
            InvalidValue,
            "a folder of its own",
            "not `.` or `..`",
        ),
        case(
            format!("name = \"..\"\n{HEAD}{u}"),
            "name",
            1,
            InvalidValue,
            "a folder of its own",
            "name = \"blog\"",
        ),
        case(
            format!("name = \"a\\nb\"\n{HEAD}{u}"),
            "name",
            1,
            InvalidValue,
            "control characters",
            "name = \"blog\"",
        ),
        case(
            format!("name = \"{}\"\n{HEAD}{u}", "x".repeat(101)),
            "name",
            1,
            InvalidValue,
            "at most 100 bytes, found 101 bytes",
            "name = \"blog\"",
        ),
        case(
            with_latency("distribution = \"uniform\"\nlow = -0.1\nhigh = 0.2\n"),
            "latency.low",
            5,
            InvalidValue,
            "must be >= 0, found -0.1",
            "zero is allowed",
        ),
        case(
            with_latency("distribution = \"uniform\"\nlow = 0.1\nhigh = nan\n"),
            "latency.high",
            6,
            InvalidValue,
            "must be a finite number, found float nan",
            "finite",
        ),
        case(
            with_latency("distribution = \"constant\"\nvalue = -inf\n"),
            "latency.value",
            5,
            InvalidValue,
            "must be a finite number, found float -inf",
            "finite",
        ),
        case(
            with_latency("distribution = \"uniform\"\nlow = 0.2\nhigh = 0.1\n"),
            "latency.high",
            6,
            InvalidValue,
            "latency.high (0.1) must be >= latency.low (0.2)",
            "swap low and high",
        ),
        case(
            with_latency("distribution = \"normal\"\nmean = -0.1\nstd_dev = 0.1\n"),
            "latency.mean",
            5,
            InvalidValue,
            "must be >= 0",
            "truncated at 0",
        ),
        case(
            with_latency("distribution = \"exponential\"\nmean = 0\n"),
            "latency.mean",
            5,
            InvalidValue,
            "must be > 0, found 0",
            "> 0",
        ),
        case(
            with_latency("distribution = \"exponential\"\nmean = 0.1\nrate = 10\n"),
            "latency.rate",
            6,
            InvalidValue,
            "either `mean` or `rate`",
            "1 / rate",
        ),
        case(
            with_latency("distribution = \"lognormal\"\nmu = -2\nsigma = 0.5\nmedian = 0.1\n"),
            "latency.median",
            7,
            InvalidValue,
            "not both",
            "remove one pair",
        ),
        case(
            with_latency("distribution = \"lognormal\"\nmedian = 0.2\np99 = 0.1\n"),
            "latency.p99",
            6,
            InvalidValue,
            "must be >= latency.median (0.2)",
            "swap",
        ),
        case(
            with_latency("distribution = \"gamma\"\nshape = 0\nscale = 1\n"),
            "latency.shape",
            5,
            InvalidValue,
            "must be > 0",
            "> 0",
        ),
        // Unknown names.
        case(
            with_latency("distribution = \"unifrom\"\n"),
            "latency.distribution",
            4,
            InvalidValue,
            "unknown distribution \"unifrom\"",
            "did you mean `uniform`? valid: constant(value), uniform(low, high",
        ),
        case(
            with_latency("distribution = \"zipf\"\n"),
            "latency.distribution",
            4,
            InvalidValue,
            "unknown distribution",
            "pareto(scale, shape; or mean, shape > 1)",
        ),
        case(
            format!("{HEAD}strategies = [\"batching\", \"gated-spawn\"]\n{u}"),
            "strategies[1]",
            3,
            InvalidValue,
            "unknown strategy \"gated-spawn\"",
            "did you mean `gated_spawn`?",
        ),
        case(
            format!("{HEAD}strategies = [\"semaphore4.py\"]\n{u}"),
            "strategies[0]",
            3,
            InvalidValue,
            "unknown strategy",
            "semaphore1 = semaphore_in_task",
        ),
        case(
            format!(
                "{HEAD}strategies = [\"batching\",\n  \"semaphore2\",\n  \"gated_spawn_callback\"]\n{u}"
            ),
            "strategies[2]",
            5,
            InvalidValue,
            "duplicate strategy `gated_spawn_callback`",
            "once",
        ),
        case(
            format!("{HEAD}strategies = []\n{u}"),
            "strategies",
            3,
            InvalidValue,
            "at least one strategy",
            "all four",
        ),
        case(
            format!("{HEAD}{u}[model]\npython = \"3.10\"\n"),
            "model.python",
            8,
            InvalidValue,
            "unknown Python version \"3.10\"",
            "\"3.11\", \"3.12\", \"3.13\"",
        ),
        case(
            format!("{HEAD}{u}[model]\ncpu = \"fast\"\n"),
            "model.cpu",
            8,
            InvalidValue,
            "unknown CPU profile \"fast\"",
            "use \"none\" (pure virtual time), a shipped profile",
        ),
        // Mixtures.
        case(
            with_latency("distribution = \"mixture\"\ncomponents = []\n"),
            "latency.components",
            5,
            InvalidValue,
            "at least one component",
            "[[latency.components]]",
        ),
        case(
            with_latency("distribution = \"mixture\"\n"),
            "latency.components",
            3,
            MissingKey,
            "missing required key `components`",
            "[[latency.components]]",
        ),
        case(
            with_latency(
                "distribution = \"mixture\"\n\n[[latency.components]]\nweight = 1\ndistribution = \"constant\"\nvalue = 0.1\n\n[[latency.components]]\nweight = 0\ndistribution = \"constant\"\nvalue = 0.2\n",
            ),
            "latency.components[1].weight",
            12,
            InvalidValue,
            "must be > 0, found 0",
            "positive weight",
        ),
        case(
            with_latency(
                "distribution = \"mixture\"\n\n[[latency.components]]\nweight = -2\ndistribution = \"constant\"\nvalue = 0.1\n",
            ),
            "latency.components[0].weight",
            7,
            InvalidValue,
            "must be > 0, found -2",
            "normalised",
        ),
        case(
            with_latency(
                "distribution = \"mixture\"\n\n[[latency.components]]\ndistribution = \"constant\"\nvalue = 0.1\n",
            ),
            "latency.components[0].weight",
            6,
            MissingKey,
            "missing required key `weight`",
            "weight = 1.0",
        ),
        case(
            with_latency(
                "distribution = \"mixture\"\n\n[[latency.components]]\nweight = 1\ndistribution = \"uniform\"\nlow = 0.1\nhigh = 0.2\nvalue = 3\n",
            ),
            "latency.components[0].value",
            11,
            UnknownKey,
            "unknown key `value`",
            "parameter of constant",
        ),
        case(
            with_latency("distribution = \"mixture\"\ncomponents = [1, 2]\n"),
            "latency.components[0]",
            5,
            WrongType,
            "expected a component table, found integer 1",
            "[[latency.components]]",
        ),
        case(
            with_latency(
                "distribution = \"mixture\"\n\n[[latency.components]]\nweight = 1\ndistribution = \"trace\"\npath = \"x.txt\"\n",
            ),
            "latency.components[0].distribution",
            8,
            InvalidValue,
            "a trace cannot be a mixture component",
            "directly in [latency]",
        ),
        // Traces without files on disk.
        case(
            with_latency("distribution = \"trace\"\n"),
            "latency.path",
            3,
            MissingKey,
            "missing required key `path`",
            "relative to the scenario file",
        ),
        // [server], [rate_limited], [adaptive_limit].
        case(
            format!("{HEAD}{u}[server]\ncapacity = 0\n"),
            "server.capacity",
            8,
            InvalidValue,
            "must be between 1 and",
            "capacity = 200",
        ),
        case(
            format!("{HEAD}{u}[server]\ndiscipline = \"processor-sharing\"\ncapacity = 4\n"),
            "server.discipline",
            8,
            InvalidValue,
            "unknown discipline",
            "did you mean \"processor_sharing\"?",
        ),
        case(
            format!("{HEAD}{u}[server]\ndiscipline = \"processor_sharing\"\n"),
            "server.discipline",
            8,
            InvalidValue,
            "processor sharing needs a capacity",
            "capacity = 200",
        ),
        case(
            format!("{HEAD}{u}[server]\nerror_rate = 1.5\n"),
            "server.error_rate",
            8,
            InvalidValue,
            "a probability between 0 and 1",
            "error_rate = 0.01",
        ),
        case(
            format!("{HEAD}{u}[server]\ntimeout = 0\n"),
            "server.timeout",
            8,
            InvalidValue,
            "must be positive",
            "timeout = 2.0",
        ),
        case(
            format!("{HEAD}{u}[server]\nretrys = 3\n"),
            "server.retrys",
            8,
            UnknownKey,
            "unknown key `retrys`",
            "did you mean `retries`?",
        ),
        case(
            format!("{HEAD}{u}[server]\nbackoff_base = 2.0\nbackoff_max = 1.0\n"),
            "server.backoff_max",
            9,
            InvalidValue,
            "is below backoff_base",
            "raise `backoff_max`",
        ),
        // The header of a nested mixture's components is its own.
        case(
            format!(
                "{HEAD}[latency]\ndistribution = \"mixture\"\n[[latency.components]]\n\
                 weight = 1\ndistribution = \"mixture\"\n"
            ),
            "latency.components[0].components",
            5,
            MissingKey,
            "missing required key `components`",
            "[[latency.components.components]]\nweight = 0.9",
        ),
        // At the entry that asks for the table, not at 1:1.
        case(
            format!("{HEAD}strategies = [\"batching\", \"rate_limited\"]\n{u}"),
            "strategies[1]",
            3,
            MissingKey,
            "rate_limited needs a [rate_limited] table",
            "max_per_second = 1000.0",
        ),
        case(
            format!("{HEAD}{u}[rate_limited]\nmax_per_second = 0\n"),
            "rate_limited.max_per_second",
            8,
            InvalidValue,
            "must be greater than 0",
            "max_per_second = 1000.0",
        ),
        case(
            format!("{HEAD}{u}[adaptive_limit]\ndecrease = 1.0\n"),
            "adaptive_limit.decrease",
            8,
            InvalidValue,
            "between 0 and 1 (exclusive)",
            "decrease = 0.9",
        ),
        case(
            format!("{HEAD}{u}[adaptive_limit]\nmin_limit = 600\n"),
            "adaptive_limit.min_limit",
            8,
            InvalidValue,
            "starts at concurrency = 10",
            "lower `min_limit`",
        ),
        case(
            with_latency("distribution = \"trace\"\npath = \"no/such/trace.txt\"\n"),
            "latency.path",
            5,
            Trace,
            "no/such/trace.txt: cannot open trace file",
            "relative to the scenario file's directory (scenarios)",
        ),
    ]
}

#[test]
fn malformed_scenarios_report_key_line_and_help() {
    let cases = malformed_cases();
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let error = match parse(&case.text) {
            Ok(scenario) => {
                failures.push(format!("case {i}: parsed OK: {scenario:?}"));
                continue;
            }
            Err(error) => error,
        };
        let shown = error.to_string();
        if std::env::var_os("SHOW_ERRORS").is_some() {
            eprintln!("{shown}\n");
        }
        let line = error.position.map(|p| p.line);
        let ok = error.key == case.key
            && line == Some(case.line)
            && error.kind == case.kind
            && error.message.contains(case.message)
            && error.help.contains(case.help)
            && shown.starts_with(&format!("{FILE}:{}:", case.line))
            && shown.contains(&format!(": {}: ", case.key))
            && shown.contains("\n  help: ");
        if !ok {
            failures.push(format!(
                "case {i}: expected {} at line {} ({:?}) with {:?} / help {:?}\n  got {:?} at {:?} ({:?}):\n{shown}\n---\n{}",
                case.key, case.line, case.kind, case.message, case.help, error.key, line, error.kind, case.text
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// A `[rate_limited]` or `[adaptive_limit]` table for a strategy that is
/// not run was accepted in silence: it is still accepted (and checked), with
/// a warning naming the file, line and table; none when the strategy runs,
/// and a sweep's points carry none of their own.
#[test]
fn a_table_for_a_strategy_not_run_is_a_warning() {
    let tables = "[rate_limited]\nmax_per_second = 5.0\n\n[adaptive_limit]\ndecrease = 0.5\n";
    let listed = format!(
        "{HEAD}strategies = [\"gated_spawn\"]\n{}{tables}",
        uniform_latency()
    );
    let s = parse(&listed).unwrap();
    let shown: Vec<String> = s.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "scenarios/bad.toml:8:1: rate_limited: the [rate_limited] table has no effect: \
             `strategies` does not list rate_limited, so it is not run\n  \
             help: add \"rate_limited\" to `strategies` to run it, or remove the table",
            "scenarios/bad.toml:11:1: adaptive_limit: the [adaptive_limit] table has no effect: \
             `strategies` does not list adaptive_limit, so it is not run\n  \
             help: add \"adaptive_limit\" to `strategies` to run it, or remove the table",
        ]
    );
    assert!(s.warnings.iter().all(|w| w.kind == ErrorKind::NoEffect));
    // The values are still read and checked.
    assert_eq!(s.params.max_per_second, 5.0);
    let e = parse(&listed.replace("decrease = 0.5", "decrease = 1.5")).unwrap_err();
    assert_eq!(e.key, "adaptive_limit.decrease");
    // Without `strategies`: the blog's four run.
    let s = parse(&format!("{HEAD}{}[adaptive_limit]\n", uniform_latency())).unwrap();
    assert_eq!(s.warnings.len(), 1);
    assert!(
        s.warnings[0].message.contains("without a `strategies` key"),
        "{}",
        s.warnings[0]
    );
    // Run: no warning.
    let s = parse(&format!(
        "{HEAD}strategies = [\"rate_limited\", \"adaptive_limit\"]\n{}{tables}",
        uniform_latency()
    ))
    .unwrap();
    assert_eq!(s.warnings, []);
    // A sweep warns once, in the scenario, not at each point.
    let s = parse(&format!("{listed}[sweep]\nconcurrency = [1, 2]\n")).unwrap();
    assert_eq!(s.warnings.len(), 2);
    let points = &s.sweep.unwrap().points;
    assert!(points.iter().all(|p| p.scenario.warnings.is_empty()));
}

/// `bpsim calibrate` writes `[memory]` as well as `[cpu]`, and the memory
/// table was ignored (found by a review): `memory = "FILE"` uses it, and
/// the file's CPython is the model's unless `python` says otherwise, which
/// is an error (sizes of one version, semaphore rule of another).
#[test]
fn a_memory_profile_file_replaces_the_shipped_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    let shipped = include_str!("../../profiles/cpython-3.13.toml");
    let bigger = shipped.replace("\nbaseline = ", "\nbaseline = 1000");
    assert_ne!(bigger, shipped);
    std::fs::write(dir.path().join("mine.toml"), &bigger).unwrap();
    std::fs::write(
        dir.path().join("huge.toml"),
        shipped.replace("\ntask = ", "\ntask = 9000000000000000"),
    )
    .unwrap();
    let load = |model: &str| {
        let text = format!("{HEAD}{}[model]\n{model}", uniform_latency());
        Scenario::from_str(&text, &file)
    };
    let s = load("memory = \"mine.toml\"\n").unwrap();
    assert_eq!(s.model.python, PythonVersion::V3_13, "the file's version");
    let sizes = crate::experiment::config_for(&s).profile;
    let shipped_sizes = crate::profiles::builtin("3.13").unwrap().memory;
    let expected: i64 = format!("1000{}", shipped_sizes.baseline).parse().unwrap();
    assert_eq!(sizes.baseline, expected);
    assert_eq!(sizes.task, shipped_sizes.task);
    assert_eq!(
        s.model.memory.as_ref().unwrap().describe(),
        format!("mine.toml (CPython {})", "3.13")
    );
    assert!(load("python = \"3.13\"\nmemory = \"mine.toml\"\n").is_ok());
    let error = |model: &str| load(model).unwrap_err().to_string();
    let e = error("python = \"3.12\"\nmemory = \"mine.toml\"\n");
    assert!(
        e.contains("model.memory: the memory profile \"mine.toml\" was measured on CPython 3.13, but `python = \"3.12\"`"),
        "{e}"
    );
    assert!(
        e.contains("set `python = \"3.13\"` (or leave it out)"),
        "{e}"
    );
    let e = error("memory = \"cpython-3.12\"\n");
    assert!(
        e.contains("is not a profile file") && e.contains("chosen with `python"),
        "{e}"
    );
    let e = error("memory = \"gone.toml\"\n");
    assert!(e.contains("cannot read the memory profile"), "{e}");
    let e = error("memory = \"huge.toml\"\n");
    assert!(
        e.contains("memory.task must be a number of bytes from 0 to 1000000000"),
        "{e}"
    );
}

/// A CPU profile measured on another CPython than the memory model's was
/// accepted in silence: it is a warning at `model.cpu`, naming both
/// versions.
#[test]
fn a_cpu_profile_of_another_python_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    let shipped = include_str!("../../profiles/cpython-3.12.toml");
    for (name, python) in [("full.toml", "3.12.1"), ("new.toml", "3.14")] {
        let text = shipped.replace(
            "\npython = \"3.12\"\n",
            &format!("\npython = \"{python}\"\n"),
        );
        assert_ne!(text, shipped);
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let load = |model: &str| {
        let text = format!("{HEAD}{}[model]\n{model}", uniform_latency());
        Scenario::from_str(&text, &file).unwrap().warnings
    };
    let shown = |model: &str| {
        load(model)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    let path = file.display();
    assert_eq!(
        shown("python = \"3.13\"\ncpu = \"cpython-3.12\"\n"),
        [format!(
            "{path}:9:7: model.cpu: the CPU profile \"cpython-3.12\" was measured on CPython \
             3.12, but the memory model is CPython 3.13 (`python = \"3.13\"`): costs and sizes \
             come from different interpreters\n  help: use `cpu = \"cpython-3.13\"`, or set \
             `python = \"3.12\"` if that is the interpreter you mean"
        )]
    );
    let warnings = load("cpu = \"cpython-3.11\"\n");
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].kind, ErrorKind::NoEffect);
    assert!(
        warnings[0]
            .message
            .contains("CPython 3.12 (the default: no `python` key)"),
        "{}",
        warnings[0]
    );
    let warnings = load("python = \"3.11\"\ncpu = \"new.toml\"\n");
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0]
            .help
            .ends_with("(bpsim has no memory model of CPython 3.14)"),
        "{}",
        warnings[0]
    );
    // The same version, also written in full, or no CPU costs: no warning.
    for model in [
        "python = \"3.13\"\ncpu = \"cpython-3.13\"\n",
        "cpu = \"cpython-3.12\"\n",
        "cpu = \"full.toml\"\n",
        "python = \"3.11\"\ncpu = \"none\"\n",
        "python = \"3.11\"\n",
    ] {
        assert_eq!(load(model), [], "{model}");
    }
}

#[test]
fn display_matches_the_documented_format() {
    let text = format!("{HEAD}\n[latency]\ndistribution = \"uniform\"\nlow = 0.2\nhigh = 0.1\n");
    let error = parse(&text).unwrap_err();
    assert_eq!(
        error.to_string(),
        "scenarios/bad.toml:7:8: latency.high: latency.high (0.1) must be >= latency.low (0.2)\n  \
         help: swap low and high, or make them equal for a constant latency"
    );
    assert_eq!(error.position, Some(Position { line: 7, column: 8 }));
}

#[test]
fn first_error_in_the_file_wins() {
    // Both `concurency` (line 2) and `python` (line 8) are wrong.
    let text = format!(
        "requests = 1\nconcurency = 1\n{}[model]\npython = \"2.7\"\n",
        uniform_latency()
    );
    let error = parse(&text).unwrap_err();
    assert_eq!(error.key, "concurency");
    // Missing keys come last: they are often caused by a misspelt key.
    let error = parse(&format!(
        "concurrency = 1\nrequets = 2\n{}",
        uniform_latency()
    ))
    .unwrap_err();
    assert_eq!(error.key, "requets");
    assert!(error.help.contains("did you mean `requests`?"), "{error}");
    // Otherwise a missing top-level key points at 1:1.
    let error = parse(&format!("concurrency = 1\n{}", uniform_latency())).unwrap_err();
    assert_eq!(error.key, "requests");
    assert_eq!(error.position, Some(Position { line: 1, column: 1 }));
}

#[test]
fn never_panics_on_garbage() {
    let inputs = [
        "",
        "\u{feff}",
        "=",
        "[[[",
        "a = [1, 2",
        "requests = 99999999999999999999999\nconcurrency = 1",
        "requests = 0x10\nconcurrency = 0o7\n[latency]\ndistribution = \"constant\"\nvalue = 0b1",
        "[latency]\n[latency.components]\n",
        "latency = { distribution = \"mixture\", components = [{}] }\nrequests=1\nconcurrency=1",
        "latency.distribution = \"mixture\"\nlatency.components = [[1]]",
        "strategies = [[\"batching\"]]",
        "model = 5",
        "seed = 1979-05-27T07:32:00Z",
        "requests = 1\nconcurrency = 1\n[latency]\ndistribution = \"pareto\"\nscale = 1e308\nshape = 1e-308",
        "requests = 1\nconcurrency = 1\n[latency]\ndistribution = \"exponential\"\nrate = 5e-324",
        "\0\0\0",
        "é = 1\n🙂 = \"x\"",
    ];
    for input in inputs {
        let _ = parse(input);
    }
    let error = parse(
        "requests = 1\nconcurrency = 1\n[latency]\ndistribution = \"exponential\"\nrate = 5e-324",
    )
    .unwrap_err();
    assert!(error.message.contains("too small"), "{error}");
    // Deeply nested mixtures are cut off.
    let mut text = format!("{HEAD}[latency]\ndistribution = \"mixture\"\n");
    let mut path = "latency".to_owned();
    for _ in 0..12 {
        path.push_str(".components");
        text.push_str(&format!(
            "[[{path}]]\nweight = 1\ndistribution = \"mixture\"\n"
        ));
    }
    let error = parse(&text).unwrap_err();
    assert!(error.message.contains("nested at most"), "{error}");
}

#[test]
fn every_mixture_component_is_checked_by_drawing_on_its_own() {
    // Found by a hostile-input pass: a component of weight 0.001 is picked
    // about once in the mixture's first 1,024 draws, so an impossible
    // tail slipped past them and failed the run at request 5,337.
    let mixture = |weight: &str, component: &str| {
        format!(
            "requests = 100_000\nconcurrency = 100\n[latency]\ndistribution = \"mixture\"\n\
             [[latency.components]]\nweight = 1.0\ndistribution = \"uniform\"\n\
             low = 0.1\nhigh = 0.2\n\
             [[latency.components]]\nweight = {weight}\n{component}"
        )
    };
    let pareto = "distribution = \"pareto\"\nscale = 1.0\nshape = 0.05\n";
    let error = parse(&mixture("0.001", pareto)).unwrap_err();
    assert_eq!(error.key, "latency.components[1]", "{error}");
    assert_eq!(
        error.position,
        Some(Position {
            line: 12,
            column: 16
        })
    );
    assert!(
        error.message.contains("pareto(1.0, 0.05) drew") && error.message.contains("1e7 s"),
        "{error}"
    );
    assert!(error.help.contains("lighter tail"), "{error}");
    // Nested: the component of a component, at its own line.
    let nested = format!(
        "{HEAD}[latency]\ndistribution = \"mixture\"\n\
         [[latency.components]]\nweight = 1.0\ndistribution = \"mixture\"\n\
         [[latency.components.components]]\nweight = 1.0\ndistribution = \"constant\"\n\
         value = 0.1\n\
         [[latency.components.components]]\nweight = 1e-6\n{pareto}"
    );
    let error = parse(&nested).unwrap_err();
    assert_eq!(error.key, "latency.components[0].components[1]", "{error}");
    assert_eq!(error.position.map(|p| p.line), Some(14), "{error}");
    // A mean the component's draws cannot come near, at its `mean`.
    let lognormal = "distribution = \"lognormal\"\nmean = 0.15\nsigma = 30\n";
    let error = parse(&mixture("0.01", lognormal)).unwrap_err();
    assert_eq!(error.key, "latency.components[1].mean", "{error}");
    assert_eq!(error.position.map(|p| p.line), Some(13), "{error}");
    // A rare component whose tail a run can take still loads.
    parse(&mixture(
        "0.001",
        "distribution = \"pareto\"\nscale = 1.0\nshape = 1.5\n",
    ))
    .unwrap();
}

#[test]
fn toml_nested_past_the_readers_limit_is_located_where_it_goes_too_deep() {
    // Found by a hostile-input pass: a mixture nested 2,000 deep was
    // reported at 1:1, key `requests`, with the generic syntax help.
    let mut text = format!("{HEAD}[latency]\ndistribution = \"mixture\"\n");
    let mut path = "latency".to_owned();
    for _ in 0..100 {
        path.push_str(".components");
        text.push_str(&format!(
            "[[{path}]]\nweight = 1\ndistribution = \"mixture\"\n"
        ));
    }
    let error = parse(&text).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Syntax);
    // The header of 81 parts, `latency` and 80 `components`: three lines
    // a level after the first four.
    assert_eq!(
        error.position,
        Some(Position {
            line: 4 + 3 * 79 + 1,
            column: 3
        }),
        "{error}"
    );
    assert_eq!(error.key, "latency.components.components...");
    assert!(error.message.contains("81 dotted parts"), "{error}");
    assert!(error.help.contains("nested at most 8 deep"), "{error}");
    assert!(error.help.contains("flatten"), "{error}");

    // A dotted key elsewhere, after the first line.
    let text = format!(
        "{HEAD}{}\n{} = 1\n",
        uniform_latency(),
        vec!["x"; 500].join(".")
    );
    let error = parse(&text).unwrap_err();
    assert_eq!(error.position.map(|p| p.line), Some(8), "{error}");
    assert_eq!(error.key, "x.x.x...");
    assert!(error.help.contains("less deeply"), "{error}");

    // Inline: the crate's own span, with the line's key.
    let mut inner = "{ weight = 1, distribution = \"constant\", value = 0.1 }".to_owned();
    for _ in 0..2_000 {
        inner = format!("{{ weight = 1, distribution = \"mixture\", components = [{inner}] }}");
    }
    let text = format!("{HEAD}[latency]\ndistribution = \"mixture\"\ncomponents = [{inner}]\n");
    let error = parse(&text).unwrap_err();
    assert_eq!(error.position.map(|p| p.line), Some(5), "{error}");
    assert_eq!(error.key, "latency.components");
    assert!(error.message.contains("past 80 levels"), "{error}");
}

// ------------------------------------------------------------ valid files

fn valid(latency: &str) -> Scenario {
    let text = format!("{HEAD}\n[latency]\n{latency}");
    match parse(&text) {
        Ok(scenario) => scenario,
        Err(e) => panic!("{e}\n---\n{text}"),
    }
}

fn dist(scenario: &Scenario) -> &Distribution {
    match &scenario.latency {
        LatencySource::Distribution(d) => d,
        LatencySource::Trace(t) => panic!("trace {t:?}"),
    }
}

/// Scenario -> JSON -> TOML -> Scenario gives the same scenario.
fn round_trip(scenario: &Scenario) {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("description");
                if map.get("distribution").and_then(|d| d.as_str()) == Some("trace") {
                    map.remove("len");
                    map.remove("mean");
                }
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut json = serde_json::to_value(scenario).unwrap();
    let path = json.as_object_mut().unwrap().remove("path").unwrap();
    assert_eq!(path.as_str(), scenario.path.to_str());
    strip(&mut json);
    let text = toml::to_string(&json).unwrap();
    let again = Scenario::from_str(&text, &scenario.path).unwrap_or_else(|e| panic!("{e}\n{text}"));
    // The JSON holds tables only for strategies that run: the TOML made
    // from it has nothing to warn about.
    assert_eq!(again.warnings, [], "{text}");
    assert_eq!(&again, scenario, "{text}");
}

/// A scenario written out (JSON, as `round_trip` turns it into TOML) held
/// `[adaptive_limit]`'s defaults whatever ran, so a scenario file rebuilt
/// from it warned that the table had no effect, and its default
/// `max_limit` (4 x concurrency) became a fixed one, which refused the
/// points of a sweep that raised `concurrency` past it. It holds a table
/// only for a strategy that runs, and `max_limit` only when the file gives
/// one.
#[test]
fn a_scenario_written_out_holds_the_tables_of_the_strategies_that_run() {
    let u = uniform_latency();
    let keys = |s: &Scenario| {
        let json = serde_json::to_value(s).unwrap();
        let has = |k: &str| json.get(k).is_some();
        (has("rate_limited"), has("adaptive_limit"), json)
    };
    // The blog's four: no table.
    let s = parse(&format!("{HEAD}{u}")).unwrap();
    assert!(matches!(keys(&s), (false, false, _)));
    round_trip(&s);
    // A table given for a strategy not run: still not written.
    let s = parse(&format!(
        "{HEAD}strategies = [\"gated_spawn\"]\n{u}[rate_limited]\nmax_per_second = 5.0\n\
         [adaptive_limit]\ndecrease = 0.5\n"
    ))
    .unwrap();
    assert_eq!(s.warnings.len(), 2);
    assert!(matches!(keys(&s), (false, false, _)));
    // Both run: both written, with what was given.
    let s = parse(&format!(
        "{HEAD}strategies = [\"rate_limited\", \"adaptive_limit\"]\n{u}[rate_limited]\n\
         max_per_second = 5.0\n[adaptive_limit]\ntarget_latency = 0.3\nmax_limit = 30\n"
    ))
    .unwrap();
    let (true, true, json) = keys(&s) else {
        panic!("{s:?}")
    };
    assert_eq!(json["adaptive_limit"]["max_limit"], 30.0);
    assert_eq!(json["adaptive_limit"]["target_latency"], 0.3);
    round_trip(&s);
    // The default `max_limit` follows `concurrency` across a sweep.
    let s = parse(&format!(
        "{HEAD}strategies = [\"adaptive_limit\"]\n{u}[sweep]\nconcurrency = [10, 5000]\n"
    ))
    .unwrap();
    let (false, true, json) = keys(&s) else {
        panic!("{s:?}")
    };
    assert_eq!(json["adaptive_limit"].get("max_limit"), None);
    // The scenario rebuilt from the JSON, with the same `[sweep]`: a
    // `max_limit = 40` would refuse the point at 5000.
    let again = rebuilt(json, "[sweep]\nconcurrency = [10, 5000]\n");
    let points = &again.sweep.as_ref().unwrap().points;
    assert_eq!(points[1].scenario.params.adaptive.max_limit, None);
    assert_eq!(
        points[1].scenario.params.adaptive.max_limit_at(5000),
        20_000.0
    );
    assert_eq!(again.sweep, s.sweep);
}

/// The scenario file rebuilt from a scenario's JSON `json`, with `sweep`
/// (the `[sweep]` table: a sweep is written as its points, not as the
/// table) appended.
fn rebuilt(mut json: serde_json::Value, sweep: &str) -> Scenario {
    let map = json.as_object_mut().unwrap();
    map.remove("sweep");
    map.remove("path");
    map["latency"]
        .as_object_mut()
        .unwrap()
        .remove("description");
    let text = format!("{}{sweep}", toml::to_string(&json).unwrap());
    parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A `max_limit` the file gives is written out even when it equals the
/// default 4 x concurrency (it used to be dropped, being "the default"):
/// with a `[sweep]` over `concurrency`, the scenario rebuilt from it keeps
/// 2000 at every point instead of following each point's concurrency, and
/// a scenario file without `max_limit` still gets none.
#[test]
fn a_max_limit_given_is_written_out_even_at_its_default_value() {
    let u = uniform_latency();
    let sweep = "[sweep]\nconcurrency = [100, 1000]\n";
    let s = parse(&format!(
        "requests = 1000\nconcurrency = 500\nstrategies = [\"adaptive_limit\"]\n{u}\
         [adaptive_limit]\nmax_limit = 2000\n{sweep}"
    ))
    .unwrap();
    assert_eq!(s.params.adaptive.max_limit, Some(2000.0));
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["adaptive_limit"]["max_limit"], 2000.0, "{json}");
    let again = rebuilt(json, sweep);
    for point in &again.sweep.as_ref().unwrap().points {
        let p = &point.scenario;
        assert_eq!(p.params.adaptive.max_limit_at(p.concurrency), 2000.0);
    }
    assert_eq!(again.sweep, s.sweep);
    assert_eq!(again.params, s.params);
    // Without a sweep, the round trip keeps it too.
    let s = parse(&format!(
        "{HEAD}strategies = [\"adaptive_limit\"]\n{u}[adaptive_limit]\nmax_limit = 40\n"
    ))
    .unwrap();
    assert_eq!(s.params.adaptive.max_limit, Some(40.0));
    round_trip(&s);
    // Not given: not written, and 4 x concurrency where it is used.
    let s = parse(&format!("{HEAD}strategies = [\"adaptive_limit\"]\n{u}")).unwrap();
    assert_eq!(s.params.adaptive.max_limit, None);
    assert_eq!(s.params.adaptive.max_limit_at(s.concurrency), 40.0);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["adaptive_limit"].get("max_limit"), None, "{json}");
    round_trip(&s);
}

#[test]
fn every_distribution_round_trips() {
    let cases: Vec<(&str, Distribution)> = vec![
        (
            "distribution = \"constant\"\nvalue = 0\n",
            Distribution::Constant { value: 0.0 },
        ),
        (
            "distribution = \"uniform\"\nlow = 0.1\nhigh = 0.2\n",
            Distribution::Uniform {
                low: 0.1,
                high: 0.2,
            },
        ),
        (
            "distribution = \"uniform\"\nlow = 1\nhigh = 1\n",
            Distribution::Uniform {
                low: 1.0,
                high: 1.0,
            },
        ),
        (
            "distribution = \"normal\"\nmean = 0.15\nstd_dev = 0.05\n",
            Distribution::Normal {
                mean: 0.15,
                std_dev: 0.05,
            },
        ),
        (
            "distribution = \"lognormal\"\nmu = -2.0\nsigma = 0.5\n",
            Distribution::LogNormal {
                mu: -2.0,
                sigma: 0.5,
            },
        ),
        (
            "distribution = \"exponential\"\nmean = 0.1\n",
            Distribution::Exponential { mean: 0.1 },
        ),
        (
            "distribution = \"exponential\"\nrate = 4\n",
            Distribution::Exponential { mean: 0.25 },
        ),
        (
            "distribution = \"gamma\"\nshape = 2\nscale = 0.05\n",
            Distribution::Gamma {
                shape: 2.0,
                scale: 0.05,
            },
        ),
        (
            "distribution = \"weibull\"\nscale = 0.1\nshape = 1.5\n",
            Distribution::Weibull {
                scale: 0.1,
                shape: 1.5,
            },
        ),
        (
            "distribution = \"pareto\"\nscale = 0.05\nshape = 1.5\n",
            Distribution::Pareto {
                scale: 0.05,
                shape: 1.5,
            },
        ),
        (
            "distribution = \"mixture\"\n\n[[latency.components]]\nweight = 9\ndistribution = \"uniform\"\nlow = 0.1\nhigh = 0.2\n\n[[latency.components]]\nweight = 1\ndistribution = \"exponential\"\nmean = 1.0\n",
            Distribution::Mixture(vec![
                (
                    0.9,
                    Distribution::Uniform {
                        low: 0.1,
                        high: 0.2,
                    },
                ),
                (0.1, Distribution::Exponential { mean: 1.0 }),
            ]),
        ),
        (
            "distribution = \"mixture\"\ncomponents = [\n  { weight = 1, distribution = \"constant\", value = 0.5 },\n  { weight = 1, distribution = \"mixture\", components = [\n    { weight = 3, distribution = \"constant\", value = 1 },\n    { weight = 1, distribution = \"constant\", value = 2 },\n  ] },\n]\n",
            Distribution::Mixture(vec![
                (0.5, Distribution::Constant { value: 0.5 }),
                (
                    0.5,
                    Distribution::Mixture(vec![
                        (0.75, Distribution::Constant { value: 1.0 }),
                        (0.25, Distribution::Constant { value: 2.0 }),
                    ]),
                ),
            ]),
        ),
    ];
    for (latency, expected) in cases {
        let scenario = valid(latency);
        assert_eq!(dist(&scenario), &expected, "{latency}");
        round_trip(&scenario);
    }
}

#[test]
fn lognormal_from_median_and_p99() {
    let scenario = valid("distribution = \"lognormal\"\nmedian = 0.1\np99 = 0.5\n");
    let Distribution::LogNormal { mu, sigma } = *dist(&scenario) else {
        panic!("not lognormal");
    };
    assert_eq!(mu, 0.1f64.ln());
    assert_eq!(sigma, (0.5f64.ln() - 0.1f64.ln()) / 2.326_347_874_040_840_8);
    round_trip(&scenario);
}

#[test]
fn the_blog_scenario() {
    let text = r#"# scenarios/blog.toml: the blog's experiment
name = "blog"
seed = 1
requests = 100_000
concurrency = 500
strategies = ["batching", "semaphore_in_task", "gated_spawn_callback", "gated_spawn"]

[latency]
distribution = "uniform"
low = 0.1
high = 0.2

[model]
python = "3.12"   # memory profile: "3.11", "3.12" or "3.13"
cpu = "none"      # per-operation CPU cost: only "none" exists for now
"#;
    let scenario = Scenario::from_str(text, "scenarios/blog.toml").unwrap();
    assert_eq!(scenario.name, "blog");
    assert_eq!(scenario.path, PathBuf::from("scenarios/blog.toml"));
    assert_eq!(scenario.seed, 1);
    assert_eq!(scenario.requests, 100_000);
    assert_eq!(scenario.concurrency, 500);
    assert_eq!(scenario.strategies, StrategyKind::BLOG.to_vec());
    assert_eq!(
        scenario.latency,
        LatencySource::Distribution(Distribution::Uniform {
            low: 0.1,
            high: 0.2
        })
    );
    assert_eq!(scenario.model, Model::default());
    round_trip(&scenario);
    let json = serde_json::to_value(&scenario).unwrap();
    assert_eq!(json["latency"]["description"], "uniform(0.1, 0.2)");
    assert_eq!(json["model"]["python"], "3.12");
    assert_eq!(json["strategies"][1], "semaphore_in_task");
}

#[test]
fn defaults_and_aliases() {
    let text = format!(
        "{HEAD}strategies = [\"semaphore3.py\", \"batching.py\", \"semaphore1\"]\n{}[model]\npython = \"3.13\"\n",
        uniform_latency()
    );
    let scenario = Scenario::from_str(&text, "dir/my-run.toml").unwrap();
    assert_eq!(scenario.name, "my-run");
    assert_eq!(scenario.seed, 1);
    assert_eq!(
        scenario.strategies,
        vec![
            StrategyKind::GatedSpawn,
            StrategyKind::Batching,
            StrategyKind::SemaphoreInTask
        ]
    );
    assert_eq!(scenario.model.python, PythonVersion::V3_13);
    assert_eq!(scenario.model.python.as_str(), "3.13");
    assert_eq!(scenario.model.cpu, CpuModel::None);
    // Dotted keys and inline tables are the same TOML.
    let dotted = "requests = 1\nconcurrency = 1\nlatency = { distribution = \"constant\", value = 0 }\nmodel.python = \"3.11\"\nseed = 18446744073709551615\n";
    let scenario = parse(dotted).unwrap();
    assert_eq!(scenario.requests, 1);
    assert_eq!(scenario.seed, u64::MAX);
    assert_eq!(scenario.model.python, PythonVersion::V3_11);
    assert_eq!(scenario.name, "bad");
}

#[test]
fn a_name_fits_in_one_folder_and_the_default_is_checked_too() {
    let text = format!("{HEAD}{}", uniform_latency());
    // At the limit, and with spaces, dots and non-ASCII letters.
    let long = "é".repeat(50);
    for name in [long.as_str(), "my run v1.2", ".hidden", "a..b"] {
        let s = parse(&format!("name = {name:?}\n{text}")).unwrap();
        assert_eq!(s.name, name);
    }
    // The default, the file stem, follows the same rule.
    let long_stem = format!("dir/{}.toml", "x".repeat(120));
    for file in [long_stem.as_str(), "dir/a\nb.toml"] {
        let e = Scenario::from_str(&text, file).unwrap_err();
        assert_eq!(e.key, "name", "{e}");
        assert_eq!(e.position, Some(Position { line: 1, column: 1 }), "{e}");
        assert!(e.message.contains("defaults to its file name"), "{e}");
        assert!(e.help.contains("name = \"blog\""), "{e}");
        // A valid `name` makes the file name irrelevant.
        let s = Scenario::from_str(&format!("name = \"ok\"\n{text}"), file).unwrap();
        assert_eq!(s.name, "ok");
    }
}

// ------------------------------------------------------------ files

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, bytes).unwrap();
    path
}

fn trace_scenario(requests: u64, extra: &str) -> String {
    format!(
        "requests = {requests}\nconcurrency = 2\n\n[latency]\ndistribution = \"trace\"\npath = \"traces/t.txt\"\n{extra}"
    )
}

#[test]
fn trace_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "traces/t.txt", b"# latencies\n0.1\n0.2\n0.3\n");
    let file = write(dir.path(), "s.toml", trace_scenario(3, "").as_bytes());
    let scenario = Scenario::load(&file).unwrap();
    let LatencySource::Trace(trace) = &scenario.latency else {
        panic!("not a trace");
    };
    assert_eq!(trace.values(), &[0.1, 0.2, 0.3]);
    assert!(!trace.wrap());
    assert_eq!(trace.path(), dir.path().join("traces/t.txt"));
    round_trip(&scenario);
    let json = serde_json::to_value(&scenario).unwrap();
    assert_eq!(json["latency"]["len"], 3);
    assert!(json["latency"].get("values").is_none());

    // Too many requests without wrap.
    let file = write(dir.path(), "long.toml", trace_scenario(5, "").as_bytes());
    let error = Scenario::load(&file).unwrap_err();
    assert_eq!(error.key, "requests");
    assert_eq!(error.position.map(|p| p.line), Some(1));
    assert!(
        error
            .message
            .contains("has only 3 latencies, but requests = 5"),
        "{error}"
    );
    assert!(error.help.contains("wrap = true"), "{error}");

    // One latency is one, not "1 latencies".
    let one = tempfile::tempdir().unwrap();
    write(one.path(), "traces/t.txt", b"0.1\n");
    let file = write(one.path(), "s.toml", trace_scenario(2, "").as_bytes());
    let error = Scenario::load(&file).unwrap_err();
    assert!(
        error
            .message
            .contains("has only 1 latency, but requests = 2"),
        "{error}"
    );

    // With wrap.
    let file = write(
        dir.path(),
        "wrap.toml",
        trace_scenario(5, "wrap = true\n").as_bytes(),
    );
    let scenario = Scenario::load(&file).unwrap();
    let LatencySource::Trace(trace) = &scenario.latency else {
        panic!("not a trace");
    };
    assert!(trace.wrap());
    round_trip(&scenario);

    // A bad line in the trace names the trace file and line.
    write(dir.path(), "traces/bad.txt", b"0.1\n0.2\nslow\n");
    let text = trace_scenario(1, "").replace("t.txt", "bad.txt");
    let file = write(dir.path(), "bad.toml", text.as_bytes());
    let error = Scenario::load(&file).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Trace);
    assert_eq!(error.key, "latency.path");
    assert_eq!(error.position.map(|p| p.line), Some(6));
    assert!(error.message.contains("bad.txt:3: "), "{error}");
    assert!(error.message.contains("\"slow\""), "{error}");
    assert!(error.help.contains("line 3"), "{error}");

    // A truncated gzip trace.
    write(dir.path(), "traces/cut.gz", &[0x1f, 0x8b, 0x08, 0x00]);
    let text = trace_scenario(1, "").replace("t.txt", "cut.gz");
    let file = write(dir.path(), "cut.toml", text.as_bytes());
    let error = Scenario::load(&file).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Trace);
    assert!(error.message.contains("cut.gz:1: "), "{error}");
    assert!(error.help.contains("gzip"), "{error}");

    // An empty trace.
    write(dir.path(), "traces/empty.txt", b"");
    let text = trace_scenario(1, "").replace("t.txt", "empty.txt");
    let file = write(dir.path(), "empty.toml", text.as_bytes());
    let error = Scenario::load(&file).unwrap_err();
    assert!(error.message.contains("no latencies"), "{error}");
}

#[test]
fn unreadable_scenario_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let error = Scenario::load(&missing).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Read);
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}: cannot read", missing.display()))
    );
    let file = write(
        dir.path(),
        "binary.toml",
        b"requests = 1\nname = \"\xff\"\n",
    );
    let error = Scenario::load(&file).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Read);
    assert_eq!(error.position, Some(Position { line: 2, column: 9 }));
    assert!(error.message.contains("UTF-8"), "{error}");
}

#[test]
fn latency_parameters_are_usable() {
    // Every valid scenario's latency produces a workload.
    let scenario = valid("distribution = \"pareto\"\nscale = 0.01\nshape = 0.5\n");
    let latencies = crate::latency::workload(&scenario.latency, scenario.seed, 100).unwrap();
    assert_eq!(latencies.len(), 100);
    let _: &Trace;
}

#[test]
fn distribution_listing() {
    let list = distributions();
    assert_eq!(list.len(), 10);
    assert!(list.contains(&("uniform", "low, high; or mean, width")));
    assert!(list.contains(&("trace", "path, wrap")));
}

/// Found by a hostile-input pass: `value = -0.0` was kept negative and
/// described as `constant(-0.0)` in every output.
#[test]
fn negative_zero_is_read_as_zero() {
    let text =
        "requests = 1\nconcurrency = 1\n[latency]\ndistribution = \"constant\"\nvalue = -0.0\n";
    let s = Scenario::from_str(text, "z.toml").unwrap();
    assert_eq!(s.latency.describe(), "constant(0.0)");
}

/// The check on a requested mean refuses only means no run can come near
/// (lognormal sigma 30, a Pareto of shape 1 + 1e-7), not heavy tails a
/// run shows.
#[test]
fn heavy_tails_with_a_reachable_mean_are_accepted() {
    for (distribution, tail) in [
        ("lognormal", "sigma = 5"),
        ("lognormal", "sigma = 2"),
        ("pareto", "shape = 1.1"),
        ("pareto", "shape = 1.01"),
    ] {
        let text = format!(
            "requests = 5\nconcurrency = 1\n[latency]\ndistribution = \"{distribution}\"\n\
             mean = 0.15\n{tail}\n"
        );
        assert!(
            Scenario::from_str(&text, "h.toml").is_ok(),
            "{distribution} {tail}"
        );
    }
    let text = "requests = 5\nconcurrency = 1\n[latency]\ndistribution = \"lognormal\"\n\
                mean = 0.15\nsigma = 12\n";
    let e = Scenario::from_str(text, "h.toml").unwrap_err();
    assert_eq!(e.key, "latency.mean");
}

/// `requests = 1e9` at the top level was refused ("write it as an integer:
/// `requests = 1_000_000_000`") where `[sweep]` took `requests = [1e9]`:
/// every whole-number key now reads a float that is exactly a whole number
/// as that number, from its digits, and refuses the rest as `[sweep]` does.
#[test]
fn whole_floats_are_accepted_for_whole_number_keys_everywhere() {
    let text = format!(
        "seed = 7.0\nrequests = 1e3\nconcurrency = 2.5e1\n{}[server]\ncapacity = 1e2\n\
         retries = 2.0\n[sweep]\nconcurrency = {{ from = 1, to = 100, steps = 3.0 }}\n\
         replications = 2e0\n",
        uniform_latency()
    );
    let s = parse(&text).unwrap();
    assert_eq!((s.seed, s.requests, s.concurrency), (7, 1000, 25));
    let server = s.server.unwrap();
    assert_eq!((server.capacity, server.retries), (Some(100), 2));
    let sweep = s.sweep.unwrap();
    assert_eq!(sweep.parameters[0].values.len(), 3);
    assert_eq!(sweep.replications, 2);
    assert_eq!(
        parse(&format!(
            "requests = 1_000.0\nconcurrency = 1\n{}",
            uniform_latency()
        ))
        .unwrap()
        .requests,
        1000
    );

    for (line, key, message, help) in [
        // Same message as `[sweep]`'s for a fraction.
        (
            "requests = 2.5",
            "requests",
            "expected a whole number, found float 2.5",
            "round it",
        ),
        (
            "seed = 4503599627370495.1",
            "seed",
            "expected a whole number",
            "round it",
        ),
        (
            "concurrency = 1e-1",
            "concurrency",
            "expected a whole number",
            "round it",
        ),
        // Whole, but out of range: the key's own range check.
        (
            "concurrency = -2.0",
            "concurrency",
            "must be >= 1, found -2",
            "use at least 1",
        ),
        (
            "seed = 1.8446744073709552e19",
            "seed",
            "must be at most 18_446_744_073_709_551_615",
            "smaller",
        ),
        (
            "requests = 1e40",
            "requests",
            "integer out of range, found float 1e40",
            "requests = 100_000",
        ),
        (
            "requests = nan",
            "requests",
            "expected a whole number, found float nan",
            "finite whole number",
        ),
        (
            "requests = -inf",
            "requests",
            "expected a whole number, found float -inf",
            "finite whole number",
        ),
    ] {
        // The line under test first, then HEAD without its own line for the key.
        let head: String = HEAD
            .lines()
            .filter(|l| !l.starts_with(&format!("{key} ")))
            .map(|l| format!("{l}\n"))
            .collect();
        let body = format!("{line}\n{head}{}", uniform_latency());
        let e = parse(&body).unwrap_err();
        assert_eq!(e.key, key, "{line}: {e}");
        assert_eq!(e.position.map(|p| p.line), Some(1), "{line}: {e}");
        assert!(e.message.contains(message), "{line}: {e}");
        assert!(e.help.contains(help), "{line}: {e}");
        assert!(
            e.to_string().starts_with("scenarios/bad.toml:1:"),
            "{line}: {e}"
        );
    }
    let e = parse(&format!(
        "{HEAD}{}[server]\nretries = 0.5\n",
        uniform_latency()
    ))
    .unwrap_err();
    assert_eq!(e.key, "server.retries");
    assert!(e.help.contains("round it"), "{e}");
    let e = parse(&format!(
        "{HEAD}{}[server]\ncapacity = 0.0\n",
        uniform_latency()
    ))
    .unwrap_err();
    assert!(e.message.contains("must be between 1 and"), "{e}");
}
