//! `bpsim calibrate`: measure a CPython interpreter's profile on this
//! machine.
//!
//! Two scripts compiled into the binary run inside the given interpreter
//! (standard library only): `profiles/measure_memory.py` measures the bytes
//! per simulated object with `tracemalloc`, and `profiles/calibrate_cpu.py`
//! times the loop operations on a virtual-clock loop (see its docstring for
//! the nine micro-benchmarks) and the lateness of real `select` wake-ups.
//! The result is one profile file with `[memory]` and `[cpu]` tables, which a
//! scenario names with `cpu = "path/to/profile.toml"`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::memory::profile;
use crate::output::{self, WriteError};

const HARNESS: &str = include_str!("../conformance/harness.py");
const MEASURE_MEMORY: &str = include_str!("../profiles/measure_memory.py");
const CALIBRATE_CPU: &str = include_str!("../profiles/calibrate_cpu.py");

/// Why calibration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CalibrateError {
    /// The interpreter could not be started.
    #[error(
        "cannot run '{}': {source}\n  help: pass the path of a CPython 3.11, 3.12 or 3.13 \
         interpreter, e.g. --python /usr/bin/python3.12",
        python.display()
    )]
    Spawn {
        /// The interpreter.
        python: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A measurement script failed.
    #[error(
        "{script} failed under '{}' (exit status {status}):\n{stderr}\n  help: bpsim needs \
         CPython 3.11, 3.12 or 3.13 with its standard library",
        python.display()
    )]
    Script {
        /// The interpreter.
        python: PathBuf,
        /// Which script.
        script: &'static str,
        /// Its exit status.
        status: String,
        /// The end of its standard error.
        stderr: String,
    },
    /// A script printed something that is not a profile.
    #[error("{script} printed an unexpected result: {message}")]
    Output {
        /// Which script.
        script: &'static str,
        /// What was wrong.
        message: String,
    },
    /// The scripts could not be written to a temporary folder.
    #[error("cannot prepare the measurement scripts: {0}")]
    Temp(#[source] std::io::Error),
    /// The profile could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct Options {
    /// The CPython interpreter.
    pub python: PathBuf,
    /// Measure CPU costs with `tracemalloc` on.
    pub tracemalloc: bool,
    /// Passes per CPU micro-benchmark (the median is kept).
    pub repeat: u32,
    /// Where to write the profile.
    pub output: PathBuf,
}

fn run_script(
    python: &Path,
    script: &'static str,
    path: &Path,
    args: &[String],
) -> Result<String, CalibrateError> {
    let out = Command::new(python)
        .arg(path)
        .args(args)
        .output()
        .map_err(|source| CalibrateError::Spawn {
            python: python.to_path_buf(),
            source,
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
        return Err(CalibrateError::Script {
            python: python.to_path_buf(),
            script,
            status: out.status.to_string(),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    String::from_utf8(out.stdout).map_err(|e| CalibrateError::Output {
        script,
        message: e.to_string(),
    })
}

/// The command line that reproduces a calibration.
fn command_line(options: &Options) -> String {
    format!(
        "bpsim calibrate --python {}{} --repeat {} -o {}",
        options.python.display(),
        if options.tracemalloc {
            " --tracemalloc"
        } else {
            ""
        },
        options.repeat,
        options.output.display()
    )
}

/// Measures the interpreter and writes its profile; returns the profile's
/// text.
pub fn run(options: &Options) -> Result<String, CalibrateError> {
    let dir = tempfile::tempdir().map_err(CalibrateError::Temp)?;
    let write = |rel: &str, text: &str| -> Result<PathBuf, CalibrateError> {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap_or(dir.path()))
            .map_err(CalibrateError::Temp)?;
        std::fs::write(&path, text).map_err(CalibrateError::Temp)?;
        Ok(path)
    };
    write("conformance/harness.py", HARNESS)?;
    let memory_script = write("profiles/measure_memory.py", MEASURE_MEMORY)?;
    let cpu_script = write("profiles/calibrate_cpu.py", CALIBRATE_CPU)?;

    let memory_text = run_script(&options.python, "measure_memory.py", &memory_script, &[])?;
    let mut cpu_args = vec!["--repeat".to_owned(), options.repeat.to_string()];
    if options.tracemalloc {
        cpu_args.push("--tracemalloc".to_owned());
    }
    let cpu_json = run_script(&options.python, "calibrate_cpu.py", &cpu_script, &cpu_args)?;
    let text = compose(&memory_text, &cpu_json, &command_line(options))?;
    output::write_atomic(&options.output, text.as_bytes())?;
    Ok(text)
}

/// One profile from the memory script's TOML and the CPU script's JSON.
fn compose(memory_text: &str, cpu_json: &str, command: &str) -> Result<String, CalibrateError> {
    let bad = |script: &'static str, message: String| CalibrateError::Output { script, message };
    let mut doc: toml::Table =
        toml::from_str(memory_text).map_err(|e| bad("measure_memory.py", e.to_string()))?;
    let cpu: serde_json::Value =
        serde_json::from_str(cpu_json).map_err(|e| bad("calibrate_cpu.py", e.to_string()))?;
    let costs = cpu["costs_ns"]
        .as_object()
        .ok_or_else(|| bad("calibrate_cpu.py", "no costs_ns object".to_owned()))?;
    let mut table = toml::Table::new();
    table.insert(
        "tracemalloc".into(),
        toml::Value::Boolean(cpu["tracemalloc"].as_bool().unwrap_or(false)),
    );
    for key in [
        "iteration",
        "handle",
        "step",
        "create",
        "timer",
        "finish",
        "callback",
        "semaphore",
        "wake_slack",
    ] {
        let v = costs
            .get(key)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| bad("calibrate_cpu.py", format!("no cost for {key}")))?;
        table.insert(format!("{key}_ns"), toml::Value::Float(v));
    }
    let mut measured = toml::Table::new();
    for key in ["python_full", "machine", "date"] {
        if let Some(v) = cpu[key].as_str() {
            measured.insert(key.into(), toml::Value::String(v.to_owned()));
        }
    }
    measured.insert("command".into(), toml::Value::String(command.to_owned()));
    table.insert("measured".into(), toml::Value::Table(measured));
    doc.insert("cpu".into(), toml::Value::Table(table));
    if let Some(toml::Value::Table(m)) = doc.get_mut("measured") {
        m.insert("command".into(), toml::Value::String(command.to_owned()));
    }
    let python = doc
        .get("python")
        .and_then(toml::Value::as_str)
        .unwrap_or("?")
        .to_owned();
    let body = toml::to_string(&doc).map_err(|e| bad("measure_memory.py", e.to_string()))?;
    let text = format!(
        "# Profile of CPython {python} on this machine: [memory] holds bytes per simulated\n\
         # object as tracemalloc counts them, [cpu] nanoseconds of loop time per operation.\n\
         # Measured by: {command}\n\
         # Meaning of each key: profiles/README.md.\n{body}"
    );
    let parsed = profile::parse(&text).map_err(|e| bad("calibrate", e.to_string()))?;
    if let Some(cpu) = &parsed.cpu
        && let Err(key) = cpu.check()
    {
        return Err(bad("calibrate_cpu.py", format!("invalid cost {key}")));
    }
    Ok(text)
}
