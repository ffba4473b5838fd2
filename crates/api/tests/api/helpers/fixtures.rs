//! Request bodies, accessors and waits that many tests share.

use std::future::Future;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::TestApp;

/// A valid registration body with a unique email.
pub fn person() -> Value {
    json!({
        "first_name": "Ada",
        "last_name": "Lovelace",
        "date_of_birth": "1990-04-21",
        "gender": "female",
        "nationality": "GBR",
        "birth_country": "GBR",
        "country_of_tax_residence": "FRA",
        "email": format!("ada.{}@example.com", uuid::Uuid::now_v7().simple()),
        "mobile_phone_number": "+33612345678",
        "address": "1 Rue de Rivoli",
        "city": "Paris",
        "postcode": "75001",
        "country_code": "FRA",
        "kyc_level": "FULL_KYC",
        "kyc_note": "onboarded in branch",
    })
}

/// The ids of a list response, in its order.
pub fn ids_in_order(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(id_of)
        .collect()
}

pub fn id_of(client: &Value) -> String {
    client["id"].as_str().expect("id").to_owned()
}

/// Asserts the stored client is exactly `expected` (same body, so same version and timestamps).
pub async fn assert_unchanged(app: &TestApp, expected: &Value) {
    let now = app.get(&id_of(expected)).await.expect(StatusCode::OK);
    assert_eq!(&now.body, expected, "the stored client changed");
}

/// Polls `probe` until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A builder of HTTP clients for the tests. The server's webhook client brings rustls without a
/// default crypto provider, so the tests' clients name one (ring, as the server does).
pub fn http_client() -> reqwest::ClientBuilder {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}
