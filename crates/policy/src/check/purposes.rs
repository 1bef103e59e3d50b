//! `purposes.toml`: why data is processed. Each purpose is its own processing activity, rests on
//! defined legal bases, keeps unmatched signals at least as long as it matches over, needs two
//! partners for a hit, and is either matched (with alarms) or a monitor that only counts other
//! purposes in cells large enough not to point at a person.

use super::report::{Catalogue, Checker};
use crate::duration::IsoDuration;
use crate::files::{PurposeEntry, PurposesFile};
use crate::model::{Counting, Disclosure, LegalBasis, Monitor, PersonMatchKey, Purpose};
use crate::problem::Source;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The smallest monitor cell size accepted: below it a count points at one or two people.
pub const MIN_MONITOR_CELL_SIZE: i64 = 5;
/// The cell key's noise bound where a monitor purpose sets none.
pub const DEFAULT_NOISE_BOUND: u32 = 2;
/// How long a signal waits before it counts where a monitor purpose sets nothing.
pub const DEFAULT_COUNTING_DELAY: IsoDuration = IsoDuration::days(14);

pub(super) fn check(
    c: &mut Checker,
    file: Option<&(&Source, PurposesFile)>,
    legal_bases: &BTreeMap<String, LegalBasis>,
) -> BTreeMap<String, Purpose> {
    let mut purposes = BTreeMap::new();
    let Some((source, file)) = file else {
        return purposes;
    };
    let mut seen = HashMap::new();
    let mut activities = HashMap::new();
    let ids: BTreeSet<&String> = file.purpose.iter().map(|p| p.id.get_ref()).collect();
    for entry in &file.purpose {
        if !c.unique(&mut seen, source, &entry.id, "purpose") {
            continue;
        }
        let id = entry.id.get_ref();
        own_activity(c, source, entry, &mut activities);
        bases_defined(c, source, entry, legal_bases);
        let (retention_unmatched, retention_hits, match_window) = timing(c, source, entry);
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
            Some(monitor(c, source, entry, &ids))
        } else {
            not_a_monitor(c, source, entry);
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
        let person_match_keys = person_keys(c, source, entry, monitor.is_some());
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
                person_match_keys,
                retention_unmatched,
                retention_hits,
                match_window,
                min_distinct_partners: u32::try_from(min_partners).unwrap_or(2),
                monitor,
                alarms,
            },
        );
    }
    purposes
}

/// A processing activity belongs to one purpose: the register and the processing logs name it.
fn own_activity(
    c: &mut Checker,
    source: &Source,
    entry: &PurposeEntry,
    activities: &mut HashMap<String, String>,
) {
    let activity = &entry.processing_activity_id;
    if let Some(first) = activities.get(activity.get_ref()) {
        c.at(
            source,
            activity,
            "unique.processing_activity",
            format!(
                "processing activity `{}` is already used by purpose `{first}`; each \
                 purpose is its own processing activity",
                activity.get_ref()
            ),
        );
    }
    activities.insert(activity.get_ref().clone(), entry.id.get_ref().clone());
}

/// A purpose names at least one legal basis, each defined in legal_bases.toml.
fn bases_defined(
    c: &mut Checker,
    source: &Source,
    entry: &PurposeEntry,
    legal_bases: &BTreeMap<String, LegalBasis>,
) {
    let id = entry.id.get_ref();
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
            c.undefined(
                Catalogue::LegalBasis,
                source,
                basis,
                format!(
                    "purpose `{id}` names legal basis `{}`, which legal_bases.toml does not define",
                    basis.get_ref()
                ),
            );
        }
    }
}

/// `person_match_keys`: known keys, each once, at least one; none on a monitor purpose (it
/// matches nothing). Keeping `loose` without `initial` is allowed but warned about: `loose`
/// links every pair `initial` links.
fn person_keys(
    c: &mut Checker,
    source: &Source,
    entry: &PurposeEntry,
    monitor: bool,
) -> BTreeSet<PersonMatchKey> {
    let id = entry.id.get_ref();
    let Some(listed) = &entry.person_match_keys else {
        return crate::match_keys::default_keys();
    };
    if monitor {
        c.at(
            source,
            listed,
            "purpose.person_match_keys_monitor",
            format!(
                "purpose `{id}` is aggregates_only: no signal is matched for it, so it takes no person_match_keys"
            ),
        );
    }
    if listed.get_ref().is_empty() {
        c.at(
            source,
            listed,
            "purpose.person_match_keys_empty",
            format!(
                "purpose `{id}` lists no person match key, so persons could never link; list \
                 at least `full`, or take `person` out of the partners' identifier_kinds for it"
            ),
        );
    }
    let names = PersonMatchKey::ALL.map(PersonMatchKey::as_str);
    let mut keys = BTreeSet::new();
    for name in listed.get_ref() {
        match PersonMatchKey::from_name(name.get_ref()) {
            Some(key) if !keys.insert(key) => c.at(
                source,
                name,
                "unique.duplicate_id",
                format!("person match key `{}` is listed twice", name.get_ref()),
            ),
            Some(_) => {}
            None => c.at(
                source,
                name,
                "purpose.person_match_key",
                format!(
                    "`{}` is not a person match key{}; the keys are: {}",
                    name.get_ref(),
                    crate::suggest::did_you_mean(name.get_ref(), names),
                    names.join(", ")
                ),
            ),
        }
    }
    if keys.contains(&PersonMatchKey::Loose) && !keys.contains(&PersonMatchKey::Initial) {
        c.warn(
            source,
            listed,
            "purpose.person_match_keys_loose_without_initial",
            format!(
                "purpose `{id}` leaves out `initial` but keeps `loose`, which links every pair \
                 of persons `initial` would (same surname, initial and date of birth); leave \
                 out both to link fewer"
            ),
        );
    }
    keys
}

/// The retentions and the match window; a signal cannot be matched after it is deleted. A
/// duration that does not parse is reported once, and the window is not compared with it.
fn timing(
    c: &mut Checker,
    source: &Source,
    entry: &PurposeEntry,
) -> (IsoDuration, IsoDuration, IsoDuration) {
    let id = entry.id.get_ref();
    let retention_unmatched = c.duration(source, &entry.retention_unmatched, "retention_unmatched");
    let retention_hits = c.duration(source, &entry.retention_hits, "retention_hits");
    let match_window = c.duration(source, &entry.match_window, "match_window");
    if let (Some(window), Some(retention)) = (match_window, retention_unmatched) {
        if !window.at_most(&retention) {
            c.at(
                source,
                &entry.match_window,
                "purpose.window_exceeds_retention",
                format!(
                    "purpose `{id}` matches over {window} but keeps unmatched signals \
                     only {retention}; the window can be at most the retention"
                ),
            );
        }
    }
    // A duration that failed is a reported problem, so the set is refused and the stand-in is
    // never enforced nor shown.
    let or_stand_in = |d: Option<IsoDuration>| d.unwrap_or(IsoDuration::PLACEHOLDER);
    (
        or_stand_in(retention_unmatched),
        or_stand_in(retention_hits),
        or_stand_in(match_window),
    )
}

/// An `aggregates_only` purpose: a cell size that hides people, and defined purposes to count.
fn monitor(
    c: &mut Checker,
    source: &Source,
    entry: &PurposeEntry,
    ids: &BTreeSet<&String>,
) -> Monitor {
    let id = entry.id.get_ref();
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
            format!("monitor purpose `{id}` names no purposes to count (aggregates_of)"),
        );
    }
    for of in &entry.aggregates_of {
        if !ids.contains(of.get_ref()) {
            c.undefined(
                Catalogue::Purpose,
                source,
                of,
                format!(
                    "monitor purpose `{id}` counts purpose `{}`, which is not defined",
                    of.get_ref()
                ),
            );
        }
    }
    Monitor {
        aggregates_of: entry
            .aggregates_of
            .iter()
            .map(|p| p.get_ref().clone())
            .collect(),
        min_cell_size: cell,
        disclosure: disclosure(c, source, entry, cell),
        counts: counting(c, source, entry),
        counting_delay: entry
            .counting_delay
            .as_ref()
            .and_then(|d| c.duration(source, d, &format!("counting_delay of purpose `{id}`")))
            .unwrap_or(DEFAULT_COUNTING_DELAY),
    }
}

/// The disclosure control of a monitor: the cell-key method, with noise that hides a
/// difference of one but never turns a published cell (at least `cell`) into nothing.
fn disclosure(c: &mut Checker, source: &Source, entry: &PurposeEntry, cell: u32) -> Disclosure {
    let id = entry.id.get_ref();
    if let Some(method) = &entry.disclosure {
        if method.get_ref() != "cell_key" {
            c.at(
                source,
                method,
                "purpose.monitor_disclosure",
                format!(
                    "monitor purpose `{id}` names disclosure `{}`; the method offered is \
                     `cell_key` (docs/monitor.md says why)",
                    method.get_ref()
                ),
            );
        }
    }
    let noise_bound = match &entry.noise_bound {
        None => DEFAULT_NOISE_BOUND,
        Some(bound) => {
            let most = i64::from(cell / 2).max(1);
            let value = *bound.get_ref();
            if !(1..=most).contains(&value) {
                c.at(
                    source,
                    bound,
                    "purpose.monitor_noise_bound",
                    format!(
                        "monitor purpose `{id}` sets noise_bound {value}; it must be at least \
                         1 (without noise a total less its published cells gives the \
                         suppressed ones) and at most half of min_cell_size ({most})"
                    ),
                );
            }
            u32::try_from(value.clamp(1, most)).unwrap_or(DEFAULT_NOISE_BOUND)
        }
    };
    Disclosure::CellKey { noise_bound }
}

/// What a monitor counts: signals (optionally at most so many of one person) or persons.
fn counting(c: &mut Checker, source: &Source, entry: &PurposeEntry) -> Counting {
    let id = entry.id.get_ref();
    let cap = entry.max_signals_per_person.as_ref().and_then(|cap| {
        let value = *cap.get_ref();
        if value < 1 {
            c.at(
                source,
                cap,
                "purpose.monitor_max_signals_per_person",
                format!(
                    "monitor purpose `{id}` sets max_signals_per_person {value}; it must be at \
                     least 1"
                ),
            );
        }
        u32::try_from(value).ok().filter(|v| *v >= 1)
    });
    match entry.counts.as_ref().map(|s| (s, s.get_ref().as_str())) {
        None | Some((_, "signals")) => Counting::Signals {
            max_per_person: cap,
        },
        Some((_, "persons")) => {
            if let Some(cap) = &entry.max_signals_per_person {
                c.at(
                    source,
                    cap,
                    "purpose.monitor_max_signals_per_person",
                    format!(
                        "monitor purpose `{id}` counts persons, so each counts once; \
                         max_signals_per_person applies only to counts = \"signals\""
                    ),
                );
            }
            Counting::Persons
        }
        Some((counts, other)) => {
            c.at(
                source,
                counts,
                "purpose.monitor_counts",
                format!("monitor purpose `{id}` counts `{other}`; choose `signals` or `persons`"),
            );
            Counting::Signals {
                max_per_person: cap,
            }
        }
    }
}

/// A matched purpose has no cells and counts nothing.
fn not_a_monitor(c: &mut Checker, source: &Source, entry: &PurposeEntry) {
    let id = entry.id.get_ref();
    let monitor_only = [
        ("disclosure", entry.disclosure.as_ref().map(|s| s.span())),
        ("noise_bound", entry.noise_bound.as_ref().map(|s| s.span())),
        ("counts", entry.counts.as_ref().map(|s| s.span())),
        (
            "max_signals_per_person",
            entry.max_signals_per_person.as_ref().map(|s| s.span()),
        ),
        (
            "counting_delay",
            entry.counting_delay.as_ref().map(|s| s.span()),
        ),
    ];
    for (key, span) in monitor_only {
        if let Some(span) = span {
            c.at(
                source,
                &toml::Spanned::new(span, ()),
                "purpose.monitor_setting_without_aggregates",
                format!(
                    "purpose `{id}` sets {key} but is not aggregates_only; only monitor \
                     purposes count"
                ),
            );
        }
    }
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
}
