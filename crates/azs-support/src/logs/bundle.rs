//! Bundles: one zip per role, written as its entries arrive and streamed to the upload at the
//! same time.
//!
//! A collection directory (`<workdir>/AzureStackLogs-<yyyyMMddHHmmss>-<stamp>/`) receives
//! `AzureStackLogs-<yyyyMMddHHmmss>-<stamp>-<role>.zip` for each role (further parts, once a zip
//! passes [`BundleOptions::part_bytes`], are `...-<role>-part2.zip`, `-part3`, ...), each with a
//! `<zip>.sha256` sidecar (`<hex>  <zip name>`, the `sha256sum` format) written atomically once
//! the zip is complete.
//!
//! Entries compress independently on the callers' threads (the collectors' workers: [`Bundler`]
//! is `Sync`) with zip's `ZipFileBuilder`; only appending the compressed bytes to a role's zip is
//! serialised. A zip is written as a stream (no seeking back), through a sink that writes the
//! file under a `.partial` name (renamed when complete, so a complete name means a complete
//! zip), counts every chunk against the working directory's quota and the disk budget before
//! writing it, hashes it, and hands the same chunks to the upload of that blob when one is
//! running — so the upload starts with the first megabyte, not after the last.

use super::page_buf::PageBuf;
use super::Progress;
use crate::atomic_file::atomic_write;
use crate::workdir::WorkingDirectory;
use bytes::Bytes;
use chrono::{DateTime, Datelike, Timelike, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use zip::write::{PreparedZipFile, SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, ZipWriter};

/// Default size after which a role's zip is closed and a new part started: 1 GiB.
pub const DEFAULT_PART_BYTES: u64 = 1 << 30;
/// Deflate level (as `zip -6`).
pub const DEFAULT_LEVEL: i64 = 6;
/// Bytes gathered before a chunk is written, counted and handed to the upload.
const CHUNK: usize = 1 << 20;
/// What a finished bundle file's name ends with while it is being written.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// How bundles are made.
#[derive(Debug, Clone, Copy)]
pub struct BundleOptions {
    /// A role's zip closes and the next part starts once it passes this many bytes.
    pub part_bytes: u64,
    /// Deflate level, 0-9.
    pub level: i64,
}

impl Default for BundleOptions {
    fn default() -> Self {
        BundleOptions {
            part_bytes: DEFAULT_PART_BYTES,
            level: DEFAULT_LEVEL,
        }
    }
}

/// A complete file of the collection (a zip, a sidecar, the manifest).
#[derive(Debug, Clone, PartialEq)]
pub struct BundleFile {
    /// File (and blob) name.
    pub name: String,
    /// Where it is.
    pub path: PathBuf,
    /// The role it holds (empty for the manifest and output log).
    pub role: String,
    /// Bytes.
    pub length: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Entries in it (zips).
    pub entries: u32,
}

/// Why bundling stopped.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The working directory's quota or the disk budget refused the bytes.
    #[error("{0}")]
    Space(String),
    /// Writing failed.
    #[error("writing {name} failed: {error}")]
    Io {
        /// The file.
        name: String,
        /// What went wrong.
        error: String,
    },
}

/// Where a zip's chunks go while it is uploaded, and how its upload is told that the zip will
/// never be complete (so it must not be committed).
pub struct BlobFeed {
    /// The chunks, in order; closing it ends the blob.
    pub chunks: mpsc::Sender<Bytes>,
    /// Set before the chunks close when the zip was abandoned (bundling failed or stopped).
    pub abandon: super::Cancel,
}

/// Called when a new zip starts: where its chunks go when it is being uploaded.
pub type BlobStart<'a> = dyn Fn(&str) -> Option<BlobFeed> + Sync + 'a;

/// Writes the zips of one collection.
pub struct Bundler<'a> {
    dir: PathBuf,
    prefix: String,
    opts: BundleOptions,
    workdir: &'a WorkingDirectory,
    progress: &'a Progress,
    start_blob: &'a BlobStart<'a>,
    open: Mutex<HashMap<String, Arc<Mutex<RoleZip<'a>>>>>,
    done: Mutex<Vec<BundleFile>>,
    failed: Mutex<Option<String>>,
}

/// A role's zip being written.
struct RoleZip<'a> {
    role: String,
    part: u32,
    entries: u32,
    zip: Option<ZipWriter<StreamWriter<Sink<'a>>>>,
}

impl<'a> Bundler<'a> {
    /// A bundler writing into `dir` (inside `workdir`), naming files `<prefix>-<role>.zip`.
    pub fn new(
        dir: &Path,
        prefix: &str,
        opts: BundleOptions,
        workdir: &'a WorkingDirectory,
        progress: &'a Progress,
        start_blob: &'a BlobStart<'a>,
    ) -> Self {
        Bundler {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            opts,
            workdir,
            progress,
            start_blob,
            open: Mutex::new(HashMap::new()),
            done: Mutex::new(Vec::new()),
            failed: Mutex::new(None),
        }
    }

    /// The first failure, if bundling failed (the collection stops).
    pub fn failure(&self) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn fail(&self, e: &BundleError) {
        let mut f = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            *f = Some(e.to_string());
        }
    }

    /// The name of part `part` of `role`'s zip.
    pub fn zip_name(&self, role: &str, part: u32) -> String {
        if part <= 1 {
            format!("{}-{role}.zip", self.prefix)
        } else {
            format!("{}-{role}-part{part}.zip", self.prefix)
        }
    }

    /// Compresses `data` as entry `entry` (a `/`-separated path) on the calling thread and
    /// appends it to `role`'s zip. A failure is kept (see [`Bundler::failure`]) and returned.
    pub fn add(
        &self,
        role: &str,
        entry: &str,
        data: &[u8],
        modified: DateTime<Utc>,
    ) -> Result<(), BundleError> {
        if let Some(f) = self.failure() {
            return Err(BundleError::Space(f));
        }
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(self.opts.level))
            .last_modified_time(zip_time(modified))
            .unix_permissions(0o644)
            .large_file(data.len() as u64 >= u64::from(u32::MAX));
        let prepared =
            PreparedZipFile::from_data(entry, options, data).map_err(|e| BundleError::Io {
                name: entry.to_string(),
                error: e.to_string(),
            })?;
        let slot = {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            open.entry(role.to_string())
                .or_insert_with(|| {
                    Arc::new(Mutex::new(RoleZip {
                        role: role.to_string(),
                        part: 0,
                        entries: 0,
                        zip: None,
                    }))
                })
                .clone()
        };
        let mut rz = slot.lock().unwrap_or_else(|p| p.into_inner());
        let result = self.append(&mut rz, prepared);
        if let Err(e) = &result {
            self.fail(e);
        }
        result
    }

    fn append(&self, rz: &mut RoleZip<'a>, prepared: PreparedZipFile) -> Result<(), BundleError> {
        let full = rz
            .zip
            .as_mut()
            .and_then(|z| z.get_ref())
            .is_some_and(|w| w.get_ref().len() >= self.opts.part_bytes);
        if full {
            self.close(rz)?;
        }
        if rz.zip.is_none() {
            rz.part += 1;
            rz.entries = 0;
            let name = self.zip_name(&rz.role, rz.part);
            let sink = Sink::create(
                &self.dir,
                &name,
                self.workdir,
                self.progress,
                (self.start_blob)(&name),
            )?;
            rz.zip = Some(ZipWriter::new_stream(sink));
        }
        let Some(zip) = rz.zip.as_mut() else {
            return Ok(());
        };
        let name = self.zip_name(&rz.role, rz.part);
        zip.add_prepared_file(prepared).map_err(|e| match e {
            zip::result::ZipError::Io(io) => sink_error(&name, io),
            other => BundleError::Io {
                name: name.clone(),
                error: other.to_string(),
            },
        })?;
        rz.entries += 1;
        Ok(())
    }

    /// Finishes `rz`'s open zip: central directory, rename, sidecar.
    fn close(&self, rz: &mut RoleZip<'a>) -> Result<(), BundleError> {
        let Some(zip) = rz.zip.take() else {
            return Ok(());
        };
        let name = self.zip_name(&rz.role, rz.part);
        let sink = zip
            .finish()
            .map_err(|e| match e {
                zip::result::ZipError::Io(io) => sink_error(&name, io),
                other => BundleError::Io {
                    name: name.clone(),
                    error: other.to_string(),
                },
            })?
            .into_inner();
        let mut file = sink.finish()?;
        file.role = rz.role.clone();
        file.entries = rz.entries;
        self.done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(file);
        Ok(())
    }

    /// Finishes every open zip now (a role whose collectors are all done), so its upload can
    /// complete while others go on.
    pub fn close_role(&self, role: &str) -> Result<(), BundleError> {
        let slot = self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(role);
        if let Some(slot) = slot {
            let mut rz = slot.lock().unwrap_or_else(|p| p.into_inner());
            let r = self.close(&mut rz);
            if let Err(e) = &r {
                self.fail(e);
            }
            return r;
        }
        Ok(())
    }

    /// Finishes every zip and returns the complete files, by name.
    pub fn finish(self) -> Result<Vec<BundleFile>, BundleError> {
        let roles: Vec<String> = self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        for role in roles {
            self.close_role(&role)?;
        }
        if let Some(f) = self.failure() {
            return Err(BundleError::Space(f));
        }
        let mut done = self.done.into_inner().unwrap_or_else(|p| p.into_inner());
        done.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(done)
    }

    /// Writes a small file of the collection (manifest, output log) whole, with its sidecar.
    pub fn write_small(&self, name: &str, bytes: &[u8]) -> Result<BundleFile, BundleError> {
        write_small(&self.dir, name, bytes, self.workdir)
    }
}

/// Writes `name` in `dir` (counted against the working directory) and its `.sha256` sidecar.
pub fn write_small(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    workdir: &WorkingDirectory,
) -> Result<BundleFile, BundleError> {
    let path = dir.join(name);
    workdir
        .reserve(bytes.len() as u64)
        .map_err(|e| BundleError::Space(e.to_string()))?;
    if let Err(e) = atomic_write(&path, bytes, 0o600) {
        workdir.unreserve(bytes.len() as u64);
        return Err(BundleError::Io {
            name: name.to_string(),
            error: e.to_string(),
        });
    }
    let sha256 = hex(&Sha256::digest(bytes));
    write_sidecar(dir, name, &sha256, workdir)?;
    Ok(BundleFile {
        name: name.to_string(),
        path,
        role: String::new(),
        length: bytes.len() as u64,
        sha256,
        entries: 0,
    })
}

/// `<name>.sha256` beside `name`, in `sha256sum`'s format.
fn write_sidecar(
    dir: &Path,
    name: &str,
    sha256: &str,
    workdir: &WorkingDirectory,
) -> Result<(), BundleError> {
    let line = format!("{sha256}  {name}\n");
    workdir
        .reserve(line.len() as u64)
        .map_err(|e| BundleError::Space(e.to_string()))?;
    atomic_write(&dir.join(format!("{name}.sha256")), line.as_bytes(), 0o600).map_err(|e| {
        workdir.unreserve(line.len() as u64);
        BundleError::Io {
            name: format!("{name}.sha256"),
            error: e.to_string(),
        }
    })
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn zip_time(t: DateTime<Utc>) -> zip::DateTime {
    let year = u16::try_from(t.year().clamp(1980, 2107)).unwrap_or(1980);
    zip::DateTime::from_date_and_time(
        year,
        t.month() as u8,
        t.day() as u8,
        t.hour() as u8,
        t.minute() as u8,
        t.second() as u8,
    )
    .unwrap_or_default()
}

/// The error a sink put inside an io::Error, recovered.
fn sink_error(name: &str, e: io::Error) -> BundleError {
    if e.kind() == io::ErrorKind::StorageFull {
        BundleError::Space(e.to_string())
    } else {
        BundleError::Io {
            name: name.to_string(),
            error: e.to_string(),
        }
    }
}

/// Where a zip's bytes go: the `.partial` file (counted), the hash, and the upload.
struct Sink<'a> {
    name: String,
    dir: PathBuf,
    file: Option<File>,
    pending: PageBuf,
    written: u64,
    hash: Sha256,
    workdir: &'a WorkingDirectory,
    progress: &'a Progress,
    upload: Option<BlobFeed>,
}

impl<'a> Sink<'a> {
    fn create(
        dir: &Path,
        name: &str,
        workdir: &'a WorkingDirectory,
        progress: &'a Progress,
        upload: Option<BlobFeed>,
    ) -> Result<Self, BundleError> {
        let path = dir.join(format!("{name}{PARTIAL_SUFFIX}"));
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&path).map_err(|e| BundleError::Io {
            name: name.to_string(),
            error: e.to_string(),
        })?;
        Ok(Sink {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            file: Some(file),
            pending: PageBuf::with_capacity(CHUNK),
            written: 0,
            hash: Sha256::new(),
            workdir,
            progress,
            upload,
        })
    }

    /// Bytes of zip so far (written and pending).
    fn len(&self) -> u64 {
        self.written + self.pending.len() as u64
    }

    fn partial(&self) -> PathBuf {
        self.dir.join(format!("{}{PARTIAL_SUFFIX}", self.name))
    }

    /// Writes the pending chunk: counted, written, hashed, handed to the upload.
    fn spill(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.pending, PageBuf::with_capacity(CHUNK));
        let n = chunk.len() as u64;
        self.workdir
            .reserve(n)
            .map_err(|e| io::Error::new(io::ErrorKind::StorageFull, e.to_string()))?;
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::other("the bundle file is closed"));
        };
        if let Err(e) = file.write_all(chunk.as_ref()) {
            self.workdir.unreserve(n);
            return Err(e);
        }
        self.hash.update(chunk.as_ref());
        self.written += n;
        Progress::add(&self.progress.compressed, n);
        if let Some(feed) = &self.upload {
            // An upload that gave up (its receiver dropped) leaves the bundle to be written
            // whole: it is kept for a later resume.
            if feed.chunks.blocking_send(chunk.into_bytes()).is_err() {
                self.upload = None;
            }
        }
        Ok(())
    }

    /// Completes the file: last chunk, sync, rename, sidecar; the upload sees the end.
    fn finish(mut self) -> Result<BundleFile, BundleError> {
        let name = self.name.clone();
        self.spill().map_err(|e| sink_error(&name, e))?;
        if let Some(file) = self.file.take() {
            file.sync_all().map_err(|e| sink_error(&name, e))?;
        }
        let path = self.dir.join(&name);
        fs::rename(self.partial(), &path).map_err(|e| sink_error(&name, e))?;
        let sha256 = hex(&self.hash.clone().finalize());
        write_sidecar(&self.dir, &name, &sha256, self.workdir)?;
        self.upload = None;
        Ok(BundleFile {
            name,
            path,
            role: String::new(),
            length: self.written,
            sha256,
            entries: 0,
        })
    }
}

impl Write for Sink<'_> {
    /// Takes what fits in the chunk (the zip writer writes the rest after): a chunk never
    /// outgrows its page-aligned buffer.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(CHUNK.saturating_sub(self.pending.len()).max(1));
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() >= CHUNK {
            self.spill()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Sink<'_> {
    /// A zip never finished (bundling failed or was cancelled) leaves no `.partial` file behind.
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // The upload learns first that this zip is abandoned, then sees its chunks end: it
            // must not commit a truncated blob.
            if let Some(feed) = self.upload.take() {
                feed.abandon
                    .cancel("the bundle could not be completed, so its blob was not committed");
            }
            let _ = fs::remove_file(self.partial());
            self.workdir.unreserve(self.written);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn workdir(dir: &Path) -> WorkingDirectory {
        WorkingDirectory::new(dir, Utc::now(), "s1", 1 << 30)
    }

    #[test]
    fn entries_from_several_threads_make_one_zip_per_role_with_sidecars() {
        let tmp = tempfile::tempdir().expect("tmp");
        let wd = workdir(tmp.path());
        let out = wd.create_dir("AzureStackLogs-1").expect("dir");
        let progress = Progress::new();
        let start: &BlobStart = &|_| None;
        let b = Bundler::new(
            &out,
            "AzureStackLogs-20261201100000-s",
            BundleOptions::default(),
            &wd,
            &progress,
            start,
        );
        std::thread::scope(|s| {
            for t in 0..4 {
                let b = &b;
                s.spawn(move || {
                    for i in 0..5 {
                        let role = if i % 2 == 0 { "ECE" } else { "ACS" };
                        let text = format!("line {t} {i}\n").repeat(1000);
                        b.add(role, &format!("N{t}/f{i}.log"), text.as_bytes(), Utc::now())
                            .expect("add");
                    }
                });
            }
        });
        let files = b.finish().expect("finish");
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "AzureStackLogs-20261201100000-s-ACS.zip",
                "AzureStackLogs-20261201100000-s-ECE.zip"
            ]
        );
        for f in &files {
            let bytes = fs::read(&f.path).expect("zip");
            assert_eq!(bytes.len() as u64, f.length);
            assert_eq!(hex(&Sha256::digest(&bytes)), f.sha256);
            let side = fs::read_to_string(out.join(format!("{}.sha256", f.name))).expect("side");
            assert_eq!(side, format!("{}  {}\n", f.sha256, f.name));
            let mut z = zip::ZipArchive::new(io::Cursor::new(bytes)).expect("opens");
            assert_eq!(z.len() as u32, f.entries);
            let mut first = String::new();
            z.by_index(0)
                .expect("entry")
                .read_to_string(&mut first)
                .expect("read");
            assert!(first.starts_with("line "));
        }
        assert_eq!(files.iter().map(|f| f.entries).sum::<u32>(), 20);
        assert!(!fs::read_dir(&out).expect("ls").any(|e| e
            .expect("e")
            .file_name()
            .to_string_lossy()
            .ends_with(".partial")));
    }

    #[test]
    fn a_large_role_is_split_into_parts() {
        let tmp = tempfile::tempdir().expect("tmp");
        let wd = workdir(tmp.path());
        let out = wd.create_dir("c").expect("dir");
        let progress = Progress::new();
        let start: &BlobStart = &|_| None;
        let b = Bundler::new(
            &out,
            "P",
            BundleOptions {
                part_bytes: 200_000,
                level: 1,
            },
            &wd,
            &progress,
            start,
        );
        // Incompressible data so the parts fill.
        let mut x: u64 = 7;
        for i in 0..6 {
            let data: Vec<u8> = (0..100_000)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (x >> 56) as u8
                })
                .collect();
            b.add("SeedRing", &format!("n/{i}.bin"), &data, Utc::now())
                .expect("add");
        }
        let files = b.finish().expect("finish");
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert!(names.contains(&"P-SeedRing.zip"), "{names:?}");
        assert!(names.contains(&"P-SeedRing-part2.zip"), "{names:?}");
        let total: u32 = files.iter().map(|f| f.entries).sum();
        assert_eq!(total, 6);
        for f in &files {
            zip::ZipArchive::new(File::open(&f.path).expect("open")).expect("each part opens");
        }
    }

    #[test]
    fn the_quota_stops_a_bundle_and_leaves_no_partial_file() {
        let tmp = tempfile::tempdir().expect("tmp");
        let wd = WorkingDirectory::new(tmp.path(), Utc::now(), "s", 3 << 20);
        let out = wd.create_dir("c").expect("dir");
        let progress = Progress::new();
        let start: &BlobStart = &|_| None;
        let b = Bundler::new(&out, "Q", BundleOptions::default(), &wd, &progress, start);
        let mut x: u64 = 1;
        let mut failed = None;
        for i in 0..8 {
            let data: Vec<u8> = (0..1_000_000)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (x >> 56) as u8
                })
                .collect();
            if let Err(e) = b.add("ECE", &format!("{i}"), &data, Utc::now()) {
                failed = Some(e.to_string());
                break;
            }
        }
        let e = failed.expect("the quota refuses");
        assert!(e.contains("quota"), "{e}");
        assert!(b.finish().is_err());
        let left: Vec<String> = fs::read_dir(&out)
            .expect("ls")
            .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(left.iter().all(|n| !n.ends_with(".partial")), "{left:?}");
    }
}
