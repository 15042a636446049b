//! temporary
use bpsim::asyncio::Config;
use bpsim::strategy::{StrategyKind, Workload, simulate};
fn main() {
    let n: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(100_000);
    let c: u64 = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(500);
    let mut x: u64 = 1;
    let lat: Vec<f64> = (0..n).map(|_| { x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); 0.1 + 0.1 * ((x >> 11) as f64 / (1u64 << 53) as f64) }).collect();
    let w = Workload::new(lat.into(), c);
    let cfg = Config::default();
    for k in StrategyKind::ALL {
        let t = std::time::Instant::now();
        let o = simulate(k, &w, &cfg).unwrap();
        println!("{:22} {:?} {} reqs  {:?}", k.name(), o.report, o.requests.len(), t.elapsed());
    }
}
