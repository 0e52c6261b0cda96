//! Typed request and response models of the Platform API endpoints herald uses.
//!
//! Field names are the exact camelCase names of the official SDK models; every field Genesys documents as optional
//! is an `Option`, unknown fields are ignored, and enums keep values they do not know ([`string_enum!`] types have an
//! `Other(String)` variant), so a new upstream value never breaks decoding.

pub mod analytics;
pub mod chat;
pub mod conversation;
pub mod messaging;
pub mod notifications;
pub mod presence;
pub mod responses;

use serde::{Deserialize, Serialize};

/// Defines a string enum that compares case-insensitively on input, writes its canonical spelling, and keeps
/// unknown values in `Other`.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version of herald does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The value as Genesys spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Other(s) => s.as_str(),
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $( if s.eq_ignore_ascii_case($text) { return $name::$variant; } )*
                $name::Other(s.to_string())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok($name::from(s.as_str()))
            }
        }
    };
}
pub(crate) use string_enum;

/// A reference to another entity: `{id, name?, selfUri?}` (DomainEntityRef / UriReference in the SDKs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityRef {
    /// The entity id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

impl EntityRef {
    /// A reference carrying only an id.
    pub fn id(id: impl Into<String>) -> Self {
        EntityRef { id: Some(id.into()), ..Default::default() }
    }
}

/// A page of entities: `{entities, pageSize, pageNumber, total, pageCount, ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityListing<T> {
    /// The entities of this page.
    #[serde(default = "Vec::new")]
    pub entities: Vec<T>,
    /// Page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// Page number (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_number: Option<u32>,
    /// Total entities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Number of pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_count: Option<u32>,
}

/// An address of a messaging endpoint (`fromAddress`/`toAddress` of participants and communications).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Name as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_raw: Option<String>,
    /// Normalised address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_normalized: Option<String>,
    /// Address as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_raw: Option<String>,
    /// Address for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_displayable: Option<String>,
}

string_enum! {
    /// `inbound` / `outbound`.
    Direction {
        /// Towards Genesys.
        Inbound = "inbound",
        /// From Genesys.
        Outbound = "outbound",
    }
}

#[cfg(test)]
mod tests;
