//! The grammar of template file names: what a file under `templates/` is, by its name. The
//! loader, the admin API and the editor all read names through [`Role`].

use crate::incident::Locale;
use crate::policy::Channel;

/// What one file under `templates/` is, by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// `layouts/<name>[.<locale>][.txt].hbs` or `partials/…`, registered as `<group>/<name>[.txt]`.
    Shared {
        /// Registered name, e.g. `partials/offers.txt`.
        name: String,
        /// `None` for a locale-neutral file.
        locale: Option<String>,
        /// A text partial (`.txt.hbs`), for text parts and SMS.
        text: bool,
    },
    /// `<key>/email.<locale>.hbs`, `email.<locale>.txt.hbs` or `sms.<locale>.hbs`.
    Message {
        /// Template key (its directory).
        key: String,
        /// Channel.
        channel: Channel,
        /// Locale of the file.
        locale: String,
        /// The email's plain-text part.
        text: bool,
    },
}

impl Role {
    /// Works out what a file is from its name relative to the templates directory
    /// (`order-delayed/sms.es.hbs`, `partials/offers.es.txt.hbs`, …), or says why it is none.
    pub fn parse(name: &str) -> Result<Role, String> {
        let (group, file) = name
            .split_once('/')
            .ok_or_else(|| "a template must sit in a directory (its key)".to_owned())?;
        let stem = file
            .strip_suffix(".hbs")
            .ok_or_else(|| "not a template: the name must end in .hbs".to_owned())?;
        let (stem, text) = match stem.strip_suffix(".txt") {
            Some(stem) => (stem, true),
            None => (stem, false),
        };
        let locale = |tag: &str| {
            Locale::parse(tag)
                .map(|l| l.to_string())
                .map_err(|e| format!("the file name has an invalid locale: {e}"))
        };
        if group == "layouts" || group == "partials" {
            let (base, tag) = match stem.split_once('.') {
                Some((base, tag)) => (base, Some(locale(tag)?)),
                None => (stem, None),
            };
            let suffix = if text { ".txt" } else { "" };
            return Ok(Role::Shared {
                name: format!("{group}/{base}{suffix}"),
                locale: tag,
                text,
            });
        }
        let expected =
            || "expected email.<locale>.hbs, email.<locale>.txt.hbs or sms.<locale>.hbs".to_owned();
        let (channel, tag) = match stem.split_once('.') {
            Some(("email", tag)) => (Channel::Email, tag),
            Some(("sms", tag)) if !text => (Channel::Sms, tag),
            _ => return Err(expected()),
        };
        Ok(Role::Message {
            key: group.to_owned(),
            channel,
            locale: locale(tag)?,
            text,
        })
    }

    /// What kind of file it is, as the admin API names it: `layout`, `partial`,
    /// `partial_text`, `email`, `email_text` or `sms`.
    pub fn kind(&self) -> &'static str {
        match self {
            Role::Shared { name, .. } if name.starts_with("layouts/") => "layout",
            Role::Shared { text: true, .. } => "partial_text",
            Role::Shared { .. } => "partial",
            Role::Message {
                channel: Channel::Sms,
                ..
            } => "sms",
            Role::Message { text: true, .. } => "email_text",
            Role::Message { .. } => "email",
        }
    }

    /// The file's locale; `None` for a locale-neutral shared file.
    pub fn locale(&self) -> Option<&str> {
        match self {
            Role::Shared { locale, .. } => locale.as_deref(),
            Role::Message { locale, .. } => Some(locale),
        }
    }

    /// The template key and channel the file is previewed with: its own for a template's
    /// file; the delay apology for a shared file, by SMS when its name starts with `sms`.
    pub fn preview_target(&self) -> (String, Channel) {
        match self {
            Role::Message { key, channel, .. } => (key.clone(), *channel),
            Role::Shared { name, .. } => {
                let base = name.split_once('/').map_or(name.as_str(), |(_, base)| base);
                let channel = if base.starts_with("sms") {
                    Channel::Sms
                } else {
                    Channel::Email
                };
                ("order-delayed".to_owned(), channel)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_say_what_a_file_is() {
        assert_eq!(
            Role::parse("order-delayed/email.es-MX.txt.hbs").unwrap(),
            Role::Message {
                key: "order-delayed".into(),
                channel: Channel::Email,
                locale: "es-MX".into(),
                text: true
            }
        );
        assert_eq!(
            Role::parse("partials/offers.es.txt.hbs").unwrap(),
            Role::Shared {
                name: "partials/offers.txt".into(),
                locale: Some("es".into()),
                text: true
            }
        );
        assert_eq!(
            Role::parse("layouts/email.hbs").unwrap(),
            Role::Shared {
                name: "layouts/email".into(),
                locale: None,
                text: false
            }
        );
        assert!(Role::parse("order-delayed/sms.es.txt.hbs").is_err());
        assert!(Role::parse("order-delayed/letter.en.hbs").is_err());
        assert!(
            Role::parse("order-delayed/email.xx-!!.hbs")
                .unwrap_err()
                .contains("invalid locale")
        );
    }

    #[test]
    fn kind_locale_and_preview_follow_the_name() {
        let role = |name: &str| Role::parse(name).unwrap();
        assert_eq!(role("order-delayed/email.es.hbs").kind(), "email");
        assert_eq!(role("order-delayed/email.es.txt.hbs").kind(), "email_text");
        assert_eq!(role("order-delayed/sms.en.hbs").kind(), "sms");
        assert_eq!(role("partials/offers.es.txt.hbs").kind(), "partial_text");
        assert_eq!(role("partials/offers.es.hbs").kind(), "partial");
        assert_eq!(role("layouts/email.hbs").kind(), "layout");
        assert_eq!(role("order-delayed/email.es.txt.hbs").locale(), Some("es"));
        assert_eq!(role("layouts/email.hbs").locale(), None);
        assert_eq!(role("partials/footer.en.hbs").locale(), Some("en"));
        assert_eq!(
            role("order-cancelled/sms.es.hbs").preview_target(),
            ("order-cancelled".to_owned(), Channel::Sms)
        );
        assert_eq!(
            role("order-stockout/email.en.txt.hbs").preview_target(),
            ("order-stockout".to_owned(), Channel::Email)
        );
        assert_eq!(
            role("partials/sms-offers.es.txt.hbs").preview_target(),
            ("order-delayed".to_owned(), Channel::Sms)
        );
        assert_eq!(
            role("layouts/email.hbs").preview_target(),
            ("order-delayed".to_owned(), Channel::Email)
        );
    }
}
