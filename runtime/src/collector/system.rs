//! Sensors for the operating system: identity, login.defs, the PAM password
//! policy, kernel parameters and modules, NX, mounts and services.

use super::fs::{FsError, RootFs};
use super::Ctx;
use assay_model::telemetry::{
    Cpu, Kernel, KernelModule, KernelParameter, LoginDefs, LoginDefsSetting, ModuleBuild, Mount, Os,
    OsFamily, PamLine, PasswordPolicy, Provenance, Service, Sourced, Sudo, SudoRule,
};
use std::collections::BTreeMap;

fn key_values(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').trim_matches('\'').to_owned()))
        .collect()
}

/// OS, hostname, machine id and kernel release.
pub fn identity(ctx: &mut Ctx) -> (Option<Os>, String, Option<String>, Option<String>) {
    let mut os_error = None;
    let os_text = ["/etc/os-release", "/usr/lib/os-release"].iter().find_map(|p| match ctx.fs.read(p) {
        Ok(t) => Some(t),
        Err(e) => {
            if e != FsError::NotFound && os_error.is_none() {
                os_error = Some((p.to_string(), e));
            }
            None
        }
    });
    let os = os_text.map(|text| {
        let kv = key_values(&text);
        let id = kv.get("ID").cloned().unwrap_or_else(|| "linux".into());
        let like = kv.get("ID_LIKE").cloned().unwrap_or_default();
        let has = |w: &str| id == w || like.split_whitespace().any(|l| l == w);
        let family = if has("debian") || has("ubuntu") {
            OsFamily::Debian
        } else if has("rhel") || has("fedora") || has("centos") || id == "amzn" {
            OsFamily::Redhat
        } else if has("alpine") {
            OsFamily::Alpine
        } else if has("suse") || id.starts_with("opensuse") || id == "sles" {
            OsFamily::Suse
        } else if has("arch") {
            OsFamily::Arch
        } else {
            OsFamily::Other
        };
        Os {
            family,
            distribution: id,
            version: kv.get("VERSION_ID").cloned(),
            name: kv.get("PRETTY_NAME").cloned(),
        }
    });
    match (&os, os_error) {
        (Some(_), _) => {}
        (None, Some((path, e))) => ctx.error("os", Some(&path), &e),
        (None, None) => ctx.error("os", Some("/etc/os-release"), "no os-release file"),
    }
    let read_first = |ctx: &Ctx, paths: &[&str]| {
        paths.iter().find_map(|p| ctx.fs.read(p).ok()).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
    };
    let hostname = if ctx.live() {
        read_first(ctx, &["/proc/sys/kernel/hostname", "/etc/hostname"])
    } else {
        read_first(ctx, &["/etc/hostname"])
    }
    .unwrap_or_else(|| "unknown".into());
    let machine_id = read_first(ctx, &["/etc/machine-id", "/var/lib/dbus/machine-id"]);
    let kernel = if ctx.live() { read_first(ctx, &["/proc/sys/kernel/osrelease"]) } else { None };
    (os, hostname, machine_id, kernel)
}

/// The most keys kept from one `KEY value` file.
const MAX_SETTINGS: usize = 10_000;

pub fn login_defs(ctx: &mut Ctx) -> Option<LoginDefs> {
    const PATH: &str = "/etc/login.defs";
    let text = match ctx.fs.read(PATH) {
        Ok(t) => t,
        Err(FsError::NotFound) => return None,
        Err(e) => {
            ctx.error("login.defs", Some(PATH), &e);
            return None;
        }
    };
    let mut settings: Vec<LoginDefsSetting> = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(2, char::is_whitespace);
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else { continue };
        if settings.len() >= MAX_SETTINGS {
            ctx.error(
                "login.defs",
                Some(PATH),
                format!("more than {MAX_SETTINGS} keys; the rest are not read"),
            );
            break;
        }
        // The first occurrence is what shadow-utils uses.
        if !seen.contains_key(key) {
            seen.insert(key.to_owned(), settings.len());
            settings.push(LoginDefsSetting {
                key: key.to_owned(),
                value: Sourced::new(value.trim().to_owned(), Provenance::file(PATH, i as u32 + 1)),
            });
        }
    }
    let get = |k: &str| seen.get(k).and_then(|&i| settings.get(i));
    let int = |k: &str| {
        get(k)
            .and_then(|s| s.value.value.parse::<i64>().ok().map(|v| Sourced::new(v, s.value.source.clone())))
    };
    let text_of = |k: &str| get(k).map(|s| s.value.clone());
    Some(LoginDefs {
        pass_max_days: int("PASS_MAX_DAYS"),
        pass_min_days: int("PASS_MIN_DAYS"),
        pass_warn_age: int("PASS_WARN_AGE"),
        pass_min_len: int("PASS_MIN_LEN"),
        encrypt_method: text_of("ENCRYPT_METHOD"),
        umask: text_of("UMASK"),
        settings,
    })
}

/// The password policy from the PAM password stack and pwquality.conf.
/// `nullok` anywhere on pam_unix wins, with the line that has it; without
/// it, the first pam_unix line says "no".
fn note_nullok(policy: &mut PasswordPolicy, args: &[&str], src: &Provenance) {
    let has = args.contains(&"nullok");
    match &policy.nullok {
        Some(n) if n.value || !has => {}
        _ => policy.nullok = Some(Sourced::new(has, src.clone())),
    }
}

/// The PAM stacks CIS audits (Debian's common-* and RHEL's system-auth and
/// password-auth).
const PAM_STACKS: &[&str] = &[
    "common-auth",
    "common-account",
    "common-password",
    "common-session",
    "common-session-noninteractive",
    "system-auth",
    "password-auth",
];

/// Every line of the PAM stacks that are present, each with its file and
/// line; absent when none of them is.
pub fn pam_stacks(ctx: &mut Ctx) -> Option<Vec<PamLine>> {
    let mut lines = Vec::new();
    let mut found = false;
    for stack in PAM_STACKS {
        let path = format!("/etc/pam.d/{stack}");
        let text = match ctx.fs.read(&path) {
            Ok(t) => t,
            Err(FsError::NotFound) => continue,
            Err(e) => {
                ctx.error("pam-stacks", Some(&path), &e);
                continue;
            }
        };
        found = true;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some((&kind, rest)) = words.split_first() else { continue };
            let (kind, control, rest) = if kind == "@include" {
                ("@include", String::new(), rest)
            } else {
                let kind = kind.trim_start_matches('-');
                // A bracketed control may hold spaces: `[success=1 default=ignore]`.
                let (control, after) = if rest.first().is_some_and(|w| w.starts_with('[')) {
                    match rest.iter().position(|w| w.ends_with(']')) {
                        Some(end) => (rest[..=end].join(" "), &rest[end + 1..]),
                        None => {
                            ctx.error(
                                "pam-stacks",
                                Some(&path),
                                format!("line {}: unclosed `[` in the control", i + 1),
                            );
                            continue;
                        }
                    }
                } else {
                    match rest.split_first() {
                        Some((c, after)) => ((*c).to_owned(), after),
                        None => continue,
                    }
                };
                (kind, control, after)
            };
            let Some((module, arguments)) = rest.split_first() else { continue };
            let module = module.rsplit('/').next().unwrap_or(module).to_owned();
            let arguments = arguments
                .iter()
                .map(|a| match a.split_once('=') {
                    Some((k, _)) if super::cmdline::is_secret_name(k) => format!("{k}=[redacted]"),
                    _ => (*a).to_owned(),
                })
                .collect();
            lines.push(PamLine {
                stack: (*stack).to_owned(),
                kind: kind.to_owned(),
                control,
                module: Sourced::new(module, Provenance::file(path.clone(), i as u32 + 1)),
                arguments,
            });
        }
    }
    found.then_some(lines)
}

pub fn password_policy(ctx: &mut Ctx) -> Option<PasswordPolicy> {
    // The password stacks, and Debian's auth stack: `nullok` on pam_unix in
    // `common-auth` (Debian's default) lets empty passwords authenticate.
    let stacks = [
        "/etc/pam.d/common-password",
        "/etc/pam.d/common-auth",
        "/etc/pam.d/system-auth",
        "/etc/pam.d/password-auth",
    ];
    let mut policy = PasswordPolicy::default();
    let mut found = false;
    for path in stacks {
        let text = match ctx.fs.read(path) {
            Ok(t) => t,
            Err(FsError::NotFound) => continue,
            Err(e) => {
                ctx.error("pam", Some(path), &e);
                continue;
            }
        };
        found = true;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let kind = words.first().copied().unwrap_or_default();
            if kind != "password" && kind != "auth" {
                continue;
            }
            // `password [control] module args`: control may be bracketed.
            let module_at = if words.get(1).is_some_and(|w| w.starts_with('[')) {
                words.iter().position(|w| w.ends_with(']')).map(|p| p + 1)
            } else {
                Some(2)
            };
            let Some(at) = module_at else { continue };
            let Some(module) = words.get(at) else { continue };
            let module = module.rsplit('/').next().unwrap_or(module);
            let src = Provenance::file(path, i as u32 + 1);
            let args = &words[at + 1..];
            if kind == "auth" {
                // Of the auth stack only `nullok` matters here.
                if module == "pam_unix.so" {
                    note_nullok(&mut policy, args, &src);
                }
                continue;
            }
            let arg_int = |name: &str| {
                args.iter().find_map(|a| {
                    a.strip_prefix(name).and_then(|v| v.strip_prefix('=')).and_then(|v| v.parse::<i64>().ok())
                })
            };
            match module {
                "pam_pwquality.so" | "pam_cracklib.so" => {
                    policy.quality_module.get_or_insert(Sourced::new(module.to_owned(), src.clone()));
                    for (name, slot) in [
                        ("minlen", &mut policy.minlen),
                        ("dcredit", &mut policy.dcredit),
                        ("ucredit", &mut policy.ucredit),
                        ("lcredit", &mut policy.lcredit),
                        ("ocredit", &mut policy.ocredit),
                        ("minclass", &mut policy.minclass),
                        ("retry", &mut policy.retry),
                        ("maxrepeat", &mut policy.maxrepeat),
                    ] {
                        if let Some(v) = arg_int(name) {
                            slot.get_or_insert(Sourced::new(v, src.clone()));
                        }
                    }
                }
                "pam_unix.so" | "pam_pwhistory.so" => {
                    if let Some(v) = arg_int("remember") {
                        policy.remember.get_or_insert(Sourced::new(v, src.clone()));
                    }
                    if module == "pam_unix.so" {
                        if let Some(m) = args.iter().find(|a| {
                            ["yescrypt", "sha512", "sha256", "md5", "bigcrypt", "blowfish", "gost_yescrypt"]
                                .contains(a)
                        }) {
                            policy.hash_method.get_or_insert(Sourced::new((*m).to_owned(), src.clone()));
                        }
                        note_nullok(&mut policy, args, &src);
                        if let Some(v) = arg_int("minlen") {
                            policy.minlen.get_or_insert(Sourced::new(v, src.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    // pwquality.conf fills what the module arguments left unset.
    let mut confs = vec!["/etc/security/pwquality.conf".to_owned()];
    confs.extend(ctx.fs.glob("/etc/security/pwquality.conf.d/*.conf").unwrap_or_default());
    for path in confs {
        let Ok(text) = ctx.fs.read(&path) else { continue };
        found = true;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else { continue };
            let Ok(v) = v.trim().parse::<i64>() else { continue };
            let src = Provenance::file(path.clone(), i as u32 + 1);
            let slot = match k.trim() {
                "minlen" => &mut policy.minlen,
                "dcredit" => &mut policy.dcredit,
                "ucredit" => &mut policy.ucredit,
                "lcredit" => &mut policy.lcredit,
                "ocredit" => &mut policy.ocredit,
                "minclass" => &mut policy.minclass,
                "retry" => &mut policy.retry,
                "maxrepeat" => &mut policy.maxrepeat,
                _ => continue,
            };
            if policy.quality_module.is_some() {
                slot.get_or_insert(Sourced::new(v, src));
            }
        }
    }
    found.then_some(policy)
}

/// The kernel configuration symbol of each module rules check (a test
/// keeps it covering the collector's default list and every module the
/// built-in policies look up).
const CONFIG_SYMBOLS: &[(&str, &str)] = &[
    ("overlay", "CONFIG_OVERLAY_FS"),
    ("cramfs", "CONFIG_CRAMFS"),
    ("freevxfs", "CONFIG_VXFS_FS"),
    ("hfs", "CONFIG_HFS_FS"),
    ("hfsplus", "CONFIG_HFSPLUS_FS"),
    ("jffs2", "CONFIG_JFFS2_FS"),
    ("squashfs", "CONFIG_SQUASHFS"),
    ("udf", "CONFIG_UDF_FS"),
    ("usb-storage", "CONFIG_USB_STORAGE"),
    ("dccp", "CONFIG_IP_DCCP"),
    ("sctp", "CONFIG_IP_SCTP"),
    ("rds", "CONFIG_RDS"),
    ("tipc", "CONFIG_TIPC"),
];

/// What the kernel's module lists and configuration say.
struct Builds {
    /// Names from `modules.dep` (loadable) and `modules.builtin`; `None`
    /// when the lists could not be read.
    loadable: Option<std::collections::HashSet<String>>,
    builtin: Option<std::collections::HashSet<String>>,
    /// `CONFIG_X` → `y`, `m` (absent keys: not set); `None` without a configuration.
    config: Option<BTreeMap<String, String>>,
    supported: Option<bool>,
    /// On the live host, the running kernel's own word, for names not
    /// loaded as modules: a `/sys/module/NAME` without `initstate` (built-in
    /// code with parameters) and the file systems of `/proc/filesystems`.
    running_builtin: std::collections::HashSet<String>,
}

impl Builds {
    fn of(&self, name: &str) -> ModuleBuild {
        let symbol = CONFIG_SYMBOLS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s);
        let configured = match (&self.config, symbol) {
            (Some(c), Some(s)) => Some(c.get(s).map(String::as_str)),
            _ => None,
        };
        if self.builtin.as_ref().is_some_and(|b| b.contains(name))
            || configured == Some(Some("y"))
            || self.running_builtin.contains(name)
        {
            return ModuleBuild::Builtin;
        }
        if self.supported == Some(false) {
            // Without module support nothing loads: only built-in code runs.
            return ModuleBuild::Absent;
        }
        if self.loadable.as_ref().is_some_and(|l| l.contains(name)) || configured == Some(Some("m")) {
            return ModuleBuild::Module;
        }
        if self.loadable.is_some() || configured == Some(None) {
            return ModuleBuild::Absent;
        }
        ModuleBuild::Unknown
    }
}

/// Module names in a `modules.dep` or `modules.builtin` (`kernel/fs/udf/udf.ko.xz: ...`).
fn module_names(text: &str) -> std::collections::HashSet<String> {
    text.lines()
        .filter_map(|l| l.split(':').next())
        .filter_map(|path| path.rsplit('/').next())
        .map(|file| file.split(".ko").next().unwrap_or(file).replace('_', "-"))
        .collect()
}

/// Of `names` not in `loaded`, those the running kernel has built in: a
/// `/sys/module` entry without `initstate` (only loadable modules have
/// one), or a file system `/proc/filesystems` lists.
fn running_builtin(ctx: &Ctx, names: &[String], loaded: &[String]) -> std::collections::HashSet<String> {
    let filesystems: std::collections::HashSet<String> = ctx
        .fs
        .read("/proc/filesystems")
        .map(|t| t.lines().filter_map(|l| l.split_whitespace().last().map(str::to_owned)).collect())
        .unwrap_or_default();
    names
        .iter()
        .filter(|n| !loaded.iter().any(|l| l.replace('_', "-") == **n))
        .filter(|n| {
            let sys = format!("/sys/module/{}", n.replace('-', "_"));
            (ctx.fs.exists(&sys) && !ctx.fs.exists(&format!("{sys}/initstate"))) || filesystems.contains(*n)
        })
        .cloned()
        .collect()
}

fn module_builds(ctx: &mut Ctx, live: bool) -> Builds {
    let release = if live {
        ctx.fs.read("/proc/sys/kernel/osrelease").ok().map(|r| r.trim().to_owned())
    } else {
        // A root file system: its newest installed kernel.
        let mut releases = ctx
            .fs
            .read_dir("/lib/modules")
            .or_else(|_| ctx.fs.read_dir("/usr/lib/modules"))
            .unwrap_or_default();
        releases.sort();
        releases.pop()
    };
    let lists = release.as_ref().and_then(|r| {
        ["/lib/modules", "/usr/lib/modules"].iter().find_map(|base| {
            let dep = ctx.fs.read(&format!("{base}/{r}/modules.dep")).ok()?;
            let builtin = ctx.fs.read(&format!("{base}/{r}/modules.builtin")).unwrap_or_default();
            Some((module_names(&dep), module_names(&builtin)))
        })
    });
    let config_text = if live {
        ctx.fs.read_bytes("/proc/config.gz", 1 << 20).ok().and_then(|gz| {
            use std::io::Read;
            let mut text = String::new();
            flate2::read::GzDecoder::new(&gz[..]).take(16 << 20).read_to_string(&mut text).ok()?;
            Some(text)
        })
    } else {
        None
    }
    .or_else(|| release.as_ref().and_then(|r| ctx.fs.read(&format!("/boot/config-{r}")).ok()));
    let config: Option<BTreeMap<String, String>> = config_text.map(|t| {
        t.lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| k.starts_with("CONFIG_"))
            .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
            .collect()
    });
    let supported = match &config {
        Some(c) => Some(c.get("CONFIG_MODULES").is_some_and(|v| v == "y")),
        None if live && lists.is_none() && !ctx.fs.exists("/proc/modules") => Some(false),
        None => None,
    };
    let (loadable, builtin) = match lists {
        Some((l, b)) => (Some(l), Some(b)),
        None => (None, None),
    };
    Builds { loadable, builtin, config, supported, running_builtin: Default::default() }
}

pub fn kernel(ctx: &mut Ctx) -> Option<Kernel> {
    // Persisted: systemd-sysctl's order. A file name in an earlier folder
    // hides the same name in later ones; files apply sorted by name;
    // /etc/sysctl.conf applies last; the last assignment wins.
    let dirs =
        ["/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"];
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for dir in dirs {
        for path in ctx.fs.glob(&format!("{dir}/*.conf")).unwrap_or_default() {
            let name = path.rsplit('/').next().unwrap_or_default().to_owned();
            files.entry(name).or_insert(path);
        }
    }
    let mut order: Vec<String> = files.into_values().collect();
    order.push("/etc/sysctl.conf".into());
    let mut persisted: BTreeMap<String, Sourced<String>> = BTreeMap::new();
    let mut seen_paths = std::collections::HashSet::new();
    for path in order {
        // Debian links 99-sysctl.conf to /etc/sysctl.conf: read it once, last.
        // The same file under two names is one file; a path that cannot be
        // opened is reported by the read below.
        if let Ok(meta) = ctx.fs.metadata(&path) {
            if !seen_paths.insert(meta.identity()) {
                continue;
            }
        }
        let text = match ctx.fs.read(&path) {
            Ok(t) => t,
            Err(FsError::NotFound) => continue,
            Err(e) => {
                ctx.error("kernel", Some(&path), &e);
                continue;
            }
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else { continue };
            let key = k.trim().trim_start_matches('-').replace('/', ".");
            persisted
                .insert(key, Sourced::new(v.trim().to_owned(), Provenance::file(path.clone(), i as u32 + 1)));
        }
    }
    let live = ctx.live();
    let names = ctx.looked_up.sysctls.clone();
    let parameters = names
        .iter()
        .map(|name| {
            let proc_path = format!("/proc/sys/{}", name.replace('.', "/"));
            let runtime = if live {
                ctx.fs
                    .read(&proc_path)
                    .ok()
                    .map(|v| Sourced::new(v.trim().replace('\t', " "), Provenance::path(proc_path)))
            } else {
                None
            };
            KernelParameter { name: name.clone(), runtime, persisted: persisted.get(name).cloned() }
        })
        .collect();
    // Modules: loaded (live), and disabled or blacklisted in modprobe.d.
    let loaded: Vec<String> = if live {
        ctx.fs
            .read("/proc/modules")
            .map(|t| t.lines().filter_map(|l| l.split_whitespace().next().map(str::to_owned)).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut disabled: BTreeMap<String, Sourced<String>> = BTreeMap::new();
    let mut blacklisted: BTreeMap<String, Sourced<String>> = BTreeMap::new();
    for dir in ["/etc/modprobe.d", "/run/modprobe.d", "/usr/lib/modprobe.d", "/lib/modprobe.d"] {
        for path in ctx.fs.glob(&format!("{dir}/*.conf")).unwrap_or_default() {
            let Ok(text) = ctx.fs.read(&path) else { continue };
            for (i, line) in text.lines().enumerate() {
                let words: Vec<&str> = line.split_whitespace().collect();
                let src = || Provenance::file(path.clone(), i as u32 + 1);
                match words.as_slice() {
                    ["install", name, cmd, ..] if cmd.ends_with("/false") || cmd.ends_with("/true") => {
                        disabled
                            .entry(name.replace('_', "-"))
                            .or_insert_with(|| Sourced::new(line.trim().to_owned(), src()));
                    }
                    ["blacklist", name, ..] => {
                        blacklisted
                            .entry(name.replace('_', "-"))
                            .or_insert_with(|| Sourced::new(line.trim().to_owned(), src()));
                    }
                    _ => {}
                }
            }
        }
    }
    let mut builds = module_builds(ctx, live);
    let modules_supported = builds.supported;
    let mut names: Vec<String> = ctx.looked_up.modules.clone();
    names.extend(loaded.iter().map(|m| m.replace('_', "-")));
    names.sort();
    names.dedup();
    if live {
        builds.running_builtin = running_builtin(ctx, &names, &loaded);
    }
    let modules = names
        .into_iter()
        .map(|name| KernelModule {
            build: builds.of(&name),
            loaded: loaded.iter().any(|l| l.replace('_', "-") == name),
            disabled: disabled.get(&name).cloned(),
            blacklisted: blacklisted.get(&name).cloned(),
            name,
        })
        .collect();
    // The running kernel's: a root file system has none.
    let security_modules =
        if live { ctx.fs.read("/sys/kernel/security/lsm").ok().map(|t| security_modules(&t)) } else { None };
    Some(Kernel { parameters, modules, modules_supported, security_modules })
}

pub fn cpu(ctx: &mut Ctx) -> Option<Cpu> {
    if !ctx.live() {
        ctx.not_live("cpu");
        return None;
    }
    let info = match ctx.fs.read("/proc/cpuinfo") {
        Ok(t) => t,
        Err(e) => {
            ctx.error("cpu", Some("/proc/cpuinfo"), &e);
            return None;
        }
    };
    let nx = info.lines().filter(|l| l.starts_with("flags")).any(|l| l.split_whitespace().any(|f| f == "nx"));
    let cmdline = ctx.fs.read("/proc/cmdline").unwrap_or_default();
    let disabled = cmdline.split_whitespace().any(|a| a == "noexec=off" || a == "noexec32=off");
    Some(Cpu { nx_supported: nx, nx_enabled: Some(nx && !disabled) })
}

/// The mounts a path resolves to: of several at one mount point (a file
/// system mounted over another), the last one, which hides the others.
fn visible(mounts: Vec<Mount>) -> Vec<Mount> {
    let mut last: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, m) in mounts.iter().enumerate() {
        last.insert(m.path.clone(), i);
    }
    mounts.into_iter().enumerate().filter(|(i, m)| last.get(&m.path) == Some(i)).map(|(_, m)| m).collect()
}

pub fn mounts(ctx: &mut Ctx) -> Option<Vec<Mount>> {
    if ctx.live() {
        let path = "/proc/self/mountinfo";
        let text = match ctx.fs.read(path) {
            Ok(t) => t,
            Err(e) => {
                ctx.error("mounts", Some(path), &e);
                return None;
            }
        };
        // id parent major:minor root mountpoint options ... - fstype source superoptions
        Some(visible(
            text.lines()
                .enumerate()
                .filter_map(|(i, l)| {
                    let (left, right) = l.split_once(" - ")?;
                    let f: Vec<&str> = left.split_whitespace().collect();
                    let r: Vec<&str> = right.split_whitespace().collect();
                    let mut options: Vec<String> = f.get(5)?.split(',').map(str::to_owned).collect();
                    options.extend(
                        r.get(2)
                            .unwrap_or(&"")
                            .split(',')
                            .filter(|o| !options.iter().any(|x| x == o))
                            .map(str::to_owned)
                            .collect::<Vec<_>>(),
                    );
                    Some(Mount {
                        path: unescape(f.get(4)?),
                        device: r.get(1).unwrap_or(&"").to_string(),
                        fs_type: r.first()?.to_string(),
                        options,
                        source: Provenance::file(path, i as u32 + 1),
                    })
                })
                .collect(),
        ))
    } else {
        let path = "/etc/fstab";
        let text = match ctx.fs.read(path) {
            Ok(t) => t,
            Err(FsError::NotFound) => String::new(),
            Err(e) => {
                ctx.error("mounts", Some(path), &e);
                return None;
            }
        };
        let mut mounts: Vec<Mount> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim_start().starts_with('#'))
            .filter_map(|(i, l)| {
                let f: Vec<&str> = l.split_whitespace().collect();
                Some(Mount {
                    device: f.first()?.to_string(),
                    path: unescape(f.get(1)?),
                    fs_type: f.get(2)?.to_string(),
                    options: f.get(3).unwrap_or(&"defaults").split(',').map(str::to_owned).collect(),
                    source: Provenance::file(path, i as u32 + 1),
                })
            })
            .collect();
        // What fstab does not mount, the booted system's init may: the
        // verdicts for a root are those of the system it boots into.
        for default in systemd_mounts(&ctx.fs) {
            if !mounts.iter().any(|m| m.path == default.path) {
                mounts.push(default);
            }
        }
        Some(mounts)
    }
}

/// `/sys/kernel/security/lsm`: the active security modules, comma-separated
/// in the order the kernel calls them (no newline at the end).
fn security_modules(text: &str) -> Vec<String> {
    text.trim().split(',').map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned).collect()
}

/// The mounts systemd makes at boot without an fstab line, on a root whose
/// init is systemd: `/dev/shm` and `/run` (tmpfs, `nosuid,nodev`, as its
/// built-in mount table has them, never `noexec`), and `/tmp` when
/// `tmp.mount` is enabled (its `Options=`, from the unit file).
fn systemd_mounts(fs: &RootFs) -> Vec<Mount> {
    let systemd = ["/usr/lib/systemd/systemd", "/lib/systemd/systemd"].iter().any(|p| fs.exists(p))
        || fs.metadata("/etc/systemd/system").is_ok_and(|m| m.is_dir());
    if !systemd {
        return Vec::new();
    }
    let built_in = |path: &str, mode: &str| Mount {
        path: path.to_owned(),
        device: "tmpfs".to_owned(),
        fs_type: "tmpfs".to_owned(),
        options: ["rw", "nosuid", "nodev", mode].map(str::to_owned).to_vec(),
        source: Provenance::default_value("systemd's built-in mount, no line in /etc/fstab"),
    };
    let mut out = vec![built_in("/dev/shm", "mode=1777"), built_in("/run", "mode=755")];
    out.extend(tmp_mount(fs));
    out
}

/// `/tmp` from systemd's `tmp.mount` when a `.wants` folder of
/// `local-fs.target` links it and it is not masked.
fn tmp_mount(fs: &RootFs) -> Option<Mount> {
    const UNIT_DIRS: [&str; 3] = ["/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"];
    let wanted = UNIT_DIRS
        .iter()
        .any(|d| fs.symlink_metadata(&format!("{d}/local-fs.target.wants/tmp.mount")).is_ok());
    if !wanted {
        return None;
    }
    // The first unit file found wins; a link to /dev/null masks it.
    let unit = UNIT_DIRS.iter().map(|d| format!("{d}/tmp.mount")).find(|p| fs.symlink_metadata(p).is_ok())?;
    let text = fs.read(&unit).ok().filter(|t| !t.trim().is_empty())?;
    let mut section = "";
    let (mut what, mut fs_type, mut options, mut line) =
        ("tmpfs".to_owned(), "tmpfs".to_owned(), Vec::new(), 0);
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.starts_with('[') {
            section = l;
            continue;
        }
        let Some((key, value)) = l.split_once('=') else { continue };
        if section != "[Mount]" {
            continue;
        }
        let value = value.trim().replace("%%", "%");
        match key.trim() {
            "Where" if value != "/tmp" => return None,
            "What" => what = value,
            "Type" => fs_type = value,
            "Options" => {
                options = value.split(',').filter(|o| !o.is_empty()).map(str::to_owned).collect();
                line = i as u32 + 1;
            }
            _ => {}
        }
    }
    let source = if line > 0 { Provenance::file(unit, line) } else { Provenance::path(unit) };
    Some(Mount { path: "/tmp".to_owned(), device: what, fs_type, options, source })
}

/// `\040` and friends in mount paths (octal bytes; the path is UTF-8 or
/// decoded lossily).
pub(crate) fn unescape(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..=i + 3].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v =
                u32::from(b[i + 1] - b'0') * 64 + u32::from(b[i + 2] - b'0') * 8 + u32::from(b[i + 3] - b'0');
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// systemd services, sockets and timers, and whether they are enabled (a
/// link in a `.wants` or `.requires` folder).
pub fn services(ctx: &mut Ctx) -> Option<Vec<Service>> {
    let unit_dirs =
        ["/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"];
    let mut units: BTreeMap<String, String> = BTreeMap::new();
    for dir in unit_dirs {
        for path in ctx
            .fs
            .glob(&format!("{dir}/*.service"))
            .unwrap_or_default()
            .into_iter()
            .chain(ctx.fs.glob(&format!("{dir}/*.socket")).unwrap_or_default())
            .chain(ctx.fs.glob(&format!("{dir}/*.timer")).unwrap_or_default())
        {
            let name = path.rsplit('/').next().unwrap_or_default().to_owned();
            units.entry(name).or_insert(path);
        }
    }
    if units.is_empty() {
        return None;
    }
    let mut enabled: std::collections::HashSet<String> = std::collections::HashSet::new();
    for base in ["/etc/systemd/system"] {
        for wants in ctx.fs.read_dir(base).unwrap_or_default() {
            if !(wants.ends_with(".wants") || wants.ends_with(".requires")) {
                continue;
            }
            for unit in ctx.fs.read_dir(&format!("{base}/{wants}")).unwrap_or_default() {
                enabled.insert(unit);
            }
        }
    }
    let live = ctx.live();
    Some(
        units
            .into_iter()
            .map(|(name, path)| {
                // Only a service runs processes in a cgroup of its own; whether
                // a socket listens or a timer is armed is not visible there.
                let active = if live && name.ends_with(".service") {
                    Some(ctx.fs.exists(&format!("/sys/fs/cgroup/system.slice/{name}")))
                } else {
                    None
                };
                Service { enabled: enabled.contains(&name), active, name, path }
            })
            .collect(),
    )
}

/// Lines of sudoers files read in all (a bound on includes and size).
const MAX_SUDOERS_LINES: usize = 100_000;

/// sudo's configuration: `Defaults` entries and the rules that grant
/// commands, from /etc/sudoers and /etc/sudoers.d (`@includedir` /
/// `#includedir`, as Debian ships it). Files ending in `~` or holding a `.`
/// are skipped there, as sudo does.
pub fn sudo(ctx: &mut Ctx) -> Option<Sudo> {
    let main = "/etc/sudoers";
    let mut files = Vec::new();
    match ctx.fs.read(main) {
        Ok(text) => files.push((main.to_owned(), text)),
        Err(FsError::NotFound) => {}
        Err(e) => ctx.error("sudo", Some(main), &e),
    }
    let mut dirs: Vec<String> = Vec::new();
    for (_, text) in &files {
        for line in text.lines() {
            let line = line.trim();
            if let Some(dir) = line.strip_prefix("@includedir").or_else(|| line.strip_prefix("#includedir")) {
                dirs.push(dir.trim().to_owned());
            }
        }
    }
    for dir in dirs.iter().filter(|d| d.starts_with('/')) {
        let mut names = ctx.fs.read_dir(dir).unwrap_or_default();
        names.sort();
        for name in names.into_iter().filter(|n| !n.ends_with('~') && !n.contains('.')) {
            let path = format!("{dir}/{name}");
            match ctx.fs.read(&path) {
                Ok(text) => files.push((path, text)),
                Err(FsError::NotFound | FsError::Directory) => {}
                Err(e) => ctx.error("sudo", Some(&path), &e),
            }
        }
    }
    if files.is_empty() {
        return None;
    }
    let mut sudo = Sudo::default();
    let mut read = 0usize;
    for (path, text) in &files {
        let mut pending = String::new();
        let mut first_line = 0u32;
        for (i, raw) in text.lines().enumerate() {
            read += 1;
            if read > MAX_SUDOERS_LINES {
                ctx.error(
                    "sudo",
                    Some(path),
                    format!("more than {MAX_SUDOERS_LINES} lines of sudoers; the rest is not read"),
                );
                return Some(sudo);
            }
            if pending.is_empty() {
                first_line = i as u32 + 1;
            }
            let (body, continued) = match raw.strip_suffix('\\') {
                Some(b) => (b.trim_end(), true),
                None => (raw, false),
            };
            pending.push_str(if pending.is_empty() { body } else { body.trim_start() });
            if continued {
                pending.push(' ');
                continue;
            }
            let line = std::mem::take(&mut pending);
            // `#includedir` is a directive, any other `#` starts a comment.
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
                continue;
            }
            let line = line.split(" #").next().unwrap_or(line).trim();
            let src = || Provenance::file(path.clone(), first_line);
            if let Some(rest) = line.strip_prefix("Defaults") {
                // `Defaults`, `Defaults:user`, `Defaults>runas`, `Defaults@host`, `Defaults!cmd`.
                let rest = rest.trim_start_matches(|c: char| c != ' ' && c != '\t');
                let items = split_defaults(rest);
                if items.iter().any(|i| i == "!authenticate") {
                    // Authentication turned off is a grant of its own.
                    sudo.rules.push(SudoRule {
                        line: Sourced::new(line.to_owned(), src()),
                        nopasswd: false,
                        no_authenticate: true,
                    });
                }
                for item in items {
                    sudo.defaults.push(Sourced::new(item, src()));
                }
                continue;
            }
            let alias = ["User_Alias", "Runas_Alias", "Host_Alias", "Cmnd_Alias", "Cmd_Alias"];
            if alias.iter().any(|a| line.starts_with(a)) || !line.contains('=') {
                continue;
            }
            let squashed: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            sudo.rules.push(SudoRule {
                nopasswd: squashed.contains("NOPASSWD:"),
                no_authenticate: squashed.contains("!authenticate"),
                line: Sourced::new(line.to_owned(), src()),
            });
        }
    }
    Some(sudo)
}

/// `use_pty, logfile="/var/log/sudo log", env_keep += "A B"` → its items,
/// commas inside quotes kept.
fn split_defaults(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => items.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    items.push(current);
    items
        .into_iter()
        .map(|i| i.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|i| !i.is_empty())
        .collect()
}

#[cfg(test)]
mod visible_tests {
    use super::*;

    #[test]
    fn of_mounts_stacked_at_one_point_the_last_is_kept() {
        let m = |path: &str, options: &str, line: u32| Mount {
            path: path.into(),
            device: "tmpfs".into(),
            fs_type: "tmpfs".into(),
            options: options.split(',').map(str::to_owned).collect(),
            source: Provenance::file("/proc/self/mountinfo", line),
        };
        let kept = visible(vec![m("/dev/shm", "rw", 1), m("/tmp", "rw", 2), m("/dev/shm", "rw,nodev", 3)]);
        let shown: Vec<(&str, u32)> =
            kept.iter().map(|m| (m.path.as_str(), m.source.line.unwrap_or(0))).collect();
        assert_eq!(shown, [("/tmp", 2), ("/dev/shm", 3)]);
    }
}

#[cfg(test)]
mod build_tests {
    use super::*;

    fn builds(config: &[(&str, &str)], supported: Option<bool>, running: &[&str]) -> Builds {
        Builds {
            loadable: None,
            builtin: None,
            config: Some(config.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
            supported,
            running_builtin: running.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// The case of the issue: overlay built in on a kernel without module
    /// support was "absent" because the table had no symbol for it.
    #[test]
    fn built_in_is_decided_by_configuration_or_the_running_kernel() {
        let monolithic = builds(&[("CONFIG_OVERLAY_FS", "y"), ("CONFIG_SQUASHFS", "y")], Some(false), &[]);
        assert_eq!(monolithic.of("overlay"), ModuleBuild::Builtin);
        assert_eq!(monolithic.of("squashfs"), ModuleBuild::Builtin);
        assert_eq!(monolithic.of("cramfs"), ModuleBuild::Absent);
        // No configuration symbol known for the name: the running kernel's
        // /sys/module or /proc/filesystems decides.
        let modular = Builds { config: None, ..builds(&[], None, &["zonefs"]) };
        assert_eq!(modular.of("zonefs"), ModuleBuild::Builtin);
        assert_eq!(modular.of("erofs"), ModuleBuild::Unknown);
        let modular = builds(&[("CONFIG_OVERLAY_FS", "m")], Some(true), &[]);
        assert_eq!(modular.of("overlay"), ModuleBuild::Module);
    }

    /// Every module a built-in policy looks up or the collector reads by
    /// default has its configuration symbol.
    #[test]
    fn the_configuration_table_covers_every_module_rules_name() {
        let mut names: Vec<String> =
            assay_model::lookup::DEFAULT_MODULES.iter().map(|s| (*s).to_owned()).collect();
        let policies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
        let mut stack = vec![policies];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "assay") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for part in text.split("host.module(\"").skip(1) {
                        names.extend(part.split('"').next().map(str::to_owned));
                    }
                }
            }
        }
        assert!(names.iter().any(|n| n == "overlay"), "the scan found the policies' lookups: {names:?}");
        for name in names {
            assert!(
                CONFIG_SYMBOLS.iter().any(|(n, _)| *n == name),
                "{name} has no kernel configuration symbol"
            );
        }
    }

    #[test]
    fn active_security_modules_are_read_in_order() {
        assert_eq!(
            security_modules("lockdown,capability,landlock,bpf"),
            ["lockdown", "capability", "landlock", "bpf"]
        );
        assert_eq!(security_modules("capability,yama,apparmor\n"), ["capability", "yama", "apparmor"]);
        assert!(security_modules("").is_empty());
    }
}
