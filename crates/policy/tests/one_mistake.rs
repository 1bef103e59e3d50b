//! One mistake, one message: a broken copy of the example set with a single mistake reports
//! that mistake once, at its root, and not every check that follows from it.
//!
//! Before this was enforced, the first two sets below gave 117 and 24 problems: a file that
//! fails to parse defines nothing, so every reference to what it would have defined was
//! reported as undefined too.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{expect, Copy};
use signaalnet_policy::{PolicySet, Problem};

/// The one problem of `problems`, or a panic listing them all.
fn only(problems: &[Problem]) -> &Problem {
    assert_eq!(
        problems.len(),
        1,
        "expected one problem, got {}:\n{}",
        problems.len(),
        problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    &problems[0]
}

#[test]
fn a_stray_key_in_attributes_toml_is_one_problem() {
    let c = Copy::new();
    let line = c.edit(
        "attributes.toml",
        "sensitivity = \"criminal\"",
        "sensitivity = \"criminal\"\nbron = \"eigen registratie\"",
    );
    let problems = c.problems();
    let p = only(&problems);
    expect(
        &problems,
        "attributes.toml",
        line + 1,
        "file.parse",
        &["bron"],
    );
    // The officer learns why nothing refers to an attribute any more.
    assert!(p.message.contains("attribute"), "{p}");
}

#[test]
fn a_misspelt_field_in_purposes_toml_is_one_problem_with_the_right_name() {
    let c = Copy::new();
    let line = c.edit(
        "purposes.toml",
        "retention_hits = \"P2Y\"",
        "retention_hist = \"P2Y\"",
    );
    let problems = c.problems();
    only(&problems);
    expect(
        &problems,
        "purposes.toml",
        line,
        "file.parse",
        &["retention_hist", "did you mean `retention_hits`?"],
    );
}

#[test]
fn a_misspelt_attribute_is_one_problem_with_the_nearest_name() {
    let c = Copy::new();
    let line = c.edit(
        "partners/politie-noord-nederland.toml",
        "\"vorm_uitbuiting\"",
        "\"vorm_uitbuitng\"",
    );
    let problems = c.problems();
    only(&problems);
    expect(
        &problems,
        "partners/politie-noord-nederland.toml",
        line,
        "reference.undefined_attribute",
        &["`vorm_uitbuitng`", "did you mean `vorm_uitbuiting`?"],
    );
}

#[test]
fn a_misspelt_purpose_id_is_one_problem_naming_every_reference() {
    let c = Copy::new();
    c.edit(
        "purposes.toml",
        "id = \"zorgcoordinatie\"",
        "id = \"zorgcoordinatei\"",
    );
    // Where the ZVH's share of the purpose is, found rather than counted.
    let zvh = std::fs::read_to_string(c.path("partners/zvh-groningen.toml")).unwrap();
    let at = zvh.find("purpose = \"zorgcoordinatie\"").unwrap();
    let zvh_line = format!(
        "partners/zvh-groningen.toml:{}",
        zvh[..at].matches('\n').count() + 1
    );
    let problems = c.problems();
    let p = only(&problems);
    assert_eq!(p.rule, "reference.undefined_purpose", "{p}");
    for words in [
        "`zorgcoordinatie`",
        "`zorgcoordinatei` is defined: is that id misspelt?",
        "also referred to at",
        &zvh_line,
    ] {
        assert!(p.message.contains(words), "{p} lacks {words}");
    }
}

#[test]
fn an_invalid_duration_is_one_problem_and_no_placeholder_is_shown() {
    let c = Copy::new();
    let line = c.edit(
        "purposes.toml",
        "retention_unmatched = \"P6M\"",
        "retention_unmatched = \"6 maanden\"",
    );
    let problems = c.problems();
    let p = only(&problems);
    expect(
        &problems,
        "purposes.toml",
        line,
        "duration.iso8601",
        &["retention_unmatched"],
    );
    assert!(!p.message.contains("P1D"), "{p}");
}

#[test]
fn an_independent_mistake_is_still_reported_beside_a_parse_error() {
    let c = Copy::new();
    c.edit(
        "attributes.toml",
        "sensitivity = \"criminal\"",
        "sensitivity = \"criminal\"\nbron = \"eigen registratie\"",
    );
    let line = c.edit(
        "partners/nla.toml",
        "00000099000000000038",
        "00000099000000000014",
    );
    let problems = c.problems();
    assert_eq!(problems.len(), 2, "{problems:?}");
    expect(
        &problems,
        "partners/nla.toml",
        line,
        "unique.duplicate_oin",
        &[],
    );
}

#[test]
fn a_directory_that_does_not_exist_is_one_problem() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("beleid");
    let problems = PolicySet::load(&missing).unwrap_err().0;
    let p = only(&problems);
    assert_eq!(p.rule, "dir.not_found", "{p}");
}
