//! `--param PACKAGE.NAME=VALUE` and `--params FILE`: values for packages'
//! parameters, for `scan`, `eval` and `test`. A name no package declares, or
//! a value of the wrong type, is an error naming it.

use super::Failure;
use assay_model::bundle::params::{self, ParamValues};
use assay_model::bundle::Bundle;
use std::path::PathBuf;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct ParamArgs {
    /// Set a package parameter: `PACKAGE.NAME=VALUE` (`NAME=VALUE` where one
    /// package declares it; a list is comma-separated). Repeatable; wins
    /// over `--params`.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Set parameters from a YAML (or JSON) file: a mapping of
    /// `PACKAGE.NAME` (or `NAME`) to values.
    #[arg(long = "params", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

impl ParamArgs {
    /// Every value given, the file's first, in order.
    pub fn given(&self) -> Result<Vec<(String, serde_json::Value)>, Failure> {
        let mut out = Vec::new();
        if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::input(miette::miette!("cannot read {}: {e}", path.display())))?;
            let map: std::collections::BTreeMap<String, serde_json::Value> = serde_yaml::from_str(&text)
                .map_err(|e| {
                    Failure::input(miette::miette!(
                        "{}: not a mapping of parameter names to values: {e}",
                        path.display()
                    ))
                })?;
            out.extend(map);
        }
        for p in &self.params {
            let Some((name, value)) = p.split_once('=') else {
                return Err(Failure::input(miette::miette!("`--param {p}`: expected NAME=VALUE")));
            };
            out.push((name.trim().to_owned(), serde_json::Value::String(value.to_owned())));
        }
        Ok(out)
    }

    /// The values for each of `bundles`: every name must be a parameter of
    /// one of them, every value of its type.
    pub fn resolve(&self, bundles: &[&Bundle]) -> Result<Vec<ParamValues>, Failure> {
        let contents: Vec<_> = bundles.iter().map(|b| &b.content).collect();
        params::resolve_each(&contents, &self.given()?).map_err(|e| Failure::input(miette::miette!("{e}")))
    }
}
