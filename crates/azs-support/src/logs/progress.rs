//! Counters of a collection and upload in flight, updated by the workers and read by the session
//! for its progress line (`collected 120.0 MiB, compressed 14.2 MiB, uploaded 8.0 MiB at 31.5
//! MiB/s, ETA 1 s`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Bytes through each stage. All counters only grow.
#[derive(Debug)]
pub struct Progress {
    started: Instant,
    /// Bytes of log text collected (after filtering and caps).
    pub collected: AtomicU64,
    /// Bytes of zip written.
    pub compressed: AtomicU64,
    /// Bytes the destination acknowledged (blocks staged, or skipped because already there).
    pub uploaded: AtomicU64,
    /// Whether collection and compression are done (the compressed total is final).
    pub bundled: std::sync::atomic::AtomicBool,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            started: Instant::now(),
            collected: AtomicU64::new(0),
            compressed: AtomicU64::new(0),
            uploaded: AtomicU64::new(0),
            bundled: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Progress {
    /// Counters starting now.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds to a counter.
    pub fn add(counter: &AtomicU64, bytes: u64) {
        counter.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Seconds since the start.
    pub fn elapsed_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// One line for people; `uploading` says whether an upload is part of the work.
    pub fn line(&self, uploading: bool) -> String {
        let collected = self.collected.load(Ordering::Relaxed);
        let compressed = self.compressed.load(Ordering::Relaxed);
        let uploaded = self.uploaded.load(Ordering::Relaxed);
        let secs = self.elapsed_secs().max(0.001);
        let mut line = format!(
            "collected {}, compressed {}",
            crate::disk_budget::human(collected),
            crate::disk_budget::human(compressed)
        );
        if uploading {
            let rate = uploaded as f64 / secs;
            line.push_str(&format!(
                ", uploaded {} at {}/s",
                crate::disk_budget::human(uploaded),
                crate::disk_budget::human(rate as u64)
            ));
            if self.bundled.load(Ordering::Relaxed) && rate > 0.0 && compressed >= uploaded {
                let eta = (compressed - uploaded) as f64 / rate;
                line.push_str(&format!(", ETA {} s", eta.ceil() as u64));
            }
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_every_stage_and_an_eta_once_the_total_is_known() {
        let p = Progress::new();
        Progress::add(&p.collected, 3 << 20);
        Progress::add(&p.compressed, 2 << 20);
        Progress::add(&p.uploaded, 1 << 20);
        let line = p.line(true);
        assert!(line.contains("collected 3.0 MiB"), "{line}");
        assert!(line.contains("uploaded 1.0 MiB"), "{line}");
        assert!(!line.contains("ETA"), "{line}");
        p.bundled.store(true, Ordering::Relaxed);
        assert!(p.line(true).contains("ETA"));
        assert!(!p.line(false).contains("uploaded"));
    }
}
