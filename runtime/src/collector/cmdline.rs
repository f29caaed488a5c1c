//! What the collector keeps of a process's command line.
//!
//! The rules need the executable and, at most, which options a program was
//! started with (an insecure client or server is recognised by its
//! executable and its listeners). Values are where secrets live (`-p
//! hunter4`, `-pSecret`, `-H "Authorization: Bearer …"`, a JSON blob of the
//! environment), and no list of secret-looking names catches them all. So by
//! default ([`CommandLines::Flags`]) only the program and the *names* of its
//! options are kept; every value is dropped by construction. The whole line
//! is kept only when asked for ([`CommandLines::Redacted`],
//! `--collect-cmdlines`), and then with every form below redacted.

use assay_model::telemetry::CommandLines;

const REDACTED: &str = "[redacted]";

/// The command line as the collection policy keeps it.
///
/// A program may write its whole command line into `argv[0]` (a process
/// title: setproctitle, Node's `process.title`, Perl's `$0 =`, `exec -a`,
/// PostgreSQL's backends). The words of such a title have lost their
/// quoting (`-H "Authorization: Bearer x"` is four words), so no redaction
/// can know where a value ends: of an `argv[0]` with blanks in it only the
/// first word and the names of options are kept, whatever the policy.
pub fn keep(args: &[String], policy: CommandLines) -> Vec<String> {
    let Some((first, rest)) = args.split_first() else { return Vec::new() };
    if !first.contains(char::is_whitespace) {
        return by_policy(args, policy);
    }
    let words: Vec<String> = first.split_whitespace().map(str::to_owned).collect();
    let mut out = flags(&words);
    let program = out.first().cloned().unwrap_or_default();
    let tail: Vec<String> = std::iter::once(program).chain(rest.iter().cloned()).collect();
    out.extend(by_policy(&tail, policy).into_iter().skip(1));
    out
}

fn by_policy(args: &[String], policy: CommandLines) -> Vec<String> {
    match policy {
        CommandLines::Flags => flags(args),
        CommandLines::Redacted => redact(args),
    }
}

/// The program, then the names of its options, without values: `--user=x`
/// is `--user`, `-pSecret` is `-p` (a short option may carry its value
/// glued), `--password hunter3` written as one argument is `--password`.
/// Arguments that are not options (values, files, blobs) are dropped; so is
/// everything after `--`.
pub fn flags(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = args.iter();
    if let Some(program) = iter.next() {
        out.push(program.clone());
    }
    for arg in iter {
        if arg == "--" {
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let name: String =
                long.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
            if !name.is_empty() {
                out.push(format!("--{name}"));
            }
        } else if let Some(short) = arg.strip_prefix('-') {
            if let Some(c) = short.chars().next().filter(char::is_ascii_alphanumeric) {
                out.push(format!("-{c}"));
            }
        }
    }
    out
}

/// Option names whose value is a secret (compared lowercased, without
/// dashes, as whole names or as the last `-`/`_` part: `--db-password`).
const SECRET_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "pw",
    "pwd",
    "passphrase",
    "dbpass",
    "dbpassword",
    "bindpw",
    "ldapbindpw",
    "sshpass",
    "secret",
    "token",
    "apikey",
    "key",
    "auth",
    "authorization",
    "oauth2",
    "bearer",
    "cookie",
    "credential",
    "credentials",
    "cred",
    "privatekey",
    "accesskey",
];

/// Short options that take a password (mysql and friends `-p`, redis-cli
/// `-a`, sshpass `-p`) or credentials (`-u user:pass` of curl).
const SECRET_SHORT: &[char] = &['p', 'a'];

/// Header names whose value is a credential.
const SECRET_HEADERS: &[&str] =
    &["authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token"];

fn normalised(name: &str) -> String {
    name.trim_start_matches('-').to_ascii_lowercase().replace('_', "-")
}

pub(crate) fn is_secret_name(name: &str) -> bool {
    let n = normalised(name);
    let squashed = n.replace('-', "");
    let last = n.rsplit('-').next();
    ["password", "passwd", "secret", "token"].iter().any(|w| squashed.contains(w))
        || SECRET_NAMES.iter().any(|s| squashed == *s || last == Some(*s))
}

/// The whole command line with every credential form replaced by
/// `[redacted]`; see the module documentation for why this is not the
/// default.
pub fn redact(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut hide_next = false;
    let mut header_next = false;
    let mut userinfo_next = false;
    for (i, arg) in args.iter().enumerate() {
        if i == 0 {
            out.push(arg.clone());
            continue;
        }
        if hide_next {
            out.push(REDACTED.to_owned());
            hide_next = false;
            continue;
        }
        if header_next {
            out.push(redact_header(arg));
            header_next = false;
            continue;
        }
        if userinfo_next {
            out.push(redact_userinfo(arg));
            userinfo_next = false;
            continue;
        }
        if let Some(rest) = arg.strip_prefix("--") {
            let (name, value) = match rest.split_once(['=', ' ']) {
                Some((n, v)) => (n, Some(v)),
                None => (rest, None),
            };
            let lower = name.to_ascii_lowercase();
            if lower == "header" {
                match value {
                    Some(v) => out.push(format!("--{name}={}", redact_header(v))),
                    None => {
                        out.push(arg.clone());
                        header_next = true;
                    }
                }
                continue;
            }
            if lower == "user" || lower == "proxy-user" {
                match value {
                    Some(v) => out.push(format!("--{name}={}", redact_userinfo(v))),
                    None => {
                        out.push(arg.clone());
                        userinfo_next = true;
                    }
                }
                continue;
            }
            if is_secret_name(name) {
                match value {
                    Some(_) => out.push(format!("--{name}={REDACTED}")),
                    None => {
                        out.push(arg.clone());
                        hide_next = true;
                    }
                }
                continue;
            }
            out.push(match value {
                Some(v) => format!("--{name}={}", redact_value(v)),
                None => arg.clone(),
            });
            continue;
        }
        if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty() && !s.starts_with('-')) {
            let mut chars = short.chars();
            let flag = chars.next().unwrap_or('-');
            let glued: String = chars.collect();
            if flag == 'H' {
                if glued.is_empty() {
                    out.push(arg.clone());
                    header_next = true;
                } else {
                    out.push(format!("-H{}", redact_header(&glued)));
                }
                continue;
            }
            if flag == 'u' {
                if glued.is_empty() {
                    out.push(arg.clone());
                    userinfo_next = true;
                } else {
                    out.push(format!("-u{}", redact_userinfo(&glued)));
                }
                continue;
            }
            if SECRET_SHORT.contains(&flag) {
                if glued.is_empty() {
                    out.push(arg.clone());
                    hide_next = true;
                } else {
                    out.push(format!("-{flag}{REDACTED}"));
                }
                continue;
            }
            if is_secret_name(short.split('=').next().unwrap_or(short)) {
                match short.split_once('=') {
                    Some((n, _)) => out.push(format!("-{n}={REDACTED}")),
                    None => {
                        out.push(arg.clone());
                        hide_next = true;
                    }
                }
                continue;
            }
            out.push(arg.clone());
            continue;
        }
        out.push(redact_value(arg));
    }
    out
}

/// A value that is not an option: environment-style `KEY=value`,
/// connection strings (`Server=db;Password=x`), JSON blobs, URLs with
/// credentials and bearer tokens.
fn redact_value(arg: &str) -> String {
    let trimmed = arg.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return match serde_json::from_str::<serde_json::Value>(trimmed) {
            Ok(mut v) => {
                redact_json(&mut v);
                v.to_string()
            }
            // Structured but not JSON: nothing in it can be told apart.
            Err(_) => REDACTED.to_owned(),
        };
    }
    let mut text = redact_urls(arg);
    text = redact_schemes(&text);
    if text.contains(';') || text.contains('&') {
        let sep = if text.contains(';') { ';' } else { '&' };
        return text.split(sep).map(redact_pair).collect::<Vec<_>>().join(&sep.to_string());
    }
    redact_pair(&text)
}

/// `KEY=value` with a secret key, in any of the separators of env lines,
/// connection strings and query strings; `key: value` too.
fn redact_pair(part: &str) -> String {
    for sep in ['=', ':'] {
        if let Some((k, _)) = part.split_once(sep) {
            let key = k.trim();
            if !key.is_empty() && !key.contains(' ') && !key.contains('/') && is_secret_name(key) {
                return format!("{k}{sep}{REDACTED}");
            }
        }
    }
    part.to_owned()
}

fn redact_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, value) in map.iter_mut() {
                if is_secret_name(k) && !value.is_object() && !value.is_array() {
                    *value = serde_json::Value::String(REDACTED.to_owned());
                } else if let serde_json::Value::String(s) = value {
                    *s = redact_value(s);
                } else {
                    redact_json(value);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        serde_json::Value::String(s) => *s = redact_value(s),
        _ => {}
    }
}

/// `scheme://user:secret@host` keeps the user.
fn redact_urls(arg: &str) -> String {
    let Some((scheme, rest)) = arg.split_once("://") else { return arg.to_owned() };
    let Some((cred, host)) = rest.split_once('@') else { return arg.to_owned() };
    if cred.contains('/') {
        return arg.to_owned();
    }
    match cred.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:{REDACTED}@{host}"),
        None => arg.to_owned(),
    }
}

/// `Bearer …`, `Basic …`, `token …` anywhere in a value.
fn redact_schemes(arg: &str) -> String {
    let mut words: Vec<String> = arg.split(' ').map(str::to_owned).collect();
    for i in 0..words.len().saturating_sub(1) {
        if matches!(words[i].to_ascii_lowercase().as_str(), "bearer" | "basic" | "token" | "digest") {
            words[i + 1] = REDACTED.to_owned();
        }
    }
    words.join(" ")
}

/// An HTTP header `Name: value`: credential headers lose their value.
fn redact_header(h: &str) -> String {
    match h.split_once(':') {
        Some((name, _)) if SECRET_HEADERS.contains(&name.trim().to_ascii_lowercase().as_str()) => {
            format!("{name}: {REDACTED}")
        }
        Some((name, value)) => format!("{name}:{}", redact_schemes(value)),
        None => redact_value(h),
    }
}

/// `user:password` keeps the user.
fn redact_userinfo(v: &str) -> String {
    match v.split_once(':') {
        Some((user, _)) => format!("{user}:{REDACTED}"),
        None => v.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form the security review found collected in clear, each with
    /// the secret it must not leak.
    pub(crate) const PLANTED: &[(&[&str], &str)] = &[
        (&["mysql", "-u", "root", "-p", "hunter4"], "hunter4"),
        (&["mysql", "-pSecret5", "db"], "Secret5"),
        (&["curl", "-u", "user:pass6", "https://x"], "pass6"),
        (&["curl", "-H", "Authorization: Bearer tok7", "https://x"], "tok7"),
        (&["curl", "-HAuthorization: Basic dXNlcjpwYXNz8", "https://x"], "dXNlcjpwYXNz8"),
        (&["gpg", "--passphrase=phrase9"], "phrase9"),
        (&["tool", "--pw", "pw10"], "pw10"),
        (&["app", "--dbpass=db11"], "db11"),
        (&["sssd", "--ldap-bindpw=bind12"], "bind12"),
        (&["rsync", "--sshpass=ssh13"], "ssh13"),
        (&["redis-cli", "-a", "redis14", "ping"], "redis14"),
        (&["client", "--oauth2", "oauth15"], "oauth15"),
        (&["curl", "--cookie=session=cookie16"], "cookie16"),
        (&["app", "Server=db;User Id=sa;Password=conn17;"], "conn17"),
        (&["app", r#"{"user":"a","password":"json18","nested":{"api_token":"json19"}}"#], "json18"),
        (&["app", r#"{"user":"a","password":"json18","nested":{"api_token":"json19"}}"#], "json19"),
        (&["app", "db_password=kv20"], "kv20"),
        (&["app", "--password hunter3"], "hunter3"),
        (&["psql", "postgres://app:url21@db/app"], "url21"),
        (&["env", "TOKEN=tok22", "run"], "tok22"),
        (&["app", r#"{"HOME":"/root","GITHUB_TOKEN":"env23","AWS_SECRET_ACCESS_KEY":"env24"}"#], "env23"),
        (&["app", r#"{"HOME":"/root","GITHUB_TOKEN":"env23","AWS_SECRET_ACCESS_KEY":"env24"}"#], "env24"),
        (&["app", "{not json but: secret25}"], "secret25"),
        (&["app", "--header", "X-Api-Key: key26"], "key26"),
    ];

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_keep_no_value_at_all() {
        for (line, secret) in PLANTED {
            let kept = flags(&args(line)).join(" ");
            assert!(!kept.contains(secret), "{line:?} kept {secret}: {kept}");
        }
        assert_eq!(
            flags(&args(&[
                "/usr/sbin/sshd",
                "-D",
                "-pSecret",
                "--config=/etc/x",
                "--password hunter3",
                "file"
            ])),
            ["/usr/sbin/sshd", "-D", "-p", "--config", "--password"]
        );
    }

    #[test]
    fn redaction_hides_every_planted_secret() {
        for (line, secret) in PLANTED {
            let kept = redact(&args(line)).join(" ");
            assert!(!kept.contains(secret), "{line:?} kept {secret}: {kept}");
        }
    }

    /// A process title holds the whole line in `argv[0]` (`exec -a`,
    /// setproctitle): it is reduced like any other line, by both policies.
    #[test]
    fn a_command_line_in_argv0_is_reduced_too() {
        for (line, secret) in PLANTED {
            let title = vec![line.join(" "), String::new()];
            for policy in [CommandLines::Flags, CommandLines::Redacted] {
                let kept = keep(&title, policy).join(" ");
                assert!(!kept.contains(secret), "{title:?} kept {secret} under {policy:?}: {kept}");
            }
        }
        let title = args(&["mysql -pMysqlPass77 -u admin", "x"]);
        assert_eq!(keep(&title, CommandLines::Flags), ["mysql", "-p", "-u"]);
        assert_eq!(keep(&title, CommandLines::Redacted), ["mysql", "-p", "-u", "x"]);
        // A plain program keeps its name.
        assert_eq!(keep(&args(&["/usr/sbin/sshd", "-D"]), CommandLines::Flags), ["/usr/sbin/sshd", "-D"]);
    }

    #[test]
    fn redaction_keeps_what_is_not_secret() {
        let kept = redact(&args(&["nginx", "-g", "daemon off;", "--user=www:secretpw", "-v"]));
        assert_eq!(kept[..3], ["nginx", "-g", "daemon off;"]);
        assert_eq!(kept[3], "--user=www:[redacted]");
        let kept = redact(&args(&["psql", "postgres://app:s3cret@db/app", "-h", "db"])).join(" ");
        assert_eq!(kept, "psql postgres://app:[redacted]@db/app -h db");
    }
}
