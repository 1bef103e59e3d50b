//! What the coordinator needs from the transcryptors before it can read anything: at startup
//! one proven key share from each (checked against the ceremony record), and for each matching
//! domain, once, each transcryptor's reshuffle commitment (what its conversion proofs are
//! checked against).

use crate::CoordinatorError;
use backon::Retryable;
use signaalnet_identifier::IdentifierKind;
use signaalnet_proto::v1::transcryptor_service_client::TranscryptorServiceClient;
use signaalnet_proto::v1::{GetCommitmentsRequest, GetKeyShareRequest, MatchDomainRef};
use signaalnet_pseudonym::{
    CoordinatorContext, CoordinatorDecryptor, DomainCommitments, KeyShare, MatchDomain,
    SystemPublicKeys,
};
use signaalnet_service::convert::kind_to_wire;
use signaalnet_service::retry;
use signaalnet_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// Collects one proven share from each transcryptor (its URL, for messages, and a channel to it,
/// in the order of the chain), retrying until `patience` runs out (a transcryptor may start
/// after the coordinator).
pub async fn fetch_keys(
    system: &SystemPublicKeys,
    transcryptors: Vec<(String, Channel)>,
    context: &CoordinatorContext,
    patience: Duration,
) -> Result<(CoordinatorDecryptor, Commitments), CoordinatorError> {
    if context != system.context() {
        return Err(CoordinatorError::KeyShares(format!(
            "the ceremony record is for coordinator context `{}`, this coordinator is configured \
             for `{}`",
            system.context().as_str(),
            context.as_str()
        )));
    }
    let deadline = Instant::now() + patience;
    let mut shares = Vec::new();
    let mut clients = Vec::new();
    let count = transcryptors.len();
    for (position, (url, channel)) in transcryptors.into_iter().enumerate() {
        let client = TranscryptorServiceClient::new(channel);
        let request = GetKeyShareRequest {
            coordinator_context: context.as_str().to_owned(),
        };
        // A transcryptor that is not up yet is waited for, until the patience is spent.
        let share = (|| {
            let mut client = client.clone();
            let request = request.clone();
            async move { client.get_key_share(request).await }
        })
        .retry(
            retry::policy(Duration::from_millis(100), Duration::from_secs(2))
                .with_total_delay(Some(deadline.saturating_duration_since(Instant::now()))),
        )
        .when(|status| {
            matches!(
                status.code(),
                tonic::Code::Unavailable | tonic::Code::Unknown
            )
        })
        .notify(|_, _| tracing::info!(transcryptor = %url, "waiting for transcryptor"))
        .await
        .map_err(|status| {
            CoordinatorError::KeyShares(format!("{url}: {}: {}", status.code(), status.message()))
        })?
        .into_inner();
        if usize::try_from(share.transcryptor_index).ok() != Some(position + 1) {
            return Err(CoordinatorError::KeyShares(format!(
                "{url}: answers as transcryptor {}, but is listed at position {} of the chain; \
                 list the transcryptors in the order of the ceremony",
                share.transcryptor_index,
                position + 1
            )));
        }
        let key = KeyShare::from_bytes(&share.key_share, &share.key_share_proof)
            .map_err(|e| CoordinatorError::KeyShares(format!("{url}: {e}")))?;
        shares.push(key);
        clients.push(client);
    }
    let decryptor = CoordinatorDecryptor::from_shares(system, &shares)
        .map_err(|e| CoordinatorError::KeyShares(e.to_string()))?;
    tracing::info!(transcryptors = count, "proven key shares received");
    Ok((
        decryptor,
        Commitments {
            source: Source::Transcryptors {
                clients,
                context: context.clone(),
            },
            known: RwLock::new(HashMap::new()),
        },
    ))
}

/// Each transcryptor's reshuffle commitment per matching domain, fetched once per domain and
/// kept: a transcryptor cannot change them for later conversions while the coordinator runs.
pub struct Commitments {
    source: Source,
    known: RwLock<HashMap<MatchDomain, Arc<DomainCommitments>>>,
}

enum Source {
    Transcryptors {
        clients: Vec<TranscryptorServiceClient<Channel>>,
        context: CoordinatorContext,
    },
    Fixed,
}

impl std::fmt::Debug for Commitments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Commitments(..)")
    }
}

impl Commitments {
    /// Commitments known in advance and nothing fetched (tests, benchmarks).
    pub fn fixed(known: HashMap<MatchDomain, DomainCommitments>) -> Self {
        Self {
            source: Source::Fixed,
            known: RwLock::new(known.into_iter().map(|(d, c)| (d, Arc::new(c))).collect()),
        }
    }

    /// The commitments of every domain asked for, fetching the ones not yet known. What is
    /// fetched is checked against what `store` pinned at the first fetch (by this or an earlier
    /// coordinator process) and pinned if new: a transcryptor that answers another commitment
    /// for a domain is refused, naming it.
    pub async fn get(
        &self,
        store: &Store,
        domains: &[(String, IdentifierKind)],
    ) -> Result<HashMap<MatchDomain, Arc<DomainCommitments>>, CoordinatorError> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        {
            let known = self
                .known
                .read()
                .map_err(|_| CoordinatorError::KeyShares("commitments lock poisoned".into()))?;
            for (purpose, kind) in domains {
                let domain = MatchDomain::new(purpose, *kind)
                    .map_err(|e| CoordinatorError::KeyShares(e.to_string()))?;
                match known.get(&domain) {
                    Some(c) => {
                        found.insert(domain, Arc::clone(c));
                    }
                    None => missing.push((purpose.clone(), *kind, domain)),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let Source::Transcryptors { clients, context } = &self.source else {
            return Err(CoordinatorError::KeyShares(
                "no commitments for a matching domain".into(),
            ));
        };
        let request = GetCommitmentsRequest {
            coordinator_context: context.as_str().to_owned(),
            domains: missing
                .iter()
                .map(|(purpose, kind, _)| MatchDomainRef {
                    purpose: purpose.clone(),
                    kind: kind_to_wire(*kind),
                })
                .collect(),
        };
        let mut per_domain: Vec<Vec<Vec<u8>>> = vec![Vec::new(); missing.len()];
        for (position, client) in clients.iter().enumerate() {
            let response = client
                .clone()
                .get_commitments(request.clone())
                .await
                .map_err(|s| {
                    CoordinatorError::KeyShares(format!(
                        "transcryptor {}: commitments: {}: {}",
                        position + 1,
                        s.code(),
                        s.message()
                    ))
                })?
                .into_inner();
            if response.reshuffle_commitments.len() != missing.len()
                || usize::try_from(response.transcryptor_index).ok() != Some(position + 1)
            {
                return Err(CoordinatorError::KeyShares(format!(
                    "transcryptor {}: answered commitments out of turn or incomplete",
                    position + 1
                )));
            }
            for (slot, c) in per_domain.iter_mut().zip(response.reshuffle_commitments) {
                slot.push(c);
            }
        }
        let mut fetched = Vec::with_capacity(missing.len());
        for ((_, _, domain), bytes) in missing.into_iter().zip(per_domain) {
            let commitments = DomainCommitments::from_bytes(&bytes)
                .map_err(|e| CoordinatorError::KeyShares(e.to_string()))?;
            pin(store, &domain, &bytes).await?;
            fetched.push((domain, commitments));
        }
        let mut known = self
            .known
            .write()
            .map_err(|_| CoordinatorError::KeyShares("commitments lock poisoned".into()))?;
        for (domain, commitments) in fetched {
            // A domain fetched concurrently keeps its first answer.
            let kept = known
                .entry(domain.clone())
                .or_insert_with(|| Arc::new(commitments));
            found.insert(domain, Arc::clone(kept));
        }
        Ok(found)
    }
}

/// Pins a domain's commitments (one 32-byte value per transcryptor) the first time, and refuses
/// any later answer that differs, naming the first transcryptor that changed.
async fn pin(
    store: &Store,
    domain: &MatchDomain,
    per_transcryptor: &[Vec<u8>],
) -> Result<(), CoordinatorError> {
    let fetched = hex::encode(per_transcryptor.concat());
    let pinned: Option<String> =
        sqlx::query_scalar("SELECT commitments FROM coord_commitments WHERE domain = $1")
            .bind(domain.as_str())
            .fetch_optional(store.pool())
            .await?;
    match pinned {
        Some(pinned) if pinned == fetched => Ok(()),
        Some(pinned) => {
            let changed = per_transcryptor
                .iter()
                .enumerate()
                .find(|(i, c)| pinned.get(i * 64..(i + 1) * 64) != Some(hex::encode(c).as_str()))
                .map_or(0, |(i, _)| i + 1);
            tracing::error!(
                transcryptor = changed,
                domain = domain.as_str(),
                "a transcryptor answers other commitments than it first did; refused"
            );
            Err(CoordinatorError::KeyShares(format!(
                "transcryptor {changed} answers another reshuffle commitment for {} than the one \
                 pinned at its first use: its conversions are refused until its operators restore \
                 its secrets (or the region agrees on new keys)",
                domain.as_str()
            )))
        }
        None => {
            let mut w = store.write().await?;
            sqlx::query(
                "INSERT INTO coord_commitments (domain, commitments) VALUES ($1, $2) \
                 ON CONFLICT (domain) DO NOTHING",
            )
            .bind(domain.as_str())
            .bind(&fetched)
            .execute(&mut *w.tx)
            .await?;
            w.commit().await?;
            Ok(())
        }
    }
}
