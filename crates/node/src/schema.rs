//! The node's tables (`node_*`), per dialect, for [`signaalnet_store::Store::open`].

/// Migrations numbered in the node's range (3xxx).
pub static MIGRATIONS: signaalnet_store::Migrations = signaalnet_store::migrations![
    "3001_node.sql",
    "3002_node_lifecycle.sql",
    "3010_consultation_notices.sql"
];

/// Opens (and migrates) a node's database: its own tables, its audit trail and its quota
/// counts.
pub async fn open_store(
    location: &signaalnet_store::Location,
) -> Result<signaalnet_store::Store, signaalnet_store::StoreError> {
    signaalnet_service::schema::open_role_store(location, &[&MIGRATIONS]).await
}
