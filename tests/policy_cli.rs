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
fn a_missing_directory_is_not_found_with_exit_code_2() {
    let (code, stdout, stderr) = signaalnet(&["policy", "check", "does-not-exist"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("does-not-exist: not found"), "{stderr}");
    assert!(!stderr.contains("INVALID"), "{stderr}");

    let (code, stdout, _) = signaalnet(&["policy", "check", "does-not-exist", "--json"]);
    assert_eq!(code, 2);
    let report = json(&stdout);
    assert_eq!(report["valid"], false);
    assert_eq!(report["problems"][0]["rule"], "dir.not_found");

    for args in [
        &["policy", "explain", "does-not-exist"][..],
        &["policy", "diff", "policies", "does-not-exist"],
        &["policy", "register", "does-not-exist"],
    ] {
        let (code, _, stderr) = signaalnet(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("policy directory does-not-exist not found"),
            "{args:?}: {stderr}"
        );
    }
}

/// A copy of the example set in a temporary directory, with `from` replaced by `to` in `file`.
fn broken(file: &str, from: &str, to: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(Path::new("policies"), dir.path()).unwrap();
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from} not in {file}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    dir
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

#[test]
fn one_stray_key_is_one_message() {
    let dir = broken(
        "attributes.toml",
        "sensitivity = \"criminal\"",
        "sensitivity = \"criminal\"\nbron = \"eigen registratie\"",
    );
    let (code, stdout, stderr) = signaalnet(&["policy", "check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("INVALID — 1 problem(s)"), "{stderr}");
    assert!(
        stderr.contains("attributes.toml:19: unknown field `bron`"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 2, "{stderr}");

    let (code, stdout, _) =
        signaalnet(&["policy", "check", dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(code, 1);
    let report = json(&stdout);
    assert_eq!(report["valid"], false);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{report}");
    assert_eq!(problems[0]["file"], "attributes.toml");
    assert_eq!(problems[0]["line"], 19);
    assert_eq!(problems[0]["rule"], "file.parse");
}

#[test]
fn a_misspelt_attribute_gets_the_nearest_name() {
    let dir = broken(
        "partners/nla.toml",
        "\"vorm_uitbuiting\"",
        "\"vorm_uitbuitng\"",
    );
    let (code, stdout, stderr) = signaalnet(&["policy", "check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("INVALID — 1 problem(s)"), "{stderr}");
    assert!(
        stderr.contains("attribute `vorm_uitbuitng` is not in the catalogue (attributes.toml); did you mean `vorm_uitbuiting`?"),
        "{stderr}"
    );
}

#[test]
fn check_json_summarises_a_valid_set() {
    let (code, stdout, stderr) = signaalnet(&["policy", "check", "policies", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let report = json(&stdout);
    assert_eq!(report["valid"], true);
    assert!(report["version"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(report["summary"]["purposes"], 5);
    assert_eq!(report["problems"].as_array().unwrap().len(), 0);
    assert_eq!(report["warnings"].as_array().unwrap().len(), 0);
    let monitor = report["purposes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "monitor_aard_omvang")
        .unwrap();
    assert_eq!(monitor["monitor"], true);
    let nla = report["partners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "nla")
        .unwrap();
    assert_eq!(nla["role"], "nla");
    assert!(nla["purposes"]
        .as_array()
        .unwrap()
        .contains(&"signalering_drieluik".into()));
}

#[test]
fn explain_names_the_valid_purposes_when_asked_for_an_unknown_one() {
    let (code, stdout, stderr) = signaalnet(&[
        "policy",
        "explain",
        "policies",
        "--purpose",
        "zorgcoordinatei",
    ]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("did you mean `zorgcoordinatie`?"),
        "{stderr}"
    );
    for id in [
        "bestuurlijke_aanpak",
        "monitor_aard_omvang",
        "riec_integrale_analyse",
        "signalering_drieluik",
        "zorgcoordinatie",
    ] {
        assert!(stderr.contains(id), "{stderr} lacks {id}");
    }
}

#[test]
fn explain_json_has_who_sends_and_who_sees_each_item() {
    let (code, stdout, stderr) = signaalnet(&[
        "policy",
        "explain",
        "policies",
        "--purpose",
        "zorgcoordinatie",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let explanation = json(&stdout);
    assert!(explanation["version"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    let purposes = explanation["purposes"].as_array().unwrap();
    assert_eq!(purposes.len(), 1);
    let purpose = &purposes[0];
    assert_eq!(purpose["id"], "zorgcoordinatie");
    assert!(purpose["alarms"]["withdrawals_after_hit"].is_u64());
    assert_eq!(
        purpose["person_match_keys"],
        serde_json::json!(["full", "initial", "loose"])
    );
    assert!(!purpose["limits"].as_array().unwrap().is_empty());
    let items = purpose["items"].as_array().unwrap();
    let item = |name: &str| {
        items
            .iter()
            .find(|i| i["item"] == name)
            .unwrap_or_else(|| panic!("no {name} in {purpose}"))
    };
    let care = item("attribute zorgbehoefte");
    assert_eq!(care["class"], "special");
    assert_eq!(care["seen_by"], serde_json::json!(["zorgcoordinator"]));
    assert!(care["sent_by"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["partner"] == "zvh_groningen"));
    let bsn = item("identifier bsn");
    assert_eq!(bsn["seen_by"], serde_json::json!([]));
    assert_eq!(bsn["class"], serde_json::Value::Null);
}

#[test]
fn diff_json_lists_the_changed_flows_and_exits_1() {
    let (code, stdout, stderr) = signaalnet(&["policy", "diff", "policies", "policies", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let same = json(&stdout);
    assert_eq!(same["allowed"], serde_json::json!([]));
    assert_eq!(same["old"]["version"], same["new"]["version"]);

    // The NLA also shares whether the person is a minor for the bestuurlijke aanpak.
    let dir = broken(
        "partners/nla.toml",
        "attributes = [\"sector\"",
        "attributes = [\"sector\", \"minderjarig\"",
    );
    let new = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = signaalnet(&["policy", "diff", "policies", new, "--json"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let diff = json(&stdout);
    assert_eq!(diff["new"]["dir"], new);
    assert_ne!(diff["old"]["version"], diff["new"]["version"]);
    let allowed = diff["allowed"].as_array().unwrap();
    assert!(
        allowed.iter().any(|f| f["flow"] == "share"
            && f["partner"] == "nla"
            && f["item"] == "attribute minderjarig"),
        "{diff}"
    );
    assert_eq!(diff["forbidden"], serde_json::json!([]));
}

/// Every argument and option of every policy command says what it is for: its line in `-h`
/// has more than the argument's name and default.
#[test]
fn every_policy_argument_has_help() {
    for command in [
        "check", "explain", "diff", "register", "keygen", "sign", "verify",
    ] {
        let (code, stdout, stderr) = signaalnet(&["policy", command, "-h"]);
        assert_eq!(code, 0, "{stderr}");
        let mut arguments = 0;
        for line in stdout.lines() {
            let trimmed = line.trim_start();
            let is_argument = line.starts_with("  ")
                && (trimmed.starts_with('-')
                    || trimmed.starts_with('<')
                    || trimmed.starts_with('['));
            if !is_argument {
                continue;
            }
            arguments += 1;
            let help = trimmed.split_once("  ").map_or("", |(_, help)| help);
            let mut words = help.to_owned();
            for bracket in ["[default: ", "[possible values: "] {
                if let Some(at) = words.find(bracket) {
                    words.truncate(at);
                }
            }
            assert!(
                !words.trim().is_empty(),
                "policy {command}: `{}` has no help:\n{stdout}",
                trimmed
            );
        }
        assert!(
            arguments >= 2,
            "policy {command}: no arguments found in\n{stdout}"
        );
    }
}
