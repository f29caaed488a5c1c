//! `assay new NAME`: a package to start from: a manifest, one documented
//! rule, a test file with a case that fires and one that passes, and a
//! README saying how to check, test, scan with and build it. `assay check`
//! and `assay test` pass on it as written.

use super::{Failure, Outcome};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The package's name: lowercase letters, digits and dashes
    /// (`my-team-baseline`).
    name: String,
    /// The folder to create (default: NAME in the current folder).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

pub fn run(args: &Args) -> Outcome {
    let name = args.name.as_str();
    let valid = !name.is_empty()
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(Failure::input(miette::miette!(
            help = "use lowercase letters, digits and dashes, as in `my-team-baseline`",
            "`{name}` is not a package name"
        )));
    }
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(name));
    let occupied = std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(false);
    if occupied {
        return Err(Failure::input(miette::miette!(
            "{} already exists and is not empty; nothing was written",
            dir.display()
        )));
    }
    let prefix = rule_prefix(name);
    let files = [
        ("package.yaml", manifest(name)),
        ("rules.assay", rules(&prefix)),
        ("tests/rules.yaml", tests(&prefix)),
        ("README.md", readme(name, &dir)),
    ];
    for (file, text) in &files {
        write(&dir.join(file), text)?;
    }
    outln!("created package `{name}` in {}:", dir.display());
    for (file, _) in &files {
        outln!("  {}", dir.join(file).display());
    }
    outln!("next: assay check {0} && assay test {0}", dir.display());
    Ok(ExitCode::SUCCESS)
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::input(miette::miette!("cannot write {}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)
}

/// The rule ids' prefix: the name's initials for a long name (`my-team-
/// baseline` → `MTB`), else the name in capitals.
fn rule_prefix(name: &str) -> String {
    let words: Vec<&str> = name.split('-').filter(|w| !w.is_empty()).collect();
    if words.len() > 1 {
        words.iter().filter_map(|w| w.chars().next()).collect::<String>().to_ascii_uppercase()
    } else {
        name.to_ascii_uppercase().chars().take(8).collect()
    }
}

fn manifest(name: &str) -> String {
    format!(
        "name: {name}\n\
         title: {name}\n\
         version: 0.1.0\n\
         description: Our own rules. Say here what they assess and for whom.\n\
         platforms: [linux]\n"
    )
}

fn rules(prefix: &str) -> String {
    format!(
        r#"/// Unprivileged users who can load BPF programs reach a large part of the
/// kernel that was written for root: most BPF privilege escalations need
/// it. Set to 1 it cannot be turned back on until reboot.
rule {prefix}-001 "Disallow unprivileged BPF" {{
  severity medium
  description "Unprivileged users may load BPF programs."
  rationale "Most BPF privilege escalations start from an unprivileged user loading a program."
  recommendation "Set `kernel.unprivileged_bpf_disabled = 1` in /etc/sysctl.d/ and run `sysctl --system`."
  tags ["kernel"]

  // A lookup by name: the bundle asks the collector for this parameter.
  // A host without it fails (the default is "0"), never passes silently.
  let bpf = host.sysctl("kernel.unprivileged_bpf_disabled")
  fail when (bpf.runtime ?? "0") == "0"
    message "kernel.unprivileged_bpf_disabled is {{bpf.runtime ?? "unset"}}, not 1 or 2"
}}
"#
    )
}

fn tests(prefix: &str) -> String {
    format!(
        r#"# Policy tests: `assay test`. Each case is a partial telemetry document
# (docs/telemetry.md) and the outcome expected of each rule; docs/testing.md.
defaults:
  telemetry:
    asset: {{ os: {{ family: debian, distribution: debian, version: "12" }} }}

cases:
  - name: unprivileged BPF is allowed
    telemetry:
      kernel:
        parameters:
          - {{ name: kernel.unprivileged_bpf_disabled, runtime: "0" }}
    expect:
      {prefix}-001: failed
    findings:
      {prefix}-001: {{ count: 1, message: "is 0" }}

  - name: unprivileged BPF is disabled until reboot
    telemetry:
      kernel:
        parameters:
          - {{ name: kernel.unprivileged_bpf_disabled, runtime: "1" }}
    expect:
      {prefix}-001: passed
"#
    )
}

fn readme(name: &str, dir: &Path) -> String {
    let dir = dir.display();
    format!(
        "# {name}\n\n\
         A rules package for Assay (docs/language.md).\n\n\
         ```sh\n\
         assay check {dir}                    # compile, with every diagnostic\n\
         assay test --coverage {dir}          # run tests/*.yaml; every rule seen failing and passing\n\
         assay fmt {dir}                      # the canonical layout\n\
         assay scan --package {dir}           # assess this host with these rules\n\
         assay build {dir} -o {name}.bundle   # a reproducible bundle for `assay eval` and the fleet\n\
         assay explain --package {dir} RULE   # a rule's documentation\n\
         ```\n\n\
         Each rule has a case in `tests/` that fires and one that passes.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::rule_prefix;

    #[test]
    fn prefixes_are_initials_or_the_name() {
        assert_eq!(rule_prefix("my-team-baseline"), "MTB");
        assert_eq!(rule_prefix("web"), "WEB");
        assert_eq!(rule_prefix("averyveryverylongname"), "AVERYVER");
    }
}
