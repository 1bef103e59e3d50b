//! The generated API: every service is in the descriptor set (for reflection and grpcurl), and a
//! full conversion batch stays far below gRPC's 4 MB message limit.
#![allow(clippy::unwrap_used)] // test fixtures

use prost::Message;
use signaalnet_proto::v1::{
    ConvertItem, ConvertRequest, ConvertResponse, ConvertedItem, Identifier, SubmitSignalRequest,
};
use signaalnet_proto::{FILE_DESCRIPTOR_SET, MAX_CONVERT_BATCH};

#[test]
fn the_descriptor_set_holds_every_service() {
    let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
    let services: Vec<String> = fds
        .file
        .iter()
        .filter(|f| f.package() == "signaalnet.v1")
        .flat_map(|f| f.service.iter().map(|s| s.name().to_owned()))
        .collect();
    for name in [
        "PartnerService",
        "CoordinatorService",
        "TranscryptorService",
        "AnalystService",
    ] {
        assert!(
            services.iter().any(|s| s == name),
            "{name} missing: {services:?}"
        );
    }
}

#[test]
fn a_full_conversion_batch_and_its_proven_answer_are_below_the_message_limit() {
    let request = ConvertRequest {
        idempotency_key: "k".repeat(64),
        coordinator_context: "coordinator/riec-noord".into(),
        items: vec![
            ConvertItem {
                ciphertext: vec![0xab; 96],
                purpose: "p".repeat(64),
                kind: 1,
                origin_proof: vec![0xcd; 128],
            };
            MAX_CONVERT_BATCH
        ],
    };
    let len = request.encoded_len();
    assert!(len < 1024 * 1024, "{len} bytes");
    // Each answer: the next ciphertext and a proof of at most 1024 bytes.
    let response = ConvertResponse {
        items: vec![
            ConvertedItem {
                ciphertext: vec![0xab; 96],
                proof: vec![b'p'; 1024],
            };
            MAX_CONVERT_BATCH
        ],
    };
    let len = response.encoded_len();
    assert!(len < 3 * 1024 * 1024, "{len} bytes");
}

#[test]
fn a_signal_round_trips() {
    use signaalnet_proto::v1::identifier::Value;
    let request = SubmitSignalRequest {
        idempotency_key: "gemeente-2026-0001".into(),
        case_reference: "ZAAK-2026-0001".into(),
        purpose: "signalering_drieluik".into(),
        observed_month: "2026-10".into(),
        identifiers: vec![Identifier {
            value: Some(Value::Phone("06-12345678".into())),
        }],
        attributes: vec![],
    };
    let back = SubmitSignalRequest::decode(request.encode_to_vec().as_slice()).unwrap();
    assert_eq!(back, request);
}
