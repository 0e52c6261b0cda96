//! The doctor's knowledge, as data: one schema per Genesys Cloud endpoint (and guest WebSocket action) and a table
//! of endpoints people invent, with their fix.
//!
//! The data lives in `catalog.json` next to this file, embedded at compile time. Nothing in the checker knows a
//! particular endpoint: adding an endpoint or an invented path is a change to the JSON only. A unit test guarantees
//! the embedded file parses and every reference in it resolves.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;

/// The embedded catalog text.
const CATALOG_JSON: &str = include_str!("catalog.json");

/// The parsed catalog, or the reason it could not be parsed (guarded by a unit test; never expected at run time).
static CATALOG: LazyLock<Result<Catalog, String>> =
    LazyLock::new(|| Catalog::parse(CATALOG_JSON).map_err(|e| format!("the embedded doctor catalog is invalid: {e}")));

/// The catalog, parsed once.
pub fn catalog() -> Result<&'static Catalog, &'static str> {
    CATALOG.as_ref().map_err(String::as_str)
}

/// The JSON type a value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ty {
    /// A JSON string.
    String,
    /// A JSON number without fraction.
    Integer,
    /// Any JSON number.
    Number,
    /// `true` / `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
    /// Anything.
    Any,
}

impl Ty {
    /// The name used in findings.
    pub fn name(self) -> &'static str {
        match self {
            Ty::String => "string",
            Ty::Integer => "integer",
            Ty::Number => "number",
            Ty::Boolean => "boolean",
            Ty::Object => "object",
            Ty::Array => "array",
            Ty::Any => "any",
        }
    }

    /// Whether `v` has this type.
    pub fn matches(self, v: &Value) -> bool {
        match self {
            Ty::String => v.is_string(),
            Ty::Integer => v.is_i64() || v.is_u64(),
            Ty::Number => v.is_number(),
            Ty::Boolean => v.is_boolean(),
            Ty::Object => v.is_object(),
            Ty::Array => v.is_array(),
            Ty::Any => true,
        }
    }
}

/// The JSON type name of a value, for findings.
pub fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The schema of a body or of one field. `ref` names a shared schema in [`Catalog::schemas`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Schema {
    /// A shared schema this one stands for (the other keys are then ignored).
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    /// The JSON type (required unless `ref` is set).
    #[serde(default, rename = "type")]
    pub ty: Option<Ty>,
    /// Whether the field must be present (for a body: whether a body is required).
    #[serde(default)]
    pub required: bool,
    /// Maximum: characters of a string, items of an array, value of a number.
    #[serde(default)]
    pub max: Option<u64>,
    /// Minimum: characters of a string, items of an array, value of a number.
    #[serde(default)]
    pub min: Option<u64>,
    /// Allowed values of a string.
    #[serde(default, rename = "enum")]
    pub allowed: Vec<String>,
    /// A substring a string must contain (e.g. the `/` of an ISO interval).
    #[serde(default)]
    pub contains: Option<String>,
    /// The known fields of an object.
    #[serde(default)]
    pub fields: BTreeMap<String, Schema>,
    /// Whether an object may carry fields not listed in `fields`.
    #[serde(default)]
    pub additional: bool,
    /// The schema of a map's values (an object whose keys are free).
    #[serde(default)]
    pub values: Option<Box<Schema>>,
    /// The schema of an array's items.
    #[serde(default)]
    pub items: Option<Box<Schema>>,
    /// Set when the field is deprecated: why, and what to use instead.
    #[serde(default)]
    pub deprecated: Option<String>,
    /// What the field means or where its value comes from.
    #[serde(default)]
    pub note: Option<String>,
    /// What the corrected request puts here when the value is unknown (e.g. `"{deploymentId}"`).
    #[serde(default)]
    pub placeholder: Option<Value>,
    /// Explanations for specific wrong enum values (`"webmessaging"` where it is not supported, ...).
    #[serde(default)]
    pub enum_hints: BTreeMap<String, String>,
    /// Extra explanation when the value has the wrong type.
    #[serde(default)]
    pub type_hint: Option<String>,
}

/// Why a field is wrong, and what to do: for unknown fields people commonly send.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Hint {
    /// Why the field is wrong.
    pub reason: String,
    /// What to do instead.
    #[serde(default)]
    pub fix: Option<String>,
    /// The real field (a dotted path) the value belongs in; the corrected request moves it there.
    #[serde(default)]
    pub rename_to: Option<String>,
}

/// A condition on another field's value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// Dotted path of the field.
    pub field: String,
    /// The value it must equal.
    pub equals: String,
}

/// A body rule that spans several fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rule {
    /// Exactly one of these fields must be present.
    #[serde(default)]
    pub exactly_one: Vec<String>,
    /// At least one of these fields must be present.
    #[serde(default)]
    pub at_least_one: Vec<String>,
    /// The condition for `require`, `forbid` and `max`.
    #[serde(default)]
    pub when: Option<When>,
    /// Fields required when `when` holds.
    #[serde(default)]
    pub require: Vec<String>,
    /// Fields not allowed when `when` holds.
    #[serde(default)]
    pub forbid: Vec<String>,
    /// Tighter string limits when `when` holds.
    #[serde(default)]
    pub max: BTreeMap<String, u64>,
    /// Why the conditional rule exists.
    #[serde(default)]
    pub why: Option<String>,
}

/// Another endpoint to use in a given situation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alternative {
    /// The endpoint id.
    pub endpoint: String,
    /// When to use it instead.
    pub when: String,
}

/// A real endpoint used for something it does not do (recognised by the fields sent).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Misuse {
    /// Any of these top-level fields present means the caller wanted something else.
    pub if_any: Vec<String>,
    /// What the endpoint really does.
    pub reason: String,
    /// The endpoint id that does what the caller wants.
    pub suggest: String,
    /// Other endpoints for other situations.
    #[serde(default)]
    pub alternatives: Vec<Alternative>,
}

/// One real endpoint (method `WS` = a guest WebSocket action; `path` is then the action name).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Endpoint {
    /// Stable id (`messaging.send`, `ws:onMessage`).
    pub id: String,
    /// HTTP method, or `WS`.
    pub method: String,
    /// Path template with `{param}` segments, or the WebSocket action name.
    pub path: String,
    /// What it does.
    pub summary: String,
    /// The body model's name in the SDKs.
    #[serde(default)]
    pub body_name: Option<String>,
    /// SDK operation names that mean this endpoint.
    #[serde(default)]
    pub sdk: Vec<String>,
    /// Permissions (any of).
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Which credential it needs when not a client-credentials token.
    #[serde(default)]
    pub auth: Option<String>,
    /// Where each path parameter comes from.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Query parameters.
    #[serde(default)]
    pub query: BTreeMap<String, Schema>,
    /// The body schema; none = the endpoint takes no body.
    #[serde(default)]
    pub body: Option<Schema>,
    /// Rules spanning several fields.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Explanations for unknown fields people send to this endpoint (dotted paths).
    #[serde(default)]
    pub hints: BTreeMap<String, Hint>,
    /// Uses of this endpoint for something it does not do.
    #[serde(default)]
    pub misuse: Vec<Misuse>,
    /// Set when deprecated or removed: why and what to use.
    #[serde(default)]
    pub deprecated: Option<String>,
    /// Facts worth knowing when using it.
    #[serde(default)]
    pub notes: Vec<String>,
}

impl Endpoint {
    /// Whether this is a guest WebSocket action.
    pub fn is_ws(&self) -> bool {
        self.method == "WS"
    }

    /// `METHOD /path` (or `WS action`).
    pub fn display(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A field mapping from an invented body to the real one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMap {
    /// Dotted path in the invented body.
    pub from: String,
    /// Dotted path in the real body.
    pub to: String,
}

/// An endpoint (path, or SDK operation name) that does not exist, and what to use instead.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Invented {
    /// The method it was tried with; none = any.
    #[serde(default)]
    pub method: Option<String>,
    /// The path template (a trailing `/**` matches any rest); none when only SDK names are listed.
    #[serde(default)]
    pub path: Option<String>,
    /// Invented SDK operation names.
    #[serde(default)]
    pub sdk: Vec<String>,
    /// Which story in `shared/stories` it comes from.
    #[serde(default)]
    pub story: Option<String>,
    /// Why it is wrong.
    pub why: String,
    /// The endpoint id to use instead.
    pub suggest: String,
    /// Path parameters of the suggestion taken from the invented path's parameters (target ← source).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Path parameters of the suggestion taken from the invented body (target ← dotted body path).
    #[serde(default)]
    pub params_from_body: BTreeMap<String, String>,
    /// Body fields moved to the real body.
    #[serde(default)]
    pub map: Vec<FieldMap>,
    /// Body fields the real body always has for this intent.
    #[serde(default)]
    pub set: BTreeMap<String, Value>,
    /// Other endpoints for other situations.
    #[serde(default)]
    pub alternatives: Vec<Alternative>,
    /// Facts worth knowing.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// The whole catalog.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Catalog {
    /// Explanations for unknown fields, by field name, valid for every endpoint.
    #[serde(default)]
    pub global_hints: BTreeMap<String, Hint>,
    /// Real endpoints.
    pub endpoints: Vec<Endpoint>,
    /// Shared schemas named by `ref`.
    #[serde(default)]
    pub schemas: BTreeMap<String, Schema>,
    /// Invented endpoints.
    pub invented: Vec<Invented>,
    /// What each common placeholder (`{conversationId}`, `{deploymentId}`, ...) stands for and where to find it.
    #[serde(default)]
    pub placeholder_docs: BTreeMap<String, String>,
}

/// A path template matched against a concrete path: the parameters it bound.
pub type Params = BTreeMap<String, String>;

impl Catalog {
    /// Parses and cross-checks catalog text.
    pub fn parse(text: &str) -> Result<Catalog, String> {
        let cat: Catalog = serde_json::from_str(text).map_err(|e| e.to_string())?;
        cat.check_refs()?;
        Ok(cat)
    }

    fn check_refs(&self) -> Result<(), String> {
        fn walk(cat: &Catalog, s: &Schema, at: &str) -> Result<(), String> {
            if let Some(r) = &s.reference {
                return if cat.schemas.contains_key(r) { Ok(()) } else { Err(format!("{at}: unknown ref {r:?}")) };
            }
            if s.ty.is_none() {
                return Err(format!("{at}: schema without type or ref"));
            }
            for (k, f) in &s.fields {
                walk(cat, f, &format!("{at}.{k}"))?;
            }
            if let Some(i) = &s.items {
                walk(cat, i, &format!("{at}[]"))?;
            }
            if let Some(v) = &s.values {
                walk(cat, v, &format!("{at}{{}}"))?;
            }
            Ok(())
        }
        for (name, s) in &self.schemas {
            walk(self, s, name)?;
        }
        for e in &self.endpoints {
            if let Some(b) = &e.body {
                walk(self, b, &e.id)?;
            }
            for m in &e.misuse {
                self.endpoint(&m.suggest).ok_or_else(|| format!("{}: misuse suggests unknown {}", e.id, m.suggest))?;
            }
        }
        for i in &self.invented {
            self.endpoint(&i.suggest)
                .ok_or_else(|| format!("invented {:?}: unknown endpoint {}", i.path, i.suggest))?;
            for a in &i.alternatives {
                self.endpoint(&a.endpoint).ok_or_else(|| format!("invented {:?}: unknown {}", i.path, a.endpoint))?;
            }
        }
        Ok(())
    }

    /// Follows `ref` to the schema it names.
    pub fn resolve<'a>(&'a self, s: &'a Schema) -> &'a Schema {
        let mut cur = s;
        // Refs do not chain in practice; the bound guards against a cycle in a bad catalog.
        for _ in 0..8 {
            match cur.reference.as_ref().and_then(|r| self.schemas.get(r)) {
                Some(next) => cur = next,
                None => break,
            }
        }
        cur
    }

    /// The endpoint with this id.
    pub fn endpoint(&self, id: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.id == id)
    }

    /// Real endpoints whose template matches `path`, most specific (most literal segments) first, with their parameters.
    pub fn match_path(&self, path: &str) -> Vec<(&Endpoint, Params)> {
        let mut found: Vec<(usize, &Endpoint, Params)> = self
            .endpoints
            .iter()
            .filter(|e| !e.is_ws())
            .filter_map(|e| match_template(&e.path, path).map(|(lit, p)| (lit, e, p)))
            .collect();
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        found.into_iter().map(|(_, e, p)| (e, p)).collect()
    }

    /// The invented entry matching `method path`, if any (the most specific one).
    pub fn match_invented(&self, method: &str, path: &str) -> Option<(&Invented, Params)> {
        self.invented
            .iter()
            .filter(|i| i.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method)))
            .filter_map(|i| i.path.as_deref().and_then(|t| match_template(t, path)).map(|(lit, p)| (lit, i, p)))
            .max_by_key(|(lit, i, _)| (*lit, i.method.is_some()))
            .map(|(_, i, p)| (i, p))
    }

    /// The invented or real endpoint an SDK operation name means.
    pub fn match_sdk(&self, name: &str) -> SdkMatch<'_> {
        let same = |known: &str| {
            known.eq_ignore_ascii_case(name)
                || known.rsplit('.').next().is_some_and(|short| short.eq_ignore_ascii_case(name))
                || name.rsplit('.').next().is_some_and(|short| short.eq_ignore_ascii_case(known))
        };
        if let Some(i) = self.invented.iter().find(|i| i.sdk.iter().any(|s| same(s))) {
            return SdkMatch::Invented(i);
        }
        if let Some(e) = self.endpoints.iter().find(|e| e.sdk.iter().any(|s| same(s))) {
            return SdkMatch::Real(e);
        }
        SdkMatch::None
    }

    /// The guest WebSocket action schema for `action`.
    pub fn ws_action(&self, action: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.is_ws() && e.path == action)
    }

    /// Real endpoints that look like `path` (shared literal segments), best first: for unknown paths.
    pub fn nearest(&self, path: &str, n: usize) -> Vec<&Endpoint> {
        let segs: Vec<&str> = segments(path);
        let mut scored: Vec<(usize, &Endpoint)> = self
            .endpoints
            .iter()
            .filter(|e| !e.is_ws() && e.deprecated.is_none())
            .map(|e| {
                let t = segments(&e.path);
                let shared = t.iter().filter(|s| !s.starts_with('{') && segs.contains(s)).count();
                let prefix = t.iter().zip(segs.iter()).take_while(|(a, b)| a == b || a.starts_with('{')).count();
                (shared + prefix, e)
            })
            .filter(|(s, _)| *s > 2)
            .collect();
        scored.sort_by_key(|s| std::cmp::Reverse(s.0));
        scored.into_iter().take(n).map(|(_, e)| e).collect()
    }
}

/// What an SDK operation name stands for.
#[derive(Debug)]
pub enum SdkMatch<'a> {
    /// An invented operation.
    Invented(&'a Invented),
    /// A real operation of this endpoint.
    Real(&'a Endpoint),
    /// Unknown.
    None,
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// Matches a concrete path against a template: `{x}` binds one segment, a final `**` any rest. Returns the number
/// of literal segments matched (specificity) and the bound parameters. Literal segments compare case-insensitively.
pub fn match_template(template: &str, path: &str) -> Option<(usize, Params)> {
    let t = segments(template);
    let p = segments(path);
    let mut params = Params::new();
    let mut literal = 0;
    for (i, ts) in t.iter().enumerate() {
        if *ts == "**" {
            return (i < p.len()).then_some((literal, params));
        }
        let ps = p.get(i)?;
        if let Some(name) = ts.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            params.insert(name.to_string(), (*ps).to_string());
        } else if ts.eq_ignore_ascii_case(ps) {
            literal += 1;
        } else {
            return None;
        }
    }
    (t.len() == p.len()).then_some((literal, params))
}

/// Fills `{param}` segments of a template from `params`; unknown ones stay as placeholders.
pub fn fill_template(template: &str, params: &Params) -> String {
    let mut out = String::new();
    for seg in segments(template) {
        out.push('/');
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')).and_then(|n| params.get(n)) {
            Some(v) => out.push_str(v),
            None => out.push_str(seg),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_parses_and_refs_resolve() {
        let cat = catalog();
        assert!(cat.is_ok(), "{cat:?}");
    }

    #[test]
    fn literal_segments_beat_parameters() {
        let Ok(cat) = catalog() else { panic!("catalog") };
        let m = cat.match_path("/api/v2/conversations/messages/agentless");
        assert_eq!(m.first().map(|(e, _)| e.id.as_str()), Some("messaging.agentless"));
    }

    #[test]
    fn templates_bind_parameters() {
        let (lit, p) = match_template("/a/{x}/b", "/a/42/b").unwrap_or_default();
        assert_eq!(lit, 2);
        assert_eq!(p.get("x").map(String::as_str), Some("42"));
        assert!(match_template("/a/**", "/a").is_none());
        assert!(match_template("/a/**", "/a/b/c").is_some());
        assert_eq!(fill_template("/a/{x}/{y}", &p), "/a/42/{y}");
    }
}
