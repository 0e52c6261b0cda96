//! Builds the corrected request: the real endpoint's path with the ids that are known filled in, and a body that
//! keeps what the caller sent where it is valid, moves renamed fields, drops invented ones and puts `{placeholders}`
//! where a required value cannot be known.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::catalog::{fill_template, Catalog, Endpoint, Params, Schema, Ty};
use super::check::{get_path, present};
use super::report::CorrectedRequest;

/// What to carry over from the original request.
#[derive(Debug, Default)]
pub struct Carry<'a> {
    /// Field moves (original dotted path → real dotted path), applied before anything else.
    pub maps: Vec<(String, String)>,
    /// Values the real body always has.
    pub set: Option<&'a BTreeMap<String, Value>>,
    /// Path parameters already known.
    pub params: Params,
}

/// The corrected request for `target`, built from the original body.
pub fn corrected(cat: &Catalog, target: &Endpoint, original: Option<&Value>, carry: &Carry<'_>) -> CorrectedRequest {
    let mut placeholders = BTreeMap::new();
    let body = target.body.as_ref().map(|schema| {
        let schema = cat.resolve(schema);
        let mut body = match schema.ty {
            Some(Ty::Array) => array_body(cat, schema, original),
            _ => Value::Object(object_body(cat, target, schema, original, carry)),
        };
        fill_required(cat, schema, &mut body, "", &mut placeholders);
        body
    });
    let (method, path) = if target.is_ws() {
        let mut params = carry.params.clone();
        params.entry("deploymentId".into()).or_insert_with(|| "{deploymentId}".into());
        let dep = params.get("deploymentId").cloned().unwrap_or_default();
        if dep.starts_with('{') {
            let how = cat.placeholder_docs.get("deploymentId").cloned().unwrap_or_else(|| "the deployment id".into());
            placeholders.insert("deploymentId".into(), how);
        }
        ("WS".to_string(), format!("wss://webmessaging.<domain>/v1?deploymentId={dep}"))
    } else {
        let path = fill_template(&target.path, &carry.params);
        for seg in path.split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let how = target
                    .params
                    .get(name)
                    .or_else(|| cat.placeholder_docs.get(name))
                    .cloned()
                    .unwrap_or_else(|| format!("the {name}"));
                placeholders.insert(name.to_string(), how);
            }
        }
        (target.method.clone(), path)
    };
    CorrectedRequest { method, path, body, placeholders }
}

/// A bare array body (topic lists): strings become `{id}` objects, a wrapping object is unwrapped.
fn array_body(cat: &Catalog, schema: &Schema, original: Option<&Value>) -> Value {
    let items: Vec<Value> = match original {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Object(o)) => o.values().find_map(|v| v.as_array().cloned()).unwrap_or_default(),
        _ => Vec::new(),
    };
    let item_schema = schema.items.as_deref().map(|s| cat.resolve(s));
    let out: Vec<Value> = items
        .into_iter()
        .map(|it| match (it, item_schema) {
            (Value::String(s), Some(is)) if is.ty == Some(Ty::Object) => serde_json::json!({ "id": s }),
            (Value::Object(o), Some(is)) => Value::Object(keep_known(cat, is, &o)),
            (other, _) => other,
        })
        .collect();
    Value::Array(out)
}

fn object_body(
    cat: &Catalog,
    target: &Endpoint,
    schema: &Schema,
    original: Option<&Value>,
    carry: &Carry<'_>,
) -> Map<String, Value> {
    let mut out = Value::Object(Map::new());
    if target.is_ws() {
        set_path(&mut out, "action", Value::String(target.path.clone()));
    }
    if let Some(orig) = original {
        let hint_moves = target.hints.iter().filter_map(|(from, h)| h.rename_to.clone().map(|to| (from.clone(), to)));
        for (from, to) in carry.maps.iter().cloned().chain(hint_moves) {
            if let Some(v) = get_path(orig, &from) {
                if !present(&out, &to) && valid_leaf(cat, schema, &to, v) {
                    set_path(&mut out, &to, v.clone());
                }
            }
        }
        if let Some(map) = orig.as_object() {
            for (k, f) in &schema.fields {
                if out.get(k).is_some() {
                    continue;
                }
                if let Some(v) = map.get(k).and_then(|v| clean(cat, f, v)) {
                    set_path(&mut out, k, v);
                }
            }
        }
    }
    if let Some(set) = carry.set {
        for (k, v) in set {
            set_path(&mut out, k, v.clone());
        }
    }
    for rule in &target.rules {
        if !rule.exactly_one.is_empty() {
            let given: Vec<&String> = rule.exactly_one.iter().filter(|p| present(&out, p)).collect();
            if given.is_empty() {
                let first = &rule.exactly_one[0];
                set_path(&mut out, first, placeholder_for(cat, schema, first));
            }
            for extra in given.iter().skip(1) {
                remove_path(&mut out, extra);
            }
        }
        if !rule.at_least_one.is_empty() && !rule.at_least_one.iter().any(|p| present(&out, p)) {
            let first = &rule.at_least_one[0];
            set_path(&mut out, first, placeholder_for(cat, schema, first));
        }
        if let Some(when) = &rule.when {
            if get_path(&out, &when.field).and_then(Value::as_str) == Some(when.equals.as_str()) {
                for p in &rule.require {
                    if !present(&out, p) {
                        set_path(&mut out, p, placeholder_for(cat, schema, p));
                    }
                }
                for p in &rule.forbid {
                    remove_path(&mut out, p);
                }
                for (p, max) in &rule.max {
                    let cut = get_path(&out, p)
                        .and_then(Value::as_str)
                        .filter(|t| t.chars().count() as u64 > *max)
                        .map(|t| t.chars().take(*max as usize).collect::<String>());
                    if let Some(cut) = cut {
                        set_path(&mut out, p, Value::String(cut));
                    }
                }
            }
        }
    }
    match out {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The schema of a dotted path inside `schema`.
fn schema_at<'a>(cat: &'a Catalog, schema: &'a Schema, path: &str) -> Option<&'a Schema> {
    path.split('.').try_fold(cat.resolve(schema), |s, key| s.fields.get(key).map(|f| cat.resolve(f)))
}

fn valid_leaf(cat: &Catalog, schema: &Schema, path: &str, v: &Value) -> bool {
    schema_at(cat, schema, path).is_some_and(|s| clean(cat, s, v).is_some())
}

/// The value of `v` that the schema accepts: unknown object fields dropped; `None` when the type or enum is wrong.
fn clean(cat: &Catalog, schema: &Schema, v: &Value) -> Option<Value> {
    let s = cat.resolve(schema);
    let ty = s.ty.unwrap_or(Ty::Any);
    if !ty.matches(v) || v.is_null() {
        return None;
    }
    match v {
        Value::String(t) if !s.allowed.is_empty() && !s.allowed.contains(t) => None,
        Value::String(t) if t.is_empty() && s.min.is_some_and(|m| m > 0) => None,
        Value::String(t) if s.contains.as_ref().is_some_and(|c| !t.contains(c.as_str())) => None,
        Value::Object(o) if s.values.is_none() && !s.additional => Some(Value::Object(keep_known(cat, s, o))),
        Value::Array(a) => {
            let items = s.items.as_deref();
            let max = s.max.map_or(usize::MAX, |m| m as usize);
            Some(Value::Array(
                a.iter().filter_map(|x| items.map_or(Some(x.clone()), |is| clean(cat, is, x))).take(max).collect(),
            ))
        }
        other => Some(other.clone()),
    }
}

fn keep_known(cat: &Catalog, s: &Schema, o: &Map<String, Value>) -> Map<String, Value> {
    o.iter().filter_map(|(k, x)| s.fields.get(k).and_then(|f| clean(cat, f, x)).map(|x| (k.clone(), x))).collect()
}

fn placeholder_for(cat: &Catalog, schema: &Schema, path: &str) -> Value {
    let name = path.rsplit('.').next().unwrap_or(path);
    let at = schema_at(cat, schema, path);
    at.and_then(|s| s.placeholder.clone()).unwrap_or_else(|| match at.and_then(|s| s.ty) {
        Some(Ty::Object) => Value::Object(Map::new()),
        Some(Ty::Array) => Value::Array(Vec::new()),
        _ => Value::String(format!("{{{name}}}")),
    })
}

/// Adds placeholders for required fields still missing and records every `{placeholder}` string with its meaning.
fn fill_required(cat: &Catalog, schema: &Schema, v: &mut Value, path: &str, found: &mut BTreeMap<String, String>) {
    let s = cat.resolve(schema);
    match v {
        Value::Object(map) if s.values.is_none() => {
            for (k, f) in &s.fields {
                let f = cat.resolve(f);
                if f.required && map.get(k).is_none_or(Value::is_null) {
                    let value = f.placeholder.clone().unwrap_or_else(|| match f.ty {
                        Some(Ty::Object) => Value::Object(Map::new()),
                        Some(Ty::Array) => Value::Array(Vec::new()),
                        _ => Value::String(format!("{{{k}}}")),
                    });
                    map.insert(k.clone(), value);
                }
            }
            for (k, x) in map.iter_mut() {
                if let Some(f) = s.fields.get(k) {
                    let at = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    fill_required(cat, f, x, &at, found);
                }
            }
        }
        Value::Array(items) => {
            if let Some(is) = s.items.as_deref() {
                for (i, x) in items.iter_mut().enumerate() {
                    fill_required(cat, is, x, &format!("{path}[{i}]"), found);
                }
            }
        }
        Value::String(t) => {
            if let Some(max) = s.max.map(|m| m as usize).filter(|m| t.chars().count() > *m) {
                *t = t.chars().take(max).collect();
            }
            if let Some(name) = t.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
                if !name.is_empty() && !name.contains(['{', '}', ' ']) {
                    let how = cat
                        .placeholder_docs
                        .get(name)
                        .or(s.note.as_ref())
                        .cloned()
                        .unwrap_or_else(|| format!("the value of {path}"));
                    found.entry(name.to_string()).or_insert(how);
                }
            }
        }
        _ => {}
    }
}

/// Sets a dotted path, creating objects on the way.
pub fn set_path(root: &mut Value, path: &str, value: Value) {
    let mut cur = root;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Some(map) = cur.as_object_mut() else {
            return;
        };
        if keys.peek().is_none() {
            map.insert(key.to_string(), value);
            return;
        }
        cur = map.entry(key.to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
}

fn remove_path(root: &mut Value, path: &str) {
    let (parent, last) = match path.rsplit_once('.') {
        Some((p, l)) => (p.split('.').try_fold(&mut *root, |cur, k| cur.get_mut(k)), l),
        None => (Some(root), path),
    };
    if let Some(Value::Object(m)) = parent {
        m.remove(last);
    }
}
