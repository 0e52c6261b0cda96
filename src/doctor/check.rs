//! The generic checker: walks a JSON body against an endpoint's schema and reports every field that is unknown,
//! missing, of the wrong type, out of its enum or over its limit, plus the endpoint's cross-field rules.
//!
//! It knows no endpoint by name; everything comes from the [`catalog`](super::catalog).

use std::collections::BTreeMap;

use serde_json::Value;

use super::catalog::{type_of, Catalog, Endpoint, Hint, Rule, Schema, Ty};
use super::report::{Code, Finding, Severity};

/// Dotted path lookup (`a.b`); array indices are not addressed by rules.
pub fn get_path<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    if path.is_empty() {
        return Some(v);
    }
    path.split('.').try_fold(v, |cur, key| cur.get(key)).filter(|x| !x.is_null())
}

/// Whether a field counts as given (present, not null, not an empty array).
pub fn present(v: &Value, path: &str) -> bool {
    match get_path(v, path) {
        None => false,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn err(code: Code, path: impl Into<String>, message: impl Into<String>, fix: Option<String>) -> Finding {
    Finding { code, severity: Severity::Error, path: path.into(), message: message.into(), fix }
}

/// Checks bodies against one endpoint.
pub struct Checker<'a> {
    cat: &'a Catalog,
    ep: &'a Endpoint,
    /// Extra renames (invented body path → real path) from an invented-endpoint entry.
    renames: &'a BTreeMap<String, String>,
    findings: Vec<Finding>,
}

impl<'a> Checker<'a> {
    /// A checker for `ep`; `renames` explain fields of an invented body that move to the real one.
    pub fn new(cat: &'a Catalog, ep: &'a Endpoint, renames: &'a BTreeMap<String, String>) -> Self {
        Checker { cat, ep, renames, findings: Vec::new() }
    }

    /// Every finding for `body` (none = no body sent).
    pub fn check(mut self, body: Option<&Value>) -> Vec<Finding> {
        let body = body.filter(|b| !b.is_null());
        match (&self.ep.body, body) {
            (None, Some(b)) if b.as_object().is_none_or(|o| !o.is_empty()) => self.findings.push(Finding {
                code: Code::BodyNotAllowed,
                severity: Severity::Warning,
                path: String::new(),
                message: format!("{} takes no body; it is ignored", self.ep.display()),
                fix: Some("send the request without a body".into()),
            }),
            (None, _) => {}
            (Some(schema), None) => {
                if self.cat.resolve(schema).required {
                    let what = self.ep.body_name.clone().unwrap_or_else(|| "a JSON body".into());
                    self.findings.push(err(
                        Code::BodyRequired,
                        "",
                        format!("{} needs {what}", self.ep.display()),
                        None,
                    ));
                }
            }
            (Some(schema), Some(b)) => {
                self.walk(schema, b, "");
                for rule in &self.ep.rules {
                    self.rule(rule, b);
                }
            }
        }
        dedup(self.findings)
    }

    fn walk(&mut self, schema: &Schema, v: &Value, path: &str) {
        let s = self.cat.resolve(schema);
        if let Some(d) = &s.deprecated {
            if !path.is_empty() {
                self.findings.push(Finding {
                    code: Code::DeprecatedField,
                    severity: Severity::Warning,
                    path: path.to_string(),
                    message: d.clone(),
                    fix: None,
                });
            }
        }
        let ty = s.ty.unwrap_or(Ty::Any);
        if !ty.matches(v) {
            let mut message = format!("expected {}, got {}", ty.name(), type_of(v));
            if let Some(h) = &s.type_hint {
                message = format!("{message}: {h}");
            }
            self.findings.push(err(Code::WrongType, path, message, s.note.clone()));
            return;
        }
        match ty {
            Ty::String => self.string(s, v.as_str().unwrap_or_default(), path),
            Ty::Integer | Ty::Number => self.number(s, v, path),
            Ty::Array => self.array(s, v.as_array().map(Vec::as_slice).unwrap_or_default(), path),
            Ty::Object => self.object(s, v, path),
            Ty::Boolean | Ty::Any => {}
        }
    }

    fn string(&mut self, s: &Schema, text: &str, path: &str) {
        let n = text.chars().count() as u64;
        if let Some(min) = s.min {
            if n < min {
                let msg = if n == 0 { "is empty".to_string() } else { format!("is {n} characters, under {min}") };
                self.findings.push(err(Code::TooShort, path, msg, s.note.clone()));
            }
        }
        if let Some(max) = s.max {
            if n > max {
                self.findings.push(err(
                    Code::TooLong,
                    path,
                    format!("is {n} characters, over the limit of {max}"),
                    Some(format!("shorten it to at most {max} characters or split it into several messages")),
                ));
            }
        }
        if !s.allowed.is_empty() && !s.allowed.iter().any(|a| a == text) {
            let hint = s.enum_hints.get(text).cloned().or_else(|| {
                s.allowed
                    .iter()
                    .find(|a| a.eq_ignore_ascii_case(text))
                    .map(|a| format!("values are case-sensitive: \"{a}\""))
            });
            let mut msg = format!("\"{text}\" is not one of {}", quote_list(&s.allowed));
            if let Some(h) = hint {
                msg = format!("{msg}: {h}");
            }
            self.findings.push(err(Code::NotInEnum, path, msg, None));
        }
        if let Some(part) = &s.contains {
            if !text.contains(part.as_str()) {
                self.findings.push(err(Code::BadFormat, path, format!("must contain \"{part}\""), s.note.clone()));
            }
        }
    }

    fn number(&mut self, s: &Schema, v: &Value, path: &str) {
        let x = v.as_f64().unwrap_or_default();
        if let Some(min) = s.min {
            if x < min as f64 {
                self.findings.push(err(Code::TooShort, path, format!("{x} is under the minimum {min}"), None));
            }
        }
        if let Some(max) = s.max {
            if x > max as f64 {
                self.findings.push(err(Code::TooLarge, path, format!("{x} is over the maximum {max}"), None));
            }
        }
    }

    fn array(&mut self, s: &Schema, items: &[Value], path: &str) {
        let n = items.len() as u64;
        if let Some(min) = s.min {
            if n < min {
                self.findings.push(err(Code::TooShort, path, format!("has {n} items, needs at least {min}"), None));
            }
        }
        if let Some(max) = s.max {
            if n > max {
                self.findings.push(err(
                    Code::TooLong,
                    path,
                    format!("has {n} items, over the limit of {max}"),
                    s.note.clone().or_else(|| Some(format!("send at most {max} per request"))),
                ));
            }
        }
        if let Some(item) = &s.items {
            for (i, v) in items.iter().enumerate() {
                self.walk(item, v, &format!("{path}[{i}]"));
            }
        }
    }

    fn object(&mut self, s: &Schema, v: &Value, path: &str) {
        let Some(map) = v.as_object() else {
            return;
        };
        if let Some(values) = &s.values {
            for (k, x) in map {
                self.walk(values, x, &join(path, k));
            }
            return;
        }
        for (k, x) in map {
            let at = join(path, k);
            match s.fields.get(k) {
                Some(f) => self.walk(f, x, &at),
                None if s.additional => {}
                None => self.unknown(s, k, &at),
            }
        }
        for (k, f) in &s.fields {
            let f = self.cat.resolve(f);
            if f.required && map.get(k).is_none_or(Value::is_null) {
                let mut msg = "is required".to_string();
                if let Some(n) = &f.note {
                    msg = format!("{msg}: {n}");
                }
                self.findings.push(err(Code::MissingField, join(path, k), msg, None));
            }
        }
    }

    fn unknown(&mut self, s: &Schema, key: &str, at: &str) {
        let model = self.ep.body_name.clone().unwrap_or_else(|| format!("the {} body", self.ep.id));
        let hint: Option<Hint> = self
            .ep
            .hints
            .get(at)
            .cloned()
            .or_else(|| {
                self.renames.get(at).map(|to| Hint {
                    reason: format!("{model} has no `{key}`"),
                    fix: None,
                    rename_to: Some(to.clone()),
                })
            })
            .or_else(|| self.cat.global_hints.get(key).cloned());
        let (message, fix) = match hint {
            Some(h) => {
                let fix = match (&h.fix, &h.rename_to) {
                    (Some(f), _) => Some(f.clone()),
                    (None, Some(to)) => Some(format!("send it as `{to}`")),
                    (None, None) => None,
                };
                (h.reason, fix)
            }
            None => {
                let known: Vec<String> = s.fields.keys().cloned().collect();
                (
                    format!("{model} has no `{key}`"),
                    Some(if known.is_empty() {
                        "remove it".to_string()
                    } else {
                        format!("remove it; known fields here: {}", known.join(", "))
                    }),
                )
            }
        };
        self.findings.push(err(Code::UnknownField, at, message, fix));
    }

    fn rule(&mut self, rule: &Rule, body: &Value) {
        if !rule.exactly_one.is_empty() {
            let given: Vec<&String> = rule.exactly_one.iter().filter(|p| present(body, p)).collect();
            let names = rule.exactly_one.join(", ");
            match given.as_slice() {
                [] => self.findings.push(err(
                    Code::MissingField,
                    rule.exactly_one[0].clone(),
                    format!("is missing: exactly one of {names} is required"),
                    Some(format!("send {{\"{}\": \"...\"}}", rule.exactly_one[0])),
                )),
                [_] => {}
                [_, rest @ ..] => {
                    for p in rest {
                        self.findings.push(err(
                            Code::ExactlyOne,
                            p.as_str(),
                            format!("only one of {names} may be sent per request"),
                            Some("send each as its own request".into()),
                        ));
                    }
                }
            }
        }
        if !rule.at_least_one.is_empty() && !rule.at_least_one.iter().any(|p| present(body, p)) {
            self.findings.push(err(
                Code::MissingField,
                rule.at_least_one[0].clone(),
                format!("is missing: at least one of {} is required", rule.at_least_one.join(", ")),
                None,
            ));
        }
        let Some(when) = &rule.when else {
            return;
        };
        if get_path(body, &when.field).and_then(Value::as_str) != Some(when.equals.as_str()) {
            return;
        }
        let cond = format!("{} is \"{}\"", when.field, when.equals);
        let why = rule.why.clone();
        for p in &rule.require {
            if !present(body, p) {
                self.findings.push(err(
                    Code::MissingField,
                    p.as_str(),
                    format!("is required when {cond}"),
                    why.clone(),
                ));
            }
        }
        for p in &rule.forbid {
            if present(body, p) {
                self.findings.push(err(
                    Code::ForbiddenField,
                    p.as_str(),
                    format!("is not allowed when {cond}"),
                    why.clone().or_else(|| Some("remove it".into())),
                ));
            }
        }
        for (p, max) in &rule.max {
            if let Some(n) = get_path(body, p).and_then(Value::as_str).map(|t| t.chars().count() as u64) {
                if n > *max {
                    self.findings.push(err(
                        Code::TooLong,
                        p.as_str(),
                        format!("is {n} characters, over the limit of {max} when {cond}"),
                        Some(format!("shorten it to at most {max} characters")),
                    ));
                }
            }
        }
    }
}

fn quote_list(items: &[String]) -> String {
    items.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ")
}

/// Drops repeated (code, path) findings, keeping the first (the most specific message comes first).
fn dedup(findings: Vec<Finding>) -> Vec<Finding> {
    let mut seen = std::collections::BTreeSet::new();
    findings.into_iter().filter(|f| seen.insert((format!("{:?}", f.code), f.path.clone()))).collect()
}
