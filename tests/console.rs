//! The web console in a real browser: the chain as processes, `signaalnet console` as a
//! process, and headless Chromium (driven by chromedriver through fantoccini) holding an
//! analyst's personal certificate in its NSS database, selected for the console by the
//! `AutoSelectCertificateForUrls` policy. The analyst logs in, lists hits, filters, opens one,
//! reads the monitor, is refused a purpose without a view, and reads the privacy officer's
//! pages; every page is kept as a screenshot under `target/console-screenshots/`. The console's
//! audit trail must name the person for each query. Without curl, the HTTP-level checks: an
//! organisation's certificate is no person, a cross-site request is refused, the headers.
//!
//! Skipped (with a message) only when `chromium` or `chromedriver` is not installed; `.ci/run`
//! installs them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test fixtures

mod common;

use common::*;
use fantoccini::{ClientBuilder, Locator};
use signaalnet_devchain::console::{console_config, personal_certificate, ConsolePerson};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's Chromium reads the policies an administrator sets.
const POLICY_DIR: &str = "/etc/chromium/policies/managed";
const POLICY_FILE: &str = "signaalnet-console-test.json";
const CA_CN: &str = "signaalnet development CA (not for production)";

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Kills a child process when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver in a process group of its own, killed whole when dropped: the Chromium it
/// starts outlives a killed chromedriver, and would outlive a failed test.
struct ProcessGroup(Child);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A home for Chromium with an NSS database that trusts the development CA for websites and
/// holds the person's certificate and key.
fn browser_home(dir: &Path, certs: &Path, person: &Path, key: &Path) -> PathBuf {
    let home = dir.join("browser-home");
    let nss = home.join(".pki/nssdb");
    std::fs::create_dir_all(&nss).unwrap();
    let db = format!("sql:{}", nss.display());
    run("certutil", &["-N", "-d", &db, "--empty-password"]);
    let ca = certs.join("ca.pem");
    run(
        "certutil",
        &[
            "-A",
            "-d",
            &db,
            "-n",
            "signaalnet-dev-ca",
            "-t",
            "C,,",
            "-i",
            ca.to_str().unwrap(),
        ],
    );
    let p12 = dir.join("person.p12");
    run(
        "openssl",
        &[
            "pkcs12",
            "-export",
            "-in",
            person.to_str().unwrap(),
            "-inkey",
            key.to_str().unwrap(),
            "-out",
            p12.to_str().unwrap(),
            "-passout",
            "pass:",
            "-name",
            "personal",
        ],
    );
    run(
        "pk12util",
        &["-i", p12.to_str().unwrap(), "-d", &db, "-W", ""],
    );
    home
}

/// Chromium selects a certificate of the development CA for the console without asking
/// (headless Chromium has nobody to ask). Written only when missing or different.
fn certificate_policy() -> Result<(), String> {
    let rule = serde_json::json!({
        "pattern": "https://127.0.0.1:*",
        "filter": { "ISSUER": { "CN": CA_CN } }
    });
    let policy = serde_json::json!({ "AutoSelectCertificateForUrls": [rule.to_string()] });
    let path = Path::new(POLICY_DIR).join(POLICY_FILE);
    let text = serde_json::to_string_pretty(&policy).unwrap();
    if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    std::fs::create_dir_all(POLICY_DIR)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(browser: &fantoccini::Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// The page's text; read again while a navigation replaces the page under it.
async fn text(browser: &fantoccini::Client) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let read = match browser.find(Locator::Css("body")).await {
            Ok(body) => body.text().await,
            Err(e) => Err(e),
        };
        match read {
            Ok(text) => return text,
            Err(e) if Instant::now() < deadline => {
                eprintln!("reading the page again: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the page could not be read: {e}"),
        }
    }
}

/// Clicks what `locator` finds and waits until the browser is on another URL.
async fn click_to_next_page(browser: &fantoccini::Client, locator: Locator<'_>) {
    let before = browser.current_url().await.unwrap();
    browser.find(locator).await.unwrap().click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while browser.current_url().await.unwrap() == before {
        assert!(
            Instant::now() < deadline,
            "the click led nowhere from {before}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The new URL is committed; wait until its document is complete.
    while browser
        .execute("return document.readyState", vec![])
        .await
        .unwrap()
        != serde_json::json!("complete")
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Nothing a partner submitted that identifies anyone, nor a case reference.
const RAW: [&str; 5] = ["NLA-WEB-1", "PL-WEB-1", "12ab34", "12-AB-34", "68750110"];

fn assert_no_identifier(page: &str, source: &str) {
    for raw in RAW {
        assert!(!page.contains(raw) && !source.contains(raw), "{raw} shown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_uses_the_console_in_a_browser_with_a_personal_certificate() {
    for program in ["chromium", "chromedriver"] {
        if !installed(program) {
            eprintln!(
                "SKIPPED: `{program}` is not installed (apt-get install chromium chromium-driver; \
                 .ci/run does)"
            );
            return;
        }
    }
    for program in ["certutil", "pk12util", "openssl", "curl"] {
        assert!(
            installed(program),
            "`{program}` is missing: apt-get install libnss3-tools openssl curl (.ci/run does)"
        );
    }
    certificate_policy().expect("Chromium's certificate policy could not be written");
    let started = Instant::now();

    let chain = common::start(None).await;
    // A past year for the monitor (the ZVH Drenthe 2023 year, as history: a new chain's own
    // signals count only after the delay).
    signaalnet_devchain::history::seed_drenthe_2023(&chain)
        .await
        .unwrap();
    van_hit(&chain, "WEB").await;

    // The RIEC's console, with one analyst who is also its privacy officer.
    let analyst = personal_certificate(
        &chain.certs(),
        "analist.a.devries",
        "A. de Vries",
        "RIEC Noord-Nederland",
    )
    .unwrap();
    // A second analyst, not the privacy officer.
    let colleague = personal_certificate(
        &chain.certs(),
        "analist.b.smit",
        "B. Smit",
        "RIEC Noord-Nederland",
    )
    .unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}").parse().unwrap();
    let config = console_config(
        &chain,
        RIEC,
        listen,
        &[
            ConsolePerson {
                certificate: analyst.clone(),
                roles: vec!["riec_analist".into()],
                privacy_officer: true,
            },
            ConsolePerson {
                certificate: colleague.clone(),
                roles: vec!["riec_analist".into()],
                privacy_officer: false,
            },
        ],
    )
    .unwrap();
    let console_log = std::fs::File::create(chain.dir().join("console.log")).unwrap();
    let _console = Process(
        Command::new(env!("CARGO_BIN_EXE_signaalnet"))
            .args(["console", "--config", config.to_str().unwrap()])
            .stdout(console_log.try_clone().unwrap())
            .stderr(console_log)
            .spawn()
            .unwrap(),
    );
    wait_for_port(port, "the console").await;
    let base = format!("https://127.0.0.1:{port}");

    // Below the browser: an organisation's certificate from the same CA is no person; a
    // cross-site request is refused; every answer carries the security headers.
    let tls = chain.tls(RIEC);
    let curl = |cert: &Path, key: &Path, extra: &[&str], path: &str| {
        let out = Command::new("curl")
            .args(["-s", "-i", "--cacert"])
            .arg(&tls.ca)
            .arg("--cert")
            .arg(cert)
            .arg("--key")
            .arg(key)
            .args(extra)
            .arg(format!("{base}{path}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let organisation = curl(&tls.cert, &tls.key, &[], "/");
    assert!(organisation.starts_with("HTTP/2 403"), "{organisation}");
    assert!(organisation.contains("hoort bij niemand"), "{organisation}");
    let cross = curl(
        &analyst.cert,
        &analyst.key,
        &["-H", "Sec-Fetch-Site: cross-site"],
        "/hits?purpose=riec_integrale_analyse",
    );
    assert!(cross.starts_with("HTTP/2 403"), "{cross}");
    let home = curl(&analyst.cert, &analyst.key, &[], "/");
    assert!(home.starts_with("HTTP/2 200"), "{home}");
    for header in [
        "content-security-policy: default-src 'none'; style-src 'self'",
        "strict-transport-security: max-age=31536000",
        "cache-control: no-store",
        "x-frame-options: DENY",
    ] {
        assert!(home.contains(header), "{header} missing in {home}");
    }
    assert!(!home.contains("<script"), "{home}");
    // The colleague is an analyst, not the privacy officer: refused those pages, in words.
    let officer_only = curl(&colleague.cert, &colleague.key, &[], "/privacy/register");
    assert!(officer_only.starts_with("HTTP/2 403"), "{officer_only}");
    assert!(
        officer_only.contains("Alleen voor de privacy officer"),
        "{officer_only}"
    );
    assert!(
        officer_only.contains("content-security-policy:"),
        "{officer_only}"
    );
    let own = curl(&colleague.cert, &colleague.key, &[], "/");
    assert!(
        own.contains("Ingelogd als <strong>B. Smit</strong>"),
        "{own}"
    );
    // A person whose certificate is revoked is refused from the next reload of the lists on
    // (the development chain's console re-reads them every second).
    signaalnet_tls::dev::revoke(&chain.certs(), &["analist.b.smit".to_owned()]).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let revoked = curl(&colleague.cert, &colleague.key, &[], "/");
    assert!(
        revoked.is_empty(),
        "the handshake should have been refused: {revoked}"
    );
    let csv = curl(
        &analyst.cert,
        &analyst.key,
        &[],
        "/monitor.csv?purpose=monitor_aard_omvang&dimension=gemeente",
    );
    assert!(
        csv.contains("text/csv") && csv.contains("gemeente,count,status,method"),
        "{csv}"
    );

    // The browser, with the analyst's certificate.
    let dir = tempfile::tempdir().unwrap();
    let home_dir = browser_home(dir.path(), &chain.certs(), &analyst.cert, &analyst.key);
    let driver_port = free_port();
    let _driver = ProcessGroup(
        Command::new("chromedriver")
            .process_group(0)
            .arg(format!("--port={driver_port}"))
            .env("HOME", &home_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(driver_port, "chromedriver").await;
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1280,1500",
                format!("--user-data-dir={}", dir.path().join("profile").display()),
            ]
        }),
    );
    // A page that does not load (no certificate selected) fails in seconds, not minutes.
    capabilities.insert(
        "timeouts".into(),
        serde_json::json!({ "pageLoad": 20_000, "script": 5_000, "implicit": 0 }),
    );
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("chromedriver session");

    // Logged in by the certificate: the start page names the person and their purposes.
    browser.goto(&format!("{base}/")).await.unwrap();
    let page = text(&browser).await;
    shot(&browser, "1-start").await;
    assert!(page.contains("Ingelogd als A. de Vries"), "{page}");
    assert!(page.contains(&analyst.serial), "{page}");
    assert!(
        page.contains(RIEC_ANALYSE) && page.contains(MONITOR),
        "{page}"
    );
    assert!(!page.contains(DRIELUIK), "no view on the Drieluik: {page}");

    // The hits of the analysis purpose: the one hit of the van.
    click_to_next_page(
        &browser,
        Locator::LinkText(&format!("Hits van {RIEC_ANALYSE}")),
    )
    .await;
    let page = text(&browser).await;
    shot(&browser, "2-hits").await;
    assert!(page.contains("1 hit(s) op deze pagina"), "{page}");
    assert!(page.contains("voertuig (kenteken)"), "{page}");
    assert!(
        page.contains("Arbeidsinspectie") && page.contains("politie"),
        "{page}"
    );
    assert_no_identifier(&page, &browser.source().await.unwrap());

    // Filters: a form of exploitation no hit has (the coordinator's), a partner kind that is
    // in it and one that is not (the console's).
    let select = browser
        .find(Locator::Id("f-vorm_uitbuiting"))
        .await
        .unwrap();
    select.select_by_value("seksuele_uitbuiting").await.unwrap();
    click_to_next_page(&browser, Locator::Css("form.filters button")).await;
    let page = text(&browser).await;
    assert!(page.contains("0 hit(s) op deze pagina"), "{page}");
    shot(&browser, "3-hits-filtered").await;
    for (partner, expected) in [("politie", "1 hit(s)"), ("gemeente", "0 hit(s)")] {
        browser
            .goto(&format!(
                "{base}/hits?purpose={RIEC_ANALYSE}&partner={partner}&linked=vehicle"
            ))
            .await
            .unwrap();
        let page = text(&browser).await;
        assert!(page.contains(expected), "{partner}: {page}");
    }

    // One hit: handles per kind, partner kinds, attributes.
    browser
        .goto(&format!("{base}/hits?purpose={RIEC_ANALYSE}"))
        .await
        .unwrap();
    click_to_next_page(&browser, Locator::Css("td a.handle")).await;
    let page = text(&browser).await;
    shot(&browser, "4-hit").await;
    assert!(page.contains("Hit hit-"), "{page}");
    assert!(
        page.contains("voertuig (kenteken)") && page.contains("h-"),
        "{page}"
    );
    assert!(
        page.contains("arbeidsuitbuiting") && page.contains("Aantal signalen\n2"),
        "{page}"
    );
    assert_no_identifier(&page, &browser.source().await.unwrap());

    // The monitor: the method named, the total its own cell (the signals are too new to
    // count yet, so it is suppressed), a chart per table.
    browser.goto(&format!("{base}/monitor")).await.unwrap();
    let page = text(&browser).await;
    let source = browser.source().await.unwrap();
    shot(&browser, "5-monitor").await;
    assert!(page.contains("Methode: cell_key"), "{page}");
    assert!(
        page.contains("Per Gemeente") || page.contains("Per gemeente"),
        "{page}"
    );
    // The Drenthe year's large cells: Emmen (15) and seksuele uitbuiting (28), perturbed.
    assert!(page.contains("GM0114") || page.contains("Emmen"), "{page}");
    assert!(page.contains("seksuele"), "{page}");
    assert!(page.contains("≈"), "perturbed counts are marked: {page}");
    assert_eq!(source.matches("<svg").count(), 3, "three charts");
    assert!(source.contains("/monitor.csv?purpose=monitor_aard_omvang"));

    // A purpose the person has no view on: refused, by the console, in words.
    browser
        .goto(&format!("{base}/hits?purpose={DRIELUIK}"))
        .await
        .unwrap();
    let page = text(&browser).await;
    shot(&browser, "6-refused").await;
    assert!(page.contains("Geen inzage in dit doel"), "{page}");
    assert!(page.contains("RIEC-analist"), "{page}");

    // The privacy officer's pages.
    browser
        .goto(&format!("{base}/privacy/roles"))
        .await
        .unwrap();
    let page = text(&browser).await;
    shot(&browser, "7-roles").await;
    assert!(
        page.contains("coördinator") && page.contains("transcryptor_vng"),
        "{page}"
    );
    assert!(page.contains("(gelijk aan de console)"), "{page}");
    assert!(
        !page.contains("anders dan de console") && !page.contains("Niet bereikbaar"),
        "{page}"
    );
    browser
        .goto(&format!("{base}/privacy/explain"))
        .await
        .unwrap();
    let page = text(&browser).await;
    shot(&browser, "8-explain").await;
    assert!(
        page.contains("deelt: nla")
            && page.contains("ziet: riec_analist")
            && page.contains("kenmerk: Vorm van uitbuiting (vorm_uitbuiting)")
            && page.contains("gegeven: voertuig (kenteken) (alleen als pseudoniem)"),
        "{page}"
    );
    browser
        .goto(&format!("{base}/privacy/register"))
        .await
        .unwrap();
    let page = text(&browser).await;
    shot(&browser, "9-register").await;
    assert!(
        page.contains("Register van verwerkingsactiviteiten"),
        "{page}"
    );
    browser
        .goto(&format!("{base}/privacy/audit"))
        .await
        .unwrap();
    let page = text(&browser).await;
    shot(&browser, "10-audit").await;
    assert!(page.contains("Status\nintact"), "{page}");
    browser.close().await.unwrap();

    // The console's trail names the person for what they saw and what was refused.
    let db = chain.dir().join(format!("data/console-{RIEC}/console.db"));
    let store = signaalnet_store::Store::open_read_only(&signaalnet_store::Location::Sqlite(db))
        .await
        .unwrap();
    let entries = signaalnet_audit::entries(&store, &Default::default())
        .await
        .unwrap();
    let person = format!("person:analist.a.devries#{}", analyst.serial);
    let by_person = |step: &str, purpose: &str| {
        entries
            .iter()
            .filter(|e| e.step == step && e.purpose == purpose && e.actor_role == person)
            .collect::<Vec<_>>()
    };
    let listed = by_person("analyst_query", RIEC_ANALYSE);
    assert!(
        listed.iter().any(|e| e.refs.contains("hit:hit-")),
        "{entries:#?}"
    );
    assert!(
        listed.iter().any(|e| e.refs.contains("handle:h-")),
        "the hit page's handles: {entries:#?}"
    );
    assert!(
        !by_person("monitor_query", MONITOR).is_empty(),
        "{entries:#?}"
    );
    assert!(!by_person("refuse", DRIELUIK).is_empty(), "{entries:#?}");
    let colleague_refused = entries.iter().any(|e| {
        e.step == "refuse"
            && e.actor_role == format!("person:analist.b.smit#{}", colleague.serial)
            && e.detail.contains("not a privacy officer")
    });
    assert!(colleague_refused, "{entries:#?}");
    for e in &entries {
        assert_no_identifier(&e.refs, &e.detail);
    }
    let elapsed = started.elapsed();
    eprintln!("the console's browser test took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(120), "{elapsed:?}");
}

#[test]
fn the_development_console_configuration_loads_and_points_at_the_development_coordinator() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/dev");
    let console = signaalnet_console::ConsoleConfig::load(&dir.join("console.toml")).unwrap();
    let coordinator =
        signaalnet_coordinator::role::CoordinatorConfig::load(&dir.join("coordinator.toml"))
            .unwrap();
    assert_eq!(
        console.coordinator.url(),
        format!("https://{}", coordinator.listen)
    );
    assert_eq!(console.people.len(), 2);
    assert!(console.tls.cert.ends_with("riec_noord_nederland.pem"));
    // Unknown keys are refused.
    let text = std::fs::read_to_string(dir.join("console.toml")).unwrap();
    let broken = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(broken.path(), format!("colour = \"blue\"\n{text}")).unwrap();
    let refused = signaalnet_console::ConsoleConfig::load(broken.path()).unwrap_err();
    assert!(refused.to_string().contains("colour"), "{refused}");
}
