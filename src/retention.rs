//! The retention job (CONTRACT §3 `AMENDS_RETENTION`): erases the personal data of incidents
//! older than the retention, in batches, every `retention_check_interval`. Every replica runs
//! it; a database lock lets one at a time erase, and the others skip that round.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::store::{Erased, Store};

/// Incidents erased per transaction: short transactions, whatever the backlog.
const BATCH: i64 = 500;

/// The job's settings and the database it erases in.
pub struct Retention {
    /// The database.
    pub store: Store,
    /// How long personal data is kept.
    pub keep: Duration,
    /// How often to look.
    pub interval: Duration,
    /// The daemon's "now".
    pub clock: Clock,
}

impl Retention {
    /// Erases at once, then every interval, until `token` is cancelled.
    pub async fn run(self, token: CancellationToken) {
        loop {
            if let Err(e) = self.erase_due(&token).await {
                tracing::warn!(error = %e, "erasing old personal data failed; trying again later");
            }
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// Erases everything older than the retention, batch by batch, unless another replica is
    /// erasing or `token` is cancelled; what was erased in all.
    pub async fn erase_due(
        &self,
        token: &CancellationToken,
    ) -> Result<Erased, crate::store::StoreError> {
        let keep = chrono::Duration::from_std(self.keep).unwrap_or(chrono::Duration::MAX);
        let before = self.clock.now() - keep;
        let mut total = Erased::default();
        while !token.is_cancelled() {
            let Some(erased) = self.store.erase_older_than(before, BATCH).await? else {
                tracing::debug!("another replica is erasing old personal data");
                break;
            };
            total.incidents += erased.incidents;
            total.messages += erased.messages;
            total.receipts += erased.receipts;
            total.watches += erased.watches;
            if erased.incidents < BATCH && erased.watches < BATCH {
                break;
            }
        }
        if total.incidents > 0 || total.watches > 0 {
            tracing::info!(
                incidents = total.incidents,
                messages = total.messages,
                receipts = total.receipts,
                watches = total.watches,
                %before,
                "erased personal data older than the retention"
            );
        }
        Ok(total)
    }
}
