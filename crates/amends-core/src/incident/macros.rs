//! Boilerplate shared by the newtypes and the contract enums of `incident`.
//!
//! Macros are textually scoped: `mod.rs` declares this module first (with `#[macro_use]`), so every
//! sibling module declared after it can use them.

/// String plumbing for a newtype that has `parse(&str) -> Result<Self, InvalidValue>` and
/// `as_str(&self) -> &str`: `AsRef<str>`, `Display`, `FromStr`, and serde as the plain string
/// (deserializing validates through `parse`, so config files get the same checks as events).
macro_rules! string_newtype {
    ($t:ty) => {
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $t {
            type Err = crate::incident::InvalidValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(deserializer)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A closed set of contract strings as a `Copy` enum with `ALL`, `as_str`, `parse`, `Display`,
/// `FromStr` and serde as the contract string.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $s:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in contract order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The contract string, e.g. as it appears in the event.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $s ),+
                }
            }

            /// Parses the exact contract string (case-sensitive).
            pub fn parse(s: &str) -> Result<Self, crate::incident::InvalidValue> {
                match s {
                    $( $s => Ok($name::$variant), )+
                    _ => Err(crate::incident::InvalidValue::new(format!(
                        "{} is not one of {}",
                        crate::incident::error::quote(s),
                        [$($s),+].join(", ")
                    ))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::incident::InvalidValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(deserializer)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
