//! Every party of a chain in one process — for tests, benchmarks and the bench's crypto floor;
//! a deployment runs each party on its own machine.

use crate::ceremony::{Ceremony, SystemPublicKeys, TranscryptorKeys};
use crate::coordinator::{CoordinatorDecryptor, DomainCommitments};
use crate::encoding::{CoordinatorContext, EncryptedIdentifier, MatchDomain};
use crate::error::PseudonymError;
use crate::transcryptor::{convert_in_order, Converted, Transcryptor};
use rand::{CryptoRng, Rng};

/// The ceremony's outcome, each transcryptor, and the coordinator with its proven key shares.
pub struct LocalChain {
    pub system: SystemPublicKeys,
    pub keys: Vec<TranscryptorKeys>,
    pub transcryptors: Vec<Transcryptor>,
    pub coordinator: CoordinatorDecryptor,
}

impl LocalChain {
    /// Runs every party's step of the ceremony for `n` transcryptors, then hands the coordinator
    /// one proven key share from each.
    pub fn new<R: Rng + CryptoRng>(
        context: &CoordinatorContext,
        n: usize,
        rng: &mut R,
    ) -> Result<Self, PseudonymError> {
        let (system, keys) = Ceremony::run_locally(context, n, rng)?;
        let transcryptors = keys
            .iter()
            .map(|k| Transcryptor::new(k, &system))
            .collect::<Result<Vec<_>, _>>()?;
        let shares = transcryptors
            .iter()
            .map(|t| t.key_share(rng))
            .collect::<Result<Vec<_>, _>>()?;
        let coordinator = CoordinatorDecryptor::from_shares(&system, &shares)?;
        Ok(Self {
            system,
            keys,
            transcryptors,
            coordinator,
        })
    }

    /// What the transcryptors publish for `domain`.
    pub fn commitments(&self, domain: &MatchDomain) -> DomainCommitments {
        DomainCommitments::published_by(&self.transcryptors, domain)
    }

    /// `item` converted by every transcryptor in order, each step with its proof.
    pub fn convert(
        &self,
        item: &EncryptedIdentifier,
        domain: &MatchDomain,
    ) -> Result<Vec<Converted>, PseudonymError> {
        convert_in_order(&self.transcryptors, item, domain)
    }
}
