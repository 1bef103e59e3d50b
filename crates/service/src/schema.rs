//! The tables this crate queries, per dialect, for [`signaalnet_store::Store::open`].

/// Migrations numbered in the service range (2xxx).
pub static MIGRATIONS: signaalnet_store::Migrations =
    signaalnet_store::migrations!["2001_quota_usage.sql", "2050_purpose_retention.sql"];

/// Opens (and migrates) a role's database: the audit trail and quota counts every role keeps,
/// and `own`, the tables of the role itself (none for a transcryptor).
pub async fn open_role_store(
    location: &signaalnet_store::Location,
    own: &[&'static signaalnet_store::Migrations],
) -> Result<signaalnet_store::Store, signaalnet_store::StoreError> {
    let mut sets = vec![&signaalnet_audit::schema::MIGRATIONS, &MIGRATIONS];
    sets.extend_from_slice(own);
    signaalnet_store::Store::open(location, &sets).await
}
