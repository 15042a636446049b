//! The one place that writes files (atomically, so an interrupted run never
//! leaves a half-written output) and prints results to stdout (without
//! panicking when the reader has gone).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A failed write, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write '{}': {source}", path.display())]
pub struct WriteError {
    /// The file that could not be written.
    pub path: PathBuf,
    /// The underlying I/O error.
    #[source]
    pub source: std::io::Error,
}

/// What became of text printed with [`print()`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Printed {
    /// All of it was written.
    Done,
    /// The reader has gone (stdout is a pipe whose other end is closed, as
    /// in `bpsim sweep s.toml | head -1`): nothing more can be printed.
    ReaderGone,
}

/// Prints `text` to stdout and flushes it. Unlike `print!`, which panics, a
/// closed pipe is not an error but [`Printed::ReaderGone`]: the caller stops
/// printing and ends quietly.
///
/// # Errors
///
/// Any other failure to write stdout.
pub fn print(text: &str) -> io::Result<Printed> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(Printed::Done),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Printed::ReaderGone),
        Err(e) => Err(e),
    }
}

/// Prints `args` and a newline to stderr, for messages. Unlike
/// `eprintln!`, which panics when stderr cannot be written (`bpsim run
/// bad.toml 2>&1 | true` exited 101, a panic's status, instead of 1, and
/// the Ctrl-C handler's thread died on its message; found by a
/// hostile-input pass), a failure is ignored: the exit status still says
/// what happened.
pub fn eprint(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{args}");
}

/// Whether stdout is a pipe whose reader has gone, found without writing
/// to it (`poll` reports `POLLERR` on a pipe with no reader left), so that
/// long work whose results nobody will read can stop early. Never blocks;
/// `false` whenever it cannot tell (stdout a file or terminal, or not Unix).
pub fn stdout_reader_gone() -> bool {
    #[cfg(unix)]
    {
        // SAFETY: `stat` is plain old data for which all-zero bytes are a
        // valid value; `fstat` writes into it and reads nothing else.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fd 1 may be closed or anything; `fstat` then fails.
        if unsafe { libc::fstat(libc::STDOUT_FILENO, &mut st) } != 0
            || st.st_mode & libc::S_IFMT != libc::S_IFIFO
        {
            return false;
        }
        let mut fd = libc::pollfd {
            fd: libc::STDOUT_FILENO,
            events: 0,
            revents: 0,
        };
        // SAFETY: one valid `pollfd`, a zero timeout: `poll` returns at once.
        let ready = unsafe { libc::poll(&mut fd, 1, 0) };
        ready > 0 && fd.revents & libc::POLLERR != 0
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// The folder `path` goes into (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// A problem found before writing, as an I/O error whose text says what is
/// wrong and how to fix it.
fn unusable(kind: io::ErrorKind, what: String, help: &str) -> io::Error {
    io::Error::new(kind, format!("{what}\n  help: {help}"))
}

/// Why no folder can be made at `dir`, if none can: the nearest existing
/// path along it is not a folder, or is a folder this process cannot write
/// to. Creates nothing.
fn dir_problem(dir: &Path) -> Result<(), io::Error> {
    let mut current = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    loop {
        match fs::metadata(current) {
            Ok(meta) if meta.is_dir() => return writable(current),
            Ok(_) => {
                return Err(unusable(
                    io::ErrorKind::NotADirectory,
                    format!("'{}' is not a folder", current.display()),
                    "choose another path, or move that file out of the way",
                ));
            }
            // Not there (yet), or a file on the way (ENOTDIR): look further up.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                current = match current.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    Some(_) => Path::new("."),
                    None => return Err(e),
                };
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether this process may create entries in the folder `dir`.
#[cfg(unix)]
fn writable(dir: &Path) -> Result<(), io::Error> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return Ok(());
    };
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the
    // call; `access` only reads it.
    let ok = unsafe { libc::access(c_path.as_ptr(), libc::W_OK | libc::X_OK) } == 0;
    if ok {
        Ok(())
    } else {
        Err(unusable(
            io::ErrorKind::PermissionDenied,
            format!("the folder '{}' is not writable", dir.display()),
            "choose a folder you can write to",
        ))
    }
}

/// Whether this process may create entries in the folder `dir` (the write
/// itself reports it where `access` does not exist).
#[cfg(not(unix))]
fn writable(_dir: &Path) -> Result<(), io::Error> {
    Ok(())
}

/// Where a write to a path really goes.
#[derive(Debug)]
enum Destination {
    /// A regular file, or nothing yet: written atomically (a temporary file
    /// beside it, then a rename).
    Replace(PathBuf),
    /// Something that exists and is not a regular file or a folder (a
    /// character device such as `/dev/null`, a FIFO, a socket): written in
    /// place, since a rename would replace the device with a file.
    InPlace(PathBuf),
    /// This process's own stdout (`/dev/stdout`, `/proc/self/fd/1`, or the
    /// file stdout is redirected to): written through the open stream, so
    /// that `>> log` appends and `> out` keeps what bpsim prints after.
    Stdout,
    /// This process's own stderr, likewise.
    Stderr,
}

/// Whether `meta` is the file, pipe or device that the process's stdout
/// (`fd` 1) or stderr (2) is open on: the same device and inode.
#[cfg(unix)]
fn stdio_stream(meta: &fs::Metadata) -> Option<Destination> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let same = |fd: std::os::fd::BorrowedFd<'_>| {
        fd.try_clone_to_owned()
            .ok()
            .and_then(|owned| fs::File::from(owned).metadata().ok())
            .is_some_and(|m| m.dev() == meta.dev() && m.ino() == meta.ino())
    };
    if same(io::stdout().as_fd()) {
        Some(Destination::Stdout)
    } else if same(io::stderr().as_fd()) {
        Some(Destination::Stderr)
    } else {
        None
    }
}

#[cfg(not(unix))]
fn stdio_stream(_meta: &fs::Metadata) -> Option<Destination> {
    None
}

/// Resolves `path` through any symlinks (the link stays; its target is
/// written, created if missing) and says how to write what it names.
fn destination(path: &Path) -> io::Result<Destination> {
    let folder = |at: &Path| {
        unusable(
            io::ErrorKind::IsADirectory,
            if at == path {
                "it is a folder".to_owned()
            } else {
                format!("it leads to the folder '{}'", at.display())
            },
            "give the path of a file, e.g. a name inside that folder",
        )
    };
    let gone = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
        )
    };
    // What the path finally names, as the kernel resolves it (this also
    // follows /proc's links, such as /dev/stdout -> /proc/self/fd/1).
    match fs::metadata(path) {
        // Found by a hostile-input pass: `-o /dev/stdout >> app.txt` swapped
        // a new app.txt in, losing what it held.
        Ok(meta) if let Some(stream) = stdio_stream(&meta) => Ok(stream),
        Ok(meta) if meta.is_file() => Ok(Destination::Replace(fs::canonicalize(path)?)),
        Ok(meta) if meta.is_dir() => {
            let linked = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            Err(folder(&if linked {
                fs::canonicalize(path)?
            } else {
                path.to_path_buf()
            }))
        }
        Ok(_) => Ok(Destination::InPlace(path.to_path_buf())),
        Err(e) if gone(&e) => {
            // Nothing there, or a symlink to a file yet to be made: follow
            // the links to where the file is to be created.
            let mut current = path.to_path_buf();
            // As many links as Linux follows (ELOOP beyond).
            for _ in 0..40 {
                match fs::symlink_metadata(&current) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        let link = fs::read_link(&current)?;
                        current = parent_dir(&current).join(link);
                    }
                    Ok(_) => return Ok(Destination::Replace(current)),
                    Err(e) if gone(&e) => return Ok(Destination::Replace(current)),
                    Err(e) => return Err(e),
                }
            }
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "too many levels of symbolic links",
            ))
        }
        Err(e) => Err(e),
    }
}

/// Checks, before any work is done, that [`write_atomic`] can write a file
/// at `path`: `path` is not a folder, and the folder it goes into exists or
/// can be created (every existing part of it a folder, the nearest one
/// writable). A symlink is checked where it leads; a device or FIFO needs
/// no folder. Creates nothing; the error names `path` and says what is in
/// the way, e.g. `cannot write 'afile/x.csv': 'afile' is not a folder`.
pub fn check_file(path: &Path) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    if path.file_name().is_none() {
        return Err(err(unusable(
            io::ErrorKind::InvalidInput,
            "it does not end in a file name".to_owned(),
            "give the path of a file, e.g. 'out/trace.txt'",
        )));
    }
    match destination(path).map_err(err)? {
        Destination::Replace(file) => dir_problem(parent_dir(&file)).map_err(err),
        Destination::InPlace(_) | Destination::Stdout | Destination::Stderr => Ok(()),
    }
}

/// [`check_file`] for each of `outputs`, every file a command will write,
/// and that none of them is a file the command reads (`inputs`, such as
/// the scenario or its trace) or another of the outputs; each is named by
/// what it is (`the scenario file`, `--requests-csv`) in messages.
/// `bpsim run s.toml --requests-csv s.toml` replaced the scenario with the
/// requests' CSV, and `--requests-csv output/s/summary.csv` left one file
/// where two were written (found by a hostile-input pass). Devices, FIFOs
/// and bpsim's own stdout and stderr may be named more than once.
pub fn check_files(outputs: &[(&Path, &str)], inputs: &[(&Path, &str)]) -> Result<(), WriteError> {
    let mut seen: Vec<(FileKey, &str)> = inputs
        .iter()
        .filter_map(|&(path, what)| Some((FileKey::existing(path)?, what)))
        .collect();
    let readers = seen.len();
    for &(path, what) in outputs {
        check_file(path)?;
        let Some(key) = FileKey::output(path) else {
            continue;
        };
        if let Some(j) = seen.iter().position(|(k, _)| *k == key) {
            let (role, help) = if j < readers {
                (
                    "which this command reads",
                    "choose another path: writing there would replace it",
                )
            } else {
                (
                    "which this command also writes",
                    "give each output its own path",
                )
            };
            return Err(WriteError {
                path: path.to_path_buf(),
                source: unusable(
                    io::ErrorKind::AlreadyExists,
                    format!("{what} names {}, {role}", seen[j].1),
                    help,
                ),
            });
        }
        seen.push((key, what));
    }
    Ok(())
}

/// What identifies a file: its device and inode once it exists, else the
/// absolute path it will be created at.
#[derive(Debug, PartialEq, Eq)]
enum FileKey {
    Inode(u64, u64),
    Path(PathBuf),
}

impl FileKey {
    /// The file at `path`, if it exists (links followed).
    fn existing(path: &Path) -> Option<FileKey> {
        let meta = fs::metadata(path).ok()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(FileKey::Inode(meta.dev(), meta.ino()))
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            Some(FileKey::Path(fs::canonicalize(path).ok()?))
        }
    }

    /// Where a write to `path` goes, if it replaces a file (not a device,
    /// a FIFO or bpsim's own stdout or stderr).
    fn output(path: &Path) -> Option<FileKey> {
        let Destination::Replace(file) = destination(path).ok()? else {
            return None;
        };
        if let Some(key) = FileKey::existing(&file) {
            return Some(key);
        }
        let name = file.file_name()?;
        let dir = parent_dir(&file);
        let dir = fs::canonicalize(dir)
            .or_else(|_| std::path::absolute(dir))
            .ok()?;
        Some(FileKey::Path(dir.join(name)))
    }
}

/// Checks, before any work is done, that files can be written into the
/// folder `dir` (it exists or can be created: see [`check_file`]). Creates
/// nothing.
pub fn check_dir(dir: &Path) -> Result<(), WriteError> {
    dir_problem(dir).map_err(|source| WriteError {
        path: dir.to_path_buf(),
        source,
    })
}

/// Write `bytes` to `path` via a temporary file in the same directory and a
/// rename, creating the directory if needed. Either the whole new content is
/// there afterwards, or the old file (if any) is untouched.
///
/// A symlink is followed: the file it points to is replaced (created if
/// missing), the link stays. A destination that exists and is neither a
/// regular file nor a folder (`/dev/null`, `/dev/stdout`, a FIFO) is
/// written directly, without a temporary file or a rename, so it stays
/// what it is.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`], with the content streamed by `fill` through a
/// buffer, so that it never has to be held whole: if `fill` fails, the old
/// file (if any) is untouched and no temporary is left.
///
/// # Errors
///
/// The destination cannot be written (see [`check_file`]), or `fill`'s
/// error.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), WriteError> {
    write_with(path, |w| {
        let mut buffered = io::BufWriter::with_capacity(1 << 16, w);
        fill(&mut buffered)?;
        buffered.flush()
    })
}

/// [`write_atomic`], with the content written by `fill`.
fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), WriteError> {
    let err = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let mut w: Box<dyn Write> = match destination(path).map_err(err)? {
        Destination::Replace(file) => return replace(&file, fill).map_err(err),
        Destination::InPlace(device) => Box::new(
            fs::OpenOptions::new()
                .write(true)
                .open(device)
                .map_err(err)?,
        ),
        Destination::Stdout => Box::new(io::stdout().lock()),
        Destination::Stderr => Box::new(io::stderr().lock()),
    };
    // Written where it is: no temporary file, no rename.
    fill(&mut w).and_then(|()| w.flush()).map_err(err)
}

/// Replaces the regular file `file` (or creates it) with what `fill`
/// writes: a temporary file beside it, then a rename. A file replaced
/// keeps its permission bits (see [`kept_permissions`]); a new one gets
/// the default (0o666 less the umask).
fn replace(file: &Path, fill: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let dir = parent_dir(file);
    // Say what is in the way rather than `File exists` from create_dir_all.
    dir_problem(dir)?;
    fs::create_dir_all(dir)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let unfinished = Unfinished::register(&tmp);
    let kept = fs::metadata(file).ok().map(|old| kept_permissions(&old));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        // Before anything is written: a private file's content is never
        // readable under the default permissions.
        if let Some(permissions) = kept {
            f.set_permissions(permissions)?;
        }
        fill(&mut f)?;
        f.sync_all()?;
        fs::rename(&tmp, file)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    drop(unfinished);
    result
}

/// The permissions a file that replaces one with metadata `old` gets: its
/// permission bits (read, write and execute for owner, group and others;
/// not set-user-ID, set-group-ID or sticky, which an output has no use
/// for). Without this a replaced `chmod 600` file came back 644 (found by
/// a hostile-input pass).
#[cfg(unix)]
fn kept_permissions(old: &fs::Metadata) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    fs::Permissions::from_mode(old.permissions().mode() & 0o777)
}

/// The permissions a file that replaces one with metadata `old` gets: its
/// own (read-only or not).
#[cfg(not(unix))]
fn kept_permissions(old: &fs::Metadata) -> fs::Permissions {
    old.permissions()
}

/// The temporary files of the writes in progress, and the
/// [`TempFolder`]s alive, for [`remove_unfinished`].
static UNFINISHED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A temporary file or folder listed in [`UNFINISHED`] while it lives.
#[derive(Debug)]
struct Unfinished(PathBuf);

impl Unfinished {
    fn register(tmp: &Path) -> Unfinished {
        if let Ok(mut list) = UNFINISHED.lock() {
            list.push(tmp.to_path_buf());
        }
        Unfinished(tmp.to_path_buf())
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Ok(mut list) = UNFINISHED.lock()
            && let Some(i) = list.iter().position(|p| *p == self.0)
        {
            list.swap_remove(i);
        }
    }
}

/// Removes the temporary files of the writes in progress and every
/// [`TempFolder`] alive, for a process about to quit in the middle of
/// them (Ctrl-C): no hidden `.NAME.tmp-PID` is left behind (a
/// 10M-request trace's was 120 MB), nor `calibrate`'s folder of scripts
/// (both found by hostile-input passes). The destinations are untouched.
/// Returns the destinations whose writes were cut short (each left as it
/// was before), for the caller to name.
pub fn remove_unfinished() -> Vec<PathBuf> {
    let mut cut = Vec::new();
    if let Ok(list) = UNFINISHED.lock() {
        for tmp in list.iter() {
            let _ = match fs::symlink_metadata(tmp) {
                Ok(meta) if meta.is_dir() => fs::remove_dir_all(tmp),
                _ => {
                    cut.extend(destination_of(tmp));
                    fs::remove_file(tmp)
                }
            };
        }
    }
    cut
}

/// The file a temporary `.NAME.tmp-PID` stands in for: `NAME` beside it.
fn destination_of(tmp: &Path) -> Option<PathBuf> {
    let name = tmp.file_name()?.to_str()?;
    let (hidden, _pid) = name.rsplit_once(".tmp-")?;
    Some(tmp.with_file_name(hidden.strip_prefix('.')?))
}

/// A new folder in the system's temporary folder (as
/// [`tempfile::tempdir`] makes it), removed with what it holds when
/// dropped, or by [`remove_unfinished`] if the process quits first.
#[derive(Debug)]
pub struct TempFolder {
    // Dropped in this order: the folder is removed before it leaves the
    // list, so an interrupt in between finds it gone, never left.
    dir: tempfile::TempDir,
    _listed: Unfinished,
}

impl TempFolder {
    /// Makes the folder.
    ///
    /// # Errors
    ///
    /// The folder cannot be made.
    pub fn new() -> io::Result<TempFolder> {
        let dir = tempfile::tempdir()?;
        let listed = Unfinished::register(dir.path());
        Ok(TempFolder {
            dir,
            _listed: listed,
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temporary_file_names_its_destination() {
        let tmp = Path::new("out/blog/.requests.csv.tmp-4242");
        assert_eq!(
            destination_of(tmp),
            Some(PathBuf::from("out/blog/requests.csv"))
        );
        assert_eq!(destination_of(Path::new("out/requests.csv")), None);
    }

    #[test]
    fn writes_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.csv");
        write_atomic(&path, b"a,b\n").unwrap();
        write_atomic(&path, b"c,d\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"c,d\n");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    #[cfg(unix)]
    fn a_replaced_file_keeps_its_permission_bits() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let path = dir.path().join("out.csv");
        for bits in [0o600, 0o640, 0o755, 0o444, 0o4750] {
            fs::write(&path, b"old").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(bits)).unwrap();
            write_atomic(&path, b"new").unwrap();
            assert_eq!(fs::read(&path).unwrap(), b"new");
            // Set-user-ID and the like are not carried over.
            assert_eq!(mode(&path), bits & 0o777, "{bits:o}");
        }
        // Streamed too, and through a symlink: the target's bits.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o620)).unwrap();
        let link = dir.path().join("link.csv");
        symlink("out.csv", &link).unwrap();
        write_atomic_with(&link, |w| w.write_all(b"streamed")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"streamed");
        assert_eq!(mode(&path), 0o620);
        // A new file gets the default, as before.
        let fresh = dir.path().join("fresh.csv");
        write_atomic(&fresh, b"x").unwrap();
        let default = fs::File::create(dir.path().join("plain")).unwrap();
        assert_eq!(
            mode(&fresh),
            default.metadata().unwrap().permissions().mode() & 0o7777
        );
    }

    #[test]
    fn streamed_content_is_written_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.txt");
        write_atomic_with(&path, |w| {
            for i in 0..100_000 {
                writeln!(w, "{i}")?;
            }
            Ok(())
        })
        .unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 100_000);
        assert!(text.ends_with("99999\n"));
        // A failure half-way leaves the old file and no temporary.
        let e = write_atomic_with(&path, |w| {
            w.write_all(&[b'x'; 1 << 20])?;
            Err(io::Error::other("drawing failed"))
        })
        .unwrap_err();
        assert!(e.to_string().contains("drawing failed"), "{e}");
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn what_is_in_the_way_is_named_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let afile = dir.path().join("afile");
        fs::write(&afile, b"x").unwrap();
        for path in [afile.join("x.csv"), afile.join("deeper/x.csv")] {
            let e = check_file(&path).unwrap_err().to_string();
            assert!(
                e.contains("x.csv")
                    && e.contains(&format!("'{}' is not a folder", afile.display())),
                "{e}"
            );
            assert!(e.contains("help:"), "{e}");
            let e = write_atomic(&path, b"y").unwrap_err().to_string();
            assert!(
                e.contains("is not a folder") && !e.contains("File exists"),
                "{e}"
            );
        }
        let e = check_dir(&afile.join("sub")).unwrap_err().to_string();
        assert!(e.contains("is not a folder"), "{e}");
        let e = check_file(dir.path()).unwrap_err().to_string();
        assert!(e.contains("it is a folder"), "{e}");
        // Fine: missing folders are created later, an existing file replaced.
        check_file(&dir.path().join("a/b/c.csv")).unwrap();
        check_file(&afile).unwrap();
        check_dir(&dir.path().join("a/b")).unwrap();
        check_file(Path::new("relative.csv")).unwrap();
        // Nothing was created.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    #[cfg(unix)]
    fn a_symlink_stays_and_the_file_it_points_to_is_replaced() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("targets")).unwrap();
        fs::write(d.join("targets/tgt.txt"), b"old").unwrap();
        // Relative links resolve from the link's own folder.
        symlink("targets/tgt.txt", d.join("link.txt")).unwrap();
        symlink("link.txt", d.join("link2.txt")).unwrap();
        symlink("targets/new.txt", d.join("dangling.txt")).unwrap();
        for (link, target) in [
            ("link.txt", "targets/tgt.txt"),
            ("link2.txt", "targets/tgt.txt"),
            ("dangling.txt", "targets/new.txt"),
        ] {
            check_file(&d.join(link)).unwrap();
            write_atomic(&d.join(link), link.as_bytes()).unwrap();
            let meta = fs::symlink_metadata(d.join(link)).unwrap();
            assert!(meta.file_type().is_symlink(), "{link} was replaced");
            assert_eq!(fs::read(d.join(target)).unwrap(), link.as_bytes());
        }
        // No temporary left beside the links or the targets.
        let count = |p: &Path| fs::read_dir(p).unwrap().count();
        assert_eq!((count(d), count(&d.join("targets"))), (4, 2));
        // A link to a folder is refused, naming where it leads.
        symlink("targets", d.join("to_dir")).unwrap();
        let e = write_atomic(&d.join("to_dir"), b"x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("leads to the folder"), "{e}");
        assert!(check_file(&d.join("to_dir")).is_err());
    }

    #[cfg(unix)]
    /// A node of `/dev/null`'s device in `dir` where this process can make
    /// one, else `/dev/null` itself unless running as root: a regression must
    /// not get the chance to replace the machine's `/dev/null`, which root
    /// could (`None`: skip the test).
    fn null_device(dir: &Path) -> Option<PathBuf> {
        use std::os::unix::ffi::OsStrExt;
        let node = dir.join("null");
        let c_path = std::ffi::CString::new(node.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path, read only.
        let made =
            unsafe { libc::mknod(c_path.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
        // SAFETY: no arguments, no side effects.
        let root = unsafe { libc::geteuid() } == 0;
        if made == 0 {
            Some(node)
        } else if !root {
            // /dev is not ours to write: a regression fails, harmlessly.
            Some(PathBuf::from("/dev/null"))
        } else {
            eprintln!("skipped: cannot make a null device node, and root must not risk /dev/null");
            None
        }
    }

    #[test]
    #[cfg(unix)]
    fn dev_null_is_written_to_not_replaced() {
        use std::os::unix::fs::{FileTypeExt, symlink};
        let dir = tempfile::tempdir().unwrap();
        let Some(null) = null_device(dir.path()) else {
            return;
        };
        check_file(&null).unwrap();
        write_atomic(&null, b"discarded\n").unwrap();
        let meta = fs::symlink_metadata(&null).unwrap();
        assert!(meta.file_type().is_char_device(), "{meta:?}");
        // Through a symlink too (`-o out.txt` where out.txt -> /dev/null).
        let link = dir.path().join("link");
        symlink(&null, &link).unwrap();
        write_atomic(&link, b"discarded\n").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(fs::metadata(&null).unwrap().file_type().is_char_device());
        // No temporary file was made beside it.
        let folder = null.parent().unwrap();
        let leftovers: Vec<_> = fs::read_dir(folder)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    #[cfg(unix)]
    fn a_fifo_is_written_to_not_replaced() {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path, read only.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"through the pipe").unwrap();
        // Checked before waiting for the reader, which a replaced FIFO
        // would leave waiting forever.
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    // `remove_unfinished` on a folder is tested through a real Ctrl-C
    // (tests/integration/cli.rs): here it would remove the temporaries of
    // the other tests' writes, running at the same time.
    #[test]
    fn a_temporary_folder_is_listed_while_it_lives() {
        let listed = |p: &Path| UNFINISHED.lock().unwrap().iter().any(|l| l == p);
        let folder = TempFolder::new().unwrap();
        let path = folder.path().to_path_buf();
        assert!(listed(&path));
        fs::create_dir(path.join("sub")).unwrap();
        fs::write(path.join("sub/script.py"), b"x").unwrap();
        drop(folder);
        assert!(!path.exists());
        assert!(!listed(&path));
    }

    #[test]
    fn unwritable_path_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"x").unwrap();
        let e = write_atomic(&blocker.join("out.csv"), b"x").unwrap_err();
        assert!(e.to_string().contains("out.csv"), "{e}");
    }
}
