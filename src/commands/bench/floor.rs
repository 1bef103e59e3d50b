//! The crypto floor: what the chain's elliptic-curve work alone costs per identifier (node
//! encryption, one conversion per transcryptor, coordinator decryption), measured with the same
//! libpep calls the roles make, on one core and on every core at once.
//!
//! The floor in signals per second assumes every core does that work at its one-core speed. On a
//! virtual machine whose cores share a physical core or a host, a core is slower while the others
//! are busy; the every-core measurement shows by how much.

use super::bsn;
use anyhow::{Context, Result};
use signaalnet_identifier::{Bsn, Identifier};
use signaalnet_pseudonym::{
    key_ceremony, CoordinatorContext, CoordinatorDecryptor, KeyShare, PartnerEncryptor,
    Transcryptor,
};
use std::time::Instant;

/// Per-identifier cost of each step, in microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Floor {
    pub encrypt_us: f64,
    pub convert_us: f64,
    pub decrypt_us: f64,
}

impl Floor {
    /// Node encryption, one conversion per transcryptor (two here), coordinator decryption.
    pub fn per_identifier_us(&self) -> f64 {
        self.encrypt_us + 2.0 * self.convert_us + self.decrypt_us
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
    let (system, keys) = key_ceremony(2, rng)?;
    let transcryptors: Vec<Transcryptor> = keys.iter().map(Transcryptor::new).collect();
    let context = CoordinatorContext::new("coordinator/bench")?;
    let shares: Vec<KeyShare> = transcryptors
        .iter()
        .map(|t| t.key_share(&context))
        .collect();
    let decryptor = CoordinatorDecryptor::from_shares(&system, &shares)?;
    let encryptor = PartnerEncryptor::new(system);
    let key = Identifier::Bsn(Bsn::parse(&bsn(1))?)
        .match_keys()
        .into_iter()
        .next()
        .context("a BSN has a match key")?;
    let encrypt_us = median_us(sample, || {
        for _ in 0..sample.batch {
            std::hint::black_box(encryptor.encrypt(&key, &mut rand::rng()));
        }
    });
    let batch: Vec<_> = (0..sample.batch)
        .map(|_| encryptor.encrypt(&key, rng))
        .collect();
    let convert_us = median_us(sample, || {
        std::hint::black_box(transcryptors[0].convert_batch(&batch, &context, &mut rand::rng()));
    });
    let once = transcryptors[0].convert_batch(&batch, &context, rng);
    let converted = transcryptors[1].convert_batch(&once, &context, rng);
    let decrypt_us = median_us(sample, || {
        for c in &converted {
            std::hint::black_box(decryptor.decrypt(c).ok());
        }
    });
    Ok(Floor {
        encrypt_us,
        convert_us,
        decrypt_us,
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
