//! Role configuration: a TOML file (unknown fields refused) with environment overrides.
//!
//! Every key can be overridden by `SIGNAALNET_<ROLE>__<KEY>`, nested tables joined by `__`:
//! `SIGNAALNET_TRANSCRYPTOR__LISTEN=0.0.0.0:7101`, `SIGNAALNET_TRANSCRYPTOR__TLS__CERT=/run/…`.
//! Values are read as TOML when they parse as a TOML value (numbers, booleans) and as strings
//! otherwise.

use crate::{StartError, WithPath};
use serde::de::DeserializeOwned;
use std::path::Path;

/// Reads `path` as role `role`'s configuration, with the environment's overrides applied.
pub fn load<T: DeserializeOwned>(path: &Path, role: &str) -> Result<T, StartError> {
    let problem = |message: String| StartError::Config {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).with_path(path)?;
    let mut value: toml::Table =
        toml::from_str(&text).map_err(|e| problem(format!("not valid TOML: {e}")))?;
    let prefix = format!("SIGNAALNET_{}__", role.to_ascii_uppercase());
    for (name, raw) in std::env::vars() {
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        set(&mut value, &keys, parse_value(&raw))
            .map_err(|e| problem(format!("environment variable {name}: {e}")))?;
    }
    toml::Value::Table(value)
        .try_into()
        .map_err(|e| problem(format!("(with environment overrides) {e}")))
}

fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

fn set(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    match keys {
        [] => Err("names no key".to_owned()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(inner) = entry else {
                return Err(format!("`{first}` is not a table"));
            };
            set(inner, rest, value)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        listen: String,
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        size: u32,
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn environment_overrides_nested_keys_with_typed_values() {
        let f = file("listen = \"127.0.0.1:1\"\n[inner]\nsize = 1\n");
        std::env::set_var("SIGNAALNET_CFGTEST1__INNER__SIZE", "42");
        std::env::set_var("SIGNAALNET_CFGTEST1__LISTEN", "0.0.0.0:9");
        let s: Sample = load(f.path(), "cfgtest1").unwrap();
        assert_eq!(s.inner.size, 42);
        assert_eq!(s.listen, "0.0.0.0:9");
    }

    #[test]
    fn unknown_keys_are_refused_from_file_and_environment() {
        let f = file("listen = \"x\"\nlisten_port = 3\n[inner]\nsize = 1\n");
        let err = load::<Sample>(f.path(), "cfgtest2")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen_port"), "{err}");

        let f = file("listen = \"x\"\n[inner]\nsize = 1\n");
        std::env::set_var("SIGNAALNET_CFGTEST3__INNER__SIEZ", "3");
        let err = load::<Sample>(f.path(), "cfgtest3")
            .unwrap_err()
            .to_string();
        assert!(err.contains("siez"), "{err}");
    }
}
