//! Where a path lies in a YAML (or JSON) text: the line and column of the
//! node at `cases[2].telemetry.sshd` or `a.b[0]`. serde_yaml keeps no
//! positions in its values, but gives the position of an error: a serde
//! seed walks the document along the path and fails at its end.

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;
use std::fmt;

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// `cases[2].telemetry.sshd.port` as steps.
pub fn parse_path(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                out.push(Step::Key(rest[..open].to_owned()));
            }
            rest = &rest[open..];
            while let Some(inner) = rest.strip_prefix('[') {
                let Some(close) = inner.find(']') else { break };
                if let Ok(i) = inner[..close].parse() {
                    out.push(Step::Index(i));
                }
                rest = &inner[close + 1..];
            }
        } else {
            out.push(Step::Key(rest.to_owned()));
        }
    }
    out
}

/// The line and column (1-based) of the node at `path` in the YAML `text`,
/// or of the deepest node along it that exists.
pub fn locate(text: &str, path: &[Step]) -> Option<(usize, usize)> {
    (0..=path.len()).rev().find_map(|n| find(text, &path[..n]))
}

/// The line and column (1-based) of the node at `path`, if there is one.
/// A key written twice in one map (which JSON parsers take, the last one
/// winning) is found at its last occurrence, where the value read is.
pub fn find(text: &str, path: &[Step]) -> Option<(usize, usize)> {
    // Which occurrence of each step's key to follow: the last, counted
    // along the occurrences chosen above it.
    let mut picks = Vec::with_capacity(path.len());
    for (i, step) in path.iter().enumerate() {
        let last = match step {
            Step::Key(_) => {
                let count = Cell::new(0);
                let seek = Seek { path: &path[..=i], picks: &picks, count: Some(&count) };
                // The count is all this walk gives; where it stops is not.
                let _ = seek.deserialize(serde_yaml::Deserializer::from_str(text));
                count.get().saturating_sub(1)
            }
            Step::Index(_) => 0,
        };
        picks.push(last);
    }
    let seek = Seek { path, picks: &picks, count: None };
    let err = seek.deserialize(serde_yaml::Deserializer::from_str(text)).err()?;
    // serde_yaml puts the path before the message.
    let here = err.to_string().contains(HERE);
    here.then(|| err.location().map(|l| (l.line(), l.column()))).flatten()
}

/// The error a [`Seek`] raises on reaching its node: serde_yaml gives it
/// the node's position.
const HERE: &str = "\u{0}here";

/// Walks a document along a path and fails with [`HERE`] at its end; ends
/// without error when the path does not exist. `picks[i]` is which
/// occurrence of step `i`'s key to follow (0 where none is given); with
/// `count`, the occurrences of the last step's key are counted instead.
struct Seek<'p> {
    path: &'p [Step],
    picks: &'p [usize],
    count: Option<&'p Cell<usize>>,
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Step::Key(want), rest)) = self.path.split_first() else {
            return self.here();
        };
        let mut seen = 0;
        while let Some(key) = map.next_key::<serde_yaml::Value>()? {
            let name = match &key {
                serde_yaml::Value::String(s) => s.clone(),
                serde_yaml::Value::Number(n) => n.to_string(),
                serde_yaml::Value::Bool(b) => b.to_string(),
                _ => String::new(),
            };
            if &name == want {
                let (pick, picks) = self.picks.split_first().map_or((0, &[][..]), |(p, rest)| (*p, rest));
                match self.count {
                    Some(count) if rest.is_empty() => count.set(count.get() + 1),
                    _ if seen == pick => {
                        return map.next_value_seed(Seek { path: rest, picks, count: self.count });
                    }
                    _ => {}
                }
                seen += 1;
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Step::Index(want), rest)) = self.path.split_first() else {
            return self.here();
        };
        for _ in 0..*want {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        let picks = self.picks.get(1..).unwrap_or_default();
        seq.next_element_seed(Seek { path: rest, picks, count: self.count }).map(|_| ())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.here()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.here()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.here()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.here()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.here()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.here()
    }
}

impl Seek<'_> {
    fn here<E: de::Error>(&self) -> Result<(), E> {
        if self.path.is_empty() && self.count.is_none() {
            Err(E::custom(HERE))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Step {
        Step::Key(k.to_owned())
    }

    #[test]
    fn a_key_written_twice_is_found_where_its_last_value_is() {
        let text = "{\n  \"icc\": true,\n  \"log\": {\"a\": 1},\n  \"icc\": false,\n  \"log\": {\n    \"a\": 2\n  }\n}\n";
        assert_eq!(find(text, &[key("icc")]).map(|p| p.0), Some(4));
        assert_eq!(find(text, &[key("log"), key("a")]).map(|p| p.0), Some(6));
        assert_eq!(find(text, &[key("missing")]), None);
        // A key written once, and a path through a list.
        let yaml = "a:\n  - x: 1\n  - x: 2\nb: 3\n";
        assert_eq!(find(yaml, &[key("b")]).map(|p| p.0), Some(4));
        assert_eq!(find(yaml, &[key("a"), Step::Index(1), key("x")]).map(|p| p.0), Some(3));
        assert_eq!(locate(yaml, &[key("a"), Step::Index(5)]).map(|p| p.0), Some(2));
    }
}
