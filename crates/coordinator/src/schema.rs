//! The coordinator's tables (`coord_*`), per dialect, for [`signaalnet_store::Store::open`].

/// Migrations numbered in the coordinator's range (4xxx).
pub static MIGRATIONS: signaalnet_store::Migrations = signaalnet_store::migrations![
    "4001_coordinator.sql",
    "4002_coordinator_lifecycle.sql",
    "4003_monitor_releases.sql",
    "4004_monitor_ledger.sql",
    "4010_consultations.sql",
    "4011_coordinator_fence.sql"
];

/// Opens (and migrates) the coordinator's database: its own tables, its audit trail and its quota
/// counts.
pub async fn open_store(
    location: &signaalnet_store::Location,
) -> Result<signaalnet_store::Store, signaalnet_store::StoreError> {
    signaalnet_service::schema::open_role_store(location, &[&MIGRATIONS]).await
}
