//! Every text of the back office, in one catalogue per language: [`TR`] and [`EN`] are
//! built from the one table below, so a text missing in a language does not compile.

use sanalpos_core::Lang;
use sanalpos_service::{
    Channel, Environment, OnboardingState, PaymentStatus, RefundKind, RefundStatus, Role,
};
use sanalpos_store::{AttemptOutcome, Operation};

macro_rules! catalogue {
    ($($field:ident: $tr:expr, $en:expr;)*) => {
        /// The texts of one language.
        #[derive(Debug)]
        pub struct Texts {
            $(#[doc = $en] pub $field: &'static str,)*
        }
        /// Türkçe.
        pub const TR: Texts = Texts { $($field: $tr,)* };
        /// English.
        pub const EN: Texts = Texts { $($field: $en,)* };
    };
}

catalogue! {
    app_name: "sanalpos", "sanalpos";
    nav_dashboard: "Gösterge Paneli", "Dashboard";
    nav_collect: "Online Tahsilat", "Collect payment";
    nav_payments: "Kredi Kartı Tahsilatları", "Card collections";
    nav_pos: "Sanal POS Tanımları", "Virtual POS definitions";
    nav_companies: "Şirketler", "Companies";
    nav_users: "Kullanıcılar", "Users";
    nav_keys: "API Anahtarları", "API keys";
    nav_audit: "Denetim Kaydı", "Audit log";
    company: "Şirket", "Company";
    switch_company: "Şirket değiştir", "Switch company";
    sign_in: "Giriş", "Sign in";
    sign_out: "Çıkış", "Sign out";
    username: "Kullanıcı adı", "Username";
    password: "Şifre", "Password";
    login_title: "Sanal POS Yönetimi", "Virtual POS back office";
    login_failed: "Kullanıcı adı veya şifre hatalı.", "Wrong username or password.";
    login_locked: "Çok fazla hatalı deneme. Bu kullanıcı geçici olarak kilitlendi; lütfen daha sonra tekrar deneyin.", "Too many failed attempts. This user is locked for a while; please try again later.";
    login_expired_form: "Form süresi doldu; lütfen tekrar deneyin.", "The form expired; please try again.";
    signed_in_as: "Kullanıcı", "Signed in as";
    forbidden_title: "Yetkiniz yok", "Not allowed";
    forbidden_text: "Bu sayfa veya işlem için rolünüzün yetkisi yok.", "Your role does not allow this page or action.";
    not_found_title: "Bulunamadı", "Not found";
    not_found_text: "Aradığınız kayıt bu şirkette yok.", "There is no such record in this company.";
    bad_request_title: "Geçersiz istek", "Invalid request";
    csrf_failed: "Form doğrulanamadı (oturum değişmiş olabilir). Sayfayı yenileyip tekrar deneyin.", "The form could not be verified (the session may have changed). Reload the page and try again.";
    error_title: "Hata", "Error";
    error_text: "Beklenmeyen bir hata oluştu. İşlem kaydedilmiş olabilir; listeyi kontrol edin.", "An unexpected error occurred. The operation may have been recorded; check the list.";
    back: "Geri", "Back";
    save: "Kaydet", "Save";
    search: "Ara", "Search";
    clear: "Temizle", "Clear";
    yes: "Evet", "Yes";
    no: "Hayır", "No";
    all: "Tümü", "All";
    none: "—", "—";
    next_page: "Sonraki sayfa →", "Next page →";
    first_page: "← İlk sayfa", "← First page";
    total: "Toplam", "Total";
    count: "Adet", "Count";
    actions: "İşlemler", "Actions";
    created_at: "Oluşturulma", "Created";
    name: "Ad", "Name";
    role: "Rol", "Role";
    companies: "Şirketler", "Companies";
    // Dashboard
    today_collections: "Bugünkü tahsilat", "Collected today";
    approval_rate: "Onay oranı", "Approval rate";
    last_14_days: "Son 14 gün", "Last 14 days";
    decline_reasons: "Red nedenleri", "Decline reasons";
    review_waiting: "İnceleme bekleyen ödemeler", "Payments waiting for review";
    blocked_today: "Bugün engellenen denemeler", "Blocked attempts today";
    link_locked: "Kilitli: çok sayıda başarısız deneme", "Locked: too many unsuccessful attempts";
    link_reopen: "Bağlantıyı yeniden aç", "Reopen the link";
    link_reopen_confirm: "Başarısız deneme sayacı sıfırlanacak ve bağlantı yeniden ödeme kabul edecek. Devam edilsin mi?", "The failed-attempt count will be reset and the link will accept payments again. Continue?";
    link_reopened: "Bağlantı yeniden açıldı.", "The link was reopened.";
    st_link_locked: "Kilitli", "Locked";
    no_data: "Kayıt yok.", "Nothing here.";
    // Collect
    collect_title: "Online Tahsilat (Sanal POS)", "Collect a card payment (virtual POS)";
    customer_ref: "Cari hesap", "Customer account";
    order_ref: "Sipariş no", "Order reference";
    description: "Açıklama", "Description";
    amount: "Tutar", "Amount";
    currency: "Para birimi", "Currency";
    card_number: "Kart numarası", "Card number";
    card_holder: "Kart sahibi", "Cardholder";
    expiry: "Son kullanma (AA/YYYY)", "Expiry (MM/YYYY)";
    cvv: "CVV", "CVV";
    installments: "Taksit", "Installments";
    single_payment: "Tek çekim", "Single payment";
    installment_hint: "Kart numarasını yazınca bu karta uygun taksitler listelenir.", "Options for this card appear as you type its number.";
    monthly: "Aylık", "Monthly";
    three_d: "3D Secure ile öde", "Pay with 3D Secure";
    pos: "Sanal POS", "Virtual POS";
    pos_auto: "Varsayılan", "Default";
    collect_submit: "Tahsil et", "Collect";
    amount_invalid: "Tutar geçersiz (örnek: 1.234,56).", "The amount is invalid (example: 1,234.56).";
    in_progress: "Bu ödeme hâlâ işleniyor; birazdan listeyi kontrol edin.", "This payment is still being processed; check the list shortly.";
    collect_rate_limited: "Çok fazla tahsilat denemesi: bir kullanıcı {minutes} dakikada en fazla {limit} tahsilat yapabilir. Kart bilgisi gönderilmedi; {seconds} saniye sonra tekrar deneyin.", "Too many collection attempts: one user may collect at most {limit} payments in {minutes} minutes. The card was not sent; try again in {seconds} seconds.";
    err_card_number: "Kart numarası geçersiz.", "The card number is invalid.";
    err_expiry: "Son kullanma tarihi geçersiz veya geçmiş.", "The expiry date is invalid or past.";
    err_cvv: "CVV geçersiz.", "The CVV is invalid.";
    err_no_pos: "Bu ödeme için etkin bir sanal POS yok.", "No active virtual POS can take this payment.";
    err_installments: "Bu taksit sayısı bu POS'ta tanımlı değil.", "This POS does not offer this installment count.";
    err_form_used: "Bu form daha önce farklı bilgilerle gönderildi; yeni bir form açıldı.", "This form was already sent with other details; here is a new one.";
    err_field: "Geçersiz alan", "Invalid field";
    // Result
    result_title: "Tahsilat sonucu", "Payment result";
    result_approved: "Ödeme onaylandı", "Payment approved";
    result_authorized: "Provizyon alındı: tutar kartta bloke, tahsilat için ödeme sayfasından kapatın", "Authorised: the amount is held on the card; capture it from the payment page";
    result_declined: "Ödeme reddedildi", "Payment declined";
    result_other: "Ödeme durumu", "Payment status";
    auth_code: "Onay kodu", "Auth code";
    provider_ref: "Sağlayıcı ref.", "Provider ref.";
    reason: "Neden", "Reason";
    new_payment: "Yeni tahsilat", "New payment";
    see_detail: "Ayrıntılar", "Details";
    // List
    date_from: "Başlangıç tarihi", "From date";
    date_to: "Bitiş tarihi", "To date";
    status: "Durum", "Status";
    channel: "Kanal", "Channel";
    last_four: "Kartın son 4 hanesi", "Card's last 4";
    min_amount: "En az tutar", "Minimum amount";
    max_amount: "En çok tutar", "Maximum amount";
    auth_or_ref: "Onay kodu / sağlayıcı ref.", "Auth code / provider ref.";
    date_time: "Tarih/saat", "Date/time";
    business_day: "İş günü", "Business day";
    card: "Kart", "Card";
    taken_by: "İşlemi yapan", "Taken by";
    refunded: "İade edilen", "Refunded";
    export_csv: "CSV indir", "Download CSV";
    export_xlsx: "Excel (XLSX) indir", "Download Excel (XLSX)";
    filter_invalid: "Filtre geçersiz", "Invalid filter";
    // Detail
    detail_title: "Tahsilat ayrıntısı", "Payment detail";
    attempts: "Sağlayıcı çağrıları", "Provider calls";
    operation: "İşlem", "Operation";
    outcome: "Sonuç", "Outcome";
    latency: "Süre (ms)", "Latency (ms)";
    bank_code: "Banka kodu", "Bank code";
    refunds: "İptal ve iadeler", "Cancels and refunds";
    kind: "Tür", "Kind";
    audit_events: "Denetim olayları", "Audit events";
    cancel_payment: "İptal et", "Cancel";
    refund_payment: "İade et", "Refund";
    reverse_payment: "Tamamını geri al", "Reverse in full";
    confirm_box: "Bu işlemi onaylıyorum", "I confirm this operation";
    confirm_required: "İşlemi onaylamak için kutucuğu işaretleyin.", "Tick the box to confirm the operation.";
    refund_amount: "İade tutarı", "Refund amount";
    operation_done: "İşlem tamamlandı.", "Done.";
    refund_scheduled: "İade planlandı: banka günü kapanınca yapılacak. O zamana kadar geri çekilebilir.", "Refund scheduled: it will be made when the bank's day closes. Until then it can be withdrawn.";
    refund_withdrawn: "Planlanan iade geri çekildi; tutar yeniden iade edilebilir.", "The scheduled refund was withdrawn; its amount can be refunded again.";
    withdraw_refund: "Geri çek", "Withdraw";
    rev_not_withdrawable: "Yalnızca planlanmış (henüz yapılmamış) bir iade geri çekilebilir.", "Only a scheduled refund (not carried out yet) can be withdrawn.";
    review_reason: "İnceleme nedeni", "Review reason";
    rev_declined: "Banka işlemi reddetti", "The bank refused";
    rev_cancel_not_possible: "Banka iptali kabul etmedi (iptal yalnızca satış günü yapılabilir); iade yapın.", "The bank refused the cancel (a cancel is only possible on the sale's day); refund instead.";
    rev_not_cancellable: "Yalnızca iadesi olmayan onaylı bir ödeme iptal edilebilir.", "Only an approved payment without refunds can be cancelled.";
    rev_not_refundable: "Bu ödeme geri alınamaz (iade edilecek tutar kalmadı ya da ödeme onaylı değil).", "This payment cannot be taken back (nothing left, or it is not approved).";
    rev_exceeds: "İade tutarı, çekilen tutardan kalan miktarı aşıyor.", "The refund is more than what remains of the captured amount.";
    rev_provider_failed: "Sağlayıcıya ulaşılamadı; hiçbir işlem yapılmadı. Biraz sonra tekrar deneyin.", "The provider could not be reached; nothing was done. Try again shortly.";
    rev_in_progress: "Bu ödeme için başka bir işlem sürüyor; biraz sonra tekrar deneyin.", "Another operation on this payment is running; try again shortly.";
    op_sale: "Satış", "Sale";
    op_start_3d: "3D başlatma", "3D start";
    op_finish_3d: "3D sonucu", "3D result";
    op_cancel: "İptal", "Cancel";
    op_refund: "İade", "Refund";
    op_inquiry: "Sorgu", "Inquiry";
    op_capture: "Provizyon kapama", "Capture";
    op_release: "Provizyon iptali", "Release";
    oc_dispatched: "Gönderildi, yanıt yok", "Sent, no answer yet";
    recon_exceptions: "Mutabakat farkları", "Reconciliation exceptions";
    // POS
    pos_title: "Sanal POS Tanımları", "Virtual POS definitions";
    pos_new: "Yeni POS tanımı", "New POS definition";
    pos_edit: "POS tanımını düzenle", "Edit POS definition";
    provider: "Sağlayıcı", "Provider";
    environment: "Ortam", "Environment";
    pos_bank: "Banka veya sağlayıcı", "Bank or provider";
    pos_change_bank: "(başka banka seç)", "(choose another bank)";
    next: "Devam", "Continue";
    credentials: "Bağlantı ve erişim bilgileri", "Connection and credentials";
    secret_stored: "Kayıtlı değer (karakter sayısı):", "Stored value (its length):";
    credentials_hint: "Kayıtlı gizli değerler gösterilmez. Boş bırakılan gizli alanın eski değeri kalır; yeni bir değer girerseniz onun yerine geçer.", "Stored secret values are never shown. A secret left empty keeps its current value; a new value replaces it.";
    pos_settings_unreadable: "Bu POS'un ayarları bu ana anahtarla çözülemiyor: erişim bilgilerini yeniden girin.", "This POS's settings cannot be decrypted with this master key: enter the credentials again.";
    currencies: "Para birimleri", "Currencies";
    installment_table: "Taksit tablosu", "Installment table";
    installment_table_hint: "Her satır: taksit;komisyon %;vade farkı %;valör günü (örnek: 3;2,99;2,50;30)", "One row each: count;commission %;surcharge %;value days (example: 3;2.99;2.50;30)";
    commission: "Komisyon", "Commission";
    surcharge: "Vade farkı", "Surcharge";
    value_days: "Valör (gün)", "Value date (days)";
    is_default: "Varsayılan POS", "Default POS";
    onboarding: "Başvuru durumu", "Onboarding state";
    documents: "Belgeler", "Documents";
    last_success: "Son başarılı çağrı", "Last successful call";
    last_error: "Son hata", "Last error";
    deactivate: "Pasif yap", "Deactivate";
    test_connection: "Bağlantıyı test et", "Test connection";
    conn_ok: "Bağlantı başarılı: sağlayıcı erişim bilgilerini kabul etti.", "Connection works: the provider accepted the credentials.";
    conn_bad_credentials: "Erişim bilgileri hatalı: sağlayıcı bu bilgileri kabul etmedi. Bu sayfadaki erişim bilgilerini kontrol edin.", "Wrong credentials: the provider refused them. Check the credentials on this page.";
    conn_ip: "Sunucunun IP adresine izin verilmiyor: bankaya veya sağlayıcıya sunucunuzun IP adresini bildirin.", "This server's IP address is not allowed: tell the bank or provider your server's IP address.";
    conn_unreachable: "Sağlayıcıya ulaşılamıyor: servis adresini ve ağ bağlantısını kontrol edin.", "The provider cannot be reached: check the endpoint URL and the network.";
    conn_other: "Sağlayıcı isteği reddetti", "The provider refused the request";
    pos_saved: "POS tanımı kaydedildi.", "POS definition saved.";
    // Admin
    new_company: "Yeni şirket", "New company";
    new_user: "Yeni kullanıcı", "New user";
    user_disabled: "Pasif", "Disabled";
    err_own_account: "Kendi hesabınızın rolü buradan değiştirilemez.", "Your own account's role cannot be changed here.";
    user_companies: "Şirket yetkileri", "Company access";
    key_name: "Anahtar adı", "Key name";
    new_key: "Yeni API anahtarı", "New API key";
    key_shown_once: "Bu anahtar yalnızca şimdi gösteriliyor; güvenli bir yere kopyalayın.", "This key is shown only now; copy it somewhere safe.";
    key_prefix: "Ön ek", "Prefix";
    revoked: "İptal edildi", "Revoked";
    revoke: "İptal et", "Revoke";
    active: "Etkin", "Active";
    audit_chain_ok: "Denetim zinciri doğrulandı", "Audit chain verified";
    audit_chain_broken: "Denetim zinciri BOZUK", "Audit chain BROKEN";
    events: "olay", "events";
    event_kind: "Olay", "Event";
    actor: "Yapan", "Actor";
    subject: "Kayıt", "Subject";
    details: "Ayrıntı", "Details";
    ev_authorized_amount: "Onaylanan tutar", "Authorized amount";
    ev_attempt_id: "Sağlayıcı çağrısı", "Provider call";
    ev_refund_id: "İade kaydı", "Refund record";
    ev_result: "Sonuç", "Result";
    // Payment links
    nav_links: "Ödeme Linkleri", "Payment links";
    link_title: "Ödeme linki", "Payment link";
    link_help: "Müşterinin cari hesabına ödeme yapması için bir link oluşturun; buradan e-postayla gönderin ya da adresini kopyalayıp SMS veya mesajla kendiniz iletin. Müşteri tutarı belirlediğiniz sınırlar içinde kendisi girer; ödeme 3D Secure ile alınır.", "Make a link for a customer to pay towards their account; send it by e-mail from here, or copy its address into an SMS or message yourself. The customer types an amount within your limits and pays with 3D Secure.";
    link_new: "Yeni ödeme linki", "New payment link";
    link_create: "Link oluştur", "Create link";
    link_list: "Ödeme linkleri", "Payment links";
    link_limits: "Tutar aralığı", "Amount range";
    link_max_installments: "En fazla taksit", "Most installments";
    link_language: "Sayfa dili", "Page language";
    link_days: "Geçerlilik (gün)", "Valid for (days)";
    link_expires: "Son geçerlilik", "Expires";
    link_open: "Ödeme bekleniyor", "Waiting for payment";
    link_paid: "Ödendi", "Paid";
    link_send_hint: "Bu adresi müşteriye iletin (aşağıdan e-postayla ya da kopyalayıp SMS veya mesajla):", "Give this address to the customer (by e-mail below, or copied into an SMS or message):";
    link_customer_required: "Cari hesabı yazın.", "Enter the customer account.";
    link_limits_invalid: "En az tutar, en çok tutardan büyük olamaz.", "The minimum amount cannot be more than the maximum.";
    link_days_invalid: "Geçerlilik 1 ile 90 gün arasında olmalı.", "The link must be valid for 1 to 90 days.";
    link_filter_text: "Ara (cari, sipariş, açıklama)", "Search (customer, order, description)";
    link_send_title: "E-posta ile gönder", "Send by e-mail";
    link_send_email: "Alıcı e-posta adresi", "Recipient's e-mail address";
    link_send_note: "Kişisel not (isteğe bağlı)", "Personal note (optional)";
    link_send_submit: "Gönder", "Send";
    link_sent: "Link e-posta ile gönderildi:", "The link was sent by e-mail to:";
    link_send_not_configured: "E-posta gönderimi ayarlanmamış (SMTP sunucusu yok). Yöneticiniz sanalpos ayarlarına smtp_host ve smtp_from eklemeli. Hiçbir şey gönderilmedi.", "Sending e-mail is not set up (no SMTP server). Your administrator must add smtp_host and smtp_from to the sanalpos settings. Nothing was sent.";
    link_send_bad_email: "Geçerli bir e-posta adresi yazın (örnek: musteri@firma.com.tr). Hiçbir şey gönderilmedi.", "Enter a valid e-mail address (for example customer@company.com). Nothing was sent.";
    link_send_bad_note: "Not en fazla 1000 karakter olabilir. Hiçbir şey gönderilmedi.", "The note can be at most 1000 characters. Nothing was sent.";
    link_send_not_open: "Bu link ödenmiş ya da süresi dolmuş; gönderilemez. Yeni bir link oluşturun.", "This link is paid or expired and cannot be sent. Make a new link.";
    link_send_refused: "E-posta sunucusu iletiyi kabul etmedi; link gönderilmedi. Sunucunun yanıtı:", "The mail server did not accept the message; the link was not sent. The server said:";
    link_sends: "Gönderimler", "Sendings";
    ev_recipient: "Alıcı", "Recipient";
    ev_language: "Dil", "Language";
    ev_with_note: "Not eklendi", "Note added";
    // The e-mail of a payment link ({company}: the company's name)
    mail_link_subject: "{company} ödeme linki", "Payment link from {company}";
    mail_link_greeting: "Merhaba,", "Hello,";
    mail_link_intro: "{company} sizin için bir ödeme linki hazırladı. Ödemenizi kredi kartınızla, 3D Secure ile güvenle yapabilirsiniz.", "{company} has prepared a payment link for you. You can pay securely by card, with 3D Secure.";
    mail_link_open: "Ödeme sayfası:", "Payment page:";
    mail_link_up_to: "en fazla {amount}", "up to {amount}";
    mail_link_footer: "Bu e-posta {company} adına gönderildi. Linki siz istemediyseniz bu e-postayı dikkate almayın.", "This e-mail was sent on behalf of {company}. If you did not expect it, please ignore it.";
    payment: "Ödeme", "Payment";
    // Webhooks
    nav_webhooks: "Webhook'lar", "Webhooks";
    wh_help: "Ödeme olaylarını web mağazanıza veya ERP'nize bildiren adresler. Her gönderim Sanalpos-Signature başlığıyla imzalanır.", "Addresses that tell your web shop or ERP about payment events. Every delivery is signed with the Sanalpos-Signature header.";
    wh_new: "Yeni webhook adresi", "New webhook endpoint";
    wh_url: "Adres (URL)", "Address (URL)";
    wh_events: "Olaylar", "Events";
    wh_secret_once: "İmza anahtarı yalnızca şimdi gösteriliyor; güvenli bir yere kopyalayın.", "The signing secret is shown only now; copy it somewhere safe.";
    wh_deliveries: "Gönderimler", "Deliveries";
    wh_delete: "Sil", "Delete";
    wh_tries: "Denemeler", "Tries";
    wh_http: "HTTP", "HTTP";
    wh_answer: "Yanıt", "Answer";
    wh_next_try: "Sonraki deneme", "Next try";
    wh_delivered_at: "Teslim", "Delivered";
    wh_delivered: "Teslim edildi", "Delivered";
    wh_given_up: "Vazgeçildi", "Given up";
    wh_resend: "Yeniden gönder", "Send again";
    wh_retry_hint: "Başarısız gönderimler artan aralıklarla üç gün boyunca yeniden denenir; sonra elle yeniden gönderilebilir.", "Failed deliveries are retried with growing waits for three days; after that they can be sent again by hand.";
    // Status, role, channel… labels
    st_processing: "İşleniyor", "Processing";
    st_pending_3ds: "3D bekleniyor", "Awaiting 3D";
    st_approved: "Onaylandı", "Approved";
    st_declined: "Reddedildi", "Declined";
    st_failed: "Başarısız", "Failed";
    st_unknown: "Belirsiz", "Unknown";
    st_cancelled: "İptal edildi", "Cancelled";
    st_partially_refunded: "Kısmi iade", "Partially refunded";
    st_refunded: "İade edildi", "Refunded";
    st_expired: "Süresi doldu", "Expired";
    st_blocked: "Engellendi", "Blocked";
    st_authorized: "Provizyonda", "Authorised (held)";
    pos_hold_days: "Provizyon süresi (gün)", "Pre-authorisation hold (days)";
    cap_pre_auth: "Provizyon", "Pre-authorisation";
    cap_card_storage: "Kart saklama", "Card storage";
    cap_partial_refund: "Kısmi iade", "Partial refund";
    cap_report_pull: "İşlem listesi çekme", "Transaction list pull";
    cap_statement_import: "Ekstre yükleme", "Statement import";
    held_amount: "Provizyon tutarı", "Amount held";
    holds_ending: "{n} provizyonun süresi 24 saat içinde doluyor: kapatılmazlarsa kendiliğinden iptal edilir.", "{n} pre-authorisation(s) end within 24 hours: unless captured they are released.";
    see_holds: "Provizyondaki ödemeler", "Held payments";
    hold_until: "Provizyon bitişi", "Held until";
    hold_ends_soon: "Bu provizyonun süresi {when} tarihinde doluyor: o zamana kadar kapatılmazsa kendiliğinden iptal edilir ve tahsilat yapılmaz.", "This pre-authorisation's hold ends {when}: unless captured by then it is released and nothing is collected.";
    capture_amount: "Tahsil edilecek tutar", "Amount to capture";
    capture_payment: "Provizyonu kapat (tahsil et)", "Capture";
    release_payment: "Provizyonu iptal et", "Release";
    capture_hint: "Provizyon tutarından azını tahsil ederseniz kalan kısım kartta serbest bırakılır. İptal edilen provizyondan tahsilat yapılmaz.", "Capturing less than the amount held frees the rest on the card. A released pre-authorisation collects nothing.";
    rev_not_authorized: "Bu ödeme provizyonda değil (kapatılmış, iptal edilmiş ya da bir provizyon değil).", "This payment is not held (already captured, released, or not a pre-authorisation).";
    pos_hold_days_hint: "Bu süre içinde kapatılmayan provizyon kendiliğinden iptal edilir (1–30 gün).", "A pre-authorisation not captured within this period is released by itself (1–30 days).";
    stored_cards_of: "Cari hesabın kayıtlı kartları", "Stored cards of customer account";
    show_stored_cards: "Kartları göster", "Show cards";
    stored_cards: "Kayıtlı kartlar", "Stored cards";
    card_active: "Kullanımda", "In use";
    card_deleting: "Siliniyor: sağlayıcı silmeyi henüz onaylamadı, yeniden denenecek", "Being deleted: the provider has not confirmed yet; it will be tried again";
    delete_card: "Kartı sil", "Delete card";
    card_deleted: "Kart sağlayıcının kasasından silindi.", "The card was deleted from the provider's vault.";
    card_delete_pending: "Sağlayıcı silmeyi onaylamadı: kart artık ödeme yapamaz, silme arka planda yeniden denenecek.", "The provider did not confirm the delete: the card can no longer pay, and the delete is tried again in the background.";
    new_card: "Yeni kart (aşağıya yazın)", "A new card (type it below)";
    stored_card_hint: "Kayıtlı kartla ödeme 3D'siz tek çekimdir; kart numarası burada tutulmaz, sağlayıcının kasasındadır.", "A stored card pays without 3D; its number is not kept here but in the provider's vault.";
    save_card: "Kartı müşterinin onayıyla kaydet (3D ile)", "Save the card with the customer's consent (with 3D)";
    card_alias: "Kart adı", "Card name";
    collect_pre_auth: "Provizyon al: tutarı karta bloke et, sonra tahsil et", "Pre-authorise: block the amount on the card, capture later";
    st_capturing: "Provizyon kapatılıyor", "Capturing";
    st_releasing: "Provizyon iptal ediliyor", "Releasing";
    st_released: "Provizyon iptal edildi", "Released";
    st_pending: "Bekliyor", "Pending";
    st_scheduled: "Planlandı", "Scheduled";
    st_withdrawn: "Geri çekildi", "Withdrawn";
    ch_api: "Web mağaza (API)", "Web shop (API)";
    ch_hosted: "Ödeme sayfası", "Hosted page";
    ch_moto: "Telefon (MOTO)", "Phone (MOTO)";
    ch_manual: "Manuel", "Manual";
    ch_reconciliation: "Mutabakat", "Reconciliation";
    role_admin: "Yönetici", "Administrator";
    role_accountant: "Muhasebe", "Accountant";
    role_collector: "Tahsilat", "Collector";
    role_viewer: "İzleyici", "Viewer";
    env_simulator: "Simülatör", "Simulator";
    env_test: "Test", "Test";
    env_production: "Canlı", "Production";
    ob_applied: "Başvuru yapıldı", "Applied";
    ob_offer: "Teklif", "Offer";
    ob_documents: "Belgeler bekleniyor", "Documents";
    ob_evaluation: "Değerlendirmede", "Evaluation";
    ob_approved: "Onaylandı", "Approved";
    ob_rejected: "Reddedildi", "Rejected";
    ob_active: "Etkin", "Active";
    ob_inactive: "Pasif", "Inactive";
    rk_cancel: "İptal", "Cancel";
    rk_refund: "İade", "Refund";
    doc_vergi_levhasi: "Vergi levhası", "Tax certificate";
    doc_imza_sirkusu: "İmza sirküsü", "Signature circular";
    doc_faaliyet_belgesi: "Faaliyet belgesi", "Certificate of activity";
    doc_sicil_kayit_belgesi: "Sicil kayıt belgesi", "Trade registry record";
    doc_kimlik_fotokopisi: "Kimlik fotokopisi", "ID copy";
    doc_ticaret_sicil_gazetesi: "Ticaret sicil gazetesi", "Trade registry gazette";
    doc_iban: "IBAN", "IBAN";
    // Reconciliation
    nav_recon: "Mutabakat", "Reconciliation";
    recon_runs: "Mutabakat çalışmaları", "Reconciliation runs";
    recon_new_pull: "Sağlayıcı raporundan mutabakat", "Reconcile against the provider's report";
    recon_pull_hint: "Seçilen dönemin işlemleri sağlayıcının rapor servisinden okunur ve tahsilatlarla karşılaştırılır.", "The period's transactions are read from the provider's report service and compared with the collections.";
    recon_start: "Mutabakatı başlat", "Start reconciliation";
    recon_upload: "Ekstre dosyasıyla mutabakat", "Reconcile against a statement file";
    recon_upload_hint: "CSV veya XLSX (UTF-8 ya da Windows-1254). Hatalı satırı olan dosyadan, siz karar verene kadar hiçbir şey alınmaz.", "CSV or XLSX (UTF-8 or Windows-1254). Nothing is imported from a file with a bad row until you decide.";
    recon_file: "Dosya", "File";
    recon_import: "Yükle ve karşılaştır", "Upload and reconcile";
    recon_file_missing: "Bir ekstre dosyası seçin.", "Choose a statement file.";
    recon_bad_file: "Dosyada okunamayan satırlar var; hiçbir şey alınmadı. Dosyayı düzeltip tekrar yükleyin ya da aşağıdan bu satırları atlayın.", "The file has rows that cannot be read; nothing was imported. Fix the file and upload it again, or leave these rows out below.";
    recon_line: "Satır", "Line";
    recon_profile: "Sütun eşleme profili", "Column-mapping profile";
    recon_profile_builtin: "Simülatör ekstresi (hazır)", "Simulator statement (built in)";
    recon_skip_title: "Okunabilen satırları al", "Take the readable rows";
    recon_skip_hint: "Yukarıdaki satırları atlayıp dosyanın geri kalanıyla mutabakat yapabilirsiniz. Atlanan satırlar, satır numarası ve nedeniyle mutabakat sonucunda listelenir. Aynı dosyayı yeniden seçin.", "You can leave the rows above out and reconcile the rest of the file. The rows left out are listed in the run with their line and reason. Choose the same file again.";
    recon_same_file: "Aynı dosya", "The same file";
    recon_skip_confirm: "Hatalı satırları atlamayı onaylıyorum", "I confirm leaving the bad rows out";
    recon_skip_submit: "Geri kalanları al ve karşılaştır", "Take the rest and reconcile";
    recon_not_same_file: "Bu, hatalı satırları gösterilen dosya değil; hiçbir şey alınmadı. Dosyayı yeniden yükleyin.", "This is not the file whose bad rows were shown; nothing was imported. Upload the file again.";
    recon_period: "Dönem", "Period";
    recon_source: "Kaynak", "Source";
    src_pull: "Sağlayıcı raporu", "Provider report";
    src_import: "Ekstre dosyası", "Statement file";
    recon_completed: "Tamamlandı", "Completed";
    recon_started_by: "Başlatan", "Started by";
    recon_run_title: "Mutabakat sonucu", "Reconciliation run";
    recon_summary: "Özet", "Summary";
    recon_class: "Sınıf", "Class";
    recon_ours: "Bizdeki tutar", "Our amount";
    recon_theirs: "Sağlayıcıdaki tutar", "Provider amount";
    recon_difference: "Fark", "Difference";
    recon_ours_reversed: "Bizdeki iptal/iade", "Our cancels/refunds";
    recon_theirs_reversed: "Sağlayıcıdaki iptal/iade", "Provider cancels/refunds";
    recon_open: "Karar bekleyen fark", "Open exceptions";
    recon_exceptions_only: "Yalnız farklar", "Exceptions only";
    recon_items: "Kalemler", "Items";
    recon_payments: "Bizdeki ödeme", "Our payment";
    recon_provider_row: "Sağlayıcı satırı", "Provider row";
    recon_proposal: "Önerilen ödeme", "Proposed payment";
    recon_flags: "Komisyon/valör uyarısı", "Commission/value date warning";
    recon_rejected_rows: "Kullanılamayan sağlayıcı satırları", "Provider rows that could not be used";
    rj_left_out: "{line}. satır: {problem} (içe aktarımda dışarıda bırakıldı)", "line {line}: {problem} (left out on import)";
    rj_outside_period: "{at} tarihli; {from} – {to} döneminin dışında", "dated {at}, outside the period {from} to {to}";
    rj_field_count: "başlıkta {expected} alan var, satırda {found}", "{found} fields where the header has {expected}";
    rj_empty: "{column}: boş", "{column}: empty";
    rj_invalid: "{column}: {expected} değil ({value})", "{column}: not {expected} ({value})";
    rj_unknown_type: "bilinmeyen işlem türü ({text})", "unknown transaction type ({text})";
    rj_unknown_status: "bilinmeyen durum ({text})", "unknown status ({text})";
    rj_no_amount: "satırda tutar yok", "the row has no amount";
    rjx_amount: "geçerli bir tutar", "a valid amount";
    rjx_reference: "geçerli bir referans", "a valid reference";
    rjx_transaction_type: "tanınan bir işlem türü", "a known transaction type";
    rjx_status: "tanınan bir durum", "a known status";
    rjx_installments: "taksit sayısı", "an installment count";
    rjx_masked_pan: "maskeli kart numarası", "a masked card number";
    rjx_date_time: "tarih ve saat", "a date and time";
    rjx_date: "tarih", "a date";
    rjx_currency: "tanınan bir para birimi", "a known currency";
    cl_matched: "Eşleşti", "Matched";
    cl_amount_mismatch: "Tutar farkı", "Amount mismatch";
    cl_status_mismatch: "Durum farkı", "Status mismatch";
    cl_provider_only: "Yalnız sağlayıcıda", "Provider only";
    cl_system_only: "Yalnız bizde", "System only";
    cl_duplicate: "Mükerrer", "Duplicate";
    recon_enter: "Eksik işlemi gir", "Enter the missing transaction";
    recon_enter_hint: "Sağlayıcının satırından manuel kanallı, onaylı bir tahsilat oluşturulur", "An approved payment with channel manual is created from the provider's row";
    recon_force_match: "Zorla eşleştir", "Force-match";
    recon_payment_id: "Ödeme no", "Payment ID";
    recon_dismiss: "Yoksay", "Dismiss";
    recon_reason_required: "Yoksaymak için bir neden yazın.", "Write a reason to dismiss.";
    recon_payment_required: "Eşleştirilecek ödemeyi seçin ya da numarasını yazın.", "Choose the payment to match, or enter its ID.";
    recon_decide: "Karar ver", "Decide";
    recon_open_item: "Açık", "Open";
    recon_customer_hint: "Tahsilat bu cari hesaba alacak yazılır; şirketin kullandığı cari hesaplar yazdıkça önerilir.", "The payment credits this customer account; the company's customer accounts are offered as you type.";
    recon_customer_required: "Girilen tahsilatın alacak yazılacağı cari hesabı yazın.", "Enter the customer account the entered payment credits.";
    recon_entry_description: "Mutabakatta eksik bulunan işlem", "Transaction found missing in reconciliation";
    recon_text_limit_100: "en çok 100 karakter olabilir, satır sonu ya da kontrol karakteri içeremez", "may hold at most 100 characters, without line breaks or control characters";
    recon_text_limit_500: "en çok 500 karakter olabilir, kontrol karakteri içeremez", "may hold at most 500 characters, without control characters";
    recon_candidates: "Aday ödemeler (aynı tutar, kart ve gün ±1)", "Candidate payments (same amount, card and day ±1)";
    recon_no_candidates: "Aynı tutar, kart ve günde eşleşmemiş bir ödeme bulunamadı.", "No unmatched payment with the same amount, card and day was found.";
    recon_candidate_of_item: "bu kalemin ödemesi", "this item's payment";
    recon_other_payment: "ya da başka bir ödeme no", "or another payment ID";
    recon_decision: "Karar", "Decision";
    recon_decided_by: "Karar veren", "Decided by";
    recon_decided_at: "Karar zamanı", "Decided at";
    res_entered: "Girildi", "Entered";
    res_force_matched: "Zorla eşleştirildi", "Force-matched";
    res_dismissed: "Yoksayıldı", "Dismissed";
    recon_already_resolved: "Bu fark için daha önce karar verilmiş.", "This exception was decided already.";
    recon_not_missing: "Yalnızca sağlayıcıda olup bizde olmayan bir işlem girilebilir.", "Only a transaction missing here (provider only) can be entered.";
    recon_nothing_to_enter: "Bu kalemde girilecek başarılı bir sağlayıcı satışı yok.", "This item has no successful provider sale to enter.";
    recon_not_exception: "Eşleşmiş bir kalem için karar gerekmez.", "A matched item needs no decision.";
    recon_other_pos: "Bu ödeme başka bir sanal POS'tan geçmiş.", "This payment went through another virtual POS.";
    rr_agreed: "İki taraf uyuşuyor", "Both sides agree";
    rr_nothing_moved: "İki tarafta da para hareketi yok", "No money moved on either side";
    rr_reversals_agree: "Dönem dışı satışın iptal/iadeleri uyuşuyor", "The cancels/refunds of a sale outside the period agree";
    rr_amount_differs: "Tutarlar farklı", "The amounts differ";
    rr_authorized_amount_differs: "Vade farklı tutarlar farklı", "The charged amounts (with surcharge) differ";
    rr_charged_there_only: "Sağlayıcıda çekilmiş, bizde çekilmemiş", "Charged at the provider, not here";
    rr_charged_here_only: "Bizde çekilmiş, sağlayıcıda reddedilmiş ya da tamamlanmamış", "Charged here, refused or unfinished at the provider";
    rr_uncertain_here: "Bizde belirsiz; sonucu sağlayıcı biliyor", "Uncertain here; the provider has the answer";
    rr_cancel_differs: "Yalnız bir tarafta iptal edilmiş", "Cancelled on one side only";
    rr_refund_differs: "İade toplamları farklı", "The refunded totals differ";
    rr_missing_here: "Sağlayıcıda var, bizde yok", "At the provider, not here";
    rr_reversal_without_sale: "Satışı bulunamayan iptal/iade", "A cancel or refund without its sale";
    rr_missing_there: "Bizde var, sağlayıcıda yok", "Here, not at the provider";
    rr_duplicate_rows: "Aynı referansla birden çok sağlayıcı satışı", "Several provider sales with one reference";
    rr_duplicate_payments: "Aynı sağlayıcı referansıyla birden çok ödememiz", "Several of our payments with one provider reference";
    rr_duplicate_reversals: "Aynı iptal/iade iki kez bildirilmiş", "The same cancel or refund reported twice";
    mk_provider_ref: "sağlayıcı ref. ile", "by provider ref.";
    mk_auth_code: "onay kodu, tutar ve tarih ile", "by auth code, amount and date";
    mk_client_ref: "bizim referansımız ile", "by our reference";
    flag_commission: "Komisyon beklenenden farklı", "Commission differs from the table";
    flag_value_date: "Valör tarihi beklenenden farklı", "Value date differs from the table";
    recon_expected: "beklenen", "expected";
    recon_actual: "gelen", "reported";
    recon_provider_failed: "Sağlayıcının raporu okunamadı; mutabakat kaydedilmedi. Biraz sonra tekrar deneyin.", "The provider's report could not be read; no run was stored. Try again shortly.";
}

/// The catalogue of a language.
pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Tr => &TR,
        Lang::En => &EN,
    }
}

impl Texts {
    /// A payment status.
    pub fn status(&self, s: PaymentStatus) -> &'static str {
        match s {
            PaymentStatus::Processing => self.st_processing,
            PaymentStatus::Pending3ds => self.st_pending_3ds,
            PaymentStatus::Approved => self.st_approved,
            PaymentStatus::Declined => self.st_declined,
            PaymentStatus::Failed => self.st_failed,
            PaymentStatus::Unknown => self.st_unknown,
            PaymentStatus::Cancelled => self.st_cancelled,
            PaymentStatus::PartiallyRefunded => self.st_partially_refunded,
            PaymentStatus::Refunded => self.st_refunded,
            PaymentStatus::Expired => self.st_expired,
            PaymentStatus::Blocked => self.st_blocked,
            PaymentStatus::Authorized => self.st_authorized,
            PaymentStatus::Capturing => self.st_capturing,
            PaymentStatus::Releasing => self.st_releasing,
            PaymentStatus::Released => self.st_released,
        }
    }

    /// A reconciliation class by its stored name.
    pub fn recon_class(&self, class: &str) -> String {
        match class {
            "matched" => self.cl_matched.into(),
            "amount_mismatch" => self.cl_amount_mismatch.into(),
            "status_mismatch" => self.cl_status_mismatch.into(),
            "provider_only" => self.cl_provider_only.into(),
            "system_only" => self.cl_system_only.into(),
            "duplicate" => self.cl_duplicate.into(),
            other => other.to_owned(),
        }
    }

    /// Why an item is in its class, by the engine's name.
    pub fn recon_reason(&self, reason: &str) -> String {
        match reason {
            "agreed" => self.rr_agreed.into(),
            "nothing_moved" => self.rr_nothing_moved.into(),
            "reversals_agree" => self.rr_reversals_agree.into(),
            "amount_differs" => self.rr_amount_differs.into(),
            "authorized_amount_differs" => self.rr_authorized_amount_differs.into(),
            "charged_there_only" => self.rr_charged_there_only.into(),
            "charged_here_only" => self.rr_charged_here_only.into(),
            "uncertain_here" => self.rr_uncertain_here.into(),
            "cancel_differs" => self.rr_cancel_differs.into(),
            "refund_differs" => self.rr_refund_differs.into(),
            "missing_here" => self.rr_missing_here.into(),
            "reversal_without_sale" => self.rr_reversal_without_sale.into(),
            "missing_there" => self.rr_missing_there.into(),
            "duplicate_rows" => self.rr_duplicate_rows.into(),
            "duplicate_payments" => self.rr_duplicate_payments.into(),
            "duplicate_reversals" => self.rr_duplicate_reversals.into(),
            other => other.to_owned(),
        }
    }

    /// The key that tied both sides of an item, by the engine's name.
    pub fn recon_match_key(&self, key: &str) -> String {
        match key {
            "provider_ref" => self.mk_provider_ref.into(),
            "auth_code" => self.mk_auth_code.into(),
            "client_ref" => self.mk_client_ref.into(),
            other => other.to_owned(),
        }
    }

    /// A decision on a reconciliation exception by its stored name.
    pub fn recon_resolution(&self, resolution: &str) -> String {
        match resolution {
            "entered" => self.res_entered.into(),
            "force_matched" => self.res_force_matched.into(),
            "dismissed" => self.res_dismissed.into(),
            other => other.to_owned(),
        }
    }

    /// The source of a reconciliation run.
    pub fn recon_source(&self, source: &str) -> String {
        match source {
            "pull" => self.src_pull.into(),
            "import" => self.src_import.into(),
            other => other.to_owned(),
        }
    }

    /// What a provider call was for.
    pub fn operation(&self, o: Operation) -> &'static str {
        match o {
            Operation::Sale => self.op_sale,
            Operation::Start3d => self.op_start_3d,
            Operation::Finish3d => self.op_finish_3d,
            Operation::Cancel => self.op_cancel,
            Operation::Refund => self.op_refund,
            Operation::Inquiry => self.op_inquiry,
            Operation::Capture => self.op_capture,
            Operation::Release => self.op_release,
        }
    }

    /// How a provider call ended (`None`: no answer recorded yet).
    pub fn attempt_outcome(&self, o: Option<AttemptOutcome>) -> &'static str {
        match o {
            None => self.oc_dispatched,
            Some(AttemptOutcome::Approved) => self.st_approved,
            Some(AttemptOutcome::Declined) => self.st_declined,
            Some(AttemptOutcome::Failed) => self.st_failed,
            Some(AttemptOutcome::Unknown) => self.st_unknown,
            Some(AttemptOutcome::Pending) => self.st_pending,
        }
    }

    /// A refund status.
    pub fn refund_status(&self, s: RefundStatus) -> &'static str {
        match s {
            RefundStatus::Pending => self.st_pending,
            RefundStatus::Approved => self.st_approved,
            RefundStatus::Declined => self.st_declined,
            RefundStatus::Failed => self.st_failed,
            RefundStatus::Unknown => self.st_unknown,
            RefundStatus::Scheduled => self.st_scheduled,
            RefundStatus::Withdrawn => self.st_withdrawn,
        }
    }

    /// Cancel or refund.
    pub fn refund_kind(&self, k: RefundKind) -> &'static str {
        match k {
            RefundKind::Cancel => self.rk_cancel,
            RefundKind::Refund => self.rk_refund,
        }
    }

    /// How a payment reached us.
    pub fn channel(&self, c: Channel) -> &'static str {
        match c {
            Channel::Api => self.ch_api,
            Channel::Hosted => self.ch_hosted,
            Channel::Moto => self.ch_moto,
            Channel::Manual => self.ch_manual,
            Channel::Reconciliation => self.ch_reconciliation,
        }
    }

    /// A role.
    pub fn role(&self, r: Role) -> &'static str {
        match r {
            Role::Admin => self.role_admin,
            Role::Accountant => self.role_accountant,
            Role::Collector => self.role_collector,
            Role::Viewer => self.role_viewer,
        }
    }

    /// A POS environment.
    pub fn environment(&self, e: Environment) -> &'static str {
        match e {
            Environment::Simulator => self.env_simulator,
            Environment::Test => self.env_test,
            Environment::Production => self.env_production,
        }
    }

    /// An onboarding state.
    pub fn onboarding(&self, s: OnboardingState) -> &'static str {
        match s {
            OnboardingState::Applied => self.ob_applied,
            OnboardingState::Offer => self.ob_offer,
            OnboardingState::Documents => self.ob_documents,
            OnboardingState::Evaluation => self.ob_evaluation,
            OnboardingState::Approved => self.ob_approved,
            OnboardingState::Rejected => self.ob_rejected,
            OnboardingState::Active => self.ob_active,
            OnboardingState::Inactive => self.ob_inactive,
        }
    }

    /// A document of the onboarding checklist, by its stored name.
    pub fn document(&self, name: &str) -> String {
        match name {
            "vergi_levhasi" => self.doc_vergi_levhasi.into(),
            "imza_sirkusu" => self.doc_imza_sirkusu.into(),
            "faaliyet_belgesi" => self.doc_faaliyet_belgesi.into(),
            "sicil_kayit_belgesi" => self.doc_sicil_kayit_belgesi.into(),
            "kimlik_fotokopisi" => self.doc_kimlik_fotokopisi.into(),
            "ticaret_sicil_gazetesi" => self.doc_ticaret_sicil_gazetesi.into(),
            "iban" => self.doc_iban.into(),
            other => other.to_owned(),
        }
    }
}
