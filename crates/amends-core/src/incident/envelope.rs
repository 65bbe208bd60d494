//! The CloudEvents 1.0 envelope, JSON structured mode (CONTRACT §1).
//!
//! Parsed with a small private serde struct whose attributes are all `Option<Value>`: serde only
//! splits the object, and the checks below name the attribute in every error. (The
//! `cloudevents-sdk` parser is not used here: its errors do not say which field is wrong.)

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::incident::error::quote;
use crate::incident::{EventKey, IncidentError, IncidentType, InvalidValue, check};

type Result<T> = std::result::Result<T, IncidentError>;

/// Largest body accepted, in bytes. An event of a thousand-line order with 200-character
/// names stays under half of it; a larger body is not an order incident, and would be stored
/// whole with every decision.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The attributes `amends` reads; everything else (extensions, `dataschema`) is ignored.
#[derive(serde::Deserialize)]
struct RawEnvelope {
    specversion: Option<Value>,
    id: Option<Value>,
    source: Option<Value>,
    #[serde(rename = "type")]
    event_type: Option<Value>,
    time: Option<Value>,
    subject: Option<Value>,
    datacontenttype: Option<Value>,
    data: Option<Value>,
    data_base64: Option<Value>,
}

/// A checked envelope; `data` is still raw (an object).
pub(crate) struct Envelope {
    pub(crate) key: EventKey,
    pub(crate) event_type: IncidentType,
    pub(crate) time: Option<DateTime<Utc>>,
    pub(crate) subject: Option<String>,
    pub(crate) data: Value,
}

/// Checks the content type, then the body as a structured-mode CloudEvent.
pub(crate) fn parse(body: &[u8], content_type: Option<&str>) -> Result<Envelope> {
    if let Some(content_type) = content_type
        && !is_cloudevents_json(content_type)
    {
        return Err(IncidentError::ContentType(content_type.to_owned()));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(IncidentError::TooLarge {
            bytes: body.len(),
            max: MAX_BODY_BYTES,
        });
    }
    // serde_json refuses nesting deeper than 128 levels, so no body can exhaust the stack.
    let value: Value =
        serde_json::from_slice(body).map_err(|e| IncidentError::Json(e.to_string()))?;
    if !value.is_object() {
        return Err(IncidentError::NotAnObject);
    }
    let raw: RawEnvelope =
        serde_json::from_value(value).map_err(|e| IncidentError::Json(e.to_string()))?;

    let specversion = string("specversion", raw.specversion.as_ref())?;
    if specversion != "1.0" {
        return Err(IncidentError::at(
            "specversion",
            format!("must be \"1.0\", got {}", quote(specversion)),
        ));
    }
    let id = checked("id", raw.id.as_ref(), check::identifier)?;
    let source = checked("source", raw.source.as_ref(), check::uri_reference)?;
    let event_type = string("type", raw.event_type.as_ref())?;
    let event_type = IncidentType::parse(event_type)
        .map_err(|_| IncidentError::UnsupportedType(event_type.to_owned()))?;
    let time = optional("time", raw.time.as_ref(), check::datetime)?;
    let subject = optional("subject", raw.subject.as_ref(), |s| {
        check::text(s, check::URI_MAX_CHARS)
    })?;
    optional("datacontenttype", raw.datacontenttype.as_ref(), |s| {
        if is_json_media_type(s) {
            Ok(())
        } else {
            Err(InvalidValue::new(format!(
                "{} is not a JSON media type",
                quote(s)
            )))
        }
    })?;
    let data = match (raw.data, raw.data_base64) {
        (Some(data), _) => data,
        (None, Some(_)) => {
            return Err(IncidentError::at(
                "data",
                "missing (data_base64 is not supported: send data as JSON)",
            ));
        }
        (None, None) => return Err(IncidentError::at("data", "missing")),
    };
    if !data.is_object() {
        return Err(IncidentError::at("data", "expected an object"));
    }
    let key = EventKey::from_checked(source, id);
    Ok(Envelope {
        key,
        event_type,
        time,
        subject,
        data,
    })
}

/// A required string attribute (`null` counts as missing).
fn string<'a>(field: &str, value: Option<&'a Value>) -> Result<&'a str> {
    match value {
        None | Some(Value::Null) => Err(IncidentError::at(field, "missing")),
        Some(value) => value
            .as_str()
            .ok_or_else(|| IncidentError::at(field, "expected a string")),
    }
}

fn checked<T>(
    field: &str,
    value: Option<&Value>,
    parse: impl FnOnce(&str) -> std::result::Result<T, InvalidValue>,
) -> Result<T> {
    parse(string(field, value)?).map_err(|e| IncidentError::at(field, e.into_problem()))
}

fn optional<T>(
    field: &str,
    value: Option<&Value>,
    parse: impl FnOnce(&str) -> std::result::Result<T, InvalidValue>,
) -> Result<Option<T>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        value => checked(field, value, parse).map(Some),
    }
}

/// The media type without parameters, lower-cased: `Application/JSON; charset=utf-8` → `application/json`.
fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The message content types accepted for a structured-mode event.
fn is_cloudevents_json(content_type: &str) -> bool {
    matches!(
        essence(content_type).as_str(),
        "application/cloudevents+json" | "application/json"
    )
}

/// `datacontenttype` values that mean "data is JSON" (CloudEvents JSON format §3.1).
fn is_json_media_type(media_type: &str) -> bool {
    let essence = essence(media_type);
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        for ok in [
            "application/cloudevents+json",
            "application/cloudevents+json; charset=utf-8",
            "application/json",
            "Application/JSON;charset=UTF-8",
        ] {
            assert!(is_cloudevents_json(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/cloudevents-batch+json",
            "",
            "application/xml",
        ] {
            assert!(!is_cloudevents_json(bad), "{bad}");
        }
        assert!(is_json_media_type("application/vnd.shop+json"));
        assert!(!is_json_media_type("text/xml"));
    }
}
