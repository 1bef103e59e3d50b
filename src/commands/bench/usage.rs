//! What each role process uses, read from `/proc`: resident memory now and at its peak, and CPU
//! time (user + system). With the roles in processes of their own this is per role; the load
//! generator is this process, and on PostgreSQL the server's processes are counted together.

use crate::chain::Chain;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// This process: the load generator (and, with `--in-process`, every role).
pub const LOAD: &str = "load generator";
/// Every `postgres` process on the machine.
pub const POSTGRES: &str = "postgresql server";

#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub rss_mib: f64,
    pub peak_mib: f64,
    pub cpu_s: f64,
    /// Of `cpu_s`, the threads that run SQLite (sqlx's one worker thread per connection).
    pub sqlite_cpu_s: f64,
}

/// Every role's usage now, by role name, plus this process and the PostgreSQL server.
pub fn snapshot(chain: &Chain) -> BTreeMap<String, Usage> {
    let mut out: BTreeMap<String, Usage> = chain
        .processes()
        .into_iter()
        .filter_map(|(name, pid)| of(&pid.to_string()).map(|u| (name, u)))
        .collect();
    if let Some(own) = of("self") {
        out.insert(LOAD.to_owned(), own);
    }
    let postgres =
        postgres_pids()
            .filter_map(|pid| of(&pid))
            .fold(None, |sum: Option<Usage>, u| {
                let s = sum.unwrap_or_default();
                Some(Usage {
                    rss_mib: s.rss_mib + u.rss_mib,
                    peak_mib: s.peak_mib + u.peak_mib,
                    cpu_s: s.cpu_s + u.cpu_s,
                    sqlite_cpu_s: 0.0,
                })
            });
    if let Some(p) = postgres {
        out.insert(POSTGRES.to_owned(), p);
    }
    out
}

/// CPU seconds (all, SQLite's) each process used between two snapshots (a process in only one
/// is left out).
pub fn cpu_between(
    before: &BTreeMap<String, Usage>,
    after: &BTreeMap<String, Usage>,
) -> BTreeMap<String, (f64, f64)> {
    after
        .iter()
        .filter_map(|(name, a)| {
            before.get(name).map(|b| {
                (
                    name.clone(),
                    (a.cpu_s - b.cpu_s, a.sqlite_cpu_s - b.sqlite_cpu_s),
                )
            })
        })
        .collect()
}

/// `pid` is a number or `self`.
fn of(pid: &str) -> Option<Usage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    let cpu = cpu_s(&format!("/proc/{pid}/stat"))?;
    let sqlite_cpu = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|c| c.starts_with("sqlx-sqlite"))
        })
        .filter_map(|task| cpu_s(&task.path().join("stat").to_string_lossy()))
        .sum();
    Some(Usage {
        rss_mib: kib("VmRSS:"),
        peak_mib: kib("VmHWM:"),
        cpu_s: cpu,
        sqlite_cpu_s: sqlite_cpu,
    })
}

/// User + system CPU seconds from a `stat` file of a process or thread.
fn cpu_s(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3: utime is 14,
    // stime 15 (proc(5)).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    Some((ticks(11)? + ticks(12)?) / clock_ticks())
}

fn postgres_pids() -> impl Iterator<Item = String> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
}

/// Clock ticks per second for `/proc/*/stat` (`getconf CLK_TCK`; 100 on Linux if it fails).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}
