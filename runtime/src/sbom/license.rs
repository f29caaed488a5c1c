//! A package's stated licences as the SBOM formats take them: SPDX
//! expressions where the stated text is one once its spelling is made
//! SPDX's ([`spelling`]: uppercase operators, the GNU licences' version
//! forms, Debian's short names as its copyright format defines them), and
//! the name as stated otherwise. Nothing is guessed: `BSD`, `GPL` without a
//! version or `MIT License` name no one SPDX licence and stay as stated.
//! (The `spdx` crate's own canonical form maps such imprecise names, `bsd`
//! to `BSD-2-Clause`, so it is used only to check expressions.)

use assay_model::telemetry::{Ecosystem, Package};
use spdx::Expression;

/// One licence a package states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Term {
    /// A valid SPDX expression (strict: current ids, uppercase operators).
    Spdx {
        expression: String,
        /// Whether it is one licence id, with no operator or exception.
        single: bool,
    },
    /// A licence SPDX has no id for, by the name the package states.
    Named(String),
}

/// The licence `stated` names, in a package of `ecosystem`.
pub(super) fn term(stated: &str, ecosystem: Ecosystem) -> Term {
    let stated = stated.trim();
    let text = stated.split_whitespace().map(|w| spelling(w, ecosystem)).collect::<Vec<_>>().join(" ");
    if Expression::parse(&text).is_ok() {
        let single = spdx::license_id(&text).is_some_and(|id| id.name == text);
        Term::Spdx { expression: text, single }
    } else {
        Term::Named(stated.to_owned())
    }
}

/// One word of a stated licence as SPDX spells it, where the spelling
/// names exactly one SPDX licence or operator:
/// - `or`, `and`, `with` are SPDX's uppercase operators;
/// - a GNU licence with its version, `GPL-2`, `GPL-2.0+` (SPDX's
///   deprecated forms) or `GPLv2+` (Fedora's former names), is
///   `GPL-2.0-only` or `GPL-2.0-or-later`;
/// - in Debian, `BSD-3-clause` is `BSD-3-Clause` and `Expat` the licence
///   SPDX calls `MIT` (DEP-5's short names).
///
/// Any other word is left as it is. Parentheses around a word are kept.
fn spelling(word: &str, ecosystem: Ecosystem) -> String {
    let core = word.trim_start_matches('(').trim_end_matches(')');
    let open = &word[..word.len() - word.trim_start_matches('(').len()];
    let close = &word[word.trim_end_matches(')').len()..];
    let spelt = if ["or", "and", "with"].iter().any(|op| core.eq_ignore_ascii_case(op)) {
        core.to_ascii_uppercase()
    } else if let Some(gnu) = gnu(core) {
        gnu
    } else if ecosystem == Ecosystem::Debian && core == "Expat" {
        "MIT".to_owned()
    } else if let Some(n) = core
        .strip_prefix("BSD-")
        .and_then(|r| r.strip_suffix("-clause"))
        .filter(|_| ecosystem == Ecosystem::Debian)
    {
        format!("BSD-{n}-Clause")
    } else {
        core.to_owned()
    };
    format!("{open}{spelt}{close}")
}

/// `GPL-2`, `LGPL-2.1+`, `GPLv3`, `AGPL-3.0+`... as SPDX's id.
fn gnu(word: &str) -> Option<String> {
    for family in ["AGPL", "LGPL", "GPL", "GFDL"] {
        let Some(rest) = word.strip_prefix(family) else { continue };
        let rest = rest.strip_prefix('-').or_else(|| rest.strip_prefix('v'))?;
        let (version, later) = match rest.strip_suffix('+') {
            Some(v) => (v, true),
            None => (rest, false),
        };
        let parts: Vec<&str> = version.split('.').collect();
        if parts.len() > 2 || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
        let version = if parts.len() == 1 { format!("{version}.0") } else { version.to_owned() };
        let id = format!("{family}-{version}-{}", if later { "or-later" } else { "only" });
        return spdx::license_id(&id).filter(|l| l.name == id).map(|_| id);
    }
    None
}

/// The licences `p` states, in its order; empty where it states none.
pub(super) fn terms(p: &Package) -> Vec<Term> {
    p.licenses.iter().flatten().filter(|l| !l.trim().is_empty()).map(|l| term(l, p.ecosystem)).collect()
}

/// The `LicenseRef-` ids of a document's named licences, one per name.
#[derive(Default)]
pub(super) struct References {
    /// (name, id) in the order first met.
    ids: Vec<(String, String)>,
}

impl References {
    /// The id of `name`, made on first use: `LicenseRef-` and the name as
    /// an SPDX id can hold it ([`super::spdx::id_body`]), with a number
    /// after it where two names differ only in what it cannot hold.
    pub fn id(&mut self, name: &str) -> String {
        if let Some((_, id)) = self.ids.iter().find(|(n, _)| n == name) {
            return id.clone();
        }
        let body = super::spdx::id_body(name);
        let mut id = format!("LicenseRef-{body}");
        let mut n = 2;
        while self.ids.iter().any(|(_, taken)| *taken == id) {
            id = format!("LicenseRef-{body}-{n}");
            n += 1;
        }
        self.ids.push((name.to_owned(), id.clone()));
        id
    }

    /// (name, id) of every named licence met.
    pub fn into_named(self) -> Vec<(String, String)> {
        self.ids
    }
}

/// One SPDX expression for all the licences a package states (a package
/// is under each licence of its files: `AND`), named licences as their
/// `LicenseRef-`; `None` where it states none.
pub(super) fn declared(terms: &[Term], refs: &mut References) -> Option<String> {
    let parts: Vec<String> = terms
        .iter()
        .map(|t| match t {
            Term::Spdx { expression, single: true } => expression.clone(),
            Term::Spdx { expression, single: false } if terms.len() == 1 => expression.clone(),
            Term::Spdx { expression, .. } => format!("({expression})"),
            Term::Named(name) => refs.id(name),
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deb(stated: &str) -> Term {
        term(stated, Ecosystem::Debian)
    }

    fn spdx(e: &str, single: bool) -> Term {
        Term::Spdx { expression: e.to_owned(), single }
    }

    #[test]
    fn stated_names_become_spdx_where_they_are_spdx() {
        // Debian's DEP-5 short names, rpm's tags, Python's expressions.
        assert_eq!(deb("MIT"), spdx("MIT", true));
        assert_eq!(deb("Apache-2.0 OR MIT"), spdx("Apache-2.0 OR MIT", false));
        assert_eq!(deb("GPL-2+"), spdx("GPL-2.0-or-later", true));
        assert_eq!(deb("GPL-2"), spdx("GPL-2.0-only", true));
        assert_eq!(deb("LGPL-2.1+"), spdx("LGPL-2.1-or-later", true));
        assert_eq!(deb("GPL-2+ or Artistic-2.0"), spdx("GPL-2.0-or-later OR Artistic-2.0", false));
        assert_eq!(deb("Zlib"), spdx("Zlib", true));
        assert_eq!(deb("BSD-3-clause"), spdx("BSD-3-Clause", true));
        assert_eq!(deb("Expat"), spdx("MIT", true));
        assert_eq!(deb("GFDL-1.3+"), spdx("GFDL-1.3-or-later", true));
        assert_eq!(deb("(GPL-2+ or MIT) and Zlib"), spdx("(GPL-2.0-or-later OR MIT) AND Zlib", false));
        // Other ecosystems' names are read as SPDX, Debian's words aside.
        assert_eq!(term("GPLv2+", Ecosystem::Rpm), spdx("GPL-2.0-or-later", true));
        assert_eq!(
            term("GPL-2.0+ and LGPLv2", Ecosystem::Rpm),
            spdx("GPL-2.0-or-later AND LGPL-2.0-only", false)
        );
        assert_eq!(term("Expat", Ecosystem::Pypi), Term::Named("Expat".into()));
        // Imprecise names are not guessed at.
        for imprecise in ["MIT License", "BSD", "GPL", "ASL 2.0", "mit", "GPLv9", "GNU GPL v2"] {
            assert_eq!(term(imprecise, Ecosystem::Rpm), Term::Named(imprecise.into()), "{imprecise}");
        }
        // Names SPDX has no id for stay as stated.
        assert_eq!(deb("GPL-2-with-exceptions"), Term::Named("GPL-2-with-exceptions".into()));
        assert_eq!(deb("public-domain"), Term::Named("public-domain".into()));
        assert_eq!(deb("GPL-2+ with OpenSSL exception"), Term::Named("GPL-2+ with OpenSSL exception".into()));
    }

    #[test]
    fn a_declared_expression_joins_terms_with_and_and_names_the_rest() {
        let mut refs = References::default();
        let terms = vec![deb("GPL-2+"), deb("MIT OR Apache-2.0"), deb("public-domain"), deb("public-domain")];
        assert_eq!(
            declared(&terms, &mut refs).as_deref(),
            Some("GPL-2.0-or-later AND (MIT OR Apache-2.0) AND LicenseRef-public-domain AND LicenseRef-public-domain")
        );
        assert_eq!(declared(&[deb("MIT OR Apache-2.0")], &mut refs).as_deref(), Some("MIT OR Apache-2.0"));
        assert_eq!(declared(&[], &mut refs), None);
        // Two names that differ only in characters an id cannot hold.
        assert_eq!(refs.id("a b"), "LicenseRef-a-b");
        assert_eq!(refs.id("a/b"), "LicenseRef-a-b-2");
        assert_eq!(refs.id("a b"), "LicenseRef-a-b");
        let named = refs.into_named();
        assert_eq!(named.len(), 3);
        for (_, id) in &named {
            assert!(Expression::parse(id).is_ok(), "{id} is a valid SPDX expression");
        }
    }
}
