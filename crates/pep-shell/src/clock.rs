//! The clock every time-dependent rule reads.
//!
//! Wall time is taken once at start and advanced by tokio's monotonic clock, so expiry rules and the
//! timers that enforce them agree, and tests can run them on a paused tokio clock
//! (`tokio::time::pause`) without sleeping.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// A clock: UTC now, derived from tokio time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base_wall: DateTime<Utc>,
    base_instant: Instant,
}

impl Clock {
    /// A clock reading the system time now.
    pub fn system() -> Self {
        Self::starting_at(Utc::now())
    }

    /// A clock that reads `wall` now (tests).
    pub fn starting_at(wall: DateTime<Utc>) -> Self {
        Clock {
            base_wall: wall,
            base_instant: Instant::now(),
        }
    }

    /// Current UTC time.
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = Instant::now().saturating_duration_since(self.base_instant);
        self.base_wall + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }

    /// The tokio instant at which wall time `at` is reached (now, if it is past).
    pub fn instant_at(&self, at: DateTime<Utc>) -> Instant {
        let now = self.now();
        let wait = (at - now).to_std().unwrap_or_default();
        Instant::now() + wait
    }
}
