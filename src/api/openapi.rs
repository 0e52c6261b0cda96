//! `GET /v1/openapi.json`: the OpenAPI 3 document of this API, generated from the handlers and types.

use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "herald", description = "Bridge service for Genesys Cloud integrations: durable notifications into web messaging, web chat and Teams.\n\n\
Every endpoint but `/healthz` may answer `503` with `Retry-After` and a problem document: `overloaded` (more than \
`[service] max_concurrent_requests` requests in progress; shed at once) or `request-timeout` (slower than \
`request_timeout_secs`; what the request made durable stands, repeat it with the same `Idempotency-Key`). A known path \
with another method answers `405`, an unknown path `404`, both as problem documents. Listings answer at most `limit` \
items (1 to 1000) and give the next page's cursor in `X-Next-Cursor` and `Link: <…>; rel=\"next\"`."),
    paths(
        super::notifications::create, super::notifications::get, super::notifications::list,
        super::sessions::list, super::sessions::get,
        super::events::post_event,
        super::doctor::doctor,
        super::health::healthz, super::health::metrics,
    ),
    components(schemas(
        super::notifications::NotificationRequest, super::notifications::NotificationView, super::notifications::Accepted,
        super::problem::Problem, super::problem::FieldError, super::health::HealthReport, super::health::IntegrationHealth,
        crate::service::supervisor::TaskReport, crate::service::supervisor::TaskState,
        super::events::EventRequest, super::events::EventProcessed,
        herald_core::Target, herald_core::Content, herald_core::ClosedPolicy, herald_core::NotificationStatus,
        herald_core::Receipt, herald_core::StatusChange,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// The operator endpoints of Teams integrations (present when herald is built with the `teams` feature).
#[cfg(feature = "teams")]
#[derive(OpenApi)]
#[openapi(
    paths(super::teams_links::link, super::teams_links::unlink),
    components(schemas(super::teams_links::LinkRequest, super::teams_links::LinkView)),
    modifiers(&BearerAuth)
)]
pub struct TeamsDoc;

/// The whole document: the API, plus the Teams operator endpoints when built in.
pub fn document() -> utoipa::openapi::OpenApi {
    #[allow(unused_mut)]
    let mut doc = ApiDoc::openapi();
    #[cfg(feature = "teams")]
    doc.merge(TeamsDoc::openapi());
    doc
}

/// Serve the document.
pub async fn openapi_json() -> Response {
    Json(document()).into_response()
}
