//! What a partner's developer meets with the tools of any gRPC stack, against the chain run as
//! processes: refusals whose `grpc-status-details-bin` is the standard `google.rpc.Status`
//! (what Python's `rpc_status.from_call`, Java's `StatusProto` and Go's `status` read), and
//! server reflection in both versions that lists only what each role serves.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::*;
use prost::Message;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::transcryptor_service_client::TranscryptorServiceClient;
use std::collections::BTreeSet;
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

/// The details of `status` decoded as `google.rpc.Status`, checked as the standard helpers
/// check them: the same code and message as the status itself.
fn rich(status: &tonic::Status) -> tonic_types::ErrorDetails {
    let decoded = tonic_types::Status::decode(status.details()).unwrap();
    assert_eq!(decoded.code, status.code() as i32);
    assert_eq!(decoded.message, status.message());
    status.check_error_details().unwrap()
}

/// `(field, description)` of every BadRequest field violation.
fn field_violations(details: &tonic_types::ErrorDetails) -> Vec<(String, String)> {
    details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| (v.field.clone(), v.description.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_the_standard_rich_error_details_on_every_role() {
    let chain = common::start(None).await;
    let mut gemeente = chain.partner(GEMEENTE).unwrap();

    // Invalid input, several fields: ErrorInfo names the reason and every rule, BadRequest
    // every field, and no value comes back.
    let status = gemeente
        .submit_signal(pb::SubmitSignalRequest {
            idempotency_key: "k-1".into(),
            case_reference: "GRO-1".into(),
            purpose: DRIELUIK.into(),
            observed_month: "oktober".into(),
            identifiers: vec![id(pb::identifier::Value::Bsn("123456789".into()))],
            attributes: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = rich(&status);
    let info = details.error_info().unwrap();
    assert_eq!(info.reason, "INVALID_SIGNAL");
    assert_eq!(info.domain, "signaalnet.nl");
    assert_eq!(info.metadata["violations"], "2");
    let rules: BTreeSet<&str> = info.metadata["rules"].split(',').collect();
    assert!(rules.contains("observed_month.format"), "{rules:?}");
    let violations = field_violations(&details);
    let fields: BTreeSet<&str> = violations.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        BTreeSet::from(["observed_month", "identifiers[0].bsn"])
    );
    let (_, month) = violations
        .iter()
        .find(|(f, _)| f == "observed_month")
        .unwrap();
    assert!(month.ends_with("[observed_month.format]"), "{month}");
    for (_, description) in &violations {
        assert!(!description.contains("123456789") && !description.contains("oktober"));
    }

    // Many violations: eight and how many more, in the details as in the message.
    let status = gemeente
        .submit_signal(pb::SubmitSignalRequest {
            idempotency_key: "k-2".into(),
            case_reference: "GRO-2".into(),
            purpose: DRIELUIK.into(),
            observed_month: "2026-10".into(),
            identifiers: (0..20)
                .map(|_| id(pb::identifier::Value::Kvk("1".into())))
                .collect(),
            attributes: vec![],
        })
        .await
        .unwrap_err();
    let details = rich(&status);
    let violations = field_violations(&details);
    assert_eq!(violations.len(), 9, "{violations:?}");
    assert_eq!(violations[8].0, "request");
    assert!(
        violations[8].1.contains("more violation(s) not listed"),
        "{violations:?}"
    );

    // Policy: PERMISSION_DENIED with reason POLICY_REFUSED and the field and rule.
    let status = gemeente
        .submit_signal(signal(
            "GRO-3",
            vec![address("9711 AB", "12")],
            &[("politie_registratie", "true")],
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let details = rich(&status);
    assert_eq!(details.error_info().unwrap().reason, "POLICY_REFUSED");
    assert_eq!(
        field_violations(&details)[0].0,
        "attributes.politie_registratie"
    );

    // The analyst API: a filter on an attribute outside the view is INVALID_ARGUMENT with the
    // field; a hit list of an aggregates-only purpose is FAILED_PRECONDITION with a
    // PreconditionFailure and the purpose as the resource.
    let mut analyst = chain.analyst(RIEC).unwrap();
    let status = analyst
        .list_hits(pb::AnalystListHitsRequest {
            purpose: RIEC_ANALYSE.into(),
            filter: vec![pb::Attribute {
                id: "zorgbehoefte".into(),
                value: "ja".into(),
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = rich(&status);
    assert_eq!(field_violations(&details)[0].0, "filter[0].id");
    assert_eq!(
        details.error_info().unwrap().metadata["rules"],
        "filter.attribute_not_visible"
    );
    let status = analyst
        .list_hits(pb::AnalystListHitsRequest {
            purpose: MONITOR.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    let details = rich(&status);
    let failure = &details.precondition_failure().unwrap().violations[0];
    assert_eq!(failure.subject, "purpose");
    assert_eq!(failure.r#type, "PURPOSE_AGGREGATES_ONLY");
    assert_eq!(details.resource_info().unwrap().resource_name, MONITOR);

    // A transcryptor: an empty batch names `items`.
    let status =
        TranscryptorServiceClient::new(chain.channel("transcryptor_vng", GEMEENTE).unwrap())
            .convert(pb::ConvertRequest {
                idempotency_key: "t-1".into(),
                coordinator_context: CONTEXT.into(),
                items: vec![],
            })
            .await
            .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = rich(&status);
    assert_eq!(field_violations(&details)[0].0, "items");
    assert_eq!(
        details.error_info().unwrap().metadata["rules"],
        "items.required"
    );

    chain.stop().await.unwrap();
}

/// The services `channel`'s server lists through reflection v1 and v1alpha (both must agree
/// but for the reflection service itself).
async fn listed(channel: Channel) -> (BTreeSet<String>, BTreeSet<String>) {
    use tonic_reflection::pb::{v1, v1alpha};
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let answer = v1::server_reflection_client::ServerReflectionClient::new(channel.clone())
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answer.message_response
    else {
        panic!("v1: no list of services: {answer:?}");
    };
    let v1_names = list.service.into_iter().map(|s| s.name).collect();
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let answer = v1alpha::server_reflection_client::ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answer.message_response
    else {
        panic!("v1alpha: no list of services: {answer:?}");
    };
    (v1_names, list.service.into_iter().map(|s| s.name).collect())
}

/// Whether a v1alpha client (grpcurl's `describe`, grpcui) gets the file that defines `symbol`.
async fn describes(channel: Channel, symbol: &str) -> bool {
    use tonic_reflection::pb::v1alpha;
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
                symbol.to_owned(),
            ),
        ),
    };
    let answer = v1alpha::server_reflection_client::ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    matches!(
        answer.message_response,
        Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(f))
            if !f.file_descriptor_proto.is_empty()
    )
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1_and_v1alpha_list_only_what_each_role_serves() {
    let chain = common::start(None).await;
    let shared = ["signaalnet.v1.RoleService", "grpc.health.v1.Health"];
    let with =
        |own: &[&str], reflection: &str| names(&[own, &shared[..], &[reflection][..]].concat());

    let (v1, v1alpha) = listed(chain.channel(GEMEENTE, GEMEENTE).unwrap()).await;
    let node = ["signaalnet.v1.PartnerService"];
    assert_eq!(v1, with(&node, "grpc.reflection.v1.ServerReflection"));
    assert_eq!(
        v1alpha,
        with(&node, "grpc.reflection.v1alpha.ServerReflection")
    );

    assert!(
        describes(
            chain.channel(GEMEENTE, GEMEENTE).unwrap(),
            "signaalnet.v1.PartnerService"
        )
        .await
    );

    let (v1, v1alpha) = listed(chain.channel("coordinator", GEMEENTE).unwrap()).await;
    let coordinator = [
        "signaalnet.v1.CoordinatorService",
        "signaalnet.v1.AnalystService",
        "signaalnet.v1.WitnessService",
    ];
    assert_eq!(
        v1,
        with(&coordinator, "grpc.reflection.v1.ServerReflection")
    );
    assert_eq!(
        v1alpha,
        with(&coordinator, "grpc.reflection.v1alpha.ServerReflection")
    );

    let (v1, v1alpha) = listed(chain.channel("transcryptor_vng", GEMEENTE).unwrap()).await;
    let transcryptor = [
        "signaalnet.v1.TranscryptorService",
        "signaalnet.v1.WitnessService",
    ];
    assert_eq!(
        v1,
        with(&transcryptor, "grpc.reflection.v1.ServerReflection")
    );
    assert_eq!(
        v1alpha,
        with(&transcryptor, "grpc.reflection.v1alpha.ServerReflection")
    );

    chain.stop().await.unwrap();
}
