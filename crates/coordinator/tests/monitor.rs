//! The regional monitor against a real year: the ZVH Drenthe annual report on 2023 (seeds/)
//! counted 67 new signals, 28 seksuele, 11 arbeids-, 7 criminele uitbuiting and 21 onbekend,
//! from Assen 11, Emmen 15, Hoogeveen 4, Westerveld 5, Tynaarlo 1, Borger-Odoorn 3,
//! Midden-Drenthe 2, Coevorden 4, Meppel 7, Noordenveld 1, De Wolden 2, Aa en Hunze 0 and 12 of
//! unknown origin. Built here from two submitting partners (the police and the ZVH, which also
//! views the monitor as ketenregisseur), spread over the months of 2023, and read as the RIEC's
//! analyst and as the ZVH: every cell of at least 10 is published within the stated noise, no
//! suppressed cell can be derived by subtracting any tables the caller can ask for, one more
//! signal in a suppressed cell gives nothing away, and the ZVH cannot pad a cell to read it.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::{world, world_with, World};
use signaalnet_coordinator::monitor::drenthe::{
    year, FORMS, GEMEENTEN, ORIGIN_UNKNOWN, POLITIE, ZVH,
};
use signaalnet_coordinator::{NOT_SHARED, UNKNOWN};
use signaalnet_identifier::{Day, Identifier, Person, Phone};
use signaalnet_proto::v1 as pb;
use std::collections::BTreeMap;
use std::time::Duration;

const MONITOR: &str = "monitor_aard_omvang";
const RIEC: &str = "riec_noord_nederland";
/// The example policy's monitor: cells below 10 suppressed, noise at most ±2.
const MIN: i64 = 10;
const BOUND: i64 = 2;
const DIMENSIONS: [&str; 4] = ["gemeente", "maand_waarneming", "sector", "vorm_uitbuiting"];

/// One signal of the year as the test knows it: who sent it and its value per dimension (as
/// the monitor should show it, in `DIMENSIONS` order).
#[derive(Clone)]
struct Known {
    partner: &'static str,
    id: String,
    values: Vec<String>,
}

/// The Drenthe year as the monitor should show it.
fn drenthe() -> Vec<Known> {
    year()
        .into_iter()
        .map(|r| Known {
            partner: r.partner,
            id: r.case,
            values: vec![
                r.gemeente.unwrap_or(UNKNOWN).to_owned(),
                r.month,
                NOT_SHARED.to_owned(),
                r.form.to_owned(),
            ],
        })
        .collect()
}

fn phone(i: usize) -> Identifier {
    Identifier::Phone(Phone::parse(&format!("+31 6 {}", 20_000_000 + i)).unwrap())
}

async fn submit(w: &World, known: &[Known]) {
    for (i, k) in known.iter().enumerate() {
        let mut attributes = vec![("vorm_uitbuiting", k.values[3].as_str())];
        if k.values[0] != UNKNOWN {
            attributes.push(("gemeente", k.values[0].as_str()));
        }
        w.deliver_with(
            k.partner,
            &k.id,
            phone(i + 1000 * k.id.len()),
            &k.values[1],
            &attributes,
        )
        .await;
    }
}

/// Past the counting delay: 60 days on, the signals are before the start of the month the
/// delay reaches back to.
fn counted(w: &World) {
    w.clock.advance(Duration::from_secs(60 * 86_400));
}

async fn table(w: &World, reader: &str, dimensions: &[&str], period: &str) -> pb::MonitorTable {
    let (p, actor) = w.partner(reader);
    w.core
        .monitor(
            p,
            actor,
            pb::GetMonitorRequest {
                purpose: MONITOR.into(),
                dimensions: dimensions.iter().map(|d| (*d).into()).collect(),
                period: period.into(),
            },
        )
        .await
        .unwrap()
}

/// A cell as published: `Some(count)` or `None` when suppressed.
fn published(row: &pb::MonitorRow) -> Option<i64> {
    match pb::CellStatus::try_from(row.status).unwrap() {
        pb::CellStatus::Perturbed => Some(i64::from(row.count)),
        pb::CellStatus::Suppressed => None,
        pb::CellStatus::Unspecified => panic!("a cell without a status"),
    }
}

fn cells(t: &pb::MonitorTable) -> BTreeMap<Vec<String>, Option<i64>> {
    t.rows
        .iter()
        .map(|r| (r.values.clone(), published(r)))
        .collect()
}

/// The true counts of the table by `dims` of `known`.
fn truth(known: &[Known], dims: &[&str]) -> BTreeMap<Vec<String>, i64> {
    let positions: Vec<usize> = dims
        .iter()
        .map(|d| DIMENSIONS.iter().position(|x| x == d).unwrap())
        .collect();
    let mut out = BTreeMap::new();
    for k in known {
        let key = positions.iter().map(|i| k.values[*i].clone()).collect();
        *out.entry(key).or_default() += 1;
    }
    out
}

/// Every table a caller can ask for: each non-empty subset of the view's dimensions.
fn every_table() -> Vec<Vec<&'static str>> {
    (1u32..16)
        .map(|mask| {
            DIMENSIONS
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, d)| *d)
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn the_drenthe_year_publishes_the_reports_figures_within_the_noise_and_hides_small_cells() {
    let w = world().await;
    let year = drenthe();
    submit(&w, &year).await;
    // Not yet counted: the signals arrived less than the counting delay ago.
    let early = table(&w, RIEC, &["vorm_uitbuiting"], "2023").await;
    assert!(early.rows.is_empty(), "{:?}", early.rows);
    assert_eq!(published(early.total.as_ref().unwrap()), None);
    counted(&w);

    // By form of exploitation: 28, 11 and 21 published within ±2, 7 suppressed.
    let by_form = table(&w, RIEC, &["vorm_uitbuiting"], "2023").await;
    let method = by_form.method.as_ref().unwrap();
    assert_eq!((method.name.as_str(), method.noise_bound), ("cell_key", 2));
    assert_eq!(
        (by_form.counts.as_str(), by_form.period.as_str()),
        ("signals", "2023")
    );
    let form_cells = cells(&by_form);
    for (form, n) in FORMS {
        let cell = form_cells.get(&vec![form.to_owned()]).copied().flatten();
        if (n as i64) < MIN {
            assert_eq!(cell, None, "{form}: {n} is suppressed");
        } else {
            let shown = cell.unwrap_or_else(|| panic!("{form}: {n} is published"));
            assert!((shown - n as i64).abs() <= BOUND, "{form}: {shown} for {n}");
        }
    }
    let total = published(by_form.total.as_ref().unwrap()).unwrap();
    assert!((total - 67).abs() <= BOUND, "total {total}");

    // By municipality: Assen 11, Emmen 15 and the 12 of unknown origin published, the rest not.
    let by_origin = cells(&table(&w, RIEC, &["gemeente"], "2023").await);
    for (gemeente, n) in GEMEENTEN.iter().copied().chain([(UNKNOWN, ORIGIN_UNKNOWN)]) {
        let cell = by_origin.get(&vec![gemeente.to_owned()]).copied().flatten();
        if (n as i64) < MIN {
            assert_eq!(cell, None, "{gemeente}: {n} is suppressed");
        } else {
            let shown = cell.unwrap_or_else(|| panic!("{gemeente}: {n} is published"));
            assert!(
                (shown - n as i64).abs() <= BOUND,
                "{gemeente}: {shown} for {n}"
            );
        }
    }
    // Small cells are left out like empty ones (Aa en Hunze had none): nothing says which
    // municipalities hold a few signals and which none.
    assert_eq!(by_origin.len(), 3);
    // Neither partner shares a sector for the monitor: "not shared", never "onbekend".
    let by_sector = cells(&table(&w, RIEC, &["sector"], "2023").await);
    assert_eq!(
        by_sector.keys().cloned().collect::<Vec<_>>(),
        vec![vec![NOT_SHARED.to_owned()]]
    );

    // Asked again, in another order of tables, or for every year: the same noise on the same
    // records, so repeating gains nothing.
    let again = table(&w, RIEC, &["vorm_uitbuiting"], "2023").await;
    assert_eq!(cells(&again), form_cells);
    assert_eq!(again.total, by_form.total);
    let all_years = table(&w, RIEC, &["vorm_uitbuiting"], "").await;
    assert_eq!(
        cells(&all_years),
        form_cells,
        "the same records, the same noise"
    );

    // Every table either caller can ask for: published cells within the bound of the truth, and
    // no suppressed cell pinned down by any subtraction of published cells from a published
    // cell that contains them (the table's total, or a cell of a coarser table).
    for reader in [RIEC, ZVH] {
        let mut tables = BTreeMap::new();
        for dims in every_table() {
            tables.insert(dims.clone(), table(&w, reader, &dims, "2023").await);
        }
        for (dims, t) in &tables {
            let real = truth(&year, dims);
            for row in &t.rows {
                let n = real[&row.values];
                if let Some(shown) = published(row) {
                    assert!(
                        (shown - n).abs() <= BOUND,
                        "{reader} {dims:?} {:?}",
                        row.values
                    );
                    assert!(n >= MIN);
                }
            }
            attack(reader, dims, t, &tables, &real);
        }
    }
}

/// What the attacker knows each dimension can be, from the policy and the region, as strong
/// as it can be: the municipalities that had signals and "onbekend" (it knows Aa en Hunze had
/// none), the months of the year, "not shared" for the sector (neither partner shares it), the
/// forms but organ trafficking (it knows there was none). Without noise that attacker reads
/// criminal exploitation as exactly 67 - 28 - 11 - 21 = 7.
fn domain(dimension: &str) -> Vec<String> {
    match dimension {
        "gemeente" => GEMEENTEN
            .iter()
            .map(|(g, _)| (*g).to_owned())
            .chain([UNKNOWN.to_owned()])
            .collect(),
        "maand_waarneming" => (1..=12).map(|m| format!("2023-{m:02}")).collect(),
        "sector" => vec![NOT_SHARED.to_owned()],
        "vorm_uitbuiting" => FORMS.iter().map(|(f, _)| (*f).to_owned()).collect(),
        other => panic!("{other}"),
    }
}

/// The subtraction attack on table `t` (by `dims`): for each published container cell (the
/// total, or a cell of a table by fewer of the dimensions), the cells of `t` in it that are not
/// published sum to the container less the published cells of `t` in it, each published count
/// known within the bound, each unpublished cell between 0 and MIN - 1. Asserts that the truth
/// stays inside what the attacker infers, and that no cell holding signals is pinned to one
/// value by it.
fn attack(
    reader: &str,
    dims: &[&str],
    t: &pb::MonitorTable,
    tables: &BTreeMap<Vec<&str>, pb::MonitorTable>,
    real: &BTreeMap<Vec<String>, i64>,
) {
    let mut containers: Vec<(Vec<Option<usize>>, Vec<String>, i64)> = Vec::new();
    if let Some(total) = published(t.total.as_ref().unwrap()) {
        containers.push((vec![None; dims.len()], vec![], total));
    }
    for (coarse, ct) in tables {
        if coarse.len() >= dims.len() || !coarse.iter().all(|d| dims.contains(d)) {
            continue;
        }
        let map: Vec<Option<usize>> = dims
            .iter()
            .map(|d| coarse.iter().position(|c| c == d))
            .collect();
        for row in &ct.rows {
            if let Some(n) = published(row) {
                containers.push((map.clone(), row.values.clone(), n));
            }
        }
    }
    let shown = cells(t);
    let mut tried = 0;
    for (map, values, container) in containers {
        // Every cell of `t` the container holds, as the attacker can enumerate them.
        let mut inside: Vec<Vec<String>> = vec![vec![]];
        for (i, d) in dims.iter().enumerate() {
            let choices = match map[i] {
                Some(m) => vec![values[m].clone()],
                None => domain(d),
            };
            inside = inside
                .into_iter()
                .flat_map(|prefix| {
                    choices.iter().map(move |c| {
                        let mut next = prefix.clone();
                        next.push(c.clone());
                        next
                    })
                })
                .collect();
        }
        let published_inside: Vec<i64> = inside
            .iter()
            .filter_map(|c| shown.get(c).copied().flatten())
            .collect();
        let hidden: Vec<&Vec<String>> = inside.iter().filter(|c| !shown.contains_key(*c)).collect();
        let k = published_inside.len() as i64;
        let rest = container - published_inside.iter().sum::<i64>();
        let (low, high) = (rest - (k + 1) * BOUND, rest + (k + 1) * BOUND);
        let truth: i64 = hidden
            .iter()
            .map(|c| real.get(*c).copied().unwrap_or(0))
            .sum();
        assert!(
            (low..=high).contains(&truth),
            "{reader} {dims:?}: the stated bound holds ({low}..={high} vs {truth})"
        );
        let others = hidden.len() as i64 - 1;
        for cell in hidden {
            let n = real.get(cell).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let at_least = (low - others * (MIN - 1)).max(0);
            let at_most = high.min(MIN - 1);
            tried += 1;
            assert!(
                at_most > at_least,
                "{reader} {dims:?} {cell:?} ({n}): derived as {at_least}..={at_most}"
            );
        }
    }
    // The attack had something to try wherever something was hidden.
    if real.values().any(|n| *n < MIN) && published(t.total.as_ref().unwrap()).is_some() {
        assert!(tried > 0, "{reader} {dims:?}");
    }
}

#[tokio::test]
async fn one_more_signal_in_a_suppressed_cell_changes_nothing_an_analyst_can_use() {
    let w = world().await;
    let year = drenthe();
    submit(&w, &year).await;
    counted(&w);
    let before: Vec<pb::MonitorTable> = {
        let mut out = Vec::new();
        for dims in every_table() {
            out.push(table(&w, RIEC, &dims, "2023").await);
        }
        out
    };
    // One more case of criminal exploitation from Tynaarlo (a cell of 1 and a column of 7).
    w.deliver_with(
        POLITIE,
        "DR-2023-extra",
        phone(99_999),
        "2023-06",
        &[
            ("vorm_uitbuiting", "criminele_uitbuiting"),
            ("gemeente", "GM1730"),
        ],
    )
    .await;
    counted(&w);
    let extra = ["GM1730", "2023-06", NOT_SHARED, "criminele_uitbuiting"];
    for (dims, old) in every_table().iter().zip(&before) {
        let new = table(&w, RIEC, dims, "2023").await;
        let (old_cells, new_cells) = (cells(old), cells(&new));
        let holds = |values: &[String]| {
            dims.iter()
                .zip(values)
                .all(|(d, v)| extra[DIMENSIONS.iter().position(|x| x == d).unwrap()] == v)
        };
        assert_eq!(
            old_cells.keys().collect::<Vec<_>>(),
            new_cells.keys().collect::<Vec<_>>(),
            "{dims:?}: the same cells are published"
        );
        for (values, shown) in &new_cells {
            let (a, b) = (old_cells[values].unwrap(), shown.unwrap());
            if holds(values) {
                // A large cell with the new signal: one more, under fresh noise, so a
                // difference that no new signal could show as well.
                assert!((b - a - 1).abs() <= 2 * BOUND && (b - a).abs() <= 2 * BOUND + 1);
            } else {
                // Nothing else moved.
                assert_eq!(a, b, "{dims:?} {values:?}");
            }
        }
        // The total moved by 1 plus fresh noise: a difference anywhere in -3..=5, which is also
        // what no new signal could show (0 ± 4), so the analyst cannot tell one arrived.
        let (a, b) = (
            published(old.total.as_ref().unwrap()).unwrap(),
            published(new.total.as_ref().unwrap()).unwrap(),
        );
        assert!((b - a - 1).abs() <= 2 * BOUND && (b - a).abs() <= 2 * BOUND + 1);
    }
}

#[tokio::test]
async fn a_contributor_that_views_cannot_pad_a_cell_to_read_it() {
    let w = world().await;
    submit(&w, &drenthe()).await;
    counted(&w);
    let cell = |t: &pb::MonitorTable| {
        cells(t)
            .get(&vec!["criminele_uitbuiting".to_owned()])
            .copied()
            .flatten()
    };
    let zvh_before = table(&w, ZVH, &["vorm_uitbuiting"], "2023").await;
    assert_eq!(cell(&zvh_before), None, "seven signals: suppressed");

    // Probes withdrawn within the counting delay never count, for anyone.
    let (zvh, actor) = w.partner(ZVH);
    let probe = |i: usize| format!("PROBE-{i}");
    for i in 0..3 {
        w.deliver_with(
            ZVH,
            &probe(i),
            phone(50_000 + i),
            "2023-05",
            &[("vorm_uitbuiting", "criminele_uitbuiting")],
        )
        .await;
    }
    let riec_now = table(&w, RIEC, &["vorm_uitbuiting"], "2023").await;
    assert_eq!(cell(&riec_now), None);
    w.core
        .withdraw(zvh, &actor, &[probe(0), probe(1), probe(2)])
        .await
        .unwrap();
    counted(&w);
    assert_eq!(
        cells(&table(&w, RIEC, &["vorm_uitbuiting"], "2023").await),
        cells(&riec_now)
    );

    // Probes kept past the delay lift the cell to ten, but only by the ZVH's own signals: for
    // the ZVH it stays suppressed, so padding teaches it nothing. (The RIEC, which contributes
    // nothing, sees ten.)
    for i in 3..6 {
        w.deliver_with(
            ZVH,
            &probe(i),
            phone(50_000 + i),
            "2023-05",
            &[("vorm_uitbuiting", "criminele_uitbuiting")],
        )
        .await;
    }
    counted(&w);
    let padded = table(&w, ZVH, &["vorm_uitbuiting"], "2023").await;
    assert_eq!(
        cell(&padded),
        None,
        "padded by the viewer itself: still suppressed"
    );
    let riec = table(&w, RIEC, &["vorm_uitbuiting"], "2023").await;
    let shown = cell(&riec).expect("ten signals, none the RIEC's own: published");
    assert!((shown - 10).abs() <= BOUND);
    // Every release is kept and audited with its id.
    let releases = w.count("SELECT COUNT(*) FROM coord_monitor_releases").await;
    let audited = w
        .count("SELECT COUNT(*) FROM audit_entries WHERE refs LIKE '%release:%'")
        .await;
    assert_eq!(releases, 5);
    assert_eq!(audited, releases);
    let body: String = sqlx::query_scalar(
        "SELECT body FROM coord_monitor_releases ORDER BY release_seq DESC LIMIT 1",
    )
    .fetch_one(w.core.store().pool())
    .await
    .unwrap();
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["release_id"], riec.release_id.as_str());
    assert_eq!(body["method"]["name"], "cell_key");
}

/// Twelve people, each reported three times (police, ZVH, police) in one month with the same
/// name and date of birth.
async fn twelve_people_thrice(w: &World) {
    let today = Day::new(2026, 9, 21).unwrap();
    for i in 0..12 {
        let surname = format!("Jansen{}", char::from(b'a' + i));
        let person =
            || Identifier::Person(Person::parse(&surname, "Piotr", "1994-03-12", today).unwrap());
        for (j, partner) in [POLITIE, ZVH, POLITIE].into_iter().enumerate() {
            w.deliver_with(
                partner,
                &format!("P-{i}-{j}"),
                person(),
                "2023-04",
                &[
                    ("vorm_uitbuiting", "arbeidsuitbuiting"),
                    ("gemeente", "GM0106"),
                ],
            )
            .await;
        }
    }
    counted(w);
}

/// The example policy's monitor settings with `counting` in place of its own.
fn counting(counting: &'static str) -> impl Fn(&std::path::Path) {
    move |dir| {
        let file = dir.join("purposes.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        let changed = text.replace("counts = \"signals\"\n", counting);
        assert_ne!(changed, text, "the example policy's monitor settings moved");
        std::fs::write(file, changed).unwrap();
    }
}

#[tokio::test]
async fn persons_count_once_and_signals_count_at_most_the_cap_per_person() {
    let total = |t: &pb::MonitorTable| published(t.total.as_ref().unwrap());
    // Signals, no cap (the example policy): 36.
    let w = world().await;
    twelve_people_thrice(&w).await;
    let t = table(&w, RIEC, &["gemeente"], "2023").await;
    assert!(total(&t).is_some_and(|n| (n - 36).abs() <= BOUND), "{t:?}");
    // Signals, at most one per person: 12.
    let w = world_with(&counting(
        "counts = \"signals\"\nmax_signals_per_person = 1\n",
    ))
    .await;
    twelve_people_thrice(&w).await;
    let t = table(&w, RIEC, &["gemeente"], "2023").await;
    assert!(total(&t).is_some_and(|n| (n - 12).abs() <= BOUND), "{t:?}");
    // Persons: 12, and the table says so.
    let w = world_with(&counting("counts = \"persons\"\n")).await;
    twelve_people_thrice(&w).await;
    let t = table(&w, RIEC, &["gemeente"], "2023").await;
    assert_eq!(t.counts, "persons");
    assert!(total(&t).is_some_and(|n| (n - 12).abs() <= BOUND), "{t:?}");
    let cell = cells(&t)[&vec!["GM0106".to_owned()]];
    assert!(cell.is_some_and(|n| (n - 12).abs() <= BOUND));
    // The ZVH contributed to every person, but the police did too: each person is not only
    // the ZVH's, so the ZVH sees the cell.
    let zvh = table(&w, ZVH, &["gemeente"], "2023").await;
    assert!(cells(&zvh)[&vec!["GM0106".to_owned()]].is_some());
}

#[tokio::test]
async fn a_year_keeps_its_figures_after_its_signals_expire_and_loses_a_withdrawn_one() {
    let w = world().await;
    let year = drenthe();
    submit(&w, &year).await;
    counted(&w);
    let before = table(&w, RIEC, &["vorm_uitbuiting"], "2023").await;
    // Seven months on, every Drieluik signal has expired (retention_unmatched P6M, no hits)…
    w.clock.advance(Duration::from_secs(150 * 86_400));
    let expired = w.core.expire().await.unwrap();
    assert_eq!(expired.signals, 67);
    assert_eq!(
        w.count("SELECT COUNT(*) FROM coord_signals WHERE withdrawn_at IS NULL")
            .await,
        0
    );
    // … and the year's table is the same: the monitor's own records, the same noise.
    let after = table(&w, RIEC, &["vorm_uitbuiting"], "2023").await;
    assert_ne!(
        after.counted_before, before.counted_before,
        "a later cut-off"
    );
    assert_eq!((&after.rows, &after.total), (&before.rows, &before.total));
    // Nothing in them names a signal.
    assert_eq!(
        w.count("SELECT COUNT(*) FROM coord_monitor_records WHERE lookup LIKE '%DR-2023%' OR attributes LIKE '%DR-2023%'")
            .await,
        0
    );
    // A withdrawal, even of an expired signal, takes its record at once (the table follows at
    // the next cut-off).
    let (politie, actor) = w.partner(POLITIE);
    let records = w.count("SELECT COUNT(*) FROM coord_monitor_records").await;
    w.core
        .withdraw(politie, &actor, &[year[0].id.clone()])
        .await
        .unwrap();
    assert_eq!(
        w.count("SELECT COUNT(*) FROM coord_monitor_records").await,
        records - 1
    );
    // Two years after they arrived the records go, and the year is empty.
    w.clock.advance(Duration::from_secs(600 * 86_400));
    assert_eq!(w.core.expire().await.unwrap().monitor_records, 66);
    let gone = table(&w, RIEC, &["vorm_uitbuiting"], "2023").await;
    assert!(gone.rows.is_empty());
}
