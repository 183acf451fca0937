//! Elevation of an operator's session by a vendor-signed token: the real privileged endpoint's
//! two-person, two-organisation unlock, with OpenSSH signatures.
//!
//! 1. `Get-SupportSessionToken` makes a request: one line of base64url (no padding) of
//!    `{"v":1,"sid":"<32 hex>","nonce":"<32 hex>","exp":<unix seconds>}` (format version 1), a
//!    random session id and nonce, valid for [`REQUEST_LIFETIME_MINUTES`]. Nothing in it names
//!    the stamp or the customer.
//! 2. The vendor signs exactly those bytes: `printf %s "$REQUEST" | ssh-keygen -Y sign -f KEY -n
//!    pep-unlock`; the response is the armored signature, or its body on one line.
//! 3. `Unlock-SupportSession` checks ([`check_response`]) that the signature is by a registered
//!    vendor key (`crate::vendor_keys`), in namespace [`NAMESPACE`], over this session's pending
//!    request, not expired; then the request is used up ([`UsedRequests`]) so that no session can
//!    use it again, and the session is elevated for [`ELEVATION_HOURS`] or until it ends.
//!
//! `elevation_used.json` (format version 1, 0600, replaced atomically under `elevation.lock`):
//! `{"version":1,"used":[{"sid":"...","exp":<unix seconds>}]}`: requests unlocked or voided (by
//! `Close-PrivilegedEndpoint`); entries past their expiry are dropped, as such requests are refused
//! anyway.

use crate::state::{atomic_write, lock_exclusive};
use crate::vendor_keys::VendorKey;
use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use russh::keys::ssh_key::SshSig;
use russh::keys::HashAlg;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The elevation commands (catalog entries with `handler = "elevation"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElevationCommand {
    /// Get-SupportSessionToken.
    RequestToken,
    /// Unlock-SupportSession.
    Unlock,
    /// Get-SupportSessionInfo.
    Info,
    /// Close-PrivilegedEndpoint.
    Close,
}

/// Every elevation command under its catalog name.
pub const COMMANDS: &[(&str, ElevationCommand)] = &[
    ("Get-SupportSessionToken", ElevationCommand::RequestToken),
    ("Unlock-SupportSession", ElevationCommand::Unlock),
    ("Get-SupportSessionInfo", ElevationCommand::Info),
    ("Close-PrivilegedEndpoint", ElevationCommand::Close),
];

/// The SSHSIG namespace of response tokens.
pub const NAMESPACE: &str = "pep-unlock";
/// How long a request may be answered.
pub const REQUEST_LIFETIME_MINUTES: i64 = 60;
/// How long an unlock lasts (at most: the session may end first).
pub const ELEVATION_HOURS: i64 = 8;

/// A pending request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The token printed (the exact bytes the vendor signs).
    pub token: String,
    /// Its random session id.
    pub sid: String,
    /// When it can no longer be answered.
    pub expires: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct RequestBody {
    v: u32,
    sid: String,
    nonce: String,
    exp: i64,
}

fn random_hex() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

impl Request {
    /// A new request at `now`.
    pub fn new(now: DateTime<Utc>) -> Request {
        let expires = now + Duration::minutes(REQUEST_LIFETIME_MINUTES);
        let body = RequestBody {
            v: 1,
            sid: random_hex(),
            nonce: random_hex(),
            exp: expires.timestamp(),
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        Request {
            token: URL_SAFE_NO_PAD.encode(json),
            sid: body.sid,
            expires,
        }
    }
}

/// A response as pasted or given: the armored signature (on several lines, or on one with spaces)
/// or its body alone.
pub fn parse_response(text: &str) -> Result<SshSig, String> {
    const BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
    const END: &str = "-----END SSH SIGNATURE-----";
    let body = match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) if b + BEGIN.len() <= e => &text[b + BEGIN.len()..e],
        (None, None) => text,
        _ => return Err("the response token is cut: it needs its BEGIN and END lines".into()),
    };
    let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if body.is_empty()
        || !body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
    {
        return Err("the response token is not an SSH signature (base64 text)".into());
    }
    let mut pem = String::from(BEGIN);
    pem.push('\n');
    for chunk in body.as_bytes().chunks(70) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str(END);
    pem.push('\n');
    SshSig::from_pem(pem.as_bytes())
        .map_err(|_| "the response token is not an SSH signature".to_string())
}

/// Who unlocked: the vendor key that signed.
#[derive(Debug, Clone, PartialEq)]
pub struct Signer {
    /// The vendor's name.
    pub vendor: String,
    /// The key's fingerprint.
    pub fingerprint: String,
}

/// Checks `response` against the pending `request` at `now`: a signature by one of `keys`, in
/// [`NAMESPACE`], over the request's bytes, before it expires. The error is one line for the
/// operator.
pub fn check_response(
    request: &Request,
    response: &str,
    keys: &[VendorKey],
    now: DateTime<Utc>,
) -> Result<Signer, String> {
    if now >= request.expires {
        return Err(format!(
            "the request expired at {}; run Get-SupportSessionToken for a new one",
            request.expires.to_rfc3339()
        ));
    }
    let sig = parse_response(response)?;
    let signer_fp = sig.public_key().fingerprint(HashAlg::Sha256).to_string();
    let Some(vk) = keys.iter().find(|k| k.fingerprint == signer_fp) else {
        return Err(format!(
            "the response is signed by {signer_fp}, which is not a registered vendor key (pep vendor-key list)"
        ));
    };
    if sig.namespace() != NAMESPACE {
        return Err(format!(
            "the response is signed for namespace '{}', not '{NAMESPACE}'",
            sig.namespace()
        ));
    }
    let key = vk.public_key().map_err(|e| format!("{e:#}"))?;
    key.verify(NAMESPACE, request.token.as_bytes(), &sig)
        .map_err(|_| {
            "the response does not sign this session's request (it answers another token)"
                .to_string()
        })?;
    Ok(Signer {
        vendor: vk.name.clone(),
        fingerprint: vk.fingerprint.clone(),
    })
}

/// An operator session's lock state.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Elevation {
    /// Not elevated; no request out.
    #[default]
    Locked,
    /// A request is out.
    Pending(Request),
    /// Unlocked until `until`.
    Elevated {
        /// When it locks again.
        until: DateTime<Utc>,
        /// Who signed.
        signer: Signer,
        /// The request it answered.
        sid: String,
    },
}

impl Elevation {
    /// Whether elevated commands may run at `now`.
    pub fn elevated_at(&self, now: DateTime<Utc>) -> bool {
        matches!(self, Elevation::Elevated { until, .. } if now < *until)
    }

    /// `Locked`, `Pending` or `Elevated`, as Get-SupportSessionInfo shows it at `now`.
    pub fn state_at(&self, now: DateTime<Utc>) -> &'static str {
        match self {
            Elevation::Elevated { until, .. } if now < *until => "Elevated",
            Elevation::Pending(r) if now < r.expires => "Pending",
            _ => "Locked",
        }
    }
}

/// The requests that were used (unlocked or voided), shared by every session and process.
pub struct UsedRequests {
    path: PathBuf,
}

#[derive(Serialize, Deserialize, Default)]
struct UsedFile {
    version: u32,
    used: Vec<Used>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Used {
    sid: String,
    exp: i64,
}

impl UsedRequests {
    /// The store at `path` (`<state>/elevation_used.json`).
    pub fn at(path: &Path) -> Self {
        UsedRequests {
            path: path.to_path_buf(),
        }
    }

    /// Marks `request` used at `now`; an error when it was used already (in any session) or the
    /// mark cannot be kept (fail closed: no unlock then).
    pub fn consume(&self, request: &Request, now: DateTime<Utc>) -> Result<()> {
        let _lock = lock_exclusive(&self.path.with_file_name("elevation.lock"))?;
        let mut file = match std::fs::read_to_string(&self.path) {
            Ok(t) => serde_json::from_str::<UsedFile>(&t)
                .with_context(|| format!("{} cannot be read", self.path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => UsedFile {
                version: 1,
                used: Vec::new(),
            },
            Err(e) => return Err(e).context("reading the used requests"),
        };
        if file.used.iter().any(|u| u.sid == request.sid) {
            bail!("this request was used already: a response token unlocks one session once");
        }
        let now_s = now.timestamp();
        file.used.retain(|u| u.exp > now_s);
        file.used.push(Used {
            sid: request.sid.clone(),
            exp: request.expires.timestamp(),
        });
        file.version = 1;
        atomic_write(&self.path, serde_json::to_string(&file)?.as_bytes(), 0o600)
            .context("the used request could not be recorded")
    }
}

/// The expiry a request token states (for Get-SupportSessionInfo and tests).
pub fn token_expiry(token: &str) -> Option<DateTime<Utc>> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let body: RequestBody = serde_json::from_slice(&bytes).ok()?;
    Utc.timestamp_opt(body.exp, 0).single()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vendor_keys::VendorKeys;
    use std::process::{Command, Stdio};

    /// A vendor key registered in `dir`, its private key file.
    fn vendor(dir: &Path, name: &str) -> (PathBuf, VendorKey) {
        let p = dir.join(name);
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&p)
            .status()
            .expect("ssh-keygen");
        assert!(st.success());
        let line = std::fs::read_to_string(p.with_extension("pub")).expect("pub");
        let vk = VendorKeys::at(&dir.join(format!("{name}.json")))
            .add(name, &line)
            .expect("add");
        (p, vk)
    }

    /// `printf %s "$REQUEST" | ssh-keygen -Y sign -f KEY -n NS`.
    fn sign(key: &Path, ns: &str, msg: &str) -> String {
        let mut child = Command::new("ssh-keygen")
            .args(["-Y", "sign", "-n", ns, "-f"])
            .arg(key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-keygen -Y sign");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(msg.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("sign");
        assert!(out.status.success());
        String::from_utf8(out.stdout).expect("utf-8")
    }

    fn one_line(armored: &str) -> String {
        armored
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
    }

    #[test]
    fn a_request_names_nothing_but_itself() {
        let now = Utc::now();
        let r = Request::new(now);
        assert!(!r.token.contains('\n') && !r.token.contains('='));
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(&r.token).expect("b64")).expect("utf8");
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        let keys: Vec<&str> = v
            .as_object()
            .expect("obj")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 4, "{json}");
        assert_eq!(
            token_expiry(&r.token).map(|t| t.timestamp()),
            Some(r.expires.timestamp())
        );
        assert_ne!(Request::new(now).sid, r.sid);
    }

    #[test]
    fn a_vendor_signature_over_this_request_unlocks_and_nothing_else_does() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (key, vk) = vendor(tmp.path(), "contoso");
        let (other_key, _) = vendor(tmp.path(), "stranger");
        let keys = vec![vk.clone()];
        let now = Utc::now();
        let r = Request::new(now);
        let armored = sign(&key, NAMESPACE, &r.token);
        // The body on one line, and the whole armored text.
        let s = check_response(&r, &one_line(&armored), &keys, now).expect("one line");
        assert_eq!(s.fingerprint, vk.fingerprint);
        check_response(&r, &armored, &keys, now).expect("armored");
        check_response(&r, &armored.replace('\n', " "), &keys, now).expect("armored on a line");
        // Unregistered key, other namespace, other request, expired, garbage.
        let e = check_response(&r, &sign(&other_key, NAMESPACE, &r.token), &keys, now)
            .expect_err("stranger");
        assert!(e.contains("not a registered vendor key"), "{e}");
        let e = check_response(&r, &sign(&key, "file", &r.token), &keys, now).expect_err("ns");
        assert!(e.contains("namespace 'file'"), "{e}");
        let other = Request::new(now);
        let e = check_response(&r, &sign(&key, NAMESPACE, &other.token), &keys, now)
            .expect_err("other request");
        assert!(e.contains("another token"), "{e}");
        let late = now + Duration::minutes(REQUEST_LIFETIME_MINUTES);
        let e = check_response(&r, &armored, &keys, late).expect_err("expired");
        assert!(e.contains("expired"), "{e}");
        let e = check_response(&r, "not a token!", &keys, now).expect_err("garbage");
        assert!(e.contains("not an SSH signature"), "{e}");
    }

    #[test]
    fn a_request_is_used_once_and_elevation_ends_at_its_limit() {
        let tmp = tempfile::tempdir().expect("tmp");
        let used = UsedRequests::at(&tmp.path().join("elevation_used.json"));
        let now = Utc::now();
        let r = Request::new(now);
        used.consume(&r, now).expect("first");
        let e = used.consume(&r, now).expect_err("second");
        assert!(e.to_string().contains("used already"), "{e}");
        used.consume(&Request::new(now), now)
            .expect("another request");

        let until = now + Duration::hours(ELEVATION_HOURS);
        let e = Elevation::Elevated {
            until,
            signer: Signer {
                vendor: "contoso".into(),
                fingerprint: "SHA256:x".into(),
            },
            sid: r.sid.clone(),
        };
        assert!(e.elevated_at(now));
        assert!(e.elevated_at(until - Duration::seconds(1)));
        assert!(!e.elevated_at(until));
        assert_eq!(e.state_at(until), "Locked");
        assert_eq!(Elevation::Pending(r.clone()).state_at(now), "Pending");
        assert_eq!(Elevation::Pending(r.clone()).state_at(r.expires), "Locked");
    }
}
