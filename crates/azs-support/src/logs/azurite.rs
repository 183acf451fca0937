//! Azurite for tests and benchmarks: finding the `azurite-blob` server, starting one on a free
//! loopback port (in memory, or persisting to a folder so it can be killed and restarted), creating
//! containers with the well-known development account's key, and making container SAS URLs for
//! [`super::blob`].
//!
//! Azurite is a Node program installed outside the build (`npm install azurite@3.37.0` into
//! `~/.cache/pep/azurite`, or `$PEP_AZURITE_BIN`). Tests that need it call [`Azurite::for_tests`],
//! or [`Azurite::shared_for_tests`], which skip (return `None`) when it is missing, except under `CI=true` where a missing Azurite
//! is a failure. Everything here is blocking; call it outside async tasks or accept the short block.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Azurite's well-known development account.
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
/// The development account's well-known (public) key.
pub const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The service version of the SAS URLs and requests made here.
const VERSION: &str = "2022-11-02";
/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The `azurite-blob` program: `$PEP_AZURITE_BIN`, else
/// `$HOME/.cache/pep/azurite/node_modules/.bin/azurite-blob` if it exists.
pub fn azurite_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("PEP_AZURITE_BIN").filter(|b| !b.is_empty()) {
        return Some(PathBuf::from(bin));
    }
    let home = std::env::var_os("HOME")?;
    let bin = Path::new(&home).join(".cache/pep/azurite/node_modules/.bin/azurite-blob");
    bin.is_file().then_some(bin)
}

/// A running Azurite blob server on `127.0.0.1:<port>`, killed when dropped.
#[derive(Debug)]
pub struct Azurite {
    /// The port it listens on.
    pub port: u16,
    /// The account its URLs name ([`DEV_ACCOUNT`]).
    pub account: &'static str,
    child: Child,
    /// Its `--location` (or, in memory, its working folder): a temporary folder removed on drop
    /// unless one was given.
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Azurite {
    /// Starts `azurite-blob` on a free port, keeping its data in memory (`persistent_dir: None`)
    /// or in the given folder, and waits (at most 30 s) until it accepts connections. The program
    /// is started directly, not through npx, so the process held is the server itself.
    pub fn start(persistent_dir: Option<&Path>) -> io::Result<Azurite> {
        let bin = azurite_bin().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "azurite-blob not found: set PEP_AZURITE_BIN or npm install azurite@3.37.0 in ~/.cache/pep/azurite",
            )
        })?;
        let (dir, temp) = match persistent_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                (dir.to_path_buf(), None)
            }
            None => {
                let temp = tempfile::Builder::new().prefix("azurite-").tempdir()?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let stderr = std::fs::File::create(dir.join("azurite.stderr"))?;
        let mut cmd = Command::new(&bin);
        cmd.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args(["--skipApiVersionCheck", "--loose", "--silent"])
            .current_dir(&dir);
        // Azurite 3.37 refuses `--inMemoryPersistence` together with `--location`.
        match persistent_dir {
            Some(_) => cmd.arg("--location").arg(&dir),
            None => cmd.arg("--inMemoryPersistence"),
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()?;
        let mut azurite = Azurite {
            port,
            account: DEV_ACCOUNT,
            child,
            dir,
            _temp: temp,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(azurite);
            }
            if let Some(status) = azurite.child.try_wait()? {
                let err =
                    std::fs::read_to_string(azurite.dir.join("azurite.stderr")).unwrap_or_default();
                let tail: String = err.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
                return Err(io::Error::other(format!(
                    "azurite-blob exited ({status}) before listening: {tail}"
                )));
            }
            if Instant::now() >= deadline {
                azurite.kill();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("azurite-blob did not listen on port {port} within 30 s"),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// For tests: a server of its own with data in memory, or `None` (after saying so on
    /// stderr) when Azurite is not installed. Panics when it is not installed and `CI=true`, or
    /// when it is installed but does not start.
    pub fn for_tests(test: &str) -> Option<Azurite> {
        if !installed_for(test) {
            return None;
        }
        match Azurite::start(None) {
            Ok(azurite) => Some(azurite),
            Err(e) => panic!("{test}: starting Azurite: {e}"),
        }
    }

    /// For tests: like [`Azurite::for_tests`], but one in-memory server is shared by the tests of
    /// a process that hold it at the same time (starting one takes seconds); it stops when the
    /// last holder drops it. Give each test a container of its own.
    pub fn shared_for_tests(test: &str) -> Option<Arc<Azurite>> {
        static SHARED: Mutex<Weak<Azurite>> = Mutex::new(Weak::new());
        if !installed_for(test) {
            return None;
        }
        // Held while starting, so that concurrent tests wait for the one server.
        let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(azurite) = slot.upgrade() {
            return Some(azurite);
        }
        let azurite = match Azurite::start(None) {
            Ok(azurite) => Arc::new(azurite),
            Err(e) => panic!("{test}: starting Azurite: {e}"),
        };
        *slot = Arc::downgrade(&azurite);
        Some(azurite)
    }

    /// Its `--location` folder (its working folder when the data is in memory).
    pub fn location(&self) -> &Path {
        &self.dir
    }

    /// The process id of the server.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server and waits for it (a persistent one can then be started again on the
    /// same folder).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Creates a container (PUT `?restype=container`, authorised with Shared Key made from the
    /// development key). A container that already exists is fine.
    pub fn create_container(&self, name: &str) -> io::Result<()> {
        let path = format!("/{DEV_ACCOUNT}/{name}");
        let date = Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        // Shared Key: the verb, 11 empty standard headers (Content-Length 0 is empty), the x-ms-
        // headers, then /<account><path> and the query parameters.
        let to_sign = format!(
            "PUT\n{}x-ms-date:{date}\nx-ms-version:{VERSION}\n/{DEV_ACCOUNT}{path}\nrestype:container",
            "\n".repeat(11)
        );
        let auth = format!("SharedKey {DEV_ACCOUNT}:{}", sign(&to_sign)?);
        let request = format!(
            "PUT {path}?restype=container HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nx-ms-date: {date}\r\nx-ms-version: {VERSION}\r\nAuthorization: {auth}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            port = self.port
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(request.as_bytes())?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        let status_line = answer.lines().next().unwrap_or("");
        let status = status_line.split_whitespace().nth(1).unwrap_or("");
        match status {
            "201" | "409" => Ok(()),
            _ => Err(io::Error::other(format!(
                "creating container {name}: {status_line}"
            ))),
        }
    }

    /// A service SAS URL for a container:
    /// `http://127.0.0.1:<port>/devstoreaccount1/<container>?sv=..&sr=c&sp=..&se=..&sig=..`.
    pub fn container_sas(
        &self,
        container: &str,
        permissions: &str,
        expiry: DateTime<Utc>,
    ) -> String {
        let se = expiry.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        // The 16 lines of a service SAS (sv 2022-11-02): sp, st, se, resource, si, sip, spr, sv,
        // sr, snapshot, encryption scope, rscc, rscd, rsce, rscl, rsct.
        let resource = format!("/blob/{DEV_ACCOUNT}/{container}");
        let lines = [
            permissions,
            "",
            &se,
            &resource,
            "",
            "",
            "",
            VERSION,
            "c",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ];
        // The key is a constant that decodes; an error here cannot happen.
        let sig = sign(&lines.join("\n")).unwrap_or_default();
        format!(
            "http://127.0.0.1:{}/{DEV_ACCOUNT}/{container}?sv={VERSION}&sr=c&sp={}&se={}&sig={}",
            self.port,
            super::sas::percent_encode(permissions),
            super::sas::percent_encode(&se),
            super::sas::percent_encode(&sig)
        )
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether Azurite is installed; if not, says so (a skip) or, under `CI=true`, panics.
fn installed_for(test: &str) -> bool {
    if azurite_bin().is_some() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: azurite-blob not found (CI=true): set PEP_AZURITE_BIN or install azurite@3.37.0 in ~/.cache/pep/azurite");
    }
    eprintln!("{test}: skipped, azurite-blob not found (set PEP_AZURITE_BIN)");
    false
}

/// base64(HMAC-SHA256(decoded development key, text)).
fn sign(text: &str) -> io::Result<String> {
    let key = B64
        .decode(DEV_KEY)
        .map_err(|e| io::Error::other(format!("the development key: {e}")))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)
        .map_err(|e| io::Error::other(format!("the development key: {e}")))?;
    mac.update(text.as_bytes());
    Ok(B64.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_creates_a_container_and_stops() {
        let Some(mut azurite) = Azurite::for_tests("starts_creates_a_container_and_stops") else {
            return;
        };
        azurite.create_container("logs").expect("create");
        azurite
            .create_container("logs")
            .expect("exists already: fine");
        let sas = azurite.container_sas("logs", "rcwl", Utc::now() + chrono::Duration::hours(1));
        assert!(sas.starts_with(&format!(
            "http://127.0.0.1:{}/devstoreaccount1/logs?sv=",
            azurite.port
        )));
        assert!(
            sas.contains("&sr=c&sp=rcwl&se=") && sas.contains("&sig="),
            "{sas}"
        );
        let port = azurite.port;
        azurite.kill();
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
