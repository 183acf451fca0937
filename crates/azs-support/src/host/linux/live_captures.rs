//! The packet captures running on the machine, one per node at most, each owned by the working
//! directory it writes into: `Enable-AzsSupportNetshTrace` adds one, `Disable-AzsSupportNetshTrace`
//! stops it, and the end of a remote-support grant stops every capture of its working directory
//! ([`stop_in`]). A capture that reached its bound (duration or size) has already stopped and is
//! reported as such. Captures are processes of this endpoint: the server stops them all when it
//! shuts down, each stops when dropped, and none is kept in the saved stamp; a capture of an
//! endpoint killed outright still ends at its duration bound (dumpcap's own `-a duration`).

use super::capture::{Capture, CaptureResult};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What a running capture is, for its status records.
#[derive(Debug, Clone)]
pub struct CaptureInfo {
    /// The node it runs on.
    pub node: String,
    /// The working directory it writes into.
    pub workdir: PathBuf,
    /// Its file as the user sees it (relative to the working directory).
    pub shown: String,
    /// The interface (`any`: all).
    pub interface: String,
    /// Its size bound, MB.
    pub max_size_mb: u32,
    /// Its duration bound, seconds.
    pub duration_secs: u64,
    /// The capture filter it runs with (empty: everything).
    pub filter: String,
    /// When it started.
    pub started: DateTime<Utc>,
}

struct Live {
    info: CaptureInfo,
    capture: Capture,
}

static LIVE: Mutex<Vec<Live>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<Live>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The capture running (or ended at its bound, not yet collected) on `node`.
pub fn running(node: &str) -> Option<(CaptureInfo, bool)> {
    live()
        .iter_mut()
        .find(|l| l.info.node.eq_ignore_ascii_case(node))
        .map(|l| (l.info.clone(), l.capture.is_running()))
}

/// Registers a capture just started; refused (and the capture stopped) when `node` has one.
pub fn add(info: CaptureInfo, capture: Capture) -> Result<(), String> {
    let mut all = live();
    if let Some(l) = all
        .iter()
        .find(|l| l.info.node.eq_ignore_ascii_case(&info.node))
    {
        let node = l.info.node.clone();
        drop(all);
        let _ = capture.stop();
        return Err(format!(
            "a packet trace is already running on {node}; stop it with Disable-AzsSupportNetshTrace first"
        ));
    }
    all.push(Live { info, capture });
    Ok(())
}

/// Stops the capture of `node` (if it has not already stopped at a bound) and reports it.
pub fn stop(node: &str) -> Option<(CaptureInfo, Result<CaptureResult, String>)> {
    let l = {
        let mut all = live();
        let i = all
            .iter()
            .position(|l| l.info.node.eq_ignore_ascii_case(node))?;
        all.remove(i)
    };
    Some((l.info, l.capture.stop()))
}

/// Stops every capture writing into `workdir`; how many there were.
pub fn stop_in(workdir: &Path) -> usize {
    stop_where(|info| info.workdir == workdir)
}

/// Stops every capture `owned` says belongs to what ended (a grant); how many there were.
pub fn stop_where(owned: impl Fn(&CaptureInfo) -> bool) -> usize {
    let mine: Vec<Live> = {
        let mut all = live();
        let (mine, rest): (Vec<Live>, Vec<Live>) = all.drain(..).partition(|l| owned(&l.info));
        *all = rest;
        mine
    };
    let n = mine.len();
    for l in mine {
        if let Err(e) = l.capture.stop() {
            tracing::warn!(node = %l.info.node, error = %e, "stopping a capture at the end of its grant");
        }
    }
    n
}
