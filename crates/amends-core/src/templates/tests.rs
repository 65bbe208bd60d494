//! Rendering the shipped and hand-made templates, end to end.

use super::render::single_line;
use super::*;

fn en() -> Locale {
    Locale::parse("en").unwrap()
}

fn incident(event_type: &str, edit: impl FnOnce(&mut Value)) -> Incident {
    samples::edited(event_type, edit).unwrap()
}

fn in_locale(event_type: &str, locale: &str) -> Incident {
    incident(event_type, |e| {
        e["data"]["customer"]["locale"] = locale.into()
    })
}

/// Renders for the sample store, with no offers.
fn plain(
    templates: &Templates,
    key: &str,
    channel: Channel,
    incident: &Incident,
) -> Result<Rendered, TemplateError> {
    templates.render(
        key,
        channel,
        incident,
        &samples::store(),
        &Extras::apology(samples::now()),
    )
}

fn shipped() -> Templates {
    Templates::load(&crate::shipped("templates"), &Settings::new(&en())).unwrap()
}

fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

const KEYS: [(&str, &str); 3] = [
    ("order-delayed", "order.delayed"),
    ("order-stockout", "order.stockout"),
    ("order-cancelled", "order.cancelled"),
];

#[test]
fn every_shipped_template_renders_in_every_locale_with_every_offer() {
    let templates = shipped();
    for (key, event_type) in KEYS {
        for locale in ["en", "es-ES"] {
            let incident = in_locale(event_type, locale);
            let offers = samples::every_offer(&incident, samples::now());
            for extras in [
                Extras::apology(samples::now()),
                Extras {
                    offers: &offers,
                    escalated: true,
                    sent_at: samples::now(),
                    ..Extras::apology(samples::now())
                },
            ] {
                let store = samples::store();
                let email = templates
                    .render(key, Channel::Email, &incident, &store, &extras)
                    .unwrap();
                assert_eq!(email.locale, &locale[..2]);
                let subject = email.subject.unwrap();
                assert!(!subject.is_empty() && !subject.contains('\n'));
                let html = email.html.unwrap();
                assert!(html.contains("Northwind Outfitters"));
                assert!(
                    html.contains(&format!("lang=\"{locale}\"")),
                    "{key} {locale}"
                );
                let number = incident.order.number.as_deref().unwrap();
                assert!(email.text.contains(number), "{}", email.text);
                let sms = templates
                    .render(key, Channel::Sms, &incident, &store, &extras)
                    .unwrap();
                assert!(!sms.text.contains('<'), "{}", sms.text);
                assert!(sms.text.contains("Northwind Outfitters"));
                assert!(!sms.text.contains('\u{a0}'), "{}", sms.text);
            }
        }
    }
}

#[test]
fn money_and_dates_follow_the_customers_locale() {
    let templates = shipped();
    let spain = plain(
        &templates,
        "order-delayed",
        Channel::Email,
        &in_locale("order.delayed", "es-ES"),
    )
    .unwrap();
    assert!(spain.text.contains("129,90\u{a0}€"), "{}", spain.text);
    assert!(spain.text.contains("de noviembre"), "{}", spain.text);
    let ireland = plain(
        &templates,
        "order-delayed",
        Channel::Email,
        &in_locale("order.delayed", "en-IE"),
    )
    .unwrap();
    assert!(ireland.text.contains("€129.90"), "{}", ireland.text);
    assert!(ireland.text.contains("November"), "{}", ireland.text);
    // es-MX falls back to the Spanish template but formats money and dates for Mexico.
    let mexico = plain(
        &templates,
        "order-delayed",
        Channel::Email,
        &in_locale("order.delayed", "es-MX"),
    )
    .unwrap();
    assert_eq!(mexico.locale, "es");
    assert!(
        mexico.text.contains("EUR") || mexico.text.contains('€'),
        "{}",
        mexico.text
    );
}

#[test]
fn a_locale_without_templates_falls_back_to_the_default_in_its_language() {
    let templates = shipped();
    let french = plain(
        &templates,
        "order-delayed",
        Channel::Email,
        &in_locale("order.delayed", "fr-CA"),
    )
    .unwrap();
    assert_eq!(french.locale, "en");
    // English text, so English formatting: never "129,90 €" inside an English sentence.
    assert!(french.text.contains("€129.90"), "{}", french.text);
}

#[test]
fn texts_read_well_without_store_contacts() {
    let templates = shipped();
    let bare = StoreInfo::named("Northwind Outfitters");
    for (key, event_type) in KEYS {
        for locale in ["en", "es-ES"] {
            let incident = incident(event_type, |e| {
                e["data"]["order"].as_object_mut().unwrap().remove("url");
                e["data"]["customer"]["locale"] = locale.into();
            });
            for channel in [Channel::Email, Channel::Sms] {
                let message = templates
                    .render(
                        key,
                        channel,
                        &incident,
                        &bare,
                        &Extras::apology(samples::now()),
                    )
                    .unwrap();
                let all = format!("{}\n{}", message.text, message.html.unwrap_or_default());
                for dangling in [
                    "write to .",
                    "write to ,",
                    "escríbenos a .",
                    "href=\"\"",
                    "mailto:\"",
                    " at .",
                    " -\n",
                    " en .",
                    "()",
                ] {
                    assert!(
                        !all.contains(dangling),
                        "{key} {channel} {locale}: {dangling:?} in {all}"
                    );
                }
            }
        }
    }
}

#[test]
fn html_is_escaped_and_text_is_not() {
    let templates = shipped();
    let incident = incident("order.delayed", |e| {
        e["data"]["customer"]["first_name"] = "<script>alert(1)</script> & Co".into();
    });
    let email = plain(&templates, "order-delayed", Channel::Email, &incident).unwrap();
    let html = email.html.unwrap();
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;"));
    assert!(email.text.contains("<script>alert(1)</script> & Co"));
}

#[test]
fn issued_codes_and_a_follow_up_are_shown_on_every_channel() {
    let templates = shipped();
    for (locale, amount, expiry, follow_up) in [
        ("en-IE", "€25.00", "21 February 2027", "personally"),
        (
            "es-ES",
            "25,00\u{a0}€",
            "21 de febrero de 2027",
            "personalmente",
        ),
    ] {
        let incident = in_locale("order.delayed", locale);
        let mut gift = samples::offer(
            crate::policy::OfferKind::GiftCertificate,
            &incident,
            samples::now(),
        );
        gift.code = Some("SORRY-ABCD2345".to_owned());
        gift.expires_at = Some("2027-02-21T10:00:00Z".parse().unwrap());
        let offers = [gift];
        let extras = Extras {
            offers: &offers,
            escalated: true,
            sent_at: samples::now(),
            ..Extras::apology(samples::now())
        };
        let store = samples::store();
        let email = templates
            .render("order-delayed", Channel::Email, &incident, &store, &extras)
            .unwrap();
        // The HTML serialiser writes the no-break space of "25,00 €" as &nbsp;.
        let html = email.html.as_ref().unwrap().replace("&nbsp;", "\u{a0}");
        for part in [&email.text, &html] {
            assert!(part.contains("SORRY-ABCD2345"), "{part}");
            assert!(part.contains(amount), "{locale}: {part}");
            assert!(part.contains(expiry), "{locale}: {part}");
            assert!(part.contains(follow_up), "{locale}: {part}");
        }
        let sms = templates
            .render("order-delayed", Channel::Sms, &incident, &store, &extras)
            .unwrap();
        assert!(sms.text.contains("SORRY-ABCD2345"), "{}", sms.text);
        let apology = plain(&templates, "order-delayed", Channel::Sms, &incident).unwrap();
        assert!(!apology.text.contains("SORRY"), "{}", apology.text);
    }
}

#[test]
fn unknown_template_is_a_clear_error() {
    let templates = shipped();
    let err = plain(
        &templates,
        "order-lost",
        Channel::Sms,
        &incident("order.delayed", |_| {}),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no sms template \"order-lost\" for locale es-ES or its fallbacks"
    );
}

#[test]
fn strict_mode_rejects_unknown_variables_with_the_template() {
    let dir = dir(&[("oops/sms.en.hbs", "Hello {{customer.nickname}}")]);
    let templates = Templates::load(dir.path(), &Settings::new(&en())).unwrap();
    let err = plain(
        &templates,
        "oops",
        Channel::Sms,
        &incident("order.delayed", |_| {}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("customer.nickname"), "{err}");
}

#[test]
fn syntax_errors_name_file_and_line() {
    let dir = dir(&[(
        "bad/email.en.hbs",
        "---\nsubject: Hi\n---\n<p>ok</p>\n<p>{{#if x}}never closed</p>\n",
    )]);
    let err = Templates::load(dir.path(), &Settings::new(&en()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("email.en.hbs:"), "{err}");
    assert!(err.contains(":5:") || err.contains(":6:"), "{err}");
}

#[test]
fn partials_and_layouts_resolve_by_the_templates_locale() {
    let dir = dir(&[
        (
            "k/sms.en.hbs",
            "{{> partials/hi.txt}} {{> partials/bye.txt}}",
        ),
        (
            "k/sms.es.hbs",
            "{{> partials/hi.txt}} {{> partials/bye.txt}}",
        ),
        (
            "k/sms.pt.hbs",
            "{{> partials/hi.txt}} {{> partials/bye.txt}}",
        ),
        ("partials/hi.en.txt.hbs", "Hello"),
        ("partials/hi.es.txt.hbs", "Hola"),
        ("partials/bye.txt.hbs", "--"),
    ]);
    let templates = Templates::load(dir.path(), &Settings::new(&en())).unwrap();
    let text = |locale: &str| {
        plain(
            &templates,
            "k",
            Channel::Sms,
            &in_locale("order.delayed", locale),
        )
        .unwrap()
        .text
    };
    assert_eq!(text("es-MX"), "Hola --");
    assert_eq!(text("en-GB"), "Hello --");
    // Portuguese has its template but no partial of its own: the default locale's.
    assert_eq!(text("pt-BR"), "Hello --");
}

#[test]
fn the_stylesheet_is_inlined_and_media_queries_kept() {
    let dir = dir(&[
        (
            "k/email.en.hbs",
            "---\nsubject: S\n---\n<html><head><style>.p { color: #123456; } @media (prefers-color-scheme: dark) { .p { color: #fff !important; } }</style></head><body><p class=\"p\">{{store.name}}</p></body></html>",
        ),
        ("k/email.en.txt.hbs", "{{store.name}}"),
    ]);
    let templates = Templates::load(dir.path(), &Settings::new(&en())).unwrap();
    let html = plain(
        &templates,
        "k",
        Channel::Email,
        &incident("order.delayed", |_| {}),
    )
    .unwrap()
    .html
    .unwrap();
    assert!(html.contains("style=\"color: #123456;\""), "{html}");
    assert!(
        html.contains("@media (prefers-color-scheme: dark)"),
        "{html}"
    );
}

#[test]
fn sms_is_transliterated_only_for_the_configured_languages() {
    let dir = dir(&[
        ("k/sms.en.hbs", "Sorry"),
        ("k/sms.es.hbs", "Tu pedido llegará {{money order.total}}"),
    ]);
    let incident = in_locale("order.delayed", "es-ES");
    let off = Templates::load(dir.path(), &Settings::new(&en())).unwrap();
    assert_eq!(
        plain(&off, "k", Channel::Sms, &incident).unwrap().text,
        "Tu pedido llegará 129,90 €"
    );
    let mut settings = Settings::new(&en());
    settings.sms_transliterate = vec!["es".to_owned()];
    let on = Templates::load(dir.path(), &settings).unwrap();
    assert_eq!(
        plain(&on, "k", Channel::Sms, &incident).unwrap().text,
        "Tu pedido llegara 129,90 €"
    );
}

#[test]
fn the_version_names_the_texts_not_their_order() {
    let source = |name: &str, text: &str| Source {
        name: name.to_owned(),
        path: PathBuf::from(name),
        text: text.to_owned(),
    };
    let a = source("k/sms.en.hbs", "Sorry");
    let b = source("k/sms.es.hbs", "Lo sentimos");
    let settings = Settings::new(&en());
    let one = Templates::from_sources(&[a.clone(), b.clone()], &settings).unwrap();
    let other_order = Templates::from_sources(&[b.clone(), a.clone()], &settings).unwrap();
    assert_eq!(one.version(), other_order.version());
    assert_eq!(one.version().len(), 64);
    let edited =
        Templates::from_sources(&[a, source("k/sms.es.hbs", "Lo sentimos.")], &settings).unwrap();
    assert_ne!(one.version(), edited.version());
}

#[test]
fn header_values_become_one_line() {
    assert_eq!(single_line("Sorry\r\nBcc: x@y.z"), "Sorry Bcc: x@y.z");
}
