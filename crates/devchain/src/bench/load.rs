//! The bench's load: throughput runs, the latency run at a fixed offered load, and the bulk
//! load, each through two partners' node APIs.

use super::{usage, BenchArgs};
use crate::chain::Chain;
use crate::partners::{DRIELUIK, GEMEENTE, POLITIE};
use crate::requests::{bsn, id, signal_for, submit_stream, Ids};
use anyhow::Result;
use signaalnet_proto::v1 as pb;
use signaalnet_proto::v1::identifier::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;

/// A benchmark signal for the drieluik purpose in this month, without attributes.
fn request(case: String, identifiers: Vec<pb::Identifier>) -> pb::SubmitSignalRequest {
    let month = &signaalnet_store::format_time(signaalnet_store::Clock::system().now_ms())[..7];
    signal_for(DRIELUIK, month, &case, identifiers, &[])
}

/// Latencies in microseconds, up to an hour, to three significant figures.
pub struct Latencies(hdrhistogram::Histogram<u64>);

impl Latencies {
    fn new() -> Result<Self> {
        Ok(Self(hdrhistogram::Histogram::new_with_bounds(
            1,
            3_600_000_000,
            3,
        )?))
    }

    fn record(&mut self, latency: Duration) -> Result<()> {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.0.saturating_record(us.max(1));
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// The latency at percentile `p` (0–100), in milliseconds; NaN when nothing was recorded.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.value_at_percentile(p) as f64 / 1e3
    }
}

/// The example set with a bulk grant for the two partners the bench submits for: a benchmark
/// sends far more than the ordinary quota allows a day, which is what a bulk grant is for.
pub fn bulk_policies(dir: &std::path::Path) -> Result<std::path::PathBuf> {
    let from = crate::policies_dir();
    let to = dir.join("policies");
    std::fs::create_dir_all(to.join("partners"))?;
    let grant = format!(
        "purpose = \"{DRIELUIK}\"\nbulk = {{ identifiers_per_signal = 8, identifiers_per_day = \
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
                text = text.replacen(&format!("purpose = \"{DRIELUIK}\""), &grant, 1);
            }
            std::fs::write(to.join(name), text)?;
        }
    }
    Ok(to)
}

/// Signals still in the outboxes of both partners (read from their own databases).
async fn pending(stores: &[signaalnet_store::Store]) -> Result<i64> {
    let mut total = 0;
    for store in stores {
        total += signaalnet_node::pending_signals(store).await?;
    }
    Ok(total)
}

/// The two submitting partners' node databases, opened beside the nodes.
pub async fn node_stores(chain: &Chain) -> Result<Vec<signaalnet_store::Store>> {
    let mut stores = Vec::new();
    for partner in [GEMEENTE, POLITIE] {
        stores.push(signaalnet_node::open_store(&chain.location(partner)?).await?);
    }
    Ok(stores)
}

/// Submits `args.signals` signals with `k` identifiers each through two partners, and times
/// until every one has been converted, delivered and matched.
pub async fn throughput(
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
        .map(|(client, requests)| tokio::spawn(submit_stream(client, requests)))
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
pub async fn latency(chain: &Chain, args: &BenchArgs, ids: &mut Ids) -> Result<Latencies> {
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
        let shared = id(Value::Bsn(bsn(ids.take())));
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
    let mut latencies = Latencies::new()?;
    for (at, id) in &sent {
        if let Some(r) = seen.get(id) {
            latencies.record(r.duration_since(*at))?;
        }
    }
    if latencies.len() < sent.len() as u64 {
        println!(
            "  {} of {} hits were not notified within 60 s",
            sent.len() as u64 - latencies.len(),
            sent.len()
        );
    }
    Ok(latencies)
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
pub async fn bulk(chain: &mut Chain, args: &BenchArgs, ids: &mut Ids) -> Result<()> {
    let total = args.bulk;
    // Delivered = stored at the coordinator: its newest seq, an index lookup. (Counting the
    // nodes' pending signals reads the whole backlog each time, and with a million queued that
    // cost the nodes more than their own work.)
    let coordinator = signaalnet_coordinator::open_store(&chain.location("coordinator")?).await?;
    let stored = async || -> Result<i64> {
        Ok(signaalnet_coordinator::last_signal_seq(&coordinator).await?)
    };
    let before = stored().await?;
    let first = ids.reserve(total as u64);
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
                request(format!("bench/bulk/{n}"), vec![id(Value::Bsn(bsn(n)))])
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
    // Progress on the terminal only (hidden when stderr is not one); the marks are the record.
    let progress = indicatif::ProgressBar::new(total as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "  bulk {bar:30} {pos}/{len} delivered, {per_sec}, {msg}",
        )?,
    );
    let mut last_usage = Instant::now();
    loop {
        let accepted = submitted.load(std::sync::atomic::Ordering::Relaxed);
        let delivered = usize::try_from(stored().await? - before).unwrap_or(0);
        for mark in &marks {
            if delivered >= *mark && !reported.contains(mark) {
                reported.push(*mark);
                let memory = memory_line(chain);
                progress.suspend(|| {
                    println!(
                        "  bulk: {mark} signals delivered after {:.1} s; resident (peak) MiB: {memory}",
                        start.elapsed().as_secs_f64(),
                    )
                });
            }
        }
        progress.set_position(delivered as u64);
        // Reading every process under /proc is work beside the load: once a second is enough.
        if last_usage.elapsed() >= Duration::from_secs(1) {
            last_usage = Instant::now();
            let coordinator = usage::snapshot(chain)
                .get("coordinator")
                .map_or(f64::NAN, |u| u.rss_mib);
            progress.set_message(format!(
                "{accepted} accepted, coordinator resident {coordinator:.0} MiB"
            ));
        }
        if delivered >= total {
            break;
        }
        if let Some(failed) = chain.failed() {
            anyhow::bail!("{failed}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    progress.finish_and_clear();
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
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percentiles_pick_the_rank() {
        let mut latencies = Latencies::new().unwrap();
        for ms in 1..=100 {
            latencies.record(Duration::from_millis(ms)).unwrap();
        }
        // Three significant figures: within 0.1 % of the rank's value.
        for (p, ms) in [(50.0, 50.0), (99.0, 99.0), (100.0, 100.0)] {
            let got = latencies.percentile_ms(p);
            assert!((got - ms).abs() <= ms * 1e-3, "p{p}: {got} ms");
        }
        assert!(Latencies::new().unwrap().percentile_ms(50.0).is_nan());
    }
}
