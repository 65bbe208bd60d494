//! The admin API under `/api/`: sign-in, template texts, activity, compensation, escalations,
//! dead letters, suppressions, the watch on promised delivery dates and the audit record,
//! described by the OpenAPI document at `/api/openapi.json` (generated from these handlers and
//! their types). The console uses nothing else. What the API answers about the store's rows
//! is shaped, and its contacts masked, in [`views`].

pub mod activity;
pub mod audit;
pub mod compensation;
pub mod dead_letters;
pub mod escalations;
pub mod suppressions;
pub mod templates;
pub mod views;
pub mod watches;

use axum::Json;
use axum::Router;
use axum::routing::{get, post, put};
use utoipa::OpenApi;

use super::AppState;
use super::auth;

/// The OpenAPI description of the admin API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "amends admin API",
        description = "Template texts, incidents, compensation, escalations, dead letters, \
            suppressions, orders watched for their promised delivery date and the audit record. \
            Sign in with POST /api/session (a session cookie; send X-CSRF-Token with every change) \
            or send `Authorization: Bearer <AMENDS_ADMIN_TOKEN>`."
    ),
    paths(
        auth::sign_in, auth::whoami, auth::sign_out, auth::sign_out_everywhere,
        auth::sign_in_form,
        activity::overview, activity::recent, activity::search, activity::incident,
        activity::needing_attention,
        templates::list, templates::detail, templates::version, templates::save_draft,
        templates::discard_draft, templates::preview, templates::publish, templates::rollback,
        templates::send_test,
        compensation::view,
        escalations::list, escalations::one, escalations::handle,
        dead_letters::list, dead_letters::replay,
        suppressions::list, suppressions::add, suppressions::lift,
        watches::list,
        audit::list,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "session", description = "Signing in and out"),
        (name = "activity", description = "Incidents, decisions and messages"),
        (name = "templates", description = "Editing, previewing and publishing template texts"),
        (name = "compensation", description = "Offers and budgets"),
        (name = "escalations", description = "Incidents marked for a person"),
        (name = "dead letters", description = "Events that could not be processed"),
        (name = "suppressions", description = "Contacts nothing is sent to"),
        (name = "watch", description = "Orders watched for their promised delivery date"),
        (name = "audit", description = "Who did what in the console and the API"),
    )
)]
pub struct ApiDoc;

/// Declares the two ways to authenticate.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder};
        use utoipa::openapi::security::{SecurityRequirement, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::SESSION_COOKIE))),
        );
        openapi.security = Some(vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("session", Vec::<String>::new()),
        ]);
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Routes of the admin API, to be nested under `/api`.
pub fn router() -> Router<AppState> {
    let template = "/templates/{group}/{file}";
    Router::new()
        .route("/openapi.json", get(openapi))
        .route(
            "/session",
            get(auth::whoami).post(auth::sign_in).delete(auth::sign_out),
        )
        .route(
            "/session/sign-out-everywhere",
            post(auth::sign_out_everywhere),
        )
        .route("/sign-in", get(auth::sign_in_form))
        .route("/overview", get(activity::overview))
        .route("/incidents", get(activity::recent))
        .route("/incidents/search", post(activity::search))
        .route("/incidents/{id}", get(activity::incident))
        .route("/messages", get(activity::needing_attention))
        .route("/templates", get(templates::list))
        .route("/templates/test", post(templates::send_test))
        .route(template, get(templates::detail))
        .route(
            &format!("{template}/versions/{{version}}"),
            get(templates::version),
        )
        .route(
            &format!("{template}/draft"),
            put(templates::save_draft).delete(templates::discard_draft),
        )
        .route(&format!("{template}/preview"), post(templates::preview))
        .route(&format!("{template}/publish"), post(templates::publish))
        .route(&format!("{template}/rollback"), post(templates::rollback))
        .route("/compensation", get(compensation::view))
        .route("/escalations", get(escalations::list))
        .route("/escalations/{id}", get(escalations::one))
        .route("/escalations/{id}/handle", post(escalations::handle))
        .route("/dead-letters", get(dead_letters::list))
        .route("/dead-letters/replay", post(dead_letters::replay))
        .route(
            "/suppressions",
            get(suppressions::list).post(suppressions::add),
        )
        .route("/suppressions/lift", post(suppressions::lift))
        .route("/watches", get(watches::list))
        .route("/audit", get(audit::list))
        .fallback(|| async { super::error::ApiError::NotFound("no such API route".to_owned()) })
}
