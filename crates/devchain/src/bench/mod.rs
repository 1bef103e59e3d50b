//! `signaalnet bench`: the whole chain (four nodes, two transcryptors, a coordinator) on loopback,
//! measured against the cost of its own elliptic-curve work, on SQLite and (with `--postgres`)
//! on PostgreSQL. Figures only: nothing here passes or fails.

mod cpu;
pub mod floor;
mod load;
mod usage;

// Also what the Python client's bench (tests/python_client.rs) submits under.
pub use load::bulk_policies;

use crate::chain::{Chain, Options, Run};
use crate::requests::Ids;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Signals per throughput run (one run each with 1, 2 and 4 identifiers per signal).
    #[arg(long, default_value_t = 4_000)]
    pub signals: usize,
    /// Concurrent submission streams per partner.
    #[arg(long, default_value_t = 4)]
    pub streams: usize,
    /// Offered load of the latency run, signals per second (half of them complete a hit).
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Seconds of offered load in the latency run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Signals in the bulk load, streamed through two partners' node APIs (0: skip it).
    /// `--bulk 1000000` for the record.
    #[arg(long, default_value_t = 20_000)]
    pub bulk: usize,
    /// Also run everything on PostgreSQL: an administrator's URL; a fresh database per role.
    #[arg(long, env = "SIGNAALNET_BENCH_POSTGRES_URL")]
    pub postgres: Option<String>,
    /// Skip the SQLite runs (with --postgres).
    #[arg(long)]
    pub postgres_only: bool,
    /// Run the roles as tasks of the bench process instead of each as its own process (then
    /// memory and CPU are not per role).
    #[arg(long)]
    pub in_process: bool,
}

/// Runs the bench; interrupted, it drops its chain, which stops the role processes with it.
pub fn run(args: BenchArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        tokio::select! {
            result = bench(args) => result,
            () = signaalnet_runtime::process::interrupted() => {
                anyhow::bail!("interrupted; the role processes were stopped")
            }
        }
    })
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
        let policies = tempfile::Builder::new()
            .prefix("signaalnet-bench-policies-")
            .tempdir()?;
        let run = if args.in_process {
            Run::InProcess
        } else {
            Run::Processes {
                exe: std::env::current_exe()?,
                log_level: "error".to_owned(),
            }
        };
        let options = Options {
            policies: Some(load::bulk_policies(policies.path())?),
            postgres: postgres.map(str::to_owned),
            ..Options::default()
        };
        let mut chain = Chain::start(options, run).await?;
        let stores = load::node_stores(&chain).await?;
        let mut ids = Ids::default();
        for k in [1, 2, 4] {
            // The machine's speed drifts: the floor is measured again right before each run.
            let now = tokio::task::spawn_blocking(|| floor::measure(floor::QUICK)).await??;
            let now_busy = tokio::task::spawn_blocking(move || {
                floor::measure_on_every_core(cores, floor::QUICK)
            })
            .await??;
            let before = usage::snapshot(&chain);
            let (elapsed, n) = load::throughput(&chain, &stores, &args, k, &mut ids).await?;
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
                cpu::print(&chain, &cpu, &now, k, n, postgres.is_some());
            }
        }
        let latencies = load::latency(&chain, &args, &mut ids).await?;
        println!(
            "latency submit → hit notification at {} signals/s offered for {} s ({} hits): p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            args.rate,
            args.seconds,
            latencies.len(),
            latencies.percentile_ms(50.0),
            latencies.percentile_ms(95.0),
            latencies.percentile_ms(99.0),
            latencies.percentile_ms(100.0)
        );
        if args.bulk > 0 {
            load::bulk(&mut chain, &args, &mut ids).await?;
        }
        chain.stop().await?;
        println!();
    }
    Ok(())
}

/// The CPU model, OS and build of this run.
fn machine() -> String {
    use procfs::Current;
    let cpu = procfs::CpuInfo::current()
        .ok()
        .and_then(|c| c.model_name(0).map(str::to_owned))
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
