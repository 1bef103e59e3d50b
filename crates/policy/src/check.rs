//! From parsed files to a validated [`PolicySet`]: resolve every reference and apply every
//! semantic rule, collecting all problems instead of stopping at the first, so a privacy officer
//! sees the whole list in one run.

use crate::duration::IsoDuration;
use crate::files::{
    AttributesFile, LegalBasesFile, Name, PartnerFile, PartnerRole, PurposesFile, RecipientsFile,
    Sensitivity,
};
use crate::model::{
    Attribute, AttributeKind, LegalBasis, Monitor, Partner, Purpose, RecipientView, Share,
};
use crate::problem::{Problem, Source};
use crate::PolicySet;
use signaalnet_identifier::IdentifierKind;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use toml::Spanned;

/// The smallest monitor cell size accepted: below it a count points at one or two people.
pub const MIN_MONITOR_CELL_SIZE: i64 = 5;

/// The parsed files, each with the source it came from.
pub(crate) struct Parsed<'a> {
    pub legal_bases: Option<(&'a Source, LegalBasesFile)>,
    pub purposes: Option<(&'a Source, PurposesFile)>,
    pub attributes: Option<(&'a Source, AttributesFile)>,
    pub recipients: Option<(&'a Source, RecipientsFile)>,
    pub partners: Vec<(&'a Source, PartnerFile)>,
}

struct Checker {
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
}

impl Checker {
    fn at<T>(
        &mut self,
        source: &Source,
        spanned: &Spanned<T>,
        rule: &'static str,
        message: String,
    ) {
        self.problems.push(Problem {
            file: source.path.clone(),
            line: line(source, spanned),
            rule,
            message,
        });
    }

    fn warn<T>(
        &mut self,
        source: &Source,
        spanned: &Spanned<T>,
        rule: &'static str,
        message: String,
    ) {
        self.warnings.push(Problem {
            file: source.path.clone(),
            line: line(source, spanned),
            rule,
            message,
        });
    }

    fn duration(&mut self, source: &Source, value: &Spanned<String>, what: &str) -> IsoDuration {
        match IsoDuration::parse(value.get_ref()) {
            Ok(d) => d,
            Err(why) => {
                self.at(
                    source,
                    value,
                    "duration.iso8601",
                    format!("{what} is not a valid ISO 8601 duration: {why}"),
                );
                // Checking goes on so every problem is reported; the set is rejected anyway.
                IsoDuration::PLACEHOLDER
            }
        }
    }

    /// The catalogue entry `attr` refers to, reporting an undefined one.
    fn catalogued<'a>(
        &mut self,
        attributes: &'a BTreeMap<String, Attribute>,
        source: &Source,
        attr: &Name,
    ) -> Option<&'a Attribute> {
        let found = attributes.get(attr.get_ref());
        if found.is_none() {
            self.at(
                source,
                attr,
                "reference.undefined_attribute",
                format!(
                    "attribute `{}` is not in the catalogue (attributes.toml)",
                    attr.get_ref()
                ),
            );
        }
        found
    }

    /// Registers `id` in `seen`, reporting a duplicate.
    fn unique(
        &mut self,
        seen: &mut HashMap<String, String>,
        source: &Source,
        id: &Name,
        what: &str,
    ) -> bool {
        if !is_identifier(id.get_ref()) {
            self.at(
                source,
                id,
                "id.format",
                format!(
                    "{what} id `{}` must be lower case letters, digits and _ (starting with a letter)",
                    id.get_ref()
                ),
            );
        }
        if let Some(first) = seen.get(id.get_ref()) {
            self.at(
                source,
                id,
                "unique.duplicate_id",
                format!(
                    "{what} `{}` is defined twice (first in {first})",
                    id.get_ref()
                ),
            );
            return false;
        }
        seen.insert(
            id.get_ref().clone(),
            format!("{}:{}", source.path, line(source, id)),
        );
        true
    }
}

fn line<T>(source: &Source, spanned: &Spanned<T>) -> usize {
    let span = spanned.span();
    if span == (0..0) {
        0
    } else {
        source.line_of(span.start)
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// OINs are 20 digits (Logius, Digikoppeling).
fn is_oin(s: &str) -> bool {
    s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn check(parsed: Parsed<'_>, version: String) -> Result<PolicySet, Vec<Problem>> {
    let mut c = Checker {
        problems: Vec::new(),
        warnings: Vec::new(),
    };

    // Legal bases.
    let mut legal_bases = BTreeMap::new();
    if let Some((source, file)) = &parsed.legal_bases {
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
    }

    // Attributes.
    let mut attributes = BTreeMap::new();
    if let Some((source, file)) = &parsed.attributes {
        let mut seen = HashMap::new();
        for entry in &file.attribute {
            if !c.unique(&mut seen, source, &entry.id, "attribute") {
                continue;
            }
            let kind = *entry.kind.get_ref();
            let mut values = Vec::new();
            if kind == AttributeKind::Enum {
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
            attributes.insert(
                entry.id.get_ref().clone(),
                Attribute {
                    id: entry.id.get_ref().clone(),
                    name: entry.name.clone(),
                    description: entry.description.clone(),
                    kind,
                    values,
                    sensitivity: entry.sensitivity,
                },
            );
        }
    }

    // Purposes.
    let mut purposes = BTreeMap::new();
    if let Some((source, file)) = &parsed.purposes {
        let mut seen = HashMap::new();
        let mut activities = HashMap::new();
        let ids: BTreeSet<&String> = file.purpose.iter().map(|p| p.id.get_ref()).collect();
        for entry in &file.purpose {
            if !c.unique(&mut seen, source, &entry.id, "purpose") {
                continue;
            }
            let id = entry.id.get_ref();
            if let Some(first) = activities.get(entry.processing_activity_id.get_ref()) {
                c.at(
                    source,
                    &entry.processing_activity_id,
                    "unique.processing_activity",
                    format!(
                        "processing activity `{}` is already used by purpose `{first}`; each \
                         purpose is its own processing activity",
                        entry.processing_activity_id.get_ref()
                    ),
                );
            }
            activities.insert(entry.processing_activity_id.get_ref().clone(), id.clone());
            if entry.legal_bases.is_empty() {
                c.at(
                    source,
                    &entry.id,
                    "purpose.legal_basis_required",
                    format!("purpose `{id}` names no legal basis"),
                );
            }
            for basis in &entry.legal_bases {
                if !legal_bases.contains_key(basis.get_ref()) {
                    c.at(
                        source,
                        basis,
                        "reference.undefined_legal_basis",
                        format!(
                            "purpose `{id}` names legal basis `{}`, which legal_bases.toml does not define",
                            basis.get_ref()
                        ),
                    );
                }
            }
            let retention_unmatched =
                c.duration(source, &entry.retention_unmatched, "retention_unmatched");
            let retention_hits = c.duration(source, &entry.retention_hits, "retention_hits");
            let match_window = c.duration(source, &entry.match_window, "match_window");
            if match_window.days() > retention_unmatched.days() {
                c.at(
                    source,
                    &entry.match_window,
                    "purpose.window_exceeds_retention",
                    format!(
                        "purpose `{id}` matches over {match_window} but keeps unmatched signals \
                         only {retention_unmatched}; the window can be at most the retention"
                    ),
                );
            }
            let min_partners = *entry.min_distinct_partners.get_ref();
            if min_partners < 2 {
                c.at(
                    source,
                    &entry.min_distinct_partners,
                    "purpose.min_distinct_partners",
                    format!(
                        "purpose `{id}` sets min_distinct_partners to {min_partners}; a hit needs at \
                         least 2 partners, otherwise one organisation learns only about itself \
                         through the coordinator"
                    ),
                );
            }
            let monitor = if entry.aggregates_only {
                let cell = match &entry.min_cell_size {
                    None => {
                        c.at(
                            source,
                            &entry.id,
                            "purpose.monitor_min_cell_size",
                            format!(
                                "monitor purpose `{id}` (aggregates_only) has no min_cell_size; \
                                 small counts identify people"
                            ),
                        );
                        0
                    }
                    Some(size) if *size.get_ref() < MIN_MONITOR_CELL_SIZE => {
                        c.at(
                            source,
                            size,
                            "purpose.monitor_min_cell_size",
                            format!(
                                "monitor purpose `{id}` has min_cell_size {}; at least \
                                 {MIN_MONITOR_CELL_SIZE} is required",
                                size.get_ref()
                            ),
                        );
                        0
                    }
                    Some(size) => u32::try_from(*size.get_ref()).unwrap_or(u32::MAX),
                };
                if entry.aggregates_of.is_empty() {
                    c.at(
                        source,
                        &entry.id,
                        "purpose.aggregates_of",
                        format!(
                            "monitor purpose `{id}` names no purposes to count (aggregates_of)"
                        ),
                    );
                }
                for of in &entry.aggregates_of {
                    if !ids.contains(of.get_ref()) {
                        c.at(
                            source,
                            of,
                            "reference.undefined_purpose",
                            format!(
                                "monitor purpose `{id}` counts purpose `{}`, which is not defined",
                                of.get_ref()
                            ),
                        );
                    }
                }
                Some(Monitor {
                    aggregates_of: entry
                        .aggregates_of
                        .iter()
                        .map(|p| p.get_ref().clone())
                        .collect(),
                    min_cell_size: cell,
                })
            } else {
                if let Some(size) = &entry.min_cell_size {
                    c.at(
                        source,
                        size,
                        "purpose.cell_size_without_aggregates",
                        format!(
                            "purpose `{id}` sets min_cell_size but is not aggregates_only; \
                             only monitor purposes have cells"
                        ),
                    );
                }
                if let Some(of) = entry.aggregates_of.first() {
                    c.at(
                        source,
                        of,
                        "purpose.aggregates_of",
                        format!("purpose `{id}` is not aggregates_only, so it counts no purposes"),
                    );
                }
                None
            };
            let mut found = Vec::new();
            let alarms = crate::limits::purpose_alarms(entry.alarms.as_ref(), &mut found);
            for (value, rule, message) in found {
                c.at(source, value, rule, format!("purpose `{id}`: {message}"));
            }
            if let (Some(alarms), Some(_)) = (&entry.alarms, &monitor) {
                c.at(
                    source,
                    alarms,
                    "alarms.monitor_purpose",
                    format!(
                        "purpose `{id}` is aggregates_only: no signal is matched for it, so it has no alarms"
                    ),
                );
            }
            purposes.insert(
                id.clone(),
                Purpose {
                    id: id.clone(),
                    name: entry.name.clone(),
                    description: entry.description.clone(),
                    legal_bases: entry
                        .legal_bases
                        .iter()
                        .map(|b| b.get_ref().clone())
                        .collect(),
                    processing_activity_id: entry.processing_activity_id.get_ref().clone(),
                    data_subjects: entry.data_subjects.clone(),
                    retention_unmatched,
                    retention_hits,
                    match_window,
                    min_distinct_partners: u32::try_from(min_partners).unwrap_or(2),
                    monitor,
                    alarms,
                },
            );
        }
    }

    // Partners.
    let mut partners = BTreeMap::new();
    let mut oin_index: HashMap<String, String> = HashMap::new();
    let mut seen_partners = HashMap::new();
    let mut oin_seen: HashMap<String, String> = HashMap::new();
    for (source, file) in &parsed.partners {
        if !c.unique(&mut seen_partners, source, &file.id, "partner") {
            continue;
        }
        let partner_id = file.id.get_ref();
        let role = *file.role.get_ref();
        if file.oins.is_empty() {
            c.at(
                source,
                &file.id,
                "partner.oin_required",
                format!("partner `{partner_id}` lists no OIN, so no certificate can act for it"),
            );
        }
        for oin in &file.oins {
            if !is_oin(oin.get_ref()) {
                c.at(
                    source,
                    oin,
                    "oin.format",
                    format!("OIN `{}` is not 20 digits", oin.get_ref()),
                );
            }
            if let Some(first) = oin_seen.get(oin.get_ref()) {
                c.at(
                    source,
                    oin,
                    "unique.duplicate_oin",
                    format!(
                        "OIN `{}` is already assigned in {first}; one OIN identifies one partner",
                        oin.get_ref()
                    ),
                );
            } else {
                oin_seen.insert(
                    oin.get_ref().clone(),
                    format!("{}:{}", source.path, line(source, oin)),
                );
                oin_index.insert(oin.get_ref().clone(), partner_id.clone());
            }
        }
        if role.is_infrastructure() && (!file.share.is_empty() || !file.recipient_roles.is_empty())
        {
            c.at(
                source,
                &file.role,
                "role.infrastructure_shares",
                format!(
                    "`{partner_id}` has role {}, which runs infrastructure: it may neither share \
                     signals nor hold recipient roles",
                    role.as_str()
                ),
            );
        }
        let mut shares = BTreeMap::new();
        for share in &file.share {
            let purpose_id = share.purpose.get_ref();
            let Some(purpose) = purposes.get(purpose_id) else {
                c.at(
                    source,
                    &share.purpose,
                    "reference.undefined_purpose",
                    format!(
                        "partner `{partner_id}` shares for purpose `{purpose_id}`, which purposes.toml does not define"
                    ),
                );
                continue;
            };
            if shares.contains_key(purpose_id) {
                c.at(
                    source,
                    &share.purpose,
                    "share.duplicate_purpose",
                    format!(
                        "partner `{partner_id}` has two share blocks for purpose `{purpose_id}`; merge them"
                    ),
                );
                continue;
            }
            let basis_id = share.legal_basis.get_ref();
            let basis = legal_bases.get(basis_id);
            if basis.is_none() {
                c.at(
                    source,
                    &share.legal_basis,
                    "reference.undefined_legal_basis",
                    format!("legal basis `{basis_id}` is not defined in legal_bases.toml"),
                );
            } else if !purpose.legal_bases.contains(basis_id) {
                c.at(
                    source,
                    &share.legal_basis,
                    "basis.not_for_purpose",
                    format!(
                        "legal basis `{basis_id}` is not one of the bases of purpose `{purpose_id}` ({})",
                        purpose.legal_bases.join(", ")
                    ),
                );
            }
            let mut kinds = BTreeSet::new();
            for kind in &share.identifier_kinds {
                match IdentifierKind::from_name(kind.get_ref()) {
                    Some(k) => {
                        kinds.insert(k);
                    }
                    None => c.at(
                        source,
                        kind,
                        "reference.undefined_identifier_kind",
                        format!(
                            "`{}` is not an identifier kind; known kinds: {}",
                            kind.get_ref(),
                            IdentifierKind::ALL.map(IdentifierKind::as_str).join(", ")
                        ),
                    ),
                }
            }
            if purpose.monitor.is_some() && !share.identifier_kinds.is_empty() {
                c.at(
                    source,
                    &share.identifier_kinds[0],
                    "share.aggregates_identifiers",
                    format!(
                        "purpose `{purpose_id}` is aggregates_only: a share for it names attributes to count, never identifier kinds"
                    ),
                );
            }
            if purpose.monitor.is_none() && share.identifier_kinds.is_empty() {
                c.at(
                    source,
                    &share.purpose,
                    "share.no_identifier_kinds",
                    format!(
                        "partner `{partner_id}` shares nothing to match on for purpose `{purpose_id}`: list identifier_kinds"
                    ),
                );
            }
            let mut attrs = BTreeSet::new();
            for attr in &share.attributes {
                let Some(attribute) = c.catalogued(&attributes, source, attr) else {
                    continue;
                };
                if let Some(basis) = basis {
                    if !basis.permits.contains(&attribute.sensitivity) {
                        c.at(
                            source,
                            attr,
                            "basis.sensitivity",
                            format!(
                                "attribute `{}` is {} data ({}), which legal basis `{basis_id}` does not permit (it permits: {})",
                                attribute.id,
                                attribute.sensitivity.as_str(),
                                sensitivity_words(attribute.sensitivity),
                                basis.permits.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                            ),
                        );
                    }
                }
                if attribute.sensitivity == Sensitivity::Police && role != PartnerRole::Politie {
                    c.at(
                        source,
                        attr,
                        "sensitivity.police_from_politie_only",
                        format!(
                            "attribute `{}` is police data (Wpg); only a partner with role politie can share it, `{partner_id}` has role {}",
                            attribute.id,
                            role.as_str()
                        ),
                    );
                }
                if !attrs.insert(attr.get_ref().clone()) {
                    c.at(
                        source,
                        attr,
                        "unique.duplicate_id",
                        format!("attribute `{}` is listed twice", attr.get_ref()),
                    );
                }
            }
            let (mut found, mut doubts) = (Vec::new(), Vec::new());
            let limits = crate::limits::share_limits(
                source,
                share.limits.as_ref(),
                share.bulk.as_ref(),
                &mut found,
                &mut doubts,
            );
            for (value, rule, message) in found {
                c.at(
                    source,
                    value,
                    rule,
                    format!("partner `{partner_id}`, purpose `{purpose_id}`: {message}"),
                );
            }
            for (value, rule, message) in doubts {
                c.warn(
                    source,
                    value,
                    rule,
                    format!("partner `{partner_id}`, purpose `{purpose_id}`: {message}"),
                );
            }
            if purpose.monitor.is_some() {
                if let Some(line) = share
                    .limits
                    .as_ref()
                    .map(Spanned::span)
                    .or(share.bulk.as_ref().map(Spanned::span))
                {
                    c.at(
                        source,
                        &Spanned::new(line, ()),
                        "limits.monitor_purpose",
                        format!(
                            "purpose `{purpose_id}` is aggregates_only: nothing is matched for it, so it takes no limits or bulk grant"
                        ),
                    );
                }
            }
            shares.insert(
                purpose_id.clone(),
                Share {
                    legal_basis: basis_id.clone(),
                    identifier_kinds: kinds,
                    attributes: attrs,
                    limits,
                },
            );
        }
        if shares.is_empty() && file.recipient_roles.is_empty() && !role.is_infrastructure() {
            c.warn(
                source,
                &file.id,
                "partner.inactive",
                format!("partner `{partner_id}` neither shares nor receives anything"),
            );
        }
        partners.insert(
            partner_id.clone(),
            Partner {
                id: partner_id.clone(),
                name: file.name.clone(),
                role,
                oins: file.oins.iter().map(|o| o.get_ref().clone()).collect(),
                recipient_roles: file.recipient_roles.iter().map(|r| *r.get_ref()).collect(),
                shares,
                file: source.path.clone(),
            },
        );
    }

    // Recipients.
    let mut recipients = BTreeMap::new();
    if let Some((source, file)) = &parsed.recipients {
        for entry in &file.recipient {
            let role = *entry.role.get_ref();
            let purpose_id = entry.purpose.get_ref();
            if !purposes.contains_key(purpose_id) {
                c.at(
                    source,
                    &entry.purpose,
                    "reference.undefined_purpose",
                    format!(
                        "recipient {} names purpose `{purpose_id}`, which is not defined",
                        role.as_str()
                    ),
                );
                continue;
            }
            let key = (role, purpose_id.clone());
            if recipients.contains_key(&key) {
                c.at(
                    source,
                    &entry.role,
                    "recipient.duplicate",
                    format!(
                        "recipient {} has two entries for purpose `{purpose_id}`; merge them",
                        role.as_str()
                    ),
                );
                continue;
            }
            let mut attrs = BTreeSet::new();
            for attr in &entry.attributes {
                if c.catalogued(&attributes, source, attr).is_none() {
                    continue;
                }
                let shared_by_someone = partners.values().any(|p: &Partner| {
                    p.shares
                        .get(purpose_id)
                        .is_some_and(|s| s.attributes.contains(attr.get_ref()))
                });
                if !shared_by_someone {
                    c.warn(
                        source,
                        attr,
                        "recipient.attribute_never_shared",
                        format!(
                            "recipient {} may see `{}` for `{purpose_id}`, but no partner shares it for that purpose",
                            role.as_str(),
                            attr.get_ref()
                        ),
                    );
                }
                attrs.insert(attr.get_ref().clone());
            }
            if role != crate::files::RecipientRole::Partner
                && !partners.values().any(|p| p.recipient_roles.contains(&role))
            {
                c.warn(
                    source,
                    &entry.role,
                    "recipient.role_unheld",
                    format!("no partner holds recipient role {}", role.as_str()),
                );
            }
            recipients.insert(
                key,
                RecipientView {
                    role,
                    purpose: purpose_id.clone(),
                    attributes: attrs,
                    sees_identifier_kinds: entry.sees_identifier_kinds,
                    sees_partner_roles: entry.sees_partner_roles,
                },
            );
        }
    }

    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    Ok(PolicySet {
        version,
        legal_bases,
        purposes,
        attributes,
        partners,
        oin_index,
        recipients,
        warnings: c.warnings,
    })
}

fn sensitivity_words(s: Sensitivity) -> &'static str {
    match s {
        Sensitivity::Basic => "ordinary personal data",
        Sensitivity::Special => "a special category, AVG art. 9",
        Sensitivity::Criminal => "criminal-law data, AVG art. 10",
        Sensitivity::Police => "police data, Wet politiegegevens",
    }
}
