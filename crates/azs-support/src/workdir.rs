//! The working directory: where every file a command writes lands.
//!
//! A support case has one: every session of a support identity under one grant (exec and
//! interactive) shares the directory named for the grant's UTC start, the grant and the identity
//! ([`WorkdirParent::case`]), so what one `ssh host 'COMMAND'` saved is there for the next; a new
//! grant starts a new one. Operators' sessions each keep their own, named for their UTC start
//! time and session id ([`WorkdirParent::session`]). All live under a parent ([`WorkdirParent`]:
//! `<state>/workdirs`), created on first use with mode 0700; every directory pep creates in it is 0700 and
//! every file 0600. Paths a user gives are resolved beneath it: absolute paths, `..`, empty or
//! control-character components, and symlinks anywhere on the way are refused, and the resolved
//! path must still lie under the canonical root. Files are created with `create_new` (`O_EXCL`,
//! which also refuses a symlink planted at the final name).
//!
//! Two limits bound what is written: a quota per working directory, and the state directory's
//! [`DiskBudget`], which every write is charged to before it happens (bulk class). The parent
//! knows which of its directories live sessions use, so cleanup never removes one of those.

use crate::disk_budget::{BudgetError, DiskBudget, WriteClass};
use crate::escape::escape_text as escape;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// A working-directory failure, worded for the user (one line).
#[derive(Debug, thiserror::Error)]
pub enum WorkdirError {
    /// The path given leaves the working directory or is malformed.
    #[error("the path '{path}' is not allowed: {why}; paths are relative to the working directory and stay inside it")]
    PathRefused {
        /// The path as given (control characters escaped).
        path: String,
        /// Which rule it broke.
        why: &'static str,
    },
    /// Writing would pass the quota.
    #[error("the working directory quota of {quota} bytes would be exceeded ({used} bytes used, {wanted} more requested)")]
    QuotaExceeded {
        /// The quota in bytes.
        quota: u64,
        /// Bytes already stored.
        used: u64,
        /// Bytes the write needs.
        wanted: u64,
    },
    /// Writing would pass the state directory's disk budget.
    #[error("{0}")]
    Budget(#[from] BudgetError),
    /// A file of that name exists already.
    #[error("a file named '{0}' already exists in the working directory")]
    Exists(String),
    /// The file system refused.
    #[error("working directory: {0}")]
    Io(#[from] io::Error),
}

/// Where working directories live: the parent path, the quota of each, the disk budget their
/// writes are charged to, and which of them live sessions use.
#[derive(Debug)]
pub struct WorkdirParent {
    path: PathBuf,
    quota_bytes: u64,
    budget: Arc<DiskBudget>,
    /// Directories in use, with how many handles hold each.
    live: Mutex<HashMap<PathBuf, usize>>,
    /// The working directories of the current grant's cases: held (and so live, safe from
    /// clean-up) for as long as the grant is the current one, between sessions too.
    cases: Mutex<HashMap<String, Arc<WorkingDirectory>>>,
}

impl WorkdirParent {
    /// The parent at `path` (created on first use), each directory holding at most `quota_bytes`.
    pub fn new(path: &Path, quota_bytes: u64, budget: Arc<DiskBudget>) -> Arc<Self> {
        Arc::new(WorkdirParent {
            path: path.to_path_buf(),
            quota_bytes,
            budget,
            live: Mutex::new(HashMap::new()),
            cases: Mutex::new(HashMap::new()),
        })
    }

    /// The parent directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The disk budget writes are charged to.
    pub fn budget(&self) -> &DiskBudget {
        &self.budget
    }

    /// The working directory of a session that started at `started` with id `session_id`.
    /// Nothing is created until first use; the directory counts as live until it is dropped.
    pub fn session(self: &Arc<Self>, started: DateTime<Utc>, session_id: &str) -> WorkingDirectory {
        self.open(format!(
            "{}-{}",
            started.format("%Y%m%dT%H%M%SZ"),
            session_id
        ))
    }

    /// The working directory of a support case: the one every session of identity `who` under
    /// grant `grant` (which started at `started`) shares — `grant` and `who` made of
    /// `[A-Za-z0-9_-]` only. One instance serves them all (one count of the bytes stored), and it
    /// stays live while the grant is the current one: the first case of another grant releases
    /// the earlier grant's directories (kept on disk, no longer protected from clean-up).
    pub fn case(
        self: &Arc<Self>,
        started: DateTime<Utc>,
        grant: &str,
        who: &str,
    ) -> Arc<WorkingDirectory> {
        let prefix = format!("{}-{grant}-", started.format("%Y%m%dT%H%M%SZ"));
        let name = format!("{prefix}{who}");
        let mut cases = self.cases.lock().unwrap_or_else(|p| p.into_inner());
        cases.retain(|k, _| k.starts_with(&prefix));
        cases
            .entry(name.clone())
            .or_insert_with(|| Arc::new(self.open(name)))
            .clone()
    }

    fn open(self: &Arc<Self>, name: String) -> WorkingDirectory {
        let path = self.path.join(name);
        *self.live_set().entry(path.clone()).or_insert(0) += 1;
        WorkingDirectory {
            parent: self.clone(),
            path,
            created: OnceLock::new(),
            used: Mutex::new(None),
        }
    }

    fn live_set(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, usize>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a live session uses the directory at `dir` (a child of this parent).
    pub fn is_live(&self, dir: &Path) -> bool {
        self.live_set().contains_key(dir)
    }

    /// Removes the directory tree at `dir` unless a live session uses it; returns the bytes
    /// freed (given back to the budget), or None when it is live.
    pub fn remove_unused(&self, dir: &Path) -> io::Result<Option<u64>> {
        // Held while removing, so a session cannot start using it half-way.
        let live = self.live_set();
        if live.contains_key(dir) {
            return Ok(None);
        }
        let bytes = tree_bytes(dir).unwrap_or(0);
        fs::remove_dir_all(dir)?;
        drop(live);
        self.budget.release(bytes);
        Ok(Some(bytes))
    }
}

/// A working directory (a case's, or an operator session's).
///
/// Only its holders write into it — one instance shared by the case's live sessions — so the bytes
/// stored are counted once (on first write) and then kept up to date, instead of walking the
/// directory on every write.
#[derive(Debug)]
pub struct WorkingDirectory {
    parent: Arc<WorkdirParent>,
    path: PathBuf,
    created: OnceLock<PathBuf>,
    used: Mutex<Option<u64>>,
}

impl Drop for WorkingDirectory {
    fn drop(&mut self) {
        let mut live = self.parent.live_set();
        if let Some(n) = live.get_mut(&self.path) {
            *n -= 1;
            if *n == 0 {
                live.remove(&self.path);
            }
        }
    }
}

/// A file found in the working directory.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkdirFile {
    /// File name.
    pub name: String,
    /// Path relative to the working directory, `/`-separated.
    pub relative_path: String,
    /// Size in bytes.
    pub length: u64,
    /// Last modification, UTC.
    pub modified: DateTime<Utc>,
}

impl WorkingDirectory {
    /// A working directory under `parent` with its own quota and no disk budget (tests and
    /// tools; the endpoint makes them through [`WorkdirParent::session`]).
    pub fn new(parent: &Path, started: DateTime<Utc>, session_id: &str, quota_bytes: u64) -> Self {
        WorkdirParent::new(parent, quota_bytes, Arc::new(DiskBudget::unlimited()))
            .session(started, session_id)
    }

    /// The parent it lives under.
    pub fn parent(&self) -> &Arc<WorkdirParent> {
        &self.parent
    }

    /// Where the directory is (or will be).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path as support sees it: relative to this working directory (`dumps/x.dmp`), the
    /// directory itself and its siblings by their names — never the server's absolute path.
    pub fn shown(&self, path: &Path) -> String {
        let rel = path
            .strip_prefix(&self.path)
            .ok()
            .filter(|r| !r.as_os_str().is_empty())
            .or_else(|| path.strip_prefix(self.parent.path()).ok())
            .unwrap_or_else(|| Path::new(path.file_name().unwrap_or_default()));
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The quota in bytes.
    pub fn quota_bytes(&self) -> u64 {
        self.parent.quota_bytes
    }

    /// The directory's canonical path, creating it (mode 0700) on first use.
    pub fn ensure(&self) -> Result<&Path, WorkdirError> {
        if let Some(p) = self.created.get() {
            return Ok(p);
        }
        create_private_dirs(&self.path)?;
        set_private(&self.path)?;
        let canonical = fs::canonicalize(&self.path)?;
        Ok(self.created.get_or_init(|| canonical))
    }

    /// Resolves a user-given relative path beneath the directory, refusing anything that could
    /// lead out of it. The result need not exist.
    pub fn resolve(&self, user_path: &str) -> Result<PathBuf, WorkdirError> {
        let refuse = |why| WorkdirError::PathRefused {
            path: escape(user_path),
            why,
        };
        if user_path.is_empty() {
            return Err(refuse("it is empty"));
        }
        if user_path.chars().any(crate::escape::needs_escape) {
            return Err(refuse("it contains a control character"));
        }
        let rel = Path::new(user_path);
        let mut clean = PathBuf::new();
        for comp in rel.components() {
            match comp {
                Component::Normal(c) => clean.push(c),
                Component::CurDir => {}
                Component::ParentDir => return Err(refuse("'..' is not allowed")),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(refuse("absolute paths are not allowed"))
                }
            }
        }
        if clean.as_os_str().is_empty() {
            return Err(refuse("it names the working directory itself"));
        }
        let root = self.ensure()?.to_path_buf();
        // Walk the components: none that exists may be a symlink.
        let mut cur = root.clone();
        for comp in clean.components() {
            cur.push(comp);
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(refuse("it passes through a symbolic link"))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) => return Err(e.into()),
            }
        }
        let full = root.join(&clean);
        if !full.starts_with(&root) {
            return Err(refuse("it leads outside the working directory"));
        }
        Ok(full)
    }

    /// Creates a new file at `user_path` (relative) holding `bytes`, within the quota.
    /// Parent directories inside the working directory are created as needed.
    pub fn write_new(&self, user_path: &str, bytes: &[u8]) -> Result<PathBuf, WorkdirError> {
        let target = self.resolve(user_path)?;
        let mut used_slot = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let used = match *used_slot {
            Some(u) => u,
            None => self.used_bytes()?,
        };
        let wanted = bytes.len() as u64;
        let quota = self.parent.quota_bytes;
        if used.saturating_add(wanted) > quota {
            return Err(WorkdirError::QuotaExceeded {
                quota,
                used,
                wanted,
            });
        }
        let budget = &self.parent.budget;
        budget.charge(wanted, WriteClass::Bulk)?;
        let written = write_private_file(&target, bytes);
        match written {
            Ok(()) => {
                *used_slot = Some(used + wanted);
                Ok(target)
            }
            Err(e) => {
                budget.release(wanted);
                Err(match e.kind() {
                    io::ErrorKind::AlreadyExists => WorkdirError::Exists(escape(user_path)),
                    _ => e.into(),
                })
            }
        }
    }

    /// Counts `bytes` about to be written into the directory by a streaming writer (a bundle
    /// growing as it is compressed), against the quota and the disk budget; refused when either
    /// would be passed. A writer that then removes what it wrote gives it back with
    /// [`WorkingDirectory::unreserve`].
    pub fn reserve(&self, bytes: u64) -> Result<(), WorkdirError> {
        let mut used_slot = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let used = match *used_slot {
            Some(u) => u,
            None => self.used_bytes()?,
        };
        let quota = self.parent.quota_bytes;
        if used.saturating_add(bytes) > quota {
            return Err(WorkdirError::QuotaExceeded {
                quota,
                used,
                wanted: bytes,
            });
        }
        self.parent.budget.charge(bytes, WriteClass::Bulk)?;
        *used_slot = Some(used + bytes);
        Ok(())
    }

    /// Gives back bytes [`WorkingDirectory::reserve`] counted (a partial file removed).
    pub fn unreserve(&self, bytes: u64) {
        let mut used_slot = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(u) = used_slot.as_mut() {
            *u = u.saturating_sub(bytes);
        }
        self.parent.budget.release(bytes);
    }

    /// Creates a new private directory at `user_path` (relative; refused when it exists) and
    /// returns its full path.
    pub fn create_dir(&self, user_path: &str) -> Result<PathBuf, WorkdirError> {
        let target = self.resolve(user_path)?;
        if target.exists() {
            return Err(WorkdirError::Exists(escape(user_path)));
        }
        create_private_dirs(&target)?;
        set_private(&target)?;
        Ok(target)
    }

    /// Creates `<stem>.<ext>`, or when that name is taken `<stem>_<yyyyMMdd-HHmmss.fff>.<ext>`
    /// (then `-2`, `-3`, ...): a command that writes the same file on every run keeps each run's
    /// file without scanning for a free name.
    pub fn write_unique(
        &self,
        stem: &str,
        ext: &str,
        now: DateTime<Utc>,
        bytes: &[u8],
    ) -> Result<PathBuf, WorkdirError> {
        let ext = ext.trim_start_matches('.');
        let stamped = format!("{stem}_{}", now.format("%Y%m%d-%H%M%S%.3f"));
        let mut candidates = vec![format!("{stem}.{ext}"), format!("{stamped}.{ext}")];
        candidates.extend((2..=99).map(|n| format!("{stamped}-{n}.{ext}")));
        for name in &candidates {
            match self.write_new(name, bytes) {
                Err(WorkdirError::Exists(_)) => continue,
                other => return other,
            }
        }
        Err(WorkdirError::Exists(escape(&format!("{stamped}-99.{ext}"))))
    }

    /// Creates `rel` (a path beneath the directory, `dumps/x.dmp`), or when that name is taken in
    /// the case already, the same name stamped with `now` ([`WorkingDirectory::write_unique`]):
    /// a command run twice in one case keeps both files. Returns where it wrote.
    pub fn write_keeping(
        &self,
        rel: &str,
        now: DateTime<Utc>,
        bytes: &[u8],
    ) -> Result<PathBuf, WorkdirError> {
        let file = rel.rsplit('/').next().unwrap_or(rel);
        match file.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => {
                let dir_len = rel.len() - file.len();
                self.write_unique(&format!("{}{stem}", &rel[..dir_len]), ext, now, bytes)
            }
            _ => match self.write_new(rel, bytes) {
                Err(WorkdirError::Exists(_)) => self.write_unique(rel, "bin", now, bytes),
                other => other,
            },
        }
    }

    /// Bytes stored (regular files, recursively; symlinks are not followed).
    pub fn used_bytes(&self) -> Result<u64, WorkdirError> {
        Ok(self.files(true)?.iter().map(|f| f.length).sum())
    }

    /// The files present, top level only or recursively, sorted by relative path.
    pub fn files(&self, recurse: bool) -> Result<Vec<WorkdirFile>, WorkdirError> {
        let root = match self.created.get() {
            Some(r) => r.clone(),
            None if !self.path.exists() => return Ok(Vec::new()),
            None => self.ensure()?.to_path_buf(),
        };
        let mut out = Vec::new();
        walk(&root, &root, recurse, &mut out)?;
        out.sort_by(|a, b| a.relative_path.cmp(&b.relative_path));
        Ok(out)
    }

    /// Removes everything inside the directory (the directory itself stays). Returns the number
    /// of files removed and the bytes freed.
    pub fn clear(&self) -> Result<(u64, u64), WorkdirError> {
        // Recounted on the next write.
        *self.used.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let files = self.files(true)?;
        let count = files.len() as u64;
        let bytes = files.iter().map(|f| f.length).sum();
        let Some(root) = self.created.get().cloned().or_else(|| {
            self.path
                .exists()
                .then(|| fs::canonicalize(&self.path).ok())
                .flatten()
        }) else {
            return Ok((0, 0));
        };
        for entry in fs::read_dir(&root)? {
            let entry = entry?;
            let ft = entry.file_type()?;
            if ft.is_dir() {
                fs::remove_dir_all(entry.path())?;
            } else {
                fs::remove_file(entry.path())?;
            }
        }
        self.parent.budget.release(bytes);
        Ok((count, bytes))
    }
}

/// Bytes of the regular files below `dir`, recursively (symlinks are not followed).
pub fn tree_bytes(dir: &Path) -> io::Result<u64> {
    let mut files = Vec::new();
    walk(dir, dir, true, &mut files)?;
    Ok(files.iter().map(|f| f.length).sum())
}

fn walk(root: &Path, dir: &Path, recurse: bool, out: &mut Vec<WorkdirFile>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            if recurse {
                walk(root, &entry.path(), recurse, out)?;
            }
        } else if ft.is_file() {
            let rel = entry
                .path()
                .strip_prefix(root)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            let modified = meta
                .modified()
                .map(DateTime::<Utc>::from)
                .unwrap_or_else(|_| Utc::now());
            out.push(WorkdirFile {
                name: entry.file_name().to_string_lossy().into_owned(),
                relative_path: rel,
                length: meta.len(),
                modified,
            });
        }
    }
    Ok(())
}

/// Creates `path` and its missing parents, each 0700.
fn create_private_dirs(path: &Path) -> io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(path)
}

/// Creates a new file (never replacing one, never through a planted symlink) readable by its
/// owner only, holding `bytes`; parent directories inside the working directory are made 0700.
fn write_private_file(target: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(parent) = target.parent() {
        create_private_dirs(parent)?;
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(target)?;
    // No fsync: a diagnostic artefact lost to a crash is written again by rerunning the
    // command, and syncing every file would dominate commands that write many.
    file.write_all(bytes)
}

#[cfg(unix)]
fn set_private(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn set_private(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wd(quota: u64) -> (tempfile::TempDir, WorkingDirectory) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let w = WorkingDirectory::new(tmp.path(), Utc::now(), "s1", quota);
        (tmp, w)
    }

    #[test]
    fn created_lazily_with_timestamped_name() {
        let (_t, w) = wd(1000);
        assert!(!w.path().exists());
        let name = w
            .path()
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(name.ends_with("Z-s1"), "{name}");
        w.ensure().expect("ensure");
        assert!(w.path().is_dir());
    }

    #[test]
    fn refuses_escapes() {
        let (_t, w) = wd(1000);
        for bad in ["../x", "a/../../x", "/tmp/PWNED", "", ".", "a\u{1b}b"] {
            assert!(
                matches!(w.resolve(bad), Err(WorkdirError::PathRefused { .. })),
                "{bad:?} accepted"
            );
        }
        assert!(w.resolve("sub/file.txt").is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlink_out() {
        let (t, w) = wd(1000);
        let root = w.ensure().expect("ensure").to_path_buf();
        std::os::unix::fs::symlink(t.path(), root.join("link")).expect("symlink");
        assert!(matches!(
            w.resolve("link/x"),
            Err(WorkdirError::PathRefused { .. })
        ));
        std::os::unix::fs::symlink("/tmp/elsewhere", root.join("planted")).expect("symlink");
        assert!(w.write_new("planted", b"x").is_err());
    }

    #[test]
    fn quota_enforced_and_clear_frees() {
        let (_t, w) = wd(10);
        w.write_new("a.txt", b"12345").expect("first write");
        let err = w.write_new("b.txt", b"123456").expect_err("over quota");
        assert!(err.to_string().contains("quota"), "{err}");
        assert!(matches!(
            w.write_new("a.txt", b"1"),
            Err(WorkdirError::Exists(_))
        ));
        assert_eq!(w.files(true).expect("files").len(), 1);
        assert_eq!(w.clear().expect("clear"), (1, 5));
        assert!(w.files(true).expect("files").is_empty());
        assert!(w.path().is_dir());
    }

    #[test]
    fn a_case_directory_is_shared_by_its_sessions_and_a_new_grant_starts_another() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let parent = WorkdirParent::new(tmp.path(), 1 << 20, Arc::new(DiskBudget::unlimited()));
        let t = Utc::now();
        let a = parent.case(t, "grant1", "sam");
        let b = parent.case(t, "grant1", "sam");
        assert!(Arc::ptr_eq(&a, &b), "one instance for the case's sessions");
        a.write_new("saved.json", b"{}").expect("write");
        drop(a);
        drop(b);
        // Between sessions the directory stays live (safe from clean-up) and keeps its files.
        let again = parent.case(t, "grant1", "sam");
        assert!(parent.is_live(again.path()));
        assert_eq!(again.files(false).expect("files").len(), 1);
        let other = parent.case(t, "grant1", "alex");
        assert_ne!(other.path(), again.path(), "each identity its own");
        let old = again.path().to_path_buf();
        drop(again);
        drop(other);
        let next = parent.case(t, "grant2", "sam");
        assert_ne!(next.path(), old.as_path());
        assert!(
            !parent.is_live(&old),
            "the old grant's directory is released"
        );
        assert!(old.join("saved.json").exists(), "and kept on disk");
    }
}
