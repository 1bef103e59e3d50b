//! The crypto floor: what the chain's elliptic-curve work alone costs per identifier (node
//! encryption, one proven conversion per transcryptor, the coordinator's verification of every
//! proof and its decryption), measured with the same libpep calls the roles make, on one core
//! and on every core at once.
//!
//! The floor in signals per second assumes every core does that work at its one-core speed. On a
//! virtual machine whose cores share a physical core or a host, a core is slower while the others
//! are busy; the every-core measurement shows by how much.

use crate::requests::bsn;
use anyhow::{Context, Result};
use signaalnet_identifier::{Bsn, Identifier};
use signaalnet_pseudonym::{
    CoordinatorContext, DomainCommitments, LocalChain, MatchDomain, Origin, PartnerEncryptor,
};
use std::time::Instant;

/// Per-identifier cost of each step, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Floor {
    pub encrypt_us: f64,
    /// One conversion with its proof, at one transcryptor.
    pub convert_us: f64,
    /// The coordinator's verification of both transcryptors' proofs and its decryption.
    pub decrypt_us: f64,
    /// Of `decrypt_us`, the decryption alone (what it cost before conversions were proven).
    pub decrypt_only_us: f64,
}

impl Floor {
    /// Node encryption, one proven conversion per transcryptor (two here), the coordinator's
    /// verification and decryption.
    pub fn per_identifier_us(&self) -> f64 {
        self.encrypt_us + 2.0 * self.convert_us + self.decrypt_us
    }

    /// The same without the coordinator's verification of the proofs.
    pub fn without_verification_us(&self) -> f64 {
        self.encrypt_us + 2.0 * self.convert_us + self.decrypt_only_us
    }

    /// Signals per second if every core did nothing but the libpep work of the chain.
    pub fn signals_per_second(&self, identifiers: usize, cores: usize) -> f64 {
        cores as f64 * 1e6 / (identifiers as f64 * self.per_identifier_us())
    }
}

/// How much is measured: the median over `rounds` rounds of `batch` items.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub rounds: usize,
    pub batch: usize,
}

/// The floor reported for the run.
pub const FULL: Sample = Sample {
    rounds: 15,
    batch: 200,
};

/// The floor measured again just before each throughput run (the machine's speed drifts).
pub const QUICK: Sample = Sample {
    rounds: 7,
    batch: 100,
};

/// On one core, nothing else running in this process.
pub fn measure(sample: Sample) -> Result<Floor> {
    let rng = &mut rand::rng();
    let context = CoordinatorContext::new("coordinator/bench")?;
    let LocalChain {
        system,
        transcryptors,
        coordinator: decryptor,
        ..
    } = LocalChain::new(&context, 2, rng)?;
    let encryptor = PartnerEncryptor::new(system);
    let key = Identifier::Bsn(Bsn::parse(&bsn(1))?)
        .match_keys()
        .into_iter()
        .next()
        .context("a BSN has a match key")?;
    let domain = MatchDomain::new("bench", key.kind())?;
    let origin = Origin {
        partner: "bench",
        purpose: "bench",
        kind: key.kind(),
    };
    let commitments = DomainCommitments::published_by(&transcryptors, &domain);
    let factors: Vec<_> = transcryptors.iter().map(|t| t.factors(&domain)).collect();
    let encrypt_us = median_us(sample, || {
        for _ in 0..sample.batch {
            std::hint::black_box(encryptor.encrypt(&key, &origin, &mut rand::rng()));
        }
    });
    let batch: Vec<_> = (0..sample.batch)
        .map(|_| encryptor.encrypt(&key, &origin, rng).0)
        .collect();
    let convert_us = median_us(sample, || {
        for c in &batch {
            std::hint::black_box(transcryptors[0].convert(c, &factors[0]).ok());
        }
    });
    let mut chains = Vec::with_capacity(batch.len());
    for c in &batch {
        let first = transcryptors[0].convert(c, &factors[0])?;
        let second = transcryptors[1].convert(&first.ciphertext, &factors[1])?;
        chains.push((*c, [first.proof, second.proof], second.ciphertext));
    }
    let decrypt_us = median_us(sample, || {
        for (original, proofs, _) in &chains {
            std::hint::black_box(
                decryptor
                    .verify_and_decrypt(original, proofs, &commitments)
                    .ok(),
            );
        }
    });
    let decrypt_only_us = median_us(sample, || {
        for (_, _, converted) in &chains {
            std::hint::black_box(decryptor.decrypt_unchecked(converted));
        }
    });
    Ok(Floor {
        encrypt_us,
        convert_us,
        decrypt_us,
        decrypt_only_us,
    })
}

/// On `cores` threads at once: the mean of their per-step costs.
pub fn measure_on_every_core(cores: usize, sample: Sample) -> Result<Floor> {
    let floors = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..cores.max(1))
            .map(|_| scope.spawn(move || measure(sample)))
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .map_err(|_| anyhow::anyhow!("a floor thread panicked"))?
            })
            .collect::<Result<Vec<Floor>>>()
    })?;
    let mean = |f: fn(&Floor) -> f64| floors.iter().map(f).sum::<f64>() / floors.len() as f64;
    Ok(Floor {
        encrypt_us: mean(|f| f.encrypt_us),
        convert_us: mean(|f| f.convert_us),
        decrypt_us: mean(|f| f.decrypt_us),
        decrypt_only_us: mean(|f| f.decrypt_only_us),
    })
}

/// Median per-item cost over the rounds of `sample`.
fn median_us(sample: Sample, mut round: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..sample.rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            round();
            start.elapsed().as_secs_f64() * 1e6 / sample.batch.max(1) as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}
