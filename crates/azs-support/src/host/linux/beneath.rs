//! Paths beneath a root: how a path a user names on the real machine is confined to one of the
//! folders the operator allowed (`Node::read_roots`, `Node::remove_roots`), and how what lies
//! beneath it is walked and removed without ever leaving it.
//!
//! A user path is first checked as text ([`absolute`]: absolute, no `..` or `.` segment, no
//! control character) and matched to the root it lies beneath ([`root_of`]). Everything after
//! that happens through file descriptors: the root is opened once ([`Root::open`]) and the rest
//! of the path resolves with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` relative to it,
//! so neither `..` nor a symbolic link (absolute, or relative and climbing) can lead out: the
//! kernel refuses, and the refusal is one line naming the root. Walking a folder
//! ([`walk`], [`sweep`]) opens each entry relative to its parent's descriptor with `O_NOFOLLOW`,
//! never follows a symbolic link and never crosses into another file system. Removal
//! ([`sweep`]) unlinks by name relative to the parent's descriptor, so a directory swapped for a
//! link mid-walk is not followed either.

use chrono::{DateTime, Utc};
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// At most this many entries are looked at by one walk or sweep.
pub const MAX_ENTRIES: usize = 500_000;

/// Folders deeper than this beneath the named path are not entered.
const MAX_DEPTH: usize = 128;

/// How a user path resolves beneath a root: confined, and no magic links (`/proc/*/fd`).
const BENEATH: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_MAGICLINKS);

/// Checks the roots the operator gave (`pep serve --host-read-root/--host-remove-root`): each
/// must be an absolute path of an existing directory that is not itself a symbolic link.
pub fn check_roots(roots: &[PathBuf]) -> Result<(), String> {
    for r in roots {
        let shown = r.display();
        if !r.is_absolute() {
            return Err(format!(
                "host root '{shown}' is not an absolute path; give it as /path/to/folder"
            ));
        }
        if r.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(format!(
                "host root '{shown}' contains '..'; name it directly"
            ));
        }
        match std::fs::symlink_metadata(r) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "host root '{shown}' is a symbolic link; name the folder it points to"
                ))
            }
            Ok(m) if !m.is_dir() => {
                return Err(format!("host root '{shown}' is not a directory"));
            }
            Ok(_) => {}
            Err(e) => return Err(format!("host root '{shown}': {e}")),
        }
    }
    Ok(())
}

/// Checks that pep's own state directory (`state`: its host key, grants, identities, audit log,
/// every case's working directory and transcripts) and the host roots (`roots`, what file
/// commands read or remove beneath, named by `what` in messages) are apart: neither lies in the
/// other, after symbolic links in their paths are resolved. A root that does not exist is left to
/// the commands (they say so); a state directory that cannot be resolved is an error.
pub fn check_apart(state: &Path, roots: &[PathBuf], what: &str) -> Result<(), String> {
    let state_real = std::fs::canonicalize(state)
        .map_err(|e| format!("the state directory {}: {e}", state.display()))?;
    for root in roots {
        let Ok(real) = std::fs::canonicalize(root) else {
            continue;
        };
        if state_real.starts_with(&real) {
            return Err(format!(
                "the state directory {} lies beneath the {what} {}: support engineers could reach \
                 the endpoint's host key, grants, audit log and other cases' files through the file \
                 commands; keep the state elsewhere or name other roots",
                state_real.display(),
                real.display()
            ));
        }
        if real.starts_with(&state_real) {
            return Err(format!(
                "the {what} {} lies inside the state directory {}: support engineers could reach \
                 the endpoint's own files through the file commands; name a root outside it",
                real.display(),
                state_real.display()
            ));
        }
    }
    Ok(())
}

/// A user's path as an absolute Linux path, checked as text: absolute, no `.` or `..`
/// segment, no control character. Trailing and doubled slashes are dropped.
pub fn absolute(user: &str) -> Result<PathBuf, String> {
    let refuse = |why: &str| {
        Err(format!(
            "the path '{}' is not allowed: {why}",
            crate::escape::escape_text(user)
        ))
    };
    if user.chars().any(crate::escape::needs_escape) {
        return refuse("it contains a control character");
    }
    if !user.starts_with('/') {
        return refuse("on a Linux machine give an absolute path (/var/log/...)");
    }
    if user.split('/').any(|s| s == ".." || s == ".") {
        return refuse("'.' and '..' segments are not allowed");
    }
    let mut clean = PathBuf::from("/");
    for c in Path::new(user).components() {
        if let Component::Normal(n) = c {
            clean.push(n);
        }
    }
    Ok(clean)
}

/// The root among `roots` that `path` is or lies beneath (the longest, when roots nest), with
/// the rest of the path relative to it (empty for the root itself).
pub fn root_of<'a>(path: &Path, roots: &'a [PathBuf]) -> Option<(&'a Path, PathBuf)> {
    roots
        .iter()
        .filter_map(|r| {
            path.strip_prefix(r)
                .ok()
                .map(|rest| (r.as_path(), rest.to_path_buf()))
        })
        .max_by_key(|(r, _)| r.as_os_str().len())
}

/// Roots as a list for messages: `/var/log, /var/crash`.
pub fn list(roots: &[PathBuf]) -> String {
    if roots.is_empty() {
        return "none configured".into();
    }
    roots
        .iter()
        .map(|r| r.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What an entry is (symbolic links are never followed, so a link is a link).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Link,
    /// A FIFO, socket or device node.
    Other,
}

/// An entry found beneath a root.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Its full path on the machine.
    pub path: PathBuf,
    /// What it is.
    pub kind: Kind,
    /// Its size (regular files; 0 for the rest).
    pub bytes: u64,
    /// Its last modification.
    pub modified: Option<DateTime<Utc>>,
}

/// A root, opened: every path beneath it resolves relative to this descriptor.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    fd: OwnedFd,
}

fn kind_of(st: &Stat) -> Kind {
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Link,
        _ => Kind::Other,
    }
}

fn modified(st: &Stat) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(st.st_mtime, u32::try_from(st.st_mtime_nsec).unwrap_or(0))
}

fn item(path: PathBuf, st: &Stat) -> Item {
    let kind = kind_of(st);
    Item {
        path,
        kind,
        bytes: if kind == Kind::File {
            u64::try_from(st.st_size).unwrap_or(0)
        } else {
            0
        },
        modified: modified(st),
    }
}

fn c_name(name: &OsStr) -> Result<CString, String> {
    CString::new(name.as_bytes()).map_err(|_| "a name holds a NUL byte".to_string())
}

/// Entry names of the directory `fd` (opened for reading), without `.` and `..`.
fn names(fd: &OwnedFd, path: &Path) -> Result<Vec<OsString>, String> {
    let dir = Dir::read_from(fd).map_err(|e| format!("cannot list {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for entry in dir {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", path.display()))?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            out.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    out.sort();
    Ok(out)
}

/// Opens the subdirectory `name` of `parent` for reading, never through a link.
fn open_subdir(parent: &OwnedFd, name: &OsStr) -> Result<OwnedFd, Errno> {
    let c = CString::new(name.as_bytes()).map_err(|_| Errno::INVAL)?;
    rustix::fs::openat(
        parent,
        c.as_c_str(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

impl Root {
    /// Opens the root folder `path` (absolute; not a symbolic link itself).
    pub fn open(path: &Path) -> Result<Root, String> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            Errno::NOENT => format!(
                "the folder {} does not exist on this machine",
                path.display()
            ),
            Errno::NOTDIR | Errno::LOOP => format!(
                "{} is not a folder (or is a symbolic link): refused as a root",
                path.display()
            ),
            e => format!("cannot open {}: {e}", path.display()),
        })?;
        Ok(Root {
            path: path.to_path_buf(),
            fd,
        })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The full path of `rel` beneath it.
    pub fn full(&self, rel: &Path) -> PathBuf {
        if rel.as_os_str().is_empty() {
            self.path.clone()
        } else {
            self.path.join(rel)
        }
    }

    /// `openat2` of `rel` beneath the root with `resolve` added to BENEATH | NO_MAGICLINKS;
    /// an error is one line naming the path and the root.
    fn openat2(&self, rel: &Path, flags: OFlags, resolve: ResolveFlags) -> Result<OwnedFd, String> {
        let target: &Path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        let mut last = Errno::AGAIN;
        // EAGAIN: a rename raced the resolution; the kernel asks to retry.
        for _ in 0..8 {
            match rustix::fs::openat2(
                &self.fd,
                target,
                flags | OFlags::CLOEXEC,
                Mode::empty(),
                BENEATH | resolve,
            ) {
                Ok(fd) => return Ok(fd),
                Err(Errno::AGAIN) | Err(Errno::INTR) => continue,
                Err(e) => {
                    last = e;
                    break;
                }
            }
        }
        Err(self.refusal(rel, last))
    }

    /// Why `rel` could not be opened, for an operator.
    fn refusal(&self, rel: &Path, e: Errno) -> String {
        let full = self.full(rel);
        let (p, r) = (full.display(), self.path.display());
        match e {
            Errno::XDEV => format!(
                "refusing '{p}': it leads outside {r} (through a symbolic link); nothing was done"
            ),
            Errno::LOOP => format!(
                "refusing '{p}': it passes through a symbolic link, which pep does not follow here; nothing was done"
            ),
            Errno::NOENT => format!("Cannot find path '{p}' because it does not exist"),
            Errno::NOTDIR => format!("Cannot find path '{p}': a part of it is not a folder"),
            Errno::ACCESS | Errno::PERM => format!("'{p}': permission denied"),
            Errno::NOSYS => {
                "this kernel has no openat2 (Linux 5.6 or later is needed to confine paths); nothing was done".to_string()
            }
            e => format!("'{p}': {e}"),
        }
    }

    /// Opens `rel` (following links only while they stay beneath the root) without reading it,
    /// and what it is.
    pub fn lookup(&self, rel: &Path) -> Result<(OwnedFd, Stat), String> {
        let fd = self.openat2(rel, OFlags::PATH, ResolveFlags::empty())?;
        let st = rustix::fs::fstat(&fd).map_err(|e| self.refusal(rel, e))?;
        Ok((fd, st))
    }

    /// Opens the folder `rel` for listing (links followed while they stay beneath the root).
    pub fn open_dir(&self, rel: &Path) -> Result<OwnedFd, String> {
        self.openat2(
            rel,
            OFlags::RDONLY | OFlags::DIRECTORY,
            ResolveFlags::empty(),
        )
    }

    /// Opens the regular file `rel` for reading (links followed while they stay beneath the
    /// root); anything else (a FIFO, a device) is refused without being opened for reading.
    pub fn open_file(&self, rel: &Path) -> Result<(File, u64), String> {
        let (_, st) = self.lookup(rel)?;
        if kind_of(&st) != Kind::File {
            return Err(format!(
                "'{}' is not a regular file; only files are read",
                self.full(rel).display()
            ));
        }
        let fd = self.openat2(
            rel,
            OFlags::RDONLY | OFlags::NONBLOCK,
            ResolveFlags::empty(),
        )?;
        let now = rustix::fs::fstat(&fd).map_err(|e| self.refusal(rel, e))?;
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) {
            return Err(format!(
                "'{}' changed while it was opened; try again",
                self.full(rel).display()
            ));
        }
        Ok((File::from(fd), u64::try_from(now.st_size).unwrap_or(0)))
    }
}

/// What [`walk`] lists.
#[derive(Debug, Clone, Copy)]
pub struct WalkOptions {
    /// Enter subfolders (else only the entries directly in the folder).
    pub recurse: bool,
    /// At most this many entries (an error past it).
    pub max_entries: usize,
}

/// The entries beneath the folder `rel` of `root` (not `rel` itself), parents before their
/// children, sorted by name within a folder. Links are listed, never followed; folders on
/// another file system are listed but not entered.
pub fn walk(root: &Root, rel: &Path, opts: WalkOptions) -> Result<Vec<Item>, String> {
    let fd = root.open_dir(rel)?;
    let dev = rustix::fs::fstat(&fd)
        .map_err(|e| root.refusal(rel, e))?
        .st_dev;
    let mut out = Vec::new();
    walk_dir(&fd, &root.full(rel), dev, opts, 0, &mut out)?;
    Ok(out)
}

fn walk_dir(
    fd: &OwnedFd,
    path: &Path,
    dev: u64,
    opts: WalkOptions,
    depth: usize,
    out: &mut Vec<Item>,
) -> Result<(), String> {
    for name in names(fd, path)? {
        if out.len() >= opts.max_entries {
            return Err(too_many(path, opts.max_entries));
        }
        let c = c_name(&name)?;
        let st = match rustix::fs::statat(fd, c.as_c_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => continue, // gone since listed
            Err(e) => return Err(format!("{}: {e}", path.join(&name).display())),
        };
        let child = path.join(&name);
        let it = item(child.clone(), &st);
        let enter = it.kind == Kind::Dir && opts.recurse && st.st_dev == dev && depth < MAX_DEPTH;
        out.push(it);
        if enter {
            match open_subdir(fd, &name) {
                Ok(sub) => walk_dir(&sub, &child, dev, opts, depth + 1, out)?,
                Err(Errno::NOENT) | Err(Errno::LOOP) | Err(Errno::NOTDIR) => continue,
                Err(e) => return Err(format!("{}: {e}", child.display())),
            }
        }
    }
    Ok(())
}

fn too_many(path: &Path, max: usize) -> String {
    format!(
        "more than {max} entries beneath {}: name a narrower path",
        path.display()
    )
}

/// What [`sweep`] removes.
pub struct SweepOptions<'a> {
    /// Which files (and links) go, by name; the others stay.
    pub wanted: &'a dyn Fn(&OsStr) -> bool,
    /// Remove folders too (each once emptied; the root itself never).
    pub remove_dirs: bool,
    /// Enter subfolders (a folder named without it is refused).
    pub recurse: bool,
    /// Remove (else only list what would go).
    pub act: bool,
}

/// Removes (or, without `act`, lists) what `opts` wants at `rel` beneath `root`: the file (or
/// link: the link itself, never what it points to) named, or the wanted files in the folder
/// named and, with `remove_dirs`, the folders themselves. No symbolic link is followed on the
/// way to `rel` or below it; folders on another file system are not entered. Returns the items
/// removed (or that would be), files before the folders holding them.
pub fn sweep(root: &Root, rel: &Path, opts: &SweepOptions<'_>) -> Result<Vec<Item>, String> {
    let full = root.full(rel);
    // A path leading out through a link is refused as such before anything else.
    root.lookup(rel)?;
    let root_dev = rustix::fs::fstat(&root.fd)
        .map_err(|e| root.refusal(Path::new(""), e))?
        .st_dev;
    let mut out = Vec::new();
    let Some(name) = rel.file_name() else {
        // The root itself: its content only.
        let fd = root.openat2(
            rel,
            OFlags::RDONLY | OFlags::DIRECTORY,
            ResolveFlags::NO_SYMLINKS,
        )?;
        if !opts.recurse {
            return Err(format!(
                "'{}' is a folder; add -Recurse to remove its content",
                full.display()
            ));
        }
        sweep_dir(&fd, &full, root_dev, opts, 0, &mut out)?;
        return Ok(out);
    };
    let parent_rel = rel.parent().unwrap_or(Path::new(""));
    let parent = root.openat2(
        parent_rel,
        OFlags::RDONLY | OFlags::DIRECTORY,
        ResolveFlags::NO_SYMLINKS,
    )?;
    let c = c_name(name)?;
    let st = rustix::fs::statat(&parent, c.as_c_str(), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| root.refusal(rel, e))?;
    let it = item(full.clone(), &st);
    if it.kind != Kind::Dir {
        if !(opts.wanted)(name) {
            return Err(format!(
                "refusing to remove '{}': it is not among what may be removed here; nothing was done",
                full.display()
            ));
        }
        if opts.act {
            rustix::fs::unlinkat(&parent, c.as_c_str(), AtFlags::empty())
                .map_err(|e| format!("cannot remove {}: {e}", full.display()))?;
        }
        return Ok(vec![it]);
    }
    if !opts.recurse {
        return Err(format!(
            "'{}' is a folder; add -Recurse to remove it with its content",
            full.display()
        ));
    }
    if st.st_dev != root_dev {
        return Err(format!(
            "refusing '{}': it is on another file system than {}",
            full.display(),
            root.path.display()
        ));
    }
    let fd = open_subdir(&parent, name).map_err(|e| root.refusal(rel, e))?;
    let emptied = sweep_dir(&fd, &full, root_dev, opts, 0, &mut out)?;
    drop(fd);
    if opts.remove_dirs && emptied {
        if opts.act {
            rustix::fs::unlinkat(&parent, c.as_c_str(), AtFlags::REMOVEDIR)
                .map_err(|e| format!("cannot remove {}: {e}", full.display()))?;
        }
        out.push(it);
    }
    Ok(out)
}

/// Sweeps the folder `fd`; true when everything in it went (so it may go too).
fn sweep_dir(
    fd: &OwnedFd,
    path: &Path,
    dev: u64,
    opts: &SweepOptions<'_>,
    depth: usize,
    out: &mut Vec<Item>,
) -> Result<bool, String> {
    let mut emptied = true;
    for name in names(fd, path)? {
        if out.len() >= MAX_ENTRIES {
            return Err(too_many(path, MAX_ENTRIES));
        }
        let c = c_name(&name)?;
        let child = path.join(&name);
        let st = match rustix::fs::statat(fd, c.as_c_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(format!("{}: {e}", child.display())),
        };
        let it = item(child.clone(), &st);
        if it.kind == Kind::Dir {
            if st.st_dev != dev || depth >= MAX_DEPTH {
                emptied = false;
                continue;
            }
            let sub = match open_subdir(fd, &name) {
                Ok(sub) => sub,
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(format!("{}: {e}", child.display())),
            };
            let sub_emptied = sweep_dir(&sub, &child, dev, opts, depth + 1, out)?;
            drop(sub);
            if opts.remove_dirs && sub_emptied {
                if opts.act {
                    rustix::fs::unlinkat(fd, c.as_c_str(), AtFlags::REMOVEDIR)
                        .map_err(|e| format!("cannot remove {}: {e}", child.display()))?;
                }
                out.push(it);
            } else {
                emptied = false;
            }
        } else if (opts.wanted)(&name) {
            if opts.act {
                match rustix::fs::unlinkat(fd, c.as_c_str(), AtFlags::empty()) {
                    Ok(()) | Err(Errno::NOENT) => {}
                    Err(e) => return Err(format!("cannot remove {}: {e}", child.display())),
                }
            }
            out.push(it);
        } else {
            emptied = false;
        }
    }
    Ok(emptied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = fs::canonicalize(tmp.path()).expect("canon").join("root");
        fs::create_dir_all(root.join("a/b")).expect("mk");
        fs::write(root.join("a/one"), b"12345").expect("w");
        fs::write(root.join("a/b/two"), b"123").expect("w");
        fs::write(root.join("top"), b"1").expect("w");
        (tmp, root)
    }

    #[test]
    fn text_checks_refuse_relative_dot_segments_and_control_characters() {
        assert_eq!(absolute("/var//log/").expect("ok"), Path::new("/var/log"));
        for bad in [
            "var/log",
            "/var/../etc",
            "/var/./log",
            "/var/log\n",
            "C:\\x",
        ] {
            assert!(absolute(bad).is_err(), "{bad}");
        }
        let roots = vec![PathBuf::from("/var"), PathBuf::from("/var/log")];
        let (r, rest) = root_of(Path::new("/var/log/x"), &roots).expect("beneath");
        assert_eq!((r, rest.as_path()), (Path::new("/var/log"), Path::new("x")));
        assert!(root_of(Path::new("/variable"), &roots).is_none());
    }

    #[test]
    fn roots_must_be_absolute_existing_folders_not_links() {
        let (tmp, root) = tree();
        assert!(check_roots(std::slice::from_ref(&root)).is_ok());
        let link = tmp.path().join("link");
        symlink(&root, &link).expect("ln");
        for (bad, want) in [
            (link, "symbolic link"),
            (PathBuf::from("rel/dir"), "absolute"),
            (root.join("top"), "not a directory"),
            (root.join("missing"), "missing"),
        ] {
            let e = check_roots(&[bad]).expect_err("refused");
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn links_out_and_dotdot_are_refused_and_links_are_never_walked() {
        let (_tmp, root) = tree();
        symlink("/etc", root.join("etc")).expect("ln");
        symlink("../../../../../../etc/passwd", root.join("climb")).expect("ln");
        symlink("a", root.join("inside")).expect("ln");
        let r = Root::open(&root).expect("root");
        for rel in ["etc", "etc/passwd", "climb", ".."] {
            let e = r.lookup(Path::new(rel)).expect_err(rel);
            assert!(e.contains("leads outside"), "{rel}: {e}");
        }
        // A link that stays beneath the root is followed when named.
        assert!(r.open_dir(Path::new("inside")).is_ok());
        let all = walk(
            &r,
            Path::new(""),
            WalkOptions {
                recurse: true,
                max_entries: 100,
            },
        )
        .expect("walk");
        let files: u64 = all.iter().map(|i| i.bytes).sum();
        assert_eq!(files, 9, "{all:?}");
        // The link is listed as a link; nothing beneath it is.
        let link = root.join("etc");
        assert!(all
            .iter()
            .all(|i| !i.path.starts_with(&link) || (i.path == link && i.kind == Kind::Link)));
        let e = walk(
            &r,
            Path::new(""),
            WalkOptions {
                recurse: true,
                max_entries: 2,
            },
        )
        .expect_err("bounded");
        assert!(e.contains("more than 2"), "{e}");
    }

    #[test]
    fn the_state_directory_and_the_roots_are_kept_apart() {
        let tmp = tempfile::tempdir().expect("tmp");
        let logs = tmp.path().join("logs");
        let state = logs.join("pep");
        std::fs::create_dir_all(&state).expect("dirs");
        let other = tmp.path().join("other");
        std::fs::create_dir_all(other.join("inner")).expect("dirs");
        let e = check_apart(&state, std::slice::from_ref(&logs), "host read root").expect_err("in");
        assert!(e.contains("lies beneath the host read root"), "{e}");
        let e = check_apart(&logs, std::slice::from_ref(&state), "host remove root")
            .expect_err("inside");
        assert!(e.contains("lies inside the state directory"), "{e}");
        // Through a link: the link's target counts.
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&logs, &link).expect("link");
        let e = check_apart(&link.join("pep"), std::slice::from_ref(&other), "x")
            .and_then(|()| check_apart(&state, std::slice::from_ref(&link), "host read root"))
            .expect_err("via link");
        assert!(e.contains("lies beneath"), "{e}");
        assert!(check_apart(&state, &[other.clone(), tmp.path().join("missing")], "x").is_ok());
        // A sibling with a common prefix is apart.
        let sibling = tmp.path().join("logs-old");
        std::fs::create_dir_all(&sibling).expect("dirs");
        assert!(check_apart(&state, &[sibling], "x").is_ok());
    }

    #[test]
    fn sweep_lists_then_removes_only_what_is_wanted_never_through_links() {
        let (_tmp, root) = tree();
        symlink("/etc", root.join("a/etc")).expect("ln");
        let r = Root::open(&root).expect("root");
        let any = |_: &OsStr| true;
        let mut opts = SweepOptions {
            wanted: &any,
            remove_dirs: true,
            recurse: true,
            act: false,
        };
        let plan = sweep(&r, Path::new("a"), &opts).expect("plan");
        assert_eq!(plan.len(), 5, "{plan:?}"); // b/two, b, etc (the link), one, a
        assert!(root.join("a/b/two").exists());
        opts.act = true;
        let done = sweep(&r, Path::new("a"), &opts).expect("sweep");
        assert_eq!(done, plan);
        assert!(!root.join("a").exists() && root.join("top").exists());
        assert!(Path::new("/etc/passwd").exists() || Path::new("/etc").exists());
        // Only files with wanted names go; the folders holding the rest stay.
        fs::create_dir_all(root.join("c")).expect("mk");
        fs::write(root.join("c/x.log"), b"live").expect("w");
        fs::write(root.join("c/x.log.1"), b"old").expect("w");
        let rotated = |n: &OsStr| n.to_string_lossy().ends_with(".1");
        let opts = SweepOptions {
            wanted: &rotated,
            remove_dirs: false,
            recurse: true,
            act: true,
        };
        let done = sweep(&r, Path::new(""), &opts).expect("root");
        assert_eq!(done.len(), 1, "{done:?}");
        assert!(root.join("c/x.log").exists() && !root.join("c/x.log.1").exists());
        let e = sweep(&r, Path::new("c/x.log"), &opts).expect_err("not wanted");
        assert!(e.contains("refusing"), "{e}");
    }
}
