//! The interpreter's own CPU time: what each loop operation costs.
//!
//! CPython's loop is single-threaded: while it creates a task, steps a
//! coroutine or runs a callback, its clock moves on and nothing else
//! happens. With [`CpuCosts`] the engine advances virtual time by each
//! operation's cost as it runs it, so a sleep started after 100,000 task
//! creations is due that much later, and timers that come due while the
//! loop is busy fire late, as in CPython. When the loop goes idle it waits
//! in `select` as CPython's `EpollSelector` does: the timeout is rounded up
//! to whole milliseconds (epoll's resolution) and the wake-up comes
//! [`CpuCosts::wake_slack`] after that.
//!
//! [`CpuCosts::NONE`] (all zero, no rounding) is pure virtual time: adding
//! `0.0` to the clock leaves it bit-for-bit unchanged, so the conformance
//! suite stays exact. The costs are measured by `bpsim calibrate` (see
//! `profiles/calibrate_cpu.py` for what each one covers).

use serde::{Deserialize, Serialize};

/// Seconds of loop time per operation. Field names (with `_ns` appended, in
/// nanoseconds) are the keys of a profile's `[cpu]` table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuCosts {
    /// One `_run_once` iteration (the `select` call and its bookkeeping).
    pub iteration: f64,
    /// Running one ready handle.
    pub handle: f64,
    /// One task step (`Task.__step`), on top of its handle.
    pub step: f64,
    /// `tg.create_task(coro(...))`: coroutine, Task, first `call_soon`.
    pub create: f64,
    /// `asyncio.sleep(d > 0)`: future, timer handle, heap push and pop.
    pub timer: f64,
    /// A task returning: result, done-callback scheduling.
    pub finish: f64,
    /// One done callback, on top of its handle.
    pub callback: f64,
    /// One `Semaphore.acquire` or `release` call.
    pub semaphore: f64,
    /// Entering or leaving `async with sem:` (`__aenter__`/`__aexit__`), on
    /// top of the `acquire`/`release` inside.
    pub context: f64,
    /// A task created while the live tasks are at their highest count so
    /// far: what a growing heap costs beyond the creation itself (the cyclic
    /// collector traverses the survivors again and again, and caches miss).
    /// Objects that die young cost nothing here, so this matters only to
    /// programs that keep many tasks alive, like `semaphore_in_task`.
    pub growth: f64,
    /// An `acquire` that blocks (its future and the waiter queue), on top of
    /// `semaphore`.
    pub wait: f64,
    /// Per task passed to `asyncio.wait`: `add_done_callback` and
    /// `remove_done_callback` on it, and the done/pending split.
    #[serde(default)]
    pub wait_future: f64,
    /// How much later than its millisecond-rounded timeout `select` returns.
    pub wake_slack: f64,
    /// Whether idle waits follow `select`'s rounding (true for every
    /// measured profile; false for pure virtual time).
    pub select_rounding: bool,
}

impl CpuCosts {
    /// The first cost that is not a finite number of seconds at or above
    /// zero, by name: the loop's clock must never move back (profiles are
    /// checked when read; this covers costs set through the library).
    pub fn first_invalid(&self) -> Option<(&'static str, f64)> {
        [
            ("iteration", self.iteration),
            ("handle", self.handle),
            ("step", self.step),
            ("create", self.create),
            ("timer", self.timer),
            ("finish", self.finish),
            ("callback", self.callback),
            ("semaphore", self.semaphore),
            ("context", self.context),
            ("growth", self.growth),
            ("wait", self.wait),
            ("wait_future", self.wait_future),
            ("wake_slack", self.wake_slack),
        ]
        .into_iter()
        .find(|&(_, v)| !(v.is_finite() && v >= 0.0))
    }

    /// Pure virtual time: every operation is free and the clock lands
    /// exactly on each deadline.
    pub const NONE: CpuCosts = CpuCosts {
        iteration: 0.0,
        handle: 0.0,
        step: 0.0,
        create: 0.0,
        timer: 0.0,
        finish: 0.0,
        callback: 0.0,
        semaphore: 0.0,
        wait: 0.0,
        context: 0.0,
        growth: 0.0,
        wait_future: 0.0,
        wake_slack: 0.0,
        select_rounding: false,
    };

    /// Every cost but `wake_slack` multiplied by `factor`.
    pub fn scaled(&self, factor: f64) -> CpuCosts {
        CpuCosts {
            iteration: self.iteration * factor,
            handle: self.handle * factor,
            step: self.step * factor,
            create: self.create * factor,
            timer: self.timer * factor,
            finish: self.finish * factor,
            callback: self.callback * factor,
            semaphore: self.semaphore * factor,
            wait: self.wait * factor,
            context: self.context * factor,
            growth: self.growth * factor,
            wait_future: self.wait_future * factor,
            ..*self
        }
    }

    /// Where the clock is after an idle wait from `now` for a timer due at
    /// `when` (`when > now`), the wait clamped to `max_wait` seconds.
    #[inline]
    pub(crate) fn wake(&self, now: f64, when: f64, max_wait: f64) -> f64 {
        let delta = when - now;
        if !self.select_rounding {
            return if delta > max_wait {
                now + max_wait
            } else {
                when
            };
        }
        // selectors.EpollSelector.select: "round away from zero to wait
        // *at least* timeout seconds".
        let timeout = (delta.min(max_wait) * 1e3).ceil() * 1e-3;
        now + timeout + self.wake_slack
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negative_or_non_finite_cost_is_named() {
        assert_eq!(CpuCosts::NONE.first_invalid(), None);
        let mut c = CpuCosts::NONE;
        c.wake_slack = -1e-6;
        assert_eq!(c.first_invalid(), Some(("wake_slack", -1e-6)));
        c.wake_slack = 0.0;
        c.handle = f64::INFINITY;
        assert_eq!(c.first_invalid(), Some(("handle", f64::INFINITY)));
        c.handle = f64::NAN;
        assert_eq!(c.first_invalid().map(|(k, _)| k), Some("handle"));
    }

    #[test]
    fn pure_virtual_time_lands_on_the_deadline() {
        assert_eq!(
            CpuCosts::NONE.wake(0.1, 0.30000000000000004, 86400.0),
            0.30000000000000004
        );
        assert_eq!(CpuCosts::NONE.wake(0.0, 1e6, 86400.0), 86400.0);
    }

    #[test]
    fn select_rounds_up_to_milliseconds_then_adds_slack() {
        let c = CpuCosts {
            wake_slack: 50e-6,
            select_rounding: true,
            ..CpuCosts::NONE
        };
        let t = c.wake(1.0, 1.0012, 86400.0);
        assert!((t - (1.002 + 50e-6)).abs() < 1e-12, "{t}");
    }
}
