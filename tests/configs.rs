//! The configuration files under `deploy/dev` load as the role commands load them.

use signaalnet_coordinator::role::CoordinatorConfig;
use signaalnet_node::role::NodeConfig;
use signaalnet_transcryptor::role::TranscryptorConfig;
use std::path::Path;

#[test]
fn the_development_configurations_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/dev");
    let coordinator = CoordinatorConfig::load(&dir.join("coordinator.toml")).unwrap();
    assert_eq!(coordinator.transcryptors.len(), 2);
    let mut listens = vec![coordinator.listen];
    for name in ["gemeente", "politie", "nla", "zvh"] {
        let node = NodeConfig::load(&dir.join(format!("node-{name}.toml"))).unwrap();
        assert_eq!(node.transcryptors, coordinator.transcryptors);
        assert!(node.tls.cert.ends_with(format!("{}.pem", node.partner)));
        listens.push(node.listen);
    }
    for i in [1, 2] {
        let t = TranscryptorConfig::load(&dir.join(format!("transcryptor-{i}.toml"))).unwrap();
        assert_eq!(t.coordinator_context, coordinator.coordinator_context);
        listens.push(t.listen);
    }
    listens.sort();
    listens.dedup();
    assert_eq!(listens.len(), 7, "every role on its own port");
}

#[test]
fn every_development_role_is_witnessed_by_other_roles() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/dev");
    let coordinator = CoordinatorConfig::load(&dir.join("coordinator.toml")).unwrap();
    let witnessing: Vec<String> = coordinator
        .transcryptors
        .iter()
        .map(|t| t.url().to_owned())
        .chain([format!("https://{}", coordinator.listen)])
        .collect();
    let mut roles = vec![(coordinator.listen, coordinator.governance)];
    for name in ["gemeente", "politie", "nla", "zvh"] {
        let node = NodeConfig::load(&dir.join(format!("node-{name}.toml"))).unwrap();
        roles.push((node.listen, node.governance));
    }
    for i in [1, 2] {
        let t = TranscryptorConfig::load(&dir.join(format!("transcryptor-{i}.toml"))).unwrap();
        roles.push((t.listen, t.governance));
    }
    for (listen, governance) in roles {
        assert!(governance.witnesses.len() >= 2, "{listen}: {governance:?}");
        for witness in &governance.witnesses {
            assert!(
                witnessing.contains(witness),
                "{listen}: {witness} serves no witness"
            );
            assert_ne!(
                *witness,
                format!("https://{listen}"),
                "{listen} witnesses itself"
            );
        }
    }
}

#[test]
fn the_development_analyst_config_names_the_development_coordinator() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/dev");
    let coordinator = CoordinatorConfig::load(&dir.join("coordinator.toml")).unwrap();
    let text = std::fs::read_to_string(dir.join("analyst.toml")).unwrap();
    assert!(text.contains(&format!("url = \"https://{}\"", coordinator.listen)));
    assert!(text.contains(&format!(
        "ca = {:?}",
        coordinator.tls.ca.display().to_string()
    )));
}
