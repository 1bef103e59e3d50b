//! Contact points (issue 17 §3): a partner's functional address per purpose, checked for its
//! form, and who may see them (role `partner` only).
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{example_dir, expect, Copy};
use signaalnet_policy::explain::{diff, Flow};
use signaalnet_policy::{contact_problem, PolicySet, RecipientRole};

#[test]
fn the_example_set_has_a_contact_point_per_partner_for_the_drieluik() {
    let set = PolicySet::load(&example_dir()).unwrap();
    assert_eq!(
        set.contact("gemeente_groningen", "signalering_drieluik"),
        Some("mensenhandel@groningen.nl")
    );
    for partner in ["politie_noord_nederland", "nla", "zvh_groningen"] {
        assert!(
            set.contact(partner, "signalering_drieluik").is_some(),
            "{partner}"
        );
    }
    // None where the share names none, and none for a purpose the partner does not share.
    assert_eq!(
        set.contact("politie_noord_nederland", "monitor_aard_omvang"),
        None
    );
    assert_eq!(
        set.contact("politie_noord_nederland", "zorgcoordinatie"),
        None
    );
    let view = set
        .recipient_view(RecipientRole::Partner, "signalering_drieluik")
        .unwrap();
    assert!(view.sees_contact_points);
    let riec = set
        .recipient_view(RecipientRole::RiecAnalist, "riec_integrale_analyse")
        .unwrap();
    assert!(!riec.sees_contact_points);
}

#[test]
fn a_contact_point_is_a_plain_lower_case_address() {
    for good in [
        "mensenhandel@groningen.nl",
        "avim-mensenhandel.noord-nederland@politie.nl",
        "team_zorg+drieluik@zvh-groningen.nl",
    ] {
        assert_eq!(contact_problem(good), None, "{good}");
    }
    for bad in [
        "",
        "mensenhandel",
        "Jan Jansen <jan@groningen.nl>",
        "Mensenhandel@Groningen.nl",
        "@groningen.nl",
        "mensenhandel@",
        "mensenhandel@groningen",
        "mensenhandel@groningen.n1",
        "mensen..handel@groningen.nl",
        "mensenhandel@-groningen.nl",
        "mensenhandel@groningen.nl\n",
        "a@b@groningen.nl",
    ] {
        assert!(contact_problem(bad).is_some(), "{bad:?} accepted");
    }
    let long = format!("{}@groningen.nl", "a".repeat(250));
    assert!(contact_problem(&long).is_some());
}

#[test]
fn a_malformed_contact_point_is_one_problem_at_its_line() {
    let c = Copy::new();
    let line = c.edit(
        "partners/nla.toml",
        "contact = \"mensenhandel@nlarbeidsinspectie.nl\"",
        "contact = \"J. de Vries, inspecteur\"",
    );
    let problems = c.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    expect(
        &problems,
        "partners/nla.toml",
        line,
        "share.contact_format",
        &["`nla`", "`signalering_drieluik`", "e-mail address"],
    );
}

#[test]
fn only_a_partner_of_the_hit_may_see_contact_points() {
    let c = Copy::new();
    let line = c.edit(
        "recipients.toml",
        "role = \"riec_analist\"\npurpose = \"riec_integrale_analyse\"",
        "role = \"riec_analist\"\npurpose = \"riec_integrale_analyse\"\nsees_contact_points = true",
    );
    let problems = c.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    expect(
        &problems,
        "recipients.toml",
        line + 2,
        "recipient.contact_points_partner_only",
        &["riec_analist"],
    );
}

#[test]
fn a_diff_shows_contact_points_newly_seen_and_changed() {
    let old = PolicySet::load(&example_dir()).unwrap();
    let c = Copy::new();
    c.edit(
        "recipients.toml",
        "attributes = [\"barriere_fase\", \"sector\", \"woonsituatie\", \"gemeente\"]\nsees_identifier_kinds = true\nsees_partner_roles = true",
        "attributes = [\"barriere_fase\", \"sector\", \"woonsituatie\", \"gemeente\"]\nsees_identifier_kinds = true\nsees_partner_roles = true\nsees_contact_points = true",
    );
    c.edit(
        "partners/gemeente-groningen.toml",
        "contact = \"mensenhandel@groningen.nl\"",
        "contact = \"aandachtsfunctionaris@groningen.nl\"",
    );
    let new = PolicySet::load(c.dir()).unwrap();
    let d = diff(&old, &new);
    assert!(
        d.allowed.contains(&Flow::View {
            purpose: "bestuurlijke_aanpak".into(),
            recipient: "partner".into(),
            item: "the other partners' contact points".into(),
        }),
        "{d:?}"
    );
    assert!(
        d.changed.iter().any(|c| c.contains("gemeente_groningen")
            && c.contains("mensenhandel@groningen.nl → aandachtsfunctionaris@groningen.nl")),
        "{d:?}"
    );
}
