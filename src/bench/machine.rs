//! The machine a bench ran on, for its header: timings from two machines
//! do not compare, and a pasted table should say where it came from.
//!
//! Read on Linux from `/proc/cpuinfo` (the processor's name) and
//! `/sys/devices/system/cpu/cpu0/cache` (the caches the first core
//! sees); elsewhere, or where those cannot be read, it says so.

use std::path::Path;

/// `machine: NAME, N cores; caches of the first core: L1d 48 KiB, L1i 64
/// KiB, L2 2 MiB, ...`.
pub fn describe() -> String {
    let name = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| model_name(&text))
        .unwrap_or_else(|| "unknown processor".to_owned());
    let cores = crate::sweep::cores();
    let caches = caches(Path::new("/sys/devices/system/cpu/cpu0/cache"));
    let caches = if caches.is_empty() {
        "not known".to_owned()
    } else {
        caches.join(", ")
    };
    format!("machine: {name}, {cores} cores; caches of the first core: {caches}")
}

/// The first `model name` of a `/proc/cpuinfo`.
fn model_name(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name" && !value.trim().is_empty()).then(|| value.trim().to_owned())
    })
}

/// `L1d 48 KiB`-style names of the caches under `dir` (`index0`,
/// `index1`, ... with `level`, `type` and `size` files), in index order.
fn caches(dir: &Path) -> Vec<String> {
    let read = |index: usize, file: &str| {
        std::fs::read_to_string(dir.join(format!("index{index}")).join(file))
            .ok()
            .map(|s| s.trim().to_owned())
    };
    (0..16)
        .map_while(|i| Some((read(i, "level")?, read(i, "type"), read(i, "size"))))
        .filter_map(|(level, kind, size)| {
            let suffix = match kind.as_deref() {
                Some("Data") => "d",
                Some("Instruction") => "i",
                _ => "",
            };
            Some(format!("L{level}{suffix} {}", size_text(&size?)?))
        })
        .collect()
}

/// A sysfs cache size (`48K`, `2048K`, `491520K`) in KiB or MiB.
fn size_text(size: &str) -> Option<String> {
    let kib: u64 = match size.strip_suffix('K') {
        Some(k) => k.parse().ok()?,
        None => size.strip_suffix('M')?.parse::<u64>().ok()? * 1024,
    };
    Some(if kib >= 1024 && kib.is_multiple_of(1024) {
        format!("{} MiB", kib / 1024)
    } else {
        format!("{kib} KiB")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_processor_name_and_the_cache_sizes() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\n\
                       model name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu\n\n\
                       processor\t: 1\nmodel name\t: Other\n";
        assert_eq!(
            model_name(cpuinfo).as_deref(),
            Some("Intel(R) Xeon(R) Processor")
        );
        assert_eq!(model_name("processor\t: 0\nmodel name\t:\n"), None);
        for (sysfs, text) in [
            ("48K", "48 KiB"),
            ("2048K", "2 MiB"),
            ("491520K", "480 MiB"),
            ("1280K", "1280 KiB"),
            ("32M", "32 MiB"),
        ] {
            assert_eq!(size_text(sysfs).as_deref(), Some(text), "{sysfs}");
        }
        assert_eq!(size_text("lots"), None);
    }

    #[test]
    fn lists_the_caches_of_a_sysfs_folder_in_index_order() {
        let dir = tempfile::tempdir().unwrap();
        for (i, level, kind, size) in [
            (0, "1", "Data", "48K"),
            (1, "1", "Instruction", "64K"),
            (2, "2", "Unified", "2048K"),
        ] {
            let index = dir.path().join(format!("index{i}"));
            std::fs::create_dir(&index).unwrap();
            for (file, text) in [("level", level), ("type", kind), ("size", size)] {
                std::fs::write(index.join(file), format!("{text}\n")).unwrap();
            }
        }
        assert_eq!(caches(dir.path()), ["L1d 48 KiB", "L1i 64 KiB", "L2 2 MiB"]);
        assert!(caches(&dir.path().join("missing")).is_empty());
    }
}
