//! `GET /openapi.json`: the HTTP API as an OpenAPI 3.1 document, built from the code rather
//! than written by hand. Each template gets its own image path whose query parameters are
//! its manifest's params (types, limits, defaults, examples); request and answer bodies are
//! the schemas of the serde types the handlers read and write (schemars); output options
//! come from the limits in force, and error codes from [`crate::error::CODES`].

use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use crate::config::Limits;
use crate::encode::{DEFAULT_JPEG_QUALITY, DEFAULT_WEBP_QUALITY};
use crate::engine::Engine;
use crate::format::Format;
use crate::template::Template;
use crate::value::ParamKind;

/// The document for `engine`'s templates and limits.
pub fn document(engine: &Engine) -> Value {
    let mut requests = generator(SchemaSettings::for_deserialize);
    let mut answers = generator(SchemaSettings::for_serialize);
    let render_request = requests.subschema_for::<crate::api::RenderRequest>();
    let layered_request = requests.subschema_for::<crate::layered::ImageRequest>();
    let rendered = answers.subschema_for::<crate::api::Rendered>();
    let layered_answer = answers.subschema_for::<crate::layered::ImageAnswer>();
    answers.subschema_for::<crate::response::ErrorBody>();

    let templates = engine.templates();
    let names: Vec<&str> = templates.iter().map(|t| t.name.as_str()).collect();
    let mut paths = Map::new();
    for template in templates.iter() {
        let path = format!("/og/{}.{{format}}", template.name);
        paths.insert(path, image_path(template, engine.limits()));
    }
    paths.insert("/render".into(), render_path(render_request, rendered));
    paths.insert(
        "/templates/{name}/images".into(),
        layered_path(&names, layered_request, layered_answer),
    );
    paths.insert(
        "/templates".into(),
        read_path(
            "Every template with its version, size, params and an example URL",
            "application/json",
        ),
    );
    paths.insert(
        "/healthz".into(),
        read_path(
            "`ok` while the server runs; never waits behind renders",
            "text/plain",
        ),
    );
    paths.insert(
        "/metrics".into(),
        read_path(
            "Counters and histograms, OpenMetrics text",
            "application/openmetrics-text",
        ),
    );
    paths.insert(
        "/openapi.json".into(),
        read_path("This document", "application/json"),
    );

    let mut schemas = requests.take_definitions(true);
    schemas.extend(answers.take_definitions(true));
    let code = schemas
        .get_mut("ErrorBody")
        .and_then(|s| s.pointer_mut("/properties/code"));
    if let Some(code) = code {
        code["enum"] = json!(crate::error::CODES);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "vellum",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Images rendered from SVG templates with typed parameters.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": { "Error": error_response() },
        },
    })
}

/// A generator that files named schemas under `#/components/schemas`.
fn generator(contract: fn(SchemaSettings) -> SchemaSettings) -> SchemaGenerator {
    let mut settings = contract(SchemaSettings::draft2020_12());
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    settings.into_generator()
}

/// `GET /og/{name}.{format}` for one template.
fn image_path(template: &Template, limits: &Limits) -> Value {
    let manifest = &template.manifest;
    let mut parameters = vec![json!({
        "name": "format",
        "in": "path",
        "required": true,
        "description": "Output format (`jpeg` is `jpg`; `/og/NAME` without an extension is PNG)",
        "schema": { "type": "string", "enum": Format::ALL.map(Format::extension) },
    })];
    for (name, spec) in &manifest.params {
        let mut schema = param_schema(&spec.kind);
        if let Some(default) = &spec.default {
            schema["default"] = json!(default);
        }
        let mut parameter = json!({
            "name": name,
            "in": "query",
            "required": spec.required,
            "schema": schema,
        });
        if let Some(description) = &spec.description {
            parameter["description"] = json!(description);
        }
        if let Some(example) = &spec.example {
            parameter["example"] = json!(example);
        }
        parameters.push(parameter);
    }
    let sizes: Vec<String> = manifest
        .sizes
        .iter()
        .map(|(name, size)| format!("`{name}` {}x{}", size.width, size.height))
        .collect();
    parameters.push(json!({
        "name": crate::manifest::SIZE_KEY, "in": "query",
        "description": format!("The canvas size: {}", sizes.join(", ")),
        "schema": { "type": "string", "enum": manifest.sizes.keys().collect::<Vec<_>>(), "default": manifest.default_size },
    }));
    parameters.extend(output_options(limits, &template.version()));
    json!({
        "get": {
            "summary": manifest.description,
            "description": format!("A {}x{} image by default (times `scale`); sizes: {}.", manifest.width, manifest.height, sizes.join(", ")),
            "operationId": format!("image_{}", template.name),
            "parameters": parameters,
            "responses": {
                "200": {
                    "description": "The image, with a strong ETag and the Cache-Control its `v` earns",
                    "content": image_content(),
                },
                "302": { "description": "`v` names an older version: the same URL with the current one" },
                "304": { "description": "`If-None-Match` matched the image's ETag" },
                "4XX": { "$ref": "#/components/responses/Error" },
                "5XX": { "$ref": "#/components/responses/Error" },
            },
        },
    })
}

/// A response body in any output format, by content type.
fn image_content() -> Map<String, Value> {
    Format::ALL
        .iter()
        .map(|f| (f.content_type().to_string(), json!({})))
        .collect()
}

/// The schema of one manifest param's query value.
fn param_schema(kind: &ParamKind) -> Value {
    match kind {
        // Not `maxLength`, which counts code points: the limit counts characters as a reader
        // does, so a flag or an emoji family is one.
        ParamKind::Text { max_chars } => json!({
            "type": "string",
            "description": format!("At most {max_chars} characters as a reader counts them (a flag or an emoji family is one)"),
            "x-max-chars": max_chars,
        }),
        ParamKind::Color => json!({
            "type": "string",
            "description": "#1e40af, #fff, #rrggbbaa, rgb(30 64 175), rgba(), hsl(224 71% 40%) or a CSS name",
        }),
        ParamKind::Number { min, max } => {
            json!({ "type": "number", "minimum": min, "maximum": max })
        }
        ParamKind::Enum { values } => json!({ "type": "string", "enum": values }),
        ParamKind::Bool => json!({ "type": "boolean" }),
        ParamKind::Image { .. } => json!({
            "type": "string",
            "description": "An https URL on an allowed host, or a path in an image directory; empty for none",
        }),
    }
}

/// The query options every image URL takes besides its template's params.
fn output_options(limits: &Limits, version: &str) -> Vec<Value> {
    vec![
        json!({
            "name": "scale", "in": "query",
            "description": "Output size multiplier (2 for retina)",
            "schema": { "type": "number", "minimum": crate::params::MIN_SCALE, "maximum": limits.max_scale, "default": 1 },
        }),
        json!({
            "name": "quality", "in": "query",
            "description": format!("JPEG or lossy WebP quality; `.jpg` (default {DEFAULT_JPEG_QUALITY}) and `.webp` (default {DEFAULT_WEBP_QUALITY}) only"),
            "schema": { "type": "integer", "minimum": 1, "maximum": 100 },
        }),
        json!({
            "name": "lossless", "in": "query",
            "description": "Lossless WebP instead of lossy; `.webp` only, without `quality`",
            "schema": { "type": "boolean", "default": false },
        }),
        json!({
            "name": "compression", "in": "query",
            "description": "PNG compression level (higher is smaller and slower); `.png` only",
            "schema": { "type": "integer", "minimum": 1, "maximum": limits.max_png_compression, "default": limits.png_compression },
        }),
        json!({
            "name": "v", "in": "query",
            "description": "The template version the URL was made for: the current one is cached for good, an older one redirects; never changes the image",
            "schema": { "type": "string" },
            "example": version,
        }),
        json!({
            "name": "sig", "in": "query",
            "description": "HMAC-SHA256 signature of the path and query, when the server signs its URLs",
            "schema": { "type": "string" },
        }),
        json!({
            "name": "exp", "in": "query",
            "description": "Expiry of a signed URL, Unix seconds",
            "schema": { "type": "integer" },
        }),
    ]
}

/// `POST /render`.
fn render_path(request: impl serde::Serialize, answer: impl serde::Serialize) -> Value {
    let mut images = image_content();
    images.insert("application/json".into(), json!({ "schema": answer }));
    json!({
        "post": {
            "summary": "Render a template from a JSON body",
            "description": "The image, or with `Accept: application/json` its URL and size.",
            "operationId": "render",
            "requestBody": { "required": true, "content": { "application/json": { "schema": request } } },
            "responses": {
                "200": { "description": "The image, or its URL as JSON", "content": images },
                "4XX": { "$ref": "#/components/responses/Error" },
                "5XX": { "$ref": "#/components/responses/Error" },
            },
        },
    })
}

/// `POST /templates/{name}/images`, the layered API.
fn layered_path(
    names: &[&str],
    request: impl serde::Serialize,
    answer: impl serde::Serialize,
) -> Value {
    json!({
        "post": {
            "summary": "Change a design's layers by name and get the image's URLs",
            "operationId": "images",
            "parameters": [{
                "name": "name", "in": "path", "required": true,
                "schema": { "type": "string", "enum": names },
            }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": request } } },
            "responses": {
                "200": { "description": "The image's id and URLs", "content": { "application/json": { "schema": answer } } },
                "4XX": { "$ref": "#/components/responses/Error" },
                "5XX": { "$ref": "#/components/responses/Error" },
            },
        },
    })
}

/// A `GET` route without parameters.
fn read_path(summary: &str, content_type: &str) -> Value {
    json!({
        "get": {
            "summary": summary,
            "responses": { "200": { "description": summary, "content": { content_type: {} } } },
        },
    })
}

/// Every error: one line of text, or JSON with a stable `code` for clients that accept JSON.
fn error_response() -> Value {
    json!({
        "description": "One line naming what was wrong; JSON with a stable `code` when the client accepts JSON (always for the layered API)",
        "content": {
            "text/plain": { "schema": { "type": "string" } },
            "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } },
        },
    })
}
