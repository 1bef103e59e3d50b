//! `attributes.toml`: the catalogue of attributes a signal may carry. An enum lists its values
//! (each once); any other kind takes none.

use super::report::Checker;
use crate::files::{AttributeEntry, AttributesFile};
use crate::model::{Attribute, AttributeKind};
use crate::problem::Source;
use std::collections::{BTreeMap, HashMap};

pub(super) fn check(
    c: &mut Checker,
    file: Option<&(&Source, AttributesFile)>,
) -> BTreeMap<String, Attribute> {
    let mut attributes = BTreeMap::new();
    let Some((source, file)) = file else {
        return attributes;
    };
    let mut seen = HashMap::new();
    for entry in &file.attribute {
        if !c.unique(&mut seen, source, &entry.id, "attribute") {
            continue;
        }
        let values = values(c, source, entry);
        attributes.insert(
            entry.id.get_ref().clone(),
            Attribute {
                id: entry.id.get_ref().clone(),
                name: entry.name.clone(),
                description: entry.description.clone(),
                kind: *entry.kind.get_ref(),
                values,
                sensitivity: entry.sensitivity,
            },
        );
    }
    attributes
}

/// The values of an enum attribute, which must list some, each once; other kinds take none.
fn values(c: &mut Checker, source: &Source, entry: &AttributeEntry) -> Vec<String> {
    let mut values = Vec::new();
    if *entry.kind.get_ref() == AttributeKind::Enum {
        if entry.values.is_empty() {
            c.at(
                source,
                &entry.kind,
                "attribute.enum_values",
                format!("enum attribute `{}` lists no values", entry.id.get_ref()),
            );
        }
        let mut seen_values = HashMap::new();
        for v in &entry.values {
            c.unique(&mut seen_values, source, v, "value");
            values.push(v.get_ref().clone());
        }
    } else if let Some(first) = entry.values.first() {
        c.at(
            source,
            first,
            "attribute.enum_values",
            format!(
                "attribute `{}` is not an enum, so it takes no `values`",
                entry.id.get_ref()
            ),
        );
    }
    values
}
