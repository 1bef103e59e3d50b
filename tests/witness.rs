//! End-to-end: witnesses. The chain runs as separate processes over mTLS; every role offers its
//! newest audit checkpoint to witnesses of other organisations (a node's to the coordinator and
//! the first transcryptor). Someone who holds a node's database and its audit key cuts off the
//! end of its trail, or rewrites it and signs it again: `audit verify` alone passes, `audit
//! verify --witness` with the witness's record names what was done. A witness refuses a
//! checkpoint that goes back, equivocates or comes under an unexplained new key. On SQLite and,
//! when `SIGNAALNET_TEST_POSTGRES_URL` is set, on PostgreSQL.
#![allow(clippy::unwrap_used)] // test fixtures

#[macro_use]
mod common;

use common::*;
use signaalnet_audit::witness::{Record, Witnessed};
use signaalnet_audit::{checkpoint_message, Entry, Filter, Signer};
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::witness_service_client::WitnessServiceClient;
use signaalnet_store::{Location, Store};
use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tonic::Code;

on_both_databases!(
    a_witness_shows_a_trail_cut_off_or_rewritten_and_signed_again,
    a_witness_refuses_checkpoints_that_go_back_equivocate_or_change_key,
);

fn oin(chain: &Chain, identity: &str) -> String {
    chain.tls(identity).own_oin().unwrap().to_string()
}

/// The audit signing key of a role of the chain (a node's is named `node-<partner>`).
fn audit_key_of(chain: &Chain, role: &str) -> PathBuf {
    let name = match chain.kind(role).unwrap() {
        "node" => format!("node-{role}"),
        _ => role.to_owned(),
    };
    chain
        .dir()
        .join("secrets")
        .join(role)
        .join(format!("{name}.audit.key"))
}

/// The public half of a role's audit key, as its operator would keep a copy of it.
fn public_key_of(chain: &Chain, role: &str) -> PathBuf {
    signaalnet_audit::public_key_path(&audit_key_of(chain, role))
}

/// `signaalnet audit witnessed` at `witness` for the role with `of`, read back.
fn export(chain: &Chain, witness: &str, of: &str, out: &Path) -> Record {
    let out_arg = out.display().to_string();
    let (code, stdout, stderr) = chain
        .audit("witnessed", witness, &["--of", of, "--out", &out_arg])
        .unwrap();
    assert_eq!(code, 0, "{stdout}{stderr}");
    serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap()
}

/// Waits until `witness` holds a checkpoint of `of` over entry `at_least` or later.
async fn witnessed_beyond(chain: &Chain, witness: &str, of: &str, at_least: i64, out: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let record = export(chain, witness, of, out);
        if record.checkpoints.last().is_some_and(|w| w.seq >= at_least) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{witness} witnessed no checkpoint of {of} over entry {at_least}: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A read-write connection to a role's database, as someone with access to it has.
async fn connect(chain: &Chain, role: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    let url = match chain.location(role).unwrap() {
        Location::Postgres(url) => url,
        Location::Sqlite(file) => format!("sqlite://{}", file.display()),
    };
    sqlx::AnyConnection::connect(&url).await.unwrap()
}

/// Changes entry 2 of `role`'s trail, recomputes every hash after it, and replaces its
/// checkpoints by one over the newest entry signed with `signer`: what someone holding the
/// database and a signing key can do.
async fn rewrite_and_sign_again(chain: &Chain, role: &str, signer: &Signer) {
    let store = Store::open_read_only(&chain.location(role).unwrap())
        .await
        .unwrap();
    let mut entries: Vec<Entry> = signaalnet_audit::entries(&store, &Filter::default())
        .await
        .unwrap();
    store.close().await;
    let mut conn = connect(chain, role).await;
    let mut prev = entries[0].hash.clone();
    for e in entries.iter_mut().skip(1) {
        if e.seq == 2 {
            e.detail = "nothing happened here".into();
        }
        e.prev_hash = prev;
        e.hash = e.compute_hash();
        prev = e.hash.clone();
        sqlx::query(
            "UPDATE audit_entries SET detail = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
        )
        .bind(&e.detail)
        .bind(&e.prev_hash)
        .bind(&e.hash)
        .bind(e.seq)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let last = entries.last().unwrap();
    let at_ms = last.at_ms + 1;
    sqlx::query("DELETE FROM audit_checkpoints")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO audit_checkpoints (seq, hash, at_ms, key_id, signature) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(last.seq)
    .bind(&last.hash)
    .bind(at_ms)
    .bind(signer.key_id())
    .bind(signer.sign(&checkpoint_message(last.seq, &last.hash, at_ms)))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
}

fn verify(chain: &Chain, role: &str, extra: &[&str]) -> (i32, String) {
    let (code, out, err) = chain.audit("verify", role, extra).unwrap();
    (code, format!("{out}{err}"))
}

async fn a_witness_shows_a_trail_cut_off_or_rewritten_and_signed_again(postgres: Option<&str>) {
    let mut chain = start(postgres).await;
    let work = tempfile::tempdir().unwrap();
    // Five police signals, one after the other: a trail of a dozen entries or so.
    for (i, surname) in [
        "Wiśniewski",
        "Kowalski",
        "Nowak",
        "Lewandowski",
        "Zieliński",
    ]
    .into_iter()
    .enumerate()
    {
        let police = submit(
            &chain,
            POLITIE,
            signal(
                &format!("PL-W{i}"),
                vec![person(surname, "Piotr", "1994-03-12")],
                &[],
            ),
        )
        .await
        .unwrap();
        wait_delivered(&chain, POLITIE, &[police]).await.unwrap();
    }
    let gemeente = submit(
        &chain,
        GEMEENTE,
        signal(
            "GRO-W1",
            vec![
                person("Wisniewski", "Piotr", "12-03-1994"),
                address("9711 AB", "12"),
            ],
            &[],
        ),
    )
    .await
    .unwrap();
    wait_delivered(&chain, GEMEENTE, &[gemeente]).await.unwrap();
    let (politie, gemeente) = (oin(&chain, POLITIE), oin(&chain, GEMEENTE));
    // Entries 1..3 at least (policy in force, submit, forward) sealed and witnessed; the police
    // node's eleven at least (a submit and a forward per signal).
    let record = work.path().join("record.json");
    witnessed_beyond(&chain, "coordinator", &politie, 11, &record).await;
    witnessed_beyond(&chain, "transcryptor_vng", &gemeente, 3, &record).await;
    chain.kill(POLITIE).unwrap();
    chain.kill(GEMEENTE).unwrap();

    // (1) The police node's last entries are deleted with their checkpoints.
    let by_coordinator = work.path().join("politie-by-coordinator.json");
    let witnessed = export(&chain, "coordinator", &politie, &by_coordinator);
    let last = witnessed.checkpoints.last().unwrap().seq;
    let keep = last - 6;
    for table in ["audit_entries", "audit_checkpoints"] {
        chain
            .execute(POLITIE, &format!("DELETE FROM {table} WHERE seq > {keep}"))
            .await
            .unwrap();
    }
    // The node's own key, kept apart, sees nothing wrong: that is why witnesses are needed.
    let politie_key = public_key_of(&chain, POLITIE).display().to_string();
    let (code, out) = verify(&chain, POLITIE, &["--public-key", &politie_key]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact"), "{out}");
    // With the coordinator's record, checked against the coordinator's key kept apart.
    let coordinator_key = public_key_of(&chain, "coordinator").display().to_string();
    let witness_arg = by_coordinator.display().to_string();
    let (code, out) = verify(
        &chain,
        POLITIE,
        &[
            "--public-key",
            &politie_key,
            "--witness",
            &witness_arg,
            "--witness-public-key",
            &coordinator_key,
        ],
    );
    assert_eq!(code, 1, "{out}");
    let coordinator = oin(&chain, COORDINATOR);
    let expected = format!(
        "FAIL truncated: entries {}..{last} missing: witnessed by {coordinator} at ",
        keep + 1
    );
    assert!(out.contains(&expected), "`{expected}` not in:\n{out}");
    // A record that is not the witness's (another key) is refused, not believed.
    let wrong_key = public_key_of(&chain, "transcryptor_vng")
        .display()
        .to_string();
    let (code, out) = verify(
        &chain,
        POLITIE,
        &[
            "--witness",
            &witness_arg,
            "--witness-public-key",
            &wrong_key,
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("none of --witness-public-key"), "{out}");

    // The node runs on from the cut: its next checkpoint is below what the witness holds, and
    // the witness refuses it, in its own trail.
    chain.restart(POLITIE).await.unwrap();
    let after = submit(
        &chain,
        POLITIE,
        signal("PL-W9", vec![person("Mazur", "Jan", "1990-01-01")], &[]),
    )
    .await
    .unwrap();
    wait_delivered(&chain, POLITIE, &[after]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, out, err) = chain
            .audit(
                "show",
                "coordinator",
                &["--actor", &politie, "--step", "refuse"],
            )
            .unwrap();
        assert_eq!(code, 0, "{err}");
        if out.contains("checkpoint to witness refused (witness.backwards)")
            || out.contains("checkpoint to witness refused (witness.equivocation)")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the coordinator took the cut trail's checkpoint: {out}\n{}",
            chain.log(POLITIE).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    chain
        .wait_for_log(
            POLITIE,
            "offering the newest audit checkpoint to a witness failed",
            Duration::from_secs(10),
        )
        .await
        .unwrap();

    // (2) The gemeente node's trail is rewritten from entry 2 and signed again, first with the
    // node's own key (its operator holds it), then with a new key whose public half replaces
    // the node's `.pub`.
    let by_vng = work.path().join("gemeente-by-vng.json");
    let witnessed = export(&chain, "transcryptor_vng", &gemeente, &by_vng);
    let first_rewritten = witnessed
        .checkpoints
        .iter()
        .map(|w| w.seq)
        .find(|&seq| seq >= 2)
        .unwrap();
    let vng = oin(&chain, "transcryptor_vng");
    let vng_key = public_key_of(&chain, "transcryptor_vng")
        .display()
        .to_string();
    let by_vng_arg = by_vng.display().to_string();
    let witness_args = ["--witness", &by_vng_arg, "--witness-public-key", &vng_key];
    let node_key = audit_key_of(&chain, GEMEENTE);
    let own = Signer::load_or_create(&node_key).unwrap();
    rewrite_and_sign_again(&chain, GEMEENTE, &own).await;
    let (code, out) = verify(&chain, GEMEENTE, &[]);
    assert_eq!(code, 0, "signed again with the node's own key: {out}");
    let (code, out) = verify(&chain, GEMEENTE, &witness_args);
    assert_eq!(code, 1, "{out}");
    let rewritten = format!(
        "FAIL entry {first_rewritten}: rewritten: its hash is not the one witnessed by {vng} at "
    );
    assert!(out.contains(&rewritten), "`{rewritten}` not in:\n{out}");
    assert!(!out.contains("re-signed under another key"), "{out}");

    let new_key = work.path().join("new.audit.key");
    let new = Signer::load_or_create(&new_key).unwrap();
    rewrite_and_sign_again(&chain, GEMEENTE, &new).await;
    std::fs::copy(
        signaalnet_audit::public_key_path(&new_key),
        signaalnet_audit::public_key_path(&node_key),
    )
    .unwrap();
    let (code, out) = verify(&chain, GEMEENTE, &[]);
    assert_eq!(code, 0, "signed again, its .pub replaced: {out}");
    let (code, out) = verify(&chain, GEMEENTE, &witness_args);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&rewritten), "`{rewritten}` not in:\n{out}");
    let resigned = format!(
        "witnessed by {vng} under key {}, not the key checked against (re-signed under another key)",
        own.key_id()
    );
    assert!(out.contains(&resigned), "`{resigned}` not in:\n{out}");
}

/// A checkpoint signed with `signer`, as a caller offers it.
fn offer(signer: &Signer, seq: i64, hash_char: char) -> pb::WitnessRequest {
    let hash: String = std::iter::repeat_n(hash_char, 64).collect();
    let at_ms = 1_790_000_000_000 + seq;
    pb::WitnessRequest {
        seq,
        signature: signer.sign(&checkpoint_message(seq, &hash, at_ms)),
        hash,
        at_ms,
        key_id: signer.key_id().to_owned(),
        public_key: hex::encode(signer.public_key()),
        key_change_reason: String::new(),
    }
}

/// The refusal's code and the one field it names (from the standard error details).
fn refused(status: &tonic::Status) -> (Code, String) {
    use tonic_types::StatusExt;
    let details = status.get_error_details();
    let field = match (details.precondition_failure(), details.bad_request()) {
        (Some(p), _) => p.violations[0].subject.clone(),
        (None, Some(b)) => b.field_violations[0].field.clone(),
        (None, None) => String::new(),
    };
    assert!(status.message().len() <= 512, "{}", status.message());
    (status.code(), field)
}

async fn a_witness_refuses_checkpoints_that_go_back_equivocate_or_change_key(
    postgres: Option<&str>,
) {
    let chain = start(postgres).await;
    let keys = tempfile::tempdir().unwrap();
    // The RIEC runs no node of its own: its certificate offers checkpoints made up here.
    let signer = Signer::load_or_create(&keys.path().join("riec.audit.key")).unwrap();
    let mut witness = WitnessServiceClient::new(chain.channel("coordinator", RIEC).unwrap());
    let receipt = witness
        .witness(offer(&signer, 10, 'a'))
        .await
        .unwrap()
        .into_inner();
    let riec = oin(&chain, RIEC);
    assert_eq!((receipt.oin.as_str(), receipt.seq), (riec.as_str(), 10));
    assert_eq!(receipt.witness_oin, oin(&chain, COORDINATOR));
    let kept = Witnessed {
        oin: receipt.oin.clone(),
        seq: receipt.seq,
        hash: receipt.hash.clone(),
        at_ms: receipt.at_ms,
        key_id: signer.key_id().to_owned(),
        signature: String::new(),
        public_key: String::new(),
        key_change_reason: String::new(),
        witnessed_at_ms: receipt.witnessed_at_ms,
        witness_oin: receipt.witness_oin.clone(),
        witness_key_id: receipt.witness_key_id.clone(),
        countersignature: receipt.countersignature.clone(),
    };
    let coordinator_key =
        signaalnet_audit::read_public_key(&public_key_of(&chain, "coordinator")).unwrap();
    assert!(kept.countersigned_by(&coordinator_key));
    // Sent again: the same receipt.
    let again = witness
        .witness(offer(&signer, 10, 'a'))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, receipt);

    // Another hash at 10, going back to 9, a new key without a reason: refused, naming the field.
    let status = witness.witness(offer(&signer, 10, 'b')).await.unwrap_err();
    assert_eq!(refused(&status), (Code::FailedPrecondition, "hash".into()));
    assert!(
        status.message().contains("witness.equivocation"),
        "{status:?}"
    );
    let status = witness.witness(offer(&signer, 9, 'c')).await.unwrap_err();
    assert_eq!(refused(&status), (Code::FailedPrecondition, "seq".into()));
    assert!(status.message().contains("witness.backwards"), "{status:?}");
    let other = Signer::load_or_create(&keys.path().join("other.audit.key")).unwrap();
    let status = witness.witness(offer(&other, 11, 'd')).await.unwrap_err();
    assert_eq!(
        refused(&status),
        (Code::FailedPrecondition, "public_key".into())
    );
    // A forged signature, and the coordinator's own trail: refused too.
    let mut forged = offer(&signer, 12, 'e');
    forged.at_ms += 1;
    let status = witness.witness(forged).await.unwrap_err();
    assert_eq!(
        refused(&status),
        (Code::InvalidArgument, "signature".into())
    );
    let status = WitnessServiceClient::new(chain.channel("coordinator", COORDINATOR).unwrap())
        .witness(offer(&signer, 13, 'f'))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // A new key with a reason is taken, and the reason recorded.
    let mut explained = offer(&other, 11, 'd');
    explained.key_change_reason = "audit key replaced after a disk failure".into();
    witness.witness(explained).await.unwrap();

    // The witness kept exactly what it accepted, and its own trail records every answer.
    let work = tempfile::tempdir().unwrap();
    let record = export(&chain, "coordinator", &riec, &work.path().join("riec.json"));
    let held: Vec<(i64, char)> = record
        .checkpoints
        .iter()
        .map(|w| (w.seq, w.hash.chars().next().unwrap()))
        .collect();
    assert_eq!(held, [(10, 'a'), (11, 'd')]);
    assert_eq!(
        record.checkpoints[1].key_change_reason,
        "audit key replaced after a disk failure"
    );
    let (code, out, err) = chain
        .audit("show", "coordinator", &["--actor", &riec, "--json"])
        .unwrap();
    assert_eq!(code, 0, "{err}");
    let steps: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].to_string())
        .collect();
    assert_eq!(
        steps.iter().filter(|s| *s == "\"witness\"").count(),
        2,
        "{out}"
    );
    assert_eq!(
        steps.iter().filter(|s| *s == "\"refuse\"").count(),
        4,
        "{out}"
    );
    let (code, out) = verify(&chain, "coordinator", &[]);
    assert_eq!(code, 0, "{out}");
}
