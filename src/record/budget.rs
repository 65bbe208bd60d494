//! The budget wallet: this replica's share of each day's global budget, reserved in chunks.
//!
//! Reserving every offer on the day's one budget row serialises every costing incident of every
//! replica on that row. Instead a replica reserves a chunk (at least a hundredth of the day's
//! limit) in one autocommitted statement that never reserves past the limit, and gives offers
//! from it in memory. What it did not give goes back to the day when the replica stops, or when
//! the day is over. Replicas together can therefore never give more than the limit; a replica
//! that crashes leaves the day short by what it held (at most a chunk), never over.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use tokio::sync::Mutex;

use crate::incident::{Currency, Money};
use crate::store::{Store, StoreError};

/// Connections of the wallet's own pool: reservations never queue behind incidents being
/// recorded, and are rare (one per chunk).
pub(super) const BUDGET_CONNECTIONS: u32 = 2;

/// The share of a day's limit reserved at once, when an offer needs less.
const CHUNK_SHARE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// What this replica holds of one day's budget in one currency.
#[derive(Debug, Clone, Copy, Default)]
struct Held {
    /// Reserved and not given.
    left: Decimal,
    /// The day's total as of this replica's last reservation (every replica's reservations).
    total: Decimal,
}

/// A reservation taken from the wallet, to give back if the incident is not recorded after all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Taken {
    day: NaiveDate,
    currency: Currency,
    amount: Decimal,
}

/// This replica's reserved budget, per day and currency.
#[derive(Debug)]
pub(super) struct Wallet {
    store: Store,
    held: Mutex<HashMap<(NaiveDate, Currency), Held>>,
}

impl Wallet {
    /// An empty wallet reserving through `store` (best on a pool of its own).
    pub(super) fn new(store: Store) -> Wallet {
        Wallet {
            store,
            held: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `cost` from day `day`'s budget if the day stays within `limit`: `Ok` with what the
    /// day had reserved before it (every replica's, less what this one still holds), or `Err`
    /// with the day's total when it does not fit.
    pub(super) async fn take(
        &self,
        day: NaiveDate,
        cost: &Money,
        limit: Decimal,
    ) -> Result<Result<(Taken, Decimal), Decimal>, StoreError> {
        let currency = cost.currency();
        let amount = cost.amount();
        // Held across the reservation: this replica's incidents wait for its one reservation
        // instead of each reserving a chunk of its own.
        let mut held = self.held.lock().await;
        self.return_past_days(&mut held, day).await;
        let mine = held.entry((day, currency)).or_default();
        if mine.left < amount {
            let need = amount - mine.left;
            let chunk = need.max(
                (limit * CHUNK_SHARE)
                    .round_dp_with_strategy(currency.minor_units(), RoundingStrategy::ToZero),
            );
            let mut total = None;
            if chunk <= limit {
                total = self
                    .store
                    .reserve_budget(day, currency, chunk, limit)
                    .await?;
            }
            let mut reserved = chunk;
            // Near the day's end a whole chunk may not fit where the offer still does.
            if total.is_none() && chunk > need && need <= limit {
                total = self
                    .store
                    .reserve_budget(day, currency, need, limit)
                    .await?;
                reserved = need;
            }
            match total {
                Some(total) => {
                    mine.left += reserved;
                    mine.total = total;
                }
                None => return Ok(Err(self.store.budget_spent(day, currency).await?)),
            }
        }
        let before = mine.total - mine.left;
        mine.left -= amount;
        Ok(Ok((
            Taken {
                day,
                currency,
                amount,
            },
            before,
        )))
    }

    /// Gives back what [`Wallet::take`] took, for an incident that was not recorded.
    pub(super) async fn give_back(&self, taken: Taken) {
        let mut held = self.held.lock().await;
        held.entry((taken.day, taken.currency)).or_default().left += taken.amount;
    }

    /// Returns everything held and not given to the days it was reserved from.
    pub(super) async fn return_unused(&self) {
        let mut held = self.held.lock().await;
        for ((day, currency), mine) in held.drain() {
            release(&self.store, day, currency, mine.left).await;
        }
    }

    /// Returns what is held for days before `today`: nothing more will be given from them.
    async fn return_past_days(
        &self,
        held: &mut HashMap<(NaiveDate, Currency), Held>,
        today: NaiveDate,
    ) {
        let past: Vec<(NaiveDate, Currency)> = held
            .keys()
            .filter(|(day, _)| *day < today)
            .copied()
            .collect();
        for key in past {
            if let Some(mine) = held.remove(&key) {
                release(&self.store, key.0, key.1, mine.left).await;
            }
        }
    }
}

/// Returns `left` to day `day`; a failure leaves the day short by it, never over, and is logged.
async fn release(store: &Store, day: NaiveDate, currency: Currency, left: Decimal) {
    if left.is_zero() {
        return;
    }
    match store.release_budget(day, currency, left).await {
        Ok(()) => tracing::debug!(%day, %currency, %left, "returned unused budget"),
        Err(e) => tracing::warn!(
            %day, %currency, %left, error = %e,
            "could not return unused budget: the day stays short by it"
        ),
    }
}
