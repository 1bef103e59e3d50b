//! Folding of names and handles to a comparable ASCII form.
//!
//! The rules, in order (they are part of the matching contract: changing one changes every
//! match key, so it needs a new key version):
//!
//! 1. Cyrillic is transliterated letter by letter with the Bulgarian streamlined system, extended
//!    with the Russian and Ukrainian letters (щ → sht, ъ → a, ы → y, є → ye, ї → yi). Partners
//!    enter Bulgarian, Ukrainian and Russian names either in Cyrillic or already transliterated;
//!    both land on the same Latin spelling when the transliteration was the usual one.
//! 2. Unicode compatibility decomposition (NFKD), then every combining mark is dropped: ä → a,
//!    é → e, ș/ş → s, ț/ţ → t, ă → a, ą → a, ñ → n, č → c. No German "ä → ae" rule: Dutch and
//!    Eastern European registrations write the bare letter far more often.
//! 3. Latin letters that do not decompose are replaced: ł → l, ø → o, đ/ð → d, ß → ss, æ → ae,
//!    œ → oe, ı → i, þ → th, ħ → h.
//! 4. Lower case. Apostrophes are removed (d'Ancona → dancona); every other character that is not
//!    a letter or digit becomes a separator.
//!
//! Anything left that is not ASCII after these steps (Greek, Arabic, CJK …) is rejected by the
//! caller with a clear error rather than silently dropped, so two different names never collapse
//! into the same key because their letters were unknown.

use unicode_normalization::char::is_combining_mark;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// A character no text a partner sends may hold: a control character (C0, C1 with U+0085), a
/// line or paragraph separator (U+2028, U+2029) or a format character (zero-width spaces and
/// joiners, bidi overrides such as U+202E, the byte-order mark): each can break a line, hide
/// text or show it in another order than it is stored. By the Unicode character database (the
/// `unicode-properties` crate), not a hand-kept table.
pub fn is_control_or_format(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}
use unicode_normalization::UnicodeNormalization;

/// Folds `input` to lower-case ASCII words, returned as separate tokens.
///
/// Returns `Err(position)` (0-based, in characters of the input) of the first character that no
/// rule maps to ASCII.
pub(crate) fn fold_words(input: &str) -> Result<Vec<String>, usize> {
    let mut words = Vec::new();
    let mut current = String::new();
    for (position, c) in input.chars().enumerate() {
        if is_apostrophe(c) {
            continue;
        }
        let mut replacement = String::new();
        if let Some(latin) = transliterate_cyrillic(c) {
            replacement.push_str(latin);
        } else {
            for d in c.nfkd() {
                if is_combining_mark(d) {
                    continue;
                }
                match replace_undecomposable(d) {
                    Some(s) => replacement.push_str(s),
                    None => replacement.push(d),
                }
            }
        }
        for r in replacement.chars() {
            if r.is_ascii_alphanumeric() {
                current.push(r.to_ascii_lowercase());
            } else if r.is_whitespace() || r.is_ascii_punctuation() || is_separator_like(r) {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            } else {
                return Err(position);
            }
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    Ok(words)
}

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{2018}' | '\u{02BC}' | '`' | '\u{00B4}'
    )
}

/// Dashes, dots and spaces that are not ASCII but clearly separate words.
fn is_separator_like(c: char) -> bool {
    matches!(
        c,
        '\u{2010}'..='\u{2015}' | '\u{00A0}' | '\u{2022}' | '\u{00B7}' | '\u{2212}'
    ) || c.is_whitespace()
}

fn replace_undecomposable(c: char) -> Option<&'static str> {
    Some(match c {
        'ł' | 'Ł' => "l",
        'ø' | 'Ø' => "o",
        'đ' | 'Đ' | 'ð' | 'Ð' => "d",
        'ß' | 'ẞ' => "ss",
        'æ' | 'Æ' => "ae",
        'œ' | 'Œ' => "oe",
        'ı' => "i",
        'þ' | 'Þ' => "th",
        'ħ' | 'Ħ' => "h",
        _ => return None,
    })
}

fn transliterate_cyrillic(c: char) -> Option<&'static str> {
    let lower = c.to_lowercase().next().unwrap_or(c);
    Some(match lower {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "g",
        'ґ' => "g",
        'д' => "d",
        'е' => "e",
        'ё' => "e",
        'є' => "ye",
        'ж' => "zh",
        'з' => "z",
        'и' => "i",
        'і' => "i",
        'ї' => "yi",
        'й' => "y",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'х' => "h",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "sht",
        'ъ' => "a",
        'ы' => "y",
        'ь' => "y",
        'э' => "e",
        'ю' => "yu",
        'я' => "ya",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_diacritics_and_special_letters() {
        assert_eq!(fold_words("Łukasz Wałęsa").unwrap(), ["lukasz", "walesa"]);
        assert_eq!(fold_words("Ștefan Țăranu").unwrap(), ["stefan", "taranu"]);
        assert_eq!(fold_words("Şerban Ţepeş").unwrap(), ["serban", "tepes"]);
        assert_eq!(fold_words("Strauß").unwrap(), ["strauss"]);
        assert_eq!(fold_words("Søren Ærø").unwrap(), ["soren", "aero"]);
    }

    #[test]
    fn transliterates_cyrillic() {
        assert_eq!(fold_words("Иванов").unwrap(), ["ivanov"]);
        assert_eq!(fold_words("Щерев").unwrap(), ["shterev"]);
        assert_eq!(fold_words("Юлия Петрова").unwrap(), ["yuliya", "petrova"]);
    }

    #[test]
    fn apostrophes_join_and_punctuation_separates() {
        assert_eq!(fold_words("d'Ancona").unwrap(), ["dancona"]);
        assert_eq!(
            fold_words("Popescu-Ionescu").unwrap(),
            ["popescu", "ionescu"]
        );
        assert_eq!(fold_words("  J.P.  ").unwrap(), ["j", "p"]);
    }

    #[test]
    fn rejects_unmapped_scripts_with_position() {
        assert_eq!(fold_words("Ab Δ"), Err(3));
        assert_eq!(fold_words("李"), Err(0));
    }
}
