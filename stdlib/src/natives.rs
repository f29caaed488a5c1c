//! The implementations behind [`crate::NATIVES`], on a small value type the
//! VM converts to and from.

use std::fmt;

/// A value passed to or returned by a native.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
    /// An optional without a value.
    Absent,
}

/// A native refused its arguments (wrong types or count: the verifier and the
/// type checker make this unreachable for well-formed bundles).
#[derive(Clone, Debug, PartialEq)]
pub struct NativeError(pub String);

impl fmt::Display for NativeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn str_arg(args: &[Value], i: usize) -> Result<&str, NativeError> {
    match args.get(i) {
        Some(Value::Str(s)) => Ok(s),
        other => Err(NativeError(format!("argument {} should be a string, found {other:?}", i + 1))),
    }
}

fn int_arg(args: &[Value], i: usize) -> Result<i64, NativeError> {
    match args.get(i) {
        Some(Value::Int(v)) => Ok(*v),
        other => Err(NativeError(format!("argument {} should be an integer, found {other:?}", i + 1))),
    }
}

fn list_arg(args: &[Value], i: usize) -> Result<&[Value], NativeError> {
    match args.get(i) {
        Some(Value::List(v)) => Ok(v),
        other => Err(NativeError(format!("argument {} should be a list, found {other:?}", i + 1))),
    }
}

fn len(n: usize) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Calls native number `index` of [`crate::NATIVES`].
pub fn call(index: u16, args: &[Value]) -> Result<Value, NativeError> {
    let Some(native) = crate::NATIVES.get(usize::from(index)) else {
        return Err(NativeError(format!("no native number {index}")));
    };
    if args.len() != native.params.len() {
        return Err(NativeError(format!(
            "{} takes {} arguments, given {}",
            native.signature(),
            native.params.len(),
            args.len()
        )));
    }
    Ok(match (native.module, native.name) {
        ("strings", "lower") => Value::Str(str_arg(args, 0)?.to_lowercase()),
        ("strings", "upper") => Value::Str(str_arg(args, 0)?.to_uppercase()),
        ("strings", "trim") => Value::Str(str_arg(args, 0)?.trim().to_owned()),
        ("strings", "len") => len(str_arg(args, 0)?.chars().count()),
        ("strings", "split") => {
            let (s, sep) = (str_arg(args, 0)?, str_arg(args, 1)?);
            let parts: Vec<Value> = if sep.is_empty() {
                s.split_whitespace().map(|p| Value::Str(p.to_owned())).collect()
            } else {
                s.split(sep).map(|p| Value::Str(p.to_owned())).collect()
            };
            Value::List(parts)
        }
        ("strings", "join") => {
            let parts = list_arg(args, 0)?;
            let sep = str_arg(args, 1)?;
            let mut out = String::new();
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                match part {
                    Value::Str(s) => out.push_str(s),
                    other => return Err(NativeError(format!("join: {other:?} is not a string"))),
                }
            }
            Value::Str(out)
        }
        ("strings", "replace") => {
            let (s, from, to) = (str_arg(args, 0)?, str_arg(args, 1)?, str_arg(args, 2)?);
            if from.is_empty() {
                Value::Str(s.to_owned())
            } else {
                Value::Str(s.replace(from, to))
            }
        }
        ("strings", "to_int") => match str_arg(args, 0)?.trim().parse::<i64>() {
            Ok(v) => Value::Int(v),
            Err(_) => Value::Absent,
        },
        ("dates", "days") => match days(str_arg(args, 0)?.trim()) {
            Some(d) => Value::Int(d),
            None => Value::Absent,
        },
        ("lists", "len") => len(list_arg(args, 0)?.len()),
        ("lists", "get") => {
            let items = list_arg(args, 0)?;
            match usize::try_from(int_arg(args, 1)?).ok().and_then(|i| items.get(i)) {
                Some(Value::Str(s)) => Value::Str(s.clone()),
                Some(other) => {
                    return Err(NativeError(format!("lists.get: a list of strings holds {other:?}")))
                }
                None => Value::Absent,
            }
        }
        ("bits", "and") => Value::Int(int_arg(args, 0)? & int_arg(args, 1)?),
        ("bits", "or") => Value::Int(int_arg(args, 0)? | int_arg(args, 1)?),
        ("bits", "any") => Value::Bool(int_arg(args, 0)? & int_arg(args, 1)? != 0),
        ("modes", "octal") => Value::Str(format!("{:04o}", int_arg(args, 0)? & 0o7777)),
        ("modes", "parse") => {
            let text = str_arg(args, 0)?.trim();
            match i64::from_str_radix(text, 8) {
                Ok(v) if (1..=4).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) => {
                    Value::Int(v)
                }
                _ => Value::Absent,
            }
        }
        ("modes", "others_can_write") => Value::Bool(int_arg(args, 0)? & 0o002 != 0),
        ("modes", "group_or_others_can_write") => Value::Bool(int_arg(args, 0)? & 0o022 != 0),
        ("net", "is_loopback") => {
            let a = str_arg(args, 0)?;
            Value::Bool(a.starts_with("127.") || a == "::1" || a == "localhost" || a == "::ffff:127.0.0.1")
        }
        ("net", "is_wildcard") => Value::Bool(matches!(str_arg(args, 0)?, "0.0.0.0" | "::" | "*" | "[::]")),
        ("net", "in_cidr") => match (address(str_arg(args, 0)?), cidr(str_arg(args, 1)?)) {
            (Some(a), Some((net, bits))) => Value::Bool(in_block(a, net, bits)),
            _ => Value::Absent,
        },
        ("net", "is_private") => match address(str_arg(args, 0)?) {
            Some(a) => {
                Value::Bool(PRIVATE.iter().any(|b| cidr(b).is_some_and(|(net, bits)| in_block(a, net, bits))))
            }
            None => Value::Absent,
        },
        (module, name) => return Err(NativeError(format!("{module}.{name} has no implementation"))),
    })
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (exactly that), or `None`
/// when it is not a real date. The one civil-date conversion: waivers'
/// expiry dates are read with it too.
pub fn date_days(date: &str) -> Option<i64> {
    let num = |s: &str| s.bytes().all(|b| b.is_ascii_digit()).then(|| s.parse::<i64>().ok()).flatten();
    if date.len() != 10 || date.as_bytes()[4] != b'-' || date.as_bytes()[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(date.get(..4)?)?, num(date.get(5..7)?)?, num(date.get(8..10)?)?);
    if !(1..=12).contains(&m) {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if d < 1 || d > month_days[(m - 1) as usize] {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Days since 1970-01-01 of `YYYY-MM-DD` or an RFC 3339 time (its UTC
/// day: `2026-12-07T01:00:00+02:00` is 2026-12-06).
fn days(text: &str) -> Option<i64> {
    let num = |s: &str| s.bytes().all(|b| b.is_ascii_digit()).then(|| s.parse::<i64>().ok()).flatten();
    let day = date_days(text.get(..10)?)?;
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(day);
    }
    // `THH:MM:SS[.frac](Z|±HH:MM)`: the offset moves the instant across
    // midnight UTC.
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (h, mi) = (num(rest.get(..2)?)?, num(rest.get(3..5)?)?);
    if rest.as_bytes().get(2) != Some(&b':') || h > 23 || mi > 59 {
        return None;
    }
    let zone = rest.find(['Z', 'z', '+', '-'])?;
    let offset = match &rest[zone..] {
        "Z" | "z" => 0,
        z if z.len() == 6 && z.as_bytes()[3] == b':' => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            sign * (num(&z[1..3])? * 60 + num(&z[4..6])?)
        }
        _ => return None,
    };
    let minutes = day * 1440 + h * 60 + mi - offset;
    Some(minutes.div_euclid(1440))
}

/// The private ranges of `net.is_private`.
const PRIVATE: &[&str] = &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];

/// An address as written in configuration: `10.0.0.1`, `::1`, `[::1]`,
/// or with a prefix length (`10.0.0.0/8`, the prefix ignored).
fn address(text: &str) -> Option<std::net::IpAddr> {
    let text = text.trim();
    let text = text.split_once('/').map_or(text, |(a, _)| a);
    let text = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
    text.parse().ok()
}

/// Why `text` is not a CIDR block `net.in_cidr` can use, if it is not.
pub fn cidr_error(text: &str) -> Option<String> {
    if cidr(text).is_some() {
        return None;
    }
    Some(match text.trim().split_once('/') {
        Some((net, _)) if address(net).is_none() => format!("`{net}` is not an IPv4 or IPv6 address"),
        Some((_, bits)) => {
            format!("`/{bits}` is not a prefix length of the address (0 to 32 for IPv4, 0 to 128 for IPv6)")
        }
        None => format!("`{}` is not an IPv4 or IPv6 address", text.trim()),
    })
}

/// A CIDR block: its address and prefix length (an address alone is a
/// block of one).
fn cidr(text: &str) -> Option<(std::net::IpAddr, u32)> {
    let text = text.trim();
    let (net, bits) = match text.split_once('/') {
        Some((net, bits)) => (address(net)?, bits.parse::<u32>().ok()?),
        None => {
            let a = address(text)?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if net.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((net, bits))
}

fn in_block(a: std::net::IpAddr, net: std::net::IpAddr, bits: u32) -> bool {
    use std::net::IpAddr;
    // An IPv4-mapped IPv6 address is its IPv4 address.
    let a = match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    };
    match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{lookup, NATIVES};

    fn run(module: &str, name: &str, args: &[Value]) -> Value {
        let (index, _) = lookup(module, name).unwrap();
        call(index, args).unwrap()
    }

    #[test]
    fn every_declared_native_has_an_implementation() {
        for (i, native) in NATIVES.iter().enumerate() {
            let args: Vec<Value> = native
                .params
                .iter()
                .map(|(_, t)| match t {
                    crate::Ty::Int => Value::Int(0),
                    crate::Ty::Bool => Value::Bool(false),
                    crate::Ty::List(_) => Value::List(vec![]),
                    _ => Value::Str(String::new()),
                })
                .collect();
            let result = call(i as u16, &args);
            assert!(result.is_ok(), "{}: {result:?}", native.signature());
        }
    }

    #[test]
    fn natives_compute() {
        assert_eq!(run("strings", "lower", &[Value::Str("YeS".into())]), Value::Str("yes".into()));
        assert_eq!(run("strings", "to_int", &[Value::Str(" 42 ".into())]), Value::Int(42));
        assert_eq!(run("strings", "to_int", &[Value::Str("x".into())]), Value::Absent);
        assert_eq!(
            run("strings", "split", &[Value::Str("a  b".into()), Value::Str(String::new())]),
            Value::List(vec![Value::Str("a".into()), Value::Str("b".into())])
        );
        assert_eq!(run("modes", "octal", &[Value::Int(0o4755)]), Value::Str("4755".into()));
        assert_eq!(run("modes", "parse", &[Value::Str("027".into())]), Value::Int(0o027));
        assert_eq!(run("modes", "parse", &[Value::Str(" 0640".into())]), Value::Int(0o640));
        assert_eq!(run("modes", "parse", &[Value::Str("u=rwx".into())]), Value::Absent);
        assert_eq!(run("modes", "parse", &[Value::Str("+17".into())]), Value::Absent);
        assert_eq!(run("modes", "parse", &[Value::Str("00000".into())]), Value::Absent);
        assert_eq!(run("modes", "others_can_write", &[Value::Int(0o1777)]), Value::Bool(true));
        assert_eq!(run("modes", "group_or_others_can_write", &[Value::Int(0o755)]), Value::Bool(false));
        assert_eq!(run("bits", "any", &[Value::Int(0o640), Value::Int(0o040)]), Value::Bool(true));
        assert_eq!(run("net", "is_loopback", &[Value::Str("127.0.0.53".into())]), Value::Bool(true));
    }

    #[test]
    fn list_items_by_index() {
        let items = Value::List(vec![Value::Str("a".into()), Value::Str("b".into())]);
        assert_eq!(run("lists", "get", &[items.clone(), Value::Int(1)]), Value::Str("b".into()));
        assert_eq!(run("lists", "get", &[items.clone(), Value::Int(2)]), Value::Absent);
        assert_eq!(run("lists", "get", &[items, Value::Int(-1)]), Value::Absent);
    }

    #[test]
    fn addresses_in_blocks() {
        let days = |t: &str| run("dates", "days", &[Value::Str(t.into())]);
        assert_eq!(days("1970-01-01"), Value::Int(0));
        assert_eq!(days("2026-12-07"), Value::Int(20_794));
        assert_eq!(days("2026-12-07T00:21:21Z"), Value::Int(20_794));
        assert_eq!(days("2026-12-07T01:00:00+02:00"), Value::Int(20_793));
        assert_eq!(days("2026-12-06T23:30:00.5-01:00"), Value::Int(20_794));
        assert_eq!(days("2024-02-29"), Value::Int(19_782));
        for bad in
            ["2023-02-29", "2026-13-01", "yesterday", "2026-12-07T25:00:00Z", "2026-12-07T10:00:00", ""]
        {
            assert_eq!(days(bad), Value::Absent, "{bad}");
        }
        let in_cidr = |a: &str, c: &str| run("net", "in_cidr", &[Value::Str(a.into()), Value::Str(c.into())]);
        assert_eq!(in_cidr("10.1.2.3", "10.0.0.0/8"), Value::Bool(true));
        assert_eq!(in_cidr("11.1.2.3", "10.0.0.0/8"), Value::Bool(false));
        assert_eq!(in_cidr("0.0.0.0/0", "10.0.0.0/8"), Value::Bool(false));
        assert_eq!(in_cidr("172.31.255.255", "172.16.0.0/12"), Value::Bool(true));
        assert_eq!(in_cidr("172.32.0.0", "172.16.0.0/12"), Value::Bool(false));
        assert_eq!(in_cidr("1.2.3.4", "0.0.0.0/0"), Value::Bool(true));
        assert_eq!(in_cidr("[fd00::1]", "fc00::/7"), Value::Bool(true));
        assert_eq!(in_cidr("::ffff:10.0.0.1", "10.0.0.0/8"), Value::Bool(true));
        assert_eq!(in_cidr("2001:db8::1", "10.0.0.0/8"), Value::Bool(false));
        assert_eq!(in_cidr("10.0.0.1", "10.0.0.1"), Value::Bool(true));
        assert_eq!(in_cidr("all", "10.0.0.0/8"), Value::Absent);
        assert_eq!(in_cidr("10.0.0.1", "10.0.0.0/33"), Value::Absent);
        let private = |a: &str| run("net", "is_private", &[Value::Str(a.into())]);
        assert_eq!(private("192.168.1.10"), Value::Bool(true));
        assert_eq!(private("8.8.8.8"), Value::Bool(false));
        assert_eq!(private("fd12::1"), Value::Bool(true));
        assert_eq!(private("samehost"), Value::Absent);
    }

    #[test]
    fn wrong_arguments_are_errors_not_panics() {
        let (index, _) = lookup("strings", "lower").unwrap();
        assert!(call(index, &[]).is_err());
        assert!(call(index, &[Value::Int(1)]).is_err());
        assert!(call(9999, &[]).is_err());
    }
}
