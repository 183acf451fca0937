//! Just-in-time consent: the operator's grants of remote-support access, and the proof a support
//! session needs to run anything.
//!
//! A grant has an access level (`Diagnostics` ⊂ `DiagnosticsRepair`), a lifetime of 60 minutes to
//! 14 days, and a phase ([`GrantState`]). At most one grant is active. Support commands run only
//! with an [`Authorization`], which only [`Consent::authorize`] makes, from the live state, at the
//! moment the command runs. [`Consent::watch`] resolves when a grant stops being active (revoked,
//! expired, replaced), so live sessions end at that instant.
//!
//! Failing closed: a change that only takes access away (revoking, lowering the level, shortening
//! the lifetime — whatever [`narrows`] says) takes effect in memory first — live sessions end and
//! new logins are refused at once — and is then written. If the write fails (a full disk), the
//! operator is told ([`Consent::unsaved`]), the old `consent.json` is renamed to
//! `consent.revoked.json` (a rename needs no free space) so that a restart cannot bring the grant
//! back, and the server retries the write ([`Consent::flush`]) until it succeeds. A change that
//! gives access is written first and takes effect only once written. At start, a
//! `consent.revoked.json` with no `consent.json` beside it is loaded with its active grant
//! revoked; a `consent.json` that cannot be read or parsed is moved aside
//! (`consent.json.unreadable-<time>`) and the endpoint starts with no grant.
//!
//! `consent.json` (format version 1), replaced atomically on every change:
//! `{"version":1,"next_id":3,"grants":[{"id":2,"access_level":"Diagnostics",
//! "created_at":"...","updated_at":"...","expires_at":"...","support_request_id":"123",
//! "revoked_at":null}]}`. Grants that ended more than 30 days ago are dropped when it is written and by the daily
//! retention sweep. A grant given with `-Attended` carries `"attended":true` (absent: false).

use crate::clock::Clock;
use crate::state::atomic_write;
use anyhow::{bail, Context, Result};
use azs_support::catalog::Access;
use azs_support::{Record, Value};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tokio::sync::watch;

/// Shortest grant, in minutes.
pub const MIN_MINUTES: i64 = 60;
/// Longest grant (14 days), in minutes.
pub const MAX_MINUTES: i64 = 20_160;
/// Default grant length, in minutes.
pub const DEFAULT_MINUTES: i64 = 480;
/// How far back `-IncludeExpired` reaches.
const INCLUDE_EXPIRED_DAYS: i64 = 30;
/// Seconds between retries of a consent write that failed.
pub const RETRY_SECS: u64 = 2;
/// How long ended grants are kept on disk.
const RETENTION_DAYS: i64 = 30;

/// The level of access a grant gives support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AccessLevel {
    /// Read-only diagnostics.
    Diagnostics,
    /// Diagnostics and repair.
    DiagnosticsRepair,
}

impl AccessLevel {
    /// The name as written in commands and records.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::Diagnostics => "Diagnostics",
            AccessLevel::DiagnosticsRepair => "DiagnosticsRepair",
        }
    }

    /// Parses the catalog's ValidateSet spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "diagnostics" => Some(AccessLevel::Diagnostics),
            "diagnosticsrepair" => Some(AccessLevel::DiagnosticsRepair),
            _ => None,
        }
    }
}

/// The phase of a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantState {
    /// In force: support may connect and run commands at its level.
    Active,
    /// Its lifetime ran out.
    Expired,
    /// The operator revoked it (or replaced it).
    Revoked,
}

impl GrantState {
    /// The name shown in records.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantState::Active => "Active",
            GrantState::Expired => "Expired",
            GrantState::Revoked => "Revoked",
        }
    }
}

/// One grant, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// Sequence number.
    pub id: u64,
    /// Level.
    pub access_level: AccessLevel,
    /// When it was granted.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    /// The support case it was granted for.
    pub support_request_id: Option<String>,
    /// When the operator revoked it.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Attended: support's commands wait until an operator or observer watches the session
    /// (absent in files written before it: false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attended: bool,
}

impl Grant {
    /// Its phase at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> GrantState {
        if self.revoked_at.is_some() {
            GrantState::Revoked
        } else if now >= self.expires_at {
            GrantState::Expired
        } else {
            GrantState::Active
        }
    }

    /// When it stopped being active (or will).
    fn ended_at(&self) -> DateTime<Utc> {
        self.revoked_at.unwrap_or(self.expires_at)
    }
}

/// Why a grant a session relied on ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantEnd {
    /// Revoked by the operator (or replaced by a new grant).
    Revoked,
    /// Expired.
    Expired,
}

impl GrantEnd {
    /// The message a live session is ended with.
    pub fn message(self) -> &'static str {
        match self {
            GrantEnd::Revoked => {
                "remote support consent was revoked by the operator; the session has ended"
            }
            GrantEnd::Expired => "remote support consent expired; the session has ended",
        }
    }
}

/// Proof that a support command may run at `level` under grant `grant_id`. Only
/// [`Consent::authorize`] makes one, from the live state; it is not kept across commands.
#[derive(Debug)]
pub struct Authorization {
    grant_id: u64,
    level: AccessLevel,
}

impl Authorization {
    /// The grant it was derived from.
    pub fn grant_id(&self) -> u64 {
        self.grant_id
    }

    /// The grant's level.
    pub fn level(&self) -> AccessLevel {
        self.level
    }

    /// Whether a support command of catalog access `access` may run under it.
    pub fn permits(&self, access: Access) -> bool {
        match access {
            Access::Default => true,
            Access::Diagnostics => true,
            Access::DiagnosticsRepair => self.level == AccessLevel::DiagnosticsRepair,
            Access::Operator | Access::Elevated => false,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ConsentFile {
    version: u32,
    next_id: u64,
    grants: Vec<Grant>,
}

/// The grants of this endpoint, shared by every session.
pub struct Consent {
    path: PathBuf,
    clock: Clock,
    inner: Mutex<ConsentFile>,
    changed: watch::Sender<u64>,
    live_support_sessions: AtomicUsize,
    /// Why the grants in memory are not yet on disk (a restricting change whose write failed).
    unsaved: Mutex<Option<String>>,
}

/// Whether going from `before` to `after` only takes access away: no grant active afterwards, or
/// the same grant at no higher level and ending no later.
pub fn narrows(before: &[Grant], after: &[Grant], now: DateTime<Utc>) -> bool {
    let active = |gs: &[Grant]| {
        gs.iter()
            .find(|g| g.state(now) == GrantState::Active)
            .cloned()
    };
    match (active(before), active(after)) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => {
            a.id == b.id && b.access_level <= a.access_level && b.expires_at <= a.expires_at
        }
    }
}

impl Consent {
    /// Loads `consent.json` (an absent file means no grants), failing closed: see the module
    /// header for a revocation that was never written and for an unreadable file.
    pub fn open(path: &Path, clock: Clock) -> Result<Self> {
        let revoked_path = revoked_path(path);
        let now = clock.now();
        let empty = || ConsentFile {
            version: 1,
            next_id: 1,
            grants: Vec::new(),
        };
        let mut finish_revocation = false;
        let file = match read_file(path) {
            Ok(Some(f)) => {
                // Written after the revocation it supersedes.
                let _ = std::fs::remove_file(&revoked_path);
                f
            }
            Ok(None) => match read_file(&revoked_path) {
                Ok(Some(mut f)) => {
                    for g in f
                        .grants
                        .iter_mut()
                        .filter(|g| g.state(now) == GrantState::Active)
                    {
                        g.revoked_at = Some(now);
                        g.updated_at = now;
                    }
                    tracing::warn!("a revocation that could not be written before the last stop is completed now");
                    finish_revocation = true;
                    f
                }
                Ok(None) => empty(),
                Err(e) => {
                    set_aside(&revoked_path, now, &e);
                    empty()
                }
            },
            Err(e) => {
                set_aside(path, now, &e);
                empty()
            }
        };
        let consent = Consent {
            path: path.to_path_buf(),
            clock,
            inner: Mutex::new(file),
            changed: watch::channel(0).0,
            live_support_sessions: AtomicUsize::new(0),
            unsaved: Mutex::new(None),
        };
        if finish_revocation {
            // Still no room: the revocation stays in force in memory and the file set aside;
            // the retry writes it later.
            match consent.write_current() {
                Ok(()) => consent.saved(),
                Err(e) => consent.not_saved(&e),
            }
        }
        Ok(consent)
    }

    /// Why the grants in force are not yet saved, if they are not (the server retries).
    pub fn unsaved(&self) -> Option<String> {
        self.unsaved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Writes the grants in force if an earlier write failed; true when nothing is left unsaved.
    pub fn flush(&self) -> bool {
        if self.unsaved().is_none() {
            return true;
        }
        match self.write_current() {
            Ok(()) => {
                self.saved();
                tracing::info!("the consent change that could not be written is now saved");
                true
            }
            Err(_) => false,
        }
    }

    /// The grants in force are on disk: nothing is pending and no set-aside file is needed.
    fn saved(&self) {
        *self.unsaved.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let _ = std::fs::remove_file(revoked_path(&self.path));
    }

    /// The grants in force could not be written: the operator is told and the retry will write
    /// them.
    fn not_saved(&self, e: &anyhow::Error) {
        *self.unsaved.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{e:#}"));
    }

    fn write_current(&self) -> Result<()> {
        let guard = self.lock();
        atomic_write(&self.path, &serde_json::to_vec_pretty(&*guard)?, 0o600)
    }

    /// The clock grants are judged by.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ConsentFile> {
        // A panic while holding the lock cannot leave the grants half-changed (every change is
        // built on a copy and swapped in whole), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `change` to a copy of the state; a change that gives access is written, then swapped
    /// in; one that only narrows it is swapped in (watchers woken) before it is written.
    /// Removes the grants that ended more than 30 days ago (the retention sweeper); how many.
    pub fn sweep(&self) -> Result<usize> {
        let before = self.lock().grants.len();
        self.update(|_, _| Ok(()))?;
        let kept = self.lock().grants.len();
        Ok(before.saturating_sub(kept))
    }

    fn update<T>(
        &self,
        change: impl FnOnce(&mut ConsentFile, DateTime<Utc>) -> Result<T>,
    ) -> Result<T> {
        let now = self.clock.now();
        let mut guard = self.lock();
        let mut next = ConsentFile {
            version: 1,
            next_id: guard.next_id,
            grants: guard.grants.clone(),
        };
        let out = change(&mut next, now)?;
        next.grants.retain(|g| {
            g.state(now) == GrantState::Active
                || now - g.ended_at() < Duration::days(RETENTION_DAYS)
        });
        let bytes = serde_json::to_vec_pretty(&next)?;
        if !narrows(&guard.grants, &next.grants, now) {
            // Giving access: only once it is on disk.
            atomic_write(&self.path, &bytes, 0o600)?;
            *guard = next;
            drop(guard);
            self.saved();
            self.changed.send_modify(|g| *g += 1);
            return Ok(out);
        }
        // Taking access away: in force now, then written.
        *guard = next;
        self.changed.send_modify(|g| *g += 1);
        let written = atomic_write(&self.path, &bytes, 0o600);
        drop(guard);
        match written {
            Ok(()) => self.saved(),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "consent change in force but not saved; retrying");
                // A restart before the retry succeeds must not bring the grant back.
                if let Err(r) = std::fs::rename(&self.path, revoked_path(&self.path)) {
                    if r.kind() != std::io::ErrorKind::NotFound {
                        tracing::error!(error = %r, "cannot set the old consent file aside");
                    }
                }
                self.not_saved(&e);
            }
        }
        Ok(out)
    }

    /// The active grant, if any.
    pub fn active(&self) -> Option<Grant> {
        let now = self.clock.now();
        self.lock()
            .grants
            .iter()
            .find(|g| g.state(now) == GrantState::Active)
            .cloned()
    }

    /// A proof for running support commands now, if a grant is active.
    pub fn authorize(&self) -> Option<Authorization> {
        self.active().map(|g| Authorization {
            grant_id: g.id,
            level: g.access_level,
        })
    }

    /// Grants remote support. Refused while another grant is active (change that one with
    /// [`Consent::set`] or revoke it first).
    pub fn enable(
        &self,
        level: AccessLevel,
        minutes: i64,
        support_request_id: Option<String>,
    ) -> Result<Grant> {
        self.enable_with(level, minutes, support_request_id, false)
    }

    /// Grants `level` for `minutes`, attended or not.
    pub fn enable_with(
        &self,
        level: AccessLevel,
        minutes: i64,
        support_request_id: Option<String>,
        attended: bool,
    ) -> Result<Grant> {
        check_minutes(minutes)?;
        self.update(|f, now| {
            if let Some(g) = f.grants.iter().find(|g| g.state(now) == GrantState::Active) {
                bail!(
                    "remote support is already enabled ({} until {}); change it with Set-RemoteSupportAccess or revoke it with Disable-RemoteSupport",
                    g.access_level.as_str(),
                    g.expires_at.format("%Y-%m-%d %H:%M:%SZ")
                );
            }
            let grant = Grant {
                id: f.next_id,
                access_level: level,
                created_at: now,
                updated_at: now,
                expires_at: now + Duration::minutes(minutes),
                support_request_id,
                revoked_at: None,
                attended,
            };
            f.next_id += 1;
            f.grants.push(grant.clone());
            Ok(grant)
        })
    }

    /// Changes the active grant's level and/or lifetime (`minutes` counted from now).
    pub fn set(&self, level: Option<AccessLevel>, minutes: Option<i64>) -> Result<Grant> {
        if let Some(m) = minutes {
            check_minutes(m)?;
        }
        if level.is_none() && minutes.is_none() {
            bail!("give -AccessLevel, -ExpireInMinutes or both");
        }
        self.update(|f, now| {
            let Some(g) = f.grants.iter_mut().find(|g| g.state(now) == GrantState::Active) else {
                bail!("remote support is not enabled on this endpoint; grant it with Enable-RemoteSupport");
            };
            if let Some(l) = level {
                g.access_level = l;
            }
            if let Some(m) = minutes {
                g.expires_at = now + Duration::minutes(m);
            }
            g.updated_at = now;
            Ok(g.clone())
        })
    }

    /// Revokes the active grant.
    pub fn disable(&self) -> Result<Grant> {
        self.update(|f, now| {
            let Some(g) = f
                .grants
                .iter_mut()
                .find(|g| g.state(now) == GrantState::Active)
            else {
                bail!("remote support is not enabled on this endpoint; there is nothing to revoke");
            };
            g.revoked_at = Some(now);
            g.updated_at = now;
            Ok(g.clone())
        })
    }

    /// The active grant, and with `include_ended` the grants that ended in the last 30 days,
    /// newest first.
    pub fn list(&self, include_ended: bool) -> Vec<Grant> {
        let now = self.clock.now();
        let mut out: Vec<Grant> = self
            .lock()
            .grants
            .iter()
            .filter(|g| {
                g.state(now) == GrantState::Active
                    || (include_ended && now - g.ended_at() < Duration::days(INCLUDE_EXPIRED_DAYS))
            })
            .cloned()
            .collect();
        out.sort_by_key(|g| std::cmp::Reverse(g.created_at));
        out
    }

    /// Resolves when grant `grant_id` stops being active: at its expiry instant, or as soon as it
    /// is revoked or replaced. Changes of level or lifetime keep it alive and re-arm the timer.
    pub async fn watch(&self, grant_id: u64) -> GrantEnd {
        let mut rx = self.changed.subscribe();
        loop {
            let now = self.clock.now();
            let grant = self
                .lock()
                .grants
                .iter()
                .find(|g| g.id == grant_id)
                .cloned();
            let Some(grant) = grant else {
                return GrantEnd::Revoked;
            };
            match grant.state(now) {
                GrantState::Revoked => return GrantEnd::Revoked,
                GrantState::Expired => return GrantEnd::Expired,
                GrantState::Active => {}
            }
            let deadline = self.clock.instant_at(grant.expires_at);
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {}
                changed = rx.changed() => {
                    if changed.is_err() {
                        // The store is gone (server shutting down): only the timer remains.
                        tokio::time::sleep_until(deadline).await;
                    }
                }
            }
        }
    }

    /// A receiver that sees every change of the grants (levels, lifetimes, revocations).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Counts a support session in or out (for ConnectionStatus).
    pub fn support_session_started(&self) {
        self.live_support_sessions.fetch_add(1, Ordering::SeqCst);
    }

    /// See [`Consent::support_session_started`].
    pub fn support_session_ended(&self) {
        self.live_support_sessions.fetch_sub(1, Ordering::SeqCst);
    }

    /// The record the consent commands return for a grant.
    pub fn record(&self, g: &Grant) -> Value {
        let now = self.clock.now();
        let state = g.state(now);
        let status = match state {
            GrantState::Active if self.live_support_sessions.load(Ordering::SeqCst) > 0 => {
                "Connected"
            }
            GrantState::Active => "Listening",
            _ => "Disconnected",
        };
        Record::new("RemoteSupport.Access")
            .with("State", state.as_str())
            .with("CreatedAt", g.created_at)
            .with("UpdatedAt", g.updated_at)
            .with("ConnectionStatus", status)
            .with("ConnectionErrorMessage", "")
            .with("TargetService", "PrivilegedEndpoint")
            .with("AccessLevel", g.access_level.as_str())
            .with("ExpiresAt", g.expires_at)
            .with("SupportRequestId", g.support_request_id.clone())
            .with("Attended", g.attended)
            .into()
    }
}

/// Where a consent file whose revocation could not be written is set aside.
fn revoked_path(path: &Path) -> PathBuf {
    path.with_file_name("consent.revoked.json")
}

/// Reads a consent file: None when absent; an error when unreadable or invalid.
fn read_file(path: &Path) -> Result<Option<ConsentFile>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let f: ConsentFile = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a valid consent file", path.display()))?;
    if f.version != 1 {
        bail!("{}: version {} is not supported", path.display(), f.version);
    }
    Ok(Some(f))
}

/// Moves an unreadable consent file aside (kept for the investigation); the endpoint starts with
/// no grant (fail closed).
fn set_aside(path: &Path, now: DateTime<Utc>, why: &anyhow::Error) {
    let aside = path.with_file_name(format!(
        "{}.unreadable-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("consent.json"),
        now.format("%Y%m%dT%H%M%SZ")
    ));
    tracing::error!(error = %format!("{why:#}"), aside = %aside.display(), "the consent file cannot be read; starting with remote support disabled");
    if let Err(e) = std::fs::rename(path, &aside) {
        tracing::error!(error = %e, "cannot move the unreadable consent file aside");
    }
}

fn check_minutes(m: i64) -> Result<()> {
    if !(MIN_MINUTES..=MAX_MINUTES).contains(&m) {
        bail!("-ExpireInMinutes must be between {MIN_MINUTES} and {MAX_MINUTES} (60 minutes to 14 days), not {m}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn store() -> (tempfile::TempDir, Consent) {
        let tmp = tempfile::tempdir().expect("tmp");
        let c = Consent::open(&tmp.path().join("consent.json"), Clock::system()).expect("open");
        (tmp, c)
    }

    #[tokio::test]
    async fn enable_set_disable_and_levels() {
        let (tmp, c) = store();
        assert!(c.authorize().is_none());
        assert!(c.enable(AccessLevel::Diagnostics, 59, None).is_err());
        assert!(c.enable(AccessLevel::Diagnostics, 20_161, None).is_err());
        let g = c
            .enable(AccessLevel::Diagnostics, 60, Some("123".into()))
            .expect("enable");
        assert!(
            c.enable(AccessLevel::Diagnostics, 60, None).is_err(),
            "one active grant"
        );
        let a = c.authorize().expect("active");
        assert!(a.permits(Access::Diagnostics));
        assert!(!a.permits(Access::DiagnosticsRepair));
        assert!(!a.permits(Access::Operator));
        c.set(Some(AccessLevel::DiagnosticsRepair), None)
            .expect("set");
        assert!(c
            .authorize()
            .expect("active")
            .permits(Access::DiagnosticsRepair));
        c.disable().expect("disable");
        assert!(c.authorize().is_none());
        assert!(c.disable().is_err());
        assert_eq!(c.list(false).len(), 0);
        let all = c.list(true);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].id, g.id);
        assert_eq!(all[0].state(Utc::now()), GrantState::Revoked);
        // Survives a reopen.
        let again =
            Consent::open(&tmp.path().join("consent.json"), Clock::system()).expect("reopen");
        assert_eq!(again.list(true), all);
    }

    #[tokio::test(start_paused = true)]
    async fn watch_fires_at_the_expiry_instant() {
        let (_t, c) = store();
        let c = Arc::new(c);
        let g = c
            .enable(AccessLevel::Diagnostics, 60, None)
            .expect("enable");
        let start = tokio::time::Instant::now();
        let end = c.watch(g.id).await;
        assert_eq!(end, GrantEnd::Expired);
        let waited = start.elapsed();
        assert!(
            waited >= std::time::Duration::from_secs(3600)
                && waited < std::time::Duration::from_secs(3601),
            "{waited:?}"
        );
        assert!(c.authorize().is_none(), "expired grant authorizes nothing");
    }

    #[tokio::test(start_paused = true)]
    async fn watch_follows_extension_and_revocation() {
        let (_t, c) = store();
        let c = Arc::new(c);
        let g = c
            .enable(AccessLevel::Diagnostics, 60, None)
            .expect("enable");
        let w = tokio::spawn({
            let c = c.clone();
            async move { c.watch(g.id).await }
        });
        tokio::time::sleep(std::time::Duration::from_secs(1800)).await;
        c.set(None, Some(120)).expect("extend");
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        assert!(
            !w.is_finished(),
            "extension keeps the session alive past the old expiry"
        );
        c.disable().expect("revoke");
        assert_eq!(w.await.expect("join"), GrantEnd::Revoked);
    }

    #[test]
    fn the_sweep_drops_grants_ended_more_than_30_days_ago() {
        let tmp = tempfile::tempdir().expect("tmp");
        let p = tmp.path().join("consent.json");
        let now = Utc::now();
        let old = |id: u64, ended_days: i64| Grant {
            id,
            access_level: AccessLevel::Diagnostics,
            created_at: now - Duration::days(ended_days + 1),
            updated_at: now - Duration::days(ended_days),
            expires_at: now - Duration::days(ended_days),
            support_request_id: None,
            revoked_at: None,
            attended: false,
        };
        let file = ConsentFile {
            version: 1,
            next_id: 3,
            grants: vec![old(1, 31), old(2, 29)],
        };
        std::fs::write(&p, serde_json::to_vec(&file).expect("json")).expect("write");
        let c = Consent::open(&p, Clock::system()).expect("open");
        assert_eq!(c.sweep().expect("sweep"), 1);
        let kept: Vec<u64> = c.list(true).iter().map(|g| g.id).collect();
        assert_eq!(kept, vec![2]);
        assert_eq!(c.sweep().expect("again"), 0);
    }

    #[test]
    fn an_unreadable_consent_file_means_no_grant() {
        let tmp = tempfile::tempdir().expect("tmp");
        let p = tmp.path().join("consent.json");
        std::fs::write(&p, b"{ not json").expect("write");
        let c = Consent::open(&p, Clock::system()).expect("opens, failing closed");
        assert!(c.authorize().is_none());
        let names: Vec<String> = std::fs::read_dir(tmp.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("consent.json.unreadable-")),
            "{names:?}"
        );
    }

    #[test]
    fn a_revocation_set_aside_is_completed_at_start() {
        let (tmp, c) = store();
        c.enable(AccessLevel::DiagnosticsRepair, 120, None)
            .expect("enable");
        // What a failed revocation leaves: the old file renamed.
        std::fs::rename(
            tmp.path().join("consent.json"),
            tmp.path().join("consent.revoked.json"),
        )
        .expect("rename");
        let again = Consent::open(&tmp.path().join("consent.json"), Clock::system()).expect("open");
        assert!(again.authorize().is_none(), "the grant stays revoked");
        assert_eq!(again.list(true)[0].state(Utc::now()), GrantState::Revoked);
        assert!(!tmp.path().join("consent.revoked.json").exists());
        assert!(tmp.path().join("consent.json").exists());
    }

    #[test]
    fn narrowing_is_judged_on_the_active_grant() {
        let now = Utc::now();
        let g = Grant {
            id: 1,
            access_level: AccessLevel::DiagnosticsRepair,
            created_at: now,
            updated_at: now,
            expires_at: now + Duration::hours(2),
            support_request_id: None,
            revoked_at: None,
            attended: false,
        };
        let lower = Grant {
            access_level: AccessLevel::Diagnostics,
            ..g.clone()
        };
        let longer = Grant {
            expires_at: now + Duration::hours(3),
            ..lower.clone()
        };
        let revoked = Grant {
            revoked_at: Some(now),
            ..g.clone()
        };
        assert!(narrows(
            std::slice::from_ref(&g),
            std::slice::from_ref(&lower),
            now
        ));
        assert!(narrows(std::slice::from_ref(&g), &[revoked], now));
        assert!(!narrows(
            std::slice::from_ref(&lower),
            std::slice::from_ref(&g),
            now
        ));
        assert!(
            !narrows(std::slice::from_ref(&g), &[longer], now),
            "lower but longer gives time"
        );
        assert!(!narrows(&[], &[g], now));
    }
}
