//! The coordinator's tables (`coord_*`), per dialect, for [`signaalnet_store::Store::open`].

/// Migrations numbered in the coordinator's range (4xxx).
pub static MIGRATIONS: signaalnet_store::Migrations =
    signaalnet_store::migrations!["4001_coordinator.sql"];

/// Every schema the coordinator's database holds: its own tables, its audit trail and its quota counts.
pub fn all() -> [&'static signaalnet_store::Migrations; 3] {
    [
        &signaalnet_audit::schema::MIGRATIONS,
        &signaalnet_service::schema::MIGRATIONS,
        &MIGRATIONS,
    ]
}

/// Opens (and migrates) the coordinator's database.
pub async fn open_store(
    location: &signaalnet_store::Location,
) -> Result<signaalnet_store::Store, signaalnet_store::StoreError> {
    signaalnet_store::Store::open(location, &all()).await
}
