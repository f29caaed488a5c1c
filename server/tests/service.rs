//! The service end to end over loopback HTTP, on SQLite and on PostgreSQL
//! (127.0.0.1:5432, a database created per test and dropped after): roles,
//! enrolment, targets, versioned templates, a run through its states with
//! fake agents uploading telemetry collected from the fixture hosts,
//! findings equal to a local evaluation, paging, the overlap rule under
//! concurrent starts, cancelation, and a restart in the middle of a run.

// Test code: an unwrap that fails is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use assay_server::{start, Config};
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn service(postgres: bool) {
    let Some(mut s) = Server::new(postgres) else { return };
    // Roles.
    assert_eq!(s.call("GET", "/v1/targets", "", None).0, 401);
    assert_eq!(s.call("GET", "/v1/targets", "nope", None).0, 401);
    let reader = s.ok("POST", "/v1/tokens", Some(json!({ "role": "read-only" })))["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let operator =
        s.ok("POST", "/v1/tokens", Some(json!({ "role": "operator" })))["token"].as_str().unwrap().to_owned();
    assert_eq!(s.call("GET", "/v1/targets", &reader, None).0, 200);
    let (status, v) =
        s.call("POST", "/v1/targets", &reader, Some(json!({ "name": "x", "tags": [{ "key": "a" }] })));
    assert_eq!((status, v["error"]["code"].as_str()), (403, Some("forbidden")), "{v}");
    assert_eq!(s.call("POST", "/v1/tokens", &operator, Some(json!({ "role": "admin" }))).0, 403);

    // Bad requests are JSON errors with a code, never a 500 or plain text.
    let (status, v) = s.raw(false, "POST", "/v1/targets", &operator, Some(b"{not json".to_vec()));
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("invalid")), "{v}");
    let (status, v) = s.call("POST", "/v1/targets", &operator, Some(json!({ "name": "x" })));
    assert_eq!((status, v["error"]["code"].as_str()), (422, Some("invalid")), "{v}");
    let (status, v) = s.call("GET", "/v1/nothing-here", &operator, None);
    assert_eq!((status, v["error"]["code"].as_str()), (404, Some("not_found")), "{v}");
    let (status, v) = s.call("GET", "/v1/findings?limit=x&after=zz", &operator, None);
    assert_eq!((status, v["error"]["code"].as_str()), (422, Some("invalid")), "{v}");

    // Enrolment: a 3-use token with a tag; the fourth use fails; a second
    // agent with the same machine-id is flagged.
    let enrol =
        s.call("POST", "/v1/enrollments", &operator, Some(json!({ "uses": 3, "tags": { "env": "prod" } }))).1;
    let token = enrol["token"].as_str().unwrap().to_owned();
    let a = enroll(&s, &token, "debian-default", &machine_id("debian-default"));
    let b = enroll(&s, &token, "debian-hardened", &machine_id("debian-hardened"));
    let (clone, same) = try_enroll(&s, &token, "clone", &machine_id("debian-hardened"), "alpine").unwrap();
    assert_eq!(same, std::slice::from_ref(&b.id), "a cloned image is flagged");
    let fourth = try_enroll(&s, &token, "clone", "m-4", "alpine").err().unwrap();
    assert!(fourth.contains("401"), "the token had 3 uses: {fourth}");
    let agents = s.ok("GET", "/v1/agents?tag=env=prod", None);
    assert_eq!(agents["items"].as_array().unwrap().len(), 3);
    assert!(agents["items"].as_array().unwrap().iter().all(|a| a["health"] == "HEALTHY"));
    // Addresses come with heartbeats: kept canonical and sorted, refused
    // when they are not IP addresses, carried by the agent's findings.
    let beat = |addresses: Value| {
        answer(a.client(&s).post("/agent/v1/heartbeat", &json!({ "addresses": addresses })))
    };
    assert_eq!(beat(json!(["2001:0db8::0001", "10.0.0.5", "10.0.0.5"])).0, 200);
    assert_eq!(beat(json!(["10.0.0.300"])).0, 422);
    assert_eq!(beat(json!((0..65).map(|i| format!("10.0.1.{i}")).collect::<Vec<_>>())).0, 422);
    // Heartbeats are written once a second.
    let shown = || {
        s.ok("GET", "/v1/agents?tag=env=prod&limit=1000", None)["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == json!(a.id))
            .unwrap()["addresses"]
            .clone()
    };
    let start = Instant::now();
    while shown() != json!(["10.0.0.5", "2001:db8::1"]) {
        assert!(start.elapsed() < Duration::from_secs(10), "addresses shown: {}", shown());
        std::thread::sleep(Duration::from_millis(100));
    }

    // A target over the two fixture hosts (ANY tag matches), a template
    // edited once: the run pins version 2.
    s.ok("POST", "/v1/targets", Some(json!({ "name": "fixtures", "tags": [{ "key": "machine", "value": "none" }, { "key": "env", "value": "prod" }] })));
    assert_eq!(
        s.call(
            "POST",
            "/v1/targets",
            &operator,
            Some(json!({ "name": "fixtures", "tags": [{ "key": "env" }] }))
        )
        .0,
        409
    );
    let preview = s.ok("GET", "/v1/targets/fixtures/preview", None);
    assert_eq!(preview["agents"].as_array().unwrap().len(), 3);
    let template = json!({ "target": "fixtures", "packages": ["cis-linux"], "duration_seconds": 60, "attributes": { "team": "sec" } });
    assert_eq!(s.ok("PUT", "/v1/templates/weekly", Some(template))["version"], 1);
    let packages = ["cis-linux", "security-best-practices"];
    let template = json!({ "target": "fixtures", "packages": packages, "duration_seconds": 60, "attributes": { "team": "sec" } });
    assert_eq!(s.ok("PUT", "/v1/templates/weekly", Some(template))["version"], 2);
    let preview = s.ok("GET", "/v1/targets/fixtures/preview?template=weekly", None);
    let excluded: Vec<&Value> =
        preview["agents"].as_array().unwrap().iter().map(|a| &a["packages_excluded"]).collect();
    assert_eq!(excluded.iter().filter(|e| e.as_array().unwrap().is_empty()).count(), 2, "{preview}");
    assert!(excluded.iter().any(|e| e[0].as_str().is_some_and(|r| r.contains("not alpine"))), "{preview}");
    let bad = json!({ "target": "fixtures", "packages": ["nope"] });
    assert_eq!(s.call("PUT", "/v1/templates/weekly", &operator, Some(bad)).1["error"]["code"], "invalid");

    // A run: agents are told to collect, upload, and the run completes.
    let run = s.ok("POST", "/v1/runs", Some(json!({ "template": "weekly" })));
    let id = run["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (run["state"].as_str(), run["template_version"].as_i64()),
        (Some("START_DATA_COLLECTION_PENDING"), Some(2))
    );
    let (status, overlap) = s.call("POST", "/v1/runs", &operator, Some(json!({ "template": "weekly" })));
    assert_eq!((status, overlap["error"]["code"].as_str()), (409, Some("agents_in_run")), "{overlap}");
    assert_eq!(overlap["error"]["details"]["agents"].as_array().unwrap().len(), 3);
    for agent in [&a, &b] {
        let instruction = agent.heartbeat(&s);
        assert_eq!(
            (instruction["kind"].as_str(), instruction["run"].as_str()),
            (Some("collect"), Some(id.as_str()))
        );
        // (Collected once: a collection records when it started.)
        let body = telemetry(agent.host);
        let (status, v) = agent.upload(&s, &id, body.clone());
        assert_eq!(status, 201, "{v}");
        // The same upload again (a retry after a lost answer) is accepted
        // once; so is anything after the upload completed.
        assert_eq!(agent.upload(&s, &id, body).1["duplicate"], true);
        assert_eq!(agent.upload(&s, &id, telemetry("alpine")).1["accepted"], false);
    }
    // The clone, mid-upload: a chunk again is a duplicate, a chunk with
    // other data for the same number is refused, as are an oversized
    // chunk and telemetry that does not validate.
    assert_eq!(clone.heartbeat(&s)["kind"], "collect");
    let c = clone.client(&s);
    assert_eq!(answer(c.put_chunk(&id, 0, 3, b"part")).1["accepted"], true);
    assert_eq!(answer(c.put_chunk(&id, 0, 3, b"part")).1["accepted"], false);
    assert_eq!(answer(c.put_chunk(&id, 0, 3, b"other")).0, 409);
    assert_eq!(answer(c.put_chunk(&id, 1, 2, b"part")).0, 409, "the total cannot change");
    let (status, v) = answer(c.put_chunk(&id, 1, 3, &vec![b' '; 5 << 20]));
    assert_eq!((status, v["error"]["code"].as_str()), (413, Some("too_large")), "{v}");
    assert_eq!(answer(c.put_chunk(&id, 9, 3, b"part")).0, 422);
    let (status, v) = answer(c.put_chunk(&id, 1, 3, b"x"));
    assert_eq!(status, 200, "{v}");
    let (status, v) = answer(c.put_chunk(&id, 2, 3, b"y"));
    assert_eq!((status, v["error"]["code"].as_str()), (422, Some("invalid")), "not gzip: {v}");
    let (status, v) = clone.upload(&s, &id, b"{not telemetry".to_vec());
    assert_eq!(status, 422, "telemetry is validated before it is stored: {v}");
    // Without a client certificate only enrolment answers.
    let anonymous =
        assay_agent::Client::new(&s.agent_base(), &s.running.as_ref().unwrap().ca_pem, None).unwrap();
    assert_eq!(answer(anonymous.post("/agent/v1/heartbeat", &json!({}))).0, 401);
    // The clone never delivers valid telemetry: the run stops after the
    // collection, with the clone as an exclusion, and stop ends the wait now.
    s.ok("POST", &format!("/v1/runs/{id}/stop"), None);
    let done = s.wait_for(&id, &["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"]);
    assert_eq!(done["state"], "COMPLETED_WITH_ERRORS", "{done:#}");
    let history: Vec<&str> =
        done["history"].as_array().unwrap().iter().map(|h| h["state"].as_str().unwrap()).collect();
    assert_eq!(
        history,
        [
            "CREATED",
            "START_DATA_COLLECTION_PENDING",
            "START_DATA_COLLECTION_IN_PROGRESS",
            "COLLECTING_DATA",
            "STOP_DATA_COLLECTION_PENDING",
            "DATA_COLLECTED",
            "START_EVALUATING_RULES_PENDING",
            "EVALUATING_RULES",
            "COMPLETED_WITH_ERRORS"
        ]
    );
    let reasons: Vec<&str> =
        done["exclusions"].as_array().unwrap().iter().map(|e| e["reason"].as_str().unwrap()).collect();
    assert_eq!(
        reasons,
        [
            "no telemetry arrived before the collection ended",
            "package cis-linux is for debian, ubuntu, not alpine"
        ],
        "{done:#}"
    );

    // Reports of the finished run; none for an unfinished one.
    let report = s.ok("GET", &format!("/v1/runs/{id}/report"), None);
    assert_eq!(
        (report["summary"]["hosts_assessed"].as_i64(), report["summary"]["hosts_excluded"].as_i64()),
        (Some(2), Some(1))
    );
    assert!(report.get("rules").is_none());
    let full = s.ok("GET", &format!("/v1/runs/{id}/report?full=true"), None);
    let outcomes = &full["rules"].as_array().unwrap()[0]["outcomes"];
    assert!(
        outcomes.as_object().unwrap().values().map(|h| h.as_array().unwrap().len()).sum::<usize>() == 2,
        "{outcomes}"
    );
    let (status, page) = s.call("GET", &format!("/v1/runs/{id}/report?full=true&format=html"), &reader, None);
    let page = page.as_str().unwrap().to_owned();
    assert_eq!(status, 200);
    assert!(
        page.contains("debian-hardened") && page.contains("Every rule") && !page.contains("<script"),
        "{page}"
    );
    if !postgres {
        let mut report = report.clone();
        report["run"]["id"] = json!("[run]");
        insta::assert_json_snapshot!("findings_report", report, {
            ".bundle_digest" => "[digest]",
            ".run.created_at" => "[time]",
            ".run.finished_at" => "[time]",
            ".hosts[].agent" => "[agent]",
            ".exclusions[].agent" => "[agent]",
            ".findings_by_rule[].hosts[].agent" => "[agent]",
        });
    }

    // Findings: what a local evaluation of the same host finds, with the
    // template's attributes and the agent; paging loses and repeats none.
    for agent in [&a, &b] {
        let findings = all_findings(&s, &id, &agent.id);
        let mut got: Vec<(String, String)> = findings
            .iter()
            .filter(|f| !f["rule_id"].as_str().unwrap().ends_with(":no-findings"))
            .map(|f| {
                (f["rule_id"].as_str().unwrap().to_owned(), f["fingerprint"].as_str().unwrap().to_owned())
            })
            .collect();
        got.sort();
        assert_eq!(got, local_findings(agent.host, &packages), "{}", agent.host);
        // "No issues" says how many rules were evaluated and skipped (#31).
        for none in findings.iter().filter(|f| f["rule_id"].as_str().unwrap().ends_with(":no-findings")) {
            let message = none["message"].as_str().unwrap();
            assert!(message.contains("rules evaluated"), "{message}");
        }
        assert!(findings
            .iter()
            .all(|f| f["agent_id"] == json!(agent.id) && f["attributes"][0]["key"] == "team"));
        let ids: std::collections::BTreeSet<&str> =
            findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), findings.len());
    }
    // Attributes added later, found by the attribute filter, on the fleet finding too.
    let one = &all_findings(&s, &id, &a.id)[0];
    assert_eq!(one["asset"]["addresses"], json!(["10.0.0.5", "2001:db8::1"]), "{one}");
    let fid = one["id"].as_str().unwrap();
    let added = s.ok(
        "POST",
        &format!("/v1/findings/{fid}/attributes"),
        Some(json!({ "attributes": { "ticket": "SEC-42" } })),
    );
    assert!(added["attributes"].as_array().unwrap().iter().any(|a| a["key"] == "ticket"));
    let tagged = s.ok("GET", "/v1/findings?attribute=ticket=SEC-42", None);
    assert_eq!(tagged["items"].as_array().unwrap().len(), 1);
    let fleet =
        s.ok("GET", &format!("/v1/fleet-findings/{}/{}", a.id, one["fingerprint"].as_str().unwrap()), None);
    assert!(fleet["attributes"].as_array().unwrap().iter().any(|a| a["value"] == "SEC-42"), "{fleet}");
    assert_eq!(
        s.call(
            "POST",
            &format!("/v1/findings/{fid}/attributes"),
            &reader,
            Some(json!({ "attributes": { "a": "b" } }))
        )
        .0,
        403
    );
    let audit = s.ok("GET", "/v1/audit?limit=1000", None);
    let actions: Vec<&str> =
        audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in [
        "token.create",
        "enrollment.create",
        "agent.enroll",
        "target.create",
        "template.put",
        "run.start",
        "run.stop",
        "finding.attributes",
    ] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
    assert_eq!(s.call("GET", "/v1/audit", &operator, None).0, 403);

    // Metrics: Inspector's, the queues, and this process's requests.
    let (status, metrics) = s.call("GET", "/metrics", &reader, None);
    let metrics = metrics.as_str().unwrap().to_owned();
    assert_eq!(status, 200);
    for line in [
        "assay_agents{health=\"HEALTHY\"} 3",
        "assay_target_matching_agents{target=\"fixtures\"} 3",
        "assay_runs{state=\"COMPLETED_WITH_ERRORS\"} 1",
        "assay_queue_depth{queue=\"evaluation\"} 0",
        "assay_http_requests_total{route=\"POST /v1/runs\",status=\"409\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} missing:\n{metrics}");
    }
    assert!(metrics.contains("assay_findings{template=\"weekly\",severity=\"medium\"}"));
    assert!(metrics.contains("assay_http_request_duration_seconds_bucket{route=\"PUT /agent/v1/runs/{run}/chunks/{seq}\",le=\"+Inf\"}"));
    assert_eq!(s.call("GET", "/metrics", "", None).0, 401);

    // Revocation: the clone's certificate stops working at once; bad
    // agents' requests are in the audit log.
    assert_eq!(s.call("POST", &format!("/v1/agents/{}/revoke", clone.id), &reader, None).0, 403);
    s.ok("POST", &format!("/v1/agents/{}/revoke", clone.id), None);
    assert_eq!(clone.try_heartbeat(&s).0, 403);
    assert_eq!(s.call("POST", &format!("/v1/agents/{}/revoke", clone.id), &s.token.clone(), None).0, 409);
    let audit = s.ok("GET", "/v1/audit?limit=1000", None);
    let actions: Vec<&str> =
        audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["agent.revoke", "agent.rejected", "agent.chunk.rejected", "agent.telemetry.rejected"] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }

    // The OpenAPI document: served without a token, and every path it
    // lists is routed (401 without a token, not 404).
    let (status, api) = s.call("GET", "/v1/openapi.json", "", None);
    assert_eq!(status, 200);
    for (path, methods) in api["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{name}", "x")
            .replace("{id}", "x")
            .replace("{agent}", "x")
            .replace("{fingerprint}", "x");
        for method in methods.as_object().unwrap().keys() {
            let (status, _) = s.call(&method.to_uppercase(), &concrete, "", Some(json!({})));
            assert_eq!(status, 401, "{method} {path}");
        }
    }
    if !postgres {
        insta::assert_json_snapshot!("openapi", api);
    }

    let high = s.ok("GET", &format!("/v1/findings?run={id}&severity=medium&limit=1000"), None);
    assert!(high["items"].as_array().unwrap().iter().all(|f| f["severity"] == "medium"));
    assert_eq!(s.call("GET", "/v1/findings?severity=urgent", &reader, None).0, 422);

    // Concurrent starts of runs over the same agents: exactly one wins.
    let wins = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| s.call("POST", "/v1/runs", &operator, Some(json!({ "template": "weekly" }))).0)
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<u16>>()
    });
    assert_eq!(wins.iter().filter(|c| **c == 201).count(), 1, "{wins:?}");
    assert!(wins.iter().all(|c| *c == 201 || *c == 409), "{wins:?}");
    let runs = s.ok("GET", "/v1/runs", None);
    let second = runs["items"].as_array().unwrap().iter().find(|r| r["id"] != json!(id)).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A restart in the middle of the run: the new process resumes it.
    a.heartbeat(&s);
    assert_eq!(a.upload(&s, &second, telemetry(a.host)).0, 201);
    s.halt();
    assert!(s.boot().is_none(), "the admin token is minted once");
    b.heartbeat(&s);
    assert_eq!(b.upload(&s, &second, telemetry(b.host)).0, 201);
    s.ok("POST", &format!("/v1/runs/{second}/stop"), None);
    let done = s.wait_for(&second, &["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"]);
    assert_eq!(done["state"], "COMPLETED", "the revoked clone is not in it: {done:#}");
    assert_eq!(all_findings(&s, &second, &a.id).len(), all_findings(&s, &id, &a.id).len());

    // Cancel without evaluation: the agents are free again at once.
    let third =
        s.ok("POST", "/v1/runs", Some(json!({ "template": "weekly" })))["id"].as_str().unwrap().to_owned();
    assert_eq!(s.call("GET", &format!("/v1/runs/{third}/report"), &reader, None).0, 409);
    let canceled = s.ok("POST", &format!("/v1/runs/{third}/stop"), Some(json!({ "skip_evaluation": true })));
    assert_eq!(canceled["state"], "CANCELED");
    assert_eq!(s.call("POST", &format!("/v1/runs/{third}/stop"), &operator, None).0, 409);
    assert_eq!(s.call("POST", "/v1/runs", &operator, Some(json!({ "template": "weekly" }))).0, 201);
    let fourth = s.ok("GET", "/v1/runs?limit=1000", None)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["state"] == "START_DATA_COLLECTION_PENDING")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.ok("POST", &format!("/v1/runs/{fourth}/stop"), Some(json!({ "skip_evaluation": true })));

    // Runs page newest first, one page after another, none twice.
    let all = s.ok("GET", "/v1/runs?limit=1000", None)["items"].as_array().unwrap().clone();
    assert!(
        all.len() >= 4 && all.windows(2).all(|w| w[0]["created_at"].as_i64() >= w[1]["created_at"].as_i64())
    );
    let (mut paged, mut uri) = (Vec::new(), "/v1/runs?limit=1".to_owned());
    loop {
        let page = s.ok("GET", &uri, None);
        paged.extend(page["items"].as_array().unwrap().iter().map(|r| r["id"].clone()));
        let Some(next) = page["next"].as_str() else { break };
        uri = format!("/v1/runs?limit=1&after={next}");
    }
    assert_eq!(paged, all.iter().map(|r| r["id"].clone()).collect::<Vec<_>>());
    assert_eq!(s.call("GET", "/v1/runs?after=nonsense", &reader, None).0, 422);

    // The fleet's findings have a lifecycle: open after the runs above.
    let open = s.ok("GET", &format!("/v1/fleet-findings?state=open&agent={}&limit=1000", a.id), None);
    let open_a = open["items"].as_array().unwrap().len();
    assert_eq!(open_a, local_findings(a.host, &packages).len());

    // Continuous re-evaluation: a CVE template run without a feed skips the
    // CVE rules; importing a feed re-evaluates the latest telemetry and
    // opens the finding; a feed without the advisory resolves it.
    let cve = json!({ "target": "fixtures", "packages": ["cve"], "duration_seconds": 60 });
    s.ok("PUT", "/v1/templates/cve-watch", Some(cve));
    let run =
        s.ok("POST", "/v1/runs", Some(json!({ "template": "cve-watch" })))["id"].as_str().unwrap().to_owned();
    for agent in [&a, &b] {
        agent.heartbeat(&s);
        assert_eq!(agent.upload(&s, &run, telemetry(agent.host)).0, 201);
    }
    // Both agents delivered, so the run may have stopped collecting already.
    let _ = s.call("POST", &format!("/v1/runs/{run}/stop"), &operator, None);
    s.wait_for(&run, &["COMPLETED"]);
    assert!(all_findings(&s, &run, &a.id).is_empty(), "the CVE rules were skipped, not passed");
    let osv = tempfile::tempdir().unwrap();
    std::fs::write(
        osv.path().join("DEBIAN-CVE-2099-0001.json"),
        r#"{"id": "DEBIAN-CVE-2099-0001", "aliases": ["CVE-2099-0001"], "summary": "test advisory",
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssh"},
              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:99.0p1-1"}]}]}]}"#,
    )
    .unwrap();
    let feed = assay_runtime::feed::import_osv(osv.path()).unwrap().0;
    // Feeds and waivers change every host's findings: an admin's (#27.12).
    assert_eq!(s.raw(false, "PUT", "/v1/feed", &operator, Some(feed.to_bytes())).0, 403);
    let admin = s.token.clone();
    let uploaded = s.raw(false, "PUT", "/v1/feed", &admin, Some(feed.to_bytes())).1;
    assert_eq!(uploaded["agents_queued"], 2, "the agents with telemetry: {uploaded}");
    let cve_findings = |state: &str| {
        s.ok("GET", &format!("/v1/fleet-findings?state={state}&agent={}&limit=1000", a.id), None)["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["package"] == "cve")
            .cloned()
            .collect::<Vec<_>>()
    };
    let settle = |want: &str| {
        let start = Instant::now();
        while cve_findings(want).is_empty() {
            assert!(start.elapsed() < Duration::from_secs(60), "no {want} CVE finding");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    settle("open");
    let finding = &cve_findings("open")[0];
    let history = s.ok(
        "GET",
        &format!("/v1/fleet-findings/{}/{}", a.id, finding["fingerprint"].as_str().unwrap()),
        None,
    );
    assert_eq!(history["history"][0]["event"], "opened");
    assert!(history["history"][0]["cause"].as_str().unwrap().starts_with("feed "), "{history}");
    // The findings of the other packages were not touched by a CVE-only evaluation.
    let open = s.ok("GET", &format!("/v1/fleet-findings?state=open&agent={}&limit=1000", a.id), None);
    assert_eq!(open["items"].as_array().unwrap().len(), open_a + 1);
    let empty = assay_runtime::feed::Feed::default();
    s.raw(false, "PUT", "/v1/feed", &admin, Some(empty.to_bytes()));
    settle("resolved");
    assert!(cve_findings("open").is_empty());
    assert_eq!(s.raw(false, "PUT", "/v1/feed", &admin, Some(b"not a feed".to_vec())).0, 422);

    // User attributes on a fleet finding: filtered on, and kept when the
    // waiver upload below re-evaluates the agent.
    let tagged =
        s.ok("GET", &format!("/v1/fleet-findings?state=open&agent={}&package=cis-linux", a.id), None)
            ["items"][0]
            .clone();
    let tagged_fp = tagged["fingerprint"].as_str().unwrap().to_owned();
    let path = format!("/v1/fleet-findings/{}/{tagged_fp}/attributes", a.id);
    let added = s.ok("POST", &path, Some(json!({ "attributes": { "owner": "web-team" } })));
    assert!(added["attributes"].as_array().unwrap().iter().any(|x| x["key"] == "owner"), "{added}");
    assert_eq!(s.call("POST", &path, &reader, Some(json!({ "attributes": { "k": "v" } }))).0, 403);
    assert_eq!(s.call("POST", &path, &operator, Some(json!({ "attributes": {} }))).0, 422);
    let by_attribute =
        s.ok("GET", "/v1/fleet-findings?attribute=owner=web-team&limit=1000", None)["items"].clone();
    assert_eq!(by_attribute.as_array().unwrap().len(), 1, "{by_attribute}");
    assert_eq!(by_attribute[0]["fingerprint"], tagged_fp.as_str());
    let by_package = s.ok("GET", "/v1/fleet-findings?package=cve&limit=1000", None)["items"].clone();
    assert!(by_package.as_array().unwrap().iter().all(|f| f["package"] == "cve"));
    let healthy = s.ok("GET", "/v1/agents?health=HEALTHY&limit=1000", None)["items"].clone();
    assert!(healthy.as_array().unwrap().iter().all(|x| x["health"] == "HEALTHY"), "{healthy}");
    assert_eq!(s.call("GET", "/v1/agents?health=fine", &reader, None).0, 422);
    let overview = s.ok("GET", "/v1/overview", None);
    let counted: i64 = overview["agents"].as_object().unwrap().values().map(|n| n.as_i64().unwrap()).sum();
    assert_eq!(counted, s.ok("GET", "/v1/agents?limit=1000", None)["items"].as_array().unwrap().len() as i64);
    assert_eq!(overview["findings_per_day"].as_array().unwrap().len(), 14);
    let today = overview["findings_per_day"][13].clone();
    assert!(today["medium"].as_i64().unwrap() + today["high"].as_i64().unwrap() > 0, "{overview}");
    assert!(!overview["top_rules"].as_array().unwrap().is_empty(), "{overview}");
    // A rule's count is of hosts, not of findings (a CVE rule fires once per package).
    for top in overview["top_rules"].as_array().unwrap() {
        let uri =
            format!("/v1/fleet-findings?state=open&rule={}&limit=1000", top["rule_id"].as_str().unwrap());
        let open = s.ok("GET", &uri, None)["items"].clone();
        let hosts: std::collections::BTreeSet<&str> = open
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == top["severity"])
            .map(|f| f["agent_id"].as_str().unwrap())
            .collect();
        assert_eq!(top["hosts"].as_i64().unwrap(), hosts.len() as i64, "{top}");
    }
    let packages_served = s.ok("GET", "/v1/packages", None);
    assert_eq!(packages_served["items"].as_array().unwrap().len(), 4);
    assert!(packages_served["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| !p["rules"].as_array().unwrap().is_empty()));

    // A fleet finding an earlier release stored under its old fingerprint
    // (rule, asset, message) is renamed by the next re-evaluation (the
    // waiver upload below), keeping its history and attribute.
    let mut before_rename = None;
    if let Some(url) = s.db.url.clone() {
        use sqlx::Connection;
        let f = s.ok("GET", &format!("/v1/fleet-findings/{}/{tagged_fp}", a.id), None);
        let legacy = assay_model::findings::legacy_fingerprint(
            f["rule_id"].as_str().unwrap(),
            f["asset"]["id"].as_str().unwrap(),
            f["message"].as_str().unwrap(),
        );
        s.rt.block_on(async {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            for table in ["fleet_findings", "finding_events"] {
                let sql =
                    format!("UPDATE {table} SET fingerprint = $1 WHERE agent_id = $2 AND fingerprint = $3");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(&legacy)
                    .bind(&a.id)
                    .bind(&tagged_fp)
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        });
        assert_eq!(s.call("GET", &format!("/v1/fleet-findings/{}/{tagged_fp}", a.id), &s.token, None).0, 404);
        before_rename = Some((legacy, f["history"][0].clone()));
    }

    // Fleet-wide waivers: the accepted finding becomes waived, with why.
    let target = s.ok("GET", &format!("/v1/fleet-findings?state=open&agent={}&rule=CIS-5.4.3.3", a.id), None)
        ["items"][0]
        .clone();
    assert_eq!(target["rule_id"], "CIS-5.4.3.3", "{target}");
    let waivers = "waivers:\n  - rule: CIS-5.4.3.3\n    asset: debian-default\n    owner: platform@example.com\n    justification: umask is set by the session manager\n    expires: 2099-12-31\n";
    assert_eq!(s.raw(false, "PUT", "/v1/waivers", &operator, Some(waivers.as_bytes().to_vec())).0, 403);
    let (status, v) = s.raw(false, "PUT", "/v1/waivers", &admin, Some(waivers.as_bytes().to_vec()));
    assert_eq!(status, 200, "{v}");
    let start = Instant::now();
    let fp = target["fingerprint"].as_str().unwrap();
    loop {
        let f = s.ok("GET", &format!("/v1/fleet-findings/{}/{fp}", a.id), None);
        if f["state"] == "waived" {
            assert_eq!(f["waived"]["owner"], "platform@example.com", "{f}");
            assert!(f["history"].as_array().unwrap().iter().any(|e| e["event"] == "waived"));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "not waived: {f}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let kept = s.ok("GET", &format!("/v1/fleet-findings/{}/{tagged_fp}", a.id), None);
    assert!(
        kept["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["key"] == "owner" && x["value"] == "web-team"),
        "a re-evaluation dropped the user's attribute: {kept}"
    );
    if let Some((legacy, first)) = before_rename {
        assert_eq!(kept["history"][0], first, "the history carried over: {kept}");
        assert!(!kept["history"].as_array().unwrap().iter().any(|e| e["event"] == "resolved"), "{kept}");
        assert_eq!(s.call("GET", &format!("/v1/fleet-findings/{}/{legacy}", a.id), &s.token, None).0, 404);
    }
    let bad = "waivers:\n  - rule: X\n    owner: o\n    justification: j\n    expires: someday\n";
    assert_eq!(s.raw(false, "PUT", "/v1/waivers", &admin, Some(bad.as_bytes().to_vec())).0, 422);

    // Moving to PostgreSQL: the SQLite database copied into an empty one
    // serves the same runs, findings and tokens.
    if !postgres {
        let runs = s.ok("GET", "/v1/runs?limit=1000", None)["items"].clone();
        let fleet = s.ok("GET", "/v1/fleet-findings?limit=1000", None)["items"].as_array().unwrap().len();
        s.halt();
        let Some(pg) = Database::postgres_if_reachable(&s.rt) else { return };
        let from = format!("sqlite://{}?mode=rw", s.data.path().join("assay.db").display());
        let to = pg.url.clone().unwrap();
        let copied = s.rt.block_on(assay_server::copy_database(&from, &to)).unwrap();
        assert!(copied.iter().any(|(t, n)| t == "findings" && *n > 0), "{copied:?}");
        let again = s.rt.block_on(assay_server::copy_database(&from, &to));
        assert!(again.unwrap_err().contains("not empty"));
        let old_db = std::mem::replace(&mut s.db, pg);
        drop(old_db);
        assert!(s.boot().is_none(), "the copied tokens are there: no first token");
        assert_eq!(s.ok("GET", "/v1/runs?limit=1000", None)["items"], runs);
        assert_eq!(
            s.ok("GET", "/v1/fleet-findings?limit=1000", None)["items"].as_array().unwrap().len(),
            fleet
        );
        // New rows continue the copied sequences.
        assert_eq!(
            s.call(
                "POST",
                "/v1/targets",
                &operator,
                Some(json!({ "name": "after-copy", "tags": [{ "key": "x" }] }))
            )
            .0,
            201
        );
        let audit = s.ok("GET", "/v1/audit?limit=1000", None)["items"].clone();
        assert_eq!(audit.as_array().unwrap().last().unwrap()["action"], "target.create");
    }
}

#[test]
fn the_service_on_sqlite() {
    service(false);
}

#[test]
fn the_service_on_postgres() {
    service(true);
}

/// A webhook receiver on loopback: answers 500 to the first request (so
/// the server must retry) and 200 after; keeps the bodies. It stops with
/// the test process, and accepts for at most a minute.
fn receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut served = 0;
        for stream in listener.incoming() {
            if start.elapsed() > Duration::from_secs(60) {
                break;
            }
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            let mut signature = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("x-assay-signature:") {
                    signature = v.trim().to_owned();
                }
            }
            let mut body = vec![0; length.min(1 << 20)];
            let _ = reader.read_exact(&mut body);
            served += 1;
            let status = if served == 1 { "500 Internal Server Error" } else { "200 OK" };
            let _ = stream.write_all(
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes(),
            );
            if served > 1 {
                let text = String::from_utf8_lossy(&body).into_owned();
                let mut v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                v["_signature"] = json!(signature);
                v["_body"] = json!(text);
                keep.lock().unwrap().push(v);
            }
        }
    });
    (url, got)
}

fn schedules_and_notifications(postgres: bool) {
    let Some(s) = Server::new(postgres) else { return };
    let enrol = s.ok("POST", "/v1/enrollments", Some(json!({ "uses": 1, "tags": { "env": "prod" } })));
    let agent = enroll(&s, enrol["token"].as_str().unwrap(), "debian-hardened", "m-9");
    s.ok("POST", "/v1/targets", Some(json!({ "name": "prod", "tags": [{ "key": "env" }] })));
    let bad = json!({ "target": "prod", "packages": ["cis-linux"], "schedule": "every day" });
    assert_eq!(s.call("PUT", "/v1/templates/t", &s.token, Some(bad)).0, 422);
    let bad = json!({ "target": "prod", "packages": ["cis-linux"], "notifications": [{ "url": "ftp://x", "events": ["ASSESSMENT_RUN_STARTED"] }] });
    assert_eq!(s.call("PUT", "/v1/templates/t", &s.token, Some(bad)).0, 422);
    let (url, got) = receiver();
    let events = ["ASSESSMENT_RUN_STARTED", "ASSESSMENT_RUN_COMPLETED", "FINDING_REPORTED"];
    // Every second: the first start takes the agent, the next ones are
    // recorded as skipped until that run ends.
    let template = json!({
        "target": "prod", "packages": ["cis-linux"], "schedule": "* * * * * *",
        "notifications": [{ "url": url, "events": events }],
    });
    assert_eq!(s.ok("PUT", "/v1/templates/t", Some(template))["schedule"], "* * * * * *");
    let start = Instant::now();
    let run = loop {
        let runs = s.ok("GET", "/v1/runs", None);
        if let Some(r) = runs["items"].as_array().unwrap().first() {
            break r["id"].as_str().unwrap().to_owned();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the schedule started no run");
        std::thread::sleep(Duration::from_millis(100));
    };
    // Stop the schedule (a new version without one), then finish the run.
    s.ok("PUT", "/v1/templates/t", Some(json!({ "target": "prod", "packages": ["cis-linux"], "notifications": [{ "url": url, "events": events }] })));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        s.ok("GET", "/v1/runs", None)["items"].as_array().unwrap().len(),
        1,
        "overlapping starts were refused"
    );
    agent.heartbeat(&s);
    assert_eq!(agent.upload(&s, &run, telemetry(agent.host)).0, 201);
    s.wait_for(&run, &["COMPLETED"]);
    let start = Instant::now();
    loop {
        let seen: Vec<String> =
            got.lock().unwrap().iter().map(|b| b["event"].as_str().unwrap_or("").to_owned()).collect();
        if events.iter().all(|e| seen.iter().any(|s| s == e)) {
            assert!(got.lock().unwrap().iter().all(|b| b["run"] == json!(run)));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "notifications received: {seen:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Signed with the server's key; each delivery is recorded on the run.
    let key = s.rt.block_on(assay_server::webhook_key(&s.config())).unwrap();
    for b in got.lock().unwrap().iter() {
        assert_eq!(
            b["_signature"],
            json!(assay_server::webhook_signature(&key, b["_body"].as_str().unwrap()))
        );
    }
    let deliveries = s.ok("GET", &format!("/v1/runs/{run}"), None)["notifications"].clone();
    let deliveries = deliveries.as_array().unwrap();
    assert!(
        deliveries.iter().any(|d| d["state"] == "sent" && d["attempts"].as_i64() >= Some(2)),
        "a retried delivery: {deliveries:?}"
    );
    assert!(deliveries.iter().all(|d| d["url"] == json!(url)));
}

#[test]
fn schedules_and_notifications_on_sqlite() {
    schedules_and_notifications(false);
}

#[test]
fn schedules_and_notifications_on_postgres() {
    schedules_and_notifications(true);
}

/// Both listeners speak TLS with a configured certificate: a client that
/// trusts it gets answers, plain HTTP gets none.
#[test]
fn the_listeners_speak_tls() {
    let dir = tempfile::tempdir().unwrap();
    let key =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let (cert, private) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, key.cert.pem()).unwrap();
    std::fs::write(&private, key.signing_key.serialize_pem()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut config = Config::new(dir.path().join("data"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.agent_listen = "127.0.0.1:0".parse().unwrap();
    config.tls = Some((cert.clone(), private.clone()));
    let running = rt.block_on(start(config.clone(), bundle())).unwrap();
    let token = running.first_admin_token.clone().unwrap();
    let root = ureq::tls::Certificate::from_pem(key.cert.pem().as_bytes()).unwrap();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![root])))
        .build();
    let http: ureq::Agent =
        ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build().into();
    let mut r = http
        .get(&format!("https://{}/v1/targets", running.admin))
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.body_mut().read_to_string().unwrap());
    let agents =
        assay_agent::Client::new(&format!("https://{}", running.agent), &running.ca_pem, None).unwrap();
    match agents.post::<Value>("/agent/v1/heartbeat", &json!({})) {
        Err(assay_agent::Error::Status { status: 401, .. }) => {}
        other => panic!("the agent endpoint answers over TLS from the agents' CA: {other:?}"),
    }
    let plain: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(5))).build().into();
    assert!(
        plain.get(&format!("http://{}/v1/targets", running.admin)).call().is_err(),
        "plain HTTP is not served"
    );
    rt.block_on(running.stop());
    // A key that is not PEM is refused at start, naming the file.
    std::fs::write(&private, "not a key").unwrap();
    let e = rt.block_on(start(config, bundle())).err().unwrap();
    assert!(e.contains("key.pem"), "{e}");
}

/// A server stopped at different points of a run (waiting for agents,
/// collection just stopped, evaluation under way) and started again
/// finishes the run, with each finding once.
fn restarts(postgres: bool) {
    let Some(mut s) = Server::new(postgres) else { return };
    let enrol = s.ok("POST", "/v1/enrollments", Some(json!({ "uses": 1, "tags": { "env": "prod" } })));
    let agent = enroll(&s, enrol["token"].as_str().unwrap(), "debian-default", "m-7");
    s.ok("POST", "/v1/targets", Some(json!({ "name": "prod", "tags": [{ "key": "env" }] })));
    s.ok("PUT", "/v1/templates/t", Some(json!({ "target": "prod", "packages": ["cis-linux"] })));
    let expected = local_findings(agent.host, &["cis-linux"]).len();
    for point in ["waiting for agents", "collection stopped", "evaluating"] {
        let run =
            s.ok("POST", "/v1/runs", Some(json!({ "template": "t" })))["id"].as_str().unwrap().to_owned();
        if point == "waiting for agents" {
            s.halt();
            s.boot();
        }
        agent.heartbeat(&s);
        assert_eq!(agent.upload(&s, &run, telemetry(agent.host)).0, 201);
        if point == "collection stopped" {
            // Every agent delivered, so the server may have ended the
            // collection itself already (409): either way it is stopped.
            let (status, v) = s.call("POST", &format!("/v1/runs/{run}/stop"), &s.token.clone(), None);
            assert!(status == 200 || status == 409, "{v}");
            s.halt();
            s.boot();
        }
        if point == "evaluating" {
            s.wait_for(&run, &["EVALUATING_RULES", "COMPLETED"]);
            s.halt();
            s.boot();
        }
        let done = s.wait_for(&run, &["COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED"]);
        assert_eq!(done["state"], "COMPLETED", "{point}: {done:#}");
        let findings = all_findings(&s, &run, &agent.id);
        assert_eq!(findings.len(), expected, "{point}: each finding once");
    }

    // A run left CREATED (only an older server could leave one: runs are
    // created and started in one transaction) cannot be resumed: ERROR.
    s.halt();
    let insert = "INSERT INTO runs (id, template, template_version, state, created_at, collect_until) \
                  VALUES ('run-left-created', 't', 1, 'CREATED', 1, 1)";
    s.rt.block_on(async {
        use sqlx::Connection;
        match &s.db.url {
            Some(url) => {
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query(insert).execute(&mut c).await.unwrap();
            }
            None => {
                let file = format!("sqlite://{}", s.data.path().join("assay.db").display());
                let mut c = sqlx::SqliteConnection::connect(&file).await.unwrap();
                sqlx::query(insert).execute(&mut c).await.unwrap();
            }
        }
    });
    s.boot();
    let left = s.wait_for("run-left-created", &["ERROR", "FAILED"]);
    assert_eq!(left["state"], "ERROR", "{left:#}");
    assert!(left["finished_at"].is_i64(), "{left:#}");
}

#[test]
fn restarts_on_sqlite() {
    restarts(false);
}

#[test]
fn restarts_on_postgres() {
    restarts(true);
}

/// A loopback TCP proxy in front of PostgreSQL that can cut every
/// connection and refuse new ones: the database "stopped" for the server
/// behind it, without stopping the one other tests share.
struct Outage {
    port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Outage {
    fn to_postgres() -> Outage {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let open = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, open2) = (up.clone(), open.clone());
        // Ends with the test process; each connection's threads end when
        // either side closes.
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect("127.0.0.1:5432") else { continue };
                let mut list = open2.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                for (mut from, mut to) in
                    [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Outage { port, up, open }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// While the database is unavailable the admin API and the agent endpoint
/// answer 503 `unavailable` (retry later), and without a restart they
/// serve again once it is back; nothing written before is lost.
fn database_outage(s: &Server, down: &dyn Fn(), up: &dyn Fn()) {
    let enrol = s.ok("POST", "/v1/enrollments", Some(json!({ "uses": 1, "tags": { "role": "web" } })));
    let agent = enroll(s, enrol["token"].as_str().unwrap(), "debian-default", "m-outage");
    s.ok("POST", "/v1/targets", Some(json!({ "name": "before", "tags": [{ "key": "role" }] })));
    down();
    let (status, v) = s.call(
        "POST",
        "/v1/targets",
        &s.token,
        Some(json!({ "name": "during", "tags": [{ "key": "role" }] })),
    );
    assert_eq!((status, v["error"]["code"].as_str()), (503, Some("unavailable")), "{v}");
    // A heartbeat that changes the agent's health: refused (503) where the
    // database cannot be read, accepted where reads go on (SQLite locked
    // for writing) and then written once it is back.
    let unhealthy = json!({ "health_code": "UNHEALTHY", "detail": "a sensor failed" });
    let (during, v) = answer(agent.client(s).post("/agent/v1/heartbeat", &unhealthy));
    assert!(during == 503 || during == 200, "{during} {v}");
    let health = || {
        let agents = s.ok("GET", "/v1/agents", None);
        let me = agents["items"].as_array().unwrap().iter().find(|a| a["id"] == agent.id.as_str()).cloned();
        me.map(|a| a["health_code"].clone()).unwrap_or_default()
    };
    let becomes_unhealthy = || {
        let start = Instant::now();
        while health() != "UNHEALTHY" {
            assert!(start.elapsed() < Duration::from_secs(15), "the agent's health is {}", health());
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    up();
    let start = Instant::now();
    loop {
        let (status, v) = s.call(
            "POST",
            "/v1/targets",
            &s.token,
            Some(json!({ "name": "during", "tags": [{ "key": "role" }] })),
        );
        if status == 201 {
            break;
        }
        assert!(status == 503 && start.elapsed() < Duration::from_secs(30), "{status} {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
    if during == 200 {
        becomes_unhealthy();
    }
    assert_eq!(answer(agent.client(s).post("/agent/v1/heartbeat", &unhealthy)).0, 200);
    becomes_unhealthy();
    let names: Vec<Value> = s.ok("GET", "/v1/targets", None)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("before"), json!("during")]);
}

#[test]
fn a_locked_sqlite_database_gives_503_then_recovers() {
    use sqlx::Connection;
    let s = Server::new(false).unwrap();
    let file = s.data.path().join("assay.db");
    // Another process holding SQLite's write lock past the busy timeout.
    let holder = std::sync::Mutex::new(None::<sqlx::SqliteConnection>);
    let down = || {
        s.rt.block_on(async {
            let mut c =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display())).await.unwrap();
            sqlx::raw_sql("BEGIN EXCLUSIVE").execute(&mut c).await.unwrap();
            *holder.lock().unwrap() = Some(c);
        })
    };
    let up = || {
        let c = holder.lock().unwrap().take();
        s.rt.block_on(async {
            let mut c = c.unwrap();
            sqlx::raw_sql("COMMIT").execute(&mut c).await.unwrap();
            c.close().await.unwrap();
        })
    };
    database_outage(&s, &down, &up);
}

#[test]
fn postgres_stopped_gives_503_then_recovers() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let Some(mut db) = Database::postgres_if_reachable(&rt) else { return };
    let proxy = Outage::to_postgres();
    let name = db.drop_pg.clone().unwrap();
    db.url = Some(format!("postgres://postgres@127.0.0.1:{}/{name}", proxy.port));
    let s = Server::on(rt, db);
    database_outage(&s, &|| proxy.cut(), &|| proxy.restore());
}

/// Retention: telemetry past it is deleted, then the keys of finished
/// runs with no telemetry left; the findings stay, and there is nothing
/// left to re-evaluate.
#[test]
fn retention_deletes_telemetry_and_then_the_run_keys() {
    use sqlx::Connection;
    let mut s = Server::new(false).unwrap();
    let enrol = s.ok("POST", "/v1/enrollments", Some(json!({ "uses": 1, "tags": { "role": "web" } })));
    let agent = enroll(&s, enrol["token"].as_str().unwrap(), "debian-default", "m-retention");
    s.ok("POST", "/v1/targets", Some(json!({ "name": "all", "tags": [{ "key": "role" }] })));
    s.ok("PUT", "/v1/templates/t", Some(json!({ "target": "all", "packages": ["cis-linux"] })));
    let run = s.ok("POST", "/v1/runs", Some(json!({ "template": "t" })))["id"].as_str().unwrap().to_owned();
    agent.heartbeat(&s);
    assert_eq!(agent.upload(&s, &run, telemetry(agent.host)).0, 201);
    assert_eq!(s.wait_for(&run, &["COMPLETED", "FAILED"])["state"], "COMPLETED");
    let findings = all_findings(&s, &run, &agent.id).len();
    assert!(findings > 0);
    let file = format!("sqlite://{}", s.data.path().join("assay.db").display());
    let counts = |s: &Server| {
        s.rt.block_on(async {
            let mut c = sqlx::SqliteConnection::connect(&file).await.unwrap();
            let mut n = Vec::new();
            for table in ["telemetry", "run_keys"] {
                let sql = format!("SELECT COUNT(*) FROM {table}");
                n.push(
                    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(&mut c).await.unwrap(),
                );
            }
            n
        })
    };
    assert_eq!(counts(&s), vec![1, 1], "kept within retention");
    // The document is sealed in the blob store; the row names it.
    let (key, body_len) = s.rt.block_on(async {
        let mut c = sqlx::SqliteConnection::connect(&file).await.unwrap();
        sqlx::query_as::<_, (String, i64)>("SELECT blob, LENGTH(body) FROM telemetry")
            .fetch_one(&mut c)
            .await
            .unwrap()
    });
    assert_eq!(body_len, 0);
    let blob = s.data.path().join("blobs").join(&key);
    let sealed = std::fs::read(&blob).unwrap();
    assert!(key.starts_with("telemetry/d") && key.contains(&run), "{key}");
    assert!(!sealed.is_empty());
    // A blob gone from the store is an evaluation error that says so, and
    // the findings stay as they were.
    std::fs::rename(&blob, blob.with_extension("away")).unwrap();
    let empty = assay_runtime::feed::Feed::default().to_bytes();
    let (status, feed) = s.raw(false, "PUT", "/v1/feed", &s.token, Some(empty));
    assert_eq!((status, &feed["agents_queued"]), (200, &json!(1)), "{feed}");
    let start = Instant::now();
    let error = loop {
        let error = s.rt.block_on(async {
            let mut c = sqlx::SqliteConnection::connect(&file).await.unwrap();
            sqlx::query_scalar::<_, Option<String>>("SELECT error FROM reeval_jobs WHERE agent_id = $1")
                .bind(&agent.id)
                .fetch_optional(&mut c)
                .await
                .unwrap()
                .flatten()
        });
        if let Some(error) = error {
            break error;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "the re-evaluation never ended");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(error.contains("missing from the blob store") && error.contains(&key), "{error}");
    assert_eq!(all_findings(&s, &run, &agent.id).len(), findings);
    std::fs::rename(blob.with_extension("away"), &blob).unwrap();

    // Retention removes the blob with its row.
    s.halt();
    s.retention_ms = Some(1);
    s.boot();
    let start = Instant::now();
    while counts(&s) != vec![0, 0] {
        assert!(start.elapsed() < Duration::from_secs(10), "retention left {:?}", counts(&s));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(all_findings(&s, &run, &agent.id).len(), findings, "findings outlive telemetry");
    assert!(!blob.exists(), "the blob outlived its row");
    let empty = assay_runtime::feed::Feed::default().to_bytes();
    let (status, feed) = s.raw(false, "PUT", "/v1/feed", &s.token, Some(empty));
    assert_eq!((status, &feed["agents_queued"]), (200, &json!(0)), "{feed}");
}

/// Validates `value` against the OpenAPI document's schema for `name`
/// (its components included, so references resolve): the server's
/// answers are what the document says.
fn conforms(api: &Value, name: &str, value: &Value) {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": api["components"],
    });
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> =
        validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{name} does not conform to the OpenAPI document: {errors:#?}\n{value:#}");
}

/// Two agents whose hosts share a hostname (both the same fixture) are two
/// hosts in every report; findings carry the tags the agents were enrolled
/// with (the token's and their own); the answers conform to the OpenAPI
/// document generated from the wire types.
#[test]
fn hosts_with_one_hostname_stay_two_and_findings_carry_the_enrolled_tags() {
    let Some(s) = Server::new(false) else { return };
    let enrol = s.ok(
        "POST",
        "/v1/enrollments",
        Some(json!({ "uses": 2, "tags": { "env": "trial" }, "agent_tag_prefix": "role" })),
    );
    let token = enrol["token"].as_str().unwrap();
    let web = [("role", "web")];
    let (a, _) = try_enroll_tagged(&s, token, "debian-default", "m-a", "debian", &web).unwrap();
    let (b, _) = try_enroll_tagged(&s, token, "debian-default", "m-b", "debian", &web).unwrap();
    s.ok(
        "POST",
        "/v1/targets",
        Some(json!({ "name": "trial", "tags": [{ "key": "env", "value": "trial" }] })),
    );
    let template =
        json!({ "target": "trial", "packages": ["security-best-practices"], "duration_seconds": 60 });
    s.ok("PUT", "/v1/templates/twins", Some(template));
    let run =
        s.ok("POST", "/v1/runs", Some(json!({ "template": "twins" })))["id"].as_str().unwrap().to_owned();
    for agent in [&a, &b] {
        agent.heartbeat(&s);
        assert_eq!(agent.upload(&s, &run, telemetry(agent.host)).0, 201);
    }
    let _ = s.call("POST", &format!("/v1/runs/{run}/stop"), &s.token, None);
    s.wait_for(&run, &["COMPLETED"]);
    let both: std::collections::BTreeSet<&str> = [a.id.as_str(), b.id.as_str()].into();
    let full = s.ok("GET", &format!("/v1/runs/{run}/report?full=true"), None);
    for rule in full["findings_by_rule"].as_array().unwrap() {
        let agents: std::collections::BTreeSet<&str> =
            rule["hosts"].as_array().unwrap().iter().map(|h| h["agent"].as_str().unwrap()).collect();
        assert_eq!(agents, both, "{rule:#}");
        assert!(rule["hosts"].as_array().unwrap().iter().all(|h| h["hostname"] == "debian-default"));
    }
    for rule in full["rules"].as_array().unwrap() {
        let agents: Vec<&str> = rule["outcomes"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|hosts| hosts.as_array().unwrap().iter().map(|h| h["agent"].as_str().unwrap()))
            .collect();
        assert_eq!(agents.len(), 2, "{rule:#}");
        assert_eq!(agents.iter().copied().collect::<std::collections::BTreeSet<_>>(), both);
    }
    let (_, page) = s.call("GET", &format!("/v1/runs/{run}/report?full=true&format=html"), &s.token, None);
    let page = page.as_str().unwrap().to_owned();
    assert!(page.contains(&a.id) && page.contains(&b.id), "the HTML report names both agents");
    assert!(page.contains("failed on"), "the full HTML report says which hosts failed each rule");

    // Findings carry the agent's tags as the server enrolled it: the
    // token's (env=trial) and the agent's own (role=web).
    let findings = all_findings(&s, &run, &a.id);
    assert!(!findings.is_empty());
    for f in &findings {
        let tags: std::collections::BTreeMap<&str, &str> = f["asset"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["key"].as_str().unwrap(), t["value"].as_str().unwrap()))
            .collect();
        assert_eq!(tags, [("env", "trial"), ("role", "web")].into(), "{f:#}");
    }
    let fleet = s.ok("GET", &format!("/v1/fleet-findings?agent={}&limit=1000", b.id), None);
    assert!(fleet["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["asset"]["tags"].as_array().unwrap().len() == 2));

    // The overview charts distinct open findings (today: every open one of
    // the fleet, once), and ranks the most serious rules first.
    let overview = s.ok("GET", "/v1/overview", None);
    let open =
        s.ok("GET", "/v1/fleet-findings?state=open&limit=1000", None)["items"].as_array().unwrap().len();
    let today = &overview["findings_per_day"][13];
    let charted: i64 =
        ["high", "medium", "low", "informational"].iter().map(|k| today[k].as_i64().unwrap()).sum();
    assert_eq!(charted, open as i64, "{today}");
    let rank = |s: &Value| ["high", "medium", "low"].iter().position(|x| s == x).unwrap();
    let ranks: Vec<usize> =
        overview["top_rules"].as_array().unwrap().iter().map(|r| rank(&r["severity"])).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{overview:#}");

    // The answers are what the generated document describes.
    let api = s.ok("GET", "/v1/openapi.json", None);
    conforms(&api, "RunReport", &full);
    conforms(&api, "Page_FindingView", &s.ok("GET", &format!("/v1/findings?run={run}"), None));
    conforms(&api, "Page_FleetFindingView", &fleet);
    conforms(&api, "RunView", &s.ok("GET", &format!("/v1/runs/{run}"), None));
    conforms(&api, "Page_AgentView", &s.ok("GET", "/v1/agents", None));
    conforms(&api, "TargetPreview", &s.ok("GET", "/v1/targets/trial/preview?template=twins", None));
    conforms(&api, "Overview", &s.ok("GET", "/v1/overview", None));
    conforms(&api, "Packages", &s.ok("GET", "/v1/packages", None));
    conforms(&api, "TemplateVersions", &s.ok("GET", "/v1/templates/twins", None));
    conforms(&api, "Page_AuditEntry", &s.ok("GET", "/v1/audit", None));
    conforms(&api, "ErrorBody", &s.call("GET", "/v1/runs/nope", &s.token, None).1);
}
