//! What each role process uses, read from `/proc` (with `procfs`): resident memory now and at
//! its peak, and CPU time (user + system). With the roles in processes of their own this is per
//! role; the load generator is this process, and on PostgreSQL the server's processes are
//! counted together.

use crate::chain::Chain;
use procfs::process::Process;
use std::collections::BTreeMap;

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

impl std::ops::Add for Usage {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self {
            rss_mib: self.rss_mib + other.rss_mib,
            peak_mib: self.peak_mib + other.peak_mib,
            cpu_s: self.cpu_s + other.cpu_s,
            sqlite_cpu_s: self.sqlite_cpu_s + other.sqlite_cpu_s,
        }
    }
}

/// Every role's usage now, by role name, plus this process and the PostgreSQL server.
pub fn snapshot(chain: &Chain) -> BTreeMap<String, Usage> {
    let mut out: BTreeMap<String, Usage> = chain
        .processes()
        .into_iter()
        .filter_map(|(name, pid)| {
            let pid = i32::try_from(pid).ok()?;
            of(&Process::new(pid).ok()?).map(|u| (name, u))
        })
        .collect();
    if let Some(own) = Process::myself().ok().as_ref().and_then(of) {
        out.insert(LOAD.to_owned(), own);
    }
    let postgres = procfs::process::all_processes()
        .into_iter()
        .flatten()
        .flatten()
        .filter(|p| p.stat().is_ok_and(|s| s.comm == "postgres"))
        .filter_map(|p| of(&p))
        .map(|u| Usage {
            sqlite_cpu_s: 0.0,
            ..u
        })
        .reduce(|a, b| a + b);
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

fn of(process: &Process) -> Option<Usage> {
    let status = process.status().ok()?;
    let mib = |kib: Option<u64>| kib.map_or(0.0, |k| k as f64 / 1024.0);
    let ticks = procfs::ticks_per_second() as f64;
    let stat = process.stat().ok()?;
    let sqlite_cpu_s = process
        .tasks()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| task.stat().ok())
        .filter(|s| s.comm.starts_with("sqlx-sqlite"))
        .map(|s| (s.utime + s.stime) as f64 / ticks)
        .sum();
    Some(Usage {
        rss_mib: mib(status.vmrss),
        peak_mib: mib(status.vmhwm),
        cpu_s: (stat.utime + stat.stime) as f64 / ticks,
        sqlite_cpu_s,
    })
}
