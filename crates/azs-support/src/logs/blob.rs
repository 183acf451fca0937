//! Upload to Azure Blob Storage through a container SAS URL, over hand-written REST (reqwest on
//! rustls with ring): the parsed SAS ([`ContainerSas`]), the client that uploads a stream or a file
//! as one block blob ([`BlobClient`]) and what it reports ([`UploadedBlob`], [`UploadError`]).
//!
//! Small content goes up in one Put Blob. Larger content is cut into blocks sent `parallel` at a
//! time (Put Block), committed with Put Block List, then checked with a HEAD: Azurite (and Azure)
//! store the whole-blob MD5 given at commit without checking it, so comparing length and MD5 after
//! the commit is the only proof that what is stored is what was sent. Block ids are derived from
//! the block's index and content, so an interrupted upload of the same content resumes: blocks
//! already staged are skipped. Re-sending a staged block is harmless, so correctness never depends
//! on the skip.
//!
//! The SAS signature is a bearer secret: it never appears in an error, a log line or `Debug`
//! output; people see [`ContainerSas::destination`] (`account/container`) or
//! [`ContainerSas::redacted`]. The SAS itself is parsed and checked in [`super::sas`].

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::file_body::FileBody;
use super::page_buf::PageBuf;
use super::sas::percent_encode;
pub use super::sas::{ContainerSas, SasError};
use super::{Cancel, Progress};

/// The REST version sent as `x-ms-version` (accepted by Azure and by Azurite 3.37).
const API_VERSION: &str = "2022-11-02";
/// Azure's limit of blocks per blob.
const MAX_BLOCKS: usize = 50_000;
/// The longest wait a `Retry-After` header can impose.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(30);
/// The longest backoff between two attempts.
const BACKOFF_CAP: Duration = Duration::from_secs(8);
/// Size of the reads of [`BlobClient::upload_file`].
const FILE_READ: usize = 1 << 20;

/// A blob name as a URL path: each `/`-separated segment percent-encoded.
fn encode_blob_name(name: &str) -> Result<String, UploadError> {
    let bad = |why: &'static str| UploadError::BadName {
        name: name.chars().take(100).collect(),
        why,
    };
    if name.is_empty() || name.len() > 1024 {
        return Err(bad("a blob name has 1 to 1024 characters"));
    }
    let mut segments = Vec::new();
    for segment in name.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(bad("its path segments must not be empty, '.' or '..'"));
        }
        segments.push(percent_encode(segment));
    }
    Ok(segments.join("/"))
}

/// How uploads behave.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Bytes per block (Put Block), and the largest content sent in one Put Blob.
    pub block_size: usize,
    /// Blocks in flight at once.
    pub parallel: usize,
    /// Further attempts of a request after a retryable failure.
    pub retries: u32,
    /// The longest one request may take, body included.
    pub request_timeout: Duration,
    /// A cap on the bytes sent per second by all requests of one client, if any.
    pub max_bytes_per_sec: Option<u64>,
    /// A file up to this size goes up in one Put Blob when the destination holds none of its
    /// blocks (as the Azure SDKs do below 64 MiB): one request streamed from disk, whose MD5 the
    /// service computes and a HEAD reads back. Larger files, streams, and files whose upload was
    /// interrupted go in blocks.
    pub single_put_max: u64,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            block_size: 8 << 20,
            parallel: 8,
            retries: 5,
            request_timeout: Duration::from_secs(60),
            max_bytes_per_sec: None,
            single_put_max: 64 << 20,
        }
    }
}

/// What an upload stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedBlob {
    /// The blob's name in the container.
    pub name: String,
    /// Its length in bytes.
    pub length: u64,
    /// MD5 of the whole content, base64 (as Azure shows it).
    pub content_md5: String,
    /// Blocks sent by this upload (1 for a single Put Blob).
    pub blocks_sent: u32,
    /// Blocks already staged by an earlier, interrupted upload, and not sent again.
    pub blocks_skipped: u32,
    /// Whether the stored length and MD5 were read back and matched. False only when the SAS
    /// does not allow reading (a write-only SAS): the upload is then unverified.
    pub verified: bool,
}

/// Why an upload failed. Every message is one line and never contains the SAS query.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The SAS URL was refused.
    #[error(transparent)]
    Sas(#[from] SasError),
    /// HTTP 403: the SAS lacks the permission, or is no longer valid.
    #[error("the SAS does not allow {action} {destination}, or has expired")]
    Forbidden {
        /// `writing to`, `listing`, ...
        action: &'static str,
        /// `account/container`.
        destination: String,
    },
    /// HTTP 403 from a SAS whose `se` is in the past.
    #[error("the SAS does not allow {action} {destination}: it expired at {expired_at}")]
    Expired {
        /// `writing to`, `listing`, ...
        action: &'static str,
        /// `account/container`.
        destination: String,
        /// When it expired.
        expired_at: DateTime<Utc>,
    },
    /// Any other HTTP failure.
    #[error("{op} on {destination} failed: HTTP {status} {}", code.as_deref().unwrap_or("(no x-ms-error-code)"))]
    Http {
        /// The REST operation (`Put Block`, ...).
        op: &'static str,
        /// `account/container`.
        destination: String,
        /// The HTTP status.
        status: u16,
        /// The `x-ms-error-code` header, if any.
        code: Option<String>,
    },
    /// No answer: connection refused or reset, timeout, ... (after the retries).
    #[error("{op} on {destination} failed: {detail}")]
    Network {
        /// The REST operation.
        op: &'static str,
        /// `account/container`.
        destination: String,
        /// What went wrong, without the URL.
        detail: String,
    },
    /// The stored blob differs from what was sent.
    #[error("the blob {destination}/{name} does not match what was sent: {detail}")]
    Mismatch {
        /// `account/container`.
        destination: String,
        /// The blob.
        name: String,
        /// Which property differs.
        detail: String,
    },
    /// An answer that could not be understood.
    #[error("unexpected answer to {op} from {destination}: {detail}")]
    Protocol {
        /// The REST operation.
        op: &'static str,
        /// `account/container`.
        destination: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The blob name cannot be used.
    #[error("the blob name {name:?} cannot be used: {why}")]
    BadName {
        /// The name (at most 100 characters of it).
        name: String,
        /// Why.
        why: &'static str,
    },
    /// More than Azure's 50,000 blocks.
    #[error("the content needs more than 50,000 blocks of {block_size} bytes; use larger blocks")]
    TooManyBlocks {
        /// The block size in use.
        block_size: usize,
    },
    /// Reading the file to upload failed.
    #[error("reading {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
    /// The HTTP client could not be built, or an upload task failed unexpectedly.
    #[error("internal error: {0}")]
    Internal(String),
    /// [`Cancel::cancel`] was called; the reason given.
    #[error("upload cancelled: {0}")]
    Cancelled(String),
}

/// Installs ring as rustls' process-wide crypto provider, once (reqwest is built without one).
pub fn install_ring() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A token bucket shared by the requests of one client: each request body takes its bytes before
/// it is sent, sleeping while the bucket is in debt. The granularity is one request body (a
/// block), which averages out over an upload.
#[derive(Debug)]
struct TokenBucket {
    rate: f64,
    /// Tokens available (negative: owed) and when they were counted.
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    fn new(bytes_per_sec: u64) -> Self {
        let rate = bytes_per_sec.max(1) as f64;
        TokenBucket {
            rate,
            state: Mutex::new((rate, Instant::now())),
        }
    }

    async fn take(&self, bytes: u64) {
        let wait = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let refill = now.duration_since(s.1).as_secs_f64() * self.rate;
            s.0 = (s.0 + refill).min(self.rate) - bytes as f64;
            s.1 = now;
            if s.0 < 0.0 {
                Duration::from_secs_f64(-s.0 / self.rate)
            } else {
                Duration::ZERO
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// A response read in full (bodies here are small XML documents, except in tests).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the upload tasks share.
struct Shared {
    http: reqwest::Client,
    opts: UploadOptions,
    bucket: Option<TokenBucket>,
}

/// The blob being uploaded.
struct Target {
    sas: ContainerSas,
    name: String,
    encoded: String,
}

impl Target {
    fn url(&self, extra: &str) -> String {
        self.sas.blob_url(&self.encoded, extra)
    }
}

/// Uploads blobs through container SAS URLs.
pub struct BlobClient {
    shared: Arc<Shared>,
}

impl fmt::Debug for BlobClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobClient")
            .field("opts", &self.shared.opts)
            .finish()
    }
}

/// Where the bytes of an upload come from.
enum Source {
    Stream(mpsc::Receiver<Bytes>),
    File(mpsc::Receiver<std::io::Result<Bytes>>, PathBuf),
}

impl Source {
    /// The next chunk, `None` at the end. Cancel-safe (only a channel receive is awaited).
    async fn next(&mut self) -> Result<Option<Bytes>, UploadError> {
        match self {
            Source::Stream(rx) => Ok(rx.recv().await),
            Source::File(rx, path) => match rx.recv().await {
                None => Ok(None),
                Some(Ok(chunk)) => Ok(Some(chunk)),
                Some(Err(error)) => Err(UploadError::Read {
                    path: path.clone(),
                    error,
                }),
            },
        }
    }
}

/// A request body: bytes in memory, or a file read afresh for each attempt.
enum Payload {
    Bytes(Bytes),
    File(FileBody),
}

impl Payload {
    fn len(&self) -> u64 {
        match self {
            Payload::Bytes(b) => b.len() as u64,
            Payload::File(f) => f.len(),
        }
    }

    fn body(&self) -> reqwest::Body {
        match self {
            Payload::Bytes(b) => reqwest::Body::from(b.clone()),
            Payload::File(f) => f.body(),
        }
    }
}

/// The base64 MD5 of a file body, read off the runtime.
async fn file_md5(body: &FileBody) -> Result<Result<String, std::io::Error>, UploadError> {
    let body = body.clone();
    tokio::task::spawn_blocking(move || body.md5().map(|d| B64.encode(d)))
        .await
        .map_err(|e| UploadError::Internal(format!("hashing the file: {e}")))
}

impl BlobClient {
    /// A client with these options (installs ring as rustls' provider if none is).
    pub fn new(opts: UploadOptions) -> Result<Self, UploadError> {
        install_ring();
        let http = reqwest::Client::builder()
            .connect_timeout(opts.request_timeout.min(Duration::from_secs(30)))
            // A redirect would carry the SAS to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pep-azs-support/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| UploadError::Internal(describe(&e.without_url())))?;
        let bucket = opts.max_bytes_per_sec.map(TokenBucket::new);
        Ok(BlobClient {
            shared: Arc::new(Shared { http, opts, bucket }),
        })
    }

    /// Uploads the bytes arriving on `chunks` (any sizes; re-chunked into `block_size` blocks) as
    /// blob `name`. The content ends when every sender is dropped. Memory held: the `parallel`
    /// blocks in flight, one block being filled and one incoming chunk (so send chunks no larger
    /// than a block or so).
    pub async fn upload_stream(
        &self,
        sas: &ContainerSas,
        name: &str,
        chunks: mpsc::Receiver<Bytes>,
        progress: &Progress,
        cancel: &Cancel,
    ) -> Result<UploadedBlob, UploadError> {
        self.upload(sas, name, Source::Stream(chunks), progress, cancel)
            .await
    }

    /// The same from a file on disk (resuming an interrupted upload re-sends the file: blocks
    /// already staged are skipped).
    pub async fn upload_file(
        &self,
        sas: &ContainerSas,
        name: &str,
        path: &Path,
        progress: &Progress,
        cancel: &Cancel,
    ) -> Result<UploadedBlob, UploadError> {
        let file = std::fs::File::open(path).map_err(|error| UploadError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let size = file
            .metadata()
            .map_err(|error| UploadError::Read {
                path: path.to_path_buf(),
                error,
            })?
            .len();
        if size <= self.shared.opts.single_put_max && size > self.shared.opts.block_size as u64 {
            let target = Target {
                sas: sas.clone(),
                name: name.to_string(),
                encoded: encode_blob_name(name)?,
            };
            // An interrupted upload left blocks: resume it in blocks instead.
            let staged = or_cancel(cancel, self.shared.staged_blocks(&target)).await?;
            if staged.is_empty() {
                return self
                    .put_whole_file(&target, file, size, path, progress, cancel)
                    .await;
            }
        }
        let (tx, rx) = mpsc::channel(2);
        // The reader stops when the upload drops the receiver (finished, failed or cancelled).
        tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut file = file;
            loop {
                let mut buf = PageBuf::with_capacity(FILE_READ);
                let sent = match file.read(buf.fill(FILE_READ)) {
                    Ok(0) => return,
                    Ok(n) => {
                        buf.truncate(n);
                        tx.blocking_send(Ok(buf.into_bytes()))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                };
                if sent.is_err() {
                    return;
                }
            }
        });
        self.upload(
            sas,
            name,
            Source::File(rx, path.to_path_buf()),
            progress,
            cancel,
        )
        .await
    }

    /// One Put Blob of a whole file, streamed from disk, then the HEAD that verifies it.
    ///
    /// The client computes no hash of its own here, as the Azure SDKs do below 64 MiB: the
    /// transport is TLS, the service computes the content's MD5 as it receives it and returns it,
    /// and the record carries that MD5, which the HEAD reads back with the length. (The bundle's
    /// SHA-256 sidecar, computed when the zip was written, lets the vendor check the content end
    /// to end.) A SAS that may not read cannot verify afterwards: the file's MD5 is then computed
    /// first and sent with it, for the service to check.
    async fn put_whole_file(
        &self,
        target: &Target,
        file: std::fs::File,
        size: u64,
        path: &Path,
        progress: &Progress,
        cancel: &Cancel,
    ) -> Result<UploadedBlob, UploadError> {
        let body = FileBody::new(file, size, path);
        let readable = target.sas.permissions().contains('r');
        let checksum = if readable {
            None
        } else {
            let md5 =
                or_cancel(cancel, file_md5(&body))
                    .await?
                    .map_err(|error| UploadError::Read {
                        path: path.to_path_buf(),
                        error,
                    })?;
            Some(("Content-MD5", md5))
        };
        let sent_md5 = checksum.as_ref().map(|(_, md5)| md5.clone());
        let stored = or_cancel(
            cancel,
            self.shared.put_blob(target, Payload::File(body), checksum),
        )
        .await?;
        if let Some(sent) = sent_md5.filter(|sent| *sent != stored) {
            return Err(UploadError::Mismatch {
                destination: target.sas.destination(),
                name: target.name.clone(),
                detail: format!("MD5 {sent} sent, {stored} stored"),
            });
        }
        Progress::add(&progress.uploaded, size);
        let verified = or_cancel(cancel, self.shared.verify(target, size, &stored)).await?;
        Ok(UploadedBlob {
            name: target.name.clone(),
            length: size,
            content_md5: stored,
            blocks_sent: 1,
            blocks_skipped: 0,
            verified,
        })
    }

    /// Whether the container's service answers (Get Container Properties): the HTTP status it
    /// gave. Any answer means it is reachable; 403 is a SAS that may not read the container's
    /// properties (an upload-only SAS), not an unreachable one.
    pub async fn probe(&self, sas: &ContainerSas) -> Result<u16, UploadError> {
        let url = sas.container_request("&restype=container");
        let a = self
            .shared
            .call(
                sas,
                "Get Container Properties",
                Method::HEAD,
                &url,
                Vec::new(),
                None,
            )
            .await?;
        Ok(a.status.as_u16())
    }

    /// The blobs in the container, names and sizes (List Blobs; the SAS needs `l`).
    pub async fn list_blobs(&self, sas: &ContainerSas) -> Result<Vec<(String, u64)>, UploadError> {
        const OP: &str = "List Blobs";
        let mut blobs = Vec::new();
        let mut marker = String::new();
        loop {
            let mut url = sas.container_request("&restype=container&comp=list");
            if !marker.is_empty() {
                url.push_str(&format!("&marker={}", percent_encode(&marker)));
            }
            let a = self
                .shared
                .call(sas, OP, Method::GET, &url, Vec::new(), None)
                .await?;
            if !a.status.is_success() {
                return Err(failure(sas, OP, "listing", &a));
            }
            let xml = String::from_utf8_lossy(&a.body);
            for blob in elements(&xml, "Blob") {
                let name = element(blob, "Name").map(xml_unescape);
                let size = element(blob, "Content-Length").and_then(|s| s.trim().parse().ok());
                match (name, size) {
                    (Some(name), Some(size)) => blobs.push((name, size)),
                    _ => {
                        return Err(UploadError::Protocol {
                            op: OP,
                            destination: sas.destination(),
                            detail: "a blob without a name or a Content-Length".into(),
                        })
                    }
                }
            }
            marker = element(&xml, "NextMarker")
                .map(xml_unescape)
                .unwrap_or_default();
            if marker.is_empty() {
                return Ok(blobs);
            }
        }
    }

    /// The upload proper: read, hash, cut into blocks, send, commit, verify.
    async fn upload(
        &self,
        sas: &ContainerSas,
        name: &str,
        mut source: Source,
        progress: &Progress,
        cancel: &Cancel,
    ) -> Result<UploadedBlob, UploadError> {
        let target = Arc::new(Target {
            sas: sas.clone(),
            name: name.to_string(),
            encoded: encode_blob_name(name)?,
        });
        let block_size = self.shared.opts.block_size.max(1);
        let parallel = self.shared.opts.parallel.max(1);
        let mut whole_md5 = md5::Context::new();
        let mut length = 0u64;
        let mut buf = BytesMut::new();
        let mut ended = false;
        // Known once the content is known to need blocks: the ids already staged, with sizes.
        let mut staged: Option<HashMap<String, u64>> = None;
        let mut ids: Vec<String> = Vec::new();
        let mut in_flight: JoinSet<Result<u64, UploadError>> = JoinSet::new();
        let (mut sent, mut skipped) = (0u32, 0u32);
        tracing::debug!(destination = %sas.destination(), blob = name, "upload starts");

        loop {
            // Blocks go out once more content is known to follow them, or at the end.
            while in_flight.len() < parallel
                && (buf.len() > block_size || (ended && !buf.is_empty() && staged.is_some()))
            {
                let known = match &staged {
                    Some(known) => known,
                    None => {
                        let known = or_cancel(cancel, self.shared.staged_blocks(&target)).await?;
                        staged.insert(known)
                    }
                };
                let index = ids.len();
                if index >= MAX_BLOCKS {
                    return Err(UploadError::TooManyBlocks { block_size });
                }
                let block = buf.split_to(buf.len().min(block_size)).freeze();
                let crc = crc64(&block);
                let id = block_id(index, crc);
                let len = block.len() as u64;
                if known.get(&id) == Some(&len) {
                    skipped += 1;
                    Progress::add(&progress.uploaded, len);
                } else {
                    sent += 1;
                    in_flight.spawn(put_block(
                        self.shared.clone(),
                        target.clone(),
                        id.clone(),
                        block,
                        crc,
                    ));
                }
                ids.push(id);
            }
            if ended && staged.is_none() {
                // The whole content fits one block: one Put Blob.
                let body = buf.split().freeze();
                let md5 = B64.encode(md5::compute(&body).0);
                let stored = or_cancel(
                    cancel,
                    self.shared.put_blob(
                        &target,
                        Payload::Bytes(body),
                        Some(("Content-MD5", md5.clone())),
                    ),
                )
                .await?;
                if stored != md5 {
                    return Err(UploadError::Mismatch {
                        destination: sas.destination(),
                        name: name.to_string(),
                        detail: format!("MD5 {md5} sent, {stored} stored"),
                    });
                }
                Progress::add(&progress.uploaded, length);
                sent = 1;
                break;
            }
            if ended && buf.is_empty() && in_flight.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(cancelled(cancel)),
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    let len = done.map_err(|e| UploadError::Internal(format!("a block upload task failed: {e}")))??;
                    Progress::add(&progress.uploaded, len);
                }
                next = source.next(), if !ended && buf.len() <= block_size => match next? {
                    Some(chunk) => {
                        whole_md5.consume(&chunk);
                        length += chunk.len() as u64;
                        buf.extend_from_slice(&chunk);
                    }
                    None => ended = true,
                },
            }
        }

        let content_md5 = B64.encode(whole_md5.finalize().0);
        if !ids.is_empty() {
            or_cancel(
                cancel,
                self.shared.put_block_list(&target, &ids, &content_md5),
            )
            .await?;
        }
        let verified = or_cancel(cancel, self.shared.verify(&target, length, &content_md5)).await?;
        tracing::debug!(
            destination = %sas.destination(),
            blob = name,
            length,
            blocks_sent = sent,
            blocks_skipped = skipped,
            verified,
            "upload done"
        );
        Ok(UploadedBlob {
            name: name.to_string(),
            length,
            content_md5,
            blocks_sent: sent,
            blocks_skipped: skipped,
            verified,
        })
    }
}

/// Sends one block (a task of its own, aborted when the upload is dropped); its length once
/// acknowledged.
async fn put_block(
    shared: Arc<Shared>,
    target: Arc<Target>,
    id: String,
    block: Bytes,
    crc: u64,
) -> Result<u64, UploadError> {
    const OP: &str = "Put Block";
    // The block's MD5: the service refuses a block that does not match it. (Its CRC64, which
    // names the block, would do too, but the emulator computes CRC64 in JavaScript at a third of
    // the speed of its MD5, on the same cores as pep; Azure accepts either.)
    let _ = crc;
    let checksum = B64.encode(md5::compute(&block).0);
    let url = target.url(&format!("&comp=block&blockid={}", percent_encode(&id)));
    let len = block.len() as u64;
    let a = shared
        .call(
            &target.sas,
            OP,
            Method::PUT,
            &url,
            vec![("Content-MD5", checksum)],
            Some(Payload::Bytes(block)),
        )
        .await?;
    if !a.status.is_success() {
        return Err(failure(&target.sas, OP, "writing to", &a));
    }
    Ok(len)
}

impl Shared {
    /// One REST call with retries: exponential backoff with jitter on 408, 429 and 5xx gateway
    /// errors and on transport errors, honouring `Retry-After` (capped). Returns the last answer,
    /// whatever its status; fails only when no answer came.
    async fn call(
        &self,
        sas: &ContainerSas,
        op: &'static str,
        method: Method,
        url: &str,
        headers: Vec<(&'static str, String)>,
        body: Option<Payload>,
    ) -> Result<Answer, UploadError> {
        let mut attempt = 0u32;
        loop {
            if let (Some(bucket), Some(body)) = (&self.bucket, &body) {
                bucket.take(body.len()).await;
            }
            let mut req = self
                .http
                .request(method.clone(), url)
                .timeout(self.opts.request_timeout)
                .header("x-ms-version", API_VERSION);
            for (name, value) in &headers {
                req = req.header(*name, value.as_str());
            }
            if let Some(body) = &body {
                // hyper sends no Content-Length for an empty body, nor for a streamed one, and
                // the service wants one.
                if body.len() == 0 || matches!(body, Payload::File(_)) {
                    req = req.header(reqwest::header::CONTENT_LENGTH, body.len().to_string());
                }
                req = req.body(body.body());
            }
            let outcome = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    resp.bytes().await.map(|body| Answer {
                        status,
                        headers,
                        body,
                    })
                }
                Err(e) => Err(e),
            };
            let last = attempt >= self.opts.retries;
            let wait = match outcome {
                Ok(a) if retryable(a.status) && !last => {
                    let wait = retry_after(&a.headers).unwrap_or_else(|| backoff(attempt));
                    tracing::debug!(op, destination = %sas.destination(), status = a.status.as_u16(), attempt, "retrying");
                    wait
                }
                Ok(a) => return Ok(a),
                Err(e) if !e.is_builder() && !last => {
                    tracing::debug!(op, destination = %sas.destination(), error = %sas.scrub(&describe(&e.without_url())), attempt, "retrying");
                    backoff(attempt)
                }
                Err(e) => {
                    let detail = if e.is_timeout() {
                        format!("no answer within {} s", self.opts.request_timeout.as_secs())
                    } else {
                        describe(&e.without_url())
                    };
                    return Err(UploadError::Network {
                        op,
                        destination: sas.destination(),
                        detail: sas.scrub(&detail),
                    });
                }
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// The ids and sizes of the blocks staged but not committed (none when the blob does not
    /// exist, or the SAS may not read the list: resume is then impossible, not the upload).
    async fn staged_blocks(&self, target: &Target) -> Result<HashMap<String, u64>, UploadError> {
        const OP: &str = "Get Block List";
        let url = target.url("&comp=blocklist&blocklisttype=uncommitted");
        let a = self
            .call(&target.sas, OP, Method::GET, &url, Vec::new(), None)
            .await?;
        if a.status == StatusCode::NOT_FOUND || a.status == StatusCode::FORBIDDEN {
            return Ok(HashMap::new());
        }
        if !a.status.is_success() {
            return Err(failure(&target.sas, OP, "reading", &a));
        }
        let xml = String::from_utf8_lossy(&a.body);
        let mut staged = HashMap::new();
        if let Some(section) = element(&xml, "UncommittedBlocks") {
            for block in elements(section, "Block") {
                let name = element(block, "Name").map(xml_unescape);
                let size = element(block, "Size").and_then(|s| s.trim().parse().ok());
                if let (Some(name), Some(size)) = (name, size) {
                    staged.insert(name, size);
                }
            }
        }
        Ok(staged)
    }

    /// Put Blob: the whole content in one request, checked by the service against `checksum`
    /// when one is given. Returns the MD5 the service computed of what it received.
    async fn put_blob(
        &self,
        target: &Target,
        body: Payload,
        checksum: Option<(&'static str, String)>,
    ) -> Result<String, UploadError> {
        const OP: &str = "Put Blob";
        let url = target.url("");
        let mut headers = vec![("x-ms-blob-type", "BlockBlob".to_string())];
        headers.extend(checksum);
        let a = self
            .call(&target.sas, OP, Method::PUT, &url, headers, Some(body))
            .await?;
        if !a.status.is_success() {
            return Err(failure(&target.sas, OP, "writing to", &a));
        }
        // Azure returns the MD5 of a block blob's content with every Put Blob.
        a.header("content-md5")
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| UploadError::Protocol {
                op: OP,
                destination: target.sas.destination(),
                detail: "no Content-MD5 in the answer".into(),
            })
    }

    /// Put Block List: commits the blocks in order, storing the whole content's MD5.
    async fn put_block_list(
        &self,
        target: &Target,
        ids: &[String],
        content_md5: &str,
    ) -> Result<(), UploadError> {
        const OP: &str = "Put Block List";
        let mut xml = String::from(r#"<?xml version="1.0" encoding="utf-8"?><BlockList>"#);
        for id in ids {
            xml.push_str("<Latest>");
            xml.push_str(id);
            xml.push_str("</Latest>");
        }
        xml.push_str("</BlockList>");
        let url = target.url("&comp=blocklist");
        let headers = vec![
            ("x-ms-blob-content-md5", content_md5.to_string()),
            ("Content-Type", "application/xml".to_string()),
        ];
        let a = self
            .call(
                &target.sas,
                OP,
                Method::PUT,
                &url,
                headers,
                Some(Payload::Bytes(Bytes::from(xml))),
            )
            .await?;
        if !a.status.is_success() {
            return Err(failure(&target.sas, OP, "writing to", &a));
        }
        Ok(())
    }

    /// Reads the committed blob's length and MD5 back (Get Blob Properties) and compares them.
    /// `Ok(false)` when the SAS may not read: the upload stands, unverified.
    async fn verify(&self, target: &Target, length: u64, md5: &str) -> Result<bool, UploadError> {
        const OP: &str = "Get Blob Properties";
        let url = target.url("");
        let a = self
            .call(&target.sas, OP, Method::HEAD, &url, Vec::new(), None)
            .await?;
        if a.status == StatusCode::FORBIDDEN {
            tracing::warn!(destination = %target.sas.destination(), blob = %target.name, "the SAS does not allow reading: the upload could not be verified");
            return Ok(false);
        }
        if !a.status.is_success() {
            return Err(failure(&target.sas, OP, "reading", &a));
        }
        let mismatch = |detail: String| UploadError::Mismatch {
            destination: target.sas.destination(),
            name: target.name.clone(),
            detail,
        };
        let stored_len = a
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok());
        if stored_len != Some(length) {
            return Err(mismatch(format!(
                "{length} bytes sent, {} stored",
                stored_len.map_or("an unknown number of".to_string(), |n| n.to_string())
            )));
        }
        let stored_md5 = a.header("content-md5").unwrap_or("");
        if stored_md5 != md5 {
            return Err(mismatch(format!(
                "MD5 {md5} sent, {} stored",
                if stored_md5.is_empty() {
                    "none"
                } else {
                    stored_md5
                }
            )));
        }
        Ok(true)
    }
}

/// The failure an answer means: 403 as one line about the SAS, anything else with its status and
/// `x-ms-error-code`.
fn failure(sas: &ContainerSas, op: &'static str, action: &'static str, a: &Answer) -> UploadError {
    if a.status == StatusCode::FORBIDDEN {
        return match sas.expiry() {
            Some(expired_at) if expired_at <= Utc::now() => UploadError::Expired {
                action,
                destination: sas.destination(),
                expired_at,
            },
            _ => UploadError::Forbidden {
                action,
                destination: sas.destination(),
            },
        };
    }
    // An error code is an identifier; anything else in the header is dropped.
    let code = a
        .header("x-ms-error-code")
        .map(|c| {
            c.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(80)
                .collect::<String>()
        })
        .filter(|c| !c.is_empty());
    UploadError::Http {
        op,
        destination: sas.destination(),
        status: a.status.as_u16(),
        code,
    }
}

fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After` in seconds, capped.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(RETRY_AFTER_CAP))
}

/// 250 ms doubling per attempt up to [`BACKOFF_CAP`], the second half of it random.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(250)
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_CAP);
    let half = base.as_millis() as u64 / 2;
    let jitter = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        % (half + 1);
    Duration::from_millis(half + jitter)
}

/// Awaits `fut` unless `cancel` is set first.
async fn or_cancel<T>(
    cancel: &Cancel,
    fut: impl std::future::Future<Output = Result<T, UploadError>>,
) -> Result<T, UploadError> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(cancelled(cancel)),
        r = fut => r,
    }
}

fn cancelled(cancel: &Cancel) -> UploadError {
    UploadError::Cancelled(cancel.reason().unwrap_or_else(|| "cancelled".into()))
}

/// A reqwest error (already stripped of its URL) with its causes, on one line.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.replace(['\n', '\r'], " ")
}

/// Azure's CRC64 (CRC-64/NVME) of `bytes`.
pub fn crc64(bytes: &[u8]) -> u64 {
    let mut c = crc64fast_nvme::Digest::new();
    c.write(bytes);
    c.sum64()
}

/// The block id of block `index` with CRC64 `crc`: base64 of `<index:06>-<crc:016x>`, the same
/// length for every block, and the same for the same content, so an interrupted upload resumes
/// (a staged block is skipped only when its size matches too).
fn block_id(index: usize, crc: u64) -> String {
    B64.encode(format!("{index:06}-{crc:016x}"))
}

/// The content of the first `<tag>...</tag>` in `xml`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    elements(xml, tag).next()
}

/// The contents of every `<tag>...</tag>` in `xml`, in order (not nested in themselves; a
/// self-closing `<tag/>` has none).
fn elements<'a>(xml: &'a str, tag: &str) -> impl Iterator<Item = &'a str> + 'a {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut rest = xml;
    std::iter::from_fn(move || {
        let start = rest.find(&open)? + open.len();
        let len = rest[start..].find(&close)?;
        let content = &rest[start..start + len];
        rest = &rest[start + len + close.len()..];
        Some(content)
    })
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::super::sas::percent_decode;
    use super::super::sas::tests::assert_no_sig;
    use super::*;
    use crate::logs::azurite::Azurite;

    const KIB: usize = 1024;

    /// Deterministic bytes that do not compress or repeat (xorshift).
    fn data(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn small_blocks() -> UploadOptions {
        UploadOptions {
            block_size: 64 * KIB,
            parallel: 4,
            retries: 1,
            request_timeout: Duration::from_secs(10),
            max_bytes_per_sec: None,
            single_put_max: 0,
        }
    }

    /// The shared Azurite with a container named after the test and a read-write SAS to it.
    fn setup(test: &str) -> Option<(Arc<Azurite>, ContainerSas, String)> {
        let azurite = Azurite::shared_for_tests(test)?;
        azurite.create_container(test).expect("container");
        let url = azurite.container_sas(test, "rcwl", Utc::now() + chrono::Duration::hours(1));
        let sas = ContainerSas::parse(&url).expect("sas");
        Some((azurite, sas, url))
    }

    /// Feeds `bytes` in `chunk`-sized pieces, as a collector would.
    fn feed(bytes: Vec<u8>, chunk: usize) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            for piece in bytes.chunks(chunk) {
                if tx.send(Bytes::copy_from_slice(piece)).await.is_err() {
                    return;
                }
            }
        });
        rx
    }

    async fn download(client: &BlobClient, sas: &ContainerSas, name: &str) -> Vec<u8> {
        let url = sas.blob_url(&encode_blob_name(name).expect("name"), "");
        let resp = client.shared.http.get(url).send().await.expect("get");
        assert_eq!(resp.status(), StatusCode::OK);
        resp.bytes().await.expect("body").to_vec()
    }

    fn assert_same(blob: &UploadedBlob, sent: &[u8], got: &[u8]) {
        assert_eq!(got.len(), sent.len());
        assert!(got == sent, "the stored bytes differ");
        assert_eq!(blob.length, sent.len() as u64);
        assert_eq!(blob.content_md5, B64.encode(md5::compute(sent).0));
        assert!(blob.verified);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_small_blob_goes_up_in_one_put_blob_and_reads_back_identical() {
        let Some((_azurite, sas, _)) = setup("small-blob") else {
            return;
        };
        let client = BlobClient::new(small_blocks()).expect("client");
        let bytes = data(10_000, 1);
        let progress = Progress::new();
        let name = "stamp 1/AzureStack.Logs_role #1.zip";
        let blob = client
            .upload_stream(
                &sas,
                name,
                feed(bytes.clone(), 3000),
                &progress,
                &Cancel::new(),
            )
            .await
            .expect("upload");
        assert_eq!((blob.blocks_sent, blob.blocks_skipped), (1, 0));
        assert_eq!(
            progress.uploaded.load(std::sync::atomic::Ordering::Relaxed),
            10_000
        );
        assert_same(&blob, &bytes, &download(&client, &sas, name).await);
        let listed = client.list_blobs(&sas).await.expect("list");
        assert_eq!(listed, vec![(name.to_string(), 10_000)]);

        // Empty content is a blob too.
        let (tx, rx) = mpsc::channel(1);
        drop(tx);
        let empty = client
            .upload_stream(&sas, "empty", rx, &Progress::new(), &Cancel::new())
            .await
            .expect("empty upload");
        assert_eq!(empty.length, 0);
        assert!(empty.verified);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_multi_block_file_is_committed_verified_and_reads_back_identical() {
        let Some((azurite, sas, _)) = setup("multi-block") else {
            return;
        };
        let client = BlobClient::new(small_blocks()).expect("client");
        let bytes = data((1 << 20) + 123, 2);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bundle.zip");
        std::fs::write(&path, &bytes).expect("write");
        let progress = Progress::new();
        let blob = client
            .upload_file(&sas, "bundle.zip", &path, &progress, &Cancel::new())
            .await
            .expect("upload");
        assert_eq!((blob.blocks_sent, blob.blocks_skipped), (17, 0));
        assert_eq!(
            progress.uploaded.load(std::sync::atomic::Ordering::Relaxed),
            bytes.len() as u64
        );
        assert_same(&blob, &bytes, &download(&client, &sas, "bundle.zip").await);

        // Below the single-put size, a file with no staged blocks is one Put Blob; with blocks
        // staged (an interrupted upload), it resumes in blocks.
        let whole = BlobClient::new(UploadOptions {
            single_put_max: 4 << 20,
            ..small_blocks()
        })
        .expect("client");
        let blob = whole
            .upload_file(&sas, "whole.zip", &path, &Progress::new(), &Cancel::new())
            .await
            .expect("upload");
        assert_eq!((blob.blocks_sent, blob.blocks_skipped), (1, 0));
        assert!(blob.verified);
        assert_same(&blob, &bytes, &download(&client, &sas, "whole.zip").await);

        // A SAS that may only write cannot read back: the file's MD5 then goes with it for the
        // service to check, and the upload stands unverified.
        let write_only = ContainerSas::parse(&azurite.container_sas(
            "multi-block",
            "cw",
            Utc::now() + chrono::Duration::hours(1),
        ))
        .expect("sas");
        let blob = whole
            .upload_file(
                &write_only,
                "blind.zip",
                &path,
                &Progress::new(),
                &Cancel::new(),
            )
            .await
            .expect("write-only upload");
        assert!(!blob.verified);
        assert_same(
            &UploadedBlob {
                verified: true,
                ..blob
            },
            &bytes,
            &download(&client, &sas, "blind.zip").await,
        );

        // Exactly one block's worth goes up as one Put Blob; one byte more needs two blocks.
        let one = data(64 * KIB, 3);
        let blob = client
            .upload_stream(
                &sas,
                "one",
                feed(one.clone(), 10_000),
                &Progress::new(),
                &Cancel::new(),
            )
            .await
            .expect("one block");
        assert_eq!(blob.blocks_sent, 1);
        assert_same(&blob, &one, &download(&client, &sas, "one").await);
        let two = data(64 * KIB + 1, 4);
        let blob = client
            .upload_stream(
                &sas,
                "two",
                feed(two.clone(), 64 * KIB),
                &Progress::new(),
                &Cancel::new(),
            )
            .await
            .expect("two blocks");
        assert_eq!(blob.blocks_sent, 2);
        assert_same(&blob, &two, &download(&client, &sas, "two").await);

        let missing = client
            .upload_file(
                &sas,
                "x",
                &dir.path().join("missing"),
                &Progress::new(),
                &Cancel::new(),
            )
            .await
            .expect_err("no file");
        assert!(matches!(missing, UploadError::Read { .. }), "{missing}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_interrupted_upload_resumes_by_skipping_the_staged_blocks() {
        let Some((_azurite, sas, _)) = setup("resume") else {
            return;
        };
        let bytes = data(1 << 20, 5);
        let total = 16;
        // 256 KiB/s one block at a time: four blocks at once, then one every 250 ms.
        let slow = BlobClient::new(UploadOptions {
            parallel: 1,
            max_bytes_per_sec: Some(256 * KIB as u64),
            ..small_blocks()
        })
        .expect("client");
        let cancel = Cancel::new();
        let stopper = cancel.clone();
        // Interrupted once the service has acknowledged a block (later on a loaded machine).
        let interrupted = Arc::new(Progress::new());
        let watched = interrupted.clone();
        tokio::spawn(async move {
            let until = std::time::Instant::now() + Duration::from_secs(20);
            while watched.uploaded.load(std::sync::atomic::Ordering::Relaxed) == 0
                && std::time::Instant::now() < until
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            stopper.cancel("operator revoked the grant");
        });
        let first = slow
            .upload_stream(
                &sas,
                "resumed.zip",
                feed(bytes.clone(), 100_000),
                &interrupted,
                &cancel,
            )
            .await
            .expect_err("interrupted");
        assert!(
            matches!(first, UploadError::Cancelled(ref why) if why == "operator revoked the grant"),
            "{first}"
        );

        let client = BlobClient::new(small_blocks()).expect("client");
        let progress = Progress::new();
        let blob = client
            .upload_stream(
                &sas,
                "resumed.zip",
                feed(bytes.clone(), 100_000),
                &progress,
                &Cancel::new(),
            )
            .await
            .expect("resumed");
        assert!(blob.blocks_skipped > 0, "{blob:?}");
        assert_eq!(blob.blocks_sent + blob.blocks_skipped, total, "{blob:?}");
        assert_eq!(
            progress.uploaded.load(std::sync::atomic::Ordering::Relaxed),
            bytes.len() as u64
        );
        assert_same(&blob, &bytes, &download(&client, &sas, "resumed.zip").await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_only_or_expired_sas_gets_one_line_that_names_the_container() {
        let Some((azurite, _, _)) = setup("forbidden") else {
            return;
        };
        let client = BlobClient::new(small_blocks()).expect("client");
        let read_only =
            azurite.container_sas("forbidden", "r", Utc::now() + chrono::Duration::hours(1));
        let sas = ContainerSas::parse(&read_only).expect("sas");
        assert_eq!(sas.permissions(), "r");
        for len in [100, 200 * KIB] {
            let err = client
                .upload_stream(
                    &sas,
                    "denied",
                    feed(data(len, 6), 50_000),
                    &Progress::new(),
                    &Cancel::new(),
                )
                .await
                .expect_err("denied");
            assert_eq!(
                err.to_string(),
                "the SAS does not allow writing to devstoreaccount1/forbidden, or has expired"
            );
            assert_no_sig(&read_only, &err.to_string());
            assert_no_sig(&read_only, &format!("{err:?}"));
        }
        let err = client.list_blobs(&sas).await.expect_err("no l");
        assert!(
            err.to_string()
                .starts_with("the SAS does not allow listing"),
            "{err}"
        );

        let when = Utc::now() - chrono::Duration::hours(1);
        let expired = azurite.container_sas("forbidden", "rcwl", when);
        let sas = ContainerSas::parse(&expired).expect("sas");
        let err = client
            .upload_stream(
                &sas,
                "late",
                feed(data(100, 7), 100),
                &Progress::new(),
                &Cancel::new(),
            )
            .await
            .expect_err("expired");
        let line = err.to_string();
        assert!(
            line.starts_with(
                "the SAS does not allow writing to devstoreaccount1/forbidden: it expired at "
            ),
            "{line}"
        );
        assert!(
            line.contains(&when.format("%Y-%m-%d %H:%M:%S").to_string()),
            "{line}"
        );
        assert!(!line.contains('\n'));
        assert_no_sig(&expired, &line);
        assert_no_sig(&expired, &format!("{err:?} {sas:?}"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancel_during_a_capped_upload_returns_cancelled_within_a_second() {
        let Some((_azurite, sas, _)) = setup("cancel") else {
            return;
        };
        let client = BlobClient::new(UploadOptions {
            max_bytes_per_sec: Some(64 * KIB as u64),
            ..small_blocks()
        })
        .expect("client");
        let cancel = Cancel::new();
        let stopper = cancel.clone();
        let fired = Arc::new(Mutex::new(None::<Instant>));
        let fired_at = fired.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            *fired_at.lock().expect("lock") = Some(Instant::now());
            stopper.cancel("revoked");
        });
        let err = client
            .upload_stream(
                &sas,
                "slow",
                feed(data(1 << 20, 8), 64 * KIB),
                &Progress::new(),
                &cancel,
            )
            .await
            .expect_err("cancelled");
        let returned = Instant::now();
        assert!(
            matches!(err, UploadError::Cancelled(ref why) if why == "revoked"),
            "{err}"
        );
        let fired = fired.lock().expect("lock").expect("cancel fired");
        assert!(returned.duration_since(fired) < Duration::from_secs(1));
    }

    #[test]
    fn block_ids_are_fixed_length_and_follow_index_and_content() {
        let a = block_id(0, crc64(b"one"));
        assert_eq!(a, block_id(0, crc64(b"one")));
        assert_ne!(a, block_id(1, crc64(b"one")));
        assert_ne!(a, block_id(0, crc64(b"two")));
        assert_eq!(a.len(), block_id(49_999, crc64(&data(1000, 9))).len());
        // CRC-64/NVME's check value.
        assert_eq!(crc64(b"123456789"), 0xae8b_1486_0a79_9888);
        let decoded = String::from_utf8(B64.decode(&a).expect("base64")).expect("utf8");
        assert!(
            decoded.starts_with("000000-") && decoded.len() == 23,
            "{decoded}"
        );
    }

    #[test]
    fn blob_names_are_encoded_per_segment_and_odd_ones_refused() {
        assert_eq!(
            encode_blob_name("a b/c+d.zip").expect("name"),
            "a%20b/c%2Bd.zip"
        );
        for bad in ["", "a//b", "../x", "a/./b", "/a"] {
            assert!(encode_blob_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_staged_block_list_and_blob_list_are_read() {
        let xml = "<?xml version=\"1.0\"?><BlockList><CommittedBlocks /><UncommittedBlocks><Block><Name>QQ==</Name><Size>5</Size></Block><Block><Name>Qg==</Name><Size>7</Size></Block></UncommittedBlocks></BlockList>";
        let section = element(xml, "UncommittedBlocks").expect("section");
        let blocks: Vec<(&str, &str)> = elements(section, "Block")
            .map(|b| {
                (
                    element(b, "Name").expect("n"),
                    element(b, "Size").expect("s"),
                )
            })
            .collect();
        assert_eq!(blocks, vec![("QQ==", "5"), ("Qg==", "7")]);
        assert_eq!(xml_unescape("a&amp;b&lt;c"), "a&b<c");
        assert_eq!(
            percent_decode("2030-01-02T03%3A04%3A05Z%"),
            "2030-01-02T03:04:05Z%"
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stays_capped() {
        for attempt in 0..20 {
            let d = backoff(attempt);
            let base = Duration::from_millis(250)
                .saturating_mul(1 << attempt.min(16))
                .min(BACKOFF_CAP);
            assert!(d >= base / 2 && d <= base, "{attempt}: {d:?}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "3600".parse().expect("value"));
        assert_eq!(retry_after(&headers), Some(RETRY_AFTER_CAP));
        assert!(retryable(StatusCode::SERVICE_UNAVAILABLE) && !retryable(StatusCode::FORBIDDEN));
    }
}
