//! Response Management (canned responses) and the rendering of `{{ID}}` substitutions.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api_error::{ApiError, ApiResult};
use crate::config::ResponseConfig;
use crate::http::json::ApiJson;
use crate::oauth::Authed;
use crate::state::AppState;

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/responsemanagement/responses", get(list))
        .route("/api/v2/responsemanagement/responses/query", post(query))
        .route("/api/v2/responsemanagement/responses/{id}", get(one))
        .route("/api/v2/responsemanagement/libraries", get(libraries))
}

/// `Response` JSON.
pub fn response_json(r: &ResponseConfig) -> Value {
    let mut v = json!({
        "id": r.id,
        "name": r.name,
        "version": 1,
        "libraries": [{"id": r.library_id, "name": r.library_name, "selfUri": format!("/api/v2/responsemanagement/libraries/{}", r.library_id)}],
        "texts": r.texts.iter().map(|t| json!({"content": t.content, "contentType": t.content_type, "type": t.r#type})).collect::<Vec<_>>(),
        "interactionType": r.interaction_type,
        "substitutions": r.substitutions.iter().map(|s| {
            let mut o = json!({"id": s.id, "description": s.description});
            if let Some(d) = &s.default_value { o["defaultValue"] = json!(d); }
            o
        }).collect::<Vec<_>>(),
        "assets": [],
        "selfUri": format!("/api/v2/responsemanagement/responses/{}", r.id),
    });
    if let Some(t) = &r.response_type {
        v["responseType"] = json!(t);
    }
    v
}

async fn one(State(s): State<AppState>, _a: Authed, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let r = s.config.responses.iter().find(|r| r.id == id);
    r.map(|r| Json(response_json(r))).ok_or_else(|| ApiError::not_found("Response"))
}

/// `?libraryId=&pageSize=&pageNumber=`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    library_id: Option<String>,
    page_size: Option<usize>,
    page_number: Option<usize>,
}

fn page(items: Vec<Value>, size: usize, number: usize) -> Value {
    let total = items.len();
    let entities: Vec<Value> = items.into_iter().skip((number - 1) * size).take(size).collect();
    json!({"entities": entities, "pageSize": size, "pageNumber": number, "total": total, "pageCount": total.div_ceil(size)})
}

async fn list(State(s): State<AppState>, _a: Authed, Query(q): Query<ListQuery>) -> ApiResult<Json<Value>> {
    let lib = q
        .library_id
        .ok_or_else(|| ApiError::field("invalid.query.param.value", "libraryId", "libraryId is required"))?;
    let items: Vec<Value> = s.config.responses.iter().filter(|r| r.library_id == lib).map(response_json).collect();
    Ok(Json(page(items, q.page_size.unwrap_or(25).clamp(1, 500), q.page_number.unwrap_or(1).max(1))))
}

async fn libraries(State(s): State<AppState>, _a: Authed) -> Json<Value> {
    let mut libs: Vec<(String, String)> =
        s.config.responses.iter().map(|r| (r.library_id.clone(), r.library_name.clone())).collect();
    libs.sort();
    libs.dedup();
    let items = libs.into_iter().map(|(id, name)| json!({"id": id, "name": name, "version": 1})).collect();
    Json(page(items, 100, 1))
}

async fn query(State(s): State<AppState>, _a: Authed, ApiJson(body): ApiJson<Value>) -> ApiResult<Json<Value>> {
    let size = body.get("pageSize").and_then(Value::as_u64).unwrap_or(25) as usize;
    if size > 500 {
        return Err(ApiError::field("invalid.value", "pageSize", "pageSize must be at most 500"));
    }
    let phrase = body.get("queryPhrase").and_then(Value::as_str).unwrap_or_default().to_lowercase();
    let libs: Vec<String> = body
        .get("filters")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter(|x| x.get("name").and_then(Value::as_str) == Some("libraryId"))
                .flat_map(|x| {
                    let mut v: Vec<String> = x
                        .get("values")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                        .unwrap_or_default();
                    v.extend(x.get("value").and_then(Value::as_str).map(str::to_string));
                    v
                })
                .collect()
        })
        .unwrap_or_default();
    let results: Vec<Value> = s
        .config
        .responses
        .iter()
        .filter(|r| libs.is_empty() || libs.contains(&r.library_id))
        .filter(|r| {
            phrase.is_empty()
                || r.name.to_lowercase().contains(&phrase)
                || r.texts.iter().any(|t| t.content.to_lowercase().contains(&phrase))
        })
        .map(response_json)
        .collect();
    let total = results.len();
    let entities: Vec<Value> = results.into_iter().take(size.max(1)).collect();
    Ok(Json(
        json!({"results": {"entities": entities, "pageSize": size.max(1), "pageNumber": 1, "total": total, "pageCount": total.div_ceil(size.max(1))}}),
    ))
}

/// Replaces `{{ID}}` placeholders: explicit values first, then built-ins, then defaults.
pub fn substitute(content: &str, values: &[(String, String)], defaults: &[(String, Option<String>)]) -> String {
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let key = after[..end].trim();
        let value = values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .or_else(|| defaults.iter().find(|(k, _)| k == key).and_then(|(_, d)| d.clone()))
            .unwrap_or_default();
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Strips HTML tags and decodes the common entities (for `text/html` responses).
pub fn strip_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for ch in s.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Renders `messagingTemplate{responseId, bodyParameters}` into the text to deliver.
pub fn render_template(
    state: &AppState,
    template: &Value,
    agent: Option<(&str, &str)>,
    customer_name: Option<&str>,
) -> ApiResult<String> {
    let id = template.get("responseId").and_then(Value::as_str).ok_or_else(|| {
        ApiError::field(
            "constraint.validation",
            "messagingTemplate.responseId",
            "messagingTemplate.responseId is required",
        )
    })?;
    let r = state.config.responses.iter().find(|r| r.id == id).ok_or_else(|| {
        ApiError::field("invalid.value", "messagingTemplate.responseId", format!("Response {id} does not exist"))
    })?;
    if r.response_type.as_deref() != Some("MessagingTemplate")
        && !state.config.behaviour.template_accepts_plain_responses
    {
        return Err(ApiError::field(
            "invalid.value",
            "messagingTemplate.responseId",
            "The response is not a messaging template",
        ));
    }
    let text =
        r.texts.iter().find(|t| t.r#type == "body").or(r.texts.first()).ok_or_else(|| {
            ApiError::field("invalid.value", "messagingTemplate.responseId", "The response has no text")
        })?;
    let mut values: Vec<(String, String)> = Vec::new();
    for key in ["bodyParameters", "parameters"] {
        if let Some(arr) = template.get(key).and_then(Value::as_array) {
            for p in arr {
                let k = p.get("id").or_else(|| p.get("name")).and_then(Value::as_str);
                let v = p.get("value").and_then(Value::as_str);
                if let (Some(k), Some(v)) = (k, v) {
                    values.push((k.to_string(), v.to_string()));
                }
            }
        }
    }
    if let Some((alias, name)) = agent {
        values.push(("AGENT_ALIAS".into(), alias.to_string()));
        values.push(("AGENT_NAME".into(), name.to_string()));
    }
    if let Some(c) = customer_name {
        values.push(("CUSTOMER_NAME".into(), c.to_string()));
    }
    let defaults: Vec<(String, Option<String>)> =
        r.substitutions.iter().map(|s| (s.id.clone(), s.default_value.clone())).collect();
    let rendered = substitute(&text.content, &values, &defaults);
    Ok(if text.content_type == "text/html" { strip_html(&rendered) } else { rendered })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_values_then_defaults() {
        let out = substitute(
            "Hi {{name}}, order {{ order }} {{missing}}!",
            &[("name".into(), "Ann".into())],
            &[("order".into(), Some("#1".into()))],
        );
        assert_eq!(out, "Hi Ann, order #1 !");
    }

    #[test]
    fn strips_html() {
        assert_eq!(strip_html("<p>a &amp; <b>b</b></p>"), "a & b");
    }
}
