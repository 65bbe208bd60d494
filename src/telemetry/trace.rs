//! Distributed tracing: spans exported over OTLP when `otlp_endpoint` is set, and the W3C trace
//! context that links them to the order system's trace (the CloudEvents distributed-tracing
//! extension, `traceparent` and `tracestate`) and on to the outcome events amends publishes.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Where spans go and what names this process in them.
#[derive(Debug, Clone)]
pub struct TraceExport {
    /// The collector's OTLP/HTTP base URL; spans are posted to `/v1/traces` under it.
    pub endpoint: url::Url,
    /// `service.instance.id`: the instance name.
    pub instance: String,
}

/// The span exporter's provider, built from `export`.
pub(super) fn provider(
    export: &TraceExport,
) -> Result<opentelemetry_sdk::trace::SdkTracerProvider, String> {
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    // The exporter's reqwest has no TLS crypto provider of its own: ring, as everywhere in
    // amends. Installing fails only when one is installed already, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let endpoint = format!(
        "{}/v1/traces",
        export.endpoint.as_str().trim_end_matches('/')
    );
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .with_timeout(std::time::Duration::from_secs(10))
        .with_headers(HashMap::new())
        .build()
        .map_err(|e| e.to_string())?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("amends")
        .with_attributes([
            opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            opentelemetry::KeyValue::new("service.instance.id", export.instance.clone()),
        ])
        .build();
    Ok(opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// A W3C `traceparent` and its `tracestate`, as an event carried them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct TraceContext {
    /// `00-<trace id>-<parent id>-<flags>`.
    pub traceparent: Option<String>,
    /// Vendor-specific state that travels with it.
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// The trace context of a structured-mode CloudEvent's body (its extension attributes),
    /// else of the message's own headers; reads nothing else of the body. A malformed or
    /// absent one is no trace context, never an error: tracing must not refuse an event.
    pub fn of_event(body: &[u8], header: impl Fn(&str) -> Option<String>) -> TraceContext {
        let from_body = serde_json::from_slice::<TraceContext>(body).unwrap_or_default();
        let found = if from_body.traceparent.is_some() {
            from_body
        } else {
            TraceContext {
                traceparent: header("traceparent"),
                tracestate: header("tracestate"),
            }
        };
        // Only a well-formed one is kept, so nothing else is stored or passed on.
        match &found.traceparent {
            Some(parent) if parse(parent).is_some() => found,
            _ => TraceContext::default(),
        }
    }

    /// Makes `span` a child of this context's span (no-op without one, or without export).
    pub fn adopt(&self, span: &tracing::Span) {
        let Some(traceparent) = &self.traceparent else {
            return;
        };
        let mut carrier = HashMap::from([("traceparent".to_owned(), traceparent.clone())]);
        if let Some(state) = &self.tracestate {
            carrier.insert("tracestate".to_owned(), state.clone());
        }
        let parent = TraceContextPropagator::new().extract(&carrier);
        // Fails only when no OpenTelemetry layer is installed: then there is nothing to link.
        let _ = span.set_parent(parent);
    }

    /// What to record and pass on for an event handled in `span`: the span's own traceparent
    /// when spans are exported (so amends' span sits between the order system's and what
    /// follows), else the one the event came with.
    pub fn passed_on(&self, span: &tracing::Span) -> Option<String> {
        traceparent_of(span).or_else(|| self.traceparent.clone())
    }
}

/// `span`'s W3C traceparent, when it is part of an exported trace.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_ref = context.span();
    let span_context = span_ref.span_context();
    span_context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            span_context.trace_id(),
            span_context.span_id(),
            span_context.trace_flags().to_u8()
        )
    })
}

/// Checks the shape of a version-00 traceparent: `00-` 32 hex `-` 16 hex `-` 2 hex, ids not all
/// zero.
fn parse(traceparent: &str) -> Option<()> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
    (parts.next().is_none()
        && version == "00"
        && hex(trace, 32)
        && nonzero(trace)
        && hex(parent, 16)
        && nonzero(parent)
        && hex(flags, 2))
    .then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn the_body_s_extension_comes_first_then_the_headers() {
        let body =
            format!(r#"{{"specversion":"1.0","traceparent":"{PARENT}","tracestate":"k=v"}}"#);
        let found = TraceContext::of_event(body.as_bytes(), |_| None);
        assert_eq!(found.traceparent.as_deref(), Some(PARENT));
        assert_eq!(found.tracestate.as_deref(), Some("k=v"));

        let header = |name: &str| (name == "traceparent").then(|| PARENT.to_owned());
        let found = TraceContext::of_event(br#"{"specversion":"1.0"}"#, header);
        assert_eq!(found.traceparent.as_deref(), Some(PARENT));
    }

    #[test]
    fn a_malformed_or_absent_one_is_none() {
        for bad in [
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0af7651916cd43dd-b7ad6b7169203331-01",
            "nonsense",
        ] {
            let body = format!(r#"{{"traceparent":"{bad}"}}"#);
            assert_eq!(
                TraceContext::of_event(body.as_bytes(), |_| None),
                TraceContext::default()
            );
        }
        assert_eq!(
            TraceContext::of_event(b"not json", |_| None),
            TraceContext::default()
        );
        assert_eq!(
            TraceContext::of_event(br#"{"traceparent": 42}"#, |_| None),
            TraceContext::default()
        );
    }

    #[test]
    fn without_export_the_incoming_one_is_passed_on() {
        let incoming = TraceContext {
            traceparent: Some(PARENT.to_owned()),
            tracestate: None,
        };
        let span = tracing::info_span!("event");
        incoming.adopt(&span);
        assert_eq!(incoming.passed_on(&span).as_deref(), Some(PARENT));
    }
}
