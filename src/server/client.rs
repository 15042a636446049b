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
/// [`Obj::ServiceError`]) while its `except` clause runs; and the failed
/// attempt's future, which the `fut` local keeps through the backoff until
/// the next attempt's `loop.create_future()` replaces it.
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
            if attempt < spec.retries {
                // The engine credited the attempt's future when the task
                // resumed; `fut` keeps it.
                asyncio::keep(Obj::Future);
                kept_future = true;
            }
            let exception = if status == Status::Timeout {
                Obj::TimeoutError
            } else {
                Obj::ServiceError
            };
            if asyncio::keep_sized(exception) {
                asyncio::release(exception);
            }
        }
        if status == Status::Ok || attempt == spec.retries {
            break;
        }
        asyncio::sleep(spec.backoff.delay(attempt, jitter)).await;
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
