//! What the end-to-end tests share: the development chain (`signaalnet-devchain`) run as
//! separate `signaalnet` processes, and running the binary.
#![allow(dead_code, unused_imports, clippy::unwrap_used)] // each test file uses a subset

pub mod otlp;

pub use signaalnet_devchain::chain::CONTEXT;
pub use signaalnet_devchain::partners::*;
pub use signaalnet_devchain::requests::*;
pub use signaalnet_devchain::setup::copy_dir;
pub use signaalnet_devchain::{Chain, Options};

use std::path::Path;

/// Runs the binary (in the repository root, where cargo runs tests); returns exit code, stdout
/// and stderr.
pub fn signaalnet(args: &[&str]) -> (i32, String, String) {
    signaalnet_devchain::chain::run_command(Path::new(env!("CARGO_BIN_EXE_signaalnet")), args)
        .unwrap()
}

/// The PostgreSQL admin URL when the PostgreSQL suite should run; without it, a line on stderr
/// (once per test binary, not captured by libtest) says the PostgreSQL tests were skipped.
pub fn postgres_url() -> Option<String> {
    signaalnet_store::test_postgres_url()
}

/// Starts the chain as processes of this build's binary, every role logging at `info` and
/// looking for a changed policy set every second; on PostgreSQL with `postgres`.
pub async fn start(postgres: Option<&str>) -> Chain {
    start_with(postgres, Options::default()).await
}

pub async fn start_with(postgres: Option<&str>, options: Options) -> Chain {
    let options = Options {
        postgres: postgres.map(str::to_owned),
        policy_reload_seconds: Some(1),
        ..options
    };
    let run = signaalnet_devchain::Run::Processes {
        exe: env!("CARGO_BIN_EXE_signaalnet").into(),
        log_level: "info".to_owned(),
    };
    Chain::start(options, run).await.unwrap()
}

/// Waits until `partner` has received notifications satisfying `done`; returns them all.
pub async fn hits_until(
    chain: &Chain,
    partner: &str,
    done: impl Fn(&[signaalnet_proto::v1::HitNotification]) -> bool,
) -> Vec<signaalnet_proto::v1::HitNotification> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let hits = chain.hits_of(partner).await.unwrap();
        if done(&hits) {
            return hits;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{partner}: condition not reached; saw {hits:?}"
        );
    }
}

/// An RIEC analysis hit through a van: the NLA (van and employer, case `NLA-{tag}-1`) and the
/// police (the same plate spelt otherwise, case `PL-{tag}-1`), both delivered.
pub async fn van_hit(chain: &Chain, tag: &str) {
    use signaalnet_proto::v1::identifier::Value;
    for (partner, case, ids) in [
        (
            NLA,
            format!("NLA-{tag}-1"),
            vec![vehicle("", "12-AB-34"), id(Value::Kvk("68750110".into()))],
        ),
        (
            POLITIE,
            format!("PL-{tag}-1"),
            vec![vehicle("NL", "12ab34")],
        ),
    ] {
        let request = signal_for(
            RIEC_ANALYSE,
            "2026-09",
            &case,
            ids,
            &[("vorm_uitbuiting", "arbeidsuitbuiting")],
        );
        let signal = submit(chain, partner, request).await.unwrap();
        wait_delivered(chain, partner, std::slice::from_ref(&signal))
            .await
            .unwrap();
    }
}

/// Every role of the example chain by its name in `Chain`: the four nodes, both transcryptors
/// and the coordinator.
pub fn every_role() -> Vec<String> {
    PARTNERS
        .iter()
        .chain(TRANSCRYPTORS.iter())
        .map(|s| (*s).to_owned())
        .chain(["coordinator".to_owned()])
        .collect()
}

/// Unix permission bits of a file.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
/// Runs each named scenario `async fn name(postgres: Option<&str>)` as a test on SQLite and,
/// when `SIGNAALNET_TEST_POSTGRES_URL` is set, on PostgreSQL.
#[allow(unused_macros)]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(None).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(url) = super::postgres_url() else {
                        return;
                    };
                    super::$name(Some(&url)).await;
                }
            )*
        }
    };
}
