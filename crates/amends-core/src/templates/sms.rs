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

/// Makes a rendered text ready to send: the no-break and thin spaces that locale formatting
/// puts in money and dates become plain spaces (they would force UCS-2 for nothing), and, when
/// `transliterate` is set, every other character outside GSM-7 is replaced by its closest GSM-7
/// spelling (`á` → `a`, `’` → `'`) where one exists. Characters GSM-7 has (`é`, `ñ`, `ü`, `€`)
/// are kept, so Spanish keeps most of its accents.
pub fn prepare(text: &str, transliterate: bool) -> String {
    let spaced: String = text
        .chars()
        .map(|c| match c {
            '\u{a0}' | '\u{2007}' | '\u{2009}' | '\u{202f}' => ' ',
            c => c,
        })
        .collect();
    if !transliterate || analyse(&spaced).encoding == SmsEncoding::Gsm7 {
        return spaced;
    }
    let mut out = String::with_capacity(spaced.len());
    for c in spaced.chars() {
        if gsm7_septets(c).is_some() {
            out.push(c);
            continue;
        }
        // Only Latin letters and punctuation: other scripts would come out unreadable.
        let latin = matches!(u32::from(c), 0x00A0..=0x024F | 0x1E00..=0x1EFF | 0x2000..=0x206F);
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
    fn transliteration_keeps_what_gsm7_has() {
        let text = "Tu pedido llegará el miércoles. ¿Dudas? Código: ÑANDÚ – gracias’";
        assert_eq!(analyse(text).encoding, SmsEncoding::Ucs2);
        let out = prepare(text, true);
        assert_eq!(
            out,
            "Tu pedido llegara el miércoles. ¿Dudas? Codigo: ÑANDU - gracias'"
        );
        assert_eq!(analyse(&out).encoding, SmsEncoding::Gsm7);
        // Not asked to: the text stays as written.
        assert_eq!(prepare(text, false), text);
        // Already GSM-7: nothing changes.
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
