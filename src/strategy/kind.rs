//! Strategy names (temporary; replaced by the scenario work).

/// The strategies bpsim models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StrategyKind {
    /// `batching`.
    Batching,
    /// `semaphore_in_task`.
    SemaphoreInTask,
    /// `gated_spawn_callback`.
    GatedSpawnCallback,
    /// `gated_spawn`.
    GatedSpawn,
}

impl StrategyKind {
    /// All strategies.
    pub const ALL: [StrategyKind; 4] = [
        StrategyKind::Batching,
        StrategyKind::SemaphoreInTask,
        StrategyKind::GatedSpawnCallback,
        StrategyKind::GatedSpawn,
    ];

    /// The name used in scenarios.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Batching => "batching",
            StrategyKind::SemaphoreInTask => "semaphore_in_task",
            StrategyKind::GatedSpawnCallback => "gated_spawn_callback",
            StrategyKind::GatedSpawn => "gated_spawn",
        }
    }

    /// Parse a name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}
