//! The service on the other end: a station with `capacity` servers that
//! works on the requests it receives, FIFO or by processor sharing.
//!
//! The station is outside the Python process: the loop sees its responses
//! as I/O events, ready when `select` runs at or after their time. It knows
//! nothing of client time-outs: a request the client abandoned is still
//! served to completion (a server does not learn that a client gave up until
//! it writes the response), which is what makes retries after time-outs
//! pile load on a saturated service.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// How the station shares its capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Discipline {
    /// At most `capacity` requests in service, the others wait in arrival
    /// order (an M/G/c queue under Poisson arrivals).
    Fifo,
    /// All requests in service at once, sharing `capacity` units of work
    /// per second: each progresses at `min(1, capacity / n)` (egalitarian
    /// processor sharing, like a CPU-bound service).
    ProcessorSharing,
}

/// The station a loop's requests go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StationConfig {
    /// Servers (`None`: unlimited).
    pub capacity: Option<u64>,
    /// How they share the work.
    pub discipline: Discipline,
}

/// `f64` with a total order (`total_cmp`), for heaps.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Key(f64);

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// One station's state. `token`s identify requests to the caller; among
/// events due at the same time, the earlier arrival comes out first.
#[derive(Debug)]
pub struct Station {
    capacity: Option<u64>,
    discipline: Discipline,
    seq: u64,
    /// FIFO: responses by (time, arrival), and the times at which the busy
    /// servers free up (at most `capacity` of them).
    events: BinaryHeap<Reverse<(Key, u64, u32)>>,
    free_at: BinaryHeap<Reverse<Key>>,
    /// Processor sharing: jobs by (virtual finish, arrival); `v` is the
    /// work each job in service has received since the start, as of
    /// `last_t`.
    jobs: BinaryHeap<Reverse<(Key, u64, u32)>>,
    v: f64,
    last_t: f64,
}

impl Station {
    /// A station of `capacity` servers (`None`: unlimited, so each request
    /// takes exactly its own service time).
    pub fn new(capacity: Option<u64>, discipline: Discipline) -> Self {
        Station {
            capacity,
            discipline,
            seq: 0,
            events: BinaryHeap::new(),
            free_at: BinaryHeap::new(),
            jobs: BinaryHeap::new(),
            v: 0.0,
            last_t: 0.0,
        }
    }

    /// Requests at the station (queued or in service).
    pub fn len(&self) -> usize {
        self.events.len() + self.jobs.len()
    }

    /// Whether no request is at the station.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A request with `work` seconds of service arrives at `now`. Under
    /// FIFO, returns the time its service starts.
    pub fn arrive(&mut self, now: f64, work: f64, token: u32) -> f64 {
        self.seq += 1;
        match (self.discipline, self.capacity) {
            (Discipline::ProcessorSharing, Some(_)) => {
                self.advance(now);
                let finish = self.v + work;
                self.jobs.push(Reverse((Key(finish), self.seq, token)));
                now
            }
            (_, None) => {
                self.events
                    .push(Reverse((Key(now + work), self.seq, token)));
                now
            }
            (Discipline::Fifo, Some(k)) => {
                let start = if (self.free_at.len() as u64) < k {
                    now
                } else {
                    let Reverse(Key(free)) = self.free_at.pop().expect("k >= 1 servers");
                    free.max(now)
                };
                let done = start + work;
                self.free_at.push(Reverse(Key(done)));
                self.events.push(Reverse((Key(done), self.seq, token)));
                start
            }
        }
    }

    /// Service rate of each job in service with `n` jobs at the station.
    fn rate(&self, n: usize) -> f64 {
        let k = self.capacity.unwrap_or(u64::MAX) as f64;
        let n = n as f64;
        if n <= k { 1.0 } else { k / n }
    }

    /// Processor sharing: bring the attained work up to time `t`.
    fn advance(&mut self, t: f64) {
        if t > self.last_t {
            self.v += (t - self.last_t) * self.rate(self.jobs.len());
            self.last_t = t;
        }
    }

    /// When the next response is due, if any request is at the station.
    pub fn next_event(&self) -> Option<f64> {
        if let Some(Reverse((Key(t), _, _))) = self.events.peek() {
            return Some(*t);
        }
        let Reverse((Key(finish), _, _)) = self.jobs.peek()?;
        let r = self.rate(self.jobs.len());
        Some(self.last_t + ((finish - self.v).max(0.0) / r))
    }

    /// Move every response due at or before `now` to `out`, in order.
    pub fn pop_due(&mut self, now: f64, out: &mut Vec<u32>) {
        while let Some(Reverse((Key(t), _, token))) = self.events.peek().copied() {
            if t > now {
                break;
            }
            self.events.pop();
            out.push(token);
        }
        if self.jobs.is_empty() {
            return;
        }
        // Processor sharing: each departure changes the others' rate, so
        // take them one at a time, each at its own time.
        while let Some(t) = self.next_event() {
            if t > now {
                break;
            }
            self.advance(t);
            let Reverse((Key(finish), _, token)) = self.jobs.pop().expect("a job is due");
            self.v = self.v.max(finish);
            out.push(token);
        }
        self.advance(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic exponential draws for the queueing checks.
    struct Exp(u64);

    impl Exp {
        /// SplitMix64, then the inverse CDF.
        fn next(&mut self, mean: f64) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let u = ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            -mean * u.ln()
        }
    }

    /// Erlang C: the probability that an arrival waits in an M/M/c queue
    /// with offered load `a = lambda / mu`.
    fn erlang_c(c: u64, a: f64) -> f64 {
        let mut term = 1.0;
        let mut sum = 1.0;
        for k in 1..c {
            term *= a / k as f64;
            sum += term;
        }
        let top = term * a / c as f64 * c as f64 / (c as f64 - a);
        top / (sum + top)
    }

    /// The number-in-system curve of a driven station.
    #[derive(Default)]
    struct Path {
        area: f64,
        last: f64,
        inside: usize,
        done_at: Vec<f64>,
    }

    impl Path {
        fn step(&mut self, t: f64, delta: isize) {
            self.area += self.inside as f64 * (t - self.last);
            self.last = t;
            self.inside = self.inside.checked_add_signed(delta).expect("non-negative");
        }

        /// Serve every response due by `upto`.
        fn flush(&mut self, station: &mut Station, upto: f64) {
            let mut out = Vec::new();
            while let Some(e) = station.next_event() {
                if e > upto {
                    break;
                }
                out.clear();
                station.pop_due(e, &mut out);
                for &tok in &out {
                    self.step(e, -1);
                    self.done_at[tok as usize] = e;
                }
            }
        }
    }

    /// Drive a station with Poisson arrivals; returns (mean wait before
    /// service, mean time in system, time-average number in system,
    /// throughput).
    fn poisson(station: &mut Station, lambda: f64, mu: f64, n: usize) -> (f64, f64, f64, f64) {
        let mut rng = Exp(0x2545_F491_4F6C_DD1D);
        let mut t = 0.0;
        let mut arrivals = Vec::with_capacity(n);
        let mut waits = 0.0;
        let mut path = Path {
            done_at: vec![0.0; n],
            ..Path::default()
        };
        for i in 0..n {
            t += rng.next(1.0 / lambda);
            path.flush(station, t);
            path.step(t, 1);
            let start = station.arrive(t, rng.next(1.0 / mu), i as u32);
            waits += start - t;
            arrivals.push(t);
        }
        path.flush(station, f64::INFINITY);
        let sojourn: f64 = path
            .done_at
            .iter()
            .zip(&arrivals)
            .map(|(d, a)| d - a)
            .sum::<f64>()
            / n as f64;
        (
            waits / n as f64,
            sojourn,
            path.area / path.last,
            n as f64 / path.last,
        )
    }

    #[test]
    fn fifo_mmc_matches_erlang_c() {
        // c = 4 servers, utilisation 0.8.
        let (c, mu) = (4u64, 1.0);
        let lambda = 0.8 * c as f64 * mu;
        let mut s = Station::new(Some(c), Discipline::Fifo);
        let (wq, w, l, x) = poisson(&mut s, lambda, mu, 400_000);
        let a = lambda / mu;
        let expected_wq = erlang_c(c, a) / (c as f64 * mu - lambda);
        assert!(
            (wq / expected_wq - 1.0).abs() < 0.05,
            "Wq {wq} vs Erlang C {expected_wq}"
        );
        assert!((w / (expected_wq + 1.0 / mu) - 1.0).abs() < 0.05);
        // Little's law, L = lambda W, on the simulated path.
        assert!(
            (l / (x * w) - 1.0).abs() < 0.01,
            "L {l} vs lambda W {}",
            x * w
        );
    }

    #[test]
    fn processor_sharing_mm1_response_time() {
        // M/M/1-PS: E[T] = 1 / (mu - lambda), as for FIFO, at load 0.7.
        let (lambda, mu) = (0.7, 1.0);
        let mut s = Station::new(Some(1), Discipline::ProcessorSharing);
        let (_, w, l, x) = poisson(&mut s, lambda, mu, 400_000);
        let expected = 1.0 / (mu - lambda);
        assert!((w / expected - 1.0).abs() < 0.05, "T {w} vs {expected}");
        assert!((l / (x * w) - 1.0).abs() < 0.01);
    }

    #[test]
    fn unlimited_capacity_is_the_service_time() {
        let mut s = Station::new(None, Discipline::Fifo);
        s.arrive(1.0, 0.25, 7);
        s.arrive(1.0, 0.125, 8);
        assert_eq!(s.next_event(), Some(1.125));
        let mut out = Vec::new();
        s.pop_due(1.25, &mut out);
        assert_eq!(out, vec![8, 7]);
        assert!(s.is_empty());
    }

    #[test]
    fn fifo_queues_beyond_capacity_in_arrival_order() {
        let mut s = Station::new(Some(2), Discipline::Fifo);
        assert_eq!(s.arrive(0.0, 1.0, 0), 0.0);
        assert_eq!(s.arrive(0.0, 2.0, 1), 0.0);
        assert_eq!(s.arrive(0.5, 0.5, 2), 1.0);
        assert_eq!(s.arrive(0.5, 1.0, 3), 1.5);
        let mut out = Vec::new();
        s.pop_due(10.0, &mut out);
        assert_eq!(out, vec![0, 2, 1, 3]);
    }

    #[test]
    fn processor_sharing_slows_everyone_down() {
        // Two jobs of 1 s on one unit of capacity: both finish at 2 s.
        let mut s = Station::new(Some(1), Discipline::ProcessorSharing);
        s.arrive(0.0, 1.0, 0);
        s.arrive(0.0, 1.0, 1);
        assert_eq!(s.next_event(), Some(2.0));
        let mut out = Vec::new();
        s.pop_due(2.0, &mut out);
        assert_eq!(out, vec![0, 1]);
    }
}
