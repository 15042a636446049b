//! Prints, for a scenario, every strategy's duration and the CPU time the
//! cost model charged (`busy`), to compare with CPython's own CPU time on a
//! virtual clock (`bench/real/cpu_check.py`).

use bpsim::experiment;
use bpsim::scenario::Scenario;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .expect("usage: cpu_busy SCENARIO.toml");
    let scenario = Scenario::load(&path)?;
    // `--no-rounding`: jump exactly to each deadline, as CPython does on a
    // virtual clock, so that loop iterations match it.
    let mut config = experiment::config_for(&scenario);
    if std::env::args().any(|a| a == "--no-rounding") {
        config.cpu.select_rounding = false;
        config.cpu.wake_slack = 0.0;
    }
    let latencies = experiment::draw(&scenario)?;
    let (_, outcomes) = experiment::run_with(
        &scenario,
        latencies,
        &config,
        experiment::Requests::Summed,
        1,
    )?;
    for o in outcomes {
        println!(
            "{:22} duration {:.3} s  busy {:.3} s  iterations {}",
            o.strategy.name(),
            o.report.duration_s,
            o.report.busy_s,
            o.report.loop_iterations
        );
    }
    Ok(())
}
