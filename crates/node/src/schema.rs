//! The node's tables (`node_*`), per dialect, for [`signaalnet_store::Store::open`].

/// Migrations numbered in the node's range (3xxx).
pub static MIGRATIONS: signaalnet_store::Migrations =
    signaalnet_store::migrations!["3001_node.sql"];

/// Every schema a node's database holds: its own tables, its audit trail and its quota counts.
pub fn all() -> [&'static signaalnet_store::Migrations; 3] {
    [
        &signaalnet_audit::schema::MIGRATIONS,
        &signaalnet_service::schema::MIGRATIONS,
        &MIGRATIONS,
    ]
}

/// Opens (and migrates) a node's database.
pub async fn open_store(
    location: &signaalnet_store::Location,
) -> Result<signaalnet_store::Store, signaalnet_store::StoreError> {
    signaalnet_store::Store::open(location, &all()).await
}
