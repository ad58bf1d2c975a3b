//! A secret carried in a protocol message (an activation code, a PIN given to the
//! service): on the wire a plain JSON string, in memory a [`secrecy::SecretString`]
//! that is zeroized on drop and that `Debug` never prints.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret string field. Its JSON form is the string itself, unchanged; its `Debug`
/// form is `Secret(..)`, so a request logged by accident shows no secret.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value; the `String` is moved, not copied.
    pub fn new(value: String) -> Secret {
        Secret(SecretString::from(value))
    }

    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret::new(value.to_string())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl PartialEq for Secret {
    /// Compares without stopping at the first difference, so a comparison's time
    /// tells nothing about where two secrets differ.
    fn eq(&self, other: &Secret) -> bool {
        let (a, b) = (self.expose().as_bytes(), other.expose().as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for Secret {}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        // Deserialising into a String and moving it in leaves no second copy behind.
        String::deserialize(d).map(Secret::new)
    }
}

impl utoipa::PartialSchema for Secret {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .into()
    }
}

impl utoipa::ToSchema for Secret {}

/// Why a secret could not be taken from the environment. [`SecretEnvError::code`] is
/// stable: both binaries print it, and the CLI translates it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretEnvError {
    /// Both `VAR` and `VAR_FILE` are set: which one is meant is not clear.
    #[error("{var} and {var}_FILE are both set: set only one")]
    Conflict {
        /// The variable's name (without `_FILE`).
        var: String,
    },
    /// `VAR_FILE` names a file that cannot be read as UTF-8 text.
    #[error("{var}_FILE: cannot read {path}: {reason}")]
    Unreadable {
        /// The variable's name (without `_FILE`).
        var: String,
        /// The file it names.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// `VAR_FILE` names a file with nothing in it but a line end.
    #[error("{var}_FILE: {path} is empty")]
    Empty {
        /// The variable's name (without `_FILE`).
        var: String,
        /// The file it names.
        path: String,
    },
    /// `VAR` holds bytes that are not UTF-8.
    #[error("{var} is not valid UTF-8")]
    NotUnicode {
        /// The variable's name.
        var: String,
    },
}

impl SecretEnvError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            SecretEnvError::Conflict { .. } => "secret_env_conflict",
            SecretEnvError::Unreadable { .. } => "secret_file_unreadable",
            SecretEnvError::Empty { .. } => "secret_file_empty",
            SecretEnvError::NotUnicode { .. } => "secret_env_not_unicode",
        }
    }

    /// The variable concerned (without `_FILE`).
    pub fn var(&self) -> &str {
        match self {
            SecretEnvError::Conflict { var }
            | SecretEnvError::Unreadable { var, .. }
            | SecretEnvError::Empty { var, .. }
            | SecretEnvError::NotUnicode { var } => var,
        }
    }
}

/// A secret from the environment: the value of `var`, or the content of the file that
/// `var_FILE` names with its trailing line end removed (the form to prefer: a file
/// readable only by its owner does not show in `ps e` or `/proc/PID/environ`).
/// `Ok(None)` when neither is set; an empty `var_FILE` counts as not set.
///
/// The client and the CA service share this so that the rules are the same in both.
pub fn secret_from_env(var: &str) -> Result<Option<Secret>, SecretEnvError> {
    let file_var = format!("{var}_FILE");
    let file = std::env::var_os(&file_var).filter(|v| !v.is_empty());
    let value = match std::env::var(var) {
        Ok(v) => Some(v),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(SecretEnvError::NotUnicode {
                var: var.to_string(),
            })
        }
    };
    match (value, file) {
        (Some(_), Some(_)) => Err(SecretEnvError::Conflict {
            var: var.to_string(),
        }),
        (Some(v), None) => Ok(Some(Secret::new(v))),
        (None, None) => Ok(None),
        (None, Some(path)) => {
            let shown = std::path::Path::new(&path).display().to_string();
            let mut text =
                std::fs::read_to_string(&path).map_err(|e| SecretEnvError::Unreadable {
                    var: var.to_string(),
                    path: shown.clone(),
                    reason: e.to_string(),
                })?;
            // Cut in place: the secret is never copied into a second buffer.
            let keep = text.trim_end_matches(['\r', '\n']).len();
            text.truncate(keep);
            let secret = Secret::new(text);
            if secret.expose().is_empty() {
                return Err(SecretEnvError::Empty {
                    var: var.to_string(),
                    path: shown,
                });
            }
            Ok(Some(secret))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_comes_from_var_or_from_var_file_never_both() {
        // Names of this test's own: the process environment is shared by the tests.
        let dir = std::env::temp_dir().join(format!("certkey-secret-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pin");
        std::fs::write(&file, "135790\r\n").unwrap();
        let empty = dir.join("empty");
        std::fs::write(&empty, "\n").unwrap();

        assert_eq!(secret_from_env("CERTKEY_TEST_SECRET_A").unwrap(), None);
        std::env::set_var("CERTKEY_TEST_SECRET_A_FILE", &file);
        let s = secret_from_env("CERTKEY_TEST_SECRET_A").unwrap().unwrap();
        assert_eq!(s.expose(), "135790");
        std::env::set_var("CERTKEY_TEST_SECRET_A", "135790");
        let e = secret_from_env("CERTKEY_TEST_SECRET_A").unwrap_err();
        assert_eq!(e.code(), "secret_env_conflict");

        std::env::set_var("CERTKEY_TEST_SECRET_B_FILE", &empty);
        let e = secret_from_env("CERTKEY_TEST_SECRET_B").unwrap_err();
        assert_eq!(e.code(), "secret_file_empty");
        std::env::set_var("CERTKEY_TEST_SECRET_B_FILE", dir.join("missing"));
        let e = secret_from_env("CERTKEY_TEST_SECRET_B").unwrap_err();
        assert_eq!(e.code(), "secret_file_unreadable");
        assert_eq!(e.var(), "CERTKEY_TEST_SECRET_B");
        // An empty _FILE is no file: the plain variable is used.
        std::env::set_var("CERTKEY_TEST_SECRET_B_FILE", "");
        std::env::set_var("CERTKEY_TEST_SECRET_B", "plain");
        assert_eq!(
            secret_from_env("CERTKEY_TEST_SECRET_B")
                .unwrap()
                .unwrap()
                .expose(),
            "plain"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_wire_form_is_the_plain_string_and_debug_shows_none_of_it() {
        let s: Secret = serde_json::from_str(r#""123456""#).unwrap();
        assert_eq!(s.expose(), "123456");
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""123456""#);
        assert_eq!(format!("{s:?}"), "Secret(..)");
        assert_eq!(s, Secret::from("123456"));
        assert_ne!(s, Secret::from("123457"));
        assert_ne!(s, Secret::from("12345"));
    }
}
