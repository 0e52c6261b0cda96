//! Conformance cases for [`StateStore`].

use std::sync::Arc;

use serde_json::json;

use super::{at, join_all, ok, Harness};
use crate::store::state::{CasOutcome, StateStore};
use crate::store::MAX_PAGE;

/// Keys of a listing.
fn keys(entries: &[crate::store::StateEntry]) -> Vec<String> {
    entries.iter().map(|e| e.key.clone()).collect()
}

/// Put, get, versions, namespaces kept apart, delete.
pub async fn state_put_get_versions_and_namespaces<H: Harness>(h: &H) {
    let s = h.state().await;
    assert_eq!(ok(s.get("rules", "k", at(0)).await, "get absent"), None, "a fresh store holds nothing");
    let first = ok(s.put("rules", "k", json!({"n": 1}), None, at(0)).await, "put");
    assert_eq!(first.version, 1, "a new entry starts at version 1");
    let second = ok(s.put("rules", "k", json!({"n": 2}), None, at(1)).await, "put again");
    assert_eq!(second.version, 2, "every write bumps the version");
    let got = ok(s.get("rules", "k", at(2)).await, "get").expect("the entry written");
    assert_eq!((got.key.as_str(), got.value, got.version), ("k", json!({"n": 2}), 2));
    assert_eq!(ok(s.get("teams", "k", at(2)).await, "get other namespace"), None, "namespaces are separate");
    ok(s.put("teams", "k", json!("t"), None, at(2)).await, "put other namespace");
    assert_eq!(ok(s.get("rules", "k", at(2)).await, "get").map(|e| e.value), Some(json!({"n": 2})));
    assert!(ok(s.delete("rules", "k").await, "delete"), "delete says it removed the entry");
    assert!(!ok(s.delete("rules", "k").await, "delete again"), "a second delete finds nothing");
    assert_eq!(ok(s.get("rules", "k", at(3)).await, "get deleted"), None);
    assert!(
        ok(s.get("teams", "k", at(3)).await, "get other").is_some(),
        "deleting one namespace's key keeps the other"
    );
    assert!(s.put("", "k", json!(1), None, at(0)).await.is_err(), "an empty namespace is refused");
    assert!(s.put("a\0b", "k", json!(1), None, at(0)).await.is_err(), "a namespace with NUL is refused");
}

/// Compare-and-set by version; put_if_absent; a conflict returns the stored entry and changes nothing.
pub async fn state_compare_and_set<H: Harness>(h: &H) {
    let s = h.state().await;
    let created = ok(s.put_if_absent("ns", "k", json!("a"), None, at(0)).await, "put_if_absent");
    let created = created.unwrap_or_else(|e| panic!("an absent key is written, got existing {e:?}"));
    assert_eq!(created.version, 1);
    let again = ok(s.put_if_absent("ns", "k", json!("b"), None, at(1)).await, "put_if_absent again");
    assert_eq!(again.map_err(|e| e.value), Err(json!("a")), "a present key is returned, not overwritten");

    match ok(s.compare_and_set("ns", "k", Some(7), json!("c"), None, at(2)).await, "cas wrong version") {
        CasOutcome::Conflict(Some(e)) => assert_eq!((e.value, e.version), (json!("a"), 1)),
        other => panic!("a wrong version must conflict with the stored entry, got {other:?}"),
    }
    match ok(s.compare_and_set("ns", "k", None, json!("c"), None, at(2)).await, "cas expecting absent") {
        CasOutcome::Conflict(Some(e)) => assert_eq!(e.version, 1),
        other => panic!("expecting absence of a present key must conflict, got {other:?}"),
    }
    match ok(s.compare_and_set("ns", "k", Some(1), json!("d"), None, at(3)).await, "cas right version") {
        CasOutcome::Written(e) => assert_eq!((e.value, e.version), (json!("d"), 2)),
        other => panic!("the right version must write, got {other:?}"),
    }
    match ok(s.compare_and_set("ns", "other", Some(1), json!("x"), None, at(3)).await, "cas on absent") {
        CasOutcome::Conflict(None) => {}
        other => panic!("expecting a version of an absent key must conflict with nothing, got {other:?}"),
    }
    assert_eq!(ok(s.get("ns", "other", at(3)).await, "get"), None, "a conflict writes nothing");
    assert_eq!(ok(s.get("ns", "k", at(3)).await, "get").map(|e| e.value), Some(json!("d")));
}

/// Expired entries read as absent, are skipped by listings, may be claimed again, and are purged.
pub async fn state_expiry_and_purge<H: Harness>(h: &H) {
    let s = h.state().await;
    ok(s.put("ns", "short", json!(1), Some(at(10)), at(0)).await, "put short");
    ok(s.put("ns", "long", json!(2), Some(at(100)), at(0)).await, "put long");
    ok(s.put("ns", "forever", json!(3), None, at(0)).await, "put forever");
    assert!(ok(s.get("ns", "short", at(9)).await, "get").is_some(), "live before its expiry");
    assert_eq!(ok(s.get("ns", "short", at(10)).await, "get"), None, "absent from its expiry on");
    assert_eq!(keys(&ok(s.list("ns", "", None, 0, at(10)).await, "list")), vec!["forever", "long"]);

    let claimed = ok(s.put_if_absent("ns", "short", json!("new"), Some(at(50)), at(20)).await, "claim expired");
    let claimed = claimed.unwrap_or_else(|e| panic!("an expired entry counts as absent, got {e:?}"));
    assert!(claimed.version >= 1);
    assert_eq!(ok(s.get("ns", "short", at(21)).await, "get").map(|e| e.value), Some(json!("new")));

    assert_eq!(ok(s.purge_expired(at(20)).await, "purge nothing"), 0, "nothing has expired at 20 s");
    assert_eq!(ok(s.purge_expired(at(60)).await, "purge"), 1, "the renewed `short` expired at 50 s");
    assert_eq!(ok(s.purge_expired(at(200)).await, "purge"), 1, "`long` expired at 100 s");
    assert_eq!(keys(&ok(s.list("ns", "", None, 0, at(0)).await, "list")), vec!["forever"], "purged entries are gone");
}

/// Of many concurrent `put_if_absent` of one key exactly one writes; all others see the winner.
pub async fn state_concurrent_put_if_absent<H: Harness>(h: &H) {
    let s = Arc::new(h.state().await);
    let tasks = (0..16)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { ok(s.put_if_absent("ns", "claim", json!(i), None, at(0)).await, "claim") })
        })
        .collect();
    let results = join_all(tasks, "claims").await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one concurrent claim wins: {results:?}");
    let winner = winners[0].value.clone();
    for r in &results {
        if let Err(existing) = r {
            assert_eq!(existing.value, winner, "losers see the winner's value");
        }
    }
    // Concurrent compare-and-set increments lose no update.
    let tasks = (0..16)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                loop {
                    let current = ok(s.get("ns", "counter", at(0)).await, "get counter");
                    let (expected, n) = match &current {
                        Some(e) => (Some(e.version), e.value.as_u64().unwrap_or(0)),
                        None => (None, 0),
                    };
                    let cas = s.compare_and_set("ns", "counter", expected, json!(n + 1), None, at(0)).await;
                    if let CasOutcome::Written(_) = ok(cas, "cas counter") {
                        return;
                    }
                }
            })
        })
        .collect();
    join_all(tasks, "increments").await;
    let counter = ok(s.get("ns", "counter", at(0)).await, "get counter").expect("the counter");
    assert_eq!(counter.value, json!(16), "16 compare-and-set increments, none lost");
}

/// Listing by prefix is in key order, bounded by `MAX_PAGE`, and pages with the last key.
pub async fn state_list_pages_with_cursor<H: Harness>(h: &H) {
    let s = h.state().await;
    let n = MAX_PAGE + 234;
    for i in 0..n {
        ok(s.put("ns", &format!("a/{i:05}"), json!(i), None, at(0)).await, "put a");
    }
    ok(s.put("ns", "b/1", json!("b"), None, at(0)).await, "put b");
    ok(s.put("ns", "a", json!("bare"), None, at(0)).await, "put bare prefix");
    ok(s.put("other", "a/00000", json!("other ns"), None, at(0)).await, "put other ns");

    let first = ok(s.list("ns", "a/", None, 0, at(0)).await, "list page 1");
    assert_eq!(first.len(), MAX_PAGE, "limit 0 is one full page, never all");
    assert_eq!(first[0].key, "a/00000");
    let mut all = keys(&first);
    let mut after = all.last().cloned();
    loop {
        let page = ok(s.list("ns", "a/", after.as_deref(), 500, at(0)).await, "list next page");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 500, "a page holds at most the limit");
        after = page.last().map(|e| e.key.clone());
        all.extend(keys(&page));
    }
    let expected: Vec<String> = (0..n).map(|i| format!("a/{i:05}")).collect();
    assert_eq!(all, expected, "pages cover the prefix once, in key order, nothing of other prefixes or namespaces");
    assert_eq!(ok(s.list("ns", "a/", None, 100_000, at(0)).await, "list huge").len(), MAX_PAGE, "never above MAX_PAGE");
    assert_eq!(
        keys(&ok(s.list("ns", "a/", Some("a/00005"), 2, at(0)).await, "list after")),
        vec!["a/00006", "a/00007"]
    );
    assert_eq!(keys(&ok(s.list("ns", "b/", Some("a/99999"), 0, at(0)).await, "cursor before prefix")), vec!["b/1"]);
    assert!(ok(s.list("ns", "c/", None, 0, at(0)).await, "list empty prefix").is_empty());
}

/// Everything written is there after a close and reopen (skipped, and said so, for a backend keeping nothing).
pub async fn state_reopen_keeps_everything<H: Harness>(h: &H) {
    let s = h.state().await;
    ok(s.put("rules", "cooldown/x", json!({"at": 1}), Some(at(3600)), at(0)).await, "put");
    ok(s.put("teams", "link/g1", json!("aad-1"), None, at(0)).await, "put");
    ok(s.put("teams", "link/g1", json!("aad-2"), None, at(1)).await, "put again");
    let Some(s) = h.reopen_state(s).await else {
        eprintln!("state_reopen_keeps_everything: skipped, the backend keeps nothing across a close");
        return;
    };
    let cooldown = ok(s.get("rules", "cooldown/x", at(10)).await, "get after reopen").expect("the cooldown");
    assert_eq!((cooldown.value, cooldown.expires_at), (json!({"at": 1}), Some(at(3600))));
    let link = ok(s.get("teams", "link/g1", at(10)).await, "get after reopen").expect("the link");
    assert_eq!((link.value, link.version), (json!("aad-2"), 2), "value and version survive");
    let again = ok(s.put_if_absent("teams", "link/g1", json!("aad-3"), None, at(11)).await, "claim after reopen");
    assert!(again.is_err(), "a reopened store still refuses to overwrite a present key");
}
