//! `signaalnet demo` (the README's first command) runs the whole chain and its scenario's own
//! expectations hold.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

#[test]
fn the_demo_runs_the_chain_and_its_expectations_hold() {
    let (code, stdout, stderr) = common::signaalnet(&["demo"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("every expectation of the scenario held"),
        "{stdout}"
    );
    for section in [
        "What each partner learned",
        "RIEC analyst",
        "Regional monitor",
        "What is refused",
    ] {
        assert!(stdout.contains(section), "{section} missing:\n{stdout}");
    }
    // Analysts see handles, never the identifiers the scenario used.
    for raw in [
        "68750110",
        "Wisniewski",
        "lisa.model_99",
        "123456782",
        "9711",
    ] {
        assert!(!stdout.contains(raw), "`{raw}` printed by the demo");
    }
}
