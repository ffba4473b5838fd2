//! The spec is a product: the served document is the committed `openapi.yaml`, and the PUT
//! operation reproduces the partners' page ("Update Customer Information") exactly.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Backend, TestApp};

fn committed() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Follows a `$ref` within the document.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => spec
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling {reference}")),
        None => schema,
    }
}

/// A property's sorted JSON types (`enum` for an enumeration), format and enum values.
type Shape = (Vec<String>, Option<String>, Option<Vec<String>>);

/// `(type list, format)` of a property, with `$ref`s and `oneOf` of null resolved, e.g.
/// `(["string", "null"], None)` or `(["null", "enum"], None)`.
fn shape(spec: &Value, property: &Value) -> Shape {
    let mut types = Vec::new();
    let mut format = None;
    let mut values = None;
    let variants: Vec<&Value> = match property["oneOf"].as_array() {
        Some(list) => list.iter().collect(),
        None => vec![property],
    };
    for variant in variants {
        let schema = resolve(spec, variant);
        if let Some(list) = schema["enum"].as_array() {
            values = Some(
                list.iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect(),
            );
            types.push("enum".to_owned());
            continue;
        }
        match &schema["type"] {
            Value::String(t) => types.push(t.clone()),
            Value::Array(list) => types.extend(list.iter().map(|t| t.as_str().unwrap().to_owned())),
            other => panic!("no type in {other}"),
        }
        if let Some(f) = schema["format"].as_str() {
            format = Some(f.to_owned());
        }
    }
    types.sort();
    (types, format, values)
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn put_operation_reproduces_the_seed() {
    let spec = committed();
    let operation = &spec["paths"]["/api/v1/clients/person/{id}"]["put"];
    assert_eq!(operation["summary"], "Update Customer Information");

    let id = operation["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "id")
        .expect("id parameter");
    assert_eq!(
        (id["in"].clone(), id["required"].clone()),
        (json!("path"), json!(true))
    );
    assert_eq!(id["description"], "Client UUID");
    assert_eq!(
        shape(&spec, &id["schema"]),
        (strings(&["string"]), Some("uuid".into()), None)
    );

    // Request: the seed's 16 fields, every one `T | null`, none required.
    let body = resolve(
        &spec,
        &operation["requestBody"]["content"]["application/json"]["schema"],
    );
    assert_eq!(
        operation["requestBody"]["description"],
        "Request to update an existing person client"
    );
    assert!(body.get("required").is_none() || body["required"] == json!([]));
    let properties = body["properties"].as_object().unwrap();
    let nullable_string = (strings(&["null", "string"]), None, None);
    let mut expected: Vec<(&str, Shape)> = [
        "address",
        "blacklisted_comment",
        "city",
        "country_code",
        "email",
        "kyc_note",
        "mobile_phone_number",
        "planned_expenditure",
        "planned_income",
        "postcode",
        "second_email",
        "second_mobile_phone_number",
        "state_province",
    ]
    .iter()
    .map(|name| (*name, nullable_string.clone()))
    .collect();
    expected.push(("blocked", (strings(&["boolean", "null"]), None, None)));
    expected.push((
        "is_blacklisted",
        (strings(&["boolean", "null"]), None, None),
    ));
    expected.push((
        "risk_level",
        (
            strings(&["enum", "null"]),
            None,
            Some(strings(&["Low", "Medium", "High"])),
        ),
    ));
    expected.sort_by_key(|(name, _)| *name);
    let mut found: Vec<(&str, _)> = properties
        .iter()
        .map(|(name, p)| (name.as_str(), shape(&spec, p)))
        .collect();
    found.sort_by_key(|(name, _)| *name);
    assert_eq!(found, expected);

    // Response 200: ClientWithPerson, exactly the seed's fields, required list and formats.
    let ok = &operation["responses"]["200"];
    assert_eq!(ok["description"], "Client updated successfully");
    let response = resolve(&spec, &ok["content"]["application/json"]["schema"]);
    assert_eq!(
        response["description"],
        "ClientWithPerson - Combined view of Client + Person for API responses"
    );
    let mut required: Vec<&str> = response["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(
        required,
        [
            "address",
            "birth_country",
            "blocked",
            "city",
            "country_code",
            "country_of_tax_residence",
            "created_at",
            "date_of_birth",
            "email",
            "first_name",
            "gender",
            "id",
            "is_blacklisted",
            "kyc_level",
            "kyc_status",
            "last_name",
            "nationality",
            "organization_id",
            "postcode",
            "risk_level",
            "updated_at",
        ]
    );
    let s = |t: &str, f: Option<&str>| (strings(&[t]), f.map(str::to_owned), None);
    let e = |values: &[&str]| (strings(&["enum"]), None, Some(strings(values)));
    let mut expected = vec![
        ("address", s("string", None)),
        ("birth_country", s("string", None)),
        ("blocked", s("boolean", None)),
        ("city", s("string", None)),
        ("country_code", s("string", None)),
        ("country_of_tax_residence", s("string", None)),
        ("created_at", s("string", Some("date-time"))),
        ("date_of_birth", s("string", Some("date"))),
        ("email", s("string", None)),
        ("first_name", s("string", None)),
        ("gender", e(&["male", "female"])),
        ("id", s("string", Some("uuid"))),
        ("is_blacklisted", s("boolean", None)),
        ("kyc_level", e(&["FULL_KYC", "DOC_ONLY", "NOT_REQUIRED"])),
        (
            "kyc_status",
            e(&[
                "NOT_STARTED",
                "CREATED",
                "PROCESSING",
                "ABORTED",
                "PENDING_REVIEW",
                "VALIDATED",
                "DECLINED",
            ]),
        ),
        ("last_name", s("string", None)),
        ("nationality", s("string", None)),
        ("organization_id", s("integer", Some("int32"))),
        ("postcode", s("string", None)),
        ("risk_level", e(&["Low", "Medium", "High"])),
        ("updated_at", s("string", Some("date-time"))),
    ];
    for optional in [
        "blacklisted_comment",
        "external_client_code",
        "kyc_note",
        "middle_name",
        "mobile_phone_number",
        "planned_expenditure",
        "planned_income",
        "second_email",
        "second_mobile_phone_number",
        "state_province",
    ] {
        expected.push((optional, nullable_string.clone()));
    }
    expected.sort_by_key(|(name, _)| *name);
    let mut found: Vec<(&str, _)> = response["properties"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, p)| (name.as_str(), shape(&spec, p)))
        .collect();
    found.sort_by_key(|(name, _)| *name);
    assert_eq!(found, expected);
}

#[test]
fn every_operation_is_documented_with_problem_errors() {
    let spec = committed();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let here = format!("{method} {path}");
            for member in ["operationId", "summary", "description"] {
                assert!(
                    operation[member].as_str().is_some_and(|s| !s.is_empty()),
                    "{here} has no {member}"
                );
            }
            for (status, response) in operation["responses"].as_object().unwrap() {
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|s| !s.is_empty()),
                    "{here} {status}"
                );
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/problem+json"]["schema"];
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/Problem",
                        "{here} {status}"
                    );
                }
            }
        }
    }
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        for (field, property) in schema["properties"].as_object().into_iter().flatten() {
            let described = property["description"].is_string()
                || property["oneOf"].is_array()
                || property["$ref"].is_string();
            assert!(described, "{name}.{field} has no description");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_spec_is_the_committed_openapi_yaml() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let served = app
        .request(Method::GET, "/api-docs/openapi.json", &[], None)
        .await
        .expect(StatusCode::OK)
        .body;
    assert!(
        served == committed(),
        "openapi.yaml has drifted from the code; regenerate it with `cargo xtask openapi`"
    );
    let ui = app
        .http
        .get(format!("{}/swagger-ui/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ui.status(), StatusCode::OK);
    assert!(ui.text().await.unwrap().contains("swagger-ui"));
}
