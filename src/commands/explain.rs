//! `assay explain CODE`: the long explanation of a diagnostic code.

use super::{Failure, Outcome};
use assay_compiler::diagnostics::{suggest::did_you_mean, Code, ALL_CODES};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A diagnostic code such as `E0101`; omit it to list every code.
    code: Option<String>,
}

pub fn run(args: &Args) -> Outcome {
    let Some(text) = &args.code else {
        for code in ALL_CODES {
            println!("{code}  {}", code.title());
        }
        return Ok(ExitCode::SUCCESS);
    };
    match Code::parse(text) {
        Some(code) => {
            println!("{code}: {}\n\n{}", code.title(), code.explanation());
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let upper = text.to_ascii_uppercase();
            let suggestion = did_you_mean(&upper, ALL_CODES.iter().map(|c| c.as_str()));
            let help = match suggestion {
                Some(s) => format!("did you mean `{s}`? `assay explain` lists every code"),
                None => "`assay explain` lists every code".to_string(),
            };
            Err(Failure::input(miette::miette!(help = help, "unknown diagnostic code `{text}`")))
        }
    }
}
