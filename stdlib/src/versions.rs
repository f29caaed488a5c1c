//! Version comparison, one scheme per ecosystem: dpkg (Debian, Ubuntu), rpm,
//! apk (Alpine), PEP 440 (Python) and semantic versioning. Every function is
//! total: any two strings compare, malformed parts compare as text.

use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Dpkg,
    Rpm,
    Apk,
    Pep440,
    Semver,
}

impl Scheme {
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Rpm => "rpm",
            Scheme::Apk => "apk",
            Scheme::Pep440 => "PEP 440",
            Scheme::Semver => "semantic",
        }
    }
}

pub fn compare(scheme: Scheme, a: &str, b: &str) -> Ordering {
    match scheme {
        Scheme::Dpkg => dpkg(a, b),
        Scheme::Rpm => rpm(a, b),
        Scheme::Apk => apk(a, b),
        Scheme::Pep440 => pep440(a, b),
        Scheme::Semver => semver(a, b),
    }
}

// ---------------------------------------------------------------- dpkg

/// `dpkg --compare-versions`: epoch, upstream version, Debian revision.
pub fn dpkg(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = dpkg_split(a);
    let (eb, ub, rb) = dpkg_split(b);
    ea.cmp(&eb).then_with(|| verrevcmp(ua, ub)).then_with(|| verrevcmp(ra, rb))
}

fn dpkg_split(v: &str) -> (u64, &str, &str) {
    let v = v.trim();
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

fn dpkg_order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = dpkg_order(a.get(i).copied());
            let bc = dpkg_order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

// ---------------------------------------------------------------- rpm

/// rpm's `rpmvercmp` over `[epoch:]version[-release]`.
pub fn rpm(a: &str, b: &str) -> Ordering {
    let split = |v: &str| -> (u64, String, String) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, rest)) if e.bytes().all(|c| c.is_ascii_digit()) && !e.is_empty() => {
                (e.parse().unwrap_or(u64::MAX), rest)
            }
            _ => (0, v),
        };
        match rest.rsplit_once('-') {
            Some((ver, rel)) => (epoch, ver.to_owned(), rel.to_owned()),
            None => (epoch, rest.to_owned(), String::new()),
        }
    };
    let (ea, va, ra) = split(a.trim());
    let (eb, vb, rb) = split(b.trim());
    ea.cmp(&eb).then_with(|| rpmvercmp(&va, &vb)).then_with(|| {
        if ra.is_empty() || rb.is_empty() {
            Ordering::Equal
        } else {
            rpmvercmp(&ra, &rb)
        }
    })
}

pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let sep = |c: u8| !c.is_ascii_alphanumeric() && c != b'~' && c != b'^';
    loop {
        while i < a.len() && sep(a[i]) {
            i += 1;
        }
        while j < b.len() && sep(b[j]) {
            j += 1;
        }
        // `~` sorts before anything, even the end.
        match (a.get(i) == Some(&b'~'), b.get(j) == Some(&b'~')) {
            (true, true) => {
                i += 1;
                j += 1;
                continue;
            }
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        // `^` sorts after the end but before anything else.
        match (a.get(i) == Some(&b'^'), b.get(j) == Some(&b'^')) {
            (true, true) => {
                i += 1;
                j += 1;
                continue;
            }
            (true, false) => return if j >= b.len() { Ordering::Greater } else { Ordering::Less },
            (false, true) => return if i >= a.len() { Ordering::Less } else { Ordering::Greater },
            _ => {}
        }
        if i >= a.len() || j >= b.len() {
            break;
        }
        let numeric = a[i].is_ascii_digit();
        let take = |s: &[u8], mut k: usize| {
            let start = k;
            while k < s.len() && (if numeric { s[k].is_ascii_digit() } else { s[k].is_ascii_alphabetic() }) {
                k += 1;
            }
            (start, k)
        };
        let (sa, ea) = take(a, i);
        let (sb, eb) = take(b, j);
        if sb == eb {
            // Segments of different kinds: the numeric one is newer.
            return if numeric { Ordering::Greater } else { Ordering::Less };
        }
        let (mut x, mut y) = (&a[sa..ea], &b[sb..eb]);
        if numeric {
            while x.first() == Some(&b'0') {
                x = &x[1..];
            }
            while y.first() == Some(&b'0') {
                y = &y[1..];
            }
            let by_len = x.len().cmp(&y.len());
            if by_len != Ordering::Equal {
                return by_len;
            }
        }
        let c = x.cmp(y);
        if c != Ordering::Equal {
            return c;
        }
        i = ea;
        j = eb;
    }
    match (i >= a.len(), j >= b.len()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

// ---------------------------------------------------------------- apk

/// Alpine's apk: `1.2.3a_rc1_p2-r4`: numbers, an optional letter, suffixes,
/// and the package revision.
pub fn apk(a: &str, b: &str) -> Ordering {
    let pa = apk_parse(a.trim());
    let pb = apk_parse(b.trim());
    match (pa, pb) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Debug)]
struct ApkVersion {
    numbers: Vec<ApkNum>,
    letter: u8,
    suffixes: Vec<(i8, u64)>,
    /// `(0, 0)` plus a terminator so that fewer suffixes compare right.
    hash: String,
    revision: u64,
}

/// One dotted component; the first compares as a number, later ones as
/// numbers too unless they have a leading zero (then as a fraction).
#[derive(PartialEq, Eq, PartialOrd, Ord, Debug)]
struct ApkNum(u64, String);

fn apk_suffix(s: &str) -> Option<i8> {
    Some(match s {
        "alpha" => -4,
        "beta" => -3,
        "pre" => -2,
        "rc" => -1,
        "cvs" => 1,
        "svn" => 2,
        "git" => 3,
        "hg" => 4,
        "p" => 5,
        _ => return None,
    })
}

fn apk_parse(v: &str) -> Option<ApkVersion> {
    let (v, revision) = match v.rsplit_once("-r") {
        Some((v, r)) if r.bytes().all(|c| c.is_ascii_digit()) && !r.is_empty() => (v, r.parse().ok()?),
        _ => (v, 0),
    };
    let (v, hash) = match v.split_once('~') {
        Some((v, h)) => (v, h.to_owned()),
        None => (v, String::new()),
    };
    let mut parts = v.split('_');
    let head = parts.next()?;
    let mut numbers = Vec::new();
    let mut letter = 0u8;
    for (k, comp) in head.split('.').enumerate() {
        let digits: String = comp.chars().take_while(char::is_ascii_digit).collect();
        let rest = &comp[digits.len()..];
        if digits.is_empty() {
            return None;
        }
        let fraction = if k > 0 && digits.starts_with('0') { digits.clone() } else { String::new() };
        numbers
            .push(ApkNum(if fraction.is_empty() { digits.parse().unwrap_or(u64::MAX) } else { 0 }, fraction));
        match rest.as_bytes() {
            [] => {}
            [c] if c.is_ascii_lowercase() => letter = *c,
            _ => return None,
        }
    }
    let mut suffixes = Vec::new();
    for s in parts {
        let name: String = s.chars().take_while(char::is_ascii_alphabetic).collect();
        let n = s[name.len()..].parse().unwrap_or(0);
        suffixes.push((apk_suffix(&name)?, n));
    }
    // No suffix sorts between the pre-release ones (negative) and the others.
    suffixes.push((0, 0));
    Some(ApkVersion { numbers, letter, suffixes, hash, revision })
}

// ---------------------------------------------------------------- PEP 440

#[derive(PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Pep440 {
    epoch: u64,
    release: Vec<u64>,
    /// Pre-release: (phase, n); a dev-only release sorts before any pre-release,
    /// a final release after them.
    pre: (i8, u64),
    post: (i8, u64),
    dev: (i8, u64),
    local: Vec<(u8, u64, String)>,
}

fn pep440_parse(v: &str) -> Option<Pep440> {
    let v = v.trim().to_ascii_lowercase();
    let v = v.strip_prefix('v').unwrap_or(&v);
    let (v, local) = match v.split_once('+') {
        Some((v, l)) => (v, Some(l)),
        None => (v, None),
    };
    let (epoch, v) = match v.split_once('!') {
        Some((e, rest)) => (e.parse().ok()?, rest),
        None => (0, v),
    };
    let bytes = v.as_bytes();
    let mut k = 0;
    let mut release = Vec::new();
    loop {
        let start = k;
        while k < bytes.len() && bytes[k].is_ascii_digit() {
            k += 1;
        }
        if start == k {
            return None;
        }
        release.push(v[start..k].parse().ok()?);
        if k + 1 < bytes.len() && bytes[k] == b'.' && bytes[k + 1].is_ascii_digit() {
            k += 1;
        } else {
            break;
        }
    }
    while release.len() > 1 && release.last() == Some(&0) {
        release.pop();
    }
    let mut rest = &v[k..];
    let number = |rest: &mut &str| -> u64 {
        let r = rest.trim_start_matches(['.', '-', '_']);
        let digits: String = r.chars().take_while(char::is_ascii_digit).collect();
        *rest = &r[digits.len()..];
        digits.parse().unwrap_or(0)
    };
    let mut pre = None;
    let mut post = None;
    let mut dev = None;
    loop {
        let trimmed = rest.trim_start_matches(['.', '-', '_']);
        if trimmed.is_empty() {
            break;
        }
        let word: String = trimmed.chars().take_while(char::is_ascii_alphabetic).collect();
        let mut after = &trimmed[word.len()..];
        match word.as_str() {
            "a" | "alpha" => pre = Some((0i8, number(&mut after))),
            "b" | "beta" => pre = Some((1, number(&mut after))),
            "rc" | "c" | "pre" | "preview" => pre = Some((2, number(&mut after))),
            "post" | "rev" | "r" => post = Some(number(&mut after)),
            "dev" => dev = Some(number(&mut after)),
            "" if rest.starts_with('-') && trimmed.starts_with(|c: char| c.is_ascii_digit()) => {
                post = Some(number(&mut after))
            }
            _ => return None,
        }
        rest = after;
    }
    let pre = match (pre, &post, &dev) {
        (Some((phase, n)), _, _) => (phase, n),
        (None, None, Some(_)) => (-1, 0),
        _ => (3, 0),
    };
    let local = local
        .map(|l| {
            l.split(['.', '-', '_'])
                .map(|seg| match seg.parse::<u64>() {
                    Ok(n) => (1, n, String::new()),
                    Err(_) => (0, 0, seg.to_owned()),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Pep440 {
        epoch,
        release,
        pre,
        post: post.map_or((-1, 0), |n| (0, n)),
        dev: dev.map_or((1, 0), |n| (0, n)),
        local,
    })
}

pub fn pep440(a: &str, b: &str) -> Ordering {
    match (pep440_parse(a), pep440_parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

// ---------------------------------------------------------------- semver

pub fn semver(a: &str, b: &str) -> Ordering {
    let split = |v: &str| -> (Vec<u64>, Option<String>) {
        let v = v.trim().trim_start_matches('v');
        let v = v.split('+').next().unwrap_or(v);
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p.to_owned())),
            None => (v, None),
        };
        let mut nums: Vec<u64> = core.split('.').map(|p| p.parse().unwrap_or(0)).collect();
        nums.resize(3.max(nums.len()), 0);
        (nums, pre)
    };
    let (na, pa) = split(a);
    let (nb, pb) = split(b);
    na.cmp(&nb).then_with(|| match (pa, pb) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let xs: Vec<&str> = x.split('.').collect();
            let ys: Vec<&str> = y.split('.').collect();
            for (p, q) in xs.iter().zip(&ys) {
                let c = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    _ => p.cmp(q),
                };
                if c != Ordering::Equal {
                    return c;
                }
            }
            xs.len().cmp(&ys.len())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn dpkg_orders_epochs_tildes_and_revisions() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1:1.0", "2.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+deb12u1", Less),
            ("1.0-1", "1.0-1+deb12u1", Less),
            ("3.0.15-1~deb12u1", "3.0.11-1~deb12u2", Greater),
            ("1.0-1", "1.0-10", Less),
            ("1.0a", "1.0", Greater),
            ("1.0~~", "1.0~", Less),
            ("007", "7", Equal),
            ("2.36-9+deb12u7", "2.36-9+deb12u10", Less),
        ] {
            assert_eq!(dpkg(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn rpm_orders_like_rpmvercmp() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "2.0", Less),
            ("2.0.1", "2.0", Greater),
            ("1.0a", "1.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.01", Less),
            ("5.8", "5.08", Equal),
            ("1:1.0-1", "2.0-1", Greater),
            ("1.0-1.el9", "1.0-2.el9", Less),
            ("a", "1", Less),
        ] {
            assert_eq!(rpm(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn apk_orders_suffixes_and_revisions() {
        for (a, b, want) in [
            ("1.2.3-r0", "1.2.3-r1", Less),
            ("1.2.3_rc1-r0", "1.2.3-r0", Less),
            ("1.2.3_p1-r0", "1.2.3-r0", Greater),
            ("1.2.3a", "1.2.3", Greater),
            ("3.3.2-r0", "3.10.1-r0", Less),
            ("1.2.3_alpha", "1.2.3_beta", Less),
        ] {
            assert_eq!(apk(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn pep440_orders_pre_post_dev_and_local() {
        for (a, b, want) in [
            ("1.0", "1.0.0", Equal),
            ("1.0a1", "1.0", Less),
            ("1.0.dev1", "1.0a1", Less),
            ("1.0rc1", "1.0", Less),
            ("1.0.post1", "1.0", Greater),
            ("1.0-1", "1.0.post1", Equal),
            ("1!0.1", "2.0", Greater),
            ("1.0+local", "1.0", Greater),
            ("2.31.0", "2.4.0", Greater),
            ("1.0b2", "1.0rc1", Less),
        ] {
            assert_eq!(pep440(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn semver_orders_prereleases() {
        assert_eq!(semver("1.0.0-alpha", "1.0.0"), Less);
        assert_eq!(semver("1.0.0-alpha.1", "1.0.0-alpha.beta"), Less);
        assert_eq!(semver("1.10.0", "1.9.0"), Greater);
    }
}
