//! The command line as a newcomer meets it, run as the binary: shell completions, manual pages,
//! and a configuration given to the wrong role named as such.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::signaalnet;

#[test]
fn completions_cover_the_subcommands_for_each_shell() {
    for (shell, marker, force) in [
        ("bash", "complete -F", "--force"),
        ("zsh", "#compdef signaalnet", "--force"),
        ("fish", "complete -c signaalnet", "-l force"),
    ] {
        let (code, out, err) = signaalnet(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains(marker), "{shell}: {out}");
        for word in ["coordinator", "audit", "certs", force] {
            assert!(out.contains(word), "{shell}: no `{word}`");
        }
    }
    let (code, _, err) = signaalnet(&["completions", "tcsh"]);
    assert_ne!(code, 0);
    assert!(err.contains("possible values"), "{err}");
}

#[test]
fn man_prints_the_main_page_and_writes_one_per_subcommand() {
    let (code, out, err) = signaalnet(&["man"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(".ie"),
        "not roff: {}",
        &out[..out.len().min(200)]
    );
    assert!(out.contains(".TH signaalnet 1"), "{out}");
    assert!(out.contains("completions"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let (code, out, err) = signaalnet(&["man", "--out", pages.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("manual pages in"), "{out}");
    for page in [
        "signaalnet.1",
        "signaalnet-audit-show.1",
        "signaalnet-certs-dev.1",
        "signaalnet-keys-setup.1",
    ] {
        let text = std::fs::read_to_string(pages.join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
    let show = std::fs::read_to_string(pages.join("signaalnet-audit-show.1")).unwrap();
    assert!(show.contains("refs"), "{show}");
}

/// `audit verify --role node --config coordinator.toml` (and the role commands) say whose file
/// it is, instead of "unknown field `handle_key`"; a file of no role keeps the loader's error.
#[test]
fn a_config_given_to_the_wrong_role_is_named_as_such() {
    let config = |name: &str| format!("deploy/dev/{name}.toml");
    for (role, file, actual) in [
        ("node", "coordinator", "coordinator"),
        ("coordinator", "node-gemeente", "node"),
        ("transcryptor", "coordinator", "coordinator"),
        ("node", "transcryptor-1", "transcryptor"),
    ] {
        let (code, out, err) =
            signaalnet(&["audit", "verify", "--role", role, "--config", &config(file)]);
        assert_ne!(code, 0, "{out}");
        assert!(
            err.contains(&format!(
                "this is a {actual} config, not a {role} config (pass --role {actual})"
            )),
            "{role} given {file}: {err}"
        );
        assert!(!err.contains("unknown field"), "{err}");
    }
    let (code, _, err) = signaalnet(&["node", "--config", &config("coordinator")]);
    assert_ne!(code, 0);
    assert!(
        err.contains("this is a coordinator config, not a node config (run `signaalnet coordinator --config deploy/dev/coordinator.toml`)"),
        "{err}"
    );

    // A file of no role in particular: the loader's own message.
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("odd.toml");
    std::fs::write(&odd, "listen = \"127.0.0.1:1\"\ncolour = \"blue\"\n").unwrap();
    let (code, _, err) = signaalnet(&[
        "audit",
        "verify",
        "--role",
        "node",
        "--config",
        odd.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(!err.contains("this is a"), "{err}");
}
