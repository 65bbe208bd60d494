//! How a send failed, classified once so the dispatcher can decide what to do.

use std::time::Duration;

/// The classified failure of one send.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// Nothing was delivered and trying again later may work (4xx, connection refused, 429).
    #[error("transient: {message}")]
    Retryable {
        /// What the provider said.
        message: String,
        /// How long the provider asked us to wait, if it did.
        retry_after: Option<Duration>,
    },
    /// This provider cannot take the message (bad credentials, account disabled): another may.
    #[error("provider refused: {message}")]
    ProviderRejected {
        /// What the provider said.
        message: String,
    },
    /// No provider will ever deliver this message (invalid address, rejected content).
    #[error("permanent: {message}")]
    Permanent {
        /// What the provider said.
        message: String,
    },
    /// The provider may or may not have accepted it (a timeout mid-send): never resent blindly.
    #[error("outcome unknown: {message}")]
    Unknown {
        /// What happened.
        message: String,
    },
}
