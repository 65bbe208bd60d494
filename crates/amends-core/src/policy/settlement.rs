//! Settlement: a decision's plans tried in order against the budgets until one fits.
//!
//! Pure: a [`Settlement`] says what to reserve and is told whether the reservation held. The
//! daemon answers from its replica's share of the daily budget, reserved in the database in
//! chunks; `policy explain` and the previews answer from the history they were given. Both
//! walk this one path, so what they say is what the daemon does.

use rand::Rng;
use rust_decimal::Decimal;

use super::{Budget, CodeFormat, Decision, History, Offer, Plan, Policy};
use crate::incident::{Currency, Money};

/// An offer the budget refused, for the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclinedOffer {
    /// The offer.
    pub offer: Offer,
    /// Why it was declined.
    pub reason: String,
}

/// What the one settling must do next.
#[derive(Debug)]
pub enum Step<'d> {
    /// Reserve `cost` from today's budget if the day stays within `limit`, then
    /// [`Settlement::answer`] whether that held.
    Reserve {
        /// What the plan costs.
        cost: Money,
        /// Today's budget in its currency.
        limit: Decimal,
    },
    /// Settled: no more steps.
    Done(Settled<'d>),
}

/// Whether a reservation held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reservation {
    /// Reserved; the day had spent `spent` before.
    Reserved {
        /// Spent today before this reservation.
        spent: Decimal,
    },
    /// Refused: the day had spent `spent`, too much for this cost.
    Refused {
        /// Spent today.
        spent: Decimal,
    },
}

/// The plan that fit the budgets, and what was refused on the way.
#[derive(Debug, Default, PartialEq)]
pub struct Settled<'d> {
    /// The plan given; `None` only for a policy with no plan that costs nothing.
    pub plan: Option<&'d Plan>,
    /// The offers of plans the budgets refused.
    pub declined: Vec<DeclinedOffer>,
    /// Why the plan given is not the rule's own.
    pub fallback_reason: Option<String>,
    /// One line per plan tried, for the explanation.
    pub lines: Vec<String>,
}

impl Settled<'_> {
    /// The plan's offers, each that issues a code with a fresh one from `codes`.
    pub fn grant(&self, codes: &CodeFormat, rng: &mut impl Rng) -> Vec<Offer> {
        self.plan.map(|p| p.grant(codes, rng)).unwrap_or_default()
    }

    /// Why a person should follow up, if the plan given says so.
    pub fn escalation(&self) -> Option<&str> {
        self.plan.and_then(|p| p.escalation.as_deref())
    }

    /// Whether `other` settled on the very plan this one did (of the same decision).
    pub fn same_plan(&self, other: &Settled<'_>) -> bool {
        match (self.plan, other.plan) {
            (Some(mine), Some(theirs)) => std::ptr::eq(mine, theirs),
            (None, None) => true,
            _ => false,
        }
    }
}

impl Plan {
    /// The offers, each that issues a code with a fresh one from `codes`: the one place codes
    /// are issued.
    pub fn grant(&self, codes: &CodeFormat, rng: &mut impl Rng) -> Vec<Offer> {
        self.offers
            .iter()
            .cloned()
            .map(|mut offer| {
                if offer.kind.issues_code() {
                    offer.code = Some(codes.generate(rng));
                }
                offer
            })
            .collect()
    }
}

/// A decision's plans being settled against the budgets, one [`Step`] at a time.
#[derive(Debug)]
pub struct Settlement<'d> {
    budget: &'d Budget,
    plans: &'d [Plan],
    next: usize,
    currency: Currency,
    /// What the customer received within the per-customer window.
    given: Decimal,
    /// The plan waiting for an answer, and its cost.
    pending: Option<(&'d Plan, Money)>,
    refused: Option<String>,
    settled: Settled<'d>,
}

impl<'d> Settlement<'d> {
    /// Settles `decision`'s plans in `currency` for a customer who received `given` within the
    /// per-customer window.
    pub fn new(
        budget: &'d Budget,
        decision: &'d Decision,
        currency: Currency,
        given: Decimal,
    ) -> Settlement<'d> {
        Settlement {
            budget,
            plans: &decision.plans,
            next: 0,
            currency,
            given,
            pending: None,
            refused: None,
            settled: Settled::default(),
        }
    }

    /// The next step: a reservation to make, or the settled plan.
    pub fn step(&mut self) -> Step<'d> {
        debug_assert!(self.pending.is_none(), "answer the reservation first");
        while let Some(plan) = self.plans.get(self.next) {
            self.next += 1;
            let cost = match plan.cost(self.currency) {
                Ok(cost) => cost,
                // Only a decision taken with `decide` gets here (`try_decide` refuses it).
                Err(e) => {
                    self.settled.lines.push(format!("{}: {e}", plan.label));
                    continue;
                }
            };
            match self.budget.precheck(&cost, self.given) {
                Ok(None) => return self.settle(plan),
                Ok(Some(limit)) => {
                    self.pending = Some((plan, cost));
                    return Step::Reserve { cost, limit };
                }
                Err(why) => self.refuse(plan, why),
            }
        }
        // The last plan costs nothing and always fits; this is reached only by a policy with
        // none.
        Step::Done(std::mem::take(&mut self.settled))
    }

    /// Whether the reservation [`Settlement::step`] asked for held.
    pub fn answer(&mut self, reservation: Reservation) {
        let Some((plan, cost)) = self.pending.take() else {
            return;
        };
        match reservation {
            Reservation::Reserved { spent } => {
                let currency = self.currency;
                self.settled.lines.push(format!(
                    "{}: {cost} fits the per-customer cap ({} {currency} given before) and today's budget ({spent} {currency} spent before)",
                    plan.label, self.given
                ));
                self.settled.plan = Some(plan);
                self.settled.fallback_reason =
                    self.refused.take().map(|why| format!("fallback: {why}"));
                self.next = self.plans.len();
            }
            Reservation::Refused { spent } => {
                let why = self
                    .budget
                    .daily_allows(&cost, spent)
                    .err()
                    .unwrap_or_else(|| format!("over the daily budget in {}", self.currency));
                self.refuse(plan, why);
            }
        }
    }

    fn settle(&mut self, plan: &'d Plan) -> Step<'d> {
        self.settled.plan = Some(plan);
        self.settled.fallback_reason = self.refused.take().map(|why| format!("fallback: {why}"));
        self.next = self.plans.len();
        Step::Done(std::mem::take(&mut self.settled))
    }

    fn refuse(&mut self, plan: &'d Plan, why: String) {
        self.settled.lines.push(format!("{}: {why}", plan.label));
        self.settled.declined.extend(
            plan.offers
                .iter()
                .filter(|o| !o.cost.amount().is_zero())
                .map(|o| DeclinedOffer {
                    offer: o.clone(),
                    reason: why.clone(),
                }),
        );
        self.refused = Some(why);
    }
}

impl Policy {
    /// Settles `decision` without a database, for `policy explain` and previews: today's
    /// spending and what the customer received are as `history` states them.
    pub fn settle_offline<'d>(
        &'d self,
        decision: &'d Decision,
        history: &History,
        currency: Currency,
    ) -> Settled<'d> {
        let budget = &self.settings().budget;
        let mut settlement = Settlement::new(budget, decision, currency, history.compensation);
        loop {
            match settlement.step() {
                Step::Reserve { cost, .. } => {
                    let spent = history.budget_spent_today;
                    settlement.answer(match budget.daily_allows(&cost, spent) {
                        Ok(()) => Reservation::Reserved { spent },
                        Err(_) => Reservation::Refused { spent },
                    });
                }
                Step::Done(settled) => return settled,
            }
        }
    }
}
