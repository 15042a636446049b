//! # bpsim
//!
//! A deterministic discrete-event simulator of Python asyncio backpressure
//! strategies. It replays a program that fans out N requests under a
//! concurrency limit on a model of CPython's event loop in virtual time, and
//! predicts the program's duration, loop iterations, live tasks and
//! `tracemalloc` peak without sleeping.
//!
//! The pipeline, one module per stage:
//!
//! * [`scenario`]: a TOML scenario file, validated, with located errors;
//! * [`latency`]: the workload, one seeded ChaCha stream per request, or a
//!   recorded trace;
//! * [`asyncio`]: the engine, CPython's loop, tasks, semaphores and task
//!   groups in virtual time;
//! * [`strategy`]: the backpressure strategies, one file each, written against
//!   the engine like their Python originals;
//! * [`memory`]: the simulated allocation ledger and CPython's container rules,
//!   sized by per-version [`profiles`];
//! * [`experiment`] runs a scenario; [`metrics`] summarises each strategy;
//!   [`report`] renders tables, CSV, JSON and Markdown; [`output`] writes files
//!   atomically; [`cli`] is the command line.

pub mod asyncio;
pub mod bench;
pub mod calibrate;
pub mod cli;
pub mod experiment;
pub mod guard;
pub mod latency;
pub mod memory;
pub mod metrics;
pub mod output;
pub mod plot;
pub mod profiles;
pub mod report;
pub mod scenario;
pub mod server;
pub mod strategy;
pub mod sweep;
#[cfg(test)]
pub(crate) mod xorshift;
