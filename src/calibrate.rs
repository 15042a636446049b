//! `bpsim calibrate`: measure a CPython interpreter's profile on this
//! machine.
//!
//! Three scripts compiled into the binary run inside the given interpreter
//! (standard library only): `profiles/measure_memory.py` measures the bytes
//! per simulated object with `tracemalloc`, `profiles/measure_server.py`
//! those of the `[server]` client (with the conformance harness's own
//! client, `conformance/server_trace.py`), and `profiles/calibrate_cpu.py`
//! times the loop operations on a virtual-clock loop (see its docstring for
//! the nine micro-benchmarks) and the lateness of real `select` wake-ups.
//! The result is one profile file with `[memory]` and `[cpu]` tables, which a
//! scenario names with `cpu = "path/to/profile.toml"` (its costs) and
//! `memory = "path/to/profile.toml"` (its sizes) in `[model]`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::asyncio::{Config, CpuCosts};
use crate::experiment;
use crate::latency::{self, Distribution, LatencySource};
use crate::memory::profile;
use crate::output::{self, WriteError};
use crate::scenario::PythonVersion;
use crate::strategy::{self, StrategyKind, Workload};

const HARNESS: &str = include_str!("../conformance/harness.py");
const MEASURE_MEMORY: &str = include_str!("../profiles/measure_memory.py");
const SERVER_TRACE: &str = include_str!("../conformance/server_trace.py");
const MEASURE_SERVER: &str = include_str!("../profiles/measure_server.py");
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
        "{script} failed under '{}' ({status}):\n{stderr}\n  help: bpsim needs \
         CPython 3.11, 3.12 or 3.13 with its standard library",
        python.display()
    )]
    Script {
        /// The interpreter.
        python: PathBuf,
        /// Which script.
        script: &'static str,
        /// Its exit status as `ExitStatus` prints it (`exit status: 1`,
        /// `signal: 15 (SIGTERM)`).
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
    /// The calibration ran past its time limit; the running script (and
    /// every process it started) was ended.
    #[error(
        "calibration did not finish within {} s (--timeout): {script} (or a process it \
         started) was still running under '{}', and was ended\n  help: a calibration takes about a minute (longer with a \
         large --repeat or on a busy machine); check that '{}' is a CPython that runs its \
         scripts, or raise the limit, e.g. --timeout {} (0: no limit)",
        limit.as_secs(),
        python.display(),
        python.display(),
        limit.as_secs().saturating_mul(2).max(MIN_DEFAULT_TIMEOUT_S)
    )]
    Timeout {
        /// The interpreter.
        python: PathBuf,
        /// The script that was running.
        script: &'static str,
        /// The limit.
        limit: Duration,
    },
    /// The interpreter is not a CPython that bpsim models.
    #[error(
        "'{}' is {found}, not CPython 3.11, 3.12 or 3.13\n  help: bpsim models those three \
         versions; pass one of them, e.g. --python /usr/bin/python3.12",
        python.display()
    )]
    Version {
        /// The interpreter.
        python: PathBuf,
        /// What it said it is (`CPython 3.10.14`), or that it said nothing.
        found: String,
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
    /// How long the whole calibration may take (`None`: no limit): past
    /// it, the running script and every process it started are ended and
    /// [`CalibrateError::Timeout`] is returned.
    pub timeout: Option<Duration>,
}

/// Seconds of `bpsim calibrate --timeout` per `--repeat` by default: a
/// calibration takes about a minute at the default `--repeat` of 5, most
/// of it in the CPU micro-benchmarks, whose passes `--repeat` counts; the
/// default limit is ten times that, per pass.
pub const DEFAULT_TIMEOUT_PER_REPEAT_S: u64 = 120;

/// The least default `--timeout`, in seconds (that of the default
/// `--repeat` of 5): the memory measurements take the same time whatever
/// `--repeat` is.
pub const MIN_DEFAULT_TIMEOUT_S: u64 = 600;

/// The default of `bpsim calibrate --timeout` for `repeat` passes, in
/// seconds: [`DEFAULT_TIMEOUT_PER_REPEAT_S`] per pass, at least
/// [`MIN_DEFAULT_TIMEOUT_S`] (600 s up to `--repeat 5`, 12,000 s at 100).
pub fn default_timeout_s(repeat: u32) -> u64 {
    (u64::from(repeat) * DEFAULT_TIMEOUT_PER_REPEAT_S).max(MIN_DEFAULT_TIMEOUT_S)
}

/// The time limit of a calibration of `repeat` passes: `--timeout` if
/// given (`0`: none), else [`default_timeout_s`].
pub fn time_limit(timeout: Option<u64>, repeat: u32) -> Option<Duration> {
    let seconds = timeout.unwrap_or_else(|| default_timeout_s(repeat));
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

/// How long a script ended for running late has to quit after SIGTERM
/// before SIGKILL.
const GRACE: Duration = Duration::from_secs(2);

/// How often a running script is checked on.
const POLL: Duration = Duration::from_millis(20);

/// The process id of the measurement script running now (0: none), for
/// [`stop_measuring`]. On Unix it leads a process group of its own, which
/// holds every process it starts (`measure_memory.py` starts interpreters
/// of its own).
static RUNNING: AtomicU32 = AtomicU32::new(0);

/// Set by [`stop_measuring`]: the process is quitting on an interrupt.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Ends the measurement script running now, if any (SIGTERM), for a
/// process about to quit (Ctrl-C or SIGTERM: only a terminal's Ctrl-C
/// reaches the script itself, and a script left running would go on
/// measuring for a minute, from a folder [`crate::output::remove_unfinished`]
/// has removed).
///
/// Call it only on the way out: a script it ends is not reported as
/// failed, and the measuring thread waits for the process to quit.
pub fn stop_measuring() {
    STOPPING.store(true, Ordering::SeqCst);
    let pid = RUNNING.swap(0, Ordering::SeqCst);
    // `pid` is the script's, noted while it runs: only between its end and
    // the note being cleared (microseconds) could it name a reused pid, and
    // only if an interrupt came exactly then.
    signal_group(pid, Signal::Term);
}

/// A signal [`signal_group`] sends.
#[derive(Clone, Copy)]
enum Signal {
    Term,
    Kill,
}

/// Sends `signal` to the process group that `pid` leads (Unix; a no-op
/// elsewhere, and for pid 0).
fn signal_group(pid: u32, signal: Signal) {
    #[cfg(unix)]
    if let Ok(pid) = libc::pid_t::try_from(pid)
        && pid > 0
    {
        let signal = match signal {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        };
        // SAFETY: `kill` only sends a signal, here to the group `pid` leads
        // (a negative pid names a process group).
        unsafe {
            libc::kill(-pid, signal);
        }
    }
    #[cfg(not(unix))]
    let _ = (pid, signal);
}

/// Ends a script that ran past its deadline, and every process in its
/// group: SIGTERM, then SIGKILL after [`GRACE`] (to stragglers too).
fn end_late(child: &mut Child) {
    let pid = child.id();
    RUNNING.store(0, Ordering::SeqCst);
    signal_group(pid, Signal::Term);
    let start = Instant::now();
    while start.elapsed() < GRACE && matches!(child.try_wait(), Ok(None)) {
        std::thread::sleep(POLL);
    }
    signal_group(pid, Signal::Kill);
    // Off Unix (no groups), or if the script outlived SIGTERM.
    let _ = child.kill();
    let _ = child.wait();
}

/// What a script left: its exit status, stdout and stderr.
struct Finished {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Waits for `child` and reads its output, until `deadline`; `None` if it
/// came first (the child and its group are then ended). The output is
/// read on threads of its own, so that neither pipe can fill and stall the
/// script, and a pipe held open by a process the script left behind
/// cannot stall bpsim past the deadline.
fn wait_until(mut child: Child, deadline: Option<Instant>) -> std::io::Result<Option<Finished>> {
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        let (send, receive) = mpsc::channel();
        if let Some(mut pipe) = pipe {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = send.send(pipe.read_to_end(&mut bytes).map(|_| bytes));
            });
        } else {
            let _ = send.send(Ok(Vec::new()));
        }
        receive
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let late = |now: Instant| deadline.is_some_and(|d| now >= d);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if late(Instant::now()) {
            end_late(&mut child);
            return Ok(None);
        }
        std::thread::sleep(POLL);
    };
    let collect = |pipe: mpsc::Receiver<std::io::Result<Vec<u8>>>| {
        let received = match deadline {
            Some(d) => pipe.recv_timeout(d.saturating_duration_since(Instant::now())),
            None => pipe
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(bytes) => bytes.map(Some),
            // A process the script started holds the pipe open past the
            // deadline: end the group it is in.
            Err(_) => {
                signal_group(child.id(), Signal::Kill);
                Ok(None)
            }
        }
    };
    let (Some(stdout), Some(stderr)) = (collect(stdout)?, collect(stderr)?) else {
        return Ok(None);
    };
    Ok(Some(Finished {
        status,
        stdout,
        stderr,
    }))
}

fn run_script(
    python: &Path,
    script: &'static str,
    path: &Path,
    args: &[String],
    deadline: Option<(Instant, Duration)>,
) -> Result<String, CalibrateError> {
    let mut command = Command::new(python);
    command
        .arg(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // A group of its own, so that a timeout or an interrupt ends every
    // process the script starts, not the script alone.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command.spawn().map_err(|source| CalibrateError::Spawn {
        python: python.to_path_buf(),
        source,
    })?;
    RUNNING.store(child.id(), Ordering::SeqCst);
    let out = wait_until(child, deadline.map(|(at, _)| at));
    RUNNING.store(0, Ordering::SeqCst);
    if STOPPING.load(Ordering::SeqCst) {
        // The interrupt handler ended the script and is quitting the
        // process (130). Reporting the script as failed would be wrong,
        // and would race the handler to exit with 1 (a test saw it).
        loop {
            std::thread::park();
        }
    }
    let out = out.map_err(|source| CalibrateError::Spawn {
        python: python.to_path_buf(),
        source,
    })?;
    let Some(out) = out else {
        return Err(CalibrateError::Timeout {
            python: python.to_path_buf(),
            script,
            limit: deadline.map_or(Duration::ZERO, |(_, limit)| limit),
        });
    };
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
    // Removed when done, and on Ctrl-C (an interrupted calibration left it
    // behind, found by a hostile-input pass).
    let dir = output::TempFolder::new().map_err(CalibrateError::Temp)?;
    let write = |rel: &str, text: &str| -> Result<PathBuf, CalibrateError> {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap_or(dir.path()))
            .map_err(CalibrateError::Temp)?;
        std::fs::write(&path, text).map_err(CalibrateError::Temp)?;
        Ok(path)
    };
    write("conformance/harness.py", HARNESS)?;
    write("conformance/server_trace.py", SERVER_TRACE)?;
    let memory_script = write("profiles/measure_memory.py", MEASURE_MEMORY)?;
    let server_script = write("profiles/measure_server.py", MEASURE_SERVER)?;
    let cpu_script = write("profiles/calibrate_cpu.py", CALIBRATE_CPU)?;

    // One deadline for the whole calibration, every script.
    let deadline = options.timeout.map(|limit| (Instant::now() + limit, limit));
    // A version the scripts do not support failed inside one of them, with
    // a Python traceback (3.10) or "printed an unexpected result" (not a
    // Python at all).
    let version_script = write("version.py", VERSION)?;
    let said = run_script(
        &options.python,
        "version.py",
        &version_script,
        &[],
        deadline,
    )
    .map_err(|e| match e {
        CalibrateError::Script {
            python,
            stderr,
            status,
            ..
        } => CalibrateError::Version {
            python,
            found: match stderr.trim() {
                "" => format!("not a Python that runs scripts ({status}, printing nothing)"),
                said => format!("not a Python that runs scripts (it said: {said})"),
            },
        },
        e => e,
    })?;
    supported(&options.python, &said)?;
    progress("memory sizes of the loop's objects (tracemalloc)");
    let memory_text = run_script(
        &options.python,
        "measure_memory.py",
        &memory_script,
        &[],
        deadline,
    )?;
    progress("memory sizes of the [server] client");
    let server_text = run_script(
        &options.python,
        "measure_server.py",
        &server_script,
        &[],
        deadline,
    )?;
    // The scale check's workload: the blog's latencies, 20,000 requests.
    let check_latencies = latency::workload(
        &LatencySource::Distribution(Distribution::Uniform {
            low: 0.1,
            high: 0.2,
        }),
        1,
        CHECK_REQUESTS,
    )
    .map_err(|e| CalibrateError::Output {
        script: "calibrate",
        message: e.to_string(),
    })?;
    let trace_text: String = check_latencies
        .iter()
        .map(|v| format!("{}\n", crate::report::csv_float(*v)))
        .collect();
    let trace = write("check.trace", &trace_text)?;
    let mut cpu_args = vec![
        "--repeat".to_owned(),
        options.repeat.to_string(),
        "--strategies-trace".to_owned(),
        trace.display().to_string(),
    ];
    if options.tracemalloc {
        cpu_args.push("--tracemalloc".to_owned());
    }
    progress(&format!(
        "CPU costs: {} of each loop operation, then the blog's programs{}",
        crate::report::count(options.repeat as usize, "pass", "passes"),
        if options.tracemalloc {
            ", with tracemalloc"
        } else {
            ""
        }
    ));
    let cpu_json = run_script(
        &options.python,
        "calibrate_cpu.py",
        &cpu_script,
        &cpu_args,
        deadline,
    )?;
    let text = compose(
        &memory_text,
        &server_text,
        &cpu_json,
        &command_line(options),
        &check_latencies,
    )?;
    output::write_atomic(&options.output, text.as_bytes())?;
    Ok(text)
}

/// Above this error (percent) on any of the scale check's programs, a
/// calibration warns that it is not to be trusted.
const SCALE_CHECK_WARN_PERCENT: f64 = 10.0;

/// Prints the interpreter's version as `major.minor.micro`, or says what
/// it is if not CPython.
const VERSION: &str = "import platform, sys\n\
    sys.stdout.write(platform.python_implementation() + ' %d.%d.%d\\n' % sys.version_info[:3])\n";

/// Checks what `version.py` printed (`CPython 3.12.1`): a CPython bpsim
/// models.
fn supported(python: &Path, said: &str) -> Result<(), CalibrateError> {
    let said = said.trim();
    let ok = said.strip_prefix("CPython ").is_some_and(|v| {
        let major_minor: Vec<&str> = v.split('.').take(2).collect();
        PythonVersion::parse(&major_minor.join(".")).is_some()
    });
    if ok {
        return Ok(());
    }
    Err(CalibrateError::Version {
        python: python.to_path_buf(),
        found: if said.is_empty() {
            "not a Python (it printed nothing for a script that prints its version)".to_owned()
        } else {
            said.to_owned()
        },
    })
}

/// One step of the calibration, on stderr.
fn progress(what: &str) {
    crate::output::eprint(format_args!("  measuring {what} ..."));
}

/// The `[server]` client's keys that `measure_server.py` prints as
/// `key = value` lines (beside comments), in a profile's order. It prints
/// `timeout_and_timer`, from which `timeout` is derived, and
/// [`SERVER_LIST_KEYS`] as `key = [a, b, ...]`.
const SERVER_KEYS: [&str; 11] = [
    "client_coroutine",
    "client_await",
    "timeout_and_timer",
    "timeout_handle",
    "client_frame",
    "worker_frame",
    "tuple20",
    "timeout_error",
    "service_error",
    "timeout_exit",
    "timeout_raise",
];

/// The keys of [`SERVER_KEYS`]'s lines whose value is a list of whole
/// numbers of bytes.
const SERVER_LIST_KEYS: [&str; 1] = ["timeout_first"];

/// Put `measure_server.py`'s keys into the `[memory]` table of `doc`
/// (`measure_memory.py`'s output): `timeout` is its `timeout_and_timer`
/// less the table's `timer_handle`, as in the shipped profiles.
fn add_server_keys(doc: &mut toml::Table, server_text: &str) -> Result<(), String> {
    let mut values = std::collections::BTreeMap::new();
    let mut lists = std::collections::BTreeMap::new();
    let bytes = |value: &str, line: &str| {
        value
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("not a whole number of bytes: {line:?}"))
    };
    for line in server_text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("unexpected line {line:?}"))?;
        let (key, value) = (key.trim(), value.trim());
        if SERVER_LIST_KEYS.contains(&key) {
            let items = value
                .strip_prefix('[')
                .and_then(|v| v.strip_suffix(']'))
                .ok_or_else(|| format!("not a list: {line:?}"))?;
            let list = items
                .split(',')
                .filter(|item| !item.trim().is_empty())
                .map(|item| bytes(item, line))
                .collect::<Result<Vec<i64>, String>>()?;
            lists.insert(key.to_owned(), list);
        } else {
            values.insert(key.to_owned(), bytes(value, line)?);
        }
    }
    let memory = doc
        .get_mut("memory")
        .and_then(toml::Value::as_table_mut)
        .ok_or("measure_memory.py gave no [memory] table")?;
    let timer_handle = memory
        .get("timer_handle")
        .and_then(toml::Value::as_integer)
        .ok_or("measure_memory.py gave no timer_handle")?;
    for key in SERVER_KEYS {
        let value = *values.get(key).ok_or_else(|| format!("no {key}"))?;
        let (key, value) = if key == "timeout_and_timer" {
            ("timeout", value - timer_handle)
        } else {
            (key, value)
        };
        memory.insert(key.to_owned(), toml::Value::Integer(value));
    }
    for key in SERVER_LIST_KEYS {
        let list = lists.remove(key).ok_or_else(|| format!("no {key}"))?;
        let list = list.into_iter().map(toml::Value::Integer).collect();
        memory.insert(key.to_owned(), toml::Value::Array(list));
    }
    Ok(())
}

/// Requests in the scale check.
const CHECK_REQUESTS: u64 = 20_000;

/// The cost keys, in the order of a profile's `[cpu]` table.
const COST_KEYS: [&str; 13] = [
    "iteration",
    "handle",
    "step",
    "create",
    "timer",
    "finish",
    "callback",
    "semaphore",
    "wait",
    "context",
    "growth",
    "wake_slack",
    "wait_future",
];

/// The CPU time the model charges each of the four blog strategies on
/// `latencies` (concurrency 500), jumping exactly to each deadline as
/// CPython's loop does on a virtual clock.
fn model_cpu(
    costs: &CpuCosts,
    version: PythonVersion,
    latencies: &[f64],
) -> Vec<(String, f64, u64)> {
    let config = Config {
        cpu: CpuCosts {
            select_rounding: false,
            wake_slack: 0.0,
            ..*costs
        },
        ..experiment::config_for_version(version)
    };
    let workload = Workload::new(latencies.into(), 500);
    StrategyKind::BLOG
        .iter()
        .filter_map(|&k| {
            strategy::simulate(k, &workload, &config).ok().map(|o| {
                (
                    k.name().to_owned(),
                    o.report.busy_s,
                    o.report.peak_live_tasks,
                )
            })
        })
        .collect()
}

/// One profile from the memory script's TOML and the CPU script's JSON.
///
/// The micro-benchmarks give each operation's cost in isolation; the scale
/// check then times the four blog programs on a virtual clock inside the
/// interpreter, compares that CPU time with what the model charges for the
/// same runs, and scales every cost (but `wake_slack`) by the ratio of the
/// totals, which absorbs what isolated benchmarks miss (caches, the
/// collector, larger heaps).
fn compose(
    memory_text: &str,
    server_text: &str,
    cpu_json: &str,
    command: &str,
    check_latencies: &[f64],
) -> Result<String, CalibrateError> {
    let bad = |script: &'static str, message: String| CalibrateError::Output { script, message };
    let mut doc: toml::Table =
        toml::from_str(memory_text).map_err(|e| bad("measure_memory.py", e.to_string()))?;
    add_server_keys(&mut doc, server_text).map_err(|e| bad("measure_server.py", e))?;
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
    let mut ns = [0.0; COST_KEYS.len()];
    for (slot, key) in ns.iter_mut().zip(COST_KEYS) {
        if key == "growth" {
            continue; // fitted below
        }
        *slot = costs
            .get(key)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| bad("calibrate_cpu.py", format!("no cost for {key}")))?;
    }
    let version = doc
        .get("python")
        .and_then(toml::Value::as_str)
        .and_then(PythonVersion::parse)
        .ok_or_else(|| {
            bad(
                "measure_memory.py",
                "no supported `python` version".to_owned(),
            )
        })?;
    let micro = CpuCosts {
        iteration: ns[0] * 1e-9,
        handle: ns[1] * 1e-9,
        step: ns[2] * 1e-9,
        create: ns[3] * 1e-9,
        timer: ns[4] * 1e-9,
        finish: ns[5] * 1e-9,
        callback: ns[6] * 1e-9,
        semaphore: ns[7] * 1e-9,
        wait: ns[8] * 1e-9,
        context: ns[9] * 1e-9,
        growth: 0.0,
        wake_slack: ns[11] * 1e-9,
        wait_future: ns[12] * 1e-9,
        select_rounding: true,
    };
    let measured_cpu = cpu["strategies_cpu_s"]
        .as_object()
        .ok_or_else(|| bad("calibrate_cpu.py", "no strategies_cpu_s object".to_owned()))?;
    let predicted = model_cpu(&micro, version, check_latencies);
    let mut check = toml::Table::new();
    // real_i = scale * model_i + growth * peak_live_i: least squares in
    // two unknowns over the four strategies.
    let (mut smm, mut smh, mut shh, mut srm, mut srh) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (name, model, peak) in &predicted {
        let real = measured_cpu
            .get(name)
            .and_then(serde_json::Value::as_f64)
            .ok_or_else(|| bad("calibrate_cpu.py", format!("no CPU time for {name}")))?;
        let h = *peak as f64;
        smm += model * model;
        smh += model * h;
        shh += h * h;
        srm += real * model;
        srh += real * h;
        check.insert(name.clone(), toml::Value::Float(real));
    }
    let det = smm * shh - smh * smh;
    let (mut scale, mut growth) = if det.abs() > 0.0 {
        ((srm * shh - srh * smh) / det, (smm * srh - smh * srm) / det)
    } else {
        (1.0, 0.0)
    };
    if growth < 0.0 || !growth.is_finite() || !scale.is_finite() || scale <= 0.0 {
        // No measurable growth cost: fit the scale alone.
        growth = 0.0;
        scale = if smm > 0.0 { srm / smm } else { 1.0 };
    }
    let scale = (scale * 1e4).round() / 1e4;
    ns[COST_KEYS
        .iter()
        .position(|k| *k == "growth")
        .expect("growth is a key")] = growth * 1e9 / scale;
    for (i, key) in COST_KEYS.iter().enumerate() {
        let v = if *key == "wake_slack" {
            ns[i]
        } else {
            ns[i] * scale
        };
        table.insert(
            format!("{key}_ns"),
            toml::Value::Float((v * 10.0).round() / 10.0),
        );
    }
    let micro = CpuCosts {
        growth: growth / scale,
        ..micro
    };
    let scaled = micro.scaled(scale);
    let after = model_cpu(&scaled, version, check_latencies);
    let mut check_model = toml::Table::new();
    let mut worst: Option<(f64, &str)> = None;
    for (name, model, _) in &after {
        check_model.insert(
            name.clone(),
            toml::Value::Float((model * 1e6).round() / 1e6),
        );
        let real = check
            .get(name)
            .and_then(toml::Value::as_float)
            .unwrap_or(0.0);
        let error = (model - real) / real * 100.0;
        crate::output::eprint(format_args!(
            "  scale check, {name:22} CPython {real:.3} s, model {model:.3} s ({error:+.1}%)"
        ));
        if error.is_finite() && worst.is_none_or(|(w, _)| error.abs() > w.abs()) {
            worst = Some((error, name));
        }
    }
    if let Some((error, name)) = worst
        && error.abs() > SCALE_CHECK_WARN_PERCENT
    {
        crate::output::eprint(format_args!(
            "warning: the scale check is off by {error:+.1}% ({name}), where a calibration on \
             a quiet machine is within a few percent (the shipped profiles: 3.5% at most): \
             the durations it predicts may be off by as much; the profile is written, but \
             calibrate again with nothing else running (a larger --repeat helps)"
        ));
    }
    let mut measured = toml::Table::new();
    for key in ["python_full", "machine", "date"] {
        if let Some(v) = cpu[key].as_str() {
            measured.insert(key.into(), toml::Value::String(v.to_owned()));
        }
    }
    measured.insert("command".into(), toml::Value::String(command.to_owned()));
    measured.insert("scale".into(), toml::Value::Float(scale));
    measured.insert(
        "check".into(),
        toml::Value::String(format!(
            "the four blog strategies, {CHECK_REQUESTS} requests of uniform(0.1, 0.2), limit 500, \
             on a virtual clock: CPython's CPU seconds in check_cpython_s, the model's (after \
             scaling every micro-benchmark cost by `scale` and fitting growth_ns) in check_model_s"
        )),
    );
    measured.insert("check_cpython_s".into(), toml::Value::Table(check));
    measured.insert("check_model_s".into(), toml::Value::Table(check_model));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `--timeout` defaulted to 600 s whatever `--repeat` was, so a
    /// calibration with `--repeat 50` (ten times the default's passes) was
    /// ended about when it should finish. The default scales per pass.
    #[test]
    fn the_default_timeout_scales_with_repeat() {
        let secs = |timeout, repeat| time_limit(timeout, repeat).map(|d| d.as_secs());
        assert_eq!(secs(None, 1), Some(600));
        assert_eq!(secs(None, 5), Some(600));
        assert_eq!(secs(None, 6), Some(720));
        assert_eq!(secs(None, 50), Some(6_000));
        assert_eq!(secs(None, 100), Some(12_000));
        // Given, it is kept whatever --repeat is; 0 is no limit.
        assert_eq!(secs(Some(30), 100), Some(30));
        assert_eq!(secs(Some(0), 5), None);
    }

    /// `measure_server.py`'s output lands in `[memory]`, `timeout` as its
    /// `timeout_and_timer` less `timer_handle`, and the profile parses.
    /// Found by a review: CPython 3.10 failed inside measure_memory.py with
    /// a Python traceback, and a program that is no Python at all with
    /// "measure_server.py printed an unexpected result". The version is
    /// checked first.
    #[test]
    fn only_the_modelled_cpythons_are_calibrated() {
        let python = Path::new("py");
        for said in ["CPython 3.11.7\n", "CPython 3.12.1", "CPython 3.13.0\n"] {
            assert!(supported(python, said).is_ok(), "{said}");
        }
        for (said, found) in [
            ("CPython 3.10.13\n", "is CPython 3.10.13, not CPython 3.11"),
            ("PyPy 3.11.11\n", "is PyPy 3.11.11, not"),
            ("CPython 3.1.5", "is CPython 3.1.5, not"),
            ("", "is not a Python (it printed nothing"),
        ] {
            let e = supported(python, said).unwrap_err().to_string();
            assert!(e.contains(found), "{said:?}: {e}");
            assert!(e.contains("help: bpsim models those three versions"), "{e}");
        }
    }

    #[test]
    fn server_keys_join_the_memory_table() {
        let shipped = include_str!("../profiles/cpython-3.12.toml");
        let mut doc: toml::Table = toml::from_str(shipped).unwrap();
        let memory = doc["memory"].as_table_mut().unwrap();
        for key in SERVER_KEYS
            .iter()
            .chain(&SERVER_LIST_KEYS)
            .chain(&["timeout"])
        {
            memory.remove(*key);
        }
        let out = "# 3.12.1: a comment\nclient_coroutine = 344\nclient_await = 112\n\
                   timeout_and_timer = 440\ntimeout_handle = 208\n# another\n\
                   client_frame = 280\nworker_frame = 176\ntuple20 = 200\n\
                   timeout_error = 536\nservice_error = 160\n\
                   timeout_first = [208, 200, 192, 184, 176, 168, 160, 144, 136, 128, 120, \
                   112, 104, 96, 88, 72, 64, 56, 48, 40, 32, 24, 16]\n\
                   timeout_exit = 216\ntimeout_raise = 312\n";
        add_server_keys(&mut doc, out).unwrap();
        let text = toml::to_string(&doc).unwrap();
        let p = profile::parse(&text).unwrap().memory;
        assert_eq!(p, profile::parse(shipped).unwrap().memory);
        assert!(add_server_keys(&mut doc, "client_coroutine = 344\n").is_err());
        assert!(add_server_keys(&mut doc, "client_coroutine = lots\n").is_err());
        let no_list = out.replace("timeout_first", "# timeout_first");
        assert!(add_server_keys(&mut doc, &no_list).is_err());
        let bad_list = out.replace("[208,", "[lots,");
        assert!(add_server_keys(&mut doc, &bad_list).is_err());
    }
}
