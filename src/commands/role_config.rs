//! Which role a configuration file was written for. Each role's configuration refuses keys it
//! does not know, so a file given to the wrong role used to fail on the first foreign key
//! ("unknown field `handle_key`"); this names the mismatch instead.

use std::path::Path;

/// The top-level keys only one role's configuration has.
const OWN_KEYS: [(&str, &[&str]); 4] = [
    ("coordinator", &["handle_key"]),
    // Not `coordinator`: the console's and the analyst CLI's configs name one too.
    ("node", &["partner", "secret"]),
    ("transcryptor", &["keys", "name", "rate_limit"]),
    ("console", &["https", "person"]),
];

/// Loads `path` as `role`'s configuration with `load`. When that fails and the file is plainly
/// another role's, the error says so, and `hint` (given that role) says what to run instead.
pub fn load_as<T, E>(
    path: &Path,
    role: &str,
    load: impl FnOnce(&Path) -> Result<T, E>,
    hint: impl FnOnce(&str) -> String,
) -> anyhow::Result<T>
where
    E: Into<anyhow::Error>,
{
    load(path).map_err(|e| match written_for(path) {
        Some(actual) if actual != role => anyhow::anyhow!(
            "{}: this is a {actual} config, not a {role} config ({})",
            path.display(),
            hint(actual)
        ),
        _ => e.into(),
    })
}

/// The role whose own keys the file at `path` has; `None` when it cannot be read, is not
/// TOML, or has the keys of no role or of several.
pub fn written_for(path: &Path) -> Option<&'static str> {
    let table: toml::Table = toml::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let mut roles = OWN_KEYS
        .iter()
        .filter(|(_, keys)| keys.iter().any(|k| table.contains_key(*k)))
        .map(|(role, _)| *role);
    match (roles.next(), roles.next()) {
        (Some(role), None) => Some(role),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every development config is recognised as its own role's.
    #[test]
    fn the_dev_configs_are_recognised() {
        let dev = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/dev");
        for (file, role) in [
            ("coordinator.toml", "coordinator"),
            ("node-gemeente.toml", "node"),
            ("node-politie.toml", "node"),
            ("transcryptor-1.toml", "transcryptor"),
            ("transcryptor-2.toml", "transcryptor"),
            ("console.toml", "console"),
        ] {
            assert_eq!(written_for(&dev.join(file)), Some(role), "{file}");
        }
        // The analyst CLI's config is no role's.
        assert_eq!(written_for(&dev.join("analyst.toml")), None);
    }
}
