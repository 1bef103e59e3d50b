//! The analyst API and the regional monitor.
//!
//! - Analysts see hits of a purpose only if one of their recipient roles has a view for it;
//!   identifiers appear as per-purpose handles (HMAC with a per-purpose key), so handles of two
//!   purposes cannot be joined; attributes only as the view allows.
//! - The monitor is in [`crate::monitor`].
//!
//! Both read committed state from the store, in one snapshot per call, and never the matcher:
//! an analyst's query does not hold up matching however long it reads (crate::core). What one
//! call reads is bounded: `ListHits` looks at most at [`MAX_SCANNED`] hits (with a filter that
//! few hits pass, the page may hold fewer than asked, and its token goes on from there), and
//! the monitor reads the signals once per change to them, not per call.

use crate::core::Coordinator;
use crate::matching::{linking_keys, month_string, Hit, Seq, SignalEntry};
use crate::view::{has_attribute, partner_roles, visible_attributes};
use crate::CoordinatorError;
use signaalnet_audit::{Actor, Event, Step};
use signaalnet_identifier::IdentifierKind;
use signaalnet_policy::{Partner, PolicySet, RecipientRole, RecipientView};
use signaalnet_proto::v1 as pb;
use signaalnet_pseudonym::MatchingPseudonym;
use signaalnet_service::convert::kind_to_wire;
use signaalnet_service::query::{self, QueryError, QueryKey};
use signaalnet_service::status::Refusal;
use sqlx::Row;
use sqlx::{Any, AnyConnection, Transaction};
use std::collections::{BTreeSet, HashMap};
use tokio::sync::SemaphorePermit;
use tonic::Status;

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 500;
/// Hits read from the store at a time while listing.
const SCAN_BATCH: usize = 200;
/// Hits one `ListHits` call looks at, at most.
pub const MAX_SCANNED: usize = 5_000;

impl Coordinator {
    /// The view through which `analyst` may look at hits of `purpose`. A purpose that does not
    /// exist and one the analyst has no view on get the same PERMISSION_DENIED, so an analyst
    /// cannot learn which purposes exist beyond its own (`signaalnet_service::query`).
    pub(crate) fn analyst_view<'p>(
        policy: &'p PolicySet,
        analyst: &Partner,
        purpose: &str,
    ) -> Result<&'p RecipientView, Status> {
        let purpose = query::purpose(purpose, "purpose", false)?.unwrap_or_default();
        analyst
            .recipient_roles
            .iter()
            .filter(|r| **r != RecipientRole::Partner)
            .find_map(|r| policy.recipient_view(*r, purpose))
            .filter(|_| policy.purpose(purpose).is_some())
            .ok_or_else(|| {
                tracing::warn!(analyst = %analyst.id, "analyst query refused: no view on the purpose");
                QueryError::purpose_not_permitted("purpose").into()
            })
    }

    pub async fn list_hits(
        &self,
        analyst: &Partner,
        actor: Actor,
        request: pb::AnalystListHitsRequest,
    ) -> Result<pb::AnalystListHitsResponse, Status> {
        let policy = self.policy();
        let view = Self::analyst_view(&policy, analyst, &request.purpose)?;
        Self::refuse_monitor(&policy, &request.purpose, "ListHits")?;
        let key = Self::check_filter(&policy, view, &request.purpose, &request.filter)?;
        let size = query::page_size(request.page_size, DEFAULT_PAGE, MAX_PAGE)?;
        let after = query::read_page_token(&request.page_token, &key, query::is_hit_id)?;
        let (hits, next) = {
            let (_turn, mut read) = self.analyst_read().await?;
            let mut hits = Vec::new();
            let mut next = String::new();
            let mut cursor = after.unwrap_or_default();
            let mut scanned = 0;
            'scan: loop {
                let batch = current_hits(&mut read, &request.purpose, &cursor, SCAN_BATCH).await?;
                let signals = member_signals(&mut read, &batch).await?;
                for hit in &batch {
                    let members = members_in(&signals, hit);
                    if request
                        .filter
                        .iter()
                        .all(|f| has_attribute(&members, &f.id, &f.value))
                    {
                        if hits.len() == size {
                            next = hits
                                .last()
                                .map(|h: &pb::AnalystHit| query::next_page_token(&key, &h.hit_id))
                                .unwrap_or_default();
                            break 'scan;
                        }
                        hits.push(self.analyst_hit(&policy, hit, &members, view));
                    }
                    cursor.clone_from(&hit.id);
                }
                scanned += batch.len();
                if batch.len() < SCAN_BATCH {
                    break;
                }
                if scanned >= MAX_SCANNED {
                    // The rest is for the next page: one call's work stays bounded.
                    next = query::next_page_token(&key, &cursor);
                    break;
                }
            }
            (hits, next)
        };
        tracing::info!(analyst = %analyst.id, purpose = %request.purpose, returned = hits.len(), "analyst listed hits");
        let filter: Vec<&str> = request.filter.iter().map(|f| f.id.as_str()).collect();
        self.record(
            Event::for_purpose(Step::AnalystQuery, &policy, &request.purpose)
                .by(actor)
                .references(hits.iter().map(|h| format!("hit:{}", h.hit_id)))
                .detail(format!(
                    "listed hits: {} returned; filtered on attributes [{}]",
                    hits.len(),
                    filter.join(", ")
                )),
        )
        .await?;
        Ok(pb::AnalystListHitsResponse {
            hits,
            next_page_token: next,
        })
    }

    /// Checks a `ListHits` filter: each attribute visible to the analyst for the purpose, named
    /// once, with a value the attribute can have. Returns what the page token is bound to (the
    /// purpose and the filter, in the order given).
    fn check_filter(
        policy: &PolicySet,
        view: &RecipientView,
        purpose: &str,
        filter: &[pb::Attribute],
    ) -> Result<QueryKey, QueryError> {
        let mut key = QueryKey::new("signaalnet.v1.AnalystService/ListHits").with(purpose);
        let mut seen = BTreeSet::new();
        for (i, f) in filter.iter().enumerate() {
            if !view.attributes.contains(&f.id) {
                return Err(QueryError::invalid(
                    format!("filter[{i}].id"),
                    "filter.attribute_not_visible",
                    format!(
                        "not an attribute you see for this purpose (you see: {})",
                        view.attributes
                            .iter()
                            .map(String::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            if !seen.insert(f.id.as_str()) {
                return Err(QueryError::invalid(
                    format!("filter[{i}].id"),
                    "filter.duplicate",
                    "this attribute is filtered on twice; give each attribute once",
                ));
            }
            // The policy checker sees to it that every attribute of a view is defined.
            let valid = policy
                .attribute(&f.id)
                .map(|a| a.check_value(&f.value).map_err(|e| e.to_string()))
                .unwrap_or(Err("is not defined in the policy set".to_owned()));
            if let Err(e) = valid {
                return Err(QueryError::invalid(
                    format!("filter[{i}].value"),
                    "filter.value_invalid",
                    format!("the value of attribute `{}` {e}", f.id),
                ));
            }
            key = key.with(&f.id).with(&f.value);
        }
        Ok(key)
    }

    pub async fn get_hit(
        &self,
        analyst: &Partner,
        actor: Actor,
        request: pb::GetHitRequest,
    ) -> Result<pb::AnalystHit, Status> {
        let policy = self.policy();
        let view = Self::analyst_view(&policy, analyst, &request.purpose)?;
        Self::refuse_monitor(&policy, &request.purpose, "GetHit")?;
        // The form first: nothing is looked up for a value that cannot be a hit id.
        let hit_id = query::hit_id(&request.hit_id, "hit_id")?;
        let answer = {
            let (_turn, mut read) = self.analyst_read().await?;
            let hit = stored_hit(&mut read, &request.purpose, hit_id)
                .await?
                .ok_or_else(|| {
                    Refusal::new(tonic::Code::NotFound, "HIT_NOT_FOUND", "")
                        .violation(
                            "hit_id",
                            "hit.unknown",
                            "no current hit with this id for the purpose",
                        )
                        .into_status()
                })?;
            let signals = member_signals(&mut read, std::slice::from_ref(&hit)).await?;
            tracing::info!(analyst = %analyst.id, purpose = %request.purpose, hit = %hit.id, "analyst read a hit");
            self.analyst_hit(&policy, &hit, &members_in(&signals, &hit), view)
        };
        self.record(
            Event::for_purpose(Step::AnalystQuery, &policy, &request.purpose)
                .by(actor)
                .reference(format!("hit:{}", answer.hit_id))
                .detail("read one hit"),
        )
        .await?;
        Ok(answer)
    }

    fn refuse_monitor(policy: &PolicySet, purpose: &str, call: &str) -> Result<(), Status> {
        if policy.purpose(purpose).is_some_and(|p| p.monitor.is_some()) {
            return Err(Refusal::precondition("")
                .violation(
                    "purpose",
                    "purpose.aggregates_only",
                    format!("`{purpose}` is aggregates-only; use GetMonitor instead of {call}"),
                )
                .resource("purpose", purpose)
                .into());
        }
        Ok(())
    }

    fn analyst_hit(
        &self,
        policy: &PolicySet,
        hit: &Hit,
        members: &[&SignalEntry],
        view: &RecipientView,
    ) -> pb::AnalystHit {
        let key = self.handles.for_purpose(&hit.purpose);
        let handles = if view.sees_identifier_kinds {
            linking_keys(members.iter().copied())
                .into_iter()
                .map(|(kind, p): (IdentifierKind, _)| pb::MatchedHandle {
                    kind: kind_to_wire(kind),
                    handle: key
                        .handle(kind, &MatchingPseudonym::from_bytes(p))
                        .as_str()
                        .to_owned(),
                })
                .collect()
        } else {
            Vec::new()
        };
        pb::AnalystHit {
            hit_id: hit.id.clone(),
            purpose: hit.purpose.clone(),
            handles,
            partner_roles: if view.sees_partner_roles {
                partner_roles(policy, members)
            } else {
                Vec::new()
            },
            signal_count: u32::try_from(members.len()).unwrap_or(u32::MAX),
            attributes: visible_attributes(view, members),
            formed_month: members
                .iter()
                .map(|m| m.month)
                .min()
                .map(month_string)
                .unwrap_or_default(),
        }
    }

    /// A read of the store for one analyst or monitor query: a consistent snapshot of it
    /// (SQLite's WAL snapshot; REPEATABLE READ on PostgreSQL), once one of the
    /// [`crate::core::ANALYST_READS`] turns is free.
    pub(crate) async fn analyst_read(
        &self,
    ) -> Result<(SemaphorePermit<'_>, Transaction<'static, Any>), CoordinatorError> {
        let turn = self
            .analyst_reads
            .acquire()
            .await
            .map_err(|_| CoordinatorError::Corrupt("the analyst reads were closed".into()))?;
        let mut read = self.store.pool().begin().await?;
        if self.store.dialect() == signaalnet_store::Dialect::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *read)
                .await?;
        }
        Ok((turn, read))
    }
}

/// The current hits of `purpose` after hit id `after` ("": from the first), at most `limit`,
/// in id order.
async fn current_hits(
    read: &mut AnyConnection,
    purpose: &str,
    after: &str,
    limit: usize,
) -> Result<Vec<Hit>, CoordinatorError> {
    let rows = sqlx::query(
        "SELECT hit_id, purpose, members FROM coord_hits \
         WHERE purpose = $1 AND dissolved_at IS NULL AND hit_id > $2 ORDER BY hit_id LIMIT $3",
    )
    .bind(purpose)
    .bind(after)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut *read)
    .await?;
    rows.iter().map(hit_of_row).collect()
}

/// The current hit `id` of `purpose`, if there is one.
async fn stored_hit(
    read: &mut AnyConnection,
    purpose: &str,
    id: &str,
) -> Result<Option<Hit>, CoordinatorError> {
    sqlx::query(
        "SELECT hit_id, purpose, members FROM coord_hits \
         WHERE hit_id = $1 AND purpose = $2 AND dissolved_at IS NULL",
    )
    .bind(id)
    .bind(purpose)
    .fetch_optional(&mut *read)
    .await?
    .as_ref()
    .map(hit_of_row)
    .transpose()
}

fn hit_of_row(row: &sqlx::any::AnyRow) -> Result<Hit, CoordinatorError> {
    let id: String = row.get("hit_id");
    let members: String = row.get("members");
    let members: BTreeSet<Seq> = serde_json::from_str(&members)
        .map_err(|e| CoordinatorError::Corrupt(format!("hit {id}: members: {e}")))?;
    Ok(Hit {
        id,
        purpose: row.get("purpose"),
        members,
    })
}

/// The stored signals of the members of `hits`, by sequence number.
async fn member_signals(
    read: &mut AnyConnection,
    hits: &[Hit],
) -> Result<HashMap<Seq, SignalEntry>, CoordinatorError> {
    let seqs: Vec<Seq> = hits
        .iter()
        .flat_map(|h| h.members.iter().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(crate::load::signals_by_seq(read, &seqs)
        .await?
        .into_iter()
        .map(|s| (s.seq, s))
        .collect())
}

fn members_in<'a>(signals: &'a HashMap<Seq, SignalEntry>, hit: &Hit) -> Vec<&'a SignalEntry> {
    hit.members.iter().filter_map(|s| signals.get(s)).collect()
}
