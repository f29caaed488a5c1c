//! The collector against fixture root file systems (`tests/fixtures/hosts/`,
//! built from the files Debian ships; see `make.py` there): snapshots of
//! each, the effective sshd configuration, secrets, and broken input.

// Test code: an unwrap that fails is a failing test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use assay_model::telemetry::Telemetry;
use assay_runtime::collector::collect_root;
use assay_runtime::value::Host;
use std::process::Command;

use common::{copy_host, fixture};

/// The document must read back through the strict, schema-checked loader.
fn validated(doc: &Telemetry) -> Host {
    let json = serde_json::to_vec(doc).unwrap();
    Host::from_json(&json).unwrap_or_else(|e| panic!("the collected document does not validate: {e}"))
}

#[test]
fn fixture_hosts_collect_into_snapshots() {
    for host in ["debian-default", "debian-hardened", "alpine", "rpm", "broken"] {
        let doc = collect_root(&fixture(host));
        validated(&doc);
        // Ownership and modes come from the checkout, times from the clock.
        insta::assert_json_snapshot!(format!("collect_{host}"), doc, {
            ".collection" => "[collection]",
            ".files[].uid" => "[uid]",
            ".files[].gid" => "[gid]",
            ".files[].owner" => "[owner]",
            ".files[].group" => "[group]",
            ".files[].mode" => "[mode]",
            ".world_writable" => "[checkout-dependent]",
        });
    }
}

#[test]
fn a_drop_in_overrides_the_main_file_with_its_own_provenance() {
    let doc = collect_root(&fixture("debian-default"));
    let sshd = doc.sshd.unwrap();
    // Debian's sshd_config includes sshd_config.d/*.conf at its top, so the
    // drop-in's lines come first and win over `X11Forwarding yes` below.
    assert!(!sshd.x11_forwarding.value);
    assert_eq!(sshd.x11_forwarding.source.to_string(), "/etc/ssh/sshd_config.d/50-cloud-init.conf:2");
    assert!(sshd.password_authentication.value);
    assert_eq!(
        sshd.password_authentication.source.to_string(),
        "/etc/ssh/sshd_config.d/50-cloud-init.conf:1"
    );
    assert!(sshd.use_pam.value);
    assert!(sshd.use_pam.source.to_string().starts_with("/etc/ssh/sshd_config:"));
    assert_eq!(sshd.permit_root_login.value, "prohibit-password");
    assert_eq!(sshd.permit_root_login.source.to_string(), "OpenSSH default");
    let hardened = collect_root(&fixture("debian-hardened")).sshd.unwrap();
    assert_eq!(hardened.permit_root_login.value, "no");
    assert_eq!(hardened.max_auth_tries.value, 4);
    assert_eq!(hardened.login_grace_time.value, 60);
}

#[test]
fn packages_come_from_every_database_with_source_names() {
    let deb = collect_root(&fixture("debian-default")).packages.unwrap();
    assert!(deb.iter().any(|p| p.name == "requests" && p.version.0 == "2.28.1"));
    let ssh = deb.iter().find(|p| p.name == "openssh-client").unwrap();
    assert_eq!(ssh.source_name.as_deref(), Some("openssh"));
    let rpm = collect_root(&fixture("rpm"));
    let pkgs = rpm.packages.unwrap();
    assert!(pkgs.iter().any(|p| p.name == "openssl-libs"
        && p.version.0 == "1:3.0.7-27.el9"
        && p.source_name.as_deref() == Some("openssl")));
    assert!(rpm.errors.iter().any(|e| e.message.contains("package record 5")), "{:?}", rpm.errors);
    let apk = collect_root(&fixture("alpine")).packages.unwrap();
    assert!(apk.iter().any(|p| p.name == "libssl3" && p.source_name.as_deref() == Some("openssl")));
}

#[test]
fn no_secret_reaches_the_telemetry() {
    let dir = copy_host("debian-default");
    let root = dir.path().join("root");
    let hash = "$6$rounds=5000$PLANTEDSALT$PLANTEDHASHc2VjcmV0IGhhc2ggdmFsdWU";
    let key = "PLANTEDKEYb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ";
    let token = "tok_PLANTED_9f8e7d6c5b4a";
    let shadow = std::fs::read_to_string(root.join("etc/shadow")).unwrap();
    std::fs::write(root.join("etc/shadow"), shadow.replace("root:*:", &format!("root:{hash}:"))).unwrap();
    std::fs::write(
        root.join("etc/ssh/ssh_host_ed25519_key"),
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{key}\n-----END OPENSSH PRIVATE KEY-----\n"),
    )
    .unwrap();
    std::fs::write(root.join("etc/environment"), format!("API_TOKEN={token}\n")).unwrap();
    std::fs::write(root.join("etc/ssh/sshd_config.d/90-token.conf"), format!("# deploy token {token}\n"))
        .unwrap();
    let doc = collect_root(&root);
    let json = serde_json::to_string(&doc).unwrap();
    for secret in [hash, "PLANTEDSALT", "PLANTEDHASH", key, token, "$y$j9T$FIXTURE"] {
        assert!(!json.contains(secret), "`{secret}` leaked into the telemetry");
    }
    // The facts about them are there: root has a password set, the key's mode.
    let root_user = doc.users.unwrap().into_iter().find(|u| u.name == "root").unwrap();
    assert_eq!(root_user.password.as_str(), "set");
    assert!(doc.files.unwrap().iter().any(|f| f.path == "/etc/ssh/ssh_host_ed25519_key"));
}

#[test]
fn the_broken_host_collects_with_recorded_errors_and_never_hangs() {
    let dir = copy_host("broken");
    let root = dir.path().join("root");
    // What git cannot hold: a FIFO where a file should be (reading it would
    // block forever) and a file over the read bound.
    let fifo = root.join("etc/login.defs");
    std::fs::remove_file(&fifo).unwrap();
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let big = std::fs::File::create(root.join("var/lib/dpkg/status")).unwrap();
    big.set_len(64 << 20).unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_assay")).args(["collect", "--root"]).arg(&root).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Telemetry = serde_json::from_slice(&out.stdout).unwrap();
    let errors: Vec<String> = doc
        .errors
        .iter()
        .map(|e| format!("{} {} {}", e.sensor, e.path.clone().unwrap_or_default(), e.message))
        .collect();
    for expected in [
        "login.defs /etc/login.defs not a regular file",
        "packages /var/lib/dpkg/status",
        "sshd /etc/ssh/sshd_config Include cycle",
        "groups /etc/group too many levels of symbolic links",
        "users /etc/shadow a directory",
        "os /etc/os-release binary content",
        "packages /var/lib/rpm/rpmdb.sqlite not an rpm database",
    ] {
        assert!(errors.iter().any(|e| e.starts_with(expected)), "missing `{expected}` in {errors:#?}");
    }
    // One broken sensor does not stop the others.
    assert!(doc.sshd.is_some() && doc.users.is_some() && doc.kernel.is_some());
}

#[test]
fn this_machine_collects_a_valid_document() {
    let out = Command::new(env!("CARGO_BIN_EXE_assay")).arg("collect").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    Host::from_json(&out.stdout).unwrap_or_else(|e| panic!("does not validate: {e}"));
    let doc = assay_model::telemetry::from_json(&out.stdout).unwrap();
    assert!(doc.asset.os.is_some());
    assert!(doc.processes.as_ref().is_some_and(|p| !p.is_empty()));
}

#[test]
fn sampling_counts_samples_and_sightings() {
    let out = Command::new(env!("CARGO_BIN_EXE_assay"))
        .args(["collect", "--duration", "1s", "--interval", "300ms", "--tag", "env=test"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Telemetry = serde_json::from_slice(&out.stdout).unwrap();
    let samples = doc.collection.unwrap().samples;
    // At least the first and the last sample, whatever the machine's load.
    assert!(samples >= 2, "{samples} samples in one second at 300 ms");
    let processes = doc.processes.unwrap();
    assert!(
        processes.iter().any(|p| p.seen.samples == samples),
        "long-lived processes are seen in every sample"
    );
    assert!(processes.iter().all(|p| p.seen.samples >= 1 && p.seen.first_seen <= p.seen.last_seen));
    assert_eq!(doc.asset.tags[0].key, "env");
}

/// Every command-line form the security review found collected in clear,
/// planted in a real process of this host: no secret may reach the
/// telemetry (either policy), a report or an error message.
#[test]
fn no_secret_from_a_command_line_reaches_telemetry_or_reports() {
    let forms: &[&str] = &[
        "-p",
        "hunter4",
        "-pSecret5",
        "-u",
        "user:pass6",
        "-H",
        "Authorization: Bearer tok7",
        "--passphrase=phrase9",
        "--pw",
        "pw10",
        "--dbpass=db11",
        "--ldap-bindpw=bind12",
        "--sshpass=ssh13",
        "-a",
        "redis14",
        "--oauth2",
        "oauth15",
        "--cookie=session=cookie16",
        "Server=db;User Id=sa;Password=conn17;",
        r#"{"password":"json18","nested":{"api_token":"json19"}}"#,
        "db_password=kv20",
        "--password hunter3",
        "postgres://app:url21@db/app",
        "TOKEN=tok22",
        r#"{"HOME":"/root","GITHUB_TOKEN":"env23","AWS_SECRET_ACCESS_KEY":"env24"}"#,
    ];
    let secrets = [
        "hunter4", "Secret5", "pass6", "tok7", "phrase9", "pw10", "db11", "bind12", "ssh13", "redis14",
        "oauth15", "cookie16", "conn17", "json18", "json19", "kv20", "hunter3", "url21", "tok22", "env23",
        "env24",
    ];
    let mut child =
        Command::new("bash").args(["-c", "sleep 600; :", "planted-secrets"]).args(forms).spawn().unwrap();
    // A process title: the whole line in argv[0] (`exec -a`, setproctitle).
    let mut titled = Command::new("bash")
        .args(["-c", r#"exec -a "titled-proc -pTitle26 --password=Title27 -u admin" sleep 600"#])
        .spawn()
        .unwrap();
    // Until bash has exec'd, the title is not there to collect.
    let start = std::time::Instant::now();
    while !std::fs::read(format!("/proc/{}/cmdline", titled.id()))
        .unwrap_or_default()
        .starts_with(b"titled-proc")
    {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "exec -a did not happen");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let assay = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_assay")).args(args).output().unwrap();
    let runs = [
        assay(&["collect"]),
        assay(&["collect", "--collect-cmdlines"]),
        assay(&["scan", "--format", "json", "--report", "full"]),
        assay(&["scan", "--format", "sarif"]),
    ];
    let _ = child.kill();
    let _ = child.wait();
    let _ = titled.kill();
    let _ = titled.wait();
    // Whole lines keep the harmless arguments, so the process is there.
    let whole = String::from_utf8_lossy(&runs[1].stdout).into_owned();
    assert!(whole.contains("planted-secrets"), "the planted process was not collected");
    assert!(whole.contains("\"titled-proc\""), "the titled process was not collected");
    for run in &runs {
        let text =
            format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
        for secret in secrets.iter().chain(&["Title26", "Title27"]) {
            assert!(!text.contains(secret), "`{secret}` leaked");
        }
    }
    assert!(whole.contains("\"command_lines\": \"redacted\"") && whole.contains("[redacted]"));
}

/// Module build states come from the root's kernel: modules.dep (loadable),
/// modules.builtin and /boot/config-RELEASE; a module in none of them is not
/// built, and the CIS rules pass for it instead of advising `modprobe -r`.
#[test]
fn kernel_modules_are_loadable_built_in_or_not_built() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let modules = root.join("lib/modules/6.1.0-test");
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::create_dir_all(root.join("boot")).unwrap();
    std::fs::write(modules.join("modules.dep"), "kernel/fs/udf/udf.ko.xz: kernel/lib/crc-itu-t.ko.xz\nkernel/drivers/usb/storage/usb-storage.ko.xz:\n").unwrap();
    std::fs::write(modules.join("modules.builtin"), "kernel/fs/squashfs/squashfs.ko\n").unwrap();
    std::fs::write(
        root.join("boot/config-6.1.0-test"),
        "CONFIG_MODULES=y\nCONFIG_SQUASHFS=y\nCONFIG_UDF_FS=m\n# CONFIG_CRAMFS is not set\n",
    )
    .unwrap();
    let kernel = collect_root(&root).kernel.unwrap();
    let build = |name: &str| kernel.modules.iter().find(|m| m.name == name).unwrap().build.as_str();
    assert_eq!(build("udf"), "module");
    assert_eq!(build("usb-storage"), "module");
    assert_eq!(build("squashfs"), "builtin");
    assert_eq!(build("cramfs"), "absent");
    assert_eq!(build("sctp"), "absent", "not in modules.dep: not built");
    assert_eq!(kernel.modules_supported, Some(true));
}

/// A process running from memory (memfd, a "fileless" program) has no
/// executable to inspect: the collection says so in `errors` instead of
/// dropping it silently.
#[test]
fn a_process_run_from_memory_is_recorded_in_errors() {
    use std::os::fd::AsRawFd;
    let Ok(sleep) = std::fs::read("/bin/sleep") else {
        eprintln!("skipped: no /bin/sleep to run from memory");
        return;
    };
    let fd = rustix::fs::memfd_create("assay-test", rustix::fs::MemfdFlags::empty()).unwrap();
    let mut file = std::fs::File::from(fd);
    std::io::Write::write_all(&mut file, &sleep).unwrap();
    let mut child = Command::new(format!("/proc/self/fd/{}", file.as_raw_fd())).arg("600").spawn().unwrap();
    // Until the child has exec'd, its /proc entry still shows the test.
    let exe = format!("/proc/{}/exe", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !std::fs::read_link(&exe).is_ok_and(|p| p.to_string_lossy().contains("memfd:")) {
        assert!(std::time::Instant::now() < deadline, "the child never ran from memory");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let doc = assay_runtime::collector::collect(&assay_runtime::collector::Config::default(), &mut |_| {});
    let _ = child.kill();
    let _ = child.wait();
    let found = doc.errors.iter().any(|e| {
        e.sensor == "processes"
            && e.message.contains(&format!("process {}", child.id()))
            && e.message.contains("/memfd:assay-test")
    });
    assert!(found, "{:?}", doc.errors);
}

/// PAM lines keep their module, control and arguments with file and line,
/// and never a credential given as an argument.
#[test]
fn pam_lines_are_read_per_stack_without_credentials() {
    let host = copy_host("debian-default");
    let root = host.path().join("root");
    std::fs::write(
        root.join("etc/pam.d/common-session"),
        "# comment\nsession [default=1] pam_permit.so\n-session optional pam_ldap.so binddn=cn=x bindpw=hunter2 # trailing\n@include common-extra\n",
    )
    .unwrap();
    let doc = assay_runtime::collector::collect_one(&root, "pam-stacks").unwrap();
    let lines = doc.pam.unwrap();
    let session: Vec<_> = lines.iter().filter(|l| l.stack == "common-session").collect();
    assert_eq!(session.len(), 3, "{session:?}");
    assert_eq!(
        (session[0].control.as_str(), session[0].module.value.as_str()),
        ("[default=1]", "pam_permit.so")
    );
    assert_eq!(session[1].kind, "session");
    assert_eq!(session[1].arguments, ["binddn=cn=x", "bindpw=[redacted]"]);
    assert_eq!(session[1].module.source.line, Some(3));
    assert_eq!((session[2].kind.as_str(), session[2].module.value.as_str()), ("@include", "common-extra"));
    let text = serde_json::to_string(&lines).unwrap();
    assert!(!text.contains("hunter2"));
}

/// The world-writable and unowned search covers every local file system,
/// not only the system folders (a data folder under /srv counts).
#[test]
fn world_writable_and_unowned_files_are_found_anywhere_local() {
    use std::os::unix::fs::PermissionsExt;
    let host = copy_host("debian-default");
    let root = host.path().join("root");
    let data = root.join("srv/data");
    std::fs::create_dir_all(&data).unwrap();
    let open = data.join("open.txt");
    std::fs::write(&open, "x").unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
    let orphan = data.join("orphan.txt");
    std::fs::write(&orphan, "x").unwrap();
    let owned_by_nobody = std::os::unix::fs::chown(&orphan, Some(54321), Some(54321)).is_ok();
    let doc = collect_root(&root);
    let writable: Vec<&str> = doc.world_writable.iter().flatten().map(|f| f.path.as_str()).collect();
    assert!(writable.contains(&"/srv/data/open.txt"), "{writable:?}");
    if owned_by_nobody {
        let unowned: Vec<&str> = doc.unowned.iter().flatten().map(|f| f.path.as_str()).collect();
        assert!(unowned.contains(&"/srv/data/orphan.txt"), "{unowned:?}");
    } else {
        eprintln!("skipped the unowned half: chown needs root");
    }
}

/// sudoers: Defaults items (quoted commas kept), continued lines joined,
/// included files read, NOPASSWD and !authenticate noted with file:line.
#[test]
fn sudoers_and_its_includes_are_read() {
    let host = copy_host("debian-default");
    let root = host.path().join("root");
    std::fs::create_dir_all(root.join("etc/sudoers.d")).unwrap();
    std::fs::write(
        root.join("etc/sudoers"),
        "Defaults\tenv_reset, use_pty\nDefaults logfile=\"/var/log/sudo, all.log\"\n# a comment\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) \\\n  ALL\n@includedir /etc/sudoers.d\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/sudoers.d/deploy"),
        "deploy ALL=(ALL) NOPASSWD: /usr/bin/systemctl\nDefaults:ops !authenticate\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/sudoers.d/skipped.bak"), "nobody ALL=(ALL) NOPASSWD: ALL\n").unwrap();
    let sudo = assay_runtime::collector::collect_one(&root, "sudo").unwrap().sudo.unwrap();
    let defaults: Vec<&str> = sudo.defaults.iter().map(|d| d.value.as_str()).collect();
    assert_eq!(defaults, ["env_reset", "use_pty", "logfile=\"/var/log/sudo, all.log\"", "!authenticate"]);
    let rules: Vec<(&str, bool, bool, Option<u32>)> = sudo
        .rules
        .iter()
        .map(|r| (r.line.value.as_str(), r.nopasswd, r.no_authenticate, r.line.source.line))
        .collect();
    assert_eq!(
        rules,
        [
            ("root ALL=(ALL:ALL) ALL", false, false, Some(4)),
            ("%sudo ALL=(ALL:ALL) ALL", false, false, Some(5)),
            ("deploy ALL=(ALL) NOPASSWD: /usr/bin/systemctl", true, false, Some(1)),
            ("Defaults:ops !authenticate", false, true, Some(2)),
        ]
    );
}

/// Timers are units too (CIS 6.3.2 asks whether AIDE's is enabled); only a
/// service has a running state the collector can see.
#[test]
fn services_sockets_and_timers_are_units() {
    let host = copy_host("debian-default");
    let root = host.path().join("root");
    let units = root.join("lib/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::create_dir_all(root.join("etc/systemd/system/timers.target.wants")).unwrap();
    for unit in ["dailyaidecheck.timer", "dailyaidecheck.service", "rpcbind.socket"] {
        std::fs::write(units.join(unit), "[Unit]\n").unwrap();
    }
    std::os::unix::fs::symlink(
        "/lib/systemd/system/dailyaidecheck.timer",
        root.join("etc/systemd/system/timers.target.wants/dailyaidecheck.timer"),
    )
    .unwrap();
    let services = collect_root(&root).services.unwrap();
    let unit = |name: &str| {
        services.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name}: {services:?}"))
    };
    assert!(unit("dailyaidecheck.timer").enabled);
    assert!(!unit("dailyaidecheck.service").enabled);
    assert!(!unit("rpcbind.socket").enabled);
    assert!(services.iter().all(|s| s.active.is_none()), "a root file system has no running state");
}

/// An offline root's mounts are those of the system it boots: fstab's,
/// and what systemd mounts itself (`/dev/shm`, `/run`; `/tmp` when
/// `tmp.mount` is enabled, with its unit's options), each saying where it
/// comes from. fstab wins over a default, a masked unit mounts nothing, and
/// a root without systemd gets no default.
#[test]
fn an_offline_root_has_the_mounts_its_init_system_makes() {
    let host = copy_host("debian-default");
    let root = host.path().join("root");
    let mounts = collect_root(&root).mounts.unwrap();
    let shm = mounts.iter().find(|m| m.path == "/dev/shm").expect("systemd's /dev/shm");
    assert_eq!(shm.options, ["rw", "nosuid", "nodev", "mode=1777"]);
    assert_eq!(shm.source.note.as_deref(), Some("systemd's built-in mount, no line in /etc/fstab"));
    assert!(mounts.iter().any(|m| m.path == "/run"), "{mounts:?}");
    assert!(!mounts.iter().any(|m| m.path == "/tmp"), "tmp.mount is not enabled: {mounts:?}");

    // tmp.mount as systemd ships it, enabled the way `systemctl enable` does.
    let units = root.join("usr/lib/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    let unit = "[Unit]\nDescription=Temporary Directory /tmp\nConditionPathIsSymbolicLink=!/tmp\n\n[Mount]\nWhat=tmpfs\nWhere=/tmp\nType=tmpfs\nOptions=mode=1777,strictatime,nosuid,nodev,size=50%%,nr_inodes=1m\n\n[Install]\nWantedBy=local-fs.target\n";
    std::fs::write(units.join("tmp.mount"), unit).unwrap();
    let wants = root.join("etc/systemd/system/local-fs.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    std::os::unix::fs::symlink("/usr/lib/systemd/system/tmp.mount", wants.join("tmp.mount")).unwrap();
    let mounts = collect_root(&root).mounts.unwrap();
    let tmp = mounts.iter().find(|m| m.path == "/tmp").expect("tmp.mount's /tmp");
    assert_eq!(tmp.options, ["mode=1777", "strictatime", "nosuid", "nodev", "size=50%", "nr_inodes=1m"]);
    assert_eq!(tmp.source.file.as_deref(), Some("/usr/lib/systemd/system/tmp.mount"));
    assert_eq!(tmp.source.line, Some(9));

    // Masked in /etc: no /tmp. An fstab line for /dev/shm: fstab's options.
    std::os::unix::fs::symlink("/dev/null", root.join("etc/systemd/system/tmp.mount")).unwrap();
    let fstab = std::fs::read_to_string(root.join("etc/fstab")).unwrap();
    std::fs::write(root.join("etc/fstab"), format!("{fstab}tmpfs /dev/shm tmpfs nosuid,nodev,noexec 0 0\n"))
        .unwrap();
    let mounts = collect_root(&root).mounts.unwrap();
    assert!(!mounts.iter().any(|m| m.path == "/tmp"), "masked: {mounts:?}");
    let shm: Vec<_> = mounts.iter().filter(|m| m.path == "/dev/shm").collect();
    assert_eq!(shm.len(), 1, "{shm:?}");
    assert_eq!(shm[0].options, ["nosuid", "nodev", "noexec"]);
    assert_eq!(shm[0].source.file.as_deref(), Some("/etc/fstab"));

    // Alpine (OpenRC): fstab only.
    let mounts = collect_root(&fixture("alpine")).mounts.unwrap();
    assert!(mounts.iter().all(|m| m.path != "/dev/shm" && m.path != "/run"), "{mounts:?}");
}

/// The settings CIS audits in files of their own: drop-ins override the
/// main file (and /etc hides the same drop-in name in /usr/lib), pam-style
/// flags are kept, APT keeps only the options that matter and never a
/// proxy URL, and both APT source formats are read.
#[test]
fn configuration_files_are_read_with_their_provenance() {
    let host = copy_host("debian-default");
    let root = host.path().join("root");
    let write = |path: &str, text: &str| {
        let path = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("/etc/systemd/journald.conf", "[Journal]\n#Storage=auto\nStorage=volatile\nCompress=yes\n");
    write("/usr/lib/systemd/journald.conf.d/50-vendor.conf", "[Journal]\nStorage=none\n");
    write("/etc/systemd/journald.conf.d/50-vendor.conf", "[Journal]\nForwardToSyslog=no\n");
    write(
        "/etc/systemd/journald.conf.d/60-cis.conf",
        "[Other]\nStorage=none\n[Journal]\nStorage=persistent\n",
    );
    write("/etc/security/faillock.conf", "# deny = 3\ndeny = 4\neven_deny_root\n");
    write(
        "/etc/apt/apt.conf.d/99local",
        "Acquire::http::Proxy \"http://user:SECRET@proxy:3128\";\nAPT::Get::AllowUnauthenticated \"true\";\n",
    );
    write("/etc/apt/sources.list", "deb [trusted=yes] http://repo.example/ stable main\n");
    write(
        "/etc/apt/sources.list.d/debian.sources",
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    );
    write("/etc/nftables.conf", "table inet filter {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    iif lo accept\n  }\n}\n");
    write("/etc/profile.d/cis.sh", "umask 027\n");
    write("/etc/audit/auditd.conf", "max_log_file_action = keep_logs\n");
    write(
        "/etc/audit/rules.d/cis.rules",
        "## CIS\n-w /etc/sudoers -p wa -k scope\n-a always,exit -F arch=b64 -S sethostname -k system-locale\n-e 2\n",
    );
    let doc = collect_root(&root);
    let json = serde_json::to_string(&doc).unwrap();
    assert!(!json.contains("SECRET"), "an APT proxy URL reached the telemetry");
    let config = doc.config.unwrap();
    let get = |c: &str, k: &str| {
        config.iter().find(|s| s.config == c && s.key == k).map(|s| {
            (s.value.value.clone(), s.value.source.file.clone().unwrap(), s.value.source.line.unwrap())
        })
    };
    assert_eq!(
        get("journald", "Storage"),
        Some(("persistent".into(), "/etc/systemd/journald.conf.d/60-cis.conf".into(), 4))
    );
    assert_eq!(get("journald", "ForwardToSyslog").unwrap().1, "/etc/systemd/journald.conf.d/50-vendor.conf");
    assert_eq!(get("journald", "Compress").unwrap().2, 4);
    assert_eq!(get("faillock", "deny").unwrap().0, "4");
    assert_eq!(get("faillock", "even_deny_root").unwrap().0, "");
    assert_eq!(get("apt", "APT::Get::AllowUnauthenticated").unwrap().0, "true");
    assert_eq!(get("nftables", "input policy").unwrap().0, "drop");
    assert_eq!(get("nftables", "loopback accept").unwrap().2, 4);
    assert_eq!(get("profile", "umask").unwrap().1, "/etc/profile.d/cis.sh");
    assert_eq!(get("auditd", "max_log_file_action").unwrap().0, "keep_logs");
    assert_eq!(
        get("audit-rules", "watch /etc/sudoers"),
        Some(("wa".into(), "/etc/audit/rules.d/cis.rules".into(), 2))
    );
    assert_eq!(get("audit-rules", "rule").unwrap().2, 3);
    assert_eq!(get("audit-rules", "-e").unwrap().0, "2");
    let sources = doc.apt_sources.unwrap();
    assert_eq!(sources.len(), 2);
    assert!(sources[0].trusted && sources[0].uri == "http://repo.example/");
    assert_eq!(sources[1].signed_by.as_deref(), Some("/usr/share/keyrings/debian-archive-keyring.gpg"));
    validated(&serde_json::from_str(&json).unwrap());
}
