//! What the file commands do on the real machine, built on [`beneath`]: folder sizes and the
//! files a copy takes (beneath the node's read roots), what a removal may take (anything beneath
//! a remove root; beneath [`LOG_ROOT`] only rotated logs, never the live one), and the known-safe
//! clean-up categories (rotated logs, crash dumps, apt's package cache).
//!
//! Which names count as rotated logs ([`is_rotated_log`]) and crash dumps ([`is_crash_dump`]) is
//! decided here, once, for every command.

use super::beneath::{self, Item, Kind, Root, SweepOptions, WalkOptions};
use super::runner::{Limits, RunError, Runner};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Where rotated logs may be removed by their names alone.
pub const LOG_ROOT: &str = "/var/log";

/// apt's package cache (what `apt-get clean` empties).
pub const APT_ARCHIVES: &str = "/var/cache/apt/archives";

/// Whether `name` is a rotated log: compressed (`x.gz`, `x.2.gz`, `.xz`, `.bz2`, `.zst`),
/// numbered (`x.1`), `x.old`, or dated (`x-YYYYMMDD`). A live log (`x.log`, `syslog`) is not.
pub fn is_rotated_log(name: &OsStr) -> bool {
    let Some(n) = name.to_str() else {
        return false;
    };
    if n.starts_with('.') {
        return false;
    }
    let stem_ok = |s: &str| !s.is_empty();
    if [".gz", ".xz", ".bz2", ".zst", ".lz4"]
        .iter()
        .any(|e| n.strip_suffix(e).is_some_and(stem_ok))
    {
        return true;
    }
    if n.strip_suffix(".old").is_some_and(stem_ok) {
        return true;
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some((stem, tail)) = n.rsplit_once('.') {
        if stem_ok(stem) && digits(tail) && tail.len() <= 4 {
            return true;
        }
    }
    if let Some((stem, tail)) = n.rsplit_once('-') {
        if stem_ok(stem)
            && tail.len() == 8
            && digits(tail)
            && (tail.starts_with("19") || tail.starts_with("20"))
        {
            return true;
        }
    }
    false
}

/// Whether `name` is a crash dump: `core`, `core.*` (systemd-coredump), `vmcore*` and `dump.*`
/// (kdump), `*.crash` (apport), `*.dmp`, `*.core`.
pub fn is_crash_dump(name: &OsStr) -> bool {
    let Some(n) = name.to_str() else {
        return false;
    };
    n == "core"
        || n.starts_with("core.")
        || n.starts_with("vmcore")
        || n.starts_with("dump.")
        || [".crash", ".dmp", ".core"]
            .iter()
            .any(|e| n.strip_suffix(e).is_some_and(|s| !s.is_empty()))
}

/// A user path beneath one of `roots` (`what` names them in the refusal: "read", "remove"),
/// opened, with the rest relative to it.
fn beneath_one(path: &str, roots: &[PathBuf], what: &str) -> Result<(Root, PathBuf), String> {
    let abs = beneath::absolute(path)?;
    let Some((root, rel)) = beneath::root_of(&abs, roots) else {
        return Err(format!(
            "refusing '{}': it is not beneath a folder pep may {what} on this machine ({})",
            abs.display(),
            beneath::list(roots)
        ));
    };
    Ok((Root::open(root)?, rel))
}

/// One child of a measured folder.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildSize {
    /// Its full path.
    pub path: PathBuf,
    /// Bytes of the regular files in it (itself, for a file).
    pub bytes: u64,
    /// Regular files in it (1 for a file).
    pub files: u64,
    /// The newest modification of those files (a folder without files: its own).
    pub modified: Option<DateTime<Utc>>,
}

/// The folders and files directly under `path` (beneath one of `read_roots`), each with the
/// size and count of the regular files beneath it, largest first; a file named is measured
/// alone. Links are not followed and not counted.
pub fn folder_sizes(path: &str, read_roots: &[PathBuf]) -> Result<Vec<ChildSize>, String> {
    let (root, rel) = beneath_one(path, read_roots, "read")?;
    let (_, st) = root.lookup(&rel)?;
    let base = root.full(&rel);
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Directory {
        let items = file_items(&root, &rel)?;
        return Ok(items
            .into_iter()
            .map(|(_, it)| ChildSize {
                path: it.path,
                bytes: it.bytes,
                files: 1,
                modified: it.modified,
            })
            .collect());
    }
    let items = beneath::walk(
        &root,
        &rel,
        WalkOptions {
            recurse: true,
            max_entries: beneath::MAX_ENTRIES,
        },
    )?;
    let mut children: BTreeMap<PathBuf, ChildSize> = BTreeMap::new();
    for it in items {
        let Some(first) = it
            .path
            .strip_prefix(&base)
            .ok()
            .and_then(|r| r.components().next())
        else {
            continue;
        };
        let child = base.join(first);
        let direct = child == it.path;
        match it.kind {
            Kind::Dir if direct => {
                children.entry(child.clone()).or_insert(ChildSize {
                    path: child,
                    bytes: 0,
                    files: 0,
                    modified: it.modified,
                });
            }
            Kind::File => {
                let e = children.entry(child.clone()).or_insert(ChildSize {
                    path: child,
                    bytes: 0,
                    files: 0,
                    modified: None,
                });
                if e.files == 0 {
                    e.modified = None;
                }
                e.bytes += it.bytes;
                e.files += 1;
                e.modified = e.modified.max(it.modified);
            }
            _ => {}
        }
    }
    let mut rows: Vec<ChildSize> = children.into_values().collect();
    rows.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
    Ok(rows)
}

/// The regular file `rel` as an item (with its path relative to the root).
fn file_items(root: &Root, rel: &Path) -> Result<Vec<(PathBuf, Item)>, String> {
    let (_, st) = root.lookup(rel)?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(format!(
            "'{}' is not a regular file or folder; only files are read",
            root.full(rel).display()
        ));
    }
    Ok(vec![(
        rel.to_path_buf(),
        Item {
            path: root.full(rel),
            kind: Kind::File,
            bytes: u64::try_from(st.st_size).unwrap_or(0),
            modified: DateTime::from_timestamp(
                st.st_mtime,
                u32::try_from(st.st_mtime_nsec).unwrap_or(0),
            ),
        },
    )])
}

/// The files a copy takes, beneath an opened read root.
#[derive(Debug)]
pub struct CopyPlan {
    root: Root,
    /// Each file: its path relative to the root, and what it is (size when listed).
    pub files: Vec<(PathBuf, Item)>,
}

impl CopyPlan {
    /// The regular files at `path` (beneath one of `read_roots`): the file named, or those in
    /// the folder named (and its subfolders with `recurse`). Links are not followed.
    pub fn new(path: &str, read_roots: &[PathBuf], recurse: bool) -> Result<CopyPlan, String> {
        let (root, rel) = beneath_one(path, read_roots, "read")?;
        let (_, st) = root.lookup(&rel)?;
        let files =
            if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory {
                beneath::walk(
                    &root,
                    &rel,
                    WalkOptions {
                        recurse,
                        max_entries: beneath::MAX_ENTRIES,
                    },
                )?
                .into_iter()
                .filter(|it| it.kind == Kind::File)
                .filter_map(|it| {
                    let r = it.path.strip_prefix(root.path()).ok()?.to_path_buf();
                    Some((r, it))
                })
                .collect()
            } else {
                file_items(&root, &rel)?
            };
        Ok(CopyPlan { root, files })
    }

    /// Opens a planned file (by its path relative to the root) for reading, with its size now.
    pub fn open(&self, rel: &Path) -> Result<(File, u64), String> {
        self.root.open_file(rel)
    }
}

/// What a removal may take at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Beneath a remove root: anything.
    Anything,
    /// Beneath the log root (and no remove root): rotated logs only.
    RotatedLogs,
}

/// A removal, validated: the path is beneath a remove root, or beneath the log root.
#[derive(Debug)]
pub struct Removal {
    root: Root,
    rel: PathBuf,
    /// What it may take.
    pub scope: Scope,
}

impl Removal {
    /// Validates `path` for removal: beneath one of `remove_roots` (anything may go), else
    /// beneath `log_root` (rotated logs only: a live log named is refused).
    pub fn new(path: &str, remove_roots: &[PathBuf], log_root: &Path) -> Result<Removal, String> {
        let abs = beneath::absolute(path)?;
        if let Some((root, rel)) = beneath::root_of(&abs, remove_roots) {
            return Ok(Removal {
                root: Root::open(root)?,
                rel,
                scope: Scope::Anything,
            });
        }
        let logs = [log_root.to_path_buf()];
        let Some((root, rel)) = beneath::root_of(&abs, &logs) else {
            return Err(format!(
                "refusing to remove '{}': only paths beneath the remove roots ({}) and rotated logs beneath {} may be removed; nothing was done",
                abs.display(),
                beneath::list(remove_roots),
                log_root.display()
            ));
        };
        let root = Root::open(root)?;
        let (_, st) = root.lookup(&rel)?;
        let is_dir =
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory;
        let rotated = rel.file_name().is_some_and(is_rotated_log);
        if !is_dir && !rotated {
            return Err(format!(
                "refusing to remove '{}': it is a live log, not a rotated one (beneath {} pep removes only rotated logs: x.1, x.2.gz, x.old, x-YYYYMMDD); nothing was done",
                abs.display(),
                log_root.display()
            ));
        }
        Ok(Removal {
            root,
            rel,
            scope: Scope::RotatedLogs,
        })
    }

    /// The path to remove.
    pub fn path(&self) -> PathBuf {
        self.root.full(&self.rel)
    }

    /// Removes (or, without `act`, lists) what may go at the path: beneath a remove root the
    /// file, or with `recurse` the folder and its content (a root itself keeps, its content
    /// goes); beneath the log root the rotated logs only, folders kept.
    pub fn run(&self, recurse: bool, act: bool) -> Result<Vec<Item>, String> {
        let any = |_: &OsStr| true;
        let rotated = |n: &OsStr| is_rotated_log(n);
        let opts = SweepOptions {
            wanted: match self.scope {
                Scope::Anything => &any,
                Scope::RotatedLogs => &rotated,
            },
            remove_dirs: self.scope == Scope::Anything,
            recurse,
            act,
        };
        beneath::sweep(&self.root, &self.rel, &opts)
    }
}

/// One clean-up category and what it removed (or would).
#[derive(Debug, Clone, PartialEq)]
pub struct Cleaned {
    /// `Rotated logs`, `Crash dumps`, `APT package cache`.
    pub category: &'static str,
    /// The files removed (or that would be).
    pub items: Vec<Item>,
}

impl Cleaned {
    /// Bytes freed.
    pub fn bytes(&self) -> u64 {
        self.items.iter().map(|i| i.bytes).sum()
    }

    /// Files removed.
    pub fn files(&self) -> u64 {
        self.items.iter().filter(|i| i.kind != Kind::Dir).count() as u64
    }
}

/// The files of `wanted` names beneath `root` swept (or listed); a root that does not exist
/// has none.
fn sweep_names(
    root: &Path,
    wanted: &dyn Fn(&OsStr) -> bool,
    act: bool,
) -> Result<Vec<Item>, String> {
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    let root = Root::open(root)?;
    beneath::sweep(
        &root,
        Path::new(""),
        &SweepOptions {
            wanted,
            remove_dirs: false,
            recurse: true,
            act,
        },
    )
}

/// The known-safe clean-up of the file categories: rotated logs beneath `log_root` and crash
/// dumps beneath each of `remove_roots`, removed (or, without `act`, listed).
pub fn clean_files(
    log_root: &Path,
    remove_roots: &[PathBuf],
    act: bool,
) -> Result<Vec<Cleaned>, String> {
    let rotated = |n: &OsStr| is_rotated_log(n);
    let dumps = |n: &OsStr| is_crash_dump(n);
    let logs = sweep_names(log_root, &rotated, act)?;
    let mut crash = Vec::new();
    for r in remove_roots {
        for it in sweep_names(r, &dumps, act)? {
            if !logs
                .iter()
                .chain(crash.iter())
                .any(|i: &Item| i.path == it.path)
            {
                crash.push(it);
            }
        }
    }
    Ok(vec![
        Cleaned {
            category: "Crash dumps",
            items: crash,
        },
        Cleaned {
            category: "Rotated logs",
            items: logs,
        },
    ])
}

/// apt's package cache: the downloaded packages in `archives` (and its `partial/`). Listed
/// without `act`; with it, `apt-get clean` empties it (apt takes its own lock, so a running
/// apt or dpkg makes it fail rather than lose a package mid-install) and the files gone are
/// returned. None when the folder does not exist (no apt).
pub fn clean_apt_cache(archives: &Path, runner: &Runner, act: bool) -> Result<Cleaned, String> {
    let list = || -> Result<Vec<Item>, String> {
        if !archives.is_dir() {
            return Ok(Vec::new());
        }
        let root = Root::open(archives)?;
        Ok(beneath::walk(
            &root,
            Path::new(""),
            WalkOptions {
                recurse: true,
                max_entries: beneath::MAX_ENTRIES,
            },
        )?
        .into_iter()
        .filter(|i| i.kind == Kind::File && i.path.extension() == Some(OsStr::new("deb")))
        .collect())
    };
    let before = list()?;
    if !act || before.is_empty() {
        return Ok(Cleaned {
            category: "APT package cache",
            items: before,
        });
    }
    match runner.run("apt-get", &["clean"], Limits::default()) {
        Ok(out) if out.success() => {}
        Ok(out) => return Err(format!("apt-get clean failed: {}", out.first_error_line())),
        Err(RunError::NotFound { .. }) => {
            return Ok(Cleaned {
                category: "APT package cache",
                items: Vec::new(),
            })
        }
        Err(e) => return Err(format!("apt-get clean: {e}")),
    }
    let after = list()?;
    Ok(Cleaned {
        category: "APT package cache",
        items: before
            .into_iter()
            .filter(|b| !after.iter().any(|a| a.path == b.path))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn rotated_logs_and_crash_dumps_by_name() {
        for n in [
            "syslog.1",
            "syslog.2.gz",
            "auth.log.1",
            "dpkg.log.gz",
            "x.old",
            "messages-20240101",
            "messages-20240101.gz",
            "wtmp.1",
        ] {
            assert!(is_rotated_log(OsStr::new(n)), "{n}");
        }
        for n in [
            "syslog",
            "x.log",
            "Xorg.0.log",
            "lastlog",
            ".gz",
            "a-2024",
            "kern.log",
        ] {
            assert!(!is_rotated_log(OsStr::new(n)), "{n}");
        }
        for n in [
            "core",
            "core.bash.0.abc.123.1700000000000000.zst",
            "_usr_bin_x.1000.crash",
            "vmcore",
            "dump.202401011200",
            "app.dmp",
        ] {
            assert!(is_crash_dump(OsStr::new(n)), "{n}");
        }
        for n in ["corefile.txt", "notes", "x.crash.txt"] {
            assert!(!is_crash_dump(OsStr::new(n)), "{n}");
        }
    }

    #[test]
    fn the_log_root_gives_up_rotated_logs_only() {
        let tmp = tempfile::tempdir().expect("tmp");
        let base = fs::canonicalize(tmp.path()).expect("canon");
        let logs = base.join("log");
        let crash = base.join("crash");
        fs::create_dir_all(logs.join("apt")).expect("mk");
        fs::create_dir_all(crash.join("202401011200")).expect("mk");
        for (p, b) in [
            ("log/x.log", 4usize),
            ("log/x.log.1", 3),
            ("log/apt/history.log.2.gz", 2),
            ("crash/_usr_bin_x.0.crash", 10),
            ("crash/202401011200/vmcore", 20),
            ("crash/notes.txt", 1),
        ] {
            fs::write(base.join(p), vec![b'x'; b]).expect("w");
        }
        let roots = vec![crash.clone()];
        let e = Removal::new(&base.join("log/x.log").to_string_lossy(), &roots, &logs)
            .expect_err("live");
        assert!(e.contains("live log"), "{e}");
        let e = Removal::new(&base.join("other").to_string_lossy(), &roots, &logs)
            .expect_err("outside");
        assert!(e.contains("remove roots"), "{e}");
        let r = Removal::new(&base.join("log/x.log.1").to_string_lossy(), &roots, &logs)
            .expect("rotated");
        assert_eq!(r.scope, Scope::RotatedLogs);
        assert_eq!(r.run(false, true).expect("rm").len(), 1);
        assert!(logs.join("x.log").exists() && !logs.join("x.log.1").exists());
        // The clean-up: listed first, then removed; the live log and other files stay.
        fs::write(logs.join("x.log.1"), b"abc").expect("w");
        let plan = clean_files(&logs, &roots, false).expect("plan");
        assert_eq!(
            plan.iter()
                .map(|c| (c.files(), c.bytes()))
                .collect::<Vec<_>>(),
            [(2, 30), (2, 5)]
        );
        assert!(logs.join("x.log.1").exists());
        let done = clean_files(&logs, &roots, true).expect("clean");
        assert_eq!(done, plan);
        assert!(logs.join("x.log").exists() && crash.join("notes.txt").exists());
        assert!(!logs.join("apt/history.log.2.gz").exists() && logs.join("apt").is_dir());
        assert!(!crash.join("202401011200/vmcore").exists());
    }

    #[test]
    fn folder_sizes_match_the_disk_and_skip_links() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = fs::canonicalize(tmp.path()).expect("canon");
        fs::create_dir_all(root.join("big/deeper")).expect("mk");
        fs::create_dir_all(root.join("empty")).expect("mk");
        fs::write(root.join("big/a"), vec![0u8; 3000]).expect("w");
        fs::write(root.join("big/deeper/b"), vec![0u8; 2000]).expect("w");
        fs::write(root.join("small"), vec![0u8; 10]).expect("w");
        symlink("/etc", root.join("etc")).expect("ln");
        let roots = vec![root.clone()];
        let rows = folder_sizes(&root.to_string_lossy(), &roots).expect("sizes");
        let got: Vec<(String, u64, u64)> = rows
            .iter()
            .map(|r| {
                (
                    r.path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    r.bytes,
                    r.files,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("big".to_string(), 5000, 2),
                ("small".to_string(), 10, 1),
                ("empty".to_string(), 0, 0)
            ]
        );
        let e = folder_sizes(&root.join("etc").to_string_lossy(), &roots).expect_err("out");
        assert!(e.contains("leads outside"), "{e}");
        let e = folder_sizes("/etc", &roots).expect_err("not beneath");
        assert!(e.contains("not beneath"), "{e}");
    }
}
