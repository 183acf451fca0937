//! A long command running beside its session (a log collection and upload): the session shows
//! its progress, lets Ctrl-C cancel it, and cancels it at once when the session must end (the
//! grant revoked or expired); the job's values then go through the rest of the line's pipeline
//! like any command's (`Shell::complete_job`).

use azs_support::logs::{Cancel, Progress};
use azs_support::Value;
use std::sync::Arc;
use tokio::sync::oneshot;

/// What a job ends with.
#[derive(Debug, Default)]
pub struct JobOutcome {
    /// Its records.
    pub values: Vec<Value>,
    /// Why it failed (the line fails, an exec session exits non-zero), if it did.
    pub error: Option<String>,
    /// One line saying what was done (stderr in exec sessions, after the output interactively).
    pub summary: String,
}

/// A running job.
pub struct Job {
    /// Its counters.
    pub progress: Arc<Progress>,
    /// Stops it.
    pub cancel: Cancel,
    /// Whether it uploads (the progress line shows the upload).
    pub uploading: bool,
    done: Option<oneshot::Receiver<JobOutcome>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("uploading", &self.uploading)
            .finish_non_exhaustive()
    }
}

impl Job {
    /// A job whose outcome arrives on `done`.
    pub fn new(
        progress: Arc<Progress>,
        cancel: Cancel,
        uploading: bool,
        done: oneshot::Receiver<JobOutcome>,
    ) -> Self {
        Job {
            progress,
            cancel,
            uploading,
            done: Some(done),
        }
    }

    /// Waits for the outcome (the job's thread always sends one; a lost one is an error).
    pub async fn wait(&mut self) -> JobOutcome {
        let Some(rx) = self.done.as_mut() else {
            return lost();
        };
        let outcome = rx.await.unwrap_or_else(|_| lost());
        self.done = None;
        outcome
    }

    /// The outcome if it is there already.
    pub fn try_take(&mut self) -> Option<JobOutcome> {
        let rx = self.done.as_mut()?;
        match rx.try_recv() {
            Ok(o) => {
                self.done = None;
                Some(o)
            }
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => {
                self.done = None;
                Some(lost())
            }
        }
    }
}

fn lost() -> JobOutcome {
    JobOutcome {
        error: Some("internal error: the job ended without a result".into()),
        ..JobOutcome::default()
    }
}

impl Drop for Job {
    /// A job nobody waits for any more (its session is gone) stops.
    fn drop(&mut self) {
        if self.done.is_some() {
            self.cancel.cancel("the session ended");
        }
    }
}
