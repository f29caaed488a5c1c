//! `x in [...]` over a constant list of strings, the test of most package
//! rules (`p.name in ["telnetd", "rsh-server"]`). Each string of the list
//! carries a signature of its length and three of its bytes, so an item is
//! compared in full only with the strings whose signature it shares: among
//! package names, which mostly differ in length or last byte, that is
//! seldom. The answer is `==`'s on every string.

use std::rc::Rc;

/// A constant list whose items are all strings, with their signatures.
#[derive(Debug)]
pub(super) struct Strings {
    signatures: Box<[u64]>,
    items: Box<[Rc<str>]>,
}

impl Strings {
    /// `None` unless every item of `list` is a string (another list keeps
    /// the general comparison, type faults included).
    pub(super) fn of(list: &[super::Value]) -> Option<Strings> {
        let items: Box<[Rc<str>]> = list
            .iter()
            .map(|v| match v {
                super::Value::Str(s) => Some(Rc::clone(s)),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let signatures = items.iter().map(|s| signature(s.as_bytes())).collect();
        Some(Strings { signatures, items })
    }

    #[inline]
    pub(super) fn contains(&self, item: &str) -> bool {
        let wanted = signature(item.as_bytes());
        self.signatures.iter().zip(self.items.iter()).any(|(s, i)| *s == wanted && **i == *item)
    }
}

/// Equal strings have equal signatures: the length (its low 32 bits) and
/// the first, middle and last bytes.
#[inline(always)]
fn signature(s: &[u8]) -> u64 {
    let len = s.len();
    let byte = |at: usize| u64::from(s.get(at).copied().unwrap_or(0));
    (len as u64 & 0xffff_ffff) | byte(0) << 32 | byte(len / 2) << 40 | byte(len.wrapping_sub(1)) << 48
}

#[cfg(test)]
mod tests;
