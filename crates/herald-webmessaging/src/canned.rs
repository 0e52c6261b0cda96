//! Canned responses (Genesys Response Management) rendered to the text a customer receives.
//!
//! The Platform API does not render a response's `{{substitutions}}`: the client picks a body text, strips HTML
//! when only an HTML text exists, and fills the placeholders. This module does exactly that, with a small API the
//! web chat adapter reuses:
//!
//! - [`render_response`] — a typed [`CannedResponse`] + the [`Session`] + caller variables → text;
//! - [`render_response_json`] — the same from the raw JSON of `GET /api/v2/responsemanagement/responses/{id}`;
//! - [`html_to_text`] — the HTML stripper;
//! - [`CannedCache`] — fetched responses reused for a TTL (responses change rarely; fetching costs budget).
//!
//! Placeholder values, in order: the caller's `variables` (they may override anything), the built-ins
//! `AGENT_NAME`, `AGENT_ALIAS` (the agent's display name: conversations do not carry the alias) and
//! `CUSTOMER_NAME` from the session, then the substitution's `defaultValue`. A placeholder still without a value
//! is [`ChannelError::Invalid`] naming `variables.<ID>`: an empty string is never sent to a customer.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_core::{ChannelError, Session};
use herald_genesys::models::responses::{CannedResponse, ResponseText};
use parking_lot::Mutex;

/// The built-in substitutions Genesys defines for every response.
pub const BUILT_INS: [&str; 3] = ["AGENT_NAME", "AGENT_ALIAS", "CUSTOMER_NAME"];

/// Renders `response` for `session` with the caller's `variables` (see the module docs).
pub fn render_response(
    response: &CannedResponse,
    session: &Session,
    variables: &BTreeMap<String, String>,
) -> Result<String, ChannelError> {
    let text = choose_text(response)?;
    let defaults: HashMap<&str, &str> =
        response.substitutions.iter().filter_map(|s| s.default_value.as_deref().map(|d| (s.id.as_str(), d))).collect();
    let lookup = |name: &str| -> Option<String> {
        if let Some(v) = variables.get(name) {
            return Some(v.clone());
        }
        if let Some(v) = built_in(name, session) {
            return Some(v);
        }
        defaults.get(name).map(|d| d.to_string())
    };
    herald_core::template::render(&text, lookup).map_err(|missing| {
        let name = missing.name;
        let why = if BUILT_INS.contains(&name.as_str()) {
            format!("has no value: the conversation does not say the {}", built_in_label(&name))
        } else {
            format!("has no value and substitution `{name}` of canned response `{}` has no defaultValue", response.id)
        };
        ChannelError::invalid(
            format!("variables.{name}"),
            why,
            format!("add \"{name}\": \"...\" to the notification's content.variables"),
        )
    })
}

/// Like [`render_response`], from the raw JSON body of the Response Management GET.
pub fn render_response_json(
    response: &serde_json::Value,
    session: &Session,
    variables: &BTreeMap<String, String>,
) -> Result<String, ChannelError> {
    let typed: CannedResponse = serde_json::from_value(response.clone()).map_err(|e| {
        ChannelError::permanent(format!("the canned response could not be read as a Response Management response: {e}"))
    })?;
    render_response(&typed, session, variables)
}

/// Fill a herald template (`Content::Template`): each `{{name}}` from the notification's variables first, then the
/// built-ins (`AGENT_NAME`, `AGENT_ALIAS`, `CUSTOMER_NAME`), `conversation_id`, then the session's participant
/// attributes. A name with no value is `Invalid` naming `variables.<name>`. Shared by the web messaging and web
/// chat adapters so both fill templates the same way.
pub fn render_template(
    template: &str,
    variables: &BTreeMap<String, String>,
    session: &Session,
) -> Result<String, ChannelError> {
    let lookup = |name: &str| -> Option<String> {
        variables
            .get(name)
            .cloned()
            .or_else(|| built_in(name, session))
            .or_else(|| (name == "conversation_id").then(|| session.conversation_id.clone()))
            .or_else(|| session.attributes.get(name).cloned())
    };
    herald_core::template::render(template, lookup).map_err(|m| {
        let name = m.name;
        let why = if BUILT_INS.contains(&name.as_str()) {
            "has no value: the conversation does not carry it yet".to_string()
        } else {
            "has no value: it is neither in the notification's variables nor a participant attribute".to_string()
        };
        ChannelError::invalid(format!("variables.{name}"), why, format!("add \"{name}\": \"...\" to content.variables"))
    })
}

fn built_in_label(name: &str) -> &'static str {
    match name {
        "AGENT_NAME" | "AGENT_ALIAS" => "agent's name (no agent has joined yet)",
        _ => "customer's name",
    }
}

fn built_in(name: &str, session: &Session) -> Option<String> {
    match name {
        "AGENT_NAME" | "AGENT_ALIAS" => session.agent_name().map(str::to_string),
        "CUSTOMER_NAME" => session
            .customer
            .name
            .clone()
            .or_else(|| session.customer_participant().and_then(|p| p.name.clone()))
            .filter(|n| !n.trim().is_empty()),
        _ => None,
    }
}

/// The body text to send: plain text preferred, else the first HTML body stripped to text.
fn choose_text(response: &CannedResponse) -> Result<String, ChannelError> {
    let bodies: Vec<&ResponseText> = response.texts.iter().filter(|t| t.is_body()).collect();
    if let Some(plain) = bodies.iter().find(|t| !t.is_html() && !t.content.trim().is_empty()) {
        return Ok(plain.content.clone());
    }
    if let Some(html) = bodies.iter().find(|t| t.is_html()) {
        let text = html_to_text(&html.content);
        if !text.trim().is_empty() {
            return Ok(text);
        }
    }
    Err(ChannelError::invalid(
        "content.response_id",
        format!("canned response `{}` has no body text to send", response.id),
        "add a text/plain (or text/html) body text to the response in Response Management, or name another response",
    ))
}

/// Strips HTML to readable text: tags removed, block ends and `<br>` become line breaks, `<script>`/`<style>`
/// content dropped, common entities decoded, blank runs collapsed. `{{placeholders}}` are kept as they are.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            out.push_str(&rest[lt..]);
            rest = "";
            break;
        };
        let tag = after[..gt].trim().to_ascii_lowercase();
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        rest = &after[gt + 1..];
        if !tag.starts_with('/') && (name == "script" || name == "style") {
            let close = format!("</{name}");
            match rest.to_ascii_lowercase().find(&close) {
                Some(end) => {
                    let tail = &rest[end..];
                    rest = tail.find('>').map(|g| &tail[g + 1..]).unwrap_or("");
                }
                None => rest = "",
            }
            continue;
        }
        let breaks =
            matches!(name.as_str(), "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6");
        if breaks && (name == "br" || tag.starts_with('/')) {
            out.push('\n');
        }
    }
    out.push_str(rest);
    let decoded = decode_entities(&out);
    let mut lines: Vec<String> = Vec::new();
    for line in decoded.lines() {
        let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(collapsed);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let ent = &after[..e];
            let ch = match ent {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ => ent
                    .strip_prefix("#x")
                    .or_else(|| ent.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse::<u32>().ok()))
                    .and_then(char::from_u32),
            };
            ch.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Canned responses kept at most (the oldest fetched is dropped first). Notifications name response ids, so the
/// cache must not grow with whatever ids callers send; an org's responses that are in use fit easily.
pub const CANNED_CAPACITY: usize = 1_000;

/// Canned responses fetched recently, reused for a TTL; at most [`CANNED_CAPACITY`] of them.
#[derive(Debug)]
pub struct CannedCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Arc<CannedResponse>)>>,
}

impl CannedCache {
    /// A cache keeping responses for `ttl` (zero = never cache).
    pub fn new(ttl: Duration) -> Self {
        CannedCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    /// How many responses are cached.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cached response `id`, or `fetch()`'s answer (cached on success).
    pub async fn get_or_fetch<F, Fut>(&self, id: &str, fetch: F) -> Result<Arc<CannedResponse>, ChannelError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<CannedResponse, ChannelError>>,
    {
        if let Some((at, r)) = self.entries.lock().get(id) {
            if at.elapsed() < self.ttl {
                return Ok(r.clone());
            }
        }
        let fresh = Arc::new(fetch().await?);
        if !self.ttl.is_zero() {
            let mut entries = self.entries.lock();
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
            if entries.len() >= CANNED_CAPACITY && !entries.contains_key(id) {
                let oldest = entries.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
            entries.insert(id.to_string(), (Instant::now(), fresh.clone()));
        }
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use herald_core::{MediaKind, Participant};
    use herald_genesys::models::responses::ResponseSubstitution;

    fn session() -> Session {
        let mut s = Session::new("c1", "wm", MediaKind::WebMessaging, Utc::now());
        s.customer.name = Some("Carol Customer".into());
        s.participants.push(Participant {
            id: "pa".into(),
            purpose: "agent".into(),
            state: "connected".into(),
            user_id: Some("u1".into()),
            queue_id: None,
            name: Some("Alice Agent".into()),
            communications: vec![],
        });
        s
    }

    fn response(texts: Vec<ResponseText>) -> CannedResponse {
        CannedResponse {
            id: "r1".into(),
            texts,
            substitutions: vec![
                ResponseSubstitution {
                    id: "order_id".into(),
                    default_value: Some("(unknown)".into()),
                    ..Default::default()
                },
                ResponseSubstitution { id: "eta".into(), default_value: None, ..Default::default() },
            ],
            ..Default::default()
        }
    }

    fn text(content: &str, ct: &str) -> ResponseText {
        ResponseText { content: content.into(), content_type: Some(ct.into()), text_type: Some("body".into()) }
    }

    #[test]
    fn fills_built_ins_variables_and_defaults() {
        let r = response(vec![
            text("<p>ignored html</p>", "text/html"),
            text("Hi {{CUSTOMER_NAME}}, {{AGENT_NAME}} here: order {{order_id}} arrives {{eta}}.", "text/plain"),
        ]);
        let vars = BTreeMap::from([("eta".to_string(), "tomorrow".to_string())]);
        assert_eq!(
            render_response(&r, &session(), &vars).expect("render"),
            "Hi Carol Customer, Alice Agent here: order (unknown) arrives tomorrow."
        );
        match render_response(&r, &session(), &BTreeMap::new()) {
            Err(ChannelError::Invalid { field, fix, .. }) => {
                assert_eq!(field, "variables.eta");
                assert!(fix.contains("content.variables"), "{fix}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn html_only_is_stripped_and_missing_agent_is_named() {
        let r = response(vec![text(
            "<p>Hello, this is <b>{{AGENT_ALIAS}}</b>.</p><p>Fish &amp; chips &#x2014; ok?<br>Bye</p><script>x()</script>",
            "text/html",
        )]);
        assert_eq!(
            render_response(&r, &session(), &BTreeMap::new()).expect("render"),
            "Hello, this is Alice Agent.\nFish & chips \u{2014} ok?\nBye"
        );
        let mut queued = session();
        queued.participants.clear();
        match render_response(&r, &queued, &BTreeMap::new()) {
            Err(ChannelError::Invalid { field, .. }) => assert_eq!(field, "variables.AGENT_ALIAS"),
            other => panic!("{other:?}"),
        }
        let json = serde_json::json!({"id": "r2", "libraries": [], "texts": [{"content": "Hi {{CUSTOMER_NAME}}", "contentType": "text/plain"}]});
        assert_eq!(render_response_json(&json, &session(), &BTreeMap::new()).expect("json"), "Hi Carol Customer");
    }

    #[test]
    fn empty_response_is_invalid() {
        let r = response(vec![text("  ", "text/plain")]);
        assert!(matches!(render_response(&r, &session(), &BTreeMap::new()), Err(ChannelError::Invalid { .. })));
    }

    #[tokio::test]
    async fn cache_reuses_within_ttl() {
        let cache = CannedCache::new(Duration::from_secs(60));
        let calls = std::sync::atomic::AtomicU32::new(0);
        for _ in 0..3 {
            let r = cache
                .get_or_fetch("r1", || async {
                    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok(CannedResponse { id: "r1".into(), ..Default::default() })
                })
                .await
                .expect("fetch");
            assert_eq!(r.id, "r1");
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_cache_stays_bounded_whatever_ids_are_asked_for() {
        let cache = CannedCache::new(Duration::from_secs(300));
        for i in 0..(CANNED_CAPACITY * 3) {
            let id = format!("r-{i}");
            let got = cache.get_or_fetch(&id, || async { Ok(response(Vec::new())) }).await.expect("fetched");
            assert_eq!(got.id, "r1");
            assert!(cache.len() <= CANNED_CAPACITY);
        }
        assert_eq!(cache.len(), CANNED_CAPACITY);
        // A failed fetch caches nothing.
        let e =
            cache.get_or_fetch("missing", || async { Err(ChannelError::not_found("canned response", "x", "-")) }).await;
        assert!(e.is_err());
        assert_eq!(cache.len(), CANNED_CAPACITY);
    }
}
