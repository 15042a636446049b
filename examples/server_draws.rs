//! Writes the `[server]` failure draws of `N` requests as
//! `conformance/harness.py --draws FILE` reads them (line `i`: request
//! `i`'s error coin and backoff jitter for each of its `RETRIES + 1`
//! attempts), as `tests/common/harness.rs` writes them for the conformance
//! test. Used by `conformance/difftest.py`.
//!
//! Usage: `cargo run --release --example server_draws -- SEED N RETRIES ERROR_RATE OUT`

use bpsim::server::{Backoff, BackoffKind, Discipline, Jitter, ServerSpec};

#[allow(dead_code)]
#[path = "../tests/common/harness.rs"]
mod harness;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: server_draws SEED N RETRIES ERROR_RATE OUT");
        std::process::exit(2);
    }
    let number = |i: usize| -> f64 {
        args[i].parse().unwrap_or_else(|_| {
            eprintln!("server_draws: argument {i} is not a number: {:?}", args[i]);
            std::process::exit(2)
        })
    };
    let seed = args[1].parse::<u64>().unwrap_or_else(|_| {
        eprintln!("server_draws: SEED must be a whole number");
        std::process::exit(2)
    });
    let (n, retries, error_rate) = (number(2) as u64, number(3) as u32, number(4));
    // Only the error rate and the retries decide the draws.
    let spec = ServerSpec {
        capacity: None,
        discipline: Discipline::Fifo,
        error_rate,
        timeout: None,
        retries,
        backoff: Backoff {
            kind: BackoffKind::Fixed,
            base: 0.0,
            max: 0.0,
            jitter: Jitter::None,
        },
    };
    harness::write_draws(std::path::Path::new(&args[5]), &spec, seed, n as usize);
}
