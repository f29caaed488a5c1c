//! Human-readable listings of a bundle: `assay inspect` and `--disasm`.

use super::bytecode::{Code, Constant, Instr, NO_EVIDENCE};
use super::Bundle;
use crate::telemetry::schema::enum_value_name;
use std::fmt::Write;

/// Packages, versions and rules with their metadata.
pub fn summary(bundle: &Bundle) -> String {
    let c = &bundle.content;
    let mut out = String::new();
    let _ = writeln!(out, "bundle     sha256:{}", bundle.digest);
    let _ = writeln!(out, "compiler   {}", c.compiler);
    let _ = writeln!(
        out,
        "format     v{} (instruction set {}), telemetry schema v{} ({})",
        super::FORMAT_VERSION,
        crate::fingerprint::instruction_set(),
        crate::telemetry::SCHEMA_VERSION,
        crate::fingerprint::schema()
    );
    let _ = writeln!(
        out,
        "contents   {} package(s), {} rule(s), {} function(s), {} constant(s), {} pool entries",
        c.packages.len(),
        c.rules.len(),
        c.functions.len(),
        c.globals.len(),
        c.constants.len()
    );
    for (pi, p) in c.packages.iter().enumerate() {
        let _ = writeln!(out, "\npackage {} {} — {}", p.name, p.version, p.title);
        if !p.description.is_empty() {
            let _ = writeln!(out, "  {}", p.description);
        }
        let _ = writeln!(out, "  platforms: {}", crate::platform::join(&p.platforms));
        for param in c.params.iter().filter(|q| q.package as usize == pi) {
            let _ = writeln!(out, "  param {}: {} = {}", param.name, param.ty.as_str(), param.default);
            if let Some(first) = param.doc.lines().next() {
                let _ = writeln!(out, "    {first}");
            }
        }
        for (ri, r) in c.rules.iter().enumerate().filter(|(_, r)| r.package as usize == pi) {
            let _ = writeln!(out, "  {:<14} {:<13} {}", r.id, r.severity, r.title);
            if let Some(loc) = c.debug.rule_locations.get(ri) {
                let _ = writeln!(out, "    defined at     {loc}");
            }
            if !r.platforms.is_empty() {
                let _ = writeln!(out, "    platforms      {}", crate::platform::join(&r.platforms));
            }
            if !r.tags.is_empty() {
                let _ = writeln!(out, "    tags           {}", r.tags.join(", "));
            }
            for reference in &r.references {
                let _ = writeln!(out, "    reference      {reference}");
            }
            let _ = writeln!(
                out,
                "    code           {} instructions, {} slots",
                r.code.instructions.len(),
                r.code.locals
            );
        }
    }
    out
}

/// A full listing: every block's instructions with their operands resolved.
pub fn disassemble(bundle: &Bundle) -> String {
    let c = &bundle.content;
    let mut out = summary(bundle);
    if !c.constants.is_empty() {
        out.push_str("\nconstants\n");
        for (i, k) in c.constants.iter().enumerate() {
            let _ = writeln!(out, "  #{i:<4} {}", constant(k));
        }
    }
    if !c.regexes.is_empty() {
        out.push_str("\nregular expressions\n");
        for (i, r) in c.regexes.iter().enumerate() {
            let _ = writeln!(out, "  /{i:<3} {r:?}");
        }
    }
    for (i, g) in c.globals.iter().enumerate() {
        let name = c.debug.global_names.get(i).map(String::as_str).unwrap_or("?");
        let _ = writeln!(out, "\nconst {name} (global {i})");
        block(&mut out, bundle, g);
    }
    for (i, f) in c.functions.iter().enumerate() {
        let name = c.debug.function_names.get(i).map(String::as_str).unwrap_or("?");
        let at = c.debug.function_locations.get(i).map(|l| format!(", {l}")).unwrap_or_default();
        let _ = writeln!(out, "\nfn {name} (function {i}, {} params, {} slots{at})", f.params, f.locals);
        block(&mut out, bundle, f);
    }
    for (ri, r) in c.rules.iter().enumerate() {
        let at = c.debug.rule_locations.get(ri).map(|l| format!(", {l}")).unwrap_or_default();
        let _ = writeln!(out, "\nrule {} ({} slots{at})", r.id, r.code.locals);
        block(&mut out, bundle, &r.code);
    }
    out
}

fn constant(k: &Constant) -> String {
    match k {
        Constant::Int(i) => format!("int {i}"),
        Constant::Str(s) => format!("string {s:?}"),
        Constant::Version(v) => format!("version v{v:?}"),
        Constant::Enum(e, v) => format!("enum {}", enum_value_name(*e, *v).unwrap_or("?")),
        Constant::List(items) => {
            format!("list [{}]", items.iter().map(constant).collect::<Vec<_>>().join(", "))
        }
    }
}

fn block(out: &mut String, bundle: &Bundle, code: &Code) {
    let c = &bundle.content;
    let mut lines = code.lines.iter().peekable();
    for (pc, i) in code.instructions.iter().enumerate() {
        if let Some((_, line)) = lines.next_if(|(first, _)| *first as usize == pc) {
            let _ = writeln!(out, "        ; line {line}");
        }
        let text = match *i {
            Instr::Const(n) => {
                format!(
                    "const       #{n} ({})",
                    c.constants.get(n as usize).map(constant).unwrap_or_default()
                )
            }
            Instr::Global(n) => {
                format!(
                    "global      {n} ({})",
                    c.debug.global_names.get(n as usize).map(String::as_str).unwrap_or("?")
                )
            }
            Instr::Field { index, evidence } => {
                let label = if evidence == NO_EVIDENCE {
                    String::new()
                } else {
                    format!(
                        " evidence {}",
                        c.debug.evidence_paths.get(evidence as usize).map(String::as_str).unwrap_or("?")
                    )
                };
                format!("field       {index}{label}")
            }
            Instr::Call(n) => {
                format!(
                    "call        {n} ({})",
                    c.debug.function_names.get(n as usize).map(String::as_str).unwrap_or("?")
                )
            }
            Instr::Native { native, argc } => {
                let name = c.natives.get(usize::from(native)).and_then(|s| s.split('(').next());
                format!("native      {native} ({}) argc {argc}", name.unwrap_or("?"))
            }
            Instr::Matches(n) => format!("matches     /{n}"),
            Instr::NotApplicable(n) => {
                format!(
                    "n/a         #{n} ({})",
                    c.constants.get(n as usize).map(constant).unwrap_or_default()
                )
            }
            Instr::JumpUnless { cmp, target } => format!("jump_unless {cmp:?} -> {target}"),
            Instr::JumpUnlessConst { cmp, constant: n, target } => format!(
                "jump_unless {cmp:?} #{n} ({}) -> {target}",
                c.constants.get(usize::from(n)).map(constant).unwrap_or_default()
            ),
            Instr::JumpUnlessIn { list, negate, target } => format!(
                "jump_unless {}in #{list} ({}) -> {target}",
                if negate { "not " } else { "" },
                c.constants.get(usize::from(list)).map(constant).unwrap_or_default()
            ),
            Instr::IterNext { slot, exit } => format!("iter_next   slot {slot} else -> {exit}"),
            Instr::LoadField { slot, index, evidence } => {
                let label = if evidence == super::bytecode::NO_EVIDENCE_16 {
                    String::new()
                } else {
                    let path =
                        c.debug.evidence_paths.get(usize::from(evidence)).map(String::as_str).unwrap_or("?");
                    format!(" evidence {path}")
                };
                format!("load_field  slot {slot} field {index}{label}")
            }
            Instr::InConst(n) => {
                format!(
                    "in_const    #{n} ({})",
                    c.constants.get(n as usize).map(constant).unwrap_or_default()
                )
            }
            other => {
                let dbg = format!("{other:?}");
                // `JumpIfFalse(12)` -> `jump_if_false 12`.
                let (name, arg) = match dbg.split_once('(') {
                    Some((n, a)) => (n.to_owned(), a.trim_end_matches(')').to_owned()),
                    None => (dbg.clone(), String::new()),
                };
                let mut snake = String::new();
                for (k, ch) in name.chars().enumerate() {
                    if ch.is_uppercase() && k > 0 {
                        snake.push('_');
                    }
                    snake.push(ch.to_ascii_lowercase());
                }
                let arrow = if snake.starts_with("jump") { "-> " } else { "" };
                if arg.is_empty() {
                    snake
                } else {
                    format!("{snake:<11} {arrow}{arg}")
                }
            }
        };
        let _ = writeln!(out, "  {pc:>4}  {text}");
    }
}
