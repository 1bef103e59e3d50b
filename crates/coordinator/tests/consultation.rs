//! Case consultations at the coordinator (`signaalnet_coordinator::consult`), in process:
//! the bound on requests per partner and hit, a partner without a contact point, a partner
//! that leaves the hit while a request waits for it, a requester that left, and what a partner
//! that withdraws from a hit that survives is told. Real SQLite, real libpep, no network.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{address, world, world_with, World, DRIELUIK};
use signaalnet_coordinator::consult::MAX_REQUESTS_PER_HIT;
use signaalnet_proto::v1 as pb;
use tonic::Code;

const GEMEENTE: &str = "gemeente_groningen";
const NLA: &str = "nla";
const POLITIE: &str = "politie_noord_nederland";

fn key(n: u8) -> String {
    format!("req-{}", format!("{n:02x}").repeat(16))
}

async fn request(
    w: &World,
    partner: &str,
    n: u8,
    hit_id: &str,
) -> Result<pb::CoordinatorConsultationResponse, tonic::Status> {
    let (p, actor) = w.partner(partner);
    w.core
        .request_consultation(
            p,
            &actor,
            pb::CoordinatorConsultationRequest {
                request_key: key(n),
                hit_id: hit_id.into(),
                reason: pb::ConsultationReason::Casusoverleg as i32,
                purpose: DRIELUIK.into(),
            },
        )
        .await
}

async fn answer(
    w: &World,
    partner: &str,
    consultation_id: &str,
    hit_id: &str,
    accept: bool,
) -> Result<pb::CoordinatorAnswerResponse, tonic::Status> {
    let (p, actor) = w.partner(partner);
    let (answer, reason) = if accept {
        (
            pb::ConsultationAnswer::Accepted,
            pb::DeclineReason::Unspecified,
        )
    } else {
        (
            pb::ConsultationAnswer::Declined,
            pb::DeclineReason::CaseClosed,
        )
    };
    w.core
        .answer_consultation(
            p,
            &actor,
            pb::CoordinatorAnswerRequest {
                consultation_id: consultation_id.into(),
                hit_id: hit_id.into(),
                answer: answer as i32,
                decline_reason: reason as i32,
            },
        )
        .await
}

fn refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, code: Code, rule: &str) {
    let status = match result {
        Ok(answer) => panic!("{rule}: accepted: {answer:?}"),
        Err(status) => status,
    };
    assert_eq!(status.code(), code, "{rule}: {status:?}");
    assert!(status.message().contains(rule), "{}", status.message());
}

/// The hit the gemeente's and the NLA's (and the police's, with `politie`) signals on one
/// address form.
async fn hit(w: &World, politie: bool) -> String {
    assert_eq!(w.deliver(GEMEENTE, "g1", address()).await.code, 0);
    assert_eq!(w.deliver(NLA, "n1", address()).await.code, 0);
    if politie {
        assert_eq!(w.deliver(POLITIE, "p1", address()).await.code, 0);
    }
    w.core.notifications(NLA, 0, 10).await.unwrap()[0]
        .hit_id
        .clone()
}

async fn consultation_notices(w: &World, partner: &str) -> Vec<pb::Consultation> {
    w.core
        .notifications(partner, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|n| n.consultation)
        .collect()
}

#[tokio::test]
async fn a_partner_may_make_a_bounded_number_of_requests_on_a_hit_one_open_at_a_time() {
    let w = world().await;
    let hit_id = hit(&w, false).await;
    for n in 0..MAX_REQUESTS_PER_HIT as u8 {
        let asked = request(&w, GEMEENTE, n, &hit_id).await.unwrap();
        refused(
            request(&w, GEMEENTE, 100 + n, &hit_id).await,
            Code::AlreadyExists,
            "consultation.one_open_request",
        );
        answer(&w, NLA, &asked.consultation_id, &hit_id, n % 2 == 0)
            .await
            .unwrap();
    }
    refused(
        request(&w, GEMEENTE, 200, &hit_id).await,
        Code::ResourceExhausted,
        "consultation.max_requests_per_hit",
    );
    // The other partner's own bound is its own.
    request(&w, NLA, 1, &hit_id).await.unwrap();
    assert_eq!(
        consultation_notices(&w, NLA).await.len(),
        MAX_REQUESTS_PER_HIT as usize
    );
    assert_eq!(
        consultation_notices(&w, GEMEENTE).await.len(),
        MAX_REQUESTS_PER_HIT as usize + 1,
        "the answers, and the NLA's request"
    );
    // Each request, notice, answer and refusal is in the trail.
    assert_eq!(
        w.count("SELECT COUNT(*) FROM audit_entries WHERE step = 'consult'")
            .await,
        // 4 requests to one partner (request and notice each), 3 answers (answer and notice).
        4 * 2 + 3 * 2
    );
}

#[tokio::test]
async fn without_a_contact_point_a_partner_may_decline_but_not_ask_or_accept() {
    let w = world_with(&|dir| {
        let file = dir.join("partners/nla.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            text.replace("contact = \"mensenhandel@nlarbeidsinspectie.nl\"\n", ""),
        )
        .unwrap();
    })
    .await;
    let hit_id = hit(&w, false).await;
    refused(
        request(&w, NLA, 1, &hit_id).await,
        Code::FailedPrecondition,
        "policy.contact_missing",
    );
    let asked = request(&w, GEMEENTE, 1, &hit_id).await.unwrap();
    refused(
        answer(&w, NLA, &asked.consultation_id, &hit_id, true).await,
        Code::FailedPrecondition,
        "policy.contact_missing",
    );
    let declined = answer(&w, NLA, &asked.consultation_id, &hit_id, false)
        .await
        .unwrap();
    assert_eq!(declined.contact_point, "");
    // The gemeente sees no contact point of the NLA in its notices either.
    let latest = w.core.notifications(GEMEENTE, 0, 100).await.unwrap();
    assert!(latest.iter().all(|n| n.contact_points.is_empty()
        && n.consultation
            .as_ref()
            .is_none_or(|c| c.answerer_contact.is_empty())));
}

#[tokio::test]
async fn a_partner_that_leaves_closes_its_part_and_is_told_shrank_naming_its_withdrawn_signal() {
    let w = world().await;
    let hit_id = hit(&w, true).await;
    let asked = request(&w, GEMEENTE, 1, &hit_id).await.unwrap();
    // The police withdraw before answering: the hit survives (gemeente and NLA), the police are
    // told SHRANK with their signal as withdrawn and nothing more, and their part of the
    // request no longer holds it open.
    let (p, actor) = w.partner(POLITIE);
    w.core
        .withdraw(p, &actor, &["p1".to_owned()])
        .await
        .unwrap();
    let told = w.core.notifications(POLITIE, 0, 100).await.unwrap();
    let last = told.last().unwrap();
    assert_eq!(last.change, pb::HitChange::Shrank as i32);
    assert_eq!(last.hit_id, hit_id);
    assert!(last.own_signal_ids.is_empty());
    assert_eq!(last.withdrawn_signal_ids, vec!["p1".to_owned()]);
    assert!(last.partner_roles.is_empty() && last.contact_points.is_empty());
    assert!(
        told.iter().all(|n| n.consultation.is_none()),
        "the request to the police went with the hit's other notices"
    );
    // The request no longer waits for the police: to them it is as if it never was.
    refused(
        answer(&w, POLITIE, &asked.consultation_id, &hit_id, true).await,
        Code::NotFound,
        "consultation.not_addressed",
    );
    // The gemeente's request still waits for the NLA's answer, and for nobody else.
    refused(
        request(&w, GEMEENTE, 2, &hit_id).await,
        Code::AlreadyExists,
        "consultation.one_open_request",
    );
    // The gemeente, still in it, was told SHRANK as a member; its consultation notices stay.
    let nla = w.core.notifications(NLA, 0, 100).await.unwrap();
    assert!(nla.iter().any(|n| n.consultation.is_some()));
    answer(&w, NLA, &asked.consultation_id, &hit_id, true)
        .await
        .unwrap();
    request(&w, GEMEENTE, 2, &hit_id).await.unwrap();
    // The gemeente withdraws: the hit dissolves, the gemeente is told so naming its signal as
    // withdrawn, and nothing of the hit's consultations is kept.
    let (g, actor) = w.partner(GEMEENTE);
    w.core
        .withdraw(g, &actor, &["g1".to_owned()])
        .await
        .unwrap();
    let last = w.core.notifications(GEMEENTE, 0, 100).await.unwrap();
    let last = last.last().unwrap();
    assert_eq!(last.change, pb::HitChange::Dissolved as i32);
    assert_eq!(last.withdrawn_signal_ids, vec!["g1".to_owned()]);
    assert_eq!(w.count("SELECT COUNT(*) FROM coord_consultations").await, 0);
    assert_eq!(
        w.count("SELECT COUNT(*) FROM coord_consultation_answers")
            .await,
        0
    );
    refused(
        request(&w, NLA, 9, &hit_id).await,
        Code::NotFound,
        "consultation.not_in_hit",
    );
}

#[tokio::test]
async fn an_answer_after_the_requester_left_is_refused() {
    let w = world().await;
    let hit_id = hit(&w, true).await;
    let asked = request(&w, GEMEENTE, 1, &hit_id).await.unwrap();
    let (g, actor) = w.partner(GEMEENTE);
    w.core
        .withdraw(g, &actor, &["g1".to_owned()])
        .await
        .unwrap();
    refused(
        answer(&w, NLA, &asked.consultation_id, &hit_id, true).await,
        Code::FailedPrecondition,
        "consultation.requester_left",
    );
}
