//! `signaalnet bench`: the whole chain (four nodes, two transcryptors, a coordinator) on loopback,
//! measured against the cost of its own elliptic-curve work, on SQLite and (with `--postgres`)
//! on PostgreSQL. Figures only: nothing here passes or fails.

use crate::chain::{Chain, Run};
use crate::commands::demo::policies_dir;

mod floor;
mod usage;
use anyhow::Result;
use clap::Args;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use signaalnet_proto::v1::partner_service_client::PartnerServiceClient;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

const GEMEENTE: &str = "gemeente_groningen";
const POLITIE: &str = "politie_noord_nederland";
const PURPOSE: &str = "signalering_drieluik";

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Signals per throughput run (one run each with 1, 2 and 4 identifiers per signal).
    #[arg(long, default_value_t = 4_000)]
    signals: usize,
    /// Concurrent submission streams per partner.
    #[arg(long, default_value_t = 4)]
    streams: usize,
    /// Offered load of the latency run, signals per second (half of them complete a hit).
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Seconds of offered load in the latency run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Signals in the bulk load, streamed through two partners' node APIs (0: skip it).
    /// `--bulk 1000000` for the record.
    #[arg(long, default_value_t = 20_000)]
    bulk: usize,
    /// Also run everything on PostgreSQL: an administrator's URL; a fresh database per role.
    #[arg(long, env = "SIGNAALNET_BENCH_POSTGRES_URL")]
    postgres: Option<String>,
    /// Skip the SQLite runs (with --postgres).
    #[arg(long)]
    postgres_only: bool,
    /// Run the roles as tasks of the bench process instead of each as its own process (then
    /// memory and CPU are not per role).
    #[arg(long)]
    in_process: bool,
}

pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Interrupted, the bench drops its chain, which stops the role processes with it.
    runtime.block_on(async {
        tokio::select! {
            result = bench(args) => result,
            () = crate::roles::interrupted() => {
                anyhow::bail!("interrupted; the role processes were stopped")
            }
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn bench(args: BenchArgs) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("signaalnet bench — {}", machine());
    println!(
        "cores: {cores}; every role, the load generator and (for PostgreSQL) the database share them\n"
    );
    let floor = tokio::task::spawn_blocking(|| floor::measure(floor::FULL)).await??;
    let busy =
        tokio::task::spawn_blocking(move || floor::measure_on_every_core(cores, floor::FULL))
            .await??;
    println!(
        "crypto floor (libpep, median of {} rounds of {}):",
        floor::FULL.rounds,
        floor::FULL.batch
    );
    for (label, f) in [("one core", &floor), ("every core busy", &busy)] {
        println!(
            "  {label}: encrypt {:.1} µs, proven convert {:.1} µs × 2 transcryptors, verify + decrypt {:.1} µs (decrypt alone {:.1}) = {:.1} µs per identifier ({:.1} without verification)",
            f.encrypt_us,
            f.convert_us,
            f.decrypt_us,
            f.decrypt_only_us,
            f.per_identifier_us(),
            f.without_verification_us()
        );
    }
    println!(
        "  floor on {cores} cores at one-core speed: {:.0} / {:.0} / {:.0} signals/s with 1 / 2 / 4 identifiers",
        floor.signals_per_second(1, cores),
        floor.signals_per_second(2, cores),
        floor.signals_per_second(4, cores)
    );
    println!(
        "  with every core busy a core is {:.2}× slower: {:.0} / {:.0} / {:.0} signals/s\n",
        busy.per_identifier_us() / floor.per_identifier_us(),
        busy.signals_per_second(1, cores),
        busy.signals_per_second(2, cores),
        busy.signals_per_second(4, cores)
    );
    let mut databases: Vec<(&str, Option<&str>)> = Vec::new();
    if !args.postgres_only {
        databases.push(("SQLite", None));
    }
    if let Some(url) = args.postgres.as_deref() {
        databases.push(("PostgreSQL", Some(url)));
    }
    for (name, postgres) in databases {
        println!("== {name} ==");
        let dir = tempfile::Builder::new()
            .prefix("signaalnet-bench-")
            .tempdir()?;
        let run = if args.in_process {
            Run::InProcess
        } else {
            Run::Processes
        };
        let policies = bulk_policies(dir.path())?;
        let chain = Chain::start_as(dir.path(), &policies, postgres, run).await?;
        chain.ready(Duration::from_secs(60)).await?;
        let stores = node_stores(&chain).await?;
        let mut ids = Ids::default();
        for k in [1, 2, 4] {
            // The machine's speed drifts: the floor is measured again right before each run.
            let now = tokio::task::spawn_blocking(|| floor::measure(floor::QUICK)).await??;
            let now_busy = tokio::task::spawn_blocking(move || {
                floor::measure_on_every_core(cores, floor::QUICK)
            })
            .await??;
            let before = usage::snapshot(&chain);
            let (elapsed, n) = throughput(&chain, &stores, &args, k, &mut ids).await?;
            let cpu = usage::cpu_between(&before, &usage::snapshot(&chain));
            let rate = n as f64 / elapsed.as_secs_f64();
            let floor_rate = now.signals_per_second(k, cores);
            let busy_rate = now_busy.signals_per_second(k, cores);
            println!(
                "throughput, {k} identifier(s) per signal: {n} signals in {:.2} s = {rate:.0} signals/s = {:.0}% of the crypto floor measured just before ({floor_rate:.0}/s; {:.0}% of {busy_rate:.0}/s with every core busy)",
                elapsed.as_secs_f64(),
                100.0 * rate / floor_rate,
                100.0 * rate / busy_rate
            );
            if !args.in_process {
                print_cpu(&cpu, &now, k, n, postgres.is_some());
            }
        }
        let latencies = latency(&chain, &args, &mut ids).await?;
        println!(
            "latency submit → hit notification at {} signals/s offered for {} s ({} hits): p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            args.rate,
            args.seconds,
            latencies.len(),
            percentile(&latencies, 50.0),
            percentile(&latencies, 95.0),
            percentile(&latencies, 99.0),
            percentile(&latencies, 100.0)
        );
        if args.bulk > 0 {
            bulk(&chain, &args, &mut ids).await?;
        }
        chain.stop().await?;
        println!();
    }
    Ok(())
}

/// CPU per signal of each role, and of it libpep work (from the floor measured just before the
/// run) and SQLite; on PostgreSQL also the server's CPU.
fn print_cpu(
    cpu: &BTreeMap<String, (f64, f64)>,
    floor: &floor::Floor,
    k: usize,
    signals: usize,
    postgres: bool,
) {
    let per_signal = |seconds: f64| seconds * 1e6 / signals.max(1) as f64;
    let k = k as f64;
    let mut nodes = (0.0, 0.0);
    let mut parts = Vec::new();
    let mut storage = 0.0;
    let mut beside = 0.0;
    let mut coordinator_beside = f64::NAN;
    for (role, (all, sqlite)) in cpu {
        let (used, sqlite) = (per_signal(*all), per_signal(*sqlite));
        let libpep = if role.starts_with("transcryptor") {
            floor.convert_us * k
        } else if role == "coordinator" {
            floor.decrypt_us * k
        } else {
            0.0
        };
        if role.starts_with("node-") {
            nodes = (nodes.0 + used, nodes.1 + sqlite);
            continue;
        }
        if role == usage::POSTGRES {
            if postgres {
                storage += used;
                parts.push(format!("{role} {used:.0}"));
            }
            continue;
        }
        if role != usage::LOAD {
            storage += sqlite;
            beside += used - libpep;
        }
        if role == "coordinator" {
            coordinator_beside = used - libpep - sqlite;
        }
        parts.push(if role == usage::LOAD {
            format!("{role} {used:.0}")
        } else {
            format!("{role} {used:.0} (libpep {libpep:.0}, SQLite {sqlite:.0})")
        });
    }
    let node_libpep = floor.encrypt_us * k;
    storage += nodes.1;
    beside += nodes.0 - node_libpep;
    parts.insert(
        0,
        format!(
            "nodes {:.0} (libpep {node_libpep:.0}, SQLite {:.0})",
            nodes.0, nodes.1
        ),
    );
    let libpep = floor.per_identifier_us() * k;
    println!("  CPU µs per signal: {}", parts.join(", "));
    println!(
        "  libpep {libpep:.0} µs per signal; every role's other work {beside:.0} µs ({:.1}× less); \
         storage (the database engine{}) {storage:.0} µs ({:.1}× less); the coordinator's work beside \
         libpep and SQLite (matching, notifications, audit hashing, gRPC, TLS, decoding) {coordinator_beside:.0} µs ({:.1}× less)",
        libpep / beside,
        if postgres { ": the PostgreSQL server" } else { ": SQLite threads" },
        libpep / storage,
        libpep / coordinator_beside
    );
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!(
        "{cpu}, {} {}, {} build",
        std::env::consts::OS,
        std::env::consts::ARCH,
        if cfg!(debug_assertions) {
            "debug (use --release for figures)"
        } else {
            "release"
        }
    )
}

// ---- load ------------------------------------------------------------------------------------

/// A valid BSN (eleven-proof), different for every `n` below 45 million: the even base
/// `10000000 + 2n` with its check digit, or, where that would be 10, the odd base after it
/// (its sum is 2 more, so its check digit is 1).
fn bsn(n: u64) -> String {
    let base = 10_000_000 + 2 * n;
    let sum: u64 = format!("{base:08}")
        .bytes()
        .zip((2..=9).rev())
        .map(|(d, w)| u64::from(d - b'0') * w)
        .sum();
    match sum % 11 {
        10 => format!("{:08}1", base + 1),
        check => format!("{base:08}{check}"),
    }
}

/// The example set with a bulk grant for the two partners the bench submits for: a benchmark
/// sends far more than the ordinary quota allows a day, which is what a bulk grant is for.
fn bulk_policies(dir: &std::path::Path) -> Result<std::path::PathBuf> {
    let from = policies_dir();
    let to = dir.join("policies");
    std::fs::create_dir_all(to.join("partners"))?;
    let grant = format!(
        "purpose = \"{PURPOSE}\"\nbulk = {{ identifiers_per_signal = 8, identifiers_per_day = \
         1_000_000_000, reason = \"signaalnet bench\" }}"
    );
    for sub in ["", "partners"] {
        for entry in std::fs::read_dir(from.join(sub))? {
            let path = entry?.path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let name = Path::new(sub).join(path.file_name().unwrap_or_default());
            let mut text = std::fs::read_to_string(&path)?;
            if ["gemeente-groningen.toml", "politie-noord-nederland.toml"]
                .iter()
                .any(|f| name == Path::new("partners").join(f))
            {
                text = text.replacen(&format!("purpose = \"{PURPOSE}\""), &grant, 1);
            }
            std::fs::write(to.join(name), text)?;
        }
    }
    Ok(to)
}

/// Fresh identifier values across every run on one chain (so only the pairs meant to match do).
#[derive(Default)]
struct Ids {
    next: u64,
}

impl Ids {
    fn take(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// `k` identifiers no other signal has: a BSN, a KvK number, then phone numbers.
    fn identifiers(&mut self, k: usize) -> Vec<pb::Identifier> {
        let n = self.take();
        let mut out = vec![
            Value::Bsn(bsn(n)),
            Value::Kvk(format!("{:08}", 10_000_000 + n)),
        ];
        out.extend(
            (0..k.saturating_sub(2)).map(|i| Value::Phone(format!("+316{:08}", n * 4 + i as u64))),
        );
        out.truncate(k);
        out.into_iter()
            .map(|v| pb::Identifier { value: Some(v) })
            .collect()
    }
}

fn month() -> String {
    signaalnet_store::format_time(signaalnet_store::Clock::system().now_ms())[..7].to_owned()
}

fn request(key: String, identifiers: Vec<pb::Identifier>) -> pb::SubmitSignalRequest {
    pb::SubmitSignalRequest {
        idempotency_key: key.clone(),
        case_reference: key,
        purpose: PURPOSE.to_owned(),
        observed_month: month(),
        identifiers,
        attributes: Vec::new(),
    }
}

/// Streams `requests` through `client`; returns the accepted signal ids (in order).
async fn stream(
    mut client: PartnerServiceClient<Channel>,
    requests: Vec<pb::SubmitSignalRequest>,
) -> Result<Vec<String>> {
    let mut results = client
        .submit_signals(tokio_stream::iter(requests))
        .await?
        .into_inner();
    let mut ids = Vec::new();
    while let Some(result) = results.next().await {
        match result?.outcome {
            Some(pb::submit_signal_result::Outcome::Accepted(a)) => ids.push(a.signal_id),
            Some(pb::submit_signal_result::Outcome::Refused(e)) => {
                anyhow::bail!("a benchmark signal was refused: {}", e.message)
            }
            None => anyhow::bail!("a submission result without an outcome"),
        }
    }
    Ok(ids)
}

/// Signals still in the outboxes of both partners (read from their own databases).
async fn pending(stores: &[signaalnet_store::Store]) -> Result<i64> {
    let mut total = 0;
    for store in stores {
        let n = signaalnet_node::pending_signals(store).await?;
        total += n;
    }
    Ok(total)
}

async fn node_stores(chain: &Chain) -> Result<Vec<signaalnet_store::Store>> {
    let mut stores = Vec::new();
    for partner in [GEMEENTE, POLITIE] {
        stores
            .push(signaalnet_node::open_store(&chain.location(&format!("node-{partner}"))?).await?);
    }
    Ok(stores)
}

/// Submits `args.signals` signals with `k` identifiers each through two partners, and times
/// until every one has been converted, delivered and matched.
async fn throughput(
    chain: &Chain,
    stores: &[signaalnet_store::Store],
    args: &BenchArgs,
    k: usize,
    ids: &mut Ids,
) -> Result<(Duration, usize)> {
    let streams = args.streams.max(1);
    let mut work = Vec::new();
    for (i, partner) in [GEMEENTE, POLITIE]
        .iter()
        .cycle()
        .take(2 * streams)
        .enumerate()
    {
        let share = args.signals / (2 * streams) + usize::from(i < args.signals % (2 * streams));
        let requests: Vec<_> = (0..share)
            .map(|_| {
                let identifiers = ids.identifiers(k);
                request(format!("bench/t{k}/{}", ids.take()), identifiers)
            })
            .collect();
        work.push((chain.partner(partner)?, requests));
    }
    let start = Instant::now();
    let tasks: Vec<_> = work
        .into_iter()
        .map(|(client, requests)| tokio::spawn(stream(client, requests)))
        .collect();
    let mut accepted = 0;
    for task in tasks {
        accepted += task.await??.len();
    }
    while pending(stores).await? > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((start.elapsed(), accepted))
}

/// Offers `args.rate` signals per second: pairs of a gemeente and a police signal sharing a BSN.
/// Latency: from the submission of the pair's later signal to the police's hit notification.
async fn latency(chain: &Chain, args: &BenchArgs, ids: &mut Ids) -> Result<Vec<f64>> {
    let received: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut watch = chain
        .partner(POLITIE)?
        .watch_hits(pb::WatchHitsRequest::default())
        .await?
        .into_inner();
    let sink = Arc::clone(&received);
    let watcher = tokio::spawn(async move {
        while let Some(Ok(n)) = watch.next().await {
            let at = Instant::now();
            if n.change == pb::HitChange::Formed as i32 {
                if let Ok(mut seen) = sink.lock() {
                    for own in n.own_signals {
                        seen.entry(own.signal_id).or_insert(at);
                    }
                }
            }
        }
    });
    let pairs = (u64::from(args.rate) * args.seconds / 2).max(1);
    let every = Duration::from_secs_f64(2.0 / f64::from(args.rate.max(1)));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    for _ in 0..pairs {
        tick.tick().await;
        let shared = pb::Identifier {
            value: Some(Value::Bsn(bsn(ids.take()))),
        };
        let g = request(format!("bench/l/{}", ids.take()), vec![shared.clone()]);
        let p = request(format!("bench/l/{}", ids.take()), vec![shared]);
        let mut gemeente = chain.partner(GEMEENTE)?;
        let mut politie = chain.partner(POLITIE)?;
        tasks.push(tokio::spawn(async move {
            let (g, p) = tokio::join!(
                async {
                    let sent = Instant::now();
                    gemeente.submit_signal(g).await.map(|_| sent)
                },
                async {
                    let sent = Instant::now();
                    politie
                        .submit_signal(p)
                        .await
                        .map(|r| (sent, r.into_inner().signal_id))
                }
            );
            let g_sent = g?;
            let (p_sent, police_signal) = p?;
            Ok::<_, tonic::Status>((g_sent.max(p_sent), police_signal))
        }));
    }
    let mut sent = Vec::new();
    for task in tasks {
        sent.push(task.await??);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let done = received.lock().map(|r| r.len()).unwrap_or(0);
        if done >= sent.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    watcher.abort();
    let seen = received.lock().map(|r| r.clone()).unwrap_or_default();
    let mut latencies: Vec<f64> = sent
        .iter()
        .filter_map(|(at, id)| {
            seen.get(id)
                .map(|r| r.duration_since(*at).as_secs_f64() * 1e3)
        })
        .collect();
    if latencies.len() < sent.len() {
        println!(
            "  {} of {} hits were not notified within 60 s",
            sent.len() - latencies.len(),
            sent.len()
        );
    }
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Resident memory of each role now (peak), in MiB. Not PostgreSQL's: summed over its
/// processes, its shared buffers would be counted once per process.
fn memory_line(chain: &Chain) -> String {
    usage::snapshot(chain)
        .iter()
        .filter(|(role, _)| role.as_str() != usage::POSTGRES)
        .map(|(role, u)| format!("{role} {:.0} ({:.0})", u.rss_mib, u.peak_mib))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Streams `args.bulk` signals (one BSN each) through two partners, showing progress.
async fn bulk(chain: &Chain, args: &BenchArgs, ids: &mut Ids) -> Result<()> {
    let total = args.bulk;
    // Delivered = stored at the coordinator: its newest seq, an index lookup. (Counting the
    // nodes' pending signals reads the whole backlog each time, and with a million queued that
    // cost the nodes more than their own work.)
    let coordinator = signaalnet_coordinator::open_store(&chain.location("coordinator")?).await?;
    let stored = async || -> Result<i64> {
        Ok(signaalnet_coordinator::last_signal_seq(&coordinator).await?)
    };
    let before = stored().await?;
    let first = ids.take(); // past every id the other runs used
    ids.next = first + total as u64;
    let submitted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (p, partner) in [GEMEENTE, POLITIE].into_iter().enumerate() {
        let mut client = chain.partner(partner)?;
        let count = Arc::clone(&submitted);
        let share = total / 2 + usize::from(p < total % 2);
        tasks.push(tokio::spawn(async move {
            let requests = tokio_stream::iter(0..share).map(move |i| {
                let n = first + (2 * i + p) as u64;
                request(
                    format!("bench/bulk/{n}"),
                    vec![pb::Identifier {
                        value: Some(Value::Bsn(bsn(n))),
                    }],
                )
            });
            let mut results = client.submit_signals(requests).await?.into_inner();
            while let Some(result) = results.next().await {
                result?;
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    let marks: Vec<usize> = [total / 10, 100_000, total]
        .into_iter()
        .filter(|m| *m > 0 && *m <= total)
        .collect();
    let mut reported = Vec::new();
    let mut last_print = Instant::now();
    loop {
        let accepted = submitted.load(std::sync::atomic::Ordering::Relaxed);
        let delivered = usize::try_from(stored().await? - before).unwrap_or(0);
        for mark in &marks {
            if delivered >= *mark && !reported.contains(mark) {
                reported.push(*mark);
                println!(
                    "  bulk: {mark} signals delivered after {:.1} s; resident (peak) MiB: {}",
                    start.elapsed().as_secs_f64(),
                    memory_line(chain)
                );
            }
        }
        if last_print.elapsed() >= Duration::from_secs(5) {
            last_print = Instant::now();
            let coordinator = usage::snapshot(chain)
                .get("coordinator")
                .map_or(f64::NAN, |u| u.rss_mib);
            eprintln!(
                "  bulk: {accepted}/{total} accepted, {delivered} delivered, {:.0} signals/s, coordinator resident {coordinator:.0} MiB",
                delivered as f64 / start.elapsed().as_secs_f64()
            );
        }
        if delivered >= total {
            break;
        }
        if let Some(failed) = chain.failed() {
            anyhow::bail!("{failed}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    coordinator.close().await;
    for task in tasks {
        task.await??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "bulk load: {total} signals in {elapsed:.1} s = {:.0} signals/s",
        total as f64 / elapsed
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use signaalnet_identifier::Bsn;

    #[test]
    fn generated_bsns_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for n in (0..5_000).chain(999_990..1_000_010) {
            let value = bsn(n);
            assert!(Bsn::parse(&value).is_ok(), "{value}");
            assert!(seen.insert(value), "bsn({n}) repeats");
        }
    }

    #[test]
    fn percentiles_pick_the_rank() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 50.0), 50.0);
        assert_eq!(percentile(&sorted, 99.0), 99.0);
        assert_eq!(percentile(&sorted, 100.0), 100.0);
    }
}
