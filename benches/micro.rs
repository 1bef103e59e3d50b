//! Micro-benchmarks of the per-signal work besides the network: identifier normalisation per
//! kind, the libpep steps, policy evaluation, the matching index and the audit trail. `cargo
//! bench --bench micro`; the figures and their ratios are in BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark fixtures

use criterion::{criterion_group, criterion_main, Criterion};
use signaalnet_audit::{Actor, Audit, Event, Signer, Step};
use signaalnet_coordinator::matching::{Matcher, Rule, SignalEntry};
use signaalnet_devchain::partners::{DRIELUIK, GEMEENTE};
use signaalnet_devchain::requests::{address, handle, id as wire, person, signal, vehicle};
use signaalnet_identifier::IdentifierKind;
use signaalnet_policy::PolicySet;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use signaalnet_pseudonym::{
    CoordinatorContext, DomainCommitments, LocalChain, MatchDomain, Origin, PartnerEncryptor,
};
use signaalnet_store::{Clock, Location, Store};
use std::collections::HashMap;
use std::hint::black_box;

/// "Today" for the date-of-birth checks.
fn today() -> signaalnet_identifier::Day {
    signaalnet_identifier::Day::from_unix_seconds(signaalnet_store::now())
}
use std::path::Path;

fn identifiers(c: &mut Criterion) {
    let cases = [
        ("bsn", wire(Value::Bsn("123456782".into()))),
        (
            "person",
            person("Wiśniewski-de Vries", "Piotr Jan", "12-03-1994"),
        ),
        (
            "address",
            wire(Value::Address(pb::PostalAddress {
                postcode: "9711 ab".into(),
                huisnummer: "12".into(),
                toevoeging: "bis".into(),
            })),
        ),
        ("phone", wire(Value::Phone("06-1234 5678".into()))),
        ("iban", wire(Value::Iban("NL91 ABNA 0417 1643 00".into()))),
        ("kvk", wire(Value::Kvk("4012 3456".into()))),
        ("vehicle", vehicle("NL", "12-ab-34")),
        ("online_handle", handle("Instagram", "@Lisa.Model_99")),
    ];
    let mut group = c.benchmark_group("identifier: parse, normalise, match keys");
    for (kind, identifier) in &cases {
        group.bench_function(*kind, |b| {
            b.iter(|| {
                let parsed =
                    signaalnet_node::input::parse_identifier(black_box(identifier), "i", today())
                        .unwrap();
                black_box(parsed.match_keys())
            })
        });
    }
    group.finish();
}

fn libpep(c: &mut Criterion) {
    let rng = &mut rand::rng();
    let context = CoordinatorContext::new("coordinator/bench").unwrap();
    let LocalChain {
        system,
        transcryptors,
        coordinator: decryptor,
        ..
    } = LocalChain::new(&context, 2, rng).unwrap();
    let encryptor = PartnerEncryptor::new(system);
    let key = signaalnet_node::input::parse_identifier(
        &wire(Value::Bsn("123456782".into())),
        "i",
        today(),
    )
    .unwrap()
    .match_keys()
    .remove(0);
    let domain = MatchDomain::new("bench", key.kind()).unwrap();
    let factors: Vec<_> = transcryptors.iter().map(|t| t.factors(&domain)).collect();
    let commitments = DomainCommitments::published_by(&transcryptors, &domain);
    let origin = Origin {
        partner: "bench",
        purpose: "bench",
        kind: key.kind(),
    };
    let encrypted = encryptor.encrypt(&key, &origin, rng).0;
    let once = transcryptors[0].convert(&encrypted, &factors[0]).unwrap();
    let twice = transcryptors[1]
        .convert(&once.ciphertext, &factors[1])
        .unwrap();
    let proofs = [once.proof, twice.proof];
    let mut group = c.benchmark_group("libpep, per identifier");
    group.bench_function("encrypt (node)", |b| {
        b.iter(|| black_box(encryptor.encrypt(&key, &origin, &mut rand::rng())))
    });
    group.bench_function("proven convert (one transcryptor)", |b| {
        b.iter(|| {
            black_box(
                transcryptors[0]
                    .convert(black_box(&encrypted), &factors[0])
                    .unwrap(),
            )
        })
    });
    group.bench_function("verify 2 proofs + decrypt (coordinator)", |b| {
        b.iter(|| {
            black_box(
                decryptor
                    .verify_and_decrypt(black_box(&encrypted), &proofs, &commitments)
                    .unwrap(),
            )
        })
    });
    group.bench_function("decrypt alone (coordinator)", |b| {
        b.iter(|| black_box(decryptor.decrypt_unchecked(black_box(&twice.ciphertext))))
    });
    group.finish();
}

fn policy(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let set = PolicySet::load(&root.join("policies")).unwrap();
    let request = signal(
        "GRO-2026-0001",
        vec![
            wire(Value::Bsn("123456782".into())),
            address("9711 AB", "12"),
        ],
        &[("gemeente", "GM0014"), ("woonsituatie", "overbewoning")],
    );
    let now = signaalnet_store::now();
    let mut group = c.benchmark_group("policy");
    group.bench_function("evaluate a share (2 kinds, 2 attributes)", |b| {
        b.iter(|| {
            black_box(set.evaluate_share(
                GEMEENTE,
                DRIELUIK,
                &[IdentifierKind::Bsn, IdentifierKind::Address],
                &[("gemeente", "GM0014"), ("woonsituatie", "overbewoning")],
            ))
        })
    });
    group.bench_function("node input check of a whole submission", |b| {
        b.iter(|| {
            black_box(
                signaalnet_node::input::check(&set, GEMEENTE, black_box(&request), now).is_ok(),
            )
        })
    });
    group.finish();
}

fn entry(seq: i64, partner: &str, pseudonym: u64) -> SignalEntry {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&pseudonym.to_le_bytes());
    SignalEntry {
        seq,
        partner: partner.to_owned(),
        signal_id: format!("sig-{seq}"),
        purpose: "p".into(),
        month: 2026 * 12 + 9,
        keys: vec![(IdentifierKind::Bsn, key)],
        attributes: Vec::new(),
    }
}

fn matching(c: &mut Criterion) {
    const SIZE: i64 = 100_000;
    let rules = HashMap::from([(
        "p".to_owned(),
        Rule {
            window_months: 12,
            min_partners: 2,
        },
    )]);
    let mut index = Matcher::new(rules);
    for seq in 0..SIZE {
        index.insert(entry(seq, "a", seq as u64)).unwrap();
    }
    // The index is left as it was after every iteration: each measures an insert and the
    // removal (withdrawal) of the same signal.
    let mut group = c.benchmark_group("matching index of 100k signals");
    group.bench_function("insert + remove a signal that matches nothing", |b| {
        b.iter(|| {
            black_box(index.insert(entry(SIZE, "b", u64::MAX)).unwrap());
            black_box(index.remove(SIZE).unwrap());
        })
    });
    group.bench_function("insert + remove a signal that forms a hit", |b| {
        b.iter(|| {
            black_box(index.insert(entry(SIZE, "b", 42)).unwrap());
            black_box(index.remove(SIZE).unwrap());
        })
    });
    group.finish();
}

fn audit(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let set = PolicySet::load(&root.join("policies")).unwrap();
    let store = runtime
        .block_on(Store::open(
            &Location::Sqlite(dir.path().join("audit.db")),
            &[&signaalnet_audit::schema::MIGRATIONS],
        ))
        .unwrap();
    let signer = Signer::load_or_create(&dir.path().join("audit.key")).unwrap();
    let audit = Audit::new(
        signer,
        Actor {
            oin: "00000099000000000014".into(),
            role: "gemeente".into(),
        },
        Clock::system(),
    );
    let event = || {
        Event::for_purpose(Step::Submit, &set, "signalering_drieluik")
            .reference("signal:gemeente_groningen/sig-0123456789abcdef0123")
            .detail("accepted into the outbox: 2 identifier(s) encrypted as 2 match key(s)")
    };
    let mut group = c.benchmark_group("audit trail (SQLite file)");
    group.bench_function("append one entry in its own transaction", |b| {
        b.iter(|| runtime.block_on(audit.record(&store, event())).unwrap())
    });
    group.bench_function("append 100 entries in one transaction (per batch)", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut w = store.write().await.unwrap();
                for _ in 0..100 {
                    audit.append(&mut w.tx, event()).await.unwrap();
                }
                w.commit().await.unwrap();
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: these machines are shared; medians over 30 samples are steady enough.
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = identifiers, libpep, policy, matching, audit
}
criterion_main!(benches);
