//! Channels and the choice among them: preference order, consent and contact details.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::incident::Customer;

/// A way to reach a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Email.
    Email,
    /// SMS.
    Sms,
}

impl Channel {
    /// The name used in the policy, the database and the outbox (`email`, `sms`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown channel name.
#[derive(Debug, thiserror::Error)]
#[error("unknown channel {0:?} (expected email or sms)")]
pub struct UnknownChannel(String);

impl FromStr for Channel {
    type Err = UnknownChannel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "email" => Ok(Channel::Email),
            "sms" => Ok(Channel::Sms),
            other => Err(UnknownChannel(other.to_owned())),
        }
    }
}

/// Why a channel could not be used for a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The customer has no email address.
    NoEmailAddress,
    /// The customer opted out of email.
    NoEmailConsent,
    /// The customer has no phone number.
    NoPhoneNumber,
    /// The customer has not consented to SMS.
    NoSmsConsent,
    /// The address is on the suppression list (a hard bounce or a spam complaint).
    EmailSuppressed,
    /// The number is on the suppression list (the customer replied STOP).
    SmsSuppressed,
}

impl SkipReason {
    /// A short human explanation.
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::NoEmailAddress => "no email address",
            SkipReason::NoEmailConsent => "no email consent",
            SkipReason::NoPhoneNumber => "no phone number",
            SkipReason::NoSmsConsent => "no SMS consent",
            SkipReason::EmailSuppressed => "the address is suppressed (bounced or complained)",
            SkipReason::SmsSuppressed => "the number is suppressed (replied STOP)",
        }
    }
}

/// Whether `channel` can reach `customer`, and if not, why.
pub fn usable(channel: Channel, customer: &Customer) -> Result<(), SkipReason> {
    match channel {
        Channel::Email if customer.email.is_none() => Err(SkipReason::NoEmailAddress),
        Channel::Email if !customer.consent.email => Err(SkipReason::NoEmailConsent),
        Channel::Email => Ok(()),
        Channel::Sms if customer.phone.is_none() => Err(SkipReason::NoPhoneNumber),
        Channel::Sms if !customer.consent.sms => Err(SkipReason::NoSmsConsent),
        Channel::Sms => Ok(()),
    }
}

/// The first usable channel in preference order, and each channel skipped before it with why;
/// `suppressed` channels are never usable.
pub fn choose(
    preference: &[Channel],
    customer: &Customer,
    suppressed: &[Channel],
) -> (Option<Channel>, Vec<(Channel, SkipReason)>) {
    let mut skipped = Vec::new();
    for &channel in preference {
        let allowed = usable(channel, customer).and_then(|()| {
            match (suppressed.contains(&channel), channel) {
                (false, _) => Ok(()),
                (true, Channel::Email) => Err(SkipReason::EmailSuppressed),
                (true, Channel::Sms) => Err(SkipReason::SmsSuppressed),
            }
        });
        match allowed {
            Ok(()) => return (Some(channel), skipped),
            Err(reason) => skipped.push((channel, reason)),
        }
    }
    (None, skipped)
}
