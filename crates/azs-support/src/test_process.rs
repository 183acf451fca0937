//! Test support: a Python loop that is known to be running its loop, for the tests that trace or
//! dump a live process.
//!
//! Starting Python on a loaded machine can take seconds; a test that attaches a tracer after a
//! fixed sleep then sees the interpreter's start-up (mmap, mprotect, openat) instead of the loop it
//! meant to watch. `RunningLoop::start` returns only after the loop's first write has arrived, and
//! drains what the loop writes afterwards so that it never blocks on a full pipe.

use std::io::Read;
use std::process::{Child, Command, Stdio};

/// A child process running a Python loop that writes to its stdout; killed and reaped on drop.
pub struct RunningLoop {
    child: Child,
}

impl RunningLoop {
    /// Starts `python3 -c CODE`, where CODE writes to fd 1 in a loop, and waits for its first byte.
    /// `None` when python3 is not installed.
    pub fn start(code: &str) -> Option<RunningLoop> {
        let mut child = Command::new("python3")
            .args(["-c", code])
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let mut out = child.stdout.take()?;
        let mut first = [0u8; 1];
        let started = out.read_exact(&mut first).is_ok();
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let running = RunningLoop { child };
        assert!(started, "the Python loop never wrote");
        Some(running)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RunningLoop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
