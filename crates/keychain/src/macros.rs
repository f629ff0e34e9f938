//! The one macro that gives an enum its canonical (KMS) spelling.

/// Defines a fieldless enum whose variants have a canonical upper-case name (the AWS KMS
/// spelling), with `as_str`, `ALL`, `Display`, case-insensitive `FromStr` (which also accepts
/// `-` for `_`) and serde as that string. Extra accepted spellings go in `aliases`.
macro_rules! kms_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical (AWS KMS) spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::Error;

            fn from_str(s: &str) -> $crate::Result<Self> {
                let wanted = s.trim().replace('-', "_").to_ascii_uppercase();
                $(
                    if wanted == $text $(|| wanted == $alias.replace('-', "_").to_ascii_uppercase())* {
                        return Ok($name::$variant);
                    }
                )+
                Err($crate::Error::invalid_input(format!(
                    "unknown {} {:?}; expected one of: {}",
                    stringify!($name),
                    s,
                    [$($text),+].join(", ")
                )))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use kms_enum;
