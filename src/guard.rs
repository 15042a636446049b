//! Resource guard: estimate bpsim's own memory for a scenario before running
//! it, and refuse a run that would not fit.

use crate::scenario::Scenario;
use crate::strategy::{StrategyKind, StrategyParams};

/// bpsim's memory per live simulated task (task slot, pooled coroutine,
/// handles, futures), measured with `bpsim bench` (`B/task heap`: 89 bytes
/// at 1M live tasks, requests summed rather than logged), with room for the
/// other Python versions' profiles and for vectors that doubled.
pub const BYTES_PER_LIVE_TASK: u64 = 192;

/// Per request: its latency (8 bytes) and, per strategy whose requests are
/// logged, its log entry (20 to 28 bytes) and the vectors' spare room.
const BYTES_PER_REQUEST: u64 = 8;
const BYTES_PER_RECORD: u64 = 40;

/// Fixed overhead of a run (binary, allocator, histograms).
const BASE: u64 = 64 << 20;

/// The estimated peak of bpsim's own memory for one run of `scenario`, in
/// bytes (saturating: never overflows); `logged`: every request's record
/// is kept (for the charts or a per-request CSV), not only their totals.
/// For a scenario with a sweep, the larger of its own run (what `bpsim run`
/// makes of it) and its sweep's largest point, which never keeps them.
pub fn estimate(scenario: &Scenario, logged: bool) -> u64 {
    let own = estimate_one(scenario, logged);
    match &scenario.sweep {
        Some(sweep) => sweep
            .points
            .iter()
            .map(|p| estimate_one(&p.scenario, false))
            .fold(own, u64::max),
        None => own,
    }
}

fn estimate_one(s: &Scenario, logged: bool) -> u64 {
    estimate_runs(s.requests, s.concurrency, &s.strategies, &s.params, logged)
        .saturating_add(trace_bytes(s))
}

/// The trace `s` replays, held whole while it runs (8 bytes a latency,
/// whatever `requests` is): a 20-million-line trace for 3 requests was
/// estimated at the 67 MB of any run while bpsim held 160 MB (found by a
/// hostile-input pass).
fn trace_bytes(s: &Scenario) -> u64 {
    match &s.latency {
        crate::latency::LatencySource::Trace(t) => {
            (t.len() as u64).saturating_mul(BYTES_PER_REQUEST)
        }
        crate::latency::LatencySource::Distribution(_) => 0,
    }
}

/// The estimated peak of bpsim's own memory for `requests` requests at
/// limit `concurrency` under `strategies` (with `params`), every outcome
/// kept, with every request's record if `logged` (saturating).
pub fn estimate_runs(
    requests: u64,
    concurrency: u64,
    strategies: &[StrategyKind],
    params: &StrategyParams,
    logged: bool,
) -> u64 {
    let n = requests;
    let live = strategies
        .iter()
        .map(|&k| live_tasks(n, concurrency, k, params))
        .max()
        .unwrap_or(0);
    let logs = if logged { strategies.len() as u64 } else { 0 };
    BASE.saturating_add(n.saturating_mul(BYTES_PER_REQUEST))
        .saturating_add(n.saturating_mul(BYTES_PER_RECORD).saturating_mul(logs))
        .saturating_add(live.saturating_mul(BYTES_PER_LIVE_TASK))
}

/// The most tasks `strategy` keeps alive at once for `requests` requests at
/// limit `concurrency`: every request's under `semaphore_in_task`; the
/// `concurrency` workers of `worker_pool`, however few the requests;
/// under `adaptive_limit`, at most its largest limit (`max_limit`, 4 x
/// `concurrency` by default); else at most the limit.
fn live_tasks(
    requests: u64,
    concurrency: u64,
    strategy: StrategyKind,
    params: &StrategyParams,
) -> u64 {
    match strategy {
        StrategyKind::SemaphoreInTask => requests,
        StrategyKind::WorkerPool => concurrency,
        StrategyKind::AdaptiveLimit => {
            // A float limit, at least `concurrency` (validated); `as`
            // saturates, so a huge `max_limit` counts every request.
            let most = params.adaptive.max_limit_at(concurrency).ceil() as u64;
            requests.min(most.max(concurrency))
        }
        _ => requests.min(concurrency),
    }
}

/// How many of `scenario`'s strategies `bpsim run` may simulate at once,
/// at most `wanted` (at least 1): the most whose estimate fits `limit`.
/// Each strategy running beside the largest adds its live tasks to the
/// estimate of the scenario's own run one strategy at a time (its sweep's
/// points are not run); the outcomes are kept either way. A scenario that
/// does not fit one at a time gets 1 ([`check`] refuses it).
pub fn strategies_at_once(scenario: &Scenario, logged: bool, limit: u64, wanted: usize) -> usize {
    let one = estimate_one(scenario, logged);
    let mut live: Vec<u64> = scenario
        .strategies
        .iter()
        .map(|&k| live_tasks(scenario.requests, scenario.concurrency, k, &scenario.params))
        .collect();
    live.sort_unstable_by(|a, b| b.cmp(a));
    let wanted = wanted.clamp(1, live.len().max(1));
    let mut need = one;
    let mut at_once = 1;
    for &tasks in live.iter().skip(1).take(wanted - 1) {
        need = need.saturating_add(tasks.saturating_mul(BYTES_PER_LIVE_TASK));
        if need > limit {
            break;
        }
        at_once += 1;
    }
    at_once
}

/// The estimated peak of bpsim's own memory for writing `scenario`'s
/// workload as a trace (`bpsim workload`): every latency is drawn and held
/// at once (8 bytes each), the text is streamed to the file (saturating).
pub fn estimate_workload(scenario: &Scenario) -> u64 {
    BASE.saturating_add(scenario.requests.saturating_mul(BYTES_PER_REQUEST))
}

/// Refuses to write `scenario`'s workload if its estimate (see
/// [`estimate_workload`]) is above `limit`, with the estimate and how to
/// proceed.
pub fn check_workload(scenario: &Scenario, limit: u64) -> Result<(), String> {
    let need = estimate_workload(scenario);
    if need <= limit {
        return Ok(());
    }
    Err(format!(
        "{}: drawing this workload would need about {} of bpsim's own memory ({} \
         latencies of {BYTES_PER_REQUEST} bytes, held at once), above the limit of {}\n  \
         help: lower `requests`, {}",
        scenario.path.display(),
        human(need),
        scenario.requests,
        human(limit),
        raise_help(need, physical_memory())
    ))
}

/// Half the machine's physical memory (Linux `/proc/meminfo`), else 4 GiB.
pub fn default_limit() -> u64 {
    physical_memory().map_or(4 << 30, |bytes| bytes / 2)
}

/// The machine's physical memory in bytes (Linux `/proc/meminfo`), if known.
pub fn physical_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb = line.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    Some(kb.saturating_mul(1024))
}

/// How sizes are read and written, for help texts: the units [`human`]
/// prints sizes in, as [`parse_size`] reads them.
pub const SIZE_UNITS: &str = "K, M, G and T (or KB, MB, GB, TB) are powers of 1000, as bpsim \
                              prints sizes; KiB, MiB, GiB and TiB are powers of 1024";

/// Parses a size: `512M`, `8G`, `1.5G`, `4096` (bytes). `K`, `M`, `G`, `T`
/// (and `KB`, `MB`, ...) are powers of 1000, the units [`human`] prints, so
/// `--max-memory 800M` is reported as 800 MB (it was read as MiB and shown
/// as 839 MB, found by a hostile-input pass); `KiB`, `MiB`, `GiB`, `TiB`
/// are powers of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    // Where the unit starts: the first letter that is not a number's
    // exponent (`1e9` is a billion bytes, not 1 in unit `e9`).
    let bytes = t.as_bytes();
    let exponent = |i: usize| {
        matches!(bytes[i], b'e' | b'E')
            && i > 0
            && bytes[i - 1].is_ascii_digit()
            && match bytes.get(i + 1) {
                Some(b'+' | b'-') => bytes.get(i + 2).is_some_and(u8::is_ascii_digit),
                Some(d) => d.is_ascii_digit(),
                None => false,
            }
    };
    let split = (0..bytes.len())
        .find(|&i| bytes[i].is_ascii_alphabetic() && !exponent(i))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("expected a size such as 512M or 8G, found {text:?}"))?;
    let factor: f64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" => 1e3,
        "M" | "MB" => 1e6,
        "G" | "GB" => 1e9,
        "T" | "TB" => 1e12,
        "KIB" => 1024.0,
        "MIB" => 1024.0 * 1024.0,
        "GIB" => 1024.0 * 1024.0 * 1024.0,
        "TIB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "unknown size unit {unit:?} in {text:?}: {SIZE_UNITS}"
            ));
        }
    };
    let bytes = value * factor;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(format!(
            "expected a positive size such as 512M or 8G, found {text:?}"
        ));
    }
    Ok(bytes.min(u64::MAX as f64) as u64)
}

/// `1.5 GB`-style text, in powers of 1000 (see [`SIZE_UNITS`]).
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e13 {
        format!("{:.0} TB", b / 1e12)
    } else if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else if b >= 1e4 {
        format!("{:.0} KB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

/// Whole gigabytes (powers of 1000, as `--max-memory 3G` reads them) that
/// hold `need` bytes: for the `--max-memory` a refusal suggests.
fn suggested_gigabytes(need: u64) -> u64 {
    need.div_ceil(1_000_000_000)
}

/// A refusal's last way out for a run that needs `need` bytes on a machine
/// with `physical` bytes of memory: a `--max-memory` that holds it, unless
/// that is more than the machine has (raising the limit would then only
/// trade the refusal for the system's out-of-memory killer).
fn raise_help(need: u64, physical: Option<u64>) -> String {
    match physical {
        Some(total) if need > total => format!(
            "or run it on a machine with more memory: it needs more than this machine's {} \
             (--max-memory can raise the limit, but not the memory)",
            human(total)
        ),
        _ => format!(
            "or raise the limit with --max-memory (e.g. --max-memory {}G)",
            suggested_gigabytes(need)
        ),
    }
}

/// Refuses `scenario` if its estimate (see [`estimate`]) is above `limit`,
/// with a message that gives the estimate and how to proceed.
pub fn check(scenario: &Scenario, logged: bool, limit: u64) -> Result<(), String> {
    let need = estimate(scenario, logged);
    if need <= limit {
        return Ok(());
    }
    let unlogged = estimate(scenario, false);
    let records = if logged && unlogged <= limit {
        format!(
            "\n  help: without --requests-csv and --plot it needs {}: they keep a record of \
             every request of every strategy",
            human(unlogged)
        )
    } else {
        String::new()
    };
    Err(refusal(
        scenario,
        scenario,
        "this run",
        need,
        &format!("the limit of {}{records}", human(limit)),
        "",
    ))
}

/// Refuses a sweep whose largest run would not fit: in `max_memory` if
/// given (per run), else in half the machine's memory shared by the runs
/// that `threads` worker threads make at once.
pub fn check_sweep(
    scenario: &Scenario,
    threads: u64,
    max_memory: Option<u64>,
) -> Result<(), String> {
    let Some(sweep) = &scenario.sweep else {
        return check(scenario, false, max_memory.unwrap_or_else(default_limit));
    };
    let Some((point, need)) = sweep
        .points
        .iter()
        .map(|p| (p, estimate_one(&p.scenario, false)))
        .max_by_key(|&(_, need)| need)
    else {
        return Ok(());
    };
    let runs = (sweep.points.len() as u64).saturating_mul(u64::from(sweep.replications));
    let at_once = threads.clamp(1, runs.max(1));
    let limit = max_memory.unwrap_or_else(|| default_limit() / at_once);
    if need <= limit {
        return Ok(());
    }
    let setting = crate::scenario::point_setting(
        sweep.parameters.iter().map(|p| p.key.as_str()),
        &point.values,
    );
    let what = format!("the sweep's largest run (at {setting})");
    let (of, threads_help) = match max_memory {
        Some(_) => (format!("the limit of {}", human(limit)), ""),
        None => (
            format!(
                "{}, its share of half this machine's memory ({}) with {at_once} run{} at once",
                human(limit),
                human(default_limit()),
                if at_once == 1 { "" } else { "s" }
            ),
            if at_once > 1 {
                "fewer threads with -j, "
            } else {
                ""
            },
        ),
    };
    Err(refusal(
        scenario,
        &point.scenario,
        &what,
        need,
        &of,
        threads_help,
    ))
}

/// The message that refuses `what`, a run of `run` (a point of `file`'s
/// sweep, or `file` itself) that needs `need` bytes, above `limit`.
fn refusal(
    file: &Scenario,
    run: &Scenario,
    what: &str,
    need: u64,
    limit: &str,
    more_help: &str,
) -> String {
    // worker_pool starts `concurrency` workers, however few the requests:
    // more tasks than semaphore_in_task's one a request when above them.
    let workers =
        run.strategies.contains(&StrategyKind::WorkerPool) && run.concurrency > run.requests;
    let all_alive = run.strategies.contains(&StrategyKind::SemaphoreInTask) && !workers;
    let shorter = if trace_bytes(run) > 0 {
        "replay a shorter trace, "
    } else {
        ""
    };
    let trace = match trace_bytes(run) {
        0 => String::new(),
        bytes => format!(
            ", and {} for the {} latencies of its trace",
            human(bytes),
            bytes / BYTES_PER_REQUEST
        ),
    };
    let (alive, lower) = if all_alive {
        (
            ", all alive at once under semaphore_in_task".to_string(),
            "`requests`",
        )
    } else if workers {
        (
            format!(", and {} workers of worker_pool", run.concurrency),
            "`concurrency` (worker_pool starts that many workers, however few the requests)",
        )
    } else {
        (String::new(), "`requests`")
    };
    format!(
        "{}: {what} would need about {} of bpsim's own memory ({} requests{alive}{trace}), above \
         {limit}\n  help: lower {lower}, {shorter}{more_help}{}{}",
        file.path.display(),
        human(need),
        run.requests,
        if all_alive {
            "drop semaphore_in_task (it keeps every task alive at once), "
        } else {
            ""
        },
        raise_help(need, physical_memory())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_may_have_an_exponent() {
        // Found by a hostile-input pass: `1e9` was "unknown size unit e9".
        assert_eq!(parse_size("1e9"), Ok(1_000_000_000));
        assert_eq!(parse_size("2.5e3M"), Ok(2_500_000_000));
        assert_eq!(parse_size("1E+3K"), Ok(1_000_000));
        assert!(parse_size("1e").unwrap_err().contains("unknown size unit"));
        assert!(parse_size("5EB").unwrap_err().contains("unknown size unit"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M").unwrap(), 512_000_000);
        assert_eq!(parse_size("8G").unwrap(), 8_000_000_000);
        assert_eq!(parse_size("8gb").unwrap(), 8_000_000_000);
        assert_eq!(parse_size("1.5 GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("2K").unwrap(), 2000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1G").is_err());
        assert!(parse_size("3X").is_err());
    }

    #[test]
    fn a_size_is_printed_in_the_units_it_was_given_in() {
        // Found by a hostile-input pass: `--max-memory 800M` (read as MiB)
        // was reported as a limit of 839 MB.
        for (given, shown) in [
            ("800M", "800 MB"),
            ("800MB", "800 MB"),
            ("12.6G", "12.6 GB"),
            ("3G", "3.0 GB"),
            ("25K", "25 KB"),
        ] {
            assert_eq!(human(parse_size(given).unwrap()), shown, "{given}");
        }
        // A refusal's suggested limit holds what is needed, in those units.
        assert_eq!(suggested_gigabytes(20_100_000_000), 21);
        assert_eq!(suggested_gigabytes(3_000_000_000), 3);
        assert!(parse_size("3G").unwrap() >= 3_000_000_000);
    }

    #[test]
    fn small_sizes_are_shown_in_bytes() {
        assert_eq!(human(1), "1 B");
        assert_eq!(human(1500), "1500 B");
        assert_eq!(human(25_000), "25 KB");
        assert_eq!(human(9_999_000_000_000), "9999.0 GB");
        assert_eq!(human(192_000_100_000_000), "192 TB");
        assert_eq!(human(u64::MAX), "18446744 TB");
        assert_eq!(human(103_000_000), "103 MB");
    }

    #[test]
    fn a_billion_requests_is_refused_without_overflow() {
        let text = "requests = 1_000_000_000\nconcurrency = 500\n\
                    [latency]\ndistribution = \"constant\"\nvalue = 0.1\n";
        let s = Scenario::from_str(text, "big.toml").unwrap();
        let need = estimate(&s, true);
        assert!(need > 1_000_000_000 * BYTES_PER_LIVE_TASK, "{need}");
        let e = check(&s, true, 8 << 30).unwrap_err();
        assert!(e.contains("big.toml") && e.contains("--max-memory"), "{e}");
        // It runs semaphore_in_task (all four by default): dropping it helps.
        assert!(
            e.contains("lower `requests`, drop semaphore_in_task"),
            "{e}"
        );
        assert!(check(&s, true, u64::MAX).is_ok());
    }

    #[test]
    fn a_sweep_is_judged_by_its_largest_point_and_the_runs_made_at_once() {
        // Found by a hostile-input pass: -j 256 on a one-request sweep was
        // refused, blaming `requests`, and a swept `requests` of 1e9 was
        // reported as the base scenario's 1,000.
        let tiny = "requests = 1\nconcurrency = 1\nstrategies = [\"gated_spawn\"]\n\
                    [latency]\ndistribution = \"constant\"\nvalue = 0.1\n\
                    [sweep]\nconcurrency = [1, 2]\n";
        let s = Scenario::from_str(tiny, "tiny.toml").unwrap();
        assert!(check_sweep(&s, 256, None).is_ok() || default_limit() < 2 * BASE);
        let big = "requests = 1000\nconcurrency = 10\n[latency]\ndistribution = \"constant\"\n\
                   value = 0.1\n[sweep]\nrequests = [1000, 1_000_000_000]\n";
        let s = Scenario::from_str(big, "big.toml").unwrap();
        let e = check_sweep(&s, 2, Some(8 << 30)).unwrap_err();
        assert!(e.contains("(at requests = 1e9)"), "{e}");
        assert!(e.contains("1000000000 requests"), "{e}");
        assert!(!e.contains("-j"), "{e}");
        let e = check_sweep(&s, 2, None).unwrap_err();
        assert!(e.contains("with 2 runs at once") && e.contains("-j"), "{e}");
        // Without semaphore_in_task, it is not named.
        let gated = big.replace(
            "requests = 1000\n",
            "requests = 1000\nstrategies = [\"gated_spawn\"]\n",
        );
        let e = check_sweep(
            &Scenario::from_str(&gated, "big.toml").unwrap(),
            1,
            Some(1 << 30),
        )
        .unwrap_err();
        assert!(!e.contains("semaphore_in_task"), "{e}");
    }

    #[test]
    fn a_workload_is_counted_at_eight_bytes_a_latency() {
        let text = "requests = 300_000_000\nconcurrency = 500\n\
                    [latency]\ndistribution = \"constant\"\nvalue = 0.1\n";
        let s = Scenario::from_str(text, "w.toml").unwrap();
        let need = estimate_workload(&s);
        assert_eq!(need, BASE + 300_000_000 * 8);
        let e = check_workload(&s, 1 << 30).unwrap_err();
        assert!(e.contains("w.toml") && e.contains("2.5 GB"), "{e}");
        assert!(
            e.contains("--max-memory 3G") && !e.contains("semaphore"),
            "{e}"
        );
        assert!(check_workload(&s, need).is_ok());
    }

    #[test]
    fn a_scenario_with_a_sweep_is_judged_by_its_own_run_too() {
        // `bpsim run` on a sweep's scenario runs the scenario itself: a
        // sweep of small points must not let a huge one through.
        let text = "requests = 1_000_000_000\nconcurrency = 10\n[latency]\n\
                    distribution = \"constant\"\nvalue = 0.1\n[sweep]\nrequests = [10, 20]\n";
        let s = Scenario::from_str(text, "s.toml").unwrap();
        assert!(estimate(&s, false) > 1_000_000_000 * BYTES_PER_REQUEST);
        assert!(check(&s, false, 1 << 30).is_err());
    }

    #[test]
    fn a_trace_is_counted_whole_whatever_the_requests() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.txt"), "0.1\n".repeat(100_000)).unwrap();
        let file = dir.path().join("s.toml");
        std::fs::write(
            &file,
            "requests = 3\nconcurrency = 2\nstrategies = [\"batching\"]\n[latency]\n\
             distribution = \"trace\"\npath = \"t.txt\"\n",
        )
        .unwrap();
        let s = Scenario::load(&file).unwrap();
        assert_eq!(
            estimate(&s, false),
            estimate_runs(3, 2, &s.strategies, &s.params, false) + 800_000
        );
        let message = check(&s, false, BASE).unwrap_err();
        assert!(
            message.contains("and 800 KB for the 100000 latencies of its trace"),
            "{message}"
        );
        assert!(message.contains("replay a shorter trace"), "{message}");
    }

    #[test]
    fn strategies_run_at_once_while_their_live_tasks_fit() {
        // One at a time: 64 MiB + 100,000 x 8 B + 100,000 live tasks x 192
        // B (semaphore_in_task). Each strategy beside it adds its own 50,000.
        let text = "requests = 100_000\nconcurrency = 50_000\n\
                    strategies = [\"gated_spawn\", \"semaphore_in_task\", \"batching\"]\n\
                    [latency]\ndistribution = \"constant\"\nvalue = 0.1\n";
        let s = Scenario::from_str(text, "s.toml").unwrap();
        let one = estimate(&s, false);
        assert_eq!(one, BASE + 800_000 + 100_000 * BYTES_PER_LIVE_TASK);
        let beside = 50_000 * BYTES_PER_LIVE_TASK;
        let at_once = |limit, wanted| strategies_at_once(&s, false, limit, wanted);
        assert_eq!(at_once(u64::MAX, 8), 3, "never more than the strategies");
        assert_eq!(at_once(u64::MAX, 2), 2);
        assert_eq!(at_once(u64::MAX, 0), 1);
        assert_eq!(at_once(one + 2 * beside, 3), 3);
        assert_eq!(at_once(one + 2 * beside - 1, 3), 2);
        assert_eq!(at_once(one + beside - 1, 3), 1);
        assert_eq!(at_once(one - 1, 3), 1, "check refuses it");
        // Logged records are kept whatever runs at once.
        assert_eq!(
            strategies_at_once(&s, true, estimate(&s, true) + beside, 3),
            2
        );
    }

    #[test]
    fn worker_pool_is_counted_by_its_workers_however_few_the_requests() {
        // Found by a review: 100 requests at concurrency 10 million under
        // worker_pool were estimated at 100 live tasks, ran past
        // --max-memory 200M, and aborted on a failed allocation at 1e12.
        let text = "requests = 100\nconcurrency = 10_000_000\nstrategies = [\"worker_pool\"]\n\
                    [latency]\ndistribution = \"constant\"\nvalue = 0.1\n";
        let s = Scenario::from_str(text, "pool.toml").unwrap();
        assert_eq!(
            estimate(&s, false),
            BASE + 800 + 10_000_000 * BYTES_PER_LIVE_TASK
        );
        let e = check(&s, false, 200_000_000).unwrap_err();
        assert!(
            e.contains("(100 requests, and 10000000 workers of worker_pool)"),
            "{e}"
        );
        assert!(e.contains("help: lower `concurrency` (worker_pool"), "{e}");
        // Beside semaphore_in_task, the workers still decide the message.
        let both = text.replace(
            "[\"worker_pool\"]",
            "[\"worker_pool\", \"semaphore_in_task\"]",
        );
        let e = check(
            &Scenario::from_str(&both, "pool.toml").unwrap(),
            false,
            200_000_000,
        )
        .unwrap_err();
        assert!(e.contains("help: lower `concurrency`"), "{e}");
        assert!(!e.contains("drop semaphore_in_task"), "{e}");
        // At concurrency 1e12 the estimate saturates rather than wraps.
        let huge = text.replace("10_000_000", "1_000_000_000_000");
        let huge = Scenario::from_str(&huge, "pool.toml").unwrap();
        assert!(check(&huge, false, 1 << 40).is_err());
    }

    #[test]
    fn adaptive_limit_is_counted_up_to_its_largest_limit() {
        let base = "requests = 100_000\nconcurrency = 100\nstrategies = [\"adaptive_limit\"]\n\
                    [latency]\ndistribution = \"constant\"\nvalue = 0.1\n";
        let live = |text: &str| {
            let s = Scenario::from_str(text, "a.toml").unwrap();
            (estimate(&s, false) - BASE - 800_000) / BYTES_PER_LIVE_TASK
        };
        assert_eq!(live(base), 400, "4 x concurrency by default");
        let set = format!("{base}[adaptive_limit]\nmax_limit = 2500.5\n");
        assert_eq!(live(&set), 2501);
        let above = format!("{base}[adaptive_limit]\nmax_limit = 1e30\n");
        assert_eq!(live(&above), 100_000, "never more than the requests");
    }

    #[test]
    fn a_limit_above_the_machine_is_not_suggested() {
        let gb = 1_000_000_000;
        assert!(raise_help(3 * gb, Some(25 * gb)).contains("--max-memory 3G"));
        assert!(raise_help(3 * gb, None).contains("--max-memory 3G"));
        let e = raise_help(201 * gb, Some(25 * gb));
        assert!(!e.contains("--max-memory 201G"), "{e}");
        assert!(
            e.contains("a machine with more memory: it needs more than this machine's 25.0 GB"),
            "{e}"
        );
    }

    #[test]
    fn records_kept_for_every_request_are_counted_and_named() {
        let text = "requests = 100_000_000\nconcurrency = 500\n\
                    strategies = [\"batching\", \"gated_spawn\"]\n\
                    [latency]\ndistribution = \"constant\"\nvalue = 0.1\n";
        let s = Scenario::from_str(text, "big.toml").unwrap();
        let (logged, summed) = (estimate(&s, true), estimate(&s, false));
        assert_eq!(logged - summed, 2 * 100_000_000 * BYTES_PER_RECORD);
        let e = check(&s, true, summed).unwrap_err();
        assert!(e.contains("without --requests-csv and --plot"), "{e}");
        assert!(check(&s, false, summed).is_ok());
        let e = check(&s, true, summed - 1).unwrap_err();
        assert!(!e.contains("--requests-csv"), "{e}");
        // Not run, so not suggested for dropping.
        assert!(!e.contains("semaphore_in_task"), "{e}");
        assert!(
            e.contains("help: lower `requests`, or raise the limit with --max-memory"),
            "{e}"
        );
    }
}
