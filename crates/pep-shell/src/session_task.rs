//! One session channel's task: it owns the session's [`Shell`] and, for a PTY, its line editor;
//! it receives the client's bytes from the SSH handler and writes replies through the session
//! [`Handle`] (never from inside a handler callback, which would deadlock once russh's event buffer
//! fills). A support session also waits on its grant: when the grant is revoked or expires, the
//! task writes the reason and ends the session at that instant. A shell (with or without a PTY)
//! that receives no input for the idle timeout ends the same way.

use crate::endpoint::Endpoint;
use crate::identity::Identity;
use crate::line_editor::{Completer, Completion, EditEvent, LineEditor};
use crate::server::MAX_LINE_CHARS;
use crate::shell::{Reply, SessionKind, Shell, StartError};
use russh::server::Handle;
use russh::{ChannelId, Disconnect};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// How long a connection whose grant ended may linger after its channel closed, so the client
/// can write out the last message before the connection is cut.
const DISCONNECT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Events a session task receives from the handler.
pub(crate) enum ChanEvent {
    /// Bytes the client sent.
    Data(Vec<u8>),
    /// The client closed its input.
    Eof,
    /// The terminal was resized (columns, rows).
    Resize(u16, u16),
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
}

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

    /// Ends the session from the server's side: tells the client why, records it, closes the
    /// channel the ordinary way (OpenSSH drops buffered channel output when a disconnect arrives
    /// in the same read) and cuts the whole connection a moment later. The shell is gone at once
    /// either way: a new channel on this connection passes the grant check at its start.
    async fn end_session(&self, mut shell: Shell, msg: &str) {
        shell.finish(msg);
        if self.pty.is_some() {
            let _ = self.write(&format!("\r\n{msg}\r\n")).await;
        } else {
            let _ = self.write_err(&format!("{msg}\n")).await;
        }
        self.close(1).await;
        let handle = self.handle.clone();
        let reason = msg.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(DISCONNECT_GRACE).await;
            let _ = handle
                .disconnect(Disconnect::ByApplication, reason, "en".into())
                .await;
        });
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
            self.end_session(shell, end.message()).await;
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
        let mut idle_at = self.idle_deadline();
        loop {
            let ev = tokio::select! {
                end = &mut *grant_end => { self.end_session(shell, end.message()).await; return Ok(()); }
                _ = until(idle_at) => { self.end_session(shell, &self.idle_message()).await; return Ok(()); }
                ev = self.rx.recv() => ev,
            };
            if matches!(ev, Some(ChanEvent::Data(_))) {
                idle_at = self.idle_deadline();
            }
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
                "pep {} ({} as {}). Type Get-Command to see what you may run, exit to leave.\r\n",
                self.endpoint.describe(),
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
        let mut idle_at = self.idle_deadline();
        loop {
            if input.is_empty() && !drain {
                let ev = tokio::select! {
                    end = &mut *grant_end => { self.end_session(shell, end.message()).await; return Ok(()); }
                    _ = until(idle_at) => { self.end_session(shell, &self.idle_message()).await; return Ok(()); }
                    ev = self.rx.recv() => ev,
                };
                match ev {
                    Some(ChanEvent::Data(d)) => {
                        self.take_queued(d.len());
                        idle_at = self.idle_deadline();
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
