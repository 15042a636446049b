//! How fast this machine's kernel hands out fresh memory: maps `MB`
//! megabytes (default 1,100, what 10M `semaphore_in_task` touches), writes
//! one byte per 4 KiB page, and prints the time, `runs` times (default 5):
//! `cargo run --release --example page_faults -- [MB] [runs]`.
//!
//! No bpsim code runs: this is the floor under the `sys ms` column of
//! `bpsim bench`, the kernel's part of a run that touches that much.

fn main() {
    let mut args = std::env::args().skip(1);
    let mb: usize = args.next().map_or(1_100, |s| s.parse().expect("MB"));
    let runs: u32 = args.next().map_or(5, |s| s.parse().expect("runs"));
    let bytes = mb << 20;
    for _ in 0..runs {
        // Zeroed and this large, the allocation is a fresh mapping: no page
        // is backed until it is written.
        let mut buffer = vec![0u8; bytes];
        let t = std::time::Instant::now();
        for page in buffer.chunks_mut(4096) {
            page[0] = 1;
        }
        let elapsed = t.elapsed().as_secs_f64();
        std::hint::black_box(&buffer);
        println!(
            "{mb} MB of fresh pages: {:.3} s ({:.2} GB/s)",
            elapsed,
            bytes as f64 / elapsed / 1e9
        );
    }
}
