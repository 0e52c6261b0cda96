use super::*;
use crate::adapters::builtin_registry;

fn env(name: &str) -> Option<String> {
    match name {
        "HERALD_API_KEY" => Some("0123456789abcdef0123".into()),
        "HOOK_URL" => Some("http://127.0.0.1:9/hook".into()),
        _ => None,
    }
}

fn load_str(text: &str) -> Result<LoadedConfig, ConfigError> {
    load(text, "test.toml", &builtin_registry(), &env)
}

const GOOD: &str = r#"
[service]
listen = "127.0.0.1:0"
api_keys = ["${HERALD_API_KEY}"]

[store]
path = ":memory:"

[[integration]]
name = "hook"
kind = "webhook"
closed_policy = "fail"
[integration.settings]
url = "${HOOK_URL}"
"#;

#[test]
fn good_config_loads_with_secrets_expanded_and_hidden() {
    let loaded = load_str(GOOD).expect("valid");
    assert_eq!(loaded.integrations.len(), 1);
    assert_eq!(loaded.integrations[0].settings["url"].as_str(), Some("http://127.0.0.1:9/hook"));
    let debug = format!("{:?}", loaded.config.service);
    assert!(!debug.contains("0123456789abcdef0123"), "secret leaked into Debug: {debug}");
}

#[test]
fn every_problem_is_reported_with_its_key_path() {
    let text = r#"
[service]
api_keys = ["short", "${NOT_SET}"]
[store]
cache_mb = 0
commit_delay_us = 5000000
[dispatcher]
concurrency = 0
[[integration]]
name = "a"
kind = "carrier-pigeon"
[[integration]]
name = "a"
kind = "webhook"
[integration.settings]
url = "http://127.0.0.1:1/"
"#;
    let err = load_str(text).unwrap_err();
    let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
    for expected in [
        "service.api_keys[1]",
        "service.api_keys",
        "dispatcher.concurrency",
        "store.cache_mb",
        "store.commit_delay_us",
        "integration[0].kind",
        "integration[1].name",
    ] {
        assert!(paths.contains(&expected), "missing {expected} in {paths:?}");
    }
    let kind = err.problems.iter().find(|p| p.path == "integration[0].kind").map(|p| p.message.clone());
    assert!(kind.unwrap_or_default().contains("webhook"), "should list known kinds");
}

#[test]
fn unknown_keys_and_syntax_errors_are_errors() {
    let err = load_str("[service]\nlisten = \"127.0.0.1:1\"\nlsten = 3\n").unwrap_err();
    assert_eq!(err.problems[0].path, "service.lsten");
    assert!(err.problems[0].message.contains("lsten"), "{err}");

    let err = load_str("[service\n").unwrap_err();
    assert_eq!(err.problems[0].path, "(syntax)");

    let text = "[service]\nlisten = \"127.0.0.1:0\"\n\n[[integration]]\nname = \"a\"\n[[integration]]\nname = \"b\"\n\
                [integration.settings]\nurl = \"http://x\n";
    let err = load_str(text).unwrap_err();
    let p = &err.problems[0];
    assert_eq!(p.path, "integration[1].settings.url", "{err}");
    assert!(p.message.contains("line 9, column 16"), "{err}");
    assert!(p.message.contains("table `[integration.settings]`, key `url`"), "{err}");
    let err = load_str("a = 1\nb = = 2\n").unwrap_err();
    assert_eq!(err.problems[0].path, "b", "{err}");
    assert!(err.problems[0].message.contains("line 2") && err.problems[0].message.contains("the top level"), "{err}");

    let err = load_str("[store]\nsession_retention_days = \"x\"\n").unwrap_err();
    assert_eq!(err.problems[0].path, "store.session_retention_days");
}

#[test]
fn adapter_settings_are_validated_by_the_adapter() {
    let text =
        "[[integration]]\nname = \"h\"\nkind = \"webhook\"\n[integration.settings]\nurl = \"not a url\"\nextra = 1\n";
    let err = load_str(text).unwrap_err();
    assert!(err.problems.iter().any(|p| p.path.starts_with("integration[0].settings")), "{err}");
}

#[test]
fn rules_are_validated() {
    let text = format!(
        "{GOOD}\n[[rule]]\nname = \"r\"\nwhen = \"order_shipped\"\n[rule.then]\nintegration = \"nope\"\ntarget = \"customer\"\ntext = \"Hi {{{{customer_name}}}} {{{{bogus}}}}\"\n\
         [[rule]]\nname = \"w\"\nwhen = \"queue_wait_exceeded\"\n[rule.then]\nintegration = \"hook\"\ntarget = \"conversation\"\ntext = \"waited {{{{waited_secs}}}}s\"\n"
    );
    let err = load_str(&text).unwrap_err();
    let msgs: Vec<String> = err.problems.iter().map(|p| p.to_string()).collect();
    assert!(msgs.iter().any(|m| m.starts_with("rule[0].when") && m.contains("event:<name>")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.starts_with("rule[1].wait_secs")), "{msgs:?}");

    let text = format!(
        "{GOOD}\n[[rule]]\nname = \"r\"\nwhen = \"event:order_shipped\"\n[rule.then]\nintegration = \"nope\"\ntarget = \"customer\"\ntext = \"Hi {{{{customer_id}}}} {{{{bogus}}}} {{{{attr.order}}}}\"\n"
    );
    let err = load_str(&text).unwrap_err();
    let msgs: Vec<String> = err.problems.iter().map(|p| p.to_string()).collect();
    assert!(msgs.iter().any(|m| m.starts_with("rule[0].then.integration")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.starts_with("rule[0].then.text") && m.contains("bogus")), "{msgs:?}");
    assert_eq!(msgs.len(), 2, "{msgs:?}");
}

#[test]
fn postgres_backend_needs_a_url_and_sane_bounds() {
    let ok = load_str(&GOOD.replace("path = \":memory:\"", "backend = \"postgres\"\nurl = \"${HOOK_URL}\""))
        .expect("a postgres store with a url");
    assert_eq!(ok.config.store.backend, StoreBackend::Postgres);
    assert_eq!((ok.config.store.pool_size, ok.config.store.statement_timeout_ms), (16, 5_000));
    assert!(!format!("{:?}", ok.config.store).contains("127.0.0.1:9"), "the url is a secret");
    let bad = GOOD.replace("path = \":memory:\"", "backend = \"postgres\"\npool_size = 0\nstatement_timeout_ms = 0");
    let paths: Vec<String> = load_str(&bad).unwrap_err().problems.into_iter().map(|p| p.path).collect();
    assert_eq!(paths, ["store.url", "store.pool_size", "store.statement_timeout_ms"]);
    let stray = GOOD.replace("path = \":memory:\"", "url = \"postgres://db/herald\"");
    assert_eq!(load_str(&stray).unwrap_err().problems[0].path, "store.url", "a url without the backend");
    let typo = GOOD.replace("path = \":memory:\"", "backend = \"postgresql\"");
    assert_eq!(load_str(&typo).unwrap_err().problems[0].path, "store.backend");
}
