//! A container SAS URL ([`ContainerSas`]): parsed and checked once (HTTPS, or HTTP to a loopback
//! address; a container path; a signature and an expiry), then used verbatim: requests append
//! `/<blob>` to its path and `&comp=...` to its query. The signature is a bearer secret: `Debug`,
//! [`ContainerSas::redacted`] and every error show the URL without it, and [`ContainerSas::scrub`]
//! removes it from any text that could carry it (an HTTP library's error).

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// A container SAS URL, parsed and checked. Used verbatim: requests append `/<blob>` to its path
/// and `&comp=...` to its query. `Debug` shows the URL with the signature redacted.
#[derive(Clone)]
pub struct ContainerSas {
    /// `scheme://host[:port]/[account/]container`, without a trailing slash.
    container_url: String,
    /// The query as given, without the `?`.
    query: String,
    account: String,
    container: String,
}

/// Why a SAS URL was refused. One line, never containing the query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SasError {
    /// Not parseable as an absolute URL.
    #[error("the SAS URL is not a valid URL")]
    NotAUrl,
    /// Not https, and not plain http to this machine.
    #[error("the SAS URL must use https (plain http only to 127.0.0.1, ::1 or localhost)")]
    NotHttps,
    /// `user:password@` before the host.
    #[error("the SAS URL must not carry a user name or password")]
    UserInfo,
    /// A `#fragment`.
    #[error("the SAS URL must not carry a fragment (#...)")]
    Fragment,
    /// No `sig=` in the query.
    #[error("the SAS URL carries no signature (sig=)")]
    NoSignature,
    /// No `sv=` in the query.
    #[error("the SAS URL carries no service version (sv=)")]
    NoVersion,
    /// The path is not exactly one container.
    #[error("the SAS URL must name one container: https://<account>.blob.core.windows.net/<container>?<sas>")]
    NoContainer,
}

impl ContainerSas {
    /// Parses a container SAS URL: https (or http to a loopback host, for tests), no user info,
    /// no fragment, `sig` and `sv` in the query. Path style (`http://127.0.0.1:10000/account/container`)
    /// for IP and `localhost` hosts, virtual-host style (`https://account.blob.core.windows.net/container`)
    /// otherwise.
    pub fn parse(url: &str) -> Result<Self, SasError> {
        let u = reqwest::Url::parse(url.trim()).map_err(|_| SasError::NotAUrl)?;
        let host = u.host_str().ok_or(SasError::NotAUrl)?.to_ascii_lowercase();
        let ip: Option<IpAddr> = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok();
        let loopback = host == "localhost" || ip.is_some_and(|ip| ip.is_loopback());
        match u.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(SasError::NotHttps),
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err(SasError::UserInfo);
        }
        if u.fragment().is_some() {
            return Err(SasError::Fragment);
        }
        let query = u.query().unwrap_or("").to_string();
        let has = |key: &str| param(&query, key).is_some_and(|v| !v.is_empty());
        if !has("sig") {
            return Err(SasError::NoSignature);
        }
        if !has("sv") {
            return Err(SasError::NoVersion);
        }
        let segments: Vec<&str> = u
            .path()
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let (account, container) = if ip.is_some() || host == "localhost" {
            match segments[..] {
                [account, container] => (account.to_string(), container.to_string()),
                _ => return Err(SasError::NoContainer),
            }
        } else {
            match segments[..] {
                [container] => {
                    let account = host.split('.').next().unwrap_or(&host).to_string();
                    (account, container.to_string())
                }
                _ => return Err(SasError::NoContainer),
            }
        };
        let serialized = u.as_str();
        let base = serialized.split('?').next().unwrap_or(serialized);
        Ok(ContainerSas {
            container_url: base.trim_end_matches('/').to_string(),
            query,
            account,
            container,
        })
    }

    /// The storage account.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The container.
    pub fn container(&self) -> &str {
        &self.container
    }

    /// `account/container`: what messages, history and audit show.
    pub fn destination(&self) -> String {
        format!("{}/{}", self.account, self.container)
    }

    /// The URL with `sig=REDACTED` (nothing else in a SAS is secret).
    pub fn redacted(&self) -> String {
        let query: Vec<&str> = self
            .query
            .split('&')
            .map(|kv| {
                if kv.split('=').next() == Some("sig") {
                    "sig=REDACTED"
                } else {
                    kv
                }
            })
            .collect();
        format!("{}?{}", self.container_url, query.join("&"))
    }

    /// When the SAS expires (`se`), if it says and the date is readable.
    pub fn expiry(&self) -> Option<DateTime<Utc>> {
        let se = percent_decode(param(&self.query, "se")?);
        if let Ok(t) = DateTime::parse_from_rfc3339(&se) {
            return Some(t.with_timezone(&Utc));
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(&se, "%Y-%m-%dT%H:%MZ") {
            return Some(t.and_utc());
        }
        NaiveDate::parse_from_str(&se, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
    }

    /// The permissions the SAS grants (`sp`, e.g. `racwl`).
    pub fn permissions(&self) -> String {
        param(&self.query, "sp")
            .map(percent_decode)
            .unwrap_or_default()
    }

    /// The URL of a blob in the container, with the SAS query and `extra` (`&comp=...`) appended.
    /// A URL of the container itself with `extra` appended to the query (`&comp=list`).
    pub(super) fn container_request(&self, extra: &str) -> String {
        format!("{}?{}{extra}", self.container_url, self.query)
    }

    pub(super) fn blob_url(&self, encoded_name: &str, extra: &str) -> String {
        format!(
            "{}/{}?{}{}",
            self.container_url, encoded_name, self.query, extra
        )
    }

    /// Text with every form of the signature replaced by `REDACTED`: a last guard on messages
    /// built from other libraries' errors.
    pub(super) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        if let Some(sig) = param(&self.query, "sig").filter(|s| !s.is_empty()) {
            out = out.replace(sig, "REDACTED");
            let decoded = percent_decode(sig);
            if !decoded.is_empty() {
                out = out.replace(&decoded, "REDACTED");
            }
        }
        out
    }
}

impl fmt::Debug for ContainerSas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContainerSas")
            .field("url", &self.redacted())
            .finish()
    }
}

/// The raw value of `key` in a query string.
pub(super) fn param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| match kv.split_once('=') {
        Some((k, v)) if k == key => Some(v),
        None if kv == key => Some(""),
        _ => None,
    })
}

/// `%XX` decoded (and `+` as a space, as in form-encoded queries); invalid escapes kept as given.
pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`) as `%XX`.
pub(super) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Neither form of the signature appears in `text`.
    pub(in crate::logs) fn assert_no_sig(url: &str, text: &str) {
        let sig = param(url.split_once('?').expect("query").1, "sig").expect("sig");
        assert!(!text.contains(sig), "signature leaked: {text}");
        assert!(
            !text.contains(&percent_decode(sig)),
            "signature leaked: {text}"
        );
    }

    #[test]
    fn parse_accepts_container_urls_and_refuses_the_rest() {
        let sig = "abc%2Bdef%3D";
        let good = format!("https://acct.blob.core.windows.net/logs?sv=2022-11-02&sr=c&sp=cw&se=2030-01-02T03%3A04%3A05Z&sig={sig}");
        let sas = ContainerSas::parse(&good).expect("virtual host");
        assert_eq!((sas.account(), sas.container()), ("acct", "logs"));
        assert_eq!(sas.destination(), "acct/logs");
        assert_eq!(sas.permissions(), "cw");
        assert_eq!(
            sas.expiry().map(|t| t.to_rfc3339()),
            Some("2030-01-02T03:04:05+00:00".to_string())
        );
        assert_eq!(
            sas.redacted(),
            "https://acct.blob.core.windows.net/logs?sv=2022-11-02&sr=c&sp=cw&se=2030-01-02T03%3A04%3A05Z&sig=REDACTED"
        );
        assert_no_sig(&good, &format!("{sas:?}"));
        assert_eq!(
            sas.blob_url("a/b%20c.zip", "&comp=block"),
            format!("https://acct.blob.core.windows.net/logs/a/b%20c.zip?sv=2022-11-02&sr=c&sp=cw&se=2030-01-02T03%3A04%3A05Z&sig={sig}&comp=block")
        );
        for loopback in [
            "http://127.0.0.1:10000/devstoreaccount1/logs/",
            "http://localhost:10000/devstoreaccount1/logs",
            "http://[::1]:10000/devstoreaccount1/logs",
        ] {
            let sas = ContainerSas::parse(&format!("{loopback}?sv=1&sig=x")).expect(loopback);
            assert_eq!(sas.destination(), "devstoreaccount1/logs");
        }

        let refused = [
            (
                "http://acct.blob.core.windows.net/logs?sv=1&sig=x",
                SasError::NotHttps,
            ),
            (
                "http://10.0.0.1:10000/devstoreaccount1/logs?sv=1&sig=x",
                SasError::NotHttps,
            ),
            (
                "ftp://127.0.0.1/devstoreaccount1/logs?sv=1&sig=x",
                SasError::NotHttps,
            ),
            (
                "https://acct.blob.core.windows.net/logs?sv=1&sp=r",
                SasError::NoSignature,
            ),
            (
                "https://acct.blob.core.windows.net/logs?sv=1&sig=",
                SasError::NoSignature,
            ),
            (
                "https://acct.blob.core.windows.net/logs?sig=x",
                SasError::NoVersion,
            ),
            (
                "https://acct.blob.core.windows.net/logs?sv=1&sig=x#frag",
                SasError::Fragment,
            ),
            (
                "https://user:pw@acct.blob.core.windows.net/logs?sv=1&sig=x",
                SasError::UserInfo,
            ),
            (
                "https://acct.blob.core.windows.net/?sv=1&sig=x",
                SasError::NoContainer,
            ),
            (
                "https://acct.blob.core.windows.net/logs/blob?sv=1&sig=x",
                SasError::NoContainer,
            ),
            (
                "http://127.0.0.1:10000/logs?sv=1&sig=x",
                SasError::NoContainer,
            ),
            ("not a url sig=x", SasError::NotAUrl),
        ];
        for (url, want) in refused {
            let err = ContainerSas::parse(url).expect_err(url);
            assert_eq!(err, want, "{url}");
            assert!(!err.to_string().contains("sig=x"), "{err}");
        }
    }
}
