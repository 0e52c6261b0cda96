//! Which requests a staged fault applies to: an optional method and an optional path pattern.
//!
//! A pattern is matched segment by segment against the request path (the query is ignored): `*` matches exactly
//! one segment, a final `**` matches whatever remains (including nothing), anything else matches literally. So
//! `/api/v2/conversations/messages/*/communications/*/messages` is every agent-side web messaging send and
//! `/api/v2/conversations/chats/**` every agent-side chat request.

use serde::{Deserialize, Serialize};

/// The requests a fault applies to. The default (no method, no path) is every platform API request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultScope {
    /// HTTP method (case-insensitive); `None` or `*` for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path pattern (`*` one segment, final `**` the rest); `None` for any path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl FaultScope {
    /// Every request.
    pub fn any() -> Self {
        Self::default()
    }

    /// Requests with this method and a path matching `pattern`.
    pub fn only(method: &str, pattern: &str) -> Self {
        FaultScope { method: Some(method.to_string()), path: Some(pattern.to_string()) }
    }

    /// Why the scope cannot match anything, if so (a pattern must start with `/`; `**` only at the end).
    pub fn problem(&self) -> Option<String> {
        let p = self.path.as_deref()?;
        if !p.starts_with('/') {
            return Some(format!("path pattern {p:?} must start with '/'"));
        }
        let segments: Vec<&str> = p.split('/').collect();
        if segments.iter().rev().skip(1).any(|s| *s == "**") {
            return Some(format!("path pattern {p:?} may use '**' only as its last segment"));
        }
        None
    }

    /// Whether a request matches.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = match self.method.as_deref() {
            None | Some("*") => true,
            Some(m) => m.eq_ignore_ascii_case(method),
        };
        method_ok && self.path.as_deref().is_none_or(|p| path_matches(p, path))
    }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    let mut want = pattern.split('/');
    let mut have = path.split('/');
    loop {
        match (want.next(), have.next()) {
            (Some("**"), _) => return want.next().is_none(),
            (Some("*"), Some(h)) if !h.is_empty() => {}
            (Some(w), Some(h)) if w != "*" && w == h => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEND: &str = "/api/v2/conversations/messages/*/communications/*/messages";

    #[test]
    fn one_segment_wildcards() {
        let s = FaultScope::only("post", SEND);
        assert!(s.matches("POST", "/api/v2/conversations/messages/c1/communications/m1/messages"));
        assert!(s.matches("POST", "/api/v2/conversations/messages/c1/communications/m1/messages?x=1"));
        assert!(!s.matches("GET", "/api/v2/conversations/messages/c1/communications/m1/messages"));
        assert!(!s.matches("POST", "/api/v2/conversations/messages/c1/communications/m1/typing"));
        assert!(!s.matches("POST", "/api/v2/conversations/messages/c1/communications//messages"));
        assert!(!s.matches("POST", "/api/v2/conversations/messages/c1/communications/m1/messages/extra"));
    }

    #[test]
    fn rest_wildcard_and_any() {
        let s = FaultScope { method: None, path: Some("/api/v2/conversations/chats/**".into()) };
        assert!(s.matches("GET", "/api/v2/conversations/chats"));
        assert!(s.matches("PATCH", "/api/v2/conversations/chats/c1/participants/p1"));
        assert!(!s.matches("GET", "/api/v2/conversations/messages/c1"));
        assert!(FaultScope::any().matches("DELETE", "/anything"));
        assert!(FaultScope { method: Some("*".into()), path: None }.matches("GET", "/x"));
    }

    #[test]
    fn problems() {
        assert!(FaultScope::only("POST", "api/v2").problem().is_some());
        assert!(FaultScope::only("POST", "/api/**/x").problem().is_some());
        assert!(FaultScope::only("POST", SEND).problem().is_none());
        assert!(FaultScope::any().problem().is_none());
    }
}
