//! Broken copies of the example policy set: each must be refused with the file, the line and
//! the rule of the problem, and a set with several problems must report all of them.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{example_dir, expect, Copy};
use signaalnet_policy::PolicySet;

#[test]
fn the_example_set_is_valid_and_has_no_warnings() {
    let set = PolicySet::load(&example_dir()).unwrap();
    assert!(set.warnings().is_empty(), "{:?}", set.warnings());
    assert!(set.version().starts_with("sha256:"));
}

#[test]
fn an_undefined_purpose_is_named_with_its_line() {
    let c = Copy::new();
    let line = c.edit(
        "partners/nla.toml",
        "purpose = \"bestuurlijke_aanpak\"",
        "purpose = \"bestuurlijke_aanpakk\"",
    );
    expect(
        &c.problems(),
        "partners/nla.toml",
        line,
        "reference.undefined_purpose",
        &["bestuurlijke_aanpakk", "nla"],
    );
}

#[test]
fn an_undefined_attribute_is_named() {
    let c = Copy::new();
    let line = c.edit(
        "recipients.toml",
        "attributes = [\"minderjarig\"]",
        "attributes = [\"minderjarig\", \"nationaliteit\"]",
    );
    expect(
        &c.problems(),
        "recipients.toml",
        line,
        "reference.undefined_attribute",
        &["nationaliteit"],
    );
}

#[test]
fn a_duplicate_oin_is_refused() {
    let c = Copy::new();
    let line = c.edit(
        "partners/nla.toml",
        "00000099000000000038",
        "00000099000000000014",
    );
    expect(
        &c.problems(),
        "partners/nla.toml",
        line,
        "unique.duplicate_oin",
        &["00000099000000000014", "gemeente-groningen.toml"],
    );
}

#[test]
fn a_malformed_oin_is_refused() {
    let c = Copy::new();
    let line = c.edit(
        "partners/nla.toml",
        "00000099000000000038",
        "0000009900000038",
    );
    expect(
        &c.problems(),
        "partners/nla.toml",
        line,
        "oin.format",
        &["20 digits"],
    );
}

#[test]
fn special_category_data_under_a_basis_that_does_not_allow_it_is_refused() {
    let c = Copy::new();
    // Bestuurlijke aanpak rests on the public task (basic data only); add health data.
    let line = c.edit(
        "partners/gemeente-groningen.toml",
        "attributes = [\"barriere_fase\", \"sector\", \"woonsituatie\", \"gemeente\", \"maand_waarneming\"]",
        "attributes = [\"barriere_fase\", \"zorgbehoefte\", \"sector\", \"woonsituatie\", \"gemeente\", \"maand_waarneming\"]",
    );
    expect(
        &c.problems(),
        "partners/gemeente-groningen.toml",
        line,
        "basis.sensitivity",
        &["zorgbehoefte", "special", "AVG art. 9", "avg_publieke_taak"],
    );
}

#[test]
fn criminal_data_under_the_public_task_is_refused() {
    let c = Copy::new();
    let line = c.edit(
        "partners/gemeente-groningen.toml",
        "attributes = [\"barriere_fase\", \"sector\", \"woonsituatie\", \"gemeente\", \"maand_waarneming\"]",
        "attributes = [\"vorm_uitbuiting\", \"barriere_fase\", \"sector\", \"woonsituatie\", \"gemeente\", \"maand_waarneming\"]",
    );
    expect(
        &c.problems(),
        "partners/gemeente-groningen.toml",
        line,
        "basis.sensitivity",
        &["vorm_uitbuiting", "criminal", "AVG art. 10"],
    );
}

#[test]
fn police_data_from_anyone_but_the_police_is_refused() {
    let c = Copy::new();
    let line = c.edit(
        "partners/zvh-groningen.toml",
        "\"minderjarig\", \"bron_signaal\"]",
        "\"minderjarig\", \"bron_signaal\", \"politie_registratie\"]",
    );
    let problems = c.problems();
    expect(
        &problems,
        "partners/zvh-groningen.toml",
        line,
        "sensitivity.police_from_politie_only",
        &["politie_registratie", "zvh"],
    );
    expect(
        &problems,
        "partners/zvh-groningen.toml",
        line,
        "basis.sensitivity",
        &["police"],
    );
}

#[test]
fn a_basis_that_is_not_one_of_the_purposes_bases_is_refused() {
    let c = Copy::new();
    let line = c.edit(
        "partners/gemeente-groningen.toml",
        "legal_basis = \"wmo_zorgcoordinatie\"",
        "legal_basis = \"avg_publieke_taak\"",
    );
    expect(
        &c.problems(),
        "partners/gemeente-groningen.toml",
        line,
        "basis.not_for_purpose",
        &["avg_publieke_taak", "zorgcoordinatie"],
    );
}

#[test]
fn an_invalid_iso8601_retention_is_refused() {
    let c = Copy::new();
    let line = c.edit(
        "purposes.toml",
        "retention_hits = \"P1Y\"",
        "retention_hits = \"1 jaar\"",
    );
    expect(
        &c.problems(),
        "purposes.toml",
        line,
        "duration.iso8601",
        &["retention_hits", "ISO 8601"],
    );
}

#[test]
fn a_monitor_purpose_without_minimum_cell_size_is_refused() {
    let c = Copy::new();
    c.edit("purposes.toml", "min_cell_size = 10\n", "");
    let line = c.edit(
        "purposes.toml",
        "id = \"monitor_aard_omvang\"",
        "id = \"monitor_aard_omvang\"",
    );
    expect(
        &c.problems(),
        "purposes.toml",
        line,
        "purpose.monitor_min_cell_size",
        &["monitor_aard_omvang", "min_cell_size"],
    );
}

#[test]
fn a_monitor_cell_size_below_five_is_refused() {
    let c = Copy::new();
    let line = c.edit("purposes.toml", "min_cell_size = 10", "min_cell_size = 3");
    expect(
        &c.problems(),
        "purposes.toml",
        line,
        "purpose.monitor_min_cell_size",
        &["3", "at least 5"],
    );
}

#[test]
fn a_hit_from_one_partner_is_not_allowed() {
    let c = Copy::new();
    let line = c.edit(
        "purposes.toml",
        "min_distinct_partners = 2",
        "min_distinct_partners = 1",
    );
    expect(
        &c.problems(),
        "purposes.toml",
        line,
        "purpose.min_distinct_partners",
        &["signalering_drieluik", "at least 2"],
    );
}

#[test]
fn a_match_window_longer_than_retention_is_refused() {
    let c = Copy::new();
    let line = c.edit(
        "purposes.toml",
        "match_window = \"P6M\"",
        "match_window = \"P2Y\"",
    );
    expect(
        &c.problems(),
        "purposes.toml",
        line,
        "purpose.window_exceeds_retention",
        &["P2Y", "P6M"],
    );
}

#[test]
fn an_unknown_field_is_refused_with_its_line() {
    let c = Copy::new();
    let line = c.edit(
        "purposes.toml",
        "retention_hits = \"P2Y\"",
        "bewaartermijn = \"P2Y\"",
    );
    expect(
        &c.problems(),
        "purposes.toml",
        line,
        "file.parse",
        &["bewaartermijn"],
    );
}

#[test]
fn a_syntax_error_is_refused_with_its_line() {
    let c = Copy::new();
    let line = c.edit(
        "attributes.toml",
        "type = \"month\"\nsensitivity",
        "type = \"month\nsensitivity",
    );
    expect(&c.problems(), "attributes.toml", line, "file.parse", &[]);
}

#[test]
fn an_unknown_identifier_kind_is_refused() {
    let c = Copy::new();
    let line = c.edit(
        "partners/nla.toml",
        "identifier_kinds = [\"address\", \"organisation\"]",
        "identifier_kinds = [\"address\", \"email\"]",
    );
    expect(
        &c.problems(),
        "partners/nla.toml",
        line,
        "reference.undefined_identifier_kind",
        &["email", "online_handle"],
    );
}

#[test]
fn a_missing_file_is_reported() {
    let c = Copy::new();
    std::fs::remove_file(c.path("recipients.toml")).unwrap();
    expect(&c.problems(), "recipients.toml", 0, "file.missing", &[]);
}

#[test]
fn every_problem_of_a_set_is_reported_at_once() {
    let c = Copy::new();
    c.edit(
        "purposes.toml",
        "match_window = \"P6M\"",
        "match_window = \"zes maanden\"",
    );
    c.edit(
        "partners/nla.toml",
        "00000099000000000038",
        "00000099000000000014",
    );
    c.edit(
        "recipients.toml",
        "attributes = [\"minderjarig\"]",
        "attributes = [\"nationaliteit\"]",
    );
    let rules: Vec<&str> = c.problems().iter().map(|p| p.rule).collect();
    for rule in [
        "duration.iso8601",
        "unique.duplicate_oin",
        "reference.undefined_attribute",
    ] {
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
}

#[test]
fn infrastructure_may_not_share_signals() {
    let c = Copy::new();
    let text = std::fs::read_to_string(c.path("partners/transcryptor-vng.toml")).unwrap();
    std::fs::write(
        c.path("partners/transcryptor-vng.toml"),
        format!(
            "{text}\n[[share]]\npurpose = \"signalering_drieluik\"\nlegal_basis = \"wgs_samenwerkingsverband\"\nidentifier_kinds = [\"bsn\"]\n"
        ),
    )
    .unwrap();
    let line = c.edit(
        "partners/transcryptor-vng.toml",
        "role = \"transcryptor\"",
        "role = \"transcryptor\"",
    );
    expect(
        &c.problems(),
        "partners/transcryptor-vng.toml",
        line,
        "role.infrastructure_shares",
        &["transcryptor_vng", "transcryptor"],
    );
}

// ---- probing limits and alarms -----------------------------------------------------------------

#[test]
fn a_limit_below_one_is_named_with_its_file_and_line() {
    let c = Copy::new();
    let line = c.edit(
        "partners/gemeente-groningen.toml",
        "limits = { identifiers_per_signal = 8,",
        "limits = { identifiers_per_signal = 0,",
    );
    expect(
        &c.problems(),
        "partners/gemeente-groningen.toml",
        line,
        "limits.identifiers_per_signal",
        &["gemeente_groningen", "signalering_drieluik", "at least 1"],
    );
}

#[test]
fn a_bulk_volume_without_a_bulk_grant_is_refused() {
    let c = Copy::new();
    let line = c.edit(
        "partners/gemeente-groningen.toml",
        "identifiers_per_day = 2_000 }",
        "identifiers_per_day = 1_000_000 }",
    );
    expect(
        &c.problems(),
        "partners/gemeente-groningen.toml",
        line,
        "limits.bulk_needs_grant",
        &["1000000", "[share.bulk]"],
    );
}

#[test]
fn a_daily_quota_below_the_signal_cap_is_refused() {
    let c = Copy::new();
    let line = c.edit(
        "partners/gemeente-groningen.toml",
        "identifiers_per_day = 2_000 }",
        "identifiers_per_day = 4 }",
    );
    expect(
        &c.problems(),
        "partners/gemeente-groningen.toml",
        line,
        "limits.day_below_signal",
        &["could never be sent"],
    );
}

#[test]
fn a_bulk_grant_needs_a_reason_and_knows_no_other_fields() {
    let c = Copy::new();
    let line = c.edit(
        "partners/nla.toml",
        "reason = \"Kwartaalcontrole",
        "reason = \"  \"\nwas = \"Kwartaalcontrole",
    );
    let problems = c.problems();
    expect(
        &problems,
        "partners/nla.toml",
        line + 1,
        "file.parse",
        &["unknown field `was`"],
    );

    let c = Copy::new();
    c.edit(
        "partners/nla.toml",
        "reason = \"Kwartaalcontrole",
        "reason = \" \"\n# was \"Kwartaalcontrole",
    );
    let line = c.edit(
        "partners/nla.toml",
        "identifiers_per_day = 50_000",
        "identifiers_per_day = 50_000",
    );
    expect(
        &c.problems(),
        "partners/nla.toml",
        line,
        "bulk.reason_required",
        &["nla", "bestuurlijke_aanpak", "reason"],
    );
}

#[test]
fn limits_on_a_monitor_purpose_are_refused() {
    let c = Copy::new();
    let line = c.edit(
        "partners/zvh-groningen.toml",
        "purpose = \"monitor_aard_omvang\"",
        "purpose = \"monitor_aard_omvang\"\nlimits = { identifiers_per_signal = 4 }",
    );
    expect(
        &c.problems(),
        "partners/zvh-groningen.toml",
        line + 1,
        "limits.monitor_purpose",
        &["monitor_aard_omvang"],
    );
}

#[test]
fn bad_alarm_thresholds_are_named_with_their_line() {
    let c = Copy::new();
    let line = c.edit(
        "purposes.toml",
        "hit_rate_percent = 50",
        "hit_rate_percent = 150",
    );
    expect(
        &c.problems(),
        "purposes.toml",
        line,
        "alarms.hit_rate_percent",
        &["signalering_drieluik", "1 to 100"],
    );
    let c = Copy::new();
    let line = c.edit(
        "purposes.toml",
        "withdrawals_after_hit = 3",
        "withdrawals_after_hit = -1",
    );
    expect(
        &c.problems(),
        "purposes.toml",
        line,
        "alarms.withdrawals_after_hit",
        &["at least 1"],
    );
}

#[test]
fn limits_default_where_left_out_and_a_bulk_grant_replaces_them() {
    use signaalnet_policy::Grant;
    let set = PolicySet::load(&example_dir()).unwrap();
    let set_limits = set
        .limits("gemeente_groningen", "signalering_drieluik")
        .unwrap();
    assert_eq!(
        (
            set_limits.identifiers_per_signal,
            set_limits.identifiers_per_day,
            set_limits.grant
        ),
        (8, 2_000, Grant::Share)
    );
    let default = set
        .limits("politie_noord_nederland", "signalering_drieluik")
        .unwrap();
    assert_eq!(
        (
            default.identifiers_per_signal,
            default.identifiers_per_day,
            default.grant
        ),
        (
            signaalnet_policy::limits::DEFAULT_IDENTIFIERS_PER_SIGNAL,
            signaalnet_policy::limits::DEFAULT_IDENTIFIERS_PER_DAY,
            Grant::Default
        )
    );
    let bulk = set.limits("nla", "bestuurlijke_aanpak").unwrap();
    assert_eq!(
        (bulk.identifiers_per_day, bulk.grant),
        (50_000, Grant::Bulk)
    );
    assert!(bulk
        .bulk_reason
        .as_deref()
        .unwrap()
        .contains("risicowerkgevers"));
    assert!(set.limits("nla", "zorgcoordinatie").is_none());
}
