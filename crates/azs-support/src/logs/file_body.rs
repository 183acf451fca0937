//! A file sent as one request body (the Put Blob of [`super::blob::BlobClient::upload_file`]):
//! read with positioned reads in chunks small enough to stay in the core's cache, into a few
//! reused buffers, so sending a file costs one read and one socket write per byte. (A whole-file
//! buffer cost more in page faults than the send itself; a reader thread handing chunks over cost
//! a quarter more CPU than reading on the thread that writes them to the socket.)
//!
//! The chunks are read on the runtime's thread, when the HTTP client asks for the next one: a
//! 256 KiB read from the page cache takes tens of microseconds. The whole file is announced to
//! the kernel first (`POSIX_FADV_WILLNEED`), so its readahead keeps the reads off the disk.
//!
//! Reads land in page-aligned buffers ([`super::page_buf`]): the same buffers 16 bytes into a page
//! cost this client twice the CPU.
//!
//! Every [`FileBody::body`] reads from the start again, so a retried request resends the whole
//! file. The body is exactly `len` bytes: a file that grew is cut at `len`, one that shrank ends
//! the body with an error (the request fails; nothing short is ever committed, since the service
//! holds the request to its Content-Length).

use std::fs::File;
use std::num::NonZeroU64;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use super::page_buf::PageBuf;
use bytes::Bytes;

/// Bytes per read (fits the L2 cache: measured faster here than 64 KiB or 1 MiB reads).
const CHUNK: usize = 256 << 10;
/// Buffers kept for reuse (the HTTP client holds a few chunks while it writes them).
const POOLED: usize = 6;

/// A file to send, and its length when the upload began.
#[derive(Debug, Clone)]
pub(super) struct FileBody {
    file: Arc<File>,
    len: u64,
    path: PathBuf,
}

impl FileBody {
    /// `len` bytes of `file` (opened at `path`), from offset 0.
    pub(super) fn new(file: File, len: u64, path: &Path) -> Self {
        FileBody {
            file: Arc::new(file),
            len,
            path: path.to_path_buf(),
        }
    }

    /// Its length.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// The MD5 of its `len` bytes (blocking).
    pub(super) fn md5(&self) -> std::io::Result<[u8; 16]> {
        let mut ctx = md5::Context::new();
        let mut buf = PageBuf::with_capacity(CHUNK);
        let mut offset = 0u64;
        while offset < self.len {
            self.read_chunk(&mut buf, offset)?;
            ctx.consume(buf.as_ref());
            offset += buf.len() as u64;
        }
        Ok(ctx.finalize().0)
    }

    /// A fresh body reading the file from the start.
    pub(super) fn body(&self) -> reqwest::Body {
        // Advice only: without it the reads are merely slower.
        let _ = rustix::fs::fadvise(
            &*self.file,
            0,
            NonZeroU64::new(self.len),
            rustix::fs::Advice::WillNeed,
        );
        reqwest::Body::wrap_stream(self.chunks())
    }

    fn chunks(&self) -> Chunks {
        Chunks {
            body: self.clone(),
            offset: 0,
            pool: Pool::default(),
        }
    }

    /// Reads the chunk at `offset` into `buf` (its length set to what was read, never 0).
    fn read_chunk(&self, buf: &mut PageBuf, offset: u64) -> std::io::Result<()> {
        let want = usize::try_from(self.len - offset).map_or(CHUNK, |rest| rest.min(CHUNK));
        loop {
            match self.file.read_at(buf.fill(want), offset) {
                Ok(0) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!(
                            "{} shrank to {offset} bytes while it was sent ({} expected)",
                            self.path.display(),
                            self.len
                        ),
                    ))
                }
                Ok(n) => {
                    buf.truncate(n);
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// The body's chunks, read as the HTTP client asks for them.
struct Chunks {
    body: FileBody,
    offset: u64,
    pool: Pool,
}

impl futures_core::Stream for Chunks {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.offset >= self.body.len {
            return Poll::Ready(None);
        }
        let mut buf = self.pool.take();
        let offset = self.offset;
        let chunk = match self.body.read_chunk(&mut buf, offset) {
            Ok(()) => {
                self.offset += buf.len() as u64;
                Ok(self.pool.wrap(buf))
            }
            Err(e) => {
                // Nothing follows an error.
                self.offset = self.body.len;
                Err(e)
            }
        };
        Poll::Ready(Some(chunk))
    }
}

/// Buffers handed out as [`Bytes`] and taken back when the HTTP client has written them.
#[derive(Clone, Default)]
struct Pool(Arc<Mutex<Vec<PageBuf>>>);

impl Pool {
    fn take(&self) -> PageBuf {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_else(|| PageBuf::with_capacity(CHUNK))
    }

    fn wrap(&self, buf: PageBuf) -> Bytes {
        Bytes::from_owner(Pooled {
            buf: Some(buf),
            pool: self.clone(),
        })
    }
}

/// One buffer on its way to the socket.
struct Pooled {
    buf: Option<PageBuf>,
    pool: Pool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        self.buf.as_ref().map_or(&[], |b| b.as_ref())
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut free = self.pool.0.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < POOLED {
            free.extend(self.buf.take());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_core::Stream;
    use std::io::Write;

    fn collect(body: &FileBody) -> std::io::Result<Vec<u8>> {
        let mut chunks = body.chunks();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut out = Vec::new();
        loop {
            match Pin::new(&mut chunks).poll_next(&mut cx) {
                Poll::Ready(Some(chunk)) => out.extend_from_slice(&chunk?),
                Poll::Ready(None) => return Ok(out),
                Poll::Pending => unreachable!("file chunks are always ready"),
            }
        }
    }

    fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut f = tempfile::NamedTempFile::new().expect("tmp");
        f.write_all(bytes).expect("write");
        let opened = File::open(f.path()).expect("open");
        (f, opened)
    }

    #[test]
    fn the_body_is_the_file_read_again_for_each_attempt() {
        let data: Vec<u8> = (0..(3 * CHUNK + 1234)).map(|i| (i % 251) as u8).collect();
        let (tmp, file) = file_of(&data);
        let body = FileBody::new(file, data.len() as u64, tmp.path());
        assert_eq!(collect(&body).expect("read"), data);
        assert_eq!(collect(&body).expect("read again"), data);
        assert_eq!(body.md5().expect("md5"), md5::compute(&data).0);
    }

    #[test]
    fn reads_land_on_a_page_boundary() {
        let data = vec![3u8; CHUNK + 5];
        let (tmp, file) = file_of(&data);
        let body = FileBody::new(file, data.len() as u64, tmp.path());
        let mut buf = PageBuf::with_capacity(CHUNK);
        body.read_chunk(&mut buf, 0).expect("read");
        assert_eq!(buf.as_ref().len(), CHUNK);
        assert_eq!(
            buf.as_ref().as_ptr() as usize % super::super::page_buf::PAGE,
            0
        );
        body.read_chunk(&mut buf, CHUNK as u64)
            .expect("read the rest");
        assert_eq!(buf.as_ref(), &[3u8; 5]);
    }

    #[test]
    fn a_file_that_grew_is_cut_and_one_that_shrank_fails() {
        let data = vec![7u8; CHUNK + 10];
        let (tmp, file) = file_of(&data);
        let body = FileBody::new(file, 100, tmp.path());
        assert_eq!(collect(&body).expect("read").len(), 100);
        let body = FileBody::new(
            File::open(tmp.path()).expect("open"),
            data.len() as u64 + 5,
            tmp.path(),
        );
        let err = collect(&body).expect_err("short file");
        assert!(err.to_string().contains("shrank"), "{err}");
        assert!(body.md5().is_err());
    }
}
