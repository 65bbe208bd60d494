//! Template texts in the admin API: every file with its edits, drafts, a live preview rendered
//! by the daemon's own engine, publish and rollback, and a test message to yourself.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::editor::{self, Edit};
use crate::http::AppState;
use crate::http::auth::Admin;
use crate::http::error::{ApiError, Body, DiagnosticView, ErrorBody};
use crate::incident::{Locale, SUPPORTED_TYPES};
use crate::policy::Channel;
use crate::templates::samples::{self, SampleDecision};
use crate::templates::{Role, Templates, sms};

/// Locales offered for previews (any other can be typed in): a region for every shipped
/// language, so a file is previewed in its own language (`pt` as `pt-PT`, before `pt-BR`).
const PREVIEW_LOCALES: [&str; 8] = [
    "en-GB", "en-US", "es-ES", "es-MX", "fr-FR", "de-DE", "pt-PT", "pt-BR",
];

/// One template file in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateFile {
    /// `order-delayed/email.es.hbs`.
    pub name: String,
    /// `order-delayed`, `partials`, `layouts`.
    pub group: String,
    /// `email.es.hbs`.
    pub file: String,
    /// `email`, `email_text`, `sms`, `partial`, `partial_text` or `layout`.
    pub kind: String,
    /// The file's locale (`es`), none for a file shared by every locale.
    pub locale: Option<String>,
    /// The published version in force, none when the shipped file is.
    pub published_version: Option<i32>,
    /// The draft being worked on, if any.
    pub draft_version: Option<i32>,
    /// When it was last edited.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Every template file, and what a preview can be rendered with.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    /// Every file, by name.
    pub templates: Vec<TemplateFile>,
    /// Sample event types.
    pub samples: Vec<String>,
    /// Suggested preview locales.
    pub locales: Vec<String>,
}

/// A version's text.
#[derive(Debug, Serialize, ToSchema)]
pub struct InForce {
    /// Its version, none for the shipped file.
    pub version: Option<i32>,
    /// Its text.
    pub body: String,
}

/// A draft.
#[derive(Debug, Serialize, ToSchema)]
pub struct Draft {
    /// Its version number.
    pub version: i32,
    /// Its text.
    pub body: String,
    /// Who saved it.
    pub author: String,
    /// Why.
    pub note: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// One version in a file's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    /// Version number.
    pub version: i32,
    /// `draft`, `published` (in force), `retired` or `discarded`.
    pub status: String,
    /// Who.
    pub author: String,
    /// Why.
    pub note: Option<String>,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// When it was published.
    pub published_at: Option<DateTime<Utc>>,
    /// Its text (only when one version is asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl VersionView {
    /// A stored version, with its text or without.
    fn of(e: crate::store::TemplateEdit, with_body: bool) -> VersionView {
        VersionView {
            version: e.version,
            status: e.status,
            author: e.author,
            note: e.note,
            created_at: e.created_at,
            published_at: e.published_at,
            body: with_body.then_some(e.body),
        }
    }
}

/// One template file in full.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateDetail {
    /// `order-delayed/email.es.hbs`.
    pub name: String,
    /// Its directory.
    pub group: String,
    /// Its file name.
    pub file: String,
    /// What kind of file it is.
    pub kind: String,
    /// Its locale.
    pub locale: Option<String>,
    /// The template key a preview renders.
    pub template: String,
    /// The channel a preview renders.
    pub channel: String,
    /// The sample event a preview uses by default.
    pub sample: String,
    /// The text shipped in `templates/`.
    pub shipped: Option<String>,
    /// The text customers get now.
    pub in_force: InForce,
    /// The draft, if any.
    pub draft: Option<Draft>,
    /// Every version, newest first.
    pub versions: Vec<VersionView>,
}

/// A text and why it changed.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TextChange {
    /// The whole text of the file.
    pub body: String,
    /// What changed, for the history.
    #[serde(default)]
    pub note: Option<String>,
    /// For publishing: the version in force when the editing began (0: the shipped file). If
    /// another has come into force since, nothing is published (409). Absent: no such check.
    #[serde(default)]
    pub based_on: Option<i32>,
}

/// A draft saved.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftSaved {
    /// The draft's version number.
    pub version: i32,
    /// What the check found in it (a draft with errors is kept, not published).
    pub diagnostics: Vec<DiagnosticView>,
}

/// A version published.
#[derive(Debug, Serialize, ToSchema)]
pub struct Published {
    /// The version now in force.
    pub version: i32,
    /// Warnings the check found.
    pub diagnostics: Vec<DiagnosticView>,
}

/// A rollback: which earlier version to publish again.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Rollback {
    /// The version whose text comes back.
    pub version: i32,
    /// Why.
    #[serde(default)]
    pub note: Option<String>,
    /// The version in force when the person chose to restore (0: the shipped file). If another
    /// has come into force since, nothing is published (409). Absent: no such check.
    #[serde(default)]
    pub based_on: Option<i32>,
}

/// What to preview.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PreviewRequest {
    /// The text to preview (the one in force when absent).
    #[serde(default)]
    pub body: Option<String>,
    /// The sample event type (`order.delayed`).
    #[serde(default)]
    pub sample: Option<String>,
    /// The customer's locale (`es-ES`).
    #[serde(default)]
    pub locale: Option<String>,
    /// `email` or `sms`.
    #[serde(default)]
    pub channel: Option<String>,
    /// The template key to render (`order-delayed`).
    #[serde(default)]
    pub template: Option<String>,
}

/// An SMS measured.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsView {
    /// Characters.
    pub characters: usize,
    /// Segments it is sent in.
    pub segments: usize,
    /// `GSM-7` or `UCS-2`.
    pub encoding: String,
    /// The segments' texts.
    pub parts: Vec<String>,
}

/// A rendered sample message.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    /// The template locale used, after fallback.
    pub locale: String,
    /// The email's subject.
    pub subject: Option<String>,
    /// The email's HTML (render it sandboxed).
    pub html: Option<String>,
    /// The email's text part, or the SMS.
    pub text: String,
    /// The SMS measured.
    pub sms: Option<SmsView>,
}

/// A preview: the message, or why there is none.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    /// Whether the text has no error.
    pub ok: bool,
    /// Every problem found.
    pub diagnostics: Vec<DiagnosticView>,
    /// The message, when the text has no error.
    pub message: Option<MessageView>,
}

/// A test message to send to yourself.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TestRequest {
    /// The template key (`order-delayed`).
    pub template: String,
    /// `email` or `sms`.
    pub channel: String,
    /// The locale to render in.
    pub locale: String,
    /// Your email address or phone number.
    pub to: String,
}

/// Where a test message went.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestSent {
    /// The provider that took it.
    pub provider: String,
    /// Its id there.
    pub id: String,
}

fn name_of(group: &str, file: &str) -> Result<(String, Role), ApiError> {
    let name = format!("{group}/{file}");
    let role = editor::ensure_template(&name)?;
    Ok((name, role))
}

fn diagnostics(list: &[crate::templates::Diagnostic]) -> Vec<DiagnosticView> {
    list.iter().map(DiagnosticView::from).collect()
}

fn channel_of(name: &str) -> Result<Channel, ApiError> {
    name.parse::<Channel>()
        .map_err(|e| ApiError::Invalid(format!("channel: {e}")))
}

/// Every template file with its edits.
#[utoipa::path(get, path = "/api/templates", tag = "templates",
    responses((status = 200, body = TemplateList), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<TemplateList>, ApiError> {
    let shipped =
        crate::templates::read_sources(&state.config.templates_dir).map_err(ApiError::internal)?;
    let edits: BTreeMap<String, _> = state
        .store
        .template_edits()
        .await?
        .into_iter()
        .map(|e| (e.name.clone(), e))
        .collect();
    let mut names: Vec<String> = shipped.into_iter().map(|s| s.name).collect();
    names.extend(edits.keys().cloned());
    names.sort();
    names.dedup();
    let templates = names
        .into_iter()
        .filter_map(|name| {
            let (group, file) = name.split_once('/')?;
            // A file the loader cannot read is listed by nothing: it could not be in force.
            let role = Role::parse(&name).ok()?;
            let edit = edits.get(&name);
            Some(TemplateFile {
                kind: role.kind().to_owned(),
                locale: role.locale().map(str::to_owned),
                group: group.to_owned(),
                file: file.to_owned(),
                published_version: edit.and_then(|e| e.published_version),
                draft_version: edit.and_then(|e| e.draft_version),
                updated_at: edit.map(|e| e.updated_at),
                name,
            })
        })
        .collect();
    Ok(Json(TemplateList {
        templates,
        samples: SUPPORTED_TYPES.iter().map(|s| s.to_string()).collect(),
        locales: PREVIEW_LOCALES.iter().map(|s| s.to_string()).collect(),
    }))
}

/// One template file: the shipped text, the one in force, the draft, the history.
#[utoipa::path(get, path = "/api/templates/{group}/{file}", tag = "templates",
    params(("group" = String, Path, description = "the template's directory, e.g. order-delayed"),
           ("file" = String, Path, description = "the file, e.g. email.es.hbs")),
    responses((status = 200, body = TemplateDetail), (status = 404, body = ErrorBody)))]
pub async fn detail(
    State(state): State<AppState>,
    _admin: Admin,
    Path((group, file)): Path<(String, String)>,
) -> Result<Json<TemplateDetail>, ApiError> {
    let (name, role) = name_of(&group, &file)?;
    let shipped = crate::templates::read_sources(&state.config.templates_dir)
        .map_err(ApiError::internal)?
        .into_iter()
        .find(|s| s.name == name)
        .map(|s| s.text);
    let history = state.store.template_history(&name).await?;
    if shipped.is_none() && history.is_empty() {
        return Err(ApiError::NotFound(format!("no template file {name}")));
    }
    let in_force = match history.iter().find(|e| e.status == "published") {
        Some(e) => InForce {
            version: Some(e.version),
            body: e.body.clone(),
        },
        None => InForce {
            version: None,
            body: shipped.clone().unwrap_or_default(),
        },
    };
    let draft = history.iter().find(|e| e.status == "draft").map(|e| Draft {
        version: e.version,
        body: e.body.clone(),
        author: e.author.clone(),
        note: e.note.clone(),
        created_at: e.created_at,
    });
    let (template, channel) = role.preview_target();
    let sample = samples::type_of(&template)
        .unwrap_or("order.delayed")
        .to_owned();
    Ok(Json(TemplateDetail {
        kind: role.kind().to_owned(),
        locale: role.locale().map(str::to_owned),
        template,
        channel: channel.to_string(),
        sample,
        shipped,
        in_force,
        draft,
        versions: history
            .into_iter()
            .map(|e| VersionView::of(e, false))
            .collect(),
        name,
        group,
        file,
    }))
}

/// One version of a file, with its text.
#[utoipa::path(get, path = "/api/templates/{group}/{file}/versions/{version}", tag = "templates",
    params(("group" = String, Path), ("file" = String, Path), ("version" = i32, Path)),
    responses((status = 200, body = VersionView), (status = 404, body = ErrorBody)))]
pub async fn version(
    State(state): State<AppState>,
    _admin: Admin,
    Path((group, file, version)): Path<(String, String, i32)>,
) -> Result<Json<VersionView>, ApiError> {
    let (name, _) = name_of(&group, &file)?;
    let e = state
        .store
        .template_version(&name, version)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{name} has no version {version}")))?;
    Ok(Json(VersionView::of(e, true)))
}

/// Saves a draft (replacing the file's draft, if it has one); a draft with errors is kept.
#[utoipa::path(put, path = "/api/templates/{group}/{file}/draft", tag = "templates",
    params(("group" = String, Path), ("file" = String, Path)), request_body = TextChange,
    responses((status = 200, body = DraftSaved), (status = 404, body = ErrorBody)))]
pub async fn save_draft(
    State(state): State<AppState>,
    admin: Admin,
    Path((group, file)): Path<(String, String)>,
    Body(change): Body<TextChange>,
) -> Result<Json<DraftSaved>, ApiError> {
    let (name, _) = name_of(&group, &file)?;
    let (report, _) = state
        .editor
        .check_text(state.policy.load_full(), &name, &change.body)
        .await?;
    let version = state
        .store
        .save_template_draft(&name, &change.body, &admin.user, change.note.as_deref())
        .await?;
    tracing::info!(template = %name, version, "template draft saved");
    crate::http::audit::by(
        &state,
        &admin,
        "template.draft_saved",
        Some(&name),
        serde_json::json!({ "version": version, "note": change.note }),
    )
    .await;
    Ok(Json(DraftSaved {
        version,
        diagnostics: diagnostics(&report.diagnostics),
    }))
}

/// Sets the draft aside (kept in the history as discarded).
#[utoipa::path(delete, path = "/api/templates/{group}/{file}/draft", tag = "templates",
    params(("group" = String, Path), ("file" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn discard_draft(
    State(state): State<AppState>,
    admin: Admin,
    Path((group, file)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (name, _) = name_of(&group, &file)?;
    if state.store.discard_template_draft(&name).await? {
        crate::http::audit::by(
            &state,
            &admin,
            "template.draft_discarded",
            Some(&name),
            serde_json::json!({}),
        )
        .await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("{name} has no draft")))
    }
}

/// Renders a sample message with a text, by the daemon's own engine, with every problem found.
#[utoipa::path(post, path = "/api/templates/{group}/{file}/preview", tag = "templates",
    params(("group" = String, Path), ("file" = String, Path)), request_body = PreviewRequest,
    responses((status = 200, body = Preview), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn preview(
    State(state): State<AppState>,
    _admin: Admin,
    Path((group, file)): Path<(String, String)>,
    Body(request): Body<PreviewRequest>,
) -> Result<Json<Preview>, ApiError> {
    let (name, role) = name_of(&group, &file)?;
    let (default_key, default_channel) = role.preview_target();
    let key = request.template.unwrap_or(default_key);
    let channel = match request.channel.as_deref() {
        Some(c) => channel_of(c)?,
        None => default_channel,
    };
    let sample = request
        .sample
        .or_else(|| samples::type_of(&key).map(str::to_owned))
        .unwrap_or_else(|| "order.delayed".to_owned());
    let locale = match request.locale.as_deref() {
        Some(tag) => Some(
            Locale::parse(tag).map_err(|e| ApiError::Invalid(format!("locale {tag:?}: {e}")))?,
        ),
        None => None,
    };
    let incident = samples::incident_in(&sample, &state.config.default_locale, locale.as_ref())
        .ok_or_else(|| ApiError::Invalid(format!("no sample event of type {sample:?}")))?;
    let templates = match request.body {
        Some(body) => {
            let (report, templates) = state
                .editor
                .check_text(state.policy.load_full(), &name, &body)
                .await?;
            match templates {
                Some(templates) => (Arc::new(templates), report.diagnostics),
                None => {
                    return Ok(Json(Preview {
                        ok: false,
                        diagnostics: diagnostics(&report.diagnostics),
                        message: None,
                    }));
                }
            }
        }
        None => (state.templates.load_full(), Vec::new()),
    };
    let (templates, found) = templates;
    // The samples tell a story set on one day; they are read as on that day.
    let decision = SampleDecision::of(
        &state.policy.load(),
        &incident,
        samples::now(),
        &mut rand::rng(),
    );
    let message = render(&decision, &templates, &key, channel, &incident, &state)?;
    Ok(Json(Preview {
        ok: true,
        diagnostics: diagnostics(&found),
        message: Some(message),
    }))
}

fn render(
    decision: &SampleDecision,
    templates: &Templates,
    key: &str,
    channel: Channel,
    incident: &crate::incident::Incident,
    state: &AppState,
) -> Result<MessageView, ApiError> {
    let rendered = decision
        .render(templates, key, channel, incident, &state.config.store)
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
    let sms = (channel == Channel::Sms).then(|| {
        let info = sms::analyse(&rendered.text);
        SmsView {
            characters: rendered.text.chars().count(),
            segments: info.segments,
            encoding: info.encoding.to_string(),
            parts: sms::split(&rendered.text),
        }
    });
    Ok(MessageView {
        locale: rendered.locale,
        subject: rendered.subject,
        html: rendered.html,
        text: rendered.text,
        sms,
    })
}

/// Publishes a text after the same checks as `amends templates check`; every replica uses it
/// within seconds. A text with an error is refused with every problem and its line.
#[utoipa::path(post, path = "/api/templates/{group}/{file}/publish", tag = "templates",
    params(("group" = String, Path), ("file" = String, Path)), request_body = TextChange,
    responses((status = 200, body = Published), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn publish(
    State(state): State<AppState>,
    admin: Admin,
    Path((group, file)): Path<(String, String)>,
    Body(change): Body<TextChange>,
) -> Result<Json<Published>, ApiError> {
    let (name, _) = name_of(&group, &file)?;
    let edit = Edit {
        name: &name,
        body: &change.body,
        author: &admin.user,
        note: change.note.as_deref(),
        based_on: change.based_on,
    };
    let (version, warnings) = state
        .editor
        .publish(state.policy.load_full(), edit, true)
        .await?;
    tracing::info!(template = %name, version, "template published");
    crate::http::audit::by(
        &state,
        &admin,
        "template.publish",
        Some(&name),
        serde_json::json!({ "version": version, "note": change.note }),
    )
    .await;
    Ok(Json(Published {
        version,
        diagnostics: diagnostics(&warnings),
    }))
}

/// Publishes the text of an earlier version again, as a new version, after the same checks.
#[utoipa::path(post, path = "/api/templates/{group}/{file}/rollback", tag = "templates",
    params(("group" = String, Path), ("file" = String, Path)), request_body = Rollback,
    responses((status = 200, body = Published), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn rollback(
    State(state): State<AppState>,
    admin: Admin,
    Path((group, file)): Path<(String, String)>,
    Body(request): Body<Rollback>,
) -> Result<Json<Published>, ApiError> {
    let (name, _) = name_of(&group, &file)?;
    let version = state
        .editor
        .rollback(
            state.policy.load_full(),
            &name,
            request.version,
            &admin.user,
            request.note.as_deref(),
            request.based_on,
        )
        .await?;
    tracing::info!(template = %name, from = request.version, version, "template rolled back");
    crate::http::audit::by(
        &state,
        &admin,
        "template.rollback",
        Some(&name),
        serde_json::json!({ "from": request.version, "version": version, "note": request.note }),
    )
    .await;
    Ok(Json(Published {
        version,
        diagnostics: Vec::new(),
    }))
}

/// Renders a template in force for its sample event and sends it to the address or number
/// given, marked as a test; it is never recorded as a customer message.
#[utoipa::path(post, path = "/api/templates/test", tag = "templates", request_body = TestRequest,
    responses((status = 200, body = TestSent), (status = 422, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub async fn send_test(
    State(state): State<AppState>,
    admin: Admin,
    Body(request): Body<TestRequest>,
) -> Result<Json<TestSent>, ApiError> {
    let channel = channel_of(&request.channel)?;
    let locale = Locale::parse(&request.locale)
        .map_err(|e| ApiError::Invalid(format!("locale {:?}: {e}", request.locale)))?;
    let sample = samples::type_of(&request.template).ok_or_else(|| {
        ApiError::Invalid(format!(
            "no sample event for template {:?}",
            request.template
        ))
    })?;
    let incident = samples::incident_in(sample, &state.config.default_locale, Some(&locale))
        .ok_or_else(|| ApiError::Invalid(format!("no sample event of type {sample:?}")))?;
    let decision = SampleDecision::of(
        &state.policy.load(),
        &incident,
        samples::now(),
        &mut rand::rng(),
    );
    let templates = state.templates.load_full();
    let rendered = decision
        .render(
            &templates,
            &request.template,
            channel,
            &incident,
            &state.config.store,
        )
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
    let message = crate::deliver::test_message(rendered, channel, &request.to)
        .map_err(|e| ApiError::Invalid(format!("to: {e}")))?;
    let (provider, id) = state
        .transports
        .send_test(&message)
        .await
        .map_err(|e| ApiError::Unavailable(format!("the test was not sent: {e}")))?;
    tracing::info!(template = %request.template, %channel, %provider, "test message sent");
    // The address or number it went to is the person's own, but masked all the same.
    let to = super::views::Contact::recipient(&channel.to_string(), &request.to);
    crate::http::audit::by(
        &state,
        &admin,
        "template.test_sent",
        Some(&request.template),
        serde_json::json!({
            "channel": channel.to_string(),
            "locale": request.locale,
            "to": to.as_str(),
            "provider": provider.to_string(),
        }),
    )
    .await;
    Ok(Json(TestSent {
        provider: provider.to_string(),
        id,
    }))
}
