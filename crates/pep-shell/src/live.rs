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

    /// True once the session has finished (also when that was before the call: wait with
    /// `wait_for`, not `changed`).
    pub fn ended(&self) -> watch::Receiver<bool> {
        self.ended.subscribe()
    }

    /// `who` starts watching: the screen from now on, and the session's user is told. The
    /// screen is subscribed before the watcher is counted: a session held for attendance runs
    /// its line the moment it is counted, and what that line shows must already reach `who`.
    pub fn watch(self: &Arc<Self>, who: &str) -> (broadcast::Receiver<String>, WatchGuard) {
        let screen = self.screen.subscribe();
        self.watchers.send_modify(|n| *n += 1);
        self.notify(&format!("{who} is now watching this session"));
        (
            screen,
            WatchGuard {
                session: self.clone(),
                who: who.to_string(),
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

/// Held while a session is watched. Dropping it uncounts the watcher and then tells the
/// session's user, however the watch ended: an attended line entered after that notice waits
/// again.
pub struct WatchGuard {
    session: Arc<LiveSession>,
    who: String,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.session
            .watchers
            .send_modify(|n| *n = n.saturating_sub(1));
        self.session
            .notify(&format!("{} stopped watching this session", self.who));
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
            // Kept for a watcher that subscribes after this (tokio's `send` drops the value
            // when no one listens yet).
            s.ended.send_replace(true);
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

    /// An attended session runs its line the moment a watcher is counted; the watcher must see
    /// that line's output. Another thread spins on the count and shows a line as soon as it
    /// rises (the watched session, with no scheduler in between); every watcher receives it.
    #[test]
    fn a_watcher_sees_what_is_shown_the_moment_it_is_counted() {
        let sessions = LiveSessions::default();
        for round in 0..200 {
            let s = sessions.register(
                &format!("s{round}"),
                "sam",
                "support",
                "Diagnostics",
                "",
                Utc::now(),
            );
            let spinning = Arc::new(std::sync::Barrier::new(2));
            let shown = {
                let s = s.clone();
                let spinning = spinning.clone();
                std::thread::spawn(move || {
                    spinning.wait();
                    while s.watchers() == 0 {
                        std::hint::spin_loop();
                    }
                    s.screen.send("StampVersion".into());
                })
            };
            spinning.wait();
            let (mut rx, _guard) = s.watch("oscar (observer)");
            shown.join().expect("shown");
            assert_eq!(
                rx.try_recv().map_err(|e| format!("round {round}: {e}")),
                Ok("StampVersion".to_string())
            );
        }
    }

    /// The watched user hears of a watcher leaving only once it is no longer counted.
    #[test]
    fn a_watcher_that_leaves_is_uncounted_before_the_user_is_told() {
        let sessions = LiveSessions::default();
        let s = sessions.register("s", "sam", "support", "Diagnostics", "", Utc::now());
        let mut notices = s.notices();
        let (_rx, guard) = s.watch("oscar (observer)");
        assert_eq!(
            notices.try_recv().as_deref(),
            Ok("oscar (observer) is now watching this session")
        );
        assert_eq!(s.watchers(), 1);
        let seen = {
            let s = s.clone();
            std::thread::spawn(move || {
                let told = notices.blocking_recv().expect("told");
                (told, s.watchers())
            })
        };
        drop(guard);
        assert_eq!(
            seen.join().expect("seen"),
            (
                "oscar (observer) stopped watching this session".to_string(),
                0
            )
        );
    }

    /// A watcher that looks after the session ended still learns that it did.
    #[test]
    fn a_session_that_ended_before_it_was_watched_reads_as_ended() {
        let sessions = LiveSessions::default();
        let s = sessions.register("s", "sam", "support", "Diagnostics", "", Utc::now());
        sessions.remove("s");
        assert!(*s.ended().borrow(), "ended, though no one listened then");
        assert!(sessions.get("s").is_none());
    }
}
