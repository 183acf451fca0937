//! Live sessions, as operators oversee them: who is connected, since when, idle for how long,
//! from where, running what (`Get-RemoteSupportSession`); what each shows, for watchers; and a
//! switch that ends one session with a reason (`Stop-RemoteSupportSession`) without touching the
//! grant. A session registers when it starts and leaves when it finishes.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};

/// What a watcher may fall behind by before it misses output (it is told it did).
pub const SCREEN_BACKLOG: usize = 256;

/// What a session shows, for its watchers. The channel (a backlog of [`SCREEN_BACKLOG`] slots,
/// ~16 KiB) exists only while someone watches: most sessions are never watched, and an idle
/// session costs no more for being watchable.
#[derive(Clone, Default)]
pub struct Screen(Arc<Mutex<Option<broadcast::Sender<String>>>>);

impl Screen {
    /// Shows `text` to the watchers, if any; the channel goes when the last one has left.
    pub fn send(&self, text: String) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = slot.as_ref() {
            if tx.receiver_count() == 0 {
                *slot = None;
            } else {
                let _ = tx.send(text);
            }
        }
    }

    /// What is shown from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| broadcast::channel(SCREEN_BACKLOG).0)
            .subscribe()
    }
}

/// One live session.
pub struct LiveSession {
    /// Session id.
    pub id: String,
    /// Identity name.
    pub identity: String,
    /// Role.
    pub role: String,
    /// Remote address.
    pub remote: String,
    /// When it started.
    pub since: DateTime<Utc>,
    state: Mutex<State>,
    /// What it shows (redacted, as recorded).
    pub screen: Screen,
    stop: watch::Sender<Option<String>>,
    watchers: watch::Sender<usize>,
    /// Lines for the session's own user (someone started or stopped watching).
    notices: broadcast::Sender<String>,
    ended: watch::Sender<bool>,
}

struct State {
    level: String,
    last_input: DateTime<Utc>,
    running: Option<String>,
}

impl std::fmt::Debug for LiveSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSession")
            .field("id", &self.id)
            .field("identity", &self.identity)
            .finish()
    }
}

impl LiveSession {
    /// Notes a line about to run (shown as entered, secrets masked) at `now`.
    pub fn running(&self, line: Option<String>, now: DateTime<Utc>) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.last_input = now;
        s.running = line;
    }

    /// Notes the session's access level.
    pub fn set_level(&self, level: &str) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.level = level.to_string();
    }

    /// The level, the last input's time and the line running now.
    pub fn snapshot(&self) -> (String, DateTime<Utc>, Option<String>) {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        (s.level.clone(), s.last_input, s.running.clone())
    }

    /// Ends the session with `reason` (shown to its user).
    pub fn stop(&self, reason: &str) {
        let _ = self.stop.send(Some(reason.to_string()));
    }

    /// Resolves with the reason when the session is stopped.
    pub fn stopped(&self) -> watch::Receiver<Option<String>> {
        self.stop.subscribe()
    }

    /// Tells the session's user `text` (shown at once).
    pub fn notify(&self, text: &str) {
        let _ = self.notices.send(text.to_string());
    }

    /// What the session's user is told.
    pub fn notices(&self) -> broadcast::Receiver<String> {
        self.notices.subscribe()
    }

    /// Changes to true when the session has finished.
    pub fn ended(&self) -> watch::Receiver<bool> {
        self.ended.subscribe()
    }

    /// Starts watching: the screen from now on. The count of watchers goes down when the
    /// returned guard drops.
    pub fn watch(self: &Arc<Self>) -> (broadcast::Receiver<String>, WatchGuard) {
        self.watchers.send_modify(|n| *n += 1);
        (
            self.screen.subscribe(),
            WatchGuard {
                session: self.clone(),
            },
        )
    }

    /// How many are watching now.
    pub fn watchers(&self) -> usize {
        *self.watchers.borrow()
    }

    /// Changes whenever someone starts or stops watching.
    pub fn watching(&self) -> watch::Receiver<usize> {
        self.watchers.subscribe()
    }
}

/// Held while a session is watched.
pub struct WatchGuard {
    session: Arc<LiveSession>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.session
            .watchers
            .send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Every live session of the endpoint.
#[derive(Default)]
pub struct LiveSessions {
    map: Mutex<BTreeMap<String, Arc<LiveSession>>>,
}

impl LiveSessions {
    /// Registers a session starting at `now`.
    pub fn register(
        &self,
        id: &str,
        identity: &str,
        role: &str,
        level: &str,
        remote: &str,
        now: DateTime<Utc>,
    ) -> Arc<LiveSession> {
        let s = Arc::new(LiveSession {
            id: id.to_string(),
            identity: identity.to_string(),
            role: role.to_string(),
            remote: remote.to_string(),
            since: now,
            state: Mutex::new(State {
                level: level.to_string(),
                last_input: now,
                running: None,
            }),
            screen: Screen::default(),
            stop: watch::channel(None).0,
            watchers: watch::channel(0).0,
            notices: broadcast::channel(16).0,
            ended: watch::channel(false).0,
        });
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), s.clone());
        s
    }

    /// Removes a session that finished (its watchers are told).
    pub fn remove(&self, id: &str) {
        let gone = self
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(s) = gone {
            let _ = s.ended.send(true);
        }
    }

    /// Every live session, oldest first.
    pub fn list(&self) -> Vec<Arc<LiveSession>> {
        let mut all: Vec<Arc<LiveSession>> = self
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.id.cmp(&b.id)));
        all
    }

    /// The live session `id`.
    pub fn get(&self, id: &str) -> Option<Arc<LiveSession>> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_screen_reaches_watchers_and_its_channel_lives_only_while_watched() {
        let screen = Screen::default();
        screen.send("before anyone watched".into());
        assert!(
            screen.0.lock().expect("lock").is_none(),
            "no channel until someone watches"
        );
        let mut rx = screen.subscribe();
        screen.send("seen".into());
        assert_eq!(rx.try_recv().expect("watched"), "seen");
        drop(rx);
        screen.send("after the last watcher left".into());
        assert!(
            screen.0.lock().expect("lock").is_none(),
            "the channel goes with the last watcher"
        );
        let mut again = screen.subscribe();
        screen.send("watched again".into());
        assert_eq!(again.try_recv().expect("watched again"), "watched again");
    }
}
