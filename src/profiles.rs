//! The memory profiles compiled into the binary, one per CPython version.

use crate::memory::profile::{self, ProfileFile};

/// The version used when a scenario does not say.
pub const DEFAULT_PYTHON: &str = "3.12";

/// The CPython versions with a shipped profile.
pub const VERSIONS: [&str; 3] = ["3.11", "3.12", "3.13"];

fn text(version: &str) -> Option<&'static str> {
    match version {
        "3.11" => Some(include_str!("../profiles/cpython-3.11.toml")),
        "3.12" => Some(include_str!("../profiles/cpython-3.12.toml")),
        "3.13" => Some(include_str!("../profiles/cpython-3.13.toml")),
        _ => None,
    }
}

/// The shipped profile of `version` (`"3.11"`, `"3.12"` or `"3.13"`).
pub(crate) fn builtin(version: &str) -> Option<ProfileFile> {
    let text = text(version)?;
    Some(profile::parse(text).expect("shipped profiles are valid (checked by a test)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_profile_parses() {
        for v in VERSIONS {
            let p = builtin(v).unwrap();
            assert_eq!(p.python, v);
            assert!(p.memory.task > 0);
        }
    }
}
