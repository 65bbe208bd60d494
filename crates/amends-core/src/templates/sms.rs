//! SMS encoding and segment counting (pure, no I/O).
//!
//! An SMS carries 140 octets. Text that fits the GSM 03.38 default alphabet is sent as GSM-7:
//! 160 septets in a single message, 153 per part when it must be split (the rest of each part
//! holds the concatenation header). Characters from the GSM 03.38 extension table
//! (`^ { } \ [ ~ ] | €` and form feed) are sent as an escape plus the character, so they cost
//! two septets. As soon as one character is outside both tables the whole text is sent as
//! UCS-2 (UTF-16): 70 code units in a single message, 67 per part; a character outside the
//! Basic Multilingual Plane (most emoji) is a surrogate pair and costs two units.
//!
//! Splitting never cuts an escape sequence or a surrogate pair in two: a two-unit character that
//! does not fit in what is left of a part starts the next one. [`analyse`] counts parts the same
//! way, so its segment count is what the customer's phone receives and the provider bills.

use std::fmt;

use serde::Serialize;

/// Septets in a single GSM-7 message.
const GSM7_SINGLE: usize = 160;
/// Septets per part of a multipart (concatenated) GSM-7 message.
const GSM7_MULTI: usize = 153;
/// UTF-16 code units in a single UCS-2 message.
const UCS2_SINGLE: usize = 70;
/// UTF-16 code units per part of a multipart UCS-2 message.
const UCS2_MULTI: usize = 67;

/// The encoding an SMS is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SmsEncoding {
    /// The GSM 03.38 7-bit default alphabet (with its extension table).
    #[serde(rename = "GSM-7")]
    Gsm7,
    /// UCS-2 / UTF-16, used when any character is outside the GSM 03.38 alphabet.
    #[serde(rename = "UCS-2")]
    Ucs2,
}

impl SmsEncoding {
    /// The conventional name: `"GSM-7"` or `"UCS-2"` (the same as its serialized form).
    pub fn as_str(self) -> &'static str {
        match self {
            SmsEncoding::Gsm7 => "GSM-7",
            SmsEncoding::Ucs2 => "UCS-2",
        }
    }
}

impl fmt::Display for SmsEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a text costs as an SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct SmsInfo {
    /// The encoding the text will be sent with.
    pub encoding: SmsEncoding,
    /// Length in the encoding's units: septets for GSM-7, UTF-16 code units for UCS-2.
    pub units: usize,
    /// Number of messages (parts) the text is sent as; 1 for an empty text.
    pub segments: usize,
}

/// The GSM 03.38 basic character set outside ASCII (one septet each). The ASCII part is
/// LF, CR and every printable ASCII character except `` ` `` and the extension characters.
const GSM7_BASIC_NON_ASCII: &str = "£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà";

/// The GSM 03.38 extension table (escape + character, two septets each).
const GSM7_EXTENSION: &str = "\u{0C}^{}\\[~]|€";

/// Septets `ch` costs in GSM-7: 1 for the basic character set, 2 for the extension table,
/// `None` when it cannot be sent in GSM-7 at all.
pub fn gsm7_septets(ch: char) -> Option<usize> {
    if GSM7_EXTENSION.contains(ch) {
        Some(2)
    } else if matches!(ch, '\n' | '\r' | ' '..='~') && ch != '`'
        || GSM7_BASIC_NON_ASCII.contains(ch)
    {
        Some(1)
    } else {
        None
    }
}

/// Works out the encoding, length and number of segments of an SMS text.
///
/// For example `"Your order #10042 is on its way."` is GSM-7, 32 septets, 1 segment; the same
/// text with a typographic apostrophe or an emoji anywhere in it is UCS-2.
pub fn analyse(text: &str) -> SmsInfo {
    if text.chars().all(|ch| gsm7_septets(ch).is_some()) {
        let costs = text.chars().filter_map(gsm7_septets);
        let (units, segments) = count(costs, GSM7_SINGLE, GSM7_MULTI);
        SmsInfo {
            encoding: SmsEncoding::Gsm7,
            units,
            segments,
        }
    } else {
        let costs = text.chars().map(char::len_utf16);
        let (units, segments) = count(costs, UCS2_SINGLE, UCS2_MULTI);
        SmsInfo {
            encoding: SmsEncoding::Ucs2,
            units,
            segments,
        }
    }
}

/// Total units and segments for characters of the given costs (1 or 2 units each): one segment
/// when everything fits in `single`, else parts of `multi` units filled greedily, a character
/// that does not fit in what is left of a part moving whole to the next.
fn count(
    costs: impl Iterator<Item = usize> + Clone,
    single: usize,
    multi: usize,
) -> (usize, usize) {
    let units: usize = costs.clone().sum();
    if units <= single {
        return (units, 1);
    }
    let mut segments = 1;
    let mut used = 0;
    for cost in costs {
        if used + cost > multi {
            segments += 1;
            used = 0;
        }
        used += cost;
    }
    (units, segments)
}

/// Typographic punctuation and spacing with a GSM-7 equivalent that means the same: what a
/// template, a translation tool or locale formatting puts in a text (curly quotes, dashes, the
/// ellipsis, no-break and thin spaces). None of these is a letter, so replacing them never
/// changes a word; left in, any one of them would send the whole text as UCS-2, at less than
/// half the characters per segment.
///
/// Each entry is a character and what it becomes; an empty replacement removes it (invisible
/// characters: the soft hyphen, zero-width space, word joiner, byte order mark). The middle dot
/// and the zero-width joiners are handled in [`punctuation`], as their replacement depends on
/// their neighbours.
pub const PUNCTUATION: &[(char, &str)] = &[
    // Single quotes and apostrophes.
    ('\u{2018}', "'"), // ‘ left single quotation mark
    ('\u{2019}', "'"), // ’ right single quotation mark, the typographic apostrophe
    ('\u{201A}', "'"), // ‚ single low-9 quotation mark
    ('\u{201B}', "'"), // ‛ single high-reversed-9 quotation mark
    ('\u{2039}', "'"), // ‹ single left-pointing angle quotation mark
    ('\u{203A}', "'"), // › single right-pointing angle quotation mark
    ('\u{2032}', "'"), // ′ prime
    ('\u{00B4}', "'"), // ´ acute accent typed as an apostrophe
    ('`', "'"),        // grave accent typed as an apostrophe (not in GSM 03.38)
    // Double quotes.
    ('\u{201C}', "\""), // “ left double quotation mark
    ('\u{201D}', "\""), // ” right double quotation mark
    ('\u{201E}', "\""), // „ double low-9 quotation mark
    ('\u{201F}', "\""), // ‟ double high-reversed-9 quotation mark
    ('\u{00AB}', "\""), // « left-pointing double angle quotation mark
    ('\u{00BB}', "\""), // » right-pointing double angle quotation mark
    ('\u{2033}', "\""), // ″ double prime
    // Dashes, hyphens and minus.
    ('\u{2010}', "-"), // ‐ hyphen
    ('\u{2011}', "-"), // ‑ non-breaking hyphen
    ('\u{2012}', "-"), // ‒ figure dash
    ('\u{2013}', "-"), // – en dash
    ('\u{2014}', "-"), // — em dash
    ('\u{2015}', "-"), // ― horizontal bar
    ('\u{2212}', "-"), // − minus sign
    // Other punctuation.
    ('\u{2026}', "..."), // … horizontal ellipsis
    ('\u{2022}', "-"),   // • bullet
    ('\u{2023}', "-"),   // ‣ triangular bullet
    ('\u{2043}', "-"),   // ⁃ hyphen bullet
    ('\u{2044}', "/"),   // ⁄ fraction slash
    ('\u{00D7}', "x"),   // × multiplication sign
    // Spaces: no-break, narrow no-break (French and CLDR formats), thin, figure, and the rest.
    ('\u{00A0}', " "),
    ('\u{2000}', " "),
    ('\u{2001}', " "),
    ('\u{2002}', " "),
    ('\u{2003}', " "),
    ('\u{2004}', " "),
    ('\u{2005}', " "),
    ('\u{2006}', " "),
    ('\u{2007}', " "),
    ('\u{2008}', " "),
    ('\u{2009}', " "),
    ('\u{200A}', " "),
    ('\u{202F}', " "),
    ('\u{205F}', " "),
    ('\u{3000}', " "),
    ('\t', " "),
    // Line and paragraph separators.
    ('\u{2028}', "\n"),
    ('\u{2029}', "\n"),
    // Invisible: soft hyphen, zero-width space, word joiner, byte order mark.
    ('\u{00AD}', ""),
    ('\u{200B}', ""),
    ('\u{2060}', ""),
    ('\u{FEFF}', ""),
];

/// The text with its typographic punctuation in GSM-7 ([`PUNCTUATION`]); letters, digits and
/// every other character stay as written.
///
/// Two characters depend on their neighbours: the middle dot `·` is `.` between two letters
/// (the Catalan *l·l*, whose accepted spelling without it is *l.l*) and `-` elsewhere (a
/// separator); the zero-width joiner and non-joiner are dropped between characters GSM-7 has,
/// where they change nothing, and kept elsewhere, where they shape emoji and scripts.
pub fn punctuation(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let before = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
        let after = chars.get(i + 1).copied();
        match c {
            '\u{00B7}' => {
                let letters = before.is_some_and(char::is_alphabetic)
                    && after.is_some_and(char::is_alphabetic);
                out.push(if letters { '.' } else { '-' });
            }
            '\u{200C}' | '\u{200D}' => {
                let gsm = |c: Option<char>| c.is_none_or(|c| gsm7_septets(c).is_some());
                if !(gsm(before) && gsm(after)) {
                    out.push(c);
                }
            }
            c => match PUNCTUATION.iter().find(|(from, _)| *from == c) {
                Some((_, to)) => out.push_str(to),
                None => out.push(c),
            },
        }
    }
    out
}

/// Makes a rendered text ready to send, before its encoding and segments are worked out.
///
/// For every language, typographic punctuation and spacing become their GSM-7 equivalents
/// ([`punctuation`]), so an English text with `’` and `–` stays GSM-7. Letters are kept as
/// written: a Spanish text with `sábado` or `Envío` is sent as UCS-2, which every phone shows
/// correctly.
///
/// Only when `transliterate_letters` is set (the `sms_transliterate` setting names the
/// language), and the text is still not GSM-7, is every Latin letter GSM-7 lacks replaced by
/// its closest GSM-7 spelling (`á` → `a`); the letters GSM-7 has (`é`, `ñ`, `ü`) are kept.
/// That changes words (`sábado` → `sabado`), which is why it is off unless asked for.
pub fn prepare(text: &str, transliterate_letters: bool) -> String {
    let text = punctuation(text);
    if !transliterate_letters || analyse(&text).encoding == SmsEncoding::Gsm7 {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if gsm7_septets(c).is_some() {
            out.push(c);
            continue;
        }
        // Only Latin letters: other scripts would come out unreadable.
        let latin = matches!(u32::from(c), 0x00C0..=0x024F | 0x1E00..=0x1EFF);
        match deunicode::deunicode_char(c).filter(|_| latin) {
            Some(ascii) if ascii.chars().all(|a| gsm7_septets(a).is_some()) => out.push_str(ascii),
            _ => out.push(c),
        }
    }
    out
}

/// Splits a text into the parts it is sent as, by the same rules [`analyse`] counts with.
pub fn split(text: &str) -> Vec<String> {
    let info = analyse(text);
    if info.segments == 1 {
        return vec![text.to_owned()];
    }
    let (multi, cost): (usize, fn(char) -> usize) = match info.encoding {
        SmsEncoding::Gsm7 => (GSM7_MULTI, |c| gsm7_septets(c).unwrap_or(1)),
        SmsEncoding::Ucs2 => (UCS2_MULTI, char::len_utf16),
    };
    let mut parts = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        let c_cost = cost(c);
        if used + c_cost > multi {
            parts.push(String::new());
            used = 0;
        }
        used += c_cost;
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn info(text: &str) -> (SmsEncoding, usize, usize) {
        let i = analyse(text);
        (i.encoding, i.units, i.segments)
    }

    fn repeat(s: &str, n: usize) -> String {
        s.repeat(n)
    }

    #[test]
    fn empty_text_is_one_segment_of_nothing() {
        assert_eq!(info(""), (SmsEncoding::Gsm7, 0, 1));
    }

    #[test]
    fn gsm7_boundaries() {
        assert_eq!(info(&repeat("a", 1)), (SmsEncoding::Gsm7, 1, 1));
        assert_eq!(info(&repeat("a", 160)), (SmsEncoding::Gsm7, 160, 1));
        assert_eq!(info(&repeat("a", 161)), (SmsEncoding::Gsm7, 161, 2));
        assert_eq!(info(&repeat("a", 306)), (SmsEncoding::Gsm7, 306, 2));
        assert_eq!(info(&repeat("a", 307)), (SmsEncoding::Gsm7, 307, 3));
        assert_eq!(info(&repeat("a", 459)), (SmsEncoding::Gsm7, 459, 3));
        assert_eq!(info(&repeat("a", 460)), (SmsEncoding::Gsm7, 460, 4));
    }

    #[test]
    fn ucs2_boundaries() {
        // 'á' is not in GSM 03.38, so the whole text goes UCS-2.
        let t = |n: usize| format!("á{}", repeat("a", n - 1));
        assert_eq!(info(&t(70)), (SmsEncoding::Ucs2, 70, 1));
        assert_eq!(info(&t(71)), (SmsEncoding::Ucs2, 71, 2));
        assert_eq!(info(&t(134)), (SmsEncoding::Ucs2, 134, 2));
        assert_eq!(info(&t(135)), (SmsEncoding::Ucs2, 135, 3));
    }

    #[test]
    fn extension_characters_count_twice() {
        for ch in ['^', '{', '}', '\\', '[', '~', ']', '|', '€', '\u{0C}'] {
            assert_eq!(gsm7_septets(ch), Some(2), "{ch:?}");
            assert_eq!(info(&ch.to_string()), (SmsEncoding::Gsm7, 2, 1), "{ch:?}");
        }
        assert_eq!(info("Total: €129.90"), (SmsEncoding::Gsm7, 15, 1));
        // 158 + 2 = 160 fits one message; 159 + 2 = 161 does not.
        assert_eq!(
            info(&format!("{}€", repeat("a", 158))),
            (SmsEncoding::Gsm7, 160, 1)
        );
        assert_eq!(
            info(&format!("{}€", repeat("a", 159))),
            (SmsEncoding::Gsm7, 161, 2)
        );
        assert_eq!(info(&repeat("€", 80)), (SmsEncoding::Gsm7, 160, 1));
    }

    #[test]
    fn extension_pair_never_straddles_a_part() {
        // 152 septets, then '€' (2) would straddle 153: it starts part 2, part 1 holds 152.
        // 306 septets fit two parts by the plain formula (2 × 153), but here need three.
        let text = format!("{}€{}", repeat("a", 152), repeat("a", 152));
        assert_eq!(info(&text), (SmsEncoding::Gsm7, 306, 3));
        // One septet less at the end: exactly 152 + 153, two parts.
        let text = format!("{}€{}", repeat("a", 152), repeat("a", 151));
        assert_eq!(info(&text), (SmsEncoding::Gsm7, 305, 2));
        // When '€' lands exactly on the end of a part, nothing moves.
        let text = format!("{}€{}", repeat("a", 151), repeat("a", 153));
        assert_eq!(info(&text), (SmsEncoding::Gsm7, 306, 2));
    }

    #[test]
    fn emoji_are_surrogate_pairs() {
        assert_eq!(info("🙂"), (SmsEncoding::Ucs2, 2, 1));
        assert_eq!(info(&format!("Sorry {}", "🙂")), (SmsEncoding::Ucs2, 8, 1));
        assert_eq!(info(&repeat("🙂", 35)), (SmsEncoding::Ucs2, 70, 1));
        // 36 pairs = 72 units: parts hold 33 pairs (66 units) each, never 33.5.
        assert_eq!(info(&repeat("🙂", 36)), (SmsEncoding::Ucs2, 72, 2));
        assert_eq!(info(&repeat("🙂", 67)), (SmsEncoding::Ucs2, 134, 3));
        // 66 single units, then a pair that would straddle unit 67: it starts part 2.
        let text = format!("á{}🙂{}", repeat("a", 65), repeat("a", 66));
        assert_eq!(info(&text), (SmsEncoding::Ucs2, 134, 3));
        let text = format!("á{}🙂{}", repeat("a", 65), repeat("a", 65));
        assert_eq!(info(&text), (SmsEncoding::Ucs2, 133, 2));
    }

    #[test]
    fn accented_letters() {
        assert_eq!(gsm7_septets('é'), Some(1));
        assert_eq!(gsm7_septets('ñ'), Some(1));
        assert_eq!(gsm7_septets('Ñ'), Some(1));
        assert_eq!(gsm7_septets('á'), None);
        assert_eq!(gsm7_septets('í'), None);
        assert_eq!(gsm7_septets('ó'), None);
        assert_eq!(info("Café España"), (SmsEncoding::Gsm7, 11, 1));
        assert_eq!(info("García"), (SmsEncoding::Ucs2, 6, 1));
    }

    #[test]
    fn typographic_quotes_force_ucs2() {
        assert_eq!(analyse("we're").encoding, SmsEncoding::Gsm7);
        assert_eq!(analyse("we\u{2019}re").encoding, SmsEncoding::Ucs2);
        assert_eq!(analyse("\u{201C}hi\u{201D}").encoding, SmsEncoding::Ucs2);
    }

    #[test]
    fn encoding_names() {
        assert_eq!(SmsEncoding::Gsm7.to_string(), "GSM-7");
        assert_eq!(SmsEncoding::Ucs2.to_string(), "UCS-2");
        assert_eq!(
            serde_json::to_value(analyse("hi")).unwrap(),
            serde_json::json!({ "encoding": "GSM-7", "units": 2, "segments": 1 })
        );
        assert_eq!(
            serde_json::to_value(SmsEncoding::Ucs2).unwrap(),
            serde_json::json!("UCS-2")
        );
    }

    /// Every character of the GSM 03.38 basic set (one septet each).
    const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
        ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

    #[test]
    fn basic_set_is_complete() {
        // 128 code points less the escape to the extension table.
        assert_eq!(GSM_BASIC.chars().count(), 127);
        assert!(GSM_BASIC.chars().all(|ch| gsm7_septets(ch) == Some(1)));
        // Nothing else is accepted: in the whole BMP (the table has nothing beyond it),
        // exactly 127 one-septet and 10 two-septet characters.
        let all = || (0..=0xFFFF).filter_map(char::from_u32);
        assert_eq!(all().filter(|&ch| gsm7_septets(ch) == Some(1)).count(), 127);
        assert_eq!(all().filter(|&ch| gsm7_septets(ch) == Some(2)).count(), 10);
        assert_eq!(gsm7_septets('`'), None);
        assert_eq!(gsm7_septets('\t'), None);
    }

    fn expected_gsm7_segments(n: usize) -> usize {
        if n <= GSM7_SINGLE {
            1
        } else {
            n.div_ceil(GSM7_MULTI)
        }
    }

    proptest! {
        #[test]
        fn gsm7_basic_text_follows_the_formula(
            chars in prop::collection::vec(prop::sample::select(GSM_BASIC.chars().collect::<Vec<_>>()), 0..700)
        ) {
            let text: String = chars.iter().collect();
            let i = analyse(&text);
            prop_assert_eq!(i.encoding, SmsEncoding::Gsm7);
            prop_assert_eq!(i.units, chars.len());
            prop_assert_eq!(i.segments, expected_gsm7_segments(chars.len()));
        }

        #[test]
        fn segments_never_fewer_than_the_plain_formula(text in "\\PC{0,400}") {
            let i = analyse(&text);
            let (single, multi) = match i.encoding {
                SmsEncoding::Gsm7 => (GSM7_SINGLE, GSM7_MULTI),
                SmsEncoding::Ucs2 => (UCS2_SINGLE, UCS2_MULTI),
            };
            let plain = if i.units <= single { 1 } else { i.units.div_ceil(multi) };
            prop_assert!(i.segments >= plain);
            // Each part loses at most one unit to a pair that would straddle it.
            let worst = if i.units <= single { 1 } else { i.units.div_ceil(multi - 1) };
            prop_assert!(i.segments <= worst);
            if i.encoding == SmsEncoding::Ucs2 {
                prop_assert_eq!(i.units, text.encode_utf16().count());
            }
        }
    }

    #[test]
    fn prepare_turns_formatting_spaces_into_spaces() {
        assert_eq!(prepare("1234,50\u{a0}€", false), "1234,50 €");
        assert_eq!(
            analyse(&prepare("2:30\u{202f}PM", false)).encoding,
            SmsEncoding::Gsm7
        );
    }

    #[test]
    fn every_listed_punctuation_becomes_its_gsm7_equivalent() {
        for (from, to) in PUNCTUATION {
            // Each entry is there because GSM-7 lacks it, and what it becomes GSM-7 has.
            assert_eq!(gsm7_septets(*from), None, "{from:?} is GSM-7 already");
            assert!(to.chars().all(|c| gsm7_septets(c).is_some()), "{to:?}");
            let text = format!("a{from}b");
            assert_eq!(punctuation(&text), format!("a{to}b"), "{from:?}");
            assert_eq!(analyse(&prepare(&text, false)).encoding, SmsEncoding::Gsm7);
        }
        // The ones named by what they are, spelt out.
        let typographic =
            "‘a’ ‚b‛ “c” „d” «e» ‹f› g–h—i‒j―k … • x\u{a0}y\u{202f}z\u{2009}w\u{00ad}v\u{200b}u";
        assert_eq!(
            punctuation(typographic),
            "'a' 'b' \"c\" \"d\" \"e\" 'f' g-h-i-j-k ... - x y z wvu"
        );
    }

    #[test]
    fn middle_dot_and_joiners_depend_on_their_neighbours() {
        assert_eq!(punctuation("col·lecció"), "col.lecció");
        assert_eq!(punctuation("Trail shoe · €129.90"), "Trail shoe - €129.90");
        assert_eq!(punctuation("a\u{200d}b\u{200c}c"), "abc");
        // In an emoji sequence the joiner is part of the picture: kept.
        let family = "👩\u{200d}👧";
        assert_eq!(punctuation(family), family);
    }

    #[test]
    fn an_english_text_with_typography_stays_gsm7_in_the_same_segments() {
        let typographic = "Northwind Outfitters: We’re sorry – your order #10042 is running late. \
            Now expected Sunday 29 November. 15% off your next order (up to €30.00): code \
            SORRY-ABCD2345, valid until 21/02/2027. We’ll call you today, between 09:00 and \
            18:00 your time… Track it: https://shop.example/t/1";
        let ascii = typographic
            .replace('’', "'")
            .replace('–', "-")
            .replace('…', "...");
        // As written, one apostrophe sends the whole text as UCS-2, in far more segments.
        assert_eq!(analyse(typographic).encoding, SmsEncoding::Ucs2);
        assert!(analyse(typographic).segments > analyse(&ascii).segments);
        let prepared = prepare(typographic, false);
        assert_eq!(prepared, ascii);
        assert_eq!(analyse(&prepared), analyse(&ascii));
        assert_eq!(analyse(&prepared).encoding, SmsEncoding::Gsm7);
        assert_eq!(analyse(&prepared).segments, 2);
    }

    #[test]
    fn letters_are_never_changed_unless_asked() {
        let text = "Envío gratis el sábado – código ÑANDÚ’";
        let out = prepare(text, false);
        assert_eq!(out, "Envío gratis el sábado - código ÑANDÚ'");
        // The words stay as written, so the text is UCS-2.
        assert_eq!(analyse(&out).encoding, SmsEncoding::Ucs2);
        // Already GSM-7 (é, ñ, ü, ¿, ¡ are in the alphabet): nothing changes.
        let gsm = "¿Dudas? Tu pedido llega el miércoles… ¡gracias! é ñ ü";
        assert_eq!(prepare(gsm, false), gsm.replace('…', "..."));
    }

    #[test]
    fn transliterating_letters_is_opt_in_and_keeps_what_gsm7_has() {
        let text = "Tu pedido llegará el miércoles. ¿Dudas? Código: ÑANDÚ – gracias’";
        let out = prepare(text, true);
        assert_eq!(
            out,
            "Tu pedido llegara el miércoles. ¿Dudas? Codigo: ÑANDU - gracias'"
        );
        assert_eq!(analyse(&out).encoding, SmsEncoding::Gsm7);
        // Already GSM-7 once the punctuation is mapped: no letter is touched.
        assert_eq!(
            prepare("Pedido en camino: é ñ ü", true),
            "Pedido en camino: é ñ ü"
        );
    }

    #[test]
    fn characters_without_a_gsm7_spelling_stay() {
        let out = prepare("注文 á", true);
        assert_eq!(out, "注文 a");
        assert_eq!(analyse(&out).encoding, SmsEncoding::Ucs2);
    }

    #[test]
    fn split_matches_the_segment_count() {
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        let parts = split(&text);
        assert_eq!(parts.len(), analyse(&text).segments);
        assert_eq!(parts.concat(), text);
        assert_eq!(split("short"), vec!["short".to_owned()]);
        let ucs = "á".repeat(140);
        assert_eq!(split(&ucs).len(), 3);
    }
}
