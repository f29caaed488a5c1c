//! `assay explain CODE`, `assay explain [--package DIR] RULE-ID` or `assay
//! explain host.LOOKUP`: the long explanation of a diagnostic code, a
//! built-in or a package's own rule's documentation, or what a lookup gives
//! and reads.

use super::{Failure, Outcome};
use assay_compiler::diagnostics::{suggest::did_you_mean, Code, ALL_CODES};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A diagnostic code such as `E0101`, a built-in rule id such as
    /// `SBP-SSH-001`, or a lookup such as `host.json`; omit it to list every
    /// code.
    code: Option<String>,
    /// Also explain the rules of this package (a folder, an `.assay` file
    /// or a bundle from `assay build`; repeatable).
    #[arg(long = "package", value_name = "PATH")]
    packages: Vec<std::path::PathBuf>,
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
            if let Some(text) = assay_model::lookup::explain(text.trim()) {
                outln!("{text}");
                return Ok(ExitCode::SUCCESS);
            }
            let mut bundles = Vec::new();
            for path in &args.packages {
                bundles.push(super::scan::own_package(path)?);
            }
            bundles.push(super::scan::builtin()?);
            let upper = text.to_ascii_uppercase();
            for bundle in &bundles {
                if let Some(rule) =
                    bundle.content.rules.iter().find(|r| r.id.eq_ignore_ascii_case(text.trim()))
                {
                    outln!("{}\n", rule.id);
                    out!("{}", assay_runtime::reports::rulebook::explain(&bundle.content, rule));
                    return Ok(ExitCode::SUCCESS);
                }
            }
            let lookups: Vec<String> =
                assay_model::lookup::EXPLAINED.iter().map(|w| format!("host.{w}")).collect();
            let mut candidates: Vec<&str> = ALL_CODES.iter().map(|c| c.as_str()).collect();
            candidates.extend(lookups.iter().map(String::as_str));
            candidates.extend(bundles.iter().flat_map(|b| &b.content.rules).map(|r| r.id.as_str()));
            let suggestion = did_you_mean(&upper, candidates);
            let help = match suggestion {
                Some(s) => format!("did you mean `{s}`? `assay explain` lists every code"),
                None if args.packages.is_empty() => {
                    "`assay explain` lists every code; docs/rules/ lists every built-in \
                                                      rule; `--package DIR` explains a package's own rules"
                        .to_string()
                }
                None => "`assay explain` lists every code; docs/rules/ lists every built-in rule".to_string(),
            };
            let what = if args.packages.is_empty() { "built-in rule" } else { "rule of the packages given" };
            Err(Failure::input(miette::miette!(help = help, "no diagnostic code or {what} `{text}`")))
        }
    }
}
