//! Per-operation cost of the pseudonymisation steps: median of several rounds, printed as
//! microseconds per identifier. Run with `cargo bench -p signaalnet-pseudonym`.

#![allow(clippy::expect_used)] // fixed, known-good inputs
use signaalnet_identifier::{Bsn, Identifier, MatchKey};
use signaalnet_pseudonym::{
    key_ceremony, origin_pseudonym, CoordinatorContext, CoordinatorDecryptor, HandleKey,
    PartnerEncryptor, Transcryptor,
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
    let (system, keys) = key_ceremony(2, rng).expect("ceremony");
    let transcryptors: Vec<Transcryptor> = keys.iter().map(Transcryptor::new).collect();
    let context = CoordinatorContext::new("coordinator/bench").expect("context");
    let shares: Vec<_> = transcryptors
        .iter()
        .map(|t| t.key_share(&context))
        .collect();
    let coordinator = CoordinatorDecryptor::from_shares(&system, &shares).expect("shares");
    let partner = PartnerEncryptor::new(system);
    let key: MatchKey = Identifier::Bsn(Bsn::parse("111222333").expect("bsn"))
        .match_keys()
        .remove(0);
    let encrypted = partner.encrypt(&key, rng);
    let once = transcryptors[0].convert_batch(&[encrypted], &context, rng);
    let converted = transcryptors[1].convert_batch(&once, &context, rng)[0];
    let pseudonym = coordinator.decrypt(&converted).expect("decrypt");
    let handles = HandleKey::new(&[1u8; 32]).expect("handle key");
    let batch = vec![encrypted; 100];

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
                black_box(partner.encrypt(black_box(&key), rng));
            }),
        ),
        (
            "transcryptor convert, 1 item",
            median_micros(|| {
                black_box(transcryptors[0].convert_batch(black_box(&[encrypted]), &context, rng));
            }),
        ),
        (
            "transcryptor convert, per item in batch of 100",
            median_micros(|| {
                black_box(transcryptors[0].convert_batch(black_box(&batch), &context, rng));
            }) / 100.0,
        ),
        (
            "coordinator decrypt",
            median_micros(|| {
                black_box(coordinator.decrypt(black_box(&converted)).ok());
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
    let floor = rows[1].1 + 2.0 * rows[3].1 + rows[4].1;
    println!(
        "{:<50} {floor:>9.1} µs",
        "crypto floor per identifier, 2 transcryptors"
    );
}
