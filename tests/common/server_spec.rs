//! The base `[server]` that the conformance suite (`tests/conformance.rs`)
//! and the integration tests' server module (`tests/integration/server.rs`)
//! change case by case, written out once.

use bpsim::server::{Backoff, BackoffKind, Discipline, Jitter, ServerSpec};

/// A `[server]` with unlimited capacity, FIFO, no errors, no timeout, no
/// retries and no backoff: the base the cases change (`..SPEC`).
pub(crate) const SPEC: ServerSpec = ServerSpec {
    capacity: None,
    discipline: Discipline::Fifo,
    error_rate: 0.0,
    timeout: None,
    retries: 0,
    backoff: Backoff {
        kind: BackoffKind::Fixed,
        base: 0.0,
        max: 0.0,
        jitter: Jitter::None,
    },
};
