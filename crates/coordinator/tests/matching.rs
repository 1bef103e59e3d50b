//! The matching rules of docs/DESIGN.md §6 on the pure matcher, and loading stored signals into a
//! matcher that holds only hits (`load.rs`, on SQLite) against one that holds every signal.
#![allow(clippy::unwrap_used)] // test fixtures

use proptest::prelude::*;
use signaalnet_coordinator::matching::{
    month_index, month_string, Change, Matcher, Rule, Seq, SignalEntry,
};
use signaalnet_coordinator::test_util::{hold_reachable, insert_signal, Key};
use signaalnet_identifier::IdentifierKind::{self, Address, Organisation, Person};
use signaalnet_store::{Location, Store};
use sqlx::AnyConnection;
use std::collections::{BTreeSet, HashMap};

fn matcher() -> Matcher {
    Matcher::new(HashMap::from([
        (
            "drieluik".to_owned(),
            Rule {
                window_months: 6,
                min_partners: 2,
            },
        ),
        (
            "drie_partners".to_owned(),
            Rule {
                window_months: 6,
                min_partners: 3,
            },
        ),
    ]))
}

fn key(n: u8) -> [u8; 32] {
    [n; 32]
}

fn signal(seq: Seq, partner: &str, month: &str, keys: &[(IdentifierKind, u8)]) -> SignalEntry {
    SignalEntry {
        seq,
        partner: partner.to_owned(),
        signal_id: format!("s{seq}"),
        purpose: "drieluik".to_owned(),
        month: month_index(month).unwrap(),
        keys: keys.iter().map(|(k, n)| (*k, key(*n))).collect(),
        attributes: Vec::new(),
    }
}

fn members(m: &Matcher) -> Vec<BTreeSet<Seq>> {
    m.hits().map(|h| h.members.clone()).collect()
}

#[test]
fn months_round_trip_and_reject_garbage() {
    assert_eq!(month_string(month_index("2026-01").unwrap()), "2026-01");
    assert_eq!(month_string(month_index("2025-12").unwrap()), "2025-12");
    for bad in ["2026-13", "2026-00", "26-01", "2026/01", "2026-1", ""] {
        assert_eq!(month_index(bad), None, "{bad}");
    }
}

#[test]
fn two_partners_sharing_a_key_form_a_hit() {
    let mut m = matcher();
    assert!(m
        .insert(signal(1, "politie", "2026-03", &[(Person, 1)]))
        .unwrap()
        .is_empty());
    let events = m
        .insert(signal(2, "gemeente", "2026-04", &[(Person, 1)]))
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].change, Change::Formed);
    assert_eq!(events[0].members, BTreeSet::from([1, 2]));
    assert!(events[0].hit_id.starts_with("hit-"));
}

#[test]
fn one_partner_alone_never_forms_a_hit() {
    let mut m = matcher();
    for seq in 1..=5 {
        assert!(m
            .insert(signal(seq, "nla", "2026-03", &[(Address, 7)]))
            .unwrap()
            .is_empty());
    }
    assert_eq!(m.hits().count(), 0);
}

#[test]
fn same_value_of_another_kind_does_not_link() {
    let mut m = matcher();
    m.insert(signal(1, "politie", "2026-03", &[(Person, 1)]))
        .unwrap();
    let events = m
        .insert(signal(2, "gemeente", "2026-03", &[(Address, 1)]))
        .unwrap();
    assert!(events.is_empty());
}

#[test]
fn resubmitting_changes_nothing() {
    let mut m = matcher();
    m.insert(signal(1, "politie", "2026-03", &[(Person, 1)]))
        .unwrap();
    m.insert(signal(2, "gemeente", "2026-03", &[(Person, 1)]))
        .unwrap();
    let before = members(&m);
    assert!(m
        .insert(signal(2, "gemeente", "2026-03", &[(Person, 1)]))
        .unwrap()
        .is_empty());
    assert_eq!(members(&m), before);
}

#[test]
fn hits_are_connected_components_across_kinds() {
    // Police: person P. Gemeente: address A with P. NLA: employer E at address A.
    let mut m = matcher();
    m.insert(signal(1, "politie", "2026-03", &[(Person, 1)]))
        .unwrap();
    let formed = m
        .insert(signal(
            2,
            "gemeente",
            "2026-03",
            &[(Person, 1), (Address, 2)],
        ))
        .unwrap();
    assert_eq!(formed[0].change, Change::Formed);
    let grew = m
        .insert(signal(
            3,
            "nla",
            "2026-04",
            &[(Organisation, 3), (Address, 2)],
        ))
        .unwrap();
    assert_eq!(grew.len(), 1);
    assert_eq!(grew[0].change, Change::Grew);
    assert_eq!(
        grew[0].hit_id, formed[0].hit_id,
        "a growing hit keeps its id"
    );
    assert_eq!(grew[0].members, BTreeSet::from([1, 2, 3]));
    let hit = m.hit(&grew[0].hit_id).unwrap().clone();
    let linking: BTreeSet<_> = m.linking_keys(&hit).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        linking,
        BTreeSet::from([Person, Address]),
        "the employer links nothing"
    );
}

#[test]
fn the_match_window_separates_signals_far_apart() {
    let mut m = matcher();
    m.insert(signal(1, "politie", "2025-01", &[(Person, 1)]))
        .unwrap();
    assert!(m
        .insert(signal(2, "gemeente", "2025-08", &[(Person, 1)]))
        .unwrap()
        .is_empty());
    // Six months apart is inside the window of six months.
    let events = m
        .insert(signal(3, "nla", "2025-07", &[(Person, 1)]))
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].members,
        BTreeSet::from([1, 2, 3]),
        "linked through the middle one"
    );
}

#[test]
fn min_distinct_partners_is_per_purpose() {
    let mut m = matcher();
    let mut s = |seq, partner: &str| {
        let mut e = signal(seq, partner, "2026-01", &[(Person, 9)]);
        e.purpose = "drie_partners".into();
        m.insert(e).unwrap()
    };
    assert!(s(1, "politie").is_empty());
    assert!(s(2, "gemeente").is_empty());
    assert!(s(3, "gemeente").is_empty());
    assert_eq!(s(4, "nla")[0].change, Change::Formed);
}

#[test]
fn purposes_never_match_each_other() {
    let mut m = matcher();
    m.insert(signal(1, "politie", "2026-01", &[(Person, 1)]))
        .unwrap();
    let mut other = signal(2, "gemeente", "2026-01", &[(Person, 1)]);
    other.purpose = "drie_partners".into();
    assert!(m.insert(other).unwrap().is_empty());
}

#[test]
fn unknown_purpose_is_an_error() {
    let mut m = matcher();
    let mut s = signal(1, "politie", "2026-01", &[(Person, 1)]);
    s.purpose = "elders".into();
    assert!(m.insert(s).is_err());
}

#[test]
fn a_bridging_signal_merges_hits_and_the_oldest_keeps_its_id() {
    let mut m = matcher();
    m.insert(signal(1, "politie", "2026-01", &[(Person, 1)]))
        .unwrap();
    let first = m
        .insert(signal(2, "gemeente", "2026-01", &[(Person, 1)]))
        .unwrap();
    m.insert(signal(3, "politie", "2026-01", &[(Address, 5)]))
        .unwrap();
    let second = m
        .insert(signal(4, "nla", "2026-01", &[(Address, 5)]))
        .unwrap();
    assert_ne!(first[0].hit_id, second[0].hit_id);
    let merge = m
        .insert(signal(5, "zvh", "2026-02", &[(Person, 1), (Address, 5)]))
        .unwrap();
    let grew: Vec<_> = merge.iter().filter(|e| e.change == Change::Grew).collect();
    let dissolved: Vec<_> = merge
        .iter()
        .filter(|e| e.change == Change::Dissolved)
        .collect();
    assert_eq!(grew.len(), 1);
    assert_eq!(grew[0].hit_id, first[0].hit_id);
    assert_eq!(grew[0].members, BTreeSet::from([1, 2, 3, 4, 5]));
    assert_eq!(dissolved.len(), 1);
    assert_eq!(dissolved[0].hit_id, second[0].hit_id);
    assert_eq!(m.hits().count(), 1);
}

#[test]
fn withdrawal_dissolves_shrinks_and_splits() {
    let mut m = matcher();
    m.insert(signal(1, "politie", "2026-01", &[(Person, 1)]))
        .unwrap();
    let formed = m
        .insert(signal(2, "gemeente", "2026-01", &[(Person, 1)]))
        .unwrap();
    let id = formed[0].hit_id.clone();
    m.insert(signal(3, "nla", "2026-01", &[(Person, 1)]))
        .unwrap();

    let shrank = m.remove(3).unwrap();
    assert_eq!(shrank.len(), 1);
    assert_eq!(shrank[0].change, Change::Shrank);
    assert_eq!(shrank[0].hit_id, id);
    assert_eq!(shrank[0].members, BTreeSet::from([1, 2]));

    let dissolved = m.remove(1).unwrap();
    assert_eq!(dissolved.len(), 1);
    assert_eq!(dissolved[0].change, Change::Dissolved);
    assert_eq!(dissolved[0].members, BTreeSet::from([1, 2]));
    assert_eq!(m.hits().count(), 0);
    assert!(
        m.remove(1).unwrap().is_empty(),
        "withdrawing twice changes nothing"
    );

    // A bridge removed: one hit becomes two.
    let mut m = matcher();
    m.insert(signal(1, "politie", "2026-01", &[(Person, 1)]))
        .unwrap();
    m.insert(signal(2, "gemeente", "2026-01", &[(Person, 1)]))
        .unwrap();
    m.insert(signal(3, "nla", "2026-01", &[(Address, 2)]))
        .unwrap();
    m.insert(signal(4, "zvh", "2026-01", &[(Address, 2)]))
        .unwrap();
    m.insert(signal(
        5,
        "gemeente",
        "2026-01",
        &[(Person, 1), (Address, 2)],
    ))
    .unwrap();
    assert_eq!(m.hits().count(), 1);
    let split = m.remove(5).unwrap();
    let changes: Vec<_> = split.iter().map(|e| e.change).collect();
    assert!(
        changes.contains(&Change::Shrank) && changes.contains(&Change::Formed),
        "{changes:?}"
    );
    assert_eq!(
        members(&m).into_iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([BTreeSet::from([1, 2]), BTreeSet::from([3, 4])])
    );
}

#[test]
fn restoring_saved_state_continues_identically() {
    let mut a = matcher();
    let history = [
        signal(1, "politie", "2026-01", &[(Person, 1)]),
        signal(2, "gemeente", "2026-01", &[(Person, 1), (Address, 2)]),
        signal(3, "nla", "2026-01", &[(Address, 2)]),
    ];
    for s in history.clone() {
        a.insert(s).unwrap();
    }
    let mut b = matcher();
    b.restore(history.to_vec(), a.hits().cloned().collect());
    let next = signal(4, "zvh", "2026-02", &[(Address, 2)]);
    assert_eq!(a.insert(next.clone()).unwrap(), b.insert(next).unwrap());
}

proptest! {
    /// Whatever the order of arrival, the same signals end up in the same groups, and every
    /// group is a real hit: connected, at least two partners.
    #[test]
    fn components_do_not_depend_on_arrival_order(
        specs in proptest::collection::vec((0u8..4, 0u8..6, 0i32..3), 1..14),
        seed in any::<u64>(),
    ) {
        let partners = ["politie", "gemeente", "nla", "zvh"];
        let signals: Vec<SignalEntry> = specs
            .iter()
            .enumerate()
            .map(|(i, (p, k, month))| {
                let mut s = signal(i as Seq + 1, partners[*p as usize], "2026-01", &[(Person, *k)]);
                s.month += *month * 4;
                s
            })
            .collect();
        let mut forward = matcher();
        for s in signals.clone() {
            forward.insert(s).unwrap();
        }
        let mut shuffled = signals.clone();
        let mut state = seed;
        for i in (1..shuffled.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (state >> 33) as usize % (i + 1));
        }
        let mut other = matcher();
        for s in shuffled {
            other.insert(s).unwrap();
        }
        let a: BTreeSet<_> = members(&forward).into_iter().collect();
        let b: BTreeSet<_> = members(&other).into_iter().collect();
        prop_assert_eq!(&a, &b);
        for group in a {
            let distinct: BTreeSet<_> = group.iter().map(|s| signals[*s as usize - 1].partner.clone()).collect();
            prop_assert!(distinct.len() >= 2);
        }
    }
}

/// A coordinator database with only the coordinator's tables, in `dir`.
async fn store(dir: &std::path::Path) -> Store {
    Store::open(
        &Location::Sqlite(dir.join("coordinator.db")),
        &[&signaalnet_coordinator::schema::MIGRATIONS],
    )
    .await
    .unwrap()
}

/// Stores `signal` as the coordinator does; the store numbers it as the test did.
async fn insert(conn: &mut AnyConnection, signal: &SignalEntry) {
    let seq = insert_signal(conn, signal, "test", 0).await.unwrap();
    assert_eq!(seq, Some(signal.seq));
}

/// What the coordinator loads before matching `new` (`load.rs`): every stored signal reachable
/// from its keys through shared keys. Returns the sequence numbers loaded.
async fn hold(conn: &mut AnyConnection, matcher: &mut Matcher, new: &SignalEntry) -> Vec<Seq> {
    let keys: Vec<Key> = new
        .keys
        .iter()
        .map(|(k, p)| (new.purpose.clone(), *k, *p))
        .collect();
    hold_reachable(conn, matcher, keys).await.unwrap()
}

#[tokio::test]
async fn a_matcher_holding_only_hits_links_through_loaded_signals() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let mut conn = store.pool().acquire().await.unwrap();
    let stored = [
        signal(1, "gemeente", "2026-01", &[(Person, 1)]),
        signal(2, "gemeente", "2026-01", &[(Person, 1), (Address, 2)]),
        signal(3, "gemeente", "2026-01", &[(Address, 9)]),
    ];
    let mut m = matcher();
    for s in stored.clone() {
        insert(&mut conn, &s).await;
        assert!(m.insert(s).unwrap().is_empty());
    }
    assert_eq!(m.evict_unmatched([1, 2, 3]), 3);
    assert_eq!(m.signals().count(), 0);
    // A new partner's signal shares a key only with signal 2, which links to 1.
    let new = signal(4, "nla", "2026-02", &[(Address, 2)]);
    let mut loaded = hold(&mut conn, &mut m, &new).await;
    loaded.sort_unstable();
    assert_eq!(loaded, vec![1, 2]);
    assert_eq!(m.signals().count(), 2, "1 and 2 are reachable, 3 is not");
    let events = m.insert(new).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].change, Change::Formed);
    assert_eq!(events[0].members, BTreeSet::from([1, 2, 4]));
    // Members of a hit are never let go; the hit is unchanged by eviction.
    assert_eq!(m.evict_unmatched([1, 2, 3, 4]), 0);
    assert_eq!(members(&m), vec![BTreeSet::from([1, 2, 4])]);
    // Withdrawing one member dissolves the hit; its members can then be let go.
    let events = m.remove(4).unwrap();
    assert_eq!(events[0].change, Change::Dissolved);
    assert_eq!(m.evict_unmatched([1, 2]), 2);
    assert_eq!(m.signals().count(), 0);
}

proptest! {
    /// Holding only the signals in hits, and loading back what a new signal can reach before
    /// matching it, gives exactly the hit changes of holding every signal.
    #[test]
    fn holding_only_hits_matches_like_holding_everything(
        specs in proptest::collection::vec((0u8..4, 0u8..5, 0u8..5, 0i32..3), 1..16),
    ) {
        let partners = ["politie", "gemeente", "nla", "zvh"];
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        runtime.block_on(async {
            let store = store(dir.path()).await;
            let mut conn = store.pool().acquire().await.unwrap();
            let mut everything = matcher();
            let mut lean = matcher();
            let mut stored: Vec<SignalEntry> = Vec::new();
            for (i, (p, a, b, month)) in specs.iter().enumerate() {
                let seq = i as Seq + 1;
                let mut s = signal(seq, partners[*p as usize], "2026-01", &[(Person, *a), (Address, *b)]);
                s.month += *month * 4;
                hold(&mut conn, &mut lean, &s).await;
                let expected = everything.insert(s.clone()).unwrap();
                insert(&mut conn, &s).await;
                prop_assert_eq!(lean.insert(s.clone()).unwrap(), expected);
                stored.push(s);
                let all: Vec<Seq> = stored.iter().map(|s| s.seq).collect();
                lean.evict_unmatched(all);
                prop_assert_eq!(members(&lean), members(&everything));
                let in_hits: usize = lean.hits().map(|h| h.members.len()).sum();
                prop_assert_eq!(lean.signals().count(), in_hits);
            }
            Ok(())
        })?;
    }
}
