//! How statuses and channels read in each language (exports, pages).

use sanalpos_core::Lang;
use sanalpos_store::{Channel, PaymentStatus};

/// A payment status as a person reads it.
pub fn status_label(lang: Lang, status: PaymentStatus) -> &'static str {
    use PaymentStatus as S;
    match (lang, status) {
        (Lang::Tr, S::Processing) => "İşleniyor",
        (Lang::Tr, S::Pending3ds) => "3D bekleniyor",
        (Lang::Tr, S::Approved) => "Onaylandı",
        (Lang::Tr, S::Declined) => "Reddedildi",
        (Lang::Tr, S::Failed) => "Başarısız",
        (Lang::Tr, S::Unknown) => "Belirsiz",
        (Lang::Tr, S::Cancelled) => "İptal edildi",
        (Lang::Tr, S::PartiallyRefunded) => "Kısmen iade edildi",
        (Lang::Tr, S::Refunded) => "İade edildi",
        (Lang::Tr, S::Expired) => "Süresi doldu",
        (Lang::Tr, S::Blocked) => "Engellendi",
        (Lang::Tr, S::Authorized) => "Provizyonda",
        (Lang::Tr, S::Capturing) => "Provizyon kapatılıyor",
        (Lang::Tr, S::Releasing) => "Provizyon iptal ediliyor",
        (Lang::Tr, S::Released) => "Provizyon iptal edildi",
        (Lang::En, S::Processing) => "Processing",
        (Lang::En, S::Pending3ds) => "Awaiting 3D Secure",
        (Lang::En, S::Approved) => "Approved",
        (Lang::En, S::Declined) => "Declined",
        (Lang::En, S::Failed) => "Failed",
        (Lang::En, S::Unknown) => "Unknown",
        (Lang::En, S::Cancelled) => "Cancelled",
        (Lang::En, S::PartiallyRefunded) => "Partially refunded",
        (Lang::En, S::Refunded) => "Refunded",
        (Lang::En, S::Expired) => "Expired",
        (Lang::En, S::Blocked) => "Blocked",
        (Lang::En, S::Authorized) => "Authorised (held)",
        (Lang::En, S::Capturing) => "Capturing",
        (Lang::En, S::Releasing) => "Releasing",
        (Lang::En, S::Released) => "Released",
    }
}

/// A channel as a person reads it.
pub fn channel_label(lang: Lang, channel: Channel) -> &'static str {
    match (lang, channel) {
        (Lang::Tr, Channel::Api) => "API",
        (Lang::Tr, Channel::Hosted) => "Ödeme sayfası",
        (Lang::Tr, Channel::Moto) => "Telefonla (MOTO)",
        (Lang::Tr, Channel::Manual) => "Manuel giriş",
        (Lang::Tr, Channel::Reconciliation) => "Mutabakat",
        (Lang::En, Channel::Api) => "API",
        (Lang::En, Channel::Hosted) => "Hosted page",
        (Lang::En, Channel::Moto) => "Phone (MOTO)",
        (Lang::En, Channel::Manual) => "Manual entry",
        (Lang::En, Channel::Reconciliation) => "Reconciliation",
    }
}

/// What the cardholder reads when an abuse limit refuses a payment, by reason
/// (`velocity_card`, `velocity_ip`, `session_locked`).
pub fn block_message(lang: Lang, reason: &str) -> &'static str {
    match (lang, reason) {
        (Lang::Tr, "session_locked") => {
            "Çok sayıda başarısız deneme; lütfen satıcıyla iletişime geçin."
        }
        (Lang::En, "session_locked") => "Too many unsuccessful attempts; contact the seller.",
        (Lang::Tr, _) => {
            "Çok sayıda başarısız deneme nedeniyle işlem şu anda kabul edilmiyor; lütfen daha sonra tekrar deneyin veya satıcıyla iletişime geçin."
        }
        (Lang::En, _) => {
            "Too many unsuccessful attempts: the payment is not accepted right now; try again later or contact the seller."
        }
    }
}
