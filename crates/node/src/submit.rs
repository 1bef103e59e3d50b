//! Submission: a partner system's signals are checked, encrypted and put in the outbox.
//!
//! Signals that arrive together on one `SubmitSignals` stream are handled as a batch: each is
//! checked on its own (a refusal or a replay is that signal's answer), the rest are encrypted
//! over every core and written to the outbox, with their keyed lookups and audit entries, in one
//! write transaction. Per signal the answer is the one it would get alone; a batch that cannot
//! be stored is answered UNAVAILABLE for each new signal in it, and none of them is kept.

use crate::{input, version_of, Node, NodeError, SignalState};
use prost::Message;
use rand::RngExt;
use signaalnet_audit::{Actor, Event, Head, Step};
use signaalnet_identifier::MatchKey;
use signaalnet_policy::PolicySet;
use signaalnet_proto::v1 as pb;
use signaalnet_pseudonym::Origin;
use signaalnet_service::convert::kind_to_wire;
use sqlx::{Any, Row, Transaction};
use std::collections::BTreeSet;
use std::sync::Arc;
use tracing::{Instrument, Span};

/// Most submissions taken into one write transaction.
pub const MAX_BATCH: usize = 128;

/// One submission and the span of its processing log (`submit`).
pub struct Submission {
    pub request: pb::SubmitSignalRequest,
    pub span: Span,
}

/// Why a submission was not accepted. It stays this value up to the gRPC edge, where
/// `grpc.rs` maps it (the one place) to a status or to a result on the submission stream.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SubmitError {
    /// Checked and refused: invalid, refused by policy or over quota, with every violation.
    #[error("{}", .0.message())]
    Refused(input::Refused),
    /// The idempotency key was used before for a different request.
    #[error(
        "idempotency_key: already used for a different request; use a new key for a new signal"
    )]
    KeyReused,
    /// A submission with this key was stored concurrently; asking again answers it.
    #[error("concurrent submission; retry")]
    Concurrent,
    /// Nothing was kept (storage, quota bookkeeping): retry with the same idempotency key.
    #[error("{0}")]
    Unavailable(&'static str),
    /// A fault in the node itself.
    #[error("{0}")]
    Internal(&'static str),
}

impl From<NodeError> for SubmitError {
    fn from(e: NodeError) -> Self {
        tracing::error!(error = %e, "node storage failed");
        Self::Unavailable(
            "the node could not complete the request; retry with the same idempotency key",
        )
    }
}

type Answer = Result<pb::SubmitSignalResponse, SubmitError>;

/// A submission that passed the checks.
struct New {
    index: usize,
    request_mac: Vec<u8>,
    lookups: BTreeSet<Vec<u8>>,
    identifiers: usize,
    keys: Vec<MatchKey>,
}

enum Prepared {
    New(New),
    Answered(Answer),
}

impl Node {
    /// Accepts a signal: checks it, encrypts its identifiers, stores it in the outbox.
    pub async fn submit(&self, actor: Actor, request: pb::SubmitSignalRequest) -> Answer {
        let span = Span::current();
        self.submit_batch(&actor, vec![Submission { request, span }])
            .await
            .pop()
            .unwrap_or(Err(SubmitError::Internal("no answer for the submission")))
    }

    /// [`Node::submit`] for up to [`MAX_BATCH`] submissions at once (more are split); the
    /// answers are in the order of `batch`.
    pub async fn submit_batch(&self, actor: &Actor, mut batch: Vec<Submission>) -> Vec<Answer> {
        let mut answers = Vec::with_capacity(batch.len());
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(MAX_BATCH));
            answers.extend(self.submit_at_most_max(actor, batch).await);
            batch = rest;
        }
        answers
    }

    async fn submit_at_most_max(&self, actor: &Actor, batch: Vec<Submission>) -> Vec<Answer> {
        let policy = self.policy();
        let mut answers: Vec<Option<Answer>> = (0..batch.len()).map(|_| None).collect();
        let mut new = Vec::with_capacity(batch.len());
        for (index, s) in batch.iter().enumerate() {
            let prepared = self
                .prepare(actor, &policy, index, &s.request)
                .instrument(s.span.clone())
                .await;
            match prepared {
                Prepared::New(n) => new.push(n),
                Prepared::Answered(answer) => answers[index] = Some(answer),
            }
        }
        let keys_of = |n: &New| (n.index, n.keys.len());
        self.take_quotas(actor, &policy, &batch, (&mut new, keys_of), &mut answers)
            .await;
        if !new.is_empty() {
            for (index, answer) in self.store_new(actor, &policy, &batch, new).await {
                answers[index] = Some(answer);
            }
        }
        let answers: Vec<Answer> = answers
            .into_iter()
            .map(|a| a.unwrap_or(Err(SubmitError::Internal("submission not handled"))))
            .collect();
        self.count(&batch, &answers);
        answers
    }

    /// The metrics of a batch's answers: accepted per purpose, refusals per rule.
    fn count(&self, batch: &[Submission], answers: &[Answer]) {
        for (s, answer) in batch.iter().zip(answers) {
            match answer {
                Ok(_) => {
                    let purpose = self
                        .policy()
                        .purpose(&s.request.purpose)
                        .map_or_else(|| "other".to_owned(), |p| p.id.clone());
                    self.metrics
                        .accepted
                        .get_or_create(&signaalnet_telemetry::metrics::PurposeLabels { purpose })
                        .inc();
                }
                Err(SubmitError::Refused(refused)) => {
                    for v in &refused.violations {
                        self.metrics.refused(&v.rule);
                    }
                }
                Err(_) => {}
            }
        }
    }

    /// Checks one submission; answers a refusal at once.
    async fn prepare(
        &self,
        actor: &Actor,
        policy: &PolicySet,
        index: usize,
        request: &pb::SubmitSignalRequest,
    ) -> Prepared {
        let now = self.audit.clock().now();
        let checked = match input::check(policy, &self.partner_id, request, now) {
            Ok(c) => c,
            Err(refused) => {
                self.audit_refusal(actor.clone(), policy, &request.purpose, &refused)
                    .await;
                // A refused request's purpose may be anything the caller typed: only a purpose
                // of the policy set is named in the log.
                tracing::info!(
                    partner = %self.partner_id,
                    purpose = policy.purpose(&request.purpose).map_or("(not in the policy set)", |p| p.id.as_str()),
                    violations = refused.violations.len(),
                    code = %refused.code,
                    "signal refused"
                );
                return Prepared::Answered(Err(SubmitError::Refused(refused)));
            }
        };
        // A replay is found when its outbox row cannot be written (the idempotency key is taken)
        // rather than by a read before: replays are rare, a read per submission is not.
        let request_mac = self.mac(b"request", &request.encode_to_vec());
        let keys: Vec<MatchKey> = checked
            .identifiers
            .iter()
            .flat_map(|i| policy.match_keys(&request.purpose, i))
            .collect();
        // Keyed lookups per match key: stored for withdrawal by identifier, and the names of the
        // data subjects in the processing log.
        let keyed: Vec<(String, Vec<u8>)> = keys
            .iter()
            .map(|k| (k.kind().to_string(), self.mac(b"lookup", &k.hash_input())))
            .collect();
        let subjects: Vec<String> = keyed
            .iter()
            .map(|(kind, l)| format!("{kind}:{}", hex::encode(l)))
            .collect();
        signaalnet_telemetry::data_subjects(&Span::current(), &subjects);
        Prepared::New(New {
            index,
            request_mac,
            lookups: keyed.into_iter().map(|(_, l)| l).collect(),
            identifiers: checked.identifiers.len(),
            keys,
        })
    }

    /// Encrypts the new submissions and writes them in one transaction: all or none.
    async fn store_new(
        &self,
        actor: &Actor,
        policy: &PolicySet,
        batch: &[Submission],
        mut new: Vec<New>,
    ) -> Vec<(usize, Answer)> {
        let keys: Vec<(String, Vec<MatchKey>)> = new
            .iter_mut()
            .map(|n| {
                let purpose = batch
                    .get(n.index)
                    .map(|s| s.request.purpose.clone())
                    .unwrap_or_default();
                (purpose, std::mem::take(&mut n.keys))
            })
            .collect();
        let encryptor = Arc::clone(&self.encryptor);
        let partner = self.partner_id.clone();
        let encrypted =
            signaalnet_service::cpu::spread(keys, move |part: &[(String, Vec<MatchKey>)]| {
                let mut rng = rand::rng();
                part.iter()
                    .map(|(purpose, keys)| {
                        keys.iter()
                            .map(|k| {
                                let origin = Origin {
                                    partner: &partner,
                                    purpose,
                                    kind: k.kind(),
                                };
                                let (ciphertext, proof) = encryptor.encrypt(k, &origin, &mut rng);
                                pb::EncryptedIdentifier {
                                    kind: kind_to_wire(k.kind()),
                                    ciphertext: ciphertext.to_bytes().to_vec(),
                                    origin_proof: proof.to_bytes(),
                                    proofs: Vec::new(),
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect()
            })
            .await;
        let failed = |error: SubmitError| -> Vec<(usize, Answer)> {
            new.iter().map(|n| (n.index, Err(error.clone()))).collect()
        };
        let encrypted = match encrypted {
            Ok(e) => e,
            Err(_) => return failed(SubmitError::Internal("encryption task failed")),
        };
        let mut w = match self.store.write().await {
            Ok(w) => w,
            Err(e) => return failed(SubmitError::from(NodeError::from(e))),
        };
        let mut head = match self.audit.head(&mut w.tx).await {
            Ok(head) => head,
            Err(e) => return failed(SubmitError::from(NodeError::from(e))),
        };
        let mut answers = Vec::with_capacity(new.len());
        // Idempotency keys already taken when written: by an earlier request (a replay, which
        // stores nothing: the original is in the trail), an earlier submission of this batch or
        // a concurrent request. Answered once the batch is committed.
        let mut taken = Vec::new();
        for (n, identifiers) in new.iter().zip(encrypted) {
            let s = &batch[n.index];
            let written = self
                .write_one(
                    (&mut w.tx, &mut head),
                    actor,
                    policy,
                    &s.request,
                    n,
                    identifiers,
                )
                .instrument(s.span.clone())
                .await;
            match written {
                Ok(Some(answer)) => answers.push((n.index, Ok(answer))),
                Ok(None) => taken.push(n),
                Err(e) => return failed(SubmitError::from(e)),
            }
        }
        if let Err(e) = w.commit().await {
            return failed(SubmitError::from(NodeError::from(e)));
        }
        self.outbox.notify_one();
        for n in taken {
            let request = &batch[n.index].request;
            let answer = self
                .replay(&request.idempotency_key, &n.request_mac)
                .await
                .and_then(|a| a.ok_or(SubmitError::Concurrent));
            answers.push((n.index, answer));
        }
        answers
    }

    /// Writes one new signal to the outbox; `None` if its idempotency key is already taken.
    async fn write_one(
        &self,
        (tx, head): (&mut Transaction<'static, Any>, &mut Head),
        actor: &Actor,
        policy: &PolicySet,
        request: &pb::SubmitSignalRequest,
        new: &New,
        identifiers: Vec<pb::EncryptedIdentifier>,
    ) -> Result<Option<pb::SubmitSignalResponse>, NodeError> {
        let signal_id = format!("sig-{}", hex::encode(rand::rng().random::<[u8; 10]>()));
        let match_keys = identifiers.len();
        let payload = pb::EncryptedSignal {
            signal_id: signal_id.clone(),
            purpose: request.purpose.clone(),
            observed_month: request.observed_month.clone(),
            identifiers,
            attributes: request.attributes.clone(),
            policy: Some(version_of(policy)),
            traceparent: signaalnet_telemetry::traceparent(&Span::current()).unwrap_or_default(),
        };
        let inserted = sqlx::query(
            "INSERT INTO node_signals (signal_id, idempotency_key, request_mac, case_reference, \
             purpose, state, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&signal_id)
        .bind(self.key_at_rest(&request.idempotency_key))
        .bind(&new.request_mac)
        .bind(&request.case_reference)
        .bind(&request.purpose)
        .bind(SignalState::Pending.as_str())
        .bind(payload.encode_to_vec())
        .bind(self.audit.clock().now())
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(None);
        }
        for lookup in &new.lookups {
            sqlx::query("INSERT INTO node_signal_lookup (signal_id, lookup) VALUES ($1, $2)")
                .bind(&signal_id)
                .bind(lookup)
                .execute(&mut **tx)
                .await?;
        }
        let event = Event::for_purpose(Step::Submit, policy, &request.purpose)
            .by(actor.clone())
            .reference(self.signal_ref(&signal_id))
            .detail(format!(
                "accepted into the outbox: {} identifier(s) encrypted as {match_keys} match key(s)",
                new.identifiers
            ));
        self.audit.append_after(tx, head, event).await?;
        tracing::info!(
            partner = %self.partner_id,
            purpose = %request.purpose,
            signal = %signal_id,
            identifiers = match_keys,
            "signal accepted into the outbox"
        );
        Ok(Some(pb::SubmitSignalResponse {
            signal_id,
            replayed: false,
            policy: Some(version_of(policy)),
        }))
    }

    pub(crate) async fn replay(
        &self,
        key: &str,
        mac: &[u8],
    ) -> Result<Option<pb::SubmitSignalResponse>, SubmitError> {
        let row = sqlx::query(
            "SELECT signal_id, request_mac FROM node_signals WHERE idempotency_key = $1",
        )
        .bind(self.key_at_rest(key))
        .fetch_optional(self.store.pool())
        .await
        .map_err(NodeError::from)?;
        let Some(row) = row else { return Ok(None) };
        let stored: Vec<u8> = row.get("request_mac");
        // An ended signal's request is forgotten (`expiry::forget`): its key answers with the
        // signal, whatever the request.
        if !stored.is_empty() && stored != mac {
            return Err(SubmitError::KeyReused);
        }
        Ok(Some(pb::SubmitSignalResponse {
            signal_id: row.get("signal_id"),
            replayed: true,
            policy: Some(self.version()),
        }))
    }
}
