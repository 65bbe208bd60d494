//! The keyed limiters of sign-in and the bearer token, and the keys they count by.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::AccessLimits;
use crate::http::error::ApiError;

/// The limiters forget full buckets every this many attempts.
pub(super) const PRUNE_EVERY: u32 = 256;

/// The keyed limiters of sign-in and the bearer token.
pub(super) struct Limits {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_account: DefaultKeyedRateLimiter<String>,
    by_device: DefaultKeyedRateLimiter<String>,
    bearer: DefaultKeyedRateLimiter<IpAddr>,
    attempts: AtomicU32,
}

impl Limits {
    pub(super) fn new(config: AccessLimits) -> Limits {
        let quota = |attempts: u32, refill: Duration| {
            let burst = NonZeroU32::new(attempts).unwrap_or(NonZeroU32::MIN);
            // Configuration refuses a zero refill period; a second stands in for one anyway.
            Quota::with_period(refill)
                .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                .allow_burst(burst)
        };
        let sign_in = quota(config.sign_in_attempts, config.sign_in_refill);
        let bearer = quota(config.bearer_attempts, config.bearer_refill);
        Limits {
            by_address: DefaultKeyedRateLimiter::keyed(sign_in),
            by_account: DefaultKeyedRateLimiter::keyed(sign_in),
            by_device: DefaultKeyedRateLimiter::keyed(sign_in),
            bearer: DefaultKeyedRateLimiter::keyed(bearer),
            attempts: AtomicU32::new(0),
        }
    }

    /// Forgets the keys whose buckets are full again, every [`PRUNE_EVERY`] attempts.
    fn prune(&self) {
        if !self
            .attempts
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PRUNE_EVERY)
        {
            return;
        }
        self.by_address.retain_recent();
        self.by_account.retain_recent();
        self.by_device.retain_recent();
        self.bearer.retain_recent();
        self.by_address.shrink_to_fit();
        self.by_account.shrink_to_fit();
        self.by_device.shrink_to_fit();
        self.bearer.shrink_to_fit();
    }

    /// Takes a sign-in cell: from the device's bucket when the attempt carries a device cookie
    /// for this account, else from the address's and then the account's.
    pub(super) fn reserve_sign_in(
        &self,
        address: IpAddr,
        account: &str,
        device: Option<&str>,
    ) -> Result<(), ApiError> {
        self.prune();
        match device {
            Some(device) => self
                .by_device
                .check_key(&device.to_owned())
                .map_err(refused)?,
            None => {
                self.by_address.check_key(&address).map_err(refused)?;
                self.by_account
                    .check_key(&account.to_lowercase())
                    .map_err(refused)?;
            }
        }
        Ok(())
    }

    /// Takes a bearer-token cell for `address`.
    pub(super) fn reserve_bearer(&self, address: IpAddr) -> Result<(), ApiError> {
        self.prune();
        self.bearer.check_key(&address).map_err(refused)
    }
}

/// A refusal by a limiter, with how long to wait.
fn refused(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> ApiError {
    let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
    ApiError::TooMany {
        retry_after: wait.as_secs() + 1,
    }
}

/// The key a client address is limited by: IPv6 clients by their /64, as one host usually has
/// a whole /64 to pick addresses from.
pub(super) fn limit_key(address: Option<IpAddr>) -> IpAddr {
    match address {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(octets.into())
            }
        },
        Some(v4) => v4,
        None => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    }
}
