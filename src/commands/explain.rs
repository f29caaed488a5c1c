//! `assay explain CODE` or `assay explain RULE-ID`: the long explanation of a
//! diagnostic code, or a built-in rule's documentation.

use super::{Failure, Outcome};
use assay_compiler::diagnostics::{suggest::did_you_mean, Code, ALL_CODES};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A diagnostic code such as `E0101`, or a built-in rule id such as
    /// `SBP-SSH-001`; omit it to list every code.
    code: Option<String>,
}

pub fn run(args: &Args) -> Outcome {
    let Some(text) = &args.code else {
        for code in ALL_CODES {
            outln!("{code}  {}", code.title());
        }
        return Ok(ExitCode::SUCCESS);
    };
    match Code::parse(text) {
        Some(code) => {
            outln!("{code}: {}\n\n{}", code.title(), code.explanation());
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let bundle = super::scan::builtin()?;
            let upper = text.to_ascii_uppercase();
            if let Some(rule) = bundle.content.rules.iter().find(|r| r.id.eq_ignore_ascii_case(text.trim())) {
                outln!("{}\n", rule.id);
                out!("{}", assay_runtime::reports::rulebook::explain(&bundle.content, rule));
                return Ok(ExitCode::SUCCESS);
            }
            let mut candidates: Vec<&str> = ALL_CODES.iter().map(|c| c.as_str()).collect();
            candidates.extend(bundle.content.rules.iter().map(|r| r.id.as_str()));
            let suggestion = did_you_mean(&upper, candidates);
            let help = match suggestion {
                Some(s) => format!("did you mean `{s}`? `assay explain` lists every code"),
                None => "`assay explain` lists every code; docs/rules/ lists every built-in rule".to_string(),
            };
            Err(Failure::input(miette::miette!(help = help, "no diagnostic code or built-in rule `{text}`")))
        }
    }
}
