//! The coordinator's console: one page and its script and stylesheet, embedded in the binary so
//! `amends run` needs nothing beside it. The page talks to the admin API only.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::AppState;

const INDEX: &str = include_str!("assets/index.html");

/// Every file under `/assets/`: its name and text (scripts are ES modules importing each other
/// by these names).
const ASSETS: &[(&str, &str)] = &[
    ("activity.js", include_str!("assets/activity.js")),
    ("api.js", include_str!("assets/api.js")),
    ("app.css", include_str!("assets/app.css")),
    ("app.js", include_str!("assets/app.js")),
    ("compensation.js", include_str!("assets/compensation.js")),
    ("dead-letters.js", include_str!("assets/dead-letters.js")),
    ("diagnostics.js", include_str!("assets/diagnostics.js")),
    ("dom.js", include_str!("assets/dom.js")),
    ("editor.js", include_str!("assets/editor.js")),
    ("escalations.js", include_str!("assets/escalations.js")),
    ("format.js", include_str!("assets/format.js")),
    ("history.js", include_str!("assets/history.js")),
    ("incident.js", include_str!("assets/incident.js")),
    ("page.js", include_str!("assets/page.js")),
    ("preview.js", include_str!("assets/preview.js")),
    ("router.js", include_str!("assets/router.js")),
    ("send-test.js", include_str!("assets/send-test.js")),
    ("session.js", include_str!("assets/session.js")),
    ("state.js", include_str!("assets/state.js")),
    ("templates.js", include_str!("assets/templates.js")),
    ("toast.js", include_str!("assets/toast.js")),
];

/// What the console's pages may load: only themselves. Email previews are shown in a sandboxed
/// frame, and their inline styles are allowed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; frame-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const OFF: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>amends</title>\
    <body style=\"font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em\">\
    <h1>The console is off</h1><p>amends is running. To edit templates and see what was sent, \
    set <code>AMENDS_ADMIN_TOKEN</code> and restart it.</p></body></html>";

/// Routes of the console.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
}

async fn index(State(state): State<AppState>) -> Response {
    let (status, page) = match state.admin {
        Some(_) => (StatusCode::OK, INDEX),
        None => (StatusCode::NOT_FOUND, OFF),
    };
    (status, Html(page)).into_response()
}

async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, body)) = ASSETS.iter().find(|(n, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let content_type = if name.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        "text/javascript; charset=utf-8"
    };
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        *body,
    )
        .into_response()
}
