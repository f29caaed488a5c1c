//! The language server spoken to as an editor speaks to it: real JSON-RPC
//! messages over an in-memory connection, on a package in a temporary
//! folder; the responses are snapshots, with the folder's path redacted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

struct Client {
    connection: Connection,
    next: i32,
    /// Notifications received while waiting for responses.
    notifications: Vec<Notification>,
    server: Option<std::thread::JoinHandle<()>>,
    root: String,
}

impl Client {
    fn start(root: &Path) -> Client {
        let (server, client) = Connection::memory();
        let handle = std::thread::spawn(move || {
            assay_lsp::serve(&server).unwrap();
        });
        let mut c = Client {
            connection: client,
            next: 0,
            notifications: Vec::new(),
            server: Some(handle),
            root: root.display().to_string(),
        };
        let uri = url(root);
        c.request("initialize", json!({"processId": null, "rootUri": uri, "capabilities": {}}));
        c.notify("initialized", json!({}));
        c
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.connection
            .sender
            .send(Message::Notification(Notification::new(method.to_owned(), params)))
            .unwrap();
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = RequestId::from(self.next);
        let request = Request::new(id.clone(), method.to_owned(), params);
        self.connection.sender.send(Message::Request(request)).unwrap();
        loop {
            match self.connection.receiver.recv_timeout(Duration::from_secs(60)).unwrap() {
                Message::Response(r) if r.id == id => {
                    assert!(r.error.is_none(), "{method}: {:?}", r.error);
                    return self.redact(r.result.unwrap_or(Value::Null));
                }
                Message::Notification(n) => self.notifications.push(n),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// The diagnostics published for `uri` since the last call: the last
    /// list, after waiting for one.
    fn diagnostics(&mut self, uri: &str) -> Value {
        let mut last = None;
        loop {
            for n in self.notifications.drain(..) {
                if n.method == "textDocument/publishDiagnostics" && n.params["uri"] == uri {
                    last = Some(n.params["diagnostics"].clone());
                }
            }
            if let Some(last) = last {
                return self.redact(last);
            }
            match self.connection.receiver.recv_timeout(Duration::from_secs(60)).unwrap() {
                Message::Notification(n) => self.notifications.push(n),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// The folder's path as `$ROOT`, so snapshots hold on any machine.
    fn redact(&self, v: Value) -> Value {
        let text = serde_json::to_string(&v).unwrap().replace(&self.root, "$ROOT");
        serde_json::from_str(&text).unwrap()
    }

    /// The inverse of [`Client::redact`], for values sent back.
    fn unredact(&self, v: &Value) -> Value {
        let text = serde_json::to_string(v).unwrap().replace("$ROOT", &self.root);
        serde_json::from_str(&text).unwrap()
    }

    fn stop(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        self.server.take().unwrap().join().unwrap();
    }
}

fn url(path: &Path) -> String {
    lsp_types::Url::from_file_path(path).unwrap().to_string()
}

const COMMON: &str = r#"//! Values shared by the demo rules.

/// The most authentication attempts we accept.
const MAX_TRIES = 4

/// True for a CBC-mode cipher.
fn is_cbc(cipher: string) -> bool {
  cipher ends with "-cbc"
}
"#;

const RULES: &str = r#"import common.{MAX_TRIES, is_cbc}

/// Administrators log in as themselves and escalate with sudo.
rule DEMO-001 "No root login" {
  severity high
  description "The SSH server lets root log in."
  recommendation "Set `PermitRootLogin no`."
  applies when host.sshd is present
  fail when host.sshd.permit_root_login != "no"
    message "root may log in"
}

rule DEMO-002 "Few tries" {
  severity low
  description "Many tries make guessing cheap."
  recommendation "Set `MaxAuthTries 4`."
  let sshd = host.sshd
  applies when sshd is present
  fail when sshd.max_auth_tries > MAX_TRIES or any(c in sshd.ciphers where is_cbc(c))
    message "{sshd.max_auth_tries} tries, at most {MAX_TRIES}"
}
"#;

fn package() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("package.yaml"),
        "name: demo\ntitle: Demo\nversion: 1.0.0\ndescription: Demo rules.\nplatforms: [linux]\n",
    )
    .unwrap();
    std::fs::write(root.join("common.assay"), COMMON).unwrap();
    std::fs::write(root.join("rules.assay"), RULES).unwrap();
    dir
}

/// The position of the `nth` (0-based) occurrence of `needle` in `text`,
/// `shift` characters in.
fn position(text: &str, needle: &str, nth: usize, shift: usize) -> Value {
    let at = text.match_indices(needle).nth(nth).unwrap().0 + shift;
    let line = text[..at].matches('\n').count();
    let character = at - text[..at].rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": character})
}

fn open(c: &mut Client, uri: &str, text: &str) {
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "assay", "version": 1, "text": text}}),
    );
}

fn change(c: &mut Client, uri: &str, version: i32, text: &str) {
    c.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
    );
}

fn at(uri: &str, position: Value) -> Value {
    json!({"textDocument": {"uri": uri}, "position": position})
}

fn labels(completions: &Value) -> Vec<String> {
    completions.as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn diagnostics_arrive_while_typing_and_clear_when_mended() {
    let dir = package();
    let mut c = Client::start(dir.path());
    let uri = url(&dir.path().join("rules.assay"));
    let typo = RULES.replace("permit_root_login", "permit_root_logn");
    open(&mut c, &uri, &typo);
    insta::assert_json_snapshot!("misspelt_field", c.diagnostics(&uri));
    // A syntax error in one rule (an unclosed `{`) keeps the other rule's
    // type error.
    let broken = RULES
        .replace(
            "fail when host.sshd.permit_root_login != \"no\"\n    message \"root may log in\"\n}",
            "fail when host.sshd.",
        )
        .replace("> MAX_TRIES", "> \"four\"");
    change(&mut c, &uri, 2, &broken);
    let diagnostics = c.diagnostics(&uri);
    let codes: Vec<&str> =
        diagnostics.as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"E0101") || codes.contains(&"E0116"), "{diagnostics:#}");
    assert!(codes.contains(&"E0401"), "the other rule's type error is kept: {diagnostics:#}");
    change(&mut c, &uri, 3, RULES);
    assert_eq!(c.diagnostics(&uri), json!([]));
    c.stop();
}

#[test]
fn hover_completion_and_formatting() {
    let dir = package();
    let mut c = Client::start(dir.path());
    let uri = url(&dir.path().join("rules.assay"));
    open(&mut c, &uri, RULES);
    assert_eq!(c.diagnostics(&uri), json!([]));

    let field = c.request("textDocument/hover", at(&uri, position(RULES, "permit_root_login", 0, 3)));
    insta::assert_json_snapshot!("hover_telemetry_field", field);
    let constant = c.request("textDocument/hover", at(&uri, position(RULES, "MAX_TRIES", 1, 2)));
    insta::assert_json_snapshot!("hover_constant", constant);
    let function = c.request("textDocument/hover", at(&uri, position(RULES, "is_cbc(c)", 0, 2)));
    insta::assert_json_snapshot!("hover_function", function);
    let rule = c.request("textDocument/hover", at(&uri, position(RULES, "DEMO-001", 0, 2)));
    insta::assert_json_snapshot!("hover_rule", rule);
    // The type of a local, through the checker.
    let local =
        c.request("textDocument/hover", at(&uri, position(RULES, "  applies when sshd is present", 0, 16)));
    assert_eq!(local["contents"]["value"], "`sshd`: `Sshd?`", "{local:#}");

    // After `host.`, half typed: the telemetry's records.
    let typing = RULES.replace("  let sshd = host.sshd\n", "  let sshd = host.sshd\n  let x = host.ss\n");
    change(&mut c, &uri, 2, &typing);
    let after_host = c.request("textDocument/completion", at(&uri, position(&typing, "host.ss", 0, 7)));
    let names = labels(&after_host);
    assert!(names.contains(&"sshd".to_owned()) && names.contains(&"packages".to_owned()), "{names:?}");
    // After a local's `.`: the fields of its record, with their docs.
    let typing = RULES
        .replace("  applies when sshd is present\n", "  applies when sshd is present\n  let y = sshd.\n");
    change(&mut c, &uri, 3, &typing);
    let after_local = c.request("textDocument/completion", at(&uri, position(&typing, "sshd.\n", 0, 5)));
    let tries = after_local.as_array().unwrap().iter().find(|i| i["label"] == "max_auth_tries").unwrap();
    insta::assert_json_snapshot!("completion_field", tries);
    // A module's functions; the clauses a rule has not written yet.
    let typing = RULES.replace("  let sshd = host.sshd\n", "  let sshd = host.sshd\n  let z = strings.\n");
    change(&mut c, &uri, 4, &typing);
    let natives =
        labels(&c.request("textDocument/completion", at(&uri, position(&typing, "strings.", 0, 8))));
    assert!(natives.contains(&"lower".to_owned()), "{natives:?}");
    let typing = RULES.replace("  severity low\n", "  severity low\n  \n");
    change(&mut c, &uri, 5, &typing);
    let clauses = labels(
        &c.request("textDocument/completion", at(&uri, position(&typing, "severity low\n  \n", 0, 15))),
    );
    assert!(
        clauses.contains(&"rationale".to_owned()) && !clauses.contains(&"severity".to_owned()),
        "{clauses:?}"
    );
    let typing = RULES.replace(
        "  let sshd = host.sshd\n",
        "  let sshd = host.sshd\n  let f = host.sysctl(\"net.ipv4.ip_for\n",
    );
    change(&mut c, &uri, 6, &typing);
    let sysctls = labels(&c.request("textDocument/completion", at(&uri, position(&typing, "ip_for", 0, 6))));
    assert!(sysctls.contains(&"net.ipv4.ip_forward".to_owned()), "{} names", sysctls.len());

    // After `==` with an enumeration on the left, its values.
    let typing = RULES.replace(
        "  let sshd = host.sshd\n",
        "  let sshd = host.sshd\n  let udp = any(l in host.listeners ?? [] where l.protocol == u)\n",
    );
    change(&mut c, &uri, 7, &typing);
    let values = c.request("textDocument/completion", at(&uri, position(&typing, "== u)", 0, 4)));
    assert_eq!(labels(&values), ["tcp", "udp"], "{values:#}");

    // A constant of another module, not imported yet: offered with the
    // edit that adds it to the file's import of that module, or with a new
    // import line when there is none.
    let typing = RULES
        .replace("import common.{MAX_TRIES, is_cbc}", "import common.{is_cbc}")
        .replace("  let sshd = host.sshd\n", "  let sshd = host.sshd\n  let m = MA\n");
    change(&mut c, &uri, 100, &typing);
    let items = c.request("textDocument/completion", at(&uri, position(&typing, "= MA\n", 0, 4)));
    let max = items.as_array().unwrap().iter().find(|i| i["label"] == "MAX_TRIES").unwrap();
    insta::assert_json_snapshot!("completion_import_extended", max);
    let typing = typing.replace("import common.{is_cbc}\n", "");
    change(&mut c, &uri, 101, &typing);
    let items = c.request("textDocument/completion", at(&uri, position(&typing, "= MA\n", 0, 4)));
    let cbc = items.as_array().unwrap().iter().find(|i| i["label"] == "is_cbc").unwrap();
    assert_eq!(cbc["additionalTextEdits"][0]["newText"], "import common.{is_cbc}\n", "{cbc:#}");
    assert_eq!(cbc["additionalTextEdits"][0]["range"]["start"], json!({"line": 0, "character": 0}));
    // A `.` typed after a local, keystroke by keystroke: typed from the
    // analysis of the text before the `.` (the same fields as a fresh check).
    let without_dot =
        RULES.replace("  applies when sshd is present\n", "  applies when sshd is present\n  let y = sshd\n");
    change(&mut c, &uri, 102, &without_dot);
    c.diagnostics(&uri);
    let typing = without_dot.replace("  let y = sshd\n", "  let y = sshd.\n");
    change(&mut c, &uri, 103, &typing);
    let fields =
        labels(&c.request("textDocument/completion", at(&uri, position(&typing, "= sshd.\n", 0, 7))));
    assert!(fields.contains(&"max_auth_tries".to_owned()), "{fields:?}");

    // Formatting rewrites the document as `assay fmt` does.
    let messy = RULES.replace("  severity high\n", "      severity    high\n");
    change(&mut c, &uri, 7, &messy);
    let edits = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(edits[0]["newText"], RULES, "{edits:#}");
    // Only the declarations the range touches.
    let both = messy.replace("  severity low\n", "         severity low\n");
    change(&mut c, &uri, 8, &both);
    let second =
        json!({"start": position(&both, "DEMO-002", 0, 0), "end": position(&both, "DEMO-002", 0, 0)});
    let edits = c.request(
        "textDocument/rangeFormatting",
        json!({"textDocument": {"uri": uri}, "range": second, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(edits.as_array().unwrap().len(), 1, "{edits:#}");
    assert!(edits[0]["newText"].as_str().unwrap().contains("\n  severity low\n"), "{edits:#}");
    assert_eq!(edits[0]["range"]["start"]["line"], 12, "{edits:#}");
    change(&mut c, &uri, 9, RULES);
    let none = c.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(none, json!([]));
    c.stop();
}

#[test]
fn symbols_definitions_references_and_renames() {
    let dir = package();
    let mut c = Client::start(dir.path());
    let uri = url(&dir.path().join("rules.assay"));
    let common = url(&dir.path().join("common.assay"));
    open(&mut c, &uri, RULES);
    let outline = c.request("textDocument/documentSymbol", json!({"textDocument": {"uri": uri}}));
    insta::assert_json_snapshot!("document_symbols", outline);
    let found = c.request("workspace/symbol", json!({"query": "cbc"}));
    insta::assert_json_snapshot!("workspace_symbols", found);

    let definition = c.request("textDocument/definition", at(&uri, position(RULES, "MAX_TRIES", 1, 1)));
    assert_eq!(definition["uri"], c.redact(json!(common)), "{definition:#}");
    assert_eq!(definition["range"]["start"], position(COMMON, "MAX_TRIES", 0, 0));
    // A local's definition is its `let`.
    let local = c.request("textDocument/definition", at(&uri, position(RULES, "sshd.max_auth_tries", 0, 1)));
    assert_eq!(local["range"]["start"], position(RULES, "sshd = host", 0, 0), "{local:#}");

    let refs = c.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri}, "position": position(RULES, "MAX_TRIES", 2, 0), "context": {"includeDeclaration": true}}),
    );
    insta::assert_json_snapshot!("references", refs);
    let rename = c.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri}, "position": position(RULES, "is_cbc", 1, 0), "newName": "is_cbc_mode"}),
    );
    let changes = rename["changes"].as_object().unwrap();
    assert_eq!(changes.len(), 2, "{rename:#}");
    let redacted = |u: &str| c.redact(json!(u)).as_str().unwrap().to_owned();
    assert_eq!(changes[&redacted(&common)].as_array().unwrap().len(), 1);
    assert_eq!(changes[&redacted(&uri)].as_array().unwrap().len(), 2, "the import and the call: {rename:#}");
    c.stop();
}

#[test]
fn a_misspelt_name_has_a_quick_fix() {
    let dir = package();
    let mut c = Client::start(dir.path());
    let uri = url(&dir.path().join("rules.assay"));
    let typo = RULES.replace("permit_root_login", "permit_root_logn");
    open(&mut c, &uri, &typo);
    c.diagnostics(&uri);
    let whole = json!({"start": {"line": 0, "character": 0}, "end": {"line": 40, "character": 0}});
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": whole, "context": {"diagnostics": []}}),
    );
    let titles: Vec<&str> =
        actions.as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert!(titles.contains(&"Replace with `permit_root_login`"), "{actions:#}");
    let fix = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Replace with `permit_root_login`")
        .unwrap();
    insta::assert_json_snapshot!("quick_fix", fix);
    // A lint's fix: an unused binding named as one.
    let spare = RULES.replace("  let sshd = host.sshd\n", "  let sshd = host.sshd\n  let spare = 1\n");
    change(&mut c, &uri, 2, &spare);
    c.diagnostics(&uri);
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": whole, "context": {"diagnostics": []}}),
    );
    let titles: Vec<&str> =
        actions.as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Replace with `_spare`", "Remove the unused `let spare`"], "{actions:#}");
    // An unguarded read: offered on the `fail when` line alone, a default
    // there, or the guard, which goes where the rule's metadata ends.
    let unguarded = RULES.replacen("  applies when host.sshd is present\n", "", 1);
    change(&mut c, &uri, 3, &unguarded);
    c.diagnostics(&uri);
    let line = unguarded.lines().position(|l| l.contains("permit_root_login !=")).unwrap();
    let fail_line =
        json!({"start": {"line": line, "character": 0}, "end": {"line": line + 1, "character": 0}});
    let actions = c.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri}, "range": fail_line, "context": {"diagnostics": []}}),
    );
    insta::assert_json_snapshot!("quick_fix_unguarded", actions);
    c.stop();
}

const TESTS: &str = r#"cases:
  - name: root may log in
    telemetry:
      sshd:
        permit_root_login: { value: "yes" }
    expect:
      DEMO-001: failed
  - name: wrongly expected to pass
    telemetry:
      sshd:
        permit_root_login: { value: "yes" }
    expect:
      DEMO-001: passed
  - name: a misspelt rule and outcome
    telemetry: {}
    expect:
      DEMO-01: passed
      DEMO-002: passd
"#;

/// Policy tests in the editor: a test file's mistakes as diagnostics, a
/// lens on each rule that runs the cases naming it (failures shown on the
/// cases' lines), and one that evaluates the rule on a telemetry file.
#[test]
fn policy_tests_are_checked_run_from_a_lens_and_rules_evaluated() {
    let dir = package();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    let tests_path = dir.path().join("tests/demo.yaml");
    std::fs::write(&tests_path, TESTS).unwrap();
    let telemetry = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/telemetry/weak-ssh.json");
    std::fs::copy(telemetry, dir.path().join("host.json")).unwrap();

    let (server, client) = Connection::memory();
    let handle = std::thread::spawn(move || assay_lsp::serve(&server).unwrap());
    let mut c = Client {
        connection: client,
        next: 0,
        notifications: Vec::new(),
        server: Some(handle),
        root: dir.path().display().to_string(),
    };
    let root = url(dir.path());
    c.request(
        "initialize",
        json!({"processId": null, "rootUri": root, "capabilities": {}, "initializationOptions": {"telemetry": "host.json", "diagnosticsUrl": "https://assay.invalid/docs/diagnostics.md"}}),
    );
    c.notify("initialized", json!({}));

    let tests = url(&tests_path);
    open(&mut c, &tests, TESTS);
    insta::assert_json_snapshot!("test_file_mistakes", c.diagnostics(&tests));

    let uri = url(&dir.path().join("rules.assay"));
    open(&mut c, &uri, RULES);
    let lenses = c.request("textDocument/codeLens", json!({"textDocument": {"uri": uri}}));
    insta::assert_json_snapshot!("code_lenses", lenses);

    // The first rule's lens: two cases, one fails, on its own line.
    let run = c.unredact(&lenses[0]["command"]);
    let summary = c.request(
        "workspace/executeCommand",
        json!({"command": run["command"], "arguments": run["arguments"]}),
    );
    assert_eq!(summary, "DEMO-001: 1 of 2 test case(s) failed (shown on the cases)");
    let diagnostics = c.diagnostics(&tests);
    let failure = diagnostics.as_array().unwrap().iter().find(|d| d["code"] == "test-failed").unwrap();
    assert_eq!(failure["range"]["start"]["line"], 7, "{diagnostics:#}");
    assert!(failure["message"].as_str().unwrap().contains("expected passed, got failed"), "{failure:#}");

    let evaluate = c.unredact(&lenses[1]["command"]);
    assert_eq!(evaluate["title"], "▶ evaluate on host.json");
    let outcome = c.request(
        "workspace/executeCommand",
        json!({"command": evaluate["command"], "arguments": evaluate["arguments"]}),
    );
    assert_eq!(outcome, "DEMO-001 on host.json: failed: root may log in");

    // With `diagnosticsUrl` set, a code links to its section of docs/diagnostics.md.
    change(&mut c, &uri, 2, &RULES.replace("permit_root_login !=", "permit_root_logn !="));
    let published = c.diagnostics(&uri);
    assert_eq!(published[0]["code"], "E0302", "{published:#}");
    assert_eq!(published[0]["codeDescription"]["href"], "https://assay.invalid/docs/diagnostics.md#e0302");
    c.stop();
}

/// The manifest's mistakes are published on package.yaml when a rules
/// file of the package is open or when the manifest itself is; a rule
/// typed without its clauses yet gets the checker's own complaints (no
/// severity, no check), not a syntax error that hides the other rules.
#[test]
fn a_broken_manifest_and_a_rule_without_clauses() {
    let dir = package();
    let manifest = dir.path().join("package.yaml");
    std::fs::write(
        &manifest,
        "name: demo\ntitle: Demo\nversion: one\ndescription: Demo rules.\nplatforms: [linux]\n",
    )
    .unwrap();
    let mut c = Client::start(dir.path());
    let uri = url(&dir.path().join("rules.assay"));
    let bare = format!("{RULES}\nrule DEMO-003 \"Typed so far\" {{\n}}\n");
    open(&mut c, &uri, &bare);
    let manifest_uri = url(&manifest);
    let on_manifest = c.diagnostics(&manifest_uri);
    let codes: Vec<&str> =
        on_manifest.as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["E0201"], "{on_manifest:#}");
    assert_eq!(on_manifest[0]["range"]["start"]["line"], 2, "the version's line: {on_manifest:#}");

    std::fs::write(
        &manifest,
        "name: demo\ntitle: Demo\nversion: 1.0.0\ndescription: Demo rules.\nplatforms: [linux]\n",
    )
    .unwrap();
    change(&mut c, &uri, 2, &bare);
    let diagnostics = c.diagnostics(&uri);
    let codes: Vec<&str> =
        diagnostics.as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"E0112") && codes.contains(&"E0113"), "{diagnostics:#}");
    assert!(!codes.contains(&"E0101"), "no syntax error: {diagnostics:#}");
    c.stop();
}
