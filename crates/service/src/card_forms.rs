//! 3D pages that carry the card, held in this instance's memory only.
//!
//! In a bank's `3d` and `3d_pay` models the merchant's page posts the card to the bank's
//! 3D gate, so the auto-submitting form we serve the cardholder's browser holds the card
//! number and CVV. That form must never reach the database (the rule every payment
//! follows), so it waits here, keyed by the payment's 3D token, until the browser opens
//! the page once or the 3D window closes. With several instances the browser's first
//! visit must reach the instance that started the payment (the API answer's redirect
//! URL is that instance's when `public_base_url` names it; otherwise use sticky
//! sessions or the bank's `3d_host` model, where the card is typed on the bank's page).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use zeroize::Zeroize;

/// A form and when it stops being served.
struct Held {
    html: String,
    until: Instant,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.html.zeroize();
    }
}

/// Forms by 3D token.
#[derive(Default)]
pub(crate) struct CardForms {
    forms: Mutex<HashMap<String, Held>>,
}

impl CardForms {
    /// Holds a form for at most `ttl`; expired ones are dropped on the way.
    pub(crate) fn hold(&self, token: &str, html: String, ttl: Duration) {
        let now = Instant::now();
        if let Ok(mut forms) = self.forms.lock() {
            forms.retain(|_, held| held.until > now);
            forms.insert(
                token.to_owned(),
                Held {
                    html,
                    until: now + ttl,
                },
            );
        }
    }

    /// Whether a form waits for this token.
    pub(crate) fn holds(&self, token: &str) -> bool {
        let now = Instant::now();
        self.forms
            .lock()
            .is_ok_and(|forms| forms.get(token).is_some_and(|held| held.until > now))
    }

    /// The form, once: taking it removes it.
    pub(crate) fn take(&self, token: &str) -> Option<String> {
        let mut forms = self.forms.lock().ok()?;
        let mut held = forms.remove(token)?;
        (held.until > Instant::now()).then(|| std::mem::take(&mut held.html))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_is_served_once_and_not_after_its_window() {
        let forms = CardForms::default();
        forms.hold("t1", "<form>".into(), Duration::from_secs(60));
        assert!(forms.holds("t1"));
        assert_eq!(forms.take("t1").as_deref(), Some("<form>"));
        assert!(!forms.holds("t1"));
        assert_eq!(forms.take("t1"), None);
        forms.hold("t2", "<form>".into(), Duration::ZERO);
        assert_eq!(forms.take("t2"), None);
    }
}
