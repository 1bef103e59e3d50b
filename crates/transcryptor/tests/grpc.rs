//! The transcryptor as a real gRPC server over mTLS on loopback: partner nodes convert,
//! the coordinator gets its key share, and every other combination is refused with the right
//! status code.
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_identifier::{Bsn, Identifier};
use signaalnet_policy::PolicySet;
use signaalnet_proto::v1::transcryptor_service_client::TranscryptorServiceClient;
use signaalnet_proto::v1::{ConvertRequest, GetKeyShareRequest};
use signaalnet_pseudonym::{
    key_ceremony, CoordinatorContext, CoordinatorDecryptor, KeyShare, PartnerEncryptor,
    SystemPublicKeys, Transcryptor,
};
use signaalnet_tls::dev::{write_dev_pki, DevIdentity};
use signaalnet_tls::{Oin, TlsFiles};
use signaalnet_transcryptor::{serve, RateLimiter, TranscryptorGrpc};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::Code;

const CONTEXT: &str = "coordinator/test";

struct Fixture {
    _dir: tempfile::TempDir,
    certs: std::path::PathBuf,
    addr: SocketAddr,
    system: SystemPublicKeys,
}

async fn start(per_second: u32) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let policy =
        PolicySet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")).unwrap();
    let mut identities: Vec<DevIdentity> = policy
        .partners()
        .map(|p| DevIdentity {
            name: p.id.clone(),
            organisation: p.name.clone(),
            oin: Oin::parse(&p.oins[0]).unwrap(),
        })
        .collect();
    identities.push(DevIdentity {
        name: "stranger".into(),
        organisation: "not in the policy set".into(),
        oin: Oin::parse("00000099000000000999").unwrap(),
    });
    write_dev_pki(&certs, &identities).unwrap();

    let (system, keys) = key_ceremony(1, &mut rand::rng()).unwrap();
    let service = TranscryptorGrpc::new(
        Transcryptor::new(&keys[0]),
        CoordinatorContext::new(CONTEXT).unwrap(),
        Arc::new(policy),
        RateLimiter::new(per_second, per_second),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = files(&certs, "transcryptor_vng");
    tokio::spawn(async move {
        serve(listener, &tls, service, std::future::pending())
            .await
            .unwrap();
    });
    Fixture {
        _dir: dir,
        certs,
        addr,
        system,
    }
}

fn files(dir: &Path, name: &str) -> TlsFiles {
    TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    }
}

impl Fixture {
    async fn client(&self, as_who: &str) -> TranscryptorServiceClient<Channel> {
        let f = files(&self.certs, as_who);
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(std::fs::read(f.ca).unwrap()))
            .identity(Identity::from_pem(
                std::fs::read(f.cert).unwrap(),
                std::fs::read(f.key).unwrap(),
            ))
            .domain_name("localhost");
        let channel = Channel::from_shared(format!("https://{}", self.addr))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap();
        TranscryptorServiceClient::new(channel)
    }

    fn ciphertext(&self) -> Vec<u8> {
        let key = Identifier::Bsn(Bsn::parse("111222333").unwrap())
            .match_keys()
            .remove(0);
        PartnerEncryptor::new(self.system)
            .encrypt(&key, &mut rand::rng())
            .to_bytes()
            .to_vec()
    }
}

fn convert(ciphertexts: Vec<Vec<u8>>) -> ConvertRequest {
    ConvertRequest {
        idempotency_key: "k1".into(),
        coordinator_context: CONTEXT.into(),
        ciphertexts,
    }
}

#[tokio::test]
async fn a_partner_node_converts_and_the_coordinator_can_decrypt() {
    let f = start(10_000).await;
    let converted = f
        .client("gemeente_groningen")
        .await
        .convert(convert(vec![f.ciphertext(), f.ciphertext()]))
        .await
        .unwrap()
        .into_inner()
        .ciphertexts;
    assert_eq!(converted.len(), 2);

    let share = f
        .client("coordinator_riec")
        .await
        .get_key_share(GetKeyShareRequest {
            coordinator_context: CONTEXT.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(share.transcryptor_index, 1);
    let coordinator = CoordinatorDecryptor::from_shares(
        &f.system,
        &[KeyShare::from_bytes(&share.key_share).unwrap()],
    )
    .unwrap();
    let a = coordinator
        .decrypt(&signaalnet_pseudonym::EncryptedIdentifier::from_bytes(&converted[0]).unwrap())
        .unwrap();
    let b = coordinator
        .decrypt(&signaalnet_pseudonym::EncryptedIdentifier::from_bytes(&converted[1]).unwrap())
        .unwrap();
    assert_eq!(a, b, "the same BSN converts to the same matching pseudonym");
}

#[tokio::test]
async fn the_coordinator_may_not_convert_and_partners_get_no_key_share() {
    let f = start(10_000).await;
    let err = f
        .client("coordinator_riec")
        .await
        .convert(convert(vec![f.ciphertext()]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert!(
        err.message().contains("only partner nodes"),
        "{}",
        err.message()
    );

    for who in [
        "gemeente_groningen",
        "riec_noord_nederland",
        "transcryptor_jenv",
    ] {
        let err = f
            .client(who)
            .await
            .get_key_share(GetKeyShareRequest {
                coordinator_context: CONTEXT.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{who}");
    }
    let err = f
        .client("riec_noord_nederland")
        .await
        .convert(convert(vec![f.ciphertext()]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_certificate_whose_oin_is_not_in_the_policy_is_unauthenticated() {
    let f = start(10_000).await;
    let err = f
        .client("stranger")
        .await
        .convert(convert(vec![f.ciphertext()]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("00000099000000000999"));
}

#[tokio::test]
async fn bad_batches_are_refused_naming_the_field() {
    let f = start(10_000).await;
    let mut client = f.client("nla").await;
    let err = client
        .convert(convert(vec![f.ciphertext(), vec![0u8; 95]]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("ciphertexts[1]:"),
        "{}",
        err.message()
    );

    let err = client.convert(convert(vec![])).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let mut wrong_context = convert(vec![f.ciphertext()]);
    wrong_context.coordinator_context = "coordinator/elsewhere".into();
    let err = client.convert(wrong_context).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn callers_are_rate_limited_separately() {
    let f = start(3).await;
    let mut nla = f.client("nla").await;
    nla.convert(convert(vec![f.ciphertext(); 3])).await.unwrap();
    let err = nla
        .convert(convert(vec![f.ciphertext()]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    // Another partner still has its own budget.
    f.client("politie_noord_nederland")
        .await
        .convert(convert(vec![f.ciphertext()]))
        .await
        .unwrap();
}
