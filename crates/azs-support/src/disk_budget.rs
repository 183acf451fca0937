//! The state directory's disk budget: one account of what sessions write into the state directory
//! (every working directory and every transcript together) and of the free space they must leave
//! on its file system, so that nobody can fill the disk that consent, identities and session
//! history are kept on.
//!
//! Design (the decision a security engineer defends): a support engineer decides how much a
//! session writes, so what a session writes is checked *before* it is written, against two
//! limits at once:
//!
//! - the budget: the bytes of all working directories and transcripts together may not pass
//!   `limit` (`pep serve --state-budget-mb`), whatever the file system has free;
//! - the headroom: a write may not leave less than `headroom` bytes free on the file system
//!   (`--state-headroom-mb`), because the disk may be shared or smaller than the budget.
//!
//! Writes come in three classes ([`WriteClass`]). Bulk data (working-directory files, command
//! output in a support transcript) stops at either limit. A support session's small audit
//! records (headers, invocations, refusals, session records) may go on into the first half of the
//! headroom, so that a refusal is still recorded when bulk writes are refused; below half the
//! headroom a support session can no longer be recorded and is refused (fail closed). The
//! operator's writes are never refused by the budget — only a really full disk stops them — so
//! an operator can always log in and revoke.
//!
//! The byte count is taken once at start (walking the counted directories) and then kept up to
//! date by [`DiskBudget::charge`] and [`DiskBudget::release`]; free space is read from the file
//! system (`statvfs`), so writes by anything else on the same disk count too. A reading serves
//! the charges of the next [`FREE_FRESH`] while, less what they charged, it stays more than
//! [`FREE_MARGIN`] above the limit; near the limit every charge reads it again. (Busy sessions
//! charge every transcript and recording line: a `statvfs` per line cost more than the writes.)
//! So what pep writes is always counted exactly, and what others write is seen within
//! [`FREE_FRESH`], or at once within [`FREE_MARGIN`] of the limit.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a free-space reading serves charges far from the limit.
pub const FREE_FRESH: Duration = Duration::from_millis(100);
/// How far above the limit a reading must stay to serve a charge without a new one.
pub const FREE_MARGIN: u64 = 64 << 20;

/// Who writes, and so which limits apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteClass {
    /// Bulk data: working-directory files, command output in a support session's transcript.
    /// Refused past the budget or when it would leave less than the headroom free.
    Bulk,
    /// A support session's audit records (transcript header, invocations, refusals, notes).
    /// Refused only when it would leave less than half the headroom free.
    Record,
    /// An operator's records. Never refused by the budget; counted.
    Operator,
}

/// Why a write was refused (one line for the user).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BudgetError {
    /// The budget for working directories and transcripts is used up.
    #[error("the state directory's disk budget of {} is used up ({} used, {} more requested); free space with Clear-AzsSupportWorkingDirectory or ask the operator to raise --state-budget-mb", human(*limit), human(*used), human(*wanted))]
    Budget {
        /// The budget in bytes.
        limit: u64,
        /// Bytes counted now.
        used: u64,
        /// Bytes the write needs.
        wanted: u64,
    },
    /// The file system would drop below the free space reserved for consent and history.
    #[error("the state directory's disk would drop below the {} kept free for consent, identities and history ({} free, {} more requested)", human(*reserved), human(*free), human(*wanted))]
    Headroom {
        /// Bytes that must stay free for this class of write.
        reserved: u64,
        /// Bytes free now.
        free: u64,
        /// Bytes the write needs.
        wanted: u64,
    },
    /// The free space could not be read: refused, since the budget cannot be checked.
    #[error("the free space of the state directory cannot be read ({0}); nothing was written")]
    Unknown(String),
}

type FreeSpace = Box<dyn Fn(&Path) -> io::Result<u64> + Send + Sync>;

/// The budget shared by every session of an endpoint.
pub struct DiskBudget {
    root: PathBuf,
    limit: u64,
    headroom: u64,
    used: Mutex<Account>,
    free: FreeSpace,
}

/// The bytes counted, and the last free-space reading.
#[derive(Default)]
struct Account {
    used: u64,
    reading: Option<Reading>,
}

/// Free bytes read at `at`, and what was charged since.
struct Reading {
    at: Instant,
    free: u64,
    charged: u64,
}

impl std::fmt::Debug for DiskBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskBudget")
            .field("root", &self.root)
            .field("limit", &self.limit)
            .field("headroom", &self.headroom)
            .field("used", &self.used())
            .finish()
    }
}

impl DiskBudget {
    /// The budget for the state directory at `root`: `limit` bytes for everything under
    /// `counted` (counted now), leaving `headroom` bytes free on `root`'s file system.
    pub fn open(root: &Path, counted: &[PathBuf], limit: u64, headroom: u64) -> io::Result<Self> {
        let mut used = 0u64;
        for dir in counted {
            match crate::workdir::tree_bytes(dir) {
                Ok(b) => used = used.saturating_add(b),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(DiskBudget {
            root: root.to_path_buf(),
            limit,
            headroom,
            used: Mutex::new(Account {
                used,
                reading: None,
            }),
            free: Box::new(free_bytes),
        })
    }

    /// A budget that never refuses (tests and tools that write outside a state directory).
    pub fn unlimited() -> Self {
        DiskBudget {
            root: PathBuf::new(),
            limit: u64::MAX,
            headroom: 0,
            used: Mutex::new(Account::default()),
            free: Box::new(|_| Ok(u64::MAX)),
        }
    }

    /// The same budget reading free space from `free` instead of the file system (tests).
    pub fn with_free_space(
        mut self,
        free: impl Fn(&Path) -> io::Result<u64> + Send + Sync + 'static,
    ) -> Self {
        self.free = Box::new(free);
        self
    }

    /// The budget in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes kept free on the file system.
    pub fn headroom(&self) -> u64 {
        self.headroom
    }

    /// Bytes counted now.
    pub fn used(&self) -> u64 {
        self.used.lock().unwrap_or_else(|p| p.into_inner()).used
    }

    /// Counts `bytes` about to be written by `class`, or refuses them. A write that then fails
    /// should [`release`](Self::release) what it charged.
    pub fn charge(&self, bytes: u64, class: WriteClass) -> Result<(), BudgetError> {
        // One charge at a time, so two sessions cannot both pass the last free bytes.
        let mut account = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let reserved = match class {
            WriteClass::Bulk => {
                if account.used.saturating_add(bytes) > self.limit {
                    return Err(BudgetError::Budget {
                        limit: self.limit,
                        used: account.used,
                        wanted: bytes,
                    });
                }
                Some(self.headroom)
            }
            WriteClass::Record => Some(self.headroom / 2),
            WriteClass::Operator => None,
        };
        if let Some(reserved) = reserved {
            let needed = reserved.saturating_add(bytes);
            let recent = account.reading.as_ref().is_some_and(|r| {
                r.at.elapsed() < FREE_FRESH
                    && r.free.saturating_sub(r.charged) >= needed.saturating_add(FREE_MARGIN)
            });
            if !recent {
                let free =
                    (self.free)(&self.root).map_err(|e| BudgetError::Unknown(e.to_string()))?;
                account.reading = Some(Reading {
                    at: Instant::now(),
                    free,
                    charged: 0,
                });
                if free < needed {
                    return Err(BudgetError::Headroom {
                        reserved,
                        free,
                        wanted: bytes,
                    });
                }
            }
        }
        account.used = account.used.saturating_add(bytes);
        if let Some(r) = account.reading.as_mut() {
            r.charged = r.charged.saturating_add(bytes);
        }
        Ok(())
    }

    /// Gives back `bytes` (files removed, or a charged write that failed).
    pub fn release(&self, bytes: u64) {
        let mut account = self.used.lock().unwrap_or_else(|p| p.into_inner());
        account.used = account.used.saturating_sub(bytes);
    }
}

/// Bytes available to an unprivileged writer on `path`'s file system.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let st = rustix::fs::statvfs(path).map_err(io::Error::from)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// `bytes` for people: `512 B`, `1.5 KiB`, `64.0 MiB`, `2.0 GiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    fn budget(limit: u64, headroom: u64, free: Arc<AtomicU64>) -> DiskBudget {
        DiskBudget {
            root: PathBuf::from("/"),
            limit,
            headroom,
            used: Mutex::new(Account::default()),
            free: Box::new(|_| Ok(0)),
        }
        .with_free_space(move |_| Ok(free.load(Ordering::SeqCst)))
    }

    #[test]
    fn bulk_stops_at_the_budget_and_at_the_headroom() {
        let free = Arc::new(AtomicU64::new(1000));
        let b = budget(500, 100, free.clone());
        b.charge(400, WriteClass::Bulk).expect("within both");
        let e = b
            .charge(200, WriteClass::Bulk)
            .expect_err("past the budget");
        assert!(matches!(e, BudgetError::Budget { used: 400, .. }), "{e}");
        b.release(400);
        free.store(250, Ordering::SeqCst);
        let e = b
            .charge(200, WriteClass::Bulk)
            .expect_err("past the headroom");
        assert!(
            matches!(e, BudgetError::Headroom { reserved: 100, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("kept free"), "{e}");
        b.charge(150, WriteClass::Bulk)
            .expect("leaves exactly the headroom");
    }

    #[test]
    fn records_use_half_the_headroom_and_operators_all_of_it() {
        let free = Arc::new(AtomicU64::new(80));
        let b = budget(10, 100, free.clone());
        assert!(b.charge(1, WriteClass::Bulk).is_err());
        b.charge(30, WriteClass::Record)
            .expect("a refusal is still recorded");
        free.store(40, Ordering::SeqCst);
        assert!(b.charge(1, WriteClass::Record).is_err(), "below half");
        free.store(1, Ordering::SeqCst);
        b.charge(1, WriteClass::Operator)
            .expect("the operator is never refused by the budget");
        assert_eq!(b.used(), 31);
    }

    #[test]
    fn free_space_far_from_the_limit_is_read_again_only_when_stale_and_near_it_always() {
        let reads = Arc::new(AtomicU64::new(0));
        let free = Arc::new(AtomicU64::new(FREE_MARGIN * 4));
        let (r, f) = (reads.clone(), free.clone());
        let b = budget(u64::MAX, 100, Arc::new(AtomicU64::new(0))).with_free_space(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
            Ok(f.load(Ordering::SeqCst))
        });
        for _ in 0..100 {
            b.charge(1000, WriteClass::Bulk)
                .expect("far from the limit");
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1, "one reading serves them");
        // A charge that would bring the reading within the margin reads again; so does every
        // charge once what pep charged since has used the reading up to the margin.
        b.charge(FREE_MARGIN * 3, WriteClass::Bulk)
            .expect("still above the headroom");
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        free.store(FREE_MARGIN / 2, Ordering::SeqCst);
        b.charge(1, WriteClass::Bulk)
            .expect("read again, still room");
        assert_eq!(reads.load(Ordering::SeqCst), 3);
        free.store(50, Ordering::SeqCst);
        assert!(
            b.charge(1, WriteClass::Bulk).is_err(),
            "near the limit another writer's bytes are seen at once"
        );
        // A stale reading is read again even far from the limit.
        free.store(FREE_MARGIN * 4, Ordering::SeqCst);
        std::thread::sleep(FREE_FRESH);
        b.charge(1, WriteClass::Record).expect("room again");
        b.charge(1, WriteClass::Record)
            .expect("served by the reading");
        assert_eq!(reads.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn unreadable_free_space_refuses() {
        let b =
            DiskBudget::unlimited().with_free_space(|_| Err(io::Error::other("statvfs failed")));
        let mut b = b;
        b.headroom = 10;
        assert!(matches!(
            b.charge(1, WriteClass::Bulk),
            Err(BudgetError::Unknown(_))
        ));
        b.charge(1, WriteClass::Operator)
            .expect("operators do not need it");
    }

    #[test]
    fn counts_what_is_there_at_open() {
        let tmp = tempfile::tempdir().expect("tmp");
        let a = tmp.path().join("a");
        std::fs::create_dir_all(a.join("x")).expect("mkdir");
        std::fs::write(a.join("x/f"), vec![0u8; 300]).expect("write");
        let b =
            DiskBudget::open(tmp.path(), &[a, tmp.path().join("missing")], 1000, 0).expect("open");
        assert_eq!(b.used(), 300);
        assert!(free_bytes(tmp.path()).expect("statvfs") > 0);
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(64 << 20), "64.0 MiB");
    }
}
