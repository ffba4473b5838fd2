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
    // The seed's plain strings, refined: the two emails say `format: email`, which is what the
    // server enforces (422 invalid_email) and what generated clients and schemathesis read; the
    // type, and so every generated client type, stays the seed's.
    for (name, shape) in expected.iter_mut() {
        if name.ends_with("email") {
            shape.1 = Some("email".into());
        }
    }
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

/// The OpenAPI links (register, then read, update and read the history of the same client) name
/// operations that exist, under the field names the specification gives.
#[test]
fn links_lead_from_a_response_to_existing_operations() {
    let spec = committed();
    let mut operations = Vec::new();
    let mut links = Vec::new();
    for (_, item) in spec["paths"].as_object().unwrap() {
        for (_, operation) in item.as_object().unwrap() {
            operations.push(operation["operationId"].as_str().unwrap().to_owned());
            for (status, response) in operation["responses"].as_object().unwrap() {
                for (name, link) in response["links"].as_object().into_iter().flatten() {
                    links.push((status.clone(), name.clone(), link.clone()));
                }
            }
        }
    }
    assert!(links.len() >= 9, "{links:?}");
    for (status, name, link) in links {
        let target = link["operationId"].as_str();
        assert!(
            target.is_some_and(|t| operations.iter().any(|o| o == t)),
            "{status} {name}: {link}"
        );
        assert!(link.get("operation_id").is_none(), "{link}");
        let id = link["parameters"]["id"].as_str().unwrap();
        assert!(id.starts_with("$response.body#/id") || id == "$request.path.id");
    }
}

/// The `maxLength` the spec shows for each text member of both request bodies is the limit the
/// domain enforces (the attributes repeat the domain's numbers, which nothing else ties).
#[test]
fn request_length_limits_are_the_domains() {
    let spec = committed();
    for body in ["RegisterPersonIn", "UpdatePersonIn"] {
        let properties = spec["components"]["schemas"][body]["properties"]
            .as_object()
            .unwrap();
        for (name, property) in properties {
            let shown = property["maxLength"].as_u64().map(|n| n as usize);
            let enforced = domain::values::max_len::of(name);
            // Country codes are exactly three letters, checked against the ISO list instead.
            if property["minLength"] == 3 && property["maxLength"] == 3 {
                continue;
            }
            match (shown, enforced) {
                (Some(shown), Some(enforced)) => {
                    assert_eq!(shown, enforced, "{body}.{name}")
                }
                (None, Some(enforced)) => panic!("{body}.{name} shows no maxLength ({enforced})"),
                (Some(shown), None) => {
                    panic!("{body}.{name} shows maxLength {shown}; the domain has none")
                }
                (None, None) => {}
            }
        }
    }
}
