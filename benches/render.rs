//! Rendering throughput on one core: `cargo bench --bench render`.
//!
//! A typical email is the Spanish order-delayed message with one percentage code (subject,
//! preheader, HTML with the layout and partials, its stylesheet inlined, and the text part);
//! a typical SMS is the same incident's. Each is rendered on one thread, repeatedly, for a
//! couple of seconds after a warm-up, and reported as messages per second per core. The finished
//! HTML is also run through css-inline again: its rules are inlined already, so that is the cost
//! of parsing and serialising the email, a lower bound of what inlining takes of the email's time.
//!
//! The console's edits cost more than a render: each preview and publish checks the whole set of
//! templates (every variable in every branch, every sample rendered, every SMS measured), and
//! each replica rebuilds the set when a text is published. Both are timed too.

use std::path::Path;
use std::time::{Duration, Instant};

use amends::incident::Locale;
use amends::policy::{Channel, OfferKind};
use amends::templates::{Extras, Settings, Templates, samples};

fn main() -> anyhow::Result<()> {
    let en = Locale::parse("en")?;
    let es = Locale::parse("es-ES")?;
    let templates = Templates::load(Path::new("templates"), &Settings::new(&en))?;
    let incident = samples::incident("order.delayed", &es)
        .ok_or_else(|| anyhow::anyhow!("no sample order.delayed"))?;
    let offers = [samples::offer(
        OfferKind::PercentOff,
        &incident,
        samples::now(),
    )];
    let extras = Extras {
        offers: &offers,
        escalated: false,
        sent_at: samples::now(),
        ..Extras::apology(samples::now())
    };
    let store = samples::store();
    let render = |channel| templates.render("order-delayed", channel, &incident, &store, &extras);

    let email = render(Channel::Email)?;
    let html = email.html.clone().unwrap_or_default();
    println!(
        "typical email: {} bytes of HTML, {} of text; SMS: {} characters",
        html.len(),
        email.text.len(),
        render(Channel::Sms)?.text.chars().count()
    );
    let inliner = css_inline::CSSInliner::options()
        .keep_at_rules(true)
        .build();

    let email_rate = measure(|| render(Channel::Email).map(|_| ()))?;
    let sms_rate = measure(|| render(Channel::Sms).map(|_| ()))?;
    let inline_rate = measure(|| inliner.inline(&html).map(|_| ()))?;
    println!(
        "email: {:>8.0} messages/s/core ({:.0} µs each)",
        email_rate,
        1e6 / email_rate
    );
    println!(
        "sms:   {:>8.0} messages/s/core ({:.1} µs each)",
        sms_rate,
        1e6 / sms_rate
    );
    println!(
        "css-inline parsing and serialising it again: {:.0} µs ({:.0}% of the email)",
        1e6 / inline_rate,
        100.0 * email_rate / inline_rate
    );

    let sources = amends::templates::read_sources(Path::new("templates"))?;
    let settings = Settings::new(&en);
    let checked = amends::templates::check::check(&sources, &settings, &store, 3);
    let check_rate = measure(|| {
        amends::templates::check::check(&sources, &settings, &store, 3);
        Ok::<(), std::io::Error>(())
    })?;
    let build_rate = measure(|| Templates::from_sources(&sources, &settings).map(|_| ()))?;
    println!(
        "check of every template ({} files, {} renders; each console preview and publish): {:.1} ms",
        sources.len(),
        checked.rendered,
        1e3 / check_rate
    );
    println!(
        "building the set (each replica, when a text is published): {:.1} ms",
        1e3 / build_rate
    );
    Ok(())
}

/// Runs `f` for half a second to warm up, then for two seconds; returns calls per second.
fn measure<E: std::error::Error + Send + Sync + 'static>(
    mut f: impl FnMut() -> Result<(), E>,
) -> anyhow::Result<f64> {
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(500) {
        f()?;
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(2) {
        f()?;
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}
