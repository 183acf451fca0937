//! Command resolution: a typed name to its catalog entry, by exact name or alias.
//!
//! Resolution is exact and case-insensitive; there is no prefix matching and no wildcard matching
//! of command names (PowerShell does neither for invocation). Access gating is the caller's: it
//! resolves first, then checks `spec.access` against the session.

use super::error::LangError;
use azs_support::catalog::{Catalog, CommandSpec};

/// The catalog entry for `name` (or an alias), else `CommandNotFound`.
pub fn resolve_command<'c>(catalog: &'c Catalog, name: &str) -> Result<&'c CommandSpec, LangError> {
    catalog
        .get(name)
        .ok_or_else(|| LangError::command_not_found(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::error::ErrorId;
    use crate::lang::fixtures::catalog;

    #[test]
    fn exact_name_any_case() {
        let c = catalog();
        let spec = resolve_command(&c, "get-azssupportstampversion").expect("found");
        assert_eq!(spec.name, "Get-AzsSupportStampVersion");
        assert_eq!(
            resolve_command(&c, "GET-AZSSUPPORTPROCESS")
                .expect("found")
                .name,
            "Get-AzsSupportProcess"
        );
    }

    #[test]
    fn alias() {
        let c = catalog();
        assert_eq!(
            resolve_command(&c, "select").expect("alias").name,
            "Select-Object"
        );
        assert_eq!(
            resolve_command(&c, "WHERE").expect("alias").name,
            "Where-Object"
        );
    }

    #[test]
    fn unknown_and_prefix_are_not_found() {
        let c = catalog();
        for name in [
            "Get-AzsSupportStamp",
            "Invoke-Expression",
            "sh",
            "Get-AzsSupportStampVersionX",
        ] {
            let e = resolve_command(&c, name).expect_err("not found");
            assert_eq!(e.id, ErrorId::CommandNotFound);
            assert_eq!(
                e.message,
                format!(
                    "The term '{name}' is not recognized as the name of a command permitted in this session. Run Get-Command to see what you may run."
                )
            );
        }
    }
}
