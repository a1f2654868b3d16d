//! The layered-image API: the request from the product brief, sent as written, against the
//! bundled `travel` design; its answer's URLs; stable ids; and errors that name the layer.

use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use vellum::server::ServerConfig;
use vellum::signing::Signer;

use crate::support::{TestServer, jpeg_size};

/// The brief's request, as written (its image URL is empty there: the design keeps its own).
const BRIEF: &str = r#"{
  "format": "jpeg",
  "metadata": "",
  "params": [
      {
      "name": "canvas",
      "backgroundColor": "rgb(103,176,197)"
      },
      {
      "name": "title",
      "text": "Explore New Zealand"
      },
      {
      "name": "image",
      "imageUrl": ""
      }
  ]
}"#;

async fn post(server: &TestServer, path: &str, body: &str) -> crate::support::Reply {
    server
        .send(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            body.to_string().into(),
        )
        .await
}

/// The path and query of a URL the server handed out.
fn path_of(url: &str, server: &TestServer) -> String {
    url.strip_prefix(&format!("http://{}", server.addr))
        .unwrap_or_else(|| panic!("{url} is not on this server"))
        .to_string()
}

#[tokio::test]
async fn the_briefs_request_gets_the_briefs_answer() {
    let server = TestServer::start().await;
    let reply = post(&server, "/templates/travel/images", BRIEF).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answer: Value = serde_json::from_slice(&reply.body).unwrap();
    let fields: Vec<&str> = answer
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "id",
        "templateId",
        "imageUrl",
        "thumbnailUrl",
        "retinaThumbnailUrl",
        "fileName",
        "metadata",
        "width",
        "height",
        // Ours beside the brief's: the image's URL at every size of the template.
        "sizes",
    ];
    expected.sort();
    let mut fields = fields;
    fields.sort();
    assert_eq!(fields, expected);
    let id = answer["id"].as_str().unwrap();
    assert!(
        id.len() == 10 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(answer["templateId"], "travel");
    assert_eq!(answer["fileName"], format!("{id}.jpg"));
    assert_eq!(answer["metadata"], "");
    assert_eq!(
        (answer["width"].as_u64(), answer["height"].as_u64()),
        (Some(650), Some(500))
    );

    // Each URL serves a JPEG of the stated size; thumbnails are at most 400 px wide, the
    // retina one twice that.
    for (field, size) in [
        ("imageUrl", (650, 500)),
        ("thumbnailUrl", (397, 305)),
        ("retinaThumbnailUrl", (793, 610)),
    ] {
        let url = answer[field].as_str().unwrap();
        let image = server.get(&path_of(url, &server)).await;
        assert_eq!(image.status, StatusCode::OK, "{field}: {}", image.text());
        assert_eq!(image.header("content-type"), "image/jpeg", "{field}");
        assert_eq!(jpeg_size(&image.body), size, "{field}");
    }

    // The same request, the same image, the same id; another title, another id.
    let again: Value =
        serde_json::from_slice(&post(&server, "/templates/travel/images", BRIEF).await.body)
            .unwrap();
    assert_eq!(again["id"], answer["id"]);
    let other = BRIEF.replace("Explore New Zealand", "Explore Iceland");
    let other: Value =
        serde_json::from_slice(&post(&server, "/templates/travel/images", &other).await.body)
            .unwrap();
    assert_ne!(other["id"], answer["id"]);

    // Metadata comes back as it was sent.
    let tagged = BRIEF.replace(r#""metadata": """#, r#""metadata": {"campaign": "nz-27"}"#);
    let tagged: Value = serde_json::from_slice(
        &post(&server, "/templates/travel/images", &tagged)
            .await
            .body,
    )
    .unwrap();
    assert_eq!(tagged["metadata"], json!({"campaign": "nz-27"}));
    server.stop().await;
}

#[tokio::test]
async fn post_render_takes_the_same_layers_and_signing_signs_every_url() {
    let signer = Signer::new(vec![b"layers-key".to_vec()]);
    let config = ServerConfig {
        signer: signer.clone(),
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(
        vellum::EngineConfig::bundled(&crate::support::root()),
        config,
    )
    .await;
    let reply = server
        .send(
            Method::POST,
            "/templates/travel/images",
            &[
                ("content-type", "application/json"),
                ("authorization", "Bearer layers-key"),
            ],
            BRIEF.to_string().into(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answer: Value = serde_json::from_slice(&reply.body).unwrap();
    for field in ["imageUrl", "thumbnailUrl", "retinaThumbnailUrl"] {
        let path = path_of(answer[field].as_str().unwrap(), &server);
        assert!(path.contains("&sig="), "{field}: {path}");
        assert_eq!(server.get(&path).await.status, StatusCode::OK, "{field}");
    }
    let unsigned = post(&server, "/templates/travel/images", BRIEF).await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);

    let render = server
        .send(
            Method::POST,
            "/render",
            &[
                ("content-type", "application/json"),
                ("authorization", "Bearer layers-key"),
            ],
            json!({"template": "travel", "format": "jpg", "params": [{"name": "title", "text": "Hi"}]})
                .to_string()
                .into(),
        )
        .await;
    assert_eq!(render.status, StatusCode::OK, "{}", render.text());
    assert_eq!(jpeg_size(&render.body), (650, 500));
    server.stop().await;
}

#[tokio::test]
async fn a_layer_entry_that_does_not_fit_is_a_400_naming_it() {
    let server = TestServer::start().await;
    for (params, message) in [
        (
            json!([{"name": "title", "imageUrl": "https://example.com/a.png"}]),
            "params[0] (title): imageUrl does not fit this layer: it is text",
        ),
        (
            json!([{"name": "canvas", "backgroundColor": "rgb(103,176,197)"}, {"name": "sky", "text": "x"}]),
            "params[1]: no layer or param called \"sky\" in travel; it has: canvas, image, kicker, title",
        ),
        (
            json!([{"name": "title", "txt": "Hi"}]),
            "params[0] (title): unknown property \"txt\"; expected one of text, imageUrl, backgroundColor, color, visible",
        ),
        (
            json!([{"name": "title"}]),
            "params[0] (title): give one of text, imageUrl, backgroundColor, color, visible",
        ),
        (
            json!([{"text": "Hi"}]),
            "params[0]: needs a \"name\": the layer's id or a param's name",
        ),
        (
            json!([{"name": "canvas", "backgroundColor": "bluish"}]),
            "canvas: expected a colour (#1e40af, rgb(30 64 175), hsl(224 71% 40%) or a CSS name), got \"bluish\"",
        ),
    ] {
        let body = json!({"params": params}).to_string();
        let reply = post(&server, "/templates/travel/images", &body).await;
        // The layered API answers JSON, so its errors are JSON too, with a stable code.
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.header("content-type"), "application/json");
        let error: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(
            error,
            json!({"error": message, "status": 400, "code": "bad_param"}),
            "{body}"
        );
    }
    let unknown = post(&server, "/templates/nope/images", "{}").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let error: Value = serde_json::from_slice(&unknown.body).unwrap();
    assert_eq!(error["code"], "unknown_template");
    let get = server.get("/templates/travel/images").await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.header("allow"), "POST");
    let error: Value = serde_json::from_slice(&get.body).unwrap();
    assert_eq!(error["code"], "method_not_allowed");
    server.stop().await;
}
