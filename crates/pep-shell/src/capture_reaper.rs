//! Ends a support case's packet captures and system-call traces when its grant ends. A capture started by a support
//! identity writes into the case's working directory (`workdirs/<ts>-grant<N>-<identity>`) and may
//! outlive the session that started it (an exec session ends at once); when grant N is revoked,
//! expires or is replaced, every capture of that working directory stops, whether or not a
//! session is still open. Operators' captures are bounded by their duration and size only.

use crate::endpoint::Endpoint;
use azs_support::host::linux::{live_captures, syscall_trace};
use std::sync::Arc;

/// Whether the working directory `dir` belongs to grant `id`.
fn of_grant(dir: &std::path::Path, id: u64) -> bool {
    let marker = format!("-grant{id}-");
    dir.file_name()
        .map(|n| n.to_string_lossy().contains(&marker))
        .unwrap_or(false)
}

/// Runs for the endpoint's life: waits for each active grant to end, then stops its captures.
pub async fn run(endpoint: Arc<Endpoint>) {
    let mut changes = endpoint.consent.subscribe();
    loop {
        match endpoint.consent.active() {
            Some(grant) => {
                let end = endpoint.consent.watch(grant.id).await;
                let stopped = live_captures::stop_where(|c| of_grant(&c.workdir, grant.id))
                    + syscall_trace::stop_where(|dir| of_grant(dir, grant.id));
                if stopped > 0 {
                    tracing::info!(
                        grant = grant.id,
                        stopped,
                        reason = end.message(),
                        "packet captures stopped with their grant"
                    );
                }
            }
            None => {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_working_directory_belongs_to_its_grant_only() {
        let d = std::path::Path::new("/s/workdirs/20261202T101010Z-grant12-alice");
        assert!(of_grant(d, 12));
        assert!(!of_grant(d, 1));
        assert!(!of_grant(d, 120));
        assert!(!of_grant(
            std::path::Path::new("/s/workdirs/20261202T101010Z-s1"),
            12
        ));
    }
}
