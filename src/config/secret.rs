//! A secret in the config: `{ env = "NAME" }`, `{ file = "PATH" }`, or (for
//! tests only) a literal string. Resolved once at load; the value is held in a
//! `SecretString` and never printed.

use std::path::Path;

use chansync_sdk::SecretString;
use serde::Deserialize;

/// Where a secret comes from.
#[derive(Clone, Deserialize)]
#[serde(untagged)]
pub enum SecretSpec {
    Env { env: String },
    File { file: String },
    Literal(String),
}

impl std::fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSpec::Env { env } => write!(f, "{{ env = {env:?} }}"),
            SecretSpec::File { file } => write!(f, "{{ file = {file:?} }}"),
            SecretSpec::Literal(_) => f.write_str("<literal secret>"),
        }
    }
}

impl SecretSpec {
    /// Reads the secret; a relative file path is relative to the config file.
    pub fn resolve(&self, config_path: &Path) -> Result<SecretString, String> {
        let value = match self {
            SecretSpec::Env { env } => {
                std::env::var(env).map_err(|_| format!("environment variable {env} is not set"))?
            }
            SecretSpec::File { file } => {
                let p = Path::new(file);
                let p = if p.is_relative() {
                    config_path.parent().unwrap_or(Path::new(".")).join(p)
                } else {
                    p.to_owned()
                };
                std::fs::read_to_string(&p)
                    .map_err(|e| format!("cannot read secret file {}: {e}", p.display()))?
                    .trim_end_matches(['\n', '\r'])
                    .to_owned()
            }
            SecretSpec::Literal(s) => s.clone(),
        };
        if value.is_empty() {
            return Err("the secret is empty".into());
        }
        Ok(SecretString::from(value))
    }
}
