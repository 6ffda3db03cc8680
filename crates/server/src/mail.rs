//! Payment links by e-mail: the SMTP client (lettre over rustls) built from the
//! configuration, the mail's text in the link's language from the catalogue, and the
//! one sending path the back office and the API share.
//!
//! A sending is awaited, not queued: the person (or the shop) who asked learns at once
//! whether the mail server took the message, and the audit log says `sent` or
//! `send_failed` with the recipient. Nothing is recorded as sent that was not.

use std::sync::Arc;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use sanalpos_core::{Kurus, Lang};
use sanalpos_service::{Actor, LinkMail, ServiceError};

use crate::config::{SmtpConfig, SmtpTls};
use crate::ui::i18n::texts;
use crate::AppState;

/// Longest recipient address (RFC 5321's path limit).
const MAX_ADDRESS: usize = 254;
/// Longest personal note.
pub const MAX_NOTE: usize = 1000;

/// The configured mail server and sender.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// The client for `config` (no connection is made until the first mail).
    pub fn new(config: &SmtpConfig) -> Result<Mailer, String> {
        let from: Mailbox = config.from.parse().map_err(|e| format!("smtp_from: {e}"))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .timeout(Some(config.timeout));
        let tls =
            |host: &str| TlsParameters::new(host.to_owned()).map_err(|e| format!("smtp_tls: {e}"));
        builder = match config.tls {
            SmtpTls::None => builder.tls(Tls::None),
            SmtpTls::Starttls => builder.tls(Tls::Required(tls(&config.host)?)),
            SmtpTls::Tls => builder.tls(Tls::Wrapper(tls(&config.host)?)),
        };
        if !config.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.username.clone(),
                config.password.expose().to_owned(),
            ));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
        })
    }

    /// Hands `message` to the mail server; the error is the server's (or the
    /// connection's) reason, with no setting in it.
    async fn send(&self, message: Message) -> Result<(), String> {
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// A recipient as typed: one plain address (`ad@alan.com.tr`), nothing else.
pub fn parse_recipient(text: &str) -> Option<Address> {
    let text = text.trim();
    if text.is_empty() || text.len() > MAX_ADDRESS || text.chars().any(char::is_whitespace) {
        return None;
    }
    let address: Address = text.parse().ok()?;
    // A domain without a dot (`ad@localhost`) is not where a customer reads mail.
    address.domain().contains('.').then_some(address)
}

/// Why a link was not sent.
#[derive(Debug)]
pub enum SendError {
    /// No mail server is configured.
    NotConfigured,
    /// The recipient is not an e-mail address.
    BadRecipient,
    /// The note is too long or has control characters.
    BadNote,
    /// The link cannot be sent (not found, paid, expired) or the audit failed.
    Service(ServiceError),
    /// The mail server (or the way to it) refused the message; recorded as failed.
    Refused(String),
}

impl From<ServiceError> for SendError {
    fn from(e: ServiceError) -> SendError {
        SendError::Service(e)
    }
}

/// A link's limits as the mail writes them: one amount, a range, or "up to" the
/// most when the least is the smallest possible (no lower limit was set).
fn amount_text(lang: Lang, mail: &LinkMail) -> String {
    let link = &mail.link;
    let t = texts(lang);
    let money = |k: Kurus| lang.money(k, link.currency);
    match (link.amount, link.min_amount, link.max_amount) {
        (Some(a), _, _) => money(a),
        (None, Some(min), Some(max)) if min.minor() > 1 && min < max => {
            format!("{} – {}", money(min), money(max))
        }
        (None, Some(min), Some(max)) if min == max => money(max),
        (None, _, Some(max)) => t.mail_link_up_to.replace("{amount}", &money(max)),
        _ => String::new(),
    }
}

/// The mail's subject and plain-text body, in the link's language.
pub fn link_text(mail: &LinkMail, note: Option<&str>) -> (String, String) {
    let lang = mail.lang;
    let t = texts(lang);
    let company = mail.company_name.as_str();
    let expires = chrono::DateTime::parse_from_rfc3339(&mail.link.expires_at)
        .map(|e| lang.datetime(e.timestamp_millis()))
        .unwrap_or_else(|_| mail.link.expires_at.clone());
    let subject = t.mail_link_subject.replace("{company}", company);
    let mut body = String::new();
    body.push_str(t.mail_link_greeting);
    body.push_str("\n\n");
    body.push_str(&t.mail_link_intro.replace("{company}", company));
    body.push_str("\n\n");
    if let Some(note) = note {
        body.push_str(note);
        body.push_str("\n\n");
    }
    if let Some(customer) = mail.link.customer_ref.as_deref() {
        body.push_str(&format!("{}: {customer}\n", t.customer_ref));
    }
    if let Some(description) = mail.link.description.as_deref() {
        body.push_str(&format!("{}: {description}\n", t.description));
    }
    body.push_str(&format!("{}: {}\n", t.amount, amount_text(lang, mail)));
    body.push_str(&format!("{}: {expires}\n\n", t.link_expires));
    body.push_str(t.mail_link_open);
    body.push('\n');
    body.push_str(&mail.link.url);
    body.push_str("\n\n");
    body.push_str(&t.mail_link_footer.replace("{company}", company));
    body.push('\n');
    (subject, body)
}

fn message(
    from: &Mailbox,
    to: Address,
    mail: &LinkMail,
    note: Option<&str>,
) -> Result<Message, String> {
    let (subject, text) = link_text(mail, note);
    // Base64 keeps every Turkish letter intact through any relay.
    let body = Body::new_with_encoding(text, ContentTransferEncoding::Base64)
        .map_err(|_| "the mail's body could not be encoded".to_owned())?;
    // The id names the sender's domain (a mail server may frown on `@localhost`).
    let token: String = rand::Rng::sample_iter(rand::rng(), &rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    Message::builder()
        .message_id(Some(format!("<{token}@{}>", from.email.domain())))
        .from(from.clone())
        .to(Mailbox::new(None, to))
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| e.to_string())
}

/// Checks the note: at most [`MAX_NOTE`] characters, line breaks and tabs the only
/// control characters; `None` when empty.
fn check_note(note: &str) -> Result<Option<String>, SendError> {
    let note = note.trim();
    if note.is_empty() {
        return Ok(None);
    }
    if note.chars().count() > MAX_NOTE
        || note
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(SendError::BadNote);
    }
    Ok(Some(note.replace("\r\n", "\n")))
}

/// Sends the company's payment link `id` to `recipient` with an optional note, and
/// records the try in the audit log. The link must be the caller's company's and
/// open; the recipient a plain address; a mail server configured. Returns the
/// recipient as sent to.
pub async fn send_link(
    state: &AppState,
    caller: &Actor,
    id: &str,
    recipient: &str,
    note: &str,
) -> Result<String, SendError> {
    // The link first: another company's link is not found, whatever else is wrong.
    state
        .service
        .get_payment_link(&caller.company_id, id)
        .await?;
    let mailer: &Arc<Mailer> = state.mailer.as_ref().ok_or(SendError::NotConfigured)?;
    let to = parse_recipient(recipient).ok_or(SendError::BadRecipient)?;
    let note = check_note(note)?;
    let mail = state
        .service
        .payment_link_mail(&caller.company_id, id)
        .await?;
    let shown = to.to_string();
    let result = match message(&mailer.from, to, &mail, note.as_deref()) {
        Ok(message) => mailer.send(message).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            state
                .service
                .record_link_mail(caller, &mail, &shown, note.is_some(), None)
                .await?;
            tracing::info!(link.id = %id, "payment link sent by e-mail");
            Ok(shown)
        }
        Err(reason) => {
            tracing::warn!(link.id = %id, error = %reason, "payment link e-mail refused");
            state
                .service
                .record_link_mail(caller, &mail, &shown, note.is_some(), Some(&reason))
                .await?;
            Err(SendError::Refused(reason))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_plain_addresses() {
        assert!(parse_recipient(" musteri@ornek.com.tr ").is_some());
        for bad in [
            "",
            "musteri",
            "musteri@",
            "@ornek.com",
            "a b@ornek.com",
            "Müşteri <musteri@ornek.com>",
            "musteri@localhost",
            "a@b.com, c@d.com",
        ] {
            assert!(parse_recipient(bad).is_none(), "{bad}");
        }
        let long = format!("{}@ornek.com", "a".repeat(250));
        assert!(parse_recipient(&long).is_none());
    }

    #[test]
    fn notes_are_checked() {
        assert!(matches!(check_note("  "), Ok(None)));
        assert_eq!(
            check_note("Merhaba,\r\nİyi günler").unwrap().as_deref(),
            Some("Merhaba,\nİyi günler")
        );
        assert!(matches!(check_note("a\u{7}b"), Err(SendError::BadNote)));
        assert!(matches!(
            check_note(&"x".repeat(MAX_NOTE + 1)),
            Err(SendError::BadNote)
        ));
    }
}
