//! Evaluation against the example policy set: what a partner may share and what a recipient
//! may see.
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_identifier::IdentifierKind::{self, Address, Bsn, Organisation, Person, Phone};
use signaalnet_policy::{PolicySet, RecipientRole, Refusal, Source};
use std::path::Path;

fn set() -> PolicySet {
    PolicySet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")).unwrap()
}

fn refusals(
    partner: &str,
    purpose: &str,
    kinds: &[IdentifierKind],
    attributes: &[(&str, &str)],
) -> Vec<Refusal> {
    set()
        .evaluate_share(partner, purpose, kinds, attributes)
        .refusals
}

#[test]
fn an_allowed_signal_has_no_refusals() {
    let decision = set().evaluate_share(
        "gemeente_groningen",
        "signalering_drieluik",
        &[Person, Address, Phone],
        &[
            ("vorm_uitbuiting", "arbeidsuitbuiting"),
            ("gemeente", "GM0014"),
            ("maand_waarneming", "2026-10"),
            ("woonsituatie", "overbewoning"),
            ("minderjarig", "false"),
        ],
    );
    assert!(decision.is_allowed(), "{:?}", decision.refusals);
}

#[test]
fn a_refusal_names_attribute_purpose_and_rule() {
    let r = refusals(
        "gemeente_groningen",
        "bestuurlijke_aanpak",
        &[Address],
        &[("vorm_uitbuiting", "arbeidsuitbuiting")],
    );
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].field, "attributes.vorm_uitbuiting");
    assert_eq!(r[0].rule, "policy.attribute_not_allowed");
    for word in [
        "vorm_uitbuiting",
        "bestuurlijke_aanpak",
        "gemeente_groningen",
        "avg_publieke_taak",
    ] {
        assert!(r[0].message.contains(word), "{} lacks {word}", r[0]);
    }
}

#[test]
fn every_refused_item_is_listed() {
    let r = refusals(
        "gemeente_groningen",
        "bestuurlijke_aanpak",
        &[Address, Bsn, Person],
        &[
            ("zorgbehoefte", "true"),
            ("sector", "bouw"),
            ("gemeente", "Groningen"),
            ("nationaliteit", "PL"),
            ("sector", "horeca"),
        ],
    );
    let got: Vec<(&str, &str)> = r.iter().map(|r| (r.field.as_str(), r.rule)).collect();
    assert_eq!(
        got,
        [
            ("identifiers.bsn", "policy.identifier_kind_not_allowed"),
            ("identifiers.person", "policy.identifier_kind_not_allowed"),
            ("attributes.zorgbehoefte", "policy.attribute_not_allowed"),
            ("attributes.gemeente", "policy.attribute_value"),
            ("attributes.nationaliteit", "policy.attribute_unknown"),
            ("attributes.sector", "policy.attribute_duplicate"),
        ]
    );
    assert!(r[3].message.contains("GM followed by 4 digits"));
    assert!(
        !r[3].message.contains("Groningen"),
        "value echoed: {}",
        r[3]
    );
}

#[test]
fn attribute_values_are_checked_against_their_type() {
    let bad = [
        ("vorm_uitbuiting", "mensensmokkel"),
        ("maand_waarneming", "2026-13"),
        ("maand_waarneming", "2026-10-14"),
        ("minderjarig", "ja"),
        ("gemeente", "GM14"),
    ];
    for (attribute, value) in bad {
        let r = refusals(
            "politie_noord_nederland",
            "signalering_drieluik",
            &[Person],
            &[(attribute, value)],
        );
        assert_eq!(r.len(), 1, "{attribute}={value}: {r:?}");
        assert_eq!(r[0].rule, "policy.attribute_value");
    }
}

#[test]
fn only_the_police_may_send_police_data() {
    let attrs = [("politie_registratie", "true")];
    assert!(refusals(
        "politie_noord_nederland",
        "signalering_drieluik",
        &[Person],
        &attrs
    )
    .is_empty());
    let r = refusals("nla", "signalering_drieluik", &[Person], &attrs);
    assert_eq!(r[0].rule, "policy.attribute_not_allowed");
}

#[test]
fn whole_signal_refusals() {
    let rule = |partner, purpose| refusals(partner, purpose, &[Organisation], &[])[0].rule;
    assert_eq!(
        rule("riec_noord_nederland", "signalering_drieluik"),
        "policy.purpose_not_shared"
    );
    assert_eq!(
        rule("gemeente_groningen", "monitor_aard_omvang"),
        "policy.aggregates_only"
    );
    assert_eq!(
        rule("gemeente_groningen", "opsporing"),
        "policy.unknown_purpose"
    );
    assert_eq!(
        rule("gemeente_amsterdam", "signalering_drieluik"),
        "policy.unknown_partner"
    );
    let r = refusals("nla", "signalering_drieluik", &[], &[]);
    assert_eq!(r[0].rule, "policy.no_identifiers");
}

#[test]
fn certificates_map_to_partners_by_oin() {
    let set = set();
    assert_eq!(
        set.partner_by_oin("00000099000000000021")
            .map(|p| p.id.as_str()),
        Some("politie_noord_nederland")
    );
    assert!(set.partner_by_oin("00000099000000000099").is_none());
}

#[test]
fn recipients_see_only_what_their_view_allows() {
    let set = set();
    let riec = set
        .recipient_view(RecipientRole::RiecAnalist, "riec_integrale_analyse")
        .unwrap();
    assert!(riec.attributes.contains("politie_registratie"));
    let partner = set
        .recipient_view(RecipientRole::Partner, "signalering_drieluik")
        .unwrap();
    assert!(!partner.attributes.contains("sector"));
    assert!(partner.sees_identifier_kinds);
    assert!(set
        .recipient_view(RecipientRole::RiecAnalist, "zorgcoordinatie")
        .is_none());
    assert_eq!(
        set.purpose("monitor_aard_omvang")
            .unwrap()
            .monitor
            .as_ref()
            .unwrap()
            .min_cell_size,
        10
    );
}

#[test]
fn the_version_is_a_content_hash() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let a = PolicySet::load(&dir).unwrap();
    let b = PolicySet::load(&dir).unwrap();
    assert_eq!(a.version(), b.version());

    let read = |p: &str| Source {
        path: p.to_owned(),
        content: std::fs::read_to_string(dir.join(p)).unwrap(),
    };
    let mut files: Vec<Source> = [
        "legal_bases.toml",
        "purposes.toml",
        "attributes.toml",
        "recipients.toml",
        "partners/nla.toml",
    ]
    .iter()
    .map(|p| read(p))
    .collect();
    let before = PolicySet::from_sources(files.clone()).unwrap();
    files[4].content = files[4].content.replace("\"vehicle\"]", "\"phone\"]");
    let after = PolicySet::from_sources(files).unwrap();
    assert_ne!(before.version(), after.version());
}
