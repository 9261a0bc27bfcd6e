//! The body of a merchant request as Octopus signs and reads it: every top-level JSON field with
//! its value as text. Strings are decoded (`\/` is `/`, `\u0e2a` is the character); a JSON
//! number keeps its literal text; any other JSON type is refused, as are repeated keys.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Why a request body could not be read as fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("The request body is not valid JSON.")]
    Malformed,
    #[error("The request body must be a JSON object.")]
    NotAnObject,
    #[error("The '{0}' field must be a string.")]
    WrongType(String),
    #[error("The '{0}' field appears more than once.")]
    Repeated(String),
}

/// Top-level fields of a request body, sorted by key (byte order), values as text. It
/// serializes as the JSON object of strings that [`RequestFields::to_json`] writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RequestFields(BTreeMap<String, String>);

impl RequestFields {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a JSON request body.
    pub fn from_json(body: &[u8]) -> Result<Self, FieldError> {
        let raw: RawFields<'_> = match serde_json::from_slice(body) {
            Ok(raw) => raw,
            Err(e) => {
                if let Some(field) = e.to_string().strip_prefix(REPEATED_PREFIX) {
                    let field = field.split(REPEATED_SUFFIX).next().unwrap_or_default();
                    return Err(FieldError::Repeated(field.to_string()));
                }
                // Valid JSON of another shape (an array, a string) is a different mistake.
                return Err(if serde_json::from_slice::<IgnoredAny>(body).is_ok() {
                    FieldError::NotAnObject
                } else {
                    FieldError::Malformed
                });
            }
        };
        let mut fields = BTreeMap::new();
        for (key, value) in raw.0 {
            let Some(decoded) = scalar_text(value.get()) else {
                return Err(FieldError::WrongType(key));
            };
            fields.insert(key, decoded);
        }
        Ok(RequestFields(fields))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// A field's value, or `None` when it is absent or empty.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    /// Fields in signing order (sorted by key, byte order).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn has_empty_values(&self) -> bool {
        self.0.values().any(String::is_empty)
    }

    /// The body as a JSON object of strings (what the client library sends).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a map of strings always serializes")
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for RequestFields {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        RequestFields(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

const REPEATED_PREFIX: &str = "repeated field '";
const REPEATED_SUFFIX: &str = "'";

/// A JSON value (its raw text) as the text it stands for: a string decoded (`\/` is `/`,
/// `\u0e2a` the character), a number exactly as written (`100.50` stays `100.50`); None for
/// any other type. Merchant fields, signed as they were sent, and amounts reported by
/// upstreams are both read this way.
pub fn scalar_text(raw: &str) -> Option<String> {
    match raw.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(raw).ok(),
        Some(b'-' | b'0'..=b'9') => Some(raw.to_string()),
        _ => None,
    }
}

/// A JSON object read without losing number literals and refusing repeated keys.
struct RawFields<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for RawFields<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for FieldsVisitor<'a> {
            type Value = RawFields<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut seen = std::collections::BTreeSet::new();
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: &'a RawValue = map.next_value()?;
                    if !seen.insert(key.clone()) {
                        return Err(de::Error::custom(format!(
                            "{REPEATED_PREFIX}{key}{REPEATED_SUFFIX}"
                        )));
                    }
                    out.push((key, value));
                }
                Ok(RawFields(out))
            }
        }
        deserializer.deserialize_map(FieldsVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_strings_and_keeps_number_literals() {
        let f = RequestFields::from_json(
            br#"{"b":"https:\/\/x.test\/n","a":100.50,"c":"\u0e2a","d":""}"#,
        )
        .unwrap();
        let pairs: Vec<_> = f.iter().collect();
        assert_eq!(
            pairs,
            vec![
                ("a", "100.50"),
                ("b", "https://x.test/n"),
                ("c", "ส"),
                ("d", "")
            ]
        );
    }

    #[test]
    fn refuses_other_types_and_shapes() {
        assert_eq!(
            RequestFields::from_json(br#"{"amount":true}"#),
            Err(FieldError::WrongType("amount".into()))
        );
        assert_eq!(
            RequestFields::from_json(br#"{"x":{"y":1}}"#),
            Err(FieldError::WrongType("x".into()))
        );
        assert_eq!(
            RequestFields::from_json(br#"{"x":null}"#),
            Err(FieldError::WrongType("x".into()))
        );
        assert_eq!(
            RequestFields::from_json(br#"[1,2]"#),
            Err(FieldError::NotAnObject)
        );
        assert_eq!(
            RequestFields::from_json(br#"{"a":"#),
            Err(FieldError::Malformed)
        );
        assert_eq!(RequestFields::from_json(b""), Err(FieldError::Malformed));
        assert_eq!(
            RequestFields::from_json(br#"{"a":"1","a":"2"}"#),
            Err(FieldError::Repeated("a".into()))
        );
    }
}
