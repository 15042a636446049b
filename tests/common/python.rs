//! Finding CPython interpreters for the tests that compare with it.

use std::path::PathBuf;
use std::process::Command;

/// CPython 3.11, 3.12 and 3.13 (from `BPSIM_PYTHONS`, comma-separated, if
/// set), each found as `python3.X` on the PATH or in pyenv's
/// `versions/3.X.*/bin`, whichever exist, else `python3`.
pub(crate) fn interpreters() -> Vec<String> {
    if let Ok(list) = std::env::var("BPSIM_PYTHONS") {
        return list
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty() && version_of(p).is_some())
            .map(String::from)
            .collect();
    }
    let mut found = Vec::new();
    for minor in ["3.11", "3.12", "3.13"] {
        if let Some(p) = find_python(minor) {
            found.push(p);
        }
    }
    if found.is_empty() && version_of("python3").is_some() {
        found.push("python3".to_string());
    }
    found
}

/// `f` for each interpreter at once, one thread each, the results in
/// `pythons`' order. The harness runs are separate processes whose output
/// does not depend on what else runs (virtual time; `tracemalloc` counts
/// the process's own allocations), so on a machine with cores to spare the
/// interpreters of one case take the time of the slowest instead of their
/// sum.
pub(crate) fn each_at_once<T: Send>(pythons: &[String], f: impl Fn(&str) -> T + Sync) -> Vec<T> {
    let f = &f;
    std::thread::scope(|s| {
        let runs: Vec<_> = pythons.iter().map(|py| s.spawn(move || f(py))).collect();
        runs.into_iter()
            .map(|run| run.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// `python3.X` on the PATH (when it really is 3.X: pyenv shims exist for
/// versions that are not active), else pyenv's `versions/3.X.*/bin`.
pub(crate) fn find_python(minor: &str) -> Option<String> {
    let name = format!("python{minor}");
    if version_of(&name).is_some_and(|v| v.starts_with(&format!("{minor}."))) {
        return Some(name);
    }
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))?;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("versions"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{minor}.")))
        })
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|d| d.join("bin").join(&name))
        .find(|p| version_of(&p.to_string_lossy()).is_some())
        .map(|p| p.to_string_lossy().into_owned())
}

pub(crate) fn version_of(python: &str) -> Option<String> {
    let out = Command::new(python)
        .args(["-c", "import platform; print(platform.python_version())"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
