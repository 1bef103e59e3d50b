//! The tables this crate queries, per dialect, for [`signaalnet_store::Store::open`].

/// Migrations numbered in the audit range (1xxx).
pub static MIGRATIONS: signaalnet_store::Migrations =
    signaalnet_store::migrations!["1001_audit.sql", "1002_witness.sql"];
