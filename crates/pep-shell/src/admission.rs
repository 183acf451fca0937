//! Admission: which connections may hold the endpoint's scarce pre-authentication slots and how
//! many connections one identity may hold, so that nobody — an attacker on the network or a
//! support engineer with a key — can lock the operator out.
//!
//! Design (what a security engineer defends):
//! - Unauthenticated connections hold a slot in a table of `max_unauthenticated`. One source
//!   address holds at most `per_source` of them (OpenSSH's PerSourceMaxStartups): a single
//!   attacker cannot fill the table. More from that source wait their turn.
//! - When the table is full, a newcomer evicts a connection that is not getting anywhere: first
//!   one that has sent nothing towards authenticating after [`STALL`] (silent or slow-loris),
//!   then one that started authenticating but has not finished after [`SLOW_AUTH`]; among those,
//!   the source holding the most slots loses first, oldest first. With nothing to evict the
//!   newcomer waits (at most `max_waiting` wait, each at most the login grace) until a slot
//!   frees; past that it is closed at once.
//! - A connection must show progress (reach the first authentication request) within
//!   [`HANDSHAKE_DEADLINE`] and authenticate within the login grace; otherwise it is closed.
//! - Authenticated connections count against their identity: at most `per_identity` at once.
//!   A support identity without an active grant is cut off shortly after login
//!   (`session_end::connection`), after its attempt is recorded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use tokio::time::Instant;

/// A connection that has not started authenticating after this long may be evicted.
pub const STALL: Duration = Duration::from_millis(1000);
/// A connection still authenticating after this long may be evicted.
pub const SLOW_AUTH: Duration = Duration::from_secs(5);
/// A connection must reach its first authentication request within this.
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// Admission settings.
#[derive(Debug, Clone)]
pub struct AdmissionLimits {
    /// Unauthenticated connections at once.
    pub max_unauthenticated: usize,
    /// Unauthenticated connections from one source address.
    pub per_source: usize,
    /// Connections waiting for a slot.
    pub max_waiting: usize,
    /// Authenticated connections of one identity.
    pub per_identity: usize,
}

impl Default for AdmissionLimits {
    fn default() -> Self {
        AdmissionLimits {
            max_unauthenticated: 64,
            per_source: 16,
            max_waiting: 512,
            per_identity: 64,
        }
    }
}

struct Slot {
    id: u64,
    source: IpAddr,
    since: Instant,
    progressed: Arc<AtomicBool>,
    evict: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct Table {
    slots: Vec<Slot>,
    waiting: usize,
}

/// The endpoint's admission state.
pub struct Admission {
    limits: AdmissionLimits,
    table: Mutex<Table>,
    freed: Notify,
    next: AtomicU64,
    identities: Mutex<HashMap<String, usize>>,
}

/// A pre-authentication slot; freed when dropped or when the connection authenticates.
pub struct PreAuth {
    admission: Arc<Admission>,
    id: u64,
    progressed: Arc<AtomicBool>,
    /// Fires when the slot was taken away (the connection must close).
    pub evicted: oneshot::Receiver<()>,
}

impl PreAuth {
    /// The connection reached its first authentication request.
    pub fn progressed(&self) -> Arc<AtomicBool> {
        self.progressed.clone()
    }
}

impl Drop for PreAuth {
    fn drop(&mut self) {
        self.admission.release(self.id);
    }
}

/// One authenticated connection of an identity; counted out when dropped.
pub struct IdentityConn {
    admission: Arc<Admission>,
    fingerprint: String,
}

impl Drop for IdentityConn {
    fn drop(&mut self) {
        let mut ids = self
            .admission
            .identities
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = ids.get_mut(&self.fingerprint) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                ids.remove(&self.fingerprint);
            }
        }
    }
}

impl Admission {
    /// Admission with these limits.
    pub fn new(limits: AdmissionLimits) -> Arc<Self> {
        Arc::new(Admission {
            limits,
            table: Mutex::new(Table::default()),
            freed: Notify::new(),
            next: AtomicU64::new(1),
            identities: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn release(&self, id: u64) {
        let mut t = self.lock();
        let before = t.slots.len();
        t.slots.retain(|s| s.id != id);
        if t.slots.len() != before {
            drop(t);
            self.freed.notify_waiters();
        }
    }

    /// Takes a slot for a connection from `source`, evicting a stalled one or waiting (until
    /// `deadline`) when full; None when it must be closed now.
    pub async fn admit(self: &Arc<Self>, source: IpAddr, deadline: Instant) -> Option<PreAuth> {
        let mut waited = false;
        let result = loop {
            // Registered before looking, so a slot freed in between is not missed.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut t = self.lock();
                if let Some(slot) = self.try_take(&mut t, source) {
                    if waited {
                        t.waiting -= 1;
                    }
                    break Some(slot);
                }
                if !waited {
                    if t.waiting >= self.limits.max_waiting {
                        break None;
                    }
                    t.waiting += 1;
                    waited = true;
                }
            }
            // Re-check at least every STALL/4: slots also become evictable with age.
            let tick = Instant::now() + STALL / 4;
            tokio::select! {
                _ = &mut freed => {}
                _ = tokio::time::sleep_until(tick.min(deadline)) => {}
            }
            if Instant::now() >= deadline {
                self.lock().waiting -= 1;
                break None;
            }
        };
        result
    }

    fn try_take(self: &Arc<Self>, t: &mut Table, source: IpAddr) -> Option<PreAuth> {
        let from_source = t.slots.iter().filter(|s| s.source == source).count();
        if from_source >= self.limits.per_source {
            return None;
        }
        if t.slots.len() >= self.limits.max_unauthenticated {
            let victim = self.victim(t)?;
            let mut gone = t.slots.remove(victim);
            if let Some(tx) = gone.evict.take() {
                let _ = tx.send(());
            }
            tracing::info!(source = %gone.source, "pre-authentication table full; evicted a stalled connection");
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let progressed = Arc::new(AtomicBool::new(false));
        t.slots.push(Slot {
            id,
            source,
            since: Instant::now(),
            progressed: progressed.clone(),
            evict: Some(tx),
        });
        Some(PreAuth {
            admission: self.clone(),
            id,
            progressed,
            evicted: rx,
        })
    }

    /// The slot to give up: stalled before slow, the heaviest source first, the oldest first.
    fn victim(&self, t: &Table) -> Option<usize> {
        let now = Instant::now();
        let mut per_source: HashMap<IpAddr, usize> = HashMap::new();
        for s in &t.slots {
            *per_source.entry(s.source).or_default() += 1;
        }
        let rank = |s: &Slot| -> Option<(u8, usize, Duration)> {
            let age = now.saturating_duration_since(s.since);
            let progressed = s.progressed.load(Ordering::Relaxed);
            let class = if !progressed && age >= STALL {
                0
            } else if age >= SLOW_AUTH {
                1
            } else {
                return None;
            };
            let weight = per_source.get(&s.source).copied().unwrap_or(0);
            Some((class, usize::MAX - weight, Duration::MAX - age))
        };
        t.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| rank(s).map(|r| (r, i)))
            .min()
            .map(|(_, i)| i)
    }

    /// Counts an authenticated connection of `fingerprint` in, or None at the identity's cap.
    pub fn identity(self: &Arc<Self>, fingerprint: &str) -> Option<IdentityConn> {
        let mut ids = self.identities.lock().unwrap_or_else(|p| p.into_inner());
        let n = ids.entry(fingerprint.to_string()).or_default();
        if *n >= self.limits.per_identity {
            return None;
        }
        *n += 1;
        Some(IdentityConn {
            admission: self.clone(),
            fingerprint: fingerprint.to_string(),
        })
    }

    /// The per-identity cap.
    pub fn per_identity(&self) -> usize {
        self.limits.per_identity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    fn limits(max: usize, per_source: usize) -> AdmissionLimits {
        AdmissionLimits {
            max_unauthenticated: max,
            per_source,
            max_waiting: 4,
            per_identity: 2,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_connection_makes_room_for_a_newcomer() {
        let a = Admission::new(limits(2, 2));
        let far = Instant::now() + Duration::from_secs(30);
        let mut s1 = a.admit(ip(2), far).await.expect("first");
        let s2 = a.admit(ip(2), far).await.expect("second");
        s2.progressed().store(true, Ordering::Relaxed);
        tokio::time::advance(STALL).await;
        let _s3 = a
            .admit(ip(1), far)
            .await
            .expect("newcomer evicts the stalled one");
        assert!(
            s1.evicted.try_recv().is_ok(),
            "the silent connection was told to go"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn one_source_cannot_take_every_slot() {
        let a = Admission::new(limits(8, 2));
        let soon = Instant::now() + Duration::from_millis(100);
        let _x = a.admit(ip(2), soon).await.expect("1");
        let _y = a.admit(ip(2), soon).await.expect("2");
        assert!(
            a.admit(ip(2), soon).await.is_none(),
            "third from one source waits, then gives up"
        );
        assert!(
            a.admit(ip(1), soon).await.is_some(),
            "another source still gets in"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_gets_the_slot_freed() {
        let a = Admission::new(limits(1, 1));
        let far = Instant::now() + Duration::from_secs(30);
        let s1 = a.admit(ip(1), far).await.expect("first");
        s1.progressed().store(true, Ordering::Relaxed);
        let a2 = a.clone();
        let waiter = tokio::spawn(async move { a2.admit(ip(3), far).await.is_some() });
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(s1);
        assert!(waiter.await.expect("join"));
    }

    #[test]
    fn identities_are_capped() {
        let a = Admission::new(limits(1, 1));
        let c1 = a.identity("SHA256:a").expect("1");
        let _c2 = a.identity("SHA256:a").expect("2");
        assert!(a.identity("SHA256:a").is_none());
        assert!(a.identity("SHA256:b").is_some());
        drop(c1);
        assert!(a.identity("SHA256:a").is_some());
    }
}
