//! The SSH layer: accepts connections, authenticates keys, and translates between SSH channel
//! events and a session's [`Shell`]. It only translates — the language, consent and catalog know
//! nothing of SSH.
//!
//! Bounds: at most `max_connections` connections and `max_unauthenticated` of them still
//! authenticating (more are closed at accept); a client must authenticate within `login_grace`;
//! at most 4 session channels per connection; input queued for a session is capped (excess is
//! dropped); lines are capped by the line editor and the lexer.
//!
//! Each session channel runs in its own task, which owns the shell and the line editor and writes
//! through the session [`Handle`] (never from inside a handler callback, which would deadlock once
//! the event buffer fills). A support session also waits on its grant: when the grant is revoked or
//! expires, the task writes the reason and disconnects the client at that instant.

use crate::endpoint::Endpoint;
use crate::identity::{Identity, IdentityStore};
use crate::line_editor::{Completer, Completion, EditEvent, LineEditor};
use crate::shell::{Reply, SessionKind, Shell, StartError};
use anyhow::Result;
use russh::keys::PrivateKey;
use russh::server::{Auth, Handle, Msg, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, Disconnect};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

/// Longest line a client may type or send, in characters.
pub const MAX_LINE_CHARS: usize = 4096;
/// Input bytes queued for one session before further input is dropped.
const MAX_QUEUED_INPUT: usize = 1 << 20;
/// Session channels per connection.
const MAX_CHANNELS: usize = 4;

/// Connection limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections at once.
    pub max_connections: usize,
    /// Connections still authenticating at once.
    pub max_unauthenticated: usize,
    /// Time a client has to authenticate.
    pub login_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_unauthenticated: 64,
            login_grace: Duration::from_secs(30),
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
        ..Default::default()
    });
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let unauthenticated = Arc::new(Semaphore::new(limits.max_unauthenticated));
    tokio::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
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
        let Ok(preauth_permit) = unauthenticated.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "too many unauthenticated connections; closing");
            continue;
        };
        let _ = socket.set_nodelay(true);
        let (authed_tx, authed_rx) = oneshot::channel();
        let handler = ConnHandler {
            endpoint: endpoint.clone(),
            peer,
            identity: None,
            handle: None,
            channels: HashMap::new(),
            preauth: Some(preauth_permit),
            authed: Some(authed_tx),
        };
        let config = config.clone();
        let grace = limits.login_grace;
        tokio::spawn(async move {
            let _conn_permit = conn_permit;
            let deadline = tokio::time::Instant::now() + grace;
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
            tokio::select! {
                r = &mut session => { log_end(peer, r); return; }
                a = authed_rx => if a.is_err() { return; },
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::info!(%peer, "not authenticated within the login grace time; disconnecting");
                    let _ = handle.disconnect(Disconnect::ByApplication, "authentication timed out".into(), "en".into()).await;
                    return;
                }
            }
            log_end(peer, session.await);
        });
    }
}

fn log_end(peer: SocketAddr, r: Result<(), anyhow::Error>) {
    match r {
        Ok(()) => tracing::debug!(%peer, "connection closed"),
        Err(e) => tracing::debug!(%peer, error = %e, "connection ended with an error"),
    }
}

/// Events a session task receives from the handler.
enum ChanEvent {
    Data(Vec<u8>),
    Eof,
    Resize(u16, u16),
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
    preauth: Option<OwnedSemaphorePermit>,
    authed: Option<oneshot::Sender<()>>,
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

enum StartKind {
    Exec(Vec<u8>),
    Shell,
}

impl russh::server::Handler for ConnHandler {
    type Error = anyhow::Error;

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(if self.lookup(offer.public_key).is_some() {
            Auth::Accept
        } else {
            Auth::reject()
        })
    }

    async fn auth_publickey(
        &mut self,
        _user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        match self.lookup(key.public_key) {
            Some(identity) => {
                tracing::info!(peer = %self.peer, identity = %identity.name, role = identity.role.as_str(), "authenticated");
                self.identity = Some(identity);
                Ok(Auth::Accept)
            }
            None => Ok(Auth::reject()),
        }
    }

    async fn auth_succeeded(&mut self, session: &mut Session) -> Result<(), Self::Error> {
        self.handle = Some(session.handle());
        self.preauth = None;
        if let Some(tx) = self.authed.take() {
            let _ = tx.send(());
        }
        Ok(())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
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

/// One session channel's task.
struct SessionTask {
    endpoint: Arc<Endpoint>,
    identity: Identity,
    remote: String,
    handle: Handle,
    channel: ChannelId,
    rx: mpsc::UnboundedReceiver<ChanEvent>,
    queued: Arc<AtomicUsize>,
    pty: Option<(u16, u16)>,
}

struct ShellCompleter<'a>(&'a Shell);

impl Completer for ShellCompleter<'_> {
    fn complete(&self, line: &str, cursor_chars: usize) -> Completion {
        let (start, candidates) = self.0.complete(line, cursor_chars);
        Completion { start, candidates }
    }
}

impl SessionTask {
    async fn run(mut self, kind: StartKind) {
        let session_kind = match (&kind, self.pty) {
            (StartKind::Exec(_), _) => SessionKind::Exec,
            (StartKind::Shell, Some(_)) => SessionKind::Interactive,
            (StartKind::Shell, None) => SessionKind::Lines,
        };
        let shell = match Shell::start(
            self.endpoint.clone(),
            self.identity.clone(),
            &self.remote,
            session_kind,
        ) {
            Ok(s) => s,
            Err(e) => {
                let msg = match e {
                    StartError::NotEnabled => e.to_string(),
                    StartError::Io(_) => {
                        tracing::error!(error = %e, "session start failed");
                        "the endpoint could not start a session; try again later".to_string()
                    }
                };
                self.fail_and_close(&msg).await;
                return;
            }
        };
        let grant = shell.grant_id();
        let endpoint = self.endpoint.clone();
        let grant_end = async move {
            match grant {
                Some(id) => endpoint.consent.watch(id).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(grant_end);
        let result = match kind {
            StartKind::Exec(cmd) => self.exec(shell, cmd, &mut grant_end).await,
            StartKind::Shell if self.pty.is_some() => self.interactive(shell, &mut grant_end).await,
            StartKind::Shell => self.lines(shell, &mut grant_end).await,
        };
        if let Err(()) = result {
            tracing::debug!(channel = ?self.channel, "client went away");
        }
    }

    async fn write(&self, text: &str) -> Result<(), ()> {
        if text.is_empty() {
            return Ok(());
        }
        self.handle
            .data(self.channel, text.as_bytes().to_vec())
            .await
            .map_err(|_| ())
    }

    async fn write_err(&self, text: &str) -> Result<(), ()> {
        self.handle
            .extended_data(self.channel, 1, text.as_bytes().to_vec())
            .await
            .map_err(|_| ())
    }

    async fn close(&self, status: u32) {
        let _ = self.handle.exit_status_request(self.channel, status).await;
        let _ = self.handle.eof(self.channel).await;
        let _ = self.handle.close(self.channel).await;
    }

    async fn fail_and_close(&self, msg: &str) {
        if self.pty.is_some() {
            let _ = self.write(&format!("{msg}\r\n")).await;
        } else {
            let _ = self.write_err(&format!("{msg}\n")).await;
        }
        self.close(1).await;
    }

    async fn end_for_grant(&self, mut shell: Shell, end: crate::consent::GrantEnd) {
        let msg = end.message();
        shell.finish(msg);
        let text = if self.pty.is_some() {
            format!("\r\n{msg}\r\n")
        } else {
            format!("{msg}\n")
        };
        if self.pty.is_some() {
            let _ = self.write(&text).await;
        } else {
            let _ = self.write_err(&text).await;
        }
        let _ = self.handle.exit_status_request(self.channel, 1).await;
        let _ = self
            .handle
            .disconnect(Disconnect::ByApplication, msg.to_string(), "en".into())
            .await;
    }

    fn take_queued(&self, n: usize) {
        self.queued.fetch_sub(
            n.min(self.queued.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
    }

    async fn exec(
        &mut self,
        mut shell: Shell,
        cmd: Vec<u8>,
        grant_end: &mut std::pin::Pin<
            &mut impl std::future::Future<Output = crate::consent::GrantEnd>,
        >,
    ) -> Result<(), ()> {
        let reply = match std::str::from_utf8(&cmd) {
            Ok(line) if line.chars().count() > MAX_LINE_CHARS => Reply {
                error: Some(format!(
                    "the command line is longer than {MAX_LINE_CHARS} characters"
                )),
                ..Reply::default()
            },
            Ok(line) => shell.execute(line),
            Err(_) => Reply {
                error: Some("the command line is not valid UTF-8; nothing was run".into()),
                ..Reply::default()
            },
        };
        // A grant that ended while the command ran ends the session with its reason.
        if let Some(end) = futures_now(grant_end) {
            self.end_for_grant(shell, end).await;
            return Ok(());
        }
        let convert = self.pty.is_some();
        let out = if convert {
            crlf(&reply.output)
        } else {
            reply.output
        };
        self.write(&out).await?;
        let status = match &reply.error {
            Some(e) => {
                if convert {
                    self.write(&format!("{}\r\n", e)).await?;
                } else {
                    self.write_err(&format!("{e}\n")).await?;
                }
                1
            }
            None => 0,
        };
        shell.finish(if status == 0 {
            "command completed"
        } else {
            "command failed"
        });
        self.close(status).await;
        Ok(())
    }

    async fn lines(
        &mut self,
        mut shell: Shell,
        grant_end: &mut std::pin::Pin<
            &mut impl std::future::Future<Output = crate::consent::GrantEnd>,
        >,
    ) -> Result<(), ()> {
        let mut buf: Vec<u8> = Vec::new();
        let mut status = 0;
        loop {
            let ev = tokio::select! {
                end = &mut *grant_end => { self.end_for_grant(shell, end).await; return Ok(()); }
                ev = self.rx.recv() => ev,
            };
            let eof = match ev {
                Some(ChanEvent::Data(d)) => {
                    self.take_queued(d.len());
                    buf.extend_from_slice(&d);
                    false
                }
                Some(ChanEvent::Resize(..)) => continue,
                Some(ChanEvent::Eof) | None => true,
            };
            while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = buf.drain(..=pos).collect();
                let raw = raw.strip_suffix(b"\n").unwrap_or(&raw);
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                let reply = match std::str::from_utf8(raw) {
                    Ok(line) => shell.execute(line),
                    Err(_) => Reply {
                        error: Some("the line is not valid UTF-8; nothing was run".into()),
                        ..Reply::default()
                    },
                };
                self.write(&reply.output).await?;
                if let Some(e) = &reply.error {
                    status = 1;
                    self.write_err(&format!("{e}\n")).await?;
                }
                if reply.exit {
                    shell.finish("exit");
                    self.close(status).await;
                    return Ok(());
                }
            }
            if buf.len() > MAX_LINE_CHARS * 4 {
                buf.clear();
                status = 1;
                self.write_err(&format!(
                    "the line is longer than {MAX_LINE_CHARS} characters; it was discarded\n"
                ))
                .await?;
            }
            if eof {
                shell.finish("end of input");
                self.close(status).await;
                return Ok(());
            }
        }
    }

    async fn interactive(
        &mut self,
        mut shell: Shell,
        grant_end: &mut std::pin::Pin<
            &mut impl std::future::Future<Output = crate::consent::GrantEnd>,
        >,
    ) -> Result<(), ()> {
        let (w, h) = self.pty.unwrap_or((80, 24));
        shell.set_width(Some(usize::from(w)));
        let mut editor = LineEditor::new(w, MAX_LINE_CHARS);
        editor.resize(w, h);
        let mut out: Vec<u8> = LineEditor::enable_sequence().to_vec();
        out.extend_from_slice(
            format!(
                "pep privileged endpoint on {} ({} as {}). Type Get-Command to see what you may run, exit to leave.\r\n",
                self.endpoint.stamp.read().pep_node(),
                self.identity.name,
                self.identity.role.as_str()
            )
            .as_bytes(),
        );
        out.extend(editor.start_line(&shell.prompt()));
        self.send_bytes(&mut out).await?;
        let mut input: Vec<u8> = Vec::new();
        // After a line runs, the editor may still hold typed-ahead bytes: feed it again before
        // waiting for more input.
        let mut drain = false;
        loop {
            if input.is_empty() && !drain {
                let ev = tokio::select! {
                    end = &mut *grant_end => { self.end_for_grant(shell, end).await; return Ok(()); }
                    ev = self.rx.recv() => ev,
                };
                match ev {
                    Some(ChanEvent::Data(d)) => {
                        self.take_queued(d.len());
                        input = d;
                    }
                    Some(ChanEvent::Resize(w, h)) => {
                        editor.resize(w, h);
                        shell.set_width(Some(usize::from(w)));
                        continue;
                    }
                    Some(ChanEvent::Eof) | None => {
                        shell.finish("client closed the session");
                        self.close(0).await;
                        return Ok(());
                    }
                }
            }
            let events = editor.feed(&input, &ShellCompleter(&shell), &mut out);
            input.clear();
            drain = events.iter().any(|e| matches!(e, EditEvent::Line(_)));
            self.send_bytes(&mut out).await?;
            for ev in events {
                let done = match ev {
                    EditEvent::Line(line) => {
                        editor.add_history(&line);
                        let reply = shell.execute(&line);
                        if reply.clear_screen {
                            out.extend_from_slice(b"\x1b[H\x1b[2J");
                        }
                        out.extend_from_slice(crlf(&reply.output).as_bytes());
                        if let Some(e) = &reply.error {
                            out.extend_from_slice(format!("\x1b[31m{e}\x1b[0m\r\n").as_bytes());
                        }
                        reply.exit
                    }
                    EditEvent::Interrupt => false,
                    EditEvent::ClearScreen => false,
                    EditEvent::Eof => true,
                };
                if done {
                    out.extend_from_slice(LineEditor::disable_sequence());
                    self.send_bytes(&mut out).await?;
                    shell.finish("exit");
                    self.close(0).await;
                    return Ok(());
                }
                out.extend(editor.start_line(&shell.prompt()));
                self.send_bytes(&mut out).await?;
            }
        }
    }

    async fn send_bytes(&self, out: &mut Vec<u8>) -> Result<(), ()> {
        if out.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::take(out);
        self.handle.data(self.channel, bytes).await.map_err(|_| ())
    }
}

/// `\n` to `\r\n` for a PTY.
fn crlf(s: &str) -> String {
    s.replace('\n', "\r\n")
}

/// Polls a future once: its output if it is ready now.
fn futures_now<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match std::pin::Pin::new(f).poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}
