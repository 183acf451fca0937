//! Atomic file replacement: write a temporary file beside the target, sync it, rename it over the
//! target, sync the directory. A crash leaves the old or the new content, never a torn file.
//!
//! The temporary file is named `<dir>/.pep-tmp-<random>` ([`TEMP_PREFIX`]) and created with the
//! final permissions, so the content is never readable by others, not even for an instant. A
//! process killed between creating and renaming it leaves that file behind; its owner (pep's
//! state directory, at start-up) recognises it by the prefix and removes it.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// How the names of the temporary files [`atomic_write`] makes begin.
pub const TEMP_PREFIX: &str = ".pep-tmp-";

/// Replaces `path` with `bytes` atomically, with permissions `mode` (Unix) from the moment the
/// temporary file is created (less the umask's bits).
pub fn atomic_write(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no parent directory", path.display()),
        )
    })?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    // Exactly `mode`, whatever the umask took away at creation.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = fs::File::open(dir) {
        // Best effort: some file systems refuse fsync on directories.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Sets Unix permissions (no-op elsewhere).
#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Sets Unix permissions (no-op elsewhere).
#[cfg(not(unix))]
pub fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_without_leftovers() {
        let tmp = tempfile::tempdir().expect("tmp");
        let p = tmp.path().join("f.json");
        atomic_write(&p, b"one", 0o600).expect("write");
        atomic_write(&p, b"two", 0o600).expect("write");
        assert_eq!(fs::read(&p).expect("read"), b"two");
        assert_eq!(fs::read_dir(tmp.path()).expect("ls").count(), 1);
    }
}
