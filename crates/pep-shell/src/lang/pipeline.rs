//! Pipeline shape: which commands may receive piped input.
//!
//! Only commands whose catalog entry says `pipeline_input` (the formatting commands and
//! `Save-AzsSupportObjectToFile`) may stand after a `|`; the first element may be any command.
//! Piping into anything else (`| Invoke-Expression`, `| sh`) is refused before anything runs.

use super::error::{ErrorId, LangError};
use azs_support::catalog::CommandSpec;

/// Whether the command takes piped records (a formatter, in effect).
pub fn is_formatter(spec: &CommandSpec) -> bool {
    spec.pipeline_input
}

/// Refuses a pipeline whose second or later element does not accept piped input.
pub fn check_pipeline_shape(specs: &[&CommandSpec]) -> Result<(), LangError> {
    match specs.iter().skip(1).find(|s| !is_formatter(s)) {
        None => Ok(()),
        Some(bad) => Err(LangError::new(
            ErrorId::InvalidPipeline,
            format!(
                "'{}' cannot be used in a pipeline here: only Select-Object, Where-Object, \
                 Sort-Object, Measure-Object, Format-Table, Format-List, ConvertTo-Json, \
                 ConvertTo-Csv and Out-Default accept piped input.",
                bad.name
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::fixtures::catalog;

    #[test]
    fn formatters_after_pipe_only() {
        let c = catalog();
        let get = c.get("Get-AzsSupportProcess").expect("fixture");
        let select = c.get("Select-Object").expect("fixture");
        let stamp = c.get("Get-AzsSupportStampVersion").expect("fixture");
        assert!(is_formatter(select));
        assert!(!is_formatter(get));
        assert!(check_pipeline_shape(&[get]).is_ok());
        assert!(check_pipeline_shape(&[get, select, select]).is_ok());
        assert!(check_pipeline_shape(&[select]).is_ok());
        let e = check_pipeline_shape(&[get, select, stamp]).expect_err("refused");
        assert_eq!(e.id, ErrorId::InvalidPipeline);
        assert!(e.message.starts_with(
            "'Get-AzsSupportStampVersion' cannot be used in a pipeline here: only Select-Object"
        ));
    }
}
