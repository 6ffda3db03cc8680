//! The small enums that text columns hold.
//!
//! Every enum is stored as its snake_case name (`as_str` / `parse`), so a row reads the
//! same in `psql`, `sqlite3` and the JSON API.

use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:tt),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored (and JSON) name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Reads a stored name.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Where a stored card stands.
    StoredCardState {
        /// Kept at the provider; can pay.
        Active => "active",
        /// Deleted by its owner, but the provider has not confirmed it yet: cannot pay,
        /// still shown, and a background pass asks the provider again.
        Deleting => "deleting",
        /// Gone from the provider's vault.
        Deleted => "deleted",
    }
);

text_enum!(
    /// Where a payment stands (design.md "Payment statuses").
    PaymentStatus {
        /// Sent to the provider, answer not yet in.
        Processing => "processing",
        /// Waiting for the cardholder at the bank's 3D page.
        Pending3ds => "pending_3ds",
        /// Charged.
        Approved => "approved",
        /// The bank said no.
        Declined => "declined",
        /// Technical error, nothing charged.
        Failed => "failed",
        /// We cannot tell yet whether the card was charged; the janitor finds out.
        Unknown => "unknown",
        /// Cancelled (voided) on its business day.
        Cancelled => "cancelled",
        /// Part of the amount refunded.
        PartiallyRefunded => "partially_refunded",
        /// All of the amount refunded.
        Refunded => "refunded",
        /// 3D never finished.
        Expired => "expired",
        /// Refused by an abuse limit before the provider heard of it (card or IP
        /// velocity, or a locked checkout session): nothing sent, nothing charged.
        Blocked => "blocked",
        /// Pre-authorised: the amount is blocked on the card, waiting for a capture or
        /// a release (by a person, or by the janitor when the hold period ends).
        Authorized => "authorized",
        /// A capture of the pre-authorisation is with the provider, answer not yet in.
        Capturing => "capturing",
        /// A release of the pre-authorisation is with the provider, answer not yet in.
        Releasing => "releasing",
        /// The pre-authorisation was released: the block is freed, nothing was charged.
        Released => "released",
    }
);

impl PaymentStatus {
    /// Whether nothing more will happen to the payment by itself.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            PaymentStatus::Processing
                | PaymentStatus::Pending3ds
                | PaymentStatus::Unknown
                | PaymentStatus::Authorized
                | PaymentStatus::Capturing
                | PaymentStatus::Releasing
        )
    }
}

text_enum!(
    /// How a payment reached us.
    Channel {
        /// The REST API (web shop, ERP).
        Api => "api",
        /// The hosted payment page.
        Hosted => "hosted",
        /// Staff taking a card by phone in the back office.
        Moto => "moto",
        /// Entered by hand.
        Manual => "manual",
        /// Entered from a reconciliation exception.
        Reconciliation => "reconciliation",
    }
);

text_enum!(
    /// What a user may do.
    Role {
        /// Everything, including companies, POS definitions, users and keys.
        Admin => "admin",
        /// Browse, export, cancel, refund, reconcile.
        Accountant => "accountant",
        /// Take payments.
        Collector => "collector",
        /// Read only.
        Viewer => "viewer",
    }
);

text_enum!(
    /// Which of the provider's systems a POS talks to.
    Environment {
        /// The built-in simulator.
        Simulator => "simulator",
        /// The provider's test (sandbox) system.
        Test => "test",
        /// The real thing.
        Production => "production",
    }
);

text_enum!(
    /// The merchant agreement's onboarding progress; only `active` charges.
    OnboardingState {
        /// Application filed.
        Applied => "applied",
        /// The provider made an offer.
        Offer => "offer",
        /// Documents being collected.
        Documents => "documents",
        /// The provider is evaluating.
        Evaluation => "evaluation",
        /// Approved, not yet switched on.
        Approved => "approved",
        /// Refused.
        Rejected => "rejected",
        /// In use.
        Active => "active",
        /// Switched off.
        Inactive => "inactive",
    }
);

text_enum!(
    /// What a provider call was for.
    Operation {
        /// Non-3D sale.
        Sale => "sale",
        /// 3D start.
        Start3d => "start_3d",
        /// 3D postback handling (and completion).
        Finish3d => "finish_3d",
        /// Cancel (void).
        Cancel => "cancel",
        /// Refund.
        Refund => "refund",
        /// Inquiry by our reference.
        Inquiry => "inquiry",
        /// Capture of a pre-authorisation (all of it or part).
        Capture => "capture",
        /// Release of a pre-authorisation.
        Release => "release",
    }
);

text_enum!(
    /// Whether an attempt's answer is in.
    AttemptState {
        /// Written before the call.
        Dispatched => "dispatched",
        /// The answer (or its absence) is recorded.
        Completed => "completed",
    }
);

text_enum!(
    /// What an attempt ended in.
    AttemptOutcome {
        /// Approved.
        Approved => "approved",
        /// Declined by the bank.
        Declined => "declined",
        /// Provably nothing happened.
        Failed => "failed",
        /// Cannot tell.
        Unknown => "unknown",
        /// Still open at the provider (3D started, inquiry found it unfinished).
        Pending => "pending",
    }
);

text_enum!(
    /// Cancel or refund.
    RefundKind {
        /// Void on the sale's business day.
        Cancel => "cancel",
        /// Refund after it.
        Refund => "refund",
    }
);

text_enum!(
    /// Where a cancel or refund stands.
    RefundStatus {
        /// Sent, answer not in.
        Pending => "pending",
        /// Done.
        Approved => "approved",
        /// Refused by the bank or provider.
        Declined => "declined",
        /// Nothing happened.
        Failed => "failed",
        /// Cannot tell; the janitor finds out.
        Unknown => "unknown",
        /// Asked before the provider's business day closed: kept, counted against the
        /// refundable amount, and carried out after the close.
        Scheduled => "scheduled",
        /// A scheduled refund taken back before it was carried out; releases its amount.
        Withdrawn => "withdrawn",
    }
);
