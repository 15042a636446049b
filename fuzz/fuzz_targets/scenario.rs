#![no_main]
//! Any text given to the scenario loader gives a scenario or a located
//! error, never a panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match bpsim::scenario::Scenario::from_str(text, "fuzz.toml") {
            Ok(_) => {}
            Err(e) => assert!(e.position.is_some(), "unlocated error: {e}"),
        }
    }
});
