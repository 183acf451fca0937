//! The endpoint's log settings: where `Send-AzureStackDiagnosticLog` uploads (the vendor's
//! container SAS URL, kept in a file only the endpoint reads), whether everything that leaves the
//! endpoint must be obfuscated (and the keywords the operator lists), how uploads are sent and how
//! large a bundle part may grow.
//!
//! The SAS file is read when the server starts (it must parse, and be readable by its owner
//! only: the signature is a credential) and again at each upload, so the operator can replace it
//! without a restart. Its contents never reach a log line, a message or a transcript: what is
//! shown is [`ContainerSas::redacted`] and [`ContainerSas::destination`].

use anyhow::{bail, Context, Result};
use azs_support::logs::blob::{ContainerSas, UploadOptions};
use azs_support::logs::bundle::DEFAULT_PART_BYTES;
use azs_support::logs::obfuscate::{ObfuscationRules, Obfuscator};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How logs leave the endpoint.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// The file holding the vendor's container SAS URL (`--vendor-upload-sas-file`).
    pub vendor_sas_file: Option<PathBuf>,
    /// Everything that leaves is obfuscated (`--obfuscate-logs`).
    pub obfuscate: bool,
    /// Words the operator wants replaced too (`--obfuscation-keyword`).
    pub keywords: Vec<String>,
    /// Block size, requests in flight, retries, bandwidth cap.
    pub upload: UploadOptions,
    /// A role's zip is split into parts above this size.
    pub part_bytes: u64,
    /// Log collections that may run on the endpoint at once (`--max-log-collections`).
    pub max_collections: usize,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            vendor_sas_file: None,
            obfuscate: false,
            keywords: Vec::new(),
            upload: UploadOptions::default(),
            part_bytes: DEFAULT_PART_BYTES,
            max_collections: DEFAULT_MAX_COLLECTIONS,
        }
    }
}

/// Log collections at once by default: each compresses on all the cores it is given.
pub const DEFAULT_MAX_COLLECTIONS: usize = 2;

/// Why the vendor destination cannot be used.
pub const NO_VENDOR_DESTINATION: &str = "no vendor upload destination is configured on this endpoint (the operator starts pep with --vendor-upload-sas-file); nothing was collected";

impl LogSettings {
    /// Checks the settings at start: the SAS file parses and only its owner can read it.
    pub fn check(&self) -> Result<()> {
        if let Some(path) = &self.vendor_sas_file {
            read_sas_file(path)?;
        }
        for k in &self.keywords {
            if k.trim().is_empty() {
                bail!("--obfuscation-keyword must not be empty");
            }
        }
        Ok(())
    }

    /// The vendor's container, read from its file now.
    pub fn vendor_destination(&self) -> Result<ContainerSas, String> {
        let path = self
            .vendor_sas_file
            .as_ref()
            .ok_or_else(|| NO_VENDOR_DESTINATION.to_string())?;
        read_sas_file(path).map_err(|e| format!("{e:#}"))
    }

    /// The obfuscator, when obfuscation is required: its map lives in the state directory.
    pub fn obfuscator(
        &self,
        map: &Path,
        hosts: Vec<String>,
        users: Vec<String>,
    ) -> Result<Option<Arc<Obfuscator>>, String> {
        if !self.obfuscate {
            return Ok(None);
        }
        let rules = ObfuscationRules {
            hosts,
            domains: Vec::new(),
            users,
            keywords: self.keywords.clone(),
        };
        Obfuscator::open(map, rules)
            .map(|o| Some(Arc::new(o)))
            .map_err(|e| format!("the obfuscation map cannot be opened: {e}"))
    }
}

/// Reads and parses a SAS file; errors never quote its contents.
pub fn read_sas_file(path: &Path) -> Result<ContainerSas> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("the vendor upload SAS file {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            bail!(
                "the vendor upload SAS file {} can be read by others (mode {:o}); it holds a credential: chmod 600 it",
                path.display(),
                meta.permissions().mode() & 0o777
            );
        }
    }
    if meta.len() > 16 * 1024 {
        bail!(
            "the vendor upload SAS file {} is too large to be a SAS URL",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the vendor upload SAS file {}", path.display()))?;
    ContainerSas::parse(text.trim()).map_err(|e| {
        anyhow::anyhow!(
            "the vendor upload SAS file {} does not hold a usable container SAS URL: {e}",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_sas_file_others_can_read_is_refused_without_quoting_it() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("vendor.sas");
        std::fs::write(
            &path,
            "https://vendor.blob.core.windows.net/cases?sv=2024-11-04&sr=c&sp=cw&se=2099-01-01T00:00:00Z&sig=SECRETSIG\n",
        )
        .expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = format!("{:#}", read_sas_file(&path).expect_err("0644 is refused"));
        assert!(err.contains("chmod 600"), "{err}");
        assert!(!err.contains("SECRETSIG"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let sas = read_sas_file(&path).expect("0600 is read");
        assert!(!sas.destination().contains("SECRETSIG"));
    }
}
