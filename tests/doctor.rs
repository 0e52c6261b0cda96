//! `herald doctor` against its corpus (`tests/data/doctor/`): every story payload verbatim plus valid and invalid
//! requests for each endpoint herald uses. `cases.toml` lists, per file, the exit code, the findings
//! (`code@path`) that must be reported, the suggested endpoint and the corrected request.

use std::path::{Path, PathBuf};

use herald::doctor::{report_for_text, Report};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/doctor")
}

fn report_for(file: &str, ws: bool) -> Report {
    let text = std::fs::read_to_string(data_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    report_for_text(&text, None, None, ws || file.ends_with(".json") && file.starts_with("ws-"))
}

/// Prints every report of the corpus (run with `--ignored --nocapture` when editing the catalog).
#[test]
#[ignore]
fn dump_corpus() {
    let mut files: Vec<String> = std::fs::read_dir(data_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|f| f != "cases.toml")
        .collect();
    files.sort();
    for f in files {
        let r = report_for(&f, false);
        println!("===== {f} (exit {})\n{}", r.exit_code(), r.to_text());
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    file: String,
    exit: u8,
    #[serde(default)]
    findings: Vec<String>,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    suggest: Option<String>,
    #[serde(default)]
    alternatives: Vec<String>,
    #[serde(default)]
    corrected_method: Option<String>,
    #[serde(default)]
    corrected_path: Option<String>,
    #[serde(default)]
    corrected_body: Option<String>,
    #[serde(default)]
    placeholders: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
struct Cases {
    case: Vec<Case>,
}

fn check_case(c: &Case) -> Vec<String> {
    let r = report_for(&c.file, false);
    let mut problems = Vec::new();
    let mut fail = |m: String| problems.push(format!("{}: {m}", c.file));
    if r.exit_code() != c.exit {
        fail(format!("exit {} (expected {})", r.exit_code(), c.exit));
    }
    let got: Vec<String> = r
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}@{}",
                serde_json::to_value(f.code).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
                f.path
            )
        })
        .collect();
    for want in &c.findings {
        if !got.contains(want) {
            fail(format!("missing finding {want}; got {got:?}"));
        }
    }
    if c.exit == 0 && r.has_errors() {
        fail(format!("valid request has errors: {got:?}"));
    }
    if let Some(e) = &c.endpoint {
        if r.endpoint.as_ref().map(|x| &x.id) != Some(e) {
            fail(format!("endpoint {:?} (expected {e})", r.endpoint.as_ref().map(|x| &x.id)));
        }
    }
    if let Some(s) = &c.suggest {
        if r.suggestion.as_ref().map(|x| &x.endpoint.id) != Some(s) {
            fail(format!("suggestion {:?} (expected {s})", r.suggestion.as_ref().map(|x| &x.endpoint.id)));
        }
    }
    let alts: Vec<&String> = r.suggestion.iter().flat_map(|s| s.alternatives.iter().map(|a| &a.id)).collect();
    for a in &c.alternatives {
        if !alts.contains(&a) {
            fail(format!("alternative {a} missing; got {alts:?}"));
        }
    }
    let corrected = r.corrected.as_ref();
    if let Some(m) = &c.corrected_method {
        if corrected.map(|x| &x.method) != Some(m) {
            fail(format!("corrected method {:?} (expected {m})", corrected.map(|x| &x.method)));
        }
    }
    if let Some(p) = &c.corrected_path {
        if corrected.map(|x| &x.path) != Some(p) {
            fail(format!("corrected path {:?} (expected {p})", corrected.map(|x| &x.path)));
        }
    }
    if let Some(b) = &c.corrected_body {
        let want: serde_json::Value =
            serde_json::from_str(b).unwrap_or_else(|e| panic!("{}: bad corrected_body: {e}", c.file));
        if corrected.and_then(|x| x.body.as_ref()) != Some(&want) {
            fail(format!("corrected body {:?} (expected {want})", corrected.and_then(|x| x.body.as_ref())));
        }
    }
    for p in &c.placeholders {
        if !corrected.is_some_and(|x| x.placeholders.contains_key(p)) {
            fail(format!("placeholder {p} not explained"));
        }
    }
    problems
}

#[test]
fn corpus_matches_expectations() {
    let text = std::fs::read_to_string(data_dir().join("cases.toml")).unwrap_or_else(|e| panic!("cases.toml: {e}"));
    let cases: Cases = toml::from_str(&text).unwrap_or_else(|e| panic!("cases.toml: {e}"));
    let problems: Vec<String> = cases.case.iter().flat_map(check_case).collect();
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn every_corpus_file_has_a_case() {
    let text = std::fs::read_to_string(data_dir().join("cases.toml")).unwrap_or_default();
    let cases: Cases = toml::from_str(&text).unwrap_or_else(|e| panic!("cases.toml: {e}"));
    for entry in std::fs::read_dir(data_dir()).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name != "cases.toml" {
            assert!(cases.case.iter().any(|c| c.file == name), "{name} has no [[case]] in cases.toml");
        }
    }
}

#[test]
fn every_story_is_covered() {
    let text = std::fs::read_to_string(data_dir().join("cases.toml")).unwrap_or_default();
    for story in 1..=5 {
        assert!(text.contains(&format!("file = \"story{story}-")), "story {story} has no corpus entry");
    }
}

#[test]
fn diagnose_is_pure_and_serialisable() {
    let body = serde_json::json!({"to": "webchat:x", "text": "hi"});
    let r =
        herald::doctor::diagnose("post", "https://api.mypurecloud.com/api/v2/conversations/messages/c1", Some(&body));
    let again = herald::doctor::diagnose("POST", "/api/v2/conversations/messages/c1/", Some(&body));
    assert_eq!(r.findings, again.findings);
    let json = serde_json::to_value(&r).unwrap_or_default();
    assert_eq!(json["verdict"], "findings");
    assert_eq!(json["suggestion"]["endpoint"]["id"], "messaging.send");
    assert!(json["findings"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x["code"] == "unknown_field" && x["path"] == "to")));
    let back: Report = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, r);
}

#[test]
fn text_limits_follow_the_messenger_type() {
    let long = "z".repeat(1000);
    let sms =
        serde_json::json!({"fromAddress": "+1", "toAddress": "+2", "toAddressMessengerType": "sms", "textBody": long});
    let web = serde_json::json!({"fromAddress": "d", "externalContactId": "e", "toAddressMessengerType": "webmessaging", "textBody": long});
    let path = "/api/v2/conversations/messages/agentless";
    assert_eq!(herald::doctor::diagnose("POST", path, Some(&sms)).exit_code(), 1);
    assert_eq!(herald::doctor::diagnose("POST", path, Some(&web)).exit_code(), 0);
}

#[test]
fn route_request_shapes() {
    use herald::doctor::{diagnose_request, DoctorRequest};
    let frame =
        DoctorRequest { frame: Some(serde_json::json!({"action": "getJwt", "token": "t"})), ..Default::default() };
    assert_eq!(diagnose_request(&frame).exit_code(), 0);
    let text = DoctorRequest {
        text: Some("POST /api/v2/conversations/messaging/messages\n\n{\"text\": \"hi\"}".into()),
        ..Default::default()
    };
    assert_eq!(diagnose_request(&text).suggestion.map(|s| s.endpoint.id), Some("messaging.agentless".to_string()));
    let empty = DoctorRequest::default();
    assert_eq!(diagnose_request(&empty).exit_code(), 2);
}
