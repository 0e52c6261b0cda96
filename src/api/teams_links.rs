//! `PUT` / `DELETE /v1/integrations/{integration}/links/{genesys_user_id}`: an operator links a Genesys user to a
//! Teams user (by Entra object id) of a Teams integration, or removes the link.
//!
//! The bot's own `link` command only links a Teams user to the Genesys user who is provably the same person (same
//! mail or UPN) and never replaces someone else's link; where the directories disagree (a shared mailbox, a
//! renamed account) an operator decides through this authenticated API. A link made here replaces any stored link
//! of either side; links in the config still win (see `docs/teams.md`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::body::read_json;
use super::problem::Problem;
use super::AppState;

/// Body of `PUT …/links/{genesys_user_id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The Teams user's Entra (Azure AD) object id.
    pub aad_object_id: String,
}

/// A link as stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkView {
    /// The Genesys Cloud user id.
    pub genesys_user_id: String,
    /// The Teams user's Entra object id (`null` after an unlink that found nothing).
    pub aad_object_id: Option<String>,
}

/// The Teams integration named `name`, or the problem to answer.
fn teams_integration(state: &AppState, name: &str) -> Result<(), Response> {
    match state.routes.get(name) {
        None => Err(Problem::not_found("integration", name).into_response()),
        Some(route) if route.channel.kind() != "teams" => Err(Problem::field(
            StatusCode::BAD_REQUEST,
            "integration",
            format!("`{name}` is a `{}` integration; links belong to a `teams` integration", route.channel.kind()),
        )
        .into_response()),
        Some(_) => Ok(()),
    }
}

fn check_id(field: &str, value: &str) -> Result<(), Response> {
    if value.trim().is_empty() || value.len() > 256 {
        return Err(Problem::field(StatusCode::BAD_REQUEST, field, "must be 1 to 256 characters").into_response());
    }
    Ok(())
}

/// Link a Genesys user to a Teams user (operator decision; replaces any stored link of either).
#[utoipa::path(put, path = "/v1/integrations/{integration}/links/{genesys_user_id}",
    params(("integration" = String, Path, description = "a `teams` integration"),
           ("genesys_user_id" = String, Path, description = "the Genesys Cloud user id")),
    request_body = LinkRequest,
    responses((status = 200, body = LinkView, description = "linked"),
        (status = 400, body = Problem, description = "not a Teams integration, or a bad id (named in `field`)"),
        (status = 415, body = Problem), (status = 422, body = Problem, description = "a bad body, the field named"),
        (status = 401, body = Problem), (status = 404, body = Problem, description = "no such integration")),
    security(("api_key" = [])))]
pub async fn link(
    State(state): State<AppState>,
    Path((integration, genesys_user_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body: LinkRequest = match read_json(&headers, body, state.max_body_bytes).await {
        Ok(b) => b,
        Err(p) => return p.into_response(),
    };
    if let Err(r) = teams_integration(&state, &integration)
        .and_then(|_| check_id("genesys_user_id", &genesys_user_id))
        .and_then(|_| check_id("aad_object_id", &body.aad_object_id))
    {
        return r;
    }
    match herald_teams::references::operator_link(
        state.state.as_ref(),
        &integration,
        &genesys_user_id,
        &body.aad_object_id,
    )
    .await
    {
        Ok(()) => {
            tracing::info!(%integration, %genesys_user_id, "An operator linked a Genesys user to a Teams user.");
            Json(LinkView { genesys_user_id, aad_object_id: Some(body.aad_object_id) }).into_response()
        }
        Err(e) => Problem::store(&e).into_response(),
    }
}

/// Remove the stored link of a Genesys user.
#[utoipa::path(delete, path = "/v1/integrations/{integration}/links/{genesys_user_id}",
    params(("integration" = String, Path, description = "a `teams` integration"),
           ("genesys_user_id" = String, Path, description = "the Genesys Cloud user id")),
    responses((status = 200, body = LinkView, description = "unlinked; `aad_object_id` names the Teams user it was linked to"),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 404, body = Problem, description = "no such integration, or no stored link of that user")),
    security(("api_key" = [])))]
pub async fn unlink(
    State(state): State<AppState>,
    Path((integration, genesys_user_id)): Path<(String, String)>,
) -> Response {
    if let Err(r) = teams_integration(&state, &integration) {
        return r;
    }
    match herald_teams::references::operator_unlink(state.state.as_ref(), &integration, &genesys_user_id).await {
        Ok(Some(aad)) => {
            tracing::info!(%integration, %genesys_user_id, "An operator removed a Genesys user's Teams link.");
            Json(LinkView { genesys_user_id, aad_object_id: Some(aad) }).into_response()
        }
        Ok(None) => Problem::not_found("stored link of Genesys user", &genesys_user_id).into_response(),
        Err(e) => Problem::store(&e).into_response(),
    }
}
