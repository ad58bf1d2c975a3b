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

#[cfg(test)]
mod tests {
    use super::*;

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
