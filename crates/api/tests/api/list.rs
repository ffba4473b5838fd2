//! `GET /api/v1/clients`: filters, their combinations, and paging with `Link`.

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{id_of, ids_in_order, TestApp};

fn ids(items: &Value) -> BTreeSet<String> {
    items.as_array().unwrap().iter().map(id_of).collect()
}

async fn listing_filters_by_each_parameter_and_their_combinations(app: TestApp) {
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(id_of(&app.registered().await));
    }
    let [plain, high, blacklisted, blocked, high_blocked] = clients.clone().try_into().unwrap();
    app.update(&high, json!({"risk_level": "High"}))
        .await
        .expect(StatusCode::OK);
    app.update(
        &blacklisted,
        json!({"is_blacklisted": true, "blacklisted_comment": "hit"}),
    )
    .await
    .expect(StatusCode::OK);
    app.update(&blocked, json!({"blocked": true}))
        .await
        .expect(StatusCode::OK);
    app.update(
        &high_blocked,
        json!({"blocked": true, "risk_level": "High"}),
    )
    .await
    .expect(StatusCode::OK);

    let set = |list: &[&String]| list.iter().map(|s| (*s).clone()).collect::<BTreeSet<_>>();
    let cases = [
        (
            "",
            set(&[&plain, &high, &blacklisted, &blocked, &high_blocked]),
        ),
        ("?risk_level=High", set(&[&high, &high_blocked])),
        ("?risk_level=Low", set(&[&plain, &blacklisted, &blocked])),
        ("?is_blacklisted=true", set(&[&blacklisted])),
        (
            "?is_blacklisted=false",
            set(&[&plain, &high, &blocked, &high_blocked]),
        ),
        ("?blocked=true", set(&[&blocked, &high_blocked])),
        ("?blocked=true&risk_level=High", set(&[&high_blocked])),
        (
            "?blocked=false&is_blacklisted=false&risk_level=Low",
            set(&[&plain]),
        ),
        (
            "?kyc_status=NOT_STARTED&blocked=true",
            set(&[&blocked, &high_blocked]),
        ),
        ("?kyc_status=VALIDATED", set(&[])),
        ("?risk_level=Medium", set(&[])),
    ];
    for (query, expected) in cases {
        let page = app.list(query).await.expect(StatusCode::OK);
        assert_eq!(ids(&page.body), expected, "{query}");
        assert_eq!(page.header("link"), None, "{query}");
    }
    let listed = app.list("").await.expect(StatusCode::OK).body;
    assert_eq!(ids_in_order(&listed), clients, "registration order");
}

async fn paging_through_250_clients_visits_each_exactly_once(app: TestApp) {
    let registered: Vec<String> = stream::iter(0..250)
        .map(|_| async { id_of(&app.registered().await) })
        .buffer_unordered(8)
        .collect()
        .await;
    let (items, pages) = app.all_pages("/api/v1/clients?limit=40").await;
    assert_eq!(pages, 7);
    let listed: Vec<String> = items.iter().map(id_of).collect();
    assert_eq!(listed.len(), 250, "no duplicates, no gaps");
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "stable id order");
    assert_eq!(
        listed.into_iter().collect::<BTreeSet<_>>(),
        registered.into_iter().collect::<BTreeSet<_>>()
    );

    let default_page = app.list("?risk_level=Low").await.expect(StatusCode::OK);
    assert_eq!(
        default_page.body.as_array().unwrap().len(),
        50,
        "default limit"
    );
    assert_eq!(
        default_page.header("link"),
        Some("</api/v1/clients?risk_level=Low&limit=50&offset=50>; rel=\"next\"")
    );
    assert_eq!(app.client_count().await, 200, "limit=200 returns 200");
}

async fn bad_list_parameters_are_all_named_in_one_400(app: TestApp) {
    app.registered().await;
    let named = app
        .list(
            "?limit=201&offset=x&risk_level=low&is_blacklisted=yes&kyc_status=&blocked=1&sort=name",
        )
        .await
        .parameter_errors();
    assert_eq!(
        named,
        [
            ("limit", "invalid_value"),
            ("offset", "invalid_value"),
            ("kyc_status", "invalid_value"),
            ("risk_level", "invalid_value"),
            ("is_blacklisted", "invalid_value"),
            ("blocked", "invalid_value"),
            ("sort", "unknown_parameter"),
        ]
        .map(|(p, c)| (p.to_owned(), c.to_owned()))
    );
    app.list("?limit=0")
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_parameter");
    app.list("?limit=1&limit=2")
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_parameter");
    // A repeated parameter is named in its turn; enumerations take their exact spelling.
    let named = app
        .list("?limit=0&offset=1&offset=2&kyc_status=%20VALIDATED&risk_level=Low+")
        .await
        .parameter_errors();
    let named: Vec<&str> = named.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(named, ["limit", "offset", "kyc_status", "risk_level"]);
}

crate::on_both_backends!(
    listing_filters_by_each_parameter_and_their_combinations,
    paging_through_250_clients_visits_each_exactly_once,
    bad_list_parameters_are_all_named_in_one_400,
);
