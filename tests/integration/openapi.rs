//! `GET /openapi.json` describes the API the server actually answers: every template's path
//! with exactly the params it accepts, the JSON bodies, and the error codes it sends.

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestServer;

const ACCEPT_JSON: (&str, &str) = ("accept", "application/json");

async fn document(server: &TestServer) -> Value {
    let reply = server.get("/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    serde_json::from_slice(&reply.body).expect("the document is JSON")
}

/// The query a client would build from the document: every param's example, else default.
fn query_from(parameters: &[Value]) -> String {
    let pairs: Vec<(String, String)> = parameters
        .iter()
        .filter(|p| p["in"] == "query" && p["name"] != "sig" && p["name"] != "exp")
        .filter_map(|p| {
            let value = match (&p["example"], &p["schema"]["default"]) {
                (Value::String(s), _) => s.clone(),
                (_, Value::String(s)) => s.clone(),
                (_, Value::Null) => return None,
                (_, other) => other.to_string(),
            };
            Some((p["name"].as_str().unwrap().to_string(), value))
        })
        .collect();
    serde_urlencoded::to_string(pairs).unwrap()
}

#[tokio::test]
async fn every_documented_route_answers_and_every_template_param_is_accepted() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();

    // One image path per template, as /templates lists them.
    let templates: Value = serde_json::from_slice(&server.get("/templates").await.body).unwrap();
    let names: Vec<&str> = templates["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let image_paths: Vec<&String> = paths.keys().filter(|p| p.starts_with("/og/")).collect();
    assert_eq!(image_paths.len(), names.len(), "{image_paths:?}");

    for (path, item) in paths {
        match path.as_str() {
            p if p.starts_with("/og/") => {
                let name = p.trim_start_matches("/og/").trim_end_matches(".{format}");
                assert!(names.contains(&name), "{p} is not a template");
                let parameters = item["get"]["parameters"].as_array().unwrap();
                // Its sizes, as /templates lists them.
                let listed = templates["templates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|t| t["name"] == name)
                    .unwrap();
                let sizes: Vec<&String> = listed["sizes"].as_object().unwrap().keys().collect();
                let size = parameters.iter().find(|p| p["name"] == "size").unwrap();
                assert_eq!(size["schema"]["enum"], json!(sizes), "{p}");
                assert_eq!(size["schema"]["default"], listed["default_size"], "{p}");
                let formats = parameters[0]["schema"]["enum"].as_array().unwrap();
                let query = query_from(parameters);
                for format in formats {
                    let url = format!("/og/{name}.{}?{query}", format.as_str().unwrap());
                    // Each format's own options are left out for the others.
                    let url = match format.as_str().unwrap() {
                        "png" => strip(&strip(&url, "quality"), "lossless"),
                        "jpg" => strip(&strip(&url, "compression"), "lossless"),
                        "webp" => strip(&url, "compression"),
                        _ => strip(&strip(&strip(&url, "compression"), "quality"), "lossless"),
                    };
                    let reply = server.get(&url).await;
                    assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.text());
                }
                // A param the document does not list is refused.
                let reply = server
                    .get(&format!("/og/{name}.png?{query}&undocumented=1"))
                    .await;
                assert_eq!(reply.status, StatusCode::BAD_REQUEST);
            }
            "/render" => {
                let body = json!({"template": names[0], "params": {}}).to_string();
                let reply = server
                    .post(
                        path,
                        &[ACCEPT_JSON, ("content-type", "application/json")],
                        body,
                    )
                    .await;
                assert!(reply.status.is_success() || reply.status == StatusCode::BAD_REQUEST);
                assert!(item.get("post").is_some());
            }
            "/templates/{name}/images" => {
                let documented = item["post"]["parameters"][0]["schema"]["enum"].clone();
                assert_eq!(documented, json!(names));
                let reply = server
                    .post(
                        "/templates/travel/images",
                        &[("content-type", "application/json")],
                        "{}",
                    )
                    .await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
            }
            _ => {
                assert!(item.get("get").is_some(), "{path}");
                let reply = server.get(path).await;
                assert_eq!(reply.status, StatusCode::OK, "{path}");
            }
        }
    }
    server.stop().await;
}

fn strip(url: &str, key: &str) -> String {
    let (path, query) = url.split_once('?').unwrap();
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.starts_with(&format!("{key}=")))
        .collect();
    format!("{path}?{}", kept.join("&"))
}

#[tokio::test]
async fn json_errors_carry_a_code_the_document_lists() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let codes = doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .clone();
    let cases: [(Method, &str, u16, &str); 6] = [
        (
            Method::GET,
            "/og/post.png?title=Hi&nope=1",
            400,
            "bad_param",
        ),
        (Method::GET, "/og/nope.png", 404, "unknown_template"),
        (Method::GET, "/og/post.gif?title=Hi", 404, "unknown_format"),
        (Method::GET, "/nowhere", 404, "not_found"),
        (Method::DELETE, "/og/post.png", 405, "method_not_allowed"),
        (Method::GET, "/render", 405, "method_not_allowed"),
    ];
    for (method, path, status, code) in cases {
        let reply = server.request(method.clone(), path, &[ACCEPT_JSON]).await;
        assert_eq!(reply.status.as_u16(), status, "{method} {path}");
        assert_eq!(reply.header("content-type"), "application/json");
        assert_eq!(reply.header("cache-control"), "no-store");
        let error: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(error["code"], code, "{method} {path}: {error}");
        assert_eq!(error["status"], status);
        assert!(
            codes.contains(&error["code"]),
            "{code} is not in the document"
        );
        // Without asking for JSON (an <img>, curl): the same line as text.
        let plain = server.request(method, path, &[]).await;
        assert_eq!(
            plain.text(),
            format!("{}\n", error["error"].as_str().unwrap())
        );
    }
    server.stop().await;
}
