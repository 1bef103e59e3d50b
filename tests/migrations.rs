//! Every migration file of every owner of tables is in its embedded set (`migrations!` lists
//! files by name; one left out would never run), in both dialects.
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_store::Migrations;
use std::collections::BTreeSet;
use std::path::Path;

fn files(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn every_migration_file_is_embedded() {
    let owners: [(&str, &Migrations); 4] = [
        ("audit", &signaalnet_audit::schema::MIGRATIONS),
        ("service", &signaalnet_service::schema::MIGRATIONS),
        ("node", &signaalnet_node::schema::MIGRATIONS),
        ("coordinator", &signaalnet_coordinator::schema::MIGRATIONS),
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    for (owner, set) in owners {
        for (dialect, scripts) in [("sqlite", set.sqlite), ("postgres", set.postgres)] {
            let embedded: BTreeSet<String> = scripts.iter().map(|s| s.file.to_owned()).collect();
            let on_disk = files(&root.join(owner).join("migrations").join(dialect));
            assert_eq!(embedded, on_disk, "{owner} {dialect}");
        }
    }
}
