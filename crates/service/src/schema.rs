//! The tables this crate queries, per dialect, for [`signaalnet_store::Store::open`].

/// Migrations numbered in the service range (2xxx).
pub static MIGRATIONS: signaalnet_store::Migrations =
    signaalnet_store::migrations!["2001_quota_usage.sql"];
