//! Package parameters: values a package declares with a default
//! (`param MAX_AUTH_TRIES: int = 4`) and a scan, a test case or a fleet
//! template sets. The bundle carries each parameter's type and default; the
//! values set travel beside it, so setting one never changes the bundle's
//! digest. A parameter is named `PACKAGE.NAME`, or `NAME` alone where one
//! package of the bundle declares it.

use super::Content;
use serde::{Deserialize, Serialize};

/// The types a parameter may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParamType {
    Int,
    Str,
    Bool,
    StrList,
}

impl ParamType {
    /// As written in the language.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::Int => "int",
            ParamType::Str => "string",
            ParamType::Bool => "bool",
            ParamType::StrList => "list<string>",
        }
    }
}

/// A parameter a package declares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamMeta {
    /// Index of the package in [`Content::packages`].
    pub package: u32,
    pub name: String,
    /// The global that holds its value.
    pub global: u32,
    pub ty: ParamType,
    pub doc: String,
    pub default: ParamValue,
}

/// A parameter's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ParamValue {
    Int(i64),
    Str(String),
    Bool(bool),
    StrList(Vec<String>),
}

/// Values set for a bundle's parameters: the global each sets, and its
/// value.
pub type ParamValues = Vec<(u32, ParamValue)>;

/// The values `given` (name → value) set in `content`; every name must be a
/// parameter of the bundle and every value of its type. A value may be a
/// JSON value of the type or, as written on a command line, a string
/// (`4`, `true`, `a,b`).
pub fn resolve(content: &Content, given: &[(String, serde_json::Value)]) -> Result<ParamValues, String> {
    let mut out: ParamValues = Vec::new();
    for (name, value) in given {
        let param = find(content, name)?;
        let constant = typed(param.ty, value).map_err(|why| {
            format!("parameter `{}` is {}: {why}", qualified(content, param), param.ty.as_str())
        })?;
        match out.iter_mut().find(|(g, _)| *g == param.global) {
            Some(slot) => slot.1 = constant,
            None => out.push((param.global, constant)),
        }
    }
    Ok(out)
}

/// The values for each of several bundles evaluated together (a scan's
/// built-in and own packages, a template's packages): every name must be a
/// parameter of one of them, and each bundle gets the values of its own;
/// a later value of a parameter wins.
pub fn resolve_each(
    contents: &[&Content],
    given: &[(String, serde_json::Value)],
) -> Result<Vec<ParamValues>, String> {
    let mut out: Vec<ParamValues> = vec![Vec::new(); contents.len()];
    for (name, value) in given {
        let pair = [(name.clone(), value.clone())];
        let mut found = false;
        let mut first_error = None;
        for (i, content) in contents.iter().enumerate() {
            match resolve(content, &pair) {
                Ok(values) => {
                    found = true;
                    for (global, v) in values {
                        out[i].retain(|(g, _)| *g != global);
                        out[i].push((global, v));
                    }
                }
                // A wrong type is wrong whichever bundle declares it.
                Err(e) if !e.starts_with("no parameter") => return Err(e),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if !found {
            return Err(first_error.unwrap_or_else(|| format!("no parameter `{name}`")));
        }
    }
    Ok(out)
}

/// `given` in canonical form: each name as `PACKAGE.NAME` and each value
/// typed (a number, a boolean, a string, a list of strings), as a template
/// stores them so that the same values always read the same.
pub fn canonical(
    contents: &[&Content],
    given: &[(String, serde_json::Value)],
) -> Result<std::collections::BTreeMap<String, serde_json::Value>, String> {
    resolve_each(contents, given)?;
    let mut out = std::collections::BTreeMap::new();
    for (name, value) in given {
        for content in contents {
            if let Ok(param) = find(content, name) {
                if let Ok(typed) = typed(param.ty, value) {
                    out.insert(qualified(content, param), typed.to_json());
                }
            }
        }
    }
    Ok(out)
}

/// `PACKAGE.NAME` of `param`.
pub fn qualified(content: &Content, param: &ParamMeta) -> String {
    let package = content.packages.get(param.package as usize).map_or("", |p| p.name.as_str());
    format!("{package}.{}", param.name)
}

/// The parameter `name` names: `PACKAGE.NAME`, or `NAME` when one package
/// declares it.
fn find<'c>(content: &'c Content, name: &str) -> Result<&'c ParamMeta, String> {
    let exact = content.params.iter().find(|p| qualified(content, p) == name);
    let bare: Vec<&ParamMeta> = content.params.iter().filter(|p| p.name == name).collect();
    match (exact, bare.as_slice()) {
        (Some(p), _) => Ok(p),
        (None, [p]) => Ok(*p),
        (None, []) => {
            let all: Vec<String> = content.params.iter().map(|p| qualified(content, p)).collect();
            Err(if all.is_empty() {
                format!("no parameter `{name}`: the packages declare none")
            } else {
                format!("no parameter `{name}`; the packages declare {}", all.join(", "))
            })
        }
        (None, several) => {
            let all: Vec<String> = several.iter().map(|p| qualified(content, p)).collect();
            Err(format!("`{name}` is declared by several packages; name one: {}", all.join(", ")))
        }
    }
}

/// `value` as a value of type `ty`.
fn typed(ty: ParamType, value: &serde_json::Value) -> Result<ParamValue, String> {
    use serde_json::Value;
    match (ty, value) {
        (ParamType::Int, Value::Number(n)) => {
            n.as_i64().map(ParamValue::Int).ok_or_else(|| format!("{n} is not an integer"))
        }
        (ParamType::Int, Value::String(s)) => {
            s.trim().parse().map(ParamValue::Int).map_err(|_| format!("{s:?} is not an integer"))
        }
        (ParamType::Bool, Value::Bool(b)) => Ok(ParamValue::Bool(*b)),
        (ParamType::Bool, Value::String(s)) => match s.trim() {
            "true" => Ok(ParamValue::Bool(true)),
            "false" => Ok(ParamValue::Bool(false)),
            _ => Err(format!("{s:?} is not `true` or `false`")),
        },
        (ParamType::Str, Value::String(s)) => Ok(ParamValue::Str(s.clone())),
        (ParamType::StrList, Value::String(s)) => Ok(ParamValue::StrList(
            s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect(),
        )),
        (ParamType::StrList, Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or_else(|| format!("{i} is not a string")))
            .collect::<Result<_, _>>()
            .map(ParamValue::StrList),
        (_, other) => Err(format!("{other} is not one")),
    }
}

impl ParamValue {
    /// As JSON: a number, a boolean, a string or a list of strings.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ParamValue::Int(i) => serde_json::Value::from(*i),
            ParamValue::Bool(b) => serde_json::Value::from(*b),
            ParamValue::Str(s) => serde_json::Value::from(s.as_str()),
            ParamValue::StrList(items) => serde_json::Value::from(items.clone()),
        }
    }
}

impl std::fmt::Display for ParamValue {
    /// As people write it: `4`, `true`, `a, b`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Str(s) => f.write_str(s),
            ParamValue::StrList(items) => f.write_str(&items.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn content() -> Content {
        let mut c = Content::default();
        for name in ["ssh", "web"] {
            c.packages.push(super::super::PackageMeta { name: name.into(), ..Default::default() });
        }
        let param = |package, name: &str, global, ty, default| ParamMeta {
            package,
            name: name.into(),
            global,
            ty,
            doc: String::new(),
            default,
        };
        c.params = vec![
            param(0, "MAX_TRIES", 0, ParamType::Int, ParamValue::Int(4)),
            param(0, "PORTS", 1, ParamType::StrList, ParamValue::StrList(vec![])),
            param(1, "MAX_TRIES", 2, ParamType::Int, ParamValue::Int(4)),
            param(1, "STRICT", 3, ParamType::Bool, ParamValue::Bool(false)),
        ];
        c
    }

    #[test]
    fn values_are_typed_and_names_resolved() {
        let c = content();
        let got = resolve(
            &c,
            &[
                ("ssh.MAX_TRIES".into(), json!("3")),
                ("STRICT".into(), json!(true)),
                ("PORTS".into(), json!("22, 2222")),
                ("web.MAX_TRIES".into(), json!(5)),
            ],
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                (0, ParamValue::Int(3)),
                (3, ParamValue::Bool(true)),
                (1, ParamValue::StrList(vec!["22".into(), "2222".into()])),
                (2, ParamValue::Int(5)),
            ]
        );
    }

    #[test]
    fn unknown_ambiguous_and_mistyped_values_are_errors_naming_them() {
        let c = content();
        let err = |name: &str, v| resolve(&c, &[(name.to_owned(), v)]).unwrap_err();
        assert!(
            err("MAX_TRIES", json!(3)).contains("several packages; name one: ssh.MAX_TRIES, web.MAX_TRIES")
        );
        assert!(err("ssh.MAX_TRIE", json!(3)).contains("no parameter `ssh.MAX_TRIE`; the packages declare"));
        assert_eq!(
            err("ssh.MAX_TRIES", json!("three")),
            "parameter `ssh.MAX_TRIES` is int: \"three\" is not an integer"
        );
        assert!(err("STRICT", json!("yes")).contains("is not `true` or `false`"));
        assert!(err("PORTS", json!([22])).contains("22 is not a string"));
    }
}
