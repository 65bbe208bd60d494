//! Recording who did what in the console and the admin API (the `audit` table): each action
//! under the person's name (`api` for the bearer token) with the client's address. Subjects and
//! details never hold a contact in full.

use std::net::IpAddr;

use super::AppState;
use super::auth::Admin;
use crate::store::AuditEntry;

/// Records `action` by `actor` from `address`. The action is done already: a failure to record
/// it is logged (without personal data) rather than undoing or failing the request.
pub async fn record(
    state: &AppState,
    actor: &str,
    address: Option<IpAddr>,
    action: &str,
    subject: Option<&str>,
    detail: serde_json::Value,
) {
    let address = super::auth::address_text(address);
    let entry = AuditEntry {
        actor,
        action,
        subject,
        detail,
        client_address: address.as_deref(),
    };
    if let Err(e) = state.store.audit(&entry).await {
        tracing::error!(error = %e, action, "could not record an action in the audit record");
    }
}

/// Records `action` by the signed-in `admin`.
pub async fn by(
    state: &AppState,
    admin: &Admin,
    action: &str,
    subject: Option<&str>,
    detail: serde_json::Value,
) {
    record(state, &admin.user, admin.address, action, subject, detail).await;
}
