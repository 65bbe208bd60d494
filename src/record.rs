//! Recording: one parsed incident becomes its recorded decision, in one transaction.
//!
//! History → supersession (waiting messages of earlier incidents on the order that this one
//! replaces are cancelled) → policy → budgets as read with the history (the plans tried in order
//! until one fits) → codes → due times (a rule's delay, quiet hours in the customer's zone) →
//! messages → the budget reserved from this replica's wallet (settled again if it disagrees) →
//! record and commit.
//! The policy, the templates, the budget checks and the timing are pure; this module sequences
//! them around the store's transaction.

use std::sync::Arc;

use chrono::NaiveDate;
use uuid::Uuid;

use crate::clock::Clock;
use crate::config::Config;
use crate::incident::Currency;
use crate::incident::Incident;
use crate::policy::{
    AmountError, Channel, Decision, DeclinedOffer, Due, History, Offer, Policy, Reservation,
    RuleKind, SendMode, Settled, Settlement, Step,
};
use crate::reload::PolicyCell;
use crate::reload::TemplatesCell;
use crate::store::{
    Begun, HistoryWindows, IncidentTx, NewMessage, Outcome, Received, Store, StoreError,
};
use crate::templates::{Extras, TemplateError, Templates};
use crate::timing::QuietHours;

mod budget;

use budget::{BUDGET_CONNECTIONS, Taken, Wallet};

/// How many times a collision of generated codes is retried with new codes.
const CODE_ATTEMPTS: usize = 5;

/// Why an incident could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A template failed to render: the event cannot be processed as it is.
    #[error("template: {0}")]
    Template(#[from] TemplateError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The decision names a channel the customer has no contact for (a policy bug).
    #[error("no {0} contact")]
    NoContact(Channel),
    /// An amount the decision needs cannot be computed: the event cannot be processed as it is.
    #[error(transparent)]
    Amount(#[from] AmountError),
}

/// What was recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// First time this (source, id) was seen.
    New {
        /// The rule that decided.
        rule: String,
        /// Messages queued.
        queued: i64,
        /// Codes issued.
        codes: usize,
        /// Whether a person was asked to follow up.
        escalated: bool,
        /// Set when the incident was coalesced into an earlier message about its order.
        coalesced: Option<String>,
        /// Set when no channel could reach the customer (or no rule matched).
        unreachable: Option<String>,
    },
    /// Already recorded; nothing new.
    Duplicate,
    /// Not an incident: nothing recorded, nothing sent (an `order.delivered` for an order that
    /// had no incident, or one no follow-up rule answers). A redelivery is decided the same way.
    Ignored {
        /// Why.
        reason: String,
    },
}

/// The plan that fit the budgets, its codes issued, and what was refused on the way.
#[derive(Debug, Default)]
struct Granted {
    offers: Vec<Offer>,
    declined: Vec<DeclinedOffer>,
    fallback_reason: Option<String>,
    escalation: Option<String>,
    lines: Vec<String>,
}

impl Granted {
    /// The settled plan, with a fresh code for each offer that issues one.
    fn from_settled(settled: &Settled<'_>, policy: &Policy) -> Granted {
        Granted {
            offers: settled.grant(&policy.settings().codes, &mut rand::rng()),
            escalation: settled.escalation().map(str::to_owned),
            declined: settled.declined.clone(),
            fallback_reason: settled.fallback_reason.clone(),
            lines: settled.lines.clone(),
        }
    }

    /// Keeps the offers and codes granted, and takes what the reservation said of the same plan
    /// (the day's spending it saw, what it refused on the way).
    fn take_lines(&mut self, settled: Settled<'_>) {
        self.declined = settled.declined;
        self.fallback_reason = settled.fallback_reason;
        self.lines = settled.lines;
    }
}

/// Records incidents: shared by the consumer's handler tasks.
pub struct Recorder {
    config: Arc<Config>,
    store: Store,
    policy: PolicyCell,
    templates: TemplatesCell,
    clock: Clock,
    budget: Wallet,
}

impl Recorder {
    /// A recorder over these parts, deciding in real time.
    pub fn new(
        config: Arc<Config>,
        store: Store,
        policy: PolicyCell,
        templates: TemplatesCell,
    ) -> Recorder {
        Recorder {
            budget: Wallet::new(store.with_own_pool(BUDGET_CONNECTIONS)),
            config,
            store,
            policy,
            templates,
            clock: Clock::system(),
        }
    }

    /// The database it records in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The same recorder, deciding at the time `clock` gives.
    pub fn with_clock(mut self, clock: Clock) -> Recorder {
        self.clock = clock;
        self
    }

    /// Decides and records `incident` (received as `received`), exactly once per (source, id).
    pub async fn record(
        &self,
        incident: &Incident,
        received: Received<'_>,
    ) -> Result<Recorded, RecordError> {
        let mut attempt = 1;
        loop {
            match self.record_once(incident, received).await {
                Err(RecordError::Store(e)) if e.is_code_taken() && attempt < CODE_ATTEMPTS => {
                    // Astronomically rare with the default format; the transaction rolled back.
                    tracing::warn!(
                        attempt,
                        "a generated code was already taken; retrying with new codes"
                    );
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn record_once(
        &self,
        incident: &Incident,
        received: Received<'_>,
    ) -> Result<Recorded, RecordError> {
        // One policy and one set of templates for the whole incident, even if a reload lands
        // meanwhile.
        let policy = self.policy.load_full();
        let templates = self.templates.load_full();
        let settings = policy.settings();
        let windows = HistoryWindows {
            history: settings.history_window,
            customer: settings.budget.customer_window,
        };
        let now = self.clock.now();
        let day = settings.budget.day(now);
        let (mut tx, mut history) = match self
            .store
            .begin_incident(Uuid::now_v7(), incident, received, windows, day)
            .await?
        {
            Begun::Duplicate => return Ok(Recorded::Duplicate),
            Begun::New(tx, history) => (tx, history),
        };
        let superseded = supersede(&mut tx, &mut history, incident).await?;
        let decision = policy.try_decide(incident, &history, now)?;
        if let Some(reason) = decision.ignored.clone() {
            tx.abandon().await?;
            return Ok(Recorded::Ignored { reason });
        }
        let feedback_url = match (&self.config.feedback_url, decision.kind) {
            (Some(url), RuleKind::FollowUp) => Some(url.for_incident(tx.incident_id())),
            _ => None,
        };
        // Settled and rendered against the day's spending as read with the history; the budget
        // is reserved last, so the rendering holds no reservation up. Should the reservation
        // disagree (others spent meanwhile), the plan it allows is granted and rendered again.
        let currency = incident.order.total.currency();
        let expected = policy.settle_offline(&decision, &history, currency);
        let mut granted = Granted::from_settled(&expected, &policy);
        let due = decision.schedule(now, &incident.customer.timezone, &self.config.quiet_hours);
        let render = |granted: &Granted| {
            self.render(
                &templates,
                incident,
                &decision,
                granted,
                &due,
                feedback_url.as_deref(),
            )
        };
        let mut messages = render(&granted)?;
        let (settled, taken) =
            reserve(&self.budget, &policy, &decision, &history, currency, day).await?;
        let written = async {
            if settled.same_plan(&expected) {
                granted.take_lines(settled);
            } else {
                tracing::info!(
                    rule = %decision.rule,
                    "the budget changed while the incident was decided: settled again"
                );
                granted = Granted::from_settled(&settled, &policy);
                messages = render(&granted)?;
            }
            let mut explanation = decision.explanation.clone();
            explanation.budget = granted.lines.clone();
            explanation.escalation = granted.escalation.clone();
            explanation.superseded = superseded;
            explanation.timing = due.iter().map(|d| d.line.clone()).collect();
            let explanation =
                serde_json::to_value(&explanation).map_err(|e| StoreError::Encode {
                    what: "explanation",
                    message: e.to_string(),
                })?;
            let queued = tx
                .finish(
                    incident,
                    Outcome {
                        decision: &decision,
                        explanation,
                        offers: &granted.offers,
                        fallback_reason: granted.fallback_reason.clone(),
                        declined: std::mem::take(&mut granted.declined),
                        escalation: granted.escalation.clone(),
                        messages,
                        template_version: templates.version(),
                        instance: &self.config.instance_name,
                        timezone: incident.customer.timezone.as_str(),
                    },
                )
                .await?;
            Ok::<_, RecordError>((tx, queued))
        }
        .await;
        let queued = match written {
            Ok((tx, queued)) => match tx.commit().await {
                Ok(()) => queued,
                Err(e) => {
                    self.commit_failed(taken, &e).await;
                    return Err(e.into());
                }
            },
            Err(e) => {
                if let Some(taken) = taken {
                    self.budget.give_back(taken).await;
                }
                return Err(e);
            }
        };
        let codes = granted.offers.iter().filter(|o| o.code.is_some()).count();
        Ok(Recorded::New {
            rule: decision.rule.clone(),
            queued,
            codes,
            escalated: granted.escalation.is_some(),
            coalesced: decision.coalesced.clone(),
            unreachable: decision.unreachable(),
        })
    }

    /// After a failed commit: the budget taken goes back when the server said the transaction
    /// rolled back; when the outcome is unknown (the connection broke), it stays given, so the
    /// day may end short by it, never over.
    async fn commit_failed(&self, taken: Option<Taken>, error: &StoreError) {
        let Some(taken) = taken else { return };
        if matches!(error, StoreError::Query(sqlx::Error::Database(_))) {
            self.budget.give_back(taken).await;
        } else {
            tracing::warn!(
                error = %error,
                "the commit's outcome is unknown: the budget reserved for it stays spent"
            );
        }
    }

    /// Returns the budget this replica reserved and did not give: call when it stops.
    pub async fn close(&self) {
        self.budget.return_unused().await;
    }

    /// Renders one message per chosen channel, with the offers that were granted and what the
    /// decision says the message may tell (again, a promised update, the date told before, the
    /// codes restated, the feedback link), each as of the time it is due (so "today" in the
    /// text is the customer's day when they read it).
    fn render(
        &self,
        templates: &Templates,
        incident: &Incident,
        decision: &Decision,
        settled: &Granted,
        due: &[Due],
        feedback_url: Option<&str>,
    ) -> Result<Vec<NewMessage>, RecordError> {
        // With `send = "first"`, the first channel's message goes out and each next one is held
        // in reserve for the one before it; with `send = "all"`, every one goes out.
        let chained = decision.send == SendMode::First;
        let mut previous: Option<Uuid> = None;
        decision
            .channels
            .iter()
            .map(|&channel| {
                let due = due.iter().find(|d| d.channel == channel);
                let due_at = due.map_or(decision.send_at, |d| d.at);
                let extras = Extras {
                    offers: &settled.offers,
                    escalated: settled.escalation.is_some(),
                    sent_at: due_at,
                    earlier: decision.earlier_incidents,
                    updates_promised: decision.updates_promised,
                    feedback_url,
                    previous_eta: decision.previous_eta,
                    earlier_codes: &decision.reminders,
                };
                let rendered = templates.render(
                    &decision.template,
                    channel,
                    incident,
                    &self.config.store,
                    &extras,
                )?;
                let customer = &incident.customer;
                let recipient = match channel {
                    Channel::Email => customer.email.as_ref().map(|e| e.as_str().to_owned()),
                    Channel::Sms => customer.phone.as_ref().map(|p| p.as_str().to_owned()),
                }
                .ok_or(RecordError::NoContact(channel))?;
                let name = [
                    customer.first_name.as_deref(),
                    customer.last_name.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
                let outbox_id = Uuid::now_v7();
                let standby_for = previous.replace(outbox_id).filter(|_| chained);
                Ok(NewMessage {
                    outbox_id,
                    standby_for,
                    channel,
                    recipient,
                    recipient_name: (!name.is_empty()).then_some(name),
                    subject: rendered.subject,
                    body_text: rendered.text,
                    body_html: rendered.html,
                    due_at,
                    quiet_hours: due
                        .map(|d| d.quiet_hours)
                        .filter(|q| *q != QuietHours::Off)
                        .map(|q| q.to_string()),
                    scheduled_reason: due.and_then(|d| d.waits.clone()),
                })
            })
            .collect()
    }
}

/// Replaces the still-waiting messages of earlier incidents on the order that `incident`
/// supersedes: cancels them in the transaction, and forgets from `history` those the customer
/// never heard of, so the decision is made as if they had not been. Returns the lines for the
/// explanation.
async fn supersede(
    tx: &mut IncidentTx,
    history: &mut History,
    incident: &Incident,
) -> Result<Vec<String>, RecordError> {
    let replaced: Vec<(usize, Uuid)> = history
        .superseded_by(incident)
        .into_iter()
        .filter_map(|at| {
            let id = history.order_incidents.get(at)?.id.as_deref()?;
            Some((at, id.parse().ok()?))
        })
        .collect();
    if replaced.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = replaced.iter().map(|(_, id)| *id).collect();
    let reason = format!(
        "replaced before it went out by a newer {} on the order (event {})",
        incident.event_type.as_str(),
        incident.key.id()
    );
    let done = tx.supersede(&ids, &reason).await?;
    let cancelled: i64 = done.iter().map(|d| d.cancelled).sum();
    // Those the customer heard of anyway (another of their messages went out) stay in the
    // history: the frequency window still counts them.
    let unheard: Vec<usize> = replaced
        .iter()
        .filter(|(_, id)| {
            done.iter()
                .any(|d| d.incident_id == *id && d.cancelled > 0 && !d.heard)
        })
        .map(|(at, _)| *at)
        .collect();
    let heard: Vec<String> = replaced
        .iter()
        .filter(|(_, id)| done.iter().any(|d| d.incident_id == *id && d.cancelled > 0 && d.heard))
        .filter_map(|(at, _)| history.order_incidents.get(*at))
        .map(|prior| {
            format!(
                "cancels the waiting messages of {} (recorded {}); another of its messages went out, so it still counts as heard",
                prior.event_type.as_str(),
                prior.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        })
        .collect();
    // Cancelled messages were never sent: they no longer count as messages the customer got.
    history.messages = (history.messages - cancelled).max(0);
    let mut lines = history.forget_unheard(&unheard);
    lines.extend(heard);
    if cancelled > 0 {
        tracing::info!(
            cancelled,
            incidents = ids.len(),
            "replaced waiting messages of earlier incidents on the order"
        );
    }
    Ok(lines)
}

/// Settles the decision's plans against the budgets, reserving budget day `day`'s from the wallet
/// (the pure steps are [`Settlement`]'s): the plan that fit, and the budget taken for it.
async fn reserve<'d>(
    wallet: &Wallet,
    policy: &'d Policy,
    decision: &'d Decision,
    history: &History,
    currency: Currency,
    day: NaiveDate,
) -> Result<(Settled<'d>, Option<Taken>), RecordError> {
    let budget = &policy.settings().budget;
    let mut settlement = Settlement::new(budget, decision, currency, history.compensation);
    let mut taken = None;
    loop {
        match settlement.step() {
            Step::Reserve { cost, limit } => {
                let reservation = match wallet.take(day, &cost, limit).await? {
                    Ok((took, spent)) => {
                        taken = Some(took);
                        Reservation::Reserved { spent }
                    }
                    Err(spent) => Reservation::Refused { spent },
                };
                settlement.answer(reservation);
            }
            Step::Done(settled) => return Ok((settled, taken)),
        }
    }
}
