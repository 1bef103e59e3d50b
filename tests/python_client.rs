//! A partner system written from the proto alone in another language: stock Python grpcio
//! (`tests/python/bulk_submit.py`, stubs generated from `proto/` at run time) against a partner
//! node run as its own process, over mTLS with the partner's certificate from the chain's
//! development PKI.
//!
//! grpcio writes every message of a client stream as a DATA frame of its own (~80 bytes for a
//! signal), unlike tonic's client, which packs them; a long stream of them used to be cut by
//! h2's budget for small unread frames (`GOAWAY … too_many_data_frames`) after a few thousand
//! signals. See `signaalnet_service::flow_control`.
//!
//! The Python environment: `target/python-venv`, created once by the first test that needs it
//! (or beforehand by `.ci/run`), with `tests/python/requirements.txt` installed from PyPI.
//! `SIGNAALNET_TEST_PYTHON` names an interpreter that already has them instead.
//!
//! SQLite only: what is tested is the transport, not the database.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::*;
use signaalnet_proto::v1 as pb;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The repository (where cargo runs the tests).
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn requirements() -> PathBuf {
    repo().join("tests/python/requirements.txt")
}

/// What to tell a developer whose machine cannot build the Python environment.
fn how_to_install(venv: &Path) -> String {
    format!(
        "the Python client test needs Python 3 (with venv and pip) and grpcio from PyPI. \
         Install python3, python3-venv and python3-pip and make PyPI reachable, or create the \
         environment yourself:\n  python3 -m venv {venv}\n  {venv}/bin/python -m pip install \
         -r tests/python/requirements.txt\n  cp tests/python/requirements.txt {venv}/\nor set \
         SIGNAALNET_TEST_PYTHON to an interpreter that has the packages of \
         tests/python/requirements.txt",
        venv = venv.display()
    )
}

/// Runs a command to completion; panics with `advice` and the command's output if it fails.
fn must(command: &mut Command, advice: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}\n{advice}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}\n{advice}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The Python interpreter of `target/python-venv`, creating the environment if it is missing
/// or was made from other requirements. A copy of the requirements inside it marks it
/// complete; it is built under a name of its own and renamed into place, so concurrent test
/// processes never see (or use) a half-installed one.
fn python() -> PathBuf {
    if let Ok(python) = std::env::var("SIGNAALNET_TEST_PYTHON") {
        return python.into();
    }
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_owned();
    let venv = target.join("python-venv");
    let wanted = std::fs::read_to_string(requirements()).unwrap();
    let complete = |venv: &Path| {
        std::fs::read_to_string(venv.join("requirements.txt")).is_ok_and(|had| had == wanted)
    };
    if !complete(&venv) {
        let advice = how_to_install(&venv);
        let building = target.join(format!("python-venv.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&building);
        must(
            Command::new("python3").args(["-m", "venv"]).arg(&building),
            &advice,
        );
        must(
            Command::new(building.join("bin/python"))
                .args(["-m", "pip", "install", "--quiet", "-r"])
                .arg(requirements()),
            &advice,
        );
        std::fs::write(building.join("requirements.txt"), &wanted).unwrap();
        if !complete(&venv) {
            // Made from other requirements (or never): replace it.
            let old = target.join(format!("python-venv.old.{}", std::process::id()));
            if std::fs::rename(&venv, &old).is_ok() {
                let _ = std::fs::remove_dir_all(&old);
            }
        }
        // Renaming onto a complete environment another test process made meanwhile fails:
        // then that one is used and this one removed.
        if std::fs::rename(&building, &venv).is_err() {
            let _ = std::fs::remove_dir_all(&building);
        }
        assert!(
            complete(&venv),
            "{} is incomplete\n{advice}",
            venv.display()
        );
    }
    venv.join("bin/python")
}

/// What `bulk_submit.py` reports.
#[derive(Debug, serde::Deserialize)]
struct Report {
    accepted: usize,
    refused: usize,
    first_refusals: Vec<String>,
    ends: Vec<Option<StreamEnd>>,
    first_id: Option<String>,
    seconds: f64,
    rate: Option<f64>,
    sample_states: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, serde::Deserialize)]
struct StreamEnd {
    code: String,
    details: Option<String>,
    results: usize,
}

/// How the client submits: `signals` signals over `streams` streams at once, one fresh
/// identifier each (`kind`: `kvk` or `bsn`, numbered from `first`), under `purpose`.
struct Load<'a> {
    partner: &'a str,
    purpose: &'a str,
    kind: &'a str,
    signals: usize,
    streams: usize,
    first: u64,
    run: &'a str,
}

/// Runs the Python client against `load.partner`'s node with that partner's certificate.
fn submit_from_python(python: &Path, chain: &Chain, load: &Load<'_>) -> Report {
    let url = &chain.roles[load.partner].url;
    let target = url.strip_prefix("https://").unwrap();
    let tls = chain.tls(load.partner);
    let output = Command::new(python)
        .arg(repo().join("tests/python/bulk_submit.py"))
        .arg("--target")
        .arg(target)
        .arg("--ca")
        .arg(&tls.ca)
        .arg("--cert")
        .arg(&tls.cert)
        .arg("--key")
        .arg(&tls.key)
        .arg("--proto")
        .arg(repo().join("proto"))
        .args([
            "--purpose",
            load.purpose,
            "--kind",
            load.kind,
            "--run",
            load.run,
        ])
        .args(["--signals", &load.signals.to_string()])
        .args(["--streams", &load.streams.to_string()])
        .args(["--first", &load.first.to_string()])
        .args(["--progress", "10"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "the Python client printed no report ({e}; exit {}):\n{stdout}\n{stderr}",
            output.status
        )
    })
}

/// Twenty thousand signals down one `SubmitSignals` stream from grpcio (the NLA's quarterly
/// bulk check of employers, `bestuurlijke_aanpak`, under its bulk grant of 50,000 a day): a
/// result for every one, the stream ends OK, and the signals are there to ask about.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpcio_client_streams_twenty_thousand_signals_down_one_stream() {
    let python = tokio::task::spawn_blocking(python).await.unwrap();
    let chain = common::start(None).await;
    let load = Load {
        partner: NLA,
        purpose: "bestuurlijke_aanpak",
        kind: "kvk",
        signals: 20_000,
        streams: 1,
        first: 1,
        run: "py-bulk",
    };
    let started = Instant::now();
    let report = tokio::task::block_in_place(|| submit_from_python(&python, &chain, &load));
    eprintln!(
        "20,000 signals from grpcio in {:.1} s ({:?} signals/s; the whole test so far {:.1} s)",
        report.seconds,
        report.rate,
        started.elapsed().as_secs_f64()
    );
    // The stream was not cut: it ended OK after a result for every signal, each accepted.
    let end = report.ends[0].as_ref().unwrap();
    assert_eq!(
        (end.code.as_str(), end.details.as_deref(), end.results),
        ("OK", None, 20_000),
        "{report:?}"
    );
    assert_eq!((report.accepted, report.refused), (20_000, 0), "{report:?}");
    assert!(report.first_refusals.is_empty());

    // The client read a sample back; so does the partner's own tonic client, and the first
    // signal makes it through the chain to the coordinator.
    assert_eq!(report.sample_states.len(), 20, "{report:?}");
    let mut node = chain.partner(NLA).unwrap();
    for (id, state) in &report.sample_states {
        assert!(
            ["SIGNAL_STATE_PENDING", "SIGNAL_STATE_UNMATCHED"].contains(&state.as_str()),
            "{id}: {state}"
        );
        let status = node
            .get_signal_status(pb::GetSignalStatusRequest {
                signal_id: id.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(status.purpose, "bestuurlijke_aanpak");
        assert!(status.case_reference.starts_with("py-bulk-"), "{status:?}");
    }
    let first = report.first_id.clone().unwrap();
    wait_delivered(&chain, NLA, &[first]).await.unwrap();
    chain.stop().await.unwrap();
}

/// Peak resident memory (`VmHWM`) of a role's process, MiB.
fn peak_mib(chain: &Chain, role: &str) -> Option<f64> {
    let (_, pid) = chain.processes().into_iter().find(|(r, _)| r == role)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The bench of BENCHMARKS.md ("One stream from Python grpcio"), not for CI: N signals (one
/// BSN each, `SIGNAALNET_PY_BENCH_SIGNALS`, default 1,000,000) from grpcio down one stream
/// to the gemeente's node, then, on a fresh chain, N down ten streams of N/10 at once. Each
/// chain runs as release processes logging errors only, under the bench's bulk grant; the
/// rate is the client's (results received per second: checked, encrypted and committed by the
/// node, while the chain delivers behind it).
///
/// The roles run as `SIGNAALNET_BENCH_EXE` (a release build) when set, else this build's binary:
/// `cargo build --release && SIGNAALNET_BENCH_EXE=target/release/signaalnet cargo test --test
/// python_client -- --ignored --nocapture` (the test itself only starts processes and waits).
/// `SIGNAALNET_PY_BENCH_STREAMS=1` (or `10`) runs one mode only. Figures only; it asserts
/// nothing beyond every signal being accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a bench; see BENCHMARKS.md"]
async fn bench_one_stream_against_ten() {
    let python = tokio::task::spawn_blocking(python).await.unwrap();
    let signals: usize =
        std::env::var("SIGNAALNET_PY_BENCH_SIGNALS").map_or(1_000_000, |n| n.parse().unwrap());
    // `SIGNAALNET_PY_BENCH_STREAMS=1` runs only the one-stream mode (default: 1 and 10).
    let modes: Vec<usize> = std::env::var("SIGNAALNET_PY_BENCH_STREAMS").map_or(vec![1, 10], |m| {
        m.split(',').map(|n| n.trim().parse().unwrap()).collect()
    });
    let mut lines = Vec::new();
    for streams in modes {
        let dir = tempfile::tempdir().unwrap();
        let options = Options {
            policies: Some(signaalnet_devchain::bench::bulk_policies(dir.path()).unwrap()),
            ..Options::default()
        };
        let run = signaalnet_devchain::Run::Processes {
            exe: std::env::var_os("SIGNAALNET_BENCH_EXE")
                .map_or_else(|| env!("CARGO_BIN_EXE_signaalnet").into(), PathBuf::from),
            log_level: "error".to_owned(),
        };
        let chain = Chain::start(options, run).await.unwrap();
        let load = Load {
            partner: GEMEENTE,
            purpose: DRIELUIK,
            kind: "bsn",
            signals,
            streams,
            first: 1,
            run: &format!("bench-{streams}"),
        };
        let report = tokio::task::block_in_place(|| submit_from_python(&python, &chain, &load));
        let line = format!(
            "{signals} signals over {streams} stream(s): {} accepted, {} refused, ends {:?}, \
             {:.1} s = {:.0} signals/s; gemeente node peak resident {:.0} MiB",
            report.accepted,
            report.refused,
            report
                .ends
                .iter()
                .map(|e| e.as_ref().map(|e| e.code.clone()))
                .collect::<Vec<_>>(),
            report.seconds,
            report.rate.unwrap_or(f64::NAN),
            peak_mib(&chain, GEMEENTE).unwrap_or(f64::NAN),
        );
        eprintln!("{line}");
        lines.push(line);
        assert_eq!(report.accepted, signals, "{report:?}");
        chain.stop().await.unwrap();
    }
    println!("{}", lines.join("\n"));
}
