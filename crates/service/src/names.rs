//! The sets of names some answers write as plain text, as the API's description lists
//! them. Each set is read from the one list of the crate that writes the names.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

/// A text schema whose value is one of `names`.
fn one_of(description: &str, names: &[&str]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(names.iter().copied()))
        .into()
}

macro_rules! name_set {
    ($(#[$doc:meta])* $name:ident as $shown:literal, $description:literal, $names:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                one_of($description, $names)
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                $shown.into()
            }
        }
    };
}

name_set!(
    /// A webhook event name ([`sanalpos_store::WEBHOOK_EVENTS`]).
    EventName as "EventName",
    "A webhook event name.",
    sanalpos_store::WEBHOOK_EVENTS
);

name_set!(
    /// Where the provider's view of a reconciliation run came from.
    ReconSource as "ReconSource",
    "Where the provider's view of a run came from: its report API, or a statement file.",
    crate::recon::SOURCES
);

name_set!(
    /// What became of a decided reconciliation exception.
    ReconResolutionName as "Resolution",
    "What became of a decided exception.",
    crate::recon::RESOLUTIONS
);
