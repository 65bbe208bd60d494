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

const KEYS: [(&str, &str); 5] = [
    ("order-delayed", "order.delayed"),
    ("order-stockout", "order.stockout"),
    ("order-cancelled", "order.cancelled"),
    ("order-overdue", "order.overdue"),
    ("order-overdue-update", "order.overdue"),
];

/// What each shipped language says where the sweeping tests below look, for a customer of
/// that locale: the template it reads, its one apology, the contact sentence, the promises
/// that only a decision may make, the repeat, the amends, and the end of every SMS.
struct Words {
    /// The customer's locale.
    locale: &'static str,
    /// The template locale that customer reads.
    template: &'static str,
    /// The apology, each way it is worded (case matters: the codes are SORRY-…).
    sorry: &'static [&'static str],
    /// The body's sentence on how to reach a person, never repeated by the footer.
    contact: &'static str,
    /// Only when a person follows up.
    follow_up: &'static [&'static str],
    /// Only when the policy will write again.
    update: &'static [&'static str],
    /// When the call is, in the email and in the SMS.
    call_today: (&'static str, &'static str),
    /// The second incident, and the fourth.
    second_time: &'static str,
    not_first: &'static str,
    /// The heading of amends where the harm was ours.
    make_up: &'static str,
    /// How every SMS ends with the sample store: a person to reach, then the opt-out.
    sms_end: &'static str,
    /// What a delay sent after its dates passed must not say: "before you had to ask", and
    /// the passed new date, in words and in digits.
    stale: &'static [&'static str],
}

const LANGUAGES: [Words; 6] = [
    Words {
        locale: "en-GB",
        template: "en",
        sorry: &["sorry"],
        contact: "You can also write to",
        follow_up: &["following it up", "call you", "personally"],
        update: &[
            "write to you again",
            "if anything changes",
            "send you the new delivery date",
        ],
        call_today: ("today, between", "today, between"),
        second_time: "the second time",
        not_first: "isn't the first time",
        make_up: "make it up to you",
        sms_end: "Questions? Call +34 910 000 000. Reply STOP to opt out.",
        stale: &[
            "before you had to ask",
            "(yesterday)",
            "29 November",
            "29/11/2026",
        ],
    },
    Words {
        locale: "es-ES",
        template: "es",
        sorry: &["entimos"],
        contact: "También puedes escribirnos a",
        follow_up: &[
            "siguiendo el caso",
            "te llamará",
            "te llamaremos",
            "personalmente",
        ],
        update: &[
            "te escribiremos de nuevo",
            "si algo cambia",
            "te enviaremos la nueva fecha",
        ],
        call_today: ("hoy, entre las", "hoy, entre las"),
        second_time: "la segunda vez",
        not_first: "no es la primera vez",
        make_up: "compensarte",
        sms_end: "¿Dudas? Llama al +34 910 000 000. Responde STOP para dejar de recibir SMS.",
        stale: &[
            "antes de que tuvieras que preguntar",
            "(ayer)",
            "29 de noviembre",
            "29/11/26",
        ],
    },
    Words {
        locale: "fr-FR",
        template: "fr",
        sorry: &["désolé"],
        contact: "Vous pouvez aussi nous écrire à",
        follow_up: &[
            "suivons le dossier",
            "vous appellera",
            "vous appellerons",
            "personnellement",
        ],
        update: &[
            "nous vous écrirons à nouveau",
            "si quelque chose change",
            "nous vous enverrons la nouvelle date",
        ],
        call_today: ("aujourd'hui, entre", "aujourd'hui entre"),
        second_time: "la deuxième fois",
        not_first: "ce n'est pas la première fois",
        make_up: "nous faire pardonner",
        sms_end: "Des questions ? Appelez le +34 910 000 000. Répondez STOP pour vous désabonner.",
        stale: &[
            "avant que vous n'ayez à nous le demander",
            "(hier)",
            "29 novembre",
            "29/11/2026",
        ],
    },
    Words {
        locale: "de-DE",
        template: "de",
        sorry: &["tut uns"],
        contact: "Sie können uns auch an",
        follow_up: &["haken", "ruft sie", "wir rufen sie", "persönlich"],
        update: &[
            "schreiben ihnen wieder",
            "sollte sich etwas ändern",
            "den neuen liefertermin schicken wir",
        ],
        call_today: ("heute zwischen", "heute zwischen"),
        second_time: "zum zweiten Mal",
        not_first: "nicht das erste Mal",
        make_up: "Wiedergutmachung",
        sms_end: "Fragen? Telefon: +34 910 000 000. Keine SMS mehr? Antworten Sie STOP.",
        stale: &[
            "bevor Sie nachfragen müssen",
            "(gestern)",
            "29. November",
            "29.11.26",
        ],
    },
    Words {
        locale: "pt-PT",
        template: "pt",
        sorry: &["desculpa", "amentamos"],
        contact: "Também nos pode escrever para",
        follow_up: &[
            "acompanhar o caso",
            "ligar-lhe",
            "pessoalmente",
            "em contacto consigo",
        ],
        update: &[
            "voltaremos a escrever",
            "se alguma coisa mudar",
            "enviamos-lhe a nova data",
        ],
        call_today: ("hoje, entre as", "hoje, entre as"),
        second_time: "a segunda vez",
        not_first: "não é a primeira vez",
        make_up: "compensar o incómodo",
        sms_end: "Precisa de ajuda? Ligue para o +34 910 000 000. Responda STOP para deixar de receber SMS.",
        stale: &[
            "antes de ter de perguntar",
            "(ontem)",
            "29 de novembro",
            "29/11/26",
        ],
    },
    Words {
        locale: "pt-BR",
        template: "pt-BR",
        sorry: &["desculpa", "amentamos"],
        contact: "Você também pode escrever para",
        follow_up: &[
            "acompanhando o caso",
            "ligar para você",
            "pessoalmente",
            "nossa equipe vai",
        ],
        update: &[
            "escrever para você de novo",
            "se algo mudar",
            "enviaremos a nova data",
        ],
        call_today: ("hoje, entre", "hoje, entre"),
        second_time: "a segunda vez",
        not_first: "não é a primeira vez",
        make_up: "compensar o transtorno",
        sms_end: "Precisa de ajuda? Ligue para +34 910 000 000. Responda STOP para deixar de receber SMS.",
        stale: &[
            "antes de precisar perguntar",
            "(ontem)",
            "29 de novembro",
            "29/11/2026",
        ],
    },
];

/// The words of the language `locale` is read in.
fn words(locale: &Locale) -> &'static Words {
    LANGUAGES
        .iter()
        .find(|w| w.locale == locale.as_str())
        .unwrap_or_else(|| panic!("no words for {locale}"))
}

#[test]
fn every_shipped_template_renders_in_every_locale_with_every_offer() {
    let templates = shipped();
    for (key, event_type) in KEYS {
        for Words {
            locale, template, ..
        } in &LANGUAGES
        {
            let locale = *locale;
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
                assert_eq!(email.locale, *template);
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

/// The delay email and SMS with a gift card that expires on 21 February 2027, for a customer
/// of `locale`, from the shipped texts of a store whose default locale is `default`.
fn with_gift(default: &str, locale: &str) -> (Rendered, Rendered) {
    let settings = Settings::new(&Locale::parse(default).unwrap());
    let templates = Templates::load(&crate::shipped("templates"), &settings).unwrap();
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
        ..Extras::apology(samples::now())
    };
    let store = samples::store();
    let render = |channel| {
        templates
            .render("order-delayed", channel, &incident, &store, &extras)
            .unwrap()
    };
    (render(Channel::Email), render(Channel::Sms))
}

#[test]
fn a_language_without_texts_reads_the_default_language_in_the_default_locales_formats() {
    // Italian has no texts: the store's default language, written as its default locale
    // writes money and dates, never as the bare language (US English) or as Italian.
    for (default, template, sms_has, email_has) in [
        (
            "en-GB",
            "en",
            ["€25.00", "valid until 21/02/2027"],
            "Sunday 29 November",
        ),
        (
            "es-ES",
            "es",
            ["25,00 €", "hasta el 21/2/27"],
            "domingo, 29 de noviembre",
        ),
    ] {
        let (email, sms) = with_gift(default, "it-IT");
        assert_eq!(email.locale, template);
        assert_eq!(sms.locale, template);
        for expected in sms_has {
            assert!(sms.text.contains(expected), "{default}: {}", sms.text);
        }
        assert!(!sms.text.contains("2/21/27"), "{default}: {}", sms.text);
        assert!(email.text.contains(email_has), "{default}: {}", email.text);
        let html = email.html.unwrap_or_default();
        assert!(html.contains(&format!("lang=\"{default}\"")), "{default}");
    }
    // The shipped default, `en`, formats as CLDR's `en` does: the default locale, no other.
    let (email, sms) = with_gift("en", "it-IT");
    assert_eq!(email.locale, "en");
    assert!(sms.text.contains("valid until 2/21/27"), "{}", sms.text);
}

#[test]
fn a_customer_with_texts_reads_them_in_their_own_locales_formats() {
    // Whatever the store's default, a language with texts is read in the customer's locale.
    for (locale, template, expiry, money) in [
        ("fr-FR", "fr", "21/02/2027", "25,00 €"),
        ("fr-CA", "fr", "2027-02-21", "25,00 €"),
        ("de-DE", "de", "21.02.27", "25,00 €"),
        ("pt-PT", "pt", "21/02/27", "25,00 €"),
        ("pt-BR", "pt-BR", "21/02/2027", "€ 25,00"),
        // Other Portuguese-speaking countries read the European texts, in their own formats.
        ("pt-AO", "pt", "21/02/27", "25,00 €"),
        ("en-US", "en", "2/21/27", "€25.00"),
        ("es-MX", "es", "21/02/27", "€25.00"),
    ] {
        for default in ["en-GB", "es-ES"] {
            let (email, sms) = with_gift(default, locale);
            assert_eq!(sms.locale, template, "{locale}");
            assert!(sms.text.contains(expiry), "{locale}: {}", sms.text);
            assert!(sms.text.contains(money), "{locale}: {}", sms.text);
            let html = email.html.unwrap_or_default();
            assert!(html.contains(&format!("lang=\"{locale}\"")), "{locale}");
        }
    }
}

#[test]
fn a_regional_default_locale_is_served_by_its_languages_texts() {
    // The texts are filed as `en`; a store whose default is `en-GB` still has every template
    // the policy names, so it starts.
    let policy = crate::policy::Policy::load(&crate::shipped("policy/default.toml")).unwrap();
    let settings = Settings::new(&Locale::parse("en-GB").unwrap());
    let templates = Templates::load(&crate::shipped("templates"), &settings).unwrap();
    assert!(templates.has("order-delayed", Channel::Sms));
    templates.cover(&policy).unwrap();
    let settings = Settings::new(&Locale::parse("it-IT").unwrap());
    let italian = Templates::load(&crate::shipped("templates"), &settings).unwrap();
    assert!(!italian.has("order-delayed", Channel::Sms));
    assert!(italian.cover(&policy).is_err());
}

#[test]
fn texts_read_well_without_store_contacts() {
    let templates = shipped();
    let bare = StoreInfo::named("Northwind Outfitters");
    for (key, event_type) in KEYS {
        for Words { locale, .. } in &LANGUAGES {
            let locale = *locale;
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
                    "écrire à .",
                    "schreiben an .",
                    "escrever para .",
                    " sur .",
                    " unter .",
                    " em .",
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
    for (locale, amount, expiry, follow_up, name) in [
        (
            "en-IE",
            "€25.00",
            "21 February 2027",
            "call you today, between 09:00 and 18:00 your time",
            "gift card",
        ),
        (
            "es-ES",
            "25,00\u{a0}€",
            "21 de febrero de 2027",
            "te llamará hoy, entre las 09:00 y las 18:00 (tu hora local)",
            "tarjeta de regalo",
        ),
        (
            "fr-FR",
            "25,00\u{a0}€",
            "dimanche 21 février 2027",
            "vous appellera aujourd'hui, entre 09:00 et 18:00 (heure locale)",
            "carte cadeau",
        ),
        (
            "de-DE",
            "25,00\u{a0}€",
            "Sonntag, 21. Februar 2027",
            "ruft Sie heute zwischen 09:00 und 18:00 Uhr (Ihre Ortszeit) an",
            "Geschenkgutschein",
        ),
        (
            "pt-PT",
            "25,00\u{a0}€",
            "domingo, 21/02/2027",
            "vai ligar-lhe hoje, entre as 09:00 e as 18:00 (hora local)",
            "vale de oferta",
        ),
        (
            "pt-BR",
            "€\u{a0}25,00",
            "domingo, 21 de fevereiro de 2027",
            "vai ligar para você hoje, entre 09:00 e 18:00 (horário local)",
            "vale-presente",
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
        // The same offer has the same name on both channels.
        assert!(sms.text.contains(name), "{}", sms.text);
        assert!(email.text.contains(name), "{}", email.text);
        let apology = plain(&templates, "order-delayed", Channel::Sms, &incident).unwrap();
        assert!(!apology.text.contains("SORRY"), "{}", apology.text);
    }
}

/// The sample events with each variant the texts branch on: the delay with and without a new
/// date, each stockout action, each cancellation reason.
fn variants() -> Vec<(&'static str, String, Incident)> {
    let mut out = Vec::new();
    for Words { locale, .. } in &LANGUAGES {
        let with = |event_type: &str, edit: &dyn Fn(&mut Value)| {
            incident(event_type, |e| {
                edit(e);
                e["data"]["customer"]["locale"] = (*locale).into();
            })
        };
        out.push((
            "order-delayed",
            "dated".to_owned(),
            with("order.delayed", &|_| {}),
        ));
        out.push((
            "order-delayed",
            "no date".to_owned(),
            with("order.delayed", &|e| {
                e["data"]["delay"]
                    .as_object_mut()
                    .unwrap()
                    .remove("new_eta");
            }),
        ));
        for action in ["backorder", "partial_ship", "cancel_items"] {
            out.push((
                "order-stockout",
                action.to_owned(),
                with("order.stockout", &|e| {
                    e["data"]["stockout"]["action"] = action.into();
                }),
            ));
        }
        for reason in [
            "stockout",
            "payment",
            "fraud_check",
            "pricing_error",
            "other",
            "customer_request",
        ] {
            out.push((
                "order-cancelled",
                reason.to_owned(),
                with("order.cancelled", &|e| {
                    e["data"]["cancellation"]["reason"] = reason.into();
                    if reason == "customer_request" {
                        e["data"]["cancellation"]["initiated_by"] = "customer".into();
                    }
                }),
            ));
        }
    }
    out
}

/// How often `needle` occurs in `haystack`, ignoring case.
fn occurrences(haystack: &str, needle: &str) -> usize {
    haystack
        .to_lowercase()
        .matches(&needle.to_lowercase())
        .count()
}

#[test]
fn every_shipped_text_apologises_once_and_promises_only_what_happens() {
    let templates = shipped();
    let store = samples::store();
    for (key, variant, incident) in variants() {
        let words = words(&incident.customer.locale);
        let offers = [samples::offer(
            crate::policy::OfferKind::AmountOff,
            &incident,
            samples::now(),
        )];
        for (escalated, updates_promised, earlier, with_offer) in [
            (false, false, 0, false),
            (true, true, 0, true),
            (false, true, 1, true),
            (true, false, 3, false),
        ] {
            let extras = Extras {
                offers: if with_offer { &offers } else { &[] },
                escalated,
                earlier,
                updates_promised,
                ..Extras::apology(samples::now())
            };
            let what = format!("{key} {variant} {} {extras:?}", incident.customer.locale);
            let email = templates
                .render(key, Channel::Email, &incident, &store, &extras)
                .unwrap();
            let sms = templates
                .render(key, Channel::Sms, &incident, &store, &extras)
                .unwrap();
            let mail = format!("{}\n{}", email.subject.as_deref().unwrap_or(""), email.text);
            let html = email.html.as_deref().unwrap_or_default();
            let customer_asked = variant == "customer_request";
            // One apology, in the subject or the body, never both; none for a cancellation the
            // customer asked for.
            let apologies =
                |text: &str| -> usize { words.sorry.iter().map(|s| text.matches(s).count()).sum() };
            assert_eq!(
                apologies(&mail),
                usize::from(!customer_asked),
                "{what}: {mail}"
            );
            assert!(apologies(&sms.text) <= 1, "{what}: {}", sms.text);
            // The footer never repeats the body's contact sentence.
            assert_eq!(
                occurrences(&email.text, words.contact),
                1,
                "{what}: {}",
                email.text
            );
            // Following up, calling, writing again: only where it happens.
            for text in [&mail, &sms.text] {
                for phrase in words.follow_up {
                    if !escalated {
                        assert_eq!(occurrences(text, phrase), 0, "{what}: {phrase:?} in {text}");
                    }
                }
                for phrase in words.update {
                    if !updates_promised {
                        assert_eq!(occurrences(text, phrase), 0, "{what}: {phrase:?} in {text}");
                    }
                }
            }
            if escalated {
                let (email_when, sms_when) = words.call_today;
                assert!(mail.contains(email_when), "{what}: {mail}");
                assert!(html.contains(email_when), "{what}: {html}");
                assert!(sms.text.contains(sms_when), "{what}: {}", sms.text);
            }
            // A repeat says so, and how often.
            let again = match earlier {
                0 => None,
                1 => Some(words.second_time),
                _ => Some(words.not_first),
            };
            if let Some(again) = again.filter(|_| !customer_asked) {
                assert!(mail.contains(again), "{what}: {mail}");
                assert!(html.contains(again), "{what}: {html}");
            }
            // Amends only where the harm was ours.
            let ours = !matches!(
                variant.as_str(),
                "payment" | "fraud_check" | "customer_request"
            );
            assert_eq!(
                occurrences(&mail, words.make_up),
                usize::from(with_offer && ours),
                "{what}: {mail}"
            );
            // A failed payment or check is never named in an SMS, in any language.
            if matches!(variant.as_str(), "payment" | "fraud_check") {
                for word in [
                    "pay", "paie", "pago", "zahl", "verif", "vérif", "prüf", "secur", "sécur",
                    "segur", "sicher", "fraud", "betrug",
                ] {
                    assert_eq!(occurrences(&sms.text, word), 0, "{what}: {}", sms.text);
                }
            }
            // Every SMS ends with a person to reach and the opt-out, in the customer's
            // language, and every language's SMS is GSM-7.
            assert!(sms.text.ends_with(words.sms_end), "{what}: {}", sms.text);
            assert_eq!(
                sms::analyse(&sms.text).encoding,
                sms::SmsEncoding::Gsm7,
                "{what}"
            );
        }
    }
}

#[test]
fn an_overdue_order_gets_one_apology_and_its_update_none() {
    let templates = shipped();
    let store = samples::store();
    // The Thursday after the sample's promised Tuesday: overdue, and a call still fits today.
    let sent_at = "2026-11-26T09:00:00Z".parse().unwrap();
    for words in &LANGUAGES {
        for (key, update) in [("order-overdue", false), ("order-overdue-update", true)] {
            let incident = incident("order.overdue", |e| {
                e["data"]["customer"]["locale"] = words.locale.into();
                e["data"]["overdue"]["update"] = update.into();
            });
            for escalated in [false, true] {
                let extras = Extras {
                    escalated,
                    ..Extras::apology(sent_at)
                };
                let what = format!("{key} {} escalated={escalated}", words.locale);
                let email = templates
                    .render(key, Channel::Email, &incident, &store, &extras)
                    .unwrap();
                let sms = templates
                    .render(key, Channel::Sms, &incident, &store, &extras)
                    .unwrap();
                let mail = format!("{}\n{}", email.subject.as_deref().unwrap_or(""), email.text);
                let apologies = |text: &str| -> usize {
                    words.sorry.iter().map(|s| text.matches(s).count()).sum()
                };
                // The apology once, on each channel; the promised update is no second one.
                assert_eq!(apologies(&mail), usize::from(!update), "{what}: {mail}");
                assert_eq!(
                    apologies(&sms.text),
                    usize::from(!update),
                    "{what}: {}",
                    sms.text
                );
                // A person calls only where one follows up, and then it says when.
                for text in [&mail, &sms.text] {
                    if !escalated {
                        for phrase in words.follow_up {
                            assert_eq!(
                                occurrences(text, phrase),
                                0,
                                "{what}: {phrase:?} in {text}"
                            );
                        }
                    }
                }
                if escalated {
                    let (email_when, sms_when) = words.call_today;
                    assert!(mail.contains(email_when), "{what}: {mail}");
                    assert!(sms.text.contains(sms_when), "{what}: {}", sms.text);
                }
                assert_eq!(
                    occurrences(&email.text, words.contact),
                    usize::from(!update),
                    "{what}"
                );
                assert!(sms.text.ends_with(words.sms_end), "{what}: {}", sms.text);
                assert_eq!(
                    sms::analyse(&sms.text).encoding,
                    sms::SmsEncoding::Gsm7,
                    "{what}: {}",
                    sms.text
                );
            }
        }
    }
}

#[test]
fn every_shipped_sms_ends_with_the_footer() {
    // Each SMS template, of every key and locale, closes with the way to a person and STOP.
    let mut checked = 0;
    for source in super::read_sources(&crate::shipped("templates")).unwrap() {
        if let Ok(Role::Message {
            channel: Channel::Sms,
            ..
        }) = Role::parse(&source.name)
        {
            let text = source.text.trim_end();
            assert!(
                text.ends_with("{{~> partials/sms-footer.txt~}}"),
                "{} does not end with the SMS footer",
                source.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} SMS templates found");
}

#[test]
fn every_sms_reaches_a_person_with_whatever_contact_the_store_has() {
    let templates = shipped();
    let incident = in_locale("order.delayed", "en-GB");
    let mut store = StoreInfo::named("Northwind Outfitters");
    let text = |store: &StoreInfo| {
        templates
            .render(
                "order-delayed",
                Channel::Sms,
                &incident,
                store,
                &Extras::apology(samples::now()),
            )
            .unwrap()
            .text
    };
    assert!(
        text(&store).ends_with(" Reply STOP to opt out."),
        "{}",
        text(&store)
    );
    store.url = url::Url::parse("https://shop.example/").ok();
    assert!(
        text(&store).ends_with(" Questions? Visit https://shop.example/. Reply STOP to opt out."),
        "{}",
        text(&store)
    );
    store.support_email = Some("care@shop.example".to_owned());
    assert!(
        text(&store).ends_with(" Questions? Email care@shop.example. Reply STOP to opt out."),
        "{}",
        text(&store)
    );
    store.support_phone = Some("+44 20 7946 0000".to_owned());
    assert!(
        text(&store).ends_with(" Questions? Call +44 20 7946 0000. Reply STOP to opt out."),
        "{}",
        text(&store)
    );
}

#[test]
fn stale_dates_are_never_shown_and_never_claim_we_were_first() {
    let templates = shipped();
    let store = samples::store();
    for words in &LANGUAGES {
        let incident = in_locale("order.delayed", words.locale);
        // The sample promised 24 November and expects 29 November; read on 30 November.
        let extras = Extras::apology("2026-11-30T10:00:00Z".parse().unwrap());
        for channel in [Channel::Email, Channel::Sms] {
            let text = templates
                .render("order-delayed", channel, &incident, &store, &extras)
                .unwrap()
                .text;
            for stale in words.stale {
                assert!(
                    !text.contains(stale),
                    "{}: {stale:?} in {text}",
                    words.locale
                );
            }
        }
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
fn typographic_punctuation_never_costs_an_sms_its_gsm7_encoding() {
    let files = [
        (
            "k/sms.en.hbs",
            "{{store.name}}: We’re sorry – your order {{order.number}} is late… “Really” late.",
        ),
        (
            "k/sms.es.hbs",
            "{{store.name}}: Envío del sábado – {{order.number}}",
        ),
    ];
    let dir = dir(&files);
    let templates = Templates::load(dir.path(), &Settings::new(&en())).unwrap();
    let english = plain(
        &templates,
        "k",
        Channel::Sms,
        &in_locale("order.delayed", "en-GB"),
    )
    .unwrap()
    .text;
    assert_eq!(
        english,
        "Northwind Outfitters: We're sorry - your order #10042 is late... \"Really\" late."
    );
    assert_eq!(sms::analyse(&english).encoding, sms::SmsEncoding::Gsm7);
    // Spanish words keep their letters: the text goes as UCS-2, as written.
    let spanish = plain(
        &templates,
        "k",
        Channel::Sms,
        &in_locale("order.delayed", "es-ES"),
    )
    .unwrap()
    .text;
    assert_eq!(spanish, "Northwind Outfitters: Envío del sábado - #10042");
    assert_eq!(sms::analyse(&spanish).encoding, sms::SmsEncoding::Ucs2);
    // `templates check` measures the text as it is sent, not as it was written.
    let sources: Vec<Source> = files
        .iter()
        .map(|(name, text)| test_source(name, text))
        .collect();
    let report = check::check(&sources, &Settings::new(&en()), &samples::store(), 3);
    let encoding = |locale: &str| {
        report
            .sms
            .iter()
            .find(|m| m.locale == locale)
            .map(|m| (m.encoding, m.segments))
    };
    assert_eq!(encoding("en"), Some((sms::SmsEncoding::Gsm7, 1)));
    assert_eq!(encoding("es"), Some((sms::SmsEncoding::Ucs2, 1)));
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
