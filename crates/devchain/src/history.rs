//! History for the demo's regional monitor: a past year counts only once its signals are older
//! than the monitor's counting delay, which no demo can wait for. So the demo writes one into the
//! coordinator's store as if it had arrived weeks ago: the ZVH Drenthe 2023 year (67 signals of
//! the police and the ZVH, `signaalnet_coordinator::monitor::drenthe`), as the monitor's own
//! records (what the monitor keeps of a signal: partner, month, shared attributes; no signal,
//! no identifier). Said so wherever it is shown.

use crate::partners::MONITOR;
use crate::Chain;
use anyhow::Result;
use signaalnet_coordinator::monitor::drenthe;

/// How long ago the history arrived: past any month start a 14-day delay reaches back to.
const ARRIVED_DAYS_AGO: i64 = 50;

/// Writes the Drenthe year into the running chain's coordinator store; returns how many
/// signals. Call it before anything reads the monitor (the monitor keeps what it counted until
/// the matcher changes).
pub async fn seed_drenthe_2023(chain: &Chain) -> Result<usize> {
    let store = signaalnet_coordinator::open_store(&chain.location("coordinator")?).await?;
    let arrived = signaalnet_store::Clock::system().now() - ARRIVED_DAYS_AGO * 86_400;
    let mut w = store.write().await?;
    let year = drenthe::year();
    let random = ring::rand::SystemRandom::new();
    for r in &year {
        let mut attributes = vec![("vorm_uitbuiting", r.form)];
        if let Some(g) = r.gemeente {
            attributes.push(("gemeente", g));
        }
        // The monitor's records (its ledger), as the coordinator writes them on arrival: a
        // random noise key and lookup stand in for the keyed ones (these were never signals
        // a partner could withdraw).
        let mut bytes = [0u8; 20];
        ring::rand::SecureRandom::fill(&random, &mut bytes)
            .map_err(|_| anyhow::anyhow!("no randomness"))?;
        let key = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        sqlx::query(
            "INSERT INTO coord_monitor_records (monitor, partner_id, lookup, record_key, \
             observed_month, attributes, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(MONITOR)
        .bind(r.partner)
        .bind(hex::encode(&bytes[4..]))
        .bind(i64::from(key))
        .bind(&r.month)
        .bind(serde_json::to_string(&attributes)?)
        .bind(arrived)
        .execute(&mut *w.tx)
        .await?;
    }
    w.commit().await?;
    Ok(year.len())
}
