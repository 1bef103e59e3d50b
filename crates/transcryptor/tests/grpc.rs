//! The transcryptor as a real gRPC server over mTLS on loopback: partner nodes convert,
//! the coordinator gets its key share, and every other combination is refused with the right
//! status code.
#![allow(clippy::unwrap_used)] // test fixtures

use signaalnet_audit::{Actor, Audit, Filter, Signer, Step};
use signaalnet_identifier::{Bsn, Identifier};
use signaalnet_policy::signature::Signers;
use signaalnet_policy::PolicySet;
use signaalnet_proto::v1::transcryptor_service_client::TranscryptorServiceClient;
use signaalnet_proto::v1::{
    ConvertItem, ConvertRequest, GetCommitmentsRequest, GetKeyShareRequest, IdentifierKind,
    MatchDomainRef,
};
use signaalnet_pseudonym::{
    Ceremony, ConversionProof, CoordinatorContext, CoordinatorDecryptor, DomainCommitments,
    EncryptedIdentifier, KeyShare, Origin, PartnerEncryptor, SystemPublicKeys, Transcryptor,
};
use signaalnet_service::policy::{RoleGrpc, RolePolicy};
use signaalnet_store::{Clock, Location, Store};
use signaalnet_tls::dev::{write_dev_pki, DevIdentity};
use signaalnet_tls::{Oin, TlsFiles};
use signaalnet_transcryptor::{serve, RateLimiter, TranscryptorGrpc, TranscryptorTrail};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tonic::transport::Channel;
use tonic::Code;

const CONTEXT: &str = "coordinator/test";

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    certs: std::path::PathBuf,
    addr: SocketAddr,
    system: SystemPublicKeys,
}

async fn start(per_second: u32) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let policy = PolicySet::load(&policies).unwrap();
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

    let (system, keys) = Ceremony::run_locally(
        &CoordinatorContext::new(CONTEXT).unwrap(),
        1,
        &mut rand::rng(),
    )
    .unwrap();
    let store = Arc::new(
        Store::open(
            &Location::Sqlite(dir.path().join("transcryptor.db")),
            &[
                &signaalnet_audit::schema::MIGRATIONS,
                &signaalnet_service::schema::MIGRATIONS,
            ],
        )
        .await
        .unwrap(),
    );
    let tls = files(&certs, "transcryptor_vng");
    let role_policy = Arc::new(
        RolePolicy::start(
            "transcryptor",
            tls.own_oin().unwrap().to_string(),
            policies,
            Signers::default(),
            None,
            0,
        )
        .unwrap(),
    );
    let audit = Arc::new(Audit::new(
        Signer::load_or_create(&dir.path().join("audit.key")).unwrap(),
        Actor {
            oin: tls.own_oin().unwrap().to_string(),
            role: "transcryptor".into(),
        },
        Clock::system(),
    ));
    let service = TranscryptorGrpc::new(
        Transcryptor::new(&keys[0], &system).unwrap(),
        CoordinatorContext::new(CONTEXT).unwrap(),
        role_policy.live().clone(),
        RateLimiter::new(per_second, per_second),
        Arc::clone(&store),
        Arc::clone(&audit),
    )
    .await
    .unwrap();
    let trail: Arc<dyn signaalnet_service::policy::PolicyTarget> = Arc::new(TranscryptorTrail {
        store: Arc::clone(&store),
        audit,
    });
    let witness = signaalnet_service::witness::WitnessGrpc::new(
        Arc::clone(&trail),
        role_policy.live().clone(),
    );
    let role = RoleGrpc::new(role_policy, trail);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        serve(
            listener,
            &tls,
            &Default::default(),
            service,
            role,
            witness,
            std::future::pending(),
        )
        .await
        .unwrap();
    });
    Fixture {
        _dir: dir,
        store,
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
        crl: Vec::new(),
    }
}

impl Fixture {
    async fn client(&self, as_who: &str) -> TranscryptorServiceClient<Channel> {
        let channel = signaalnet_service::channel(
            &format!("https://{}", self.addr),
            &files(&self.certs, as_who),
        )
        .unwrap();
        TranscryptorServiceClient::new(channel)
    }

    /// A BSN's ciphertext as `partner` makes it for the Drieluik, with its origin proof.
    fn ciphertext_of(&self, partner: &str) -> Made {
        let key = Identifier::Bsn(Bsn::parse("111222333").unwrap())
            .match_keys()
            .remove(0);
        let origin = Origin {
            partner,
            purpose: DRIELUIK,
            kind: key.kind(),
        };
        let (c, proof) =
            PartnerEncryptor::new(self.system.clone()).encrypt(&key, &origin, &mut rand::rng());
        (c.to_bytes().to_vec(), proof.to_bytes())
    }
}

const DRIELUIK: &str = "signalering_drieluik";

/// A ciphertext and its origin proof.
type Made = (Vec<u8>, Vec<u8>);

fn convert(ciphertexts: Vec<Made>) -> ConvertRequest {
    ConvertRequest {
        idempotency_key: "k1".into(),
        coordinator_context: CONTEXT.into(),
        items: ciphertexts
            .into_iter()
            .map(|(ciphertext, origin_proof)| ConvertItem {
                ciphertext,
                purpose: DRIELUIK.into(),
                kind: IdentifierKind::Bsn as i32,
                origin_proof,
            })
            .collect(),
    }
}

#[tokio::test]
async fn a_partner_node_converts_and_the_coordinator_can_decrypt() {
    let f = start(10_000).await;
    let originals = vec![
        f.ciphertext_of("gemeente_groningen"),
        f.ciphertext_of("gemeente_groningen"),
    ];
    let converted = f
        .client("gemeente_groningen")
        .await
        .convert(convert(originals.clone()))
        .await
        .unwrap()
        .into_inner()
        .items;
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
        &[KeyShare::from_bytes(&share.key_share, &share.key_share_proof).unwrap()],
    )
    .unwrap();
    let commitments = f
        .client("coordinator_riec")
        .await
        .get_commitments(GetCommitmentsRequest {
            coordinator_context: CONTEXT.into(),
            domains: vec![MatchDomainRef {
                purpose: "signalering_drieluik".into(),
                kind: IdentifierKind::Bsn as i32,
            }],
        })
        .await
        .unwrap()
        .into_inner();
    let commitments = DomainCommitments::from_bytes(&commitments.reshuffle_commitments).unwrap();
    let open = |i: usize| {
        coordinator
            .verify_and_decrypt(
                &EncryptedIdentifier::from_bytes(&originals[i].0).unwrap(),
                &[ConversionProof::from_bytes(&converted[i].proof).unwrap()],
                &commitments,
            )
            .unwrap()
    };
    assert_eq!(
        open(0),
        open(1),
        "the same BSN converts to the same matching pseudonym"
    );

    // Both steps are in the transcryptor's trail, with the caller's OIN and no ciphertext.
    let trail = signaalnet_audit::entries(&f.store, &Filter::default())
        .await
        .unwrap();
    let steps: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| (e.step.as_str(), e.actor_oin.as_str()))
        .collect();
    let policy =
        PolicySet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")).unwrap();
    let oin = |id: &str| policy.partner(id).unwrap().oins[0].clone();
    assert_eq!(
        steps,
        vec![
            (
                Step::Transcrypt.as_str(),
                oin("gemeente_groningen").as_str()
            ),
            (Step::KeyShare.as_str(), oin("coordinator_riec").as_str()),
        ]
    );
    assert!(trail[0].detail.contains("converted 2 ciphertext(s)"));
}

#[tokio::test]
async fn the_coordinator_may_not_convert_and_partners_get_no_key_share() {
    let f = start(10_000).await;
    let err = f
        .client("coordinator_riec")
        .await
        .convert(convert(vec![f.ciphertext_of("nla")]))
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
        .convert(convert(vec![f.ciphertext_of("nla")]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // Every refusal is in the trail, with who asked; nothing was converted or handed out.
    let trail = signaalnet_audit::entries(&f.store, &Filter::default())
        .await
        .unwrap();
    assert_eq!(trail.len(), 5);
    assert!(trail.iter().all(|e| e.step == Step::Refuse.as_str()));
    assert!(trail[0]
        .detail
        .contains("Convert refused: PermissionDenied"));
    assert!(trail[1].detail.contains("GetKeyShare refused"));
}

#[tokio::test]
async fn a_certificate_whose_oin_is_not_in_the_policy_is_unauthenticated() {
    let f = start(10_000).await;
    let err = f
        .client("stranger")
        .await
        .convert(convert(vec![f.ciphertext_of("nla")]))
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
        .convert(convert(vec![
            f.ciphertext_of("nla"),
            (vec![0u8; 95], Vec::new()),
        ]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("items[1].ciphertext:"),
        "{}",
        err.message()
    );

    let err = client.convert(convert(vec![])).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    let mut wrong_context = convert(vec![f.ciphertext_of("nla")]);
    wrong_context.coordinator_context = "coordinator/elsewhere".into();
    let err = client.convert(wrong_context).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    // The purposes name the matching domain and the processing activity: each must be in the
    // policy.
    let mut unknown_purpose = convert(vec![f.ciphertext_of("nla"), f.ciphertext_of("nla")]);
    unknown_purpose.items[1].purpose = "marketing".into();
    let err = client.convert(unknown_purpose).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message()
            .starts_with("items[1].purpose: not a purpose of policy set"),
        "{}",
        err.message()
    );
    assert!(
        !err.message().contains("marketing"),
        "no caller text echoed"
    );
}

#[tokio::test]
async fn callers_are_rate_limited_separately() {
    let f = start(3).await;
    let mut nla = f.client("nla").await;
    nla.convert(convert(vec![f.ciphertext_of("nla"); 3]))
        .await
        .unwrap();
    let err = nla
        .convert(convert(vec![f.ciphertext_of("nla")]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    // Another partner still has its own budget.
    f.client("politie_noord_nederland")
        .await
        .convert(convert(vec![f.ciphertext_of("politie_noord_nederland")]))
        .await
        .unwrap();
}

/// Only what the caller itself encrypted, for the purpose and kind it names, enters the chain:
/// otherwise whoever sees a partner's ciphertext (the coordinator does) could have it converted
/// into another purpose with any partner certificate and link that partner's identifier.
#[tokio::test]
async fn a_ciphertext_made_by_another_partner_or_for_another_kind_or_rerandomised_is_refused() {
    use libpep::elgamal::arithmetic::group_elements::{GroupElement, G};
    use libpep::elgamal::arithmetic::scalars::ScalarNonZero;
    let f = start(10_000).await;
    let mut gemeente = f.client("gemeente_groningen").await;
    let refused = |err: tonic::Status, code: Code| {
        assert_eq!(err.code(), code, "{err:?}");
        assert!(
            err.message().starts_with("items[0].origin_proof"),
            "{}",
            err.message()
        );
    };
    // The NLA's ciphertext and proof, sent by the gemeente.
    let nla_made = f.ciphertext_of("nla");
    refused(
        gemeente
            .convert(convert(vec![nla_made.clone()]))
            .await
            .unwrap_err(),
        Code::PermissionDenied,
    );
    // Its own ciphertext, declared as another kind than it made it for.
    let own = f.ciphertext_of("gemeente_groningen");
    let mut as_phone = convert(vec![own.clone()]);
    as_phone.items[0].kind = IdentifierKind::Phone as i32;
    refused(
        gemeente.convert(as_phone).await.unwrap_err(),
        Code::PermissionDenied,
    );
    // A rerandomised copy of its own ciphertext: the same plaintext, but not a ciphertext it knows
    // the randomness of.
    let t = ScalarNonZero::random(&mut rand::rng());
    let point = |b: &[u8]| GroupElement::from_slice(b).unwrap();
    let y = point(&own.0[64..]);
    let mut copy = own.0.clone();
    copy[..32].copy_from_slice(&(point(&own.0[..32]) + t * G).to_bytes());
    copy[32..64].copy_from_slice(&(point(&own.0[32..64]) + t * y).to_bytes());
    refused(
        gemeente
            .convert(convert(vec![(copy, own.1.clone())]))
            .await
            .unwrap_err(),
        Code::PermissionDenied,
    );
    // No proof at all.
    refused(
        gemeente
            .convert(convert(vec![(own.0.clone(), Vec::new())]))
            .await
            .unwrap_err(),
        Code::InvalidArgument,
    );
    // Its own, as made: converted.
    assert_eq!(
        gemeente
            .convert(convert(vec![own]))
            .await
            .unwrap()
            .into_inner()
            .items
            .len(),
        1
    );
}

/// The transcryptor holds each partner to its daily quota per purpose too (the node and the
/// coordinator do as well): the NLA's 2,000 identifiers per 24 hours for the Drieluik.
#[tokio::test]
async fn a_partner_over_its_daily_quota_is_refused_naming_the_quota() {
    let f = start(10_000).await;
    let mut nla = f.client("nla").await;
    let made: Vec<Made> = (0..2000).map(|_| f.ciphertext_of("nla")).collect();
    let converted = nla
        .convert(convert(made.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(converted.items.len(), 2000);
    // A ciphertext converted before counts once a day: a node trying again after a later step
    // failed does not use up its quota.
    nla.convert(convert(made[..10].to_vec())).await.unwrap();
    let err = nla
        .convert(convert(vec![f.ciphertext_of("nla")]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(
        err.message().starts_with("items: quota")
            && err.message().contains(
                "of 2000 identifiers per 24 hours for `nla` for purpose `signalering_drieluik`"
            )
            && err.message().contains("frees up at"),
        "{}",
        err.message()
    );
    // Another partner has its own window.
    f.client("politie_noord_nederland")
        .await
        .convert(convert(vec![f.ciphertext_of("politie_noord_nederland")]))
        .await
        .unwrap();
}
