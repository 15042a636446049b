//! The names of the backpressure strategies.

use serde::{Serialize, Serializer};

/// One of the backpressure strategies the simulator compares: the blog's
/// four ([`StrategyKind::BLOG`]) and the ones users reach for next.
///
/// The scenario-file name is [`StrategyKind::name`]; [`StrategyKind::parse`]
/// also accepts the [`aliases`](StrategyKind::aliases) and the blog's script
/// names with a `.py` suffix (`batching.py`, `semaphore1.py`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StrategyKind {
    /// `batching.py`: start `concurrency` tasks, wait for all of them, repeat.
    Batching,
    /// `semaphore1.py`: create every task up front; each acquires a semaphore
    /// inside the task.
    SemaphoreInTask,
    /// `semaphore2.py`: acquire the semaphore before spawning each task and
    /// release it in a done-callback.
    GatedSpawnCallback,
    /// `semaphore3.py`: acquire the semaphore before spawning each task and
    /// release it when the task's coroutine finishes.
    GatedSpawn,
    /// C workers pull request indices from an `asyncio.Queue(maxsize=C)`.
    WorkerPool,
    /// Refill a set of C pending tasks with `asyncio.wait(FIRST_COMPLETED)`.
    SlidingWindow,
    /// aiometer-style `max_at_once` plus `max_per_second`.
    RateLimited,
    /// An AIMD concurrency limit that moves with observed latency.
    AdaptiveLimit,
}

impl StrategyKind {
    /// Every strategy: the blog's four in its order, then the others.
    pub const ALL: [StrategyKind; 8] = [
        StrategyKind::Batching,
        StrategyKind::SemaphoreInTask,
        StrategyKind::GatedSpawnCallback,
        StrategyKind::GatedSpawn,
        StrategyKind::WorkerPool,
        StrategyKind::SlidingWindow,
        StrategyKind::RateLimited,
        StrategyKind::AdaptiveLimit,
    ];

    /// The blog's four strategies, in the order it presents them (what a
    /// scenario without a `strategies` key runs).
    pub const BLOG: [StrategyKind; 4] = [
        StrategyKind::Batching,
        StrategyKind::SemaphoreInTask,
        StrategyKind::GatedSpawnCallback,
        StrategyKind::GatedSpawn,
    ];

    /// The canonical name, as written in scenario files and output.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Batching => "batching",
            StrategyKind::SemaphoreInTask => "semaphore_in_task",
            StrategyKind::GatedSpawnCallback => "gated_spawn_callback",
            StrategyKind::GatedSpawn => "gated_spawn",
            StrategyKind::WorkerPool => "worker_pool",
            StrategyKind::SlidingWindow => "sliding_window",
            StrategyKind::RateLimited => "rate_limited",
            StrategyKind::AdaptiveLimit => "adaptive_limit",
        }
    }

    /// Other accepted names (the blog's script names without `.py`).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            StrategyKind::Batching => &[],
            StrategyKind::SemaphoreInTask => &["semaphore1"],
            StrategyKind::GatedSpawnCallback => &["semaphore2"],
            StrategyKind::GatedSpawn => &["semaphore3"],
            StrategyKind::WorkerPool => &["pool"],
            StrategyKind::SlidingWindow => &["window"],
            StrategyKind::RateLimited => &["aiometer"],
            StrategyKind::AdaptiveLimit => &["aimd"],
        }
    }

    /// A one-line summary of how the strategy bounds concurrency.
    pub fn summary(self) -> &'static str {
        match self {
            StrategyKind::Batching => {
                "run requests in batches of `concurrency` and wait for the whole batch \
                 before starting the next"
            }
            StrategyKind::SemaphoreInTask => {
                "create a task for every request up front; each task acquires a semaphore \
                 before doing its work"
            }
            StrategyKind::GatedSpawnCallback => {
                "acquire a semaphore before creating each task and release it in the \
                 task's done-callback"
            }
            StrategyKind::GatedSpawn => {
                "acquire a semaphore before creating each task and release it when the \
                 task's coroutine finishes"
            }
            StrategyKind::WorkerPool => {
                "`concurrency` worker tasks take request indices from an asyncio.Queue \
                 of that size, fed by the main task"
            }
            StrategyKind::SlidingWindow => {
                "keep `concurrency` tasks pending, refilling with \
                 asyncio.wait(FIRST_COMPLETED) (O(concurrency) per wait)"
            }
            StrategyKind::RateLimited => {
                "a semaphore of `concurrency` plus at most `max_per_second` request \
                 starts per second (aiometer's max_at_once and max_per_second)"
            }
            StrategyKind::AdaptiveLimit => {
                "gate task creation on a limit that starts at `concurrency` and moves \
                 by AIMD on each request's latency and failures"
            }
        }
    }

    /// Parses a name, an alias, or either with a `.py` suffix
    /// (`semaphore1.py`). Exact and case-sensitive; `None` if unknown.
    pub fn parse(text: &str) -> Option<StrategyKind> {
        let bare = text.strip_suffix(".py").unwrap_or(text);
        StrategyKind::ALL
            .into_iter()
            .find(|kind| kind.name() == bare || kind.aliases().contains(&bare))
    }

    /// Every accepted spelling without `.py`: names, then aliases.
    pub fn spellings() -> impl Iterator<Item = &'static str> {
        let names = StrategyKind::ALL.into_iter().map(StrategyKind::name);
        let aliases = StrategyKind::ALL
            .into_iter()
            .flat_map(|kind| kind.aliases().iter().copied());
        names.chain(aliases)
    }
}

impl std::fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Serialises as [`StrategyKind::name`].
impl Serialize for StrategyKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_and_files_parse() {
        for kind in StrategyKind::ALL {
            assert_eq!(StrategyKind::parse(kind.name()), Some(kind));
            assert_eq!(
                StrategyKind::parse(&format!("{}.py", kind.name())),
                Some(kind)
            );
            for alias in kind.aliases() {
                assert_eq!(StrategyKind::parse(alias), Some(kind));
                assert_eq!(StrategyKind::parse(&format!("{alias}.py")), Some(kind));
            }
            assert!(!kind.summary().contains('\n'));
        }
        assert_eq!(
            StrategyKind::parse("semaphore1"),
            Some(StrategyKind::SemaphoreInTask)
        );
        assert_eq!(
            StrategyKind::parse("semaphore2.py"),
            Some(StrategyKind::GatedSpawnCallback)
        );
        assert_eq!(
            StrategyKind::parse("semaphore3"),
            Some(StrategyKind::GatedSpawn)
        );
        for bad in [
            "",
            "Batching",
            "semaphore",
            "semaphore4",
            ".py",
            "batching.py.py",
        ] {
            assert_eq!(StrategyKind::parse(bad), None, "{bad}");
        }
        assert_eq!(StrategyKind::spellings().count(), 15);
        let mut sorted = StrategyKind::ALL;
        sorted.sort();
        assert_eq!(sorted, StrategyKind::ALL);
    }
}
