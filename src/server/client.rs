//! The client side of a request to the service: timeout, retries, backoff.

use std::future::Future;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::ServerSpec;
use crate::asyncio::{self, IoOutcome};
use crate::memory::Obj;

/// How a request ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// It succeeded (perhaps after retries).
    #[default]
    Ok,
    /// Its last attempt failed with an error.
    Error,
    /// Its last attempt timed out.
    Timeout,
}

/// What a request's attempts came to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attempts {
    /// The final status.
    pub status: Status,
    /// Attempts made (1 + retries; retries are at most 1,000).
    pub attempts: u16,
    /// Attempts that failed with an error.
    pub errors: u16,
    /// Attempts that timed out.
    pub timeouts: u16,
}

/// Where in request `i`'s stream the failure draws start: far past any
/// latency draw (2^40 words in).
const FAILURE_WORD_POS: u128 = 1 << 40;

/// Two uniform draws per attempt: the error coin and the backoff jitter.
#[derive(Debug)]
struct Draws {
    rng: ChaCha8Rng,
}

impl Draws {
    fn new(seed: u64, request: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(request);
        rng.set_word_pos(FAILURE_WORD_POS);
        Draws { rng }
    }

    fn uniform(&mut self) -> f64 {
        // 53 random bits, as rand's StandardUniform for f64.
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The random draws of one request's attempts, in attempt order: what
/// [`call`] uses, and what `tests/conformance.rs` hands to the CPython
/// harness so that both sides fail the same attempts.
#[derive(Debug)]
pub struct AttemptDraws {
    /// `None` when nothing is drawn (no errors and no retries).
    draws: Option<Draws>,
}

/// The draws of request `i`'s attempts under `spec` with run seed `seed`:
/// per attempt, the error coin (the attempt fails if it is below
/// `error_rate`) and the backoff jitter `u`, each uniform in [0, 1), from
/// request `i`'s own stream. Without errors or retries nothing is drawn and
/// every attempt gets `(1.0, 0.0)`. An endless iterator: take
/// `spec.retries + 1`.
pub fn attempt_draws(spec: &ServerSpec, seed: u64, i: u64) -> AttemptDraws {
    AttemptDraws {
        draws: (spec.error_rate > 0.0 || spec.retries > 0).then(|| Draws::new(seed, i)),
    }
}

impl AttemptDraws {
    /// The next attempt's `(coin, jitter)`.
    fn attempt(&mut self) -> (f64, f64) {
        match self.draws.as_mut() {
            Some(d) => (d.uniform(), d.uniform()),
            None => (1.0, 0.0),
        }
    }
}

impl Iterator for AttemptDraws {
    type Item = (f64, f64);

    fn next(&mut self) -> Option<(f64, f64)> {
        Some(self.attempt())
    }
}

/// Run request `i` against the service: `work` seconds of service per
/// attempt, with the spec's timeout, failures and retries.
///
/// Memory follows the harness's `server_call` (`conformance/server_trace.py`),
/// measured by `profiles/measure_server.py`: the coroutine
/// ([`Obj::ClientCoroutine`]) from its first step until it returns; what
/// each attempt's `await fut` allocates ([`Obj::ClientAwait`]) while it
/// waits; its
/// frame object ([`Obj::ClientFrame`]) from the first failed attempt until
/// it returns; each failure's exceptions ([`Obj::TimeoutError`],
/// [`Obj::ServiceError`], with [`Obj::TimeoutRaise`] and the expired
/// Timeout's first-instance bytes: [`asyncio::timeout_error_clause`])
/// while its `except` clause runs; and the failed attempt's future, which
/// the `fut` local keeps through the `except` clause and the backoff until
/// the next attempt's `loop.create_future()` replaces it or the coroutine
/// returns (until 2026-12-07 the last attempt's was credited when its task
/// resumed, 144 B short in its `except` clause on 3.12).
pub async fn call(spec: ServerSpec, seed: u64, i: u64, work: f64) -> Attempts {
    // The client's coroutine, from its first step until it returns.
    asyncio::keep(Obj::ClientCoroutine);
    let mut draws = attempt_draws(&spec, seed, i);
    let mut out = Attempts::default();
    // The frame object exists (an exception has passed through the frame).
    let mut frame = false;
    // The last failed attempt's future, still bound to `fut`.
    let mut kept_future = false;
    for attempt in 0..=spec.retries {
        let (coin, jitter) = draws.attempt();
        out.attempts += 1;
        let outcome = request_replacing(work, spec.timeout, &mut kept_future).await;
        let status = match outcome {
            IoOutcome::TimedOut => {
                out.timeouts += 1;
                Status::Timeout
            }
            IoOutcome::Responded if coin < spec.error_rate => {
                out.errors += 1;
                Status::Error
            }
            IoOutcome::Responded => Status::Ok,
        };
        out.status = status;
        if status != Status::Ok {
            // The exception's traceback materialises the frame object (the
            // first time), then the `except` clause holds the exceptions.
            if !frame {
                frame = asyncio::keep_sized(Obj::ClientFrame);
            }
            // The engine credited the attempt's future when the task
            // resumed; `fut` keeps it through the `except` clause, and
            // through the backoff until the next attempt replaces it, or
            // until the coroutine returns.
            asyncio::keep(Obj::Future);
            kept_future = true;
            if status == Status::Timeout {
                asyncio::timeout_error_clause();
            } else if asyncio::keep_sized(Obj::ServiceError) {
                asyncio::release(Obj::ServiceError);
            }
        }
        if status == Status::Ok || attempt == spec.retries {
            break;
        }
        asyncio::sleep(spec.backoff.delay(attempt, jitter)).await;
    }
    if kept_future {
        asyncio::release(Obj::Future);
    }
    if frame {
        asyncio::release(Obj::ClientFrame);
    }
    asyncio::release(Obj::ClientCoroutine);
    out
}

/// [`asyncio::request`], crediting the kept future of the previous attempt
/// (if `kept`) once the new attempt has created its own, as
/// `fut = loop.create_future()` frees the old one; and charging
/// [`Obj::ClientAwait`] while it waits.
async fn request_replacing(work: f64, timeout: Option<f64>, kept: &mut bool) -> IoOutcome {
    let mut request = std::pin::pin!(asyncio::request(work, timeout));
    let (mut first, mut waiting) = (true, false);
    std::future::poll_fn(|cx| {
        let poll = request.as_mut().poll(cx);
        if std::mem::take(&mut first) {
            if std::mem::take(kept) {
                asyncio::release(Obj::Future);
            }
            waiting = asyncio::keep_sized(Obj::ClientAwait);
        }
        if poll.is_ready() && std::mem::take(&mut waiting) {
            asyncio::release(Obj::ClientAwait);
        }
        poll
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::Profile;
    use crate::server::{Backoff, BackoffKind, Discipline, Jitter};

    /// The 3.12 profile with every size 0 (and no first Timeouts): only
    /// the containers' storage is charged.
    fn zero_profile() -> Profile {
        let text = crate::profiles::text("3.12").unwrap();
        let mut memory = false;
        let zeroed: String = text
            .lines()
            .map(|line| {
                if line.starts_with('[') {
                    memory = line == "[memory]";
                }
                match line.split_once(" = ") {
                    Some((key, value)) if memory && value.parse::<i64>().is_ok() => {
                        format!("{key} = 0\n")
                    }
                    Some((key, value)) if memory && value.starts_with('[') => {
                        format!("{key} = []\n")
                    }
                    _ => format!("{line}\n"),
                }
            })
            .collect();
        crate::memory::profile::parse(&zeroed).unwrap().memory
    }

    /// One attempt per call, under a 1 s timeout, `calls` calls in a row
    /// from the main task, each needing `work` seconds of service: the
    /// run's peak and final memory.
    fn run_calls(profile: Profile, calls: u64, work: f64) -> (i64, i64) {
        let spec = ServerSpec {
            capacity: None,
            discipline: Discipline::Fifo,
            error_rate: 0.0,
            timeout: Some(1.0),
            retries: 0,
            backoff: Backoff {
                kind: BackoffKind::Fixed,
                base: 0.1,
                max: 0.1,
                jitter: Jitter::None,
            },
        };
        let config = asyncio::Config {
            profile,
            station: Some(spec.station()),
            ..asyncio::Config::default()
        };
        let report = asyncio::run(&config, async move {
            for i in 0..calls {
                call(spec, 1, i, work).await;
            }
        })
        .unwrap();
        (report.peak_memory_bytes, report.final_memory_bytes)
    }

    /// The process's first Timeouts are larger (`timeout_first`), the
    /// exit of `async with asyncio.timeout()` peaks above the attempt's
    /// objects (`timeout_exit` when the response comes first,
    /// `timeout_raise` with `timeout_error` when it expires), and the
    /// last attempt's future is held through its `except` clause: each
    /// charged only where CPython holds it, and all credited by the end.
    /// Each check compares a profile with the key against one without it
    /// whose large sizes put the peak at the same moment.
    #[test]
    fn timeouts_charge_first_instances_exit_peaks_and_the_future_in_the_except_clause() {
        let zero = zero_profile();
        let with = |f: &dyn Fn(&mut Profile)| {
            let mut p = zero.clone();
            f(&mut p);
            p
        };
        for (calls, work) in [(1, 0.5), (3, 0.5), (1, 2.0), (3, 2.0)] {
            let expires = work > 1.0;
            let checks: [(&str, Profile, Profile, i64); 5] = [
                // Each call's Timeout is freed before the next is made (a
                // first one of 1,000 in the base keeps its peak at the
                // first call too, where the timer heap is smaller).
                (
                    "timeout_first",
                    with(&|p| {
                        p.timeout = 10_000;
                        p.timeout_first = vec![1_000];
                    }),
                    with(&|p| {
                        p.timeout = 10_000;
                        p.timeout_first = vec![6_000, 2_000];
                    }),
                    5_000,
                ),
                // Only when the response came first.
                (
                    "timeout_exit",
                    with(&|p| p.client_coroutine = 10_000),
                    with(&|p| {
                        p.client_coroutine = 10_000;
                        p.timeout_exit = 3_000;
                    }),
                    if expires { 0 } else { 3_000 },
                ),
                // On top of the except clause.
                (
                    "timeout_raise",
                    with(&|p| p.timeout_error = 10_000),
                    with(&|p| {
                        p.timeout_error = 10_000;
                        p.timeout_raise = 3_000;
                    }),
                    if expires { 3_000 } else { 0 },
                ),
                // An expired Timeout's first-instance bytes, until its
                // except clause ends.
                (
                    "timeout_first in the except clause",
                    with(&|p| {
                        p.timeout = 10_000;
                        p.timeout_error = 30_000;
                        p.timeout_first = vec![1_000];
                    }),
                    with(&|p| {
                        p.timeout = 10_000;
                        p.timeout_error = 30_000;
                        p.timeout_first = vec![6_000];
                    }),
                    5_000,
                ),
                // The future, while the attempt waits and, expired, in the
                // except clause (where the peak would be 10,000 lower
                // without it).
                (
                    "future",
                    with(&|p| p.timeout_error = 10_000),
                    with(&|p| {
                        p.timeout_error = 10_000;
                        p.future = 20_000;
                    }),
                    20_000,
                ),
            ];
            for (what, base, variant, want) in checks {
                let (base_peak, base_end) = run_calls(base, calls, work);
                let (peak, end) = run_calls(variant, calls, work);
                let case = format!("{what}: {calls} call(s) of {work} s");
                assert_eq!(peak - base_peak, want, "{case}");
                assert_eq!(end, base_end, "{case}: final memory");
            }
        }
    }

    #[test]
    fn draws_are_per_request_and_reproducible() {
        let a: Vec<f64> = {
            let mut d = Draws::new(7, 3);
            (0..4).map(|_| d.uniform()).collect()
        };
        let b: Vec<f64> = {
            let mut d = Draws::new(7, 3);
            (0..4).map(|_| d.uniform()).collect()
        };
        let c: Vec<f64> = {
            let mut d = Draws::new(7, 4);
            (0..4).map(|_| d.uniform()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|u| (0.0..1.0).contains(u)));
    }
}
