//! `assay lsp` on the built-in cis-linux package (200+ rules in ~20
//! files): a recorded editing session (a rule body typed keystroke by
//! keystroke) replayed through the server over an in-memory connection,
//! timing each change until its diagnostics are published, a completion
//! after `host.` and after a local's `.`, and the server's resident memory
//! with every file of the built-in policies open. The peer, measured in
//! the same run: `assay check` of the same package in process (load,
//! parse, check), the floor any edit's diagnostics cost.
//!
//! `cargo bench --manifest-path bench/Cargo.toml --bench lsp [-- --quick]`;
//! results in bench/README.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Client {
    connection: Connection,
    next: i32,
}

impl Client {
    fn notify(&self, method: &str, params: Value) {
        self.connection
            .sender
            .send(Message::Notification(Notification::new(method.to_owned(), params)))
            .unwrap();
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = RequestId::from(self.next);
        self.connection
            .sender
            .send(Message::Request(Request::new(id.clone(), method.to_owned(), params)))
            .unwrap();
        loop {
            match self.connection.receiver.recv_timeout(Duration::from_secs(60)).unwrap() {
                Message::Response(r) if r.id == id => return r.result.unwrap_or(Value::Null),
                _ => {}
            }
        }
    }

    /// Waits for the diagnostics of `uri`.
    fn published(&self, uri: &str) -> Value {
        loop {
            if let Message::Notification(n) =
                self.connection.receiver.recv_timeout(Duration::from_secs(60)).unwrap()
            {
                if n.method == "textDocument/publishDiagnostics" && n.params["uri"] == uri {
                    return n.params["diagnostics"].clone();
                }
            }
        }
    }
}

fn url(path: &Path) -> String {
    lsp_types::Url::from_file_path(path).unwrap().to_string()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Quick mode (`-- --quick`, or `cargo test --benches`, which does not pass
/// `--bench`): one short iteration, for CI, so the bench cannot rot.
fn quick() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench")
}

fn main() {
    let quick = quick();
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies").canonicalize().unwrap();
    let package = policies.join("cis-linux");
    let file = package.join("ssh.assay");
    let text = std::fs::read_to_string(&file).unwrap();
    let uri = url(&file);

    // The peer: `assay check` of the package, in process.
    let rounds = if quick { 3 } else { 30 };
    let mut check = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        let loaded = assay_compiler::package::load(&[file.clone()]).unwrap();
        let diagnostics = assay_compiler::check(&loaded);
        check.push(start.elapsed());
        assert!(diagnostics.iter().all(|d| !d.is_error()));
    }
    check.sort();

    let before = rss_mib();
    let (server, client) = Connection::memory();
    let handle = std::thread::spawn(move || assay_lsp::serve(&server).unwrap());
    let mut c = Client { connection: client, next: 0 };
    c.request("initialize", json!({"processId": null, "rootUri": url(&policies), "capabilities": {}}));
    c.notify("initialized", json!({}));
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "assay", "version": 1, "text": text}}),
    );
    c.published(&uri);

    // The session: a new rule typed at the end of the file, a keystroke
    // at a time (each a full-text change, as the server synchronises).
    let typed = "\nrule CIS-9.9.9 \"Typed in the benchmark\" {\n  severity low\n  description \"d\"\n  recommendation \"r\"\n  let typed_sshd = host.sshd\n  applies when typed_sshd is present\n  fail when typed_sshd.max_auth_tries > 4\n    message \"{typed_sshd.max_auth_tries} tries\"\n}\n";
    let keystrokes: Vec<usize> = typed.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
    let keystrokes: Vec<usize> = if quick {
        // Every 20th keystroke, and the last.
        let last = keystrokes.last().copied();
        keystrokes.into_iter().step_by(20).chain(last).collect()
    } else {
        keystrokes
    };
    let mut edits = Vec::new();
    let mut last = Value::Null;
    for (version, end) in keystrokes.iter().enumerate() {
        let now = format!("{text}{}", &typed[..*end]);
        let start = Instant::now();
        c.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version + 2}, "contentChanges": [{"text": now}]}),
        );
        last = c.published(&uri);
        edits.push(start.elapsed());
    }
    let full = format!("{text}{typed}");
    assert!(keystrokes.last() == Some(&typed.len()), "the session ends with the rule typed whole");
    let errors: Vec<&Value> = last.as_array().unwrap().iter().filter(|d| d["severity"] == 1).collect();
    assert!(errors.is_empty(), "the typed rule checks clean: {errors:?}");
    edits.sort();

    // Completion after `host.` and after a local's `.`.
    let mut completions = Vec::new();
    let after = "  let typed_sshd = host.sshd\n";
    let at = full.find(after).unwrap() + after.len();
    for (i, insert) in ["  let x = host.", "  let y = typed_sshd."]
        .iter()
        .cycle()
        .take(if quick { 4 } else { 40 })
        .enumerate()
    {
        // Typed as an author types: the name, its diagnostics, then the `.`.
        let name = insert.trim_end_matches('.');
        for (n, typed) in [name, insert].into_iter().enumerate() {
            let edited = format!("{}{typed}\n{}", &full[..at], &full[at..]);
            let version = 10_000 + 2 * i + n;
            c.notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": edited}]}),
            );
            c.published(&uri);
        }
        let edited = format!("{}{insert}\n{}", &full[..at], &full[at..]);
        let offset = at + insert.len();
        let line = edited[..offset].matches('\n').count();
        let character = offset - edited[..offset].rfind('\n').map_or(0, |n| n + 1);
        let start = Instant::now();
        let items = c.request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}),
        );
        completions.push(start.elapsed());
        let labels: Vec<&str> =
            items.as_array().unwrap().iter().filter_map(|i| i["label"].as_str()).collect();
        let want = if insert.ends_with("host.") { "sshd" } else { "max_auth_tries" };
        assert!(labels.contains(&want), "{insert}: {labels:?}");
    }
    completions.sort();

    // Every built-in policy file open at once.
    let mut opened: Vec<PathBuf> = Vec::new();
    for entry in walk(&policies) {
        let text = std::fs::read_to_string(&entry).unwrap();
        let u = url(&entry);
        c.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": u, "languageId": "assay", "version": 1, "text": text}}),
        );
        c.published(&u);
        opened.push(entry);
    }
    let after = rss_mib();
    c.request("shutdown", Value::Null);
    c.notify("exit", Value::Null);
    handle.join().unwrap();

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "lsp on policies/cis-linux/ssh.assay: a rule typed in {} changes, {} completions",
        edits.len(),
        completions.len()
    );
    println!(
        "  diagnostics after an edit: p50 {:.1} ms, p99 {:.1} ms (peer, assay check of the package in process: p50 {:.1} ms; ratio {:.2}x)",
        ms(percentile(&edits, 0.5)),
        ms(percentile(&edits, 0.99)),
        ms(percentile(&check, 0.5)),
        ms(percentile(&edits, 0.5)) / ms(percentile(&check, 0.5)),
    );
    println!(
        "  completion: p50 {:.1} ms, p99 {:.1} ms",
        ms(percentile(&completions, 0.5)),
        ms(percentile(&completions, 0.99))
    );
    println!(
        "  resident memory with all {} built-in policy files open: {:.0} MiB (the process: {:.0} MiB before the server started)",
        opened.len(),
        after,
        before
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "assay") {
            out.push(path);
        }
    }
    out.sort();
    out
}
