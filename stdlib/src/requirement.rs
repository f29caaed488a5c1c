//! Version requirements as operators write them to ask which hosts run a
//! package (`<3.0.13`, `>=1.1.1,<1.1.1w`, `=2.9.1-1`): comparisons joined
//! by commas, all of which must hold, each compared with the package's
//! own scheme ([`super::versions`]). A bare version means `=`.

use crate::versions::{compare, Scheme};
use std::cmp::Ordering;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "=",
            Op::Ne => "!=",
        }
    }

    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Op::Lt => ordering == Ordering::Less,
            Op::Le => ordering != Ordering::Greater,
            Op::Gt => ordering == Ordering::Greater,
            Op::Ge => ordering != Ordering::Less,
            Op::Eq => ordering == Ordering::Equal,
            Op::Ne => ordering != Ordering::Equal,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    clauses: Vec<(Op, String)>,
}

/// The longest requirement read, and the most clauses: a query string is
/// not a place for more.
const MAX_LEN: usize = 512;
const MAX_CLAUSES: usize = 16;

impl Requirement {
    /// Reads `<3.0.13`, `>= 1.0, < 2`, `2.9.1-1`; an error says which part
    /// is wrong.
    pub fn parse(text: &str) -> Result<Requirement, String> {
        if text.len() > MAX_LEN {
            return Err(format!("a version requirement is at most {MAX_LEN} bytes"));
        }
        let mut clauses = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            let (op, rest) = [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("!=", Op::Ne)]
                .into_iter()
                .chain([("<", Op::Lt), (">", Op::Gt), ("=", Op::Eq)])
                .find_map(|(s, op)| part.strip_prefix(s).map(|rest| (op, rest)))
                .unwrap_or((Op::Eq, part));
            let version = rest.trim();
            if version.is_empty() {
                return Err(format!("`{part}` in the version requirement `{text}` names no version"));
            }
            if let Some(c) =
                version.chars().find(|c| c.is_whitespace() || c.is_control() || "<>=!,".contains(*c))
            {
                return Err(format!(
                    "`{version}` in the version requirement `{text}` is not a version (it holds {c:?}); \
                     join comparisons with commas: `>=1.0,<2`"
                ));
            }
            clauses.push((op, version.to_owned()));
        }
        if clauses.len() > MAX_CLAUSES {
            return Err(format!("a version requirement has at most {MAX_CLAUSES} comparisons"));
        }
        Ok(Requirement { clauses })
    }

    /// Whether `version` meets every comparison, ordered by `scheme`.
    pub fn matches(&self, scheme: Scheme, version: &str) -> bool {
        self.clauses.iter().all(|(op, wanted)| op.holds(compare(scheme, version, wanted)))
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.clauses.iter().map(|(op, v)| format!("{}{v}", op.symbol())).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_follow_the_ecosystems_scheme() {
        let r = Requirement::parse("<3.0.13").unwrap();
        assert!(r.matches(Scheme::Dpkg, "3.0.11-1~deb12u2"));
        assert!(!r.matches(Scheme::Dpkg, "3.0.15-1~deb12u1"));
        // dpkg: a tilde sorts before anything, so ~rc1 is older.
        assert!(Requirement::parse("<1.0").unwrap().matches(Scheme::Dpkg, "1.0~rc1"));
        assert!(!Requirement::parse("<1.0").unwrap().matches(Scheme::Semver, "1.0.0"));
        // PEP 440: 2.0 == 2.0.0, pre-releases before the release.
        assert!(Requirement::parse("==2.0").unwrap().matches(Scheme::Pep440, "2.0.0"));
        assert!(Requirement::parse("<2.0").unwrap().matches(Scheme::Pep440, "2.0rc1"));
    }

    #[test]
    fn clauses_joined_by_commas_must_all_hold() {
        let r = Requirement::parse(">= 1.1.1, <1.1.1w").unwrap();
        assert!(r.matches(Scheme::Dpkg, "1.1.1n-0+deb11u5"));
        assert!(!r.matches(Scheme::Dpkg, "1.1.0l-1"));
        assert!(!r.matches(Scheme::Dpkg, "3.0.11-1"));
        assert_eq!(r.to_string(), ">=1.1.1,<1.1.1w");
        let bare = Requirement::parse("2.9.1-1").unwrap();
        assert!(bare.matches(Scheme::Dpkg, "2.9.1-1") && !bare.matches(Scheme::Dpkg, "2.9.1-2"));
        assert!(Requirement::parse("!=2").unwrap().matches(Scheme::Rpm, "3"));
        assert!(Requirement::parse("<=2").unwrap().matches(Scheme::Apk, "2"));
        assert!(Requirement::parse(">2").unwrap().matches(Scheme::Apk, "2.1"));
    }

    #[test]
    fn malformed_requirements_say_what_is_wrong() {
        let err = |t: &str| Requirement::parse(t).unwrap_err();
        assert!(err("<").contains("names no version"), "{}", err("<"));
        assert!(err(">=1 <2").contains("join comparisons with commas"));
        assert!(err("1,,2").contains("names no version"));
        assert!(err(&"1,".repeat(40)).contains("names no version"));
        assert!(err(&"<1,".repeat(20)[..59]).contains("at most 16"));
        assert!(err(&"9".repeat(600)).contains("at most 512"));
    }
}
