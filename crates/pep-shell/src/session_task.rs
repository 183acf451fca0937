//! One session channel's task: it owns the session's [`Shell`] and, for a PTY, its line editor;
//! it receives the client's bytes from the SSH handler and writes replies through the session
//! [`Handle`] (never from inside a handler callback, which would deadlock once russh's event buffer
//! fills). Every session also waits on why it must end (`session_end`: its grant revoked,
//! expired or replaced, its identity removed, the endpoint stopping) — beside its input *and*
//! beside every write, so a client that stops reading is cut off as promptly as one that types:
//! the task writes the reason (for at most [`END_WRITE_TIMEOUT`]) and ends the session. A shell
//! (with or without a PTY) that receives no input for the idle timeout ends the same way.
//!
//! Input that cannot be a line is refused and recorded: a line without a PTY longer than the
//! limit is discarded up to its newline (its tail never runs as a command), and bytes that are
//! not UTF-8 are refused; both appear in the transcript, escaped and cut.

use crate::endpoint::Endpoint;
use crate::identity::Identity;
use crate::line_editor::{Completer, Completion, EditEvent, LineEditor};
use crate::server::MAX_LINE_CHARS;
use crate::session_end;
use crate::shell::{Reply, SessionKind, Shell, StartError};
use russh::server::Handle;
use russh::{ChannelId, Disconnect};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// How long a connection whose grant ended may linger after its channel closed, so the client
/// can write out the last message before the connection is cut.
const DISCONNECT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);
/// How long the message of a session the server ends may wait for a client that does not read.
const END_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Why a session loop stopped early.
enum Stop {
    /// The client went away.
    Gone,
    /// The server ends the session, with this message.
    End(String),
}

/// The future that resolves with the reason a session must end.
type EndFuture = Pin<Box<dyn Future<Output = String> + Send>>;

/// Events a session task receives from the handler.
pub(crate) enum ChanEvent {
    /// Bytes the client sent.
    Data(Vec<u8>),
    /// The client closed its input.
    Eof,
    /// The terminal was resized (columns, rows).
    Resize(u16, u16),
    /// A line for the user from the endpoint (someone started or stopped watching).
    Notice(String),
}

/// What the client asked the channel to run.
pub(crate) enum StartKind {
    /// One command line (`ssh host 'COMMAND'`).
    Exec(Vec<u8>),
    /// A shell: interactive with a PTY, lines without one.
    Shell,
}

/// One session channel's task.
pub(crate) struct SessionTask {
    pub(crate) endpoint: Arc<Endpoint>,
    pub(crate) identity: Identity,
    pub(crate) remote: String,
    pub(crate) handle: Handle,
    pub(crate) channel: ChannelId,
    pub(crate) rx: mpsc::UnboundedReceiver<ChanEvent>,
    pub(crate) queued: Arc<AtomicUsize>,
    pub(crate) pty: Option<(u16, u16)>,
    /// A shell with no input for this long ends.
    pub(crate) idle_timeout: Option<std::time::Duration>,
    /// Input that arrived while a job ran, for the lines after it.
    pub(crate) held: Vec<u8>,
    /// The client closed its input while a job ran.
    pub(crate) held_eof: bool,
    /// What the session's user is told (who is watching), once the session started.
    pub(crate) notices: Option<tokio::sync::broadcast::Receiver<String>>,
    /// Closes the whole connection's socket.
    pub(crate) cut: Arc<tokio::sync::Notify>,
}

/// How often the progress line of a job is redrawn.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(500);
/// How long a cancelled job has to stop before the session goes on without it.
const JOB_STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

struct ShellCompleter<'a>(&'a Shell);

impl Completer for ShellCompleter<'_> {
    fn complete(&self, line: &str, cursor_chars: usize) -> Completion {
        let (start, candidates) = self.0.complete(line, cursor_chars);
        Completion { start, candidates }
    }
}

impl SessionTask {
    pub(crate) async fn run(mut self, kind: StartKind) {
        let session_kind = match (&kind, self.pty) {
            (StartKind::Exec(_), _) => SessionKind::Exec,
            (StartKind::Shell, Some(_)) => SessionKind::Interactive,
            (StartKind::Shell, None) => SessionKind::Lines,
        };
        let mut shell = match Shell::start(
            self.endpoint.clone(),
            self.identity.clone(),
            &self.remote,
            session_kind,
        ) {
            Ok(s) => s,
            Err(StartError::NotEnabled(refused)) => {
                let attempt = match &kind {
                    StartKind::Exec(cmd) => Some(cmd.as_slice()),
                    StartKind::Shell => None,
                };
                refused.record(attempt);
                self.last_words(
                    "remote support is not enabled on this endpoint",
                    crate::shell::Refusal::Denied.exit_status(),
                )
                .await;
                return;
            }
            Err(e @ StartError::Io(_)) => {
                tracing::error!(error = %e, "session start failed");
                self.fail_and_close("the endpoint could not start a session; try again later")
                    .await;
                return;
            }
        };
        self.notices = Some(shell.live().notices());
        let endpoint = self.endpoint.clone();
        let identity = self.identity.clone();
        let grant = shell.grant_id();
        // An operator may end this one session (Stop-RemoteSupportSession) with a reason.
        let mut stopped = shell.live().stopped();
        let mut boxed: EndFuture = Box::pin(async move {
            tokio::select! {
                why = session_end::session(&endpoint, &identity, grant) => why,
                why = async {
                    loop {
                        if stopped.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                        if let Some(why) = stopped.borrow().clone() {
                            return why;
                        }
                    }
                } => why,
            }
        });
        let end = &mut boxed;
        let result = match kind {
            StartKind::Exec(cmd) => self.exec(&mut shell, cmd, end).await,
            StartKind::Shell if self.pty.is_some() => self.interactive(&mut shell, end).await,
            StartKind::Shell => self.lines(&mut shell, end).await,
        };
        match result {
            Ok(()) => {}
            Err(Stop::Gone) => {
                tracing::debug!(channel = ?self.channel, "client went away");
                shell.finish("connection closed");
            }
            Err(Stop::End(message)) => self.end_session(&mut shell, &message).await,
        }
    }

    /// Sends `bytes` (stderr when `ext`), unless the session must end first.
    async fn send(&self, bytes: Vec<u8>, ext: bool, end: &mut EndFuture) -> Result<(), Stop> {
        if bytes.is_empty() {
            return Ok(());
        }
        let sent = async {
            if ext {
                self.handle.extended_data(self.channel, 1, bytes).await
            } else {
                self.handle.data(self.channel, bytes).await
            }
        };
        tokio::select! {
            r = sent => r.map_err(|_| Stop::Gone),
            message = end.as_mut() => Err(Stop::End(message)),
        }
    }

    /// Exit status, EOF and close: best effort, bounded by [`END_WRITE_TIMEOUT`] (the SSH layer
    /// takes them only as fast as it can write, and a client may have stopped reading).
    async fn close(&self, status: u32) {
        let _ = tokio::time::timeout(END_WRITE_TIMEOUT, async {
            let _ = self.handle.exit_status_request(self.channel, status).await;
            let _ = self.handle.eof(self.channel).await;
            let _ = self.handle.close(self.channel).await;
        })
        .await;
    }

    /// Cuts the whole connection after [`DISCONNECT_GRACE`]: the SSH disconnect if it goes out
    /// in time, then the socket (the SSH layer may be stuck writing to a client that does not
    /// read, and then only closing the socket ends the connection).
    fn schedule_cut(&self, reason: &str) {
        let handle = self.handle.clone();
        let reason = reason.to_string();
        let cut = self.cut.clone();
        tokio::spawn(async move {
            tokio::time::sleep(DISCONNECT_GRACE).await;
            let _ = tokio::time::timeout(
                END_WRITE_TIMEOUT,
                handle.disconnect(Disconnect::ByApplication, reason, "en".into()),
            )
            .await;
            cut.notify_one();
        });
    }

    /// A line's reply ended the session (its grant ended as the line ran, or it can no longer
    /// be recorded): the connection goes too, as when the end is noticed between lines, and the
    /// record says why when the end is known (revoked, expired ...). Nothing polls `end` after.
    async fn could_not_go_on(&self, shell: &mut Shell, end: &mut EndFuture) {
        let why = tokio::time::timeout(std::time::Duration::ZERO, end.as_mut())
            .await
            .unwrap_or_else(|_| "ended: the session could not go on".to_string());
        self.schedule_cut(&why);
        shell.finish(&why);
    }

    /// The session ends on a line's reply (`exit`, end of input, or a line that could not go
    /// on). A user who leaves finds the session recorded as ended once the client has exited:
    /// the records close before the channel does.
    async fn leave(&self, shell: &mut Shell, status: u32, failed: bool, end: &mut EndFuture) {
        if failed {
            self.close(status).await;
            self.could_not_go_on(shell, end).await;
        } else {
            shell.finish("exit");
            self.close(status).await;
        }
    }

    /// Best effort to a client that may not read: bounded by [`END_WRITE_TIMEOUT`].
    async fn last_words(&self, msg: &str, status: u32) {
        let words = async {
            if self.pty.is_some() {
                let _ = self
                    .handle
                    .data(self.channel, format!("\r\n{msg}\r\n").into_bytes())
                    .await;
            } else {
                let _ = self
                    .handle
                    .extended_data(self.channel, 1, format!("{msg}\n").into_bytes())
                    .await;
            }
            self.close(status).await;
        };
        let _ = tokio::time::timeout(END_WRITE_TIMEOUT, words).await;
    }

    async fn fail_and_close(&self, msg: &str) {
        self.last_words(msg, 1).await;
    }

    /// Ends the session from the server's side: tells the client why, closes the channel the
    /// ordinary way (OpenSSH drops buffered channel output when a disconnect arrives in the same
    /// read), cuts the whole connection a moment later, and records the end. The shell is gone
    /// at once either way (no line runs after the end is known): a new channel on this
    /// connection passes the checks at its start.
    ///
    /// The client is told, and the cut scheduled, before the records are closed: closing them
    /// syncs the transcript and the recording to disk, which under load took longer than the
    /// grace the connection gets (the cut then came from the connection's own check, 3.5 s on).
    async fn end_session(&self, shell: &mut Shell, msg: &str) {
        self.last_words(msg, 1).await;
        self.schedule_cut(msg);
        shell.finish(msg);
    }

    /// The message a session ended for idleness shows.
    fn idle_message(&self) -> String {
        let secs = self.idle_timeout.map_or(0, |d| d.as_secs());
        let span = if secs.is_multiple_of(60) {
            plural(secs / 60, "minute")
        } else {
            plural(secs, "second")
        };
        format!("the session had no input for {span} and has ended")
    }

    /// When the session ends for idleness, counted from now.
    fn idle_deadline(&self) -> Option<tokio::time::Instant> {
        self.idle_timeout.map(|d| tokio::time::Instant::now() + d)
    }

    fn take_queued(&self, n: usize) {
        self.queued.fetch_sub(
            n.min(self.queued.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
    }

    /// The next event, or why the session stops: it must end, it was idle too long, or the
    /// grant changed (noted in the transcript; `Ok(None)`).
    async fn next_event(
        &mut self,
        shell: &mut Shell,
        end: &mut EndFuture,
        idle_at: Option<tokio::time::Instant>,
        consent: &mut tokio::sync::watch::Receiver<u64>,
    ) -> Result<Option<ChanEvent>, Stop> {
        let mut notices = self.notices.take();
        let notice = async {
            match notices.as_mut() {
                Some(rx) => loop {
                    match rx.recv().await {
                        Ok(n) => return n,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => std::future::pending::<()>().await,
                    }
                },
                None => std::future::pending().await,
            }
        };
        let r = tokio::select! {
            n = notice => Ok(Some(ChanEvent::Notice(n))),
            message = end.as_mut() => Err(Stop::End(message)),
            _ = until(idle_at) => Err(Stop::End(self.idle_message())),
            _ = consent.changed() => {
                shell.observe_grant();
                Ok(None)
            }
            ev = self.rx.recv() => Ok(Some(ev.unwrap_or(ChanEvent::Eof))),
        };
        self.notices = notices;
        r
    }

    async fn exec(
        &mut self,
        shell: &mut Shell,
        cmd: Vec<u8>,
        end: &mut EndFuture,
    ) -> Result<(), Stop> {
        let reply = if self.await_attendance(shell, &cmd, end).await? {
            run_input(shell, &cmd, "command line", "nothing was run")
        } else {
            cancelled()
        };
        let reply = self.finish_job(shell, reply, end, false).await?;
        // A session that must end (grant gone while the command ran) ends with its reason.
        if let Some(message) = futures_now(end) {
            return Err(Stop::End(message));
        }
        let convert = self.pty.is_some();
        let out = if convert {
            crlf(&reply.output)
        } else {
            reply.output
        };
        self.send(out.into_bytes(), false, end).await?;
        if let Some(n) = &reply.notice {
            if convert {
                self.send(format!("{n}\r\n").into_bytes(), false, end)
                    .await?;
            } else {
                self.send(format!("{n}\n").into_bytes(), true, end).await?;
            }
        }
        let status = match &reply.error {
            Some(e) => {
                if convert {
                    self.send(format!("{e}\r\n").into_bytes(), false, end)
                        .await?;
                } else {
                    self.send(format!("{e}\n").into_bytes(), true, end).await?;
                }
                reply.refusal.map_or(1, |r| r.exit_status())
            }
            // The command ran, and its verdict is False (Test-AzureStack): monitoring reads the
            // exit status.
            None if reply.verdict_false => 1,
            None => 0,
        };
        shell.finish(match (&reply.error, status) {
            (_, 0) => "command completed",
            (None, _) => "command completed; its result was False",
            (Some(_), _) => "command failed",
        });
        self.close(status).await;
        Ok(())
    }

    async fn lines(&mut self, shell: &mut Shell, end: &mut EndFuture) -> Result<(), Stop> {
        let mut buf: Vec<u8> = Vec::new();
        // Inside a line already refused for its length: everything up to its newline is dropped.
        let mut discarding = false;
        let mut status = 0;
        let mut idle_at = self.idle_deadline();
        let mut consent = self.endpoint.consent.subscribe();
        loop {
            let ev = if !self.held.is_empty() {
                ChanEvent::Data(std::mem::take(&mut self.held))
            } else if self.held_eof {
                ChanEvent::Eof
            } else {
                let Some(ev) = self.next_event(shell, end, idle_at, &mut consent).await? else {
                    continue;
                };
                ev
            };
            let eof = match ev {
                ChanEvent::Data(d) => {
                    self.take_queued(d.len());
                    idle_at = self.idle_deadline();
                    if discarding {
                        match d.iter().position(|&b| b == b'\n') {
                            Some(pos) => {
                                discarding = false;
                                buf.extend_from_slice(&d[pos + 1..]);
                            }
                            None => continue,
                        }
                    } else {
                        buf.extend_from_slice(&d);
                    }
                    false
                }
                ChanEvent::Resize(..) => continue,
                ChanEvent::Notice(n) => {
                    self.send(format!("{n}\n").into_bytes(), true, end).await?;
                    continue;
                }
                ChanEvent::Eof => true,
            };
            while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = buf.drain(..=pos).collect();
                let raw = raw.strip_suffix(b"\n").unwrap_or(&raw);
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                let raw = raw.to_vec();
                let reply = if self.await_attendance(shell, &raw, end).await? {
                    run_input(shell, &raw, "line", "it was discarded")
                } else {
                    cancelled()
                };
                let reply = self.finish_job(shell, reply, end, false).await?;
                let done = self.deliver(shell, reply, &mut status, end).await?;
                shell.settle();
                if done {
                    return Ok(());
                }
            }
            // A line still without its newline past the limit (4 bytes per character at most):
            // refuse it now and drop the rest of it as it arrives.
            if buf.len() > MAX_LINE_CHARS * 4 {
                let reply = shell.refuse_input(&buf, &too_long("line", "it was discarded"));
                buf.clear();
                discarding = true;
                let done = self.deliver(shell, reply, &mut status, end).await?;
                shell.settle();
                if done {
                    return Ok(());
                }
            }
            if eof {
                shell.finish("end of input");
                self.close(status).await;
                return Ok(());
            }
        }
    }

    /// Sends a line's reply without a PTY (output, then its error on stderr, which makes the
    /// exit status 1); true when the reply ended the session.
    async fn deliver(
        &self,
        shell: &mut Shell,
        reply: Reply,
        status: &mut u32,
        end: &mut EndFuture,
    ) -> Result<bool, Stop> {
        self.send(reply.output.into_bytes(), false, end).await?;
        if let Some(n) = &reply.notice {
            self.send(format!("{n}\n").into_bytes(), true, end).await?;
        }
        if let Some(e) = &reply.error {
            // The first refusal or failure decides; a later failure does not hide a refusal.
            if *status == 0 {
                *status = reply.refusal.map_or(1, |r| r.exit_status());
            }
            self.send(format!("{e}\n").into_bytes(), true, end).await?;
        }
        if reply.verdict_false && *status == 0 {
            *status = 1;
        }
        if reply.exit {
            self.leave(shell, *status, reply.error.is_some(), end).await;
        }
        Ok(reply.exit)
    }

    async fn interactive(&mut self, shell: &mut Shell, end: &mut EndFuture) -> Result<(), Stop> {
        let (w, h) = self.pty.unwrap_or((80, 24));
        shell.resize(w, h);
        let mut editor = LineEditor::new(w, MAX_LINE_CHARS);
        editor.resize(w, h);
        let mut out: Vec<u8> = LineEditor::enable_sequence().to_vec();
        out.extend_from_slice(
            format!(
                "pep {} ({} as {}). Type Get-Command to see what you may run, exit to leave.\r\n",
                self.endpoint.describe(),
                self.identity.name,
                self.identity.role.as_str()
            )
            .as_bytes(),
        );
        for line in shell.banner() {
            out.extend_from_slice(format!("{line}\r\n").as_bytes());
        }
        out.extend(editor.start_line(&shell.prompt()));
        self.send(std::mem::take(&mut out), false, end).await?;
        let mut input: Vec<u8> = Vec::new();
        // After a line runs, the editor may still hold typed-ahead bytes: feed it again before
        // waiting for more input.
        let mut drain = false;
        let mut idle_at = self.idle_deadline();
        let mut consent = self.endpoint.consent.subscribe();
        loop {
            if input.is_empty() && !self.held.is_empty() {
                input = std::mem::take(&mut self.held);
            }
            if input.is_empty() && !drain {
                let Some(ev) = self.next_event(shell, end, idle_at, &mut consent).await? else {
                    continue;
                };
                match ev {
                    ChanEvent::Data(d) => {
                        self.take_queued(d.len());
                        idle_at = self.idle_deadline();
                        input = d;
                    }
                    ChanEvent::Resize(w, h) => {
                        editor.resize(w, h);
                        shell.resize(w, h);
                        continue;
                    }
                    ChanEvent::Notice(n) => {
                        out.extend_from_slice(format!("\r\n\x1b[33m{n}\x1b[0m\r\n").as_bytes());
                        out.extend(editor.start_line(&shell.prompt()));
                        self.send(std::mem::take(&mut out), false, end).await?;
                        continue;
                    }
                    ChanEvent::Eof => {
                        shell.finish("client closed the session");
                        self.close(0).await;
                        return Ok(());
                    }
                }
            }
            let events = editor.feed(&input, &ShellCompleter(shell), &mut out);
            input.clear();
            drain = events.iter().any(|e| matches!(e, EditEvent::Line(_)));
            // A line's echo goes out with its reply (one packet, not two): the line runs at once
            // unless it starts a job, waits for a watcher or watches, which send it first.
            if !drain {
                self.send(std::mem::take(&mut out), false, end).await?;
            }
            for ev in events {
                let (done, failed) = match ev {
                    EditEvent::Line(line) => {
                        editor.add_history(&line);
                        if shell.attended() {
                            self.send(std::mem::take(&mut out), false, end).await?;
                        }
                        let mut reply =
                            if self.await_attendance(shell, line.as_bytes(), end).await? {
                                shell.execute(&line)
                            } else {
                                cancelled()
                            };
                        if let Some(target) = reply.watch.take() {
                            self.send(std::mem::take(&mut out), false, end).await?;
                            self.watch_session(shell, &target, end).await?;
                        }
                        let reply = if reply.job.is_some() {
                            self.send(std::mem::take(&mut out), false, end).await?;
                            self.finish_job(shell, reply, end, true).await?
                        } else {
                            reply
                        };
                        if reply.clear_screen {
                            out.extend_from_slice(b"\x1b[H\x1b[2J");
                        }
                        out.extend_from_slice(crlf(&reply.output).as_bytes());
                        if let Some(n) = &reply.notice {
                            out.extend_from_slice(format!("{n}\r\n").as_bytes());
                        }
                        if let Some(e) = &reply.error {
                            out.extend_from_slice(format!("\x1b[31m{e}\x1b[0m\r\n").as_bytes());
                        }
                        (reply.exit, reply.exit && reply.error.is_some())
                    }
                    EditEvent::Interrupt => {
                        out.extend_from_slice(crlf(&shell.interrupt()).as_bytes());
                        (false, false)
                    }
                    EditEvent::Eof => (true, false),
                };
                if done {
                    out.extend_from_slice(LineEditor::disable_sequence());
                    self.send(std::mem::take(&mut out), false, end).await?;
                    self.leave(shell, u32::from(failed), failed, end).await;
                    return Ok(());
                }
                out.extend(editor.start_line(&shell.prompt()));
                self.send(std::mem::take(&mut out), false, end).await?;
                // The reply is on its way: what it left to record is written now.
                shell.settle();
            }
        }
    }
}

impl SessionTask {
    /// Under an attended grant, a support session's line waits until an operator or observer
    /// watches the session (saying so once); leaving (`exit`) never waits. False: the user
    /// cancelled it with Ctrl-C (nothing runs).
    async fn await_attendance(
        &mut self,
        shell: &mut Shell,
        line: &[u8],
        end: &mut EndFuture,
    ) -> Result<bool, Stop> {
        let text = String::from_utf8_lossy(line);
        let word = text.trim().to_ascii_lowercase();
        if word.is_empty() || word == "exit" || word == "exit-pssession" || !shell.attended() {
            return Ok(true);
        }
        let live = shell.live();
        let mut watching = live.watching();
        if *watching.borrow() > 0 {
            return Ok(true);
        }
        let pty = self.pty.is_some();
        let msg = "waiting for an operator to watch this session (attended remote support; Ctrl-C cancels)";
        if pty {
            self.send(format!("{msg}\r\n").into_bytes(), false, end)
                .await?;
        } else {
            self.send(format!("{msg}\n").into_bytes(), true, end)
                .await?;
        }
        loop {
            tokio::select! {
                changed = watching.changed() => {
                    if changed.is_err() {
                        return Ok(false);
                    }
                    if *watching.borrow() > 0 {
                        return Ok(true);
                    }
                }
                message = end.as_mut() => return Err(Stop::End(message)),
                ev = self.rx.recv(), if !self.held_eof => match ev {
                    Some(ChanEvent::Data(d)) => {
                        self.take_queued(d.len());
                        if pty && d.contains(&0x03) {
                            return Ok(false);
                        }
                        self.held.extend_from_slice(&d);
                    }
                    Some(ChanEvent::Resize(w, h)) => shell.resize(w, h),
                    Some(ChanEvent::Notice(_)) => {}
                    Some(ChanEvent::Eof) | None => self.held_eof = true,
                },
            }
        }
    }

    /// Streams `target`'s screen to this session, read-only, until Ctrl-C, the watched session
    /// ends, or this one must. The watched user is told who watches and when they stop.
    async fn watch_session(
        &mut self,
        shell: &mut Shell,
        target: &std::sync::Arc<crate::live::LiveSession>,
        end: &mut EndFuture,
    ) -> Result<(), Stop> {
        let me = format!("{} ({})", self.identity.name, self.identity.role.as_str());
        let (mut screen, guard) = target.watch(&me);
        let mut ended = target.ended();
        self.send(
            format!(
                "Watching session {} of {} ({}), read-only. Ctrl-C stops watching.\r\n",
                target.id, target.identity, target.role
            )
            .into_bytes(),
            false,
            end,
        )
        .await?;
        let why = loop {
            tokio::select! {
                msg = screen.recv() => match msg {
                    Ok(text) => self.send(text.into_bytes(), false, end).await?,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        self.send(format!("\r\n[{n} screen updates skipped]\r\n").into_bytes(), false, end).await?;
                    }
                    Err(_) => break "the watched session ended",
                },
                _ = async { ended.wait_for(|done| *done).await.is_ok() } => break "the watched session ended",
                message = end.as_mut() => return Err(Stop::End(message)),
                ev = self.rx.recv() => match ev {
                    Some(ChanEvent::Data(d)) => {
                        self.take_queued(d.len());
                        if d.contains(&0x03) {
                            break "stopped watching";
                        }
                    }
                    Some(ChanEvent::Resize(w, h)) => shell.resize(w, h),
                    Some(ChanEvent::Notice(_)) => {}
                    Some(ChanEvent::Eof) | None => return Err(Stop::Gone),
                },
            }
        };
        drop(guard);
        self.send(format!("\r\n{why}\r\n").into_bytes(), false, end)
            .await?;
        Ok(())
    }

    /// Watches the job a line started, if it did, and returns the line's reply once it ends:
    /// a progress line redrawn every [`PROGRESS_EVERY`] (`progress`: interactive sessions),
    /// Ctrl-C cancels it, input that arrives meanwhile is held for the lines after it, and when
    /// the session must end the job is cancelled and given [`JOB_STOP_GRACE`] to stop.
    async fn finish_job(
        &mut self,
        shell: &mut Shell,
        mut reply: Reply,
        end: &mut EndFuture,
        progress: bool,
    ) -> Result<Reply, Stop> {
        let Some(mut job) = reply.job.take() else {
            return Ok(reply);
        };
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut drawn = false;
        let outcome = loop {
            tokio::select! {
                outcome = job.wait() => break outcome,
                message = end.as_mut() => {
                    job.cancel.cancel(&message);
                    let outcome = tokio::time::timeout(JOB_STOP_GRACE, job.wait()).await;
                    let outcome = outcome.unwrap_or_else(|_| crate::job::JobOutcome {
                        error: Some(format!("stopped: {message}")),
                        ..Default::default()
                    });
                    // Recorded in the transcript before the session ends.
                    let _ = shell.complete_job(outcome);
                    return Err(Stop::End(message));
                }
                _ = tick.tick(), if progress => {
                    let line = job.progress.line(job.uploading);
                    drawn = true;
                    let bytes = format!("\r\x1b[2K{line}").into_bytes();
                    let _ = self.handle.data(self.channel, bytes).await;
                }
                ev = self.rx.recv(), if !self.held_eof => match ev {
                    Some(ChanEvent::Data(d)) => {
                        self.take_queued(d.len());
                        if progress && d.contains(&0x03) {
                            job.cancel.cancel("cancelled by the user (Ctrl-C)");
                        } else {
                            self.held.extend_from_slice(&d);
                        }
                    }
                    Some(ChanEvent::Resize(w, h)) => shell.resize(w, h),
                    Some(ChanEvent::Notice(_)) => {}
                    Some(ChanEvent::Eof) | None => self.held_eof = true,
                },
            }
        };
        if drawn {
            self.send(b"\r\x1b[2K".to_vec(), false, end).await?;
        }
        Ok(shell.complete_job(outcome))
    }
}

/// The reply to a line cancelled while it waited for a watcher.
fn cancelled() -> Reply {
    Reply {
        output: "cancelled; nothing was run\n".into(),
        ..Reply::default()
    }
}

/// Runs one line of input (a `what`: "line", "command line"), or refuses it — too long, or not
/// UTF-8 — saying `outcome`; recorded either way.
fn run_input(shell: &mut Shell, raw: &[u8], what: &str, outcome: &str) -> Reply {
    match std::str::from_utf8(raw) {
        Ok(line) if line.chars().count() > MAX_LINE_CHARS => {
            shell.refuse_input(raw, &too_long(what, outcome))
        }
        Ok(line) => {
            // A bug must not take the session (or the server) with it: the line fails with one
            // line, is recorded, and the session stays usable.
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shell.execute(line))) {
                Ok(reply) => reply,
                Err(_) => {
                    tracing::error!("internal error while running a line; the session goes on");
                    shell.refuse_input(
                        raw,
                        "internal error while running this line; it was stopped and the session goes on",
                    )
                }
            }
        }
        Err(_) => shell.refuse_input(
            raw,
            &format!("the {what} is not valid UTF-8; nothing was run"),
        ),
    }
}

fn too_long(what: &str, outcome: &str) -> String {
    format!("the {what} is longer than {MAX_LINE_CHARS} characters; {outcome}")
}

/// `\n` to `\r\n` for a PTY.
fn crlf(s: &str) -> String {
    s.replace('\n', "\r\n")
}

/// Polls the end future once: the reason, if the session must end now.
fn futures_now(f: &mut EndFuture) -> Option<String> {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

/// Resolves at `deadline`, or never without one.
async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}
