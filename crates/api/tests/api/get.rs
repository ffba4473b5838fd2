use reqwest::StatusCode;

use crate::helpers::TestApp;

async fn unknown_id_is_404(app: TestApp) {
    app.registered().await;
    let body = app
        .get(&uuid::Uuid::now_v7().to_string())
        .await
        .problem(StatusCode::NOT_FOUND, "not_found");
    assert!(body.get("errors").is_none());
}

async fn id_that_is_not_a_uuid_is_400(app: TestApp) {
    app.get("12345")
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_id");
    app.update("not-a-uuid", serde_json::json!({}))
        .await
        .problem(StatusCode::BAD_REQUEST, "invalid_id");
}

crate::on_both_backends!(unknown_id_is_404, id_that_is_not_a_uuid_is_400);
