//! Pipeline shape: which commands may receive piped input.
//!
//! Only commands whose catalog entry says `pipeline_input` (the formatting commands and
//! `Save-AzsSupportObjectToFile`) may stand after a `|`; the first element may be any command.
//! Piping into anything else (`| Invoke-Expression`, `| sh`) is refused before anything runs, with
//! a message listing, from the catalog, the commands that do accept piped input.

use super::error::{ErrorId, LangError};
use azs_support::catalog::{Catalog, CommandSpec};

/// Refuses a pipeline whose second or later element does not accept piped input.
pub fn check_pipeline_shape(specs: &[&CommandSpec], catalog: &Catalog) -> Result<(), LangError> {
    match specs.iter().skip(1).find(|s| !s.pipeline_input) {
        None => Ok(()),
        Some(bad) => {
            let names: Vec<&str> = catalog
                .piped_input_commands()
                .map(|c| c.name.as_str())
                .collect();
            let list = match names.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
                Some((last, _)) => last.to_string(),
                None => "no command".to_string(),
            };
            Err(LangError::new(
                ErrorId::InvalidPipeline,
                format!(
                    "'{}' cannot be used in a pipeline here: only {list} accept piped input.",
                    bad.name
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::fixtures::catalog;
    use azs_support::catalog::{load_embedded, Profile};

    #[test]
    fn only_commands_that_take_piped_input_stand_after_a_pipe() {
        let c = catalog();
        let get = c.get("Get-AzsSupportProcess").expect("fixture");
        let select = c.get("Select-Object").expect("fixture");
        let stamp = c.get("Get-AzsSupportStampVersion").expect("fixture");
        assert!(check_pipeline_shape(&[get], &c).is_ok());
        assert!(check_pipeline_shape(&[get, select, select], &c).is_ok());
        assert!(check_pipeline_shape(&[select], &c).is_ok());
        let e = check_pipeline_shape(&[get, select, stamp], &c).expect_err("refused");
        assert_eq!(e.id, ErrorId::InvalidPipeline);
        assert!(e.message.starts_with(
            "'Get-AzsSupportStampVersion' cannot be used in a pipeline here: only Select-Object"
        ));
    }

    #[test]
    fn the_refusal_lists_every_command_the_catalog_lets_take_piped_input() {
        let c = load_embedded(Profile::AzsHub).expect("catalog");
        let get = c.get("Get-AzsSupportProcess").expect("entry");
        let e = check_pipeline_shape(&[get, get], &c).expect_err("refused");
        for name in [
            "Select-Object",
            "Format-Table",
            "Out-Default",
            "Save-AzsSupportObjectToFile",
        ] {
            assert!(e.message.contains(name), "{name} missing: {}", e.message);
        }
        assert!(e.message.ends_with("accept piped input."), "{}", e.message);
    }
}
