//! `legal_bases.toml`: the grounds processing rests on, each permitting at least one data class.

use super::report::Checker;
use crate::files::LegalBasesFile;
use crate::model::LegalBasis;
use crate::problem::Source;
use std::collections::{BTreeMap, HashMap};

pub(super) fn check(
    c: &mut Checker,
    file: Option<&(&Source, LegalBasesFile)>,
) -> BTreeMap<String, LegalBasis> {
    let mut legal_bases = BTreeMap::new();
    let Some((source, file)) = file else {
        return legal_bases;
    };
    let mut seen = HashMap::new();
    for entry in &file.legal_basis {
        if !c.unique(&mut seen, source, &entry.id, "legal basis") {
            continue;
        }
        if entry.permits.is_empty() {
            c.at(
                source,
                &entry.id,
                "basis.permits_nothing",
                format!("legal basis `{}` permits no data class", entry.id.get_ref()),
            );
        }
        legal_bases.insert(
            entry.id.get_ref().clone(),
            LegalBasis {
                id: entry.id.get_ref().clone(),
                citation: entry.citation.clone(),
                description: entry.description.clone(),
                permits: entry.permits.iter().map(|p| *p.get_ref()).collect(),
            },
        );
    }
    legal_bases
}
