//! The web console in a real browser: Debian's headless Chromium driven
//! over WebDriver (chromedriver, fantoccini) against a real server and
//! real agents on loopback. An operator logs in, creates a target and a
//! template, starts a run and watches it complete without reloading,
//! filters findings, opens one and adds an attribute, downloads a report
//! and reads the audit log. Every page is kept as a screenshot under
//! `target/console-screenshots/`.
//!
//! `.ci/setup` installs chromium and chromium-driver; without them the
//! test says so and passes, unless `ASSAY_BROWSER_TESTS=required` (set by
//! `.ci/run`), where it fails.

use super::{agent, enrolled, fleet, server, AgentProcess};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// chromedriver on a loopback port, once it answers.
fn chromedriver() -> (Driver, u16) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".to_owned()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (Driver(child), port)
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// Waits for an element (the pages poll and redirect).
async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    match c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css(css)).await {
        Ok(e) => e,
        Err(e) => {
            let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            panic!("no `{css}` on {url}: {e}")
        }
    }
}

/// Clicks what navigates (a link, a form's button) and waits for the new
/// document: the old one's marker is gone.
async fn navigate(c: &Client, css: &str) {
    c.execute("window.assayOldPage = true;", vec![]).await.unwrap();
    find(c, css).await.click().await.unwrap();
    let start = Instant::now();
    loop {
        let old = c.execute("return window.assayOldPage === true;", vec![]).await;
        if matches!(old, Ok(serde_json::Value::Bool(false))) {
            let ready = c.execute("return document.readyState;", vec![]).await.unwrap_or_default();
            if ready == "complete" {
                return;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(30), "clicking `{css}` loaded no page");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn text_of(c: &Client, css: &str) -> String {
    find(c, css).await.text().await.unwrap()
}

#[test]
fn an_operator_uses_the_console_in_a_browser() {
    if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
        let required = std::env::var("ASSAY_BROWSER_TESTS").is_ok_and(|v| v == "required");
        assert!(!required, "{CHROMIUM} and {CHROMEDRIVER} are missing: run .ci/setup");
        eprintln!(
            "skipped: no {CHROMIUM} and {CHROMEDRIVER} (Debian's chromium, chromium-driver; .ci/setup)"
        );
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let s = server(data.path());
    let (code, token, _) = fleet(&s, &["enrollment", "create", "--uses", "2", "--tag", "env=prod"]);
    assert_eq!(code, 0);
    let _agents: Vec<AgentProcess> =
        ["debian-default", "alpine"].iter().map(|h| agent(&s, token.trim(), h)).collect();
    enrolled(&s, 2);
    // A team's package in two versions: the second with a stricter
    // threshold (logic) and a raised severity (metadata).
    let work = tempfile::tempdir().unwrap();
    let pkg = work.path().join("ssh-hardening");
    super::common::copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ssh-hardening"), &pkg);
    assert_eq!(fleet(&s, &["package", "publish", pkg.to_str().unwrap()]).0, 0);
    let edit = |file: &str, from: &str, to: &str| {
        let path = pkg.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from));
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    };
    edit("common.assay", "param MAX_AUTH_TRIES: int = 4", "param MAX_AUTH_TRIES: int = 3");
    edit(
        "rules.assay",
        "Disable password authentication over SSH\" {\n  severity medium",
        "Disable password authentication over SSH\" {\n  severity high",
    );
    edit("package.yaml", "version: 1.0.0", "version: 1.1.0");
    let (code, _, err) = fleet(&s, &["package", "publish", pkg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    // A candidate 1.2.0, built but not published, for the console's preview:
    // a looser threshold, so debian-default (MaxAuthTries 6) would pass.
    edit("common.assay", "param MAX_AUTH_TRIES: int = 3", "param MAX_AUTH_TRIES: int = 7");
    edit("package.yaml", "version: 1.1.0", "version: 1.2.0");
    let candidate = work.path().join("candidate.bundle");
    let built = super::common::assay(&["build", pkg.to_str().unwrap(), "-o", candidate.to_str().unwrap()]);
    assert_eq!(built.status.code(), Some(0), "{}", super::common::stderr(&built));
    let (_driver, port) = chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let downloads = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1366,900", "--no-first-run", "--disable-extensions",
                    "--disable-background-networking", "--disable-sync", "--disable-component-update",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.path().to_str().unwrap(),
                    "download.prompt_for_download": false,
                },
            }
        });
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(connector)
            .capabilities(capabilities.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session with headless Chromium");
        let result = drive(&c, &s.admin, &s.token, downloads.path(), &candidate).await;
        let _ = c.close().await;
        result
    });
}

async fn drive(c: &Client, base: &str, token: &str, downloads: &Path, candidate: &Path) {
    // Not logged in: the console sends the browser to the login page.
    c.goto(&format!("{base}/console/runs")).await.unwrap();
    find(c, "input#token").await;
    shot(c, "01-login").await;
    find(c, "input#token").await.send_keys("assay_not-a-token").await.unwrap();
    navigate(c, "main form button[type=submit]").await;
    assert!(text_of(c, ".error").await.contains("unknown, revoked or expired"));
    find(c, "input#token").await.send_keys(token).await.unwrap();
    navigate(c, "main form button[type=submit]").await;
    assert_eq!(text_of(c, "main h1").await, "Overview");
    let cookie = c.get_named_cookie("assay_session").await.unwrap();
    assert_eq!(cookie.http_only(), Some(true), "the session cookie is HttpOnly");
    shot(c, "02-overview").await;

    // Agents, filtered by health.
    c.goto(&format!("{base}/console/agents?health=HEALTHY")).await.unwrap();
    let rows = c.find_all(Locator::Css("main table tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 2, "both agents are healthy");
    shot(c, "03-agents").await;

    // A target by tag, and which agents it matches now.
    c.goto(&format!("{base}/console/targets")).await.unwrap();
    find(c, "input[name=name]").await.send_keys("prod").await.unwrap();
    find(c, "textarea[name=tags]").await.send_keys("env=prod").await.unwrap();
    navigate(c, "form.stack button[type=submit]").await;
    assert_eq!(text_of(c, "main h1").await, "Target prod");
    assert_eq!(c.find_all(Locator::Css("main table tbody tr")).await.unwrap().len(), 2);
    shot(c, "04-target").await;

    // A template over it: every package, one minute, an attribute.
    navigate(c, "a[href^='/console/templates/new']").await;
    find(c, "input[name=name]").await.send_keys("baseline").await.unwrap();
    let minutes = find(c, "input[name=minutes]").await;
    minutes.clear().await.unwrap();
    minutes.send_keys("1").await.unwrap();
    find(c, "textarea[name=attributes]").await.send_keys("team=security").await.unwrap();
    shot(c, "05-template-form").await;
    navigate(c, "form.stack button[type=submit]").await;
    assert_eq!(text_of(c, "main h1").await, "Template baseline");
    shot(c, "06-template").await;

    // An edit is a new version.
    let edit = find(c, "textarea[name=attributes]").await;
    edit.clear().await.unwrap();
    edit.send_keys("team=security\nowner=ops").await.unwrap();
    navigate(c, "form.stack button[type=submit]").await;
    assert_eq!(c.find_all(Locator::Css("main table tbody tr")).await.unwrap().len(), 2, "two versions");

    // Start a run and watch it complete without reloading the page.
    navigate(c, "form.inline button[type=submit]").await;
    assert!(text_of(c, "main h1").await.starts_with("Run run-"));
    let run_url = c.current_url().await.unwrap();
    c.execute("window.assayNotReloaded = true;", vec![]).await.unwrap();
    shot(c, "07-run-in-progress").await;
    c.wait()
        .at_most(Duration::from_secs(120))
        .for_element(Locator::Css("[data-final='true']"))
        .await
        .expect("the run page follows the run to its end");
    let still = c.execute("return window.assayNotReloaded === true;", vec![]).await.unwrap();
    assert_eq!(still, json!(true), "the page updated in place, without a reload");
    assert!(text_of(c, ".progress").await.contains("COMPLETED"));
    assert!(text_of(c, "ol.timeline").await.contains("EVALUATING_RULES"));
    shot(c, "08-run-completed").await;

    // Download the findings report.
    find(c, "a[href$='/report?format=html']").await.click().await.unwrap();
    let start = Instant::now();
    let report = loop {
        let done: Vec<PathBuf> = std::fs::read_dir(downloads)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "html"))
            .collect();
        if let Some(p) = done.first() {
            break p.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the report was not downloaded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(report.file_name().unwrap().to_string_lossy().ends_with("-findings-report.html"));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<html") && html.contains("debian-default"), "the report names the hosts");

    // Findings of the fleet, filtered by severity through the form.
    c.goto(&format!("{base}/console/findings")).await.unwrap();
    find(c, "select[name=severity]").await.select_by_value("medium").await.unwrap();
    find(c, "select[name=state]").await.select_by_value("open").await.unwrap();
    navigate(c, "form.filters button[type=submit]").await;
    find(c, "main table tbody tr").await;
    assert!(c.current_url().await.unwrap().as_str().contains("severity=medium"));
    for cell in c.find_all(Locator::Css("main table tbody tr td:first-child")).await.unwrap() {
        assert_eq!(cell.text().await.unwrap(), "medium");
    }
    shot(c, "09-findings").await;

    // One finding: evidence, recommendation, history; add an attribute.
    navigate(c, "main table tbody tr td a").await;
    find(c, "dl").await;
    let page = text_of(c, "main").await;
    for part in ["Recommendation", "Evidence", "History", "team=security"] {
        assert!(page.contains(part), "the finding page shows {part}: {page}");
    }
    find(c, "input[name=attributes]").await.send_keys("ticket=SEC-42").await.unwrap();
    navigate(c, "form.inline button[type=submit]").await;
    assert!(text_of(c, "ul.attributes").await.contains("ticket=SEC-42"));
    shot(c, "10-finding").await;

    // The attribute filters the list.
    c.goto(&format!("{base}/console/findings?attribute=ticket%3DSEC-42")).await.unwrap();
    assert_eq!(c.find_all(Locator::Css("main table tbody tr")).await.unwrap().len(), 1);

    // Which hosts run libssl3 older than 3.1: debian-default (3.0.19),
    // not alpine (3.3.2); the agent's page lists its packages and offers
    // its SBOM.
    c.goto(&format!("{base}/console/inventory")).await.unwrap();
    find(c, "input[name=name]").await.send_keys("libssl3").await.unwrap();
    find(c, "input[name=version]").await.send_keys("<3.1").await.unwrap();
    navigate(c, "form.filters button[type=submit]").await;
    let rows = c.find_all(Locator::Css("main table tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 1, "{}", text_of(c, "main").await);
    let row = rows[0].text().await.unwrap();
    assert!(row.contains("debian-default") && row.contains("3.0.19-1~deb12u2"), "{row}");
    shot(c, "10-installed-software").await;
    navigate(c, "main table tbody tr td a").await;
    let packages = text_of(c, "section[aria-labelledby=packages]").await;
    assert!(packages.contains("openssl") && packages.contains("libpam-runtime"), "{packages}");
    find(c, "a[href$='/sbom']").await.click().await.unwrap();
    let start = Instant::now();
    let sbom = loop {
        let done: Vec<PathBuf> = std::fs::read_dir(downloads)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".cdx.json"))
            .collect();
        if let Some(p) = done.first() {
            break p.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "the SBOM was not downloaded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let sbom: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&sbom).unwrap()).unwrap();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert_eq!(sbom["metadata"]["component"]["properties"][0]["value"], "debian-default");
    shot(c, "10-agent-packages").await;

    // The overview now charts the run's findings; the rules packages and
    // their documentation; the audit log names every action above.
    c.goto(&format!("{base}/console")).await.unwrap();
    assert!(!c.find_all(Locator::Css(".chart rect.bar")).await.unwrap().is_empty(), "the chart has bars");
    assert!(!c.find_all(Locator::Css("main section table tbody tr")).await.unwrap().is_empty());
    shot(c, "11-overview-after-run").await;
    c.goto(&format!("{base}/console/packages/cis-linux")).await.unwrap();
    assert!(text_of(c, "main").await.contains("What to do"));
    shot(c, "12-package").await;
    // Published packages: their versions, signer, digests, and what
    // changed between two versions.
    c.goto(&format!("{base}/console/packages")).await.unwrap();
    let list = text_of(c, "main table").await;
    assert!(
        list.contains("ssh-hardening") && list.contains("unsigned") && list.contains("built into the server"),
        "{list}"
    );
    c.goto(&format!("{base}/console/packages/ssh-hardening")).await.unwrap();
    let versions = text_of(c, "main table").await;
    assert!(
        versions.contains("1.1.0") && versions.contains("1.0.0") && versions.contains("sha256:"),
        "{versions}"
    );
    navigate(c, "form.inline button[type=submit]").await;
    let diff = text_of(c, "main").await;
    for part in ["1 logic changed, 1 metadata only", "SSH-003", "SSH-002", "severity"] {
        assert!(diff.contains(part), "the comparison shows {part}: {diff}");
    }
    shot(c, "12-package-diff").await;
    // A candidate previewed on the fleet from the browser: the host that
    // would flip, nothing published.
    c.goto(&format!("{base}/console/packages")).await.unwrap();
    find(c, "input[type=file][name=bundle]").await.send_keys(candidate.to_str().unwrap()).await.unwrap();
    navigate(c, "form[action='/console/packages/preview'] button[type=submit]").await;
    let preview = text_of(c, "main").await;
    for part in ["SSH-003", "debian-default: failed → passed", "Nothing was published"] {
        assert!(preview.contains(part), "the preview shows {part}: {preview}");
    }
    shot(c, "12-package-preview").await;
    c.goto(&format!("{base}/console/packages/ssh-hardening")).await.unwrap();
    assert!(!text_of(c, "main table").await.contains("1.2.0"), "a preview publishes nothing");
    c.goto(&format!("{base}/console/audit")).await.unwrap();
    let audit = text_of(c, "main table").await;
    for action in ["console.login", "target.create", "template.put", "run.start", "finding.attributes"] {
        assert!(audit.contains(action), "{action} is in the audit log");
    }
    shot(c, "13-audit").await;

    c.goto(&format!("{base}/console/runs")).await.unwrap();
    let runs = text_of(c, "main").await;
    assert!(runs.contains(run_url.path().rsplit('/').next().unwrap()), "{runs}");
    shot(c, "14-runs").await;

    // Logging out ends the session: the pages ask for a token again.
    navigate(c, "form.logout button").await;
    find(c, "input#token").await;
    c.goto(&format!("{base}/console/findings")).await.unwrap();
    find(c, "input#token").await;
}
