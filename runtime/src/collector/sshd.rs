//! The SSH server's effective configuration, read the way sshd reads it:
//! `Include` expanded in place (globs, paths relative to /etc/ssh, sorted),
//! keywords case-insensitive, the first value of a keyword wins (lists such
//! as `AllowUsers` and `Port` accumulate), `Match` blocks kept apart, and
//! OpenSSH's defaults for keywords left unset. Every value records the file
//! and line it came from.

use super::fs::{FsError, RootFs};
use super::Ctx;
use assay_model::telemetry::{Provenance, Sourced, Sshd, SshdMatch, SshdSetting};

const MAIN: &str = "/etc/ssh/sshd_config";
const MAX_INCLUDE_DEPTH: usize = 16;
/// The most files one configuration may read through `Include`, and the
/// most directives in all of them: a fan-out of includes (each file
/// including the next several times) would otherwise never end.
pub const MAX_FILES: usize = 256;
pub const MAX_DIRECTIVES: usize = 50_000;

/// What is left to read; once spent, reading stops with one recorded error.
struct Budget {
    files: usize,
    directives: usize,
    spent: bool,
}

impl Budget {
    fn new() -> Self {
        Budget { files: MAX_FILES, directives: MAX_DIRECTIVES, spent: false }
    }

    fn spend(&mut self, what: &str, errors: &mut Vec<(String, String)>, path: &str) -> bool {
        let left = if what == "file" { &mut self.files } else { &mut self.directives };
        if *left == 0 {
            if !self.spent {
                self.spent = true;
                errors.push((
                    path.to_owned(),
                    format!(
                        "stopped reading the configuration at the limit of {MAX_FILES} files and {MAX_DIRECTIVES} \
                         directives (an Include fan-out?); what follows is not read"
                    ),
                ));
            }
            return false;
        }
        *left -= 1;
        true
    }
}

#[derive(Clone, Debug)]
struct Entry {
    keyword: String,
    args: Vec<String>,
    file: String,
    line: u32,
}

impl Entry {
    fn source(&self) -> Provenance {
        Provenance::file(self.file.clone(), self.line)
    }

    fn value(&self) -> String {
        self.args.join(" ")
    }
}

#[derive(Default)]
struct Parsed {
    global: Vec<Entry>,
    matches: Vec<(Entry, Vec<Entry>)>,
}

/// Keywords whose lines add up rather than the first winning.
const ACCUMULATE: &[&str] = &[
    "allowusers",
    "denyusers",
    "allowgroups",
    "denygroups",
    "port",
    "listenaddress",
    "acceptenv",
    "hostkey",
    "subsystem",
];

pub fn collect(ctx: &mut Ctx) -> Option<Sshd> {
    let fs = &ctx.fs;
    match fs.metadata(MAIN) {
        Ok(_) => {}
        Err(FsError::NotFound) => return None,
        Err(e) => {
            ctx.error("sshd", Some(MAIN), &e);
            return None;
        }
    }
    let mut parsed = Parsed::default();
    let mut errors = Vec::new();
    let mut stack = Vec::new();
    let mut in_match = false;
    let mut budget = Budget::new();
    parse_file(fs, MAIN, &mut stack, &mut parsed, &mut in_match, &mut errors, &mut budget);
    for (path, message) in errors {
        ctx.error("sshd", Some(&path), &message);
    }
    let (sshd, problems) = effective(&parsed);
    for (path, message) in problems {
        ctx.error("sshd", Some(&path), &message);
    }
    Some(sshd)
}

fn parse_file(
    fs: &RootFs,
    path: &str,
    stack: &mut Vec<String>,
    out: &mut Parsed,
    in_match: &mut bool,
    errors: &mut Vec<(String, String)>,
    budget: &mut Budget,
) {
    if budget.spent || !budget.spend("file", errors, path) {
        return;
    }
    if stack.iter().any(|p| p == path) {
        errors.push((path.to_owned(), format!("Include cycle: {} → {path}", stack.join(" → "))));
        return;
    }
    if stack.len() >= MAX_INCLUDE_DEPTH {
        errors.push((path.to_owned(), format!("Include nested deeper than {MAX_INCLUDE_DEPTH} files")));
        return;
    }
    let text = match fs.read(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push((path.to_owned(), e.to_string()));
            return;
        }
    };
    stack.push(path.to_owned());
    // A `Match` in an included file ends with that file.
    let outer_match = *in_match;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !budget.spend("directive", errors, path) {
            break;
        }
        let Some((keyword, args)) = split(line) else {
            // Name the keyword only: a malformed line is not echoed whole.
            let word: String = line.split_whitespace().next().unwrap_or_default().chars().take(40).collect();
            errors.push((format!("{path}:{}", i + 1), format!("`{word}` has no value")));
            continue;
        };
        let entry =
            Entry { keyword: keyword.to_ascii_lowercase(), args, file: path.to_owned(), line: i as u32 + 1 };
        match entry.keyword.as_str() {
            "include" => {
                for pattern in &entry.args {
                    let pattern = if pattern.starts_with('/') {
                        pattern.clone()
                    } else {
                        format!("/etc/ssh/{pattern}")
                    };
                    match fs.glob(&pattern) {
                        Ok(files) => {
                            for f in files {
                                parse_file(fs, &f, stack, out, in_match, errors, budget);
                            }
                        }
                        Err(e) => errors.push((pattern, e.to_string())),
                    }
                }
            }
            "match" => {
                *in_match = true;
                out.matches.push((entry, Vec::new()));
            }
            _ if *in_match => {
                if let Some((_, block)) = out.matches.last_mut() {
                    block.push(entry);
                }
            }
            _ => out.global.push(entry),
        }
    }
    if stack.len() > 1 {
        *in_match = outer_match;
    }
    stack.pop();
}

/// `Keyword args` or `Keyword=args`, with double-quoted arguments.
fn split(line: &str) -> Option<(String, Vec<String>)> {
    let end = line.find(|c: char| c.is_whitespace() || c == '=')?;
    let keyword = line[..end].to_owned();
    let mut rest = line[end..].trim_start();
    if let Some(r) = rest.strip_prefix('=') {
        rest = r.trim_start();
    }
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            break;
        }
        let mut arg = String::new();
        if c == '"' {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                arg.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                arg.push(c);
                chars.next();
            }
        }
        args.push(arg);
    }
    if keyword.is_empty() || args.is_empty() {
        return None;
    }
    Some((keyword, args))
}

const DEFAULT_CIPHERS: &str = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";
const DEFAULT_MACS: &str = "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";
const DEFAULT_KEX: &str = "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256";

fn default_note() -> Provenance {
    Provenance::default_value("OpenSSH default")
}

fn effective(p: &Parsed) -> (Sshd, Vec<(String, String)>) {
    let problems = std::cell::RefCell::new(Vec::new());
    let first = |k: &str| p.global.iter().find(|e| e.keyword == k);
    let string = |keys: &[&str], default: &str| -> Sourced<String> {
        match keys.iter().find_map(|k| first(k)) {
            Some(e) => Sourced::new(e.value(), e.source()),
            None => Sourced::new(default.to_owned(), default_note()),
        }
    };
    let boolean = |keys: &[&str], default: bool| -> Sourced<bool> {
        match keys.iter().find_map(|k| first(k)) {
            Some(e) => Sourced::new(e.value().eq_ignore_ascii_case("yes"), e.source()),
            None => Sourced::new(default, default_note()),
        }
    };
    let number = |key: &str, default: u32, time: bool| -> Sourced<u32> {
        match first(key) {
            Some(e) => {
                let v = if time { parse_time(&e.value()) } else { e.value().parse().ok() };
                match v {
                    Some(v) => Sourced::new(v, e.source()),
                    None => {
                        problems.borrow_mut().push((
                            format!("{}:{}", e.file, e.line),
                            format!(
                                "`{}` is not a valid value for {key}; sshd would refuse to start",
                                e.value()
                            ),
                        ));
                        Sourced::new(default, default_note())
                    }
                }
            }
            None => Sourced::new(default, default_note()),
        }
    };
    let algorithms = |key: &str, default: &str| -> Sourced<Vec<String>> {
        let defaults: Vec<String> = default.split(',').map(str::to_owned).collect();
        match first(key) {
            Some(e) => Sourced::new(modify_list(&defaults, &e.value()), e.source()),
            None => Sourced::new(defaults, default_note()),
        }
    };
    let accumulated = |key: &str| -> Sourced<Vec<String>> {
        let entries: Vec<&Entry> = p.global.iter().filter(|e| e.keyword == key).collect();
        match entries.first() {
            Some(e) => {
                Sourced::new(entries.iter().flat_map(|e| e.args.iter().cloned()).collect(), e.source())
            }
            None => Sourced::new(vec![], default_note()),
        }
    };
    let ports = {
        let entries: Vec<&Entry> = p.global.iter().filter(|e| e.keyword == "port").collect();
        match entries.first() {
            Some(e) => {
                Sourced::new(entries.iter().filter_map(|e| e.value().parse().ok()).collect(), e.source())
            }
            None => Sourced::new(vec![22], default_note()),
        }
    };
    let mut settings: Vec<SshdSetting> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for e in &p.global {
        if ACCUMULATE.contains(&e.keyword.as_str()) || seen.insert(e.keyword.as_str()) {
            settings
                .push(SshdSetting { keyword: e.keyword.clone(), value: Sourced::new(e.value(), e.source()) });
        }
    }
    let sshd = Sshd {
        permit_root_login: string(&["permitrootlogin"], "prohibit-password"),
        protocol: string(&["protocol"], "2"),
        password_authentication: boolean(&["passwordauthentication"], true),
        permit_empty_passwords: boolean(&["permitemptypasswords"], false),
        pubkey_authentication: boolean(&["pubkeyauthentication"], true),
        kbd_interactive_authentication: boolean(
            &["kbdinteractiveauthentication", "challengeresponseauthentication"],
            true,
        ),
        hostbased_authentication: boolean(&["hostbasedauthentication"], false),
        ignore_rhosts: boolean(&["ignorerhosts"], true),
        permit_user_environment: boolean(&["permituserenvironment"], false),
        x11_forwarding: boolean(&["x11forwarding"], false),
        allow_tcp_forwarding: string(&["allowtcpforwarding"], "yes"),
        allow_agent_forwarding: boolean(&["allowagentforwarding"], true),
        gssapi_authentication: boolean(&["gssapiauthentication"], false),
        disable_forwarding: boolean(&["disableforwarding"], false),
        use_pam: boolean(&["usepam"], false),
        max_auth_tries: number("maxauthtries", 6, false),
        max_sessions: number("maxsessions", 10, false),
        max_startups: string(&["maxstartups"], "10:30:100"),
        login_grace_time: number("logingracetime", 120, true),
        client_alive_interval: number("clientaliveinterval", 0, true),
        client_alive_count_max: number("clientalivecountmax", 3, false),
        log_level: string(&["loglevel"], "INFO"),
        banner: string(&["banner"], "none"),
        ciphers: algorithms("ciphers", DEFAULT_CIPHERS),
        macs: algorithms("macs", DEFAULT_MACS),
        kex_algorithms: algorithms("kexalgorithms", DEFAULT_KEX),
        allow_users: accumulated("allowusers"),
        allow_groups: accumulated("allowgroups"),
        deny_users: accumulated("denyusers"),
        deny_groups: accumulated("denygroups"),
        ports,
        settings,
        match_blocks: p
            .matches
            .iter()
            .map(|(m, block)| SshdMatch {
                criteria: Sourced::new(m.value(), m.source()),
                settings: block
                    .iter()
                    .map(|e| SshdSetting {
                        keyword: e.keyword.clone(),
                        value: Sourced::new(e.value(), e.source()),
                    })
                    .collect(),
            })
            .collect(),
    };
    (sshd, problems.into_inner())
}

/// `Ciphers +a,b`, `-a`, `^a` modify the default list; anything else replaces it.
fn modify_list(defaults: &[String], value: &str) -> Vec<String> {
    let split = |s: &str| s.split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect::<Vec<_>>();
    if let Some(add) = value.strip_prefix('+') {
        let mut out = defaults.to_vec();
        out.extend(split(add).into_iter().filter(|a| !defaults.contains(a)));
        out
    } else if let Some(remove) = value.strip_prefix('-') {
        let patterns = split(remove);
        defaults.iter().filter(|d| !patterns.iter().any(|p| super::fs::wildcard(p, d))).cloned().collect()
    } else if let Some(front) = value.strip_prefix('^') {
        let mut out = split(front);
        out.extend(defaults.iter().filter(|d| !out.contains(d)).cloned().collect::<Vec<_>>());
        out
    } else {
        split(value)
    }
}

/// sshd's time format: `90`, `2m`, `1h30m`, in seconds.
fn parse_time(text: &str) -> Option<u32> {
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 604800,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if !number.is_empty() {
        total = total.checked_add(number.parse().ok()?)?;
    }
    u32::try_from(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_like_sshd() {
        assert_eq!(split("PermitRootLogin no"), Some(("PermitRootLogin".into(), vec!["no".into()])));
        assert_eq!(
            split("Banner=\"/etc/issue net\""),
            Some(("Banner".into(), vec!["/etc/issue net".into()]))
        );
        assert_eq!(split("Port 22 # comment"), Some(("Port".into(), vec!["22".into()])));
        assert_eq!(split("Lonely"), None);
    }

    #[test]
    fn times_and_lists() {
        assert_eq!(parse_time("2m"), Some(120));
        assert_eq!(parse_time("1h30m"), Some(5400));
        assert_eq!(parse_time("45"), Some(45));
        assert_eq!(parse_time("x"), None);
        let d: Vec<String> = vec!["a".into(), "b-cbc".into()];
        assert_eq!(modify_list(&d, "+c"), vec!["a", "b-cbc", "c"]);
        assert_eq!(modify_list(&d, "-*-cbc"), vec!["a"]);
        assert_eq!(modify_list(&d, "^c"), vec!["c", "a", "b-cbc"]);
        assert_eq!(modify_list(&d, "x,y"), vec!["x", "y"]);
    }
}
