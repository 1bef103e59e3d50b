//! `signaalnet policy check` as a privacy officer runs it: the real binary on real directories.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{copy_dir, signaalnet};
use std::path::Path;

#[test]
fn the_example_set_checks_and_prints_its_version_and_summary() {
    let (code, stdout, stderr) = signaalnet(&["policy", "check", "policies"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("policies: valid"));
    let version = stdout
        .lines()
        .find_map(|l| l.strip_prefix("version sha256:"))
        .unwrap();
    assert_eq!(version.len(), 64);
    for word in [
        "signalering_drieluik",
        "monitor, min cell 10",
        "politie_noord_nederland",
    ] {
        assert!(stdout.contains(word), "summary lacks {word}:\n{stdout}");
    }
}

#[test]
fn a_broken_set_fails_listing_every_problem_with_file_line_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new("policies"), dir.path()).unwrap();
    let nla = dir.path().join("partners/nla.toml");
    let text = std::fs::read_to_string(&nla).unwrap();
    std::fs::write(
        &nla,
        text.replace("00000099000000000038", "00000099000000000014")
            .replacen(
                "legal_basis = \"nla_wet_suwi\"",
                "legal_basis = \"nla_wet_suwi\"\nbewaren = true",
                1,
            ),
    )
    .unwrap();
    let purposes = dir.path().join("purposes.toml");
    let text = std::fs::read_to_string(&purposes).unwrap();
    std::fs::write(
        &purposes,
        text.replace("min_cell_size = 10", "min_cell_size = 2"),
    )
    .unwrap();

    let (code, stdout, stderr) = signaalnet(&["policy", "check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("INVALID"), "{stderr}");
    // The parse error stops partners/nla.toml from loading, so the OIN clash cannot be seen;
    // the purpose problem in another file is still reported.
    assert!(stderr.contains("partners/nla.toml:14: "), "{stderr}");
    assert!(stderr.contains("[file.parse]"), "{stderr}");
    assert!(stderr.contains("purposes.toml:"), "{stderr}");
    assert!(
        stderr.contains("[purpose.monitor_min_cell_size]"),
        "{stderr}"
    );
}

#[test]
fn a_missing_directory_fails_clearly() {
    let (code, _, stderr) = signaalnet(&["policy", "check", "does-not-exist"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("file.missing"), "{stderr}");
}
