//! The SSH layer: accepts connections, authenticates keys, and translates between SSH channel
//! events and a session's [`Shell`]. It only translates — the language, consent and catalog know
//! nothing of SSH.
//!
//! Bounds: at most `max_connections` connections; unauthenticated ones are admitted, evicted and
//! queued by [`crate::admission`] (nobody can fill the table the operator needs to log in); a
//! client must reach authentication within the handshake deadline and authenticate within
//! `login_grace`; one identity holds at most `per_identity` connections; at most 4 session
//! channels per connection at once (a channel whose session ended frees its place); input queued
//! for a session is capped (excess is dropped); lines are capped by the line editor and the lexer.
//! An authenticated connection ends when its identity is removed, when (support) no grant is
//! active, or when the endpoint stops (`session_end::connection`).
//!
//! Each session channel runs in its own task (`session_task`), fed by the handler's callbacks.

use crate::admission::{Admission, AdmissionLimits, IdentityConn, HANDSHAKE_DEADLINE};
use crate::endpoint::Endpoint;
use crate::identity::{Identity, IdentityStore};
use crate::session_end;
use crate::session_task::{ChanEvent, SessionTask, StartKind};
use crate::ssh_algorithms::{self, KexPolicy};
use anyhow::Result;
use russh::keys::{HashAlg, PrivateKey};
use russh::server::{Auth, Handle, Msg, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, Disconnect};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Longest line a client may type or send, in characters.
pub const MAX_LINE_CHARS: usize = 4096;
/// Input bytes queued for one session before further input is dropped.
const MAX_QUEUED_INPUT: usize = 1 << 20;
/// Session channels per connection.
const MAX_CHANNELS: usize = 4;

/// How long an interactive session may wait for input before it ends.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Connection limits, and the key exchanges the listener offers.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections at once.
    pub max_connections: usize,
    /// Admission of unauthenticated connections and per-identity caps.
    pub admission: AdmissionLimits,
    /// Time a client has to authenticate.
    pub login_grace: Duration,
    /// An interactive session with no input for this long ends (None: never).
    pub idle_timeout: Option<Duration>,
    /// Key exchanges offered (see `ssh_algorithms`).
    pub kex: KexPolicy,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            admission: AdmissionLimits::default(),
            login_grace: Duration::from_secs(30),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            kex: KexPolicy::default(),
        }
    }
}

/// Serves SSH on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    endpoint: Arc<Endpoint>,
    host_key: PrivateKey,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let config = Arc::new(russh::server::Config {
        server_id: russh::SshId::Standard("SSH-2.0-pep".into()),
        methods: russh::MethodSet::from(&[russh::MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::from_millis(500),
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![host_key],
        max_auth_attempts: 6,
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 3,
        nodelay: true,
        preferred: ssh_algorithms::preferred(limits.kex),
        ..Default::default()
    });
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let admission = Admission::new(limits.admission.clone());
    tokio::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            _ = &mut shutdown => {
                drain(&endpoint, &connections, limits.max_connections).await;
                return Ok(());
            }
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(conn_permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached; closing");
            continue;
        };
        let _ = socket.set_nodelay(true);
        let endpoint = endpoint.clone();
        let config = config.clone();
        let admission = admission.clone();
        let grace = limits.login_grace;
        let idle_timeout = limits.idle_timeout;
        tokio::spawn(async move {
            let _conn_permit = conn_permit;
            let deadline = tokio::time::Instant::now() + grace;
            let Some(mut preauth) = admission.admit(peer.ip(), deadline).await else {
                tracing::warn!(%peer, "no room for another unauthenticated connection; closing");
                return;
            };
            // The handshake deadline counts from admission: time spent waiting is not the
            // client's fault.
            let handshake_by = tokio::time::Instant::now() + HANDSHAKE_DEADLINE;
            let progressed = preauth.progressed();
            let (authed_tx, authed_rx) = oneshot::channel();
            let cut = Arc::new(tokio::sync::Notify::new());
            let handler = ConnHandler {
                endpoint: endpoint.clone(),
                peer,
                identity: None,
                handle: None,
                channels: HashMap::new(),
                progressed: progressed.clone(),
                authed: Some(authed_tx),
                idle_timeout,
                admission: admission.clone(),
                counted: None,
                cut: cut.clone(),
            };
            let session = match tokio::time::timeout_at(
                deadline,
                russh::server::run_stream(config, socket, handler),
            )
            .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "connection setup failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "no SSH identification within the login grace time");
                    return;
                }
            };
            let handle = session.handle();
            tokio::pin!(session);
            let stalled = async {
                tokio::time::sleep_until(handshake_by).await;
                if progressed.load(Ordering::Relaxed) {
                    std::future::pending::<()>().await;
                }
            };
            let identity = tokio::select! {
                r = &mut session => { log_end(peer, r); return; }
                a = authed_rx => match a { Ok(identity) => identity, Err(_) => return },
                _ = &mut preauth.evicted => {
                    tracing::info!(%peer, "evicted before authenticating");
                    return;
                }
                _ = stalled => {
                    tracing::info!(%peer, "no authentication request within the handshake deadline; disconnecting");
                    return;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::info!(%peer, "not authenticated within the login grace time; disconnecting");
                    let _ = handle.disconnect(Disconnect::ByApplication, "authentication timed out".into(), "en".into()).await;
                    return;
                }
            };
            drop(preauth);
            tokio::select! {
                r = &mut session => log_end(peer, r),
                reason = session_end::connection(&endpoint, &identity) => {
                    tracing::info!(%peer, identity = %identity.name, %reason, "ending connection");
                    // Sessions on it end themselves with their message; give them a moment,
                    // unless one of them has already told its client and asks for the cut.
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_millis(1500)) => {}
                        _ = cut.notified() => {}
                    }
                    let _ = tokio::time::timeout(
                        CUT_GRACE,
                        handle.disconnect(Disconnect::ByApplication, reason, "en".into()),
                    )
                    .await;
                    finish_or_cut(peer, session).await;
                }
                _ = cut.notified() => finish_or_cut(peer, session).await,
            }
        });
    }
}

/// Stops the endpoint: every session and connection ends with the reason (sessions close their
/// transcripts and records), and the server waits — at most [`DRAIN_LIMIT`] — until the
/// connections have delivered their last words and closed.
async fn drain(endpoint: &Endpoint, connections: &Semaphore, max: usize) {
    const DRAIN_LIMIT: Duration = Duration::from_secs(5);
    endpoint.shutdown.send_replace(Some(
        "the endpoint is shutting down; the session has ended".into(),
    ));
    let until = tokio::time::Instant::now() + DRAIN_LIMIT;
    while tokio::time::Instant::now() < until
        && (connections.available_permits() < max || endpoint.live_sessions() > 0)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How long a connection told to disconnect may take to say so before its socket is closed.
const CUT_GRACE: Duration = Duration::from_millis(500);

/// Lets the connection deliver what it was told (its disconnect) for [`CUT_GRACE`], then drops
/// it, which closes the socket: a client that stopped reading keeps the SSH layer blocked in a
/// write, where it would never see the disconnect.
async fn finish_or_cut<S>(peer: SocketAddr, session: std::pin::Pin<&mut S>)
where
    S: std::future::Future<Output = Result<(), anyhow::Error>>,
{
    match tokio::time::timeout(CUT_GRACE, session).await {
        Ok(r) => log_end(peer, r),
        Err(_) => tracing::debug!(%peer, "connection cut: the client was not reading"),
    }
}

fn log_end(peer: SocketAddr, r: Result<(), anyhow::Error>) {
    match r {
        Ok(()) => tracing::debug!(%peer, "connection closed"),
        Err(e) => tracing::debug!(%peer, error = %e, "connection ended with an error"),
    }
}

/// A session channel before and after its shell or exec request.
struct ChanState {
    pty: Option<(u16, u16)>,
    tx: Option<mpsc::UnboundedSender<ChanEvent>>,
    queued: Arc<AtomicUsize>,
}

struct ConnHandler {
    endpoint: Arc<Endpoint>,
    peer: SocketAddr,
    identity: Option<Identity>,
    handle: Option<Handle>,
    channels: HashMap<ChannelId, ChanState>,
    /// Set at the first authentication request (the client is getting somewhere).
    progressed: Arc<AtomicBool>,
    authed: Option<oneshot::Sender<Identity>>,
    idle_timeout: Option<Duration>,
    admission: Arc<Admission>,
    /// This connection counted against its identity's cap (dropped with the connection).
    counted: Option<IdentityConn>,
    /// Closes the connection's socket (a session that ended it, once its client was told).
    cut: Arc<tokio::sync::Notify>,
}

impl ConnHandler {
    fn lookup(&self, key: &russh::keys::PublicKey) -> Option<Identity> {
        match IdentityStore::find_by_key(&self.endpoint.state.identities(), key) {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "cannot read identities");
                None
            }
        }
    }

    fn start_task(&mut self, channel: ChannelId, kind: StartKind) -> bool {
        let (Some(identity), Some(handle)) = (self.identity.clone(), self.handle.clone()) else {
            return false;
        };
        let Some(state) = self.channels.get_mut(&channel) else {
            return false;
        };
        if state.tx.is_some() {
            return false;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        state.tx = Some(tx);
        let task = SessionTask {
            endpoint: self.endpoint.clone(),
            identity,
            remote: self.peer.to_string(),
            handle,
            channel,
            rx,
            queued: state.queued.clone(),
            pty: state.pty,
            idle_timeout: self.idle_timeout,
            held: Vec::new(),
            held_eof: false,
            notices: None,
            cut: self.cut.clone(),
        };
        tokio::spawn(task.run(kind));
        true
    }

    fn send(&mut self, channel: ChannelId, ev: ChanEvent) {
        if let Some(ChanState {
            tx: Some(tx),
            queued,
            ..
        }) = self.channels.get(&channel)
        {
            if let ChanEvent::Data(d) = &ev {
                if queued.load(Ordering::Relaxed) + d.len() > MAX_QUEUED_INPUT {
                    tracing::warn!(peer = %self.peer, "input queue full; dropping input");
                    return;
                }
                queued.fetch_add(d.len(), Ordering::Relaxed);
            }
            let _ = tx.send(ev);
        }
    }
}

impl ConnHandler {
    /// Records a refused login in the audit log (the peer and the key's fingerprint).
    fn audit_refused(&self, key: &russh::keys::PublicKey, why: &str) {
        let fields = serde_json::json!({
            "remote": self.peer.to_string(),
            "fingerprint": key.fingerprint(HashAlg::Sha256).to_string(),
            "reason": why,
        });
        let ep = &self.endpoint;
        if let Err(e) = ep.audit.append(ep.clock.now(), "login_refused", fields) {
            tracing::error!(error = %e, "the audit log cannot record a refused login");
        }
    }
}

impl russh::server::Handler for ConnHandler {
    type Error = anyhow::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        self.progressed.store(true, Ordering::Relaxed);
        Ok(Auth::reject())
    }

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        self.progressed.store(true, Ordering::Relaxed);
        Ok(if self.lookup(offer.public_key).is_some() {
            Auth::Accept
        } else {
            tracing::warn!(
                peer = %self.peer,
                algorithm = %offer.algorithm,
                fingerprint = %offer.public_key.fingerprint(HashAlg::Sha256),
                "authentication refused: key not registered"
            );
            self.audit_refused(offer.public_key, "key not registered");
            Auth::reject()
        })
    }

    async fn auth_publickey(
        &mut self,
        _user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        self.progressed.store(true, Ordering::Relaxed);
        match self.lookup(key.public_key) {
            Some(identity) if self.counted.is_none() => {
                let Some(counted) = self.admission.identity(&identity.fingerprint) else {
                    tracing::warn!(peer = %self.peer, identity = %identity.name, cap = self.admission.per_identity(), "identity holds its maximum of connections; refused");
                    return Ok(Auth::reject());
                };
                self.counted = Some(counted);
                tracing::info!(peer = %self.peer, identity = %identity.name, role = identity.role.as_str(), "authenticated");
                self.identity = Some(identity);
                Ok(Auth::Accept)
            }
            Some(_) => Ok(Auth::reject()),
            None => {
                tracing::warn!(
                    peer = %self.peer,
                    algorithm = %key.algorithm,
                    fingerprint = %key.public_key.fingerprint(HashAlg::Sha256),
                    "authentication refused: key no longer registered"
                );
                self.audit_refused(key.public_key, "key no longer registered");
                Ok(Auth::reject())
            }
        }
    }

    async fn auth_succeeded(&mut self, session: &mut Session) -> Result<(), Self::Error> {
        self.handle = Some(session.handle());
        if let (Some(tx), Some(identity)) = (self.authed.take(), self.identity.clone()) {
            let _ = tx.send(identity);
        }
        Ok(())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Sessions the server ended are gone even if the client never closed their channel.
        self.channels
            .retain(|_, c| c.tx.as_ref().is_none_or(|tx| !tx.is_closed()));
        if self.channels.len() >= MAX_CHANNELS {
            reply
                .reject(russh::ChannelOpenFailure::ResourceShortage)
                .await;
            return Ok(());
        }
        // Input arrives through the handler callbacks; the Channel itself is not read, so it is
        // dropped rather than kept (an unread Channel blocks the session once its buffer fills).
        let id = channel.id();
        drop(channel);
        self.channels.insert(
            id,
            ChanState {
                pty: None,
                tx: None,
                queued: Arc::new(AtomicUsize::new(0)),
            },
        );
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match self.channels.get_mut(&channel) {
            Some(state) if state.tx.is_none() => {
                state.pty = Some((clamp_dim(col_width, 80), clamp_dim(row_height, 24)));
                session.channel_success(channel)?;
            }
            _ => session.channel_failure(channel)?,
        }
        Ok(())
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let (w, h) = (clamp_dim(col_width, 80), clamp_dim(row_height, 24));
        if let Some(state) = self.channels.get_mut(&channel) {
            if state.pty.is_some() {
                state.pty = Some((w, h));
            }
        }
        self.send(channel, ChanEvent::Resize(w, h));
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.start_task(channel, StartKind::Shell) {
            session.channel_success(channel)?;
        } else {
            session.channel_failure(channel)?;
        }
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.start_task(channel, StartKind::Exec(data.to_vec())) {
            session.channel_success(channel)?;
        } else {
            session.channel_failure(channel)?;
        }
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        tracing::info!(peer = %self.peer, subsystem = %azs_support::escape::escape_text(name), "subsystem refused");
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.send(channel, ChanEvent::Data(data.to_vec()));
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.send(channel, ChanEvent::Eof);
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Dropping the sender tells the task the client is gone.
        self.channels.remove(&channel);
        Ok(())
    }
}

fn clamp_dim(v: u32, default: u16) -> u16 {
    match v {
        0 => default,
        v => u16::try_from(v.min(1000)).unwrap_or(default),
    }
}
