//! The documents cite tests by name: each cited test exists.
#![allow(clippy::unwrap_used)] // test fixtures

use std::path::Path;

fn sources(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if !path.ends_with("target") {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

/// Backquoted names followed by a test file's tag, e.g. `` `some_test_name` (P) ``, or cited
/// as a test in prose (`` `name` `` with underscores only).
fn cited(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| {
            name.len() > 20
                && name.contains('_')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_test_the_threat_model_and_the_runbook_cite_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut code = String::new();
    sources(&root.join("tests"), &mut code);
    sources(&root.join("crates"), &mut code);
    let mut checked = 0;
    for doc in [
        "docs/THREAT_MODEL.md",
        "docs/ceremony.md",
        "docs/monitor.md",
    ] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        for name in cited(&text) {
            assert!(
                code.contains(&format!("fn {name}(")),
                "{doc} cites `{name}`, which is no test"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} citations found");
}
