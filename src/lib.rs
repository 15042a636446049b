//! # bpsim
//!
//! A deterministic discrete-event simulator of Python asyncio backpressure
//! strategies. It replays a program that fans out N requests under a
//! concurrency limit on a model of CPython's event loop in virtual time, and
//! predicts the program's duration, loop iterations, live tasks and
//! `tracemalloc` peak without sleeping.
//!
//! * [`asyncio`]: the engine, CPython's loop, tasks, semaphores and task
//!   groups in virtual time.
//! * [`strategy`]: the backpressure strategies, one file each, written against
//!   the engine like their Python originals.
//! * [`memory`]: the simulated allocation ledger and CPython's container rules.

pub mod asyncio;
pub mod memory;
pub mod profiles;
pub mod strategy;
