//! Inbound HTTP for ABI 2 plugins: the routes an instance declared, mounted on herald's server.
//!
//! herald's server owns the socket; each request is read under a body limit ([`PluginOptions::inbound_max_body`],
//! the service's `max_body_bytes`), marshalled to the plugin as JSON ([`HttpRequest`]) and answered from the
//! plugin's [`HttpResponse`] within [`PluginOptions::inbound_timeout`]. A plugin that is slow, broken or panics
//! costs that one request a 5xx, nothing else.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use herald_core::{ChannelError, HttpInbound};

use super::channel::{Instance, OnTimeout};
use super::PluginOptions;
use crate::wire::{HttpRequest, HttpResponse, WireRoute};

/// Path prefixes herald keeps for itself.
const RESERVED: [&str; 4] = ["/v1", "/healthz", "/metrics", "/emulator"];

/// Why a declared route cannot be mounted (reported as a config problem of the integration).
pub(crate) fn check_route(route: &WireRoute) -> Result<(), String> {
    let path = &route.path;
    if !path.starts_with('/') || path.contains(['{', '}', '*', '?', '#']) || path.contains("//") {
        return Err(format!(
            "route `{} {path}`: a path must be absolute and literal (no `{{capture}}`, `*`, `?` or `#`)",
            route.method
        ));
    }
    if let Some(p) = RESERVED.iter().find(|p| path == *p || path.starts_with(&format!("{p}/"))) {
        return Err(format!("route `{} {path}`: `{p}` belongs to herald; choose another path", route.method));
    }
    filter(&route.method)
        .map(|_| ())
        .ok_or_else(|| format!("route `{} {path}`: the method must be GET, POST, PUT, PATCH or DELETE", route.method))
}

fn filter(method: &str) -> Option<MethodFilter> {
    Some(match method {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "PATCH" => MethodFilter::PATCH,
        "DELETE" => MethodFilter::DELETE,
        _ => return None,
    })
}

/// An instance's routes, as `herald_core::HttpInbound`.
pub(crate) struct InboundRoutes {
    instance: Arc<Instance>,
    routes: Vec<WireRoute>,
    options: PluginOptions,
}

impl InboundRoutes {
    pub(crate) fn new(instance: Arc<Instance>, routes: Vec<WireRoute>, options: PluginOptions) -> Self {
        InboundRoutes { instance, routes, options }
    }

    pub(crate) fn routes(&self) -> &[WireRoute] {
        &self.routes
    }
}

impl HttpInbound for InboundRoutes {
    fn routes(&self) -> Router {
        let mut router = Router::new();
        for route in &self.routes {
            let Some(method) = filter(&route.method) else { continue };
            let (instance, options) = (self.instance.clone(), self.options);
            router = router.route(
                &route.path,
                on(method, move |req: Request| async move { handle(&instance, options, req).await }),
            );
        }
        router
    }
}

async fn handle(instance: &Instance, options: PluginOptions, req: Request) -> Response {
    let Some(v2) = instance.library.api.v2 else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, options.inbound_max_body).await {
        Ok(b) => b,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {} bytes", options.inbound_max_body),
            )
                .into_response()
        }
    };
    let request = HttpRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string())))
            .collect(),
        body: body.to_vec(),
    };
    let Ok(payload) = serde_json::to_vec(&request) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let answer: Result<HttpResponse, ChannelError> =
        instance.call("http", v2.http, &payload, options.inbound_timeout, OnTimeout::Transient).await;
    match answer {
        Ok(r) => respond(r, &parts.method),
        Err(e) => {
            tracing::warn!(
                plugin = %instance.context.plugin, integration = %instance.context.integration,
                path = %request.path, error = %e, "A plugin's inbound route failed."
            );
            let status = match e {
                ChannelError::Transient { .. } => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            };
            (status, "the integration could not handle this request").into_response()
        }
    }
}

fn respond(r: HttpResponse, method: &Method) -> Response {
    let Ok(status) = StatusCode::from_u16(r.status) else {
        return (StatusCode::BAD_GATEWAY, "the integration answered an invalid status").into_response();
    };
    let body = if method == Method::HEAD { Body::empty() } else { Body::from(r.body) };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    for (k, v) in r.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            response.headers_mut().append(k, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_literal_and_stay_out_of_herald_paths() {
        assert!(check_route(&WireRoute::post("/open-messaging/om/webhook")).is_ok());
        for bad in ["/v1/notifications", "/healthz", "/metrics", "relative", "/a/{id}", "/a/*rest", "/a?x"] {
            assert!(check_route(&WireRoute::post(bad)).is_err(), "{bad}");
        }
        assert!(check_route(&WireRoute { method: "TRACE".into(), path: "/x".into() }).is_err());
        assert!(check_route(&WireRoute::post("/v1x")).is_ok());
    }
}
