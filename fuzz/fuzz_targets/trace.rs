#![no_main]
//! Any bytes given to the trace loader (text or gzip) give a trace of valid
//! latencies or an error, never a panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(trace) = bpsim::latency::Trace::from_bytes("fuzz.trace", data) {
        assert!(trace.values().iter().all(|v| v.is_finite() && *v >= 0.0));
    }
});
