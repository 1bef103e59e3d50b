//! Properties of normalisation: idempotent, spellings the rules call equal give equal match
//! keys, different identifiers give different match keys.
#![allow(clippy::unwrap_used)] // test helpers panic on fixture errors

use proptest::prelude::*;
use signaalnet_identifier::{
    Address, Bsn, Day, Iban, Identifier, IdentifierError, MatchKey, Person, Phone, Vehicle,
};

/// A person checked against a fixed "today" after every generated date of birth.
fn person(surname: &str, given: &str, dob: &str) -> Result<Person, IdentifierError> {
    Person::parse(surname, given, dob, Day::new(2026, 12, 1).unwrap())
}

fn values(keys: &[MatchKey]) -> Vec<String> {
    keys.iter().map(|k| k.value().to_owned()).collect()
}

/// A valid BSN from 8 random digits, or `None` when no check digit makes it pass.
fn bsn_from(prefix: [u8; 8]) -> Option<String> {
    let partial: i64 = prefix
        .iter()
        .enumerate()
        .map(|(i, d)| (9 - i as i64) * i64::from(*d))
        .sum();
    let check = partial % 11;
    if check > 9 || prefix.iter().all(|d| *d == 0) {
        return None;
    }
    Some(
        prefix
            .iter()
            .map(|d| char::from(b'0' + d))
            .collect::<String>()
            + &check.to_string(),
    )
}

fn bsn_strategy() -> impl Strategy<Value = String> {
    proptest::array::uniform8(0u8..10).prop_filter_map("no check digit", bsn_from)
}

/// Writes digits the ways people do: grouped by spaces, dots or dashes.
fn spaced(digits: &str, separator: &str, every: usize) -> String {
    digits
        .as_bytes()
        .chunks(every)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(separator)
}

fn nl_iban(bank: &str, account: &str) -> String {
    let rearranged: String = format!("{bank}{account}NL00")
        .chars()
        .map(|c| c.to_digit(36).unwrap_or(0).to_string())
        .collect();
    let remainder = rearranged
        .bytes()
        .fold(0u64, |r, b| (r * 10 + u64::from(b - b'0')) % 97);
    format!("NL{:02}{bank}{account}", 98 - remainder)
}

/// Letters with a diacritic and the bare letter the rules fold them to.
const FOLDS: &[(&str, &str)] = &[
    ("ä", "a"),
    ("é", "e"),
    ("ł", "l"),
    ("ș", "s"),
    ("ț", "t"),
    ("ă", "a"),
    ("ö", "o"),
    ("ń", "n"),
    ("ç", "c"),
    ("č", "c"),
    ("ą", "a"),
    ("ż", "z"),
];

fn name_strategy() -> impl Strategy<Value = (String, String)> {
    // Pieces are either a plain letter or a diacritic letter; returns (with diacritics, bare).
    // Six letters or more, so a generated name is never one of the particles (van, der, onder).
    let piece = prop_oneof![
        "[b-df-hj-np-tv-z]".prop_map(|s| (s.clone(), s)),
        "[aeiou]".prop_map(|s| (s.clone(), s)),
        proptest::sample::select(FOLDS).prop_map(|(d, b)| (d.to_string(), b.to_string())),
    ];
    proptest::collection::vec(piece, 6..12).prop_map(|pieces| {
        let accented: String = pieces.iter().map(|(d, _)| d.as_str()).collect();
        let bare: String = pieces.iter().map(|(_, b)| b.as_str()).collect();
        (accented, bare)
    })
}

fn dob_strategy() -> impl Strategy<Value = (u16, u8, u8)> {
    (1930u16..2020, 1u8..13, 1u8..29)
}

proptest! {
    #[test]
    fn bsn_spellings_are_equal_and_idempotent(bsn in bsn_strategy(), sep in "[ .-]", every in 2usize..5) {
        let plain = Bsn::parse(&bsn).unwrap();
        let written = Bsn::parse(&spaced(&bsn, &sep, every)).unwrap();
        prop_assert_eq!(&plain, &written);
        prop_assert_eq!(&Bsn::parse(plain.normalised()).unwrap(), &plain);
    }

    #[test]
    fn different_bsns_give_different_keys(a in bsn_strategy(), b in bsn_strategy()) {
        prop_assume!(a != b);
        let ka = Identifier::Bsn(Bsn::parse(&a).unwrap()).match_keys();
        let kb = Identifier::Bsn(Bsn::parse(&b).unwrap()).match_keys();
        prop_assert_ne!(ka, kb);
    }

    #[test]
    fn dutch_mobile_spellings_are_equal(subscriber in "[1-58][0-9]{7}") {
        let forms = [
            format!("06{subscriber}"),
            format!("06-{subscriber}"),
            format!("06 {} {}", &subscriber[..4], &subscriber[4..]),
            format!("+316{subscriber}"),
            format!("+31 6 {subscriber}"),
            format!("+31 (0)6 {subscriber}"),
            format!("00316{subscriber}"),
        ];
        let first = Phone::parse(&forms[0]).unwrap();
        for form in &forms {
            prop_assert_eq!(&Phone::parse(form).unwrap(), &first);
        }
        prop_assert_eq!(&Phone::parse(first.normalised()).unwrap(), &first);
    }

    #[test]
    fn different_phones_give_different_keys(a in "[1-58][0-9]{7}", b in "[1-58][0-9]{7}") {
        prop_assume!(a != b);
        let pa = Phone::parse(&format!("06{a}")).unwrap();
        let pb = Phone::parse(&format!("06{b}")).unwrap();
        prop_assert_ne!(
            Identifier::Phone(pa).match_keys(),
            Identifier::Phone(pb).match_keys()
        );
    }

    #[test]
    fn iban_spellings_are_equal_and_idempotent(bank in "[A-Z]{4}", account in "[0-9]{10}", lower in any::<bool>()) {
        let iban = nl_iban(&bank, &account);
        let canonical = Iban::parse(&iban).unwrap();
        let grouped = spaced(&iban, " ", 4);
        let written = if lower { grouped.to_lowercase() } else { grouped };
        prop_assert_eq!(&Iban::parse(&written).unwrap(), &canonical);
        prop_assert_eq!(&Iban::parse(canonical.normalised()).unwrap(), &canonical);
    }

    #[test]
    fn a_single_typo_in_an_iban_is_refused(bank in "[A-Z]{4}", account in "[0-9]{10}", position in 0usize..10, delta in 1u8..10) {
        let iban = nl_iban(&bank, &account);
        let mut bytes = iban.into_bytes();
        let i = 8 + position;
        bytes[i] = b'0' + (bytes[i] - b'0' + delta) % 10;
        let typo = String::from_utf8(bytes).unwrap();
        prop_assert_eq!(Iban::parse(&typo).unwrap_err().rule(), "iban.checksum");
    }

    #[test]
    fn postcode_spellings_are_equal(digits in "[1-9][0-9]{3}", letters in "[A-RT-Z][A-Z]", number in 1u32..2000, space in any::<bool>(), lower in any::<bool>()) {
        let written = format!("{digits}{}{}", if space { " " } else { "" }, if lower { letters.to_lowercase() } else { letters.clone() });
        let a = Address::parse_postal(&written, &number.to_string(), "").unwrap();
        let b = Address::parse_postal(&format!("{digits}{letters}"), &number.to_string(), "").unwrap();
        prop_assert_eq!(a.normalised(), b.normalised());
    }

    #[test]
    fn different_house_numbers_give_different_keys(n in 1u32..5000, m in 1u32..5000) {
        prop_assume!(n != m);
        let a = Address::parse_postal("9712CP", &n.to_string(), "").unwrap();
        let b = Address::parse_postal("9712CP", &m.to_string(), "").unwrap();
        prop_assert_ne!(a.normalised(), b.normalised());
    }

    #[test]
    fn person_spellings_the_rules_call_equal_give_equal_keys(
        (surname, bare_surname) in name_strategy(),
        (given, bare_given) in name_strategy(),
        (y, m, d) in dob_strategy(),
    ) {
        let iso = format!("{y:04}-{m:02}-{d:02}");
        let dutch = format!("{d:02}-{m:02}-{y:04}");
        let reference = person(&format!("van der {surname}"), &given, &iso).unwrap();
        let variants = [
            person(&format!("{}, van der", surname.to_uppercase()), &given.to_uppercase(), &dutch).unwrap(),
            person(&format!("Van Der {bare_surname}"), &bare_given, &dutch).unwrap(),
            person(&bare_surname, &format!("{bare_given} Maria"), &iso).unwrap(),
        ];
        for variant in &variants {
            prop_assert_eq!(values(&variant.match_keys()), values(&reference.match_keys()));
        }
    }

    #[test]
    fn person_keys_are_idempotent((surname, _) in name_strategy(), (given, _) in name_strategy(), (y, m, d) in dob_strategy()) {
        let once = person(&surname, &given, &format!("{y:04}-{m:02}-{d:02}")).unwrap();
        // Re-parse the folded form taken from the full key.
        let keys = values(&once.match_keys());
        let parts: Vec<&str> = keys[0].split('|').collect();
        let twice = person(parts[1], parts[2], parts[3]).unwrap();
        prop_assert_eq!(values(&twice.match_keys()), keys);
    }

    #[test]
    fn persons_born_on_different_days_share_no_key((surname, _) in name_strategy(), (given, _) in name_strategy(), a in dob_strategy(), b in dob_strategy()) {
        prop_assume!(a != b);
        let p = |(y, m, d): (u16, u8, u8)| person(&surname, &given, &format!("{y:04}-{m:02}-{d:02}")).unwrap().match_keys();
        let (ka, kb) = (p(a), p(b));
        prop_assert!(ka.iter().all(|k| !kb.contains(k)));
    }

    #[test]
    fn kenteken_spellings_are_equal(letters in "[B-DF-HJ-NP-TV-Z]{2}", digits in "[0-9]{3}", last in "[B-DF-HJ-NP-TV-Z]") {
        let a = Vehicle::parse("", &format!("{letters}-{digits}-{last}")).unwrap();
        let b = Vehicle::parse("nl", &format!("{} {digits} {}", letters.to_lowercase(), last.to_lowercase())).unwrap();
        prop_assert_eq!(a.normalised(), b.normalised());
    }
}
