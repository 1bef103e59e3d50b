//! `signaalnet analyst` against the chain as separate processes: the RIEC lists the hits of its
//! analysis purpose, reads one, reads the monitor as a table, JSON and CSV; a purpose it has no
//! view on is refused with exit code 1, an unreachable coordinator is exit code 3, a broken
//! config exit code 2.
#![allow(clippy::unwrap_used)] // test fixtures

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analyst_cli_reads_hits_and_the_monitor_as_the_organisation() {
    let chain = common::start(None).await;
    van_hit(&chain, "CLI").await;
    let config = chain.analyst_config(RIEC).unwrap();
    let config = config.to_str().unwrap();
    let analyst = |args: &[&str]| {
        let mut all = vec!["analyst", "--config", config];
        all.extend_from_slice(args);
        signaalnet(&all)
    };

    // The hit, for people and for scripts.
    let (code, out, err) = analyst(&["hits", "--purpose", RIEC_ANALYSE]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("1 hit(s) of riec_integrale_analyse"),
        "{out}"
    );
    assert!(out.contains("vehicle") && out.contains("vorm_uitbuiting=arbeidsuitbuiting"));
    let (code, out, err) = analyst(&["hits", "--purpose", RIEC_ANALYSE, "--json"]);
    assert_eq!(code, 0, "{err}");
    let hits: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(hits.as_array().unwrap().len(), 1);
    let hit = &hits[0];
    assert_eq!(hit["signal_count"], 2);
    assert_eq!(hit["attributes"]["vorm_uitbuiting"], "arbeidsuitbuiting");
    let hit_id = hit["hit_id"].as_str().unwrap();
    let (code, out, _) = analyst(&["hit", "--purpose", RIEC_ANALYSE, hit_id, "--json"]);
    assert_eq!(code, 0);
    let one: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(&one, hit);
    // A filter that no hit passes: none.
    let (code, out, _) = analyst(&[
        "hits",
        "--purpose",
        RIEC_ANALYSE,
        "--filter",
        "vorm_uitbuiting=seksuele_uitbuiting",
        "--json",
    ]);
    assert_eq!((code, out.trim()), (0, "[]"));
    // Nothing identifying in any output: no case reference, no plate, no KvK number.
    for text in [&out, &one.to_string()] {
        for raw in ["NLA-CLI-1", "PL-CLI-1", "12ab34", "12-AB-34", "68750110"] {
            assert!(!text.contains(raw), "{raw} in {text}");
        }
    }

    // The monitor: the signals are too new to count (counting delay), and each format says so.
    let (code, out, err) = analyst(&["monitor", "--purpose", MONITOR, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let table: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(table["method"]["name"], "cell_key");
    assert_eq!(table["total"]["status"], "suppressed");
    assert!(table["policy_version"]
        .as_str()
        .is_some_and(|v| !v.is_empty()));
    let (code, out, _) = analyst(&[
        "monitor",
        "--purpose",
        MONITOR,
        "--dimension",
        "gemeente",
        "--period",
        "2026",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("gemeente,count,status,method,noise_bound,counts,period"));
    assert!(lines
        .last()
        .unwrap()
        .starts_with("totaal,,suppressed,cell_key,2,signals,2026,"));

    // Refused: a purpose without a view (exit 1, the rule named); usage (2); unreachable (3).
    let (code, _, err) = analyst(&["hits", "--purpose", DRIELUIK]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("PermissionDenied"), "{err}");
    let (code, _, err) = analyst(&["hits", "--purpose", RIEC_ANALYSE, "--filter", "nonsense"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = signaalnet(&[
        "analyst",
        "--config",
        "/nonexistent.toml",
        "hits",
        "--purpose",
        "x",
    ]);
    assert_eq!(code, 2, "{err}");
    let text = std::fs::read_to_string(config).unwrap();
    let url = text.split('"').nth(1).unwrap();
    let nowhere = chain.dir().join("nowhere.toml");
    std::fs::write(&nowhere, text.replace(url, "https://127.0.0.1:1")).unwrap();
    let (code, _, err) = signaalnet(&[
        "analyst",
        "--config",
        nowhere.to_str().unwrap(),
        "hits",
        "--purpose",
        RIEC_ANALYSE,
    ]);
    assert_eq!(code, 3, "{err}");
    chain.stop().await.unwrap();
}
