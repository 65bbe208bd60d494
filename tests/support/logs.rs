//! `TEST_LOG=1`: show the daemon's logs in a test's output. The level is `RUST_LOG`'s, `info`
//! when it is not set. Without it, tests stay quiet.

/// Whether `TEST_LOG` asks for the daemon's logs.
pub fn wanted() -> bool {
    std::env::var("TEST_LOG").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The log level a daemon started by a test runs with.
#[allow(dead_code)] // Only the tests that start the binary use it.
pub fn level() -> String {
    match std::env::var("RUST_LOG") {
        Ok(level) if wanted() => level,
        _ if wanted() => "info".to_owned(),
        _ => "warn".to_owned(),
    }
}

/// Shows the logs of a daemon running in the test's own process, once per process; a no-op
/// unless [`wanted`].
#[allow(dead_code)] // Not every test binary runs the daemon in process.
pub fn init() {
    if wanted() {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        // Captured per test by the harness, shown for the failing ones (or all with --nocapture).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
}
