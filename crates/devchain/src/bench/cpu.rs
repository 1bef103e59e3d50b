//! Where the CPU of a throughput run went: per role, and of it libpep's work (from the floor
//! measured just before) and the database engine's.

use super::{floor, usage};
use crate::chain::{Chain, RoleKind};
use std::collections::BTreeMap;

/// CPU per signal of each role, and of it libpep work (from the floor measured just before the
/// run) and SQLite; on PostgreSQL also the server's CPU.
pub fn print(
    chain: &Chain,
    cpu: &BTreeMap<String, (f64, f64)>,
    floor: &floor::Floor,
    k: usize,
    signals: usize,
    postgres: bool,
) {
    let per_signal = |seconds: f64| seconds * 1e6 / signals.max(1) as f64;
    let k = k as f64;
    let mut nodes = (0.0, 0.0);
    let mut parts = Vec::new();
    let mut storage = 0.0;
    let mut beside = 0.0;
    let mut coordinator_beside = f64::NAN;
    for (role, (all, sqlite)) in cpu {
        let (used, sqlite) = (per_signal(*all), per_signal(*sqlite));
        let kind = chain.roles.get(role).map(|r| r.kind);
        let libpep = match kind {
            Some(RoleKind::Transcryptor) => floor.convert_us * k,
            Some(RoleKind::Coordinator) => floor.decrypt_us * k,
            _ => 0.0,
        };
        if kind == Some(RoleKind::Node) {
            nodes = (nodes.0 + used, nodes.1 + sqlite);
            continue;
        }
        if role == usage::POSTGRES {
            if postgres {
                storage += used;
                parts.push(format!("{role} {used:.0}"));
            }
            continue;
        }
        if role != usage::LOAD {
            storage += sqlite;
            beside += used - libpep;
        }
        if role == "coordinator" {
            coordinator_beside = used - libpep - sqlite;
        }
        parts.push(if role == usage::LOAD {
            format!("{role} {used:.0}")
        } else {
            format!("{role} {used:.0} (libpep {libpep:.0}, SQLite {sqlite:.0})")
        });
    }
    let node_libpep = floor.encrypt_us * k;
    storage += nodes.1;
    beside += nodes.0 - node_libpep;
    parts.insert(
        0,
        format!(
            "nodes {:.0} (libpep {node_libpep:.0}, SQLite {:.0})",
            nodes.0, nodes.1
        ),
    );
    let libpep = floor.per_identifier_us() * k;
    println!("  CPU µs per signal: {}", parts.join(", "));
    println!(
        "  libpep {libpep:.0} µs per signal; every role's other work {beside:.0} µs ({:.1}× less); \
         storage (the database engine{}) {storage:.0} µs ({:.1}× less); the coordinator's work beside \
         libpep and SQLite (matching, notifications, audit hashing, gRPC, TLS, decoding) {coordinator_beside:.0} µs ({:.1}× less)",
        libpep / beside,
        if postgres { ": the PostgreSQL server" } else { ": SQLite threads" },
        libpep / storage,
        libpep / coordinator_beside
    );
}
