//! The deployment files hold together without a container runtime: every organisation's
//! configuration (`deploy/organisations/*/*.toml`) loads as its role loads it and fits the
//! region; Docker Compose (`deploy/compose`) and each Kubernetes overlay give every role each
//! file its configuration names, at the path it names, secrets as secrets, and the health checks
//! and network rules the calls of the architecture need; the Dockerfile's stages fit together;
//! and `deploy/compose/setup.sh` makes, party by party, every file the region mounts.
//!
//! Rendering the overlays (`kubectl kustomize`) and checking them against the Kubernetes schema
//! (`kubernetes-validate`) is in `.ci/run`, where the tools are.
#![allow(clippy::unwrap_used)] // the helpers too: a test that cannot read its files fails

use serde_yaml::Value;
use signaalnet_coordinator::role::CoordinatorConfig;
use signaalnet_node::role::NodeConfig;
use signaalnet_policy::PolicySet;
use signaalnet_tls::{RoleUrl, TlsFiles};
use signaalnet_transcryptor::role::TranscryptorConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One organisation's role, as its configuration file says.
struct Role {
    /// `deploy/organisations/<party>/`.
    party: String,
    role: &'static str,
    listen: SocketAddr,
    tls: TlsFiles,
    governance: Accountability,
    database_url: Option<String>,
    otlp_endpoint: Option<String>,
    /// The roles it calls: transcryptors in ceremony order, then the coordinator.
    calls: Vec<RoleUrl>,
    /// Every file and directory it reads or writes, and the secrets among them.
    paths: Vec<PathBuf>,
    secrets: Vec<PathBuf>,
    /// The partner id its certificate must belong to (a node's `partner`, a transcryptor's
    /// `name`), where the configuration says.
    partner: Option<String>,
}

/// The `[governance]` keys a deployment of separate organisations sets.
struct Accountability {
    policy_signers: Vec<PathBuf>,
    secrets_dir: Option<PathBuf>,
    ended_kept: Option<String>,
    witnesses: Vec<String>,
}

macro_rules! accountability {
    ($config:expr) => {
        Accountability {
            policy_signers: $config.governance.policy_signers.clone(),
            secrets_dir: $config.governance.secrets_dir.clone(),
            ended_kept: $config.governance.ended_kept.clone(),
            witnesses: $config.governance.witnesses.clone(),
        }
    };
}

fn roles() -> Vec<Role> {
    let dir = repo().join("deploy/organisations");
    let mut roles = Vec::new();
    let mut parties: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    parties.sort();
    for party_dir in parties {
        let party = party_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for entry in std::fs::read_dir(&party_dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            roles.push(load(&party, &stem, &path));
        }
    }
    assert_eq!(roles.len(), 7, "seven organisations, one role each");
    roles
}

fn load(party: &str, role: &str, path: &Path) -> Role {
    let shown = path.display();
    let common = |tls: &TlsFiles, governance: &Accountability, data_dir: &Path, policies: &Path| {
        let mut paths = vec![
            policies.to_owned(),
            tls.ca.clone(),
            tls.cert.clone(),
            tls.key.clone(),
            data_dir.to_owned(),
        ];
        paths.extend(tls.crl.iter().cloned());
        paths.extend(governance.policy_signers.iter().cloned());
        paths.extend(governance.secrets_dir.iter().cloned());
        paths
    };
    match role {
        "node" => {
            let c = NodeConfig::load(path).unwrap_or_else(|e| panic!("{shown}: {e}"));
            let governance = accountability!(c);
            let mut paths = common(&c.tls, &governance, &c.data_dir, &c.policies);
            paths.push(c.system_keys.clone());
            let mut calls = c.transcryptors.clone();
            calls.push(c.coordinator.clone());
            Role {
                party: party.to_owned(),
                role: "node",
                listen: c.listen,
                secrets: vec![c.tls.key.clone()],
                tls: c.tls,
                governance,
                database_url: c.database_url,
                otlp_endpoint: c.telemetry.otlp_endpoint,
                calls,
                paths,
                partner: Some(c.partner),
            }
        }
        "transcryptor" => {
            let c = TranscryptorConfig::load(path).unwrap_or_else(|e| panic!("{shown}: {e}"));
            let governance = accountability!(c);
            let mut paths = common(&c.tls, &governance, &c.data_dir, &c.policies);
            paths.extend([c.system_keys.clone(), c.keys.clone()]);
            Role {
                party: party.to_owned(),
                role: "transcryptor",
                listen: c.listen,
                secrets: vec![c.tls.key.clone(), c.keys.clone()],
                tls: c.tls,
                governance,
                database_url: c.database_url,
                otlp_endpoint: c.telemetry.otlp_endpoint,
                calls: Vec::new(),
                paths,
                partner: Some(c.name),
            }
        }
        "coordinator" => {
            let c = CoordinatorConfig::load(path).unwrap_or_else(|e| panic!("{shown}: {e}"));
            let governance = accountability!(c);
            let mut paths = common(&c.tls, &governance, &c.data_dir, &c.policies);
            paths.extend([c.system_keys.clone(), c.handle_key.clone()]);
            Role {
                party: party.to_owned(),
                role: "coordinator",
                listen: c.listen,
                secrets: vec![c.tls.key.clone(), c.handle_key.clone()],
                tls: c.tls,
                governance,
                database_url: c.database_url,
                otlp_endpoint: c.telemetry.otlp_endpoint,
                calls: c.transcryptors,
                paths,
                partner: None,
            }
        }
        other => {
            panic!("{shown}: `{other}` is no role (node.toml, transcryptor.toml, coordinator.toml)")
        }
    }
}

fn host_port(url: &str) -> (String, u16) {
    let rest = url
        .strip_prefix("https://")
        .unwrap_or_else(|| panic!("{url}: not https"));
    let (host, port) = rest
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{url}: no port"));
    (host.to_owned(), port.parse().unwrap())
}

fn policy() -> PolicySet {
    PolicySet::load(&repo().join("policies")).unwrap()
}

#[test]
fn each_organisations_configuration_loads_and_fits_the_region() {
    let roles = roles();
    let policy = policy();
    let coordinator = roles.iter().find(|r| r.role == "coordinator").unwrap();
    let chain: Vec<&RoleUrl> = coordinator.calls.iter().collect();
    assert_eq!(chain.len(), 2);
    let oin_of = |id: &str| {
        let partner = policy.partners().find(|p| p.id == id).unwrap();
        partner.oins.clone()
    };
    for (i, t) in chain.iter().enumerate() {
        let pinned = t
            .oin()
            .expect("the coordinator pins each transcryptor's OIN");
        let partner = policy
            .partners()
            .find(|p| p.oins.iter().any(|o| o == pinned.as_str()))
            .unwrap_or_else(|| panic!("transcryptor {}: OIN {pinned:?} not in the policy", i + 1));
        assert_eq!(partner.role.as_str(), "transcryptor");
    }
    for role in &roles {
        let at = format!("{}/{}.toml", role.party, role.role);
        // What a deployment of separate organisations must set.
        assert!(
            !role.governance.policy_signers.is_empty(),
            "{at}: policy_signers"
        );
        assert!(!role.tls.crl.is_empty(), "{at}: [tls] crl");
        assert!(role.governance.secrets_dir.is_some(), "{at}: secrets_dir");
        let secrets_dir = role.governance.secrets_dir.clone().unwrap();
        assert!(
            !secrets_dir.starts_with(role.paths[4].as_path()),
            "{at}: secrets inside the data directory"
        );
        let ended = role.governance.ended_kept.as_deref().expect("ended_kept");
        signaalnet_policy::IsoDuration::parse(ended).unwrap_or_else(|e| panic!("{at}: {e}"));
        let url = role.database_url.as_deref().unwrap_or_default();
        assert!(url.starts_with("postgres://"), "{at}: PostgreSQL");
        let user = url["postgres://".len()..].split('@').next().unwrap();
        assert!(
            !user.contains(':'),
            "{at}: a password in database_url (it belongs in PGPASSFILE)"
        );
        assert!(
            role.otlp_endpoint.is_some(),
            "{at}: processing logs exported"
        );
        assert!(
            role.listen.ip().is_unspecified(),
            "{at}: listens on every interface of its container"
        );
        for path in &role.paths {
            assert!(path.is_absolute(), "{at}: {} is relative", path.display());
        }
        // Everything it calls is pinned, and in the coordinator's order of the chain.
        for called in &role.calls {
            assert!(
                called.oin().is_some(),
                "{at}: {} not pinned to an OIN",
                called.url()
            );
        }
        if role.role == "node" {
            let transcryptors: Vec<&RoleUrl> = role.calls[..2].iter().collect();
            assert_eq!(
                transcryptors, chain,
                "{at}: transcryptors in the ceremony's order"
            );
            let partner = role.partner.as_deref().unwrap();
            assert!(
                !oin_of(partner).is_empty(),
                "{at}: partner {partner} in the policy"
            );
            let coordinator_oin = role.calls[2].oin().unwrap().as_str().to_owned();
            assert_eq!(oin_of("coordinator_riec"), vec![coordinator_oin], "{at}");
        }
        // Witnesses are other organisations' coordinator or transcryptors, never itself.
        assert!(role.governance.witnesses.len() >= 2, "{at}: witnesses");
        let witnessing: BTreeSet<String> = chain
            .iter()
            .map(|t| t.url().to_owned())
            .chain([format!(
                "https://coordinator.riec.example:{}",
                coordinator.listen.port()
            )])
            .collect();
        for witness in &role.governance.witnesses {
            assert!(
                witnessing.contains(witness),
                "{at}: {witness} serves no witness"
            );
        }
        let own = own_url(role);
        assert!(
            !role.governance.witnesses.contains(&own),
            "{at}: witnesses itself"
        );
    }
}

/// The URL the other roles call `role` by: `https://<role>.<organisation>.example:<port>`.
fn own_url(role: &Role) -> String {
    let host = match role.role {
        "coordinator" => "coordinator.riec.example".to_owned(),
        other => format!("{other}.{}.example", role.party),
    };
    format!("https://{host}:{}", role.listen.port())
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml_documents(path: &Path) -> Vec<Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `path` lies at or under one of `mounts`.
fn provided(path: &Path, mounts: &[PathBuf]) -> bool {
    mounts.iter().any(|m| path.starts_with(m))
}

/// A compose file with YAML merge keys (`<<: *anchor`) resolved, as Compose reads it.
fn merged(mut value: Value) -> Value {
    value.apply_merge().unwrap();
    if let Value::Mapping(map) = &mut value {
        for (_, v) in map.iter_mut() {
            *v = merged(v.clone());
        }
    }
    value
}

#[test]
fn the_compose_region_mounts_what_each_configuration_reads() {
    let compose_dir = repo().join("deploy/compose");
    let compose = merged(yaml(&compose_dir.join("compose.yaml")));
    let services = compose["services"].as_mapping().unwrap();
    let top_secrets = compose["secrets"].as_mapping().unwrap();
    let networks = compose["networks"].as_mapping().unwrap();
    let setup = std::fs::read_to_string(compose_dir.join("setup.sh")).unwrap();
    let roles = roles();

    // Every host name a configuration calls is a role's alias on the network between
    // organisations, and its port the port that role listens on.
    let mut aliases: BTreeMap<String, (String, u16)> = BTreeMap::new();
    for role in &roles {
        let name = format!("{}-{}", role.party, role.role);
        let service = &services[name.as_str()];
        for alias in strings(&service["networks"]["region"]["aliases"]) {
            aliases.insert(alias, (name.clone(), role.listen.port()));
        }
    }
    for role in &roles {
        let urls = role
            .calls
            .iter()
            .map(|c| c.url().to_owned())
            .chain(role.governance.witnesses.iter().cloned());
        for url in urls {
            let (host, port) = host_port(&url);
            let (service, listening) = aliases
                .get(&host)
                .unwrap_or_else(|| panic!("{}: {host} is no role's alias", role.party));
            assert_eq!(
                *listening, port,
                "{}: {url} but {service} listens on {listening}",
                role.party
            );
        }
    }

    for role in &roles {
        let name = format!("{}-{}", role.party, role.role);
        let service = &services[name.as_str()];
        assert!(service.is_mapping(), "compose.yaml: no service {name}");
        let at = format!("compose.yaml {name}");
        let command = strings(&service["command"]);
        let config = format!("/etc/signaalnet/config/{}.toml", role.role);
        assert_eq!(command, [role.role, "--config", config.as_str()], "{at}");

        // Mounts: the configuration itself from deploy/organisations, the rest from state/.
        let mut mounts = Vec::new();
        for volume in strings(&service["volumes"]) {
            let parts: Vec<&str> = volume.split(':').collect();
            let (source, target) = (parts[0], parts[1]);
            if let Some(repo_file) = source.strip_prefix("../") {
                assert!(
                    repo().join("deploy").join(repo_file).exists(),
                    "{at}: {source} missing"
                );
            } else {
                let under = source
                    .strip_prefix("./state/")
                    .unwrap_or_else(|| panic!("{at}: {source}"));
                assert!(
                    under.starts_with(&format!("{}/", role.party)),
                    "{at}: mounts another party's {source}"
                );
                assert!(
                    setup.contains(under.split('/').nth(1).unwrap()),
                    "{at}: setup.sh makes no {source}"
                );
            }
            if target != "/var/lib/signaalnet" {
                assert_eq!(parts.get(2), Some(&"ro"), "{at}: {target} not read-only");
            }
            mounts.push(PathBuf::from(target));
        }
        assert!(
            mounts.contains(&PathBuf::from(&config)),
            "{at}: its configuration"
        );
        let mut secret_files = Vec::new();
        for secret in service["secrets"].as_sequence().unwrap() {
            let source = secret["source"].as_str().unwrap();
            let target = secret["target"].as_str().unwrap();
            let file = top_secrets
                .get(source)
                .unwrap_or_else(|| panic!("{at}: secret {source} not declared"))["file"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(
                file.starts_with(&format!("./state/{}/secrets/", role.party)),
                "{at}: secret {source} is {file}"
            );
            let base = Path::new(&file)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert!(setup.contains(&base), "{at}: setup.sh makes no {file}");
            secret_files.push(PathBuf::from("/run/secrets").join(target));
        }
        for path in &role.paths {
            assert!(
                provided(path, &mounts) || secret_files.contains(path),
                "{at}: {} is not mounted",
                path.display()
            );
        }
        for secret in &role.secrets {
            assert!(
                secret_files.contains(secret),
                "{at}: {} is not a Docker secret",
                secret.display()
            );
        }
        let pgpass = service["environment"]["PGPASSFILE"]
            .as_str()
            .expect("PGPASSFILE");
        assert!(
            secret_files.contains(&PathBuf::from(pgpass)),
            "{at}: PGPASSFILE"
        );

        // Health over mTLS on the port it listens on, under the name its certificate carries.
        let test = strings(&service["healthcheck"]["test"]);
        assert_eq!(
            test[..2],
            ["CMD", "/usr/local/bin/grpc_health_probe"],
            "{at}"
        );
        assert!(
            test.contains(&format!("-addr=127.0.0.1:{}", role.listen.port())),
            "{at}: {test:?}"
        );
        let alias = strings(&service["networks"]["region"]["aliases"]).remove(0);
        assert!(
            test.contains(&format!("-tls-server-name={alias}")),
            "{at}: {test:?}"
        );
        assert!(
            test.contains(&format!("-tls-client-key={}", role.tls.key.display())),
            "{at}"
        );

        // Its own PostgreSQL and Logboek, reachable on its organisation's network only.
        let own_net = role.party.as_str();
        assert_eq!(
            networks[own_net]["internal"].as_bool(),
            Some(true),
            "{at}: {own_net} internal"
        );
        let mut attached: Vec<String> = service["networks"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        attached.sort();
        let mut expected = vec!["region".to_owned(), own_net.to_owned()];
        expected.sort();
        assert_eq!(attached, expected, "{at}");
        for (helper, alias) in [("postgres", "postgres"), ("logboek", "logboek")] {
            let helper_service = &services[format!("{}-{helper}", role.party).as_str()];
            let helper_nets = helper_service["networks"].as_mapping().unwrap();
            assert_eq!(helper_nets.len(), 1, "{at}: {helper} on one network");
            assert_eq!(
                strings(&helper_nets[own_net]["aliases"]),
                [alias],
                "{at}: {helper}"
            );
        }
        let depends = service["depends_on"].as_mapping().unwrap();
        assert!(
            depends.contains_key(format!("{}-postgres", role.party).as_str()),
            "{at}"
        );
        assert!(
            role.database_url
                .as_deref()
                .unwrap()
                .contains("@postgres:5432/"),
            "{at}"
        );
        assert_eq!(
            role.otlp_endpoint.as_deref(),
            Some("http://logboek:4317"),
            "{at}"
        );
    }
    // The coordinator starts once it can fetch every transcryptor's key share.
    let coordinator = &services["riec-coordinator"]["depends_on"];
    assert!(coordinator["vng-transcryptor"]["condition"].as_str() == Some("service_healthy"));
    assert!(coordinator["jenv-transcryptor"]["condition"].as_str() == Some("service_healthy"));
    // Repository files mounted into the helpers exist.
    for (name, service) in services {
        for volume in strings(&service["volumes"]) {
            let source = volume.split(':').next().unwrap();
            if source.starts_with("./") && !source.starts_with("./state/") {
                assert!(
                    compose_dir.join(source).exists(),
                    "{name:?}: {source} missing"
                );
            }
        }
    }
}

/// The Kubernetes resources of one organisation: its overlay and the bases it names, parsed
/// from the files (kustomize's own rendering is checked in .ci/run).
struct Overlay {
    kustomization: Value,
    resources: Vec<Value>,
}

fn overlay(party: &str) -> Overlay {
    let dir = repo().join("deploy/organisations").join(party);
    let kustomization = yaml(&dir.join("kustomization.yaml"));
    let mut resources = Vec::new();
    for base in strings(&kustomization["resources"]) {
        let base_dir = dir.join(&base);
        let base_k = yaml(&base_dir.join("kustomization.yaml"));
        for file in strings(&base_k["resources"]) {
            resources.extend(yaml_documents(&base_dir.join(file)));
        }
        for generator in base_k["configMapGenerator"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            for file in strings(&generator["files"]) {
                let source = file.rsplit('=').next().unwrap();
                assert!(base_dir.join(source).exists(), "{base}: {source} missing");
            }
        }
    }
    Overlay {
        kustomization,
        resources,
    }
}

fn of_kind<'a>(resources: &'a [Value], kind: &str) -> Vec<&'a Value> {
    resources
        .iter()
        .filter(|r| r["kind"].as_str() == Some(kind))
        .collect()
}

fn ports(rules: &Value) -> BTreeSet<u64> {
    rules
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|rule| rule["ports"].as_sequence().cloned().unwrap_or_default())
        .filter_map(|p| p["port"].as_u64())
        .collect()
}

#[test]
fn each_kubernetes_overlay_gives_its_role_what_it_reads_and_only_the_calls_it_needs() {
    for role in roles() {
        let at = format!("deploy/organisations/{}", role.party);
        let overlay = overlay(&role.party);
        let generated: Vec<String> = overlay.kustomization["configMapGenerator"]
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(|g| strings(&g["files"]))
            .collect();
        assert_eq!(
            generated,
            [format!("{}.toml", role.role)],
            "{at}: its configuration"
        );
        assert!(
            overlay.kustomization["namespace"].is_string(),
            "{at}: namespace"
        );
        assert!(
            overlay.kustomization["images"][0]["newTag"].is_string(),
            "{at}: image tag"
        );

        let sets = of_kind(&overlay.resources, "StatefulSet");
        assert_eq!(sets.len(), 1, "{at}: one StatefulSet");
        let set = sets[0];
        assert_eq!(
            set["spec"]["replicas"].as_u64(),
            Some(1),
            "{at}: exactly one replica"
        );
        let pod = &set["spec"]["template"];
        let labels = pod["metadata"]["labels"].as_mapping().unwrap();
        assert_eq!(
            labels.get("signaalnet.nl/role").and_then(Value::as_str),
            Some(role.role)
        );
        let container = &pod["spec"]["containers"][0];
        let args = strings(&container["args"]);
        let config = format!("/etc/signaalnet/config/{}.toml", role.role);
        assert_eq!(args, [role.role, "--config", config.as_str()], "{at}");
        assert_eq!(
            container["ports"][0]["containerPort"].as_u64(),
            Some(u64::from(role.listen.port())),
            "{at}"
        );
        assert_eq!(
            pod["spec"]["securityContext"]["runAsNonRoot"].as_bool(),
            Some(true)
        );
        assert!(
            container["resources"]["requests"]["memory"].is_string(),
            "{at}: requests"
        );
        assert!(
            container["resources"]["limits"]["memory"].is_string(),
            "{at}: limits"
        );
        for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
            let command = strings(&container[probe]["exec"]["command"]);
            assert_eq!(
                command.first().map(String::as_str),
                Some("/usr/local/bin/grpc_health_probe")
            );
            assert!(
                command.contains(&format!("-addr=127.0.0.1:{}", role.listen.port())),
                "{at}: {probe}"
            );
            assert!(
                command.contains(&format!("-tls-client-key={}", role.tls.key.display())),
                "{at}"
            );
        }

        // Every path the configuration names is mounted; secrets come from the in-memory
        // copy the init container makes.
        let mut mounts: Vec<PathBuf> = container["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|m| PathBuf::from(m["mountPath"].as_str().unwrap()))
            .collect();
        mounts.sort();
        for path in role.paths.iter().chain([PathBuf::from(&config)].iter()) {
            assert!(
                provided(path, &mounts),
                "{at}: {} is not mounted",
                path.display()
            );
        }
        let secret_files: Vec<String> = pod["spec"]["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|v| v["name"].as_str() == Some("secret-files"))
            .flat_map(|v| {
                v["projected"]["sources"]
                    .as_sequence()
                    .cloned()
                    .unwrap_or_default()
            })
            .flat_map(|s| {
                s["secret"]["items"]
                    .as_sequence()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|i| i["path"].as_str().map(|p| format!("/run/secrets/{p}")))
            .collect();
        for secret in role
            .secrets
            .iter()
            .chain([PathBuf::from("/run/secrets/pgpass")].iter())
        {
            assert!(
                secret_files.contains(&secret.display().to_string()),
                "{at}: {} is not from a Secret",
                secret.display()
            );
        }

        // The NetworkPolicy of the role: its port in; out, the ports of what it calls.
        let policies: Vec<&Value> = of_kind(&overlay.resources, "NetworkPolicy")
            .into_iter()
            .filter(|p| {
                p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                    == pod["metadata"]["labels"]["app.kubernetes.io/name"]
            })
            .collect();
        assert_eq!(
            policies.len(),
            1,
            "{at}: one NetworkPolicy for the {}",
            role.role
        );
        let spec = &policies[0]["spec"];
        assert_eq!(strings(&spec["policyTypes"]), ["Ingress", "Egress"], "{at}");
        let ingress = ports(&spec["ingress"]);
        assert_eq!(
            ingress,
            BTreeSet::from([u64::from(role.listen.port())]),
            "{at}: ingress"
        );
        let egress = ports(&spec["egress"]);
        let mut needed: BTreeSet<u64> = [5432, 4317, 53].into();
        for url in role
            .calls
            .iter()
            .map(|c| c.url().to_owned())
            .chain(role.governance.witnesses.iter().cloned())
        {
            needed.insert(u64::from(host_port(&url).1));
        }
        assert_eq!(egress, needed, "{at}: egress");
        // A node takes calls from its own organisation only.
        if role.role == "node" {
            let from = &spec["ingress"][0]["from"];
            assert!(
                from.as_sequence()
                    .unwrap()
                    .iter()
                    .all(|peer| peer["ipBlock"].is_null()),
                "{at}: a node accepts no other organisation"
            );
        }
    }
}

#[test]
fn the_dockerfile_builds_one_nonroot_image_at_the_pinned_toolchain() {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    // Instructions, with continuation lines joined and comments dropped.
    let mut instructions: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.is_empty() && current.is_empty() {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            instructions.push(std::mem::take(&mut current));
        }
    }
    let arg = |name: &str| {
        instructions
            .iter()
            .find_map(|i| i.strip_prefix(&format!("ARG {name}=")).map(str::to_owned))
            .unwrap_or_else(|| panic!("Dockerfile: no default for ARG {name}"))
    };
    assert_eq!(arg("SIGNAALNET_VERSION"), env!("CARGO_PKG_VERSION"));
    let toolchain = std::fs::read_to_string(repo().join("rust-toolchain.toml")).unwrap();
    assert!(toolchain.contains(&format!("channel = \"{}\"", arg("RUST_VERSION"))));

    let mut stages: Vec<String> = Vec::new();
    let mut last_stage = Vec::new();
    for instruction in &instructions {
        let (keyword, rest) = instruction.split_once(' ').unwrap_or((instruction, ""));
        match keyword {
            "FROM" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                assert_eq!(words.len(), 3, "FROM image AS name: {instruction}");
                assert!(words[1].eq_ignore_ascii_case("as"));
                stages.push(words[2].to_owned());
                last_stage.clear();
            }
            "COPY" => {
                if let Some(from) = rest
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("--from="))
                {
                    assert!(
                        stages[..stages.len() - 1].iter().any(|s| s == from),
                        "COPY --from={from}: no earlier stage"
                    );
                }
            }
            "HEALTHCHECK" => panic!("no HEALTHCHECK: the orchestrator probes grpc.health.v1"),
            _ => {}
        }
        assert!(
            !stages.is_empty() || keyword == "ARG",
            "Dockerfile: {instruction} before the first FROM"
        );
        last_stage.push(instruction.clone());
    }
    assert_eq!(stages, ["build", "probe", "runtime"]);
    let runtime_from = instructions
        .iter()
        .rfind(|i| i.starts_with("FROM "))
        .unwrap();
    assert!(
        runtime_from.contains("distroless") && runtime_from.contains(":nonroot"),
        "{runtime_from}"
    );
    assert!(
        last_stage.iter().any(|i| i == "USER 65532:65532"),
        "a non-root user"
    );
    assert!(last_stage
        .iter()
        .any(|i| i.contains("org.opencontainers.image.version=\"${SIGNAALNET_VERSION}\"")));
    assert!(last_stage
        .iter()
        .any(|i| i == "ENTRYPOINT [\"/usr/local/bin/signaalnet\"]"));
    assert!(
        last_stage.iter().all(|i| !i.starts_with("RUN ")),
        "no RUN (no shell) in the runtime image"
    );

    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    for excluded in ["target/", "dev/", "**/*.key", "**/*.secret"] {
        assert!(
            ignore.lines().any(|l| l == excluded),
            ".dockerignore: {excluded}"
        );
    }
}

/// Runs `deploy/compose/setup.sh` with this build's binary into a temporary directory and
/// checks what each party ends up with against what the region mounts: certificates carrying
/// the OIN each configuration expects and verifying with the CA and its revocation list, the
/// signed policy set, the ceremony record, secrets readable by their owner only.
#[test]
fn the_setup_script_makes_every_file_the_region_mounts() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIPPED the_setup_script_makes_every_file_the_region_mounts: no openssl");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let output = Command::new("bash")
        .arg(repo().join("deploy/compose/setup.sh"))
        .env("SIGNAALNET_BIN", env!("CARGO_BIN_EXE_signaalnet"))
        .env("SIGNAALNET_STATE", &state)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "setup.sh failed:\n{said}");
    let compose = merged(yaml(&repo().join("deploy/compose/compose.yaml")));
    let policy = policy();
    let roles = roles();
    // What the others pin for each party's host name.
    let mut pinned: BTreeMap<String, String> = BTreeMap::new();
    for role in &roles {
        for called in &role.calls {
            let host = host_port(called.url()).0;
            pinned.insert(host, called.oin().unwrap().as_str().to_owned());
        }
    }
    for role in &roles {
        let at = format!("state/{}", role.party);
        let host_path = |container: &Path| -> PathBuf {
            let service = &compose["services"][format!("{}-{}", role.party, role.role).as_str()];
            for volume in strings(&service["volumes"]) {
                let parts: Vec<&str> = volume.split(':').collect();
                if let (Some(source), Ok(rest)) = (
                    parts[0].strip_prefix("./state/"),
                    container.strip_prefix(parts[1]),
                ) {
                    return state.join(source).join(rest);
                }
            }
            for secret in service["secrets"].as_sequence().unwrap() {
                if container == Path::new("/run/secrets").join(secret["target"].as_str().unwrap()) {
                    let file = compose["secrets"][secret["source"].as_str().unwrap()]["file"]
                        .as_str()
                        .unwrap();
                    return state.join(file.strip_prefix("./state/").unwrap());
                }
            }
            panic!("{at}: {} not mounted", container.display())
        };
        for path in &role.paths {
            let on_host = host_path(path);
            assert!(
                on_host.exists(),
                "{at}: {} ({}) missing",
                on_host.display(),
                path.display()
            );
        }
        for secret in role
            .secrets
            .iter()
            .chain([PathBuf::from("/run/secrets/pgpass")].iter())
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(host_path(secret))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode & 0o077, 0, "{at}: {} mode {mode:o}", secret.display());
        }
        let tls = TlsFiles {
            ca: host_path(&role.tls.ca),
            cert: host_path(&role.tls.cert),
            key: host_path(&role.tls.key),
            crl: role.tls.crl.iter().map(|c| host_path(c)).collect(),
        };
        signaalnet_tls::Trust::load(&tls).unwrap_or_else(|e| panic!("{at}: {e}"));
        let oin = tls.own_oin().unwrap().as_str().to_owned();
        let expected = match role.role {
            "node" => {
                let id = role.partner.as_deref().unwrap();
                policy.partners().find(|p| p.id == id).unwrap().oins[0].clone()
            }
            _ => pinned[&host_port(&own_url(role)).0].clone(),
        };
        assert_eq!(oin, expected, "{at}: the certificate's OIN");
        let policies = host_path(Path::new("/etc/signaalnet/policies"));
        for signer in &role.governance.policy_signers {
            let signer = host_path(signer);
            let verify = Command::new(env!("CARGO_BIN_EXE_signaalnet"))
                .args(["policy", "verify"])
                .arg(&policies)
                .arg("--signer")
                .arg(&signer)
                .output()
                .unwrap();
            assert!(
                verify.status.success(),
                "{at}: {}",
                String::from_utf8_lossy(&verify.stderr)
            );
        }
    }
    // No party's directory holds another party's secret: each transcryptor's secrets are in its
    // own directory only, the handle key in the coordinator's.
    for (file, owner) in [
        ("transcryptor-secrets.json", ["vng", "jenv"].as_slice()),
        ("handle.key", &["riec"]),
    ] {
        for role in &roles {
            let present = state.join(&role.party).join("secrets").join(file).exists();
            assert_eq!(
                present,
                owner.contains(&role.party.as_str()),
                "{}: {file}",
                role.party
            );
        }
    }
}
