//! Helpers shared by the tests that run the `signaalnet` binary.
#![allow(dead_code, clippy::unwrap_used)] // each test file uses a subset

pub mod chain;
pub mod otlp;
pub mod requests;

use std::path::Path;
use std::process::Command;

/// Runs the binary in the repository root; returns exit code, stdout and stderr.
pub fn signaalnet(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_signaalnet"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
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
                        eprintln!("SKIPPED on PostgreSQL: SIGNAALNET_TEST_POSTGRES_URL is not set");
                        return;
                    };
                    super::$name(Some(&url)).await;
                }
            )*
        }
    };
}
