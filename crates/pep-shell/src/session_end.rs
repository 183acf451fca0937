//! Why a live session or connection must end now, whatever it is doing: its grant ended
//! (revoked, expired, replaced), its identity was removed, or the endpoint is shutting down.
//!
//! A session waits on [`session`] beside its input and its writes, so that a client that stops
//! reading is cut off as promptly as one that is typing. A connection waits on [`connection`],
//! so that a multiplexed connection with no session open (an OpenSSH ControlMaster) cannot keep
//! an identity connected after its access is gone.

use crate::endpoint::Endpoint;
use crate::identity::{Identity, Role};
use std::time::Duration;

/// How long a support connection may stay up with no active grant: time to record the attempt
/// and tell the client why.
pub const NO_GRANT_GRACE: Duration = Duration::from_secs(2);

/// Resolves, with the message to show, when the identity is removed or the endpoint stops.
async fn identity_or_shutdown(endpoint: &Endpoint, identity: &Identity) -> String {
    let mut ids = endpoint.identities.subscribe();
    let mut stop = endpoint.shutdown.subscribe();
    loop {
        if let Some(reason) = stop.borrow_and_update().clone() {
            return reason;
        }
        if !endpoint.identities.present(identity) {
            return format!(
                "the identity '{}' was removed from this endpoint; the session has ended",
                identity.name
            );
        }
        tokio::select! {
            r = ids.changed() => if r.is_err() { std::future::pending::<()>().await },
            r = stop.changed() => if r.is_err() { std::future::pending::<()>().await },
        }
    }
}

/// Resolves when a session must end, with the message to show.
pub async fn session(endpoint: &Endpoint, identity: &Identity, grant: Option<u64>) -> String {
    let grant_end = async {
        match grant {
            Some(id) => endpoint.consent.watch(id).await.message().to_string(),
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        m = grant_end => m,
        m = identity_or_shutdown(endpoint, identity) => m,
    }
}

/// Resolves when a connection must end: as [`session`], and for a support identity, once no
/// grant has been active for [`NO_GRANT_GRACE`].
pub async fn connection(endpoint: &Endpoint, identity: &Identity) -> String {
    let no_grant = async {
        if identity.role != Role::Support {
            return std::future::pending().await;
        }
        let mut changes = endpoint.consent.subscribe();
        loop {
            match endpoint.consent.active() {
                Some(g) => {
                    // Wait for the grant to end, then for the grace (a new grant may come).
                    let _ = endpoint.consent.watch(g.id).await;
                }
                None => {
                    tokio::select! {
                        _ = tokio::time::sleep(NO_GRANT_GRACE) => {
                            if endpoint.consent.active().is_none() {
                                return "remote support is not enabled on this endpoint".to_string();
                            }
                        }
                        r = changes.changed() => if r.is_err() { std::future::pending::<()>().await },
                    }
                }
            }
        }
    };
    tokio::select! {
        m = no_grant => m,
        m = identity_or_shutdown(endpoint, identity) => m,
    }
}
