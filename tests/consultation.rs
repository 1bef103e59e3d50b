//! From hit to case consultation (issue 17 §3, docs/DESIGN.md §6b), on the chain run as
//! processes over mTLS: a hit of three partners forms and each sees the others' contact points;
//! the gemeente asks for a consultation; the police and the ZVH see the request on `WatchHits`
//! with the gemeente's contact point; the police accept and the ZVH declines; the gemeente sees
//! both answers; every role involved has each step in its audit trail. Refused: a partner
//! without a signal in the hit (at its node and at the coordinator directly), a second open
//! request, a reused idempotency key, another purpose, a second different answer, an answer by
//! a partner the request was not sent to, a hit that dissolved. A partner that withdraws its
//! signal from a hit that survives is told SHRANK, naming its signal as withdrawn.
#![allow(clippy::unwrap_used)] // test fixtures

#[macro_use]
mod common;

use common::*;
use common::{postgres_url, Chain};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use sqlx::Row;
use tonic::Code;

const GEMEENTE_CONTACT: &str = "mensenhandel@groningen.nl";
const POLITIE_CONTACT: &str = "avim-mensenhandel.noord-nederland@politie.nl";
const ZVH_CONTACT: &str = "ketenregie-mensenhandel@zvhgroningen.nl";

fn request(key: &str, hit_id: &str, purpose: &str) -> pb::RequestConsultationRequest {
    pb::RequestConsultationRequest {
        idempotency_key: key.into(),
        hit_id: hit_id.into(),
        reason: pb::ConsultationReason::Casusoverleg as i32,
        purpose: purpose.into(),
    }
}

fn answer(
    consultation_id: &str,
    hit_id: &str,
    answer: pb::ConsultationAnswer,
    reason: pb::DeclineReason,
) -> pb::AnswerConsultationRequest {
    pb::AnswerConsultationRequest {
        consultation_id: consultation_id.into(),
        hit_id: hit_id.into(),
        answer: answer as i32,
        decline_reason: reason as i32,
    }
}

/// Asserts a refusal with `code` whose message names `rule`.
fn refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, rule: &str) {
    let status = match result {
        Ok(answer) => panic!("{rule}: accepted: {answer:?}"),
        Err(status) => status,
    };
    assert_eq!(status.code(), code, "{rule}: {status:?}");
    assert!(
        status.message().contains(rule),
        "the refusal names {rule}: {}",
        status.message()
    );
}

fn consultations(hits: &[pb::HitNotification]) -> Vec<&pb::Consultation> {
    hits.iter()
        .filter_map(|h| h.consultation.as_ref())
        .collect()
}

/// The detail texts of `role`'s audit entries of step `consult`.
fn consult_steps(chain: &Chain, role: &str) -> String {
    let (code, out, err) = chain.audit("show", role, &["--step", "consult"]).unwrap();
    assert_eq!(code, 0, "{role}: audit show: {err}");
    out
}

async fn a_consultation_travels_from_one_partner_to_the_others_and_back(postgres: Option<&str>) {
    let chain = common::start(postgres).await;
    // The police, the gemeente and the ZVH see the same person: a hit of three. The NLA's
    // signal about an employer matches nothing.
    let mut ids = Vec::new();
    for (partner, case, identifiers) in [
        (
            POLITIE,
            "PL-CO-0001",
            vec![person("Kowalczyk", "Anna", "1991-07-04")],
        ),
        (
            GEMEENTE,
            "GRO-CO-0193",
            vec![person("KOWALCZYK", "A.", "04-07-1991")],
        ),
        (
            ZVH,
            "ZVH-CO-0042",
            vec![person("Kowalczyk", "Anna", "1991-07-04")],
        ),
        (
            NLA,
            "NLA-CO-0077",
            vec![id(signaalnet_proto::v1::identifier::Value::Kvk(
                "40123456".into(),
            ))],
        ),
    ] {
        let signal_id = submit(&chain, partner, signal(case, identifiers, &[]))
            .await
            .unwrap();
        wait_delivered(&chain, partner, std::slice::from_ref(&signal_id))
            .await
            .unwrap();
        ids.push(signal_id);
    }
    let whole = |h: &[pb::HitNotification]| {
        h.iter()
            .rev()
            .find(|n| n.consultation.is_none())
            .is_some_and(|n| n.partner_roles.len() == 3)
    };
    let gemeente_hits = hits_until(&chain, GEMEENTE, whole).await;
    hits_until(&chain, POLITIE, whole).await;
    let zvh_hits = hits_until(&chain, ZVH, whole).await;
    // The ZVH is also ketenregisseur (a pseudonymous view): as a partner of the hit it sees
    // the contact points all the same.
    assert_eq!(
        zvh_hits.last().unwrap().contact_points,
        vec![POLITIE_CONTACT.to_owned(), GEMEENTE_CONTACT.to_owned()]
    );
    let latest = gemeente_hits.last().unwrap();
    let hit_id = latest.hit_id.clone();
    // The others' contact points, as the partner view of the drieluik purpose allows; never
    // its own.
    assert_eq!(
        latest.contact_points,
        vec![POLITIE_CONTACT.to_owned(), ZVH_CONTACT.to_owned()],
        "{latest:?}"
    );

    // The gemeente asks; a repeat with the same key is the same request.
    let mut gemeente = chain.partner(GEMEENTE).unwrap();
    let asked = gemeente
        .request_consultation(request("co/1", &hit_id, DRIELUIK))
        .await
        .unwrap()
        .into_inner();
    assert!(!asked.replayed);
    assert_eq!(asked.contact_point, GEMEENTE_CONTACT);
    assert!(asked.consultation_id.starts_with("con-"));
    let again = gemeente
        .request_consultation(request("co/1", &hit_id, DRIELUIK))
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.consultation_id, asked.consultation_id);
    // Refusals of the requester: a second open request, the key reused for another request,
    // another purpose than the hit's, a malformed hit id and no reason.
    refused(
        gemeente
            .request_consultation(request("co/2", &hit_id, DRIELUIK))
            .await,
        Code::AlreadyExists,
        "consultation.one_open_request",
    );
    let mut other_reason = request("co/1", &hit_id, DRIELUIK);
    other_reason.reason = pb::ConsultationReason::AcuteSafety as i32;
    refused(
        gemeente.request_consultation(other_reason).await,
        Code::AlreadyExists,
        "idempotency_key.reused",
    );
    refused(
        gemeente
            .request_consultation(request("co/3", &hit_id, ZORG))
            .await,
        Code::FailedPrecondition,
        "consultation.purpose_mismatch",
    );
    refused(
        gemeente
            .request_consultation(request("co/4", "hit-nothex", DRIELUIK))
            .await,
        Code::InvalidArgument,
        "hit_id.invalid",
    );
    let mut no_reason = request("co/5", &hit_id, DRIELUIK);
    no_reason.reason = 0;
    refused(
        gemeente.request_consultation(no_reason).await,
        Code::InvalidArgument,
        "consultation.reason_required",
    );
    // The NLA has no signal in the hit: refused at its node, and at the coordinator when its
    // certificate calls there directly (as a node that skipped the check would) — with the
    // answer an unknown hit gets.
    refused(
        chain
            .partner(NLA)
            .unwrap()
            .request_consultation(request("co/nla", &hit_id, DRIELUIK))
            .await,
        Code::NotFound,
        "consultation.not_in_hit",
    );
    let mut nla_at_coordinator =
        CoordinatorServiceClient::new(chain.channel("coordinator", NLA).unwrap());
    refused(
        nla_at_coordinator
            .request_consultation(pb::CoordinatorConsultationRequest {
                request_key: format!("req-{}", "ab".repeat(16)),
                hit_id: hit_id.clone(),
                reason: pb::ConsultationReason::Casusoverleg as i32,
                purpose: DRIELUIK.into(),
            })
            .await,
        Code::NotFound,
        "consultation.not_in_hit",
    );
    refused(
        nla_at_coordinator
            .answer_consultation(pb::CoordinatorAnswerRequest {
                consultation_id: asked.consultation_id.clone(),
                hit_id: hit_id.clone(),
                answer: pb::ConsultationAnswer::Accepted as i32,
                decline_reason: 0,
            })
            .await,
        Code::NotFound,
        "consultation.not_addressed",
    );

    // The police and the ZVH see the request on WatchHits, with the gemeente's contact point
    // and their own signals in the hit.
    let requested = |h: &[pb::HitNotification]| {
        consultations(h)
            .iter()
            .any(|c| c.event == pb::ConsultationEvent::Requested as i32)
    };
    for (partner, case) in [(POLITIE, "PL-CO-0001"), (ZVH, "ZVH-CO-0042")] {
        let hits = hits_until(&chain, partner, requested).await;
        let notice = hits.iter().find(|n| n.consultation.is_some()).unwrap();
        assert_eq!(notice.hit_id, hit_id);
        assert_eq!(notice.purpose, DRIELUIK);
        let c = notice.consultation.as_ref().unwrap();
        assert_eq!(c.consultation_id, asked.consultation_id);
        assert_eq!(c.requester_contact, GEMEENTE_CONTACT);
        assert_eq!(c.requester_role, pb::PartnerRole::Gemeente as i32);
        assert_eq!(c.reason, pb::ConsultationReason::Casusoverleg as i32);
        assert_eq!(notice.own_signals.len(), 1);
        assert_eq!(notice.own_signals[0].case_reference, case);
        assert_eq!(consultations(&hits).len(), 1, "{partner}: one request");
        // The notice is not a state of the hit: the hit is listed as before.
        let listed = chain
            .partner(partner)
            .unwrap()
            .list_hits(pb::ListHitsRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.hits.len(), 1);
        assert!(listed.hits[0].consultation.is_none());
    }
    // The gemeente is not sent its own request, and may not answer it.
    assert!(!requested(&chain.hits_of(GEMEENTE).await.unwrap()));
    refused(
        gemeente
            .answer_consultation(answer(
                &asked.consultation_id,
                &hit_id,
                pb::ConsultationAnswer::Accepted,
                pb::DeclineReason::Unspecified,
            ))
            .await,
        Code::NotFound,
        "consultation.not_addressed",
    );

    // The police accept; the ZVH declines.
    let mut police = chain.partner(POLITIE).unwrap();
    let accepted = police
        .answer_consultation(answer(
            &asked.consultation_id,
            &hit_id,
            pb::ConsultationAnswer::Accepted,
            pb::DeclineReason::Unspecified,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accepted.contact_point, POLITIE_CONTACT);
    assert!(!accepted.replayed);
    let mut zvh = chain.partner(ZVH).unwrap();
    refused(
        zvh.answer_consultation(answer(
            &asked.consultation_id,
            &hit_id,
            pb::ConsultationAnswer::Declined,
            pb::DeclineReason::Unspecified,
        ))
        .await,
        Code::InvalidArgument,
        "consultation.decline_reason_required",
    );
    let declined = zvh
        .answer_consultation(answer(
            &asked.consultation_id,
            &hit_id,
            pb::ConsultationAnswer::Declined,
            pb::DeclineReason::NotRelevant,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        declined.contact_point, "",
        "a decline carries no contact point"
    );
    // An answer is final: the same again is a repeat, another is refused.
    let repeat = police
        .answer_consultation(answer(
            &asked.consultation_id,
            &hit_id,
            pb::ConsultationAnswer::Accepted,
            pb::DeclineReason::Unspecified,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(repeat.replayed);
    refused(
        police
            .answer_consultation(answer(
                &asked.consultation_id,
                &hit_id,
                pb::ConsultationAnswer::Declined,
                pb::DeclineReason::CaseClosed,
            ))
            .await,
        Code::AlreadyExists,
        "consultation.already_answered",
    );

    // The gemeente sees both answers: the police's with their contact point, the ZVH's decline
    // with its reason and no contact point.
    let answered = |h: &[pb::HitNotification]| {
        consultations(h)
            .iter()
            .filter(|c| c.event == pb::ConsultationEvent::Answered as i32)
            .count()
            == 2
    };
    let hits = hits_until(&chain, GEMEENTE, answered).await;
    let answers = consultations(&hits);
    let yes = answers
        .iter()
        .find(|c| c.answer == pb::ConsultationAnswer::Accepted as i32)
        .unwrap();
    assert_eq!(yes.consultation_id, asked.consultation_id);
    assert_eq!(yes.answerer_contact, POLITIE_CONTACT);
    assert_eq!(yes.answerer_role, pb::PartnerRole::Politie as i32);
    let no = answers
        .iter()
        .find(|c| c.answer == pb::ConsultationAnswer::Declined as i32)
        .unwrap();
    assert_eq!(no.decline_reason, pb::DeclineReason::NotRelevant as i32);
    assert_eq!(no.answerer_contact, "");
    assert_eq!(no.answerer_role, pb::PartnerRole::Zvh as i32);
    // With every answer in, the request is closed: another may be made.
    let second = gemeente
        .request_consultation(request("co/6", &hit_id, DRIELUIK))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(second.consultation_id, asked.consultation_id);

    // Every role involved has each step in its audit trail: the request and the answers at the
    // coordinator, the request and the answers' receipt at the gemeente's node, the receipt and
    // the answer at the police's and the ZVH's.
    let coordinator = consult_steps(&chain, "coordinator");
    assert!(coordinator.contains("consultation requested by gemeente_groningen"));
    assert!(coordinator.contains("consultation answered by politie_noord_nederland"));
    assert!(coordinator.contains("consultation answered by zvh_groningen"));
    let g = consult_steps(&chain, GEMEENTE);
    assert!(g.contains("consultation requested"));
    assert_eq!(
        g.matches("answer to this partner's consultation request received")
            .count(),
        2,
        "{g}"
    );
    for partner in [POLITIE, ZVH] {
        let out = consult_steps(&chain, partner);
        assert!(
            out.contains("consultation request of another partner"),
            "{out}"
        );
        assert!(out.contains("consultation answered"), "{out}");
    }
    let (_, refusals, _) = chain.audit("show", NLA, &["--step", "refuse"]).unwrap();
    assert!(
        refusals.contains("consultation request refused"),
        "{refusals}"
    );
    // The case references stayed on their nodes.
    let coordinator_log = chain.log("coordinator").unwrap();
    for case in ["PL-CO-0001", "GRO-CO-0193", "ZVH-CO-0042"] {
        assert!(!coordinator_log.contains(case));
    }

    // The ZVH withdraws its signal: the hit survives (police and gemeente), and the ZVH is
    // told SHRANK, naming its signal as withdrawn; the hit is no longer one of its hits.
    let z = ids[2].clone();
    chain
        .partner(ZVH)
        .unwrap()
        .withdraw_signals(pb::WithdrawSignalsRequest {
            idempotency_key: "w-co-zvh".into(),
            target: Some(pb::withdraw_signals_request::Target::SignalId(z.clone())),
            reason: "zaak gesloten".into(),
        })
        .await
        .unwrap();
    let shrank_for_zvh = |h: &[pb::HitNotification]| {
        h.last().is_some_and(|n| {
            n.change == pb::HitChange::Shrank as i32
                && n.own_signals
                    .iter()
                    .any(|o| o.signal_id == z && o.withdrawn)
        })
    };
    let zvh_hits = hits_until(&chain, ZVH, shrank_for_zvh).await;
    let told = zvh_hits.last().unwrap();
    assert_eq!(told.hit_id, hit_id);
    assert_eq!(told.own_signals[0].case_reference, "");
    assert!(told.partner_roles.is_empty() && told.contact_points.is_empty());
    let listed = zvh
        .list_hits(pb::ListHitsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.hits.is_empty(), "{listed:?}");
    // It may no longer answer or ask on the hit.
    refused(
        zvh.request_consultation(request("co/z", &hit_id, DRIELUIK))
            .await,
        Code::NotFound,
        "consultation.not_in_hit",
    );

    // The police withdraw too: the hit dissolves; a request on it is refused, at the node and
    // at the coordinator.
    chain
        .partner(POLITIE)
        .unwrap()
        .withdraw_signals(pb::WithdrawSignalsRequest {
            idempotency_key: "w-co-pol".into(),
            target: Some(pb::withdraw_signals_request::Target::SignalId(
                ids[0].clone(),
            )),
            reason: "correctie".into(),
        })
        .await
        .unwrap();
    hits_until(&chain, GEMEENTE, |h| {
        h.last()
            .is_some_and(|n| n.change == pb::HitChange::Dissolved as i32)
    })
    .await;
    refused(
        gemeente
            .request_consultation(request("co/7", &hit_id, DRIELUIK))
            .await,
        Code::NotFound,
        "consultation.not_in_hit",
    );
    let mut gemeente_at_coordinator =
        CoordinatorServiceClient::new(chain.channel("coordinator", GEMEENTE).unwrap());
    refused(
        gemeente_at_coordinator
            .request_consultation(pb::CoordinatorConsultationRequest {
                request_key: format!("req-{}", "cd".repeat(16)),
                hit_id: hit_id.clone(),
                reason: pb::ConsultationReason::Drieluik as i32,
                purpose: DRIELUIK.into(),
            })
            .await,
        Code::NotFound,
        "consultation.not_in_hit",
    );
    // Nothing of the hit's consultations is kept at the coordinator once it ended.
    let mut conn = chain.connect("coordinator").await.unwrap();
    let left: i64 = sqlx::query("SELECT COUNT(*) FROM coord_consultations")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    chain.stop().await.unwrap();
}

on_both_databases!(a_consultation_travels_from_one_partner_to_the_others_and_back);
