//! Per-operation cost of the pseudonymisation steps: median of several rounds, printed as
//! microseconds per identifier. Run with `cargo bench -p signaalnet-pseudonym`.

#![allow(clippy::expect_used)] // fixed, known-good inputs
use signaalnet_identifier::{Bsn, Identifier, MatchKey};
use signaalnet_pseudonym::{
    origin_pseudonym, CoordinatorContext, DomainCommitments, HandleKey, LocalChain, MatchDomain,
    Origin, PartnerEncryptor,
};
use std::hint::black_box;
use std::time::Instant;

const ROUNDS: usize = 15;
const PER_ROUND: usize = 200;

fn median_micros(mut op: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..PER_ROUND {
                op();
            }
            start.elapsed().as_secs_f64() * 1e6 / PER_ROUND as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[ROUNDS / 2]
}

fn main() {
    let rng = &mut rand::rng();
    let context = CoordinatorContext::new("coordinator/bench").expect("context");
    let LocalChain {
        system,
        transcryptors,
        coordinator,
        ..
    } = LocalChain::new(&context, 2, rng).expect("ceremony");
    let partner = PartnerEncryptor::new(system);
    let key: MatchKey = Identifier::Bsn(Bsn::parse("111222333").expect("bsn"))
        .match_keys()
        .remove(0);
    let domain = MatchDomain::new("bench", key.kind()).expect("domain");
    let factors: Vec<_> = transcryptors.iter().map(|t| t.factors(&domain)).collect();
    let commitments = DomainCommitments::published_by(&transcryptors, &domain);
    let origin = Origin {
        partner: "bench",
        purpose: "bench",
        kind: key.kind(),
    };
    let encrypted = partner.encrypt(&key, &origin, rng).0;
    let once = transcryptors[0]
        .convert(&encrypted, &factors[0])
        .expect("step 1");
    let twice = transcryptors[1]
        .convert(&once.ciphertext, &factors[1])
        .expect("step 2");
    let proofs = [once.proof, twice.proof];
    let pseudonym = coordinator
        .verify_and_decrypt(&encrypted, &proofs, &commitments)
        .expect("verifies");
    let handles = HandleKey::new(&[1u8; 32]).expect("handle key");

    let rows = [
        (
            "hash + lizard (origin pseudonym)",
            median_micros(|| {
                black_box(origin_pseudonym(black_box(&key)));
            }),
        ),
        (
            "partner encrypt (incl. hash)",
            median_micros(|| {
                black_box(partner.encrypt(black_box(&key), &origin, rng));
            }),
        ),
        (
            "transcryptor proven convert, 1 item",
            median_micros(|| {
                black_box(
                    transcryptors[0]
                        .convert(black_box(&encrypted), &factors[0])
                        .ok(),
                );
            }),
        ),
        (
            "coordinator verify 2 proofs + decrypt",
            median_micros(|| {
                black_box(
                    coordinator
                        .verify_and_decrypt(black_box(&encrypted), &proofs, &commitments)
                        .ok(),
                );
            }),
        ),
        (
            "coordinator decrypt alone",
            median_micros(|| {
                black_box(coordinator.decrypt_unchecked(black_box(&twice.ciphertext)));
            }),
        ),
        (
            "analyst handle (HMAC-SHA256)",
            median_micros(|| {
                black_box(handles.handle(
                    "riec_integrale_analyse",
                    key.kind(),
                    black_box(&pseudonym),
                ));
            }),
        ),
    ];
    println!(
        "signaalnet-pseudonym: median of {ROUNDS} rounds x {PER_ROUND} ops, µs per identifier"
    );
    for (name, micros) in rows {
        println!("{name:<50} {micros:>9.1} µs");
    }
    let floor = rows[1].1 + 2.0 * rows[2].1 + rows[3].1;
    let unverified = rows[1].1 + 2.0 * rows[2].1 + rows[4].1;
    println!(
        "{:<50} {floor:>9.1} µs ({unverified:.1} without verification)",
        "crypto floor per identifier, 2 transcryptors"
    );
}
