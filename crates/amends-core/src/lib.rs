//! The pure core of amends: what an incident is, what the policy decides for it, and what the
//! message says. No database, broker, network or async runtime: the clock and randomness come in
//! as arguments, so every rule here is tested without I/O.
//!
//! - [`incident`]: parse and validate a CloudEvent into a typed incident;
//! - [`policy`]: decide template, channels, offers, budgets and escalation for an incident;
//! - [`templates`]: check and render the message per channel and locale, with the samples the
//!   previews use;
//! - [`timing`]: quiet hours and calling hours in the customer's own time zone.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod incident;
pub mod policy;
pub mod templates;
pub mod timing;

/// A file the repository ships (the default policy, the templates), for the tests.
#[cfg(test)]
pub(crate) fn shipped(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}
