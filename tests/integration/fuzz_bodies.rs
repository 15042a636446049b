//! The fuzz targets' bodies (fuzz/fuzz_targets) on stable: the seed corpus,
//! mutations of it, and random bytes, through the scenario and trace
//! loaders. Nothing panics; every scenario error is located; every trace
//! holds valid latencies.

use std::path::PathBuf;

use bpsim::latency::Trace;
use bpsim::scenario::Scenario;

fn corpus(kind: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// xorshift64*: deterministic inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Inputs: each seed, then mutations (byte flips, insertions of TOML
/// punctuation, truncations, splices) and pure random bytes.
fn inputs(seeds: &[Vec<u8>], rng: &mut Rng, count: usize) -> Vec<Vec<u8>> {
    const PUNCT: &[u8] = b"[]{}=\",.#\n-+e0123456789_ \0\xff";
    let mut out: Vec<Vec<u8>> = seeds.to_vec();
    for i in 0..count {
        let mut v = seeds[rng.below(seeds.len())].clone();
        match i % 5 {
            0 => {
                for _ in 0..1 + rng.below(4) {
                    if !v.is_empty() {
                        let at = rng.below(v.len());
                        v[at] = PUNCT[rng.below(PUNCT.len())];
                    }
                }
            }
            1 => {
                let at = rng.below(v.len() + 1);
                v.insert(at, PUNCT[rng.below(PUNCT.len())]);
            }
            2 => v.truncate(rng.below(v.len() + 1)),
            3 => {
                let other = &seeds[rng.below(seeds.len())];
                let cut = rng.below(other.len() + 1);
                let at = rng.below(v.len() + 1);
                v.splice(at..at, other[..cut].iter().copied());
            }
            _ => v = (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
        }
        out.push(v);
    }
    out
}

#[test]
fn scenario_loader_never_panics_and_locates_every_error() {
    let mut rng = Rng(0x5eed_0001);
    for data in inputs(&corpus("scenario"), &mut rng, 3000) {
        if let Ok(text) = std::str::from_utf8(&data)
            && let Err(e) = Scenario::from_str(text, "fuzz.toml")
        {
            assert!(e.position.is_some(), "unlocated error: {e}\n---\n{text}");
        }
    }
}

#[test]
fn trace_loader_never_panics_and_keeps_only_valid_latencies() {
    let mut rng = Rng(0x5eed_0002);
    for data in inputs(&corpus("trace"), &mut rng, 3000) {
        if let Ok(trace) = Trace::from_bytes("fuzz.trace", &data) {
            assert!(trace.values().iter().all(|v| v.is_finite() && *v >= 0.0));
            assert!(!trace.is_empty());
        }
    }
}
