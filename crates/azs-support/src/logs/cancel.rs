//! A cancellation flag shared by compression threads and upload tasks: set once, seen by
//! everyone. Threads poll [`Cancel::is_cancelled`]; async tasks await [`Cancel::cancelled`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// Cheap to clone; all clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    flag: AtomicBool,
    notify: Notify,
    why: std::sync::Mutex<Option<String>>,
}

impl Cancel {
    /// A flag not yet set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the flag (the first reason given is kept) and wakes every waiter.
    pub fn cancel(&self, why: &str) {
        {
            let mut w = self.0.why.lock().unwrap_or_else(|p| p.into_inner());
            if w.is_none() {
                *w = Some(why.to_string());
            }
        }
        self.0.flag.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// Whether the flag is set.
    pub fn is_cancelled(&self) -> bool {
        self.0.flag.load(Ordering::SeqCst)
    }

    /// Why it was cancelled, if it was.
    pub fn reason(&self) -> Option<String> {
        self.0.why.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Resolves once the flag is set (at once if it already is).
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_wakes_when_another_thread_cancels() {
        let c = Cancel::new();
        let c2 = c.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            c2.cancel("revoked");
            c2.cancel("second reason is ignored");
        });
        tokio::time::timeout(std::time::Duration::from_secs(5), c.cancelled())
            .await
            .expect("woken");
        assert!(c.is_cancelled());
        assert_eq!(c.reason().as_deref(), Some("revoked"));
        t.join().expect("thread");
    }
}
