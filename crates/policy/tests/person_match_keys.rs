//! `person_match_keys` per purpose: which of a person's match keys may link signals. A purpose
//! without `initial` (and `loose`) does not link two persons who share only those keys.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{example_dir, expect, Copy};
use signaalnet_identifier::{Day, Identifier, MatchKey, Person};
use signaalnet_policy::{PersonMatchKey, PolicySet};
use std::collections::BTreeSet;

const DRIELUIK: &str = "signalering_drieluik";
/// The line after which a purpose setting can be added to the drieluik purpose.
const DRIELUIK_ANCHOR: &str = "processing_activity_id = \"signaalnet-va-001\"";

fn person(given: &str) -> Identifier {
    let today = Day::new(2026, 12, 1).unwrap();
    Identifier::Person(Person::parse("Jansen", given, "1990-03-14", today).unwrap())
}

fn keys(set: &PolicySet, who: &Identifier) -> BTreeSet<MatchKey> {
    set.match_keys(DRIELUIK, who).into_iter().collect()
}

/// A copy of the example set whose drieluik purpose says `setting`; the line it is on.
fn with_setting(setting: &str) -> (Copy, usize) {
    let c = Copy::new();
    let line = c.edit(
        "purposes.toml",
        DRIELUIK_ANCHOR,
        &format!("{setting}\n{DRIELUIK_ANCHOR}"),
    );
    (c, line)
}

#[test]
fn by_default_every_key_links_as_before() {
    let set = PolicySet::load(&example_dir()).unwrap();
    let purpose = set.purpose(DRIELUIK).unwrap();
    assert_eq!(
        purpose.person_match_keys,
        PersonMatchKey::ALL.into_iter().collect()
    );
    let (jan, johan) = (person("Jan"), person("Johan"));
    assert_eq!(keys(&set, &jan).len(), 3);
    // Two different Jansens born the same day meet on the initial (and loose) key.
    assert_eq!(
        keys(&set, &jan).intersection(&keys(&set, &johan)).count(),
        2
    );
    // Known by initials only: no full key.
    assert_eq!(set.match_keys(DRIELUIK, &person("J.")).len(), 2);
}

#[test]
fn a_purpose_without_initial_does_not_link_persons_sharing_only_the_initial_key() {
    let (c, _) = with_setting("person_match_keys = [\"full\"]");
    let set = PolicySet::load(c.dir()).unwrap();
    let (jan, johan) = (person("Jan"), person("Johan"));
    assert_eq!(keys(&set, &jan).len(), 1);
    assert_eq!(
        keys(&set, &jan).intersection(&keys(&set, &johan)).count(),
        0
    );
    // The same person still links on the full key.
    assert_eq!(keys(&set, &jan), keys(&set, &person("Jan Pieter")));
    // A person known by initials only has no key this purpose links on.
    assert!(set.match_keys(DRIELUIK, &person("J.")).is_empty());
    // Other purposes keep every key, and other kinds are untouched.
    assert_eq!(set.match_keys("riec_integrale_analyse", &jan).len(), 3);
    let phone = Identifier::Phone(signaalnet_identifier::Phone::parse("+31 6 1234 5678").unwrap());
    assert_eq!(set.match_keys(DRIELUIK, &phone), phone.match_keys());
}

#[test]
fn explain_and_diff_show_the_keys() {
    let (c, _) = with_setting("person_match_keys = [\"full\", \"initial\"]");
    let set = PolicySet::load(c.dir()).unwrap();
    let text = signaalnet_policy::explain::explain(&set, Some(DRIELUIK), None);
    assert!(
        text.contains("Persons link on: full (surname, first given name, date of birth); initial (surname, initial, date of birth)  \n"),
        "{text}"
    );
    let before = PolicySet::load(&example_dir()).unwrap();
    let diff = signaalnet_policy::explain::diff(&before, &set);
    assert!(
        diff.changed.contains(
            &"purpose signalering_drieluik: person_match_keys [full, initial, loose] → [full, initial]"
                .to_owned()
        ),
        "{diff:?}"
    );
}

#[test]
fn an_unknown_key_is_named_with_the_nearest() {
    let (c, line) = with_setting("person_match_keys = [\"full\", \"intial\"]");
    expect(
        &c.problems(),
        "purposes.toml",
        line,
        "purpose.person_match_key",
        &["`intial`", "did you mean `initial`?"],
    );
}

#[test]
fn an_empty_list_is_refused() {
    let (c, line) = with_setting("person_match_keys = []");
    expect(
        &c.problems(),
        "purposes.toml",
        line,
        "purpose.person_match_keys_empty",
        &["signalering_drieluik"],
    );
}

#[test]
fn loose_without_initial_is_warned_about() {
    let (c, line) = with_setting("person_match_keys = [\"full\", \"loose\"]");
    let set = PolicySet::load(c.dir()).unwrap();
    let warning = set
        .warnings()
        .iter()
        .find(|w| w.rule == "purpose.person_match_keys_loose_without_initial")
        .unwrap();
    assert_eq!(
        (warning.file.as_str(), warning.line),
        ("purposes.toml", line)
    );
}

#[test]
fn a_monitor_purpose_takes_no_person_match_keys() {
    let c = Copy::new();
    let line = c.edit(
        "purposes.toml",
        "aggregates_only = true",
        "aggregates_only = true\nperson_match_keys = [\"full\"]",
    ) + 1;
    expect(
        &c.problems(),
        "purposes.toml",
        line,
        "purpose.person_match_keys_monitor",
        &["aggregates_only"],
    );
}
