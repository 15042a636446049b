//! The `bpsim` command.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use bpsim::cli::{self, Command};
use bpsim::plot::charts;
use bpsim::report::{self, Format};
use bpsim::scenario::Scenario;
use bpsim::strategy::StrategyKind;
use bpsim::{bench, calibrate, experiment, guard, latency, output, sweep};

/// Exit status of a sweep stopped by Ctrl-C or SIGTERM (128 + SIGINT).
const INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args_os()) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: cli::Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Run {
            scenario,
            format,
            requests_csv,
            output_dir,
            no_write,
            max_memory,
            plot,
            chart,
        } => {
            let scenario = Scenario::load(&scenario)?;
            guard::check(&scenario, max_memory.unwrap_or_else(guard::default_limit))
                .map_err(anyhow::Error::msg)?;
            let (report, outcomes) = if plot {
                experiment::run_traced(&scenario)?
            } else {
                experiment::run(&scenario)?
            };
            if plot {
                let dir = output_dir.join(&scenario.name);
                for path in charts::run_charts(&report, &outcomes, &dir, &chart.canvas())? {
                    eprintln!("wrote {}", path.display());
                }
            }
            if !no_write {
                let dir = output_dir.join(&scenario.name);
                output::write_atomic(
                    &dir.join("summary.csv"),
                    report.render(Format::Csv).as_bytes(),
                )?;
                output::write_atomic(
                    &dir.join("summary.json"),
                    report.render(Format::Json).as_bytes(),
                )?;
            }
            if let Some(path) = requests_csv {
                output::write_atomic(&path, report::requests_csv(&outcomes).as_bytes())?;
            }
            print!("{}", report.render(format));
            Ok(ExitCode::SUCCESS)
        }
        Command::Sweep {
            scenario,
            output_dir,
            jobs,
            resume,
            fresh,
            no_progress,
            stop_after,
            max_memory,
            plot,
            chart,
        } => {
            let scenario = Scenario::load(&scenario)?;
            let threads = jobs.map_or_else(
                || std::thread::available_parallelism().map_or(1, |n| n.get()),
                usize::from,
            ) as u64;
            let limit = max_memory.unwrap_or_else(|| guard::default_limit() / threads.max(1));
            guard::check(&scenario, limit).map_err(anyhow::Error::msg)?;
            static INTERRUPT: AtomicBool = AtomicBool::new(false);
            // If no handler can be installed, Ctrl-C simply ends the process;
            // the journal still holds every finished run.
            let _ = ctrlc::set_handler(|| INTERRUPT.store(true, Ordering::SeqCst));
            let options = sweep::Options {
                output_dir: output_dir.clone(),
                jobs: jobs.map(usize::from),
                resume,
                fresh,
                progress: !no_progress,
                stop_after,
            };
            if let Some(s) = &scenario.sweep {
                eprintln!("sweep {}: {}", scenario.name, sweep::describe(s));
            }
            match sweep::run(&scenario, &options, &INTERRUPT)? {
                sweep::Finished::Complete { rows, csv_path, .. } => {
                    print!("{}", report::sweep_table(&scenario, &rows));
                    eprintln!("wrote {}", csv_path.display());
                    if plot {
                        let dir = csv_path.parent().unwrap_or(&output_dir);
                        for path in charts::sweep_charts(&scenario, &rows, dir, &chart.canvas())? {
                            eprintln!("wrote {}", path.display());
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                sweep::Finished::Interrupted {
                    done,
                    total,
                    journal,
                } => {
                    eprintln!(
                        "interrupted: {done} of {total} runs finished and kept in '{}'; \
                         no CSV written\n  help: run the same command with --resume to finish",
                        journal.display()
                    );
                    Ok(ExitCode::from(INTERRUPTED))
                }
            }
        }
        Command::Plot {
            scenario,
            output_dir,
            chart,
        } => {
            let path = scenario;
            let scenario = Scenario::load(&path)?;
            guard::check(&scenario, guard::default_limit()).map_err(anyhow::Error::msg)?;
            let dir = output_dir.join(&scenario.name);
            let written = if scenario.sweep.is_some() {
                static INTERRUPT: AtomicBool = AtomicBool::new(false);
                let _ = ctrlc::set_handler(|| INTERRUPT.store(true, Ordering::SeqCst));
                let (_, journal) = sweep::paths(&scenario, &output_dir);
                let options = sweep::Options {
                    output_dir: output_dir.clone(),
                    resume: journal.exists(),
                    progress: true,
                    ..Default::default()
                };
                match sweep::run(&scenario, &options, &INTERRUPT)? {
                    sweep::Finished::Complete { rows, .. } => {
                        charts::sweep_charts(&scenario, &rows, &dir, &chart.canvas())?
                    }
                    sweep::Finished::Interrupted { journal, .. } => {
                        eprintln!(
                            "interrupted; finished runs kept in '{}': run the command again to finish",
                            journal.display()
                        );
                        return Ok(ExitCode::from(INTERRUPTED));
                    }
                }
            } else {
                let (report, outcomes) = experiment::run_traced(&scenario)?;
                charts::run_charts(&report, &outcomes, &dir, &chart.canvas())?
            };
            for path in written {
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            requests,
            concurrency,
            limits,
            repeat,
        } => {
            if concurrency == 0 || limits.contains(&0) {
                anyhow::bail!("concurrency limits must be at least 1");
            }
            let text = bench::run(
                &bench::Options {
                    sizes: requests,
                    concurrency,
                    limits,
                    repeat,
                },
                |what| eprintln!("  timing {what}"),
            )?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Calibrate {
            python,
            tracemalloc,
            repeat,
            output,
        } => {
            eprintln!(
                "calibrating {} (memory, then CPU{}); this takes a minute",
                python.display(),
                if tracemalloc { " with tracemalloc" } else { "" }
            );
            let text = calibrate::run(&calibrate::Options {
                python,
                tracemalloc,
                repeat,
                output: output.clone(),
            })?;
            print!("{text}");
            eprintln!("wrote {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Workload { scenario, output } => {
            let scenario = Scenario::load(&scenario)?;
            let values = latency::workload(&scenario.latency, scenario.seed, scenario.requests)
                .with_context(|| format!("drawing the workload of '{}'", scenario.name))?;
            let mut text = String::with_capacity(values.len() * 20);
            for v in values {
                text.push_str(&v.to_string());
                text.push('\n');
            }
            output::write_atomic(&output, text.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::List => {
            println!("strategies:");
            for k in StrategyKind::ALL {
                println!("  {:<22} {}", k.name(), k.summary());
            }
            println!("\nlatency distributions:");
            for (name, summary) in bpsim::scenario::distributions() {
                println!("  {name:<22} {summary}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
