//! The profiles compiled into the binary, one per CPython version: memory
//! sizes and CPU costs (`profiles/cpython-3.1X.toml`).

use std::path::Path;

use crate::asyncio::CpuCosts;
use crate::memory::profile::{self, Profile, ProfileFile};

/// The version used when a scenario does not say.
pub const DEFAULT_PYTHON: &str = "3.12";

/// The CPython versions with a shipped profile.
pub const VERSIONS: [&str; 3] = ["3.11", "3.12", "3.13"];

pub(crate) fn text(version: &str) -> Option<&'static str> {
    match version {
        "3.11" => Some(include_str!("../profiles/cpython-3.11.toml")),
        "3.12" => Some(include_str!("../profiles/cpython-3.12.toml")),
        "3.13" => Some(include_str!("../profiles/cpython-3.13.toml")),
        _ => None,
    }
}

/// The names of the shipped profiles, as a scenario's `cpu` names them.
pub const NAMES: [&str; 3] = ["cpython-3.11", "cpython-3.12", "cpython-3.13"];

/// A CPU profile: its costs and the CPython it was measured on.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuProfile {
    /// The costs.
    pub costs: CpuCosts,
    /// The profile's `python` (`"3.12"`): the version it was measured on.
    pub python: String,
}

/// The CPU costs a scenario's `cpu = "..."` names: a shipped profile
/// ([`NAMES`]) or a profile file (a path, relative to `base`, the scenario's
/// directory). `"none"` is handled by the caller.
///
/// # Errors
///
/// As [`cpu_profile`].
pub fn cpu_costs(spec: &str, base: &Path) -> Result<CpuCosts, (String, String)> {
    cpu_profile(spec, base).map(|profile| profile.costs)
}

/// The CPU profile a scenario's `cpu = "..."` names (see [`cpu_costs`]),
/// with the CPython version it was measured on.
///
/// # Errors
///
/// A message (what is wrong, then how to fix it, separated by a newline) if
/// the name is unknown, the file cannot be read or parsed, or it has no
/// valid `[cpu]` table.
pub fn cpu_profile(spec: &str, base: &Path) -> Result<CpuProfile, (String, String)> {
    let (text, origin) = if let Some(version) = spec.strip_prefix("cpython-")
        && NAMES.contains(&spec)
    {
        (
            text(version).expect("NAMES are shipped").to_owned(),
            format!("the shipped profile {spec}"),
        )
    } else if is_path(spec) {
        read_file(spec, base, "CPU profile")?
    } else {
        let names = NAMES.map(|n| format!("\"{n}\"")).join(", ");
        let close = crate::scenario::suggest_name(spec, NAMES.iter().copied())
            .map(|c| format!("did you mean \"{c}\"? "))
            .unwrap_or_default();
        return Err((
            format!("unknown CPU profile {spec:?}"),
            format!(
                "{close}use \"none\" (pure virtual time), a shipped profile ({names}), or a \
                 path to a profile file ending in .toml; {CALIBRATE}"
            ),
        ));
    };
    let file = parse_file(&text, &origin)?;
    let Some(cpu) = file.cpu else {
        return Err((
            format!("{origin} has no [cpu] table (it holds memory sizes only)"),
            CALIBRATE.to_owned(),
        ));
    };
    if let Err(key) = cpu.check() {
        let line = line_of_key(&text, key)
            .map(|l| format!(", line {l}"))
            .unwrap_or_default();
        let found = cpu_value(&text, key)
            .map(|v| format!(", found {}", crate::latency::readable(v)))
            .unwrap_or_default();
        return Err((
            format!(
                "{origin}{line}: cpu.{key} must be a number of nanoseconds from 0 up to, \
                 not including, 1e9 (a second per operation){found}"
            ),
            format!("fix the value, or {CALIBRATE}"),
        ));
    }
    Ok(CpuProfile {
        costs: cpu.costs(),
        python: file.python.trim().to_owned(),
    })
}

/// How to make a profile file, for errors' help.
const CALIBRATE: &str =
    "measure one with `bpsim calibrate --python PATH --tracemalloc -o FILE.toml`";

/// A profile named by a path rather than a name: it ends in `.toml` or
/// names a folder.
fn is_path(spec: &str) -> bool {
    spec.ends_with(".toml") || spec.contains('/') || spec.contains('\\')
}

/// The text of the profile file `spec` (relative to `base`, the scenario's
/// folder) and how errors name it; `what` names it in the error if it
/// cannot be read.
fn read_file(spec: &str, base: &Path, what: &str) -> Result<(String, String), (String, String)> {
    let path = base.join(spec);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        (
            format!("cannot read the {what} {}: {e}", path.display()),
            format!("check the path (relative to the scenario's folder), or {CALIBRATE}"),
        )
    })?;
    Ok((text, format!("the profile {}", path.display())))
}

/// Parses a profile file's `text`, read from `origin`; an error gives its
/// line.
fn parse_file(text: &str, origin: &str) -> Result<ProfileFile, (String, String)> {
    profile::parse(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| format!(", line {}", line_at(text, span.start)))
            .unwrap_or_default();
        (
            format!(
                "{origin}{line} is not a valid profile: {}",
                e.message().trim()
            ),
            format!("re-create it: {CALIBRATE}"),
        )
    })
}

/// The largest size a memory profile may give an object (1 GB).
const MAX_SIZE: i64 = 1_000_000_000;

/// A memory profile from a file: its `[memory]` sizes and the CPython it
/// was measured on.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryProfile {
    /// The sizes.
    pub sizes: Profile,
    /// The profile's `python` (`"3.12.1"`): the version it was measured on.
    pub python: String,
}

/// The memory profile a scenario's `memory = "..."` names: a profile file
/// (a path ending in `.toml`, relative to `base`, the scenario's folder),
/// as `bpsim calibrate` writes. The shipped profiles are named by the
/// scenario's `python`, not here.
///
/// # Errors
///
/// A message (what is wrong, then how to fix it, separated by a newline) if
/// `spec` is not a path, or the file cannot be read or parsed.
pub fn memory_profile(spec: &str, base: &Path) -> Result<MemoryProfile, (String, String)> {
    if !is_path(spec) {
        return Err((
            format!("{spec:?} is not a profile file"),
            format!(
                "give the path of a profile file ending in .toml ({CALIBRATE}); the shipped \
                 memory profiles are chosen with `python = \"3.11\"`, \"3.12\" or \"3.13\", \
                 without a `memory` key"
            ),
        ));
    }
    let (text, origin) = read_file(spec, base, "memory profile")?;
    let file = parse_file(&text, &origin)?;
    // Sizes the ledger adds up in i64: a hostile 9e18 would overflow it.
    let table: toml::Table = toml::from_str(&text).unwrap_or_default();
    if let Some(toml::Value::Table(memory)) = table.get("memory") {
        for (key, value) in memory {
            if let toml::Value::Integer(v) = value
                && !(0..=MAX_SIZE).contains(v)
            {
                let line = line_of_key(&text, key)
                    .map(|l| format!(", line {l}"))
                    .unwrap_or_default();
                return Err((
                    format!(
                        "{origin}{line}: memory.{key} must be a number of bytes from 0 to \
                         {MAX_SIZE}, found {v}"
                    ),
                    format!("fix the value, or {CALIBRATE}"),
                ));
            }
        }
    }
    Ok(MemoryProfile {
        sizes: file.memory,
        python: file.python.trim().to_owned(),
    })
}

/// The number `[cpu]`'s `key` holds in the profile `text`, if it is one.
fn cpu_value(text: &str, key: &str) -> Option<f64> {
    let table: toml::Table = toml::from_str(text).ok()?;
    match table.get("cpu")?.get(key)? {
        toml::Value::Float(v) => Some(*v),
        toml::Value::Integer(v) => Some(*v as f64),
        _ => None,
    }
}

/// The 1-based line of byte `offset` of `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The 1-based line on which `key = ...` is written, if it is.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// The shipped profile of `version` (`"3.11"`, `"3.12"` or `"3.13"`).
pub(crate) fn builtin(version: &str) -> Option<ProfileFile> {
    let text = text(version)?;
    Some(profile::parse(text).expect("shipped profiles are valid (checked by a test)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by a hostile-input pass: a cost of 1e12 ns was refused as not
    /// "a finite number >= 0", and profile errors gave no line.
    #[test]
    fn a_bad_profile_file_is_refused_with_its_line_and_the_real_rule() {
        let dir = tempfile::tempdir().unwrap();
        let shipped = text("3.12").unwrap();
        let slow = shipped
            .lines()
            .map(|l| {
                if l.starts_with("step_ns") {
                    "step_ns = 1e12".to_owned()
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(dir.path().join("slow.toml"), &slow).unwrap();
        let (message, _) = cpu_costs("slow.toml", dir.path()).unwrap_err();
        let line = line_of_key(&slow, "step_ns").unwrap();
        assert!(message.contains(&format!("line {line}:")), "{message}");
        assert!(message.contains("not including, 1e9"), "{message}");
        // The value itself was not quoted.
        assert!(
            message.ends_with("(a second per operation), found 1e12"),
            "{message}"
        );
        for (written, quoted) in [
            ("-5", "-5"),
            ("-0.5", "-0.5"),
            ("nan", "NaN"),
            ("-inf", "-inf"),
        ] {
            let bad = shipped.replace("\ntimer_ns = ", &format!("\ntimer_ns = {written} #"));
            std::fs::write(dir.path().join("bad.toml"), &bad).unwrap();
            let (message, _) = cpu_costs("bad.toml", dir.path()).unwrap_err();
            assert!(
                message.contains("cpu.timer_ns must be")
                    && message.ends_with(&format!(", found {quoted}")),
                "{written}: {message}"
            );
        }
        std::fs::write(
            dir.path().join("junk.toml"),
            "[cpu]\nstep_ns = 1\nnot toml\n",
        )
        .unwrap();
        let (message, _) = cpu_costs("junk.toml", dir.path()).unwrap_err();
        assert!(
            message.contains("line 3 is not a valid profile"),
            "{message}"
        );
    }

    #[test]
    fn every_shipped_profile_parses() {
        for v in VERSIONS {
            let p = builtin(v).unwrap();
            assert_eq!(p.python, v);
            assert!(p.memory.task > 0);
            let cpu = p.cpu.expect("every shipped profile has CPU costs");
            assert_eq!(cpu.check(), Ok(()));
            assert!(cpu.tracemalloc);
        }
    }

    /// Every shipped profile measures `wait_call`; a profile written before
    /// the key existed charges a `wait` call as a lambda callback, as bpsim
    /// did then.
    #[test]
    fn a_profile_without_wait_call_charges_a_lambda_callback() {
        use crate::memory::Obj;
        for v in VERSIONS {
            let text = text(v).unwrap();
            let p = profile::parse(text).unwrap().memory;
            assert!(p.size(Obj::WaitCall) > p.size(Obj::LambdaCallback), "{v}");
            let old: String = text
                .lines()
                .filter(|l| !l.starts_with("wait_call"))
                .map(|l| format!("{l}\n"))
                .collect();
            let p = profile::parse(&old).unwrap().memory;
            assert_eq!(p.size(Obj::WaitCall), p.size(Obj::LambdaCallback), "{v}");
        }
    }

    /// Likewise `adaptive_limit`'s keys: without them its coroutine is a
    /// plain `try`/`finally` one and its main's own state is not charged.
    #[test]
    fn a_profile_without_the_adaptive_keys_charges_as_before() {
        use crate::memory::Obj;
        for v in VERSIONS {
            let text = text(v).unwrap();
            let p = profile::parse(text).unwrap().memory;
            assert!(p.size(Obj::CoroutineAdaptive) > p.size(Obj::CoroutineTryFinally));
            assert!(p.size(Obj::AdaptiveMain) > 0);
            let old: String = text
                .lines()
                .filter(|l| !l.starts_with("coroutine_adaptive") && !l.starts_with("adaptive_main"))
                .map(|l| format!("{l}\n"))
                .collect();
            let p = profile::parse(&old).unwrap().memory;
            let (a, t) = (Obj::CoroutineAdaptive, Obj::CoroutineTryFinally);
            assert_eq!(p.size(a), p.size(t), "{v}");
            assert_eq!(p.size(Obj::AdaptiveMain), 0, "{v}");
        }
    }

    /// Likewise the `[server]` client's keys: without them its coroutine,
    /// the frame objects and the exceptions are not charged and a `Timeout`
    /// is charged as a lambda callback.
    #[test]
    fn a_profile_without_the_server_keys_charges_as_before() {
        use crate::memory::Obj;
        for v in VERSIONS {
            let text = text(v).unwrap();
            let p = profile::parse(text).unwrap().memory;
            assert!(p.size(Obj::ClientCoroutine) > 0, "{v}");
            assert!(p.size(Obj::Timeout) < p.size(Obj::LambdaCallback), "{v}");
            assert!(p.size(Obj::ClientFrame) > 0, "{v}");
            let old: String = text
                .lines()
                .filter(|l| {
                    !l.starts_with("client_coroutine")
                        && !l.starts_with("client_await")
                        && !l.starts_with("timeout")
                        && !l.starts_with("client_frame")
                        && !l.starts_with("worker_frame")
                        && !l.starts_with("tuple20")
                        && !l.starts_with("timeout_error")
                        && !l.starts_with("service_error")
                })
                .map(|l| format!("{l}\n"))
                .collect();
            let p = profile::parse(&old).unwrap().memory;
            assert_eq!(p.size(Obj::ClientCoroutine), 0, "{v}");
            assert_eq!(p.size(Obj::Timeout), p.size(Obj::LambdaCallback), "{v}");
            for obj in [
                Obj::ClientAwait,
                Obj::ClientFrame,
                Obj::WorkerFrame,
                Obj::Tuple20,
                Obj::TimeoutError,
                Obj::ServiceError,
                Obj::TimeoutExit,
                Obj::TimeoutRaise,
            ] {
                assert_eq!(p.size(obj), 0, "{v} {obj:?}");
            }
            assert!(p.timeout_first.is_empty(), "{v}");
            assert_eq!(p.cancelled_timeout_credit(), 0, "{v}");
        }
    }

    /// The shipped profiles say how `batching`'s batch tuples are made
    /// (3.11: the harness's stand-in, exact; 3.12+: `itertools.batched`,
    /// for the whole limit first); a profile without the key charges none.
    #[test]
    fn batch_tuples_by_version_and_without_the_key() {
        use crate::memory::Batches;
        for v in VERSIONS {
            let text = text(v).unwrap();
            let p = profile::parse(text).unwrap().memory;
            let made = if v == "3.11" {
                Batches::Exact
            } else {
                Batches::Limit
            };
            assert_eq!(p.batched, made, "{v}");
            let old: String = text
                .lines()
                .filter(|l| !l.starts_with("batched"))
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(
                profile::parse(&old).unwrap().memory.batched,
                Batches::Uncharged
            );
        }
    }

    #[test]
    fn cpu_profiles_by_name_and_by_path() {
        let base = Path::new(env!("CARGO_MANIFEST_DIR"));
        for name in NAMES {
            let costs = cpu_costs(name, base).unwrap();
            assert!(costs.select_rounding && costs.create > 0.0, "{name}");
        }
        let by_path = cpu_costs("profiles/cpython-3.12.toml", base).unwrap();
        assert_eq!(by_path, cpu_costs("cpython-3.12", base).unwrap());
        let (message, help) = cpu_costs("cpython-3.21", base).unwrap_err();
        assert!(message.contains("unknown CPU profile"), "{message}");
        assert!(
            help.contains("did you mean \"cpython-3.12\"") || help.contains("cpython-3.11"),
            "{help}"
        );
        let (message, _) = cpu_costs("nope/missing.toml", base).unwrap_err();
        assert!(message.contains("cannot read"), "{message}");
        let (message, help) = cpu_costs("Cargo.toml", base).unwrap_err();
        assert!(message.contains("not a valid profile"), "{message}");
        assert!(help.contains("bpsim calibrate"), "{help}");
    }
}
