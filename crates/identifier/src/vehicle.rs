//! Vehicle registrations. Dutch kentekens are checked against the RDW side codes (sidecodes)
//! 1–14; registrations from other countries (the vans that drive workers in from Poland,
//! Romania or Bulgaria) are accepted by form only, with their country code.
//!
//! The country is an assigned ISO 3166-1 alpha-2 code ([`ISO_3166_1`]), or `XK` (Kosovo: a
//! user-assigned code that the EU and Kosovo's own registrations use); `UK`, which British
//! vehicles carry since 2021, is read as `GB`. An unassigned code such as `XX` or `EU` is
//! refused (`vehicle.country`).

use crate::error::{at_most, only, IdentifierError};
use crate::{limits, redacted};

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Vehicle {
    /// ISO 3166-1 alpha-2, upper case.
    country: String,
    /// Letters and digits only, upper case.
    plate: String,
}
redacted!(Vehicle);

/// The letter (L) / digit (D) shape of each Dutch side code, separators removed.
const NL_SIDECODES: [&str; 14] = [
    "LLDDDD", // 1  XX-99-99
    "DDDDLL", // 2  99-99-XX
    "DDLLDD", // 3  99-XX-99
    "LLDDLL", // 4  XX-99-XX
    "LLLLDD", // 5  XX-XX-99
    "DDLLLL", // 6  99-XX-XX
    "DDLLLD", // 7  99-XXX-9
    "DLLLDD", // 8  9-XXX-99
    "LLDDDL", // 9  XX-999-X
    "LDDDLL", // 10 X-999-XX
    "LLLDDL", // 11 XXX-99-X
    "LDDLLL", // 12 X-99-XXX
    "DLLDDD", // 13 9-XX-999
    "DDDLLD", // 14 999-XX-9
];

/// The officially assigned ISO 3166-1 alpha-2 codes (249, as of ISO 3166-1:2020 with its
/// newsletters up to 2024), then `XK`.
pub const ISO_3166_1: &str = "\
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ \
    BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
    DE DJ DK DM DO DZ \
    EC EE EG EH ER ES ET \
    FI FJ FK FM FO FR \
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY \
    HK HM HN HR HT HU \
    ID IE IL IM IN IO IQ IR IS IT \
    JE JM JO JP \
    KE KG KH KI KM KN KP KR KW KY KZ \
    LA LB LC LI LK LR LS LT LU LV LY \
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ \
    NA NC NE NF NG NI NL NO NP NR NU NZ \
    OM \
    PA PE PF PG PH PK PL PM PN PR PS PT PW PY \
    QA \
    RE RO RS RU RW \
    SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ \
    TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ \
    UA UG UM US UY UZ \
    VA VC VE VG VI VN VU \
    WF WS \
    YE YT \
    ZA ZM ZW \
    XK";

fn is_country_code(code: &str) -> bool {
    code.len() == 2 && ISO_3166_1.split(' ').any(|c| c == code)
}

impl Vehicle {
    /// `country` is an ISO 3166-1 alpha-2 code (`NL` when empty). Dashes and spaces in the plate
    /// are removed and letters upper-cased (`ab-123-c` → `AB123C`).
    pub fn parse(country: &str, plate: &str) -> Result<Self, IdentifierError> {
        at_most(
            "vehicle.country",
            country,
            limits::VEHICLE_COUNTRY,
            "vehicle.too_long",
        )?;
        at_most("vehicle.plate", plate, limits::PLATE, "vehicle.too_long")?;
        let country = match country.trim().to_ascii_uppercase().as_str() {
            "" => "NL".to_owned(),
            "UK" => "GB".to_owned(),
            c if is_country_code(c) => c.to_owned(),
            _ => {
                return Err(IdentifierError::new(
                    "vehicle.country",
                    "is not an assigned two-letter ISO 3166-1 country code",
                    "vehicle.country",
                ))
            }
        };
        let compact: String = plate
            .chars()
            .filter(|c| !(c.is_whitespace() || matches!(c, '-' | '.' | '\u{00B7}')))
            .collect::<String>()
            .to_ascii_uppercase();
        only(
            "vehicle.plate",
            &compact,
            |c| c.is_ascii_alphanumeric(),
            "a registration has letters and digits only",
            "vehicle.characters",
        )?;
        if country == "NL" {
            let shape: String = compact
                .chars()
                .map(|c| if c.is_ascii_digit() { 'D' } else { 'L' })
                .collect();
            if !NL_SIDECODES.contains(&shape.as_str()) {
                return Err(IdentifierError::new(
                    "vehicle.plate",
                    format!(
                        "has {} characters in a letter/digit pattern that matches none of the \
                         Dutch side codes 1–14",
                        compact.len()
                    ),
                    "vehicle.nl_sidecode",
                ));
            }
        } else if !(2..=10).contains(&compact.len()) {
            return Err(IdentifierError::new(
                "vehicle.plate",
                format!("has {} characters; expected 2 to 10", compact.len()),
                "vehicle.length",
            ));
        }
        Ok(Self {
            country,
            plate: compact,
        })
    }

    /// `NL:AB123C`.
    pub fn normalised(&self) -> String {
        format!("{}:{}", self.country, self.plate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// A typo in the list would refuse a real country: every region of the telephone
    /// numbering-plan metadata (an independent list) must be in it, except Ascension (AC) and
    /// Tristan da Cunha (TA), which ISO 3166-1 only reserves.
    #[test]
    fn every_numbering_plan_region_is_a_listed_country() {
        let mut regions = 0;
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let code = String::from_utf8(vec![a, b]).unwrap();
                if phonenumber::country::Id::from_str(&code).is_ok()
                    && !matches!(code.as_str(), "AC" | "TA")
                {
                    regions += 1;
                    assert!(is_country_code(&code), "{code} missing");
                }
            }
        }
        assert!(regions > 240, "{regions}");
        assert_eq!(ISO_3166_1.split(' ').count(), 250);
    }
}
