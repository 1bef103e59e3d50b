//! The model the monitor is built for: the ZVH Drenthe annual report on 2023 (the seed
//! documents), which counted 67 new signals by form of exploitation and by municipality of
//! origin. [`year`] spreads them over the months of 2023 and two submitting partners with both
//! published marginals intact, for the monitor's tests and the demo's history.

/// Municipalities of Drenthe by CBS code, with the report's counts (Aa en Hunze, GM1680: 0).
pub const GEMEENTEN: [(&str, usize); 11] = [
    ("GM0106", 11), // Assen
    ("GM0114", 15), // Emmen
    ("GM0118", 4),  // Hoogeveen
    ("GM1701", 5),  // Westerveld
    ("GM1730", 1),  // Tynaarlo
    ("GM1681", 3),  // Borger-Odoorn
    ("GM1731", 2),  // Midden-Drenthe
    ("GM0109", 4),  // Coevorden
    ("GM0119", 7),  // Meppel
    ("GM1699", 1),  // Noordenveld
    ("GM1690", 2),  // De Wolden
];
/// Signals of unknown origin.
pub const ORIGIN_UNKNOWN: usize = 12;
/// Signals by form of exploitation.
pub const FORMS: [(&str, usize); 4] = [
    ("seksuele_uitbuiting", 28),
    ("arbeidsuitbuiting", 11),
    ("criminele_uitbuiting", 7),
    ("onbekend", 21),
];
/// The police and the ZVH, the two partners of the example policy set that submit these.
pub const POLITIE: &str = "politie_noord_nederland";
pub const ZVH: &str = "zvh_groningen";

/// One signal of the year.
#[derive(Clone, Debug)]
pub struct Reported {
    pub partner: &'static str,
    /// A case number of the year, `DR-2023-nnn`.
    pub case: String,
    /// The municipality of origin, if known.
    pub gemeente: Option<&'static str>,
    pub month: String,
    pub form: &'static str,
}

/// The 67 signals: both marginals as reported, origins mixed with forms (7 is prime to 67, so
/// every origin meets several forms), the criminal-exploitation signals all from the police
/// (so the ZVH has none of its own in that cell), the rest alternately police and ZVH, months
/// January to December in turn.
pub fn year() -> Vec<Reported> {
    let mut origins: Vec<Option<&'static str>> = GEMEENTEN
        .iter()
        .flat_map(|(g, n)| std::iter::repeat_n(Some(*g), *n))
        .collect();
    origins.extend(std::iter::repeat_n(None, ORIGIN_UNKNOWN));
    let forms: Vec<&'static str> = FORMS
        .iter()
        .flat_map(|(f, n)| std::iter::repeat_n(*f, *n))
        .collect();
    (0..origins.len().min(forms.len()))
        .map(|i| {
            let form = forms[(i * 7) % forms.len()];
            Reported {
                partner: if form == "criminele_uitbuiting" || i % 2 == 0 {
                    POLITIE
                } else {
                    ZVH
                },
                case: format!("DR-2023-{i:03}"),
                gemeente: origins[i],
                month: format!("2023-{:02}", i % 12 + 1),
                form,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_year_has_the_reports_marginals() {
        let year = year();
        assert_eq!(year.len(), 67);
        let mut by_form: BTreeMap<&str, usize> = BTreeMap::new();
        let mut by_origin: BTreeMap<Option<&str>, usize> = BTreeMap::new();
        for r in &year {
            *by_form.entry(r.form).or_default() += 1;
            *by_origin.entry(r.gemeente).or_default() += 1;
        }
        assert_eq!(by_form, FORMS.into_iter().collect());
        let mut expected: BTreeMap<Option<&str>, usize> =
            GEMEENTEN.iter().map(|(g, n)| (Some(*g), *n)).collect();
        expected.insert(None, ORIGIN_UNKNOWN);
        assert_eq!(by_origin, expected);
    }
}
