//! The name CPython gives a task created without one, and its bytes.
//!
//! `Task.__init__` numbers tasks from a counter of the interpreter: main's
//! task is 1, the first task a program creates 2, and so on. CPython 3.11
//! formats the name at once, the str `"Task-<n>"`; 3.12 and later keep the
//! int `n` and format it only if `get_name()` is called (`_asynciomodule.c`,
//! "optimization: defer task name formatting"). So a name's traced size
//! depends on the task's number: on 3.11 it grows by a byte at each decimal
//! digit, and on 3.12+ the first 256 cost nothing, since CPython caches the
//! small ints up to 256.
//!
//! A profile without a [`TaskNames`] scheme charges a mean name inside its
//! `task` size, as bpsim did until 2026-12-07: exact for the mean task of a
//! 100,000-task run, but 28 B a task too much on 3.12+ for runs of up to 255
//! tasks (found by the memory test's zero-latency runs, `profiles/README.md`).

use serde::Deserialize;

/// How the profile's CPython names a task created without a name.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TaskNames {
    /// The profile's `task` size includes a fixed name (a profile without
    /// the `task_names` key).
    #[default]
    #[serde(skip)]
    InTask,
    /// CPython 3.11: the compact ASCII str `"Task-<n>"`, a 48-byte header,
    /// the characters and a NUL: 54 bytes plus the number's digits.
    Str,
    /// CPython 3.12+: the int `n`. None for 256 and below (cached small
    /// ints); else a 24-byte header and a 4-byte digit per 30 bits.
    Int,
}

/// A name's size class: the number's decimal digits (`Str`) or 30-bit
/// digits (`Int`, 0 for a cached small int). Below 64, so that a task slot
/// keeps it in 6 spare bits.
pub type NameClass = u8;

/// The numbers of a run's tasks, in creation order, and the size class of
/// each one's name.
///
/// The class changes only at a few numbers (a new decimal digit, 257,
/// 2^30), so the counter keeps the current class and the next number at
/// which it changes: a task's creation costs a compare and an add.
#[derive(Clone, Debug)]
pub struct TaskNumbers {
    scheme: TaskNames,
    /// The next task's number.
    next: u64,
    /// The class of the names of tasks `next ..= change - 1`.
    class: NameClass,
    /// The first number after `next` whose name has another class.
    change: u64,
    /// Bytes of a name of each class (256 entries, so that a class needs
    /// no bounds test).
    bytes: [u8; 256],
}

impl TaskNumbers {
    /// A fresh interpreter's counter: the first task created is number 1.
    pub fn new(scheme: TaskNames) -> Self {
        let (class, change) = scheme.class_from(1);
        TaskNumbers {
            scheme,
            next: 1,
            class,
            change,
            // Only the classes some number has are ever read.
            bytes: std::array::from_fn(|c| {
                NameClass::try_from(c)
                    .ok()
                    .and_then(|class| scheme.class_bytes(class))
                    .unwrap_or(0)
            }),
        }
    }

    /// Number the next task; the size class of its name.
    #[inline]
    pub fn next_name(&mut self) -> NameClass {
        if self.next == self.change {
            (self.class, self.change) = self.scheme.class_from(self.next);
        }
        self.next += 1;
        self.class
    }

    /// The traced bytes of a name of class `class`.
    #[inline]
    pub fn bytes(&self, class: NameClass) -> u8 {
        self.bytes[usize::from(class)]
    }
}

impl TaskNames {
    /// The class of task `n`'s name, and the first number above `n` whose
    /// name has another class (`u64::MAX` if none).
    fn class_from(self, n: u64) -> (NameClass, u64) {
        match self {
            TaskNames::InTask => (0, u64::MAX),
            TaskNames::Str => {
                let digits = n.ilog10() + 1;
                (
                    digits as NameClass,
                    10u64.checked_pow(digits).unwrap_or(u64::MAX),
                )
            }
            TaskNames::Int if n <= 256 => (0, 257),
            TaskNames::Int => {
                // 1 digit up to 2^30 - 1, 2 up to 2^60 - 1, then 3.
                let digits = (64 - n.leading_zeros()).div_ceil(30);
                (
                    digits as NameClass,
                    1u64.checked_shl(30 * digits).unwrap_or(u64::MAX),
                )
            }
        }
    }

    /// The bytes of a name of class `class`; `None` for a class no task
    /// number has (above 20 decimal digits or 3 int digits).
    fn class_bytes(self, class: NameClass) -> Option<u8> {
        match (self, class) {
            (TaskNames::InTask, 0) => Some(0),
            (TaskNames::Str, 1..=20) => Some(54 + class),
            (TaskNames::Int, 0) => Some(0),
            (TaskNames::Int, 1..=3) => Some(24 + 4 * class),
            _ => None,
        }
    }

    /// The bytes of task `n`'s name (`n` from 1).
    pub fn bytes(self, n: u64) -> u8 {
        self.class_bytes(self.class_from(n).0)
            .expect("class_from gives a class of some number")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CPython 3.11's `sys.getsizeof(f"Task-{n}")`, which is what
    /// `PyUnicode_New` asks `tracemalloc`'s allocator for.
    fn str_size(n: u64) -> u8 {
        48 + format!("Task-{n}").len() as u8 + 1
    }

    /// CPython 3.12's `sys.getsizeof(n)` for an int above the cached ones.
    fn int_size(n: u64) -> u8 {
        let mut digits = 1;
        while n.checked_shr(30 * digits).is_some_and(|rest| rest != 0) {
            digits += 1;
        }
        24 + 4 * digits as u8
    }

    #[test]
    fn names_are_sized_as_cpython_sizes_them() {
        let numbers = (1..3000)
            .chain([9_999, 10_000, 99_999, 100_000, 100_001])
            .chain([(1 << 30) - 1, 1 << 30, (1 << 60) - 1, 1 << 60, u64::MAX]);
        for n in numbers {
            assert_eq!(TaskNames::Str.bytes(n), str_size(n), "str {n}");
            let int = if n <= 256 { 0 } else { int_size(n) };
            assert_eq!(TaskNames::Int.bytes(n), int, "int {n}");
            assert_eq!(TaskNames::InTask.bytes(n), 0);
        }
        // The sizes `profiles/measure_memory.py` prints for CPython 3.11.
        assert_eq!(TaskNames::Str.bytes(1), 55);
        assert_eq!(TaskNames::Str.bytes(100_001), 60);
        assert_eq!(TaskNames::Int.bytes(257), 28);
    }

    #[test]
    fn the_counter_gives_each_number_its_size_in_order() {
        for scheme in [TaskNames::Str, TaskNames::Int, TaskNames::InTask] {
            let mut numbers = TaskNumbers::new(scheme);
            for n in 1..=120_000 {
                let class = numbers.next_name();
                assert!(class < 64);
                assert_eq!(numbers.bytes(class), scheme.bytes(n), "{scheme:?} {n}");
            }
        }
    }

    #[test]
    fn the_mean_name_of_a_blog_run_is_the_one_the_old_profiles_charged() {
        // Tasks 2 ..= 100,001: 58.89 B on 3.11, 27.93 B on 3.12+
        // (`measure_memory.py`'s "task name, mean over a 100000-task run").
        let mean = |scheme: TaskNames| {
            (2..=100_001u64)
                .map(|n| f64::from(scheme.bytes(n)))
                .sum::<f64>()
                / 100_000.0
        };
        assert!((mean(TaskNames::Str) - 58.889).abs() < 1e-3);
        assert!((mean(TaskNames::Int) - 27.928_6).abs() < 1e-9);
    }

    #[test]
    fn a_profile_names_its_scheme_in_lowercase() {
        #[derive(Deserialize)]
        struct T {
            s: TaskNames,
        }
        let parse = |v: &str| toml::from_str::<T>(&format!("s = {v:?}")).map(|t| t.s);
        assert_eq!(parse("str").unwrap(), TaskNames::Str);
        assert_eq!(parse("int").unwrap(), TaskNames::Int);
        let e = parse("in_task").unwrap_err().to_string();
        assert!(e.contains("expected `str` or `int`"), "{e}");
    }
}
