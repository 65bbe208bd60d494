//! Compensation in the admin API: every offer issued or declined, and budget use per day and per
//! customer against the policy's limits.

use axum::Json;
use axum::extract::{Query, State};
use serde::Serialize;
use utoipa::ToSchema;

use super::activity::Limit;
use super::views::CompensationRecord;
use crate::http::AppState;
use crate::http::auth::Admin;
use crate::http::error::{ApiError, ErrorBody};
use crate::incident::Currency;

/// Budget days shown.
const DAYS: i32 = 14;
/// Customers shown.
const CUSTOMERS: i64 = 20;

/// One budget day in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct BudgetDay {
    /// The day, in the policy's budget time zone.
    pub day: chrono::NaiveDate,
    /// ISO 4217 currency.
    pub currency: String,
    /// Spent, a decimal string.
    pub spent: String,
    /// The policy's daily limit, a decimal string.
    pub limit: Option<String>,
}

/// What one customer received within the per-customer window.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerBudget {
    /// The customer.
    pub customer_id: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Given, a decimal string.
    pub given: String,
    /// The policy's per-customer cap, a decimal string.
    pub cap: Option<String>,
}

/// The ledger and the budgets.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompensationView {
    /// Offers issued and declined, newest first.
    pub offers: Vec<CompensationRecord>,
    /// Spending per budget day, newest first.
    pub budget_days: Vec<BudgetDay>,
    /// The customers given the most within the window.
    pub customers: Vec<CustomerBudget>,
    /// The per-customer window (`30days`).
    pub customer_window: String,
}

/// The compensation ledger and budget use.
#[utoipa::path(get, path = "/api/compensation", tag = "compensation", params(Limit),
    responses((status = 200, body = CompensationView), (status = 401, body = ErrorBody)))]
pub async fn view(
    State(state): State<AppState>,
    _admin: Admin,
    Query(limit): Query<Limit>,
) -> Result<Json<CompensationView>, ApiError> {
    let policy = state.policy.load_full();
    let budget = &policy.settings().budget;
    let limit_in = |table: &std::collections::BTreeMap<Currency, rust_decimal::Decimal>,
                    currency: &str| {
        currency
            .parse::<Currency>()
            .ok()
            .and_then(|c| table.get(&c))
            .map(|d| d.to_string())
    };
    let window = chrono::Duration::from_std(budget.customer_window).map_err(ApiError::internal)?;
    let offers = state
        .store
        .compensation(None, limit.get(100))
        .await?
        .into_iter()
        .map(CompensationRecord::from)
        .collect();
    let budget_days = state
        .store
        .budget_days(DAYS)
        .await?
        .into_iter()
        .map(|d| BudgetDay {
            limit: limit_in(&budget.daily, &d.currency),
            day: d.day,
            currency: d.currency,
            spent: d.spent,
        })
        .collect();
    let customers = state
        .store
        .customers_given(chrono::Utc::now() - window, CUSTOMERS)
        .await?
        .into_iter()
        .map(|c| CustomerBudget {
            cap: limit_in(&budget.per_customer, &c.currency),
            customer_id: c.customer_id,
            currency: c.currency,
            given: c.given,
        })
        .collect();
    Ok(Json(CompensationView {
        offers,
        budget_days,
        customers,
        customer_window: humantime::format_duration(budget.customer_window).to_string(),
    }))
}
