//! The privacy officer's views of a set: explain, diff and the art. 30 register, on the example
//! set and on edited copies of it.
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_policy::explain::{diff, explain, flows, Flow};
use signaalnet_policy::register::register;
use signaalnet_policy::PolicySet;
use std::path::{Path, PathBuf};

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

/// A copy of the example set with `edit(path relative to the set, text) -> text` applied.
fn edited(edit: impl Fn(&str, String) -> String) -> (tempfile::TempDir, PolicySet) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("partners")).unwrap();
    let src = example_dir();
    let mut files: Vec<String> = signaalnet_policy::REQUIRED_FILES
        .iter()
        .map(|s| s.to_string())
        .collect();
    for e in std::fs::read_dir(src.join("partners")).unwrap() {
        files.push(format!(
            "partners/{}",
            e.unwrap().file_name().to_string_lossy()
        ));
    }
    for f in files {
        let text = std::fs::read_to_string(src.join(&f)).unwrap();
        std::fs::write(dir.path().join(&f), edit(&f, text)).unwrap();
    }
    let set = PolicySet::load(dir.path()).unwrap();
    (dir, set)
}

#[test]
fn explain_lists_who_sends_and_who_sees_each_item_per_purpose() {
    let set = PolicySet::load(&example_dir()).unwrap();
    let text = explain(&set, Some("zorgcoordinatie"), None);
    assert!(text.contains("## zorgcoordinatie"), "{text}");
    assert!(!text.contains("## signalering_drieluik"), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("| attribute zorgbehoefte |"))
        .unwrap();
    // Special category, sent by the ZVH, seen only by the zorgcoördinator.
    assert!(row.contains("| special |"), "{row}");
    assert!(row.contains("zvh_groningen"), "{row}");
    assert!(row.ends_with("| zorgcoordinator |"), "{row}");
    let bsn = text
        .lines()
        .find(|l| l.starts_with("| identifier bsn |"))
        .unwrap();
    assert!(
        bsn.contains("nobody: only its pseudonym is matched"),
        "{bsn}"
    );

    // Narrowed to one partner: only what that partner sends.
    let nla = explain(&set, None, Some("nla"));
    assert!(nla.contains("nla (nla_wet_suwi)"));
    assert!(!nla.contains("politie_noord_nederland ("), "{nla}");
}

#[test]
fn an_identical_set_has_no_diff() {
    let a = PolicySet::load(&example_dir()).unwrap();
    let (_dir, b) = edited(|_, t| t);
    let d = diff(&a, &b);
    assert!(d.is_empty(), "{d}");
}

#[test]
fn diff_names_each_newly_allowed_and_forbidden_flow_and_other_changes() {
    let a = PolicySet::load(&example_dir()).unwrap();
    let (_dir, b) = edited(|path, text| {
        match path {
        // NLA may now also share `bron_signaal` for the bestuurlijke aanpak.
        "partners/nla.toml" => text.replacen(
            "attributes = [\"sector\", \"barriere_fase\", \"woonsituatie\", \"gemeente\", \"maand_waarneming\"]",
            "attributes = [\"sector\", \"barriere_fase\", \"woonsituatie\", \"gemeente\", \"maand_waarneming\", \"bron_signaal\"]",
            1,
        ),
        // Partners no longer see `minderjarig` in zorgcoördinatie.
        "recipients.toml" => text.replacen(
            "purpose = \"zorgcoordinatie\"\nattributes = [\"minderjarig\"]",
            "purpose = \"zorgcoordinatie\"\nattributes = []",
            1,
        ),
        "purposes.toml" => text.replacen("retention_unmatched = \"P6M\"", "retention_unmatched = \"P9M\"", 1),
        _ => text,
    }
    });
    let d = diff(&a, &b);
    assert!(
        d.allowed.contains(&Flow::Share {
            purpose: "bestuurlijke_aanpak".into(),
            partner: "nla".into(),
            item: "attribute bron_signaal".into(),
            legal_basis: "nla_wet_suwi".into(),
        }),
        "{d}"
    );
    assert_eq!(d.allowed.len(), 1, "{d}");
    assert_eq!(
        d.forbidden,
        vec![Flow::View {
            purpose: "zorgcoordinatie".into(),
            recipient: "partner".into(),
            item: "attribute minderjarig".into(),
        }],
        "{d}"
    );
    assert_eq!(d.changed.len(), 1, "{d}");
    assert!(
        d.changed[0].contains("retention_unmatched P6M → P9M"),
        "{d}"
    );
    let text = d.to_string();
    assert!(text.contains("NEWLY ALLOWED (1)"), "{text}");
    assert!(
        text.contains(
            "+ bestuurlijke_aanpak: nla → coordinator: attribute bron_signaal (on nla_wet_suwi)"
        ),
        "{text}"
    );
    assert!(text.contains("NO LONGER ALLOWED (1)"), "{text}");
    // The other direction swaps them.
    let back = diff(&b, &a);
    assert_eq!(back.allowed, d.forbidden);
    assert_eq!(back.forbidden, d.allowed);
}

#[test]
fn the_register_has_an_activity_per_purpose_with_the_art_30_headings() {
    let set = PolicySet::load(&example_dir()).unwrap();
    let r = register(&set);
    assert_eq!(r.activities.len(), set.purposes().count());
    let zorg = r
        .activities
        .iter()
        .find(|a| a.purpose_id == "zorgcoordinatie")
        .unwrap();
    let purpose = set.purpose("zorgcoordinatie").unwrap();
    assert_eq!(zorg.processing_activity_id, purpose.processing_activity_id);
    assert!(zorg
        .controllers
        .iter()
        .any(|c| c.partner == "zvh_groningen"));
    let care = zorg
        .personal_data
        .iter()
        .find(|d| d.item == "attribute zorgbehoefte")
        .unwrap();
    assert_eq!(care.class, "special");
    assert!(zorg
        .retention
        .contains(&purpose.retention_unmatched.to_string()));
    let md = r.to_markdown();
    for heading in [
        "**Purpose**",
        "**Joint controllers**",
        "**Legal bases**",
        "**Categories of data subjects**",
        "**Categories of personal data**",
        "**Recipients**",
        "**Transfers to third countries**",
        "**Retention**",
        "**Technical and organisational measures**",
    ] {
        assert_eq!(
            md.matches(heading).count(),
            r.activities.len(),
            "{heading} once per activity"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(json["policy_version"], set.version());
    // Every flow of a shared item shows up in the register of its purpose.
    for flow in flows(&set) {
        if let Flow::Share {
            purpose,
            partner,
            item,
            ..
        } = flow
        {
            let a = r
                .activities
                .iter()
                .find(|a| a.purpose_id == purpose)
                .unwrap();
            let d = a.personal_data.iter().find(|d| d.item == item).unwrap();
            assert!(d.shared_by.contains(&partner));
        }
    }
}

#[test]
fn explain_and_the_register_show_the_probing_limits_and_diff_shows_a_raised_quota() {
    let set = PolicySet::load(&example_dir()).unwrap();
    let text = explain(&set, Some("signalering_drieluik"), None);
    let row = |partner: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("| {partner} |")))
            .unwrap_or_else(|| panic!("no limits row for {partner}: {text}"))
            .to_owned()
    };
    assert_eq!(
        row("gemeente_groningen"),
        "| gemeente_groningen | 8 | 2000 | limits in partners/gemeente-groningen.toml |"
    );
    assert!(row("politie_noord_nederland").ends_with("| 8 | 2000 | defaults |"));
    assert!(
        text.contains("3 or more signals withdrawn within 60 minutes"),
        "{text}"
    );
    let bulk = explain(&set, Some("bestuurlijke_aanpak"), Some("nla"));
    assert!(
        bulk.contains("| nla | 8 | 50000 | BULK GRANT in partners/nla.toml: Kwartaalcontrole"),
        "{bulk}"
    );
    let markdown = register(&set).to_markdown();
    assert!(markdown.contains("Probing limits"), "{markdown}");
    assert!(markdown.contains("nla 8 per signal, 50000 per 24 hours (bulk cross-check"));

    let (_dir, raised) = edited(|f, t| {
        if f == "partners/gemeente-groningen.toml" {
            t.replace("identifiers_per_day = 2_000", "identifiers_per_day = 5_000")
        } else {
            t
        }
    });
    let d = diff(&set, &raised);
    assert!(
        d.changed.iter().any(
            |c| c.contains("gemeente_groningen for signalering_drieluik")
                && c.contains("2000 per 24 hours")
                && c.contains("5000 per 24 hours")
        ),
        "{:?}",
        d.changed
    );
}
