//! At startup the coordinator asks every transcryptor for its key share for the coordinator's
//! context; with all of them it can decrypt fully converted ciphertexts, and nothing else.

use crate::CoordinatorError;
use signaalnet_proto::v1::transcryptor_service_client::TranscryptorServiceClient;
use signaalnet_proto::v1::GetKeyShareRequest;
use signaalnet_pseudonym::{CoordinatorContext, CoordinatorDecryptor, KeyShare, SystemPublicKeys};
use signaalnet_tls::TlsFiles;
use std::time::{Duration, Instant};

/// Collects one share from each transcryptor URL, retrying until `patience` runs out (a
/// transcryptor may start after the coordinator).
pub async fn fetch_decryptor(
    system: &SystemPublicKeys,
    transcryptors: &[String],
    tls: &TlsFiles,
    context: &CoordinatorContext,
    patience: Duration,
) -> Result<CoordinatorDecryptor, CoordinatorError> {
    let deadline = Instant::now() + patience;
    let mut shares: Vec<(u32, KeyShare)> = Vec::new();
    for url in transcryptors {
        let channel = signaalnet_service::channel(url, tls)
            .map_err(|e| CoordinatorError::KeyShares(format!("{url}: {e}")))?;
        let mut client = TranscryptorServiceClient::new(channel);
        let mut wait = Duration::from_millis(100);
        let share = loop {
            let request = GetKeyShareRequest {
                coordinator_context: context.as_str().to_owned(),
            };
            match client.get_key_share(request).await {
                Ok(response) => break response.into_inner(),
                Err(status)
                    if Instant::now() + wait < deadline
                        && matches!(
                            status.code(),
                            tonic::Code::Unavailable | tonic::Code::Unknown
                        ) =>
                {
                    tracing::info!(transcryptor = %url, "waiting for transcryptor");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                Err(status) => {
                    return Err(CoordinatorError::KeyShares(format!(
                        "{url}: {}: {}",
                        status.code(),
                        status.message()
                    )))
                }
            }
        };
        let key = KeyShare::from_bytes(&share.key_share)
            .map_err(|e| CoordinatorError::KeyShares(format!("{url}: {e}")))?;
        if shares.iter().any(|(i, _)| *i == share.transcryptor_index) {
            return Err(CoordinatorError::KeyShares(format!(
                "{url}: transcryptor index {} answered twice; each transcryptor must be listed once",
                share.transcryptor_index
            )));
        }
        shares.push((share.transcryptor_index, key));
    }
    shares.sort_by_key(|(i, _)| *i);
    let shares: Vec<KeyShare> = shares.into_iter().map(|(_, s)| s).collect();
    let decryptor = CoordinatorDecryptor::from_shares(system, &shares)
        .map_err(|e| CoordinatorError::KeyShares(e.to_string()))?;
    tracing::info!(transcryptors = transcryptors.len(), "key shares received");
    Ok(decryptor)
}
